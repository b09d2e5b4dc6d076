//! The scenarios, each run against one peer at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::CompareError;
use super::collect::{Collector, Interest, run_subscriber};
use super::nats::{JetStreamIngest, jetstream_ingest};
use super::peer::{Peer, PeerKind, Programs, Publisher, SubConn};
use super::proc::{self, ProcSample};
use super::stream::{Plan, PlanConfig, Prepared};
use crate::LatencySummary;
use crate::load::{IngestOptions, Target, run_ingest};
use crate::workload::{Workload, WorkloadConfig, to_bytes};

/// A workload shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// One publisher, the small fan-out's subscribers (100), every event to each.
    FanoutSmall,
    /// One publisher, the large fan-out's subscribers (1,000), every event to each.
    FanoutLarge,
    /// As many subscribers as active calls (1,000), each filtering one `callId`.
    PerCall,
    /// Durable ingest: batched `POST /v1/events` against JetStream publish with acks.
    Ingest,
    /// The large fan-out at a fixed rate; midway, every subscriber drops and resumes.
    Reconnect,
    /// The small fan-out at a fixed rate, without and then with one subscriber that stops
    /// reading.
    Stalled,
}

impl ScenarioKind {
    /// Every scenario, in report order.
    pub const ALL: [ScenarioKind; 6] = [
        ScenarioKind::FanoutSmall,
        ScenarioKind::FanoutLarge,
        ScenarioKind::PerCall,
        ScenarioKind::Ingest,
        ScenarioKind::Reconnect,
        ScenarioKind::Stalled,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::FanoutSmall => "fanout-small",
            ScenarioKind::FanoutLarge => "fanout-large",
            ScenarioKind::PerCall => "per-call",
            ScenarioKind::Ingest => "ingest",
            ScenarioKind::Reconnect => "reconnect",
            ScenarioKind::Stalled => "stalled",
        }
    }

    /// Parses a [`name`](Self::name).
    ///
    /// # Errors
    /// [`CompareError::Usage`] naming the accepted names.
    pub fn parse(s: &str) -> Result<ScenarioKind, CompareError> {
        ScenarioKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                CompareError::Usage(format!(
                    "unknown scenario {s:?}: expected one of {}",
                    ScenarioKind::ALL.map(ScenarioKind::name).join(", ")
                ))
            })
    }
}

/// How big and how long everything is. `Default` is the full run; [`Scale::smoke`] a
/// seconds-long one for the test suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// Subscribers of the small fan-out (and the stalled scenario).
    pub small_fanout: usize,
    /// Subscribers of the large fan-out (and the reconnect storm).
    pub large_fanout: usize,
    /// Active calls of the per-call scenario, one subscriber each.
    pub calls: usize,
    /// Published events/s of each step of the small fan-out.
    pub small_rates: Vec<f64>,
    /// ... of the large fan-out.
    pub large_rates: Vec<f64>,
    /// ... of the per-call scenario.
    pub per_call_rates: Vec<f64>,
    /// Rate of the reconnect storm.
    pub reconnect_rate: f64,
    /// Rate of the stalled-subscriber scenario.
    pub stalled_rate: f64,
    /// How long each rate step publishes.
    pub step_s: f64,
    /// How long, at most, subscribers may take to receive a step's events after it.
    pub drain_s: f64,
    /// How long the ingest runs publish.
    pub ingest_s: f64,
    /// Un-acknowledged JetStream publishes in flight.
    pub jetstream_window: usize,
    /// Payloads are padded to this size.
    pub payload_bytes: usize,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            small_fanout: 100,
            large_fanout: 1_000,
            calls: 1_000,
            // Up to ~1M deliveries/s: about what one harness core can read.
            small_rates: vec![1_000.0, 2_500.0, 5_000.0, 7_500.0, 10_000.0],
            large_rates: vec![100.0, 250.0, 500.0, 750.0, 1_000.0],
            per_call_rates: vec![1_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0],
            reconnect_rate: 100.0,
            stalled_rate: 2_000.0,
            step_s: 5.0,
            drain_s: 5.0,
            ingest_s: 10.0,
            jetstream_window: 256,
            payload_bytes: 350,
        }
    }
}

impl Scale {
    /// Small and short: a few seconds per peer, for the test suite.
    pub fn smoke() -> Scale {
        Scale {
            small_fanout: 4,
            large_fanout: 12,
            calls: 10,
            small_rates: vec![200.0],
            large_rates: vec![100.0],
            per_call_rates: vec![200.0],
            reconnect_rate: 100.0,
            stalled_rate: 200.0,
            step_s: 0.5,
            drain_s: 3.0,
            ingest_s: 1.0,
            jetstream_window: 64,
            payload_bytes: 350,
        }
    }
}

/// One rate step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    /// What the step is (`"rate"`, `"baseline"`, `"stalled"`, `"storm"`).
    pub label: String,
    /// Events/s the publisher was scheduled to send.
    pub rate: f64,
    /// Events sent.
    pub published: u64,
    /// Events the peer refused or failed to acknowledge (voicetk).
    pub publish_errors: u64,
    /// Deliveries due: events times the subscribers interested in each.
    pub expected: u64,
    /// Deliveries received within the drain time.
    pub received: u64,
    /// `received / expected`.
    pub delivery_ratio: f64,
    /// Deliveries per second, from the step's first scheduled send to its last receive (at
    /// least the step's length).
    pub delivered_per_s: f64,
    /// Scheduled send to receive.
    pub latency: LatencySummary,
    /// Missing deliveries found by lane or call numbers.
    pub gaps: u64,
    /// Deliveries seen twice or out of order.
    pub duplicates: u64,
    /// Server CPU over the step, percent of one core.
    pub server_cpu_pct: f64,
    /// Server RSS at the end of the step.
    pub server_rss_bytes: u64,
    /// The harness's own CPU over the step, percent of its one core: near 100, the harness
    /// (not the server) limits the step.
    pub harness_cpu_pct: f64,
    /// Whether the peer kept up: every delivery received, none twice, p99 under 1 s.
    pub kept_up: bool,
}

/// One peer's outcome in one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PeerResult {
    /// The peer.
    pub peer: String,
    /// Rate steps (fan-out, per-call), or the phases of the reconnect and stalled scenarios.
    pub steps: Vec<StepResult>,
    /// Server RSS with no subscriber, bytes.
    pub idle_rss_bytes: Option<u64>,
    /// (RSS with every subscriber connected and idle − idle RSS) / subscribers, bytes.
    pub rss_per_subscriber_bytes: Option<f64>,
    /// Time to connect and subscribe everyone, seconds.
    pub connect_s: Option<f64>,
    /// Reconnect storm: time until every subscriber was subscribed again, seconds.
    pub resubscribe_s: Option<f64>,
    /// Durable ingest: acknowledged events/s.
    pub ingest_per_s: Option<f64>,
    /// Durable ingest: acknowledged events.
    pub ingest_acked: Option<u64>,
    /// Durable ingest: per-request (voicetk batch) or per-message (JetStream) ack latency.
    pub ingest_ack_latency: Option<LatencySummary>,
    /// Durable ingest: server CPU, percent of one core.
    pub ingest_cpu_pct: Option<f64>,
    /// Subscribers that stopped during the run, and why (first few).
    pub lost_subscribers: Vec<String>,
    /// Why the scenario could not run on this peer, or what this peer does not do.
    pub note: Option<String>,
}

/// One scenario's outcome for every peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// Which scenario.
    pub scenario: ScenarioKind,
    /// What it does, with this run's numbers.
    pub description: String,
    /// Per peer, in the order run.
    pub peers: Vec<PeerResult>,
}

/// What every scenario run needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where the programs are.
    pub programs: Programs,
    /// CPU the peers are pinned to.
    pub server_cpu: Option<usize>,
    /// Sizes and durations.
    pub scale: Scale,
    /// Publishing lanes for voicetk.
    pub lanes: u32,
    /// Seed of the workloads.
    pub seed: u64,
    /// Print progress to stderr.
    pub progress: bool,
}

impl Context {
    fn say(&self, line: impl AsRef<str>) {
        if self.progress {
            eprintln!("voicetk-bench: {}", line.as_ref());
        }
    }
}

/// The description of `kind` at `scale`.
pub fn describe(kind: ScenarioKind, s: &Scale) -> String {
    let rates = |r: &[f64]| {
        r.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kind {
        ScenarioKind::FanoutSmall => format!(
            "fan-out 1 → {}: every event to every subscriber; steps of {} s at {} events/s",
            s.small_fanout,
            s.step_s,
            rates(&s.small_rates)
        ),
        ScenarioKind::FanoutLarge => format!(
            "fan-out 1 → {}: every event to every subscriber; steps of {} s at {} events/s",
            s.large_fanout,
            s.step_s,
            rates(&s.large_rates)
        ),
        ScenarioKind::PerCall => format!(
            "per-call: {} subscribers, each filtering one callId among {} active calls; steps of {} s at {} events/s",
            s.calls,
            s.calls,
            s.step_s,
            rates(&s.per_call_rates)
        ),
        ScenarioKind::Ingest => format!(
            "durable ingest for {} s: voicetk 4 clients × NDJSON batches of 100 (202 once durable) vs JetStream file-store publish, {} acks in flight",
            s.ingest_s, s.jetstream_window
        ),
        ScenarioKind::Reconnect => format!(
            "reconnect storm: {} subscribers at {} events/s for {} s; at a third of the run all drop and resubscribe (voicetk resumes after its last seq)",
            s.large_fanout,
            s.reconnect_rate,
            s.step_s * 3.0
        ),
        ScenarioKind::Stalled => format!(
            "stalled subscriber: {} subscribers at {} events/s for {} s, then again with one more that never reads",
            s.small_fanout,
            s.stalled_rate,
            s.step_s * 2.0
        ),
    }
}

/// Runs `kind` against `peer_kind`, starting and stopping the peer.
pub async fn run(kind: ScenarioKind, peer_kind: PeerKind, cx: &Context) -> PeerResult {
    let mut result = match execute(kind, peer_kind, cx).await {
        Ok(r) => r,
        Err(e) => PeerResult {
            note: Some(format!("could not run: {e}")),
            ..PeerResult::default()
        },
    };
    result.peer = peer_kind.name().to_owned();
    result
}

async fn execute(
    kind: ScenarioKind,
    peer_kind: PeerKind,
    cx: &Context,
) -> Result<PeerResult, CompareError> {
    let s = &cx.scale;
    match kind {
        ScenarioKind::Ingest => ingest(peer_kind, cx).await,
        ScenarioKind::FanoutSmall => {
            let subs = vec![Interest::All; s.small_fanout];
            fan_out(peer_kind, cx, subs, 100, &s.small_rates, Mode::Steps).await
        }
        ScenarioKind::FanoutLarge => {
            let subs = vec![Interest::All; s.large_fanout];
            fan_out(peer_kind, cx, subs, 100, &s.large_rates, Mode::Steps).await
        }
        ScenarioKind::PerCall => {
            fan_out(
                peer_kind,
                cx,
                Vec::new(),
                s.calls,
                &s.per_call_rates,
                Mode::PerCall,
            )
            .await
        }
        ScenarioKind::Reconnect => {
            let subs = vec![Interest::All; s.large_fanout];
            fan_out(peer_kind, cx, subs, 100, &[s.reconnect_rate], Mode::Storm).await
        }
        ScenarioKind::Stalled => {
            let subs = vec![Interest::All; s.small_fanout];
            fan_out(
                peer_kind,
                cx,
                subs,
                100,
                &[s.stalled_rate, s.stalled_rate],
                Mode::Stall,
            )
            .await
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Steps,
    PerCall,
    Storm,
    Stall,
}

#[allow(clippy::too_many_lines)]
async fn fan_out(
    peer_kind: PeerKind,
    cx: &Context,
    mut interests: Vec<Interest>,
    calls: usize,
    rates: &[f64],
    mode: Mode,
) -> Result<PeerResult, CompareError> {
    let s = &cx.scale;
    let step_s = match mode {
        Mode::Storm => s.step_s * 3.0,
        Mode::Stall => s.step_s * 2.0,
        _ => s.step_s,
    };
    // Draw every step's events first: the publisher then only stamps and sends.
    let mut plan = Plan::new(PlanConfig {
        concurrent_calls: calls,
        lanes: cx.lanes,
        payload_bytes: s.payload_bytes,
        seed: cx.seed,
        // Per-call subscribers watch the same calls for the whole run.
        mean_call_events: if mode == Mode::PerCall { 1_000_000 } else { 24 },
    });
    let steps: Vec<Vec<Prepared>> = rates
        .iter()
        .enumerate()
        .map(|(k, r)| plan.take(k as u32, (r * step_s).round().max(1.0) as usize))
        .collect();
    if mode == Mode::PerCall {
        let mut seen = std::collections::HashSet::new();
        for e in steps.iter().flatten() {
            if seen.len() == calls {
                break;
            }
            if seen.insert(e.call_id.clone()) {
                interests.push(Interest::Call(e.call_id.clone()));
            }
        }
    }
    let all = interests
        .iter()
        .filter(|i| matches!(i, Interest::All))
        .count() as u64;
    let per_call: std::collections::HashMap<Arc<str>, u64> =
        interests.iter().fold(Default::default(), |mut m, i| {
            if let Interest::Call(c) = i {
                *m.entry(c.clone()).or_insert(0) += 1;
            }
            m
        });
    let expected_of = |events: &[Prepared]| -> u64 {
        events
            .iter()
            .map(|e| all + per_call.get(&e.call_id).copied().unwrap_or(0))
            .sum()
    };

    let peer = Arc::new(Peer::start(peer_kind, &cx.programs, cx.server_cpu, false).await?);
    let pid = peer.pid;
    let mut result = PeerResult::default();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = proc::sample(pid)?;
    result.idle_rss_bytes = Some(idle.rss_bytes);

    let base = Instant::now();
    let collector = Collector::new(base);
    let stop = CancellationToken::new();
    let (storm_tx, storm_rx) = watch::channel(0u64);
    cx.say(format!(
        "{}: connecting {} subscribers",
        peer_kind,
        interests.len()
    ));
    let t = Instant::now();
    let conns = connect_all(&peer, &interests).await?;
    result.connect_s = Some(t.elapsed().as_secs_f64());
    for (id, (conn, interest)) in conns.into_iter().zip(interests.iter().cloned()).enumerate() {
        tokio::spawn(run_subscriber(
            peer.clone(),
            conn,
            interest,
            collector.clone(),
            storm_rx.clone(),
            stop.clone(),
            id,
        ));
    }
    // Let the last subscriptions register (the raw writer does not confirm them).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = proc::sample(pid)?;
    if !interests.is_empty() {
        result.rss_per_subscriber_bytes =
            Some((loaded.rss_bytes as f64 - idle.rss_bytes as f64) / interests.len() as f64);
    }

    let mut publisher = peer.publisher(cx.lanes).await?;
    let mut stalled: Option<SubConn> = None;
    for (k, events) in steps.iter().enumerate() {
        let rate = rates[k];
        let label = match mode {
            Mode::Steps | Mode::PerCall => "rate",
            Mode::Storm => "storm",
            Mode::Stall if k == 0 => "baseline",
            Mode::Stall => "stalled",
        };
        if mode == Mode::Stall && k == 1 {
            // One more subscriber that never reads a byte.
            stalled = Some(peer.subscribe(None, None).await?);
        }
        cx.say(format!(
            "{}: {label} {} events at {rate}/s",
            peer_kind,
            events.len()
        ));
        let before = proc::sample(pid)?;
        let me_before = proc::sample(std::process::id())?;
        let wall = Instant::now();
        let storm = (mode == Mode::Storm).then(|| {
            let tx = storm_tx.clone();
            let after = Duration::from_secs_f64(step_s / 3.0);
            let clock = collector.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let fired = clock.now_ns();
                let _ = tx.send(1);
                fired
            })
        });
        let start_ns = publish_open_loop(&mut publisher, events, rate, &collector).await?;
        let drain = Duration::from_secs_f64(s.drain_s);
        let (_, refused) = publisher.settle(drain).await;
        let expected = expected_of(events);
        let deadline = Instant::now() + drain;
        while collector.received(k as u32) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(storm) = storm {
            if let Ok(fired_ns) = storm.await {
                // Subscribers count themselves back; wait for the last one (bounded).
                let deadline = Instant::now() + drain;
                while collector.reconnected() < interests.len() as u64 && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                result.resubscribe_s = (collector.reconnected() >= interests.len() as u64)
                    .then(|| collector.last_reconnect_ns().saturating_sub(fired_ns) as f64 / 1e9);
            }
        }
        let after = proc::sample(pid)?;
        let me_after = proc::sample(std::process::id())?;
        let tally = collector.step(k as u32);
        let window_s = ((tally.last_ns.saturating_sub(start_ns)) as f64 / 1e9).max(step_s);
        let latency = tally.latency.summary();
        let ratio = if expected == 0 {
            1.0
        } else {
            tally.received as f64 / expected as f64
        };
        let kept_up = refused == 0
            && tally.received >= expected
            && tally.duplicates == 0
            && tally.gaps == 0
            && latency.p99_ms < 1_000.0;
        result.steps.push(StepResult {
            label: label.to_owned(),
            rate,
            published: events.len() as u64,
            publish_errors: refused,
            expected,
            received: tally.received,
            delivery_ratio: ratio,
            delivered_per_s: tally.received as f64 / window_s,
            latency,
            gaps: tally.gaps,
            duplicates: tally.duplicates,
            server_cpu_pct: cpu_pct(before, after, wall.elapsed()),
            server_rss_bytes: after.rss_bytes,
            harness_cpu_pct: cpu_pct(me_before, me_after, wall.elapsed()),
            kept_up,
        });
        if let Some(e) = publisher.first_error() {
            result.note = Some(e);
        } else if mode == Mode::Storm && tally.gaps > 0 && peer.voicetk_base().is_none() {
            result.note = Some(format!(
                "{} deliveries lost: {} has no resume, events published while a subscriber was away are gone",
                tally.gaps,
                if peer_kind == PeerKind::Nats {
                    "core NATS"
                } else {
                    "the raw writer"
                }
            ));
        }
        if !kept_up && matches!(mode, Mode::Steps | Mode::PerCall) {
            cx.say(format!(
                "{peer_kind}: saturated at {rate}/s; no higher steps"
            ));
            break;
        }
    }
    stop.cancel();
    if let Some(s) = stalled {
        drop(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    result.lost_subscribers = collector.lost().into_iter().take(5).collect();
    Ok(result)
}

fn cpu_pct(before: ProcSample, after: ProcSample, wall: Duration) -> f64 {
    100.0 * (after.cpu_s - before.cpu_s) / wall.as_secs_f64().max(1e-9)
}

/// Connects every subscriber, 64 at a time.
async fn connect_all(
    peer: &Arc<Peer>,
    interests: &[Interest],
) -> Result<Vec<SubConn>, CompareError> {
    use futures::StreamExt;
    let results: Vec<Result<SubConn, CompareError>> =
        futures::stream::iter(interests.iter().cloned().map(|i| {
            let peer = peer.clone();
            async move {
                let call = match &i {
                    Interest::All => None,
                    Interest::Call(c) => Some(c.clone()),
                };
                peer.subscribe(call.as_deref(), None).await
            }
        }))
        .buffered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Sends `events` at `rate` per second from now, each stamped with its *scheduled* time, and
/// returns the first scheduled time (ns since the run's start). A publisher that falls
/// behind sends late; the latency subscribers measure then includes the delay.
async fn publish_open_loop(
    publisher: &mut Publisher,
    events: &[Prepared],
    rate: f64,
    collector: &Collector,
) -> Result<u64, CompareError> {
    let gap_ns = 1e9 / rate.max(1e-3);
    let start_ns = collector.now_ns() + 1_000_000;
    let at = |i: usize| start_ns + (i as f64 * gap_ns) as u64;
    let mut i = 0;
    while i < events.len() {
        let now = collector.now_ns();
        let mut burst = 0;
        while i < events.len() && at(i) <= now && burst < 512 {
            let e = &events[i];
            publisher.send(e.lane, &e.call_id, e.stamped(at(i))).await?;
            i += 1;
            burst += 1;
        }
        publisher.flush().await?;
        if i >= events.len() {
            break;
        }
        let next = at(i);
        let now = collector.now_ns();
        if next > now {
            tokio::time::sleep(Duration::from_nanos(next - now)).await;
        } else {
            // Behind schedule: let the subscribers run, then catch up.
            tokio::task::yield_now().await;
        }
    }
    Ok(start_ns)
}

/// Durable ingest: voicetk's batched POST against JetStream publish with acks.
async fn ingest(peer_kind: PeerKind, cx: &Context) -> Result<PeerResult, CompareError> {
    let s = &cx.scale;
    let mut result = PeerResult::default();
    if peer_kind == PeerKind::Raw {
        result.note = Some("not applicable: the raw writer stores nothing".into());
        return Ok(result);
    }
    let peer = Peer::start(peer_kind, &cx.programs, cx.server_cpu, true).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = proc::sample(peer.pid)?;
    let wall = Instant::now();
    cx.say(format!("{peer_kind}: durable ingest for {} s", s.ingest_s));
    let duration = Duration::from_secs_f64(s.ingest_s);
    if let Some(base) = peer.voicetk_base() {
        let target =
            Target::remote(base).map_err(|e| CompareError::protocol("voicetk", e.to_string()))?;
        let report = run_ingest(
            &target,
            &IngestOptions {
                clients: 4,
                batch: 100,
                duration,
                max_events: None,
                calls_per_client: 100,
                seed: cx.seed,
                progress: None,
            },
        )
        .await
        .map_err(|e| CompareError::protocol("voicetk", e.to_string()))?;
        result.ingest_per_s = Some(report.events_per_s);
        result.ingest_acked = Some(report.events_acked);
        result.ingest_ack_latency = Some(report.ack_latency);
        if let Some(f) = report.first_failure {
            result.note = Some(f);
        }
    } else if let Some(url) = peer.nats_url() {
        // The same workload's payloads, one message each.
        let mut workload = Workload::new(WorkloadConfig {
            seed: cx.seed,
            concurrent_calls: 400,
            ..WorkloadConfig::default()
        });
        let report = jetstream_ingest(
            url,
            &JetStreamIngest {
                subject: "ingest.calls".into(),
                window: s.jetstream_window,
                duration,
                max_messages: None,
            },
            move |_| bytes::Bytes::from(to_bytes(&workload.next_event())),
        )
        .await?;
        result.ingest_per_s = Some(report.acked_per_sec);
        result.ingest_acked = Some(report.acked);
        result.ingest_ack_latency = Some(report.ack_latency);
        if report.stream_messages != report.acked {
            result.note = Some(format!(
                "stream holds {} messages, {} were acknowledged",
                report.stream_messages, report.acked
            ));
        }
    }
    let after = proc::sample(peer.pid)?;
    result.ingest_cpu_pct = Some(cpu_pct(before, after, wall.elapsed()));
    Ok(result)
}
