//! The HTTP API: ingest, history, calls, idempotency, errors for bad input on every endpoint.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn post_single_then_history_and_calls() {
    let s = TestServer::start().await;
    let (st, body) = s.post(&started("c1", "+1 415 555 0100")).await;
    assert_eq!((st, &body), (202, &json!({"seq": 1})));
    let (st, body) = s.post(&connected("c1", "+1 415 555 0100")).await;
    assert_eq!((st, body["seq"].as_u64()), (202, Some(2)));

    let (st, h) = s.get("/v1/events", None).await;
    assert_eq!(st, 200);
    let events = h["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "CALL_STARTED");
    assert_eq!(events[0]["seq"], 1);
    assert!(events[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[1]["detail"]["participant"], "+1 415 555 0100");
    assert_eq!(h["next"], Value::Null);

    // Paging: limit 1 gives a `next` cursor.
    let (_, page) = s.get("/v1/events?limit=1", None).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], 1);
    let (_, page2) = s.get("/v1/events?after=1&limit=1", None).await;
    assert_eq!(page2["events"][0]["seq"], 2);
    // Filters (LWC names accepted).
    let (_, f) = s.get("/v1/events?types=callconnected", None).await;
    assert_eq!(f["events"].as_array().unwrap().len(), 1);
    let (_, f) = s.get("/v1/events?callId=nope", None).await;
    assert_eq!(f["events"].as_array().unwrap().len(), 0);

    let (st, calls) = s.get("/v1/calls", None).await;
    assert_eq!(st, 200);
    assert_eq!(calls["calls"][0]["callId"], "c1");
    assert_eq!(calls["calls"][0]["lifecycle"], "connected");
    let (st, one) = s.get("/v1/calls/c1", None).await;
    assert_eq!(st, 200);
    assert_eq!(
        one["call"]["participants"][0]["participant"],
        "+1 415 555 0100"
    );
    assert_eq!(one["events"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn batches_are_all_or_nothing_and_name_the_line() {
    let s = TestServer::start().await;
    let good = [
        started("b1", "p"),
        connected("b1", "p"),
        with_participant("HOLD", "b1", "p"),
    ];
    let (st, body) = s.post_ndjson(&good).await;
    assert_eq!((st, &body), (202, &json!({"seqs": [1, 2, 3]})));

    // Line 2 is an invalid transition (already on hold): nothing of the batch is stored.
    let bad = [
        call_only("MUTE", "b1"),
        with_participant("HOLD", "b1", "p"),
        call_only("UNMUTE", "b1"),
    ];
    let (st, body) = s.post_ndjson(&bad).await;
    assert_eq!(st, 409, "{body}");
    assert_eq!(body["error"]["code"], "invalid_transition");
    assert_eq!(body["error"]["line"], 2);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2: "),
        "{body}"
    );
    let (_, h) = s.get("/v1/events", None).await;
    assert_eq!(
        h["events"].as_array().unwrap().len(),
        3,
        "the MUTE of the refused batch must not be stored"
    );
    // The engine rolled back the MUTE too: muting now is fine.
    let (st, _) = s.post(&call_only("MUTE", "b1")).await;
    assert_eq!(st, 202);

    // A schema error on line 3 of NDJSON (blank lines count) names line and path.
    let body = format!(
        "{}\n\n{}\n",
        call_only("UNMUTE", "b1"),
        json!({"type":"HOLD","detail":{"callId":"b1"}})
    );
    let resp = s
        .http
        .post(s.url("/v1/events"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["line"], 3);
    assert_eq!(e["error"]["path"], "detail.participant");
    assert_eq!(e["error"]["code"], "missing_field");

    // A JSON array is a batch too.
    let (st, body) = s
        .post(&json!([
            call_only("UNMUTE", "b1"),
            call_only("PAUSE_RECORDING", "b1")
        ]))
        .await;
    assert_eq!((st, body["seqs"].as_array().map(Vec::len)), (202, Some(2)));
}

#[tokio::test]
async fn idempotent_resends_return_the_original_seq() {
    let s = TestServer::start().await;
    s.post(&connected("i1", "p")).await;
    let mut ws = s.ws(json!({"op":"subscribe","after":1}), None).await;

    let hold = with_participant("HOLD", "i1", "p");
    let (st, first) = s.post_with(&hold, None, Some("key-1")).await;
    assert_eq!((st, first["seq"].as_u64()), (202, Some(2)));
    let (st, again) = s.post_with(&hold, None, Some("key-1")).await;
    assert_eq!(
        (st, &again),
        (202, &first),
        "same Idempotency-Key, same seq"
    );

    let mut with_id = with_participant("RESUME", "i1", "p");
    with_id["eventId"] = json!("evt-resume");
    let (_, a) = s.post(&with_id).await;
    let (_, b) = s.post(&with_id).await;
    assert_eq!(a, b);
    assert_eq!(a["seq"], 3);

    // A batch re-sent with the same key maps event by event.
    let batch = [call_only("MUTE", "i1"), call_only("UNMUTE", "i1")];
    let body: String = batch.iter().map(|l| format!("{l}\n")).collect();
    let send = || {
        s.http
            .post(s.url("/v1/events"))
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", "batch-7")
            .body(body.clone())
            .send()
    };
    let r1: Value = send().await.unwrap().json().await.unwrap();
    let r2: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(r1, json!({"seqs": [4, 5]}));
    assert_eq!(r1, r2);

    // Each event was delivered exactly once.
    let seqs: Vec<u64> = [
        ws.next_event().await,
        ws.next_event().await,
        ws.next_event().await,
        ws.next_event().await,
    ]
    .iter()
    .map(|e| e["seq"].as_u64().unwrap())
    .collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    let (_, h) = s.get("/v1/events", None).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_input_on_every_endpoint() {
    let s = TestServer::with(|c| c.limits.max_body_bytes = 4096, Vec::new()).await;
    s.post(&connected("x1", "p")).await;
    let post_raw = |ct: Option<&'static str>, body: String| {
        let mut r = s.http.post(s.url("/v1/events")).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    // Malformed JSON.
    let r = post_raw(Some("application/json"), "{\"type\":".into())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "malformed_json");
    // Wrong or missing content type.
    let r = post_raw(Some("text/plain"), call_only("MUTE", "x1").to_string())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = post_raw(None, call_only("MUTE", "x1").to_string())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Huge body.
    let r = post_raw(
        Some("application/json"),
        format!("{{\"pad\":\"{}\"}}", "x".repeat(10_000)),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "payload_too_large");
    // Schema errors name the path.
    let (st, e) = s.post(&json!({"type":"AUDIO_STATS","detail":{"callId":"x1","stats":"inputChannelStats","packetsLost":-1,"packetsCount":1,"jitterBufferMillis":1,"roundTripTimeMillis":1,"statsCount":1}})).await;
    assert_eq!(
        (st, e["error"]["path"].as_str()),
        (422, Some("detail.packetsLost"))
    );
    let (st, e) = s
        .post(&json!({"type":"NOPE","detail":{"callId":"x1"}}))
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("unknown_event_type"))
    );
    // Invalid transition names the state.
    let (st, e) = s.post(&with_participant("RESUME", "x1", "p")).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connected"),
        "{e}"
    );
    // Unknown call, unknown action, unknown route.
    let (st, e) = s.get("/v1/calls/ghost", None).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("unknown_call"))
    );
    let (st, e) = s.action("x1", "teleport", None, None).await;
    assert_eq!((st, e["error"]["code"].as_str()), (404, Some("not_found")));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("add-participant")
    );
    let (st, _) = s.action("ghost", "mute", None, None).await;
    assert_eq!(st, 404);
    let (st, e) = s
        .action("x1", "hold", Some(json!({"participantType":"Boss"})), None)
        .await;
    assert_eq!(
        (st, e["error"]["path"].as_str()),
        (422, Some("participantType"))
    );
    let (st, e) = s
        .action("x1", "hold", Some(json!(["not", "an", "object"])), None)
        .await;
    assert_eq!(st, 422, "{e}");
    let (st, _) = s.get("/v1/nothing-here", None).await;
    assert_eq!(st, 404);
    // Bad query parameters.
    let (st, e) = s.get("/v1/events?types=HOLD,bogus", None).await;
    assert_eq!((st, e["error"]["path"].as_str()), (422, Some("types")));
    let (st, _) = s.get("/v1/events?after=minus-one", None).await;
    assert_eq!(st, 400);
    let r = s
        .http
        .get(s.url("/v1/events/stream"))
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // Dial without a source, and with a bad body.
    let r = s
        .http
        .post(s.url("/v1/calls"))
        .body("{\"phoneNumber\":\"+1 555\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 501);
    let r = s
        .http
        .post(s.url("/v1/calls"))
        .body("{\"phone\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    // A WebSocket subscribe with unknown types gets an error frame, and the socket stays usable.
    let mut ws = s
        .ws(json!({"op":"subscribe","types":["HOLD","bogus"]}), None)
        .await;
    let f = ws.next_frame().await;
    assert_eq!(
        (f["op"].as_str(), f["error"]["code"].as_str()),
        (Some("error"), Some("unknown_event_type"))
    );
    ws.ws
        .send(tokio_tungstenite::tungstenite::Message::Text(
            "not json".into(),
        ))
        .await
        .unwrap();
    let f = ws.next_frame().await;
    assert_eq!(f["op"], "error");
}

use futures::SinkExt;

#[tokio::test]
async fn native_refuses_its_missing_events_at_ingest_and_subscription() {
    let s = TestServer::with(
        |c| c.telephony = voicetk_events::TelephonyKind::Native,
        Vec::new(),
    )
    .await;
    let (st, e) = s.post(&started("n1", "p")).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("unsupported_event"))
    );
    let (st, _) = s.post(&connected("n1", "p")).await;
    assert_eq!(st, 202, "CALL_CONNECTED opens a call in native telephony");
    let (st, e) = s.get("/v1/events?types=SWAP", None).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("unsupported_event"))
    );
    let mut ws = s
        .ws(json!({"op":"subscribe","types":["wrapupended"]}), None)
        .await;
    let f = ws.next_frame().await;
    assert_eq!(f["error"]["code"], "unsupported_event");
}

#[tokio::test]
async fn lenient_mode_accepts_with_warnings() {
    let s = TestServer::with(|c| c.lenient = true, Vec::new()).await;
    let (st, _) = s.post(&with_participant("RESUME", "l1", "p")).await;
    assert_eq!(st, 202);
    let (_, h) = s.get("/v1/events", None).await;
    let w = h["events"][0]["warnings"].as_array().unwrap();
    assert!(!w.is_empty());
}

#[tokio::test]
async fn metrics_health_openapi_console() {
    let s = TestServer::start().await;
    s.post(&connected("m1", "p")).await;
    s.post(&with_participant("RESUME", "m1", "p")).await;
    let (st, h) = s.get("/healthz", None).await;
    assert_eq!(
        (st, h["status"].as_str(), h["lastSeq"].as_u64()),
        (200, Some("ok"), Some(1))
    );
    let text = s.metrics_text().await;
    assert!(
        text.contains("voicetk_events_accepted_total{type=\"CALL_CONNECTED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "voicetk_events_refused_total{type=\"RESUME\",reason=\"invalid_transition\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("voicetk_log_commit_seconds_bucket"), "{text}");
    let (st, doc) = s.get("/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/v1/events"]["post"].is_object(), "{doc}");
    let page = s
        .http
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("voicetk console"));
}

#[tokio::test]
async fn rate_limit_per_connection() {
    let s = TestServer::with(
        |c| {
            c.limits.rate_per_second = 1.0;
            c.limits.rate_burst = 3.0;
        },
        Vec::new(),
    )
    .await;
    // One client, one keep-alive connection.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client.get(s.url("/v1/calls")).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            assert!(r.headers().get("retry-after").is_some());
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"]["code"], "rate_limited");
        } else {
            let _ = r.bytes().await;
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert_eq!(statuses[3], 429);
    // A fresh connection has its own budget.
    let other = reqwest::Client::new();
    assert_eq!(
        other
            .get(s.url("/v1/calls"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn cors_lets_configured_origins_call_the_api() {
    let s = TestServer::with(
        |c| c.cors_origins = vec!["https://acme.lightning.force.com".into()],
        Vec::new(),
    )
    .await;
    let preflight = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/v1/calls/c1/actions/hold"))
        .header("origin", "https://acme.lightning.force.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(
        h["access-control-allow-origin"],
        "https://acme.lightning.force.com"
    );
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization"), "{allowed}");

    let get = |origin: &'static str| {
        s.http
            .get(s.url("/v1/calls"))
            .header("origin", origin)
            .send()
    };
    let ok = get("https://acme.lightning.force.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://acme.lightning.force.com"
    );
    let other = get("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_cors_origins_no_cross_origin_headers() {
    let s = TestServer::start().await;
    let resp = s
        .http
        .get(s.url("/v1/calls"))
        .header("origin", "https://acme.lightning.force.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cross_site_posts_and_websockets_are_refused() {
    let s = TestServer::with(
        |c| c.cors_origins = vec!["https://acme.lightning.force.com".into()],
        Vec::new(),
    )
    .await;
    let post = |origin: Option<String>, call: &'static str| {
        let mut req = s
            .http
            .post(s.url("/v1/events"))
            .json(&started(call, "+1 415 555 0100"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    // A page elsewhere (a form post needs no preflight): refused, nothing stored.
    let evil = post(Some("https://evil.example".into()), "x1")
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let body: Value = evil.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cors_origins"),
        "{body}"
    );
    // The gateway's own pages, an allowed origin, and non-browser clients (no Origin).
    let own = format!("http://{}", s.addr);
    assert_eq!(post(Some(own.clone()), "x2").await.unwrap().status(), 202);
    let acme = Some("https://acme.lightning.force.com".to_owned());
    assert_eq!(post(acme, "x3").await.unwrap().status(), 202);
    assert_eq!(post(None, "x4").await.unwrap().status(), 202);
    let (_, history) = s.get("/v1/events", None).await;
    let calls: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["callId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calls, ["x2", "x3", "x4"]);

    // WebSocket upgrades are not covered by CORS: the origin is checked.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws = |origin: &str| {
        let mut req = format!("ws://{}/v1/ws", s.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    let refused = ws("https://evil.example").await;
    assert!(
        matches!(
            refused,
            Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403
        ),
        "{refused:?}"
    );
    assert!(ws(&own).await.is_ok());
}
