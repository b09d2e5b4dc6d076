//! Reads: a small pool of read-only connections used from blocking tasks, so queries never run
//! on the async workers and never wait for the writer (WAL readers see the last commit).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::connection::{fail_while, open_reader};
use super::schema::{self, EVENT_COLUMNS, decode_event, seq_from_sql};
use crate::error::{LogError, LogErrorKind};
use crate::event::{Recovered, StoredEvent};
use crate::query::ReadQuery;

/// Read-only connections, opened on first need and reused.
pub(crate) struct ReadPool {
    /// The database file.
    path: Arc<Path>,
    /// The file as shown in errors.
    location: Arc<str>,
    /// Applied to each new connection.
    busy_timeout: Duration,
    /// Connections not in use right now.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist; closed when the log closes.
    permits: Semaphore,
}

impl ReadPool {
    pub(crate) fn new(
        path: Arc<Path>,
        location: Arc<str>,
        busy_timeout: Duration,
        size: usize,
    ) -> ReadPool {
        ReadPool {
            path,
            location,
            busy_timeout,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
    }

    /// Runs `query` on a pooled connection in a blocking task.
    ///
    /// # Errors
    /// [`LogErrorKind::Closed`] once the pool is closed; whatever `query` returns.
    pub(crate) async fn run<T, F>(&self, query: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Arc<str>) -> Result<T, LogError> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| self.closed())?;
        let idle = self.lock_idle().pop();
        let path = Arc::clone(&self.path);
        let location = Arc::clone(&self.location);
        let busy_timeout = self.busy_timeout;
        let task = tokio::task::spawn_blocking(move || {
            let conn = match idle {
                Some(conn) => conn,
                None => open_reader(&path, &location, busy_timeout)?,
            };
            let result = query(&conn, &location);
            Ok::<_, LogError>((conn, result))
        });
        let (conn, result) = task.await.map_err(|e| {
            LogError::new(LogErrorKind::Storage)
                .with_location(Arc::clone(&self.location))
                .with_context("a read task failed")
                .with_source(e)
        })??;
        if !self.permits.is_closed() {
            self.lock_idle().push(conn);
        }
        result
    }

    /// Refuses further reads and drops the idle connections; reads in flight finish.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.lock_idle().clear();
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn closed(&self) -> LogError {
        LogError::new(LogErrorKind::Closed).with_location(Arc::clone(&self.location))
    }
}

/// The SQL for a query's shape. Parameters are numbered and always all bound (unused ones are
/// ignored), so each of the eight shapes is one cached prepared statement.
fn read_sql(query: &ReadQuery) -> String {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1");
    if query.types.is_some() {
        // One statement whatever the number of types: the list goes in as a JSON array.
        sql.push_str(" AND event_type IN (SELECT value FROM json_each(?2))");
    }
    if query.call_id.is_some() {
        sql.push_str(" AND call_id = ?3");
    }
    if query.agent.is_some() {
        sql.push_str(" AND agent = ?4");
    }
    sql.push_str(" ORDER BY seq LIMIT ?5");
    sql
}

/// Events matching `query`, oldest first.
pub(crate) fn read_events(
    conn: &Connection,
    location: &Arc<str>,
    query: &ReadQuery,
) -> Result<Vec<StoredEvent>, LogError> {
    // Past SQLite's range nothing can be stored, so nothing matches.
    let Ok(after) = i64::try_from(query.after) else {
        return Ok(Vec::new());
    };
    let types = query.types.as_ref().map(|types| {
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        serde_json::Value::from(names).to_string()
    });
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let doing = |e| fail_while(location, "reading events", e);
    let mut stmt = conn.prepare_cached(&read_sql(query)).map_err(doing)?;
    let mut rows = stmt
        .query((after, types, &query.call_id, &query.agent, limit))
        .map_err(doing)?;
    let mut events = Vec::with_capacity(query.limit.min(1024));
    while let Some(row) = rows.next().map_err(doing)? {
        events.push(decode_event(row, location)?);
    }
    Ok(events)
}

/// The lowest seq held, 0 when no event is.
pub(crate) fn first_seq(conn: &Connection, location: &Arc<str>) -> Result<u64, LogError> {
    Ok(schema::oldest_seq(conn, location)?.unwrap_or(0))
}

/// The seq of the event with this `eventId`.
pub(crate) fn find_event_id(
    conn: &Connection,
    location: &Arc<str>,
    event_id: &str,
) -> Result<Option<u64>, LogError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM events WHERE event_id = ?1")
        .and_then(|mut stmt| {
            let mut rows = stmt.query([event_id])?;
            rows.next()?.map(|row| row.get(0)).transpose()
        })
        .map_err(|e| fail_while(location, "looking up an eventId", e))?;
    seq.map(|s| seq_from_sql(s, location)).transpose()
}

/// Everything a restart needs, read in one transaction so the three parts agree.
pub(crate) fn recover(
    conn: &Connection,
    location: &Arc<str>,
    recent_ids: usize,
) -> Result<Recovered, LogError> {
    let doing = |e| fail_while(location, "recovering", e);
    let tx = conn.unchecked_transaction().map_err(doing)?;
    let last_seq = schema::read_last_seq(&tx, location)?;
    let calls = {
        let mut stmt = tx
            .prepare_cached("SELECT call_id, snapshot FROM calls ORDER BY call_id")
            .map_err(doing)?;
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect::<Result<Vec<(String, String)>, _>>)
            .map_err(doing)?
    };
    let mut recent_event_ids = Vec::with_capacity(recent_ids.min(65_536));
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT event_id, seq FROM events WHERE event_id IS NOT NULL \
                 ORDER BY seq DESC LIMIT ?1",
            )
            .map_err(doing)?;
        let mut rows = stmt
            .query([i64::try_from(recent_ids).unwrap_or(i64::MAX)])
            .map_err(doing)?;
        while let Some(row) = rows.next().map_err(doing)? {
            let event_id: String = row.get(0).map_err(doing)?;
            let seq = seq_from_sql(row.get(1).map_err(doing)?, location)?;
            recent_event_ids.push((event_id, seq));
        }
    }
    recent_event_ids.reverse();
    // Read-only: ending the transaction either way releases the snapshot.
    tx.rollback().map_err(doing)?;
    Ok(Recovered {
        last_seq,
        calls,
        recent_event_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicetk_events::EventType;

    #[test]
    fn each_filter_adds_one_clause() {
        assert_eq!(
            read_sql(&ReadQuery::default()),
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?5")
        );
        let all = ReadQuery::default()
            .with_types([EventType::Hold])
            .with_call_id("c")
            .with_agent("a");
        let sql = read_sql(&all);
        assert!(sql.contains("json_each(?2)"));
        assert!(sql.contains("call_id = ?3"));
        assert!(sql.contains("agent = ?4"));
    }
}
