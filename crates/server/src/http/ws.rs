//! `GET /v1/ws`: WebSocket delivery.
//!
//! The client sends `{"op":"subscribe","types":[..],"callId":..,"after":SEQ}` (every field
//! optional; sending it again replaces the subscription). The server sends one payload per
//! text frame in seq order; `{"op":"heartbeat","seq":N}` after the replay and every
//! `limits.heartbeat` (N = the last seq the subscriber is caught up to: resume after it);
//! `{"op":"error","error":{..}}` for a bad request. Close codes: 1001 server shutting down,
//! 4008 slow consumer (stopped reading; resume after the seq in the reason), 4011 delivery
//! failed (the log could not be read).

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::feed::{self, Feed, FeedRequest};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;

/// Close code for a subscriber that stopped reading.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code when the log could not be read to resume.
pub const CLOSE_DELIVERY_FAILED: u16 = 4011;

/// Upgrades to a WebSocket after checking the token.
#[utoipa::path(
    get, path = "/v1/ws", tag = "delivery",
    description = "WebSocket. Send {\"op\":\"subscribe\",\"types\":[..],\"callId\":..,\"after\":SEQ}; receive one payload \
        per text frame, {\"op\":\"heartbeat\",\"seq\":N} and {\"op\":\"error\",\"error\":{..}}. Close codes: 1001 shutdown, \
        4008 slow consumer, 4011 delivery failed.",
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
    )
)]
pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(Role::Subscribe)?;
    let permit = state
        .inner
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::unavailable("too many stream connections (limits.max_connections)")
        })?;
    Ok(ws
        .max_message_size(64 * 1024)
        // tungstenite allocates its read buffer up front and zero-fills it to this size before
        // every read attempt (each time the session polls for a client frame): the 128 KiB
        // default cost ~128 KiB of RSS per subscriber and a 128 KiB memset per wake-up. Client
        // frames are small (a subscribe is ~100 bytes); a larger one grows the buffer as needed.
        .read_buffer_size(READ_BUFFER_SIZE)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            Session { state, principal }.run(socket).await;
        })
        .into_response())
}

/// Bytes tungstenite reads from a client per attempt (see [`upgrade`]).
const READ_BUFFER_SIZE: usize = 512;

/// A client's request frame.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum ClientOp {
    /// Start (or replace) the subscription.
    Subscribe {
        #[serde(default)]
        types: Vec<String>,
        #[serde(default, rename = "callId")]
        call_id: Option<String>,
        #[serde(default)]
        after: Option<u64>,
    },
    /// Ask for a heartbeat now (lets a client measure the round trip).
    Ping,
}

struct Session {
    state: AppState,
    principal: Principal,
}

/// Why the send loop stopped.
enum Stop {
    /// The client went away.
    Gone,
    /// The client did not accept a frame in time.
    Stalled,
}

impl Session {
    /// The seq a heartbeat carries: what the subscription is caught up to, or before any
    /// subscription, the gateway's last seq.
    fn caught_up(&self, feed: Option<&Feed>) -> u64 {
        feed.map_or_else(
            || self.state.gateway().hub().last_seq(),
            |f| f.live.last_seq(),
        )
    }

    async fn run(self, socket: WebSocket) {
        // One socket, not `split()`: the halves of a split share it through a BiLock, taken
        // and released for every frame written. The loop reads and writes in turn anyway.
        let mut socket = socket;
        let limits = self.state.limits().clone();
        let metrics = self.state.gateway().metrics().clone();
        let shutdown = self.state.inner.shutdown.clone();
        let send_timeout = limits.send_timeout;
        let mut feed: Option<Feed> = None;
        let mut guard = None;
        // Reused for every burst, so a burst costs no allocation (it grows to the largest
        // burst seen, at most MAX_FRAMES_PER_FLUSH pointers).
        let mut batch: Vec<std::sync::Arc<voicetk_delivery::Delivered>> = Vec::new();
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.heartbeat,
            limits.heartbeat,
        );
        // Made once: a fresh `cancelled()` per loop turn would register (and on drop
        // unregister) a waiter under the token's lock for every event sent.
        let cancelled = shutdown.cancelled();
        let mut cancelled = std::pin::pin!(cancelled);
        let stop = loop {
            tokio::select! {
                () = &mut cancelled => {
                    let _ = close(&mut socket, 1001, "server shutting down").await;
                    return;
                }
                msg = socket.next() => {
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break Stop::Gone,
                        Some(Ok(_)) => continue, // pings are answered by the library
                    };
                    match serde_json::from_str::<ClientOp>(text.as_str()) {
                        Ok(ClientOp::Subscribe { types, call_id, after }) => {
                            let req = FeedRequest { types, call_id, after };
                            match feed::open(&self.state, &self.principal, &req).await {
                                Ok(mut f) => {
                                    guard = Some(metrics.subscriber("ws", f.live.last_seq()));
                                    let replay = std::mem::take(&mut f.replay);
                                    let upto = f.replay_upto;
                                    feed = Some(f);
                                    let frames = replay.into_iter().map(|(_, json)| json);
                                    if let Err(s) = send_frames(&mut socket, frames, send_timeout).await {
                                        break s;
                                    }
                                    if let Some(seq) = upto {
                                        if let Err(s) = send_heartbeat(&mut socket, seq, send_timeout).await {
                                            break s;
                                        }
                                    }
                                }
                                Err(e) => {
                                    if let Err(s) = send_error(&mut socket, &e, send_timeout).await {
                                        break s;
                                    }
                                }
                            }
                        }
                        Ok(ClientOp::Ping) => {
                            let seq = self.caught_up(feed.as_ref());
                            if let Err(s) = send_heartbeat(&mut socket, seq, send_timeout).await {
                                break s;
                            }
                        }
                        Err(e) => {
                            let err = ApiError::bad_request(format!(
                                "expected {{\"op\":\"subscribe\",\"types\":[..],\"callId\":..,\"after\":SEQ}} or {{\"op\":\"ping\"}}: {e}"
                            ));
                            if let Err(s) = send_error(&mut socket, &err, send_timeout).await {
                                break s;
                            }
                        }
                    }
                }
                _ = ticks.tick() => {
                    let seq = self.caught_up(feed.as_ref());
                    if let Err(s) = send_heartbeat(&mut socket, seq, send_timeout).await {
                        break s;
                    }
                }
                item = next_event(&mut feed) => match item {
                    Some(Ok(d)) => {
                        // Send this event and whatever else is ready, then flush once: under
                        // load that is one write per burst instead of one per event.
                        batch.clear();
                        batch.push(d);
                        let mut after = None;
                        if let Some(f) = feed.as_mut() {
                            while batch.len() < MAX_FRAMES_PER_FLUSH {
                                match f.live.next().now_or_never() {
                                    Some(Some(Ok(d))) => batch.push(d),
                                    Some(other) => {
                                        after = Some(other);
                                        break;
                                    }
                                    None => break,
                                }
                            }
                        }
                        let last = batch.last().map(|d| d.seq);
                        if let Err(s) = send_batch(&mut socket, &mut batch, send_timeout).await {
                            break s;
                        }
                        if let (Some(g), Some(seq)) = (&guard, last) {
                            g.delivered(seq);
                            if let Some(f) = feed.as_ref() {
                                g.resyncs(f.live.resyncs());
                            }
                        }
                        match after {
                            Some(Some(Err(e))) => {
                                let _ = close(&mut socket, CLOSE_DELIVERY_FAILED, &format!("delivery failed: {e}")).await;
                                return;
                            }
                            Some(None) => {
                                let _ = close(&mut socket, 1001, "server shutting down").await;
                                return;
                            }
                            _ => {}
                        }
                    }
                    Some(Err(e)) => {
                        let _ = close(&mut socket, CLOSE_DELIVERY_FAILED, &format!("delivery failed: {e}")).await;
                        return;
                    }
                    None => {
                        // The hub closed: the server is stopping.
                        let _ = close(&mut socket, 1001, "server shutting down").await;
                        return;
                    }
                }
            }
        };
        if let Stop::Stalled = stop {
            metrics.closed_slow("ws");
            let seq = feed.as_ref().map_or(0, |f| f.live.last_seq());
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                close(
                    &mut socket,
                    CLOSE_SLOW_CONSUMER,
                    &format!("slow consumer: resume after seq {seq}"),
                ),
            )
            .await;
        }
    }
}

async fn next_event(
    feed: &mut Option<Feed>,
) -> Option<Result<std::sync::Arc<voicetk_delivery::Delivered>, voicetk_delivery::DeliveryError>> {
    match feed {
        Some(f) => f.live.next().await,
        None => std::future::pending().await,
    }
}

type Tx = WebSocket;

/// Most frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Sends (and empties) `batch`.
async fn send_batch(
    tx: &mut Tx,
    batch: &mut Vec<std::sync::Arc<voicetk_delivery::Delivered>>,
    timeout: Duration,
) -> Result<(), Stop> {
    // The shared serialized bytes go out as they are: no copy, no re-serialization; and they
    // are checked as UTF-8 once per event, by the first subscriber that sends it.
    let frames = batch
        .drain(..)
        .map(|d| d.encoded(|d| Utf8Bytes::try_from(d.json.clone()).ok()));
    write_frames(tx, frames, timeout).await
}

/// Writes JSON payloads as text frames, then flushes once.
async fn send_frames(
    tx: &mut Tx,
    frames: impl IntoIterator<Item = bytes::Bytes>,
    timeout: Duration,
) -> Result<(), Stop> {
    let frames = frames
        .into_iter()
        .map(|json| Utf8Bytes::try_from(json).ok());
    write_frames(tx, frames, timeout).await
}

/// Writes text frames (`None`: a payload that is not UTF-8, which ends the session), then
/// flushes once; the write is bounded by `timeout`.
async fn write_frames(
    tx: &mut Tx,
    frames: impl IntoIterator<Item = Option<Utf8Bytes>>,
    timeout: Duration,
) -> Result<(), Stop> {
    let write = async {
        for text in frames {
            let text = text.ok_or(Stop::Gone)?;
            tx.feed(Message::Text(text)).await.map_err(|_| Stop::Gone)?;
        }
        tx.flush().await.map_err(|_| Stop::Gone)
    };
    bounded(write, timeout).await
}

async fn send(tx: &mut Tx, msg: Message, timeout: Duration) -> Result<(), Stop> {
    bounded(
        async { tx.send(msg).await.map_err(|_| Stop::Gone) },
        timeout,
    )
    .await
}

/// Runs `write`, ending with [`Stop::Stalled`] if it is still blocked `timeout` after it
/// first had to wait for the client.
///
/// A write that completes at once (the socket had room: the usual case) arms no timer; only
/// one that has to wait is put under `timeout`. That spares a clock read and a timer
/// registration and removal per send.
async fn bounded(
    write: impl std::future::Future<Output = Result<(), Stop>>,
    timeout: Duration,
) -> Result<(), Stop> {
    let mut write = std::pin::pin!(write);
    if let std::task::Poll::Ready(r) = futures::poll!(write.as_mut()) {
        return r;
    }
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => Err(Stop::Stalled),
    }
}

async fn send_heartbeat(tx: &mut Tx, seq: u64, timeout: Duration) -> Result<(), Stop> {
    let text = json!({ "op": "heartbeat", "seq": seq }).to_string();
    send(tx, Message::Text(text.into()), timeout).await
}

async fn send_error(tx: &mut Tx, e: &ApiError, timeout: Duration) -> Result<(), Stop> {
    let text = json!({ "op": "error", "error": e.body().error }).to_string();
    send(tx, Message::Text(text.into()), timeout).await
}

async fn close(tx: &mut Tx, code: u16, reason: &str) -> Result<(), axum::Error> {
    // A close reason is limited to 123 bytes.
    let reason: String = reason.chars().take(120).collect();
    tx.send(Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })))
    .await
}
