//! `GET /v1/calls` and `GET /v1/calls/{callId}`: call state from the durable view.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use voicetk_log::ReadQuery;

use super::AppState;
use super::events::splice_events;
use super::openapi::{CallWithEvents, CallsPage};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;

/// Query of `GET /v1/calls`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CallsQuery {
    /// Include ended and closed calls still tracked. Default false: active calls only.
    pub all: Option<bool>,
}

/// The calls the principal may see: `{"calls":[CallState..]}`, most recently updated first.
#[utoipa::path(
    get, path = "/v1/calls", tag = "calls",
    params(("all" = Option<bool>, Query, description = "Include ended calls still tracked")),
    responses(
        (status = 200, description = "The calls the token may see", body = CallsPage),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<CallsQuery>,
) -> Result<Response, ApiError> {
    principal.require(Role::Subscribe)?;
    let all = q.all.unwrap_or(false);
    let calls = state.gateway().calls();
    let calls: Vec<&voicetk_engine::CallState> = calls
        .iter()
        .filter(|c| principal.can_see(c.agent.as_deref()) && (all || c.is_active()))
        .map(|c| &**c)
        .collect();
    Ok(Json(json!({ "calls": calls })).into_response())
}

/// Most events returned with one call.
const CALL_HISTORY_LIMIT: usize = 1_000;

/// One call's state and its events: `{"call":CallState,"events":[..payloads..]}`.
#[utoipa::path(
    get, path = "/v1/calls/{callId}", tag = "calls",
    params(("callId" = String, Path, description = "The call")),
    responses(
        (status = 200, description = "The call's state and events", body = CallWithEvents),
        (status = 404, description = "unknown_call (also for another agent's call)", body = ErrorBody),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
    )
)]
pub(super) async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(call_id): Path<String>,
) -> Result<Response, ApiError> {
    principal.require(Role::Subscribe)?;
    let call = state
        .gateway()
        .call(&call_id)
        .filter(|c| principal.can_see(c.agent.as_deref()))
        .ok_or_else(|| ApiError::unknown_call(&call_id))?;
    let events = state
        .gateway()
        .log()
        .read(
            ReadQuery::after(call.first_seq.saturating_sub(1))
                .with_call_id(call_id.clone())
                .with_limit(CALL_HISTORY_LIMIT),
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let call_json = serde_json::to_string(&*call).map_err(|e| ApiError::internal(&e))?;
    let mut body = format!("{{\"call\":{call_json},\"events\":");
    splice_events(&mut body, &events);
    body.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
