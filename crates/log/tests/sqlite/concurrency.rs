//! Many appenders, group commit, and readers racing the writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;
use voicetk_log::{AppendBatch, EventLog, LogErrorKind, ReadQuery, SqliteLog};

use super::support::{EventSpec, Fixture, batch, event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_from_many_tasks_all_land_in_order() {
    let f = Fixture::new();
    let log = Arc::new(f.log);
    // The engine's role: a counter that assigns seqs, held while the batch is handed over so
    // hand-over order is seq order.
    let next_seq = Arc::new(Mutex::new(1u64));
    let tasks = 32u64;
    let per_task = 10u64;
    let mut handles = Vec::new();
    for task in 0..tasks {
        let log = Arc::clone(&log);
        let next_seq = Arc::clone(&next_seq);
        handles.push(tokio::spawn(async move {
            for round in 0..per_task {
                let size = 1 + (task + round) % 5;
                let answer = {
                    let mut next = next_seq.lock().await;
                    let first = *next;
                    *next += size;
                    let events = (first..first + size)
                        .map(|seq| EventSpec::new(seq).call(&format!("call-{task}")).build())
                        .collect();
                    log.append(AppendBatch::new(events))
                };
                answer.await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let last = *next_seq.lock().await - 1;
    assert_eq!(log.last_seq().await.unwrap(), last);
    let seqs: Vec<u64> = log
        .read(ReadQuery::after(0).with_limit(usize::MAX))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.appended_batches, tasks * per_task);
    assert_eq!(stats.appended_events, last);
    assert_eq!(stats.failed_batches, 0);
    assert!(stats.commits <= stats.appended_batches);
}

/// Holds SQLite's write lock from a second connection, so the writer blocks on its next
/// transaction and every append made meanwhile queues up behind it.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(log: &SqliteLog) -> WriteLock {
        let conn = rusqlite::Connection::open(log.path()).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        WriteLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").unwrap();
    }
}

#[tokio::test]
async fn appends_queued_during_a_commit_merge_but_each_gets_its_own_answer() {
    let f = Fixture::new();
    f.log.append(batch(1, 2)).await.unwrap();
    let commits_before = f.log.stats().commits;

    let lock = WriteLock::take(&f.log);
    // Handed over in this order (append queues at call time); the writer is stuck on the lock.
    let ok_first = f.log.append(batch(3, 5));
    let duplicate = f.log.append(AppendBatch {
        events: vec![
            EventSpec::new(6).id("dup").build(),
            EventSpec::new(7).id("dup").build(),
        ],
        calls: vec![("call-x".into(), "{}".into())],
        removed_calls: vec![],
    });
    let gap_after_refusal = f.log.append(batch(8, 9));
    let ok_second = f.log.append(AppendBatch {
        events: vec![event(6), event(7)],
        calls: vec![("call-y".into(), "{}".into())],
        removed_calls: vec![],
    });
    let ok_third = f.log.append(batch(8, 8));
    lock.release();

    let (a, b, c, d, e) = tokio::join!(ok_first, duplicate, gap_after_refusal, ok_second, ok_third);
    a.unwrap();
    assert!(matches!(
        b.unwrap_err().kind(),
        LogErrorKind::DuplicateEventId { event_id } if event_id == "dup"
    ));
    assert_eq!(
        c.unwrap_err().kind(),
        &LogErrorKind::SeqGap {
            expected: 6,
            got: 8
        }
    );
    d.unwrap();
    e.unwrap();

    assert_eq!(f.all_seqs().await, (1..=8).collect::<Vec<_>>());
    let calls: Vec<String> = f
        .log
        .recover(0)
        .await
        .unwrap()
        .calls
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(calls, ["call-y"]);
    // Five appends, at most two transactions: the one stuck on the lock and the rest merged.
    let stats = f.log.stats();
    assert!(
        stats.commits - commits_before <= 2,
        "{} commits for 5 queued appends",
        stats.commits - commits_before
    );
    assert_eq!(stats.appended_batches, 4);
    assert_eq!(stats.failed_batches, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_the_writer_never_see_part_of_a_batch() {
    const BATCH: u64 = 5;
    const BATCHES: u64 = 150;
    let f = Fixture::new();
    let log = Arc::new(f.log);
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let log = Arc::clone(&log);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            for b in 0..BATCHES {
                let first = b * BATCH + 1;
                let events = (first..first + BATCH)
                    .map(|seq| EventSpec::new(seq).call(&format!("call-{b}")).build())
                    .collect();
                log.append(AppendBatch {
                    events,
                    calls: vec![(format!("call-{b}"), format!(r#"{{"batch":{b}}}"#))],
                    removed_calls: vec![],
                })
                .await
                .unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let readers: Vec<_> = (0..3)
        .map(|_| {
            let log = Arc::clone(&log);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut reads = 0u64;
                loop {
                    // Checked before reading, so the last pass sees the finished log.
                    let finished = done.load(Ordering::SeqCst);
                    let events = log
                        .read(ReadQuery::after(0).with_limit(usize::MAX))
                        .await
                        .unwrap();
                    let n = u64::try_from(events.len()).unwrap();
                    assert_eq!(n % BATCH, 0, "a read saw {n} events: part of a batch");
                    assert!(events.iter().map(|e| e.seq).eq(1..=n), "not gap-free");
                    let recovered = log.recover(0).await.unwrap();
                    // Snapshots commit with their events: never one without the other.
                    assert_eq!(
                        u64::try_from(recovered.calls.len()).unwrap() * BATCH,
                        recovered.last_seq
                    );
                    reads += 1;
                    if finished {
                        assert_eq!(n, BATCH * BATCHES);
                        return reads;
                    }
                }
            })
        })
        .collect();

    writer.await.unwrap();
    for reader in readers {
        assert!(reader.await.unwrap() >= 1);
    }
}

#[tokio::test]
async fn a_full_queue_makes_appends_wait_instead_of_failing() {
    let f = Fixture::with_options(voicetk_log::SqliteOptions::default().queue_capacity(1));
    // The writer is stuck and the queue holds one append: the later ones must wait for room.
    // Snapshot-only batches carry no seqs, so the order they get in does not matter here.
    let lock = WriteLock::take(&f.log);
    let snapshot = |call: &str| AppendBatch {
        calls: vec![(call.to_owned(), "{}".to_owned())],
        ..AppendBatch::default()
    };
    let first = f.log.append(snapshot("call-1"));
    let second = f.log.append(snapshot("call-2"));
    let third = f.log.append(snapshot("call-3"));
    lock.release();
    let (a, b, c) = tokio::join!(first, second, third);
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!(f.log.recover(0).await.unwrap().calls.len(), 3);
    assert_eq!(f.log.stats().appended_batches, 3);
}
