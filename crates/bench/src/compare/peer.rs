//! The systems compared: how each is started, subscribed to and published to.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use memchr::memmem;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::CompareError;
use super::nats::{NatsPublisher, NatsServer, NatsServerOptions, NatsWsSubscriber};
use super::proc::{self, Announced};
use super::raw::RawPublisher;

/// A system under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerKind {
    /// `voicetk serve` with its real configuration: the SQLite log, every event durable
    /// before it is acknowledged or delivered.
    Voicetk,
    /// `voicetk serve --store memory:`: the same path without durability. A diagnostic: it
    /// tells what the log costs.
    VoicetkMemory,
    /// nats-server (Debian's package): core pub/sub through its WebSocket listener, JetStream
    /// file storage for durable ingest.
    Nats,
    /// The raw writer: the same pre-encoded frames written to the same sockets by a few lines
    /// of tokio — the machine's limit.
    Raw,
}

impl PeerKind {
    /// Every peer, in report order.
    pub const ALL: [PeerKind; 4] = [
        PeerKind::Voicetk,
        PeerKind::VoicetkMemory,
        PeerKind::Nats,
        PeerKind::Raw,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Voicetk => "voicetk",
            PeerKind::VoicetkMemory => "voicetk-memory",
            PeerKind::Nats => "nats",
            PeerKind::Raw => "raw",
        }
    }

    /// Parses a [`name`](Self::name).
    ///
    /// # Errors
    /// [`CompareError::Usage`] naming the accepted names.
    pub fn parse(s: &str) -> Result<PeerKind, CompareError> {
        PeerKind::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                CompareError::Usage(format!(
                    "unknown peer {s:?}: expected voicetk, voicetk-memory, nats or raw"
                ))
            })
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the peers' programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    /// `voicetk` (default: next to this binary, else `voicetk` on the `PATH`).
    pub voicetk: PathBuf,
    /// `nats-server` (default: on the `PATH`, else `/usr/sbin/nats-server`).
    pub nats_server: PathBuf,
    /// This harness binary, which also runs the raw writer (`voicetk-bench raw-writer`).
    pub harness: PathBuf,
}

impl Programs {
    /// The defaults described on each field.
    pub fn find() -> Programs {
        Programs {
            voicetk: proc::sibling("voicetk").unwrap_or_else(|| "voicetk".into()),
            nats_server: super::nats::default_program(),
            harness: std::env::current_exe().unwrap_or_else(|_| "voicetk-bench".into()),
        }
    }
}

/// A running peer.
pub struct Peer {
    /// Which system.
    pub kind: PeerKind,
    /// Its server process (for RSS and CPU).
    pub pid: u32,
    endpoint: Endpoint,
    _process: Process,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("kind", &self.kind)
            .field("pid", &self.pid)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[derive(Debug, Clone)]
enum Endpoint {
    Voicetk { base: String, ws: String },
    Nats { ws: String, nats: String },
    Raw { ws: String, publish: SocketAddr },
}

/// Held for its `Drop`: the process is killed and its data deleted with the peer.
enum Process {
    Child {
        _child: Announced,
        _dir: Option<tempfile::TempDir>,
    },
    Nats {
        _server: NatsServer,
    },
}

impl Peer {
    /// Starts `kind` pinned to `cpu`, on loopback, with fresh storage.
    ///
    /// # Errors
    /// [`CompareError::Missing`] / [`CompareError::Spawn`] when it cannot start.
    pub async fn start(
        kind: PeerKind,
        programs: &Programs,
        cpu: Option<usize>,
        jetstream: bool,
    ) -> Result<Peer, CompareError> {
        match kind {
            PeerKind::Voicetk | PeerKind::VoicetkMemory => {
                let dir = tempfile::Builder::new()
                    .prefix("voicetk-bench-")
                    .tempdir()
                    .map_err(CompareError::io("creating voicetk's data directory"))?;
                let config = dir.path().join("voicetk.toml");
                // Capacity, not the limiter, is measured: rate limits lifted.
                let store = if kind == PeerKind::VoicetkMemory {
                    "store = \"memory:\"\n"
                } else {
                    ""
                };
                std::fs::write(
                    &config,
                    format!(
                        "addr = \"127.0.0.1:0\"\ndata = {:?}\n{store}\n[limits]\nrate_per_second = 1e9\nrate_burst = 1e9\n",
                        dir.path().join("data")
                    ),
                )
                .map_err(CompareError::io("writing voicetk's config"))?;
                if !programs.voicetk.is_file() && proc::find_program(&programs.voicetk).is_none() {
                    return Err(CompareError::Missing {
                        program: programs.voicetk.display().to_string(),
                        hint: "cargo build --release -p voicetk, or pass --voicetk PATH".into(),
                    });
                }
                let mut cmd = proc::pinned(&programs.voicetk, cpu);
                cmd.arg("serve").arg("--config").arg(&config);
                cmd.env("RUST_LOG", "warn");
                let child = proc::start_announced(
                    kind.name(),
                    cmd,
                    "listening on http://",
                    Duration::from_secs(20),
                )
                .await?;
                let addr = child
                    .line
                    .rsplit("http://")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                Ok(Peer {
                    kind,
                    pid: child.pid,
                    endpoint: Endpoint::Voicetk {
                        base: format!("http://{addr}"),
                        ws: format!("ws://{addr}/v1/ws"),
                    },
                    _process: Process::Child {
                        _child: child,
                        _dir: Some(dir),
                    },
                })
            }
            PeerKind::Nats => {
                let server = NatsServer::start(&NatsServerOptions {
                    program: programs.nats_server.clone(),
                    cpu,
                    jetstream,
                })
                .await?;
                Ok(Peer {
                    kind,
                    pid: server.pid(),
                    endpoint: Endpoint::Nats {
                        ws: server.ws_url(),
                        nats: server.nats_url(),
                    },
                    _process: Process::Nats { _server: server },
                })
            }
            PeerKind::Raw => {
                let mut cmd = proc::pinned(&programs.harness, cpu);
                cmd.arg("raw-writer");
                let child =
                    proc::start_announced("raw", cmd, "raw-writer ws=", Duration::from_secs(10))
                        .await?;
                let field = |name: &str| {
                    child
                        .line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix(name))
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                };
                let (Some(ws), Some(publish)) = (field("ws="), field("publish=")) else {
                    return Err(CompareError::Spawn {
                        peer: "raw".into(),
                        message: format!("unexpected announcement {:?}", child.line),
                    });
                };
                Ok(Peer {
                    kind,
                    pid: child.pid,
                    endpoint: Endpoint::Raw {
                        ws: format!("ws://{ws}/"),
                        publish,
                    },
                    _process: Process::Child {
                        _child: child,
                        _dir: None,
                    },
                })
            }
        }
    }

    /// The gateway's base URL, for voicetk.
    pub fn voicetk_base(&self) -> Option<&str> {
        match &self.endpoint {
            Endpoint::Voicetk { base, .. } => Some(base),
            _ => None,
        }
    }

    /// The NATS client URL, for nats-server.
    pub fn nats_url(&self) -> Option<&str> {
        match &self.endpoint {
            Endpoint::Nats { nats, .. } => Some(nats),
            _ => None,
        }
    }

    /// Opens one subscriber: every event (`call` `None`) or one call's, resuming after `after`
    /// where the peer can (voicetk). Returns once the subscription is live where the
    /// protocol says so (NATS: after the server's PONG; voicetk: after its heartbeat when
    /// `after` is `None`).
    ///
    /// # Errors
    /// Connection or protocol failures.
    pub async fn subscribe(
        &self,
        call: Option<&str>,
        after: Option<u64>,
    ) -> Result<SubConn, CompareError> {
        match &self.endpoint {
            Endpoint::Voicetk { ws, .. } => {
                let mut conn = ws_connect(ws, self.kind).await?;
                let mut op = serde_json::json!({"op": "subscribe"});
                if let Some(call) = call {
                    op["callId"] = call.into();
                }
                if let Some(after) = after {
                    op["after"] = after.into();
                }
                send_text(&mut conn, op.to_string(), self.kind).await?;
                if after.is_none() {
                    send_text(&mut conn, r#"{"op":"ping"}"#.into(), self.kind).await?;
                    // The heartbeat answering the ping comes after the subscription is live
                    // (requests are handled in order) and after any replayed state.
                    wait_heartbeat(&mut conn, self.kind).await?;
                }
                Ok(SubConn::Voicetk(conn))
            }
            Endpoint::Raw { ws, .. } => {
                let mut conn = ws_connect(ws, self.kind).await?;
                let op = match call {
                    Some(call) => serde_json::json!({"op": "subscribe", "callId": call}),
                    None => serde_json::json!({"op": "subscribe"}),
                };
                send_text(&mut conn, op.to_string(), self.kind).await?;
                // The raw writer confirms a live subscription with a heartbeat, as voicetk.
                wait_heartbeat(&mut conn, self.kind).await?;
                Ok(SubConn::Raw(conn))
            }
            Endpoint::Nats { ws, .. } => {
                let subject = match call {
                    Some(call) => format!("calls.{call}"),
                    None => "calls.>".to_owned(),
                };
                Ok(SubConn::Nats(Box::new(
                    NatsWsSubscriber::connect(ws, &subject).await?,
                )))
            }
        }
    }

    /// A publisher with `lanes` ordered lanes (voicetk: one HTTP connection each, posting
    /// what is due as one NDJSON batch per request; NATS and raw: one connection, which keeps
    /// every lane in order).
    ///
    /// # Errors
    /// Connection failures.
    pub async fn publisher(&self, lanes: u32) -> Result<Publisher, CompareError> {
        match &self.endpoint {
            Endpoint::Voicetk { base, .. } => {
                Ok(Publisher::Voicetk(VoicetkPublisher::new(base, lanes)?))
            }
            Endpoint::Nats { nats, .. } => Ok(Publisher::Nats(NatsPublisher::connect(nats).await?)),
            Endpoint::Raw { publish, .. } => {
                Ok(Publisher::Raw(RawPublisher::connect(*publish).await?))
            }
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read buffer of every subscriber's WebSocket client, whatever the peer. tungstenite
/// zero-fills its read buffer up to this size before *every* read: its 128 KiB default made
/// the harness spend most of its core on memset (found profiling the server, which had the
/// same default). 8 KiB still takes ~20 frames per read.
pub const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// The WebSocket client configuration of every subscriber, whatever the peer.
pub(crate) fn client_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = CLIENT_READ_BUFFER;
    config
}

async fn ws_connect(url: &str, peer: PeerKind) -> Result<Ws, CompareError> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true),
    )
    .await
    .map_err(|_| CompareError::protocol(peer.name(), format!("connecting to {url} timed out")))?
    .map_err(|e| CompareError::protocol(peer.name(), format!("connecting to {url}: {e}")))?;
    Ok(ws)
}

async fn send_text(ws: &mut Ws, text: String, peer: PeerKind) -> Result<(), CompareError> {
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| CompareError::protocol(peer.name(), format!("sending: {e}")))
}

/// Reads frames up to the first heartbeat; an error frame is an error.
async fn wait_heartbeat(conn: &mut Ws, peer: PeerKind) -> Result<(), CompareError> {
    loop {
        let frame = next_frame(conn, peer)
            .await?
            .ok_or_else(|| CompareError::protocol(peer.name(), "closed while subscribing"))?;
        if frame.starts_with(br#"{"op":"error""#) {
            return Err(CompareError::protocol(
                peer.name(),
                String::from_utf8_lossy(&frame).into_owned(),
            ));
        }
        if frame.starts_with(br#"{"op":"heartbeat""#) {
            return Ok(());
        }
    }
}

/// The next text or binary frame's bytes; `None` when the peer closed.
async fn next_frame(ws: &mut Ws, peer: PeerKind) -> Result<Option<Bytes>, CompareError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(Some(Bytes::from(t))),
            Some(Ok(Message::Binary(b))) => return Ok(Some(b)),
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                return Err(CompareError::protocol(
                    peer.name(),
                    format!("receiving: {e}"),
                ));
            }
        }
    }
}

/// One subscriber's connection.
pub enum SubConn {
    /// voicetk's `/v1/ws`.
    Voicetk(Ws),
    /// The raw writer.
    Raw(Ws),
    /// NATS over WebSocket.
    Nats(Box<NatsWsSubscriber>),
}

impl fmt::Debug for SubConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubConn::Voicetk(_) => "SubConn::Voicetk",
            SubConn::Raw(_) => "SubConn::Raw",
            SubConn::Nats(_) => "SubConn::Nats",
        })
    }
}

impl SubConn {
    /// The next event payload; `None` when the server closed the connection. voicetk's
    /// heartbeats and replayed call states are skipped.
    ///
    /// # Errors
    /// Protocol failures, and voicetk's `{"op":"error"}` frames.
    pub async fn next_payload(&mut self) -> Result<Option<Bytes>, CompareError> {
        match self {
            SubConn::Voicetk(ws) => loop {
                let Some(frame) = next_frame(ws, PeerKind::Voicetk).await? else {
                    return Ok(None);
                };
                if frame.starts_with(br#"{"op":"#) {
                    if frame.starts_with(br#"{"op":"error""#) {
                        return Err(CompareError::protocol(
                            "voicetk",
                            String::from_utf8_lossy(&frame).into_owned(),
                        ));
                    }
                    continue;
                }
                if memmem::find(&frame, br#""replayed":true"#).is_some() {
                    continue;
                }
                return Ok(Some(frame));
            },
            SubConn::Raw(ws) => next_frame(ws, PeerKind::Raw).await,
            SubConn::Nats(sub) => sub.next_payload().await,
        }
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        match self {
            SubConn::Voicetk(mut ws) | SubConn::Raw(mut ws) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
            }
            SubConn::Nats(sub) => sub.close().await,
        }
    }
}

/// Publishes stamped payloads to one peer.
pub enum Publisher {
    /// voicetk: ordered lanes of NDJSON POSTs.
    Voicetk(VoicetkPublisher),
    /// Core NATS over TCP, subject `calls.<callId>`.
    Nats(NatsPublisher),
    /// The raw writer's publish socket.
    Raw(RawPublisher),
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Publisher::Voicetk(_) => "Publisher::Voicetk",
            Publisher::Nats(_) => "Publisher::Nats",
            Publisher::Raw(_) => "Publisher::Raw",
        })
    }
}

impl Publisher {
    /// Queues or sends one payload of `call_id` on `lane`.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn send(
        &mut self,
        lane: u32,
        call_id: &str,
        payload: Bytes,
    ) -> Result<(), CompareError> {
        match self {
            Publisher::Voicetk(p) => p.send(lane, payload),
            Publisher::Nats(p) => p.publish(format!("calls.{call_id}"), payload).await,
            Publisher::Raw(p) => p.publish(call_id, &payload).await,
        }
    }

    /// Pushes out what was queued by this tick's `send`s.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn flush(&mut self) -> Result<(), CompareError> {
        match self {
            Publisher::Voicetk(_) => Ok(()),
            Publisher::Nats(p) => p.flush().await,
            Publisher::Raw(p) => p.flush().await,
        }
    }

    /// Waits, at most `within`, until every event sent was acknowledged (voicetk) or flushed.
    /// Returns `(acknowledged, refused)` for voicetk, `(sent, 0)` for the others.
    pub async fn settle(&mut self, within: Duration) -> (u64, u64) {
        match self {
            Publisher::Voicetk(p) => p.settle(within).await,
            Publisher::Nats(p) => {
                // Returns once the server has processed every publish.
                let _ = tokio::time::timeout(within, p.sync()).await;
                (0, 0)
            }
            Publisher::Raw(p) => {
                let _ = tokio::time::timeout(within, p.flush()).await;
                (0, 0)
            }
        }
    }

    /// The first refusal or failure voicetk reported, if any.
    pub fn first_error(&self) -> Option<String> {
        match self {
            Publisher::Voicetk(p) => p.errors.lock().ok().and_then(|e| e.clone()),
            _ => None,
        }
    }
}

/// voicetk's publisher: one task per lane posting everything queued since its previous
/// request as one NDJSON batch — what a source in front of a busy gateway does. One lane's
/// requests are sequential, which keeps its calls' events in order.
pub struct VoicetkPublisher {
    lanes: Vec<mpsc::UnboundedSender<Bytes>>,
    sent: u64,
    acked: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Option<String>>>,
}

impl VoicetkPublisher {
    fn new(base: &str, lanes: u32) -> Result<VoicetkPublisher, CompareError> {
        let acked = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(std::sync::Mutex::new(None));
        let url = format!("{base}/v1/events");
        let senders = (0..lanes.max(1))
            .map(|_| {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| CompareError::protocol("voicetk", format!("HTTP client: {e}")))?;
                let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
                tokio::spawn(post_lane(
                    client,
                    url.clone(),
                    rx,
                    acked.clone(),
                    refused.clone(),
                    errors.clone(),
                ));
                Ok(tx)
            })
            .collect::<Result<Vec<_>, CompareError>>()?;
        Ok(VoicetkPublisher {
            lanes: senders,
            sent: 0,
            acked,
            refused,
            errors,
        })
    }

    fn send(&mut self, lane: u32, payload: Bytes) -> Result<(), CompareError> {
        let tx = &self.lanes[lane as usize % self.lanes.len()];
        tx.send(payload)
            .map_err(|_| CompareError::protocol("voicetk", "a publishing lane stopped"))?;
        self.sent += 1;
        Ok(())
    }

    async fn settle(&mut self, within: Duration) -> (u64, u64) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (a, r) = (
                self.acked.load(Ordering::Relaxed),
                self.refused.load(Ordering::Relaxed),
            );
            if a + r >= self.sent || tokio::time::Instant::now() >= deadline {
                return (a, r);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Most events in one POST.
const MAX_BATCH: usize = 2_000;

async fn post_lane(
    client: reqwest::Client,
    url: String,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    acked: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    errors: Arc<std::sync::Mutex<Option<String>>>,
) {
    let mut body = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        body.clear();
        body.extend_from_slice(&first);
        body.push(b'\n');
        let mut n = 1u64;
        while (n as usize) < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => {
                    body.extend_from_slice(&p);
                    body.push(b'\n');
                    n += 1;
                }
                Err(_) => break,
            }
        }
        let result = client
            .post(&url)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await;
        let failure = match result {
            Ok(r) if r.status().as_u16() == 202 => {
                let _ = r.bytes().await;
                acked.fetch_add(n, Ordering::Relaxed);
                None
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                Some(format!(
                    "POST /v1/events: {status}: {}",
                    crate::load::excerpt(&text)
                ))
            }
            Err(e) => Some(format!("POST /v1/events: {e}")),
        };
        if let Some(message) = failure {
            refused.fetch_add(n, Ordering::Relaxed);
            if let Ok(mut slot) = errors.lock() {
                slot.get_or_insert(message);
            }
        }
    }
}
