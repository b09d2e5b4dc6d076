//! Sources whose events arrive as HTTP requests: the gateway mounts each [`Webhook`] at
//! `POST /v1/sources/{path}`, hands it the request, and ingests what it translates, all or
//! nothing.
//!
//! # How a request flows
//! 1. The gateway finds the webhook whose [`path`](Webhook::path) the URL names, checks the
//!    bearer token when [`needs_token`](Webhook::needs_token) says so, and takes the webhook's
//!    [`turn`](WebhookMemory::turn): one request of a webhook at a time, so each translation
//!    reads the call state its predecessor left.
//! 2. [`Webhook::translate`] authenticates the request (a provider signature), checks its shape
//!    and turns it into toolkit events against the engine's current state ([`CallLookup`]):
//!    that is how a "hold toggled" report becomes `HOLD` of the right participant, or nothing.
//! 3. The gateway ingests the events as one batch. Once they are durable it calls
//!    [`WebhookMemory::remember`], so that the provider's retry of the same delivery gets the
//!    same translation back (and so the same `seq`s), whatever the state has become since.
//!
//! Webhook sources only listen: voicetk has no connection to the provider's API, so they
//! cannot carry out actions (see [`cannot_act`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use voicetk_engine::CallState;
use voicetk_events::{
    CallDetail, Envelope, EventType, Extra, ParseOptions, TelephonyEvent, parse_event,
};

use crate::action::{Action, ActionError};
use crate::source::{CallContext, EventSink, Source};

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
    /// The agent scope of the gateway token that authenticated the request: the only agent
    /// whose calls the request may be about and whose events it may make. `None` when the
    /// token is not scoped to an agent, or when no token is checked (open gateway, signed
    /// providers).
    pub agent: Option<&'a str>,
}

impl WebhookRequest<'_> {
    /// The first header named `name` (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type of the body (`Content-Type` without parameters, lower case).
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type")
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
    }

    /// The query string of [`url`](Self::url), without the `?` (empty when there is none).
    pub fn query(&self) -> &str {
        self.url
            .split_once('?')
            .map_or("", |(_, q)| q.split('#').next().unwrap_or(q))
    }
}

/// Read access to the engine's call state, so toggles can become HOLD/RESUME, MUTE/UNMUTE, ...
pub trait CallLookup: Send + Sync {
    /// The durable state of `call_id`, if the engine tracks it.
    fn call(&self, call_id: &str) -> Option<Arc<CallState>>;

    /// The calls that are live (`started` or `connected`), for requests that do not name their
    /// call (SCV's mute and recording toggles do not).
    fn active_calls(&self) -> Vec<Arc<CallState>>;
}

/// Why a webhook request was refused. Nothing of a refused request is ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No credentials or signature were presented (HTTP 401).
    #[error("{0}")]
    Unauthorized(String),
    /// The signature or credentials presented are wrong (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
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

impl WebhookError {
    /// [`WebhookError::Invalid`] for the field at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> WebhookError {
        WebhookError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What a webhook made of one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Translation {
    /// The toolkit events to ingest, in order, all or nothing (may be empty).
    pub events: Vec<Envelope>,
    /// Why nothing (or less than the provider reported) was ingested, when the provider's
    /// event has no toolkit counterpart (e.g. a contact queued) or changes nothing.
    pub ignored: Option<String>,
    /// The provider's identifier of this delivery, when it has one: a retry of the same
    /// delivery carries the same one, and gets this translation back from
    /// [`WebhookMemory::recall`].
    pub delivery: Option<String>,
}

impl Translation {
    /// Nothing to ingest, for `reason`.
    pub fn ignored(reason: impl Into<String>) -> Translation {
        Translation {
            ignored: Some(reason.into()),
            ..Translation::default()
        }
    }

    /// These events, nothing ignored.
    pub fn of(events: Vec<TelephonyEvent>) -> Translation {
        Translation {
            events: events.into_iter().map(Envelope::new).collect(),
            ..Translation::default()
        }
    }

    /// Gives every event without an `eventId` one derived from the delivery:
    /// `{prefix}:{delivery}` for the first event, `{prefix}:{delivery}#{n}` for the n-th. The
    /// engine answers a re-sent id with the original `seq`, so a provider's retry is stored
    /// once. Does nothing without a delivery id.
    pub fn with_event_ids(mut self, prefix: &str) -> Translation {
        if let Some(delivery) = &self.delivery {
            for (i, event) in self.events.iter_mut().enumerate() {
                if event.event_id.is_none() {
                    event.event_id = Some(if i == 0 {
                        format!("{prefix}:{delivery}")
                    } else {
                        format!("{prefix}:{delivery}#{}", i + 1)
                    });
                }
            }
        }
        self
    }
}

/// A source fed by HTTP requests from a provider.
pub trait Webhook: Send + Sync {
    /// The path segment under `/v1/sources/` (`scv`, `amazon-connect`, `twilio`).
    fn path(&self) -> &str;

    /// Whether the request must also carry a gateway bearer token with the `publish` role.
    /// `false` for providers that sign their requests (the signature is checked instead).
    fn needs_token(&self) -> bool;

    /// The public URL of this endpoint as the provider calls it, when configured. It wins over
    /// the URL the gateway reconstructs from the request (`X-Forwarded-*`, `Host`): behind a
    /// proxy that rewrites them, a signature over the URL can only be checked with it.
    fn public_url(&self) -> Option<&str> {
        None
    }

    /// What the webhook remembers between requests.
    fn memory(&self) -> &WebhookMemory;

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

/// Default of [`WebhookMemory::with_capacity`]: deliveries (and calls) remembered.
pub const DEFAULT_MEMORY_CAPACITY: usize = 10_000;

/// What a webhook remembers between requests: the translations it delivered (so a provider's
/// retry gets the same answer), the calls it opened (so it can say it [owns](crate::Source::owns)
/// them), and the turn that keeps its requests in order. Bounded: the oldest entries are
/// forgotten first. Kept in memory only: after a restart a retried toggle is judged against the
/// state again (and found to change nothing), while a retried event with an id of its own is
/// still recognised by the engine's idempotency window.
#[derive(Debug)]
pub struct WebhookMemory {
    /// Held from translation to the end of ingest: one request at a time per webhook.
    turn: tokio::sync::Mutex<()>,
    /// Delivered translations and the calls they touched.
    recent: Mutex<Recent>,
    /// Most deliveries (and calls) kept.
    capacity: usize,
}

#[derive(Debug, Default)]
struct Recent {
    /// Delivery id → what was delivered for it.
    deliveries: HashMap<String, Translation>,
    /// Delivery ids, oldest first, to forget in order.
    delivery_order: VecDeque<String>,
    /// Calls this webhook produced events for.
    calls: HashSet<String>,
    /// Those calls, oldest first.
    call_order: VecDeque<String>,
}

impl Default for WebhookMemory {
    fn default() -> Self {
        WebhookMemory::new()
    }
}

impl WebhookMemory {
    /// A memory of [`DEFAULT_MEMORY_CAPACITY`] deliveries.
    pub fn new() -> WebhookMemory {
        WebhookMemory::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// A memory of `capacity` deliveries and calls (at least 1).
    pub fn with_capacity(capacity: usize) -> WebhookMemory {
        WebhookMemory {
            turn: tokio::sync::Mutex::new(()),
            recent: Mutex::new(Recent::default()),
            capacity: capacity.max(1),
        }
    }

    /// Waits for this webhook's turn; requests are served in arrival order.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// What was delivered for `delivery`, if remembered.
    pub fn recall(&self, delivery: &str) -> Option<Translation> {
        self.lock().deliveries.get(delivery).cloned()
    }

    /// Records that `translation` is durable: its delivery (if it has an id) and its calls.
    pub fn remember(&self, translation: &Translation) {
        let capacity = self.capacity;
        let mut recent = self.lock();
        if let Some(id) = &translation.delivery {
            if !recent.deliveries.contains_key(id) {
                recent.delivery_order.push_back(id.clone());
            }
            recent.deliveries.insert(id.clone(), translation.clone());
            while recent.delivery_order.len() > capacity {
                if let Some(old) = recent.delivery_order.pop_front() {
                    recent.deliveries.remove(&old);
                }
            }
        }
        for event in &translation.events {
            let call_id = event.call_id();
            if recent.calls.insert(call_id.to_owned()) {
                recent.call_order.push_back(call_id.to_owned());
            }
        }
        while recent.call_order.len() > capacity {
            if let Some(old) = recent.call_order.pop_front() {
                recent.calls.remove(&old);
            }
        }
    }

    /// Whether this webhook delivered events of `call_id` (within the memory's capacity).
    pub fn knows_call(&self, call_id: &str) -> bool {
        self.lock().calls.contains(call_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The answer of a webhook source to any action or dial: webhook providers cannot be driven
/// from voicetk, which only receives their events and has no connection to their API.
pub fn cannot_act(source: &str, action: &'static str) -> ActionError {
    ActionError::Unsupported {
        source_name: format!(
            "{source} (receive-only webhook: voicetk has no connection to drive it)"
        ),
        action,
    }
}

/// Every webhook is a [`Source`] that only receives: the gateway mounts it at
/// `/v1/sources/{path}` and it is named by its path; it owns the calls its deliveries opened
/// (so an action on one gets its clear 501, not "no source"); actions and dials are
/// [`cannot_act`]; and `run` has nothing to do but wait for shutdown, its work happening in
/// [`Webhook::translate`].
impl<W: Webhook + 'static> Source for W {
    fn name(&self) -> &str {
        self.path()
    }

    fn owns(&self, call_id: &str) -> bool {
        self.memory().knows_call(call_id)
    }

    fn perform<'a>(
        &'a self,
        _call: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        let name = action.name();
        Box::pin(async move { Err(cannot_act(self.path(), name)) })
    }

    fn dial<'a>(
        &'a self,
        _agent: Option<&'a str>,
        _phone_number: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { Err(cannot_act(self.path(), "dial")) })
    }

    fn webhook(&self) -> Option<&dyn Webhook> {
        Some(self)
    }

    fn run(
        self: Arc<Self>,
        _sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        shutdown
    }
}

/// Checks a translated event the way `POST /v1/events` would (shape, sizes), so a provider's
/// odd value is refused here, naming the provider's field, rather than stored.
///
/// # Errors
/// [`WebhookError::Invalid`] at `origin` (the provider field the event came from).
pub fn checked(envelope: Envelope, origin: &str) -> Result<Envelope, WebhookError> {
    match parse_event(&envelope.to_json_bytes(), &ParseOptions::default()) {
        Ok(_) => Ok(envelope),
        Err(e) => Err(WebhookError::invalid(
            origin,
            format!("makes an invalid {} event: {e}", envelope.event_type()),
        )),
    }
}

/// An event that carries only the call (`CALL_ENDED`, `MUTE`, ...). Only called with such a
/// type; any other gives a `CALL_ENDED` without a call id, which [`checked`] refuses.
pub(crate) fn call_only(t: EventType, call_id: &str) -> TelephonyEvent {
    TelephonyEvent::call_only(t, call_id).unwrap_or_else(|| {
        TelephonyEvent::CallEnded(CallDetail {
            call_id: String::new(),
            extra: Extra::new(),
        })
    })
}

/// An event about one participant (`HOLD`, `PARTICIPANT_ADDED`, ...). Only called with such a
/// type; any other gives a `CALL_ENDED` without a call id, which [`checked`] refuses.
pub(crate) fn with_participant(t: EventType, call_id: &str, participant: &str) -> TelephonyEvent {
    TelephonyEvent::with_participant(t, call_id, participant).unwrap_or_else(|| {
        TelephonyEvent::CallEnded(CallDetail {
            call_id: String::new(),
            extra: Extra::new(),
        })
    })
}

/// A JSON value and the path it was found at, so that every error names the provider's field.
#[derive(Debug, Clone)]
pub(crate) struct Field<'a> {
    /// The value (never `null`: a `null` field counts as absent).
    pub(crate) value: &'a Value,
    /// Its JSON path without the leading `$` (`payload.call.callId`), `$` for the root.
    pub(crate) path: String,
}

impl<'a> Field<'a> {
    /// The whole document.
    pub(crate) fn root(value: &'a Value) -> Field<'a> {
        Field {
            value,
            path: "$".to_owned(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path == "$" {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The path a child `key` has (present or not), for messages.
    pub(crate) fn path_of(&self, key: &str) -> String {
        self.child_path(key)
    }

    /// The member `key`, if this is an object that has it and it is not `null`.
    pub(crate) fn get(&self, key: &str) -> Option<Field<'a>> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Field {
                value,
                path: self.child_path(key),
            }),
        }
    }

    /// The first of `keys` present (providers differ in spelling, e.g. `agentInfo` and
    /// `AgentInfo`).
    pub(crate) fn get_any(&self, keys: &[&str]) -> Option<Field<'a>> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// The object itself.
    pub(crate) fn object(&self) -> Result<&'a Map<String, Value>, WebhookError> {
        self.value
            .as_object()
            .ok_or_else(|| self.wrong("an object"))
    }

    /// The object member `key`, if present.
    pub(crate) fn object_at(&self, key: &str) -> Result<Option<Field<'a>>, WebhookError> {
        self.get(key)
            .map(|f| f.object().map(|_| f.clone()))
            .transpose()
    }

    /// A non-empty string, if present.
    pub(crate) fn text(&self, key: &str) -> Result<Option<&'a str>, WebhookError> {
        self.get(key).map(|f| f.as_text()).transpose()
    }

    /// The first of `keys` present, as a non-empty string.
    pub(crate) fn text_any(&self, keys: &[&str]) -> Result<Option<&'a str>, WebhookError> {
        self.get_any(keys).map(|f| f.as_text()).transpose()
    }

    /// A required non-empty string.
    pub(crate) fn required_text(&self, key: &str) -> Result<&'a str, WebhookError> {
        self.text(key)?.ok_or_else(|| {
            WebhookError::invalid(
                self.child_path(key),
                "missing required field (expected a non-empty string)",
            )
        })
    }

    /// This value as a non-empty string.
    pub(crate) fn as_text(&self) -> Result<&'a str, WebhookError> {
        match self.value {
            Value::String(s) if s.is_empty() => Err(WebhookError::invalid(
                &self.path,
                "expected a non-empty string, found \"\"",
            )),
            Value::String(s) => Ok(s),
            _ => Err(self.wrong("a non-empty string")),
        }
    }

    /// A boolean, if present.
    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, WebhookError> {
        match self.get(key) {
            None => Ok(None),
            Some(f) => match f.value {
                Value::Bool(b) => Ok(Some(*b)),
                _ => Err(f.wrong("a boolean")),
            },
        }
    }

    /// A required boolean.
    pub(crate) fn required_flag(&self, key: &str) -> Result<bool, WebhookError> {
        self.flag(key)?.ok_or_else(|| {
            WebhookError::invalid(
                self.child_path(key),
                "missing required field (expected a boolean)",
            )
        })
    }

    /// A finite number >= 0, if present.
    pub(crate) fn non_negative(&self, key: &str) -> Result<Option<f64>, WebhookError> {
        match self.get(key) {
            None => Ok(None),
            Some(f) => match f.value.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                Some(x) => Err(WebhookError::invalid(
                    &f.path,
                    format!("expected a number >= 0, found {x}"),
                )),
                None => Err(f.wrong("a number >= 0")),
            },
        }
    }

    /// The members of an array, each with its path.
    pub(crate) fn items(&self) -> Result<Vec<Field<'a>>, WebhookError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.wrong("an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_null())
            .map(|(i, value)| Field {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// "expected X, found Y" at this field.
    pub(crate) fn wrong(&self, expected: &str) -> WebhookError {
        WebhookError::invalid(
            &self.path,
            format!("expected {expected}, found {}", describe(self.value)),
        )
    }
}

/// A short description of a JSON value for messages: its type, and the value when short.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
        Value::String(_) => "a long string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Parses a JSON body, refusing other content types.
///
/// # Errors
/// [`WebhookError::UnsupportedMediaType`] unless the content type is JSON;
/// [`WebhookError::Malformed`] when the body is not JSON.
pub(crate) fn json_body(request: &WebhookRequest<'_>, what: &str) -> Result<Value, WebhookError> {
    match request.content_type().as_deref() {
        Some("application/json") => {}
        Some(ct) if ct.starts_with("application/") && ct.ends_with("+json") => {}
        other => {
            return Err(WebhookError::UnsupportedMediaType(format!(
                "Content-Type {}: {what} are JSON (application/json)",
                other.map_or_else(|| "missing".to_owned(), |c| format!("{c:?}"))
            )));
        }
    }
    serde_json::from_slice(request.body)
        .map_err(|e| WebhookError::Malformed(format!("malformed JSON: {e}")))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A real engine behind [`CallLookup`], for translation tests: translate, apply, look.

    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use voicetk_engine::{Applied, CallState, Engine, EngineConfig, Refusal};
    use voicetk_events::Envelope;

    use super::{CallLookup, Translation, Webhook, WebhookError, WebhookRequest};

    /// An engine the tests feed with the translations they make.
    pub(crate) struct EngineCalls {
        engine: Mutex<Engine>,
    }

    impl EngineCalls {
        pub(crate) fn new() -> EngineCalls {
            EngineCalls {
                engine: Mutex::new(Engine::new(EngineConfig::default())),
            }
        }

        /// Applies a translation as the gateway would: all or nothing.
        pub(crate) fn apply(&self, translation: &Translation) -> Result<Vec<Envelope>, Refusal> {
            let mut engine = self.engine.lock().unwrap();
            let now: jiff::Timestamp = "2025-03-01T10:00:00Z".parse().unwrap();
            let cp = engine.checkpoint();
            let mut out = Vec::new();
            for e in &translation.events {
                match engine.apply(e.clone(), now) {
                    Ok(Applied::Accepted(e)) => out.push(e),
                    Ok(Applied::Duplicate { .. }) => {}
                    Err(r) => {
                        engine.rollback(cp);
                        return Err(r);
                    }
                }
            }
            engine.commit(cp);
            Ok(out)
        }
    }

    /// A webhook and the engine its translations are applied to.
    pub(crate) struct Harness<W: Webhook> {
        pub(crate) webhook: W,
        pub(crate) calls: EngineCalls,
    }

    impl<W: Webhook> Harness<W> {
        pub(crate) fn new(webhook: W) -> Harness<W> {
            Harness {
                webhook,
                calls: EngineCalls::new(),
            }
        }

        /// Translates a request; nothing applied.
        pub(crate) fn translate(
            &self,
            url: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Result<Translation, WebhookError> {
            self.translate_as(None, url, headers, body)
        }

        /// Translates a request authenticated by a token scoped to `agent`; nothing applied.
        pub(crate) fn translate_as(
            &self,
            agent: Option<&str>,
            url: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Result<Translation, WebhookError> {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect();
            let request = WebhookRequest {
                url,
                headers: &headers,
                body,
                agent,
            };
            self.webhook.translate(&request, &self.calls)
        }

        /// Translates, applies to the engine (which must accept every event) and remembers, as
        /// the gateway does. Returns the translation and the events as stored.
        pub(crate) fn deliver(
            &self,
            url: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Result<(Translation, Vec<Envelope>), WebhookError> {
            self.deliver_as(None, url, headers, body)
        }

        /// [`deliver`](Self::deliver) for a request authenticated by a token scoped to `agent`.
        pub(crate) fn deliver_as(
            &self,
            agent: Option<&str>,
            url: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Result<(Translation, Vec<Envelope>), WebhookError> {
            let t = self.translate_as(agent, url, headers, body)?;
            let stored = self
                .calls
                .apply(&t)
                .unwrap_or_else(|r| panic!("the engine refused {t:?}: {}", r.message));
            self.webhook.memory().remember(&t);
            Ok((t, stored))
        }

        pub(crate) fn call(&self, call_id: &str) -> Arc<CallState> {
            self.calls.call(call_id).expect("a tracked call")
        }
    }

    impl CallLookup for EngineCalls {
        fn call(&self, call_id: &str) -> Option<Arc<CallState>> {
            self.engine.lock().unwrap().call_shared(call_id)
        }

        fn active_calls(&self) -> Vec<Arc<CallState>> {
            let engine = self.engine.lock().unwrap();
            let ids: Vec<String> = engine.active_calls().map(|c| c.call_id.clone()).collect();
            ids.iter().filter_map(|id| engine.call_shared(id)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ended(call: &str) -> Envelope {
        Envelope::new(TelephonyEvent::call_only(EventType::CallEnded, call).unwrap())
    }

    #[test]
    fn event_ids_derive_from_the_delivery() {
        let t = Translation {
            events: vec![ended("a"), ended("b")],
            ignored: None,
            delivery: Some("d-1".into()),
        }
        .with_event_ids("scv");
        let ids: Vec<_> = t.events.iter().map(|e| e.event_id.clone()).collect();
        assert_eq!(ids, [Some("scv:d-1".into()), Some("scv:d-1#2".into())]);
        let none = Translation {
            events: vec![ended("a")],
            ..Translation::default()
        }
        .with_event_ids("scv");
        assert_eq!(none.events[0].event_id, None);
    }

    #[test]
    fn memory_recalls_deliveries_and_forgets_the_oldest() {
        let memory = WebhookMemory::with_capacity(2);
        for id in ["d1", "d2", "d3"] {
            memory.remember(&Translation {
                events: vec![ended(id)],
                ignored: None,
                delivery: Some(id.into()),
            });
        }
        assert!(memory.recall("d1").is_none());
        assert_eq!(memory.recall("d3").unwrap().events[0].call_id(), "d3");
        assert!(!memory.knows_call("d1") && memory.knows_call("d2") && memory.knows_call("d3"));
    }

    #[test]
    fn fields_name_their_paths() {
        let v: Value = serde_json::json!({"payload": {"call": {"callId": 7, "x": ""}, "list": [1, null, true]}});
        let root = Field::root(&v);
        let call = root.get("payload").unwrap().get("call").unwrap();
        assert_eq!(
            call.required_text("callId").unwrap_err().to_string(),
            "payload.call.callId: expected a non-empty string, found number 7"
        );
        assert_eq!(
            call.text("x").unwrap_err().to_string(),
            "payload.call.x: expected a non-empty string, found \"\""
        );
        assert_eq!(
            call.required_flag("isMuted").unwrap_err().to_string(),
            "payload.call.isMuted: missing required field (expected a boolean)"
        );
        let items = root
            .get("payload")
            .unwrap()
            .get("list")
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(items[1].path, "payload.list[2]");
        assert_eq!(
            items[0].non_negative("n").unwrap(),
            None,
            "a member of a number is absent"
        );
    }

    #[test]
    fn request_helpers() {
        let headers = vec![(
            "content-type".to_owned(),
            "Application/JSON; charset=utf-8".to_owned(),
        )];
        let r = WebhookRequest {
            url: "https://h/v1/sources/x?a=1&b=2",
            headers: &headers,
            body: b"{}",
            agent: None,
        };
        assert_eq!(r.content_type().as_deref(), Some("application/json"));
        assert_eq!(r.query(), "a=1&b=2");
        assert!(json_body(&r, "x").is_ok());
        let r2 = WebhookRequest { headers: &[], ..r };
        assert!(matches!(
            json_body(&r2, "x"),
            Err(WebhookError::UnsupportedMediaType(_))
        ));
    }
}
