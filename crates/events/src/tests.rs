//! Wire-model tests: the spec's examples, every error kind, aliases, extras, native mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::*;

const SEED_CALL_STARTED: &str = r#"{
  "type": "CALL_STARTED",
  "detail": {
    "callId": "d7a9f1b7-fc17-43fe-8ca7-e584a2b34792",
    "callType": "outbound",
    "participant": "+1 (415) 999-0000"
  }
}"#;

const SEED_CALL_CONNECTED: &str = r#"{
    "type": "CALL_CONNECTED",
    "detail": {
        "callId": "4ba06a63-f1d3-44b6-a9ff-f57143a37c1",
        "callType": "outbound",
        "participant": "+1 (90 274-0615",
        "callAttributes":{
            "isTranscribed": "true",
            "languageCode": "en-US"
        }
    }
}"#;

fn opts() -> ParseOptions {
    ParseOptions::default()
}

fn err_of(v: Value) -> ValidationError {
    from_value(v, &opts()).expect_err("should be refused")
}

fn round_trip(text: &str) -> (Value, Value) {
    let original: Value = serde_json::from_str(text).unwrap();
    let env = parse_event(text.as_bytes(), &opts()).unwrap();
    let back: Value = serde_json::from_str(&env.to_json()).unwrap();
    (original, back)
}

#[test]
fn seed_examples_round_trip_to_equal_json() {
    for seed in [SEED_CALL_STARTED, SEED_CALL_CONNECTED] {
        let (original, back) = round_trip(seed);
        assert_eq!(original, back);
    }
}

/// One valid payload of every type, with unknown fields inside `detail` and at the top level.
fn every_type_with_extras() -> Vec<Value> {
    EventType::ALL
        .into_iter()
        .map(|t| {
            let mut detail = json!({"callId": "c-1", "vendorTrace": {"hop": [1, 2]}});
            let d = detail.as_object_mut().unwrap();
            match t {
                EventType::AudioStats => {
                    for (k, v) in [
                        ("stats", json!("outputChannelStats")),
                        ("packetsLost", json!(3)),
                        ("packetsCount", json!(1500)),
                        ("jitterBufferMillis", json!(12)),
                        ("roundTripTimeMillis", json!(80)),
                        ("statsCount", json!(6)),
                        ("mos", json!(4.2)),
                    ] {
                        d.insert(k.into(), v);
                    }
                }
                EventType::CallStarted | EventType::CallConnected => {
                    d.insert("callType".into(), json!("inbound"));
                    d.insert("participant".into(), json!("+1 415 555 0100"));
                    if t == EventType::CallConnected {
                        d.insert("callAttributes".into(), json!({"queue": "Billing", "n": 3}));
                    }
                }
                EventType::Hold
                | EventType::Resume
                | EventType::ParticipantAdded
                | EventType::ParticipantRemoved => {
                    d.insert("participant".into(), json!("Supervisor Quick Connect"));
                }
                _ => {}
            }
            json!({"type": t.as_str(), "detail": detail, "tenant": "acme", "trace": [1, "x"]})
        })
        .collect()
}

#[test]
fn every_type_round_trips_with_extras_preserved() {
    for v in every_type_with_extras() {
        let env = from_value(v.clone(), &opts()).unwrap();
        assert_eq!(env.extra.get("tenant"), Some(&json!("acme")));
        assert_eq!(
            env.event.extra().get("vendorTrace"),
            Some(&json!({"hop": [1, 2]}))
        );
        let back: Value = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(v, back, "round trip of {}", v["type"]);
        // And through serde's Deserialize impl as well.
        let again: Envelope = serde_json::from_value(back).unwrap();
        assert_eq!(again, env);
    }
}

#[test]
fn lwc_names_are_read_and_aura_names_written() {
    for t in EventType::ALL {
        let mut v = every_type_with_extras().remove(t.index());
        v["type"] = json!(t.lwc_name());
        let env = from_value(v, &opts()).unwrap();
        assert_eq!(env.event_type(), t);
        let back: Value = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(back["type"], json!(t.as_str()));
    }
}

#[test]
fn top_level_fields_are_typed_and_round_trip() {
    let v = json!({
        "type": "MUTE", "detail": {"callId": "c1"},
        "seq": 42, "timestamp": "2026-11-24T03:30:00.123Z", "agent": "alice",
        "eventId": "evt-9", "warnings": ["w1"], "replayed": true, "x": null
    });
    let env = from_value(v.clone(), &opts()).unwrap();
    assert_eq!(env.seq, Some(42));
    assert_eq!(env.agent.as_deref(), Some("alice"));
    assert_eq!(env.event_id.as_deref(), Some("evt-9"));
    assert!(env.replayed);
    let back: Value = serde_json::from_str(&env.to_json()).unwrap();
    assert_eq!(back, v);
}

#[test]
fn call_attributes_is_optional_but_must_be_an_object() {
    let ok = json!({"type":"CALL_CONNECTED","detail":{"callId":"c","callType":"inbound","participant":"p"}});
    assert!(from_value(ok, &opts()).is_ok());
    let e = err_of(
        json!({"type":"CALL_CONNECTED","detail":{"callId":"c","callType":"inbound","participant":"p","callAttributes":"x"}}),
    );
    assert_eq!(
        (e.kind, e.path.as_str()),
        (ErrorKind::WrongType, "detail.callAttributes")
    );
    assert_eq!(e.message, "expected an object, found a string (\"x\")");
}

fn audio(overrides: Value) -> Value {
    let mut detail = json!({
        "callId": "c1", "stats": "inputChannelStats", "packetsLost": 0, "packetsCount": 250,
        "jitterBufferMillis": 3, "roundTripTimeMillis": 40, "statsCount": 6
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            detail.as_object_mut().unwrap().remove(k);
        } else {
            detail[k] = v.clone();
        }
    }
    json!({"type": "AUDIO_STATS", "detail": detail})
}

#[test]
fn every_error_kind_names_its_path() {
    let cases: Vec<(Value, ErrorKind, &str, &str)> = vec![
        (
            json!([1]),
            ErrorKind::WrongType,
            "$",
            "expected a JSON object, found an array",
        ),
        (
            json!({"detail": {}}),
            ErrorKind::MissingField,
            "type",
            "missing required field",
        ),
        (
            json!({"type": 7, "detail": {}}),
            ErrorKind::WrongType,
            "type",
            "found a number (7)",
        ),
        (
            json!({"type": "CALL_FOO", "detail": {}}),
            ErrorKind::UnknownType,
            "type",
            "unknown event type \"CALL_FOO\"",
        ),
        (
            json!({"type": "MUTE"}),
            ErrorKind::MissingField,
            "detail",
            "expected an object",
        ),
        (
            json!({"type": "MUTE", "detail": []}),
            ErrorKind::WrongType,
            "detail",
            "found an array",
        ),
        (
            json!({"type": "MUTE", "detail": {}}),
            ErrorKind::MissingField,
            "detail.callId",
            "missing",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": ""}}),
            ErrorKind::InvalidValue,
            "detail.callId",
            "non-empty",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": 12}}),
            ErrorKind::WrongType,
            "detail.callId",
            "found a number (12)",
        ),
        (
            json!({"type": "HOLD", "detail": {"callId": "c"}}),
            ErrorKind::MissingField,
            "detail.participant",
            "missing",
        ),
        (
            json!({"type": "CALL_STARTED", "detail": {"callId": "c", "callType": "sideways", "participant": "p"}}),
            ErrorKind::InvalidValue,
            "detail.callType",
            "expected \"inbound\" or \"outbound\", found \"sideways\"",
        ),
        (
            json!({"type": "CALL_STARTED", "detail": {"callId": "c", "callType": true, "participant": "p"}}),
            ErrorKind::WrongType,
            "detail.callType",
            "found a boolean (true)",
        ),
        (
            audio(json!({"packetsLost": -3})),
            ErrorKind::InvalidValue,
            "detail.packetsLost",
            "expected a non-negative integer, found -3",
        ),
        (
            audio(json!({"packetsCount": 1.5})),
            ErrorKind::InvalidValue,
            "detail.packetsCount",
            "found 1.5",
        ),
        (
            audio(json!({"jitterBufferMillis": "3"})),
            ErrorKind::WrongType,
            "detail.jitterBufferMillis",
            "found a string (\"3\")",
        ),
        (
            audio(json!({"statsCount": null})),
            ErrorKind::MissingField,
            "detail.statsCount",
            "missing",
        ),
        (
            audio(json!({"stats": "sideChannelStats"})),
            ErrorKind::InvalidValue,
            "detail.stats",
            "\"inputChannelStats\" or \"outputChannelStats\"",
        ),
        (
            audio(json!({"mos": "good"})),
            ErrorKind::WrongType,
            "detail.mos",
            "expected a number",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": "c"}, "seq": -1}),
            ErrorKind::InvalidValue,
            "seq",
            "non-negative",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": "c"}, "timestamp": "yesterday"}),
            ErrorKind::InvalidValue,
            "timestamp",
            "RFC 3339",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": "c"}, "warnings": ["a", 2]}),
            ErrorKind::WrongType,
            "warnings[1]",
            "expected a string",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": "c"}, "replayed": "yes"}),
            ErrorKind::WrongType,
            "replayed",
            "a boolean",
        ),
        (
            json!({"type": "MUTE", "detail": {"callId": "c"}, "eventId": ""}),
            ErrorKind::InvalidValue,
            "eventId",
            "non-empty",
        ),
    ];
    for (v, kind, path, fragment) in cases {
        let e = err_of(v.clone());
        assert_eq!(e.kind, kind, "{v}: {e}");
        assert_eq!(e.path, path, "{v}: {e}");
        assert!(
            e.message.contains(fragment),
            "{v}: {e:?} lacks {fragment:?}"
        );
        assert_eq!(e.to_string(), format!("{path}: {}", e.message));
    }
}

#[test]
fn malformed_json_and_size_limit() {
    let e = parse_event(b"{\"type\": ", &opts()).unwrap_err();
    assert_eq!(
        (e.kind, e.code()),
        (ErrorKind::MalformedJson, "malformed_json")
    );
    assert!(e.message.contains("line 1"), "{e}");

    let small = ParseOptions {
        max_bytes: 20,
        ..opts()
    };
    let e = parse_event(SEED_CALL_STARTED.as_bytes(), &small).unwrap_err();
    assert_eq!(
        (e.kind, e.code()),
        (ErrorKind::TooLarge, "payload_too_large")
    );
    assert!(e.message.contains("over the limit of 20 bytes"));
}

#[test]
fn native_refuses_its_four_missing_events() {
    let native = ParseOptions::for_telephony(TelephonyKind::Native);
    for v in every_type_with_extras() {
        let t = EventType::from_name(v["type"].as_str().unwrap()).unwrap();
        let r = from_value(v, &native);
        if t.is_supported_by(TelephonyKind::Native) {
            assert!(r.is_ok(), "{t}");
        } else {
            let e = r.unwrap_err();
            assert_eq!(
                (e.kind, e.code(), e.path.as_str()),
                (ErrorKind::UnsupportedEvent, "unsupported_event", "type")
            );
            assert!(
                e.message
                    .starts_with(&format!("{t} is not supported by native telephony"))
            );
        }
    }
}

#[test]
fn documents_single_array_ndjson_pretty() {
    let o = opts();
    assert_eq!(parse_documents(SEED_CALL_CONNECTED.as_bytes(), &o).len(), 1);
    let arr = format!("[{SEED_CALL_STARTED}, {{\"type\":\"MUTE\"}}, {SEED_CALL_CONNECTED}]");
    let docs = parse_documents(arr.as_bytes(), &o);
    assert_eq!(
        docs.iter()
            .map(|d| (d.position, d.result.is_ok()))
            .collect::<Vec<_>>(),
        [(1, true), (2, false), (3, true)]
    );
    let nd = "{\"type\":\"MUTE\",\"detail\":{\"callId\":\"a\"}}\n{oops\n\n{\"type\":\"UNMUTE\",\"detail\":{\"callId\":\"a\"}}\n";
    let docs = parse_documents(nd.as_bytes(), &o);
    assert_eq!(
        docs.iter()
            .map(|d| (d.position, d.result.is_ok()))
            .collect::<Vec<_>>(),
        [(1, true), (2, false), (4, true)]
    );
    assert_eq!(
        docs[1].result.as_ref().unwrap_err().kind,
        ErrorKind::MalformedJson
    );
    let empty = parse_documents(b"  \n", &o);
    assert_eq!(
        empty[0].result.as_ref().unwrap_err().kind,
        ErrorKind::MalformedJson
    );
    let broken_array = parse_documents(b"[1,", &o);
    assert_eq!(
        broken_array[0].result.as_ref().unwrap_err().kind,
        ErrorKind::MalformedJson
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z_]{0,12}".prop_map(Value::String),
        prop::sample::select(EventType::ALL.map(|t| t.as_str()).to_vec()).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "detail",
                    "callId",
                    "participant",
                    "callType",
                    "stats",
                    "packetsLost",
                    "packetsCount",
                    "statsCount",
                    "seq",
                    "agent",
                    "eventId",
                    "warnings",
                    "x"
                ]),
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

#[test]
fn fields_of_other_event_types_are_extras_and_kept() {
    // `stats` and `callType` mean nothing for HOLD: they are extras, preserved as given (even
    // when they would be invalid for the events that own them).
    let v = json!({"type":"HOLD","detail":{"callId":"c","participant":"p","stats":7,"callType":"sideways","mos":"n/a"}});
    let env = from_value(v.clone(), &opts()).unwrap();
    assert_eq!(env.event.extra().get("stats"), Some(&json!(7)));
    let back: Value = serde_json::from_str(&env.to_json()).unwrap();
    assert_eq!(back, v);
    let from_bytes = parse_event(v.to_string().as_bytes(), &opts()).unwrap();
    assert_eq!(from_bytes, env);
}

#[test]
fn duplicate_keys_keep_the_last_value_like_serde_json() {
    let text =
        r#"{"type":"MUTE","type":"UNMUTE","detail":{"callId":"a","callId":"b","x":1,"x":2}}"#;
    let env = parse_event(text.as_bytes(), &opts()).unwrap();
    assert_eq!((env.event_type(), env.call_id()), (EventType::Unmute, "b"));
    assert_eq!(env.event.extra().get("x"), Some(&json!(2)));
}

proptest! {
    #[test]
    fn reading_bytes_and_reading_a_value_agree(v in arb_json()) {
        // parse_event reads the bytes in one pass; from_value walks a parsed Value. Same
        // payload, same answer: the same envelope, or the same error.
        let bytes = serde_json::to_vec(&v).unwrap();
        let big = ParseOptions { max_bytes: usize::MAX, ..opts() };
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(parse_event(&bytes, &big), from_value(value, &big));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&bytes, &opts());
        let _ = parse_documents(&bytes, &opts());
    }

    #[test]
    fn arbitrary_json_never_panics_and_accepted_payloads_round_trip(v in arb_json()) {
        if let Ok(env) = from_value(v, &opts()) {
            let again = parse_event(env.to_json().as_bytes(), &ParseOptions { max_bytes: usize::MAX, ..opts() });
            prop_assert_eq!(again.as_ref().ok(), Some(&env));
        }
    }
}
