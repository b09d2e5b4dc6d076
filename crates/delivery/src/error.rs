//! Errors of this crate, one type per operation: naming what to listen to or subscribe to
//! ([`SubscribeError`]), building and resuming deliveries ([`DeliveryError`]), and reading a
//! [`History`](crate::History) ([`HistoryError`]).

use std::error::Error as StdError;

use voicetk_events::{EventType, TelephonyKind};

/// A listener or subscription named an event type that cannot be delivered.
///
/// Each kind has a stable [`code`](Self::code), the one CONTRACT.md uses in
/// `{"error":{"code":..}}` bodies.
///
/// # Examples
/// ```
/// use voicetk_delivery::{Filter, SubscribeError};
/// use voicetk_events::TelephonyKind;
///
/// let err = Filter::from_names(TelephonyKind::Native, &["SWAP"]).unwrap_err();
/// assert_eq!(err.code(), "unsupported_event");
/// assert!(err.to_string().starts_with("SWAP is not supported by native telephony"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The name is neither an Aura name (`CALL_STARTED`) nor an LWC name (`callstarted`).
    #[error(
        "unknown event type {name:?}; expected one of {} (or its LWC name, e.g. callstarted)",
        EventType::ALL.map(EventType::as_str).join(", ")
    )]
    UnknownType {
        /// The name that was given.
        name: String,
    },
    /// The type does not exist in the configured telephony (Native has no `AUDIO_STATS`,
    /// `CALL_STARTED`, `SWAP` or `WRAP_UP_ENDED`).
    #[error(
        "{event_type} is not supported by {telephony} telephony (Salesforce Voice Native \
         Telephony has no AUDIO_STATS, CALL_STARTED, SWAP or WRAP_UP_ENDED)"
    )]
    Unsupported {
        /// The type that was named.
        event_type: EventType,
        /// The telephony that lacks it.
        telephony: TelephonyKind,
    },
}

impl SubscribeError {
    /// The stable machine-readable code: `unknown_event_type` or `unsupported_event`.
    pub const fn code(&self) -> &'static str {
        match self {
            SubscribeError::UnknownType { .. } => "unknown_event_type",
            SubscribeError::Unsupported { .. } => "unsupported_event",
        }
    }
}

/// Resolves a type name (Aura or LWC) and checks that `telephony` has it.
pub(crate) fn resolve_name(
    name: &str,
    telephony: TelephonyKind,
) -> Result<EventType, SubscribeError> {
    let event_type = EventType::from_name(name).ok_or_else(|| SubscribeError::UnknownType {
        name: name.to_owned(),
    })?;
    check_supported(event_type, telephony)
}

/// Checks that `telephony` has `event_type`.
pub(crate) fn check_supported(
    event_type: EventType,
    telephony: TelephonyKind,
) -> Result<EventType, SubscribeError> {
    if event_type.is_supported_by(telephony) {
        Ok(event_type)
    } else {
        Err(SubscribeError::Unsupported {
            event_type,
            telephony,
        })
    }
}

/// Something went wrong delivering events.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Only accepted events are delivered, and acceptance gives an event its `seq`: an
    /// envelope without one cannot be ordered, deduplicated or resumed after.
    #[error(
        "cannot deliver {event_type} for call {call_id:?}: it has no seq (only events accepted \
         into the log are delivered)"
    )]
    MissingSeq {
        /// The envelope's type.
        event_type: EventType,
        /// The envelope's `callId`.
        call_id: String,
    },
    /// Reading the history of a [`resume`](crate::resume) failed; the stream ends after it.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// A [`History`](crate::History) could not be read.
///
/// The log that implements `History` says what failed in `message` and keeps the underlying
/// error as the [`source`](std::error::Error::source).
///
/// # Examples
/// ```
/// use voicetk_delivery::HistoryError;
/// let io = std::io::Error::other("disk on fire");
/// let err = HistoryError::with_source("reading segment 7", io);
/// assert_eq!(err.to_string(), "reading history failed: reading segment 7");
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("reading history failed: {message}")]
pub struct HistoryError {
    /// What failed, in the log's words.
    message: String,
    /// The log's own error, kept so callers can walk the chain.
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl HistoryError {
    /// An error with a message and no underlying cause.
    pub fn new(message: impl Into<String>) -> HistoryError {
        HistoryError {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> HistoryError {
        HistoryError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What failed, without the "reading history failed" prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn codes_and_messages_name_the_type() {
        let unknown = resolve_name("CALL_FOO", TelephonyKind::Partner).unwrap_err();
        assert_eq!(unknown.code(), "unknown_event_type");
        let text = unknown.to_string();
        assert!(
            text.starts_with("unknown event type \"CALL_FOO\""),
            "{text}"
        );
        assert!(text.contains("WRAP_UP_ENDED"), "{text}");

        for name in ["AUDIO_STATS", "callstarted", "SWAP", "wrapupended"] {
            let err = resolve_name(name, TelephonyKind::Native).unwrap_err();
            assert_eq!(err.code(), "unsupported_event");
            let t = EventType::from_name(name).unwrap();
            assert!(
                err.to_string()
                    .starts_with(&format!("{t} is not supported by native telephony")),
                "{err}"
            );
            assert_eq!(resolve_name(name, TelephonyKind::Partner), Ok(t));
        }
        assert_eq!(
            resolve_name("hold", TelephonyKind::Native),
            Ok(EventType::Hold)
        );
    }

    #[test]
    fn history_error_is_transparent_in_delivery_error() {
        let err = DeliveryError::from(HistoryError::new("log closed"));
        assert_eq!(err.to_string(), "reading history failed: log closed");
    }
}
