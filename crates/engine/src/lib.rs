//! The voicetk call engine: per-call state, the transition rules of the call model, gap-free
//! sequence numbers, idempotent re-sends, and all-or-nothing batches.
//!
//! # Example
//! ```
//! use voicetk_engine::{Applied, Engine, EngineConfig, Lifecycle};
//! use voicetk_events::{parse_event, ParseOptions};
//!
//! let mut engine = Engine::new(EngineConfig::default());
//! let now: jiff::Timestamp = "2025-03-01T10:00:00Z".parse()?;
//! let events = [
//!     r#"{"type":"CALL_STARTED","detail":{"callId":"c-1","callType":"inbound","participant":"+1 415 555 0100"},"agent":"ana"}"#,
//!     r#"{"type":"CALL_CONNECTED","detail":{"callId":"c-1","callType":"inbound","participant":"+1 415 555 0100"}}"#,
//!     r#"{"type":"HOLD","detail":{"callId":"c-1","participant":"+1 415 555 0100"}}"#,
//! ];
//! for json in events {
//!     let envelope = parse_event(json.as_bytes(), &ParseOptions::default())?;
//!     let Applied::Accepted(stamped) = engine.apply(envelope, now)? else { unreachable!() };
//!     // Every accepted event is numbered and carries the call's agent.
//!     assert_eq!(stamped.agent.as_deref(), Some("ana"));
//! }
//! assert_eq!(engine.last_seq(), 3);
//! let call = engine.call("c-1").ok_or("c-1 is tracked")?;
//! assert_eq!(call.lifecycle, Lifecycle::Connected);
//! assert_eq!(call.on_hold().count(), 1);
//!
//! // A second HOLD makes no sense: refused, naming the state.
//! let again = parse_event(events[2].as_bytes(), &ParseOptions::default())?;
//! let refusal = engine.apply(again, now).unwrap_err();
//! assert_eq!(refusal.code(), "invalid_transition");
//! assert_eq!(
//!     refusal.message,
//!     r#"HOLD refused: participant "+1 415 555 0100" is already on hold (call c-1 is connected; on hold: ["+1 415 555 0100"])"#
//! );
//! assert_eq!(engine.last_seq(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! - [`Engine`]: the calls by `callId`; [`Engine::apply`] judges and applies one event,
//!   [`Engine::check`] is its dry run, [`Engine::checkpoint`] / [`Engine::rollback`] /
//!   [`Engine::commit`] make a batch all-or-nothing, [`Engine::take_dirty`] and
//!   [`Engine::restore`] let the log persist and rebuild the state.
//! - [`CallState`]: one call's lifecycle, participants, mute, recording and last
//!   `AUDIO_STATS`; its JSON is what `GET /v1/calls` returns.
//! - [`transition`]: the rules, with the full transition table in its docs.
//! - [`Refusal`]: why an event was refused, with the contract's error code.
//! - [`audio`]: `AUDIO_STATS` aggregation.
//!
//! The engine does no I/O and reads no clock: the caller passes `now`, which keeps it
//! deterministic and easy to test.

pub mod audio;
mod call;
mod engine;
mod error;
#[cfg(test)]
mod fixture;
pub mod transition;

pub use call::{AudioState, CallState, LastAudioStats, Lifecycle, Participant, Recording, Role};
pub use engine::{
    Applied, Checkpoint, DEFAULT_CLOSED_CALL_RETENTION, DEFAULT_IDEMPOTENCY_WINDOW, Engine,
    EngineConfig, EngineSnapshot,
};
pub use error::{Refusal, RefusalKind};
