//! The HTTP edge's one error type: each kind maps to a status and the contract's JSON body
//! `{"error":{"code","message","path"?,"line"?}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use voicetk_events::{ErrorKind, ValidationError};

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    status: StatusCode,
    /// The contract's stable error code.
    code: String,
    /// What went wrong, for a person.
    message: String,
    /// The JSON path of the offending field, for payload errors.
    path: Option<String>,
    /// The 1-based line (NDJSON) or array position of the offending payload in a batch.
    line: Option<usize>,
    /// Seconds to wait before retrying (429).
    retry_after: Option<u64>,
}

/// The wire shape of the error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error inside [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_transition`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// JSON path of the offending field, e.g. `detail.packetsLost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Position of the offending payload in a batch (NDJSON line, or array index + 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            path: None,
            line: None,
            retry_after: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 `malformed_json` at `$`, for a body that is not JSON.
    pub fn malformed_json(e: &serde_json::Error) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed JSON: {e}"),
        )
        .with_path("$")
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 404 `unknown_call`: also what an agent-scoped token gets for another agent's call, so
    /// that it cannot learn the call exists.
    pub fn unknown_call(call_id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_call",
            format!("unknown call {call_id:?}"),
        )
    }

    /// 409 `invalid_transition`.
    pub fn invalid_transition(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "invalid_transition", message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 422 with a code.
    pub fn unprocessable(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 413 `payload_too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 429 `rate_limited`, retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests on this connection; retry after {seconds} s"),
        );
        e.retry_after = Some(seconds);
        e
    }

    /// 501 `not_implemented`.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }

    /// 502 `source_failed`.
    pub fn source_failed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_GATEWAY, "source_failed", message)
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 504 `not_confirmed`.
    pub fn not_confirmed(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::GATEWAY_TIMEOUT, "not_confirmed", message)
    }

    /// 500 `internal`. The cause is logged; the client sees a generic message.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }

    /// Sets the JSON path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the batch position, and prefixes the message with it.
    pub fn with_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self.message = format!("line {line}: {}", self.message);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body as a JSON value (also sent as the WebSocket `{"op":"error"}` payload).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
                path: self.path.clone(),
                line: self.line,
            },
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let status = match e.kind {
            ErrorKind::MalformedJson => StatusCode::BAD_REQUEST,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.code(), e.to_string()).with_path(e.path)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, code = %self.code, message = %self.message, "request failed");
        }
        let mut resp = (self.status, Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
