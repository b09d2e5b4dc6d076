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
