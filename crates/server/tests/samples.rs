//! WebRTC samples posted by a browser become AUDIO_STATS events through the real aggregator.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, connected, started};

async fn post_sample(server: &TestServer, call_id: &str, body: &Value) -> (u16, Value) {
    let resp = server
        .http
        .post(server.url(&format!("/v1/calls/{call_id}/audio-samples")))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn webrtc_samples_become_audio_stats_per_channel() {
    let server = TestServer::with(
        |c| c.audio_stats_interval = Duration::from_secs(1),
        Vec::new(),
    )
    .await;
    assert_eq!(server.post(&started("rtc-1", "+14155550100")).await.0, 202);
    assert_eq!(
        server.post(&connected("rtc-1", "+14155550100")).await.0,
        202
    );

    // Two getStats() digests, cumulative counters, seconds.
    for (received, lost, sent, jitter, rtt) in
        [(100, 1, 98, 0.004, 0.040), (250, 3, 248, 0.006, 0.060)]
    {
        let body = json!({
            "inbound": {"packetsReceived": received, "packetsLost": lost, "jitter": jitter},
            "outbound": {"packetsSent": sent},
            "remoteInbound": {"packetsLost": 0, "jitter": 0.002, "roundTripTime": rtt},
        });
        let (status, ack) = post_sample(&server, "rtc-1", &body).await;
        assert_eq!((status, &ack), (202, &json!({"channels": 2})));
    }

    // Both samples usually fall in one interval; if an interval closed between the two posts,
    // the counts are split over two events per channel and must add up the same.
    let sum = |events: &[Value], channel: &str, field: &str| -> u64 {
        events
            .iter()
            .filter(|e| e["detail"]["stats"] == channel)
            .map(|e| e["detail"][field].as_u64().unwrap())
            .sum()
    };
    let mut stats = Vec::new();
    for _ in 0..100 {
        let (_, page) = server
            .get("/v1/events?callId=rtc-1&types=AUDIO_STATS", None)
            .await;
        stats = page["events"].as_array().cloned().unwrap_or_default();
        if sum(&stats, "inputChannelStats", "statsCount") == 2
            && sum(&stats, "outputChannelStats", "statsCount") == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        sum(&stats, "inputChannelStats", "statsCount"),
        2,
        "{stats:?}"
    );
    assert_eq!(sum(&stats, "inputChannelStats", "packetsCount"), 250);
    assert_eq!(sum(&stats, "inputChannelStats", "packetsLost"), 3);
    assert_eq!(sum(&stats, "outputChannelStats", "packetsCount"), 248);
    for event in &stats {
        let mos = event["detail"]["mos"].as_f64().unwrap();
        assert!((1.0..=4.5).contains(&mos), "{event}");
    }
    // Means per interval: 5 ms jitter and 50 ms RTT over both samples, or 4/40 and 6/60 when
    // an interval closed between them.
    let input: Vec<_> = stats
        .iter()
        .filter(|e| e["detail"]["stats"] == "inputChannelStats")
        .map(|e| {
            (
                e["detail"]["jitterBufferMillis"].as_u64().unwrap(),
                e["detail"]["roundTripTimeMillis"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        input == [(5, 50)] || input == [(4, 40), (6, 60)],
        "{input:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_samples_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    assert_eq!(server.post(&started("rtc-2", "+14155550100")).await.0, 202);

    // Ringing, not connected yet.
    let sample = json!({"inbound": {"packetsReceived": 1, "packetsLost": 0}});
    let (status, err) = post_sample(&server, "rtc-2", &sample).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "invalid_transition");

    assert_eq!(
        server.post(&connected("rtc-2", "+14155550100")).await.0,
        202
    );
    let (status, err) = post_sample(
        &server,
        "rtc-2",
        &json!({"inbound": {"packetsReceived": "many", "packetsLost": 0}}),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["path"], "inbound.packetsReceived", "{err}");

    let (status, err) = post_sample(&server, "rtc-2", &json!({})).await;
    assert_eq!(status, 422, "{err}");

    let (status, err) = post_sample(&server, "no-such-call", &sample).await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"]["code"], "unknown_call");
    server.stop().await;
}

#[tokio::test]
async fn native_telephony_takes_no_samples() {
    let server = TestServer::with(
        |c| c.telephony = voicetk_events::TelephonyKind::Native,
        Vec::new(),
    )
    .await;
    assert_eq!(
        server.post(&connected("rtc-3", "+14155550100")).await.0,
        202
    );
    let sample = json!({"inbound": {"packetsReceived": 1, "packetsLost": 0}});
    let (status, err) = post_sample(&server, "rtc-3", &sample).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "unsupported_event");
    server.stop().await;
}
