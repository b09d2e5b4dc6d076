//! The Voice Toolkit telephony event catalogue, to the letter.
//!
//! Salesforce's Voice Toolkit API delivers 15 telephony events to agent-desktop components,
//! each a JSON payload `{"type": TYPE, "detail": {"callId": .., ...}}`. This crate is voicetk's
//! wire model for them: one typed variant per event ([`TelephonyEvent`]), the whole payload
//! with voicetk's top-level fields ([`Envelope`]), and validation whose errors name the JSON
//! path and what was expected ([`ValidationError`]).
//!
//! - Field names, JSON types and required fields follow the spec exactly; counters are JSON
//!   integers >= 0; `callAttributes` is kept as given.
//! - Unknown fields inside `detail` and at the top level are preserved through
//!   parse → serialize.
//! - LWC names (`callstarted`) are accepted as aliases; output always uses the Aura names.
//! - [`TelephonyKind::Native`] refuses the four events Native telephony lacks with an
//!   `unsupported_event` error.
//!
//! # Example
//! ```
//! use voicetk_events::{parse_event, EventType, ParseOptions, TelephonyEvent};
//!
//! let payload = br#"{
//!     "type": "CALL_CONNECTED",
//!     "detail": {
//!         "callId": "4ba06a63-f1d3-44b6-a9ff-f57143a37c1",
//!         "callType": "outbound",
//!         "participant": "+1 (90 274-0615",
//!         "callAttributes": {"isTranscribed": "true", "languageCode": "en-US"}
//!     }
//! }"#;
//! let envelope = parse_event(payload, &ParseOptions::default())?;
//! assert_eq!(envelope.event_type(), EventType::CallConnected);
//! let TelephonyEvent::CallConnected(detail) = &envelope.event else { unreachable!() };
//! assert_eq!(detail.participant, "+1 (90 274-0615");
//!
//! // Errors name the field and what was expected.
//! let err = parse_event(br#"{"type":"HOLD","detail":{"callId":"c1"}}"#, &ParseOptions::default())
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "detail.participant: missing required field (expected a non-empty string)");
//! # Ok::<(), voicetk_events::ValidationError>(())
//! ```

mod envelope;
mod error;
mod event;
mod kind;
mod parse;
mod raw;

pub use envelope::Envelope;
pub use error::{ErrorKind, ValidationError};
pub use event::{
    AudioStatsDetail, CallConnectedDetail, CallDetail, CallStartedDetail, Extra, ParticipantDetail,
    TelephonyEvent,
};
pub use kind::{
    CallType, Channel, EventType, TelephonyKind, UnknownEventType, UnknownTelephonyKind,
};
pub use parse::{
    DEFAULT_MAX_PAYLOAD_BYTES, Document, ParseOptions, from_value, parse_documents, parse_event,
    parse_ndjson, unsupported,
};

#[cfg(test)]
mod tests;
