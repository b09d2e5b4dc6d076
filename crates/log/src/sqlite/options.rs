//! Tuning knobs of the SQLite log, each with a documented default.

use std::time::Duration;

/// How [`SqliteLog::open`](super::SqliteLog::open) sets up the store. `Default` is right for
/// production; every setter says its default.
///
/// Durability is not a knob: commits always use `synchronous=FULL` (see
/// [`SqliteLog`](super::SqliteLog)).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use voicetk_log::{SqliteLog, SqliteOptions};
///
/// let options = SqliteOptions::default()
///     .read_connections(8)
///     .close_timeout(Duration::from_secs(3));
/// let dir = tempfile::tempdir()?;
/// let log = SqliteLog::open(dir.path(), options)?;
/// assert!(log.path().ends_with("events.db"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Upper bound on concurrent reads; each holds one read-only connection.
    pub(crate) read_connections: usize,
    /// Appends that may wait for the writer before `append` itself waits for room.
    pub(crate) queue_capacity: usize,
    /// Stop merging queued appends into one transaction past this many events.
    pub(crate) max_group_events: usize,
    /// How long a connection waits for a lock held by another connection or process.
    pub(crate) busy_timeout: Duration,
    /// How long `close` waits for the queued appends to commit.
    pub(crate) close_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            queue_capacity: 1024,
            max_group_events: 10_000,
            busy_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl SqliteOptions {
    /// Most reads running at once, each on its own read-only connection in a blocking task;
    /// more wait their turn. At least 1. Default is 4.
    #[must_use]
    pub fn read_connections(mut self, n: usize) -> Self {
        self.read_connections = n.max(1);
        self
    }

    /// Appends queued for the writer before further `append` calls wait for room (the
    /// back-pressure that a slow disk puts on ingest). At least 1. Default is 1024.
    #[must_use]
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n.max(1);
        self
    }

    /// The writer merges appends that queued up during a commit into one transaction until it
    /// holds this many events; the rest go in the next one. A single larger batch is still
    /// committed whole. At least 1. Default is 10 000.
    #[must_use]
    pub fn max_group_events(mut self, n: usize) -> Self {
        self.max_group_events = n.max(1);
        self
    }

    /// How long a statement waits for a lock held by another connection (for example a
    /// backup tool) before failing with [`Busy`](crate::LogErrorKind::Busy). Default is 5 s.
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long [`close`](super::SqliteLog::close) waits for the queued appends to commit
    /// before giving up with [`Timeout`](crate::LogErrorKind::Timeout). Default is 10 s.
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_sizes_are_raised_to_one() {
        let o = SqliteOptions::default()
            .read_connections(0)
            .queue_capacity(0)
            .max_group_events(0);
        assert_eq!(
            (o.read_connections, o.queue_capacity, o.max_group_events),
            (1, 1, 1)
        );
    }

    #[test]
    fn defaults_are_documented_values() {
        let o = SqliteOptions::default();
        assert_eq!(o.read_connections, 4);
        assert_eq!(o.queue_capacity, 1024);
        assert_eq!(o.max_group_events, 10_000);
        assert_eq!(o.busy_timeout, Duration::from_secs(5));
        assert_eq!(o.close_timeout, Duration::from_secs(10));
    }
}
