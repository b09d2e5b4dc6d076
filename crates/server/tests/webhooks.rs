//! Webhook sources end to end: a real gateway on 127.0.0.1 with a real SQLite log, providers'
//! requests over real HTTP, the events read back from `GET /v1/events` and `/v1/calls`.

use std::sync::Arc;

use serde_json::{Value, json};
use voicetk_events::TelephonyKind;
use voicetk_server::auth::Role;
use voicetk_sources::Source;
use voicetk_sources::amazon_connect::{AgentNaming, AmazonConnect};
use voicetk_sources::scv::Scv;
use voicetk_sources::twilio::{Twilio, signature_of};

use crate::common::*;

const CUSTOMER: &str = "+1 415 555 0100";
const TWILIO_TOKEN: &str = "twilio-auth-token-for-tests";
const PUBLISHER: &str = "publisher-token-0123456789";
const READER: &str = "reader-token-0123456789abc";
const ANA_PUBLISHER: &str = "ana-publisher-token-012345";
const BEN_PUBLISHER: &str = "ben-publisher-token-012345";

impl TestServer {
    /// POSTs `body` to `/v1/sources/{name}` with these headers.
    async fn webhook(
        &self,
        name: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/v1/sources/{name}{query}")))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn scv(&self, body: Value, token: Option<&str>) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        self.webhook("scv", "", &headers, body.to_string()).await
    }

    /// All stored events, oldest first.
    async fn events(&self) -> Vec<Value> {
        let (st, page) = self.get("/v1/events?limit=1000", None).await;
        assert_eq!(st, 200, "{page}");
        page["events"].as_array().unwrap().clone()
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn seqs(answer: &Value) -> Vec<u64> {
    answer["seqs"]
        .as_array()
        .unwrap_or_else(|| panic!("no seqs in {answer}"))
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

fn phone_call(call_id: &str) -> Value {
    json!({"callId": call_id, "callType": "Inbound", "phoneNumber": CUSTOMER,
           "callAttributes": {"participantType": "Initial_Caller", "voiceCallId": "0LQ1"}})
}

#[tokio::test]
async fn scv_events_land_in_the_log_and_toggles_follow_the_state() {
    let s = TestServer::with(|_| {}, vec![Arc::new(Scv::new()) as Arc<dyn Source>]).await;
    let (st, a) = s
        .scv(
            json!({"eventType": "CALL_STARTED", "agent": "ana", "payload": {"call": phone_call("c-1")}}),
            None,
        )
        .await;
    assert_eq!((st, seqs(&a)), (202, vec![1]), "{a}");
    let (st, a) = s
        .scv(
            json!({"eventType": "CALL_CONNECTED", "agent": "ana", "payload": {"call": phone_call("c-1")}}),
            None,
        )
        .await;
    assert_eq!((st, seqs(&a)), (202, vec![2]), "{a}");
    // A toggle that names no call: the agent's only live call; the customer went on hold.
    let hold = json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "eventId": "evt-hold-1",
                      "payload": {"isCustomerOnHold": true, "isThirdPartyOnHold": false}});
    let (st, a) = s.scv(hold.clone(), None).await;
    assert_eq!((st, seqs(&a)), (202, vec![3]), "{a}");
    // The same flags again, as a new delivery: nothing to store, and why.
    let (st, a) = s
        .scv(
            json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "payload": {"isCustomerOnHold": true}}),
            None,
        )
        .await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(seqs(&a), Vec::<u64>::new());
    assert!(
        a["ignored"].as_str().unwrap().contains("changes nothing"),
        "{a}"
    );
    // The customer is resumed; then the connector retries the first delivery: same seq,
    // nothing stored twice, no RESUME undone.
    let (st, _) = s
        .scv(
            json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "payload": {"isCustomerOnHold": false}}),
            None,
        )
        .await;
    assert_eq!(st, 202);
    let (st, a) = s.scv(hold, None).await;
    assert_eq!((st, seqs(&a)), (202, vec![3]), "{a}");

    let (st, a) = s
        .scv(
            json!({"eventType": "MUTE_TOGGLE", "agent": "ana", "payload": {"isMuted": true}}),
            None,
        )
        .await;
    assert_eq!((st, seqs(&a)), (202, vec![5]), "{a}");
    let events = s.events().await;
    assert_eq!(
        types(&events),
        ["CALL_STARTED", "CALL_CONNECTED", "HOLD", "RESUME", "MUTE"]
    );
    assert_eq!(
        events[2]["detail"],
        json!({"callId": "c-1", "participant": CUSTOMER})
    );
    assert_eq!(events[2]["agent"], json!("ana"));
    assert_eq!(events[2]["eventId"], json!("scv:evt-hold-1"));
    assert_eq!(
        events[1]["detail"]["callAttributes"]["voiceCallId"],
        json!("0LQ1")
    );
    let (_, call) = s.get("/v1/calls/c-1", None).await;
    assert_eq!(call["call"]["muted"], json!(true), "{call}");

    // A toggle for a call voicetk does not know: 409; bad input: 422 naming the field; nothing
    // stored by either.
    let (st, a) = s
        .scv(
            json!({"eventType": "MUTE_TOGGLE", "callId": "nope", "payload": {"isMuted": true}}),
            None,
        )
        .await;
    assert_eq!(
        (st, a["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "{a}"
    );
    let (st, a) = s
        .scv(
            json!({"eventType": "RECORDING_TOGGLE", "agent": "ana", "payload": {"isRecordingPaused": "yes"}}),
            None,
        )
        .await;
    assert_eq!(st, 422, "{a}");
    assert_eq!(a["error"]["path"], json!("payload.isRecordingPaused"));
    let (st, a) = s
        .webhook("scv", "", &[("content-type", "application/json")], "{oops")
        .await;
    assert_eq!(st, 400, "{a}");
    let (st, _) = s
        .webhook("scv", "", &[("content-type", "text/plain")], "{}")
        .await;
    assert_eq!(st, 415);
    assert_eq!(s.events().await.len(), 5);

    // A webhook source only listens: actions on its calls are refused, saying why.
    let (st, a) = s.action("c-1", "unmute", None, None).await;
    assert_eq!(st, 501, "{a}");
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("receive-only webhook"),
        "{a}"
    );

    let (st, a) = s.webhook("nowhere", "", &[], "").await;
    assert_eq!(st, 404, "{a}");
    s.stop().await;
}

#[tokio::test]
async fn scv_and_amazon_connect_need_a_publish_token_when_tokens_are_configured() {
    let s = TestServer::with(
        |c| {
            c.auth.tokens = vec![
                token(PUBLISHER, vec![Role::Publish, Role::Subscribe], None),
                token(READER, vec![Role::Subscribe], None),
                token(ANA_PUBLISHER, vec![Role::Publish], Some("ana")),
            ];
        },
        vec![
            Arc::new(Scv::new()) as Arc<dyn Source>,
            Arc::new(AmazonConnect::new(AgentNaming::Id)),
        ],
    )
    .await;
    let started = json!({"eventType": "CALL_STARTED", "payload": {"call": phone_call("c-1")}});
    let (st, _) = s.scv(started.clone(), None).await;
    assert_eq!(st, 401);
    let (st, _) = s.scv(started.clone(), Some(READER)).await;
    assert_eq!(st, 403);
    let (st, a) = s
        .webhook(
            "amazon-connect",
            "",
            &[("content-type", "application/json")],
            connect_event("e1", "INITIATED", "k-1").to_string(),
        )
        .await;
    assert_eq!(st, 401, "{a}");
    // An agent-scoped publisher: its events are its agent's; another agent's are refused.
    let (st, a) = s.scv(started.clone(), Some(ANA_PUBLISHER)).await;
    assert_eq!(st, 202, "{a}");
    let mut bens = json!({"eventType": "CALL_STARTED", "agent": "ben", "payload": {"call": phone_call("c-2")}});
    let (st, a) = s.scv(bens.clone(), Some(ANA_PUBLISHER)).await;
    assert_eq!(st, 403, "{a}");
    assert!(
        a["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agent \"ana\" only, not \"ben\""),
        "{a}"
    );
    bens["agent"] = json!("ana");
    let (st, _) = s.scv(bens, Some(PUBLISHER)).await;
    assert_eq!(st, 202);
    let (_, page) = s.get("/v1/events", Some(PUBLISHER)).await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["agent"] == json!("ana")), "{page}");
    s.stop().await;
}

#[tokio::test]
async fn an_agent_scoped_scv_token_cannot_reach_another_agents_call() {
    let s = TestServer::with(
        |c| {
            c.auth.tokens = vec![
                token(PUBLISHER, vec![Role::Publish, Role::Subscribe], None),
                token(ANA_PUBLISHER, vec![Role::Publish], Some("ana")),
                token(BEN_PUBLISHER, vec![Role::Publish], Some("ben")),
            ];
        },
        vec![Arc::new(Scv::new()) as Arc<dyn Source>],
    )
    .await;
    // Ben's connector opens his call; the payloads name no agent, his token does.
    for t in ["CALL_STARTED", "CALL_CONNECTED"] {
        let (st, a) = s
            .scv(
                json!({"eventType": t, "payload": {"call": phone_call("c-ben")}}),
                Some(BEN_PUBLISHER),
            )
            .await;
        assert_eq!(st, 202, "{t}: {a}");
    }
    let call = |id: &'static str| {
        let s = &s;
        async move {
            let (st, call) = s.get(&format!("/v1/calls/{id}"), Some(PUBLISHER)).await;
            assert_eq!(st, 200, "{call}");
            call["call"].clone()
        }
    };
    assert_eq!(call("c-ben").await["agent"], json!("ben"));
    let events = || {
        let s = &s;
        async move {
            let (st, page) = s.get("/v1/events?limit=100", Some(PUBLISHER)).await;
            assert_eq!(st, 200, "{page}");
            page["events"].as_array().unwrap().clone()
        }
    };

    // Ana's token, no agent in the payload: ben's only live call is not hers to toggle, by
    // default or by name, and the refusals do not name it unless she did.
    for body in [
        json!({"eventType": "MUTE_TOGGLE", "payload": {"isMuted": true}}),
        json!({"eventType": "HOLD_TOGGLE", "payload": {"isCustomerOnHold": true}}),
        json!({"eventType": "RECORDING_TOGGLE", "payload": {"isRecordingPaused": true}}),
        json!({"eventType": "HANGUP", "payload": {"phoneNumber": CUSTOMER}}),
    ] {
        let (st, a) = s.scv(body.clone(), Some(ANA_PUBLISHER)).await;
        assert_eq!(
            (st, a["error"]["code"].as_str()),
            (409, Some("invalid_transition")),
            "{body}: {a}"
        );
        let message = a["error"]["message"].as_str().unwrap();
        assert!(!message.contains("c-ben"), "{message}");
    }
    for body in [
        json!({"eventType": "MUTE_TOGGLE", "callId": "c-ben", "payload": {"isMuted": true}}),
        json!({"eventType": "HOLD_TOGGLE",
               "payload": {"isCustomerOnHold": true, "calls": [{"callId": "c-ben"}]}}),
        json!({"eventType": "HANGUP", "callId": "c-ben", "payload": {}}),
        json!({"eventType": "CALL_CONNECTED", "payload": {"call": phone_call("c-ben")}}),
    ] {
        let (st, a) = s.scv(body.clone(), Some(ANA_PUBLISHER)).await;
        assert_eq!(
            (st, a["error"]["code"].as_str()),
            (409, Some("invalid_transition")),
            "{body}: {a}"
        );
    }
    let (st, a) = s
        .scv(
            json!({"eventType": "MUTE_TOGGLE", "agent": "ben", "payload": {"isMuted": true}}),
            Some(ANA_PUBLISHER),
        )
        .await;
    assert_eq!(st, 403, "{a}");
    let bens = call("c-ben").await;
    assert_eq!(
        (
            &bens["muted"],
            &bens["lifecycle"],
            &bens["participants"][0]["onHold"]
        ),
        (&json!(false), &json!("connected"), &json!(false)),
        "{bens}"
    );
    assert_eq!(types(&events().await), ["CALL_STARTED", "CALL_CONNECTED"]);

    // Her own call: the same toggle now finds it, ben's stays as it was; ben's token still
    // reaches his.
    let (st, a) = s
        .scv(
            json!({"eventType": "CALL_CONNECTED", "payload": {"call": phone_call("c-ana")}}),
            Some(ANA_PUBLISHER),
        )
        .await;
    assert_eq!(st, 202, "{a}");
    let mute = json!({"eventType": "MUTE_TOGGLE", "payload": {"isMuted": true}});
    let (st, a) = s.scv(mute.clone(), Some(ANA_PUBLISHER)).await;
    assert_eq!(st, 202, "{a}");
    assert_eq!(
        (&call("c-ana").await["muted"], &call("c-ben").await["muted"]),
        (&json!(true), &json!(false))
    );
    let (st, a) = s.scv(mute, Some(BEN_PUBLISHER)).await;
    assert_eq!(st, 202, "{a}");
    assert_eq!(call("c-ben").await["muted"], json!(true));
    let events = events().await;
    assert_eq!(
        types(&events),
        [
            "CALL_STARTED",
            "CALL_CONNECTED",
            "CALL_CONNECTED",
            "MUTE",
            "MUTE"
        ]
    );
    let agents: Vec<&Value> = events.iter().map(|e| &e["agent"]).collect();
    assert_eq!(
        agents,
        [
            &json!("ben"),
            &json!("ben"),
            &json!("ana"),
            &json!("ana"),
            &json!("ben")
        ]
    );
    s.stop().await;
}

fn connect_event(id: &str, event_type: &str, contact: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect", "account": "111122223333", "time": "2021-08-04T17:43:48Z",
        "region": "us-west-2", "resources": [],
        "detail": {
            "eventType": event_type, "contactId": contact, "channel": "VOICE",
            "initiationMethod": "INBOUND",
            "instanceArn": "arn:aws:connect:us-west-2:111122223333:instance/i",
            "agentInfo": {"agentArn": "arn:aws:connect:us-west-2:111122223333:instance/i/agent/ag-7"}
        }
    })
}

#[tokio::test]
async fn amazon_connect_contact_events_become_a_call_and_redeliveries_are_stored_once() {
    let s = TestServer::with(
        |_| {},
        vec![Arc::new(AmazonConnect::new(AgentNaming::Id)) as Arc<dyn Source>],
    )
    .await;
    let mut answers = Vec::new();
    for (id, t) in [
        ("e1", "INITIATED"),
        ("e2", "QUEUED"),
        ("e3", "CONNECTED_TO_AGENT"),
        ("e4", "DISCONNECTED"),
        ("e5", "COMPLETED"),
    ] {
        let (st, a) = connect_post(&s, connect_event(id, t, "k-1")).await;
        assert!(st == 202 || st == 200, "{t}: {st} {a}");
        answers.push(a);
    }
    assert!(answers[1]["ignored"].as_str().unwrap().contains("queue"));
    // EventBridge delivers at least once: the same event again, the same seqs.
    let (st, again) = connect_post(&s, connect_event("e3", "CONNECTED_TO_AGENT", "k-1")).await;
    assert_eq!((st, seqs(&again)), (202, seqs(&answers[2])), "{again}");
    let events = s.events().await;
    assert_eq!(
        types(&events),
        [
            "CALL_STARTED",
            "CALL_CONNECTED",
            "CALL_ENDED",
            "WRAP_UP_ENDED"
        ]
    );
    assert_eq!(events[1]["agent"], json!("ag-7"));
    assert_eq!(events[1]["eventId"], json!("amazon-connect:e3"));
    assert_eq!(events[0]["detail"]["callId"], json!("k-1"));
    let (_, call) = s.get("/v1/calls/k-1", None).await;
    assert_eq!(call["call"]["lifecycle"], json!("closed"), "{call}");
    // Not an Amazon Connect event at all: refused, naming the field.
    let mut wrong = connect_event("e9", "INITIATED", "k-2");
    wrong["source"] = json!("aws.s3");
    let (st, a) = connect_post(&s, wrong).await;
    assert_eq!(
        (st, a["error"]["path"].as_str()),
        (422, Some("source")),
        "{a}"
    );
    s.stop().await;
}

#[tokio::test]
async fn native_telephony_drops_what_it_lacks_and_keeps_the_rest() {
    // Native telephony has no CALL_STARTED or WRAP_UP_ENDED: INITIATED is not news, and
    // COMPLETED of a live contact stores its CALL_ENDED (the batch is not refused for the
    // WRAP_UP_ENDED it would also make).
    let s = TestServer::with(
        |c| c.telephony = TelephonyKind::Native,
        vec![Arc::new(AmazonConnect::new(AgentNaming::Id)) as Arc<dyn Source>],
    )
    .await;
    let (st, a) = connect_post(&s, connect_event("e0", "INITIATED", "k-1")).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["seqs"], json!([]));
    let why = a["ignored"].as_str().unwrap();
    assert!(
        why.contains("CALL_STARTED not in native telephony"),
        "{why}"
    );
    let (st, a) = connect_post(&s, connect_event("e1", "CONNECTED_TO_AGENT", "k-1")).await;
    assert_eq!(st, 202, "{a}");
    let (st, a) = connect_post(&s, connect_event("e2", "COMPLETED", "k-1")).await;
    assert_eq!(st, 202, "{a}");
    assert_eq!(a["seqs"].as_array().unwrap().len(), 1, "{a}");
    let why = a["ignored"].as_str().unwrap();
    assert!(
        why.contains("WRAP_UP_ENDED not in native telephony"),
        "{why}"
    );
    assert_eq!(types(&s.events().await), ["CALL_CONNECTED", "CALL_ENDED"]);
    let (_, call) = s.get("/v1/calls/k-1", None).await;
    assert_eq!(call["call"]["lifecycle"], json!("ended"), "{call}");
    s.stop().await;
}

/// `application/x-www-form-urlencoded`, as Twilio encodes it.
fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn status_callback<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Direction", "inbound"),
        ("From", "+14155550100"),
        ("To", "+18005551212"),
        ("ApiVersion", "2010-04-01"),
    ]
}

#[tokio::test]
async fn twilio_status_callbacks_are_verified_translated_and_deduplicated() {
    let twilio = Twilio::new(TWILIO_TOKEN, None).unwrap();
    let s = TestServer::with(|_| {}, vec![Arc::new(twilio) as Arc<dyn Source>]).await;
    // The URL Twilio calls: reqwest sends Host: 127.0.0.1:PORT, and the gateway rebuilds it.
    let url = format!("http://{}/v1/sources/twilio?agent=ana", s.addr);
    let post = |params: Vec<(&'static str, &'static str)>, signature: Option<String>| {
        let s = &s;
        async move {
            let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
            let sig;
            if let Some(x) = signature {
                sig = x;
                headers.push(("x-twilio-signature", sig.as_str()));
            }
            s.webhook("twilio", "?agent=ana", &headers, form(&params))
                .await
        }
    };
    let ringing = status_callback("CA1", "ringing");
    // Unsigned: 401. Forged: 403. Neither stores anything, with or without gateway tokens.
    let (st, a) = post(ringing.clone(), None).await;
    assert_eq!(st, 401, "{a}");
    let forged = signature_of("someone-elses-token", &url, &owned(&ringing));
    let (st, a) = post(ringing.clone(), Some(forged)).await;
    assert_eq!(st, 403, "{a}");
    // Signed for another URL (no agent=ana): 403.
    let other_url = format!("http://{}/v1/sources/twilio", s.addr);
    let (st, _) = post(
        ringing.clone(),
        Some(signature_of(TWILIO_TOKEN, &other_url, &owned(&ringing))),
    )
    .await;
    assert_eq!(st, 403);
    assert!(s.events().await.is_empty());

    let sign = |p: &[(&str, &str)]| signature_of(TWILIO_TOKEN, &url, &owned(p));
    let (st, first) = post(ringing.clone(), Some(sign(&ringing))).await;
    assert_eq!((st, seqs(&first)), (202, vec![1]), "{first}");
    let answered = status_callback("CA1", "in-progress");
    let (st, a) = post(answered.clone(), Some(sign(&answered))).await;
    assert_eq!((st, seqs(&a)), (202, vec![2]), "{a}");
    // Twilio retries a callback it thinks failed: the same seq.
    let (st, again) = post(ringing.clone(), Some(sign(&ringing))).await;
    assert_eq!((st, seqs(&again)), (202, vec![1]), "{again}");
    let completed = status_callback("CA1", "completed");
    let (st, a) = post(completed.clone(), Some(sign(&completed))).await;
    assert_eq!((st, seqs(&a)), (202, vec![3]), "{a}");
    let events = s.events().await;
    assert_eq!(
        types(&events),
        ["CALL_STARTED", "CALL_CONNECTED", "CALL_ENDED"]
    );
    assert_eq!(
        events[0]["detail"],
        json!({"callId": "CA1", "callType": "inbound", "participant": "+14155550100"})
    );
    assert_eq!(events[0]["agent"], json!("ana"));
    assert_eq!(events[0]["eventId"], json!("twilio:CA1:ringing"));
    s.stop().await;
}

#[tokio::test]
async fn twilio_behind_a_proxy_checks_the_public_url() {
    let public = "https://voice.example.com/hooks/twilio";
    let twilio = Twilio::new(TWILIO_TOKEN, Some(public.to_owned())).unwrap();
    let s = TestServer::with(|_| {}, vec![Arc::new(twilio) as Arc<dyn Source>]).await;
    let ringing = status_callback("CA7", "ringing");
    let body = form(&ringing);
    // Signed for the public URL, though it arrives at 127.0.0.1: accepted.
    let good = signature_of(TWILIO_TOKEN, public, &owned(&ringing));
    let (st, a) = s
        .webhook(
            "twilio",
            "",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-twilio-signature", &good),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(st, 202, "{a}");
    // Signed for the local URL instead: refused, the public URL wins.
    let local = format!("http://{}/v1/sources/twilio", s.addr);
    let bad = signature_of(TWILIO_TOKEN, &local, &owned(&ringing));
    let (st, _) = s
        .webhook(
            "twilio",
            "",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-twilio-signature", &bad),
            ],
            body,
        )
        .await;
    assert_eq!(st, 403);
    s.stop().await;
}

#[tokio::test]
async fn twilio_rebuilds_the_url_from_forwarded_headers() {
    let twilio = Twilio::new(TWILIO_TOKEN, None).unwrap();
    let s = TestServer::with(|_| {}, vec![Arc::new(twilio) as Arc<dyn Source>]).await;
    let ringing = status_callback("CA8", "ringing");
    let seen = "https://edge.example.net/v1/sources/twilio";
    let signature = signature_of(TWILIO_TOKEN, seen, &owned(&ringing));
    let (st, a) = s
        .webhook(
            "twilio",
            "",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-twilio-signature", &signature),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "edge.example.net"),
            ],
            form(&ringing),
        )
        .await;
    assert_eq!(st, 202, "{a}");
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_provider_request_is_refused_unread() {
    let s = TestServer::with(|_| {}, vec![Arc::new(Scv::new()) as Arc<dyn Source>]).await;
    let huge = format!(
        "{{\"eventType\":\"CALL_STARTED\",\"payload\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(300 * 1024)
    );
    let (st, e) = s
        .webhook("scv", "", &[("content-type", "application/json")], huge)
        .await;
    assert_eq!(st, 413, "{e}");
    assert!(s.events().await.is_empty());
    s.stop().await;
}

/// Posts an Amazon Connect contact event as EventBridge's API destination would.
async fn connect_post(s: &TestServer, event: Value) -> (u16, Value) {
    s.webhook(
        "amazon-connect",
        "",
        &[("content-type", "application/json")],
        event.to_string(),
    )
    .await
}
