//! Live delivery: WebSocket and SSE, replay for new subscribers, resume across a dropped
//! connection, and a stalled subscriber that must not hurt the others.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn new_subscriber_gets_replay_of_active_calls_then_live() {
    let s = TestServer::start().await;
    // c1 active (connected, on hold), c2 ended (not replayed).
    s.post_ndjson(&[
        started("c1", "p1"),
        connected("c1", "p1"),
        with_participant("HOLD", "c1", "p1"),
        connected("c2", "p2"),
        call_only("CALL_ENDED", "c2"),
    ])
    .await;
    let mut ws = s.ws(json!({"op":"subscribe"}), None).await;
    let (replayed, upto) = ws.until_heartbeat().await;
    assert_eq!(upto, 5);
    let types: Vec<&str> = replayed
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["CALL_STARTED", "CALL_CONNECTED", "HOLD"]);
    assert!(
        replayed
            .iter()
            .all(|e| e["replayed"] == json!(true) && e["detail"]["callId"] == "c1")
    );

    s.post(&with_participant("RESUME", "c1", "p1")).await;
    let live = ws.next_event().await;
    assert_eq!(
        (live["type"].as_str(), live["seq"].as_u64()),
        (Some("RESUME"), Some(6))
    );
    assert!(live.get("replayed").is_none());
}

#[tokio::test]
async fn resume_after_a_dropped_connection_has_no_gap_and_no_duplicate() {
    let s = TestServer::start().await;
    s.post(&connected("r1", "p")).await;
    let mut ws = s.ws(json!({"op":"subscribe","after":0}), None).await;
    let first = ws.next_event().await;
    assert_eq!(first["seq"], 1);
    for i in 0..3 {
        let t = if i % 2 == 0 { "MUTE" } else { "UNMUTE" };
        s.post(&call_only(t, "r1")).await;
    }
    let mut last = 1;
    for _ in 0..2 {
        last = ws.next_event().await["seq"].as_u64().unwrap();
    }
    assert_eq!(last, 3);
    drop(ws); // the connection drops; seq 4 was sent or not, we processed up to 3
    for i in 0..4 {
        let t = if i % 2 == 0 { "UNMUTE" } else { "MUTE" };
        s.post(&call_only(t, "r1")).await;
    }
    let mut ws = s.ws(json!({"op":"subscribe","after":last}), None).await;
    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(ws.next_event().await["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
    // Live continues seamlessly after the catch-up (seq 8 muted the call).
    s.post(&call_only("UNMUTE", "r1")).await;
    assert_eq!(ws.next_event().await["seq"], 9);
}

/// Subscribes with `op` (types `hold`/`RESUME` of `call`), posts a HOLD on another call and
/// a HOLD and RESUME on `call`: only the latter two (seqs 4 and 5) must arrive.
async fn only_hold_and_resume_of(op: Value, call: &str) {
    let s = TestServer::start().await;
    let mut ws = s.ws(op, None).await;
    s.post_ndjson(&[
        connected(call, "p"),
        connected("other", "q"),
        with_participant("HOLD", "other", "q"),
        with_participant("HOLD", call, "p"),
        with_participant("RESUME", call, "p"),
    ])
    .await;
    let a = ws.next_event().await;
    let b = ws.next_event().await;
    assert_eq!(
        (a["type"].as_str(), a["seq"].as_u64()),
        (Some("HOLD"), Some(4))
    );
    assert_eq!(
        (b["type"].as_str(), b["seq"].as_u64()),
        (Some("RESUME"), Some(5))
    );
}

#[tokio::test]
async fn filters_by_type_and_call() {
    only_hold_and_resume_of(
        json!({"op":"subscribe","types":["hold","RESUME"],"callId":"f1","after":0}),
        "f1",
    )
    .await;
}

/// The server reads client frames 512 bytes at a time: a subscribe request many times that
/// size still arrives whole and is honoured.
#[tokio::test]
async fn a_subscribe_request_larger_than_the_read_buffer_is_honoured() {
    let types: Vec<&str> = ["hold", "RESUME"].repeat(400);
    let op = json!({"op":"subscribe","types":types,"callId":"g1","after":0});
    assert!(op.to_string().len() > 4_000);
    only_hold_and_resume_of(op, "g1").await;
}

/// Reads SSE frames from a streaming response: (id, event, data) per frame.
async fn sse_frames(resp: reqwest::Response, n: usize) -> Vec<(Option<String>, String, Value)> {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("no SSE data within 10 s")
            .expect("stream ended")
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
            for line in frame.lines() {
                if let Some(v) = line
                    .strip_prefix("id: ")
                    .or_else(|| line.strip_prefix("id:"))
                {
                    id = Some(v.to_owned());
                } else if let Some(v) = line
                    .strip_prefix("event: ")
                    .or_else(|| line.strip_prefix("event:"))
                {
                    event = v.to_owned();
                } else if let Some(v) = line
                    .strip_prefix("data: ")
                    .or_else(|| line.strip_prefix("data:"))
                {
                    data = serde_json::from_str(v).unwrap();
                }
            }
            if !event.is_empty() {
                out.push((id, event, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn sse_streams_and_honours_last_event_id() {
    let s = TestServer::start().await;
    s.post_ndjson(&[
        connected("s1", "p"),
        call_only("MUTE", "s1"),
        call_only("UNMUTE", "s1"),
    ])
    .await;
    // New subscriber: replay (no ids), then a heartbeat with the starting seq as id.
    let resp = s.http.get(s.url("/v1/events/stream")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let frames = sse_frames(resp, 4).await;
    assert_eq!(frames[0].1, "CALL_CONNECTED");
    assert_eq!(frames[0].0, None);
    assert_eq!(frames[0].2["replayed"], true);
    assert_eq!(
        (frames[3].0.as_deref(), frames[3].1.as_str()),
        (Some("3"), "heartbeat")
    );

    // Resume with Last-Event-ID (takes precedence over `after`).
    let resp = s
        .http
        .get(s.url("/v1/events/stream?after=0"))
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    let post = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.post(&call_only("MUTE", "s1")).await
    };
    let (frames, _) = tokio::join!(sse_frames(resp, 3), post);
    let ids: Vec<_> = frames.iter().map(|f| f.0.clone().unwrap()).collect();
    assert_eq!(ids, ["2", "3", "4"]);
    assert_eq!(frames[2].1, "MUTE");
    assert_eq!(frames[2].2["seq"], 4);
}

#[tokio::test]
async fn stalled_subscriber_does_not_slow_the_others() {
    let s = TestServer::with(
        |c| {
            c.limits.subscriber_buffer = 64;
            c.limits.send_timeout = Duration::from_millis(500);
        },
        Vec::new(),
    )
    .await;
    s.post(&connected("load", "p")).await;
    // The stalled one subscribes and then never reads again.
    let stalled = s.ws(json!({"op":"subscribe","after":0}), None).await;
    let mut healthy = s.ws(json!({"op":"subscribe","after":1}), None).await;

    // Enough traffic to fill the stalled socket's buffers many times over.
    let total = 20_000u64;
    let reader = tokio::spawn(async move {
        let mut expected = 2;
        while expected < total + 2 {
            let e = healthy.next_event().await;
            assert_eq!(e["seq"].as_u64(), Some(expected), "gap or duplicate");
            expected += 1;
        }
        healthy
    });
    let pad = "x".repeat(200);
    for batch in 0..(total / 500) {
        let lines: Vec<Value> = (0..500)
            .map(|i| {
                let t = if (batch * 500 + i) % 2 == 0 {
                    "MUTE"
                } else {
                    "UNMUTE"
                };
                let mut v = call_only(t, "load");
                v["detail"]["pad"] = json!(pad);
                v
            })
            .collect();
        let (st, _) = s.post_ndjson(&lines).await;
        assert_eq!(
            st, 202,
            "ingest must not be slowed into failure by a stalled reader"
        );
    }
    let _healthy = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the healthy subscriber must receive everything")
        .unwrap();

    // The stalled subscriber was closed for not reading (it is counted in the metrics).
    let mut closed = false;
    for _ in 0..100 {
        let text = s.metrics_text().await;
        if text.contains("voicetk_subscriber_closed_slow_total{transport=\"ws\"} 1") {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed,
        "the stalled subscriber should have been closed as a slow consumer"
    );
    drop(stalled);
}

#[tokio::test]
async fn a_lagging_subscriber_is_resynced_from_the_log_and_misses_nothing() {
    let s = TestServer::with(|c| c.limits.subscriber_buffer = 4, Vec::new()).await;
    s.post(&connected("lag", "p")).await;
    let mut ws = s.ws(json!({"op":"subscribe","after":1}), None).await;
    // 400 events in big batches while the subscriber reads slowly: its 4-event queue overflows
    // again and again.
    for batch in 0..4 {
        let lines: Vec<Value> = (0..100)
            .map(|i| {
                call_only(
                    if (batch * 100 + i) % 2 == 0 {
                        "MUTE"
                    } else {
                        "UNMUTE"
                    },
                    "lag",
                )
            })
            .collect();
        assert_eq!(s.post_ndjson(&lines).await.0, 202);
    }
    for expected in 2..=401u64 {
        let e = ws.next_event().await;
        assert_eq!(
            e["seq"].as_u64(),
            Some(expected),
            "gap or duplicate after a resync"
        );
        if expected % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let text = s.metrics_text().await;
    let resyncs: u64 = text
        .lines()
        .find(|l| l.starts_with("voicetk_subscriber_resyncs_total{transport=\"ws\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        resyncs >= 1,
        "the subscriber should have been resynced at least once:\n{text}"
    );
}
