//! Counters for metrics: how much was appended and what the commits cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a log's counters since it was opened, for `/metrics`.
///
/// A commit is one storage transaction; with group commit, one commit holds one or more
/// appended batches. Commit time runs from the start of the transaction until the store
/// reports it durable (it includes the fsync).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Events stored.
    pub appended_events: u64,
    /// Batches stored (calls of `append` that returned `Ok`).
    pub appended_batches: u64,
    /// Batches refused or lost to a failed commit (calls of `append` that returned `Err`).
    pub failed_batches: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Duration of the last commit, in microseconds.
    pub last_commit_micros: u64,
    /// Longest commit so far, in microseconds.
    pub max_commit_micros: u64,
    /// Sum of all commit durations, in microseconds (divide by `commits` for the mean).
    pub total_commit_micros: u64,
    /// Events deleted by retention.
    pub pruned_events: u64,
}

/// The live counters behind [`LogStats`], updated by the writer and read by anyone.
#[derive(Debug, Default)]
pub(crate) struct StatsCell {
    appended_events: AtomicU64,
    appended_batches: AtomicU64,
    failed_batches: AtomicU64,
    commits: AtomicU64,
    last_commit_micros: AtomicU64,
    max_commit_micros: AtomicU64,
    total_commit_micros: AtomicU64,
    pruned_events: AtomicU64,
}

impl StatsCell {
    /// Records one committed transaction holding `batches` batches of `events` events in all.
    pub(crate) fn record_commit(&self, batches: u64, events: u64, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.appended_batches.fetch_add(batches, Ordering::Relaxed);
        self.appended_events.fetch_add(events, Ordering::Relaxed);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
        self.max_commit_micros.fetch_max(micros, Ordering::Relaxed);
        self.total_commit_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Records `batches` appends that returned an error.
    pub(crate) fn record_failed(&self, batches: u64) {
        self.failed_batches.fetch_add(batches, Ordering::Relaxed);
    }

    /// Records events deleted by retention.
    pub(crate) fn record_pruned(&self, events: u64) {
        self.pruned_events.fetch_add(events, Ordering::Relaxed);
    }

    /// The counters now. Each is read on its own: under load, they may be a few commits apart.
    pub(crate) fn snapshot(&self) -> LogStats {
        LogStats {
            appended_events: self.appended_events.load(Ordering::Relaxed),
            appended_batches: self.appended_batches.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            last_commit_micros: self.last_commit_micros.load(Ordering::Relaxed),
            max_commit_micros: self.max_commit_micros.load(Ordering::Relaxed),
            total_commit_micros: self.total_commit_micros.load(Ordering::Relaxed),
            pruned_events: self.pruned_events.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_accumulate() {
        let cell = StatsCell::default();
        cell.record_commit(2, 150, Duration::from_micros(300));
        cell.record_commit(1, 10, Duration::from_micros(100));
        cell.record_failed(1);
        cell.record_pruned(7);
        assert_eq!(
            cell.snapshot(),
            LogStats {
                appended_events: 160,
                appended_batches: 3,
                failed_batches: 1,
                commits: 2,
                last_commit_micros: 100,
                max_commit_micros: 300,
                total_commit_micros: 400,
                pruned_events: 7,
            }
        );
    }
}
