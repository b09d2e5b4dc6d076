//! `voicetk-bench`: voicetk side by side with nats-server and a raw writer, in one run, on
//! the same machine and the same CPU budget.
//!
//! Each peer runs as its own process pinned to one CPU (`taskset`), the harness — one
//! publisher and every subscriber, on a single-threaded runtime — on the other. For each
//! scenario and peer, the harness starts the peer fresh, connects the subscribers, then
//! publishes the same pre-drawn call events at fixed, stepped rates (open loop: each event
//! is stamped with the time it was *scheduled*, so a system that falls behind shows it as
//! latency instead of hiding it by publishing slower). Subscribers tally every delivery:
//! latency from schedule to receipt, gaps and duplicates from per-lane and per-call
//! numbers, delivery ratio. The peer's RSS and CPU come from `/proc`.
//!
//! Peers ([`PeerKind`]): voicetk with its SQLite log (its real configuration), voicetk with
//! the in-memory log (a diagnostic), nats-server (core pub/sub over its WebSocket listener;
//! JetStream file storage for durable ingest), and the raw writer ([`raw`]), which writes
//! the same pre-encoded frames to the same sockets and nothing else: the machine's limit.
//!
//! Scenarios ([`ScenarioKind`]): fan-out to 100 and to 1,000, per-call subscriptions among
//! 1,000 active calls, durable ingest, a reconnect storm, one stalled subscriber.
//!
//! The binary is `src/bin/voicetk-bench.rs`; `BENCHMARKS.md` at the repository root has the
//! commands and a run's table.

mod collect;
pub mod error;
pub mod nats;
pub mod peer;
pub mod proc;
pub mod raw;
mod report;
pub mod scenario;
pub mod stream;

pub use error::CompareError;
pub use peer::{PeerKind, Programs};
pub use report::{RunReport, TargetCheck, judge};
pub use scenario::{Context, PeerResult, Scale, ScenarioKind, ScenarioResult, StepResult};

/// Runs `scenarios` against `peers` and judges the targets.
pub async fn run(cx: &Context, scenarios: &[ScenarioKind], peers: &[PeerKind]) -> RunReport {
    let started = jiff::Timestamp::now().to_string();
    let mut results = Vec::new();
    for &kind in scenarios {
        let mut peers_out = Vec::new();
        for &p in peers {
            peers_out.push(scenario::run(kind, p, cx).await);
        }
        results.push(ScenarioResult {
            scenario: kind,
            description: scenario::describe(kind, &cx.scale),
            peers: peers_out,
        });
    }
    RunReport {
        started,
        machine: machine(cx),
        scale: cx.scale.clone(),
        targets: judge(&results),
        scenarios: results,
    }
}

fn machine(cx: &Context) -> String {
    // Counted from /proc/cpuinfo: the harness is pinned to one CPU by now.
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    format!(
        "{cpus} CPUs ({model}), Linux {kernel}; servers on CPU {}, harness on the other",
        cx.server_cpu.map_or("any".into(), |c| c.to_string())
    )
}
