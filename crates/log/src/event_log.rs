//! The storage trait every log implements (SQLite now, NATS JetStream next).

use futures::future::BoxFuture;

use crate::error::LogError;
use crate::event::{AppendBatch, Recovered, StoredEvent};
use crate::query::ReadQuery;
use crate::retention::Retention;
use crate::stats::LogStats;

/// A durable, ordered log of telephony events: what the server appends to, reads history
/// from, and rebuilds the engine from at restart.
///
/// Object safe, so callers hold an `Arc<dyn EventLog>` and do not know which store is behind
/// it. Every implementation keeps these promises:
///
/// - **Durable on `Ok`**: when [`append`](Self::append) returns `Ok`, the batch survives a
///   crash of the process (and, for [`SqliteLog`](crate::SqliteLog), of the machine).
/// - **Atomic**: on `Err`, nothing of the batch is stored: no event, no snapshot change.
/// - **Ordered and gap-free**: a batch must continue the log ([`AppendBatch::check_continues`]);
///   readers see events in seq order and never part of a batch.
/// - **Retention removes a prefix**: seqs from [`first_seq`](Self::first_seq) to
///   [`last_seq`](Self::last_seq) are all present.
///
/// A batch is handed to the store when `append` is called, not when its future is first
/// polled: dropping the future does not cancel the append, it only loses the answer (the
/// caller then learns the outcome from [`last_seq`](Self::last_seq)).
pub trait EventLog: Send + Sync + 'static {
    /// Stores `batch` atomically and durably.
    ///
    /// # Errors
    /// [`SeqGap`](crate::LogErrorKind::SeqGap) when the batch's first seq is not
    /// `last_seq + 1` or its seqs are not contiguous;
    /// [`DuplicateEventId`](crate::LogErrorKind::DuplicateEventId) when an `eventId` is
    /// already stored; [`Closed`](crate::LogErrorKind::Closed) after [`close`](Self::close);
    /// storage failures ([`Io`](crate::LogErrorKind::Io), ...). In every case nothing of the
    /// batch is stored.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), LogError>>;

    /// Events with `seq > query.after` matching the query, oldest first, at most
    /// `query.limit`.
    ///
    /// # Errors
    /// [`Closed`](crate::LogErrorKind::Closed) after close; storage failures;
    /// [`Corrupt`](crate::LogErrorKind::Corrupt) when a stored row does not decode.
    fn read(&self, query: ReadQuery) -> BoxFuture<'_, Result<Vec<StoredEvent>, LogError>>;

    /// The seq of the last event appended (0 for a new log). It survives retention.
    ///
    /// # Errors
    /// Storage failures, for implementations that must ask the store.
    fn last_seq(&self) -> BoxFuture<'_, Result<u64, LogError>>;

    /// What a restart needs: `last_seq`, every call snapshot, and the `eventId`s of up to
    /// `recent_ids` of the newest events that carry one. Read in one consistent snapshot.
    ///
    /// # Errors
    /// Storage failures; [`Corrupt`](crate::LogErrorKind::Corrupt) for undecodable rows.
    fn recover(&self, recent_ids: usize) -> BoxFuture<'_, Result<Recovered, LogError>>;

    /// The seq of the stored event with this `eventId`, if it is still held.
    ///
    /// # Errors
    /// Storage failures.
    fn find_event_id(&self, event_id: &str) -> BoxFuture<'_, Result<Option<u64>, LogError>>;

    /// Deletes the oldest events the policy no longer allows, never the newest one; returns how
    /// many were deleted. `now` is passed in so callers (and tests) own the clock.
    ///
    /// # Errors
    /// [`Closed`](crate::LogErrorKind::Closed) after close; storage failures.
    fn apply_retention(
        &self,
        policy: &Retention,
        now: jiff::Timestamp,
    ) -> BoxFuture<'_, Result<u64, LogError>>;

    /// The lowest seq still held, 0 if the log holds no event. A reader asking for
    /// `after < first_seq - 1` has missed events that retention already deleted.
    ///
    /// # Errors
    /// Storage failures.
    fn first_seq(&self) -> BoxFuture<'_, Result<u64, LogError>>;

    /// Counters since the log was opened: appended events and batches, commits and their
    /// durations.
    fn stats(&self) -> LogStats;

    /// Finishes the appends already handed over, then refuses new ones with
    /// [`Closed`](crate::LogErrorKind::Closed). The default does nothing, for stores with
    /// nothing to flush.
    ///
    /// # Errors
    /// [`Timeout`](crate::LogErrorKind::Timeout) when the queued work did not finish within the
    /// implementation's bound.
    fn close(&self) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(async { Ok(()) })
    }
}
