//! voicetk's durable, ordered event log.
//!
//! Data flows source → engine → **log** → delivery. The engine validates each event and gives
//! it a gap-free `seq`; the server's ingest task hands whole groups of events to
//! [`EventLog::append`] and acknowledges to clients only once it returns `Ok`. Delivery and the
//! history API read back with [`EventLog::read`]; a restart rebuilds the engine from
//! [`EventLog::recover`].
//!
//! [`EventLog`] is the trait callers hold (`Arc<dyn EventLog>`); [`SqliteLog`] is the embedded
//! implementation, one SQLite file in WAL mode with a single writer thread and group commit.
//! [`MemoryLog`] keeps the same rules in RAM only, for benchmarks and tests (not durable).
//!
//! # Example
//! ```
//! use voicetk_events::EventType;
//! use voicetk_log::{AppendBatch, EventLog, ReadQuery, SqliteLog, SqliteOptions, StoredEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile::tempdir()?;
//! let log = SqliteLog::open(dir.path(), SqliteOptions::default())?;
//!
//! let event = |seq: u64, event_type: EventType| StoredEvent {
//!     seq,
//!     timestamp: "2025-03-01T12:00:00Z".parse().unwrap(),
//!     event_type,
//!     call_id: "c1".into(),
//!     agent: Some("alice".into()),
//!     event_id: None,
//!     json: format!(r#"{{"type":"{event_type}","detail":{{"callId":"c1"}},"seq":{seq}}}"#),
//! };
//! // One atomic, durable append: two events and the engine's snapshot of the call.
//! log.append(AppendBatch {
//!     events: vec![event(1, EventType::CallConnected), event(2, EventType::Hold)],
//!     calls: vec![("c1".into(), r#"{"state":"connected"}"#.into())],
//!     removed_calls: vec![],
//! })
//! .await?;
//!
//! // Seqs must continue the log: a gap is refused and nothing is stored.
//! let gap = log.append(AppendBatch::new(vec![event(4, EventType::Resume)])).await;
//! assert!(gap.is_err());
//!
//! let holds = log.read(ReadQuery::after(0).with_types([EventType::Hold])).await?;
//! assert_eq!(holds.len(), 1);
//! assert_eq!(holds[0].seq, 2);
//! assert_eq!(log.last_seq().await?, 2);
//!
//! log.close().await?;
//!
//! // Reopening recovers what the engine needs.
//! let log = SqliteLog::open(dir.path(), SqliteOptions::default())?;
//! let recovered = log.recover(1000).await?;
//! assert_eq!(recovered.last_seq, 2);
//! assert_eq!(recovered.calls, vec![("c1".to_owned(), r#"{"state":"connected"}"#.to_owned())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok(())
//! # }
//! ```
//!
//! The design choices (why FULL, why one writer, why retention removes only a prefix) are in
//! `DESIGN.md` next to this crate's `Cargo.toml`.

mod error;
mod event;
mod event_log;
mod memory;
mod query;
mod retention;
mod sqlite;
mod stats;

pub use error::{LogError, LogErrorKind};
pub use event::{AppendBatch, Recovered, StoredEvent};
pub use event_log::EventLog;
pub use futures::future::BoxFuture;
pub use memory::MemoryLog;
pub use query::ReadQuery;
pub use retention::Retention;
pub use sqlite::{SqliteLog, SqliteOptions};
pub use stats::LogStats;
