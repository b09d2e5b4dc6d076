//! The one error type of the log: a small closed kind callers match on, where it happened, and
//! the underlying cause kept for `source()`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// What went wrong in an [`EventLog`](crate::EventLog) operation.
///
/// The kinds a caller acts on carry their facts ([`SeqGap`](Self::SeqGap),
/// [`DuplicateEventId`](Self::DuplicateEventId)); the others say which layer failed, and the
/// [`LogError`] around them holds the location and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogErrorKind {
    /// The storage could not be read or written: file system, permissions, disk full, I/O.
    Io,
    /// Stored data cannot be understood: a malformed database file or a row that does not
    /// decode. Never caused by the caller's input.
    Corrupt,
    /// The store was written by a newer voicetk whose schema this one does not know.
    IncompatibleSchema {
        /// The schema version found in the store.
        found: u32,
        /// The newest schema version this build understands.
        supported: u32,
    },
    /// Another connection or process held the store locked for longer than the busy timeout.
    Busy,
    /// An appended batch does not continue the log: its first `seq` is not `last_seq + 1`, or
    /// its seqs are not contiguous. Nothing of the batch was stored.
    SeqGap {
        /// The seq the log expected at that position.
        expected: u64,
        /// The seq the batch had there.
        got: u64,
    },
    /// An appended event carries an `eventId` that is already stored (or appears twice in the
    /// batch). Nothing of the batch was stored.
    DuplicateEventId {
        /// The offending `eventId`.
        event_id: String,
    },
    /// A seq does not fit the store's integer range (SQLite holds at most `i64::MAX`).
    SeqOutOfRange {
        /// The seq that does not fit.
        seq: u64,
    },
    /// The log was closed (or its writer stopped); nothing more is accepted.
    Closed,
    /// An operation with a time bound (such as a graceful close) did not finish in time.
    Timeout,
    /// Any other failure of the storage engine.
    Storage,
}

impl fmt::Display for LogErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogErrorKind::Io => f.write_str("I/O error"),
            LogErrorKind::Corrupt => f.write_str("stored data is corrupt"),
            LogErrorKind::IncompatibleSchema { found, supported } => write!(
                f,
                "schema version {found} is newer than this build supports ({supported})"
            ),
            LogErrorKind::Busy => {
                f.write_str("the store is locked by another connection or process")
            }
            LogErrorKind::SeqGap { expected, got } => {
                write!(f, "seq gap: expected seq {expected}, got {got}")
            }
            LogErrorKind::DuplicateEventId { event_id } => {
                write!(f, "eventId {event_id:?} is already stored")
            }
            LogErrorKind::SeqOutOfRange { seq } => {
                write!(f, "seq {seq} is out of the store's range")
            }
            LogErrorKind::Closed => f.write_str("the log is closed"),
            LogErrorKind::Timeout => f.write_str("timed out"),
            LogErrorKind::Storage => f.write_str("storage error"),
        }
    }
}

/// The error of every [`EventLog`](crate::EventLog) operation.
///
/// Its `Display` says what failed and where (`<location>: <kind>[: <context>][: <cause>]`),
/// e.g. `/var/lib/voicetk/events.db: seq gap: expected seq 5, got 7`. Cheap to clone, so one
/// failed group commit can answer every caller in the group.
///
/// # Examples
/// ```
/// use voicetk_log::{LogError, LogErrorKind};
///
/// let err = LogError::new(LogErrorKind::SeqGap { expected: 5, got: 7 })
///     .with_location("/data/events.db");
/// assert!(matches!(err.kind(), LogErrorKind::SeqGap { expected: 5, got: 7 }));
/// assert_eq!(err.to_string(), "/data/events.db: seq gap: expected seq 5, got 7");
/// ```
#[derive(Debug, Clone)]
pub struct LogError {
    /// What went wrong, for callers to match on.
    kind: LogErrorKind,
    /// Where: the database file, or whatever names the store of another implementation.
    location: Option<Arc<str>>,
    /// Which operation or which stored row, when the kind alone does not say enough.
    context: Option<Arc<str>>,
    /// The underlying cause; shared so the error stays `Clone`.
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl LogError {
    /// An error of `kind` with no location, context or cause yet.
    pub fn new(kind: LogErrorKind) -> LogError {
        LogError {
            kind,
            location: None,
            context: None,
            source: None,
        }
    }

    /// Sets where the error happened (a file path, a server address).
    #[must_use]
    pub fn with_location(mut self, location: impl Into<Arc<str>>) -> LogError {
        self.location = Some(location.into());
        self
    }

    /// Sets what was being done or which row was at fault.
    #[must_use]
    pub fn with_context(mut self, context: impl Into<Arc<str>>) -> LogError {
        self.context = Some(context.into());
        self
    }

    /// Keeps the underlying cause, reported by `source()` and in `Display`.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> LogError {
        self.source = Some(Arc::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &LogErrorKind {
        &self.kind
    }

    /// Where it went wrong, when known.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Whether the log refused the operation for good ([`LogErrorKind::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.kind == LogErrorKind::Closed
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(context) = &self.context {
            write!(f, ": {context}")?;
        }
        // The cause's text is part of the message because most logs print only Display, and
        // "I/O error" alone does not tell an operator that the disk is full.
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for LogError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<LogErrorKind> for LogError {
    fn from(kind: LogErrorKind) -> Self {
        LogError::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_location_kind_context_and_cause() {
        let cause = std::io::Error::other("No space left on device");
        let err = LogError::new(LogErrorKind::Io)
            .with_location("/data/events.db")
            .with_context("commit")
            .with_source(cause);
        assert_eq!(
            err.to_string(),
            "/data/events.db: I/O error: commit: No space left on device"
        );
        assert_eq!(err.location(), Some("/data/events.db"));
        let source = StdError::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("No space left on device"));
    }

    #[test]
    fn kinds_carry_their_facts() {
        let err = LogError::from(LogErrorKind::DuplicateEventId {
            event_id: "e-1".into(),
        });
        assert_eq!(err.to_string(), "eventId \"e-1\" is already stored");
        assert!(StdError::source(&err).is_none());
        assert!(!err.is_closed());
        assert!(LogError::new(LogErrorKind::Closed).is_closed());
        let schema = LogErrorKind::IncompatibleSchema {
            found: 9,
            supported: 1,
        };
        assert_eq!(
            schema.to_string(),
            "schema version 9 is newer than this build supports (1)"
        );
    }

    #[test]
    fn clones_share_the_cause() {
        let err = LogError::new(LogErrorKind::Storage).with_source(std::io::Error::other("boom"));
        let copy = err.clone();
        assert_eq!(copy.to_string(), err.to_string());
        assert_eq!(copy.kind(), &LogErrorKind::Storage);
    }
}
