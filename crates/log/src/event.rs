//! What goes into the log and what comes back out of it at restart.

use voicetk_events::{Envelope, EventType, ParseOptions, ValidationError, parse_event};

use crate::error::{LogError, LogErrorKind};

/// One event as stored: the full delivered JSON payload (with `seq`, `timestamp` and `agent`
/// inside) plus the columns the log indexes and filters on.
///
/// The log keeps `json` byte for byte and never parses it; the other fields must agree with it
/// (the engine builds both from one [`Envelope`], see [`StoredEvent::from_envelope`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Position in the log: strictly increasing, gap-free, assigned by the engine.
    pub seq: u64,
    /// When the event was accepted; retention by age compares against it.
    pub timestamp: jiff::Timestamp,
    /// The event's type, for type filters.
    pub event_type: EventType,
    /// `detail.callId`, for per-call history.
    pub call_id: String,
    /// The agent whose desktop the call belongs to, for agent-scoped subscriptions.
    pub agent: Option<String>,
    /// The source's `eventId`, unique in the log, for idempotent re-sends.
    pub event_id: Option<String>,
    /// The payload exactly as delivered.
    pub json: String,
}

impl StoredEvent {
    /// Builds the stored form of an accepted event: columns from the envelope's fields and
    /// `json` from its serialization. `None` when the envelope has no `seq` or `timestamp` yet
    /// (only accepted events are stored).
    ///
    /// # Examples
    /// ```
    /// use voicetk_events::{parse_event, ParseOptions};
    /// use voicetk_log::StoredEvent;
    ///
    /// let mut envelope = parse_event(
    ///     br#"{"type":"MUTE","detail":{"callId":"c1"},"eventId":"m-1"}"#,
    ///     &ParseOptions::default(),
    /// )?;
    /// assert!(StoredEvent::from_envelope(&envelope).is_none());
    /// envelope.seq = Some(7);
    /// envelope.timestamp = Some("2025-03-01T12:00:00Z".parse()?);
    /// let stored = StoredEvent::from_envelope(&envelope).unwrap();
    /// assert_eq!((stored.seq, stored.call_id.as_str()), (7, "c1"));
    /// assert_eq!(stored.event_id.as_deref(), Some("m-1"));
    /// assert_eq!(stored.envelope()?, envelope);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_envelope(envelope: &Envelope) -> Option<StoredEvent> {
        Some(StoredEvent {
            seq: envelope.seq?,
            timestamp: envelope.timestamp?,
            event_type: envelope.event_type(),
            call_id: envelope.call_id().to_owned(),
            agent: envelope.agent.clone(),
            event_id: envelope.event_id.clone(),
            json: envelope.to_json(),
        })
    }

    /// Parses the stored payload back into an [`Envelope`].
    ///
    /// # Errors
    /// A [`ValidationError`] when `json` is not a valid telephony event (it always is for
    /// events built with [`StoredEvent::from_envelope`]).
    pub fn envelope(&self) -> Result<Envelope, ValidationError> {
        // Stored payloads were accepted once; the ingest size limit does not apply to them.
        let options = ParseOptions {
            max_bytes: usize::MAX,
            ..ParseOptions::default()
        };
        parse_event(self.json.as_bytes(), &options)
    }
}

/// One atomic append: events whose seqs are contiguous and continue the log's `last_seq`, plus
/// call snapshots to upsert and call snapshots to delete, all in one transaction.
///
/// Snapshots are opaque JSON owned by the engine, keyed by call id; the log only stores them so
/// a restart can rebuild the engine ([`Recovered::calls`]). Upserts are applied before
/// removals, so a call id in both ends up removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendBatch {
    /// The events, oldest first.
    pub events: Vec<StoredEvent>,
    /// `(call id, snapshot JSON)` to insert or replace.
    pub calls: Vec<(String, String)>,
    /// Call ids whose snapshot to delete (the call is closed).
    pub removed_calls: Vec<String>,
}

impl AppendBatch {
    /// A batch of events with no call snapshot changes.
    pub fn new(events: Vec<StoredEvent>) -> AppendBatch {
        AppendBatch {
            events,
            calls: Vec::new(),
            removed_calls: Vec::new(),
        }
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.calls.is_empty() && self.removed_calls.is_empty()
    }

    /// The seq of the batch's last event, or `None` when it has no events.
    pub fn last_seq(&self) -> Option<u64> {
        self.events.last().map(|e| e.seq)
    }

    /// Checks that the events continue a log whose last seq is `last_seq`: the first is
    /// `last_seq + 1` and each next one is one more. Every [`EventLog`](crate::EventLog)
    /// implementation runs this before storing anything.
    ///
    /// # Errors
    /// [`LogErrorKind::SeqGap`] naming the first seq out of place.
    ///
    /// # Examples
    /// ```
    /// # use voicetk_log::{AppendBatch, LogErrorKind};
    /// assert!(AppendBatch::default().check_continues(41).is_ok());
    /// // A batch with seqs 42, 44 after last_seq 41:
    /// # let event = |seq| voicetk_log::StoredEvent { seq, timestamp: jiff::Timestamp::UNIX_EPOCH,
    /// #     event_type: voicetk_events::EventType::Mute, call_id: "c".into(), agent: None,
    /// #     event_id: None, json: "{}".into() };
    /// let batch = AppendBatch::new(vec![event(42), event(44)]);
    /// let err = batch.check_continues(41).unwrap_err();
    /// assert_eq!(err.kind(), &LogErrorKind::SeqGap { expected: 43, got: 44 });
    /// ```
    pub fn check_continues(&self, last_seq: u64) -> Result<(), LogError> {
        let mut expected = last_seq.checked_add(1);
        for event in &self.events {
            match expected {
                Some(want) if want == event.seq => expected = want.checked_add(1),
                Some(want) => {
                    return Err(LogError::new(LogErrorKind::SeqGap {
                        expected: want,
                        got: event.seq,
                    }));
                }
                None => {
                    return Err(LogError::new(LogErrorKind::SeqOutOfRange {
                        seq: event.seq,
                    }));
                }
            }
        }
        Ok(())
    }
}

/// What a restart needs to rebuild the engine, read in one consistent snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The seq of the last event ever appended (it survives retention); 0 for a new log.
    pub last_seq: u64,
    /// `(call id, snapshot JSON)` of every call with a stored snapshot, by call id.
    pub calls: Vec<(String, String)>,
    /// `(eventId, seq)` of the most recent events that carry an `eventId`, oldest first, so
    /// re-sends across a restart are still recognised.
    pub recent_event_ids: Vec<(String, u64)>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            timestamp: jiff::Timestamp::UNIX_EPOCH,
            event_type: EventType::Hold,
            call_id: "c1".into(),
            agent: None,
            event_id: None,
            json: String::from("{}"),
        }
    }

    #[test]
    fn contiguous_batches_continue_the_log() {
        let batch = AppendBatch::new((6..=9).map(event).collect());
        assert!(batch.check_continues(5).is_ok());
        assert_eq!(batch.last_seq(), Some(9));
        let err = batch.check_continues(4).unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 5,
                got: 6
            }
        );
        let err = batch.check_continues(6).unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 7,
                got: 6
            }
        );
    }

    #[test]
    fn gaps_and_repeats_inside_a_batch_are_refused() {
        let gap = AppendBatch::new(vec![event(1), event(2), event(4)]);
        assert_eq!(
            gap.check_continues(0).unwrap_err().kind(),
            &LogErrorKind::SeqGap {
                expected: 3,
                got: 4
            }
        );
        let repeat = AppendBatch::new(vec![event(1), event(1)]);
        assert_eq!(
            repeat.check_continues(0).unwrap_err().kind(),
            &LogErrorKind::SeqGap {
                expected: 2,
                got: 1
            }
        );
        let overflow = AppendBatch::new(vec![event(1)]);
        assert_eq!(
            overflow.check_continues(u64::MAX).unwrap_err().kind(),
            &LogErrorKind::SeqOutOfRange { seq: 1 }
        );
    }

    #[test]
    fn empty_batches_change_nothing() {
        let batch = AppendBatch::default();
        assert!(batch.is_empty());
        assert_eq!(batch.last_seq(), None);
        assert!(batch.check_continues(0).is_ok());
        let snapshot_only = AppendBatch {
            removed_calls: vec!["c1".into()],
            ..AppendBatch::default()
        };
        assert!(!snapshot_only.is_empty());
    }
}
