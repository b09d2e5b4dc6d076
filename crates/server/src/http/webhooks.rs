//! `POST /v1/sources/{name}`: requests from providers (Salesforce SCV connectors, Amazon
//! Connect via EventBridge, Twilio) to the webhook source mounted at `name`.
//!
//! The handler finds the running source whose [`Webhook::path`] is `name`, checks the bearer
//! token (`publish` role) when the webhook asks for one, rebuilds the URL the provider called
//! (some sign it), and, in the webhook's turn, has it translate the request against the durable
//! call state and ingests the result as one all-or-nothing batch. The answer is `202
//! {"seqs":[..]}` once the events are durable, or `200 {"seqs":[],"ignored":"why"}` when the
//! provider's event has no toolkit counterpart or changes nothing; a provider's retry of a
//! delivery gets the same seqs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use voicetk_engine::CallState;
use voicetk_events::TelephonyKind;
use voicetk_sources::{CallLookup, Translation, WebhookError, WebhookRequest};

use super::events::{ingest_error, read_body, scope_agent};
use super::openapi::WebhookAck;
use super::{AppState, presented_token};
use crate::auth::Role;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;

/// Largest provider request: their events are a few KiB; a forged megabyte should not wait in
/// the webhook's queue behind real deliveries.
const MAX_WEBHOOK_BODY: usize = 256 * 1024;

/// Receives one provider request for the webhook source at `name`.
#[utoipa::path(
    post, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "The webhook source: scv, amazon-connect or twilio")),
    request_body(content = String, description = "The provider's request as it sends it: SCV's \
        {eventType, payload} (JSON), an EventBridge Amazon Connect Contact Event (JSON), or a Twilio \
        status callback (form, signed with X-Twilio-Signature)"),
    responses(
        (status = 202, description = "Translated and durable in the log", body = WebhookAck),
        (status = 200, description = "Nothing to store: the provider's event has no toolkit counterpart or changes nothing (`ignored` says why)", body = WebhookAck),
        (status = 400, description = "The body cannot be parsed", body = ErrorBody),
        (status = 401, description = "No bearer token (scv, amazon-connect) or no X-Twilio-Signature (twilio)", body = ErrorBody),
        (status = 403, description = "Wrong signature, or a token without the publish role or for another agent", body = ErrorBody),
        (status = 404, description = "No webhook source runs at this name", body = ErrorBody),
        (status = 409, description = "invalid_transition: the call's state forbids the events, or the request is about a call voicetk does not know", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not the provider's content type", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong (path named), or unsupported_event", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
        (status = 503, description = "The log could not store the events; nothing stored, retry", body = ErrorBody),
    )
)]
pub(super) async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let source = state
        .inner
        .sources
        .iter()
        .find(|s| s.webhook().is_some_and(|w| w.path() == name))
        .cloned()
        .ok_or_else(|| {
            let running: Vec<String> = state
                .inner
                .sources
                .iter()
                .filter_map(|s| s.webhook().map(|w| w.path().to_owned()))
                .collect();
            ApiError::not_found(format!(
                "no webhook source runs at /v1/sources/{name} (running: {running:?}; start one \
                 with --source scv, amazon-connect or twilio)"
            ))
        })?;
    let Some(webhook) = source.webhook() else {
        return Err(ApiError::not_found(format!(
            "no webhook source runs at /v1/sources/{name}"
        )));
    };
    let principal = if webhook.needs_token() {
        let principal = state
            .inner
            .auth
            .authenticate(presented_token(&headers, uri.query()))?;
        principal.require(Role::Publish)?;
        Some(principal)
    } else {
        None
    };
    let limits = state.limits();
    let bytes = read_body(body, limits.max_body_bytes.min(MAX_WEBHOOK_BODY)).await?;
    let header_list: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let url = provider_url(webhook.public_url(), &headers, &uri);
    let request = WebhookRequest {
        url: &url,
        headers: &header_list,
        body: &bytes,
        agent: principal.as_ref().and_then(|p| p.agent.as_deref()),
    };

    // One request of this webhook at a time: the translation reads the state the previous
    // one left, and a retry finds the previous delivery remembered.
    let memory = webhook.memory();
    let _turn = memory.turn().await;
    let calls = GatewayCalls(state.gateway());
    let mut translation = webhook
        .translate(&request, &calls)
        .map_err(|e| webhook_error(&name, e))?;
    drop_unsupported(&mut translation, state.gateway().telephony());
    if let Some(principal) = &principal {
        for envelope in &mut translation.events {
            scope_agent(principal, envelope, state.gateway())?;
        }
    }
    let count = translation.events.len();
    if count > limits.max_batch_events {
        return Err(ApiError::too_large(format!(
            "the request makes {count} events, over the limit of {} (limits.max_batch_events)",
            limits.max_batch_events
        )));
    }
    let seqs = state
        .gateway()
        .ingest(translation.events.clone())
        .await
        .map_err(|e| ingest_error(e, |i| i + 1, count == 1))?;
    memory.remember(&translation);
    drop(_turn);

    let status = if seqs.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut answer = json!({ "seqs": seqs });
    if let Some(reason) = translation.ignored {
        answer["ignored"] = json!(reason);
    }
    Ok((status, axum::Json(answer)).into_response())
}

/// Drops the events this gateway's telephony lacks (Native has no CALL_STARTED, SWAP,
/// WRAP_UP_ENDED or AUDIO_STATS), noting them in `ignored`: a provider's "ringing" or
/// "completed" is then simply not news for a Native desktop, instead of a 422 that providers
/// take as a permanent failure (and that would refuse the whole batch, a CALL_ENDED with it).
fn drop_unsupported(translation: &mut Translation, telephony: TelephonyKind) {
    let mut dropped = Vec::new();
    translation.events.retain(|e| {
        let t = e.event_type();
        let keep = t.is_supported_by(telephony);
        if !keep && !dropped.contains(&t.as_str()) {
            dropped.push(t.as_str());
        }
        keep
    });
    if !dropped.is_empty() {
        let note = format!("{} not in {telephony} telephony", dropped.join(", "));
        translation.ignored = Some(match translation.ignored.take() {
            Some(reason) => format!("{reason}; {note}"),
            None => note,
        });
    }
}

/// The engine's durable call state, as webhooks read it.
struct GatewayCalls<'a>(&'a Gateway);

impl CallLookup for GatewayCalls<'_> {
    fn call(&self, call_id: &str) -> Option<Arc<CallState>> {
        self.0.call(call_id)
    }

    fn active_calls(&self) -> Vec<Arc<CallState>> {
        self.0
            .calls()
            .into_iter()
            .filter(|c| c.is_active())
            .collect()
    }
}

/// The URL the provider called. A configured public URL wins: a full endpoint URL gets the
/// request's query when it has none of its own; a bare origin (`https://host`) gets the path
/// and query. Otherwise `X-Forwarded-Proto` and `X-Forwarded-Host` (as a proxy sets them), else
/// `http://` and `Host`.
fn provider_url(public: Option<&str>, headers: &HeaderMap, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    if let Some(public) = public {
        if public.contains('?') {
            return public.to_owned();
        }
        let after_scheme = public.split_once("://").map_or(public, |(_, rest)| rest);
        let has_path = after_scheme.trim_end_matches('/').contains('/');
        return if has_path {
            match uri.query() {
                Some(q) => format!("{public}?{q}"),
                None => public.to_owned(),
            }
        } else {
            format!("{}{path_and_query}", public.trim_end_matches('/'))
        };
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = first("x-forwarded-proto").unwrap_or("http");
    let host = first("x-forwarded-host")
        .or_else(|| first("host"))
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    format!("{scheme}://{host}{path_and_query}")
}

/// A webhook's refusal as the HTTP answer.
fn webhook_error(name: &str, e: WebhookError) -> ApiError {
    match e {
        WebhookError::Unauthorized(m) => ApiError::unauthorized(m),
        WebhookError::Forbidden(m) => {
            tracing::warn!(source = name, message = %m, "webhook request refused");
            ApiError::forbidden(m)
        }
        WebhookError::Malformed(m) => ApiError::bad_request(m),
        WebhookError::Invalid { path, message } => {
            ApiError::unprocessable("invalid_payload", format!("{path}: {message}")).with_path(path)
        }
        WebhookError::Conflict(m) => ApiError::invalid_transition(m),
        WebhookError::UnsupportedMediaType(m) => ApiError::unsupported_media_type(m),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_url_the_provider_called() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        let u = uri("/v1/sources/twilio?agent=ana");
        assert_eq!(
            provider_url(None, &headers, &u),
            "http://127.0.0.1:8080/v1/sources/twilio?agent=ana"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("voice.example.com"),
        );
        assert_eq!(
            provider_url(None, &headers, &u),
            "https://voice.example.com/v1/sources/twilio?agent=ana"
        );
        let full = "https://pub.example.com/hooks/twilio";
        assert_eq!(
            provider_url(Some(full), &headers, &u),
            "https://pub.example.com/hooks/twilio?agent=ana"
        );
        assert_eq!(
            provider_url(Some("https://pub.example.com/"), &headers, &u),
            "https://pub.example.com/v1/sources/twilio?agent=ana"
        );
        assert_eq!(
            provider_url(Some("https://pub.example.com/x?agent=ben"), &headers, &u),
            "https://pub.example.com/x?agent=ben"
        );
    }

    #[test]
    fn webhook_errors_map_to_statuses() {
        let cases = [
            (WebhookError::Unauthorized("u".into()), 401),
            (WebhookError::Forbidden("f".into()), 403),
            (WebhookError::Malformed("m".into()), 400),
            (
                WebhookError::invalid("payload.isMuted", "expected a boolean"),
                422,
            ),
            (WebhookError::Conflict("c".into()), 409),
            (WebhookError::UnsupportedMediaType("t".into()), 415),
        ];
        for (e, status) in cases {
            assert_eq!(webhook_error("x", e).status().as_u16(), status);
        }
        let e = webhook_error("x", WebhookError::invalid("payload.isMuted", "bad"));
        assert_eq!(e.body().error.path.as_deref(), Some("payload.isMuted"));
    }
}
