//! Sources whose events arrive as HTTP requests: the gateway mounts each [`Webhook`] at
//! `POST /v1/sources/{path}`, hands it the request, and ingests what it translates, all or
//! nothing.

use std::sync::Arc;

use voicetk_engine::CallState;
use voicetk_events::Envelope;

/// One provider request, as the gateway received it.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// The URL the provider requested, as the provider saw it (scheme, host, path and query):
    /// some providers sign it.
    pub url: &'a str,
    /// The request's headers, names in lower case.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
}

impl WebhookRequest<'_> {
    /// The first header named `name` (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Read access to the engine's call state, so toggles can become HOLD/RESUME, MUTE/UNMUTE, ...
pub trait CallLookup: Send + Sync {
    /// The durable state of `call_id`, if the engine tracks it.
    fn call(&self, call_id: &str) -> Option<Arc<CallState>>;
}

/// Why a webhook request was refused. Nothing of a refused request is ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature/credentials (HTTP 403; 401 when nothing was presented).
    #[error("{0}")]
    Unauthorized(String),
    /// Not parseable at all (HTTP 400).
    #[error("{0}")]
    Malformed(String),
    /// Parseable, but a field is missing or wrong (HTTP 422). `path` names the field.
    #[error("{path}: {message}")]
    Invalid {
        /// The field, as a JSON path or form field name.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The request contradicts the call's state (HTTP 409), e.g. a toggle for an unknown call.
    #[error("{0}")]
    Conflict(String),
    /// Wrong content type (HTTP 415).
    #[error("{0}")]
    UnsupportedMediaType(String),
}

/// What a webhook made of one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Translation {
    /// The toolkit events to ingest, in order, all or nothing (may be empty).
    pub events: Vec<Envelope>,
    /// Why nothing (or less than the provider reported) was ingested, when the provider's
    /// event has no toolkit counterpart (e.g. a contact queued).
    pub ignored: Option<String>,
}

/// A source fed by HTTP requests from a provider.
pub trait Webhook: Send + Sync {
    /// The path segment under `/v1/sources/` (`scv`, `amazon-connect`, `twilio`).
    fn path(&self) -> &str;

    /// Whether the request must also carry a gateway bearer token with the `publish` role.
    /// `false` for providers that sign their requests (the signature is checked instead).
    fn needs_token(&self) -> bool;

    /// Checks and translates one request.
    ///
    /// # Errors
    /// A [`WebhookError`] naming what is wrong; nothing is ingested then.
    fn translate(
        &self,
        request: &WebhookRequest<'_>,
        calls: &dyn CallLookup,
    ) -> Result<Translation, WebhookError>;
}
