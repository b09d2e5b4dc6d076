//! The one thread that writes: it takes appends off a bounded queue, merges the ones that
//! queued up during the previous commit into one transaction (group commit), commits, and only
//! then answers each caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior, ffi};
use tokio::sync::{mpsc, oneshot, watch};

use super::connection::{fail, fail_while};
use super::schema::{self, DELETE_CALL, INSERT_EVENT, UPDATE_LAST_SEQ, UPSERT_CALL, seq_to_sql};
use crate::error::{LogError, LogErrorKind};
use crate::event::{AppendBatch, StoredEvent};
use crate::retention::Retention;
use crate::stats::StatsCell;

/// Work for the writer thread.
pub(crate) enum Command {
    /// Store a batch; answer once it is durable or refused.
    Append {
        batch: AppendBatch,
        reply: oneshot::Sender<Result<(), LogError>>,
    },
    /// Delete what the policy no longer allows; answer with how many events went.
    Retention {
        policy: Retention,
        now: jiff::Timestamp,
        reply: oneshot::Sender<Result<u64, LogError>>,
    },
    /// Commit what came before, then stop.
    Shutdown,
}

/// An append waiting in the current group.
struct Pending {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<(), LogError>>,
}

/// The writer's state, owned by its thread.
pub(crate) struct Writer {
    /// The only read-write connection to the file.
    pub(crate) conn: Connection,
    /// The file, for error messages.
    pub(crate) location: Arc<str>,
    /// Published after each commit so `last_seq()` answers without a query.
    pub(crate) last_seq: Arc<AtomicU64>,
    /// Counters for `stats()`.
    pub(crate) stats: Arc<StatsCell>,
    /// Merging stops once the group holds this many events.
    pub(crate) max_group_events: usize,
}

impl Writer {
    /// Runs until `Shutdown` or until every sender is gone (the log was dropped), then answers
    /// whatever is still queued with `Closed` and flags `stopped`.
    pub(crate) fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        stopped: watch::Sender<bool>,
    ) {
        let mut group: Vec<Pending> = Vec::new();
        'serve: while let Some(first) = commands.blocking_recv() {
            let mut next = Some(first);
            let mut group_events = 0usize;
            while let Some(command) = next.take() {
                match command {
                    Command::Append { batch, reply } => {
                        group_events += batch.events.len().max(1);
                        group.push(Pending { batch, reply });
                    }
                    Command::Retention { policy, now, reply } => {
                        // Appends queued before it are committed first, as callers expect.
                        self.commit_group(&mut group);
                        group_events = 0;
                        let _ = reply.send(self.prune(&policy, now));
                    }
                    Command::Shutdown => {
                        self.commit_group(&mut group);
                        break 'serve;
                    }
                }
                if group_events >= self.max_group_events {
                    break;
                }
                // Whatever queued up while the last commit ran joins this group.
                next = commands.try_recv().ok();
            }
            self.commit_group(&mut group);
        }
        commands.close();
        while let Ok(command) = commands.try_recv() {
            self.refuse(command);
        }
        tracing::debug!(location = %self.location, "event log writer stopped");
        stopped.send_replace(true);
    }

    /// Answers a command that arrived after shutdown.
    fn refuse(&self, command: Command) {
        let closed =
            || LogError::new(LogErrorKind::Closed).with_location(Arc::clone(&self.location));
        match command {
            Command::Append { reply, .. } => {
                self.stats.record_failed(1);
                let _ = reply.send(Err(closed()));
            }
            Command::Retention { reply, .. } => {
                let _ = reply.send(Err(closed()));
            }
            Command::Shutdown => {}
        }
    }

    /// Commits the group in one transaction and answers each caller with its own result.
    fn commit_group(&mut self, group: &mut Vec<Pending>) {
        if group.is_empty() {
            return;
        }
        let group = std::mem::take(group);
        let started = Instant::now();
        match self.store(&group) {
            Ok(Stored {
                results,
                last_seq,
                committed,
            }) => {
                let took = started.elapsed();
                let mut batches = 0u64;
                let mut events = 0u64;
                for (pending, result) in group.iter().zip(&results) {
                    if result.is_ok() {
                        batches += 1;
                        events += pending.batch.events.len() as u64;
                    }
                }
                if committed {
                    self.last_seq.store(last_seq, Ordering::Release);
                    self.stats.record_commit(batches, events, took);
                    tracing::trace!(
                        location = %self.location,
                        batches,
                        events,
                        last_seq,
                        micros = took.as_micros(),
                        "group committed"
                    );
                }
                self.stats.record_failed(group.len() as u64 - batches);
                for (pending, result) in group.into_iter().zip(results) {
                    if let Err(e) = &result {
                        tracing::debug!(error = %e, "append refused");
                    }
                    let _ = pending.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = group.len(), "event log commit failed");
                self.stats.record_failed(group.len() as u64);
                // The transaction rolled back; republish what the file says in case the failed
                // commit was half-reported.
                if let Ok(seq) = schema::read_last_seq(&self.conn, &self.location) {
                    self.last_seq.store(seq, Ordering::Release);
                }
                for pending in group {
                    let _ = pending.reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Writes the group's batches in one transaction: first all together without savepoints
    /// (the common case: every batch is valid); if any batch is refused, that transaction is
    /// rolled back whole and the group is written again batch by batch
    /// ([`store_isolated`](Self::store_isolated)), so each caller still gets its own result.
    ///
    /// Savepoints are not free: SQLite copies every page a savepoint modifies into a
    /// sub-journal, a temporary file past 64 KiB, which with the pages a batch dirties (index
    /// leaves all over, call snapshots) meant writing each of them twice.
    fn store(&mut self, group: &[Pending]) -> Result<Stored, LogError> {
        if group.len() > 1 {
            if let Some(stored) = self.store_together(group)? {
                return Ok(stored);
            }
        }
        self.store_isolated(group)
    }

    /// Writes every batch of the group in one transaction without savepoints and commits it;
    /// `None` (nothing written) when a batch was refused.
    ///
    /// # Errors
    /// Failing to start, to update `last_seq` or to commit: the whole group failed.
    fn store_together(&mut self, group: &[Pending]) -> Result<Option<Stored>, LogError> {
        let location = Arc::clone(&self.location);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail_while(&location, "starting a transaction", e))?;
        let mut last_seq = schema::read_last_seq(&tx, &location)?;
        for pending in group {
            let batch = &pending.batch;
            if batch.check_continues(last_seq).is_err() || apply(&tx, batch, &location).is_err() {
                // Dropping the transaction rolls the whole group back; the isolated pass
                // finds out which batch is at fault and why.
                return Ok(None);
            }
            last_seq = batch.last_seq().unwrap_or(last_seq);
        }
        commit_with_last_seq(tx, last_seq, &location)?;
        Ok(Some(Stored {
            results: group.iter().map(|_| Ok(())).collect(),
            last_seq,
            committed: true,
        }))
    }

    /// Writes the group's batches inside one IMMEDIATE transaction. With several batches each
    /// gets a savepoint, so one refused batch is rolled back alone; a single batch needs none.
    ///
    /// The continuity check reads `last_seq` from the file inside the transaction rather than
    /// trusting memory, so even a second process writing the same file cannot make a gap.
    fn store_isolated(&mut self, group: &[Pending]) -> Result<Stored, LogError> {
        let location = Arc::clone(&self.location);
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail_while(&location, "starting a transaction", e))?;
        let mut last_seq = schema::read_last_seq(&tx, &location)?;
        let mut results = Vec::with_capacity(group.len());
        let mut any_stored = false;
        for pending in group {
            let batch = &pending.batch;
            let result = match batch.check_continues(last_seq) {
                Err(e) => Err(e.with_location(Arc::clone(&location))),
                Ok(()) if group.len() == 1 => apply(&tx, batch, &location),
                Ok(()) => {
                    let savepoint = tx
                        .savepoint()
                        .map_err(|e| fail_while(&location, "starting a savepoint", e))?;
                    match apply(&savepoint, batch, &location) {
                        Ok(()) => savepoint
                            .commit()
                            .map_err(|e| fail_while(&location, "releasing a savepoint", e)),
                        // Dropping the savepoint rolls this batch back, and only it.
                        Err(e) => Err(e),
                    }
                }
            };
            if result.is_ok() {
                any_stored = true;
                last_seq = batch.last_seq().unwrap_or(last_seq);
            }
            results.push(result);
        }
        if !any_stored {
            // Nothing to keep: dropping the transaction rolls back a refused single batch.
            return Ok(Stored {
                results,
                last_seq,
                committed: false,
            });
        }
        commit_with_last_seq(tx, last_seq, &location)?;
        Ok(Stored {
            results,
            last_seq,
            committed: true,
        })
    }

    /// Deletes the oldest events the policy no longer allows, in one transaction.
    fn prune(&mut self, policy: &Retention, now: jiff::Timestamp) -> Result<u64, LogError> {
        if policy.keeps_all() {
            return Ok(0);
        }
        let location = Arc::clone(&self.location);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail_while(&location, "starting retention", e))?;
        let Some(newest) = schema::newest_seq(&tx, &location)? else {
            return Ok(0);
        };
        let cutoff = policy.cutoff(now);
        let first_young = match cutoff {
            None => None,
            Some(cutoff) => {
                let first: Option<i64> = tx
                    .prepare_cached(
                        "SELECT seq FROM events WHERE (ts_sec, ts_nsec) >= (?1, ?2) \
                         ORDER BY seq LIMIT 1",
                    )
                    .and_then(|mut stmt| {
                        let mut rows =
                            stmt.query((cutoff.as_second(), cutoff.subsec_nanosecond()))?;
                        rows.next()?.map(|row| row.get(0)).transpose()
                    })
                    .map_err(|e| fail_while(&location, "finding the retention cutoff", e))?;
                first
                    .map(|seq| schema::seq_from_sql(seq, &location))
                    .transpose()?
            }
        };
        let through = policy.prune_through(newest, first_young, cutoff.is_some());
        if through == 0 {
            return Ok(0);
        }
        let through_sql =
            seq_to_sql(through).map_err(|e| e.with_location(Arc::clone(&location)))?;
        let deleted = tx
            .prepare_cached("DELETE FROM events WHERE seq <= ?1")
            .and_then(|mut stmt| stmt.execute([through_sql]))
            .map_err(|e| fail_while(&location, "deleting old events", e))?;
        tx.commit()
            .map_err(|e| fail_while(&location, "committing retention", e))?;
        let deleted = deleted as u64;
        self.stats.record_pruned(deleted);
        tracing::info!(location = %location, deleted, through, "retention applied");
        Ok(deleted)
    }
}

/// What storing a group gave.
struct Stored {
    /// One result per batch, in group order.
    results: Vec<Result<(), LogError>>,
    /// The last seq after the group (unchanged when nothing was stored).
    last_seq: u64,
    /// Whether a transaction was committed (false when every batch was refused).
    committed: bool,
}

/// Records `last_seq` in `meta` and commits `tx`: the last step of every stored group.
fn commit_with_last_seq(
    tx: rusqlite::Transaction<'_>,
    last_seq: u64,
    location: &Arc<str>,
) -> Result<(), LogError> {
    let stored_last = seq_to_sql(last_seq).map_err(|e| e.with_location(Arc::clone(location)))?;
    tx.prepare_cached(UPDATE_LAST_SEQ)
        .and_then(|mut stmt| stmt.execute([stored_last]))
        .map_err(|e| fail_while(location, "updating last_seq", e))?;
    tx.commit()
        .map_err(|e| fail_while(location, "committing", e))
}

/// Writes one batch's rows through `conn` (the transaction or a savepoint on it).
fn apply(conn: &Connection, batch: &AppendBatch, location: &Arc<str>) -> Result<(), LogError> {
    if !batch.events.is_empty() {
        let mut insert = conn
            .prepare_cached(INSERT_EVENT)
            .map_err(|e| fail(location, e))?;
        for event in &batch.events {
            let seq = seq_to_sql(event.seq).map_err(|e| e.with_location(Arc::clone(location)))?;
            insert
                .execute((
                    seq,
                    event.timestamp.as_second(),
                    event.timestamp.subsec_nanosecond(),
                    event.event_type.as_str(),
                    &event.call_id,
                    &event.agent,
                    &event.event_id,
                    &event.json,
                ))
                .map_err(|e| insert_failed(location, event, e))?;
        }
    }
    if !batch.calls.is_empty() {
        let mut upsert = conn
            .prepare_cached(UPSERT_CALL)
            .map_err(|e| fail(location, e))?;
        for (call_id, snapshot) in &batch.calls {
            upsert
                .execute((call_id, snapshot))
                .map_err(|e| fail_while(location, "storing a call snapshot", e))?;
        }
    }
    if !batch.removed_calls.is_empty() {
        let mut delete = conn
            .prepare_cached(DELETE_CALL)
            .map_err(|e| fail(location, e))?;
        for call_id in &batch.removed_calls {
            delete
                .execute([call_id])
                .map_err(|e| fail_while(location, "removing a call snapshot", e))?;
        }
    }
    Ok(())
}

/// Explains a failed event insert: a UNIQUE violation on `event_id` is the caller's duplicate.
fn insert_failed(location: &Arc<str>, event: &StoredEvent, err: rusqlite::Error) -> LogError {
    if let rusqlite::Error::SqliteFailure(e, _) = &err {
        if e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE {
            if let Some(event_id) = &event.event_id {
                return LogError::new(LogErrorKind::DuplicateEventId {
                    event_id: event_id.clone(),
                })
                .with_location(Arc::clone(location));
            }
        }
        if e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY {
            // The seq passed the continuity check against meta, so meta and events disagree.
            return LogError::new(LogErrorKind::Corrupt)
                .with_location(Arc::clone(location))
                .with_context(format!(
                    "seq {} is already stored although meta.last_seq is lower",
                    event.seq
                ));
        }
    }
    fail_while(location, &format!("storing event seq {}", event.seq), err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use voicetk_events::EventType;

    use crate::{AppendBatch, EventLog, ReadQuery, SqliteLog, SqliteOptions, StoredEvent};

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq,
            timestamp: jiff::Timestamp::from_second(1_740_000_000).unwrap(),
            event_type: EventType::AudioStats,
            call_id: format!("call-{}", seq % 3),
            agent: Some("alice".into()),
            event_id: Some(format!("id-{seq}")),
            json: format!(r#"{{"seq":{seq}}}"#),
        }
    }

    fn batch(first: u64, last: u64, call: &str) -> AppendBatch {
        AppendBatch {
            events: (first..=last).map(event).collect(),
            calls: vec![(call.into(), format!(r#"{{"last":{last}}}"#))],
            removed_calls: vec![],
        }
    }

    /// Valid appends queued behind a commit are written in one transaction without
    /// savepoints: all stored, each caller answered, snapshots kept.
    #[tokio::test]
    async fn a_merged_group_of_valid_batches_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap();
        log.append(batch(1, 2, "call-a")).await.unwrap();
        let commits_before = log.stats().commits;

        // A second connection holds the write lock so the appends below queue up.
        let lock = rusqlite::Connection::open(log.path()).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        let first = log.append(batch(3, 5, "call-b"));
        let second = log.append(batch(6, 6, "call-a"));
        let third = log.append(batch(7, 9, "call-c"));
        lock.execute_batch("ROLLBACK").unwrap();
        let (a, b, c) = tokio::join!(first, second, third);
        a.unwrap();
        b.unwrap();
        c.unwrap();

        let seqs: Vec<u64> = log
            .read(ReadQuery::after(0))
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
        assert_eq!(log.last_seq().await.unwrap(), 9);
        assert_eq!(log.find_event_id("id-7").await.unwrap(), Some(7));
        let recovered = log.recover(100).await.unwrap();
        assert_eq!(recovered.last_seq, 9);
        assert_eq!(
            recovered.calls,
            [
                ("call-a".to_owned(), r#"{"last":6}"#.to_owned()),
                ("call-b".to_owned(), r#"{"last":5}"#.to_owned()),
                ("call-c".to_owned(), r#"{"last":9}"#.to_owned()),
            ]
        );
        let stats = log.stats();
        assert_eq!(stats.appended_batches, 4);
        assert_eq!(stats.failed_batches, 0);
        assert!(stats.commits - commits_before <= 2, "{stats:?}");
        log.close().await.unwrap();
    }
}
