//! Operations endpoints: `/healthz`, `/metrics`, `/v1/openapi.json`, the console at `/`, and
//! the JSON 404 for everything else.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;

/// 200 `{"status":"ok","lastSeq":N}` while the pipeline can store events, 503 otherwise.
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    let gateway = state.gateway();
    let last_seq = gateway.hub().last_seq();
    if gateway.is_healthy() {
        Json(json!({ "status": "ok", "lastSeq": last_seq })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "lastSeq": last_seq })),
        )
            .into_response()
    }
}

/// Prometheus text format. Needs the admin role when tokens are configured.
pub(super) async fn metrics(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(Role::Admin)?;
    let gateway = state.gateway();
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

/// The OpenAPI document of the HTTP API, generated from the code.
pub fn openapi() -> utoipa::openapi::OpenApi {
    crate::openapi::document()
}

/// `GET /v1/openapi.json`.
pub(super) async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// The live console.
pub(super) async fn console() -> Html<&'static str> {
    Html(include_str!("../../console/index.html"))
}

/// JSON 404 for unknown routes.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}
