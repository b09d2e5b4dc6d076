//! Appends: round trip, continuity, atomicity, snapshots, errors.

use voicetk_events::EventType;
use voicetk_log::{AppendBatch, EventLog, LogErrorKind, ReadQuery, SqliteLog, SqliteOptions};

use super::support::{EventSpec, Fixture, at_minute, batch, event};

#[tokio::test]
async fn append_then_read_gives_back_exactly_what_was_stored() {
    let f = Fixture::new();
    let events = vec![
        EventSpec::new(1)
            .kind(EventType::CallStarted)
            .id("start-1")
            .build(),
        EventSpec::new(2)
            .kind(EventType::CallConnected)
            .agent(None)
            .build(),
        EventSpec::new(3)
            .kind(EventType::AudioStats)
            .call("call-2")
            .build(),
    ];
    f.log
        .append(AppendBatch::new(events.clone()))
        .await
        .unwrap();

    let stored = f.all().await;
    assert_eq!(stored, events);
    // Nanoseconds survive the two-integer timestamp columns.
    assert_eq!(stored[0].timestamp, at_minute(1));
    assert_eq!(
        stored[0].envelope().unwrap().event_id.as_deref(),
        Some("start-1")
    );
    assert_eq!(f.log.last_seq().await.unwrap(), 3);
    assert_eq!(f.log.first_seq().await.unwrap(), 1);

    let stats = f.log.stats();
    assert_eq!(
        (stats.appended_events, stats.appended_batches, stats.commits),
        (3, 1, 1)
    );
    assert_eq!(stats.failed_batches, 0);
    assert!(stats.total_commit_micros >= stats.last_commit_micros);
}

#[tokio::test]
async fn a_new_log_is_empty() {
    let f = Fixture::new();
    assert_eq!(f.log.last_seq().await.unwrap(), 0);
    assert_eq!(f.log.first_seq().await.unwrap(), 0);
    assert!(f.all().await.is_empty());
    assert_eq!(f.log.find_event_id("nope").await.unwrap(), None);
    assert!(f.log.path().starts_with(f.path()));
    assert!(f.log.path().is_file());
}

#[tokio::test]
async fn a_batch_that_does_not_continue_the_log_is_refused_whole() {
    let f = Fixture::new();
    f.log.append(batch(1, 3)).await.unwrap();

    let mut skips = batch(5, 6);
    skips.calls.push(("call-1".into(), "{}".into()));
    let err = f.log.append(skips).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::SeqGap {
            expected: 4,
            got: 5
        }
    );
    assert!(err.to_string().contains("events.db"), "{err}");

    let holed = AppendBatch::new(vec![event(4), event(6)]);
    let err = f.log.append(holed).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::SeqGap {
            expected: 5,
            got: 6
        }
    );

    let repeats = batch(3, 4);
    let err = f.log.append(repeats).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::SeqGap {
            expected: 4,
            got: 3
        }
    );

    // Nothing of the refused batches is there: not seq 4 of the holed one, not the snapshot.
    assert_eq!(f.all_seqs().await, [1, 2, 3]);
    assert_eq!(f.log.last_seq().await.unwrap(), 3);
    assert!(f.log.recover(10).await.unwrap().calls.is_empty());
    let stats = f.log.stats();
    assert_eq!((stats.appended_batches, stats.failed_batches), (1, 3));

    // The log goes on from where it was.
    f.log.append(batch(4, 5)).await.unwrap();
    assert_eq!(f.all_seqs().await, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_duplicate_event_id_fails_the_batch_and_stores_nothing_of_it() {
    let f = Fixture::new();
    f.log
        .append(AppendBatch {
            events: vec![event(1), EventSpec::new(2).id("evt-a").build()],
            calls: vec![("call-1".into(), r#"{"v":1}"#.into())],
            removed_calls: vec![],
        })
        .await
        .unwrap();

    let duplicate = AppendBatch {
        events: vec![
            EventSpec::new(3).id("evt-b").build(),
            event(4),
            EventSpec::new(5).id("evt-a").build(),
        ],
        calls: vec![
            ("call-1".into(), r#"{"v":2}"#.into()),
            ("call-9".into(), "{}".into()),
        ],
        removed_calls: vec!["call-1".into()],
    };
    let err = f.log.append(duplicate).await.unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::DuplicateEventId {
            event_id: "evt-a".into()
        }
    );

    assert_eq!(f.all_seqs().await, [1, 2]);
    assert_eq!(f.log.last_seq().await.unwrap(), 2);
    assert_eq!(f.log.find_event_id("evt-b").await.unwrap(), None);
    assert_eq!(f.log.find_event_id("evt-a").await.unwrap(), Some(2));
    let recovered = f.log.recover(10).await.unwrap();
    assert_eq!(
        recovered.calls,
        [("call-1".to_owned(), r#"{"v":1}"#.to_owned())]
    );

    // The same id twice inside one batch is refused too.
    let twice = AppendBatch::new(vec![
        EventSpec::new(3).id("evt-c").build(),
        EventSpec::new(4).id("evt-c").build(),
    ]);
    let err = f.log.append(twice).await.unwrap_err();
    assert!(
        matches!(err.kind(), LogErrorKind::DuplicateEventId { event_id } if event_id == "evt-c")
    );
    assert_eq!(f.log.find_event_id("evt-c").await.unwrap(), None);

    // Seq 3 is still free.
    f.log
        .append(AppendBatch::new(vec![
            EventSpec::new(3).id("evt-b").build(),
        ]))
        .await
        .unwrap();
    assert_eq!(f.log.find_event_id("evt-b").await.unwrap(), Some(3));
}

#[tokio::test]
async fn call_snapshots_are_upserted_and_removed_with_the_events() {
    let f = Fixture::new();
    f.log
        .append(AppendBatch {
            events: vec![event(1)],
            calls: vec![
                ("call-1".into(), r#"{"state":"started"}"#.into()),
                ("call-2".into(), r#"{"state":"started"}"#.into()),
            ],
            removed_calls: vec![],
        })
        .await
        .unwrap();
    f.log
        .append(AppendBatch {
            events: vec![event(2)],
            calls: vec![
                ("call-1".into(), r#"{"state":"connected"}"#.into()),
                ("call-3".into(), r#"{"state":"started"}"#.into()),
            ],
            // A call both upserted and removed in one batch ends up removed.
            removed_calls: vec!["call-2".into(), "call-3".into(), "never-existed".into()],
        })
        .await
        .unwrap();
    let recovered = f.log.recover(10).await.unwrap();
    assert_eq!(
        recovered.calls,
        [("call-1".to_owned(), r#"{"state":"connected"}"#.to_owned())]
    );
}

#[tokio::test]
async fn batches_without_events_change_only_snapshots() {
    let f = Fixture::new();
    f.log.append(AppendBatch::default()).await.unwrap();
    f.log
        .append(AppendBatch {
            calls: vec![("call-1".into(), "{}".into())],
            ..AppendBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(f.log.last_seq().await.unwrap(), 0);
    assert_eq!(f.log.recover(10).await.unwrap().calls.len(), 1);
    f.log.append(batch(1, 1)).await.unwrap();
    assert_eq!(f.log.last_seq().await.unwrap(), 1);
}

#[tokio::test]
async fn a_hundred_event_batch_is_one_commit() {
    let f = Fixture::new();
    for round in 0..5u64 {
        f.log
            .append(batch(round * 100 + 1, round * 100 + 100))
            .await
            .unwrap();
    }
    let stats = f.log.stats();
    assert_eq!(
        (stats.appended_events, stats.appended_batches, stats.commits),
        (500, 5, 5)
    );
    assert_eq!(f.all_seqs().await, (1..=500).collect::<Vec<_>>());
}

#[tokio::test]
async fn absurd_seqs_are_refused_before_reaching_sqlite() {
    let f = Fixture::new();
    let huge = EventSpec {
        seq: u64::MAX,
        ..EventSpec::new(1)
    };
    let err = f
        .log
        .append(AppendBatch::new(vec![huge.build()]))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::SeqGap {
            expected: 1,
            got: u64::MAX
        }
    );
}

#[tokio::test]
async fn after_close_everything_is_refused_but_queued_appends_were_committed() {
    let f = Fixture::new();
    // Handed over before close, awaited after: close must commit it first.
    let pending = f.log.append(batch(1, 10));
    f.log.close().await.unwrap();
    pending.await.unwrap();

    let err = f.log.append(batch(11, 11)).await.unwrap_err();
    assert_eq!(err.kind(), &LogErrorKind::Closed);
    assert!(err.is_closed());
    for err in [
        f.log.read(ReadQuery::default()).await.unwrap_err(),
        f.log.recover(1).await.unwrap_err(),
        f.log.first_seq().await.unwrap_err(),
        f.log.find_event_id("x").await.unwrap_err(),
        f.log
            .apply_retention(&Default::default(), at_minute(0))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), &LogErrorKind::Closed);
    }
    // Closing again is a no-op, also through the trait.
    f.log.close().await.unwrap();
    EventLog::close(&f.log).await.unwrap();
    assert_eq!(f.log.last_seq().await.unwrap(), 10);

    let f = f.reopen().await;
    assert_eq!(f.all_seqs().await, (1..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(SqliteLog::FILE_NAME),
        b"this is not an SQLite database, just some text that is long enough to matter. "
            .repeat(64),
    )
    .unwrap();
    let err = SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap_err();
    assert_eq!(err.kind(), &LogErrorKind::Corrupt);
    assert!(err.to_string().contains("events.db"), "{err}");
}

#[tokio::test]
async fn a_schema_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(SqliteLog::FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap_err();
    assert_eq!(
        err.kind(),
        &LogErrorKind::IncompatibleSchema {
            found: 99,
            supported: 1
        }
    );
}

#[tokio::test]
async fn an_unusable_directory_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteLog::open(&file.join("data"), SqliteOptions::default()).unwrap_err();
    assert_eq!(err.kind(), &LogErrorKind::Io);
    assert!(err.to_string().contains("a-file"), "{err}");
}
