//! Restart: what a reopened log gives back.

use voicetk_log::{AppendBatch, EventLog, Retention};

use super::support::{EventSpec, Fixture, at_minute, batch, event};

#[tokio::test]
async fn reopening_recovers_last_seq_snapshots_and_recent_ids() {
    let f = Fixture::new();
    for seq in 1..=20u64 {
        let mut spec = EventSpec::new(seq).call(&format!("call-{}", seq % 4));
        if seq % 3 == 0 {
            spec = spec.id(&format!("id-{seq}"));
        }
        f.log
            .append(AppendBatch {
                events: vec![spec.build()],
                calls: vec![(format!("call-{}", seq % 4), format!(r#"{{"last":{seq}}}"#))],
                removed_calls: if seq == 20 {
                    vec!["call-0".into()]
                } else {
                    vec![]
                },
            })
            .await
            .unwrap();
    }
    let f = f.reopen().await;

    assert_eq!(f.log.last_seq().await.unwrap(), 20);
    let recovered = f.log.recover(4).await.unwrap();
    assert_eq!(recovered.last_seq, 20);
    assert_eq!(
        recovered.calls,
        [
            ("call-1".to_owned(), r#"{"last":17}"#.to_owned()),
            ("call-2".to_owned(), r#"{"last":18}"#.to_owned()),
            ("call-3".to_owned(), r#"{"last":19}"#.to_owned()),
        ]
    );
    // The newest four ids, oldest first.
    assert_eq!(
        recovered.recent_event_ids,
        [
            ("id-9".to_owned(), 9),
            ("id-12".to_owned(), 12),
            ("id-15".to_owned(), 15),
            ("id-18".to_owned(), 18),
        ]
    );
    assert_eq!(f.log.recover(0).await.unwrap().recent_event_ids, []);
    assert_eq!(f.log.recover(1000).await.unwrap().recent_event_ids.len(), 6);

    // Idempotency survives the restart, and appending continues the same sequence.
    assert_eq!(f.log.find_event_id("id-3").await.unwrap(), Some(3));
    f.log.append(batch(21, 22)).await.unwrap();
    assert_eq!(f.all_seqs().await, (1..=22).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_new_log_recovers_nothing() {
    let f = Fixture::new();
    let recovered = f.log.recover(100).await.unwrap();
    assert_eq!(recovered, Default::default());
}

#[tokio::test]
async fn last_seq_survives_retention_and_restart() {
    let f = Fixture::new();
    f.log.append(batch(1, 50)).await.unwrap();
    let everything_old = Retention::default().with_max_age(std::time::Duration::ZERO);
    let deleted = f
        .log
        .apply_retention(&everything_old, at_minute(1_000))
        .await
        .unwrap();
    // Only the newest event stays.
    assert_eq!(deleted, 49);
    let f = f.reopen().await;
    assert_eq!(f.log.last_seq().await.unwrap(), 50);
    assert_eq!(f.log.recover(10).await.unwrap().last_seq, 50);
    assert_eq!(f.log.first_seq().await.unwrap(), 50);
    // Continuing after the pruned history is still enforced against 50.
    let err = f.log.append(batch(2, 2)).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &voicetk_log::LogErrorKind::SeqGap {
            expected: 51,
            got: 2
        }
    );
    f.log
        .append(AppendBatch::new(vec![event(51)]))
        .await
        .unwrap();
    assert_eq!(f.all_seqs().await, [50, 51]);
}

#[tokio::test]
async fn a_log_dropped_without_close_still_holds_every_acknowledged_append() {
    let f = Fixture::new();
    f.log.append(batch(1, 30)).await.unwrap();
    let dir = f.dir;
    drop(f.log);
    let log = voicetk_log::SqliteLog::open(dir.path(), Default::default()).unwrap();
    assert_eq!(log.last_seq().await.unwrap(), 30);
    assert_eq!(log.first_seq().await.unwrap(), 1);
}
