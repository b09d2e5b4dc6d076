//! The embedded log: one SQLite file in WAL mode, one writer thread, a pool of readers.

mod connection;
mod options;
mod reader;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};

pub use options::SqliteOptions;

use crate::error::{LogError, LogErrorKind};
use crate::event::{AppendBatch, Recovered, StoredEvent};
use crate::event_log::EventLog;
use crate::query::ReadQuery;
use crate::retention::Retention;
use crate::stats::{LogStats, StatsCell};
use reader::ReadPool;
use writer::{Command, Writer};

/// The event log in one SQLite file, `DIR/events.db`.
///
/// - **Durable**: WAL journal with `synchronous=FULL`, so an append that returned `Ok` has been
///   fsynced. In WAL mode `synchronous=NORMAL` skips that fsync, and a power loss can then lose
///   the last commits although clients were already told they were accepted.
/// - **One writer**: a dedicated thread owns the only read-write connection and takes appends
///   from a bounded queue. Appends that queue up while a commit runs are merged into the next
///   transaction (group commit, on top of the batching the caller already does), each caller
///   still getting its own result: a refused batch is rolled back alone through a savepoint.
/// - **Readers never block the writer**: queries run on a small pool of read-only connections
///   in blocking tasks; WAL gives each a consistent snapshot, so no read sees part of a batch.
///
/// See [`EventLog`] for the operations and the crate docs for an example.
pub struct SqliteLog {
    /// `DIR/events.db`.
    path: PathBuf,
    /// The path as shown in errors.
    location: Arc<str>,
    /// The writer's queue; bounded, so a slow disk slows ingest instead of growing memory.
    commands: mpsc::Sender<Command>,
    /// Turns true when the writer thread has finished (what `close` waits for).
    stopped: watch::Receiver<bool>,
    /// The last committed seq, published by the writer after each commit.
    last_seq: Arc<AtomicU64>,
    /// Counters shared with the writer.
    stats: Arc<StatsCell>,
    /// Read-only connections for queries.
    readers: ReadPool,
    /// Set by `close`: new appends and reads are refused from then on.
    closed: AtomicBool,
    /// How long `close` waits for queued appends.
    close_timeout: Duration,
}

impl SqliteLog {
    /// The file name inside the data directory.
    pub const FILE_NAME: &'static str = "events.db";

    /// Opens `dir/events.db`, creating the directory and the file as needed, migrating the
    /// schema to this build's version, and starting the writer thread.
    ///
    /// Blocking: it touches the disk. Call it at start-up (or from `spawn_blocking`). Reads
    /// need a Tokio runtime; opening does not.
    ///
    /// # Errors
    /// [`Io`](LogErrorKind::Io) when the directory or file cannot be created or opened, or the
    /// file system lacks WAL support; [`Corrupt`](LogErrorKind::Corrupt) when the file is not a
    /// database; [`IncompatibleSchema`](LogErrorKind::IncompatibleSchema) when a newer build
    /// wrote it; [`Busy`](LogErrorKind::Busy) when another process holds it locked.
    ///
    /// # Examples
    /// ```
    /// use voicetk_log::{SqliteLog, SqliteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let log = SqliteLog::open(&dir.path().join("data"), SqliteOptions::default())?;
    /// assert_eq!(log.path(), dir.path().join("data").join("events.db"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteLog, LogError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            LogError::new(LogErrorKind::Io)
                .with_location(dir.display().to_string())
                .with_context("creating the data directory")
                .with_source(e)
        })?;
        let path = dir.join(Self::FILE_NAME);
        let location: Arc<str> = path.display().to_string().into();
        let mut conn = connection::open_writer(&path, &location, options.busy_timeout)?;
        let version = schema::migrate(&mut conn, &location)?;
        let mut last_seq = schema::read_last_seq(&conn, &location)?;
        if let Some(newest) = schema::newest_seq(&conn, &location)? {
            if newest > last_seq {
                // Only a hand-edited file can get here; continuing after the newest event is
                // the choice that never reuses a seq.
                tracing::warn!(location = %location, last_seq, newest, "meta.last_seq behind the events; using the newest seq");
                last_seq = newest;
            }
        }
        let last_seq = Arc::new(AtomicU64::new(last_seq));
        let stats = Arc::new(StatsCell::default());
        let (commands, queue) = mpsc::channel(options.queue_capacity);
        let (stopped_tx, stopped) = watch::channel(false);
        let writer = Writer {
            conn,
            location: Arc::clone(&location),
            last_seq: Arc::clone(&last_seq),
            stats: Arc::clone(&stats),
            max_group_events: options.max_group_events,
        };
        std::thread::Builder::new()
            .name("voicetk-log-writer".into())
            .spawn(move || writer.run(queue, stopped_tx))
            .map_err(|e| {
                LogError::new(LogErrorKind::Io)
                    .with_location(Arc::clone(&location))
                    .with_context("starting the writer thread")
                    .with_source(e)
            })?;
        let path_shared: Arc<Path> = Arc::from(path.as_path());
        let readers = ReadPool::new(
            path_shared,
            Arc::clone(&location),
            options.busy_timeout,
            options.read_connections,
        );
        tracing::info!(
            location = %location,
            schema_version = version,
            last_seq = last_seq.load(Ordering::Acquire),
            "event log opened"
        );
        Ok(SqliteLog {
            path,
            location,
            commands,
            stopped,
            last_seq,
            stats,
            readers,
            closed: AtomicBool::new(false),
            close_timeout: options.close_timeout,
        })
    }

    /// The database file, `DIR/events.db`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Graceful shutdown: refuses new appends and reads, lets the writer commit every append
    /// already queued, and waits for it to stop, at most the configured
    /// [`close_timeout`](SqliteOptions::close_timeout). Calling it again returns at once.
    ///
    /// Dropping the log also stops the writer once the queue is drained, without waiting.
    ///
    /// # Errors
    /// [`Timeout`](LogErrorKind::Timeout) when the queued appends did not commit in time
    /// (they may still commit; their callers get their own answers).
    ///
    /// # Examples
    /// ```
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// use voicetk_log::{EventLog, LogErrorKind, ReadQuery, SqliteLog, SqliteOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let log = SqliteLog::open(dir.path(), SqliteOptions::default())?;
    /// log.close().await?;
    /// let err = log.read(ReadQuery::default()).await.unwrap_err();
    /// assert_eq!(err.kind(), &LogErrorKind::Closed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn close(&self) -> Result<(), LogError> {
        self.closed.store(true, Ordering::SeqCst);
        self.readers.close();
        let mut stopped = self.stopped.clone();
        let drain = async {
            // Shutdown queues behind every append already handed over, so those commit first.
            // A failed send means the writer is already gone.
            let _ = self.commands.send(Command::Shutdown).await;
            // An error here means the writer's side was dropped: it has stopped too.
            let _ = stopped.wait_for(|done| *done).await;
        };
        tokio::time::timeout(self.close_timeout, drain)
            .await
            .map_err(|_| {
                LogError::new(LogErrorKind::Timeout)
                    .with_location(Arc::clone(&self.location))
                    .with_context(format!(
                        "closing: the writer did not finish the queued appends within {:?}",
                        self.close_timeout
                    ))
            })?;
        tracing::info!(location = %self.location, "event log closed");
        Ok(())
    }

    fn closed_error(&self) -> LogError {
        LogError::new(LogErrorKind::Closed).with_location(Arc::clone(&self.location))
    }

    /// Refuses with `Closed` once `close` was called.
    fn check_open(&self) -> Result<(), LogError> {
        if self.closed.load(Ordering::SeqCst) {
            Err(self.closed_error())
        } else {
            Ok(())
        }
    }

    /// Hands a command to the writer now if the queue has room; otherwise returns it so the
    /// caller's future waits for room.
    fn enqueue(&self, command: Command) -> Result<Option<Command>, LogError> {
        self.check_open()?;
        match self.commands.try_send(command) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(command)) => Ok(Some(command)),
            Err(TrySendError::Closed(_)) => Err(self.closed_error()),
        }
    }

    /// Sends a command the queue had no room for, waiting for room.
    async fn send_waiting(&self, command: Option<Command>) -> Result<(), LogError> {
        if let Some(command) = command {
            self.commands
                .send(command)
                .await
                .map_err(|_| self.closed_error())?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for SqliteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLog")
            .field("path", &self.path)
            .field("last_seq", &self.last_seq.load(Ordering::Acquire))
            .field("closed", &self.closed.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl EventLog for SqliteLog {
    /// Queues the batch at once (so appends commit in call order while the queue has room) and
    /// resolves when it is durable or refused.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), LogError>> {
        let (reply, answer) = oneshot::channel();
        let queued = self.enqueue(Command::Append { batch, reply });
        Box::pin(async move {
            self.send_waiting(queued?).await?;
            // A dropped reply means the writer stopped before reaching the batch.
            answer.await.unwrap_or_else(|_| Err(self.closed_error()))
        })
    }

    fn read(&self, query: ReadQuery) -> BoxFuture<'_, Result<Vec<StoredEvent>, LogError>> {
        Box::pin(async move {
            self.check_open()?;
            if query.is_void() {
                return Ok(Vec::new());
            }
            self.readers
                .run(move |conn, location| reader::read_events(conn, location, &query))
                .await
        })
    }

    /// Answers from memory: the writer publishes the seq after each commit.
    fn last_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        let seq = self.last_seq.load(Ordering::Acquire);
        Box::pin(async move { Ok(seq) })
    }

    fn recover(&self, recent_ids: usize) -> BoxFuture<'_, Result<Recovered, LogError>> {
        Box::pin(async move {
            self.check_open()?;
            self.readers
                .run(move |conn, location| reader::recover(conn, location, recent_ids))
                .await
        })
    }

    fn find_event_id(&self, event_id: &str) -> BoxFuture<'_, Result<Option<u64>, LogError>> {
        let event_id = event_id.to_owned();
        Box::pin(async move {
            self.check_open()?;
            self.readers
                .run(move |conn, location| reader::find_event_id(conn, location, &event_id))
                .await
        })
    }

    /// Runs on the writer, after the appends queued before it.
    fn apply_retention(
        &self,
        policy: &Retention,
        now: jiff::Timestamp,
    ) -> BoxFuture<'_, Result<u64, LogError>> {
        let (reply, answer) = oneshot::channel();
        let queued = self.enqueue(Command::Retention {
            policy: *policy,
            now,
            reply,
        });
        Box::pin(async move {
            self.send_waiting(queued?).await?;
            answer.await.unwrap_or_else(|_| Err(self.closed_error()))
        })
    }

    fn first_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(async move {
            self.check_open()?;
            self.readers.run(reader::first_seq).await
        })
    }

    fn stats(&self) -> LogStats {
        self.stats.snapshot()
    }

    fn close(&self) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(SqliteLog::close(self))
    }
}
