//! The two seams between sources and the gateway: [`EventSink`] (source → gateway) and
//! [`Source`] (gateway → source, for actions).

use std::sync::Arc;

use futures::future::BoxFuture;
use voicetk_events::Envelope;

use crate::action::{Action, ActionError};
use crate::health::HealthSnapshot;
use crate::webhook::Webhook;

/// Why the gateway did not accept an event a source submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SubmitError {
    /// The contract's error code (`invalid_transition`, `unsupported_event`, `unavailable`, ...).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// Where a source sends the events it observes. The gateway implements it: `submit` resolves
/// once the event is durable in the log (with its `seq`), or with the reason it was refused.
pub trait EventSink: Send + Sync + 'static {
    /// Submits one event.
    fn submit(&self, envelope: Envelope) -> BoxFuture<'_, Result<u64, SubmitError>>;
}

/// What a source needs to know about a call to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The call's id.
    pub call_id: String,
    /// The agent whose desktop the call is on, when known.
    pub agent: Option<String>,
    /// The initial caller's number, if still on the call.
    pub initial_caller: Option<String>,
    /// Third parties currently on the call, oldest first.
    pub third_parties: Vec<String>,
}

/// A producer of telephony events that can also carry out actions on its calls.
///
/// The gateway starts each configured source with [`Source::run`], routes an action on a
/// call to the source that [`owns`](Source::owns) it, and waits for the confirming event to
/// arrive through the sink.
pub trait Source: Send + Sync + 'static {
    /// A short name for logs and errors (`simulator`, `baresip:127.0.0.1:4444`).
    fn name(&self) -> &str;

    /// Whether this source produced (and so can act on) `call_id`.
    fn owns(&self, call_id: &str) -> bool;

    /// Carries out `action` on a call. Resolves once the source has done its part; the
    /// confirming event follows through the sink.
    ///
    /// # Errors
    /// [`ActionError::Unsupported`] when this source cannot do such an action;
    /// [`ActionError::Failed`] when it tried and failed.
    fn perform<'a>(
        &'a self,
        call: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>>;

    /// Places a new call to `phone_number` for `agent` (`startPreviewCall`/dial). Resolves with
    /// the new call's id.
    ///
    /// # Errors
    /// As [`Source::perform`].
    fn dial<'a>(
        &'a self,
        agent: Option<&'a str>,
        phone_number: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>>;

    /// How the source is doing (connected to its peer or not), for `/healthz` and `/metrics`.
    /// Sources without a peer are always up.
    fn health(&self) -> HealthSnapshot {
        HealthSnapshot::running()
    }

    /// For sources fed by HTTP requests: the webhook the gateway mounts at
    /// `/v1/sources/{path}`.
    fn webhook(&self) -> Option<&dyn Webhook> {
        None
    }

    /// Runs the source until `shutdown` resolves, sending what it observes to `sink`.
    /// A source with a peer reconnects by itself (with [`Backoff`](crate::health::Backoff))
    /// and keeps its [`health`](Source::health) current; it returns only at shutdown. If it
    /// returns early or panics, the gateway restarts it after a back-off.
    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()>;
}
