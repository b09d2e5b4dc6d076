//! Recorded event streams as scenarios: an NDJSON file of toolkit events (what `voicetk tail`,
//! `GET /v1/events` or `voicetk simulate` print) replayed in its recorded order and rhythm, as
//! fixtures for component tests.
//!
//! ```
//! use std::time::Duration;
//! use voicetk_sources::simulator::Recording;
//!
//! let ndjson = br#"
//! {"type":"CALL_STARTED","detail":{"callId":"c1","callType":"inbound","participant":"+1 415 555 0100"},"seq":7,"timestamp":"2026-01-05T09:00:00Z","agent":"ana"}
//! {"type":"CALL_CONNECTED","detail":{"callId":"c1","callType":"inbound","participant":"+1 415 555 0100"},"seq":8,"timestamp":"2026-01-05T09:00:04Z","agent":"ana"}
//! "#;
//! let recording = Recording::from_ndjson(ndjson, Default::default())?;
//! let events = recording.events();
//! assert_eq!(events.len(), 2);
//! // Replayed 4 s apart, as recorded; the gateway gives them new seqs and timestamps.
//! assert_eq!(events[1].at, Duration::from_secs(4));
//! assert_eq!(events[1].envelope.seq, None);
//!
//! // Fresh call ids, so the same fixture can be replayed into a log that already holds it.
//! let again = recording.with_fresh_ids("run-2");
//! assert_eq!(again.events()[0].envelope.call_id(), "c1~run-2");
//! # Ok::<(), voicetk_sources::simulator::RecordingError>(())
//! ```

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use voicetk_events::{Envelope, ParseOptions, ValidationError, from_value, parse_ndjson};

use super::timeline::ScheduledEvent;

/// Largest gap kept between two recorded events: a recording with a lunch break in it should
/// not stall a test for an hour.
pub const MAX_RECORDED_GAP: Duration = Duration::from_secs(60);

/// Why a recording could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be read.
    #[error("cannot read recording {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a valid event.
    #[error("line {line}: {error}")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: ValidationError,
    },
    /// No event in it.
    #[error("the recording holds no events")]
    Empty,
}

/// A recorded event stream, ready to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    events: Vec<ScheduledEvent>,
}

impl Recording {
    /// Reads NDJSON, one event per line (blank lines skipped). Each event keeps its `agent`,
    /// `eventId` and unknown fields; `seq`, `timestamp`, `replayed` and `warnings` are dropped
    /// (the gateway sets them anew). Recorded timestamps give the replay's rhythm (gaps capped
    /// at [`MAX_RECORDED_GAP`]); events without one follow the previous at once.
    ///
    /// # Errors
    /// [`RecordingError::Invalid`] naming the first bad line; [`RecordingError::Empty`].
    pub fn from_ndjson(bytes: &[u8], opts: ParseOptions) -> Result<Recording, RecordingError> {
        let mut events = Vec::new();
        let mut at = Duration::ZERO;
        let mut previous: Option<jiff::Timestamp> = None;
        for doc in parse_ndjson(bytes, &opts) {
            let mut envelope = doc.result.map_err(|error| RecordingError::Invalid {
                line: doc.position,
                error,
            })?;
            if let Some(ts) = envelope.timestamp {
                if let Some(prev) = previous {
                    let gap = ts
                        .duration_since(prev)
                        .try_into()
                        .unwrap_or(Duration::ZERO)
                        .min(MAX_RECORDED_GAP);
                    at += gap;
                }
                previous = Some(ts);
            }
            envelope.seq = None;
            envelope.timestamp = None;
            envelope.replayed = false;
            envelope.warnings.clear();
            events.push(ScheduledEvent { at, envelope });
        }
        if events.is_empty() {
            return Err(RecordingError::Empty);
        }
        Ok(Recording { events })
    }

    /// Reads an NDJSON file, as [`from_ndjson`](Self::from_ndjson).
    ///
    /// # Errors
    /// [`RecordingError::Io`] when the file cannot be read, else as
    /// [`from_ndjson`](Self::from_ndjson).
    pub fn from_path(path: &Path, opts: ParseOptions) -> Result<Recording, RecordingError> {
        let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Recording::from_ndjson(&bytes, opts)
    }

    /// Whether `name` looks like a recording rather than a scenario: `.ndjson` or `.jsonl`.
    pub fn is_recording_path(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        lower.ends_with(".ndjson") || lower.ends_with(".jsonl")
    }

    /// The events with their offsets from the start of the replay.
    pub fn events(&self) -> &[ScheduledEvent] {
        &self.events
    }

    /// The same recording with every `callId` suffixed `~{run}` and every `eventId` likewise,
    /// so a replay opens new calls instead of colliding with the recorded ones.
    pub fn with_fresh_ids(&self, run: &str) -> Recording {
        let events = self
            .events
            .iter()
            .map(|e| ScheduledEvent {
                at: e.at,
                envelope: renamed(&e.envelope, run),
            })
            .collect();
        Recording { events }
    }
}

/// `envelope` with `~run` appended to its callId and eventId.
fn renamed(envelope: &Envelope, run: &str) -> Envelope {
    let mut value: Value = match serde_json::from_str(&envelope.to_json()) {
        Ok(v) => v,
        Err(_) => return envelope.clone(),
    };
    for pointer in ["/detail/callId", "/eventId"] {
        if let Some(Value::String(s)) = value.pointer_mut(pointer) {
            s.push('~');
            s.push_str(run);
        }
    }
    // The payload was valid before; appending to two strings keeps it valid.
    from_value(value, &ParseOptions::default()).unwrap_or_else(|_| envelope.clone())
}
