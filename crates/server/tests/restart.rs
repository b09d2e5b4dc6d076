//! Restart: the engine's call state and idempotency survive a restart on the same data folder.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_restarted_server_still_knows_every_call() {
    let s = TestServer::start().await;
    s.post_ndjson(&[
        connected("k1", "p"),
        connected("k2", "q"),
        with_participant("HOLD", "k2", "q"),
    ])
    .await;
    let mut again = with_participant("HOLD", "k1", "p");
    again["eventId"] = json!("hold-k1");
    let (_, held) = s.post(&again).await;
    assert_eq!(held["seq"], 4);
    let dir = s.dir.clone();
    s.stop().await;

    let s = TestServer::in_dir(dir, |_| {}, Vec::new()).await;
    // A RESUME without HOLD is still refused, a RESUME after HOLD still accepted.
    let (st, e) = s.post(&with_participant("RESUME", "k3", "p")).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    let (st, body) = s.post(&with_participant("RESUME", "k2", "q")).await;
    assert_eq!(
        (st, body["seq"].as_u64()),
        (202, Some(5)),
        "seq continues gap-free"
    );
    let (st, _) = s.post(&with_participant("RESUME", "k2", "q")).await;
    assert_eq!(st, 409);
    // An idempotent re-send from before the restart maps to its original seq.
    let (st, body) = s.post(&again).await;
    assert_eq!((st, body["seq"].as_u64()), (202, Some(4)));
    let (_, calls) = s.get("/v1/calls", None).await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 2);
    let (_, h) = s.get("/v1/events", None).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn after_a_restart_delivery_continues_the_log() {
    let s = TestServer::start().await;
    s.post_ndjson(&[
        connected("live", "p"),
        with_participant("HOLD", "live", "p"),
        connected("done", "q"),
        call_only("CALL_ENDED", "done"),
    ])
    .await;
    let dir = s.dir.clone();
    s.stop().await;

    let s = TestServer::in_dir(dir, |_| {}, Vec::new()).await;
    let (_, health) = s.get("/healthz", None).await;
    assert_eq!(health["lastSeq"], 4, "{health}");
    // A new subscriber gets the active call replayed, then goes live after seq 4: the ended
    // call is not replayed and nothing stored is delivered as if it were new.
    let mut ws = s.ws(json!({"op": "subscribe"}), None).await;
    let (replayed, live_after) = ws.until_heartbeat().await;
    assert_eq!(live_after, 4);
    let seqs: Vec<_> = replayed
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2], "{replayed:?}");
    assert!(replayed.iter().all(|e| e["replayed"] == true));
    let (_, ack) = s.post(&with_participant("RESUME", "live", "p")).await;
    assert_eq!(ack["seq"], 5);
    let next = ws.next_event().await;
    assert_eq!(
        (next["seq"].as_u64(), next["type"].as_str()),
        (Some(5), Some("RESUME"))
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_streams_with_1001() {
    let s = TestServer::start().await;
    s.post(&connected("g1", "p")).await;
    let mut ws = s.ws(json!({"op":"subscribe","after":0}), None).await;
    assert_eq!(ws.next_event().await["seq"], 1);
    let dir = s.dir.clone();
    s.stop().await;
    use futures::StreamExt;
    let mut code = None;
    while let Ok(Some(msg)) =
        tokio::time::timeout(std::time::Duration::from_secs(5), ws.ws.next()).await
    {
        if let Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame))) = msg {
            code = Some(u16::from(frame.code));
            break;
        }
    }
    assert_eq!(code, Some(1001));
    // Everything acknowledged before the stop is there after it.
    let s = TestServer::in_dir(dir, |_| {}, Vec::new()).await;
    let (_, h) = s.get("/v1/events", None).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 1);
}
