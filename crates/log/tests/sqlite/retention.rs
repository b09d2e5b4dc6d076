//! Retention by count and by age; it removes a prefix and never the newest event.

use std::time::Duration;

use voicetk_log::{AppendBatch, EventLog, ReadQuery, Retention};

use super::support::{EventSpec, Fixture, at_minute, batch};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn by_count_keeps_the_newest_events() {
    let f = Fixture::new();
    f.log.append(batch(1, 100)).await.unwrap();
    let policy = Retention::default().with_max_events(10);

    assert_eq!(
        f.log.apply_retention(&policy, at_minute(0)).await.unwrap(),
        90
    );
    assert_eq!(f.all_seqs().await, (91..=100).collect::<Vec<_>>());
    assert_eq!(f.log.first_seq().await.unwrap(), 91);
    assert_eq!(f.log.last_seq().await.unwrap(), 100);
    assert_eq!(f.log.stats().pruned_events, 90);
    // Already within the limit: nothing more goes.
    assert_eq!(
        f.log.apply_retention(&policy, at_minute(0)).await.unwrap(),
        0
    );

    f.log.append(batch(101, 105)).await.unwrap();
    assert_eq!(
        f.log.apply_retention(&policy, at_minute(0)).await.unwrap(),
        5
    );
    assert_eq!(f.log.first_seq().await.unwrap(), 96);

    let f = f.reopen().await;
    assert_eq!(f.log.first_seq().await.unwrap(), 96);
    assert_eq!(f.log.last_seq().await.unwrap(), 105);
}

#[tokio::test]
async fn by_count_zero_still_keeps_the_newest_event() {
    let f = Fixture::new();
    f.log.append(batch(1, 5)).await.unwrap();
    let none = Retention::default().with_max_events(0);
    assert_eq!(f.log.apply_retention(&none, at_minute(0)).await.unwrap(), 4);
    assert_eq!(f.all_seqs().await, [5]);
    assert_eq!(f.log.apply_retention(&none, at_minute(0)).await.unwrap(), 0);
}

#[tokio::test]
async fn by_age_deletes_events_accepted_before_the_cutoff() {
    let f = Fixture::new();
    // Event n is accepted at minute n.
    f.log.append(batch(1, 100)).await.unwrap();
    let half_hour = Retention::default().with_max_age(30 * MINUTE);

    // At minute 100 the cutoff is minute 70: events 1..=69 are older than it.
    let deleted = f
        .log
        .apply_retention(&half_hour, at_minute(100))
        .await
        .unwrap();
    assert_eq!(deleted, 69);
    assert_eq!(f.log.first_seq().await.unwrap(), 70);
    // Ten minutes later, ten more go.
    let deleted = f
        .log
        .apply_retention(&half_hour, at_minute(110))
        .await
        .unwrap();
    assert_eq!(deleted, 10);
    assert_eq!(f.log.first_seq().await.unwrap(), 80);
    // Long after everything: all but the newest.
    let deleted = f
        .log
        .apply_retention(&half_hour, at_minute(10_000))
        .await
        .unwrap();
    assert_eq!(deleted, 20);
    assert_eq!(f.all_seqs().await, [100]);
    assert_eq!(f.log.last_seq().await.unwrap(), 100);
}

#[tokio::test]
async fn by_age_removes_a_prefix_even_when_the_clock_stepped_back() {
    let f = Fixture::new();
    // Seq 3 was stamped late (minute 500), seq 4 early again (minute 4).
    let events = (1..=6u64)
        .map(|seq| {
            let minute = if seq == 3 {
                500
            } else {
                i64::try_from(seq).unwrap()
            };
            EventSpec::new(seq).at(at_minute(minute)).build()
        })
        .collect();
    f.log.append(AppendBatch::new(events)).await.unwrap();
    let hour = Retention::default().with_max_age(60 * MINUTE);
    // Cutoff at minute 440: seqs 1, 2 go; seq 3 is young, so 4.. stay to avoid a hole.
    let deleted = f.log.apply_retention(&hour, at_minute(500)).await.unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(f.all_seqs().await, [3, 4, 5, 6]);
}

#[tokio::test]
async fn both_limits_apply_and_the_default_keeps_everything() {
    let f = Fixture::new();
    f.log.append(batch(1, 100)).await.unwrap();
    assert_eq!(
        f.log
            .apply_retention(&Retention::default(), at_minute(10_000))
            .await
            .unwrap(),
        0
    );
    let both = Retention::default()
        .with_max_age(30 * MINUTE)
        .with_max_events(50);
    // By age (cutoff minute 70) 69 would go, by count 50: the stricter wins.
    assert_eq!(
        f.log.apply_retention(&both, at_minute(100)).await.unwrap(),
        69
    );
    let f = f.reopen().await;
    let both = Retention::default()
        .with_max_age(30 * MINUTE)
        .with_max_events(5);
    assert_eq!(
        f.log.apply_retention(&both, at_minute(100)).await.unwrap(),
        26
    );
    assert_eq!(f.log.first_seq().await.unwrap(), 96);
}

#[tokio::test]
async fn retention_runs_after_the_appends_queued_before_it() {
    let f = Fixture::new();
    let first = f.log.append(batch(1, 10));
    let second = f.log.append(batch(11, 20));
    let prune = f
        .log
        .apply_retention(&Retention::default().with_max_events(5), at_minute(0));
    let (a, b, pruned) = tokio::join!(first, second, prune);
    a.unwrap();
    b.unwrap();
    assert_eq!(pruned.unwrap(), 15);
    let kept = f.log.read(ReadQuery::after(0)).await.unwrap();
    assert_eq!(kept.first().map(|e| e.seq), Some(16));
}

#[tokio::test]
async fn retention_on_an_empty_log_deletes_nothing() {
    let f = Fixture::new();
    let policy = Retention::default().with_max_events(0).with_max_age(MINUTE);
    assert_eq!(
        f.log.apply_retention(&policy, at_minute(99)).await.unwrap(),
        0
    );
    assert_eq!(f.log.first_seq().await.unwrap(), 0);
}
