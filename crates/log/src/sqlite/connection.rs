//! Opening SQLite connections with the settings the log depends on, and turning SQLite's
//! errors into [`LogError`]s that name the file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{LogError, LogErrorKind};

/// Prepared statements kept per connection: the writer's handful plus the reader's eight
/// query shapes, with room to spare.
const STATEMENT_CACHE: usize = 32;

/// The writer's page cache, in KiB (SQLite's default is 2,000 KiB). Every commit dirties pages
/// all over the call-id and agent indexes and the `calls` table; with the default cache they
/// are evicted between commits and read back each time.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// WAL pages after which a commit checkpoints (SQLite's default is 1,000). A checkpoint copies
/// each page once however many commits rewrote it, then fsyncs the WAL and the database: at
/// 1,000 pages the hot pages (`calls`, index leaves) were copied and two extra fsyncs paid
/// every few commits. 8,192 pages (32 MiB at 4 KiB) makes that rare. The WAL file keeps that
/// size once reached; durability does not depend on it (each commit still fsyncs the WAL).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8_192;

/// Maps a SQLite failure to the log's error, keeping SQLite's error as the cause.
pub(crate) fn fail(location: &Arc<str>, err: rusqlite::Error) -> LogError {
    let kind = match &err {
        rusqlite::Error::SqliteFailure(e, _) => match e.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => LogErrorKind::Busy,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => LogErrorKind::Corrupt,
            ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::NoLargeFileSupport => LogErrorKind::Io,
            _ => LogErrorKind::Storage,
        },
        // A stored value of the wrong type: the row, not the request, is at fault.
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => LogErrorKind::Corrupt,
        _ => LogErrorKind::Storage,
    };
    LogError::new(kind)
        .with_location(Arc::clone(location))
        .with_source(err)
}

/// Like [`fail`], adding what was being done.
pub(crate) fn fail_while(location: &Arc<str>, doing: &str, err: rusqlite::Error) -> LogError {
    fail(location, err).with_context(doing.to_owned())
}

/// Opens (creating it if needed) the one connection that writes.
///
/// WAL lets readers run alongside the writer without blocking it. `synchronous=FULL` makes a
/// commit durable when it returns: in WAL mode, NORMAL skips the fsync of the WAL on each
/// commit, so a power loss can lose the last commits that were already acknowledged to
/// clients; FULL costs one fsync per commit, which group commit spreads over many events.
pub(crate) fn open_writer(
    path: &Path,
    location: &Arc<str>,
    busy_timeout: Duration,
) -> Result<Connection, LogError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| fail_while(location, "opening the database", e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| fail_while(location, "setting busy_timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| fail_while(location, "switching to WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Without WAL, readers would block the writer and FULL would not mean what we rely on.
        return Err(LogError::new(LogErrorKind::Io)
            .with_location(Arc::clone(location))
            .with_context(format!(
                "the file system does not support WAL mode (journal_mode is {mode:?})"
            )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| fail_while(location, "setting synchronous=FULL", e))?;
    // Negative: KiB, not pages. Grown on demand; the index leaves that random call ids touch
    // stay cached instead of being read back from the OS on every commit.
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
        .map_err(|e| fail_while(location, "setting cache_size", e))?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(|e| fail_while(location, "setting wal_autocheckpoint", e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens a read-only connection; WAL gives it a consistent snapshot per transaction while the
/// writer keeps committing.
pub(crate) fn open_reader(
    path: &Path,
    location: &Arc<str>,
    busy_timeout: Duration,
) -> Result<Connection, LogError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| fail_while(location, "opening a read connection", e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| fail_while(location, "setting busy_timeout", e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
