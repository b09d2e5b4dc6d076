#![doc = include_str!("../TRANSITIONS.md")]

use jiff::Timestamp;
use voicetk_events::{EventType, TelephonyEvent, TelephonyKind, unsupported};

use crate::call::{CallState, LastAudioStats, Lifecycle, Participant, Recording, Role};
use crate::error::{Refusal, RefusalKind};

/// Decides whether strict rules accept `event` for `call` (`None`: no call with that `callId`
/// is tracked). Pure: nothing changes.
///
/// This is the strict table of the module docs; a lenient [`Engine`](crate::Engine) accepts
/// what this refuses for [`RefusalKind::InvalidTransition`], with the message as a warning.
///
/// # Errors
/// A [`Refusal`] of kind [`RefusalKind::UnsupportedEvent`] when `telephony` lacks the event
/// type, else of kind [`RefusalKind::InvalidTransition`] when the event makes no sense in the
/// call's state; its message names that state.
///
/// # Examples
/// ```
/// use voicetk_engine::{RefusalKind, transition::evaluate};
/// use voicetk_events::{EventType, TelephonyEvent, TelephonyKind};
///
/// let swap = TelephonyEvent::call_only(EventType::Swap, "c-1").ok_or("not call-only")?;
/// let refusal = evaluate(TelephonyKind::Native, None, &swap).unwrap_err();
/// assert_eq!(refusal.kind, RefusalKind::UnsupportedEvent);
///
/// let hold = TelephonyEvent::with_participant(EventType::Hold, "c-1", "+1 415 555 0100")
///     .ok_or("not a participant event")?;
/// let refusal = evaluate(TelephonyKind::Partner, None, &hold).unwrap_err();
/// assert_eq!(refusal.kind, RefusalKind::InvalidTransition);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate(
    telephony: TelephonyKind,
    call: Option<&CallState>,
    event: &TelephonyEvent,
) -> Result<(), Refusal> {
    let lifecycle = call.map(|c| c.lifecycle);
    let event_type = event.event_type();
    if !event_type.is_supported_by(telephony) {
        return Err(Refusal {
            kind: RefusalKind::UnsupportedEvent,
            message: unsupported(event_type, telephony, "type").message,
            lifecycle,
        });
    }
    strict_rule(call, event).map_err(|message| Refusal::invalid(message, lifecycle))
}

/// Whether `event` leaves `call` untouched whatever the mode: a closed call never changes, and
/// an ended call changes only by `WRAP_UP_ENDED`. Events a lenient engine accepts for such a
/// call are logged but do not touch its snapshot.
pub(crate) fn is_frozen(call: &CallState, event_type: EventType) -> bool {
    match call.lifecycle {
        Lifecycle::Closed => true,
        Lifecycle::Ended => event_type != EventType::WrapUpEnded,
        Lifecycle::Started | Lifecycle::Connected => false,
    }
}

/// The strict rules: `Err(message)` names the rule broken and the state that broke it.
fn strict_rule(call: Option<&CallState>, event: &TelephonyEvent) -> Result<(), String> {
    let t = event.event_type();
    let Some(call) = call else {
        return match t {
            EventType::CallStarted | EventType::CallConnected => Ok(()),
            _ => Err(format!(
                "{t} refused: unknown call {}: the first event of a call must be CALL_STARTED or \
                 CALL_CONNECTED",
                event.call_id()
            )),
        };
    };
    let id = &call.call_id;
    let lifecycle = call.lifecycle;
    match lifecycle {
        Lifecycle::Closed => {
            return Err(format!(
                "{t} refused: call {id} is closed; after WRAP_UP_ENDED no event is accepted"
            ));
        }
        Lifecycle::Ended if t != EventType::WrapUpEnded => {
            return Err(format!(
                "{t} refused: call {id} is ended; after CALL_ENDED only WRAP_UP_ENDED is accepted"
            ));
        }
        Lifecycle::Ended | Lifecycle::Started | Lifecycle::Connected => {}
    }
    match event {
        TelephonyEvent::CallStarted(_) => Err(format!(
            "{t} refused: call {id} is {lifecycle}; CALL_STARTED only opens a new call"
        )),
        TelephonyEvent::CallConnected(_) => match lifecycle {
            Lifecycle::Started => Ok(()),
            _ => Err(format!(
                "{t} refused: call {id} is {lifecycle}; CALL_CONNECTED is accepted only for a new \
                 or started call"
            )),
        },
        TelephonyEvent::CallEnded(_) => Ok(()),
        TelephonyEvent::WrapUpEnded(_) => match lifecycle {
            Lifecycle::Ended => Ok(()),
            _ => Err(format!(
                "{t} refused: call {id} is {lifecycle}; WRAP_UP_ENDED is accepted only after \
                 CALL_ENDED"
            )),
        },
        // Everything else is about a live conversation.
        _ if lifecycle != Lifecycle::Connected => Err(format!(
            "{t} refused: call {id} is {lifecycle}; {t} is accepted only once the call is \
             connected"
        )),
        TelephonyEvent::Hold(d) => match call.participant(&d.participant) {
            None => Err(not_on_call(t, call, &d.participant)),
            Some(p) if p.on_hold => Err(format!(
                "{t} refused: participant {:?} is already on hold (call {id} is connected; on \
                 hold: {:?})",
                d.participant,
                call.held_numbers()
            )),
            Some(_) => Ok(()),
        },
        TelephonyEvent::Resume(d) => match call.participant(&d.participant) {
            None => Err(not_on_call(t, call, &d.participant)),
            Some(p) if !p.on_hold => Err(format!(
                "{t} refused: participant {:?} is not on hold (call {id} is connected; on hold: \
                 {:?})",
                d.participant,
                call.held_numbers()
            )),
            Some(_) => Ok(()),
        },
        TelephonyEvent::Mute(_) if call.muted => Err(format!(
            "{t} refused: the agent is already muted (call {id} is connected; muted)"
        )),
        TelephonyEvent::Unmute(_) if !call.muted => Err(format!(
            "{t} refused: the agent is not muted (call {id} is connected; not muted)"
        )),
        TelephonyEvent::PauseRecording(_) if call.recording == Recording::Paused => Err(format!(
            "{t} refused: recording is already paused (call {id} is connected; recording paused)"
        )),
        TelephonyEvent::ResumeRecording(_) if call.recording == Recording::Active => Err(format!(
            "{t} refused: recording is not paused (call {id} is connected; recording active)"
        )),
        TelephonyEvent::ParticipantAdded(d) if call.participant(&d.participant).is_some() => {
            Err(format!(
                "{t} refused: participant {:?} is already on the call (call {id} is connected; \
                 participants: {:?})",
                d.participant,
                call.numbers()
            ))
        }
        TelephonyEvent::ParticipantRemoved(d) if call.participant(&d.participant).is_none() => {
            Err(not_on_call(t, call, &d.participant))
        }
        TelephonyEvent::Conference(_) if call.participants.len() < 2 => Err(format!(
            "{t} refused: a conference needs at least two participants besides the agent (call \
             {id} is connected; participants: {:?})",
            call.numbers()
        )),
        TelephonyEvent::Swap(_) if !can_swap(call) => Err(format!(
            "{t} refused: a swap needs exactly two participants with exactly one on hold (call \
             {id} is connected; participants: {:?}; on hold: {:?})",
            call.numbers(),
            call.held_numbers()
        )),
        TelephonyEvent::Mute(_)
        | TelephonyEvent::Unmute(_)
        | TelephonyEvent::PauseRecording(_)
        | TelephonyEvent::ResumeRecording(_)
        | TelephonyEvent::ParticipantAdded(_)
        | TelephonyEvent::ParticipantRemoved(_)
        | TelephonyEvent::Conference(_)
        | TelephonyEvent::Swap(_)
        | TelephonyEvent::AudioStats(_) => Ok(()),
    }
}

fn not_on_call(t: EventType, call: &CallState, participant: &str) -> String {
    format!(
        "{t} refused: participant {participant:?} is not on the call (call {} is connected; \
         participants: {:?})",
        call.call_id,
        call.numbers()
    )
}

fn can_swap(call: &CallState) -> bool {
    call.participants.len() == 2 && call.on_hold().count() == 1
}

/// Applies `event` to `call` as far as it can without breaking an invariant.
///
/// For an event [`evaluate`] accepts this is exactly the strict transition; for one it refuses
/// it is the lenient rule of the module docs. `call` must not be [frozen](is_frozen); `opened`
/// says the engine has just created it (blank, `started`) for this event. Bookkeeping common to
/// every event (seq, counters, agent) is the engine's job.
pub(crate) fn apply_effect(
    call: &mut CallState,
    event: &TelephonyEvent,
    opened: bool,
    seq: u64,
    now: Timestamp,
) {
    match event {
        TelephonyEvent::CallStarted(d) => {
            // On a known call (lenient) CALL_STARTED changes nothing: the call already began.
            if opened {
                call.started_at = Some(now);
                call.call_type = Some(d.call_type);
                set_initial_caller(call, &d.participant);
            }
        }
        TelephonyEvent::CallConnected(d) => {
            if call.lifecycle == Lifecycle::Started {
                call.lifecycle = Lifecycle::Connected;
                call.connected_at = Some(now);
                call.call_type = Some(d.call_type);
                if let Some(attributes) = &d.call_attributes {
                    call.call_attributes = Some(attributes.clone());
                }
                set_initial_caller(call, &d.participant);
            }
        }
        TelephonyEvent::CallEnded(_) => {
            if call.is_active() {
                call.lifecycle = Lifecycle::Ended;
                call.ended_at = Some(now);
            }
        }
        TelephonyEvent::WrapUpEnded(_) => {
            if call.lifecycle != Lifecycle::Closed {
                call.lifecycle = Lifecycle::Closed;
                call.closed_at = Some(now);
            }
        }
        TelephonyEvent::Hold(_)
        | TelephonyEvent::Resume(_)
        | TelephonyEvent::Mute(_)
        | TelephonyEvent::Unmute(_)
        | TelephonyEvent::ParticipantAdded(_)
        | TelephonyEvent::ParticipantRemoved(_)
        | TelephonyEvent::Conference(_)
        | TelephonyEvent::Swap(_)
        | TelephonyEvent::PauseRecording(_)
        | TelephonyEvent::ResumeRecording(_)
        | TelephonyEvent::AudioStats(_) => {
            // Such an event for a ringing call means its CALL_CONNECTED was missed.
            if call.lifecycle == Lifecycle::Started {
                call.lifecycle = Lifecycle::Connected;
                call.connected_at = Some(now);
            }
            apply_conversation_effect(call, event, seq, now);
        }
    }
}

/// The effect of an event about a connected call's conversation.
fn apply_conversation_effect(
    call: &mut CallState,
    event: &TelephonyEvent,
    seq: u64,
    now: Timestamp,
) {
    match event {
        TelephonyEvent::Hold(d) => match call.participant_mut(&d.participant) {
            Some(p) => p.on_hold = true,
            None => call.participants.push(third_party(&d.participant, true)),
        },
        TelephonyEvent::Resume(d) => match call.participant_mut(&d.participant) {
            Some(p) => p.on_hold = false,
            None => call.participants.push(third_party(&d.participant, false)),
        },
        TelephonyEvent::Mute(_) => call.muted = true,
        TelephonyEvent::Unmute(_) => call.muted = false,
        TelephonyEvent::PauseRecording(_) => call.recording = Recording::Paused,
        TelephonyEvent::ResumeRecording(_) => call.recording = Recording::Active,
        TelephonyEvent::ParticipantAdded(d) => {
            if call.participant(&d.participant).is_none() {
                call.participants.push(third_party(&d.participant, false));
            }
        }
        TelephonyEvent::ParticipantRemoved(d) => {
            call.participants.retain(|p| p.participant != d.participant);
        }
        TelephonyEvent::Conference(_) => {
            for p in &mut call.participants {
                p.on_hold = false;
            }
        }
        TelephonyEvent::Swap(_) => {
            if can_swap(call) {
                for p in &mut call.participants {
                    p.on_hold = !p.on_hold;
                }
            }
        }
        TelephonyEvent::AudioStats(d) => {
            *call.audio.slot_mut(d.stats) = Some(LastAudioStats::from_detail(d, seq, now));
        }
        TelephonyEvent::CallStarted(_)
        | TelephonyEvent::CallConnected(_)
        | TelephonyEvent::CallEnded(_)
        | TelephonyEvent::WrapUpEnded(_) => {}
    }
}

fn third_party(participant: &str, on_hold: bool) -> Participant {
    Participant {
        participant: participant.to_owned(),
        role: Role::ThirdParty,
        on_hold,
    }
}

/// Makes `number` the initial caller. When the call already has an initial caller with another
/// number, that number is replaced (the provider corrected or completed it between
/// CALL_STARTED and CALL_CONNECTED); hold flags are kept. Numbers stay unique.
fn set_initial_caller(call: &mut CallState, number: &str) {
    let initial = call
        .participants
        .iter()
        .position(|p| p.role == Role::InitialCaller);
    let same_number = call
        .participants
        .iter()
        .position(|p| p.participant == number);
    match (initial, same_number) {
        (Some(i), Some(j)) if i == j => {}
        (Some(i), Some(j)) => {
            // The number is already on the call as a third party: it becomes the initial caller
            // and the old initial caller entry goes, so no number appears twice.
            call.participants[j].role = Role::InitialCaller;
            call.participants.remove(i);
        }
        (Some(i), None) => number.clone_into(&mut call.participants[i].participant),
        (None, Some(j)) => call.participants[j].role = Role::InitialCaller,
        (None, None) => call.participants.insert(
            0,
            Participant {
                participant: number.to_owned(),
                role: Role::InitialCaller,
                on_hold: false,
            },
        ),
    }
}

#[cfg(test)]
mod tests;
