//! `GET /v1/events/stream`: Server-Sent Events.
//!
//! Each event is sent as `id: <seq>`, `event: <TYPE>`, `data: <payload>`. Replayed events
//! (a new subscriber's view of its active calls) carry no `id`, so that they never move the
//! browser's `Last-Event-ID`; the replay ends with a `heartbeat` whose `id` is the seq the
//! live part starts after. Heartbeats (`event: heartbeat`, `data: {"seq":N}`, `id: N`) carry
//! the last seq the subscriber is caught up to. `Last-Event-ID` takes precedence over `after`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::events::EventsQuery;
use super::feed::{self, Feed, FeedRequest};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::metrics::{Metrics, SubscriberGuard};

/// Frames queued towards one SSE client before it counts as slow.
const SSE_QUEUE: usize = 32;

/// Opens an SSE stream.
#[utoipa::path(
    get, path = "/v1/events/stream", tag = "delivery",
    params(
        ("after" = Option<u64>, Query, description = "Resume after this seq; without it, the active calls are replayed first"),
        ("types" = Option<String>, Query, description = "Comma-separated types"),
        ("callId" = Option<String>, Query, description = "Only this call"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this seq (wins over `after`)"),
    ),
    responses(
        (status = 200, description = "text/event-stream: `id: seq`, `event: TYPE`, `data: payload`; `heartbeat` events carry the seq", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
        (status = 410, description = "history_pruned: `after` is older than the log keeps", body = ErrorBody),
        (status = 422, description = "Unknown or unsupported type", body = ErrorBody),
    )
)]
pub(super) async fn sse(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    principal.require(Role::Subscribe)?;
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be a seq (a whole number)")
                        .with_path("Last-Event-ID")
                })
        })
        .transpose()?;
    let req = FeedRequest {
        types: q.types.into_iter().collect(),
        call_id: q.call_id,
        after: last_event_id.or(q.after),
    };
    let permit = state
        .inner
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::unavailable("too many stream connections (limits.max_connections)")
        })?;
    let feed = feed::open(&state, &principal, &req).await?;
    let (tx, rx) = mpsc::channel::<Frame>(SSE_QUEUE);
    let metrics = state.gateway().metrics().clone();
    let guard = metrics.subscriber("sse", feed.live.last_seq());
    let limits = state.limits().clone();
    let shutdown = state.inner.shutdown.clone();
    tokio::spawn(async move {
        let _permit = permit;
        pump(
            feed,
            tx,
            limits.heartbeat,
            limits.send_timeout,
            shutdown,
            guard,
            metrics,
        )
        .await;
    });
    // Each frame goes out as its parts: the payload bytes are the ones every subscriber shares.
    let body = ReceiverStream::new(rx).flat_map(|f| {
        futures::stream::iter(
            [f.head, f.data, Bytes::from_static(b"\n\n")].map(Ok::<_, Infallible>),
        )
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// One SSE event: its `id:`/`event:` lines and the start of `data:`, then the payload bytes
/// (one line of compact JSON).
struct Frame {
    head: Bytes,
    data: Bytes,
}

impl Frame {
    fn new(id: Option<u64>, event: &str, data: Bytes) -> Frame {
        let head = match id {
            Some(id) => format!("id: {id}\nevent: {event}\ndata: "),
            None => format!("event: {event}\ndata: "),
        };
        Frame {
            head: Bytes::from(head),
            data,
        }
    }

    fn json(id: Option<u64>, event: &str, data: &serde_json::Value) -> Frame {
        Frame::new(id, event, Bytes::from(data.to_string()))
    }
}

/// Moves the feed into the client's queue until the client leaves, stalls, or the server
/// shuts down.
async fn pump(
    mut feed: Feed,
    tx: mpsc::Sender<Frame>,
    heartbeat: Duration,
    send_timeout: Duration,
    shutdown: CancellationToken,
    guard: SubscriberGuard,
    metrics: Arc<Metrics>,
) {
    // Queues a frame; `Err(true)` if the client left it waiting longer than `send_timeout`,
    // `Err(false)` if the client is gone. A frame that fits at once (the usual case) arms no
    // timer.
    let send = |event: Frame| {
        let tx = &tx;
        async move {
            let event = match tx.try_send(event) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(false),
                Err(mpsc::error::TrySendError::Full(event)) => event,
            };
            match tokio::time::timeout(send_timeout, tx.send(event)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(false),
                Err(_) => Err(true),
            }
        }
    };
    let slow = |stalled: bool| {
        if stalled {
            metrics.closed_slow("sse");
        }
    };
    for (event_type, json) in std::mem::take(&mut feed.replay) {
        if let Err(stalled) = send(Frame::new(None, event_type.as_str(), json)).await {
            return slow(stalled);
        }
    }
    if let Some(upto) = feed.replay_upto {
        if let Err(stalled) = send(heartbeat_event(upto)).await {
            return slow(stalled);
        }
    }
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    // Made once, not once per event (each one registers a waiter under the token's lock).
    let cancelled = shutdown.cancelled();
    let mut cancelled = std::pin::pin!(cancelled);
    loop {
        tokio::select! {
            () = &mut cancelled => {
                let close = json!({"reason": "server shutting down", "seq": feed.live.last_seq()});
                let _ = send(Frame::json(None, "close", &close)).await;
                return;
            }
            _ = ticks.tick() => {
                if let Err(stalled) = send(heartbeat_event(feed.live.last_seq())).await {
                    return slow(stalled);
                }
            }
            item = feed.live.next() => match item {
                Some(Ok(d)) => {
                    let event = Frame::new(Some(d.seq), d.event_type.as_str(), d.json.clone());
                    if let Err(stalled) = send(event).await {
                        return slow(stalled);
                    }
                    guard.delivered(d.seq);
                    guard.resyncs(feed.live.resyncs());
                }
                Some(Err(e)) => {
                    let body = ApiError::unavailable(format!("event delivery failed: {e}")).body();
                    let data = serde_json::to_value(&body).unwrap_or_default();
                    let _ = send(Frame::json(None, "error", &data)).await;
                    return;
                }
                None => return,
            }
        }
    }
}

fn heartbeat_event(seq: u64) -> Frame {
    Frame::json(Some(seq), "heartbeat", &json!({ "seq": seq }))
}
