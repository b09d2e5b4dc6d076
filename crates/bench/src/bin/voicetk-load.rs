//! `voicetk-load`: measures a real voicetk gateway over loopback.
//!
//! ```text
//! voicetk-load [--spawn | --server URL] [--json] ingest [--clients 4] [--batch 100] [--duration 10s]
//! voicetk-load [--spawn | --server URL] [--json] fanout [--subscribers 100] [--rate R] [--duration 10s]
//! ```
//!
//! Exit status: 0 when the run succeeded, 1 when it measured failures (refused batches,
//! incomplete deliveries), 2 when it could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use voicetk_bench::load::{
    FanoutOptions, IngestOptions, LoadError, Target, run_fanout, run_ingest,
};

/// Load harness for a voicetk gateway (loopback only; every run stops by itself).
#[derive(Debug, Parser)]
#[command(name = "voicetk-load", version)]
struct Cli {
    /// Start a gateway in this process (SQLite log in a temp dir, 127.0.0.1:0). The default.
    #[arg(long, conflicts_with = "server")]
    spawn: bool,
    /// Measure the gateway already running at this loopback URL instead.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Bearer token for a gateway that requires one (roles publish and subscribe).
    #[arg(long, env = "VOICETK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where the spawned gateway's temp data dir goes. Default is the system temp dir.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Also print the results as one JSON line.
    #[arg(long)]
    json: bool,
    /// Interval of progress lines on stderr; 0 for none.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    progress: Duration,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// K clients post NDJSON batches of valid call flows; acknowledged events/s and latency.
    Ingest(IngestArgs),
    /// S WebSocket subscribers, one publisher; delivery latency and exactly-once check.
    Fanout(FanoutArgs),
}

#[derive(Debug, Args)]
struct Bounds {
    /// How long to publish.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Stop after this many events, if reached first.
    #[arg(long, value_name = "N")]
    events: Option<u64>,
    /// Seed of the generated calls. Default: from the clock, so call ids differ between runs.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Concurrent HTTP clients.
    #[arg(long, short = 'k', default_value_t = 4)]
    clients: usize,
    /// Events per NDJSON batch.
    #[arg(long, short = 'b', default_value_t = 100)]
    batch: usize,
    /// Calls in progress per client.
    #[arg(long, default_value_t = 100)]
    calls: usize,
    #[command(flatten)]
    bounds: Bounds,
}

#[derive(Debug, Args)]
struct FanoutArgs {
    /// WebSocket subscribers (1,000 need `ulimit -n` above ~2,100 with --spawn).
    #[arg(long, short = 's', default_value_t = 100)]
    subscribers: usize,
    /// POSTs per second; default: as fast as acknowledged.
    #[arg(long, short = 'r')]
    rate: Option<f64>,
    /// Events per POST (NDJSON above 1): measures fan-out rather than commit latency.
    #[arg(long, short = 'b', default_value_t = 1)]
    batch: usize,
    /// How long subscribers may take to receive everything after the last event.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
    #[command(flatten)]
    bounds: Bounds,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("voicetk-load: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the chosen mode; `Ok(false)` when the run measured failures.
async fn run(cli: Cli) -> Result<bool, LoadError> {
    let target = match (&cli.server, cli.spawn) {
        (Some(url), false) => Target::remote(url)?,
        _ => Target::spawn(cli.data.as_deref()).await?,
    }
    .with_token(cli.token.clone());
    let progress = Some(cli.progress).filter(|d| !d.is_zero());
    eprintln!("voicetk-load: measuring {}", target.describe());
    let outcome = match &cli.mode {
        Mode::Ingest(args) => {
            let options = IngestOptions {
                clients: args.clients,
                batch: args.batch,
                duration: args.bounds.duration,
                max_events: args.bounds.events,
                calls_per_client: args.calls,
                seed: seed(args.bounds.seed),
                progress,
            };
            run_ingest(&target, &options)
                .await
                .map(|r| (r.is_ok(), r.to_string(), json_line(&r)))
        }
        Mode::Fanout(args) => {
            let options = FanoutOptions {
                subscribers: args.subscribers,
                rate: args.rate,
                batch: args.batch,
                duration: args.bounds.duration,
                max_events: args.bounds.events,
                drain_timeout: args.drain_timeout,
                seed: seed(args.bounds.seed),
                progress,
                ..FanoutOptions::default()
            };
            run_fanout(&target, &options)
                .await
                .map(|r| (r.is_ok(), r.to_string(), json_line(&r)))
        }
    };
    // Stop a spawned gateway whatever happened, then report.
    let stopped = target.shutdown().await;
    let (ok, summary, json) = outcome?;
    println!("{summary}");
    if cli.json {
        println!("{json}");
    }
    stopped?;
    Ok(ok)
}

/// The given seed, or one from the clock so a rerun against the same gateway uses new ids.
fn seed(given: Option<u64>) -> u64 {
    given.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

fn json_line(report: &impl Serialize) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
