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
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            Session { state, principal }.run(socket).await;
        })
        .into_response())
}

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
        let (mut tx, mut rx) = socket.split();
        let limits = self.state.limits().clone();
        let metrics = self.state.gateway().metrics().clone();
        let shutdown = self.state.inner.shutdown.clone();
        let send_timeout = limits.send_timeout;
        let mut feed: Option<Feed> = None;
        let mut guard = None;
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.heartbeat,
            limits.heartbeat,
        );
        let stop = loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    let _ = close(&mut tx, 1001, "server shutting down").await;
                    return;
                }
                msg = rx.next() => {
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
                                    if let Err(s) = send_frames(&mut tx, frames, send_timeout).await {
                                        break s;
                                    }
                                    if let Some(seq) = upto {
                                        if let Err(s) = send_heartbeat(&mut tx, seq, send_timeout).await {
                                            break s;
                                        }
                                    }
                                }
                                Err(e) => {
                                    if let Err(s) = send_error(&mut tx, &e, send_timeout).await {
                                        break s;
                                    }
                                }
                            }
                        }
                        Ok(ClientOp::Ping) => {
                            let seq = self.caught_up(feed.as_ref());
                            if let Err(s) = send_heartbeat(&mut tx, seq, send_timeout).await {
                                break s;
                            }
                        }
                        Err(e) => {
                            let err = ApiError::bad_request(format!(
                                "expected {{\"op\":\"subscribe\",\"types\":[..],\"callId\":..,\"after\":SEQ}} or {{\"op\":\"ping\"}}: {e}"
                            ));
                            if let Err(s) = send_error(&mut tx, &err, send_timeout).await {
                                break s;
                            }
                        }
                    }
                }
                _ = ticks.tick() => {
                    let seq = self.caught_up(feed.as_ref());
                    if let Err(s) = send_heartbeat(&mut tx, seq, send_timeout).await {
                        break s;
                    }
                }
                item = next_event(&mut feed) => match item {
                    Some(Ok(d)) => {
                        // Send this event and whatever else is ready, then flush once: under
                        // load that is one write per burst instead of one per event.
                        let mut batch = vec![d];
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
                        if let Err(s) = send_batch(&mut tx, batch, send_timeout).await {
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
                                let _ = close(&mut tx, CLOSE_DELIVERY_FAILED, &format!("delivery failed: {e}")).await;
                                return;
                            }
                            Some(None) => {
                                let _ = close(&mut tx, 1001, "server shutting down").await;
                                return;
                            }
                            _ => {}
                        }
                    }
                    Some(Err(e)) => {
                        let _ = close(&mut tx, CLOSE_DELIVERY_FAILED, &format!("delivery failed: {e}")).await;
                        return;
                    }
                    None => {
                        // The hub closed: the server is stopping.
                        let _ = close(&mut tx, 1001, "server shutting down").await;
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
                    &mut tx,
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

type Tx = futures::stream::SplitSink<WebSocket, Message>;

/// Most frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 64;

async fn send_batch(
    tx: &mut Tx,
    batch: Vec<std::sync::Arc<voicetk_delivery::Delivered>>,
    timeout: Duration,
) -> Result<(), Stop> {
    // The shared serialized bytes go out as they are: no copy, no re-serialization.
    send_frames(tx, batch.into_iter().map(|d| d.json.clone()), timeout).await
}

/// Writes text frames, then flushes once; the whole write is bounded by `timeout`.
async fn send_frames(
    tx: &mut Tx,
    frames: impl IntoIterator<Item = bytes::Bytes>,
    timeout: Duration,
) -> Result<(), Stop> {
    let write = async {
        for json in frames {
            let text = Utf8Bytes::try_from(json).map_err(|_| Stop::Gone)?;
            tx.feed(Message::Text(text)).await.map_err(|_| Stop::Gone)?;
        }
        tx.flush().await.map_err(|_| Stop::Gone)
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(r) => r,
        Err(_) => Err(Stop::Stalled),
    }
}

async fn send(tx: &mut Tx, msg: Message, timeout: Duration) -> Result<(), Stop> {
    match tokio::time::timeout(timeout, tx.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stop::Gone),
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
