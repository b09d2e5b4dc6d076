//! voicetk's event sources and the seams they plug into.
//!
//! A source observes calls somewhere (a scenario simulator, a baresip softphone, a cloud
//! contact center's webhooks), normalises what it sees into telephony events, and submits them
//! to the gateway through an [`EventSink`]. Actions go the other way: the gateway asks the
//! [`Source`] that owns a call to carry one out, and the source's resulting event confirms it.

pub mod action;
pub mod amazon_connect;
pub mod baresip;
pub mod health;
pub mod scv;
pub mod simulator;
pub mod source;
pub mod twilio;
pub mod webhook;

pub use action::{Action, ActionError, ParticipantType};
pub use health::{Backoff, Health, HealthSnapshot, HealthState};
pub use simulator::{Simulator, SimulatorConfig};
pub use source::{CallContext, EventSink, Source, SubmitError};
pub use webhook::{CallLookup, Translation, Webhook, WebhookError, WebhookMemory, WebhookRequest};
