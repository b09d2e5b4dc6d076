//! The in-process path of one event, as a plain program to run under
//! `valgrind --tool=callgrind`: instruction counts are repeatable on a noisy machine where
//! wall-clock benchmarks are not.
//!
//! ```text
//! voicetk-path-cost STAGE [--events N]
//! ```
//! `STAGE` is `prepare` (only generate the input: subtract it), `value` (serde_json into
//! `Value`, the baseline), `parse` (`parse_event`), `parse-via-value` (`from_value` over a
//! parsed `Value`), `pipeline-1` / `pipeline-100` (parse →
//! `Engine::apply` → dispatch to 1 / 100 listeners, with `take_dirty` every 100 events as a
//! gateway group would). Divide the difference from `prepare` by N for the cost per event.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use voicetk_bench::{Workload, WorkloadConfig, to_bytes};
use voicetk_delivery::{Listener, Listeners};
use voicetk_engine::{Engine, EngineConfig};
use voicetk_events::{EventType, ParseOptions, TelephonyKind, parse_event};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(stage) = args.first().cloned() else {
        eprintln!(
            "usage: voicetk-path-cost prepare|value|parse|parse-via-value|pipeline-1|pipeline-100 [--events N]"
        );
        return ExitCode::from(2);
    };
    let events: usize = match args.iter().position(|a| a == "--events") {
        Some(i) => match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("--events needs a number");
                return ExitCode::from(2);
            }
        },
        None => 20_000,
    };
    let mut workload = Workload::new(WorkloadConfig {
        seed: 7,
        concurrent_calls: 1_000,
        ..WorkloadConfig::default()
    });
    let inputs: Vec<Vec<u8>> = workload.take_events(events).iter().map(to_bytes).collect();
    let options = ParseOptions::default();
    let now = jiff::Timestamp::UNIX_EPOCH;
    match stage.as_str() {
        "prepare" => {
            black_box(&inputs);
        }
        "value" => {
            for b in &inputs {
                black_box(serde_json::from_slice::<serde_json::Value>(b).ok());
            }
        }
        "parse-via-value" => {
            // The same validation over a parsed `Value`: how parse_event worked before it read
            // the bytes in one pass.
            for b in &inputs {
                let value = serde_json::from_slice::<serde_json::Value>(b).ok();
                black_box(value.map(|v| voicetk_events::from_value(v, &options)));
            }
        }
        "parse" => {
            for b in &inputs {
                black_box(parse_event(b, &options).ok());
            }
        }
        "pipeline-1" | "pipeline-100" => {
            let n = if stage == "pipeline-1" { 1 } else { 100 };
            let listeners = Listeners::new(TelephonyKind::Partner);
            let count = Arc::new(AtomicU64::new(0));
            for _ in 0..n {
                let count = Arc::clone(&count);
                let l = Listener::new(move |_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
                for t in EventType::ALL {
                    if listeners.add_telephony_event_listener(t, &l).is_err() {
                        return ExitCode::from(2);
                    }
                }
            }
            let mut engine = Engine::new(EngineConfig::default());
            for (i, b) in inputs.iter().enumerate() {
                let Ok(envelope) = parse_event(b, &options) else {
                    eprintln!("payload {i} refused");
                    return ExitCode::from(1);
                };
                match engine.apply(envelope, now) {
                    Ok(voicetk_engine::Applied::Accepted(stamped)) => {
                        black_box(listeners.dispatch(&stamped));
                    }
                    other => {
                        eprintln!("event {i} not accepted: {other:?}");
                        return ExitCode::from(1);
                    }
                }
                if i % 100 == 99 {
                    black_box(engine.take_dirty());
                }
            }
            black_box(count.load(Ordering::Relaxed));
        }
        other => {
            eprintln!("unknown stage {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
