//! The raw writer: the machine's limit for writing the same frames to the same sockets.
//!
//! # What it does
//! [`run_writer`] is the smallest server that does the socket work a WebSocket fan-out server
//! cannot avoid, so that voicetk and nats-server can be compared to a ceiling:
//! - **Subscribers** (WebSocket listener): accept, answer the HTTP/1.1 upgrade by hand (`101`
//!   with the `Sec-WebSocket-Accept` of `derive_accept_key`), read the client's first text frame
//!   as voicetk's subscribe request — `{"op":"subscribe"}` (every event) or
//!   `{"op":"subscribe","callId":"X"}` (one call) — and answer `{"op":"heartbeat","seq":0}`, as
//!   voicetk does at the end of its replay: from that frame on, the subscription is live. A
//!   client close frame ends the subscription (echoed when no frame is half written); other
//!   client frames are ignored.
//! - **Publishers** (plain TCP listener, any number of connections): lines `CALLID\tJSON\n`
//!   (see [`RawPublisher`]). Each line becomes one server→client text frame (unmasked header +
//!   payload), built **once** into a [`Bytes`], and that same `Bytes` (a reference count, no
//!   copy) goes to every subscriber of all events and to every subscriber of that `callId`.
//! - **Writing**: each subscriber has a bounded queue of frames and one task that takes every
//!   frame available (up to 1,024, the `IOV_MAX` of Linux) and hands them to the kernel with one
//!   `writev` per batch. `TCP_NODELAY` is set, as Go (nats-server) and hyper servers do.
//!
//! # Slow subscribers are dropped
//! A publisher never waits for a subscriber. When a subscriber's queue is full
//! ([`WriterOptions::queue_frames`], default 8,192 frames), the subscriber is removed, its
//! connection closed at once (queued frames discarded) and counted in
//! [`WriterStats::dropped_slow`]: the others are not slowed down. This is nats-server's
//! slow-consumer policy; voicetk instead resynchronises a lagging subscriber from its log.
//!
//! # What it does not do, and why it is the limit
//! No event parsing or validation, no engine, no log (nothing durable: no SQLite, no fsync), no
//! sequence numbers, no replay, no `types` filter, no periodic heartbeat, no authentication, no
//! TLS, no compression, no UTF-8 check of payloads (the publisher sends JSON), and no JSON
//! decoding of the subscribe request beyond finding `"callId"` (escapes are refused). What
//! remains — one `read` of the published bytes, one copy of each payload into its frame, one
//! reference per subscriber, one `writev` per batch per subscriber — is what any server must
//! do to put the same bytes on the same sockets; its throughput is the machine's, not a
//! server's.
//!
//! # Example
//! ```no_run
//! use voicetk_bench::compare::raw::{RawPublisher, run_writer};
//!
//! # async fn demo() -> Result<(), voicetk_bench::compare::CompareError> {
//! use tokio::net::TcpListener;
//! use voicetk_bench::compare::CompareError;
//! let ws = TcpListener::bind("127.0.0.1:0").await.map_err(CompareError::io("bind"))?;
//! let publish = TcpListener::bind("127.0.0.1:0").await.map_err(CompareError::io("bind"))?;
//! let publish_addr = publish.local_addr().map_err(CompareError::io("address"))?;
//! tokio::spawn(run_writer(ws, publish));
//! let mut publisher = RawPublisher::connect(publish_addr).await?;
//! publisher.publish("call-1", br#"{"type":"CALL_STARTED"}"#).await?;
//! publisher.flush().await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::compare::CompareError;

/// The peer name in errors.
const PEER: &str = "raw writer";
/// Frames one `writev` takes at most: Linux's `IOV_MAX`.
const MAX_BATCH: usize = 1024;
/// The largest HTTP request head accepted for the upgrade.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// The largest client frame accepted (the subscribe request is far smaller).
const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// How long a new connection may take to upgrade and subscribe.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a close frame (or refusal) may take to be written.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Size of the publisher's read buffer, and of the blocks frames are built in.
const CHUNK: usize = 256 * 1024;
/// The frame that tells a subscriber its subscription is live (voicetk's end of replay).
const HEARTBEAT: &[u8] = br#"{"op":"heartbeat","seq":0}"#;

/// How the raw writer behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Frames a subscriber may have queued before it is dropped as too slow (its task holds up
    /// to as many more while writing them). Between 1 and 1,048,576. Default is 8,192.
    pub queue_frames: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue_frames: 8_192,
        }
    }
}

/// A snapshot of the raw writer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Subscriptions live now (heartbeat sent, not yet closed or dropped).
    pub subscribers: usize,
    /// Lines published so far (frames built), over every publisher connection.
    pub published: u64,
    /// Subscribers dropped because their queue was full.
    pub dropped_slow: u64,
}

/// The raw writer: a cheap `Clone` handle over the state its tasks share, so that the caller
/// can read [`stats`](Self::stats) while [`run`](Self::run) serves.
#[derive(Debug, Clone)]
pub struct RawWriter {
    /// The subscriptions and counters, shared by every connection task.
    shared: Arc<Shared>,
}

/// Runs the raw writer with [`WriterOptions::default`] on two bound listeners, until the process
/// ends (see the [module docs](self)).
///
/// # Errors
/// [`CompareError::Io`] when a listener fails to accept. Errors of one connection only close
/// that connection.
pub async fn run_writer(ws: TcpListener, publish: TcpListener) -> Result<(), CompareError> {
    RawWriter::new(WriterOptions::default())?
        .run(ws, publish)
        .await
}

impl RawWriter {
    /// A raw writer with these options.
    ///
    /// # Errors
    /// [`CompareError::Usage`] when `queue_frames` is out of range.
    pub fn new(options: WriterOptions) -> Result<RawWriter, CompareError> {
        if !(1..=1 << 20).contains(&options.queue_frames) {
            return Err(CompareError::Usage(format!(
                "queue_frames must be between 1 and 1048576, got {}",
                options.queue_frames
            )));
        }
        Ok(RawWriter {
            shared: Arc::new(Shared {
                options,
                registry: Mutex::new(Registry::default()),
                next_id: AtomicU64::new(0),
                published: AtomicU64::new(0),
                dropped_slow: AtomicU64::new(0),
            }),
        })
    }

    /// The counters now.
    pub fn stats(&self) -> WriterStats {
        let subscribers = self.shared.registry().len();
        WriterStats {
            subscribers,
            published: self.shared.published.load(Ordering::Relaxed),
            dropped_slow: self.shared.dropped_slow.load(Ordering::Relaxed),
        }
    }

    /// Serves WebSocket subscribers on `ws` and publishers on `publish` until the process ends.
    ///
    /// # Errors
    /// [`CompareError::Io`] when a listener fails to accept (for example, out of file
    /// descriptors: raise `ulimit -n`).
    pub async fn run(&self, ws: TcpListener, publish: TcpListener) -> Result<(), CompareError> {
        tokio::try_join!(
            serve_subscribers(&ws, &self.shared),
            serve_publishers(&publish, &self.shared)
        )
        .map(|_| ())
    }
}

/// Accepts subscribers, one task each.
async fn serve_subscribers(ws: &TcpListener, shared: &Arc<Shared>) -> Result<(), CompareError> {
    loop {
        let (stream, peer) = accept(ws, "accepting a WebSocket subscriber").await?;
        tokio::spawn(subscriber(Arc::clone(shared), stream, peer));
    }
}

/// Accepts publishers, one task each.
async fn serve_publishers(publish: &TcpListener, shared: &Arc<Shared>) -> Result<(), CompareError> {
    loop {
        let (stream, peer) = accept(publish, "accepting a publisher").await?;
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            if let Err(e) = publisher(&shared, stream).await {
                eprintln!("{PEER}: publisher {peer}: {e}");
            }
        });
    }
}

/// Accepts the next connection, retrying the errors that concern only that connection.
async fn accept(
    listener: &TcpListener,
    what: &str,
) -> Result<(TcpStream, SocketAddr), CompareError> {
    loop {
        match listener.accept().await {
            Ok(accepted) => return Ok(accepted),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => {}
            Err(e) => return Err(CompareError::io(what)(e)),
        }
    }
}

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    /// Queue size and other settings, fixed at start.
    options: WriterOptions,
    /// Who receives what; locked once per publisher read, never across an `.await`.
    registry: Mutex<Registry>,
    /// Identifies a subscription, so its task can remove exactly it.
    next_id: AtomicU64,
    /// Lines published (for [`WriterStats`]).
    published: AtomicU64,
    /// Subscribers dropped as too slow (for [`WriterStats`]).
    dropped_slow: AtomicU64,
}

impl Shared {
    /// The registry; a panic elsewhere cannot leave it half updated (no code panics while
    /// holding it), so a poisoned lock is used as is.
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The live subscriptions.
#[derive(Debug, Default)]
struct Registry {
    /// Subscribers of every event.
    all: Vec<Subscription>,
    /// Subscribers of one call, by `callId` (bytes as sent, no decoding).
    by_call: HashMap<Box<[u8]>, Vec<Subscription>>,
}

/// The registry's side of one subscriber.
#[derive(Debug)]
struct Subscription {
    /// Which subscription this is.
    id: u64,
    /// The subscriber's bounded queue.
    frames: mpsc::Sender<Bytes>,
    /// Dropped with the subscription: tells the subscriber's task to close at once.
    _alive: oneshot::Sender<()>,
}

impl Registry {
    /// Subscriptions live.
    fn len(&self) -> usize {
        self.all.len() + self.by_call.values().map(Vec::len).sum::<usize>()
    }

    /// Queues `frame` for the subscribers of every event and of `call`; drops those whose queue
    /// is full (returns how many).
    fn dispatch(&mut self, call: &[u8], frame: &Bytes) -> u64 {
        let mut dropped = offer(&mut self.all, frame);
        if let Some(list) = self.by_call.get_mut(call) {
            dropped += offer(list, frame);
            if list.is_empty() {
                self.by_call.remove(call);
            }
        }
        dropped
    }

    /// Removes subscription `id` of `call` (or of every event), if it is still here.
    fn remove(&mut self, id: u64, call: Option<&[u8]>) {
        let list = match call {
            None => &mut self.all,
            Some(call) => match self.by_call.get_mut(call) {
                Some(list) => list,
                None => return,
            },
        };
        list.retain(|s| s.id != id);
        if let Some(call) = call.filter(|_| list.is_empty()) {
            self.by_call.remove(call);
        }
    }
}

/// Queues `frame` on each subscription of `list`; removes the full (counted) and the closed.
fn offer(list: &mut Vec<Subscription>, frame: &Bytes) -> u64 {
    let mut dropped = 0;
    list.retain(|s| match s.frames.try_send(frame.clone()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            dropped += 1;
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
    dropped
}

// ---------------------------------------------------------------------------------------------
// Publishers

/// Reads `CALLID\tJSON\n` lines from one publisher and dispatches a frame for each.
async fn publisher(shared: &Shared, mut stream: TcpStream) -> Result<(), CompareError> {
    let mut input = BytesMut::with_capacity(CHUNK);
    let mut arena = BytesMut::new();
    loop {
        if input.capacity() - input.len() < CHUNK / 4 {
            input.reserve(CHUNK);
        }
        let read = stream
            .read_buf(&mut input)
            .await
            .map_err(CompareError::io("reading published lines"))?;
        if read == 0 {
            return match input.is_empty() {
                true => Ok(()),
                false => Err(CompareError::protocol(
                    PEER,
                    "the publisher closed in the middle of a line (lines end with \\n)",
                )),
            };
        }
        let mut consumed = 0;
        let mut lines = 0;
        let mut dropped = 0;
        {
            let mut registry = shared.registry();
            while let Some(end) = memchr::memchr(b'\n', &input[consumed..]) {
                let line = &input[consumed..consumed + end];
                let Some(tab) = memchr::memchr(b'\t', line) else {
                    return Err(CompareError::protocol(
                        PEER,
                        "a published line has no tab between callId and payload",
                    ));
                };
                let frame = text_frame(&mut arena, &line[tab + 1..]);
                dropped += registry.dispatch(&line[..tab], &frame);
                consumed += end + 1;
                lines += 1;
            }
        }
        input.advance(consumed);
        shared.published.fetch_add(lines, Ordering::Relaxed);
        if dropped > 0 {
            shared.dropped_slow.fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

/// Builds a server→client text frame of `payload` in `arena` (blocks of [`CHUNK`] shared by
/// consecutive frames: one allocation for many frames).
fn text_frame(arena: &mut BytesMut, payload: &[u8]) -> Bytes {
    server_frame(arena, 0x1, payload)
}

/// Builds a final, unmasked server→client frame of `opcode` in `arena`.
fn server_frame(arena: &mut BytesMut, opcode: u8, payload: &[u8]) -> Bytes {
    let needed = 10 + payload.len();
    if arena.capacity() - arena.len() < needed {
        *arena = BytesMut::with_capacity(needed.max(CHUNK));
    }
    arena.put_u8(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => arena.put_u8(len as u8),
        len @ 126..=0xFFFF => {
            arena.put_u8(126);
            arena.put_u16(len as u16);
        }
        len => {
            arena.put_u8(127);
            arena.put_u64(len as u64);
        }
    }
    arena.put_slice(payload);
    arena.split().freeze()
}

/// A close frame with `code` and `reason` (cut to fit a control frame).
fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut payload = Vec::with_capacity(125);
    payload.extend_from_slice(&code.to_be_bytes());
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    server_frame(&mut BytesMut::new(), 0x8, &payload)
}

/// The publishing side of the raw writer: `CALLID\tJSON\n` lines over one TCP connection,
/// buffered (256 KiB) so that many payloads go out in one write.
#[derive(Debug)]
pub struct RawPublisher {
    /// The connection to the writer's publish listener, buffered.
    stream: BufWriter<TcpStream>,
}

impl RawPublisher {
    /// Connects to the raw writer's publish listener at `addr`.
    ///
    /// # Errors
    /// [`CompareError::Io`] when the connection fails.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<RawPublisher, CompareError> {
        let stream = TcpStream::connect(addr).await.map_err(CompareError::io(
            "connecting to the raw writer's publish port",
        ))?;
        stream
            .set_nodelay(true)
            .map_err(CompareError::io("setting TCP_NODELAY on the publisher"))?;
        Ok(RawPublisher {
            stream: BufWriter::with_capacity(CHUNK, stream),
        })
    }

    /// Buffers one payload for the subscribers of `call_id` (and of every event); it is sent
    /// when the buffer fills or on [`flush`](Self::flush).
    ///
    /// # Errors
    /// [`CompareError::Usage`] when `call_id` contains a tab or newline or `payload` a newline
    /// (they delimit the line); [`CompareError::Io`] when writing fails.
    pub async fn publish(&mut self, call_id: &str, payload: &[u8]) -> Result<(), CompareError> {
        if call_id.bytes().any(|b| b == b'\t' || b == b'\n') {
            return Err(CompareError::Usage(
                "call_id must not contain a tab or a newline".into(),
            ));
        }
        if memchr::memchr(b'\n', payload).is_some() {
            return Err(CompareError::Usage(
                "payload must not contain a newline (compact JSON has none)".into(),
            ));
        }
        let write = async {
            self.stream.write_all(call_id.as_bytes()).await?;
            self.stream.write_all(b"\t").await?;
            self.stream.write_all(payload).await?;
            self.stream.write_all(b"\n").await
        };
        write
            .await
            .map_err(CompareError::io("publishing to the raw writer"))
    }

    /// Sends everything buffered.
    ///
    /// # Errors
    /// [`CompareError::Io`] when writing fails.
    pub async fn flush(&mut self) -> Result<(), CompareError> {
        self.stream
            .flush()
            .await
            .map_err(CompareError::io("flushing to the raw writer"))
    }
}

// ---------------------------------------------------------------------------------------------
// Subscribers

/// Why a subscriber connection failed before its subscription was live.
#[derive(Debug)]
enum SetupError {
    /// The connection failed or closed; nothing to answer.
    Gone,
    /// Not a WebSocket upgrade: answered with this HTTP status line and reason.
    Http(&'static str, &'static str),
    /// A WebSocket protocol error: answered with a close frame of this code and reason.
    Ws(u16, String),
}

/// Serves one subscriber connection from accept to close.
async fn subscriber(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let mut input = BytesMut::with_capacity(4096);
    let setup = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribe(&mut stream, &mut input)).await;
    let call = match setup {
        Ok(Ok(call)) => call,
        Ok(Err(SetupError::Gone)) | Err(_) => return,
        Ok(Err(SetupError::Http(status, reason))) => {
            eprintln!("{PEER}: subscriber {peer}: {reason}");
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}",
                reason.len()
            );
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.write_all(answer.as_bytes())).await;
            return;
        }
        Ok(Err(SetupError::Ws(code, reason))) => {
            eprintln!("{PEER}: subscriber {peer}: {reason}");
            let frame = close_frame(code, &reason);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.write_all(&frame)).await;
            return;
        }
    };
    if stream.set_nodelay(true).is_err() {
        return;
    }

    let (frames_tx, mut frames) = mpsc::channel(shared.options.queue_frames);
    let (alive_tx, mut alive) = oneshot::channel();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    // First in the queue, so it precedes every published frame: the subscription is live.
    if frames_tx
        .try_send(server_frame(&mut BytesMut::new(), 0x1, HEARTBEAT))
        .is_err()
    {
        return;
    }
    {
        let subscription = Subscription {
            id,
            frames: frames_tx,
            _alive: alive_tx,
        };
        let mut registry = shared.registry();
        match &call {
            None => registry.all.push(subscription),
            Some(call) => registry
                .by_call
                .entry(call.clone())
                .or_default()
                .push(subscription),
        }
    }

    let batch = shared.options.queue_frames.min(MAX_BATCH);
    let end = deliver(&mut stream, &mut input, &mut frames, &mut alive, batch).await;
    shared.registry().remove(id, call.as_deref());
    match end {
        End::Dropped => eprintln!(
            "{PEER}: subscriber {peer} dropped: more than {} frames queued",
            shared.options.queue_frames
        ),
        // Bounded: a client that stops reading must not keep this task forever.
        End::ClientClosed { echo: true } => {
            let _ =
                tokio::time::timeout(CLOSE_TIMEOUT, stream.write_all(&close_frame(1000, ""))).await;
        }
        End::Protocol(code, reason) => {
            let frame = close_frame(code, &reason);
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.write_all(&frame)).await;
        }
        End::ClientClosed { echo: false } | End::Gone => {}
    }
}

/// Upgrades the connection and reads the subscribe request: `Some(callId)` for one call,
/// `None` for every event.
async fn subscribe(
    stream: &mut TcpStream,
    input: &mut BytesMut,
) -> Result<Option<Box<[u8]>>, SetupError> {
    let head_end = loop {
        if let Some(at) = memmem::find(input, b"\r\n\r\n") {
            break at + 4;
        }
        if input.len() > MAX_REQUEST_HEAD {
            return Err(SetupError::Http(
                "431 Request Header Fields Too Large",
                "the request head is over 8 KiB",
            ));
        }
        if stream.read_buf(input).await.map_err(|_| SetupError::Gone)? == 0 {
            return Err(SetupError::Gone);
        }
    };
    let key = upgrade_key(&input[..head_end])?;
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key)
    );
    input.advance(head_end);
    stream
        .write_all(answer.as_bytes())
        .await
        .map_err(|_| SetupError::Gone)?;

    loop {
        match client_frame(input) {
            Err((code, reason)) => return Err(SetupError::Ws(code, reason.into())),
            Ok(Some(frame)) => {
                return match frame.opcode {
                    0x1 if frame.fin => subscription(&frame.payload)
                        .map(|call| call.map(Box::from))
                        .map_err(|reason| SetupError::Ws(1008, reason.into())),
                    0x8 => Err(SetupError::Gone),
                    _ => Err(SetupError::Ws(
                        1002,
                        "the first frame must be one unfragmented text frame: the subscribe request"
                            .into(),
                    )),
                };
            }
            Ok(None) => {
                if stream.read_buf(input).await.map_err(|_| SetupError::Gone)? == 0 {
                    return Err(SetupError::Gone);
                }
            }
        }
    }
}

/// The `Sec-WebSocket-Key` of a `GET` upgrade request head.
fn upgrade_key(head: &[u8]) -> Result<&[u8], SetupError> {
    if !head.starts_with(b"GET ") {
        return Err(SetupError::Http(
            "405 Method Not Allowed",
            "only GET upgrades to WebSocket",
        ));
    }
    head.split(|&b| b == b'\n')
        .skip(1)
        .find_map(|line| {
            let colon = memchr::memchr(b':', line)?;
            line[..colon]
                .eq_ignore_ascii_case(b"sec-websocket-key")
                .then(|| line[colon + 1..].trim_ascii())
        })
        .filter(|key| !key.is_empty())
        .ok_or(SetupError::Http(
            "400 Bad Request",
            "Sec-WebSocket-Key header missing: not a WebSocket upgrade",
        ))
}

/// The subscription a subscribe request asks for: `Some(callId)` when it has a string
/// `callId`, `None` (every event) when it has none or `null`.
fn subscription(request: &[u8]) -> Result<Option<&[u8]>, &'static str> {
    let Some(at) = memmem::find(request, br#""callId""#) else {
        return Ok(None);
    };
    let rest = request[at + 8..].trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return Err("callId must be followed by ':'");
    };
    let rest = rest.trim_ascii_start();
    if rest.starts_with(b"null") {
        return Ok(None);
    }
    let Some(rest) = rest.strip_prefix(b"\"") else {
        return Err("callId must be a string or null");
    };
    let Some(end) = memchr::memchr2(b'"', b'\\', rest) else {
        return Err("callId is not a terminated string");
    };
    match (rest[end], end) {
        (b'\\', _) => Err("callId with escapes is not supported"),
        (_, 0) => Err("callId must not be empty"),
        _ => Ok(Some(&rest[..end])),
    }
}

/// One frame from the client, unmasked.
#[derive(Debug)]
struct ClientFrame {
    /// Whether this is the last frame of its message.
    fin: bool,
    /// Text 0x1, binary 0x2, close 0x8, ping 0x9, pong 0xA, continuation 0x0.
    opcode: u8,
    /// The payload, unmasked.
    payload: BytesMut,
}

/// Takes the next complete client frame off `input` (`None`: more bytes needed), or the close
/// code and reason of why it is refused.
fn client_frame(input: &mut BytesMut) -> Result<Option<ClientFrame>, (u16, &'static str)> {
    let [b0, b1, ..] = input[..] else {
        return Ok(None);
    };
    if b1 & 0x80 == 0 {
        return Err((1002, "client frames must be masked"));
    }
    let (len, header) = match b1 & 0x7F {
        126 => match input.get(2..4) {
            Some(&[a, b]) => (usize::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match input.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (
                usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                10,
            ),
            None => return Ok(None),
        },
        len => (usize::from(len), 2),
    };
    if len > MAX_CLIENT_FRAME {
        return Err((1009, "client frames are limited to 64 KiB"));
    }
    if input.len() < header + 4 + len {
        return Ok(None);
    }
    input.advance(header);
    let mask = input.split_to(4);
    let mut payload = input.split_to(len);
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(ClientFrame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0F,
        payload,
    }))
}

/// How a live subscription ended.
#[derive(Debug)]
enum End {
    /// Its queue filled up: the publisher removed it.
    Dropped,
    /// The client sent a close frame; `echo` when it can be answered (no frame half written).
    ClientClosed {
        /// Whether a close frame can be sent back.
        echo: bool,
    },
    /// The client broke the protocol: close with this code and reason.
    Protocol(u16, String),
    /// The connection failed or the client went away.
    Gone,
}

/// Writes queued frames to the client in batches of at most `batch` (one `writev` each, more
/// when the kernel takes part of it) while watching the client for a close frame, until the
/// subscription ends.
async fn deliver(
    stream: &mut TcpStream,
    input: &mut BytesMut,
    frames: &mut mpsc::Receiver<Bytes>,
    alive: &mut oneshot::Receiver<()>,
    batch: usize,
) -> End {
    let (mut reader, mut writer) = stream.split();
    let mut pending: Vec<Bytes> = Vec::with_capacity(batch);
    // Index of the first frame of `pending` not completely written.
    let mut next = 0;
    // Whether `pending[next]` has been partly written.
    let mut partial = false;
    loop {
        if next == pending.len() {
            pending.clear();
            next = 0;
            tokio::select! {
                biased;
                _ = &mut *alive => return End::Dropped,
                read = reader.read_buf(input) => {
                    if let Some(end) = from_client(read, input, true) {
                        return end;
                    }
                }
                received = frames.recv_many(&mut pending, batch) => {
                    if received == 0 {
                        return End::Gone;
                    }
                }
            }
        } else {
            let slices: Vec<IoSlice<'_>> =
                pending[next..].iter().map(|f| IoSlice::new(f)).collect();
            let written = tokio::select! {
                biased;
                _ = &mut *alive => return End::Dropped,
                read = reader.read_buf(input) => {
                    match from_client(read, input, !partial) {
                        Some(end) => return end,
                        None => continue,
                    }
                }
                written = writer.write_vectored(&slices) => written,
            };
            drop(slices);
            let mut written = match written {
                Ok(0) | Err(_) => return End::Gone,
                Ok(n) => n,
            };
            while written > 0 {
                let frame = &mut pending[next];
                if written >= frame.len() {
                    written -= frame.len();
                    next += 1;
                    partial = false;
                } else {
                    frame.advance(written);
                    written = 0;
                    partial = true;
                }
            }
        }
    }
}

/// Handles bytes read from a live subscriber: `Some` when the subscription ends.
fn from_client(read: std::io::Result<usize>, input: &mut BytesMut, can_echo: bool) -> Option<End> {
    match read {
        Ok(0) | Err(_) => return Some(End::Gone),
        Ok(_) => {}
    }
    loop {
        match client_frame(input) {
            Ok(None) => return None,
            Ok(Some(frame)) if frame.opcode == 0x8 => {
                return Some(End::ClientClosed { echo: can_echo });
            }
            Ok(Some(_)) => {} // ignored: the subscription cannot change
            // A close frame cannot follow a half-written frame: then just disconnect.
            Err((code, reason)) if can_echo => return Some(End::Protocol(code, reason.into())),
            Err(_) => return Some(End::Gone),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A masked client frame, as a browser would send it.
    fn masked(opcode: u8, payload: &[u8]) -> BytesMut {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = BytesMut::new();
        out.put_u8(0x80 | opcode);
        match payload.len() {
            len @ 0..=125 => out.put_u8(0x80 | len as u8),
            len @ 126..=0xFFFF => {
                out.put_u8(0x80 | 126);
                out.put_u16(len as u16);
            }
            len => {
                out.put_u8(0x80 | 127);
                out.put_u64(len as u64);
            }
        }
        out.put_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn server_frames_use_the_shortest_length_encoding() {
        let mut arena = BytesMut::new();
        for (len, header) in [(0, 2), (125, 2), (126, 4), (0xFFFF, 4), (0x1_0000, 10)] {
            let payload = vec![b'x'; len];
            let frame = text_frame(&mut arena, &payload);
            assert_eq!(frame.len(), header + len, "payload of {len}");
            assert_eq!(frame[0], 0x81);
            assert_eq!(&frame[header..], &payload[..]);
            match header {
                2 => assert_eq!(usize::from(frame[1]), len),
                4 => assert_eq!(usize::from(u16::from_be_bytes([frame[2], frame[3]])), len),
                _ => assert_eq!(
                    u64::from_be_bytes(frame[2..10].try_into().unwrap()),
                    len as u64
                ),
            }
        }
    }

    #[test]
    fn client_frames_are_unmasked_whatever_their_length_and_however_they_arrive() {
        for len in [0, 5, 125, 126, 300, 0xFFFF, 0x1_0000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let wire = masked(0x1, &payload);
            let mut input = BytesMut::new();
            for (i, byte) in wire.iter().enumerate() {
                assert!(
                    client_frame(&mut input).unwrap().is_none(),
                    "len {len}, byte {i}"
                );
                input.put_u8(*byte);
            }
            let frame = client_frame(&mut input).unwrap().unwrap();
            assert!(frame.fin);
            assert_eq!(frame.opcode, 0x1);
            assert_eq!(&frame.payload[..], &payload[..], "len {len}");
            assert!(input.is_empty());
        }
    }

    #[test]
    fn unmasked_or_oversized_client_frames_are_refused() {
        let mut unmasked = BytesMut::from(&[0x81u8, 0x02, b'h', b'i'][..]);
        assert_eq!(client_frame(&mut unmasked).unwrap_err().0, 1002);
        let mut huge = masked(0x2, &vec![0; MAX_CLIENT_FRAME + 1]);
        assert_eq!(client_frame(&mut huge).unwrap_err().0, 1009);
    }

    #[test]
    fn the_subscribe_request_selects_one_call_or_every_event() {
        assert_eq!(subscription(br#"{"op":"subscribe"}"#), Ok(None));
        assert_eq!(
            subscription(br#"{"op":"subscribe","callId":"c-42"}"#),
            Ok(Some(&b"c-42"[..]))
        );
        assert_eq!(
            subscription(br#"{ "callId" : "c-7", "op": "subscribe" }"#),
            Ok(Some(&b"c-7"[..]))
        );
        assert_eq!(
            subscription(br#"{"op":"subscribe","callId":null}"#),
            Ok(None)
        );
        assert!(
            subscription(br#"{"callId":42}"#)
                .unwrap_err()
                .contains("callId")
        );
        assert!(
            subscription(br#"{"callId":""}"#)
                .unwrap_err()
                .contains("callId")
        );
        assert!(
            subscription(br#"{"callId":"a\"b"}"#)
                .unwrap_err()
                .contains("callId")
        );
        assert!(
            subscription(br#"{"callId":"abc"#)
                .unwrap_err()
                .contains("callId")
        );
    }

    #[test]
    fn the_upgrade_needs_a_get_with_a_key() {
        let head = b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nsec-websocket-key:  dGhlIHNhbXBsZSBub25jZQ== \r\n\r\n";
        assert_eq!(upgrade_key(head).unwrap(), b"dGhlIHNhbXBsZSBub25jZQ==");
        assert!(matches!(
            upgrade_key(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Err(SetupError::Http("400 Bad Request", _))
        ));
        assert!(matches!(
            upgrade_key(b"POST / HTTP/1.1\r\nSec-WebSocket-Key: k\r\n\r\n"),
            Err(SetupError::Http("405 Method Not Allowed", _))
        ));
    }

    #[test]
    fn close_reasons_are_cut_to_fit_a_control_frame() {
        let frame = close_frame(1008, &"é".repeat(100));
        assert_eq!(frame[0], 0x88);
        assert!(usize::from(frame[1]) <= 125);
        assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1008);
        assert!(std::str::from_utf8(&frame[4..]).is_ok());
    }

    #[test]
    fn a_full_queue_drops_only_that_subscriber() {
        let mut registry = Registry::default();
        let (fast_tx, mut fast_rx) = mpsc::channel(4);
        let (slow_tx, _slow_rx) = mpsc::channel(1);
        let (alive_fast, _) = oneshot::channel();
        let (alive_slow, mut slow_alive) = oneshot::channel::<()>();
        registry.all.push(Subscription {
            id: 0,
            frames: fast_tx,
            _alive: alive_fast,
        });
        registry.by_call.insert(
            Box::from(&b"c1"[..]),
            vec![Subscription {
                id: 1,
                frames: slow_tx,
                _alive: alive_slow,
            }],
        );
        let frame = Bytes::from_static(b"\x81\x02{}");
        assert_eq!(registry.dispatch(b"c1", &frame), 0);
        assert_eq!(registry.dispatch(b"c1", &frame), 1);
        assert_eq!(registry.len(), 1);
        assert!(registry.by_call.is_empty());
        // The slow subscriber's task is told at once.
        assert_eq!(
            slow_alive.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        );
        assert_eq!(fast_rx.try_recv().unwrap(), frame);
        assert_eq!(fast_rx.try_recv().unwrap(), frame);
    }
}
