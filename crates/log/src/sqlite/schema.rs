//! The tables, their migrations (versioned by SQLite's `user_version`), and the stored form
//! of an event row.

use std::sync::Arc;

use rusqlite::{Connection, Row, TransactionBehavior};
use voicetk_events::EventType;

use super::connection::{fail, fail_while};
use crate::error::{LogError, LogErrorKind};
use crate::event::StoredEvent;

/// Schema steps; `MIGRATIONS[i]` takes `user_version` from `i` to `i + 1`. Append new steps,
/// never edit shipped ones.
///
/// - `events.seq` is the rowid, so seq order is storage order and range scans are cheap.
/// - The timestamp is two integers (Unix seconds, nanoseconds) so retention compares numbers
///   and reads give back the exact instant stored.
/// - `event_id` is UNIQUE: a duplicate fails the batch, which is what makes idempotent
///   re-sends safe across restarts.
/// - `meta.last_seq` keeps the last seq when retention has deleted the events holding it.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY,
        ts_sec     INTEGER NOT NULL,
        ts_nsec    INTEGER NOT NULL,
        event_type TEXT    NOT NULL,
        call_id    TEXT    NOT NULL,
        agent      TEXT,
        event_id   TEXT UNIQUE,
        json       TEXT    NOT NULL
    );
    CREATE INDEX events_by_call ON events (call_id, seq);
    CREATE INDEX events_by_agent ON events (agent, seq);
    CREATE INDEX events_by_type ON events (event_type, seq);
    CREATE INDEX events_with_id ON events (seq) WHERE event_id IS NOT NULL;
    CREATE TABLE calls (
        call_id  TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL
    );
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('last_seq', 0);
"];

/// The schema version this build writes and understands.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The columns of an event row, in the order [`decode_event`] reads them.
pub(crate) const EVENT_COLUMNS: &str =
    "seq, ts_sec, ts_nsec, event_type, call_id, agent, event_id, json";

pub(crate) const INSERT_EVENT: &str = "INSERT INTO events \
    (seq, ts_sec, ts_nsec, event_type, call_id, agent, event_id, json) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(crate) const UPSERT_CALL: &str = "INSERT INTO calls (call_id, snapshot) VALUES (?1, ?2) \
    ON CONFLICT (call_id) DO UPDATE SET snapshot = excluded.snapshot";
pub(crate) const DELETE_CALL: &str = "DELETE FROM calls WHERE call_id = ?1";
pub(crate) const SELECT_LAST_SEQ: &str = "SELECT value FROM meta WHERE key = 'last_seq'";
pub(crate) const UPDATE_LAST_SEQ: &str = "UPDATE meta SET value = ?1 WHERE key = 'last_seq'";

/// Brings the schema up to [`SCHEMA_VERSION`], one transaction per step; returns the version.
///
/// # Errors
/// [`LogErrorKind::IncompatibleSchema`] when the file is from a newer build; storage errors.
pub(crate) fn migrate(conn: &mut Connection, location: &Arc<str>) -> Result<u32, LogError> {
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| fail_while(location, "reading the schema version", e))?;
    if found > SCHEMA_VERSION {
        return Err(LogError::new(LogErrorKind::IncompatibleSchema {
            found,
            supported: SCHEMA_VERSION,
        })
        .with_location(Arc::clone(location)));
    }
    for (version, step) in (found..).zip(&MIGRATIONS[found as usize..]) {
        let doing = format!("migrating the schema to version {}", version + 1);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail_while(location, &doing, e))?;
        tx.execute_batch(step)
            .map_err(|e| fail_while(location, &doing, e))?;
        // user_version is transactional: a crash mid-step leaves the old version and no tables.
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(|e| fail_while(location, &doing, e))?;
        tx.commit().map_err(|e| fail_while(location, &doing, e))?;
        tracing::info!(location = %location, version = version + 1, "event log schema migrated");
    }
    Ok(SCHEMA_VERSION)
}

/// The last seq ever appended, from `meta`.
pub(crate) fn read_last_seq(conn: &Connection, location: &Arc<str>) -> Result<u64, LogError> {
    let value: i64 = conn
        .prepare_cached(SELECT_LAST_SEQ)
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(|e| fail_while(location, "reading last_seq", e))?;
    u64::try_from(value).map_err(|_| {
        LogError::new(LogErrorKind::Corrupt)
            .with_location(Arc::clone(location))
            .with_context(format!("meta.last_seq is negative ({value})"))
    })
}

/// The highest seq held in `events`, if any.
pub(crate) fn newest_seq(conn: &Connection, location: &Arc<str>) -> Result<Option<u64>, LogError> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM events")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(|e| fail(location, e))?;
    value.map(|v| seq_from_sql(v, location)).transpose()
}

/// The lowest seq held in `events`, if any.
pub(crate) fn oldest_seq(conn: &Connection, location: &Arc<str>) -> Result<Option<u64>, LogError> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT MIN(seq) FROM events")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(|e| fail(location, e))?;
    value.map(|v| seq_from_sql(v, location)).transpose()
}

/// A stored seq back to `u64`; the writer never stores a negative one.
pub(crate) fn seq_from_sql(value: i64, location: &Arc<str>) -> Result<u64, LogError> {
    u64::try_from(value).map_err(|_| {
        LogError::new(LogErrorKind::Corrupt)
            .with_location(Arc::clone(location))
            .with_context(format!("negative seq {value}"))
    })
}

/// A seq to SQLite's signed integer.
pub(crate) fn seq_to_sql(seq: u64) -> Result<i64, LogError> {
    i64::try_from(seq).map_err(|_| LogError::new(LogErrorKind::SeqOutOfRange { seq }))
}

/// Reads one row selected with [`EVENT_COLUMNS`].
pub(crate) fn decode_event(row: &Row<'_>, location: &Arc<str>) -> Result<StoredEvent, LogError> {
    let column = |e| fail_while(location, "reading an event row", e);
    let seq = seq_from_sql(row.get(0).map_err(column)?, location)?;
    let corrupt = |what: String| {
        LogError::new(LogErrorKind::Corrupt)
            .with_location(Arc::clone(location))
            .with_context(format!("event seq {seq}: {what}"))
    };
    let seconds: i64 = row.get(1).map_err(column)?;
    let nanos: i32 = row.get(2).map_err(column)?;
    let timestamp = jiff::Timestamp::new(seconds, nanos)
        .map_err(|e| corrupt(format!("invalid timestamp ({seconds} s, {nanos} ns): {e}")))?;
    let name: String = row.get(3).map_err(column)?;
    let event_type =
        EventType::from_name(&name).ok_or_else(|| corrupt(format!("unknown type {name:?}")))?;
    Ok(StoredEvent {
        seq,
        timestamp,
        event_type,
        call_id: row.get(4).map_err(column)?,
        agent: row.get(5).map_err(column)?,
        event_id: row.get(6).map_err(column)?,
        json: row.get(7).map_err(column)?,
    })
}
