//! Signatures (Twilio's published vector) and every row of the status-callback table, against
//! a real engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use voicetk_engine::Lifecycle;
use voicetk_events::{CallType, EventType, TelephonyEvent};

use super::*;
use crate::webhook::testing::Harness;

const TOKEN: &str = "12345";
const URL: &str = "https://voice.example.com/v1/sources/twilio";
const CUSTOMER: &str = "+14155550100";
const NUMBER: &str = "+18005551212";

fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn harness() -> Harness<Twilio> {
    Harness::new(Twilio::new(TOKEN, None).unwrap())
}

/// A status callback as Twilio signs and sends it.
fn signed(
    h: &Harness<Twilio>,
    url: &str,
    params: &[(&str, &str)],
) -> Result<Translation, WebhookError> {
    let signature = signature_of(TOKEN, url, &pairs(params));
    h.translate(
        url,
        &[("Content-Type", FORM), ("X-Twilio-Signature", &signature)],
        form(params).as_bytes(),
    )
}

fn deliver(h: &Harness<Twilio>, params: &[(&str, &str)]) -> Vec<EventType> {
    let signature = signature_of(TOKEN, URL, &pairs(params));
    let (_, stored) = h
        .deliver(
            URL,
            &[("Content-Type", FORM), ("X-Twilio-Signature", &signature)],
            form(params).as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{params:?}: {e}"));
    stored.iter().map(|e| e.event_type()).collect()
}

fn ignored(h: &Harness<Twilio>, params: &[(&str, &str)]) -> String {
    let t = signed(h, URL, params).unwrap_or_else(|e| panic!("{params:?}: {e}"));
    assert!(t.events.is_empty(), "{params:?} gave {:?}", t.events);
    t.ignored.expect("a reason")
}

fn callback<'a>(sid: &'a str, status: &'a str, direction: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "AC0000000000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Direction", direction),
        (
            "From",
            if direction == "inbound" {
                CUSTOMER
            } else {
                NUMBER
            },
        ),
        (
            "To",
            if direction == "inbound" {
                NUMBER
            } else {
                CUSTOMER
            },
        ),
        ("CallbackSource", "call-progress-events"),
        ("Timestamp", "Tue, 04 Aug 2021 17:43:48 +0000"),
        ("SequenceNumber", "0"),
    ]
}

#[test]
fn twilios_published_example_signature() {
    // https://www.twilio.com/docs/usage/webhooks/webhooks-security: token 12345.
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]);
    assert_eq!(
        signature_of("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    let twilio = Twilio::new("12345", None).unwrap();
    assert!(twilio.verify(url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    // The order the parameters arrive in does not matter; their values and the URL do.
    let mut shuffled = params.clone();
    shuffled.reverse();
    assert!(twilio.verify(url, &shuffled, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    let mut tampered = params.clone();
    tampered[2].1 = "9999".into();
    assert!(!twilio.verify(url, &tampered, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
    assert!(!twilio.verify(
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    assert!(!twilio.verify(url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
    assert!(!Twilio::new("54321", None).unwrap().verify(
        url,
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    // Twilio's libraries accept the URL with the default port added or removed.
    assert!(twilio.verify(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
}

#[test]
fn url_variants_add_or_remove_the_default_port() {
    assert_eq!(
        url_variants("https://h.example/p?q=1"),
        ["https://h.example/p?q=1", "https://h.example:443/p?q=1"]
    );
    assert_eq!(
        url_variants("http://h.example:80/p"),
        ["http://h.example:80/p", "http://h.example/p"]
    );
    assert_eq!(
        url_variants("http://127.0.0.1:8080/p"),
        ["http://127.0.0.1:8080/p"]
    );
    assert_eq!(
        url_variants("https://[::1]/p"),
        ["https://[::1]/p", "https://[::1]:443/p"]
    );
    assert_eq!(url_variants("no scheme"), ["no scheme"]);
}

#[test]
fn unsigned_forged_and_non_form_requests_are_refused() {
    let h = harness();
    let params = callback("CA1", "ringing", "inbound");
    let body = form(&params);
    let err = h
        .translate(URL, &[("Content-Type", FORM)], body.as_bytes())
        .unwrap_err();
    assert!(matches!(err, WebhookError::Unauthorized(_)), "{err}");
    let forged = signature_of("not-the-token", URL, &pairs(&params));
    let err = h
        .translate(
            URL,
            &[("Content-Type", FORM), ("X-Twilio-Signature", &forged)],
            body.as_bytes(),
        )
        .unwrap_err();
    assert!(matches!(err, WebhookError::Forbidden(_)), "{err}");
    // Signed for another URL (a replay to another endpoint).
    let err = signed(&h, "https://evil.example/v1/sources/twilio", &params)
        .and_then(|_| {
            let sig = signature_of(TOKEN, "https://evil.example/x", &pairs(&params));
            h.translate(
                URL,
                &[("Content-Type", FORM), ("X-Twilio-Signature", &sig)],
                body.as_bytes(),
            )
        })
        .unwrap_err();
    assert!(matches!(err, WebhookError::Forbidden(_)), "{err}");
    let sig = signature_of(TOKEN, URL, &[]);
    let err = h
        .translate(
            URL,
            &[
                ("Content-Type", "application/json"),
                ("X-Twilio-Signature", &sig),
            ],
            b"{}",
        )
        .unwrap_err();
    assert!(
        matches!(err, WebhookError::UnsupportedMediaType(_)),
        "{err}"
    );
    // Nothing was applied.
    assert!(h.calls.call("CA1").is_none());
}

#[test]
fn an_inbound_call_from_ringing_to_completed() {
    let h = harness();
    assert!(ignored(&h, &callback("CA1", "queued", "inbound")).contains("not dialed"));
    assert_eq!(
        deliver(&h, &callback("CA1", "ringing", "inbound")),
        [EventType::CallStarted]
    );
    let call = h.call("CA1");
    assert_eq!(call.call_type, Some(CallType::Inbound));
    assert_eq!(
        call.initial_caller().map(|p| p.participant.as_str()),
        Some(CUSTOMER)
    );
    assert!(ignored(&h, &callback("CA1", "initiated", "inbound")).contains("already started"));
    assert_eq!(
        deliver(&h, &callback("CA1", "in-progress", "inbound")),
        [EventType::CallConnected]
    );
    // Twilio's retry of the same callback gets the same event back (the engine then answers
    // with the original seq).
    let retry = signed(&h, URL, &callback("CA1", "in-progress", "inbound")).unwrap();
    assert_eq!(
        retry.events[0].event_id.as_deref(),
        Some("twilio:CA1:in-progress")
    );
    assert_eq!(
        deliver(&h, &callback("CA1", "completed", "inbound")),
        [EventType::CallEnded]
    );
    assert_eq!(h.call("CA1").lifecycle, Lifecycle::Ended);
    assert!(ignored(&h, &callback("CA1", "failed", "inbound")).contains("already ended"));
}

#[test]
fn outbound_calls_and_every_terminal_status() {
    for status in ["completed", "busy", "failed", "no-answer", "canceled"] {
        let h = harness();
        assert_eq!(
            deliver(&h, &callback("CA2", "initiated", "outbound-api")),
            [EventType::CallStarted]
        );
        let call = h.call("CA2");
        assert_eq!(call.call_type, Some(CallType::Outbound));
        assert_eq!(
            call.initial_caller().map(|p| p.participant.as_str()),
            Some(CUSTOMER)
        );
        assert_eq!(
            deliver(&h, &callback("CA2", status, "outbound-api")),
            [EventType::CallEnded],
            "{status}"
        );
    }
    let h = harness();
    assert!(ignored(&h, &callback("CA3", "completed", "inbound")).contains("never reached"));
    // An answered call voicetk had not seen ringing opens connected.
    assert_eq!(
        deliver(&h, &callback("CA4", "in-progress", "outbound-api")),
        [EventType::CallConnected]
    );
}

#[test]
fn a_dialed_agent_leg_belongs_to_its_parent_call() {
    let h = harness();
    assert_eq!(
        deliver(&h, &callback("CA1", "ringing", "inbound")),
        [EventType::CallStarted]
    );
    let leg = |status: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("CallSid", "CA9"),
            ("ParentCallSid", "CA1"),
            ("CallStatus", status),
            ("Direction", "outbound-dial"),
            ("From", CUSTOMER),
            ("To", "client:ana"),
        ]
    };
    let t = signed(&h, URL, &leg("in-progress")).unwrap();
    assert_eq!(t.events[0].call_id(), "CA1");
    assert_eq!(t.events[0].agent.as_deref(), Some("ana"));
    assert_eq!(
        t.events[0].event_id.as_deref(),
        Some("twilio:CA9:in-progress")
    );
    assert_eq!(deliver(&h, &leg("in-progress")), [EventType::CallConnected]);
    assert_eq!(h.call("CA1").agent.as_deref(), Some("ana"));
    // The agent hangs up: the call ends for the agent.
    assert_eq!(deliver(&h, &leg("completed")), [EventType::CallEnded]);

    // A second agent tried first and did not answer: the call goes on.
    let h = harness();
    deliver(&h, &callback("CA1", "ringing", "inbound"));
    let mut missed = leg("no-answer");
    missed[0].1 = "CA8";
    assert!(ignored(&h, &missed).contains("goes on"));
    assert_eq!(h.call("CA1").lifecycle, Lifecycle::Started);
}

#[test]
fn agents_from_clients_and_the_url() {
    let h = harness();
    // An agent's client calling out: outbound, the participant is To.
    let params = [
        ("CallSid", "CA5"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "client:ben"),
        ("To", CUSTOMER),
    ];
    let t = signed(&h, URL, &params).unwrap();
    let TelephonyEvent::CallStarted(d) = &t.events[0].event else {
        panic!("{t:?}")
    };
    assert_eq!(
        (d.call_type, d.participant.as_str()),
        (CallType::Outbound, CUSTOMER)
    );
    assert_eq!(t.events[0].agent.as_deref(), Some("ben"));
    // The callback URL names the agent (signed with the rest).
    let url = format!("{URL}?agent=cy%20d");
    let t = signed(&h, &url, &callback("CA6", "ringing", "inbound")).unwrap();
    assert_eq!(t.events[0].agent.as_deref(), Some("cy d"));
}

#[test]
fn bad_callbacks_are_refused_naming_the_field() {
    let h = harness();
    let cases: [(Vec<(&str, &str)>, &str); 4] = [
        (
            vec![("CallStatus", "ringing")],
            "CallSid: missing required form field",
        ),
        (
            vec![("CallSid", "CA1")],
            "CallStatus: missing required form field",
        ),
        (
            vec![
                ("CallSid", "CA1"),
                ("CallStatus", "exploded"),
                ("Direction", "inbound"),
                ("From", "+1"),
            ],
            "CallStatus: unknown CallStatus \"exploded\"",
        ),
        (
            vec![
                ("CallSid", "CA1"),
                ("CallStatus", "ringing"),
                ("Direction", "sideways"),
                ("From", "+1"),
            ],
            "Direction: unknown Direction \"sideways\"",
        ),
    ];
    for (params, message) in cases {
        let err = signed(&h, URL, &params).unwrap_err();
        assert!(err.to_string().starts_with(message), "{err} <> {message}");
    }
    let err = signed(
        &h,
        URL,
        &[
            ("CallSid", "CA1"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("From: missing"), "{err}");
}

#[test]
fn a_redelivered_callback_maps_to_the_same_event() {
    let h = harness();
    let params = callback("CA1", "ringing", "inbound");
    let signature = signature_of(TOKEN, URL, &pairs(&params));
    let headers = [
        ("Content-Type", FORM),
        ("X-Twilio-Signature", signature.as_str()),
    ];
    let (first, stored) = h.deliver(URL, &headers, form(&params).as_bytes()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        first.events[0].event_id.as_deref(),
        Some("twilio:CA1:ringing")
    );
    let (again, stored) = h.deliver(URL, &headers, form(&params).as_bytes()).unwrap();
    assert_eq!(again, first);
    assert!(stored.is_empty());
}

#[test]
fn configuration_errors_are_clear() {
    assert_eq!(
        Twilio::new("  ", None).unwrap_err(),
        TwilioConfigError::MissingToken
    );
    assert!(Twilio::new("t", Some("voice.example.com/x".into())).is_err());
    let t = Twilio::new("secret-token", Some(URL.into())).unwrap();
    assert_eq!(t.public_url(), Some(URL));
    assert!(!format!("{t:?}").contains("secret-token"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), sig in "\\PC{0,40}") {
        let h = harness();
        let _ = h.translate(URL, &[("Content-Type", FORM), ("X-Twilio-Signature", &sig)], &body);
    }

    #[test]
    fn arbitrary_signed_forms_never_panic(
        params in proptest::collection::vec(
            (prop::sample::select(vec!["CallSid", "CallStatus", "Direction", "From", "To", "ParentCallSid", "X"]),
             prop_oneof![Just(String::new()), "\\PC{0,12}", prop::sample::select(vec!["ringing", "in-progress", "completed", "inbound", "outbound-dial", "client:ana", "CA1"]).prop_map(str::to_owned)]),
            0..8),
        url in prop_oneof![Just(URL.to_owned()), "\\PC{0,30}"],
    ) {
        let h = harness();
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let _ = signed(&h, &url, &refs);
    }
}
