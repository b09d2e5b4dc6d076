//! The SQLite event log on a real file (a temporary directory on the machine's disk).
//!
//! - `log/append/N`: one durable `append` (WAL, `synchronous=FULL`: one fsync per commit) of
//!   a batch of N events shaped as the gateway writes them: the stamped events of realistic
//!   call flows plus the snapshots of the calls they changed, in one transaction. Batches are
//!   built outside the timing.
//! - `log/append-events-only/N`: the same without the call snapshots, to tell the cost of the
//!   events from the cost of the snapshots.
//! - `log/read/1000`: one `read` of 1,000 events (no filter) from a log holding 20,000.

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use voicetk_bench::{Workload, WorkloadConfig, to_bytes};
use voicetk_engine::{Applied, Engine, EngineConfig};
use voicetk_events::{ParseOptions, parse_event};
use voicetk_log::{AppendBatch, EventLog, ReadQuery, SqliteLog, SqliteOptions, StoredEvent};

/// Builds gateway-shaped batches: events applied to an engine, plus dirty call snapshots.
struct Batches {
    workload: Workload,
    engine: Engine,
}

impl Batches {
    fn new(seed: u64) -> Batches {
        Batches {
            workload: Workload::new(WorkloadConfig {
                seed,
                concurrent_calls: 1_000,
                ..WorkloadConfig::default()
            }),
            engine: Engine::new(EngineConfig::default()),
        }
    }

    fn next(&mut self, n: usize) -> AppendBatch {
        let now = match jiff::Timestamp::from_second(1_740_000_000) {
            Ok(t) => t,
            Err(e) => panic!("constant timestamp: {e}"),
        };
        let mut events = Vec::with_capacity(n);
        for event in self.workload.take_events(n) {
            let envelope = match parse_event(&to_bytes(&event), &ParseOptions::default()) {
                Ok(e) => e,
                Err(e) => panic!("generated payload refused: {e}"),
            };
            let stamped = match self.engine.apply(envelope, now) {
                Ok(Applied::Accepted(e)) => e,
                other => panic!("generated event not accepted: {other:?}"),
            };
            match StoredEvent::from_envelope(&stamped) {
                Some(stored) => events.push(stored),
                None => panic!("a stamped envelope has seq and timestamp"),
            }
        }
        let mut calls = Vec::new();
        let mut removed_calls = Vec::new();
        for id in self.engine.take_dirty() {
            match self.engine.call(&id) {
                Some(call) => match serde_json::to_string(call) {
                    Ok(json) => calls.push((id, json)),
                    Err(e) => panic!("snapshot: {e}"),
                },
                None => removed_calls.push(id),
            }
        }
        AppendBatch {
            events,
            calls,
            removed_calls,
        }
    }
}

fn open(dir: &Path) -> SqliteLog {
    match SqliteLog::open(dir, SqliteOptions::default()) {
        Ok(log) => log,
        Err(e) => panic!("opening the log in {}: {e}", dir.display()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::Builder::new()
        .prefix("voicetk-bench-log-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    }
}

fn append_benches(c: &mut Criterion) {
    let rt = runtime();
    let sizes = [
        ("append", [1usize, 100, 1_000].as_slice(), true),
        ("append-events-only", [100usize, 1_000].as_slice(), false),
    ];
    for (name, ns, snapshots) in sizes {
        let mut group = c.benchmark_group(format!("log/{name}"));
        for &n in ns {
            append_bench(&rt, &mut group, n, snapshots);
        }
        group.finish();
    }
}

/// One durable append of `n` events per iteration, with or without call snapshots.
fn append_bench(
    rt: &tokio::runtime::Runtime,
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    n: usize,
    snapshots: bool,
) {
    let dir = tempdir();
    let log = open(dir.path());
    let mut batches = Batches::new(n as u64);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(n.to_string(), |b| {
        b.to_async(rt).iter_batched(
            || {
                let mut batch = batches.next(n);
                if !snapshots {
                    batch.calls.clear();
                    batch.removed_calls.clear();
                }
                batch
            },
            |batch| async {
                if let Err(e) = log.append(batch).await {
                    panic!("append: {e}");
                }
            },
            BatchSize::PerIteration,
        )
    });
    rt.block_on(async {
        if let Err(e) = log.close().await {
            panic!("close: {e}");
        }
    });
}

fn read_benches(c: &mut Criterion) {
    const HELD: u64 = 20_000;
    const PAGE: usize = 1_000;
    let rt = runtime();
    let dir = tempdir();
    let log = open(dir.path());
    let mut batches = Batches::new(99);
    rt.block_on(async {
        for _ in 0..HELD / 1_000 {
            if let Err(e) = log.append(batches.next(1_000)).await {
                panic!("filling the log: {e}");
            }
        }
    });
    let mut group = c.benchmark_group("log/read");
    group.throughput(Throughput::Elements(PAGE as u64));
    let mut after = 0u64;
    group.bench_function(PAGE.to_string(), |b| {
        b.to_async(&rt).iter(|| {
            // Walk through the log page by page, so reads are not all of the same rows.
            after = (after + PAGE as u64) % (HELD - PAGE as u64);
            let query = ReadQuery::after(after).with_limit(PAGE);
            let log = &log;
            async move {
                match log.read(query).await {
                    Ok(events) if events.len() == PAGE => events,
                    Ok(events) => panic!("read {} events, expected {PAGE}", events.len()),
                    Err(e) => panic!("read: {e}"),
                }
            }
        })
    });
    group.finish();
    rt.block_on(async {
        if let Err(e) = log.close().await {
            panic!("close: {e}");
        }
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
}

// What `criterion_group!` / `criterion_main!` expand to, written out so the entry point can
// carry the workspace's doc lint.
fn main() {
    let mut criterion = config().configure_from_args();
    append_benches(&mut criterion);
    read_benches(&mut criterion);
    criterion.final_summary();
}
