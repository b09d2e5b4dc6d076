//! nats-server as a peer: started from the Debian package, WebSocket subscribers, publishers.
//!
//! - [`NatsServer`]: a real `nats-server` (v2.9 from Debian) in its own temporary directory,
//!   optionally pinned to one CPU with `taskset`, killed on [`shutdown`](NatsServer::shutdown)
//!   or drop.
//! - [`NatsWsSubscriber`]: the NATS client protocol spoken over nats-server's WebSocket
//!   listener, the same transport voicetk's subscribers use. Lean: one task, one buffer, payloads
//!   handed out without copying when a WebSocket frame holds whole messages.
//! - [`ProtocolParser`]: the byte-stream parser behind it (server → client operations).
//! - [`NatsPublisher`]: core NATS publishing over TCP (async-nats).
//! - [`jetstream_ingest`]: durable ingest (JetStream, file storage, windowed acks), the peer of
//!   voicetk's acknowledged ingest.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, context, context::PublishAckFuture, stream};
use async_nats::{Subject, ToSubject};
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::CompareError;
use super::proc::{self, find_program};
use crate::{LatencyRecorder, LatencySummary};

/// The peer's name in errors.
const PEER: &str = "nats-server";

/// How to install the server when it is missing.
const NATS_HINT: &str = "apt-get install nats-server";

/// How long [`NatsServer::start`] waits for both listeners.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the server's log an error quotes.
const LOG_TAIL_BYTES: u64 = 2_000;

/// What [`NatsServer::start`] starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsServerOptions {
    /// The `nats-server` binary: a path, or a name looked up in `PATH`. Default:
    /// [`default_program`].
    pub program: PathBuf,
    /// Pin the server to this CPU (`taskset -c N`). Default `None`: not pinned.
    pub cpu: Option<usize>,
    /// Enable JetStream (file storage in the server's temporary directory). Default `false`.
    pub jetstream: bool,
}

impl Default for NatsServerOptions {
    fn default() -> Self {
        NatsServerOptions {
            program: default_program(),
            cpu: None,
            jetstream: false,
        }
    }
}

/// `nats-server` on the `PATH`, else `/usr/sbin/nats-server` (where Debian installs it, which
/// a user's `PATH` may lack), else the bare name.
pub fn default_program() -> PathBuf {
    let name = Path::new("nats-server");
    find_program(name)
        .or_else(|| {
            let sbin = PathBuf::from("/usr/sbin/nats-server");
            sbin.is_file().then_some(sbin)
        })
        .unwrap_or_else(|| name.to_owned())
}

/// A running `nats-server`, killed by [`shutdown`](Self::shutdown) or on drop (its temporary
/// directory, configuration, log and JetStream data are then deleted).
///
/// The configuration written is minimal on purpose, so the comparison is against nats-server
/// as shipped:
/// - client listener on `127.0.0.1`, WebSocket listener on `127.0.0.1` (`no_tls: true`,
///   `compression: false`), both on ports the server picks itself (`-1`) and reports in its
///   ports file, so there is no race for a free port;
/// - with [`NatsServerOptions::jetstream`], JetStream with `store_dir` in the temporary
///   directory (file storage, default limits);
/// - everything else at nats-server 2.9's defaults, checked on 2.9.10's `/varz`:
///   `max_payload` 1 MiB, `max_pending` 64 MiB (a connection whose outbound buffer grows past
///   this is closed as a slow consumer), `write_deadline` 10 s (a write blocked longer closes
///   the connection too), `ping_interval` 2 min with `ping_max` 2, `max_control_line` 4 KiB,
///   `max_connections` 64 Ki.
#[derive(Debug)]
pub struct NatsServer {
    /// The server process (the `taskset` child execs into it, so this is the server itself).
    child: Child,
    /// The server's process id.
    pid: u32,
    /// The client listener.
    nats_addr: SocketAddr,
    /// The WebSocket listener.
    ws_addr: SocketAddr,
    /// Configuration, log, ports file and JetStream data; deleted on drop, after the kill.
    dir: tempfile::TempDir,
}

/// The ports file nats-server writes into `ports_file_dir` once it listens.
#[derive(Debug, serde::Deserialize)]
struct PortsFile {
    /// `nats://HOST:PORT` of the client listener.
    #[serde(default)]
    nats: Vec<String>,
    /// `ws://HOST:PORT` of the WebSocket listener.
    #[serde(default)]
    websocket: Vec<String>,
}

impl NatsServer {
    /// Writes a configuration into a new temporary directory, starts the server (through
    /// `taskset -c N` when [`cpu`](NatsServerOptions::cpu) is set) and waits, up to 10 s, until
    /// both its client and WebSocket listeners accept connections.
    ///
    /// # Errors
    /// - [`CompareError::Missing`] when the program (or `taskset`) is not installed;
    /// - [`CompareError::Spawn`] when the server exits or does not listen within 10 s, with the
    ///   tail of its log;
    /// - [`CompareError::Io`] when the temporary directory or configuration cannot be written.
    pub async fn start(opts: &NatsServerOptions) -> Result<NatsServer, CompareError> {
        let program = find_program(&opts.program).ok_or_else(|| CompareError::Missing {
            program: opts.program.display().to_string(),
            hint: NATS_HINT.into(),
        })?;
        let dir = tempfile::Builder::new()
            .prefix("voicetk-nats-")
            .tempdir()
            .map_err(CompareError::io(
                "creating nats-server's temporary directory",
            ))?;
        let config = dir.path().join("nats-server.conf");
        std::fs::write(&config, config_text(dir.path(), opts.jetstream)?)
            .map_err(CompareError::io(format!("writing {}", config.display())))?;
        let log_path = dir.path().join("nats-server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(CompareError::io(format!("creating {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(CompareError::io(format!("opening {}", log_path.display())))?;

        if opts.cpu.is_some() && find_program(Path::new("taskset")).is_none() {
            return Err(CompareError::Missing {
                program: "taskset".into(),
                hint: "apt-get install util-linux".into(),
            });
        }
        let mut command = proc::pinned(&program, opts.cpu);
        command
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => CompareError::Missing {
                program: program.display().to_string(),
                hint: NATS_HINT.into(),
            },
            _ => CompareError::Io {
                what: format!("starting {}", program.display()),
                source,
            },
        })?;
        let Some(pid) = child.id() else {
            return Err(spawn_error(
                "the process ended as soon as it started",
                &log_path,
            ));
        };

        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let (nats_addr, ws_addr) = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(CompareError::io("checking on nats-server"))?
            {
                return Err(spawn_error(&exited(status), &log_path));
            }
            if let Some(addrs) = listening(dir.path()).await {
                break addrs;
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.start_kill();
                let _ = child.wait().await;
                return Err(spawn_error(
                    &format!(
                        "not accepting on its client and WebSocket ports within {} s",
                        READY_TIMEOUT.as_secs()
                    ),
                    &log_path,
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Ok(NatsServer {
            child,
            pid,
            nats_addr,
            ws_addr,
            dir,
        })
    }

    /// The server's process id (also when started through `taskset`, which execs into it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `ws://127.0.0.1:PORT`: the WebSocket listener, for [`NatsWsSubscriber::connect`].
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// `nats://127.0.0.1:PORT`: the client listener, for [`NatsPublisher::connect`] and
    /// [`jetstream_ingest`].
    pub fn nats_url(&self) -> String {
        format!("nats://{}", self.nats_addr)
    }

    /// The server's temporary directory (configuration, `nats-server.log`, JetStream data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL: its data is temporary) and waits for it to exit.
    pub async fn shutdown(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // `kill_on_drop` would do it too; be explicit, before the directory goes.
        let _ = self.child.start_kill();
    }
}

/// The configuration file's text. Paths are written as JSON strings, which nats-server's
/// configuration syntax accepts.
fn config_text(dir: &Path, jetstream: bool) -> Result<String, CompareError> {
    let quoted = |path: &Path| {
        path.to_str()
            .map(|s| serde_json::Value::from(s).to_string())
            .ok_or_else(|| {
                CompareError::Usage(format!(
                    "nats-server's temporary directory is not UTF-8: {}",
                    path.display()
                ))
            })
    };
    let mut text = format!(
        "# Written by voicetk-bench.\n\
         listen: \"127.0.0.1:-1\"\n\
         ports_file_dir: {}\n\
         websocket {{\n  host: \"127.0.0.1\"\n  port: -1\n  no_tls: true\n  compression: false\n}}\n",
        quoted(dir)?
    );
    if jetstream {
        text.push_str(&format!(
            "jetstream {{\n  store_dir: {}\n}}\n",
            quoted(&dir.join("jetstream"))?
        ));
    }
    Ok(text)
}

/// Both listeners' addresses, once the ports file is written and both accept a connection.
async fn listening(dir: &Path) -> Option<(SocketAddr, SocketAddr)> {
    let mut entries = tokio::fs::read_dir(dir).await.ok()?;
    let mut ports_file = None;
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.path().extension().is_some_and(|ext| ext == "ports") {
            ports_file = Some(entry.path());
            break;
        }
    }
    let text = tokio::fs::read(ports_file?).await.ok()?;
    // Not yet complete when it fails to parse: try again later.
    let ports: PortsFile = serde_json::from_slice(&text).ok()?;
    let nats = url_addr(ports.nats.first()?, "nats://")?;
    let ws = url_addr(ports.websocket.first()?, "ws://")?;
    TcpStream::connect(nats).await.ok()?;
    TcpStream::connect(ws).await.ok()?;
    Some((nats, ws))
}

/// `127.0.0.1:4222` out of `nats://127.0.0.1:4222`.
fn url_addr(url: &str, scheme: &str) -> Option<SocketAddr> {
    url.strip_prefix(scheme)?.trim_end_matches('/').parse().ok()
}

/// "exited with …" for a status.
fn exited(status: ExitStatus) -> String {
    format!("exited ({status}) before listening")
}

/// A [`CompareError::Spawn`] quoting the end of the server's log.
fn spawn_error(what: &str, log: &Path) -> CompareError {
    CompareError::Spawn {
        peer: PEER.into(),
        message: format!("{what}; log tail:\n{}", log_tail(log)),
    }
}

/// The last [`LOG_TAIL_BYTES`] of a file, or why it could not be read.
fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let skip = bytes.len().saturating_sub(LOG_TAIL_BYTES as usize);
            String::from_utf8_lossy(&bytes[skip..])
                .trim_end()
                .to_owned()
        }
        Err(e) => format!("(unreadable: {e})"),
    }
}

// ---------------------------------------------------------------------------------------------
// The client protocol parser.
// ---------------------------------------------------------------------------------------------

/// The longest control line accepted (nats-server's own `max_control_line` default).
const MAX_CONTROL_LINE: usize = 4_096;

/// The largest payload accepted: nats-server's hard limit (`MAX_PAYLOAD_MAX_SIZE`), 64 MiB.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// One operation a server sends to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {json}`: the JSON.
    Info(Bytes),
    /// `MSG <subject> <sid> [reply-to] <#bytes>`: the subscription id and the payload.
    Msg {
        /// The subscription id it was delivered for.
        sid: u64,
        /// The payload, sharing the received buffer.
        payload: Bytes,
    },
    /// `PING`: to be answered with `PONG`.
    Ping,
    /// `PONG`: the answer to our `PING`.
    Pong,
    /// `+OK` (verbose mode only).
    Ok,
    /// `-ERR '<message>'`: the message, without quotes.
    Err(String),
}

/// Why the server's byte stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// No line end within the control-line limit.
    #[error("control line longer than {MAX_CONTROL_LINE} bytes")]
    LineTooLong,
    /// An operation this client does not know.
    #[error("unknown operation: {0:?}")]
    UnknownOp(String),
    /// `HMSG`: headers were not negotiated (`"headers": false`), so the server must not send it.
    #[error("HMSG received, but headers were not negotiated")]
    Headers,
    /// A `MSG` line with the wrong arguments.
    #[error("malformed MSG line: {0:?}")]
    BadMsg(String),
    /// A payload not followed by `\r\n`.
    #[error("payload of {0} bytes not followed by CRLF")]
    MissingCrlf(usize),
    /// A payload larger than nats-server ever sends.
    #[error("payload of {0} bytes exceeds {MAX_PAYLOAD}")]
    TooLarge(usize),
    /// The connection ended in the middle of an operation.
    #[error("connection ended inside an operation ({0} bytes pending)")]
    Truncated(usize),
}

/// Parses the server → client NATS protocol from a byte stream cut anywhere: WebSocket frames
/// may hold several operations or part of one.
///
/// Payloads are slices of the received buffers: when a pushed chunk holds whole operations,
/// nothing is copied; only an operation split across chunks is copied, once, into an internal
/// buffer (from which it is then split off without a further copy).
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use voicetk_bench::compare::nats::{ProtocolParser, ServerOp};
///
/// let mut parser = ProtocolParser::new();
/// parser.push(Bytes::from_static(b"PING\r\nMSG calls.1 1 5\r\nhel"));
/// assert_eq!(parser.next_op()?, Some(ServerOp::Ping));
/// assert_eq!(parser.next_op()?, None); // the MSG is incomplete
/// parser.push(Bytes::from_static(b"lo\r\n"));
/// assert_eq!(
///     parser.next_op()?,
///     Some(ServerOp::Msg { sid: 1, payload: Bytes::from_static(b"hello") })
/// );
/// # Ok::<(), voicetk_bench::compare::nats::ProtocolError>(())
/// ```
#[derive(Debug, Default)]
pub struct ProtocolParser {
    /// The start of an operation that did not fit in its chunk, plus what arrived after it.
    /// When non-empty, `chunk` is empty.
    partial: BytesMut,
    /// The rest of the last pushed chunk, parsed in place.
    chunk: Bytes,
}

/// Where one complete operation lies in a buffer.
struct Parsed {
    /// Its full length, payload and trailing CRLF included.
    len: usize,
    /// What it is.
    kind: ParsedKind,
}

/// An operation with ranges into its buffer.
enum ParsedKind {
    Info(Range<usize>),
    Msg { sid: u64, payload: Range<usize> },
    Ping,
    Pong,
    Ok,
    Err(Range<usize>),
}

impl Parsed {
    /// The operation, slicing `frame` (which starts where the operation starts).
    fn into_op(self, frame: &Bytes) -> ServerOp {
        match self.kind {
            ParsedKind::Info(r) => ServerOp::Info(frame.slice(r)),
            ParsedKind::Msg { sid, payload } => ServerOp::Msg {
                sid,
                payload: frame.slice(payload),
            },
            ParsedKind::Ping => ServerOp::Ping,
            ParsedKind::Pong => ServerOp::Pong,
            ParsedKind::Ok => ServerOp::Ok,
            ParsedKind::Err(r) => {
                let text = String::from_utf8_lossy(&frame[r]);
                let text = text.trim();
                let text = text
                    .strip_prefix('\'')
                    .and_then(|t| t.strip_suffix('\''))
                    .unwrap_or(text);
                ServerOp::Err(text.to_owned())
            }
        }
    }
}

impl ProtocolParser {
    /// An empty parser.
    pub fn new() -> ProtocolParser {
        ProtocolParser::default()
    }

    /// Appends bytes received from the server.
    pub fn push(&mut self, data: Bytes) {
        if self.partial.is_empty() && self.chunk.is_empty() {
            self.chunk = data;
            return;
        }
        if !self.chunk.is_empty() {
            self.partial.extend_from_slice(&self.chunk);
            self.chunk = Bytes::new();
        }
        self.partial.extend_from_slice(&data);
    }

    /// The next complete operation, or `None` until more bytes are pushed.
    ///
    /// # Errors
    /// A [`ProtocolError`] for bytes that are not the server side of the NATS protocol; the
    /// parser is then unusable.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtocolError> {
        if !self.partial.is_empty() {
            return Ok(match parse_one(&self.partial)? {
                Some(parsed) => {
                    let frame = self.partial.split_to(parsed.len).freeze();
                    Some(parsed.into_op(&frame))
                }
                None => None,
            });
        }
        if self.chunk.is_empty() {
            return Ok(None);
        }
        match parse_one(&self.chunk)? {
            Some(parsed) => {
                let frame = self.chunk.split_to(parsed.len);
                Ok(Some(parsed.into_op(&frame)))
            }
            None => {
                self.partial.extend_from_slice(&self.chunk);
                self.chunk = Bytes::new();
                Ok(None)
            }
        }
    }

    /// How many received bytes are not yet returned as operations.
    pub fn pending(&self) -> usize {
        self.partial.len() + self.chunk.len()
    }
}

/// The first operation of `buf`, if complete.
fn parse_one(buf: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_CONTROL_LINE + 2)];
    let Some(nl) = memchr::memchr(b'\n', window) else {
        return if buf.len() > MAX_CONTROL_LINE + 1 {
            Err(ProtocolError::LineTooLong)
        } else {
            Ok(None)
        };
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = &buf[..line_end];
    let op_end = line
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(line.len());
    let op = &line[..op_end];
    // Where the arguments start, after the separators.
    let args_start = line[op_end..]
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .map_or(line.len(), |p| op_end + p);
    let control = |kind| Ok(Some(Parsed { len: nl + 1, kind }));

    if op.eq_ignore_ascii_case(b"MSG") {
        return parse_msg(buf, line, nl);
    }
    if op.eq_ignore_ascii_case(b"PING") && args_start == line.len() {
        return control(ParsedKind::Ping);
    }
    if op.eq_ignore_ascii_case(b"PONG") && args_start == line.len() {
        return control(ParsedKind::Pong);
    }
    if op.eq_ignore_ascii_case(b"+OK") && args_start == line.len() {
        return control(ParsedKind::Ok);
    }
    if op.eq_ignore_ascii_case(b"-ERR") {
        return control(ParsedKind::Err(args_start..line.len()));
    }
    if op.eq_ignore_ascii_case(b"INFO") {
        return control(ParsedKind::Info(args_start..line.len()));
    }
    if op.eq_ignore_ascii_case(b"HMSG") {
        return Err(ProtocolError::Headers);
    }
    Err(ProtocolError::UnknownOp(excerpt(line)))
}

/// `MSG <subject> <sid> [reply-to] <#bytes>\r\n<payload>\r\n`, the line ending at `nl`.
fn parse_msg(buf: &[u8], line: &[u8], nl: usize) -> Result<Option<Parsed>, ProtocolError> {
    let bad = || ProtocolError::BadMsg(excerpt(line));
    let mut args = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|a| !a.is_empty())
        .skip(1);
    let (Some(_subject), Some(sid), Some(third)) = (args.next(), args.next(), args.next()) else {
        return Err(bad());
    };
    let size = match (args.next(), args.next()) {
        (None, _) => third,
        (Some(size), None) => size,
        (Some(_), Some(_)) => return Err(bad()),
    };
    let sid = parse_decimal(sid).ok_or_else(bad)?;
    let size = parse_decimal(size).ok_or_else(bad)?;
    let size = usize::try_from(size).map_err(|_| ProtocolError::TooLarge(usize::MAX))?;
    if size > MAX_PAYLOAD {
        return Err(ProtocolError::TooLarge(size));
    }
    let start = nl + 1;
    let end = start + size;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtocolError::MissingCrlf(size));
    }
    Ok(Some(Parsed {
        len: end + 2,
        kind: ParsedKind::Msg {
            sid,
            payload: start..end,
        },
    }))
}

/// A non-empty run of ASCII digits as a number.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// The start of a line, for errors.
fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The WebSocket subscriber.
// ---------------------------------------------------------------------------------------------

/// The WebSocket connection type.
type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The subscription id used by [`NatsWsSubscriber`]: it has exactly one.
const SID: u64 = 1;

/// One NATS subscription over nats-server's WebSocket listener, spoken directly (no NATS client
/// library): the harness runs a thousand of these on one core, so each is one WebSocket, one
/// [`ProtocolParser`] and nothing else — no task, no channel, no per-message allocation when a
/// frame holds whole messages.
///
/// `CONNECT` says `verbose: false` (no `+OK`), `headers: false` (so the server never sends
/// `HMSG`) and `echo: true`. Server `PING`s are answered while reading.
#[derive(Debug)]
pub struct NatsWsSubscriber {
    /// The connection.
    ws: WsStream,
    /// Bytes received and not yet returned.
    parser: ProtocolParser,
    /// Payloads that arrived before the `PONG` that ended [`connect`](Self::connect).
    early: VecDeque<Bytes>,
    /// Set once the server closed the connection.
    closed: bool,
}

impl NatsWsSubscriber {
    /// Connects to `ws_url` (`ws://127.0.0.1:PORT`), reads the server's `INFO`, sends
    /// `CONNECT`, `SUB <subject> 1` and `PING` in one frame, and returns once the `PONG`
    /// arrived: the subscription is then live on the server.
    ///
    /// Not bounded in time: wrap it in `tokio::time::timeout`.
    ///
    /// # Errors
    /// [`CompareError::Usage`] for an empty subject or one with white space;
    /// [`CompareError::Io`] when the connection fails; [`CompareError::Protocol`] when the
    /// server refuses (`-ERR`, e.g. an invalid subject), closes, or breaks the protocol.
    pub async fn connect(ws_url: &str, subject: &str) -> Result<Self, CompareError> {
        if subject.is_empty() || subject.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(CompareError::Usage(format!(
                "subject: {subject:?} must be non-empty and without white space"
            )));
        }
        // The same client configuration for every peer.
        let config = super::peer::client_config();
        let (ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true)
            .await
            .map_err(|e| ws_error(&format!("connecting to {ws_url}"), e))?;
        let mut subscriber = NatsWsSubscriber {
            ws,
            parser: ProtocolParser::new(),
            early: VecDeque::new(),
            closed: false,
        };
        match subscriber.next_op().await? {
            Some(ServerOp::Info(_)) => {}
            Some(other) => {
                return Err(CompareError::protocol(
                    PEER,
                    format!("expected INFO first, got {other:?}"),
                ));
            }
            None => {
                return Err(CompareError::protocol(
                    PEER,
                    "closed the connection before INFO",
                ));
            }
        }
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\
             \"lang\":\"rust\",\"version\":\"voicetk-bench\",\"protocol\":1,\
             \"headers\":false,\"no_responders\":false,\"echo\":true}}\r\n\
             SUB {subject} {SID}\r\nPING\r\n"
        );
        subscriber.send(connect.into_bytes().into()).await?;
        loop {
            match subscriber.next_op().await? {
                Some(ServerOp::Pong) => return Ok(subscriber),
                Some(ServerOp::Msg { payload, .. }) => subscriber.early.push_back(payload),
                Some(ServerOp::Ping) => subscriber.pong().await?,
                Some(ServerOp::Err(message)) => {
                    return Err(CompareError::protocol(
                        PEER,
                        format!("subscribing to {subject}: -ERR {message}"),
                    ));
                }
                Some(ServerOp::Info(_) | ServerOp::Ok) => {}
                None => {
                    return Err(CompareError::protocol(
                        PEER,
                        format!("closed the connection while subscribing to {subject}"),
                    ));
                }
            }
        }
    }

    /// The next message's payload, or `None` once the server closed the connection. Server
    /// `PING`s met on the way are answered.
    ///
    /// # Errors
    /// [`CompareError::Protocol`] for `-ERR` or bytes that are not the NATS protocol, or a
    /// connection that ends inside a message; [`CompareError::Io`] when reading fails.
    pub async fn next_payload(&mut self) -> Result<Option<Bytes>, CompareError> {
        if let Some(payload) = self.early.pop_front() {
            return Ok(Some(payload));
        }
        loop {
            match self.next_op().await? {
                Some(ServerOp::Msg { payload, .. }) => return Ok(Some(payload)),
                Some(ServerOp::Ping) => self.pong().await?,
                Some(ServerOp::Err(message)) => {
                    return Err(CompareError::protocol(PEER, format!("-ERR {message}")));
                }
                Some(ServerOp::Info(_) | ServerOp::Pong | ServerOp::Ok) => {}
                None => return Ok(None),
            }
        }
    }

    /// Sends a WebSocket close frame and reads until the server's answer (at most 2 s).
    pub async fn close(mut self) {
        if self.closed {
            return;
        }
        let _ = self.ws.close(None).await;
        let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    }

    /// The next operation, reading frames as needed; `None` once the server closed.
    async fn next_op(&mut self) -> Result<Option<ServerOp>, CompareError> {
        loop {
            if let Some(op) = self.parser.next_op().map_err(parse_error)? {
                return Ok(Some(op));
            }
            if self.closed {
                return self.end();
            }
            match self.ws.next().await {
                Some(Ok(Message::Binary(data))) => self.parser.push(data),
                Some(Ok(Message::Text(text))) => self.parser.push(Bytes::from(text)),
                Some(Ok(Message::Close(_))) | None => {
                    self.closed = true;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                )) => self.closed = true,
                Some(Err(e)) => return Err(ws_error("reading from nats-server", e)),
            }
        }
    }

    /// `None` after a clean end; an error when it cut an operation short.
    fn end(&self) -> Result<Option<ServerOp>, CompareError> {
        match self.parser.pending() {
            0 => Ok(None),
            n => Err(parse_error(ProtocolError::Truncated(n))),
        }
    }

    /// Answers a server `PING`.
    async fn pong(&mut self) -> Result<(), CompareError> {
        self.send(Bytes::from_static(b"PONG\r\n")).await
    }

    /// Sends protocol bytes in one binary frame.
    async fn send(&mut self, data: Bytes) -> Result<(), CompareError> {
        self.ws
            .send(Message::Binary(data))
            .await
            .map_err(|e| ws_error("writing to nats-server", e))
    }
}

/// A WebSocket error: I/O ones as [`CompareError::Io`], the rest as protocol errors.
fn ws_error(what: &str, error: tungstenite::Error) -> CompareError {
    match error {
        tungstenite::Error::Io(source) => CompareError::Io {
            what: what.to_owned(),
            source,
        },
        other => CompareError::protocol(PEER, format!("{what}: {other}")),
    }
}

/// A parse error as a [`CompareError::Protocol`].
fn parse_error(error: ProtocolError) -> CompareError {
    CompareError::protocol(PEER, error.to_string())
}

// ---------------------------------------------------------------------------------------------
// Publishing.
// ---------------------------------------------------------------------------------------------

/// Core NATS publishing over TCP.
///
/// Built on the async-nats [`Client`](async_nats::Client) rather than raw TCP: the publisher is
/// not where the comparison's cost is (one publisher, many subscribers), and the client already
/// does what a correct publisher needs — it coalesces queued publishes into large socket
/// writes from its own connection task, answers server `PING`s while we only write, and
/// refuses payloads over the server's `max_payload` instead of getting disconnected.
///
/// [`flush`](Self::flush) writes what is queued to the socket; [`sync`](Self::sync) goes
/// further and returns once the server has *processed* every earlier publish.
#[derive(Debug)]
pub struct NatsPublisher {
    /// The connection.
    client: async_nats::Client,
    /// A subject only this publisher uses, for the flush barrier.
    barrier: Subject,
    /// Our subscription to `barrier`.
    barrier_sub: async_nats::Subscriber,
    /// The last barrier token sent.
    barrier_seq: u64,
}

impl NatsPublisher {
    /// Connects to `nats_url` (`nats://127.0.0.1:PORT`).
    ///
    /// # Errors
    /// [`CompareError::Protocol`] when the connection or the barrier subscription fails.
    pub async fn connect(nats_url: &str) -> Result<NatsPublisher, CompareError> {
        let client = async_nats::ConnectOptions::new()
            .name("voicetk-bench publisher")
            .connect(nats_url)
            .await
            .map_err(|e| CompareError::protocol(PEER, format!("connecting to {nats_url}: {e}")))?;
        let barrier = Subject::from(client.new_inbox());
        let barrier_sub = client
            .subscribe(barrier.clone())
            .await
            .map_err(|e| CompareError::protocol(PEER, format!("subscribing to {barrier}: {e}")))?;
        Ok(NatsPublisher {
            client,
            barrier,
            barrier_sub,
            barrier_seq: 0,
        })
    }

    /// Queues one message; it is written with others by the client's connection task. Pass a
    /// [`Subject`] (cheap to clone) rather than a `String`, which is copied on every call.
    ///
    /// # Errors
    /// [`CompareError::Protocol`] when the payload is over `max_payload` or the connection is
    /// gone.
    pub async fn publish(
        &self,
        subject: impl ToSubject,
        payload: Bytes,
    ) -> Result<(), CompareError> {
        self.client
            .publish(subject, payload)
            .await
            .map_err(|e| CompareError::protocol(PEER, format!("publishing: {e}")))
    }

    /// Returns once everything published so far is written to the socket (not necessarily
    /// read by the server yet).
    ///
    /// # Errors
    /// [`CompareError::Protocol`] when the connection is gone.
    pub async fn flush(&self) -> Result<(), CompareError> {
        self.client
            .flush()
            .await
            .map_err(|e| CompareError::protocol(PEER, format!("flushing: {e}")))
    }

    /// Returns once nats-server has processed every message published before: it publishes a
    /// token to a subject only this publisher subscribes to and waits for it to come back. A
    /// server handles one connection's messages in order, so by then every earlier message is
    /// in its subscribers' outbound buffers (not necessarily read by them yet).
    ///
    /// Not bounded in time: wrap it in `tokio::time::timeout`.
    ///
    /// # Errors
    /// [`CompareError::Protocol`] when the connection is gone.
    pub async fn sync(&mut self) -> Result<(), CompareError> {
        self.barrier_seq += 1;
        let token = Bytes::from(self.barrier_seq.to_string());
        self.client
            .publish(self.barrier.clone(), token.clone())
            .await
            .map_err(|e| {
                CompareError::protocol(PEER, format!("publishing the flush barrier: {e}"))
            })?;
        self.client
            .flush()
            .await
            .map_err(|e| CompareError::protocol(PEER, format!("flushing: {e}")))?;
        // Tokens of earlier flushes that were abandoned (timed out) may come first.
        while let Some(message) = self.barrier_sub.next().await {
            if message.payload == token {
                return Ok(());
            }
        }
        Err(CompareError::protocol(
            PEER,
            "the connection closed while flushing",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Durable ingest: JetStream.
// ---------------------------------------------------------------------------------------------

/// What [`jetstream_ingest`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamIngest {
    /// The subject published to; the stream is created on exactly this subject. Default
    /// `bench.ingest`.
    pub subject: String,
    /// At most this many publishes awaiting their ack (at least 1). Default 256.
    pub window: usize,
    /// Publishing stops after this long. Default 10 s.
    pub duration: Duration,
    /// … or after this many messages, whichever comes first. Default `None`.
    pub max_messages: Option<u64>,
}

impl Default for JetStreamIngest {
    fn default() -> Self {
        JetStreamIngest {
            subject: "bench.ingest".into(),
            window: 256,
            duration: Duration::from_secs(10),
            max_messages: None,
        }
    }
}

/// What a [`jetstream_ingest`] run achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JetStreamIngestReport {
    /// The stream written to (`VOICETK_BENCH_` + the subject, `.` → `_`).
    pub stream: String,
    /// Messages published.
    pub published: u64,
    /// Publishes acknowledged by the stream.
    pub acked: u64,
    /// Publishes refused, or not acknowledged within the 10 s ack timeout.
    pub failed: u64,
    /// The first failure's message.
    pub first_failure: Option<String>,
    /// From the first publish to the last ack, in seconds.
    pub elapsed_secs: f64,
    /// `acked / elapsed_secs`.
    pub acked_per_sec: f64,
    /// From each publish call to its ack.
    pub ack_latency: LatencySummary,
    /// The stream's message count read back from the server at the end.
    pub stream_messages: u64,
}

impl JetStreamIngestReport {
    /// No failure, and the stream holds exactly the acknowledged messages.
    pub fn is_ok(&self) -> bool {
        self.failed == 0 && self.acked == self.published && self.stream_messages == self.acked
    }
}

/// How long a JetStream ack or API request may take.
const JS_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes `payloads(0)`, `payloads(1)`, … to a JetStream stream with file storage, each
/// acknowledged by the server, keeping at most `window` publishes in flight: publishes are sent
/// without waiting (each returns a future for its ack); when `window` are pending, the oldest
/// is awaited first. Stops after `duration` or `max_messages`, then awaits every pending ack
/// and reads the stream's message count back.
///
/// The stream, named after the subject (see [`JetStreamIngestReport::stream`]), is deleted
/// first if it exists, so the count read back is this run's.
///
/// # What an ack means on nats-server 2.9
/// The ack says the message was appended to the stream's file store: on a single,
/// non-clustered server (this one) the write into the block file is made before the ack is
/// sent, but **not** `fsync`ed. Observed with `strace -f` on Debian's 2.9.10 during a
/// 2,000-message run: one `pwrite64` of each message to the stream's `msgs/1.blk` (the page
/// cache), then the ack on the socket, and not one `fsync`/`fdatasync`. nats-server 2.9 syncs block files on a fixed timer
/// (`defaultSyncInterval`, 2 minutes, not configurable before 2.10's `sync_interval`;
/// `sync_interval: always` also only exists from 2.10), so an acked message survives a crash of
/// the nats-server process but not of the operating system or the machine within that window.
/// nats' own documentation says so: "under the default configuration, JetStream does not
/// immediately fsync data to disk … a client might publish a message and receive an
/// acknowledgment, but the data may not yet be safely stored to disk". Compare it with a
/// voicetk log that commits before it acknowledges accordingly.
///
/// # Errors
/// [`CompareError::Usage`] for an invalid subject (empty, white space, wildcards) or a
/// `window` of 0; [`CompareError::Protocol`] when the server cannot be reached, has no
/// JetStream, or refuses to create or describe the stream. Individual publishes that fail are
/// counted in the report, not returned.
pub async fn jetstream_ingest(
    nats_url: &str,
    opts: &JetStreamIngest,
    mut payloads: impl FnMut(u64) -> Bytes,
) -> Result<JetStreamIngestReport, CompareError> {
    if opts.subject.is_empty()
        || opts
            .subject
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'*' || b == b'>')
        || opts.subject.split('.').any(str::is_empty)
    {
        return Err(CompareError::Usage(format!(
            "subject: {:?} must be a literal subject (non-empty tokens, no white space, no wildcards)",
            opts.subject
        )));
    }
    if opts.window == 0 {
        return Err(CompareError::Usage("window: must be at least 1".into()));
    }
    let protocol = |what: &str, e: &dyn std::fmt::Display| {
        CompareError::protocol(PEER, format!("{what}: {e}"))
    };
    let client = async_nats::ConnectOptions::new()
        .name("voicetk-bench jetstream")
        .connect(nats_url)
        .await
        .map_err(|e| protocol(&format!("connecting to {nats_url}"), &e))?;
    let js = jetstream::ContextBuilder::new()
        .timeout(JS_TIMEOUT)
        .max_ack_inflight(opts.window)
        .backpressure_on_inflight(true)
        .build(client);

    let stream_name = format!(
        "VOICETK_BENCH_{}",
        opts.subject.replace('.', "_").to_ascii_uppercase()
    );
    match js.delete_stream(&stream_name).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e.kind()) => {}
        Err(e) => return Err(protocol(&format!("deleting stream {stream_name}"), &e)),
    }
    let stream = js
        .create_stream(stream::Config {
            name: stream_name.clone(),
            subjects: vec![opts.subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..stream::Config::default()
        })
        .await
        .map_err(|e| protocol(&format!("creating stream {stream_name}"), &e))?;

    let subject = Subject::from(opts.subject.as_str());
    let mut latency = LatencyRecorder::new();
    let mut pending: VecDeque<(Instant, PublishAckFuture)> = VecDeque::with_capacity(opts.window);
    let mut published = 0u64;
    let mut acked = 0u64;
    let mut failed = 0u64;
    let mut first_failure: Option<String> = None;
    let mut fail = |message: String, failed: &mut u64| {
        *failed += 1;
        if first_failure.is_none() {
            first_failure = Some(message);
        }
    };

    let start = Instant::now();
    let deadline = start + opts.duration;
    loop {
        if opts.max_messages.is_some_and(|max| published >= max) || Instant::now() >= deadline {
            break;
        }
        if pending.len() >= opts.window {
            if let Some((sent, ack)) = pending.pop_front() {
                match ack.await {
                    Ok(_) => {
                        acked += 1;
                        latency.record(sent.elapsed());
                    }
                    Err(e) => fail(format!("ack: {e}"), &mut failed),
                }
            }
        }
        let payload = payloads(published);
        published += 1;
        let sent = Instant::now();
        match js.publish(subject.clone(), payload).await {
            Ok(ack) => pending.push_back((sent, ack)),
            Err(e) => fail(format!("publish: {e}"), &mut failed),
        }
    }
    while let Some((sent, ack)) = pending.pop_front() {
        match ack.await {
            Ok(_) => {
                acked += 1;
                latency.record(sent.elapsed());
            }
            Err(e) => fail(format!("ack: {e}"), &mut failed),
        }
    }
    let elapsed_secs = start.elapsed().as_secs_f64();

    let info = stream
        .get_info()
        .await
        .map_err(|e| protocol(&format!("reading stream {stream_name}"), &e))?;
    Ok(JetStreamIngestReport {
        stream: stream_name,
        published,
        acked,
        failed,
        first_failure,
        elapsed_secs,
        acked_per_sec: if elapsed_secs > 0.0 {
            acked as f64 / elapsed_secs
        } else {
            0.0
        },
        ack_latency: latency.summary(),
        stream_messages: info.state.messages,
    })
}

/// Whether a stream deletion failed only because there was no such stream.
fn is_not_found(kind: &context::DeleteStreamErrorKind) -> bool {
    matches!(kind, context::DeleteStreamErrorKind::JetStream(e)
        if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A stream of every kind of operation, and what it parses to.
    fn sample() -> (Vec<u8>, Vec<ServerOp>) {
        let bytes = b"INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n\
            MSG calls.c1.events 1 5\r\nhello\r\n\
            PING\r\n\
            MSG calls.c2.events 1 _INBOX.abc 12\r\nhello\r\nworld\r\n\
            msg calls.c3 7 0\r\n\r\n\
            +OK\r\n\
            PONG\r\n\
            -ERR 'Slow Consumer'\r\n"
            .to_vec();
        let ops = vec![
            ServerOp::Info(Bytes::from_static(
                b"{\"server_id\":\"x\",\"max_payload\":1048576}",
            )),
            ServerOp::Msg {
                sid: 1,
                payload: Bytes::from_static(b"hello"),
            },
            ServerOp::Ping,
            ServerOp::Msg {
                sid: 1,
                payload: Bytes::from_static(b"hello\r\nworld"),
            },
            ServerOp::Msg {
                sid: 7,
                payload: Bytes::new(),
            },
            ServerOp::Ok,
            ServerOp::Pong,
            ServerOp::Err("Slow Consumer".into()),
        ];
        (bytes, ops)
    }

    fn drain(parser: &mut ProtocolParser, out: &mut Vec<ServerOp>) {
        while let Some(op) = parser.next_op().unwrap() {
            out.push(op);
        }
    }

    fn parse_all(chunks: &[&[u8]]) -> Result<Vec<ServerOp>, ProtocolError> {
        let mut parser = ProtocolParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(Bytes::copy_from_slice(chunk));
            while let Some(op) = parser.next_op()? {
                out.push(op);
            }
        }
        Ok(out)
    }

    #[test]
    fn several_operations_in_one_chunk() {
        let (bytes, expected) = sample();
        let mut parser = ProtocolParser::new();
        parser.push(Bytes::from(bytes));
        let mut out = Vec::new();
        drain(&mut parser, &mut out);
        assert_eq!(out, expected);
        assert_eq!(parser.pending(), 0);
    }

    #[test]
    fn split_at_every_byte_position() {
        let (bytes, expected) = sample();
        for cut in 0..=bytes.len() {
            let mut parser = ProtocolParser::new();
            let mut out = Vec::new();
            parser.push(Bytes::copy_from_slice(&bytes[..cut]));
            drain(&mut parser, &mut out);
            parser.push(Bytes::copy_from_slice(&bytes[cut..]));
            drain(&mut parser, &mut out);
            assert_eq!(out, expected, "cut at {cut}");
            assert_eq!(parser.pending(), 0, "cut at {cut}");
        }
    }

    #[test]
    fn split_at_every_pair_of_positions_and_byte_by_byte() {
        let (bytes, expected) = sample();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let out = parse_all(&[&bytes[..a], &bytes[a..b], &bytes[b..]]).unwrap();
                assert_eq!(out, expected, "cuts at {a} and {b}");
            }
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_all(&singles).unwrap(), expected);
    }

    #[test]
    fn pushes_without_reading_in_between_accumulate() {
        let (bytes, expected) = sample();
        let (a, b) = bytes.split_at(30);
        let mut parser = ProtocolParser::new();
        parser.push(Bytes::copy_from_slice(a));
        parser.push(Bytes::copy_from_slice(b));
        let mut out = Vec::new();
        drain(&mut parser, &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn whole_messages_in_a_chunk_are_not_copied() {
        let chunk = Bytes::from_static(b"MSG a 1 3\r\nabc\r\nMSG a 1 3\r\ndef\r\n");
        let range = chunk.as_ptr_range();
        let mut parser = ProtocolParser::new();
        parser.push(chunk.clone());
        for expected in [&b"abc"[..], b"def"] {
            let Some(ServerOp::Msg { payload, .. }) = parser.next_op().unwrap() else {
                panic!("expected a MSG");
            };
            assert_eq!(&payload[..], expected);
            assert!(range.contains(&payload.as_ptr()), "payload was copied");
        }
    }

    #[test]
    fn hmsg_is_an_error_not_skipped() {
        let out = parse_all(&[b"PING\r\n", b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"]);
        assert_eq!(out, Err(ProtocolError::Headers));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(
            parse_all(&[b"MSG a 1 5\r\nhello!!"]),
            Err(ProtocolError::MissingCrlf(5))
        );
        assert!(matches!(
            parse_all(&[b"MSG a 1\r\n"]),
            Err(ProtocolError::BadMsg(_))
        ));
        assert!(matches!(
            parse_all(&[b"MSG a 1 r 5 6\r\n"]),
            Err(ProtocolError::BadMsg(_))
        ));
        assert!(matches!(
            parse_all(&[b"MSG a x 5\r\n"]),
            Err(ProtocolError::BadMsg(_))
        ));
        assert!(matches!(
            parse_all(&[b"MSG a 1 -5\r\n"]),
            Err(ProtocolError::BadMsg(_))
        ));
        assert_eq!(
            parse_all(&[b"MSG a 1 99999999999\r\n"]),
            Err(ProtocolError::TooLarge(99_999_999_999))
        );
        assert!(matches!(
            parse_all(&[b"HELLO there\r\n"]),
            Err(ProtocolError::UnknownOp(_))
        ));
        assert!(matches!(
            parse_all(&[b"PINGX\r\n"]),
            Err(ProtocolError::UnknownOp(_))
        ));
        let long = vec![b'x'; MAX_CONTROL_LINE + 10];
        assert_eq!(parse_all(&[&long]), Err(ProtocolError::LineTooLong));
        // Just under the limit: waits for more.
        assert_eq!(parse_all(&[&long[..MAX_CONTROL_LINE]]), Ok(vec![]));
    }

    #[test]
    fn config_has_both_listeners_and_jetstream_only_when_asked() {
        let dir = Path::new("/tmp/voicetk nats");
        let plain = config_text(dir, false).unwrap();
        assert!(plain.contains("listen: \"127.0.0.1:-1\""));
        assert!(plain.contains("ports_file_dir: \"/tmp/voicetk nats\""));
        assert!(plain.contains("no_tls: true"));
        assert!(plain.contains("compression: false"));
        assert!(!plain.contains("jetstream"));
        let js = config_text(dir, true).unwrap();
        assert!(js.contains("store_dir: \"/tmp/voicetk nats/jetstream\""));
    }

    #[test]
    fn urls_in_the_ports_file_become_addresses() {
        assert_eq!(
            url_addr("nats://127.0.0.1:4222", "nats://"),
            Some(SocketAddr::from(([127, 0, 0, 1], 4222)))
        );
        assert_eq!(url_addr("ws://127.0.0.1:8080", "nats://"), None);
    }
}
