//! `voicetk-call-memory`: live heap bytes the engine holds per tracked call.
//!
//! Opens N typical calls (`CALL_STARTED`, `CALL_CONNECTED` with ten `callAttributes`, `HOLD`,
//! `RESUME`, one `AUDIO_STATS` per channel) in one [`Engine`], the way the gateway does
//! (parse, apply, drop the stamped envelope, take the dirty set after each group; here a
//! group is one call's events), and divides the live bytes by N. The allocator is `cap`'s counting wrapper around the system one, so
//! every byte the engine holds is counted, hash-table slack included.
//!
//! Exit status: 0 when the engine is within the target (2 KiB per call by default), 1 when it
//! is over, 2 when the measurement could not run.

use std::alloc::System;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use cap::Cap;
use clap::Parser;
use serde::Serialize;
use voicetk_bench::{to_bytes, typical_call};
use voicetk_engine::{Applied, CallState, Engine, EngineConfig};
use voicetk_events::{ParseOptions, parse_event};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Measures the engine's memory per tracked call.
#[derive(Debug, Parser)]
#[command(name = "voicetk-call-memory", version)]
struct Cli {
    /// Calls to open.
    #[arg(long, default_value_t = 10_000)]
    calls: u32,
    /// The most bytes per call that passes.
    #[arg(long, default_value_t = 2_048)]
    target: usize,
    /// Also print the results as one JSON line.
    #[arg(long)]
    json: bool,
}

/// The measurement, in bytes.
#[derive(Debug, Serialize)]
struct Report {
    calls: u32,
    events_per_call: usize,
    /// Live bytes the engine holds for the calls (hash-table slack included).
    engine_bytes: usize,
    engine_bytes_per_call: f64,
    /// Of the engine's bytes, the `callAttributes` maps (cloned alone).
    call_attributes_bytes_per_call: f64,
    /// What the gateway adds: its durable view shares the engine's `Arc<CallState>` of every
    /// call (a key and a map slot per call, not a copy).
    gateway_view_bytes_per_call: f64,
    /// The call snapshot JSON the log stores, per call.
    snapshot_json_bytes_per_call: f64,
    /// The incoming payloads, per call, for scale.
    payload_bytes_per_call: f64,
    target_bytes_per_call: usize,
    within_target: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match measure(&cli) {
        Ok(report) => {
            print_report(&report);
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).unwrap_or_else(|e| e.to_string())
                );
            }
            if report.within_target {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("voicetk-call-memory: {e}");
            ExitCode::from(2)
        }
    }
}

fn live() -> usize {
    ALLOCATOR.allocated()
}

fn measure(cli: &Cli) -> Result<Report, String> {
    if cli.calls == 0 {
        return Err("--calls must be at least 1".into());
    }
    let n = cli.calls as usize;
    // Built first, so the payloads are not counted as the engine's.
    let payloads: Vec<Vec<Vec<u8>>> = (0..cli.calls)
        .map(|i| typical_call(i).iter().map(to_bytes).collect())
        .collect();
    let events_per_call = payloads.first().map_or(0, Vec::len);
    let payload_bytes: usize = payloads.iter().flatten().map(Vec::len).sum();
    let options = ParseOptions::default();
    let now: jiff::Timestamp = jiff::Timestamp::from_second(1_740_000_000)
        .map_err(|e| format!("building the clock: {e}"))?;

    let before = live();
    let mut engine = Engine::new(EngineConfig::default());
    for (c, call) in payloads.iter().enumerate() {
        for payload in call {
            let envelope = parse_event(payload, &options)
                .map_err(|e| format!("call {c}: payload does not parse: {e}"))?;
            match engine.apply(envelope, now) {
                // The gateway logs and publishes the stamped envelope, then drops it.
                Ok(Applied::Accepted(stamped)) => drop(stamped),
                Ok(Applied::Duplicate { seq }) => {
                    return Err(format!("call {c}: taken for a duplicate of seq {seq}"));
                }
                Err(refusal) => return Err(format!("call {c}: refused: {refusal}")),
            }
        }
        // The gateway takes the dirty set after each group commit; one call per group here.
        drop(engine.take_dirty());
    }
    let engine_bytes = live().saturating_sub(before);

    let attributes_before = live();
    let attributes: Vec<_> = engine.calls().map(|c| c.call_attributes.clone()).collect();
    // The Vec holding them is not the engine's.
    let attributes_bytes = live().saturating_sub(attributes_before).saturating_sub(
        attributes.capacity() * size_of::<Option<serde_json::Map<String, serde_json::Value>>>(),
    );
    drop(attributes);

    let view_before = live();
    // As the gateway builds it: the engine's own shared version of each call, no copy.
    let view: HashMap<String, Arc<CallState>> = engine
        .calls()
        .filter_map(|c| engine.call_shared(&c.call_id))
        .map(|c| (c.call_id.clone(), c))
        .collect();
    let view_bytes = live().saturating_sub(view_before);
    drop(view);

    let snapshot_bytes: usize = engine
        .calls()
        .map(|c| serde_json::to_string(c).map_or(0, |s| s.len()))
        .sum();
    if engine.calls().count() != n {
        return Err(format!(
            "the engine tracks {} calls, expected {n}",
            engine.calls().count()
        ));
    }
    let per = |bytes: usize| bytes as f64 / n as f64;
    Ok(Report {
        calls: cli.calls,
        events_per_call,
        engine_bytes,
        engine_bytes_per_call: per(engine_bytes),
        call_attributes_bytes_per_call: per(attributes_bytes),
        gateway_view_bytes_per_call: per(view_bytes),
        snapshot_json_bytes_per_call: per(snapshot_bytes),
        payload_bytes_per_call: per(payload_bytes),
        target_bytes_per_call: cli.target,
        within_target: per(engine_bytes) <= cli.target as f64,
    })
}

fn print_report(r: &Report) {
    println!(
        "{} typical calls in one engine ({} events each: CALL_STARTED, CALL_CONNECTED with callAttributes, HOLD, RESUME, AUDIO_STATS in + out)",
        r.calls, r.events_per_call
    );
    println!(
        "  engine:                                  {:.0} bytes per call ({} bytes in all) -> {} (target <= {} bytes)",
        r.engine_bytes_per_call,
        r.engine_bytes,
        if r.within_target { "OK" } else { "OVER TARGET" },
        r.target_bytes_per_call
    );
    println!(
        "    of which callAttributes (10 strings):  {:.0} bytes per call",
        r.call_attributes_bytes_per_call
    );
    println!(
        "  gateway's calls view (shares the engine's calls): +{:.0} bytes per call",
        r.gateway_view_bytes_per_call
    );
    println!(
        "  call snapshot JSON stored by the log:    {:.0} bytes per call",
        r.snapshot_json_bytes_per_call
    );
    println!(
        "  incoming payloads, for scale:            {:.0} bytes per call",
        r.payload_bytes_per_call
    );
}
