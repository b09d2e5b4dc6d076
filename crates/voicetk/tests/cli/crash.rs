//! The durability promise against a real crash: `voicetk serve` is killed with SIGKILL while
//! clients post batches; after a restart every acknowledged seq is present, with the event that
//! was acknowledged for it, gap-free, and nothing is duplicated.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::process::ServeProcess;

/// Posts batches for one call until the server goes away; records what was acknowledged.
async fn client(url: String, id: usize, acked: Arc<Mutex<BTreeMap<u64, String>>>) {
    let http = reqwest::Client::new();
    let call = format!("crash-{id}");
    let mut n = 0u64;
    let mut muted = false;
    loop {
        let mut lines = String::new();
        let mut ids = Vec::new();
        for i in 0..50 {
            let event_id = format!("{call}-{n}");
            n += 1;
            let v = if n == 1 {
                json!({"type":"CALL_CONNECTED","detail":{"callId":call,"callType":"inbound","participant":format!("+1 555 01{id:02}")}})
            } else {
                muted = !muted;
                json!({"type": if muted {"MUTE"} else {"UNMUTE"}, "detail":{"callId":call,"i":i}})
            };
            let mut v = v;
            v["eventId"] = json!(event_id);
            lines.push_str(&v.to_string());
            lines.push('\n');
            ids.push(event_id);
        }
        let resp = http
            .post(format!("{url}/v1/events"))
            .header("content-type", "application/x-ndjson")
            .body(lines)
            .send()
            .await;
        let Ok(resp) = resp else { return };
        if resp.status().as_u16() != 202 {
            return;
        }
        let Ok(body) = resp.json::<Value>().await else {
            return;
        };
        let seqs: Vec<u64> = body["seqs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect();
        assert_eq!(seqs.len(), ids.len());
        let mut acked = acked.lock().unwrap();
        for (seq, event_id) in seqs.into_iter().zip(ids) {
            assert!(
                acked.insert(seq, event_id).is_none(),
                "seq {seq} acknowledged twice"
            );
        }
    }
}

async fn all_events(url: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!("{url}/v1/events?after={after}&limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        out.extend(events.iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path(), &[]);
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let clients: Vec<_> = (0..4)
        .map(|id| tokio::spawn(client(server.url.clone(), id, acked.clone())))
        .collect();
    // Let a good number of batches land, then pull the plug mid-stream.
    for _ in 0..300 {
        if acked.lock().unwrap().len() >= 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    for c in clients {
        let _ = tokio::time::timeout(Duration::from_secs(10), c).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 50,
        "the clients should have had batches acknowledged before the kill"
    );

    let server = ServeProcess::start(dir.path(), &[]);
    let events = all_events(&server.url).await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seqs must be gap-free from 1");
    let by_seq: HashMap<u64, &str> = events
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["eventId"].as_str().unwrap()))
        .collect();
    for (seq, event_id) in &acked {
        assert_eq!(
            by_seq.get(seq).copied(),
            Some(event_id.as_str()),
            "acknowledged seq {seq} lost or changed"
        );
    }
    let mut ids: Vec<&str> = by_seq.values().copied().collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "an event was stored twice");

    // The engine came back with the calls' state: each call's next toggle is accepted, and the
    // same toggle again is refused.
    let calls: Value = reqwest::get(format!("{}/v1/calls", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for call in calls["calls"].as_array().unwrap() {
        let id = call["callId"].as_str().unwrap();
        let next = if call["muted"] == json!(true) {
            "UNMUTE"
        } else {
            "MUTE"
        };
        let post = || {
            http.post(format!("{}/v1/events", server.url))
                .header("content-type", "application/json")
                .body(json!({"type": next, "detail": {"callId": id}}).to_string())
                .send()
        };
        assert_eq!(post().await.unwrap().status().as_u16(), 202);
        assert_eq!(post().await.unwrap().status().as_u16(), 409);
    }
}
