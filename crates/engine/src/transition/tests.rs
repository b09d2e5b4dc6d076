//! One test per row of TRANSITIONS.md (named after the row id), strict and lenient.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use voicetk_events::{CallType, Channel, Envelope, EventType, TelephonyEvent, TelephonyKind};

use crate::fixture::{
    C, CALLER, Fixture, STRANGER, THIRD, at, closed, ended, ev, event, evp, live, ringing,
    three_way, with,
};
use crate::{CallState, Lifecycle, Participant, Recording, RefusalKind, Role};

/// The conversation events: those that need a connected call.
const CONVERSATION: [EventType; 11] = [
    EventType::Hold,
    EventType::Resume,
    EventType::Mute,
    EventType::Unmute,
    EventType::PauseRecording,
    EventType::ResumeRecording,
    EventType::ParticipantAdded,
    EventType::ParticipantRemoved,
    EventType::Conference,
    EventType::Swap,
    EventType::AudioStats,
];

/// Strict refuses `e` after `setup` with `expected` as message; lenient accepts it with that
/// message as its only warning. Returns the lenient fixture for checking the lenient effect.
fn refused_both(setup: &[Envelope], e: Envelope, expected: &str) -> Fixture {
    let mut strict = Fixture::strict().with(setup);
    let refusal = strict.refused(e.clone());
    assert_eq!(refusal.kind, RefusalKind::InvalidTransition);
    assert_eq!(refusal.code(), "invalid_transition");
    assert_eq!(refusal.message, expected);
    assert_eq!(
        refusal.lifecycle,
        strict.engine.call(C).map(|c| c.lifecycle)
    );

    let mut lenient = Fixture::lenient().with(setup);
    assert_eq!(
        lenient.engine.check(&e),
        Ok(vec![expected.to_owned()]),
        "lenient check"
    );
    let stamped = lenient.ok(e);
    assert_eq!(stamped.warnings, [expected]);
    lenient
}

/// Strict and lenient both accept `e` after `setup`, with no warnings and the same result.
fn accepted_both(setup: &[Envelope], e: Envelope) -> Fixture {
    let mut strict = Fixture::strict().with(setup);
    let stamped = strict.ok(e.clone());
    assert!(stamped.warnings.is_empty());
    let mut lenient = Fixture::lenient().with(setup);
    let lenient_stamped = lenient.ok(e);
    assert!(lenient_stamped.warnings.is_empty());
    assert_eq!(strict.engine.snapshot(), lenient.engine.snapshot());
    strict
}

fn participant(number: &str, role: Role, on_hold: bool) -> Participant {
    Participant {
        participant: number.into(),
        role,
        on_hold,
    }
}

fn caller(on_hold: bool) -> Participant {
    participant(CALLER, Role::InitialCaller, on_hold)
}

fn third(on_hold: bool) -> Participant {
    participant(THIRD, Role::ThirdParty, on_hold)
}

// ---- Unknown calls ----

#[test]
fn u1_call_started_opens_a_started_call() {
    let f = accepted_both(&[], ev(EventType::CallStarted));
    let call = f.call();
    assert_eq!(call.lifecycle, Lifecycle::Started);
    assert_eq!(call.call_type, Some(CallType::Inbound));
    assert_eq!(call.participants, [caller(false)]);
    assert!(!call.muted);
    assert_eq!(call.recording, Recording::Active);
    assert_eq!(call.started_at, Some(at(1)));
    assert_eq!(call.connected_at, None);
    assert_eq!((call.first_seq, call.last_seq, call.event_count), (1, 1, 1));
    assert!(call.is_active());
}

#[test]
fn u2_call_connected_opens_a_connected_call() {
    let mut e = ev(EventType::CallConnected);
    let TelephonyEvent::CallConnected(d) = &mut e.event else {
        unreachable!()
    };
    d.call_type = CallType::Outbound;
    d.call_attributes = json!({"isTranscribed": "true"}).as_object().cloned();
    let f = accepted_both(&[], e);
    let call = f.call();
    assert_eq!(call.lifecycle, Lifecycle::Connected);
    assert_eq!(call.call_type, Some(CallType::Outbound));
    assert_eq!(call.participants, [caller(false)]);
    assert_eq!(
        call.call_attributes,
        json!({"isTranscribed": "true"}).as_object().cloned()
    );
    assert_eq!((call.started_at, call.connected_at), (None, Some(at(1))));

    // Native telephony has no CALL_STARTED: CALL_CONNECTED is how its calls open.
    let mut native = Fixture::new(TelephonyKind::Native, false);
    native.ok(ev(EventType::CallConnected));
    assert_eq!(native.call().lifecycle, Lifecycle::Connected);
}

#[test]
fn u3_any_other_event_for_an_unknown_call_is_refused() {
    for t in EventType::ALL {
        if matches!(t, EventType::CallStarted | EventType::CallConnected) {
            continue;
        }
        let expected = format!(
            "{t} refused: unknown call c-1: the first event of a call must be CALL_STARTED or \
             CALL_CONNECTED"
        );
        let f = refused_both(&[], ev(t), &expected);
        // Lenient: the call is opened as far as the event tells.
        let call = f.call();
        let lifecycle = match t {
            EventType::CallEnded => Lifecycle::Ended,
            EventType::WrapUpEnded => Lifecycle::Closed,
            _ => Lifecycle::Connected,
        };
        assert_eq!(call.lifecycle, lifecycle, "{t}");
        assert_eq!(call.call_type, None, "{t}");
        assert_eq!((call.first_seq, call.event_count), (1, 1), "{t}");
    }
}

#[test]
fn l_u3_lenient_opening_applies_the_event_itself() {
    let f = refused_both(
        &[],
        evp(EventType::Hold, THIRD),
        "HOLD refused: unknown call c-1: the first event of a call must be CALL_STARTED or \
         CALL_CONNECTED",
    );
    assert_eq!(f.call().participants, [third(true)]);
    assert_eq!(f.call().connected_at, Some(at(1)));
    assert_eq!(f.call().started_at, None);

    let f = refused_both(
        &[],
        ev(EventType::Mute),
        "MUTE refused: unknown call c-1: the first event of a call must be CALL_STARTED or \
         CALL_CONNECTED",
    );
    assert!(f.call().muted);

    let f = refused_both(
        &[],
        ev(EventType::CallEnded),
        "CALL_ENDED refused: unknown call c-1: the first event of a call must be CALL_STARTED or \
         CALL_CONNECTED",
    );
    assert_eq!(f.call().ended_at, Some(at(1)));
    assert_eq!(f.call().connected_at, None);

    let f = refused_both(
        &[],
        ev(EventType::WrapUpEnded),
        "WRAP_UP_ENDED refused: unknown call c-1: the first event of a call must be CALL_STARTED \
         or CALL_CONNECTED",
    );
    assert_eq!(f.call().closed_at, Some(at(1)));
    assert_eq!(f.call().ended_at, None);
}

// ---- CALL_STARTED / CALL_CONNECTED on a known call ----

#[test]
fn s1_call_started_on_a_known_call_is_refused() {
    for (setup, state) in [(ringing(), "started"), (live(), "connected")] {
        let expected = format!(
            "CALL_STARTED refused: call c-1 is {state}; CALL_STARTED only opens a new call"
        );
        let before = Fixture::lenient().with(&setup).call().clone();
        let f = refused_both(&setup, evp(EventType::CallStarted, STRANGER), &expected);
        // Lenient: nothing but the bookkeeping changes.
        let after = CallState {
            updated_at: before.updated_at,
            last_seq: before.last_seq,
            event_count: before.event_count,
            ..f.call().clone()
        };
        assert_eq!(after, before);
        assert_eq!(f.call().event_count, before.event_count + 1);
    }
}

#[test]
fn c1_call_connected_connects_a_started_call() {
    let mut e = ev(EventType::CallConnected);
    let TelephonyEvent::CallConnected(d) = &mut e.event else {
        unreachable!()
    };
    d.call_type = CallType::Outbound;
    d.call_attributes = json!({"languageCode": "en-US"}).as_object().cloned();
    let f = accepted_both(&ringing(), e);
    let call = f.call();
    assert_eq!(call.lifecycle, Lifecycle::Connected);
    assert_eq!(call.call_type, Some(CallType::Outbound));
    assert_eq!(
        call.call_attributes,
        json!({"languageCode": "en-US"}).as_object().cloned()
    );
    assert_eq!(
        (call.started_at, call.connected_at),
        (Some(at(1)), Some(at(2)))
    );
    assert_eq!(call.participants, [caller(false)]);
    assert_eq!(call.event_count, 2);
}

#[test]
fn c1_call_connected_with_another_number_replaces_the_initial_caller() {
    let f = accepted_both(&ringing(), evp(EventType::CallConnected, STRANGER));
    assert_eq!(
        f.call().participants,
        [participant(STRANGER, Role::InitialCaller, false)]
    );
}

#[test]
fn c2_call_connected_on_a_connected_call_is_refused() {
    let f = refused_both(
        &live(),
        evp(EventType::CallConnected, STRANGER),
        "CALL_CONNECTED refused: call c-1 is connected; CALL_CONNECTED is accepted only for a \
         new or started call",
    );
    assert_eq!(f.call().participants, [caller(false)]);
    assert_eq!(f.call().connected_at, Some(at(2)));
}

// ---- CALL_ENDED / WRAP_UP_ENDED ----

#[test]
fn d1_call_ended_ends_a_started_or_connected_call() {
    for setup in [ringing(), with(three_way(), &[evp(EventType::Hold, THIRD)])] {
        let n = setup.len() as i64;
        let held_before: Vec<Participant> =
            Fixture::strict().with(&setup).call().participants.clone();
        let f = accepted_both(&setup, ev(EventType::CallEnded));
        let call = f.call();
        assert_eq!(call.lifecycle, Lifecycle::Ended);
        assert_eq!(call.ended_at, Some(at(n + 1)));
        // Participants and their hold flags stay as they were.
        assert_eq!(call.participants, held_before);
        assert!(!call.is_active());
        // Partner telephony: the agent's after-call work still belongs to the active calls.
        assert_eq!(f.engine.active_calls().count(), 1);
    }
}

#[test]
fn w1_wrap_up_ended_closes_an_ended_call() {
    let f = accepted_both(&ended(), ev(EventType::WrapUpEnded));
    let call = f.call();
    assert_eq!(call.lifecycle, Lifecycle::Closed);
    assert_eq!(call.closed_at, Some(at(4)));
    assert!(call.is_finished(TelephonyKind::Partner));
    assert_eq!(f.engine.active_calls().count(), 0);
    assert_eq!(f.engine.calls().count(), 1);
}

#[test]
fn w2_wrap_up_ended_before_call_ended_is_refused() {
    for (setup, state) in [(ringing(), "started"), (live(), "connected")] {
        let expected = format!(
            "WRAP_UP_ENDED refused: call c-1 is {state}; WRAP_UP_ENDED is accepted only after \
             CALL_ENDED"
        );
        let f = refused_both(&setup, ev(EventType::WrapUpEnded), &expected);
        // Lenient: the call is closed; the missed CALL_ENDED leaves endedAt null.
        assert_eq!(f.call().lifecycle, Lifecycle::Closed);
        assert_eq!(f.call().ended_at, None);
        assert!(f.call().closed_at.is_some());
    }
}

#[test]
fn e1_after_call_ended_only_wrap_up_ended_is_accepted() {
    for t in EventType::ALL {
        if t == EventType::WrapUpEnded {
            continue;
        }
        let expected = format!(
            "{t} refused: call c-1 is ended; after CALL_ENDED only WRAP_UP_ENDED is accepted"
        );
        let before = Fixture::lenient().with(&ended()).call().clone();
        let mut f = refused_both(&ended(), evp(t, THIRD), &expected);
        // Lenient: logged, but the ended call is untouched, counters included.
        assert_eq!(f.call(), &before, "{t}");
        assert_eq!(f.engine.last_seq(), 4);
        // ... and it can still be closed.
        f.ok(ev(EventType::WrapUpEnded));
        assert_eq!(f.call().lifecycle, Lifecycle::Closed);
    }
}

#[test]
fn e1_message_names_the_state_as_the_contract_shows() {
    let mut f = Fixture::strict().with(&ended());
    let refusal = f.refused(ev(EventType::Resume));
    assert_eq!(
        refusal.message,
        "RESUME refused: call c-1 is ended; after CALL_ENDED only WRAP_UP_ENDED is accepted"
    );
    assert_eq!(refusal.lifecycle, Some(Lifecycle::Ended));
}

#[test]
fn e2_a_closed_call_accepts_nothing() {
    for t in EventType::ALL {
        let expected =
            format!("{t} refused: call c-1 is closed; after WRAP_UP_ENDED no event is accepted");
        let before = Fixture::lenient().with(&closed()).call().clone();
        let f = refused_both(&closed(), evp(t, THIRD), &expected);
        assert_eq!(f.call(), &before, "{t}");
    }
}

// ---- Conversation events on a ringing call ----

#[test]
fn r1_conversation_events_need_a_connected_call() {
    for t in CONVERSATION {
        let expected = format!(
            "{t} refused: call c-1 is started; {t} is accepted only once the call is connected"
        );
        let f = refused_both(&ringing(), ev(t), &expected);
        // Lenient: the missed CALL_CONNECTED is inferred.
        assert_eq!(f.call().lifecycle, Lifecycle::Connected, "{t}");
        assert_eq!(f.call().connected_at, Some(at(2)), "{t}");
    }
}

// ---- HOLD / RESUME ----

#[test]
fn h1_hold_puts_a_participant_on_hold() {
    let f = accepted_both(&three_way(), evp(EventType::Hold, THIRD));
    assert_eq!(f.call().participants, [caller(false), third(true)]);
    assert_eq!(f.call().on_hold().count(), 1);
}

#[test]
fn h2_hold_of_a_held_participant_is_refused() {
    let f = refused_both(
        &with(live(), &[ev(EventType::Hold)]),
        ev(EventType::Hold),
        r#"HOLD refused: participant "+1 415 555 0100" is already on hold (call c-1 is connected; on hold: ["+1 415 555 0100"])"#,
    );
    assert_eq!(f.call().participants, [caller(true)]);
}

#[test]
fn h3_hold_of_someone_not_on_the_call_is_refused() {
    let f = refused_both(
        &live(),
        evp(EventType::Hold, STRANGER),
        r#"HOLD refused: participant "+1 415 555 0199" is not on the call (call c-1 is connected; participants: ["+1 415 555 0100"])"#,
    );
    // Lenient: the stranger is added, on hold.
    assert_eq!(
        f.call().participants,
        [caller(false), participant(STRANGER, Role::ThirdParty, true)]
    );
}

#[test]
fn h4_resume_takes_a_participant_off_hold() {
    let f = accepted_both(
        &with(three_way(), &[evp(EventType::Hold, THIRD)]),
        evp(EventType::Resume, THIRD),
    );
    assert_eq!(f.call().participants, [caller(false), third(false)]);
}

#[test]
fn h5_resume_of_someone_not_on_hold_is_refused() {
    let f = refused_both(
        &with(three_way(), &[ev(EventType::Hold)]),
        evp(EventType::Resume, THIRD),
        r#"RESUME refused: participant "+1 415 555 0142" is not on hold (call c-1 is connected; on hold: ["+1 415 555 0100"])"#,
    );
    assert_eq!(f.call().participants, [caller(true), third(false)]);
}

#[test]
fn h6_resume_of_someone_not_on_the_call_is_refused() {
    let f = refused_both(
        &live(),
        evp(EventType::Resume, STRANGER),
        r#"RESUME refused: participant "+1 415 555 0199" is not on the call (call c-1 is connected; participants: ["+1 415 555 0100"])"#,
    );
    assert_eq!(
        f.call().participants,
        [
            caller(false),
            participant(STRANGER, Role::ThirdParty, false)
        ]
    );
}

// ---- MUTE / UNMUTE ----

#[test]
fn m1_mute_mutes() {
    let f = accepted_both(&live(), ev(EventType::Mute));
    assert!(f.call().muted);
}

#[test]
fn m2_mute_when_muted_is_refused() {
    let f = refused_both(
        &with(live(), &[ev(EventType::Mute)]),
        ev(EventType::Mute),
        "MUTE refused: the agent is already muted (call c-1 is connected; muted)",
    );
    assert!(f.call().muted);
}

#[test]
fn m3_unmute_unmutes() {
    let f = accepted_both(&with(live(), &[ev(EventType::Mute)]), ev(EventType::Unmute));
    assert!(!f.call().muted);
}

#[test]
fn m4_unmute_when_not_muted_is_refused() {
    let f = refused_both(
        &live(),
        ev(EventType::Unmute),
        "UNMUTE refused: the agent is not muted (call c-1 is connected; not muted)",
    );
    assert!(!f.call().muted);
}

// ---- PAUSE_RECORDING / RESUME_RECORDING ----

#[test]
fn p1_pause_recording_pauses() {
    let f = accepted_both(&live(), ev(EventType::PauseRecording));
    assert_eq!(f.call().recording, Recording::Paused);
}

#[test]
fn p2_pause_recording_when_paused_is_refused() {
    let f = refused_both(
        &with(live(), &[ev(EventType::PauseRecording)]),
        ev(EventType::PauseRecording),
        "PAUSE_RECORDING refused: recording is already paused (call c-1 is connected; recording \
         paused)",
    );
    assert_eq!(f.call().recording, Recording::Paused);
}

#[test]
fn p3_resume_recording_resumes() {
    let f = accepted_both(
        &with(live(), &[ev(EventType::PauseRecording)]),
        ev(EventType::ResumeRecording),
    );
    assert_eq!(f.call().recording, Recording::Active);
}

#[test]
fn p4_resume_recording_when_active_is_refused() {
    let f = refused_both(
        &live(),
        ev(EventType::ResumeRecording),
        "RESUME_RECORDING refused: recording is not paused (call c-1 is connected; recording \
         active)",
    );
    assert_eq!(f.call().recording, Recording::Active);
}

// ---- PARTICIPANT_ADDED / PARTICIPANT_REMOVED ----

#[test]
fn a1_participant_added_joins_as_third_party() {
    let f = accepted_both(&live(), evp(EventType::ParticipantAdded, THIRD));
    assert_eq!(f.call().participants, [caller(false), third(false)]);
    assert_eq!(f.call().initial_caller(), Some(&caller(false)));
}

#[test]
fn a2_participant_added_twice_is_refused() {
    let f = refused_both(
        &with(three_way(), &[evp(EventType::Hold, THIRD)]),
        evp(EventType::ParticipantAdded, THIRD),
        r#"PARTICIPANT_ADDED refused: participant "+1 415 555 0142" is already on the call (call c-1 is connected; participants: ["+1 415 555 0100", "+1 415 555 0142"])"#,
    );
    // Lenient: no duplicate, and the hold flag is kept.
    assert_eq!(f.call().participants, [caller(false), third(true)]);
}

#[test]
fn a3_participant_removed_leaves_the_call() {
    let f = accepted_both(
        &with(three_way(), &[evp(EventType::Hold, THIRD)]),
        evp(EventType::ParticipantRemoved, THIRD),
    );
    assert_eq!(f.call().participants, [caller(false)]);
    assert_eq!(f.call().on_hold().count(), 0);

    // The initial caller can leave too, down to no participant at all.
    let f = accepted_both(&live(), ev(EventType::ParticipantRemoved));
    assert!(f.call().participants.is_empty());
    assert_eq!(f.call().initial_caller(), None);
}

#[test]
fn a4_participant_removed_when_not_on_the_call_is_refused() {
    let f = refused_both(
        &live(),
        evp(EventType::ParticipantRemoved, STRANGER),
        r#"PARTICIPANT_REMOVED refused: participant "+1 415 555 0199" is not on the call (call c-1 is connected; participants: ["+1 415 555 0100"])"#,
    );
    assert_eq!(f.call().participants, [caller(false)]);
}

// ---- CONFERENCE / SWAP ----

#[test]
fn f1_conference_takes_everyone_off_hold() {
    let f = accepted_both(
        &with(
            three_way(),
            &[ev(EventType::Hold), evp(EventType::Hold, THIRD)],
        ),
        ev(EventType::Conference),
    );
    assert_eq!(f.call().participants, [caller(false), third(false)]);
}

#[test]
fn f2_conference_without_two_participants_is_refused() {
    let f = refused_both(
        &with(live(), &[ev(EventType::Hold)]),
        ev(EventType::Conference),
        r#"CONFERENCE refused: a conference needs at least two participants besides the agent (call c-1 is connected; participants: ["+1 415 555 0100"])"#,
    );
    // Lenient: everyone off hold anyway.
    assert_eq!(f.call().participants, [caller(false)]);
}

#[test]
fn x1_swap_exchanges_the_hold_flags() {
    let f = accepted_both(
        &with(three_way(), &[ev(EventType::Hold)]),
        ev(EventType::Swap),
    );
    assert_eq!(f.call().participants, [caller(false), third(true)]);
}

#[test]
fn x2_swap_needs_two_participants_one_on_hold() {
    let cases = [
        (
            three_way(),
            r#"SWAP refused: a swap needs exactly two participants with exactly one on hold (call c-1 is connected; participants: ["+1 415 555 0100", "+1 415 555 0142"]; on hold: [])"#,
        ),
        (
            with(
                three_way(),
                &[ev(EventType::Hold), evp(EventType::Hold, THIRD)],
            ),
            r#"SWAP refused: a swap needs exactly two participants with exactly one on hold (call c-1 is connected; participants: ["+1 415 555 0100", "+1 415 555 0142"]; on hold: ["+1 415 555 0100", "+1 415 555 0142"])"#,
        ),
        (
            with(
                three_way(),
                &[
                    evp(EventType::ParticipantAdded, STRANGER),
                    ev(EventType::Hold),
                ],
            ),
            r#"SWAP refused: a swap needs exactly two participants with exactly one on hold (call c-1 is connected; participants: ["+1 415 555 0100", "+1 415 555 0142", "+1 415 555 0199"]; on hold: ["+1 415 555 0100"])"#,
        ),
    ];
    for (setup, expected) in cases {
        let before = Fixture::strict().with(&setup).call().participants.clone();
        let f = refused_both(&setup, ev(EventType::Swap), expected);
        // Lenient: no change.
        assert_eq!(f.call().participants, before);
    }
}

// ---- AUDIO_STATS ----

#[test]
fn q1_audio_stats_are_stored_per_channel() {
    let mut output = ev(EventType::AudioStats);
    let TelephonyEvent::AudioStats(d) = &mut output.event else {
        unreachable!()
    };
    d.stats = Channel::Output;
    d.mos = None;
    d.packets_lost = 9;

    let mut f = accepted_both(&live(), ev(EventType::AudioStats));
    let input = f.call().audio.input.clone().expect("input stored");
    assert_eq!(
        (
            input.packets_lost,
            input.packets_count,
            input.jitter_buffer_millis
        ),
        (3, 1500, 12)
    );
    assert_eq!(
        (input.round_trip_time_millis, input.stats_count, input.mos),
        (80, 6, Some(4.21))
    );
    assert_eq!((input.seq, input.at), (3, at(3)));
    assert_eq!(f.call().audio.output, None);

    f.ok(output);
    let stored = f
        .call()
        .audio
        .channel(Channel::Output)
        .cloned()
        .expect("output stored");
    assert_eq!((stored.packets_lost, stored.mos, stored.seq), (9, None, 4));
    // The other channel keeps its own last stats.
    assert_eq!(f.call().audio.input, Some(input));
}

#[test]
fn q1_a_non_finite_mos_is_not_stored() {
    let mut e = ev(EventType::AudioStats);
    let TelephonyEvent::AudioStats(d) = &mut e.event else {
        unreachable!()
    };
    d.mos = Some(f64::NAN);
    let f = accepted_both(&live(), e);
    assert_eq!(f.call().audio.input.as_ref().map(|s| s.mos), Some(None));
}

// ---- Native telephony ----

#[test]
fn n1_native_refuses_its_four_missing_events_even_when_lenient() {
    let missing = [
        EventType::AudioStats,
        EventType::CallStarted,
        EventType::Swap,
        EventType::WrapUpEnded,
    ];
    let setups: [Vec<Envelope>; 3] = [
        vec![],
        vec![ev(EventType::CallConnected)],
        vec![ev(EventType::CallConnected), ev(EventType::CallEnded)],
    ];
    for lenient in [false, true] {
        for setup in &setups {
            for t in missing {
                let mut f = Fixture::new(TelephonyKind::Native, lenient).with(setup);
                let refusal = f.refused(ev(t));
                assert_eq!(refusal.kind, RefusalKind::UnsupportedEvent);
                assert_eq!(refusal.code(), "unsupported_event");
                assert_eq!(
                    refusal.message,
                    format!(
                        "{t} is not supported by native telephony (Salesforce Voice Native \
                         Telephony has no AUDIO_STATS, CALL_STARTED, SWAP or WRAP_UP_ENDED)"
                    )
                );
                assert_eq!(refusal.lifecycle, f.engine.call(C).map(|c| c.lifecycle));
            }
        }
    }
}

#[test]
fn native_ended_calls_are_finished() {
    let mut f = Fixture::new(TelephonyKind::Native, false);
    f.ok(ev(EventType::CallConnected));
    assert_eq!(f.engine.active_calls().count(), 1);
    f.ok(ev(EventType::CallEnded));
    assert!(f.call().is_finished(TelephonyKind::Native));
    assert!(!f.call().is_active());
    assert_eq!(f.engine.active_calls().count(), 0);
    assert_eq!(f.engine.calls().count(), 1);
}

// ---- Every accepted event ----

#[test]
fn accepted_events_update_the_bookkeeping_and_the_agent() {
    let mut f = Fixture::strict();
    let mut start = ev(EventType::CallStarted);
    start.agent = Some("ana".into());
    assert_eq!(f.ok(start).agent.as_deref(), Some("ana"));
    // The call's agent fills events that name none.
    assert_eq!(
        f.ok(ev(EventType::CallConnected)).agent.as_deref(),
        Some("ana")
    );
    // An event naming another agent keeps it; the call keeps the first one.
    let mut mute = ev(EventType::Mute);
    mute.agent = Some("bob".into());
    assert_eq!(f.ok(mute).agent.as_deref(), Some("bob"));
    let call = f.call();
    assert_eq!(call.agent.as_deref(), Some("ana"));
    assert_eq!((call.first_seq, call.last_seq, call.event_count), (1, 3, 3));
    assert_eq!(call.updated_at, at(3));
}

#[test]
fn the_agent_is_recorded_from_the_first_event_that_names_one() {
    let mut f = Fixture::strict().with(&live());
    assert_eq!(f.call().agent, None);
    let mut hold = ev(EventType::Hold);
    hold.agent = Some("ana".into());
    f.ok(hold);
    assert_eq!(f.call().agent.as_deref(), Some("ana"));
    assert_eq!(f.ok(ev(EventType::Resume)).agent.as_deref(), Some("ana"));
}

#[test]
fn source_supplied_warnings_and_replayed_are_not_kept() {
    let mut f = Fixture::strict();
    let mut start = ev(EventType::CallStarted);
    start.warnings = vec!["forged".into()];
    start.replayed = true;
    start.seq = Some(99);
    let stamped = f.ok(start);
    assert!(stamped.warnings.is_empty());
    assert!(!stamped.replayed);
    assert_eq!(stamped.seq, Some(1));
}

#[test]
fn events_for_different_calls_do_not_interfere() {
    let mut f = Fixture::strict().with(&live());
    f.ok(event(EventType::CallStarted, "c-2", CALLER));
    f.ok(event(EventType::CallConnected, "c-2", CALLER));
    f.ok(event(EventType::Hold, "c-2", CALLER));
    // c-1's caller is not on hold, so holding them is fine.
    f.ok(ev(EventType::Hold));
    assert_eq!(f.engine.call("c-2").map(|c| c.event_count), Some(3));
    assert_eq!(f.call().event_count, 3);
}

#[test]
fn call_state_json_round_trips_exactly() {
    let mut f = Fixture::strict().with(&three_way());
    let mut e = ev(EventType::AudioStats);
    let TelephonyEvent::AudioStats(d) = &mut e.event else {
        unreachable!()
    };
    // A value whose shortest form needs 17 digits: the hard case for float parsing.
    d.mos = Some(1.0 + 1.0 / 3.0);
    f.ok(e);
    f.ok(evp(EventType::Hold, THIRD));
    let call = f.call().clone();
    let json = serde_json::to_string(&call).unwrap();
    let back: CallState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, call);
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    // Names are the contract's.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["lifecycle"], "connected");
    assert_eq!(value["recording"], "active");
    assert_eq!(value["participants"][0]["role"], "initialCaller");
    assert_eq!(value["participants"][1]["role"], "thirdParty");
    assert_eq!(value["participants"][1]["onHold"], true);
    assert_eq!(value["audio"]["input"]["jitterBufferMillis"], 12);
    assert_eq!(value["audio"]["output"], serde_json::Value::Null);
    assert_eq!(value["callType"], "inbound");
    assert!(value["callAttributes"].is_null());
}

#[test]
fn a_typical_call_stays_lean() {
    let f = Fixture::strict().with(&three_way());
    let call = f.call();
    let heap: usize = call.call_id.capacity()
        + call.participants.capacity() * std::mem::size_of::<Participant>()
        + call
            .participants
            .iter()
            .map(|p| p.participant.capacity())
            .sum::<usize>();
    let total = std::mem::size_of::<CallState>() + heap;
    assert!(total <= 1024, "a 2-party call takes {total} bytes");
}

#[test]
fn set_initial_caller_keeps_numbers_unique_in_odd_states() {
    let mut call = CallState::blank(C, 1, at(0));
    // No initial caller, the number absent: inserted first.
    call.participants = vec![third(false)];
    super::set_initial_caller(&mut call, CALLER);
    assert_eq!(call.participants, [caller(false), third(false)]);
    // Initial caller present, the number already a third party: that one is promoted.
    super::set_initial_caller(&mut call, THIRD);
    assert_eq!(
        call.participants,
        [participant(THIRD, Role::InitialCaller, false)]
    );
    // No initial caller, the number a third party: promoted in place, hold flag kept.
    call.participants = vec![caller(false), third(true)];
    call.participants[0].role = Role::ThirdParty;
    super::set_initial_caller(&mut call, THIRD);
    assert_eq!(
        call.participants,
        [
            participant(CALLER, Role::ThirdParty, false),
            participant(THIRD, Role::InitialCaller, true)
        ]
    );
}
