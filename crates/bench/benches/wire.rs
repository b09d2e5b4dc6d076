//! The in-process path of one event: parse and validate, apply to the engine, dispatch to
//! listeners, serialize. Inputs come from [`Workload`]: realistic, engine-valid call flows
//! of all 15 types (mostly `AUDIO_STATS`, `CALL_CONNECTED` with ten `callAttributes`).
//!
//! Groups:
//! - `parse-bytes` / `parse-events`: the same work over a fixed mix of 2,000 payloads, with
//!   throughput in bytes and in events: `value` (serde_json into `Value`, the baseline),
//!   `struct` (serde_json into `{type, detail: Value}`, a second baseline), `parse_event`
//!   (voicetk's parse + validate), `to_json` (serializing stamped envelopes; bytes are output
//!   bytes).
//! - `engine/apply`: `Engine::apply` alone, 1,000 events per iteration, on a long-lived engine
//!   with 1,000 concurrent calls, then `Engine::take_dirty` as the gateway does after each
//!   group (the stamped envelopes are dropped outside the timing).
//! - `engine/group-of-RxN`: what the gateway's writer task asks of the engine for one group
//!   of 1,000 events arriving as R requests of N events: a checkpoint per request (batches are
//!   all or nothing), `apply`, `commit`, and `take_dirty` once per group.
//! - `dispatch/N`: `Listeners::dispatch` alone to N listeners registered for every type.
//! - `pipeline/N`: parse_event → Engine::apply → Listeners::dispatch to N listeners, 1,000
//!   events per iteration then `take_dirty`, everything (drops included) inside the timing.
//!
//! Listeners do minimal work: one relaxed atomic increment.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, black_box};
use serde::Deserialize;
use voicetk_bench::{Workload, WorkloadConfig, to_bytes};
use voicetk_delivery::{Listener, Listeners};
use voicetk_engine::{Applied, Engine, EngineConfig};
use voicetk_events::{Envelope, EventType, ParseOptions, TelephonyKind, parse_event};

/// Payloads in the fixed mix.
const MIX: usize = 2_000;
/// Events per iteration of the stateful benches.
const CHUNK: usize = 1_000;
/// Calls in progress in the stateful benches.
const CONCURRENT_CALLS: usize = 1_000;

/// The second baseline: the envelope's two fields, `detail` left untyped.
#[derive(Deserialize)]
struct Bare {
    #[serde(rename = "type")]
    kind: String,
    detail: serde_json::Value,
}

fn now() -> jiff::Timestamp {
    match jiff::Timestamp::from_second(1_740_000_000) {
        Ok(t) => t,
        Err(e) => panic!("constant timestamp: {e}"),
    }
}

fn parse(bytes: &[u8]) -> Envelope {
    match parse_event(bytes, &ParseOptions::default()) {
        Ok(e) => e,
        Err(e) => panic!("generated payload refused: {e}"),
    }
}

fn accepted(applied: Result<Applied, voicetk_engine::Refusal>) -> Envelope {
    match applied {
        Ok(Applied::Accepted(e)) => e,
        other => panic!("generated event not accepted: {other:?}"),
    }
}

/// The fixed mix as bytes, and the same events stamped by an engine (seq, timestamp, agent).
fn mix() -> (Vec<Vec<u8>>, Vec<Envelope>) {
    let mut workload = Workload::new(WorkloadConfig {
        seed: 42,
        concurrent_calls: 200,
        ..WorkloadConfig::default()
    });
    // Skip the start, where most events open calls, to get the steady-state mix.
    let mut engine = Engine::new(EngineConfig::default());
    for event in workload.take_events(5_000) {
        accepted(engine.apply(parse(&to_bytes(&event)), now()));
    }
    let bytes: Vec<Vec<u8>> = workload.take_events(MIX).iter().map(to_bytes).collect();
    let stamped: Vec<Envelope> = bytes
        .iter()
        .map(|b| accepted(engine.apply(parse(b), now())))
        .collect();
    let mut counts = [0usize; 15];
    for e in &stamped {
        counts[e.event_type().index()] += 1;
    }
    let total: usize = bytes.iter().map(Vec::len).sum();
    eprintln!(
        "wire mix: {MIX} payloads, {total} bytes ({:.0} bytes/event); per type: {}",
        total as f64 / MIX as f64,
        EventType::ALL
            .iter()
            .map(|t| format!("{t} {}", counts[t.index()]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(counts.iter().all(|&c| c > 0), "every type is in the mix");
    (bytes, stamped)
}

/// Listeners registered for every type, each incrementing a shared counter.
fn listeners(n: usize) -> (Listeners, Arc<AtomicU64>) {
    let listeners = Listeners::new(TelephonyKind::Partner);
    let calls = Arc::new(AtomicU64::new(0));
    for _ in 0..n {
        let calls = Arc::clone(&calls);
        let listener = Listener::new(move |_| {
            calls.fetch_add(1, Ordering::Relaxed);
        });
        for t in EventType::ALL {
            if let Err(e) = listeners.add_telephony_event_listener(t, &listener) {
                panic!("registering a listener: {e}");
            }
        }
    }
    (listeners, calls)
}

/// An endless source of `CHUNK`-sized inputs for one long-lived engine.
fn stream() -> Workload {
    Workload::new(WorkloadConfig {
        seed: 7,
        concurrent_calls: CONCURRENT_CALLS,
        ..WorkloadConfig::default()
    })
}

fn parse_benches(c: &mut Criterion) {
    let (bytes, stamped) = mix();
    let in_bytes: u64 = bytes.iter().map(|b| b.len() as u64).sum();
    let out_bytes: u64 = stamped.iter().map(|e| e.to_json().len() as u64).sum();
    for (group_name, unit) in [("parse-bytes", true), ("parse-events", false)] {
        let mut group = c.benchmark_group(group_name);
        let throughput = |b: u64| {
            if unit {
                Throughput::Bytes(b)
            } else {
                Throughput::Elements(MIX as u64)
            }
        };
        group.throughput(throughput(in_bytes));
        group.bench_function("value", |b| {
            b.iter(|| {
                for p in &bytes {
                    let v: serde_json::Value = match serde_json::from_slice(p) {
                        Ok(v) => v,
                        Err(e) => panic!("{e}"),
                    };
                    black_box(v);
                }
            })
        });
        group.bench_function("struct", |b| {
            b.iter(|| {
                for p in &bytes {
                    let v: Bare = match serde_json::from_slice(p) {
                        Ok(v) => v,
                        Err(e) => panic!("{e}"),
                    };
                    black_box((v.kind, v.detail));
                }
            })
        });
        group.bench_function("parse_event", |b| {
            let options = ParseOptions::default();
            b.iter(|| {
                for p in &bytes {
                    black_box(parse_event(black_box(p), &options).is_ok());
                }
            })
        });
        group.throughput(throughput(out_bytes));
        group.bench_function("to_json", |b| {
            b.iter(|| {
                for e in &stamped {
                    black_box(e.to_json());
                }
            })
        });
        group.finish();
    }
}

fn engine_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(CHUNK as u64));
    let mut workload = stream();
    let mut engine = Engine::new(EngineConfig::default());
    group.bench_function("apply", |b| {
        b.iter_batched(
            || {
                workload
                    .take_events(CHUNK)
                    .iter()
                    .map(|e| parse(&to_bytes(e)))
                    .collect::<Vec<_>>()
            },
            |chunk| {
                let stamped = chunk
                    .into_iter()
                    .map(|e| accepted(engine.apply(e, now())))
                    .collect::<Vec<_>>();
                // As the gateway does after each group; it also keeps the dirty set bounded.
                (stamped, engine.take_dirty())
            },
            BatchSize::LargeInput,
        )
    });
    // The writer task's engine work for one group of CHUNK events, arriving as requests of
    // `per_request` events: each request is checkpointed (all or nothing) and committed, and
    // the dirty set is taken once per group.
    for per_request in [100usize, 1] {
        let mut workload = stream();
        let mut engine = Engine::new(EngineConfig::default());
        let name = format!("group-of-{}x{per_request}", CHUNK / per_request);
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    workload
                        .take_events(CHUNK)
                        .iter()
                        .map(|e| parse(&to_bytes(e)))
                        .collect::<Vec<_>>()
                },
                |chunk| {
                    let mut stamped = Vec::with_capacity(chunk.len());
                    let mut events = chunk.into_iter();
                    for _ in 0..CHUNK / per_request {
                        let checkpoint = engine.checkpoint();
                        for e in events.by_ref().take(per_request) {
                            stamped.push(accepted(engine.apply(e, now())));
                        }
                        engine.commit(checkpoint);
                    }
                    (stamped, engine.take_dirty())
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn dispatch_benches(c: &mut Criterion) {
    let (_, stamped) = mix();
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(MIX as u64));
    for n in [1, 100] {
        let (listeners, calls) = listeners(n);
        group.bench_function(n.to_string(), |b| {
            b.iter(|| {
                for e in &stamped {
                    black_box(listeners.dispatch(e));
                }
            })
        });
        // Zero when a filter on the command line skipped this bench.
        black_box(calls.load(Ordering::Relaxed));
    }
    group.finish();
}

fn pipeline_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(CHUNK as u64));
    for n in [1, 100] {
        let (listeners, calls) = listeners(n);
        let mut workload = stream();
        let mut engine = Engine::new(EngineConfig::default());
        let options = ParseOptions::default();
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || {
                    workload
                        .take_events(CHUNK)
                        .iter()
                        .map(to_bytes)
                        .collect::<Vec<_>>()
                },
                |chunk| {
                    for bytes in chunk {
                        let envelope = match parse_event(&bytes, &options) {
                            Ok(e) => e,
                            Err(e) => panic!("generated payload refused: {e}"),
                        };
                        let stamped = accepted(engine.apply(envelope, now()));
                        black_box(listeners.dispatch(&stamped));
                    }
                    black_box(engine.take_dirty());
                },
                BatchSize::LargeInput,
            )
        });
        // Zero when a filter on the command line skipped this bench.
        black_box(calls.load(Ordering::Relaxed));
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(25)
}

// What `criterion_group!` / `criterion_main!` expand to, written out so the entry point can
// carry the workspace's doc lint.
fn main() {
    let mut criterion = config().configure_from_args();
    parse_benches(&mut criterion);
    engine_benches(&mut criterion);
    dispatch_benches(&mut criterion);
    pipeline_benches(&mut criterion);
    criterion.final_summary();
}
