//! Auth and agent scoping: an agent-scoped subscriber never receives, lists or acts on
//! another agent's calls.

use serde_json::json;
use voicetk_server::auth::Role;

use crate::common::*;

const PUBLISHER: &str = "publisher-token-0123456789";
const ALICE: &str = "alice-token-0123456789abc";
const BOB: &str = "bob-token-0123456789abcde";
const ADMIN: &str = "admin-token-0123456789abc";

async fn server() -> TestServer {
    TestServer::with(
        |c| {
            c.auth.tokens = vec![
                token(PUBLISHER, vec![Role::Publish], None),
                token(
                    ALICE,
                    vec![Role::Subscribe, Role::Control, Role::Publish],
                    Some("alice"),
                ),
                token(BOB, vec![Role::Subscribe], Some("bob")),
                token(ADMIN, vec![Role::Admin], None),
            ];
        },
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn tokens_roles_and_agent_scope() {
    let s = server().await;
    // No token, unknown token, wrong role.
    let (st, e) = s.post(&connected("a1", "p")).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (st, _) = s
        .post_with(&connected("a1", "p"), Some("not-a-token-at-all-0000"), None)
        .await;
    assert_eq!(st, 401);
    let (st, e) = s.get("/v1/calls", Some(PUBLISHER)).await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let r = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(BOB)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Alice and Bob subscribe before anything happens.
    let mut alice_ws = s.ws(json!({"op":"subscribe","after":0}), Some(ALICE)).await;
    let mut bob_ws = s.ws(json!({"op":"subscribe","after":0}), Some(BOB)).await;

    // The publisher posts calls for both agents; Alice publishes one of her own.
    let (st, _) = s
        .post_with(
            &with_agent(connected("a1", "+1 111"), "alice"),
            Some(PUBLISHER),
            None,
        )
        .await;
    assert_eq!(st, 202);
    let (st, _) = s
        .post_with(
            &with_agent(connected("b1", "+1 222"), "bob"),
            Some(PUBLISHER),
            None,
        )
        .await;
    assert_eq!(st, 202);
    let (st, _) = s
        .post_with(&connected("a2", "+1 333"), Some(ALICE), None)
        .await;
    assert_eq!(st, 202, "an agent-scoped publisher's events get its agent");
    let (st, e) = s
        .post_with(
            &with_agent(connected("b2", "+1 444"), "bob"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!((st, e["error"]["path"].as_str()), (403, Some("agent")));
    // Events without agent on a call that has one are delivered with the call's agent.
    s.post_with(
        &with_participant("HOLD", "b1", "+1 222"),
        Some(PUBLISHER),
        None,
    )
    .await;

    // Streams: each sees only its own agent's events.
    let a = [alice_ws.next_event().await, alice_ws.next_event().await];
    assert_eq!(
        a.iter()
            .map(|e| e["detail"]["callId"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    assert!(a.iter().all(|e| e["agent"] == "alice"));
    let b = [bob_ws.next_event().await, bob_ws.next_event().await];
    assert_eq!(
        b.iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["CALL_CONNECTED", "HOLD"]
    );
    assert!(
        b.iter()
            .all(|e| e["agent"] == "bob" && e["detail"]["callId"] == "b1")
    );

    // Listing, history, one call, SSE: scoped.
    let (_, calls) = s.get("/v1/calls", Some(ALICE)).await;
    let ids: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["callId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"a1") && ids.contains(&"a2"));
    let (_, h) = s.get("/v1/events", Some(BOB)).await;
    assert_eq!(h["events"].as_array().unwrap().len(), 2);
    let (st, _) = s.get("/v1/calls/b1", Some(ALICE)).await;
    assert_eq!(st, 404, "another agent's call does not exist for alice");
    let (st, _) = s.get("/v1/calls/b1", Some(BOB)).await;
    assert_eq!(st, 200);
    let (st, _) = s
        .action(
            "b1",
            "resume",
            Some(json!({"participantType":"Initial_Caller"})),
            Some(ALICE),
        )
        .await;
    assert_eq!(st, 404, "alice cannot act on bob's call");
    let (st, _) = s
        .action(
            "b1",
            "resume",
            Some(json!({"participantType":"Initial_Caller"})),
            Some(BOB),
        )
        .await;
    assert_eq!(st, 403, "bob lacks the control role");

    // A new Alice tab replays only her active calls.
    let mut tab = s.ws(json!({"op":"subscribe"}), Some(ALICE)).await;
    let (replayed, _) = tab.until_heartbeat().await;
    assert!(!replayed.is_empty());
    assert!(replayed.iter().all(|e| e["agent"] == "alice"));

    // The token may come as a query parameter (browsers); a bad one refuses the upgrade.
    let r = tokio_tungstenite::connect_async(format!(
        "ws://{}/v1/ws?access_token=wrong-token-000000000",
        s.addr
    ))
    .await;
    assert!(r.is_err());
}

#[tokio::test]
async fn beyond_loopback_without_tokens_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = voicetk_server::config::Config {
        addr: "0.0.0.0:0".parse().unwrap(),
        data: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let err = voicetk_server::Server::open(config, Vec::new())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("requires auth tokens"), "{err}");
}

#[tokio::test]
async fn healthz_shows_source_details_to_admins_only() {
    use std::sync::Arc;
    use voicetk_sources::Source;
    use voicetk_sources::simulator::{Simulator, SimulatorConfig};
    let simulator = Simulator::new(SimulatorConfig {
        calls: Some(0),
        ..SimulatorConfig::default()
    })
    .unwrap();
    let s = TestServer::with(
        |c| {
            c.auth.tokens = vec![token(ADMIN, vec![Role::Admin], None)];
        },
        vec![Arc::new(simulator) as Arc<dyn Source>],
    )
    .await;
    // Anyone may ask whether the gateway is up, without learning how its sources are wired.
    let (st, anonymous) = s.get("/healthz", None).await;
    assert_eq!(st, 200);
    assert_eq!(anonymous["status"], "ok");
    assert_eq!(
        anonymous["sources"],
        json!([{"name": "source-1", "state": "up"}])
    );
    let (_, admin) = s.get("/healthz", Some(ADMIN)).await;
    assert_eq!(admin["sources"][0]["name"], "simulator", "{admin}");
    assert_eq!(admin["sources"][0]["restarts"], 0);
}

#[tokio::test]
async fn a_scoped_publisher_cannot_touch_another_agents_call() {
    let s = server().await;
    let bobs = with_agent(connected("b9", "+1 222"), "bob");
    assert_eq!(s.post_with(&bobs, Some(PUBLISHER), None).await.0, 202);
    // Alice's token leaves `agent` out: it becomes alice, and bob's call is unknown to her.
    let (st, e) = s
        .post_with(&with_participant("HOLD", "b9", "+1 222"), Some(ALICE), None)
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("unknown_call")),
        "{e}"
    );
    let (_, call) = s.get("/v1/calls/b9", Some(ADMIN)).await;
    assert_eq!(
        call["events"].as_array().unwrap().len(),
        1,
        "nothing stored: {call}"
    );
    // Her own calls are hers to publish about.
    assert_eq!(
        s.post_with(&connected("a9", "+1 333"), Some(ALICE), None)
            .await
            .0,
        202
    );
    let (st, _) = s
        .post_with(&with_participant("HOLD", "a9", "+1 333"), Some(ALICE), None)
        .await;
    assert_eq!(st, 202);
}
