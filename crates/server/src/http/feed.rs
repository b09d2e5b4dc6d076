//! What WebSocket and SSE subscribers receive, built once for both transports:
//! replay of the agent's active calls (new subscribers), or resume after a seq, then live
//! events, with no gap and no duplicate.
//!
//! Back-pressure policy (CONTRACT.md §4, STYLE.md habit 4):
//! - live events reach each subscriber through its own bounded queue in the hub
//!   (`limits.subscriber_buffer` events, counted after its filter); the publisher never waits
//!   for a subscriber;
//! - a subscriber that falls further behind is **resynced from the log**: its stream drops the
//!   live subscription, reads the missed events from the log after the last seq it delivered,
//!   and rejoins live (the [`resume`] algorithm), so it sees every event once, in order;
//! - a subscriber that stops reading altogether (one frame not accepted within
//!   `limits.send_timeout`) is **closed** (WebSocket close code 4008, "slow consumer: resume
//!   after seq N"); it can reconnect with `after` = the last seq it processed.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use voicetk_delivery::{Delivered, Filter, History, HistoryError, ResumeStream, resume};
use voicetk_events::{Channel, EventType, TelephonyEvent};
use voicetk_log::{EventLog, ReadQuery, StoredEvent};

use super::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// Adapts the log to the delivery crate's history trait.
pub(crate) struct LogHistory(pub Arc<dyn EventLog>);

impl History for LogHistory {
    fn read_after(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Arc<Delivered>>, HistoryError>> {
        let query = query_for(filter, after, limit);
        Box::pin(async move {
            let events = self
                .0
                .read(query)
                .await
                .map_err(|e| HistoryError::new(format!("cannot read the event log: {e}")))?;
            events.into_iter().map(delivered_from_stored).collect()
        })
    }
}

/// The log query for what `filter` wants after `after`.
pub(crate) fn query_for(filter: &Filter, after: u64, limit: usize) -> ReadQuery {
    let mut query = ReadQuery::after(after).with_limit(limit);
    if let Some(types) = &filter.types {
        query = query.with_types(types.iter().copied());
    }
    if let Some(call_id) = &filter.call_id {
        query = query.with_call_id(call_id.clone());
    }
    if let Some(agent) = &filter.agent {
        query = query.with_agent(agent.clone());
    }
    query
}

/// A stored event as a delivered one, keeping the stored JSON bytes.
pub(crate) fn delivered_from_stored(stored: StoredEvent) -> Result<Arc<Delivered>, HistoryError> {
    let envelope = stored.envelope().map_err(|e| {
        HistoryError::new(format!("stored event {} does not parse: {e}", stored.seq))
    })?;
    Delivered::from_json(envelope, Bytes::from(stored.json))
        .map_err(|e| HistoryError::new(e.to_string()))
}

/// What a subscriber asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct FeedRequest {
    /// Comma-separated or listed type names.
    pub types: Vec<String>,
    /// One call only.
    pub call_id: Option<String>,
    /// Resume after this seq; none means "replay my active calls, then live".
    pub after: Option<u64>,
}

/// Builds the subscriber's filter: requested types and call, plus the principal's agent scope.
pub(crate) fn filter_for(
    state: &AppState,
    principal: &Principal,
    req: &FeedRequest,
) -> Result<Filter, ApiError> {
    // Each entry may itself be a comma-separated list (`?types=HOLD,resume`).
    let names: Vec<&str> = req
        .types
        .iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let mut filter = Filter::from_names(state.gateway().telephony(), &names)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()).with_path("types"))?;
    if let Some(call_id) = &req.call_id {
        filter = filter.call_id(call_id.clone());
    }
    if let Some(agent) = &principal.agent {
        filter = filter.agent(agent.clone());
    }
    Ok(filter)
}

/// A subscriber's stream: the replay (new subscribers only), then resume/live events.
pub(crate) struct Feed {
    /// Past events of the visible active calls, each marked `"replayed": true`.
    pub replay: Vec<(EventType, Bytes)>,
    /// Where the replay stops: everything up to this seq is accounted for. `None` when the
    /// subscriber resumed after a seq of its own.
    pub replay_upto: Option<u64>,
    /// Events after the start, gap-free and duplicate-free, resynced from the log on lag.
    pub live: ResumeStream,
}

/// Opens the subscriber's feed.
///
/// # Errors
/// 422 for bad types; 410 `history_pruned` when `after` is older than the log still holds.
pub(crate) async fn open(
    state: &AppState,
    principal: &Principal,
    req: &FeedRequest,
) -> Result<Feed, ApiError> {
    let filter = filter_for(state, principal, req)?;
    let gateway = state.gateway();
    let log = gateway.log().clone();
    let history: Arc<dyn History> = Arc::new(LogHistory(log.clone()));
    match req.after {
        Some(after) => {
            let first = log.first_seq().await.map_err(|e| ApiError::internal(&e))?;
            if first > 0 && after + 1 < first {
                return Err(ApiError::new(
                    axum::http::StatusCode::GONE,
                    "history_pruned",
                    format!(
                        "events after seq {after} are no longer in the log (retention keeps seq {first} onwards); \
                         subscribe without `after` to start from the current state"
                    ),
                ));
            }
            Ok(Feed {
                replay: Vec::new(),
                replay_upto: None,
                live: resume(gateway.hub(), history, filter, after),
            })
        }
        None => {
            let start = gateway.hub().last_seq();
            // Subscribe before reading the replay, so nothing after `start` is missed.
            let live = resume(gateway.hub(), history, filter.clone(), start);
            let replay = replay(state, principal, &filter, start).await?;
            Ok(Feed {
                replay,
                replay_upto: Some(start),
                live,
            })
        }
    }
}

/// Most events replayed per call.
const REPLAY_LIMIT: usize = 1_000;

/// The past events (seq <= `upto`) of the active calls the subscriber may see, oldest call
/// first, each marked `"replayed": true`. Of AUDIO_STATS only the last per channel is kept:
/// the current state, not the whole series.
async fn replay(
    state: &AppState,
    principal: &Principal,
    filter: &Filter,
    upto: u64,
) -> Result<Vec<(EventType, Bytes)>, ApiError> {
    let mut calls: Vec<_> = state
        .gateway()
        .calls()
        .into_iter()
        .filter(|c| c.is_active() && principal.can_see(c.agent.as_deref()))
        .filter(|c| filter.call_id.as_ref().is_none_or(|id| *id == c.call_id))
        .collect();
    calls.sort_by_key(|c| c.first_seq);
    let mut out = Vec::new();
    for call in calls {
        // The call's own events, whatever agent each one names.
        let of_call = Filter {
            types: filter.types.clone(),
            call_id: Some(call.call_id.clone()),
            agent: None,
        };
        let query = query_for(&of_call, call.first_seq.saturating_sub(1), REPLAY_LIMIT);
        let events = state
            .gateway()
            .log()
            .read(query)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let mut envelopes: Vec<_> = events
            .iter()
            .filter(|e| e.seq <= upto)
            .filter_map(|e| e.envelope().ok())
            .collect();
        let last_audio = |channel: Channel| {
            envelopes.iter().rposition(
                |e| matches!(&e.event, TelephonyEvent::AudioStats(d) if d.stats == channel),
            )
        };
        let keep = [last_audio(Channel::Input), last_audio(Channel::Output)];
        let mut index = 0;
        envelopes.retain(|e| {
            let i = index;
            index += 1;
            e.event_type() != EventType::AudioStats || keep.contains(&Some(i))
        });
        for mut envelope in envelopes {
            envelope.replayed = true;
            out.push((envelope.event_type(), Bytes::from(envelope.to_json())));
        }
    }
    Ok(out)
}
