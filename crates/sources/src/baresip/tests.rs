//! The mapping, row by row, with frames recorded from baresip 1.0.0 (two softphones on
//! loopback: A dials B, B auto-answers; C answers by hand).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use voicetk_events::{CallType, Channel, EventType, TelephonyEvent, TelephonyKind};

use super::mapping::{CallTable, Effect, Listed, Phase};
use super::protocol::{Event, Message, parse_message};
use super::{Baresip, BaresipConfig, BaresipConfigError};
use crate::Source;

const A: &str = "sip:a@127.0.0.1:15061";
const B: &str = "sip:b@127.0.0.1:15071";

// A's side of A → B, recorded.
const A_LOCAL_SDP: &str = r#"{"event":true,"type":"CALL_LOCAL_SDP","class":"other","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","param":"offer"}"#;
const A_RINGING: &str = r#"{"event":true,"type":"CALL_RINGING","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"sip:b@127.0.0.1:15071"}"#;
const A_RTCP_RINGING: &str = r#"{"event":true,"type":"CALL_RTCP","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"audio","rtcp_stats":{"tx":{"sent":0,"lost":0,"jit":0},"rx":{"sent":0,"lost":0,"jit":0},"rtt":0}}"#;
const A_REMOTE_SDP: &str = r#"{"event":true,"type":"CALL_REMOTE_SDP","class":"other","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"answer"}"#;
const A_ESTABLISHED: &str = r#"{"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"sip:b@127.0.0.1:15071"}"#;
const A_RTPESTAB: &str = r#"{"event":true,"type":"CALL_RTPESTAB","class":"other","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"audio"}"#;
const A_RTCP: &str = r#"{"event":true,"type":"CALL_RTCP","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"audio","rtcp_stats":{"tx":{"sent":450,"lost":0,"jit":1375},"rx":{"sent":450,"lost":0,"jit":1250},"rtt":0}}"#;
const A_CLOSED: &str = r#"{"event":true,"type":"CALL_CLOSED","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:15071","id":"53aa93130e300aeb","param":"Connection reset by user"}"#;
// C's side of A → C, C answering by hand.
const C_INCOMING: &str = r#"{"event":true,"type":"CALL_INCOMING","class":"call","accountaor":"sip:c@127.0.0.1:15081","direction":"incoming","peeruri":"sip:a@127.0.0.1:15061","id":"69189506e910878f","param":"sip:a@127.0.0.1:15061"}"#;
const C_ESTABLISHED: &str = r#"{"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":"sip:c@127.0.0.1:15081","direction":"incoming","peeruri":"sip:a@127.0.0.1:15061","id":"69189506e910878f","param":"sip:a@127.0.0.1:15061"}"#;
const C_CLOSED: &str = r#"{"event":true,"type":"CALL_CLOSED","class":"call","accountaor":"sip:c@127.0.0.1:15081","direction":"incoming","peeruri":"sip:a@127.0.0.1:15061","id":"69189506e910878f","param":"Connection reset by peer"}"#;
// B's side of A → B: auto-answered, no CALL_INCOMING.
const B_ESTABLISHED: &str = r#"{"event":true,"type":"CALL_ESTABLISHED","class":"call","accountaor":"sip:b@127.0.0.1:15071","direction":"incoming","peeruri":"sip:a@127.0.0.1:15061","id":"53aa93130e300aeb","param":"sip:a@127.0.0.1:15061"}"#;
// A dial that failed at once.
const A_CLOSED_404: &str = r#"{"event":true,"type":"CALL_CLOSED","class":"call","accountaor":"sip:a@127.0.0.1:15061","direction":"outgoing","peeruri":"sip:123@127.0.0.1:15061","id":"7b7560d831f01417","param":"404 Not Found"}"#;

fn event(frame: &str) -> Event {
    match parse_message(frame.as_bytes()).unwrap() {
        Message::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

fn table() -> CallTable {
    CallTable::new(TelephonyKind::Partner, 0xabc)
}

/// The envelopes among the effects, as the JSON the gateway would receive.
fn submitted(effects: &[Effect]) -> Vec<serde_json::Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit { envelope, .. } => {
                Some(serde_json::from_str(&envelope.to_json()).unwrap())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn outgoing_call_started_connected_ended() {
    let mut t = table();
    assert!(t.observe(&event(A_LOCAL_SDP)).is_empty(), "no id yet");

    let started = submitted(&t.observe(&event(A_RINGING)));
    assert_eq!(
        started,
        [json!({
            "type": "CALL_STARTED",
            "detail": {"callId": "53aa93130e300aeb", "callType": "outbound", "participant": B},
            "agent": A,
            "eventId": "baresip:sip:a@127.0.0.1:15061:53aa93130e300aeb:started",
        })]
    );
    assert_eq!(t.get("53aa93130e300aeb").unwrap().phase, Phase::Ringing);
    // RTCP while ringing (all zero) and SDP events: nothing.
    assert!(t.observe(&event(A_RTCP_RINGING)).is_empty());
    assert!(t.observe(&event(A_REMOTE_SDP)).is_empty());

    let connected = submitted(&t.observe(&event(A_ESTABLISHED)));
    assert_eq!(
        connected,
        [json!({
            "type": "CALL_CONNECTED",
            "detail": {"callId": "53aa93130e300aeb", "callType": "outbound", "participant": B},
            "agent": A,
            "eventId": "baresip:sip:a@127.0.0.1:15061:53aa93130e300aeb:connected",
        })]
    );
    assert!(t.observe(&event(A_RTPESTAB)).is_empty());
    // A second CALL_ESTABLISHED (never seen, but harmless) sends nothing.
    assert!(t.observe(&event(A_ESTABLISHED)).is_empty());

    let rtcp = t.observe(&event(A_RTCP));
    let [Effect::Samples { call_id, samples }] = rtcp.as_slice() else {
        panic!("{rtcp:?}")
    };
    assert_eq!(call_id, "53aa93130e300aeb");
    assert_eq!(samples[0].0, Channel::Input);
    assert_eq!((samples[0].1.packets, samples[0].1.jitter_ms), (450, 1.25));
    assert_eq!((samples[1].0, samples[1].1.packets), (Channel::Output, 450));

    let ended = t.observe(&event(A_CLOSED));
    assert_eq!(
        ended[0],
        Effect::EndAudio {
            call_id: "53aa93130e300aeb".into(),
            account: Some(A.into())
        },
        "the call's last AUDIO_STATS go before CALL_ENDED"
    );
    assert_eq!(
        submitted(&ended),
        [json!({
            "type": "CALL_ENDED",
            "detail": {"callId": "53aa93130e300aeb"},
            "agent": A,
            "reason": "Connection reset by user",
            "eventId": "baresip:sip:a@127.0.0.1:15061:53aa93130e300aeb:ended",
        })]
    );
    assert!(t.get("53aa93130e300aeb").is_none());
    // Late events about a closed call are ignored.
    assert!(t.observe(&event(A_RTCP)).is_empty());
    assert!(t.observe(&event(A_CLOSED)).is_empty());
    assert!(t.observe(&event(A_RINGING)).is_empty());
}

#[test]
fn incoming_call_answered_by_hand() {
    let mut t = table();
    let started = submitted(&t.observe(&event(C_INCOMING)));
    assert_eq!(started[0]["type"], "CALL_STARTED");
    assert_eq!(
        started[0]["detail"],
        json!({"callId": "69189506e910878f", "callType": "inbound", "participant": A})
    );
    assert_eq!(started[0]["agent"], "sip:c@127.0.0.1:15081");
    let connected = submitted(&t.observe(&event(C_ESTABLISHED)));
    assert_eq!(connected[0]["type"], "CALL_CONNECTED");
    assert_eq!(connected[0]["detail"]["callType"], "inbound");
    let ended = submitted(&t.observe(&event(C_CLOSED)));
    assert_eq!(ended[0]["reason"], "Connection reset by peer");
    assert_eq!(
        ended[0]["detail"],
        json!({"callId": "69189506e910878f"}),
        "nothing added inside detail"
    );
}

#[test]
fn an_auto_answered_call_is_opened_by_call_connected() {
    let mut t = table();
    let effects = t.observe(&event(B_ESTABLISHED));
    let connected = submitted(&effects);
    assert_eq!(connected.len(), 1, "no CALL_STARTED: {connected:?}");
    assert_eq!(connected[0]["type"], "CALL_CONNECTED");
    assert_eq!(
        connected[0]["detail"],
        json!({"callId": "53aa93130e300aeb", "callType": "inbound", "participant": A})
    );
    assert_eq!(connected[0]["agent"], B);
    assert_eq!(
        t.get("53aa93130e300aeb").unwrap().call_type,
        CallType::Inbound
    );
}

#[test]
fn other_events_are_ignored() {
    let mut t = table();
    for frame in [
        json!({"event":true,"type":"REGISTER_OK","class":"register","accountaor":A,"param":"200 OK"}),
        json!({"event":true,"type":"CALL_LOCAL_SDP","class":"other","accountaor":A,"direction":"incoming","peeruri":B,"id":"x1","param":"answer"}),
        json!({"event":true,"type":"CALL_DTMF_START","class":"call","accountaor":A,"direction":"incoming","peeruri":B,"id":"x1","param":"1"}),
        json!({"event":true,"type":"CALL_RTCP","class":"call","accountaor":A,"direction":"incoming","peeruri":B,"id":"x1","param":"video","rtcp_stats":{"tx":{"sent":1,"lost":0,"jit":0},"rx":{"sent":1,"lost":0,"jit":0},"rtt":0}}),
    ] {
        assert!(t.observe(&event(&frame.to_string())).is_empty(), "{frame}");
    }
    assert!(t.active_ids().is_empty());
}

#[test]
fn a_call_under_way_is_adopted_when_its_media_flows() {
    // voicetk restarted mid-call: the first thing it sees is CALL_RTCP with traffic.
    let mut t = table();
    let effects = t.observe(&event(A_RTCP));
    // CALL_CONNECTED with the stable id it had: the gateway recognises it if it has it.
    let [
        Effect::Submit {
            envelope,
            speculative: true,
        },
        Effect::Samples { .. },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(envelope.event_type(), EventType::CallConnected);
    assert_eq!(
        envelope.event_id.as_deref(),
        Some("baresip:sip:a@127.0.0.1:15061:53aa93130e300aeb:connected")
    );
    let call = t.get("53aa93130e300aeb").unwrap();
    assert_eq!((call.phase, call.peer.as_str()), (Phase::Connected, B));
    // Zero traffic is not enough to adopt a call.
    let mut t = table();
    assert!(t.observe(&event(A_RTCP_RINGING)).is_empty());
    assert!(t.get("53aa93130e300aeb").is_none());
}

#[test]
fn a_close_for_a_call_never_seen_is_speculative() {
    let mut t = table();
    let effects = t.observe(&event(A_CLOSED_404));
    let [
        Effect::Submit {
            envelope,
            speculative: true,
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(envelope.event_type(), EventType::CallEnded);
    // ... and explains a dial that failed at once.
    let closed = t.closed_since(&Default::default()).unwrap();
    assert_eq!(closed.reason, "404 Not Found");
    assert_eq!(
        t.dialed("7b7560d831f01417", "sip:123@127.0.0.1:15061", None),
        Err("404 Not Found".into())
    );
}

#[test]
fn a_dialed_call_is_registered_once() {
    let mut t = table();
    // callstat named the call before any event did.
    let effects = t.dialed("53aa93130e300aeb", B, Some(A.into())).unwrap();
    let started = submitted(&effects);
    assert_eq!(started[0]["type"], "CALL_STARTED");
    assert_eq!(started[0]["detail"]["participant"], B);
    // Then CALL_RINGING arrives: already started.
    assert!(t.observe(&event(A_RINGING)).is_empty());
    // And the other order: the event first, then the dial's registration.
    let mut t = table();
    assert_eq!(submitted(&t.observe(&event(A_RINGING))).len(), 1);
    assert_eq!(t.dialed("53aa93130e300aeb", B, Some(A.into())), Ok(vec![]));
}

#[test]
fn native_telephony_sends_no_call_started_and_no_audio() {
    let mut t = CallTable::new(TelephonyKind::Native, 1);
    assert!(t.observe(&event(A_RINGING)).is_empty());
    assert!(t.get("53aa93130e300aeb").is_some(), "registered silently");
    let connected = submitted(&t.observe(&event(A_ESTABLISHED)));
    assert_eq!(connected[0]["type"], "CALL_CONNECTED");
    assert!(t.observe(&event(A_RTCP)).is_empty());
    let ended = t.observe(&event(A_CLOSED));
    assert_eq!(submitted(&ended)[0]["type"], "CALL_ENDED");
}

#[test]
fn repeatable_events_get_fresh_ids_and_the_agent() {
    let mut t = table();
    t.observe(&event(A_RINGING));
    t.observe(&event(A_ESTABLISHED));
    let hold = TelephonyEvent::with_participant(EventType::Hold, "53aa93130e300aeb", B).unwrap();
    let first = t.stamp(hold.clone());
    let second = t.stamp(hold);
    assert_eq!(first.agent.as_deref(), Some(A));
    assert_ne!(first.event_id, second.event_id);
    assert!(
        first
            .event_id
            .as_deref()
            .unwrap()
            .starts_with("baresip:sip:a@127.0.0.1:15061:53aa93130e300aeb:hold:abc-"),
        "{first:?}"
    );
}

#[test]
fn gone_ends_a_call_once() {
    let mut t = table();
    t.observe(&event(A_RINGING));
    t.observe(&event(A_ESTABLISHED));
    let effects = t.gone("53aa93130e300aeb", "gone");
    assert_eq!(submitted(&effects)[0]["reason"], "gone");
    assert!(t.gone("53aa93130e300aeb", "gone").is_empty());
    assert!(t.observe(&event(A_CLOSED)).is_empty());
}

#[test]
fn config_is_checked() {
    for bad in [
        "",
        "localhost",
        "host:",
        ":4444",
        "host:0",
        "host:99999",
        "a b:1",
    ] {
        assert_eq!(
            Baresip::new(BaresipConfig::new(bad)).unwrap_err(),
            BaresipConfigError::Address { addr: bad.into() },
            "{bad:?}"
        );
    }
    for good in ["127.0.0.1:4444", "[::1]:4444", "softphone.local:4444"] {
        let source = Baresip::new(BaresipConfig::new(good)).unwrap();
        assert_eq!(source.name(), format!("baresip:{good}"));
    }
    let zero = BaresipConfig {
        command_timeout: std::time::Duration::ZERO,
        ..BaresipConfig::new("h:1")
    };
    assert_eq!(
        Baresip::new(zero).unwrap_err().to_string(),
        "baresip command_timeout: must be greater than zero"
    );
}

/// Accepts everything (the gateway lives in another crate); counts what it got.
#[derive(Default)]
struct Count(std::sync::atomic::AtomicU64);

impl crate::EventSink for Count {
    fn submit(
        &self,
        _: voicetk_events::Envelope,
    ) -> futures::future::BoxFuture<'_, Result<u64, crate::SubmitError>> {
        let seq = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(seq) })
    }
}

#[tokio::test]
async fn actions_a_softphone_cannot_do_are_unsupported_before_anything_is_sent() {
    let source = Baresip::new(BaresipConfig::new("127.0.0.1:9")).unwrap();
    let call = crate::CallContext {
        call_id: "53aa93130e300aeb".into(),
        agent: None,
        initial_caller: Some(B.into()),
        third_parties: vec![],
    };
    use crate::{Action, ActionError, ParticipantType};
    for action in [
        Action::Merge,
        Action::Swap,
        Action::PauseRecording,
        Action::ResumeRecording,
        Action::AddParticipant {
            contact_type: "PhoneNumber".into(),
            contact_value: "+1 415 555 0100".into(),
            is_blind_transfer: false,
        },
        Action::EndCall {
            participant_type: Some(ParticipantType::ThirdParty),
        },
        Action::Hold {
            participant_type: ParticipantType::ThirdParty,
        },
    ] {
        let err = source.perform(&call, &action).await.unwrap_err();
        assert!(
            matches!(err, ActionError::Unsupported { .. }),
            "{action}: {err}"
        );
    }
    // Bad digits are named; a call the source does not have is invalid.
    let err = source
        .perform(
            &call,
            &Action::SendDigits {
                digits: "12a".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("digits: "), "{err}");
    let err = source.perform(&call, &Action::Mute).await.unwrap_err();
    assert!(matches!(err, ActionError::Invalid(_)), "{err}");
    // Not connected: dialing fails with the reason.
    let err = source.dial(None, "sip:b@127.0.0.1:5072").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the baresip:127.0.0.1:9 source failed to dial: not connected to baresip at 127.0.0.1:9"
    );
}

#[tokio::test]
async fn without_baresip_the_source_retries_until_shutdown() {
    use crate::HealthState;
    use futures::FutureExt;
    // A loopback port nobody listens on: connections are refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = BaresipConfig {
        reconnect_min: std::time::Duration::from_millis(5),
        reconnect_max: std::time::Duration::from_millis(20),
        ..BaresipConfig::new(format!("127.0.0.1:{port}"))
    };
    let source = std::sync::Arc::new(Baresip::new(config).unwrap());
    assert_eq!(source.health().state, HealthState::Starting);
    let sink = std::sync::Arc::new(Count::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run =
        tokio::spawn(std::sync::Arc::clone(&source).run(sink.clone(), stopped.map(|_| ()).boxed()));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while source.health().failed_attempts < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            source.health()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let health = source.health();
    assert_eq!(health.state, HealthState::Down);
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap()
            .starts_with(&format!("cannot connect to baresip at 127.0.0.1:{port}")),
        "{health:?}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(source.health().state, HealthState::Stopped);
    assert_eq!(sink.0.load(std::sync::atomic::Ordering::SeqCst), 0);
}

fn listed(established: bool) -> Listed {
    Listed {
        call_id: "53aa93130e300aeb".into(),
        peer: B.into(),
        account: Some(A.into()),
        call_type: CallType::Outbound,
        established,
    }
}

#[test]
fn listed_calls_are_announced_with_the_ids_they_had() {
    // Known to this run as ringing, connected meanwhile: CALL_CONNECTED, not speculative.
    let mut t = table();
    let started = submitted(&t.observe(&event(A_RINGING)));
    assert!(
        t.found(listed(false)).is_empty(),
        "still ringing: nothing new"
    );
    let effects = t.found(listed(true));
    let [
        Effect::Submit {
            envelope,
            speculative: false,
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert_eq!(envelope.event_type(), EventType::CallConnected);
    assert!(t.found(listed(true)).is_empty());
    assert!(
        t.observe(&event(A_ESTABLISHED)).is_empty(),
        "connected once"
    );

    // Unknown to this run (a restarted voicetk): announced with the same eventIds as a run
    // that saw the events, so the gateway recognises what it already has.
    let mut fresh = table();
    let again = submitted(&fresh.found(listed(false)));
    assert_eq!(again[0]["eventId"], started[0]["eventId"]);
    assert_eq!(again[0]["detail"], started[0]["detail"]);
    let mut fresh = table();
    let effects = fresh.found(listed(true));
    assert_eq!(submitted(&effects)[0]["type"], "CALL_CONNECTED");
    assert!(matches!(
        effects[0],
        Effect::Submit {
            speculative: true,
            ..
        }
    ));
    // A closed call is not resurrected.
    fresh.observe(&event(A_CLOSED));
    assert!(fresh.found(listed(true)).is_empty());
}
