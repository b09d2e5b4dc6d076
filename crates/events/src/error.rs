//! Validation errors: what was wrong, where (a JSON path), and what was expected.

use std::fmt;

/// What kind of problem a payload has. Each kind has a stable machine-readable
/// [`code`](ErrorKind::code) that the HTTP API and the CLI report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The bytes are not JSON. HTTP 400.
    MalformedJson,
    /// The payload is over the size limit. HTTP 413.
    TooLarge,
    /// A required field is absent. HTTP 422.
    MissingField,
    /// A field has the wrong JSON type (a string where an integer belongs, ...). HTTP 422.
    WrongType,
    /// A field has the right type but a value outside what the spec allows (an empty `callId`,
    /// a negative counter, `callType` other than inbound/outbound, ...). HTTP 422.
    InvalidValue,
    /// `type` is not one of the 15 event names. HTTP 422.
    UnknownType,
    /// The event type does not exist in the configured telephony kind. HTTP 422.
    UnsupportedEvent,
}

impl ErrorKind {
    /// The stable code reported in `{"error":{"code":..}}` bodies.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::TooLarge => "payload_too_large",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::UnknownType => "unknown_event_type",
            ErrorKind::UnsupportedEvent => "unsupported_event",
        }
    }
}

/// A payload that is not a valid telephony event.
///
/// `path` names the offending place in JSON-path style without the leading `$`
/// (`detail.packetsLost`, `warnings[1]`); it is `$` for problems with the payload as a whole.
/// `message` says what was found and what was expected.
///
/// # Examples
/// ```
/// use voicetk_events::{parse_event, ErrorKind, ParseOptions};
/// let err = parse_event(br#"{"type":"MUTE","detail":{"callId":""}}"#, &ParseOptions::default())
///     .unwrap_err();
/// assert_eq!(err.kind, ErrorKind::InvalidValue);
/// assert_eq!(err.path, "detail.callId");
/// assert_eq!(err.to_string(), "detail.callId: expected a non-empty string, found \"\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// What kind of problem it is.
    pub kind: ErrorKind,
    /// Where it is.
    pub path: String,
    /// What was found and what was expected.
    pub message: String,
}

impl ValidationError {
    /// Builds an error.
    pub fn new(kind: ErrorKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The stable code of [`kind`](Self::kind).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
