//! `POST /v1/events` (ingest) and `GET /v1/events` (history).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use voicetk_events::{Envelope, ParseOptions, parse_event};
use voicetk_log::StoredEvent;

use super::AppState;
use super::feed::{FeedRequest, filter_for, query_for};
use super::openapi::{HistoryPage, IngestAck, TelephonyEventDoc};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::gateway::{Gateway, IngestError};

/// `application/x-ndjson`: one payload per line.
const NDJSON: &str = "application/x-ndjson";

/// Ingests one payload (`application/json`: an object, or an array of payloads) or many
/// (`application/x-ndjson`). All or nothing; 202 once durable.
#[utoipa::path(
    post, path = "/v1/events", tag = "events",
    request_body(content = TelephonyEventDoc, description = "One payload (application/json), an array of \
        payloads (application/json), or NDJSON (application/x-ndjson, one payload per line). All or nothing. \
        An Idempotency-Key header makes re-sends return the original seqs."),
    params(("Idempotency-Key" = Option<String>, Header, description = "Re-sends with the same key return the original seq(s)")),
    responses(
        (status = 202, description = "Durable in the log", body = IngestAck),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
        (status = 409, description = "invalid_transition: the call's state forbids the event (names the line of a batch)", body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 415, description = "Content-Type is neither JSON nor NDJSON", body = ErrorBody),
        (status = 422, description = "Schema error (path named) or unsupported_event", body = ErrorBody),
        (status = 503, description = "The log could not store the events; nothing stored", body = ErrorBody),
    )
)]
pub(super) async fn post_events(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require(Role::Publish)?;
    let ndjson = match content_type(&headers) {
        Some("application/json") => false,
        Some(NDJSON) | Some("application/ndjson") => true,
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "Content-Type {}: expected application/json (one payload or an array) or \
                 application/x-ndjson (one payload per line)",
                other.map_or_else(|| "missing".to_owned(), |c| format!("{c:?}"))
            )));
        }
    };
    let limits = state.limits();
    let bytes = read_body(body, limits.max_body_bytes).await?;
    let opts = ParseOptions {
        telephony: state.gateway().telephony(),
        max_bytes: limits.max_payload_bytes,
    };
    let (mut envelopes, single) = if ndjson {
        (parse_lines(&bytes, &opts)?, false)
    } else {
        parse_json_body(&bytes, &opts)?
    };
    if envelopes.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_batch",
            "the request holds no events",
        ));
    }
    if envelopes.len() > limits.max_batch_events {
        return Err(ApiError::too_large(format!(
            "a batch of {} events is over the limit of {} (limits.max_batch_events)",
            envelopes.len(),
            limits.max_batch_events
        )));
    }
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))
        })
        .transpose()?;
    for (i, (_, envelope)) in envelopes.iter_mut().enumerate() {
        scope_agent(&principal, envelope, state.gateway()).map_err(|e| e.with_line(i + 1))?;
        if let (Some(key), None) = (&idempotency_key, &envelope.event_id) {
            // A key covers the whole request; each event of a batch gets its own id from it,
            // so a re-sent batch maps event by event to the original seqs (even after restart).
            envelope.event_id = Some(if single {
                key.clone()
            } else {
                format!("{key}#{}", i + 1)
            });
        }
    }
    let positions: Vec<usize> = envelopes.iter().map(|(p, _)| *p).collect();
    let envelopes: Vec<Envelope> = envelopes.into_iter().map(|(_, e)| e).collect();
    match state.gateway().ingest(envelopes).await {
        Ok(seqs) => {
            let body = match (single, seqs.as_slice()) {
                (true, [seq]) => json!({ "seq": seq }),
                _ => json!({ "seqs": seqs }),
            };
            Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
        Err(e) => Err(ingest_error(
            e,
            |i| positions.get(i).copied().unwrap_or(i + 1),
            single,
        )),
    }
}

/// Maps a pipeline error to the HTTP answer; `position` turns an event index into its line.
pub(super) fn ingest_error(
    e: IngestError,
    position: impl Fn(usize) -> usize,
    single: bool,
) -> ApiError {
    match e {
        IngestError::Refused { index, refusal } => {
            let err = match refusal.code() {
                "unsupported_event" => {
                    ApiError::unprocessable("unsupported_event", refusal.message)
                }
                _ => ApiError::invalid_transition(refusal.message),
            };
            if single {
                err
            } else {
                err.with_line(position(index))
            }
        }
        IngestError::Storage(e) => {
            tracing::error!(error = %e, "ingest failed in the log");
            ApiError::unavailable(
                "the event log could not store the events; nothing was stored, retry",
            )
        }
        IngestError::Unavailable => ApiError::unavailable("the gateway is shutting down"),
    }
}

/// An agent-scoped publisher may only publish for its agent, about its agent's calls; its
/// events get that agent. Another agent's call is answered as unknown (404), as it is to
/// subscribers, so a scoped token cannot even learn that it exists.
pub(super) fn scope_agent(
    principal: &Principal,
    envelope: &mut Envelope,
    gateway: &Gateway,
) -> Result<(), ApiError> {
    let Some(mine) = &principal.agent else {
        return Ok(());
    };
    match &envelope.agent {
        None => envelope.agent = Some(mine.clone()),
        Some(a) if a == mine => {}
        Some(a) => {
            return Err(ApiError::forbidden(format!(
                "this token may publish for agent {mine:?} only, not {a:?}"
            ))
            .with_path("agent"));
        }
    }
    let call_id = envelope.call_id();
    match gateway.call(call_id) {
        Some(call) if call.agent.as_deref().is_some_and(|owner| owner != mine) => {
            Err(ApiError::unknown_call(call_id).with_path("detail.callId"))
        }
        _ => Ok(()),
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim())
}

/// Reads the body up to `limit` bytes; 413 beyond.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The limit error sits somewhere down axum's chain of causes.
        let too_large = std::iter::successors(std::error::Error::source(&e), |s| s.source())
            .any(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::too_large(format!(
                "the request body is over the limit of {limit} bytes (limits.max_body_bytes)"
            ))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })
}

/// NDJSON: each non-blank line one payload; the first bad line fails the batch, named.
fn parse_lines(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<(usize, Envelope)>, ApiError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let envelope = parse_event(line, opts).map_err(|e| ApiError::from(e).with_line(i + 1))?;
        out.push((i + 1, envelope));
    }
    Ok(out)
}

/// `application/json`: an object (single) or an array (batch, positions are index + 1).
fn parse_json_body(
    bytes: &[u8],
    opts: &ParseOptions,
) -> Result<(Vec<(usize, Envelope)>, bool), ApiError> {
    let trimmed = bytes.trim_ascii();
    if trimmed.first() == Some(&b'[') {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(trimmed).map_err(|e| ApiError::malformed_json(&e))?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let envelope = voicetk_events::from_value(item, opts)
                .map_err(|e| ApiError::from(e).with_line(i + 1))?;
            out.push((i + 1, envelope));
        }
        Ok((out, false))
    } else {
        let envelope = parse_event(trimmed, opts)?;
        Ok((vec![(1, envelope)], true))
    }
}

/// Query of `GET /v1/events` and the stream endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventsQuery {
    /// Only events with seq greater than this. Default 0.
    pub after: Option<u64>,
    /// Comma-separated type names (Aura or LWC).
    pub types: Option<String>,
    /// Only this call's events.
    pub call_id: Option<String>,
    /// At most this many (history only). Default 100, at most 1,000.
    pub limit: Option<usize>,
}

/// Largest history page.
const MAX_PAGE: usize = 1_000;

/// History, oldest first: `{"events":[..payloads..],"next":SEQ|null}`; `next` is the `after`
/// for the following page, null when this page reached the end.
#[utoipa::path(
    get, path = "/v1/events", tag = "events",
    params(
        ("after" = Option<u64>, Query, description = "Only events with a greater seq (default 0)"),
        ("types" = Option<String>, Query, description = "Comma-separated types, Aura or LWC names"),
        ("callId" = Option<String>, Query, description = "Only this call's events"),
        ("limit" = Option<usize>, Query, description = "Page size, default 100, at most 1000"),
    ),
    responses(
        (status = 200, description = "Events, oldest first", body = HistoryPage),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
        (status = 422, description = "Unknown or unsupported type", body = ErrorBody),
    )
)]
pub(super) async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    principal.require(Role::Subscribe)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let after = q.after.unwrap_or(0);
    let req = FeedRequest {
        types: q.types.into_iter().collect(),
        call_id: q.call_id,
        after: Some(after),
    };
    let query = query_for(&filter_for(&state, &principal, &req)?, after, limit);
    let events = state
        .gateway()
        .log()
        .read(query)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let mut body = String::from("{\"events\":");
    splice_events(&mut body, &events);
    body.push_str(",\"next\":");
    match next {
        Some(n) => body.push_str(&n.to_string()),
        None => body.push_str("null"),
    }
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Appends a JSON array of stored payloads to `body`. The stored JSON is the delivered
/// payload: it is spliced in as it is, never parsed and re-serialized.
pub(super) fn splice_events(body: &mut String, events: &[StoredEvent]) {
    body.reserve(events.iter().map(|e| e.json.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&e.json);
    }
    body.push(']');
}
