//! The `voicetk` command line. Parses flags and config, sets up logging and signals, and
//! calls into the library.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use voicetk::client::Client;
use voicetk::validate::{ValidateOptions, validate};
use voicetk_events::TelephonyKind;
use voicetk_server::Server;
use voicetk_server::config::Config;
use voicetk_sources::Source;

/// voicetk: an open telephony event gateway speaking the Salesforce Voice Toolkit event model.
#[derive(Debug, Parser)]
#[command(name = "voicetk", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The demo: the gateway on the embedded store, fed by the simulator, console at http://ADDR/.
    Demo(DemoArgs),
    /// Simulate calls: print them as NDJSON, or send them to a gateway in real time.
    Simulate(SimulateArgs),
    /// Run the gateway: durable log, HTTP/WebSocket/SSE API, actions, sources.
    Serve(ServeArgs),
    /// Subscribe to a running gateway and print events as NDJSON (resumes after reconnects).
    Tail(TailArgs),
    /// Show the active calls of a running gateway, or one call's state and history.
    Calls(CallsArgs),
    /// Check telephony event payloads against the catalogue (and, with --sequence, the call model).
    ///
    /// Reads one JSON payload, a JSON array, or NDJSON. Prints `ok <TYPE> <callId>` or
    /// `error <n>: <json path>: <message>` per payload. Exit 0 all valid, 1 any invalid,
    /// 2 usage or I/O error.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// A voicetk.toml with every setting; the flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]. Beyond loopback, auth tokens are required.
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// Folder of the embedded store [default: the platform data directory's voicetk folder].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Where the log lives: sqlite:PATH, nats://HOST:PORT, or memory: (RAM only, NOT durable:
    /// events are lost on exit; for benchmarks and tests).
    #[arg(long, value_name = "STORE")]
    store: Option<String>,
    /// Which telephony's catalogue applies: partner or native [default: partner].
    #[arg(long, value_name = "KIND")]
    telephony: Option<TelephonyKind>,
    /// Accept events that break the call model, marked with "warnings".
    #[arg(long)]
    lenient: bool,
    /// AUDIO_STATS aggregation interval, e.g. 30s [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    audio_stats_interval: Option<Duration>,
    /// An event source to start; may repeat: simulator[:KEY=VALUE,..], baresip:HOST:PORT, scv,
    /// amazon-connect[:agent=id|arn], twilio[:auth_token_file=PATH,url=URL] (docs/sources/).
    #[arg(long = "source", value_name = "SRC")]
    sources: Vec<String>,
    /// A web origin whose pages may call the API (CORS), e.g. https://acme.lightning.force.com;
    /// may repeat; `*` allows any.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Folder of the demo's store [default: the platform data directory's voicetk-demo folder].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// How much faster than real time the simulated calls run.
    #[arg(long, value_name = "FACTOR", default_value_t = 4.0)]
    speed: f64,
    /// New calls per second, on average.
    #[arg(long, value_name = "R", default_value_t = 0.25)]
    rate: f64,
}

#[derive(Debug, Args)]
struct SimulateArgs {
    /// A built-in scenario (see --list), a scenario .toml file, or a recorded .ndjson/.jsonl
    /// event stream to replay [default: mixed].
    #[arg(value_name = "SCENARIO")]
    scenario: Option<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Send the events to this gateway in real time instead of printing them.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Bearer token for --server (or set VOICETK_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "VOICETK_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// How many calls [default: 10 when printing; endless with --server].
    #[arg(long, value_name = "N")]
    calls: Option<u64>,
    /// New calls per second, on average.
    #[arg(long, value_name = "R", default_value_t = 0.5)]
    rate: f64,
    /// Seed of every random choice: the same seed gives the same calls [default: 0 when
    /// printing, the clock with --server].
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Agents the calls go to, comma-separated.
    #[arg(
        long,
        value_name = "A,..",
        value_delimiter = ',',
        default_value = "agent-1"
    )]
    agents: Vec<String>,
    /// Which telephony to imitate: partner or native.
    #[arg(long, value_name = "KIND", default_value = "partner")]
    telephony: TelephonyKind,
    /// With --server: how much faster than real time to run.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    speed: f64,
    /// Replaying a recording: suffix its call and event ids with `~RUN` (RUN = the seed, or the
    /// clock) so it opens new calls in a gateway that already holds the recorded ones.
    #[arg(long)]
    fresh_ids: bool,
}

#[derive(Debug, Args)]
struct ServerArgs {
    /// The gateway's URL.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        env = "VOICETK_SERVER"
    )]
    server: String,
    /// Bearer token (or set VOICETK_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "VOICETK_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct TailArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Only these types (comma-separated, Aura or LWC names).
    #[arg(long, value_name = "T,..", value_delimiter = ',')]
    types: Vec<String>,
    /// Only this call.
    #[arg(long = "call", value_name = "ID")]
    call: Option<String>,
    /// Resume after this seq (without it, the active calls are replayed first).
    #[arg(long, value_name = "SEQ")]
    after: Option<u64>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

#[derive(Debug, Args)]
struct CallsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Include ended calls still tracked.
    #[arg(long)]
    all: bool,
    /// One call: its state and its events.
    #[arg(value_name = "CALL_ID")]
    call_id: Option<String>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Which telephony's catalogue applies: `partner` (all 15 events) or `native`.
    #[arg(long, default_value = "partner", value_name = "KIND")]
    telephony: TelephonyKind,
    /// Also run the call engine over the stream, in order, and report refused transitions.
    #[arg(long)]
    sequence: bool,
    /// With --sequence: accept invalid transitions and print warnings instead of errors.
    #[arg(long, requires = "sequence")]
    lenient: bool,
    /// The file to read; `-` (the default) reads standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => run_validate(args),
        Command::Demo(args) => with_runtime(demo(args)),
        Command::Simulate(args) => simulate(args),
        Command::Serve(args) => with_runtime(serve(args)),
        Command::Tail(args) => with_runtime(tail(args)),
        Command::Calls(args) => with_runtime(calls(args)),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .try_init();
}

fn with_runtime(fut: impl Future<Output = Result<(), String>>) -> ExitCode {
    init_tracing();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("voicetk: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("voicetk: {message}");
            ExitCode::from(1)
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn serve_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(a) = args.addr {
        config.addr = a;
    }
    if let Some(d) = &args.data {
        config.data = Some(d.clone());
    }
    if let Some(s) = &args.store {
        config.store = Some(s.clone());
    }
    if let Some(t) = args.telephony {
        config.telephony = t;
    }
    if args.lenient {
        config.lenient = true;
    }
    if let Some(i) = args.audio_stats_interval {
        config.audio_stats_interval = i;
    }
    if !args.sources.is_empty() {
        config.sources = args.sources.clone();
    }
    if !args.cors_origins.is_empty() {
        config.cors_origins = args.cors_origins.clone();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn build_sources(config: &Config) -> Result<Vec<Arc<dyn Source>>, String> {
    let mut sources: Vec<Arc<dyn Source>> = Vec::new();
    for spec in &config.sources {
        match voicetk::source_spec::build(spec, config) {
            Ok(s) => sources.push(s),
            Err(e) => return Err(format!("--source {spec}: {e}")),
        }
    }
    Ok(sources)
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let config = serve_config(&args)?;
    let sources = build_sources(&config)?;
    let addr = config.addr;
    let server = Server::open(config, sources)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    // The one line scripts wait for; everything else goes to the log.
    println!("voicetk listening on http://{bound}");
    let _ = io::stdout().flush();
    server
        .run(listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let data = match args.data {
        Some(d) => d,
        None => {
            voicetk_server::config::platform_data_dir("voicetk-demo").map_err(|e| e.to_string())?
        }
    };
    let config = Config {
        addr: args.addr,
        data: Some(data.clone()),
        sources: vec![format!(
            "simulator:rate={},agents=ana|ben|chloe,speed={}",
            args.rate, args.speed
        )],
        ..Config::default()
    };
    config.validate().map_err(|e| e.to_string())?;
    let sources = build_sources(&config)?;
    let server = Server::open(config, sources)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e} (try --addr 127.0.0.1:0)",
                args.addr
            )
        })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("voicetk listening on http://{bound}");
    println!(
        "voicetk demo: open http://{bound}/ for the console; data in {}; Ctrl-C stops",
        data.display()
    );
    println!(
        "  try: voicetk tail --server http://{bound}   |   voicetk calls --server http://{bound}"
    );
    let _ = io::stdout().flush();
    server
        .run(listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

fn simulate(args: SimulateArgs) -> ExitCode {
    use voicetk_sources::simulator::{Recording, SimulatorConfig, builtin_scenarios, generate};
    if args.list {
        for s in builtin_scenarios() {
            println!("{:<16} {}", s.name, s.description);
        }
        println!("\nAlso: a scenario .toml file, or a recorded .ndjson/.jsonl event stream.");
        return ExitCode::SUCCESS;
    }
    let printing = args.server.is_none();
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    if let Some(path) = args
        .scenario
        .as_deref()
        .filter(|s| Recording::is_recording_path(s))
    {
        let opts = voicetk_events::ParseOptions {
            telephony: args.telephony,
            ..Default::default()
        };
        let mut recording = match Recording::from_path(std::path::Path::new(path), opts) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("voicetk simulate: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        if args.fresh_ids {
            let run = args.seed.unwrap_or_else(clock);
            recording = recording.with_fresh_ids(&run.to_string());
        }
        return match args.server.clone() {
            None => print_lines(recording.events().iter().map(|e| e.envelope.to_json())),
            Some(url) => {
                with_runtime(
                    async move { replay_to(&recording, &url, args.token, args.speed).await },
                )
            }
        };
    }
    let config = SimulatorConfig {
        seed: args
            .seed
            .unwrap_or_else(|| if printing { 0 } else { clock() }),
        calls: args.calls.or(printing.then_some(10)),
        rate: args.rate,
        agents: args.agents.clone(),
        telephony: args.telephony,
        scenario: args.scenario.clone().unwrap_or_else(|| "mixed".into()),
        time_scale: args.speed,
        ..SimulatorConfig::default()
    };
    match &args.server {
        None => match generate(config) {
            Ok(events) => print_lines(events.map(|e| e.to_json())),
            Err(e) => {
                eprintln!("voicetk simulate: {e}");
                ExitCode::from(2)
            }
        },
        Some(url) => {
            let url = url.clone();
            with_runtime(async move { simulate_live(config, &url, args.token).await })
        }
    }
}

/// Prints one line per item to stdout; a closed stdout ends quietly.
fn print_lines(lines: impl Iterator<Item = String>) -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return ExitCode::SUCCESS; // stdout closed
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// A progress bar on stderr (drawn only when stderr is a terminal).
fn progress_bar(total: Option<u64>, what: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = match total {
        Some(_) => {
            format!("{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {what} {{msg}}")
        }
        None => format!("{{spinner}} [{{elapsed_precise}}] {{pos}} {what} {{msg}}"),
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

async fn replay_to(
    recording: &voicetk_sources::simulator::Recording,
    url: &str,
    token: Option<String>,
    speed: f64,
) -> Result<(), String> {
    use voicetk::replay::{CountingSink, replay};
    let client = Client::new(url, token).map_err(|e| e.to_string())?;
    client.calls(false).await.map_err(|e| e.to_string())?;
    let total = recording.events().len() as u64;
    let sink = CountingSink::new(Arc::new(client));
    let bar = progress_bar(Some(total), "events");
    let ticker = async {
        loop {
            bar.set_position(sink.events());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let outcome = tokio::select! {
        r = replay(recording, &sink, speed) => r,
        () = ticker => unreachable!("the ticker never ends"),
        () = shutdown_signal() => {
            bar.abandon();
            return Err(format!("interrupted after {} of {total} events", sink.events()));
        }
    };
    bar.finish_and_clear();
    match outcome {
        Ok(sent) => {
            eprintln!("voicetk simulate: replayed {sent} events to {url}");
            Ok(())
        }
        Err((line, e)) => Err(format!(
            "the gateway refused event {line} of the recording ({} sent before it): {e}",
            sink.events()
        )),
    }
}

async fn simulate_live(
    config: voicetk_sources::simulator::SimulatorConfig,
    url: &str,
    token: Option<String>,
) -> Result<(), String> {
    use voicetk::replay::CountingSink;
    use voicetk_sources::simulator::Simulator;
    let client = Client::new(url, token).map_err(|e| e.to_string())?;
    // Fail early and clearly if nothing is listening.
    client.calls(false).await.map_err(|e| e.to_string())?;
    let total = config.calls;
    let simulator = Arc::new(Simulator::new(config).map_err(|e| e.to_string())?);
    let sink = Arc::new(CountingSink::new(Arc::new(client)));
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(
        simulator
            .clone()
            .run(sink.clone(), Box::pin(stop.clone().cancelled_owned())),
    );
    eprintln!("voicetk simulate: sending calls to {url}; Ctrl-C stops");
    let bar = progress_bar(total, "calls ended");
    let visible = !bar.is_hidden();
    let progress = async {
        let mut last_line = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            bar.set_position(sink.calls_ended());
            let msg = format!(
                "· {} under way · {} events sent · {} refused",
                simulator.active_calls(),
                sink.events(),
                sink.refused()
            );
            // Without a terminal, a plain line every 5 s instead of the bar.
            if !visible && last_line.elapsed() >= Duration::from_secs(5) {
                eprintln!("voicetk simulate: {} calls ended {msg}", sink.calls_ended());
                last_line = tokio::time::Instant::now();
            }
            bar.set_message(msg);
        }
    };
    tokio::select! {
        () = simulator.finished(), if total.is_some() => {}
        () = shutdown_signal() => {}
        () = progress => {}
    }
    bar.finish_and_clear();
    stop.cancel();
    let _ = run.await;
    eprintln!(
        "voicetk simulate: {} calls ended, {} events sent, {} refused",
        sink.calls_ended(),
        sink.events(),
        sink.refused()
    );
    Ok(())
}

async fn tail(args: TailArgs) -> Result<(), String> {
    let client = Client::new(&args.server.server, args.server.token).map_err(|e| e.to_string())?;
    let stdout = io::stdout();
    let mut seen = 0u64;
    let limit = args.count;
    let work = client.tail(&args.types, args.call.as_deref(), args.after, |_, raw| {
        let mut out = stdout.lock();
        if writeln!(out, "{raw}").and_then(|()| out.flush()).is_err() {
            return false; // stdout closed (e.g. piped into `head`)
        }
        seen += 1;
        limit.is_none_or(|n| seen < n)
    });
    tokio::select! {
        r = work => r.map_err(|e| e.to_string()),
        () = shutdown_signal() => Ok(()),
    }
}

async fn calls(args: CallsArgs) -> Result<(), String> {
    let client = Client::new(&args.server.server, args.server.token).map_err(|e| e.to_string())?;
    let value = match &args.call_id {
        Some(id) => client.call(id).await,
        None => client.calls(args.all).await,
    }
    .map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn run_validate(args: ValidateArgs) -> ExitCode {
    let input = match read_input(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("voicetk validate: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let opts = ValidateOptions {
        telephony: args.telephony,
        sequence: args.sequence,
        lenient: args.lenient,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let summary = match validate(&input, &opts, &mut out).and_then(|s| out.flush().map(|()| s)) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("voicetk validate: cannot write the report: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "{} payload(s): {} ok, {} invalid",
        summary.ok + summary.invalid,
        summary.ok,
        summary.invalid
    );
    ExitCode::from(u8::try_from(summary.exit_code()).unwrap_or(1))
}

fn read_input(file: &PathBuf) -> io::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(file)
    }
}
