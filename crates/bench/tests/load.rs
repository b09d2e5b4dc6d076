//! The load harness end to end against a real in-process gateway, with tiny bounds. These
//! check behaviour (every event acknowledged, every subscriber complete), never speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use voicetk_bench::load::{FanoutOptions, IngestOptions, Target, run_fanout, run_ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_acknowledges_every_event_of_valid_call_flows() {
    let target = Target::spawn(None).await.unwrap();
    let options = IngestOptions {
        clients: 2,
        batch: 50,
        // The event budget ends the run; the duration is only a safety bound.
        duration: Duration::from_secs(120),
        max_events: Some(1_000),
        calls_per_client: 20,
        seed: 7,
        progress: None,
    };
    let report = run_ingest(&target, &options).await.unwrap();
    target.shutdown().await.unwrap();
    assert_eq!(report.first_failure, None);
    assert!(report.is_ok());
    assert_eq!(report.events_acked, 1_000);
    assert_eq!(report.batches_acked, 20);
    assert_eq!(report.ack_latency.count, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_every_event_once_and_in_order_to_every_subscriber() {
    let target = Target::spawn(None).await.unwrap();
    let options = FanoutOptions {
        subscribers: 5,
        duration: Duration::from_secs(120),
        max_events: Some(30),
        seed: 11,
        progress: None,
        ..FanoutOptions::default()
    };
    let report = run_fanout(&target, &options).await.unwrap();
    target.shutdown().await.unwrap();
    assert_eq!(report.failures, vec![]);
    assert_eq!(report.publish_failure, None);
    assert!(report.is_ok());
    // 30 events, then the call's CALL_ENDED and WRAP_UP_ENDED.
    assert_eq!(report.published, 32);
    assert_eq!(report.delivered, 32 * 5);
    assert_eq!(report.expected, report.delivered);
    assert_eq!(report.complete_subscribers, 5);
    assert_eq!(report.delivery_latency.count, 32 * 5);
}
