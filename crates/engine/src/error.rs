//! Why the engine refused an event.

use crate::call::Lifecycle;

/// The two reasons the engine refuses a well-formed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The event makes no sense in the call's current state (HOLD of someone already on hold,
    /// anything but `WRAP_UP_ENDED` after `CALL_ENDED`, ...). HTTP 409. A lenient engine accepts
    /// these with a warning instead.
    InvalidTransition,
    /// The event type does not exist in the configured telephony kind (Native telephony has no
    /// `AUDIO_STATS`, `CALL_STARTED`, `SWAP` or `WRAP_UP_ENDED`). HTTP 422, also when lenient.
    UnsupportedEvent,
}

impl RefusalKind {
    /// The stable code reported in `{"error":{"code":..}}` bodies.
    pub const fn code(self) -> &'static str {
        match self {
            RefusalKind::InvalidTransition => "invalid_transition",
            RefusalKind::UnsupportedEvent => "unsupported_event",
        }
    }
}

/// An event the engine would not accept, with a message naming the call's current state.
///
/// # Examples
/// ```
/// use voicetk_engine::{Engine, EngineConfig, Lifecycle, RefusalKind};
/// use voicetk_events::{Envelope, EventType, TelephonyEvent};
///
/// let mut engine = Engine::new(EngineConfig::default());
/// let mute = TelephonyEvent::call_only(EventType::Mute, "c-9").ok_or("not call-only")?;
/// let refusal = engine.apply(Envelope::new(mute), jiff::Timestamp::UNIX_EPOCH).unwrap_err();
/// assert_eq!(refusal.kind, RefusalKind::InvalidTransition);
/// assert_eq!(refusal.code(), "invalid_transition");
/// assert_eq!(refusal.lifecycle, None::<Lifecycle>);
/// assert_eq!(
///     refusal.to_string(),
///     "MUTE refused: unknown call c-9: the first event of a call must be CALL_STARTED or CALL_CONNECTED"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Why the event was refused.
    pub kind: RefusalKind,
    /// What was wrong, naming the call's state, e.g. `HOLD refused: participant "+1 415 555 0100"
    /// is already on hold (call c-1 is connected; on hold: ["+1 415 555 0100"])`.
    pub message: String,
    /// The call's lifecycle when the event arrived; `None` for an unknown call.
    pub lifecycle: Option<Lifecycle>,
}

impl Refusal {
    /// The stable code of [`kind`](Self::kind): `"invalid_transition"` or `"unsupported_event"`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub(crate) fn invalid(message: String, lifecycle: Option<Lifecycle>) -> Refusal {
        Refusal {
            kind: RefusalKind::InvalidTransition,
            message,
            lifecycle,
        }
    }
}
