//! A log held in RAM only: the same rules as the SQLite log, none of its durability. For
//! benchmarks (to see what the store costs) and tests.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use futures::future::BoxFuture;

use crate::error::{LogError, LogErrorKind};
use crate::event::{AppendBatch, Recovered, StoredEvent};
use crate::event_log::EventLog;
use crate::query::ReadQuery;
use crate::retention::Retention;
use crate::stats::{LogStats, StatsCell};

/// How a memory log names itself in errors (the `store` setting that selects it).
const LOCATION: &str = "memory:";

/// An [`EventLog`] that keeps everything in memory.
///
/// **Not durable**: everything is lost when the process exits, so it breaks the trait's first
/// promise on purpose. It keeps all the others, with the same semantics as
/// [`SqliteLog`](crate::SqliteLog): a batch must continue the log
/// ([`SeqGap`](LogErrorKind::SeqGap)), an `eventId` already held refuses the batch
/// ([`DuplicateEventId`](LogErrorKind::DuplicateEventId)), nothing of a refused batch is stored,
/// retention removes a prefix and never the newest event, `last_seq` survives retention, and
/// after [`close`](EventLog::close) everything but `last_seq` and `stats` is refused with
/// [`Closed`](LogErrorKind::Closed).
///
/// Work happens when a method is called, under one lock, so an append is done (and cannot be
/// cancelled) before its future is even polled. An append costs O(events in the batch).
///
/// # Examples
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use voicetk_events::EventType;
/// use voicetk_log::{AppendBatch, EventLog, LogErrorKind, MemoryLog, ReadQuery, StoredEvent};
///
/// let log = MemoryLog::new();
/// let event = |seq: u64| StoredEvent {
///     seq,
///     timestamp: "2025-03-01T12:00:00Z".parse().unwrap(),
///     event_type: EventType::Mute,
///     call_id: "c1".into(),
///     agent: None,
///     event_id: None,
///     json: format!(r#"{{"type":"MUTE","detail":{{"callId":"c1"}},"seq":{seq}}}"#),
/// };
/// log.append(AppendBatch::new(vec![event(1), event(2)])).await?;
/// let gap = log.append(AppendBatch::new(vec![event(4)])).await.unwrap_err();
/// assert_eq!(gap.kind(), &LogErrorKind::SeqGap { expected: 3, got: 4 });
/// assert_eq!(log.read(ReadQuery::after(1)).await?.len(), 1);
/// assert_eq!(log.last_seq().await?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct MemoryLog {
    /// Everything stored; writers take it exclusively, so readers never see part of a batch.
    state: RwLock<State>,
    /// Set by `close`: new appends and reads are refused from then on.
    closed: AtomicBool,
    /// Counters for `/metrics`; one append is one commit.
    stats: StatsCell,
}

/// The stored data.
#[derive(Debug, Default)]
struct State {
    /// The events held, oldest first. Their seqs are contiguous (appends continue the log,
    /// retention removes a prefix), so the event with seq `s` is at index `s - first seq`.
    events: VecDeque<StoredEvent>,
    /// The last seq appended; it survives retention.
    last_seq: u64,
    /// `eventId` → seq, for the events held (retention frees the ids it removes, as the SQLite
    /// log's UNIQUE column does).
    event_ids: HashMap<String, u64>,
    /// Call snapshots by call id; a `BTreeMap` so `recover` lists them by call id.
    calls: BTreeMap<String, String>,
}

impl State {
    /// The index in `events` of the first event with a seq greater than `after`.
    fn index_after(&self, after: u64) -> usize {
        match self.events.front() {
            Some(first) if after >= first.seq => {
                usize::try_from(after - first.seq + 1).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
        .min(self.events.len())
    }
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        // Nothing panics while the lock is held except on allocation failure, so a poisoned
        // state is still consistent.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses with `Closed` once `close` was called.
    fn check_open(&self) -> Result<(), LogError> {
        if self.closed.load(Ordering::SeqCst) {
            Err(LogError::new(LogErrorKind::Closed).with_location(LOCATION))
        } else {
            Ok(())
        }
    }

    /// Stores `batch` or refuses it whole.
    fn store(&self, batch: AppendBatch) -> Result<(), LogError> {
        let started = Instant::now();
        let mut state = self.write_state();
        // Checked under the lock: `close` takes the lock after setting the flag, so no append
        // lands after `close` returned.
        self.check_open()?;
        if let Err(e) = check(&state, &batch) {
            drop(state);
            self.stats.record_failed(1);
            return Err(e.with_location(LOCATION));
        }
        let State {
            events,
            last_seq,
            event_ids,
            calls,
        } = &mut *state;
        let count = batch.events.len() as u64;
        for event in batch.events {
            if let Some(id) = &event.event_id {
                event_ids.insert(id.clone(), event.seq);
            }
            *last_seq = event.seq;
            events.push_back(event);
        }
        // Upserts before removals, so a call in both ends up removed.
        calls.extend(batch.calls);
        for call_id in &batch.removed_calls {
            calls.remove(call_id);
        }
        drop(state);
        self.stats.record_commit(1, count, started.elapsed());
        Ok(())
    }

    /// Deletes the prefix the policy no longer allows.
    fn prune(&self, policy: &Retention, now: jiff::Timestamp) -> Result<u64, LogError> {
        self.check_open()?;
        if policy.keeps_all() {
            return Ok(0);
        }
        let mut state = self.write_state();
        let Some(newest) = state.events.back().map(|e| e.seq) else {
            return Ok(0);
        };
        let cutoff = policy.cutoff(now);
        let first_young = cutoff.and_then(|cutoff| {
            state
                .events
                .iter()
                .find(|e| e.timestamp >= cutoff)
                .map(|e| e.seq)
        });
        let through = policy.prune_through(newest, first_young, cutoff.is_some());
        let mut deleted = 0u64;
        while state.events.front().is_some_and(|e| e.seq <= through) {
            if let Some(event) = state.events.pop_front() {
                if let Some(id) = &event.event_id {
                    state.event_ids.remove(id);
                }
                deleted += 1;
            }
        }
        drop(state);
        if deleted > 0 {
            self.stats.record_pruned(deleted);
            tracing::debug!(location = LOCATION, deleted, through, "retention applied");
        }
        Ok(deleted)
    }

    fn read_events(&self, query: &ReadQuery) -> Result<Vec<StoredEvent>, LogError> {
        self.check_open()?;
        if query.is_void() {
            return Ok(Vec::new());
        }
        let state = self.read_state();
        Ok(state
            .events
            .range(state.index_after(query.after)..)
            .filter(|e| query.matches(e))
            .take(query.limit)
            .cloned()
            .collect())
    }

    fn recovered(&self, recent_ids: usize) -> Result<Recovered, LogError> {
        self.check_open()?;
        let state = self.read_state();
        let mut recent_event_ids: Vec<(String, u64)> = state
            .events
            .iter()
            .rev()
            .filter_map(|e| e.event_id.as_ref().map(|id| (id.clone(), e.seq)))
            .take(recent_ids)
            .collect();
        recent_event_ids.reverse();
        Ok(Recovered {
            last_seq: state.last_seq,
            calls: state
                .calls
                .iter()
                .map(|(id, snapshot)| (id.clone(), snapshot.clone()))
                .collect(),
            recent_event_ids,
        })
    }
}

/// Why `batch` cannot be stored on top of `state`, if it cannot: the seq rule first, then
/// `eventId`s already held or repeated inside the batch.
fn check(state: &State, batch: &AppendBatch) -> Result<(), LogError> {
    batch.check_continues(state.last_seq)?;
    let mut in_batch = HashSet::new();
    for id in batch.events.iter().filter_map(|e| e.event_id.as_deref()) {
        if state.event_ids.contains_key(id) || !in_batch.insert(id) {
            return Err(LogError::new(LogErrorKind::DuplicateEventId {
                event_id: id.to_owned(),
            }));
        }
    }
    Ok(())
}

impl std::fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.read_state();
        f.debug_struct("MemoryLog")
            .field("events", &state.events.len())
            .field("last_seq", &state.last_seq)
            .field("closed", &self.closed.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl EventLog for MemoryLog {
    /// Stores the batch before returning the future.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(std::future::ready(self.store(batch)))
    }

    fn read(&self, query: ReadQuery) -> BoxFuture<'_, Result<Vec<StoredEvent>, LogError>> {
        Box::pin(std::future::ready(self.read_events(&query)))
    }

    fn last_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(std::future::ready(Ok(self.read_state().last_seq)))
    }

    fn recover(&self, recent_ids: usize) -> BoxFuture<'_, Result<Recovered, LogError>> {
        Box::pin(std::future::ready(self.recovered(recent_ids)))
    }

    fn find_event_id(&self, event_id: &str) -> BoxFuture<'_, Result<Option<u64>, LogError>> {
        let found = self
            .check_open()
            .map(|()| self.read_state().event_ids.get(event_id).copied());
        Box::pin(std::future::ready(found))
    }

    /// Prunes before returning the future, so it runs after every append called before it.
    fn apply_retention(
        &self,
        policy: &Retention,
        now: jiff::Timestamp,
    ) -> BoxFuture<'_, Result<u64, LogError>> {
        Box::pin(std::future::ready(self.prune(policy, now)))
    }

    fn first_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        let first = self
            .check_open()
            .map(|()| self.read_state().events.front().map_or(0, |e| e.seq));
        Box::pin(std::future::ready(first))
    }

    fn stats(&self) -> LogStats {
        self.stats.snapshot()
    }

    /// Refuses everything from now on, once the appends in progress have finished.
    fn close(&self) -> BoxFuture<'_, Result<(), LogError>> {
        self.closed.store(true, Ordering::SeqCst);
        // Waits for an append holding the lock; later ones see the flag.
        drop(self.write_state());
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The `EventLog` semantics every implementation shares, run against this log and against
/// [`SqliteLog`](crate::SqliteLog) so the two cannot drift apart.
#[cfg(test)]
mod conformance {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use voicetk_events::{EventType, ParseOptions, parse_event};

    use crate::{AppendBatch, EventLog, LogErrorKind, ReadQuery, Retention, StoredEvent};

    /// Runs each case on a fresh `MemoryLog` and on a fresh `SqliteLog` in a temporary
    /// directory.
    macro_rules! on_both_logs {
        ($($case:ident),* $(,)?) => {
            mod memory_log {
                $(
                    #[tokio::test]
                    async fn $case() {
                        super::$case(&crate::MemoryLog::new()).await;
                    }
                )*
            }
            mod sqlite_log {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let dir = tempfile::tempdir().unwrap();
                        let log = crate::SqliteLog::open(dir.path(), Default::default()).unwrap();
                        super::$case(&log).await;
                    }
                )*
            }
        };
    }

    on_both_logs!(
        append_and_read_round_trip,
        a_batch_that_does_not_continue_the_log_stores_nothing,
        a_duplicate_event_id_stores_nothing,
        snapshots_upsert_then_remove,
        reads_filter_page_and_order,
        recover_gives_last_seq_snapshots_and_recent_ids,
        retention_by_count_and_age_removes_a_prefix,
        retention_frees_pruned_event_ids_and_keeps_last_seq,
        an_append_is_handed_over_when_called,
        after_close_everything_but_last_seq_is_refused,
    );

    const MINUTE: Duration = Duration::from_secs(60);

    /// Minute `minute` of the test day, with nanoseconds so exact round trips show.
    fn at_minute(minute: u64) -> jiff::Timestamp {
        let base: jiff::Timestamp = "2025-03-01T12:00:00.123456789Z".parse().unwrap();
        base.checked_add(jiff::SignedDuration::from_mins(
            i64::try_from(minute).unwrap(),
        ))
        .unwrap()
    }

    /// A stored event built the way the engine builds one, accepted at minute `seq`.
    fn spec(
        seq: u64,
        event_type: EventType,
        call: &str,
        agent: Option<&str>,
        id: Option<&str>,
    ) -> StoredEvent {
        stamped(seq, seq, event_type, call, agent, id)
    }

    /// Like [`spec`], accepted at minute `minute`.
    fn stamped(
        seq: u64,
        minute: u64,
        event_type: EventType,
        call: &str,
        agent: Option<&str>,
        id: Option<&str>,
    ) -> StoredEvent {
        let detail = match event_type {
            EventType::AudioStats => format!(
                r#"{{"callId":"{call}","stats":"inputChannelStats","packetsLost":1,"packetsCount":1500,"jitterBufferMillis":12,"roundTripTimeMillis":80,"statsCount":30}}"#
            ),
            EventType::CallStarted | EventType::CallConnected => format!(
                r#"{{"callId":"{call}","callType":"inbound","participant":"+1 415 555 0100"}}"#
            ),
            EventType::Hold | EventType::Resume => {
                format!(r#"{{"callId":"{call}","participant":"+1 415 555 0100"}}"#)
            }
            _ => format!(r#"{{"callId":"{call}"}}"#),
        };
        let payload = format!(r#"{{"type":"{event_type}","detail":{detail}}}"#);
        let mut envelope = parse_event(payload.as_bytes(), &ParseOptions::default()).unwrap();
        envelope.seq = Some(seq);
        envelope.timestamp = Some(at_minute(minute));
        envelope.agent = agent.map(Into::into);
        envelope.event_id = id.map(Into::into);
        StoredEvent::from_envelope(&envelope).unwrap()
    }

    fn event(seq: u64) -> StoredEvent {
        spec(seq, EventType::Mute, "call-1", Some("alice"), None)
    }

    fn with_id(seq: u64, id: &str) -> StoredEvent {
        spec(seq, EventType::Mute, "call-1", Some("alice"), Some(id))
    }

    fn batch(first: u64, last: u64) -> AppendBatch {
        AppendBatch::new((first..=last).map(event).collect())
    }

    async fn seqs(log: &dyn EventLog) -> Vec<u64> {
        let all = log.read(ReadQuery::after(0).with_limit(usize::MAX)).await;
        all.unwrap().iter().map(|e| e.seq).collect()
    }

    async fn append_and_read_round_trip(log: &dyn EventLog) {
        assert_eq!(log.last_seq().await.unwrap(), 0);
        assert_eq!(log.first_seq().await.unwrap(), 0);
        assert_eq!(log.recover(10).await.unwrap(), Default::default());
        let events = vec![
            spec(1, EventType::CallStarted, "c1", None, Some("s-1")),
            spec(2, EventType::Hold, "c1", Some("bob"), None),
        ];
        log.append(AppendBatch::new(events.clone())).await.unwrap();
        // An empty batch is a no-op that succeeds.
        log.append(AppendBatch::default()).await.unwrap();
        let stored = log.read(ReadQuery::default()).await.unwrap();
        assert_eq!(stored, events);
        assert_eq!(stored[0].timestamp, at_minute(1));
        assert_eq!(
            (
                log.first_seq().await.unwrap(),
                log.last_seq().await.unwrap()
            ),
            (1, 2)
        );
        assert_eq!(log.find_event_id("s-1").await.unwrap(), Some(1));
        assert_eq!(log.find_event_id("S-1").await.unwrap(), None);
        let stats = log.stats();
        assert_eq!((stats.appended_events, stats.appended_batches), (2, 2));
        assert_eq!((stats.commits, stats.failed_batches), (2, 0));
    }

    async fn a_batch_that_does_not_continue_the_log_stores_nothing(log: &dyn EventLog) {
        log.append(batch(1, 3)).await.unwrap();
        let mut skips = batch(5, 6);
        skips.calls.push(("call-1".into(), "{}".into()));
        let err = log.append(skips).await.unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 4,
                got: 5
            }
        );
        assert!(err.location().is_some());
        let holed = AppendBatch::new(vec![event(4), event(6)]);
        let err = log.append(holed).await.unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 5,
                got: 6
            }
        );
        let err = log.append(batch(3, 4)).await.unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 4,
                got: 3
            }
        );
        let mut huge = event(4);
        huge.seq = u64::MAX;
        let err = log.append(AppendBatch::new(vec![huge])).await.unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 4,
                got: u64::MAX
            }
        );

        assert_eq!(seqs(log).await, [1, 2, 3]);
        assert_eq!(log.last_seq().await.unwrap(), 3);
        assert!(log.recover(10).await.unwrap().calls.is_empty());
        let stats = log.stats();
        assert_eq!((stats.appended_batches, stats.failed_batches), (1, 4));
        log.append(batch(4, 5)).await.unwrap();
        assert_eq!(seqs(log).await, [1, 2, 3, 4, 5]);
    }

    async fn a_duplicate_event_id_stores_nothing(log: &dyn EventLog) {
        log.append(AppendBatch {
            events: vec![event(1), with_id(2, "evt-a")],
            calls: vec![("call-1".into(), r#"{"v":1}"#.into())],
            removed_calls: vec![],
        })
        .await
        .unwrap();
        let duplicate = AppendBatch {
            events: vec![with_id(3, "evt-b"), event(4), with_id(5, "evt-a")],
            calls: vec![("call-1".into(), r#"{"v":2}"#.into())],
            removed_calls: vec!["call-1".into()],
        };
        let err = log.append(duplicate).await.unwrap_err();
        let evt_a = LogErrorKind::DuplicateEventId {
            event_id: "evt-a".into(),
        };
        assert_eq!(err.kind(), &evt_a);
        assert_eq!(seqs(log).await, [1, 2]);
        assert_eq!(log.find_event_id("evt-b").await.unwrap(), None);
        let calls = log.recover(10).await.unwrap().calls;
        assert_eq!(calls, [("call-1".to_owned(), r#"{"v":1}"#.to_owned())]);

        let twice = AppendBatch::new(vec![with_id(3, "evt-c"), with_id(4, "evt-c")]);
        let err = log.append(twice).await.unwrap_err();
        let evt_c = LogErrorKind::DuplicateEventId {
            event_id: "evt-c".into(),
        };
        assert_eq!(err.kind(), &evt_c);
        assert_eq!(log.find_event_id("evt-c").await.unwrap(), None);
        assert_eq!(log.last_seq().await.unwrap(), 2);

        log.append(AppendBatch::new(vec![with_id(3, "evt-b")]))
            .await
            .unwrap();
        assert_eq!(log.find_event_id("evt-b").await.unwrap(), Some(3));
    }

    async fn snapshots_upsert_then_remove(log: &dyn EventLog) {
        log.append(AppendBatch {
            events: vec![event(1)],
            calls: vec![
                ("call-2".into(), "started".into()),
                ("call-1".into(), "started".into()),
            ],
            removed_calls: vec![],
        })
        .await
        .unwrap();
        // A batch without events changes only snapshots.
        log.append(AppendBatch {
            calls: vec![
                ("call-1".into(), "connected".into()),
                ("call-3".into(), "started".into()),
            ],
            removed_calls: vec!["call-2".into(), "call-3".into(), "never".into()],
            ..AppendBatch::default()
        })
        .await
        .unwrap();
        let recovered = log.recover(10).await.unwrap();
        assert_eq!(recovered.last_seq, 1);
        assert_eq!(
            recovered.calls,
            [("call-1".to_owned(), "connected".to_owned())]
        );
        log.append(AppendBatch {
            calls: vec![("call-0".into(), "x".into()), ("call-9".into(), "y".into())],
            ..AppendBatch::default()
        })
        .await
        .unwrap();
        let ids: Vec<String> = log
            .recover(0)
            .await
            .unwrap()
            .calls
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(ids, ["call-0", "call-1", "call-9"], "sorted by call id");
    }

    async fn reads_filter_page_and_order(log: &dyn EventLog) {
        let types = [
            EventType::Hold,
            EventType::Resume,
            EventType::Mute,
            EventType::AudioStats,
        ];
        let events: Vec<StoredEvent> = (1..=60u64)
            .map(|seq| {
                let i = usize::try_from(seq).unwrap();
                spec(
                    seq,
                    types[i % 4],
                    ["call-a", "call-b", "call-c"][i % 3],
                    [Some("alice"), Some("bob"), None][i % 5 % 3],
                    None,
                )
            })
            .collect();
        for chunk in events.chunks(7) {
            log.append(AppendBatch::new(chunk.to_vec())).await.unwrap();
        }
        let queries = [
            ReadQuery::after(0),
            ReadQuery::after(0).with_types([EventType::Hold]),
            ReadQuery::after(0).with_types([EventType::Hold, EventType::AudioStats]),
            ReadQuery::after(0).with_types([EventType::WrapUpEnded]),
            ReadQuery::after(0).with_types([]),
            ReadQuery::after(0).with_call_id("call-b"),
            ReadQuery::after(0).with_call_id("call-z"),
            ReadQuery::after(0).with_agent("bob"),
            ReadQuery::after(17)
                .with_call_id("call-a")
                .with_agent("alice")
                .with_limit(3),
            ReadQuery::after(30)
                .with_types([EventType::Mute])
                .with_limit(2),
            ReadQuery::after(59),
            ReadQuery::after(60),
            ReadQuery::after(u64::MAX),
            ReadQuery::after(0).with_limit(0),
        ];
        for query in queries {
            let want: Vec<StoredEvent> = events
                .iter()
                .filter(|e| query.matches(e))
                .take(query.limit)
                .cloned()
                .collect();
            assert_eq!(log.read(query.clone()).await.unwrap(), want, "{query:?}");
        }
        assert_eq!(
            log.read(ReadQuery::after(0).with_types([EventType::Hold]))
                .await
                .unwrap()
                .len(),
            15
        );
        // Paging with after = last seq seen walks the whole log in order.
        let mut after = 0;
        let mut walked = Vec::new();
        loop {
            let page = log
                .read(ReadQuery::after(after).with_limit(8))
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            walked.push(after);
        }
        assert_eq!(
            walked,
            (1..=7).map(|p| p * 8).chain([60]).collect::<Vec<u64>>()
        );
    }

    async fn recover_gives_last_seq_snapshots_and_recent_ids(log: &dyn EventLog) {
        for seq in 1..=20u64 {
            let call = format!("call-{}", seq % 4);
            let id = format!("id-{seq}");
            let event = spec(
                seq,
                EventType::Mute,
                &call,
                None,
                (seq % 3 == 0).then_some(id.as_str()),
            );
            log.append(AppendBatch {
                events: vec![event],
                calls: vec![(call, format!("last {seq}"))],
                removed_calls: if seq == 20 {
                    vec!["call-0".into()]
                } else {
                    vec![]
                },
            })
            .await
            .unwrap();
        }
        let recovered = log.recover(4).await.unwrap();
        assert_eq!(recovered.last_seq, 20);
        assert_eq!(
            recovered.calls,
            [
                ("call-1".to_owned(), "last 17".to_owned()),
                ("call-2".to_owned(), "last 18".to_owned()),
                ("call-3".to_owned(), "last 19".to_owned()),
            ]
        );
        let newest_four: Vec<(String, u64)> =
            [9, 12, 15, 18].map(|s| (format!("id-{s}"), s)).into();
        assert_eq!(recovered.recent_event_ids, newest_four);
        assert!(log.recover(0).await.unwrap().recent_event_ids.is_empty());
        assert_eq!(log.recover(1000).await.unwrap().recent_event_ids.len(), 6);
    }

    async fn retention_by_count_and_age_removes_a_prefix(log: &dyn EventLog) {
        let none = Retention::default().with_max_events(0).with_max_age(MINUTE);
        assert_eq!(log.apply_retention(&none, at_minute(99)).await.unwrap(), 0);
        // Event n is accepted at minute n, except seq 103 stamped late (the clock stepped).
        let mut events: Vec<StoredEvent> = (1..=106).map(event).collect();
        events[102] = stamped(103, 500, EventType::Mute, "call-1", None, None);
        log.append(AppendBatch::new(events)).await.unwrap();
        let keep_all = Retention::default();
        assert_eq!(
            log.apply_retention(&keep_all, at_minute(9_999))
                .await
                .unwrap(),
            0
        );

        let by_count = Retention::default().with_max_events(100);
        assert_eq!(
            log.apply_retention(&by_count, at_minute(0)).await.unwrap(),
            6
        );
        assert_eq!(log.first_seq().await.unwrap(), 7);
        assert_eq!(
            log.apply_retention(&by_count, at_minute(0)).await.unwrap(),
            0
        );

        // At minute 60 the cutoff is minute 30: seqs up to 29 are older.
        let half_hour = Retention::default().with_max_age(30 * MINUTE);
        assert_eq!(
            log.apply_retention(&half_hour, at_minute(60))
                .await
                .unwrap(),
            23
        );
        assert_eq!(log.first_seq().await.unwrap(), 30);
        // Both limits: the stricter wins.
        let both = half_hour.with_max_events(50);
        assert_eq!(log.apply_retention(&both, at_minute(60)).await.unwrap(), 27);
        assert_eq!(log.first_seq().await.unwrap(), 57);
        // Cutoff at minute 470: seq 103 is young, so it and what follows stay (no holes).
        let deleted = log
            .apply_retention(&half_hour, at_minute(500))
            .await
            .unwrap();
        assert_eq!(deleted, 46);
        assert_eq!(seqs(log).await, [103, 104, 105, 106]);
        // Long after everything, all but the newest go.
        assert_eq!(
            log.apply_retention(&half_hour, at_minute(9_999))
                .await
                .unwrap(),
            3
        );
        assert_eq!(seqs(log).await, [106]);
        assert_eq!(
            log.apply_retention(&none, at_minute(9_999)).await.unwrap(),
            0
        );
        assert_eq!(log.stats().pruned_events, 105);
        assert_eq!(log.last_seq().await.unwrap(), 106);
    }

    async fn retention_frees_pruned_event_ids_and_keeps_last_seq(log: &dyn EventLog) {
        log.append(AppendBatch::new(vec![
            with_id(1, "a"),
            with_id(2, "b"),
            event(3),
        ]))
        .await
        .unwrap();
        let everything_old = Retention::default().with_max_age(Duration::ZERO);
        assert_eq!(
            log.apply_retention(&everything_old, at_minute(1_000))
                .await
                .unwrap(),
            2
        );
        assert_eq!(log.find_event_id("a").await.unwrap(), None);
        assert_eq!(log.recover(10).await.unwrap().recent_event_ids, []);
        assert_eq!(
            (
                log.first_seq().await.unwrap(),
                log.last_seq().await.unwrap()
            ),
            (3, 3)
        );
        // Continuity is still checked against the last seq, and an id no longer held is free.
        let err = log.append(batch(2, 2)).await.unwrap_err();
        assert_eq!(
            err.kind(),
            &LogErrorKind::SeqGap {
                expected: 4,
                got: 2
            }
        );
        log.append(AppendBatch::new(vec![with_id(4, "a")]))
            .await
            .unwrap();
        assert_eq!(log.find_event_id("a").await.unwrap(), Some(4));
        assert_eq!(seqs(log).await, [3, 4]);
    }

    async fn an_append_is_handed_over_when_called(log: &dyn EventLog) {
        // Two appends and a retention started before any is awaited run in call order.
        let first = log.append(batch(1, 10));
        let second = log.append(batch(11, 20));
        let prune = log.apply_retention(&Retention::default().with_max_events(5), at_minute(0));
        let (a, b, pruned) = futures::join!(first, second, prune);
        a.unwrap();
        b.unwrap();
        assert_eq!(pruned.unwrap(), 15);
        // A dropped append future still stores its batch (close waits for it).
        drop(log.append(batch(21, 25)));
        log.close().await.unwrap();
        assert_eq!(log.last_seq().await.unwrap(), 25);
    }

    async fn after_close_everything_but_last_seq_is_refused(log: &dyn EventLog) {
        log.append(AppendBatch::new(vec![with_id(1, "x")]))
            .await
            .unwrap();
        log.close().await.unwrap();
        let err = log.append(batch(2, 2)).await.unwrap_err();
        assert!(err.is_closed());
        for err in [
            log.read(ReadQuery::default()).await.unwrap_err(),
            log.recover(1).await.unwrap_err(),
            log.first_seq().await.unwrap_err(),
            log.find_event_id("x").await.unwrap_err(),
            log.apply_retention(&Retention::default(), at_minute(0))
                .await
                .unwrap_err(),
        ] {
            assert_eq!(err.kind(), &LogErrorKind::Closed);
        }
        log.close().await.unwrap();
        assert_eq!(log.last_seq().await.unwrap(), 1);
        // A refusal after close is not a failed batch.
        assert_eq!(log.stats().failed_batches, 0);
    }
}
