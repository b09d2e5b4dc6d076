//! Operations endpoints: `/healthz`, `/metrics`, `/v1/openapi.json`, and the JSON 404 for
//! everything else. The console is served by `assets`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::openapi::Health;
use super::{AppState, presented_token};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;

/// 200 `{"status":"ok"|"degraded","lastSeq":N,"telephony":..,"sources":[..]}` while the
/// pipeline can store events (`degraded` when a source is down: the gateway itself works),
/// 503 `unavailable` otherwise.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Storing events (`degraded` when a source lost its peer)", body = Health),
        (status = 503, description = "Cannot store events", body = Health),
    )
)]
pub(super) async fn healthz(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let gateway = state.gateway();
    let last_seq = gateway.hub().last_seq();
    // Anyone may ask whether the gateway is up; only an admin (or anyone, on an open loopback
    // gateway) sees the sources' addresses, error texts and counters.
    let detailed = state
        .authenticator()
        .authenticate(presented_token(&headers, uri.query()))
        .is_ok_and(|p| p.has(Role::Admin));
    let sources: Vec<_> = state
        .supervised()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = s.status(gateway.metrics());
            if detailed {
                serde_json::to_value(status).unwrap_or_default()
            } else {
                json!({ "name": format!("source-{}", i + 1), "state": status.state })
            }
        })
        .collect();
    let (code, status) = if !gateway.is_healthy() {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if sources.iter().any(|s| s["state"] == "down") {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    let body = json!({
        "status": status,
        "lastSeq": last_seq,
        "telephony": gateway.telephony().to_string(),
        "sources": sources,
    });
    (code, Json(body)).into_response()
}

/// Prometheus text format. Needs the admin role when tokens are configured.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "application/openmetrics-text", body = String),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
    )
)]
pub(super) async fn metrics(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(Role::Admin)?;
    let gateway = state.gateway();
    for source in state.supervised() {
        // Reading the status records the source's health in the metrics.
        let _ = source.status(gateway.metrics());
    }
    let body = gateway.metrics().encode(gateway.hub().last_seq());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// `GET /v1/openapi.json`: the OpenAPI document, generated from the handlers.
pub(super) async fn openapi_json() -> Response {
    Json(super::openapi::document()).into_response()
}

/// JSON 404 for unknown routes.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}
