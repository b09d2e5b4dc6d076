//! The raw writer end to end: `RawWriter::run` on 127.0.0.1 listeners, real tokio-tungstenite
//! subscribers and a real `RawPublisher`. Behaviour only, never speed; every test is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use voicetk_bench::compare::CompareError;
use voicetk_bench::compare::raw::{RawPublisher, RawWriter, WriterOptions};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Safety bound of every test; they take well under a second normally.
const BOUND: Duration = Duration::from_secs(60);

/// A raw writer serving in this process, stopped on drop.
struct Writer {
    writer: RawWriter,
    ws_url: String,
    ws_addr: SocketAddr,
    publish: SocketAddr,
    task: JoinHandle<Result<(), CompareError>>,
}

impl Writer {
    async fn start(options: WriterOptions) -> Writer {
        let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let publish = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_addr = ws.local_addr().unwrap();
        let publish_addr = publish.local_addr().unwrap();
        let writer = RawWriter::new(options).unwrap();
        let running = writer.clone();
        let task = tokio::spawn(async move { running.run(ws, publish).await });
        Writer {
            writer,
            ws_url: format!("ws://{ws_addr}/v1/ws"),
            ws_addr,
            publish: publish_addr,
            task,
        }
    }

    /// A subscriber whose subscription is live (the heartbeat arrived).
    async fn subscribe(&self, call: Option<&str>) -> Ws {
        let (mut ws, _) = connect_async(self.ws_url.as_str()).await.unwrap();
        let request = match call {
            None => r#"{"op":"subscribe"}"#.to_owned(),
            Some(call) => format!(r#"{{"op":"subscribe","callId":"{call}"}}"#),
        };
        ws.send(Message::Text(request.into())).await.unwrap();
        assert_eq!(
            next_text(&mut ws).await.unwrap().as_deref(),
            Some(r#"{"op":"heartbeat","seq":0}"#)
        );
        ws
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The next text frame; `Ok(None)` at a close frame or the end of the stream.
async fn next_text(ws: &mut Ws) -> Result<Option<String>, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(Some(text.to_string())),
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// A JSON payload of exactly `size` bytes (at least ~60) for event `seq` of `call`.
fn payload(call: &str, seq: usize, size: usize) -> String {
    let head = format!(r#"{{"type":"AUDIO_STATS","callId":"{call}","seq":{seq},"pad":""#);
    let pad = size - head.len() - 2;
    format!("{head}{}\"}}", "x".repeat(pad))
}

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test did not finish within its bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_of_all_events_gets_every_payload_in_order() {
    bounded(async {
        let writer = Writer::start(WriterOptions::default()).await;
        let mut subscribers = Vec::new();
        for _ in 0..3 {
            subscribers.push(writer.subscribe(None).await);
        }
        assert_eq!(writer.writer.stats().subscribers, 3);

        let sent: Vec<String> = (0..500)
            .map(|i| payload(&format!("call-{}", i % 7), i, 350))
            .collect();
        let mut publisher = RawPublisher::connect(writer.publish).await.unwrap();
        for (i, p) in sent.iter().enumerate() {
            publisher
                .publish(&format!("call-{}", i % 7), p.as_bytes())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();

        for ws in &mut subscribers {
            let mut received = Vec::with_capacity(sent.len());
            while received.len() < sent.len() {
                received.push(next_text(ws).await.unwrap().expect("stream ended early"));
            }
            assert_eq!(received, sent);
        }
        let stats = writer.writer.stats();
        assert_eq!(stats.published, 500);
        assert_eq!(stats.dropped_slow, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_one_call_gets_only_that_call() {
    bounded(async {
        let writer = Writer::start(WriterOptions::default()).await;
        // Two on c0, one on c1, one on a call published only at the end, one on everything.
        let calls = ["c0", "c0", "c1", "c3"];
        let mut subscribers = Vec::new();
        for call in calls {
            subscribers.push((Some(call), writer.subscribe(Some(call)).await));
        }
        subscribers.push((None, writer.subscribe(None).await));

        // 300 payloads over c0, c1, c2, then one last payload per call c0..c3.
        let mut sent: Vec<(String, String)> = (0..300)
            .map(|i| {
                let call = format!("c{}", i % 3);
                let p = payload(&call, i, 200 + i % 150);
                (call, p)
            })
            .collect();
        for (n, call) in ["c0", "c1", "c2", "c3"].into_iter().enumerate() {
            sent.push((
                call.to_owned(),
                format!(r#"{{"last":{n},"callId":"{call}"}}"#),
            ));
        }
        let mut publisher = RawPublisher::connect(writer.publish).await.unwrap();
        for (call, p) in &sent {
            publisher.publish(call, p.as_bytes()).await.unwrap();
        }
        publisher.flush().await.unwrap();

        for (call, ws) in &mut subscribers {
            let expected: Vec<&String> = sent
                .iter()
                .filter(|(c, _)| call.is_none_or(|call| call == c))
                .map(|(_, p)| p)
                .collect();
            let mut received = Vec::new();
            // Each stream ends with its call's "last" payload (c3 has only that one).
            while received.len() < expected.len() {
                received.push(next_text(ws).await.unwrap().expect("stream ended early"));
            }
            assert_eq!(
                received.iter().collect::<Vec<_>>(),
                expected,
                "subscriber of {call:?}"
            );
        }
        // Nothing was queued beyond what each expected: the writer dropped no one.
        assert_eq!(writer.writer.stats().dropped_slow, 0);
        assert_eq!(writer.writer.stats().subscribers, 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_dropped_and_the_others_get_everything() {
    bounded(async {
        let writer = Writer::start(WriterOptions { queue_frames: 16 }).await;
        let mut fast = [writer.subscribe(None).await, writer.subscribe(None).await];
        let mut slow = writer.subscribe(None).await;
        let mut publisher = RawPublisher::connect(writer.publish).await.unwrap();

        // 64 KiB payloads fill the slow subscriber's socket buffers and queue quickly. The
        // fast subscribers read each payload before the next is published, so only the slow
        // one can fall behind; publishing stops once it has been dropped.
        let mut published = 0;
        while writer.writer.stats().dropped_slow == 0 {
            assert!(published < 5_000, "the slow subscriber was never dropped");
            publish_in_step(&mut publisher, &mut fast, published).await;
            published += 1;
        }
        // The others keep getting everything after the drop.
        for _ in 0..20 {
            publish_in_step(&mut publisher, &mut fast, published).await;
            published += 1;
        }
        let stats = writer.writer.stats();
        assert_eq!(stats.dropped_slow, 1);
        assert_eq!(stats.subscribers, 2);
        assert_eq!(stats.published, published as u64);

        // The slow subscriber's connection was closed: it reads what the kernel still held,
        // in order, then the end, well short of everything.
        let mut got = 0;
        while let Ok(Some(text)) = next_text(&mut slow).await {
            assert!(text.starts_with(&payload("big", got, 64 * 1024)[..60]));
            got += 1;
        }
        assert!(got < published, "got {got} of {published}");
    })
    .await;
}

/// Publishes 64 KiB payload `seq` and waits until each of `fast` has received it.
async fn publish_in_step(publisher: &mut RawPublisher, fast: &mut [Ws], seq: usize) {
    let p = payload("big", seq, 64 * 1024);
    publisher.publish("big", p.as_bytes()).await.unwrap();
    publisher.flush().await.unwrap();
    for ws in fast.iter_mut() {
        assert_eq!(next_text(ws).await.unwrap().as_deref(), Some(p.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_frame_ends_the_subscription_with_a_close_reply() {
    bounded(async {
        let writer = Writer::start(WriterOptions::default()).await;
        let mut leaving = writer.subscribe(Some("c1")).await;
        let mut staying = writer.subscribe(Some("c1")).await;
        assert_eq!(writer.writer.stats().subscribers, 2);

        leaving.send(Message::Close(None)).await.unwrap();
        match leaving.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
            other => panic!("expected a close reply, got {other:?}"),
        }
        // The subscription is removed before the reply is sent.
        assert_eq!(writer.writer.stats().subscribers, 1);

        let mut publisher = RawPublisher::connect(writer.publish).await.unwrap();
        publisher
            .publish("c1", br#"{"after":"close"}"#)
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        assert_eq!(
            next_text(&mut staying).await.unwrap().as_deref(),
            Some(r#"{"after":"close"}"#)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_a_reason() {
    bounded(async {
        let writer = Writer::start(WriterOptions::default()).await;

        // A subscribe request whose callId is not a string: close 1008 naming the field.
        let (mut ws, _) = connect_async(writer.ws_url.as_str()).await.unwrap();
        ws.send(Message::Text(r#"{"op":"subscribe","callId":5}"#.into()))
            .await
            .unwrap();
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1008);
                assert!(frame.reason.contains("callId"), "{}", frame.reason);
            }
            other => panic!("expected a close frame, got {other:?}"),
        }

        // Plain HTTP without an upgrade: 400 naming the missing header.
        let mut http = TcpStream::connect(writer.ws_addr).await.unwrap();
        http.write_all(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        http.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");

        // The publisher refuses what would break the line framing.
        let mut publisher = RawPublisher::connect(writer.publish).await.unwrap();
        let err = publisher.publish("c\t1", b"{}").await.unwrap_err();
        assert!(err.to_string().contains("call_id"), "{err}");
        let err = publisher.publish("c1", b"{\n}").await.unwrap_err();
        assert!(err.to_string().contains("payload"), "{err}");
        assert_eq!(writer.writer.stats().subscribers, 0);
    })
    .await;
}

#[test]
fn an_empty_queue_is_refused() {
    let err = RawWriter::new(WriterOptions { queue_frames: 0 }).unwrap_err();
    assert!(err.to_string().contains("queue_frames"), "{err}");
}
