//! `voicetk-bench`: voicetk, nats-server and a raw writer under the same workload, in one
//! run, each server pinned to one CPU and the harness to the other.
//!
//! ```text
//! voicetk-bench [--scenarios fanout-small,...] [--peers voicetk,nats,...] [--json FILE] [--smoke]
//! voicetk-bench raw-writer          # the raw writer peer (started by the harness itself)
//! ```
//!
//! Exit status: 0 when every peer ran every scenario, 1 when a peer could not (see the
//! notes in the table), 2 on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use voicetk_bench::compare::{self, Context, PeerKind, Programs, Scale, ScenarioKind};

/// voicetk against nats-server and the machine's limit, side by side (loopback only).
#[derive(Debug, Parser)]
#[command(name = "voicetk-bench", version)]
struct Cli {
    /// Scenarios to run, comma-separated: fanout-small, fanout-large, per-call, ingest,
    /// reconnect, stalled. Default: all.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Peers, comma-separated: voicetk, voicetk-memory, nats, raw. Default: all.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Also write the whole report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// A seconds-long run with a handful of subscribers: checks the harness works.
    #[arg(long)]
    smoke: bool,
    /// Seconds each rate step publishes (default 5; 0.5 with --smoke).
    #[arg(long)]
    step: Option<f64>,
    /// CPU the servers are pinned to; the harness takes another. `none` pins nothing.
    #[arg(long, default_value = "0")]
    server_cpu: String,
    /// The voicetk binary (default: next to this one, then the PATH).
    #[arg(long, value_name = "PATH")]
    voicetk: Option<PathBuf>,
    /// The nats-server binary (default: on the PATH, else /usr/sbin/nats-server).
    #[arg(long, value_name = "PATH")]
    nats_server: Option<PathBuf>,
    /// Publishing lanes (ordered HTTP connections) for voicetk.
    #[arg(long, default_value_t = 4)]
    lanes: u32,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the raw writer peer on 127.0.0.1 (the harness starts it; prints its ports).
    RawWriter,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::RawWriter) = cli.command {
        return raw_writer();
    }
    match setup(&cli) {
        Ok((cx, scenarios, peers)) => run(&cli, &cx, &scenarios, &peers),
        Err(e) => {
            eprintln!("voicetk-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn setup(cli: &Cli) -> Result<(Context, Vec<ScenarioKind>, Vec<PeerKind>), compare::CompareError> {
    let scenarios = if cli.scenarios.is_empty() {
        ScenarioKind::ALL.to_vec()
    } else {
        cli.scenarios
            .iter()
            .map(|s| ScenarioKind::parse(s))
            .collect::<Result<_, _>>()?
    };
    let peers = if cli.peers.is_empty() {
        PeerKind::ALL.to_vec()
    } else {
        cli.peers
            .iter()
            .map(|s| PeerKind::parse(s))
            .collect::<Result<_, _>>()?
    };
    let mut scale = if cli.smoke {
        Scale::smoke()
    } else {
        Scale::default()
    };
    if let Some(step) = cli.step {
        if !(step > 0.0 && step <= 600.0) {
            return Err(compare::CompareError::Usage(format!(
                "--step {step}: expected seconds between 0 and 600"
            )));
        }
        scale.step_s = step;
    }
    let server_cpu = match cli.server_cpu.as_str() {
        "none" => None,
        c => Some(c.parse::<usize>().map_err(|_| {
            compare::CompareError::Usage(format!(
                "--server-cpu {c:?}: expected a CPU number or none"
            ))
        })?),
    };
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if let Some(cpu) = server_cpu {
        if cpu >= cpus {
            return Err(compare::CompareError::Usage(format!(
                "--server-cpu {cpu}: this machine has CPUs 0 to {}",
                cpus - 1
            )));
        }
        if cpus > 1 {
            // The harness takes the next CPU, so servers and harness never share one.
            compare::proc::pin_self((cpu + 1) % cpus)?;
        }
    }
    let mut programs = Programs::find();
    if let Some(v) = &cli.voicetk {
        programs.voicetk = v.clone();
    }
    if let Some(n) = &cli.nats_server {
        programs.nats_server = n.clone();
    }
    Ok((
        Context {
            programs,
            server_cpu,
            scale,
            lanes: cli.lanes.max(1),
            seed: cli.seed,
            progress: !cli.quiet,
        },
        scenarios,
        peers,
    ))
}

fn run(cli: &Cli, cx: &Context, scenarios: &[ScenarioKind], peers: &[PeerKind]) -> ExitCode {
    // One thread: the harness's whole budget is the one CPU it is pinned to.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("voicetk-bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(compare::run(cx, scenarios, peers));
    println!("{report}");
    if let Some(path) = &cli.json {
        let json = match serde_json::to_string_pretty(&report) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("voicetk-bench: encoding the report: {e}");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = std::fs::write(path, json) {
            eprintln!("voicetk-bench: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    let failed = report
        .scenarios
        .iter()
        .flat_map(|s| s.peers.iter())
        .any(|p| {
            p.note
                .as_deref()
                .is_some_and(|n| n.starts_with("could not run"))
        });
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn raw_writer() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("voicetk-bench raw-writer: {e}");
            return ExitCode::from(2);
        }
    };
    let result: Result<(), compare::CompareError> = runtime.block_on(async {
        let ws = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(compare::CompareError::io("binding the WebSocket listener"))?;
        let publish = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(compare::CompareError::io("binding the publish listener"))?;
        let a = ws
            .local_addr()
            .map_err(compare::CompareError::io("local address"))?;
        let b = publish
            .local_addr()
            .map_err(compare::CompareError::io("local address"))?;
        println!("raw-writer ws={a} publish={b}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        compare::raw::run_writer(ws, publish).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voicetk-bench raw-writer: {e}");
            ExitCode::from(1)
        }
    }
}
