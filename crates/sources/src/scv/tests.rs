//! Every row of the SCV translation table, against a real engine: translate, apply, look.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use voicetk_engine::{Lifecycle, Recording};
use voicetk_events::{CallType, Channel, Envelope, EventType, TelephonyEvent};

use super::*;
use crate::webhook::testing::Harness;
use crate::{Action, ActionError, CallContext, Source};

const URL: &str = "http://127.0.0.1/v1/sources/scv";
const JSON: (&str, &str) = ("content-type", "application/json");
const CUSTOMER: &str = "+1 415 555 0100";
const THIRD: &str = "+1 415 555 0199";

fn harness() -> Harness<Scv> {
    Harness::new(Scv::new())
}

fn send(h: &Harness<Scv>, body: Value) -> Result<Translation, WebhookError> {
    h.translate(URL, &[JSON], body.to_string().as_bytes())
}

/// Translates a request authenticated by a token scoped to `agent`.
fn send_as(h: &Harness<Scv>, agent: &str, body: Value) -> Result<Translation, WebhookError> {
    h.translate_as(Some(agent), URL, &[JSON], body.to_string().as_bytes())
}

/// Delivers a request authenticated by a token scoped to `agent`; the stored events.
fn deliver_as(h: &Harness<Scv>, agent: &str, body: Value) -> Vec<Envelope> {
    let (_, stored) = h
        .deliver_as(Some(agent), URL, &[JSON], body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{body}: {e}"));
    stored
}

/// The refusal of a request scoped to `agent`, which must be a conflict (HTTP 409).
fn conflict_as(h: &Harness<Scv>, agent: &str, body: Value) -> String {
    match send_as(h, agent, body.clone()) {
        Err(WebhookError::Conflict(m)) => m,
        other => panic!("{body}: expected a conflict, got {other:?}"),
    }
}

/// Delivers and returns the stored events' types.
fn deliver(h: &Harness<Scv>, body: Value) -> Vec<EventType> {
    let (_, stored) = h
        .deliver(URL, &[JSON], body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{body}: {e}"));
    stored.iter().map(|e| e.event_type()).collect()
}

fn ignored(h: &Harness<Scv>, body: Value) -> String {
    let t = send(h, body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert!(t.events.is_empty(), "{body} gave {:?}", t.events);
    t.ignored.expect("a reason")
}

fn phone_call(call_id: &str, call_type: &str, number: &str) -> Value {
    json!({"callId": call_id, "callType": call_type, "phoneNumber": number,
           "callAttributes": {"participantType": "Initial_Caller"}, "state": "ringing"})
}

/// A connected inbound call for `agent` with the customer on it.
fn connected_call(h: &Harness<Scv>, call_id: &str, agent: &str) {
    let types = deliver(
        h,
        json!({"eventType": "CALL_STARTED", "agent": agent,
               "payload": {"call": phone_call(call_id, "Inbound", CUSTOMER)}}),
    );
    assert_eq!(types, [EventType::CallStarted]);
    let types = deliver(
        h,
        json!({"eventType": "CALL_CONNECTED", "agent": agent,
               "payload": {"call": phone_call(call_id, "Inbound", CUSTOMER)}}),
    );
    assert_eq!(types, [EventType::CallConnected]);
}

/// A connected call with a third party added (the customer on hold, as in a consult).
fn three_way(h: &Harness<Scv>, call_id: &str) {
    connected_call(h, call_id, "ana");
    deliver(
        h,
        json!({"eventType": "HOLD_TOGGLE", "agent": "ana",
               "payload": {"isCustomerOnHold": true}}),
    );
    deliver(
        h,
        json!({"eventType": "PARTICIPANT_ADDED", "agent": "ana",
               "payload": {"phoneNumber": THIRD, "callId": "leg-2",
                           "callInfo": {"isOnHold": false, "parentCallId": call_id},
                           "initialCallHasEnded": false}}),
    );
}

fn held(h: &Harness<Scv>, call_id: &str) -> Vec<String> {
    h.call(call_id)
        .on_hold()
        .map(|p| p.participant.clone())
        .collect()
}

#[test]
fn call_started_from_a_call_result_or_a_phone_call() {
    let h = harness();
    let t = send(
        &h,
        json!({"eventType": "CALL_STARTED", "agent": "ana",
               "payload": {"call": phone_call("c-1", "Inbound", CUSTOMER)}}),
    )
    .unwrap();
    let TelephonyEvent::CallStarted(d) = &t.events[0].event else {
        panic!("{t:?}")
    };
    assert_eq!(
        (d.call_id.as_str(), d.call_type, d.participant.as_str()),
        ("c-1", CallType::Inbound, CUSTOMER)
    );
    assert_eq!(t.events[0].agent.as_deref(), Some("ana"));
    // The PhoneCall itself as the payload, number from the contact.
    let t = send(
        &h,
        json!({"eventType": "CALL_STARTED", "payload": {"callId": "c-2", "callType": "outbound",
               "contact": {"phoneNumber": "+1 212 555 0111", "type": "PhoneNumber"}}}),
    )
    .unwrap();
    let TelephonyEvent::CallStarted(d) = &t.events[0].event else {
        panic!("{t:?}")
    };
    assert_eq!(
        (d.call_type, d.participant.as_str()),
        (CallType::Outbound, "+1 212 555 0111")
    );
    assert_eq!(t.events[0].agent, None);
}

#[test]
fn call_types_map_to_inbound_or_outbound() {
    let h = harness();
    for (scv, toolkit) in [
        ("Inbound", Some(CallType::Inbound)),
        ("Transfer", Some(CallType::Inbound)),
        ("InternalCall", Some(CallType::Inbound)),
        ("Outbound", Some(CallType::Outbound)),
        ("Callback", Some(CallType::Outbound)),
        ("DialedCallback", Some(CallType::Outbound)),
        ("AddParticipant", None),
        ("Consult", None),
    ] {
        let t = send(
            &h,
            json!({"eventType": "CALL_STARTED", "payload": {"call": phone_call("c", scv, CUSTOMER)}}),
        )
        .unwrap();
        match toolkit {
            Some(ct) => {
                let TelephonyEvent::CallStarted(d) = &t.events[0].event else {
                    panic!("{scv}: {t:?}")
                };
                assert_eq!(d.call_type, ct, "{scv}");
            }
            None => assert!(t.events.is_empty() && t.ignored.is_some(), "{scv}: {t:?}"),
        }
    }
    let err = send(
        &h,
        json!({"eventType": "CALL_STARTED", "payload": {"call": phone_call("c", "Sideways", CUSTOMER)}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("payload.call.callType: unknown SCV callType \"Sideways\""),
        "{err}"
    );
}

#[test]
fn participant_comes_from_the_number_or_the_contact() {
    let h = harness();
    let t = send(
        &h,
        json!({"eventType": "CALL_STARTED", "payload": {"call": {"callId": "c", "callType": "Inbound",
               "contact": {"name": "Billing queue"}}}}),
    )
    .unwrap();
    assert_eq!(t.events[0].event.participant(), Some("Billing queue"));
    let err = send(
        &h,
        json!({"eventType": "CALL_STARTED", "payload": {"call": {"callId": "c", "callType": "Inbound"}}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("payload.call.phoneNumber: missing"),
        "{err}"
    );
}

#[test]
fn call_connected_opens_or_connects_once_and_keeps_call_attributes() {
    let h = harness();
    // No CALL_STARTED first (as after a desk-phone answer): CALL_CONNECTED opens the call.
    let mut call = phone_call("c-1", "Inbound", CUSTOMER);
    call["callAttributes"]["voiceCallId"] = json!("0LQ000000000001");
    let body = json!({"eventType": "CALL_CONNECTED", "agent": "ana", "payload": {"call": call}});
    assert_eq!(deliver(&h, body.clone()), [EventType::CallConnected]);
    let state = h.call("c-1");
    assert_eq!(state.lifecycle, Lifecycle::Connected);
    let attrs = state.call_attributes.clone().unwrap();
    assert_eq!(attrs["voiceCallId"], json!("0LQ000000000001"));
    assert_eq!(attrs["participantType"], json!("Initial_Caller"));
    assert!(ignored(&h, body).contains("already connected"));
    // CALL_STARTED for a known call: nothing.
    let again = json!({"eventType": "CALL_STARTED", "payload": {"call": phone_call("c-1", "Inbound", CUSTOMER)}});
    assert!(ignored(&h, again).contains("already connected"));
    // Started then connected.
    connected_call(&h, "c-2", "ben");
    assert_eq!(h.call("c-2").agent.as_deref(), Some("ben"));
}

#[test]
fn hangup_in_every_shape_ends_the_call_once() {
    for payload in [
        json!({"calls": [phone_call("c-1", "Inbound", CUSTOMER)]}),
        json!({"calls": phone_call("c-1", "Inbound", CUSTOMER)}),
        json!({"call": phone_call("c-1", "Inbound", CUSTOMER)}),
        phone_call("c-1", "Inbound", CUSTOMER),
        json!([phone_call("c-1", "Inbound", CUSTOMER), {"callId": "leg-2", "phoneNumber": THIRD}]),
    ] {
        let h = harness();
        connected_call(&h, "c-1", "ana");
        let body = json!({"eventType": "HANGUP", "payload": payload});
        assert_eq!(deliver(&h, body.clone()), [EventType::CallEnded], "{body}");
        assert_eq!(h.call("c-1").lifecycle, Lifecycle::Ended);
        assert!(ignored(&h, body).contains("already ended"));
    }
    // A leg known only by its number ends its call.
    let h = harness();
    connected_call(&h, "c-1", "ana");
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "HANGUP", "payload": {"calls": [{"callId": "vendor-leg", "phoneNumber": CUSTOMER}]}})
        ),
        [EventType::CallEnded]
    );
    // A call voicetk never saw: a conflict.
    let err = send(
        &h,
        json!({"eventType": "HANGUP", "payload": {"calls": [phone_call("nope", "Inbound", "+1 000")]}}),
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::Conflict(_)), "{err}");
}

#[test]
fn call_failed_ends_a_live_call_and_ignores_the_rest() {
    let h = harness();
    assert!(ignored(&h, json!({"eventType": "CALL_FAILED"})).contains("never became a call"));
    deliver(
        &h,
        json!({"eventType": "CALL_STARTED", "payload": {"call": phone_call("c-1", "Outbound", CUSTOMER)}}),
    );
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "CALL_FAILED", "payload": {"call": {"callId": "c-1"}}})
        ),
        [EventType::CallEnded]
    );
}

#[test]
fn mute_toggle_becomes_mute_or_unmute_of_the_agents_call() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    // MuteToggleResult names no call: the agent's only live call.
    let mute = json!({"eventType": "MUTE_TOGGLE", "agent": "ana", "payload": {"isMuted": true}});
    assert_eq!(deliver(&h, mute.clone()), [EventType::Mute]);
    assert!(h.call("c-1").muted);
    assert!(ignored(&h, mute).contains("already muted"));
    let unmute = json!({"eventType": "MUTE_TOGGLE", "agent": "ana",
                        "payload": {"isMuted": false, "call": {"callId": "c-1"}}});
    assert_eq!(deliver(&h, unmute), [EventType::Unmute]);
    assert!(!h.call("c-1").muted);
    // Another agent's call does not count; with two live calls the request must say which.
    connected_call(&h, "c-2", "ben");
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "MUTE_TOGGLE", "agent": "ben", "payload": {"isMuted": true}})
        ),
        [EventType::Mute]
    );
    assert!(h.call("c-2").muted && !h.call("c-1").muted);
    let err = send(
        &h,
        json!({"eventType": "MUTE_TOGGLE", "payload": {"isMuted": true}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("callId: MUTE_TOGGLE does not say which call"),
        "{err}"
    );
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "MUTE_TOGGLE", "callId": "c-1", "payload": {"isMuted": true}})
        ),
        [EventType::Mute]
    );
    // Unknown calls are conflicts.
    let err = send(
        &h,
        json!({"eventType": "MUTE_TOGGLE", "callId": "nope", "payload": {"isMuted": true}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        WebhookError::Conflict("MUTE_TOGGLE for call nope, which voicetk does not know".into())
    );
    let err = send(
        &h,
        json!({"eventType": "MUTE_TOGGLE", "agent": "cy", "payload": {"isMuted": true}}),
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::Conflict(_)), "{err}");
    // Shape: isMuted is required and boolean.
    let err = send(
        &h,
        json!({"eventType": "MUTE_TOGGLE", "callId": "c-1", "payload": {"isMuted": "yes"}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "payload.isMuted: expected a boolean, found string \"yes\""
    );
}

#[test]
fn recording_toggle_becomes_pause_or_resume_recording() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    let pause = json!({"eventType": "RECORDING_TOGGLE", "agent": "ana",
                       "payload": {"isRecordingPaused": true, "contactId": "c-1"}});
    assert_eq!(deliver(&h, pause.clone()), [EventType::PauseRecording]);
    assert_eq!(h.call("c-1").recording, Recording::Paused);
    assert!(ignored(&h, pause).contains("already paused"));
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "RECORDING_TOGGLE", "agent": "ana", "payload": {"isRecordingPaused": false}})
        ),
        [EventType::ResumeRecording]
    );
    let err = send(
        &h,
        json!({"eventType": "RECORDING_TOGGLE", "agent": "ana", "payload": {}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "payload.isRecordingPaused: missing required field (expected a boolean)"
    );
}

#[test]
fn hold_toggle_holds_and_resumes_whoever_changed() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    let hold = json!({"eventType": "HOLD_TOGGLE", "agent": "ana",
                      "payload": {"isCustomerOnHold": true, "isThirdPartyOnHold": false}});
    let t = send(&h, hold.clone()).unwrap();
    assert_eq!(t.events[0].event.participant(), Some(CUSTOMER));
    assert_eq!(deliver(&h, hold.clone()), [EventType::Hold]);
    assert_eq!(held(&h, "c-1"), [CUSTOMER]);
    // The same flags again change nothing.
    assert!(ignored(&h, hold).contains("changes nothing"));
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "payload": {"isCustomerOnHold": false}})
        ),
        [EventType::Resume]
    );
    assert!(held(&h, "c-1").is_empty());
}

#[test]
fn hold_toggle_finds_its_call_in_the_calls_it_lists() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    connected_call(&h, "c-2", "ana");
    // The demo connector sends its active calls keyed by call id.
    let body = json!({"eventType": "HOLD_TOGGLE", "agent": "ana",
        "payload": {"isCustomerOnHold": true, "calls": {"c-2": phone_call("c-2", "Inbound", CUSTOMER)}}});
    assert_eq!(deliver(&h, body), [EventType::Hold]);
    assert_eq!(held(&h, "c-2"), [CUSTOMER]);
    assert!(held(&h, "c-1").is_empty());
}

#[test]
fn third_party_lifecycle_swap_and_conference() {
    let h = harness();
    three_way(&h, "c-1");
    let call = h.call("c-1");
    assert_eq!(call.participants.len(), 2);
    assert_eq!(held(&h, "c-1"), [CUSTOMER]);
    // PARTICIPANT_CONNECTED of the one already added: nothing new.
    let connected = json!({"eventType": "PARTICIPANT_CONNECTED", "agent": "ana",
        "payload": {"phoneNumber": THIRD, "callId": "leg-2", "callInfo": {"isOnHold": false},
                    "initialCallHasEnded": false}});
    assert!(ignored(&h, connected).contains("already on call c-1"));
    // Both flags flip: SWAP.
    let swapped = json!({"eventType": "PARTICIPANTS_SWAPPED", "agent": "ana",
        "payload": {"isCustomerOnHold": false, "isThirdPartyOnHold": true}});
    assert_eq!(deliver(&h, swapped), [EventType::Swap]);
    assert_eq!(held(&h, "c-1"), [THIRD]);
    // Same as a HOLD_TOGGLE that flips both.
    let toggled = json!({"eventType": "HOLD_TOGGLE", "agent": "ana",
        "payload": {"isCustomerOnHold": true, "isThirdPartyOnHold": false}});
    assert_eq!(deliver(&h, toggled), [EventType::Swap]);
    assert_eq!(held(&h, "c-1"), [CUSTOMER]);
    // Merge: CONFERENCE, everyone off hold.
    let merged = json!({"eventType": "PARTICIPANTS_CONFERENCED", "agent": "ana",
        "payload": {"isCustomerOnHold": false, "isThirdPartyOnHold": false}});
    assert_eq!(deliver(&h, merged.clone()), [EventType::Conference]);
    assert!(held(&h, "c-1").is_empty());
    assert!(ignored(&h, merged).contains("changes nothing"));
    // The third party hangs up (its own leg, known by its number).
    let removed = json!({"eventType": "PARTICIPANT_REMOVED", "agent": "ana",
        "payload": {"call": {"callId": "leg-2", "phoneNumber": THIRD,
                             "callAttributes": {"participantType": "Third_Party"}}}});
    assert_eq!(
        deliver(&h, removed.clone()),
        [EventType::ParticipantRemoved]
    );
    assert!(h.call("c-1").participant(THIRD).is_none());
    assert!(ignored(&h, removed).contains("is not on call c-1"));
}

#[test]
fn hold_toggle_with_is_call_merged_is_a_conference() {
    let h = harness();
    three_way(&h, "c-1");
    let body = json!({"eventType": "HOLD_TOGGLE", "agent": "ana",
        "payload": {"isCustomerOnHold": false, "isThirdPartyOnHold": false, "isCallMerged": true}});
    assert_eq!(deliver(&h, body), [EventType::Conference]);
    assert!(held(&h, "c-1").is_empty());
    // With three participants a toggle of the customer alone is a plain HOLD.
    deliver(
        &h,
        json!({"eventType": "PARTICIPANT_ADDED", "agent": "ana",
               "payload": {"phoneNumber": "+1 415 555 0177", "callAttributes": {"parentId": "c-1"}}}),
    );
    assert_eq!(
        deliver(
            &h,
            json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "payload": {"isCustomerOnHold": true}})
        ),
        [EventType::Hold]
    );
}

#[test]
fn participant_added_names_its_call_through_parent_ids_and_can_drop_the_initial_caller() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    connected_call(&h, "c-2", "ana");
    // Two live calls: the parent id decides.
    let added = json!({"eventType": "PARTICIPANT_ADDED", "agent": "ana",
        "payload": {"phoneNumber": THIRD, "callId": "leg-9", "callAttributes": {"parentId": "c-2"},
                    "initialCallHasEnded": true}});
    assert_eq!(
        deliver(&h, added),
        [EventType::ParticipantAdded, EventType::ParticipantRemoved]
    );
    let call = h.call("c-2");
    assert!(call.participant(THIRD).is_some() && call.participant(CUSTOMER).is_none());
    assert_eq!(h.call("c-1").participants.len(), 1);
    let err = send(
        &h,
        json!({"eventType": "PARTICIPANT_ADDED", "agent": "ana", "payload": {"callId": "leg-9"}}),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("payload.phoneNumber: missing"),
        "{err}"
    );
}

#[test]
fn participant_removed_by_role() {
    let h = harness();
    three_way(&h, "c-1");
    // The customer's leg hangs up: named by its role only.
    let body = json!({"eventType": "PARTICIPANT_REMOVED", "agent": "ana",
        "payload": {"call": {"callId": "c-1", "callAttributes": {"participantType": "Initial_Caller"}}}});
    assert_eq!(deliver(&h, body), [EventType::ParticipantRemoved]);
    assert!(h.call("c-1").participant(CUSTOMER).is_none());
    let err = send(
        &h,
        json!({"eventType": "PARTICIPANT_REMOVED", "agent": "ana", "payload": {"call": {"callId": "c-1"}}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("payload.call.phoneNumber: missing"),
        "{err}"
    );
}

#[test]
fn update_audio_stats_gives_one_event_per_channel_with_the_connectors_numbers() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    let body = json!({"eventType": "UPDATE_AUDIO_STATS", "agent": "ana", "payload": {"callId": "c-1",
    "stats": [
        {"inputChannelStats": {"packetsCount": 1500, "packetsLost": 15, "jitterBufferMillis": 20, "roundTripTimeMillis": 80},
         "outputChannelStats": {"packetsCount": 1490, "packetsLost": 0, "jitterBufferMillis": 4, "roundTripTimeMillis": 80}},
        {"inputChannelStats": {"packetsCount": 1500, "packetsLost": 5, "jitterBufferMillis": 25, "roundTripTimeMillis": 81}}
    ]}});
    let (t, stored) = h
        .deliver(URL, &[JSON], body.to_string().as_bytes())
        .unwrap();
    assert_eq!(stored.len(), 2);
    let TelephonyEvent::AudioStats(input) = &t.events[0].event else {
        panic!("{t:?}")
    };
    assert_eq!(input.stats, Channel::Input);
    assert_eq!(
        (
            input.packets_count,
            input.packets_lost,
            input.jitter_buffer_millis,
            input.round_trip_time_millis,
            input.stats_count
        ),
        (3000, 20, 23, 81, 2)
    );
    // 20 of 3020 expected lost; the means as reported.
    let loss = 100.0 * 20.0 / 3020.0;
    assert_eq!(input.mos, Some(mos(81.0, 23.0, loss)));
    let TelephonyEvent::AudioStats(output) = &t.events[1].event else {
        panic!("{t:?}")
    };
    assert_eq!(
        (output.stats, output.packets_count, output.stats_count),
        (Channel::Output, 1490, 1)
    );
    assert_eq!(output.mos, Some(mos(80.0, 4.0, 0.0)));
    let call = h.call("c-1");
    assert_eq!(
        call.audio.input.as_ref().map(|a| a.packets_count),
        Some(3000)
    );
    // Bad numbers are named.
    let bad = json!({"eventType": "UPDATE_AUDIO_STATS", "payload": {"callId": "c-1",
        "stats": [{"inputChannelStats": {"packetsCount": 10.5}}]}});
    assert_eq!(
        send(&h, bad).unwrap_err().to_string(),
        "payload.stats[0].inputChannelStats.packetsCount: expected a whole number of packets, found 10.5"
    );
    let bad = json!({"eventType": "UPDATE_AUDIO_STATS", "payload": {"callId": "c-1",
        "stats": [{"outputChannelStats": {"jitterBufferMillis": -1}}]}});
    assert_eq!(
        send(&h, bad).unwrap_err().to_string(),
        "payload.stats[0].outputChannelStats.jitterBufferMillis: expected a number >= 0, found -1"
    );
    assert!(
        ignored(
            &h,
            json!({"eventType": "UPDATE_AUDIO_STATS", "payload": {"callId": "c-1"}})
        )
        .contains("no stats")
    );
    assert!(
        ignored(
            &h,
            json!({"eventType": "UPDATE_AUDIO_STATS", "payload": {"callId": "c-1", "stats": [{}]}})
        )
        .contains("no inputChannelStats")
    );
}

#[test]
fn wrap_up_ended_closes_an_ended_call() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    deliver(
        &h,
        json!({"eventType": "HANGUP", "payload": {"calls": [phone_call("c-1", "Inbound", CUSTOMER)]}}),
    );
    let wrap = json!({"eventType": "WRAP_UP_ENDED", "payload": {"callId": "c-1"}});
    assert_eq!(deliver(&h, wrap.clone()), [EventType::WrapUpEnded]);
    assert_eq!(h.call("c-1").lifecycle, Lifecycle::Closed);
    assert!(ignored(&h, wrap).contains("already closed"));
    let err = send(&h, json!({"eventType": "WRAP_UP_ENDED", "payload": {}})).unwrap_err();
    assert!(
        err.to_string().starts_with("payload.callId: missing"),
        "{err}"
    );
    let err = send(
        &h,
        json!({"eventType": "WRAP_UP_ENDED", "payload": {"callId": "x"}}),
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::Conflict(_)), "{err}");
}

#[test]
fn event_types_without_a_counterpart_are_answered_and_unknown_ones_refused() {
    let h = harness();
    for (t, _) in IGNORED {
        let reason = ignored(&h, json!({"eventType": t, "payload": {}}));
        assert!(reason.starts_with(&format!("SCV {t}: ")), "{reason}");
    }
    let err = send(&h, json!({"eventType": "TELEPORT", "payload": {}})).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("eventType: unknown SCV event type \"TELEPORT\""),
        "{err}"
    );
}

#[test]
fn bad_bodies_are_refused_naming_the_field() {
    let h = harness();
    let cases: [(&[u8], &str); 6] = [
        (b"{not json", "malformed JSON"),
        (b"[1,2]", "$: expected an object, found an array"),
        (
            b"{}",
            "eventType: missing required field (expected a non-empty string)",
        ),
        (
            br#"{"eventType":"HOLD_TOGGLE"}"#,
            "payload: missing required field (expected the object HOLD_TOGGLE publishes)",
        ),
        (
            br#"{"eventType":"HOLD_TOGGLE","payload":[]}"#,
            "payload: expected an object, found an array",
        ),
        (
            br#"{"eventType":"CALL_STARTED","agent":"","payload":{}}"#,
            "agent: expected a non-empty string, found \"\"",
        ),
    ];
    for (body, message) in cases {
        let err = h.translate(URL, &[JSON], body).unwrap_err();
        assert!(err.to_string().starts_with(message), "{err} <> {message}");
    }
    let err = h
        .translate(URL, &[("content-type", "text/plain")], b"{}")
        .unwrap_err();
    assert!(
        matches!(err, WebhookError::UnsupportedMediaType(_)),
        "{err}"
    );
}

#[test]
fn a_redelivered_toggle_gets_its_first_translation_back() {
    let h = harness();
    connected_call(&h, "c-1", "ana");
    let hold = json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "eventId": "evt-7",
                      "payload": {"isCustomerOnHold": true}});
    let (first, stored) = h
        .deliver(URL, &[JSON], hold.to_string().as_bytes())
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(first.events[0].event_id.as_deref(), Some("scv:evt-7"));
    // The state moved on; the retry still maps to the same event (so the same seq).
    deliver(
        &h,
        json!({"eventType": "HOLD_TOGGLE", "agent": "ana", "payload": {"isCustomerOnHold": false}}),
    );
    let (again, stored) = h
        .deliver(URL, &[JSON], hold.to_string().as_bytes())
        .unwrap();
    assert_eq!(again, first);
    assert!(stored.is_empty(), "a duplicate stores nothing");
    // The Idempotency-Key header works the same and wins over eventId.
    let (keyed, _) = h
        .deliver(
            URL,
            &[JSON, ("Idempotency-Key", "k-1")],
            json!({"eventType": "MUTE_TOGGLE", "agent": "ana", "eventId": "ignored",
                   "payload": {"isMuted": true}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(keyed.delivery.as_deref(), Some("k-1"));
    assert_eq!(keyed.events[0].event_id.as_deref(), Some("scv:k-1"));
    assert!(h.webhook.owns("c-1") && !h.webhook.owns("c-9"));
}

#[test]
fn an_agent_scoped_token_reaches_only_its_agents_calls() {
    let h = harness();
    connected_call(&h, "c-ben", "ben");
    let untouched = |h: &Harness<Scv>| {
        let call = h.call("c-ben");
        assert!(!call.muted, "{call:?}");
        assert_eq!(call.lifecycle, Lifecycle::Connected);
        assert_eq!(call.recording, Recording::Active);
        assert_eq!(held(h, "c-ben"), Vec::<String>::new());
        assert_eq!(call.participants.len(), 1);
    };
    // Without an agent in the payload, ben's only live call is not ana's only live call, and
    // the refusal does not name it.
    for body in [
        json!({"eventType": "MUTE_TOGGLE", "payload": {"isMuted": true}}),
        json!({"eventType": "HOLD_TOGGLE", "payload": {"isCustomerOnHold": true}}),
        json!({"eventType": "RECORDING_TOGGLE", "payload": {"isRecordingPaused": true}}),
        json!({"eventType": "HOLD_TOGGLE",
               "payload": {"isCustomerOnHold": true, "calls": [{"phoneNumber": CUSTOMER}]}}),
        json!({"eventType": "HANGUP", "payload": {"phoneNumber": CUSTOMER}}),
        json!({"eventType": "PARTICIPANT_REMOVED", "payload": {"phoneNumber": CUSTOMER}}),
    ] {
        let m = conflict_as(&h, "ana", body);
        assert!(!m.contains("c-ben"), "{m}");
    }
    // Named by callId or by the payload's ids, ben's call is a call voicetk does not know.
    let m = conflict_as(
        &h,
        "ana",
        json!({"eventType": "MUTE_TOGGLE", "callId": "c-ben", "payload": {"isMuted": true}}),
    );
    assert_eq!(m, "MUTE_TOGGLE for call c-ben, which voicetk does not know");
    for body in [
        json!({"eventType": "MUTE_TOGGLE", "payload": {"isMuted": true, "call": {"callId": "c-ben"}}}),
        json!({"eventType": "RECORDING_TOGGLE",
               "payload": {"isRecordingPaused": true, "contactId": "c-ben"}}),
        json!({"eventType": "HOLD_TOGGLE",
               "payload": {"isCustomerOnHold": true, "calls": {"c-ben": {"callId": "c-ben"}}}}),
        json!({"eventType": "PARTICIPANT_ADDED",
               "payload": {"phoneNumber": THIRD, "callId": "leg-2",
                           "callInfo": {"parentCallId": "c-ben"}}}),
        json!({"eventType": "UPDATE_AUDIO_STATS", "payload": {"callId": "c-ben", "stats": []}}),
        json!({"eventType": "HANGUP", "callId": "c-ben", "payload": {}}),
        json!({"eventType": "HANGUP", "payload": {"callId": "c-ben"}}),
        json!({"eventType": "WRAP_UP_ENDED", "payload": {"callId": "c-ben"}}),
        json!({"eventType": "CALL_CONNECTED",
               "payload": {"call": phone_call("c-ben", "Inbound", CUSTOMER)}}),
        json!({"eventType": "CALL_STARTED",
               "payload": {"call": phone_call("c-ben", "Inbound", CUSTOMER)}}),
    ] {
        let m = conflict_as(&h, "ana", body.clone());
        assert!(
            m.contains("does not know") || m.contains("names no call") || m.contains("in use"),
            "{body}: {m}"
        );
    }
    let why = send_as(
        &h,
        "ana",
        json!({"eventType": "CALL_FAILED", "payload": {"callId": "c-ben"}}),
    )
    .unwrap();
    assert!(why.events.is_empty(), "{why:?}");
    // Another agent in the payload is refused outright.
    let err = send_as(
        &h,
        "ana",
        json!({"eventType": "MUTE_TOGGLE", "agent": "ben", "payload": {"isMuted": true}}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        WebhookError::Forbidden(
            "agent: this token may publish for agent \"ana\" only, not \"ben\"".into()
        )
    );
    untouched(&h);

    // Ana's own call: her token's agent is the events' agent, and a toggle that names no call
    // is about her only live call, though ben's is live too (with the same customer on it).
    let started = deliver_as(
        &h,
        "ana",
        json!({"eventType": "CALL_CONNECTED",
               "payload": {"call": phone_call("c-ana", "Inbound", CUSTOMER)}}),
    );
    assert_eq!(started[0].agent.as_deref(), Some("ana"));
    assert_eq!(h.call("c-ana").agent.as_deref(), Some("ana"));
    let muted = deliver_as(
        &h,
        "ana",
        json!({"eventType": "MUTE_TOGGLE", "agent": "ana", "payload": {"isMuted": true}}),
    );
    assert_eq!(
        (
            muted[0].event_type(),
            muted[0].call_id(),
            muted[0].agent.as_deref()
        ),
        (EventType::Mute, "c-ana", Some("ana"))
    );
    let held_by_number = deliver_as(
        &h,
        "ana",
        json!({"eventType": "HOLD_TOGGLE",
               "payload": {"isCustomerOnHold": true, "calls": [{"phoneNumber": CUSTOMER}]}}),
    );
    assert_eq!(
        (held_by_number[0].event_type(), held_by_number[0].call_id()),
        (EventType::Hold, "c-ana")
    );
    untouched(&h);
    // Unscoped, the same request is ambiguous between the two calls and says so.
    let err = send(
        &h,
        json!({"eventType": "HOLD_TOGGLE",
               "payload": {"isCustomerOnHold": false, "calls": [{"phoneNumber": CUSTOMER}]}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("several live calls"), "{err}");
    // A call no agent was named for is no agent's: a scoped token cannot take it over.
    deliver(
        &h,
        json!({"eventType": "CALL_CONNECTED",
               "payload": {"call": phone_call("c-none", "Inbound", THIRD)}}),
    );
    conflict_as(
        &h,
        "ana",
        json!({"eventType": "HANGUP", "callId": "c-none", "payload": {}}),
    );
    assert_eq!(h.call("c-none").lifecycle, Lifecycle::Connected);
}

#[test]
fn an_agent_scoped_token_recalls_only_its_agents_deliveries() {
    let h = harness();
    connected_call(&h, "c-ben", "ben");
    let mute = json!({"eventType": "MUTE_TOGGLE", "eventId": "d-1", "payload": {"isMuted": false}});
    let (first, _) = h
        .deliver_as(Some("ben"), URL, &[JSON], mute.to_string().as_bytes())
        .unwrap();
    assert!(
        first.ignored.as_deref().unwrap().contains("c-ben"),
        "{first:?}"
    );
    // Ben's retry gets his translation back ...
    let again = send_as(&h, "ben", mute.clone()).unwrap();
    assert_eq!(again, first);
    // ... ana's delivery of the same id is her own, judged against her calls (none).
    let m = conflict_as(&h, "ana", mute);
    assert!(!m.contains("c-ben"), "{m}");
}

#[test]
fn hold_plan_table() {
    let h = harness();
    three_way(&h, "c-1");
    let call = h.call("c-1");
    // Customer on hold, third party talking.
    let types = |plan: Vec<TelephonyEvent>| plan.iter().map(|e| e.event_type()).collect::<Vec<_>>();
    assert_eq!(types(hold_plan(&call, Some(true), Some(false), false)), []);
    assert_eq!(
        types(hold_plan(&call, Some(false), Some(true), false)),
        [EventType::Swap]
    );
    assert_eq!(
        types(hold_plan(&call, Some(false), None, false)),
        [EventType::Resume]
    );
    assert_eq!(
        types(hold_plan(&call, None, Some(true), false)),
        [EventType::Hold]
    );
    assert_eq!(
        types(hold_plan(&call, None, None, true)),
        [EventType::Conference]
    );
    assert_eq!(
        types(hold_plan(&call, None, Some(true), true)),
        [EventType::Conference, EventType::Hold]
    );
}

#[test]
fn actions_are_refused_as_unsupported() {
    let scv = Scv::new();
    let call = CallContext {
        call_id: "c".into(),
        agent: None,
        initial_caller: None,
        third_parties: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = rt.block_on(scv.perform(&call, &Action::Mute)).unwrap_err();
    assert!(
        matches!(err, ActionError::Unsupported { action: "mute", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("receive-only webhook"), "{err}");
    let err = rt.block_on(scv.dial(None, "+1")).unwrap_err();
    assert!(matches!(
        err,
        ActionError::Unsupported { action: "dial", .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let h = harness();
        connected_call(&h, "c-1", "ana");
        let _ = h.translate(URL, &[JSON], &body);
    }

    #[test]
    fn arbitrary_payloads_of_every_type_never_panic(
        t in prop::sample::select(TRANSLATED.to_vec()),
        payload in arbitrary_json(),
        agent in prop::option::of("[a-z]{1,3}"),
    ) {
        let h = harness();
        connected_call(&h, "c-1", "ana");
        let mut body = json!({"eventType": t, "payload": payload});
        if let Some(a) = agent {
            body["agent"] = json!(a);
        }
        if let Ok(t) = send(&h, body) {
            // Whatever it made is a valid event the engine can judge.
            for e in &t.events {
                prop_assert!(!e.call_id().is_empty());
            }
        }
    }

    #[test]
    fn a_scoped_token_never_reaches_nor_names_another_agents_call(
        t in prop::sample::select(TRANSLATED.to_vec()),
        payload in arbitrary_json(),
        agent in prop::option::of(prop::sample::select(vec!["ana", "ben"])),
        call_id in prop::option::of(prop::sample::select(vec!["c-1", "c-2"])),
    ) {
        let h = harness();
        connected_call(&h, "c-1", "ana");
        let mut body = json!({"eventType": t, "payload": payload});
        if let Some(a) = agent {
            body["agent"] = json!(a);
        }
        if let Some(id) = call_id {
            body["callId"] = json!(id);
        }
        let names_it = body.to_string().contains("c-1");
        match send_as(&h, "ben", body) {
            Ok(t) => {
                prop_assert!(agent != Some("ana"));
                for e in &t.events {
                    prop_assert_ne!(e.call_id(), "c-1");
                    prop_assert_eq!(e.agent.as_deref(), Some("ben"));
                }
                if let Some(why) = &t.ignored {
                    prop_assert!(names_it || !why.contains("c-1"), "{}", why);
                }
            }
            Err(WebhookError::Forbidden(m)) => prop_assert!(agent == Some("ana"), "{}", m),
            Err(e) => {
                prop_assert!(agent != Some("ana"));
                prop_assert!(names_it || !e.to_string().contains("c-1"), "{}", e);
            }
        }
    }
}

/// JSON values shaped like connector payloads: the field names SCV uses, any values.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "call",
        "calls",
        "callId",
        "callType",
        "phoneNumber",
        "contact",
        "name",
        "isMuted",
        "isCustomerOnHold",
        "isThirdPartyOnHold",
        "isCallMerged",
        "isRecordingPaused",
        "stats",
        "inputChannelStats",
        "outputChannelStats",
        "packetsCount",
        "packetsLost",
        "jitterBufferMillis",
        "roundTripTimeMillis",
        "callAttributes",
        "participantType",
        "parentId",
        "callInfo",
        "parentCallId",
        "initialCallHasEnded",
        "contactId",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "c-1",
            "",
            "Inbound",
            "Outbound",
            "Initial_Caller",
            CUSTOMER
        ])
        .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}
