//! The nats-server peer against a real `nats-server` on loopback: start/stop, WebSocket
//! subscribers fed by a TCP publisher, and JetStream durable ingest. Behaviour only, never
//! speed; every network wait is bounded.
//!
//! Without nats-server installed these tests fail when `CI=true`, and otherwise say so and
//! pass (install it with `apt-get install nats-server`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use voicetk_bench::compare::CompareError;
use voicetk_bench::compare::nats::{
    JetStreamIngest, NatsPublisher, NatsServer, NatsServerOptions, NatsWsSubscriber,
    jetstream_ingest,
};

/// The bound on every network step of these tests.
const STEP: Duration = Duration::from_secs(30);

/// `fut`, or a panic naming `what` after [`STEP`].
async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {STEP:?}"))
}

/// A started server, or `None` (after saying why) when nats-server is not installed and this
/// is not CI.
async fn start(opts: NatsServerOptions) -> Option<NatsServer> {
    match NatsServer::start(&opts).await {
        Ok(server) => Some(server),
        Err(CompareError::Missing { program, hint }) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{program} is required in CI ({hint})");
            }
            eprintln!("SKIPPED: {program} is not installed ({hint}); these tests need it");
            None
        }
        Err(e) => panic!("starting nats-server: {e}"),
    }
}

/// Payload `i`: about 350 bytes of JSON, each one distinct.
fn payload(i: u64) -> Bytes {
    let head = format!(r#"{{"seq":{i},"type":"AUDIO_STATS","pad":""#);
    let pad = "x".repeat(350 - head.len() - 2);
    Bytes::from(format!("{head}{pad}\"}}"))
}

/// Reads `count` payloads.
async fn receive(sub: &mut NatsWsSubscriber, count: usize) -> Vec<Bytes> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        match bounded("next payload", sub.next_payload()).await.unwrap() {
            Some(p) => got.push(p),
            None => panic!("server closed after {} payloads", got.len()),
        }
    }
    got
}

/// The affinity list of a process, from `/proc`.
fn cpus_allowed(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_receive_exactly_their_subjects_in_order() {
    let Some(server) = start(NatsServerOptions {
        cpu: Some(0),
        ..NatsServerOptions::default()
    })
    .await
    else {
        return;
    };
    assert_eq!(cpus_allowed(server.pid()), "0");
    assert!(server.ws_url().starts_with("ws://127.0.0.1:"));
    assert!(server.nats_url().starts_with("nats://127.0.0.1:"));

    let ws = server.ws_url();
    let mut subscribers = Vec::new();
    for subject in ["calls.>", "calls.*.events", "calls.c1.events"] {
        subscribers.push(
            bounded("subscribing", NatsWsSubscriber::connect(&ws, subject))
                .await
                .unwrap(),
        );
    }
    let mut other = bounded("subscribing", NatsWsSubscriber::connect(&ws, "other.>"))
        .await
        .unwrap();

    let mut publisher = bounded("connecting", NatsPublisher::connect(&server.nats_url()))
        .await
        .unwrap();
    let expected: Vec<Bytes> = (0..500).map(payload).collect();
    for p in &expected {
        bounded(
            "publishing",
            publisher.publish("calls.c1.events", p.clone()),
        )
        .await
        .unwrap();
    }
    // Only once every calls.* message is processed by the server does the sentinel go out:
    // if `other` had been sent any of them, they would come before it.
    bounded("sync", publisher.sync()).await.unwrap();
    bounded(
        "publishing",
        publisher.publish("other.end", Bytes::from_static(b"end")),
    )
    .await
    .unwrap();
    bounded("flush", publisher.flush()).await.unwrap();

    for sub in &mut subscribers {
        let got = receive(sub, expected.len()).await;
        assert_eq!(got.len(), 500);
        assert!(got.iter().all(|p| p.len() == 350));
        assert_eq!(got, expected);
    }
    assert_eq!(
        receive(&mut other, 1).await,
        vec![Bytes::from_static(b"end")]
    );

    for sub in subscribers {
        bounded("closing", sub.close()).await;
    }

    // Killing the server ends the remaining subscription cleanly.
    let pid = server.pid();
    bounded("shutdown", server.shutdown()).await;
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        bounded("after shutdown", other.next_payload())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_is_a_protocol_error() {
    let Some(server) = start(NatsServerOptions::default()).await else {
        return;
    };
    // Valid for our client-side check, refused by the server ("Invalid Subject").
    let err = bounded(
        "subscribing",
        NatsWsSubscriber::connect(&server.ws_url(), "calls..x"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, CompareError::Protocol { message, .. } if message.contains("-ERR")),
        "{err}"
    );
    let err = bounded(
        "subscribing",
        NatsWsSubscriber::connect(&server.ws_url(), "a b"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CompareError::Usage(ref m) if m.starts_with("subject")),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_ingest_acks_and_stores_every_message() {
    let Some(server) = start(NatsServerOptions {
        jetstream: true,
        ..NatsServerOptions::default()
    })
    .await
    else {
        return;
    };
    let opts = JetStreamIngest {
        subject: "ingest.calls".into(),
        window: 64,
        // The message budget ends the run; the duration is only a safety bound.
        duration: Duration::from_secs(120),
        max_messages: Some(1_000),
    };
    let report = bounded(
        "jetstream ingest",
        jetstream_ingest(&server.nats_url(), &opts, payload),
    )
    .await
    .unwrap();
    assert_eq!(report.first_failure, None);
    assert_eq!(report.published, 1_000);
    assert_eq!(report.acked, 1_000);
    assert_eq!(report.failed, 0);
    assert_eq!(report.stream_messages, 1_000);
    assert_eq!(report.ack_latency.count, 1_000);
    assert_eq!(report.stream, "VOICETK_BENCH_INGEST_CALLS");
    assert!(report.is_ok());

    // A second run on the same subject starts from an empty stream.
    let again = JetStreamIngest {
        max_messages: Some(10),
        ..opts
    };
    let report = bounded(
        "jetstream ingest",
        jetstream_ingest(&server.nats_url(), &again, payload),
    )
    .await
    .unwrap();
    assert_eq!((report.acked, report.stream_messages), (10, 10));

    // The messages are in the server's file store, under its temporary directory.
    let store = server.dir().join("jetstream");
    assert!(store.is_dir());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ingest_options_and_a_missing_server_are_typed_errors() {
    let err = jetstream_ingest(
        "nats://127.0.0.1:1",
        &JetStreamIngest {
            subject: "calls.>".into(),
            ..JetStreamIngest::default()
        },
        payload,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CompareError::Usage(ref m) if m.starts_with("subject")),
        "{err}"
    );
    let err = jetstream_ingest(
        "nats://127.0.0.1:1",
        &JetStreamIngest {
            window: 0,
            ..JetStreamIngest::default()
        },
        payload,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CompareError::Usage(ref m) if m.starts_with("window")),
        "{err}"
    );

    let err = NatsServer::start(&NatsServerOptions {
        program: "/nonexistent/nats-server".into(),
        ..NatsServerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&err, CompareError::Missing { program, hint }
            if program == "/nonexistent/nats-server" && hint.contains("apt-get install nats-server")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_at_start_is_a_spawn_error_with_its_log() {
    // A real nats-server given an unusable CPU: taskset refuses and the error quotes it.
    let Some(probe) = start(NatsServerOptions::default()).await else {
        return;
    };
    probe.shutdown().await;
    let err = NatsServer::start(&NatsServerOptions {
        cpu: Some(4_096),
        ..NatsServerOptions::default()
    })
    .await
    .unwrap_err();
    match err {
        CompareError::Spawn { peer, message } => {
            assert_eq!(peer, "nats-server");
            assert!(message.contains("exited"), "{message}");
            assert!(message.contains("taskset"), "{message}");
        }
        other => panic!("expected a Spawn error, got {other}"),
    }
}
