//! `resume` against an in-memory log: gap-free, duplicate-free across the history → live
//! switch, across lags, with filters, with interleavings chosen by proptest.
//!
//! The stream is polled by hand (no runtime), so every interleaving of "publish" and "read a
//! page" is decided by the test, not by a scheduler.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::task::noop_waker_ref;
use proptest::prelude::*;
use voicetk_events::EventType;

use super::*;
use crate::HubConfig;
use crate::fixture::delivered;

/// A test double of the log: a vector behind a mutex, appended to before publishing (the
/// order the real log guarantees).
struct MemoryLog {
    hub: Hub,
    events: Mutex<Vec<Arc<Delivered>>>,
    /// When set, a read returns `Pending` once before it takes its snapshot, so the test can
    /// publish between the start and the end of a read.
    slow_reads: bool,
    /// When set, reads fail.
    failing: AtomicBool,
    /// The most events one read returns, whatever the limit: a history may cap its pages.
    page_cap: usize,
    reads: AtomicUsize,
}

impl MemoryLog {
    fn new(capacity: usize, slow_reads: bool) -> Arc<MemoryLog> {
        Arc::new(MemoryLog {
            hub: Hub::new(HubConfig::default().capacity(capacity)),
            events: Mutex::default(),
            slow_reads,
            failing: AtomicBool::new(false),
            page_cap: usize::MAX,
            reads: AtomicUsize::new(0),
        })
    }

    fn with_page_cap(capacity: usize, slow_reads: bool, page_cap: usize) -> Arc<MemoryLog> {
        let mut log = MemoryLog::new(capacity, slow_reads);
        Arc::get_mut(&mut log).unwrap().page_cap = page_cap;
        log
    }

    /// Appends an event `gap` seqs after the last one, then publishes it. Returns its seq.
    fn append_with_gap(&self, gap: u64, event_type: EventType, call_id: &str) -> u64 {
        let event = {
            let mut events = self.events.lock().unwrap();
            let seq = events.last().map_or(0, |d| d.seq) + gap;
            let event = delivered(seq, event_type, call_id, Some("alice"));
            events.push(Arc::clone(&event));
            event
        };
        let seq = event.seq;
        self.hub.publish(event);
        seq
    }

    fn append(&self, event_type: EventType, call_id: &str) -> u64 {
        self.append_with_gap(1, event_type, call_id)
    }

    fn appends(&self, n: usize) {
        for _ in 0..n {
            self.append(EventType::Mute, "c");
        }
    }

    /// The seqs a resume after `after` with `filter` must yield.
    fn expected(&self, after: u64, filter: &Filter) -> Vec<u64> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|d| d.seq > after && filter.matches(d))
            .map(|d| d.seq)
            .collect()
    }

    fn resume(self: &Arc<Self>, filter: Filter, after: u64, page_size: usize) -> ResumeStream {
        resume(
            &self.hub,
            Arc::clone(self) as Arc<dyn History>,
            filter,
            after,
        )
        .page_size(page_size)
    }
}

impl History for MemoryLog {
    fn read_after(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Arc<Delivered>>, HistoryError>> {
        let filter = filter.clone();
        Box::pin(async move {
            if self.slow_reads {
                YieldOnce(false).await;
            }
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(HistoryError::with_source(
                    "segment 3",
                    std::io::Error::other("checksum mismatch"),
                ));
            }
            let events = self.events.lock().unwrap();
            Ok(events
                .iter()
                .filter(|d| d.seq > after && filter.matches(d))
                .take(limit.min(self.page_cap))
                .cloned()
                .collect())
        })
    }
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type Item = Result<Arc<Delivered>, DeliveryError>;

fn poll(stream: &mut ResumeStream) -> Poll<Option<Item>> {
    let mut cx = Context::from_waker(noop_waker_ref());
    Pin::new(stream).poll_next(&mut cx)
}

/// Polls until `n` events have come (or a generous number of polls has passed), then checks
/// that nothing more is ready. Returns their seqs.
fn collect(stream: &mut ResumeStream, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for _ in 0..10_000 {
        if seqs.len() == n {
            break;
        }
        if let Poll::Ready(item) = poll(stream) {
            seqs.push(
                item.expect("stream ended early")
                    .expect("history failed")
                    .seq,
            );
        }
    }
    assert_nothing_more(stream);
    seqs
}

/// A few polls, none of which may yield anything (a duplicate would show here).
fn assert_nothing_more(stream: &mut ResumeStream) {
    for _ in 0..8 {
        if let Poll::Ready(item) = poll(stream) {
            panic!(
                "unexpected item: {:?}",
                item.map(|r| r.map(|d| d.seq).map_err(|e| e.to_string()))
            );
        }
    }
}

#[test]
fn history_only() {
    let log = MemoryLog::new(16, false);
    log.appends(10);
    let mut stream = log.resume(Filter::all(), 3, 4);
    assert!(stream.is_catching_up());
    assert_eq!(collect(&mut stream, 7), (4..=10).collect::<Vec<_>>());
    // Pages of 4: [4..7], [8..10], then an empty one that ends the catch-up.
    assert_eq!(log.reads.load(Ordering::SeqCst), 3);
    assert!(!stream.is_catching_up());
    assert_eq!(stream.last_seq(), 10);
    assert_eq!(stream.resyncs(), 0);
}

#[test]
fn a_history_that_caps_its_pages_leaves_no_gap() {
    let log = MemoryLog::with_page_cap(64, true, 1);
    log.appends(5);
    let mut stream = log.resume(Filter::all(), 0, 4);
    let mut seqs = Vec::new();
    for _ in 0..6 {
        if let Poll::Ready(Some(Ok(event))) = poll(&mut stream) {
            seqs.push(event.seq);
        }
        log.append(EventType::Mute, "c");
    }
    seqs.extend(collect(&mut stream, 11 - seqs.len()));
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
}

#[test]
fn live_only() {
    let log = MemoryLog::new(16, false);
    let mut stream = log.resume(Filter::all(), 0, 4);
    assert!(poll(&mut stream).is_pending());
    log.appends(3);
    assert_eq!(collect(&mut stream, 3), [1, 2, 3]);
    assert_eq!(log.reads.load(Ordering::SeqCst), 1);
}

#[test]
fn after_the_newest_event_waits_for_live() {
    let log = MemoryLog::new(16, false);
    log.appends(5);
    let mut stream = log.resume(Filter::all(), 5, 4);
    assert_nothing_more(&mut stream);
    log.append(EventType::Unmute, "c");
    assert_eq!(collect(&mut stream, 1), [6]);
}

#[test]
fn events_published_during_catch_up_are_yielded_once() {
    let log = MemoryLog::new(64, true);
    log.appends(6);
    let mut stream = log.resume(Filter::all(), 0, 2);
    let mut seqs = Vec::new();
    // Publish between every poll, so events land mid-read, between pages, and in both the
    // history snapshot and the live buffer.
    for _ in 0..12 {
        if let Poll::Ready(Some(Ok(event))) = poll(&mut stream) {
            seqs.push(event.seq);
        }
        log.append(EventType::Mute, "c");
    }
    assert!(
        seqs.len() < 18,
        "catch-up was not interleaved with publishing"
    );
    seqs.extend(collect(&mut stream, 18 - seqs.len()));
    assert_eq!(seqs, (1..=18).collect::<Vec<_>>());
    assert_eq!(stream.resyncs(), 0);
}

#[test]
fn a_lag_during_catch_up_is_resynced_from_history() {
    let log = MemoryLog::new(1, true);
    log.appends(4);
    let mut stream = log.resume(Filter::all(), 0, 2);
    let mut seqs = Vec::new();
    for _ in 0..10 {
        if let Poll::Ready(Some(Ok(event))) = poll(&mut stream) {
            seqs.push(event.seq);
        }
        // Three events per poll overflow a live buffer of one.
        log.appends(3);
    }
    let total = 4 + 30;
    seqs.extend(collect(&mut stream, total - seqs.len()));
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    assert!(stream.resyncs() > 0, "the live subscription never lagged");
    // Afterwards it is live again and keeps up.
    log.append(EventType::Hold, "c");
    assert_eq!(collect(&mut stream, 1), [total as u64 + 1]);
}

#[test]
fn a_lag_after_the_switch_to_live_is_resynced_from_history() {
    let log = MemoryLog::new(2, false);
    log.appends(3);
    let mut stream = log.resume(Filter::all(), 0, 8);
    assert_eq!(collect(&mut stream, 3), [1, 2, 3]);
    assert!(!stream.is_catching_up());
    log.appends(10); // nobody polls: the live buffer of two overflows
    assert!(stream.live.as_ref().unwrap().is_lagged());
    assert_eq!(collect(&mut stream, 10), (4..=13).collect::<Vec<_>>());
    assert_eq!(stream.resyncs(), 1);
    assert_eq!(stream.last_seq(), 13);
}

#[test]
fn only_matching_events_are_yielded_and_seqs_may_have_gaps() {
    let log = MemoryLog::new(1, true);
    let filter = Filter::all()
        .call_id("a")
        .types([EventType::Hold, EventType::Resume]);
    let plan = [
        (EventType::Hold, "a"),
        (EventType::Hold, "b"),
        (EventType::Mute, "a"),
        (EventType::Resume, "a"),
        (EventType::Resume, "b"),
    ];
    for (i, (t, call)) in plan.iter().enumerate() {
        log.append_with_gap(i as u64 + 1, *t, call);
    }
    let mut stream = log.resume(filter.clone(), 1, 1);
    let mut seqs = Vec::new();
    for round in 0..6 {
        if let Poll::Ready(Some(Ok(event))) = poll(&mut stream) {
            assert!(filter.matches(&event));
            seqs.push(event.seq);
        }
        for (t, call) in plan {
            log.append_with_gap(round + 1, t, call);
        }
    }
    let expected = log.expected(1, &filter);
    seqs.extend(collect(&mut stream, expected.len() - seqs.len()));
    assert_eq!(seqs, expected);
    assert!(stream.resyncs() > 0, "the live subscription never lagged");
}

#[test]
fn a_history_failure_is_yielded_then_the_stream_ends() {
    let log = MemoryLog::new(8, false);
    log.appends(2);
    log.failing.store(true, Ordering::SeqCst);
    let mut stream = log.resume(Filter::all(), 0, 4);
    let Poll::Ready(Some(Err(err))) = poll(&mut stream) else {
        panic!("expected the history error first");
    };
    assert!(matches!(err, DeliveryError::History(_)));
    assert_eq!(err.to_string(), "reading history failed: segment 3");
    assert!(matches!(poll(&mut stream), Poll::Ready(None)));
    assert!(stream.is_terminated());
}

#[test]
fn the_stream_ends_when_the_hub_closes() {
    let log = MemoryLog::new(8, false);
    log.appends(2);
    let mut stream = log.resume(Filter::all(), 0, 4);
    assert_eq!(collect(&mut stream, 2), [1, 2]);
    log.append(EventType::Mute, "c");
    log.hub.close();
    let Poll::Ready(Some(Ok(event))) = poll(&mut stream) else {
        panic!("expected the event buffered before the close");
    };
    assert_eq!(event.seq, 3);
    assert!(matches!(poll(&mut stream), Poll::Ready(None)));
    assert!(stream.is_terminated());
}

/// A history that breaks its contract: repeats, reorders and returns unwanted events.
struct SloppyHistory(Vec<Arc<Delivered>>);

impl History for SloppyHistory {
    fn read_after(
        &self,
        _after: u64,
        _filter: &Filter,
        _limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Arc<Delivered>>, HistoryError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

#[test]
fn a_sloppy_history_still_yields_no_duplicate_and_no_unwanted_event() {
    let hub = Hub::new(HubConfig::default());
    let history = SloppyHistory(vec![
        delivered(1, EventType::Mute, "a", None),
        delivered(3, EventType::Mute, "a", None),
        delivered(2, EventType::Mute, "a", None),
        delivered(4, EventType::Mute, "b", None),
        delivered(5, EventType::Mute, "a", None),
    ]);
    // It never returns an empty page: the catch-up ends when a page brings nothing new.
    let mut stream = resume(&hub, Arc::new(history), Filter::all().call_id("a"), 1).page_size(2);
    assert_eq!(collect(&mut stream, 2), [3, 5]);
    assert!(!stream.is_catching_up());
    assert_eq!(stream.last_seq(), 5);
}

#[tokio::test]
async fn resume_under_a_runtime_with_a_concurrent_publisher() {
    use futures::StreamExt;

    let log = MemoryLog::new(4, true);
    log.appends(50);
    let stream = log.resume(Filter::all(), 10, 8);
    let publisher = {
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            for _ in 0..100 {
                log.append(EventType::Mute, "c");
                tokio::task::yield_now().await;
            }
        })
    };
    let seqs: Vec<u64> = stream
        .take(140)
        .map(|item| item.unwrap().seq)
        .collect()
        .await;
    publisher.await.unwrap();
    assert_eq!(seqs, (11..=150).collect::<Vec<_>>());
}

#[derive(Debug, Clone)]
enum Op {
    Append { call: usize, kind: usize, gap: u64 },
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3usize, 1..4u64).prop_map(|(call, kind, gap)| Op::Append { call, kind, gap }),
        2 => Just(Op::Poll),
    ]
}

const CALLS: [&str; 3] = ["a", "b", "c"];
const KINDS: [EventType; 3] = [EventType::Hold, EventType::Resume, EventType::Mute];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_interleaving_yields_each_wanted_seq_after_after_once_in_order(
        prefill in 0..20usize,
        after in 0..30u64,
        capacity in 1..5usize,
        page_size in 1..6usize,
        slow_reads in any::<bool>(),
        page_cap in prop_oneof![Just(usize::MAX), 1..3usize],
        call_filter in proptest::option::of(0..3usize),
        kind_filter in proptest::option::of(0..3usize),
        ops in proptest::collection::vec(op(), 0..80),
    ) {
        let log = MemoryLog::with_page_cap(capacity, slow_reads, page_cap);
        for i in 0..prefill {
            log.append(KINDS[i % 3], CALLS[i % 2]);
        }
        let mut filter = Filter::all();
        if let Some(c) = call_filter {
            filter = filter.call_id(CALLS[c]);
        }
        if let Some(k) = kind_filter {
            filter = filter.types([KINDS[k]]);
        }
        let mut stream = log.resume(filter.clone(), after, page_size);
        let mut seqs = Vec::new();
        for op in ops {
            match op {
                Op::Append { call, kind, gap } => {
                    log.append_with_gap(gap, KINDS[kind], CALLS[call]);
                }
                Op::Poll => match poll(&mut stream) {
                    Poll::Pending => {}
                    Poll::Ready(Some(Ok(event))) => {
                        prop_assert!(filter.matches(&event));
                        seqs.push(event.seq);
                    }
                    Poll::Ready(other) => {
                        prop_assert!(false, "unexpected {:?}", other.map(|r| r.map(|d| d.seq).map_err(|e| e.to_string())));
                    }
                },
            }
        }
        let expected = log.expected(after, &filter);
        prop_assert!(seqs.len() <= expected.len(), "more than expected: {:?} vs {:?}", seqs, expected);
        let rest = expected.len() - seqs.len();
        seqs.extend(collect(&mut stream, rest));
        prop_assert_eq!(seqs, expected);
    }
}
