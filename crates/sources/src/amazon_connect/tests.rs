//! Every row of the Amazon Connect translation table, against a real engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use voicetk_engine::Lifecycle;
use voicetk_events::{CallType, EventType, TelephonyEvent};

use super::*;
use crate::Source;
use crate::webhook::testing::Harness;

const URL: &str = "https://gw.example.com/v1/sources/amazon-connect";
const JSON: (&str, &str) = ("content-type", "application/json");
const AGENT_ARN: &str = "arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012/agent/87654321-4321-4321-4321-210987654321";
const AGENT_ID: &str = "87654321-4321-4321-4321-210987654321";

fn harness() -> Harness<AmazonConnect> {
    Harness::new(AmazonConnect::new(AgentNaming::Id))
}

/// An EventBridge contact event as AWS documents it.
fn event(id: &str, event_type: &str, contact: &str, method: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "111122223333",
        "time": "2021-08-04T17:43:48Z",
        "region": "us-west-2",
        "resources": ["arn:aws:connect:us-west-2:111122223333:instance/i/contact/c", "arn:aws:connect:us-west-2:111122223333:instance/i"],
        "detail": {
            "eventType": event_type,
            "contactId": contact,
            "initialContactId": contact,
            "channel": "VOICE",
            "instanceArn": "arn:aws:connect:us-west-2:111122223333:instance/i",
            "initiationMethod": method,
            "initiationTimestamp": "2021-08-04T17:17:53.000Z",
            "tags": {"aws:connect:instanceId": "i", "aws:connect:systemEndpoint": "+11234567890"}
        }
    })
}

fn with_agent(mut e: Value) -> Value {
    e["detail"]["agentInfo"] =
        json!({"agentArn": AGENT_ARN, "connectedToAgentTimestamp": "2021-08-04T17:29:09.000Z"});
    e["detail"]["queueInfo"] = json!({"queueArn": "arn:aws:connect:us-west-2:111122223333:instance/i/queue/q", "queueType": "STANDARD", "enqueueTimestamp": "2021-08-04T17:29:04.000Z"});
    e
}

fn send(h: &Harness<AmazonConnect>, body: &Value) -> Result<Translation, WebhookError> {
    h.translate(URL, &[JSON], body.to_string().as_bytes())
}

fn deliver(h: &Harness<AmazonConnect>, body: &Value) -> Vec<EventType> {
    let (_, stored) = h
        .deliver(URL, &[JSON], body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{body}: {e}"));
    stored.iter().map(|e| e.event_type()).collect()
}

fn ignored(h: &Harness<AmazonConnect>, body: &Value) -> String {
    let t = send(h, body).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert!(t.events.is_empty(), "{body} gave {:?}", t.events);
    t.ignored.expect("a reason")
}

#[test]
fn an_inbound_call_from_initiated_to_completed() {
    let h = harness();
    assert_eq!(
        deliver(&h, &event("e1", "INITIATED", "c-1", "INBOUND")),
        [EventType::CallStarted]
    );
    let call = h.call("c-1");
    assert_eq!(
        (call.lifecycle, call.call_type),
        (Lifecycle::Started, Some(CallType::Inbound))
    );
    assert_eq!(
        call.initial_caller().map(|p| p.participant.as_str()),
        Some(UNKNOWN_CUSTOMER)
    );
    assert!(ignored(&h, &event("e2", "QUEUED", "c-1", "INBOUND")).contains("queue"));
    let t = send(
        &h,
        &with_agent(event("e3", "CONNECTED_TO_AGENT", "c-1", "INBOUND")),
    )
    .unwrap();
    assert_eq!(t.events[0].agent.as_deref(), Some(AGENT_ID));
    assert_eq!(t.events[0].event_id.as_deref(), Some("amazon-connect:e3"));
    let TelephonyEvent::CallConnected(d) = &t.events[0].event else {
        panic!("{t:?}")
    };
    let attrs = d.call_attributes.clone().unwrap();
    assert_eq!(attrs["initiationMethod"], json!("INBOUND"));
    assert_eq!(
        attrs["queueArn"],
        json!("arn:aws:connect:us-west-2:111122223333:instance/i/queue/q")
    );
    assert_eq!(
        deliver(
            &h,
            &with_agent(event("e3", "CONNECTED_TO_AGENT", "c-1", "INBOUND"))
        ),
        [EventType::CallConnected]
    );
    assert_eq!(h.call("c-1").agent.as_deref(), Some(AGENT_ID));
    assert!(
        ignored(
            &h,
            &with_agent(event("e4", "CONTACT_DATA_UPDATED", "c-1", "INBOUND"))
        )
        .contains("no toolkit counterpart")
    );
    assert_eq!(
        deliver(
            &h,
            &with_agent(event("e5", "DISCONNECTED", "c-1", "INBOUND"))
        ),
        [EventType::CallEnded]
    );
    assert!(ignored(&h, &event("e5b", "DISCONNECTED", "c-1", "INBOUND")).contains("already ended"));
    assert_eq!(
        deliver(&h, &with_agent(event("e6", "COMPLETED", "c-1", "INBOUND"))),
        [EventType::WrapUpEnded]
    );
    assert_eq!(h.call("c-1").lifecycle, Lifecycle::Closed);
    assert!(ignored(&h, &event("e6b", "COMPLETED", "c-1", "INBOUND")).contains("already closed"));
}

#[test]
fn an_agents_outbound_call_connects_when_the_customer_answers() {
    let h = harness();
    let mut initiated = with_agent(event("e1", "INITIATED", "c-2", "OUTBOUND"));
    initiated["detail"]["customerEndpoint"] =
        json!({"address": "+14155550100", "type": "TELEPHONE_NUMBER"});
    assert_eq!(deliver(&h, &initiated), [EventType::CallStarted]);
    let call = h.call("c-2");
    assert_eq!(call.call_type, Some(CallType::Outbound));
    assert_eq!(
        call.initial_caller().map(|p| p.participant.as_str()),
        Some("+14155550100")
    );
    assert_eq!(
        deliver(
            &h,
            &with_agent(event("e2", "CONNECTED_TO_SYSTEM", "c-2", "OUTBOUND"))
        ),
        [EventType::CallConnected]
    );
    // The number the call started with is kept when CONNECTED does not repeat it.
    assert_eq!(
        h.call("c-2")
            .initial_caller()
            .map(|p| p.participant.as_str()),
        Some("+14155550100")
    );
    assert!(
        ignored(
            &h,
            &with_agent(event("e3", "CONNECTED_TO_AGENT", "c-2", "OUTBOUND"))
        )
        .contains("already connected")
    );
    // COMPLETED before DISCONNECTED (EventBridge does not order): both.
    assert_eq!(
        deliver(&h, &with_agent(event("e4", "COMPLETED", "c-2", "OUTBOUND"))),
        [EventType::CallEnded, EventType::WrapUpEnded]
    );
}

#[test]
fn connected_to_system_of_an_inbound_call_is_not_an_agent() {
    let h = harness();
    deliver(&h, &event("e1", "INITIATED", "c-1", "INBOUND"));
    assert!(
        ignored(&h, &event("e2", "CONNECTED_TO_SYSTEM", "c-1", "INBOUND")).contains("not an agent")
    );
    // A lost INITIATED: CONNECTED_TO_AGENT opens the call.
    assert_eq!(
        deliver(
            &h,
            &with_agent(event("e3", "CONNECTED_TO_AGENT", "c-9", "TRANSFER"))
        ),
        [EventType::CallConnected]
    );
    assert_eq!(h.call("c-9").call_type, Some(CallType::Inbound));
}

#[test]
fn initiation_methods_map_to_call_types() {
    for (method, expected) in [
        ("INBOUND", Some(CallType::Inbound)),
        ("TRANSFER", Some(CallType::Inbound)),
        ("QUEUE_TRANSFER", Some(CallType::Inbound)),
        ("OUTBOUND", Some(CallType::Outbound)),
        ("CALLBACK", Some(CallType::Outbound)),
        ("API", Some(CallType::Outbound)),
        ("MONITOR", None),
        ("EXTERNAL_OUTBOUND", None),
        ("DISCONNECT", None),
    ] {
        let h = harness();
        let t = send(&h, &event("e", "INITIATED", "c", method)).unwrap();
        match expected {
            Some(ct) => {
                let TelephonyEvent::CallStarted(d) = &t.events[0].event else {
                    panic!("{method}: {t:?}")
                };
                assert_eq!(d.call_type, ct, "{method}");
            }
            None => assert!(
                t.events.is_empty() && t.ignored.is_some(),
                "{method}: {t:?}"
            ),
        }
    }
}

#[test]
fn other_events_and_channels_are_ignored_with_a_reason() {
    let h = harness();
    for t in [
        "PAUSED",
        "RESUMED",
        "AMD_DISABLED",
        "WEBRTC_API",
        "SOMETHING_NEW",
    ] {
        let reason = ignored(&h, &event("e", t, "c-1", "INBOUND"));
        assert!(!reason.is_empty(), "{t}");
    }
    let mut chat = event("e", "INITIATED", "c-1", "API");
    chat["detail"]["channel"] = json!("CHAT");
    assert!(ignored(&h, &chat).contains("CHAT contact, not a call"));
    let mut lens = event("e", "INITIATED", "c-1", "INBOUND");
    lens["detail-type"] = json!("Contact Lens Realtime Rules Matched");
    assert!(ignored(&h, &lens).contains("not a contact event"));
    assert!(ignored(&h, &event("e", "DISCONNECTED", "c-404", "INBOUND")).contains("never became"));
    assert!(ignored(&h, &event("e", "COMPLETED", "c-404", "INBOUND")).contains("never became"));
}

#[test]
fn pascal_case_fields_of_older_documentation_are_read_too() {
    let h = harness();
    let body = json!({"id": "e1", "source": "aws.connect", "detail-type": "Amazon Connect Contact Event",
        "detail": {"EventType": "CONNECTED_TO_AGENT", "ContactId": "c-1", "Channel": "Voice",
                   "InitiationMethod": "INBOUND", "AgentInfo": {"AgentArn": AGENT_ARN},
                   "QueueInfo": {"QueueArn": "q", "QueueType": "STANDARD"}}});
    assert_eq!(deliver(&h, &body), [EventType::CallConnected]);
    let call = h.call("c-1");
    assert_eq!(call.agent.as_deref(), Some(AGENT_ID));
    assert_eq!(
        call.call_attributes.as_ref().unwrap()["queueArn"],
        json!("q")
    );
}

#[test]
fn agent_naming_by_arn() {
    let h = Harness::new(AmazonConnect::new(AgentNaming::Arn));
    let t = h
        .translate(
            URL,
            &[JSON],
            with_agent(event("e", "CONNECTED_TO_AGENT", "c", "INBOUND"))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(t.events[0].agent.as_deref(), Some(AGENT_ARN));
}

#[test]
fn a_redelivered_event_maps_to_the_same_events() {
    let h = harness();
    let body = event("e1", "INITIATED", "c-1", "INBOUND");
    let (first, stored) = h
        .deliver(URL, &[JSON], body.to_string().as_bytes())
        .unwrap();
    assert_eq!(stored.len(), 1);
    let (again, stored) = h
        .deliver(URL, &[JSON], body.to_string().as_bytes())
        .unwrap();
    assert_eq!(again, first);
    assert!(stored.is_empty());
    assert!(h.webhook.owns("c-1"));
}

#[test]
fn bad_events_are_refused_naming_the_field() {
    let h = harness();
    let mut wrong_source = event("e", "INITIATED", "c", "INBOUND");
    wrong_source["source"] = json!("aws.ec2");
    let mut no_contact = event("e", "INITIATED", "c", "INBOUND");
    no_contact["detail"]
        .as_object_mut()
        .unwrap()
        .remove("contactId");
    let mut no_method = event("e", "INITIATED", "c", "INBOUND");
    no_method["detail"]
        .as_object_mut()
        .unwrap()
        .remove("initiationMethod");
    let mut bad_agent = event("e", "CONNECTED_TO_AGENT", "c", "INBOUND");
    bad_agent["detail"]["agentInfo"] = json!({"agentArn": 42});
    let mut no_channel = event("e", "INITIATED", "c", "INBOUND");
    no_channel["detail"]
        .as_object_mut()
        .unwrap()
        .remove("channel");
    for (body, message) in [
        (wrong_source, "source: expected \"aws.connect\""),
        (no_contact, "detail.contactId: missing required field"),
        (no_method, "detail.initiationMethod: missing required field"),
        (
            bad_agent,
            "detail.agentInfo.agentArn: expected a non-empty string, found number 42",
        ),
        (no_channel, "detail.channel: missing required field"),
        (
            json!({"source": "aws.connect", "detail-type": "Amazon Connect Contact Event"}),
            "detail: missing required field",
        ),
    ] {
        let err = send(&h, &body).unwrap_err();
        assert!(err.to_string().starts_with(message), "{err} <> {message}");
    }
    let err = h.translate(URL, &[JSON], b"<xml/>").unwrap_err();
    assert!(matches!(err, WebhookError::Malformed(_)), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let h = harness();
        let _ = h.translate(URL, &[JSON], &body);
    }

    #[test]
    fn arbitrary_details_never_panic(
        t in prop::sample::select(vec!["INITIATED", "CONNECTED_TO_SYSTEM", "CONNECTED_TO_AGENT", "QUEUED", "DISCONNECTED", "COMPLETED", "X"]),
        method in prop::sample::select(vec!["INBOUND", "OUTBOUND", "TRANSFER", "API", "MONITOR", "", "?"]),
        agent in prop_oneof![Just(Value::Null), Just(json!({"agentArn": AGENT_ARN})), Just(json!("x")), Just(json!({"agentArn": []}))],
        endpoint in prop_oneof![Just(Value::Null), Just(json!({"address": "+1"})), Just(json!(7))],
        first in any::<bool>(),
    ) {
        let h = harness();
        if first {
            deliver(&h, &event("e0", "INITIATED", "c", "INBOUND"));
        }
        let mut body = event("e1", t, "c", method);
        body["detail"]["agentInfo"] = agent;
        body["detail"]["customerEndpoint"] = endpoint;
        let _ = send(&h, &body);
    }
}
