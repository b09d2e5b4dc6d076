//! Test fixtures: a log in a temporary directory, and real telephony events to put in it.

use std::path::Path;

use tempfile::TempDir;
use voicetk_events::{EventType, ParseOptions, parse_event};
use voicetk_log::{AppendBatch, EventLog, ReadQuery, SqliteLog, SqliteOptions, StoredEvent};

/// A log in its own temporary directory, removed on drop.
pub struct Fixture {
    /// Kept first so the log is dropped before the directory.
    pub log: SqliteLog,
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_options(SqliteOptions::default())
    }

    pub fn with_options(options: SqliteOptions) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(dir.path(), options).unwrap();
        Fixture { log, dir }
    }

    /// Closes the log (its queued appends committed) and opens the same directory again.
    pub async fn reopen(self) -> Fixture {
        let Fixture { log, dir } = self;
        log.close().await.unwrap();
        drop(log);
        let log = SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap();
        Fixture { log, dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every event held, oldest first.
    pub async fn all(&self) -> Vec<StoredEvent> {
        self.log
            .read(ReadQuery::after(0).with_limit(usize::MAX))
            .await
            .unwrap()
    }

    pub async fn all_seqs(&self) -> Vec<u64> {
        self.all().await.iter().map(|e| e.seq).collect()
    }
}

/// The instant of minute `minute` of the test day, with nanoseconds so exact round trips show.
pub fn at_minute(minute: i64) -> jiff::Timestamp {
    let base: jiff::Timestamp = "2025-03-01T12:00:00.123456789Z".parse().unwrap();
    base.checked_add(jiff::SignedDuration::from_mins(minute))
        .unwrap()
}

/// A valid `detail` for each type.
fn detail(event_type: EventType, call_id: &str) -> String {
    match event_type {
        EventType::AudioStats => format!(
            r#"{{"callId":"{call_id}","stats":"inputChannelStats","packetsLost":1,"packetsCount":1500,"jitterBufferMillis":12,"roundTripTimeMillis":80,"statsCount":30}}"#
        ),
        EventType::CallStarted | EventType::CallConnected => format!(
            r#"{{"callId":"{call_id}","callType":"inbound","participant":"+1 415 555 0100"}}"#
        ),
        EventType::Hold
        | EventType::Resume
        | EventType::ParticipantAdded
        | EventType::ParticipantRemoved => {
            format!(r#"{{"callId":"{call_id}","participant":"+1 415 555 0100"}}"#)
        }
        _ => format!(r#"{{"callId":"{call_id}"}}"#),
    }
}

/// Builds stored events the way the engine does: a validated envelope with the top-level
/// fields set, then [`StoredEvent::from_envelope`].
#[derive(Clone)]
pub struct EventSpec {
    pub seq: u64,
    pub event_type: EventType,
    pub call_id: String,
    pub agent: Option<String>,
    pub event_id: Option<String>,
    pub timestamp: jiff::Timestamp,
}

impl EventSpec {
    pub fn new(seq: u64) -> EventSpec {
        EventSpec {
            seq,
            event_type: EventType::Mute,
            call_id: "call-1".into(),
            agent: Some("alice".into()),
            event_id: None,
            timestamp: at_minute(i64::try_from(seq).unwrap()),
        }
    }

    pub fn kind(mut self, event_type: EventType) -> EventSpec {
        self.event_type = event_type;
        self
    }

    pub fn call(mut self, call_id: &str) -> EventSpec {
        self.call_id = call_id.into();
        self
    }

    pub fn agent(mut self, agent: Option<&str>) -> EventSpec {
        self.agent = agent.map(Into::into);
        self
    }

    pub fn id(mut self, event_id: &str) -> EventSpec {
        self.event_id = Some(event_id.into());
        self
    }

    pub fn at(mut self, timestamp: jiff::Timestamp) -> EventSpec {
        self.timestamp = timestamp;
        self
    }

    pub fn build(self) -> StoredEvent {
        let payload = format!(
            r#"{{"type":"{}","detail":{}}}"#,
            self.event_type,
            detail(self.event_type, &self.call_id)
        );
        let mut envelope = parse_event(payload.as_bytes(), &ParseOptions::default()).unwrap();
        envelope.seq = Some(self.seq);
        envelope.timestamp = Some(self.timestamp);
        envelope.agent = self.agent;
        envelope.event_id = self.event_id;
        StoredEvent::from_envelope(&envelope).unwrap()
    }
}

/// A plain event at `seq`.
pub fn event(seq: u64) -> StoredEvent {
    EventSpec::new(seq).build()
}

/// A batch of plain events with seqs `first..=last`.
pub fn batch(first: u64, last: u64) -> AppendBatch {
    AppendBatch::new((first..=last).map(event).collect())
}
