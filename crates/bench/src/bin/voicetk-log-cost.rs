//! The SQLite log's append path as a plain program to run under `valgrind --tool=callgrind`
//! (instruction counts) or `strace -c -f` (fsync counts), where the criterion `log` bench is
//! too noisy to compare changes.
//!
//! ```text
//! voicetk-log-cost STAGE [--events N] [--batch B] [--data DIR]
//! ```
//! `STAGE` is `prepare` (only build the gateway-shaped batches: subtract it), `append` (one
//! durable `append` per batch of B events, with the snapshots of the calls they changed, as
//! the gateway writes them) or `append-events-only` (the same without snapshots). The log is
//! a fresh `events.db` in a temporary directory, or in `--data DIR` (which must not hold one).
//! Prints the events appended, the wall time and events/s (noisy; for a rough idea only).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use voicetk_bench::{Workload, WorkloadConfig, to_bytes};
use voicetk_engine::{Applied, Engine, EngineConfig};
use voicetk_events::{ParseOptions, parse_event};
use voicetk_log::{AppendBatch, EventLog, SqliteLog, SqliteOptions, StoredEvent};

/// The command line, parsed.
struct Args {
    stage: String,
    events: usize,
    batch: usize,
    data: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        stage: String::new(),
        events: 20_000,
        batch: 100,
        data: None,
    };
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|n| n.parse().ok())
                .filter(|n: &usize| *n > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--events" => parsed.events = number("--events")?,
            "--batch" => parsed.batch = number("--batch")?,
            "--data" => {
                parsed.data = Some(
                    args.next()
                        .map(PathBuf::from)
                        .ok_or("--data needs a directory")?,
                );
            }
            stage if parsed.stage.is_empty() && !stage.starts_with('-') => {
                parsed.stage = stage.to_owned();
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if !matches!(
        parsed.stage.as_str(),
        "prepare" | "append" | "append-events-only"
    ) {
        return Err(
            "usage: voicetk-log-cost prepare|append|append-events-only [--events N] [--batch B] [--data DIR]"
                .into(),
        );
    }
    Ok(parsed)
}

/// Gateway-shaped batches: events applied to an engine, then the dirty calls' snapshots.
fn batches(events: usize, batch: usize, snapshots: bool) -> Result<Vec<AppendBatch>, String> {
    let mut workload = Workload::new(WorkloadConfig {
        seed: 7,
        concurrent_calls: 1_000,
        ..WorkloadConfig::default()
    });
    let mut engine = Engine::new(EngineConfig::default());
    let now = jiff::Timestamp::from_second(1_740_000_000).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(events.div_ceil(batch));
    let mut left = events;
    while left > 0 {
        let n = left.min(batch);
        left -= n;
        let mut stored = Vec::with_capacity(n);
        for event in workload.take_events(n) {
            let envelope = parse_event(&to_bytes(&event), &ParseOptions::default())
                .map_err(|e| format!("generated payload refused: {e}"))?;
            match engine.apply(envelope, now) {
                Ok(Applied::Accepted(e)) => stored
                    .push(StoredEvent::from_envelope(&e).ok_or("a stamped envelope has a seq")?),
                other => return Err(format!("generated event not accepted: {other:?}")),
            }
        }
        let mut calls = Vec::new();
        let mut removed_calls = Vec::new();
        for id in engine.take_dirty() {
            match engine.call(&id) {
                Some(call) => {
                    let json = serde_json::to_string(call).map_err(|e| e.to_string())?;
                    calls.push((id, json));
                }
                None => removed_calls.push(id),
            }
        }
        if !snapshots {
            calls.clear();
            removed_calls.clear();
        }
        out.push(AppendBatch {
            events: stored,
            calls,
            removed_calls,
        });
    }
    Ok(out)
}

fn run(args: &Args) -> Result<(), String> {
    let prepared = batches(args.events, args.batch, args.stage != "append-events-only")?;
    if args.stage == "prepare" {
        println!("prepared {} batches", prepared.len());
        return Ok(());
    }
    let temp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = args.data.clone().unwrap_or_else(|| temp.path().to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let log = SqliteLog::open(&dir, SqliteOptions::default()).map_err(|e| e.to_string())?;
        let started = Instant::now();
        for batch in prepared {
            log.append(batch).await.map_err(|e| e.to_string())?;
        }
        let took = started.elapsed();
        log.close().await.map_err(|e| e.to_string())?;
        #[allow(clippy::cast_precision_loss)]
        let rate = args.events as f64 / took.as_secs_f64();
        println!(
            "appended {} events in batches of {}: {:.1} ms, {:.0} events/s",
            args.events,
            args.batch,
            took.as_secs_f64() * 1e3,
            rate
        );
        Ok(())
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voicetk-log-cost: {e}");
            ExitCode::FAILURE
        }
    }
}
