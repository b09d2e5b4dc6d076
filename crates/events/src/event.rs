//! One typed representation per telephony event, and the `detail` shapes they share.

use serde_json::{Map, Value};

use crate::kind::{CallType, Channel, EventType};

/// Fields the spec does not name ("Payloads may contain other system-generated information"):
/// kept exactly as given and written back out unchanged.
pub type Extra = Map<String, Value>;

/// `detail` of the events that carry only the call: `CALL_ENDED`, `MUTE`, `UNMUTE`,
/// `CONFERENCE`, `SWAP`, `PAUSE_RECORDING`, `RESUME_RECORDING`, `WRAP_UP_ENDED`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDetail {
    /// `callId`: unique call identifier, never empty.
    pub call_id: String,
    /// Other fields the source put in `detail`.
    pub extra: Extra,
}

/// `detail` of the events about one participant: `HOLD`, `RESUME`, `PARTICIPANT_ADDED`,
/// `PARTICIPANT_REMOVED`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantDetail {
    /// `callId`: unique call identifier, never empty.
    pub call_id: String,
    /// `participant`: phone number or Amazon Quick Connect name.
    pub participant: String,
    /// Other fields the source put in `detail`.
    pub extra: Extra,
}

/// `detail` of `CALL_STARTED`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStartedDetail {
    /// `callId`: unique call identifier, never empty.
    pub call_id: String,
    /// `callType`: inbound or outbound.
    pub call_type: CallType,
    /// `participant`: the other party's phone number.
    pub participant: String,
    /// Other fields the source put in `detail`.
    pub extra: Extra,
}

/// `detail` of `CALL_CONNECTED`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallConnectedDetail {
    /// `callId`: unique call identifier, never empty.
    pub call_id: String,
    /// `callType`: inbound or outbound.
    pub call_type: CallType,
    /// `participant`: the other party's phone number.
    pub participant: String,
    /// `callAttributes`: provider values, kept as given. Optional: not every provider sends it.
    pub call_attributes: Option<Map<String, Value>>,
    /// Other fields the source put in `detail`.
    pub extra: Extra,
}

/// `detail` of `AUDIO_STATS`: one channel's statistics over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioStatsDetail {
    /// `callId`: unique call identifier, never empty.
    pub call_id: String,
    /// `stats`: which channel these numbers describe.
    pub stats: Channel,
    /// `packetsLost`: packets lost in the interval.
    pub packets_lost: u64,
    /// `packetsCount`: packets transmitted in the interval.
    pub packets_count: u64,
    /// `jitterBufferMillis`: the interval's mean jitter, whole milliseconds.
    pub jitter_buffer_millis: u64,
    /// `roundTripTimeMillis`: the interval's mean round-trip time, whole milliseconds.
    pub round_trip_time_millis: u64,
    /// `statsCount`: how many raw samples the interval aggregated.
    pub stats_count: u64,
    /// `mos`: voicetk's E-model estimate for the interval (1.0–4.5), when known.
    pub mos: Option<f64>,
    /// Other fields the source put in `detail`.
    pub extra: Extra,
}

/// A telephony event: its type and its typed `detail`.
///
/// Events that share a `detail` shape share a struct, but every event type has its own variant,
/// so a `match` names each of the 15.
#[derive(Debug, Clone, PartialEq)]
pub enum TelephonyEvent {
    /// `AUDIO_STATS`
    AudioStats(AudioStatsDetail),
    /// `CALL_STARTED`
    CallStarted(CallStartedDetail),
    /// `CALL_CONNECTED`
    CallConnected(CallConnectedDetail),
    /// `CALL_ENDED`
    CallEnded(CallDetail),
    /// `HOLD`
    Hold(ParticipantDetail),
    /// `RESUME`
    Resume(ParticipantDetail),
    /// `MUTE`
    Mute(CallDetail),
    /// `UNMUTE`
    Unmute(CallDetail),
    /// `PARTICIPANT_ADDED`
    ParticipantAdded(ParticipantDetail),
    /// `PARTICIPANT_REMOVED`
    ParticipantRemoved(ParticipantDetail),
    /// `CONFERENCE`
    Conference(CallDetail),
    /// `SWAP`
    Swap(CallDetail),
    /// `PAUSE_RECORDING`
    PauseRecording(CallDetail),
    /// `RESUME_RECORDING`
    ResumeRecording(CallDetail),
    /// `WRAP_UP_ENDED`
    WrapUpEnded(CallDetail),
}

impl TelephonyEvent {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        match self {
            TelephonyEvent::AudioStats(_) => EventType::AudioStats,
            TelephonyEvent::CallStarted(_) => EventType::CallStarted,
            TelephonyEvent::CallConnected(_) => EventType::CallConnected,
            TelephonyEvent::CallEnded(_) => EventType::CallEnded,
            TelephonyEvent::Hold(_) => EventType::Hold,
            TelephonyEvent::Resume(_) => EventType::Resume,
            TelephonyEvent::Mute(_) => EventType::Mute,
            TelephonyEvent::Unmute(_) => EventType::Unmute,
            TelephonyEvent::ParticipantAdded(_) => EventType::ParticipantAdded,
            TelephonyEvent::ParticipantRemoved(_) => EventType::ParticipantRemoved,
            TelephonyEvent::Conference(_) => EventType::Conference,
            TelephonyEvent::Swap(_) => EventType::Swap,
            TelephonyEvent::PauseRecording(_) => EventType::PauseRecording,
            TelephonyEvent::ResumeRecording(_) => EventType::ResumeRecording,
            TelephonyEvent::WrapUpEnded(_) => EventType::WrapUpEnded,
        }
    }

    /// `detail.callId`.
    pub fn call_id(&self) -> &str {
        match self {
            TelephonyEvent::AudioStats(d) => &d.call_id,
            TelephonyEvent::CallStarted(d) => &d.call_id,
            TelephonyEvent::CallConnected(d) => &d.call_id,
            TelephonyEvent::Hold(d)
            | TelephonyEvent::Resume(d)
            | TelephonyEvent::ParticipantAdded(d)
            | TelephonyEvent::ParticipantRemoved(d) => &d.call_id,
            TelephonyEvent::CallEnded(d)
            | TelephonyEvent::Mute(d)
            | TelephonyEvent::Unmute(d)
            | TelephonyEvent::Conference(d)
            | TelephonyEvent::Swap(d)
            | TelephonyEvent::PauseRecording(d)
            | TelephonyEvent::ResumeRecording(d)
            | TelephonyEvent::WrapUpEnded(d) => &d.call_id,
        }
    }

    /// `detail.participant`, for the events that have one.
    pub fn participant(&self) -> Option<&str> {
        match self {
            TelephonyEvent::CallStarted(d) => Some(&d.participant),
            TelephonyEvent::CallConnected(d) => Some(&d.participant),
            TelephonyEvent::Hold(d)
            | TelephonyEvent::Resume(d)
            | TelephonyEvent::ParticipantAdded(d)
            | TelephonyEvent::ParticipantRemoved(d) => Some(&d.participant),
            _ => None,
        }
    }

    /// The fields of `detail` that the spec does not name.
    pub fn extra(&self) -> &Extra {
        match self {
            TelephonyEvent::AudioStats(d) => &d.extra,
            TelephonyEvent::CallStarted(d) => &d.extra,
            TelephonyEvent::CallConnected(d) => &d.extra,
            TelephonyEvent::Hold(d)
            | TelephonyEvent::Resume(d)
            | TelephonyEvent::ParticipantAdded(d)
            | TelephonyEvent::ParticipantRemoved(d) => &d.extra,
            TelephonyEvent::CallEnded(d)
            | TelephonyEvent::Mute(d)
            | TelephonyEvent::Unmute(d)
            | TelephonyEvent::Conference(d)
            | TelephonyEvent::Swap(d)
            | TelephonyEvent::PauseRecording(d)
            | TelephonyEvent::ResumeRecording(d)
            | TelephonyEvent::WrapUpEnded(d) => &d.extra,
        }
    }

    /// Builds an event that carries only the call (`CALL_ENDED`, `MUTE`, ...). Returns `None`
    /// for the types whose `detail` has more required fields.
    pub fn call_only(event_type: EventType, call_id: impl Into<String>) -> Option<TelephonyEvent> {
        let d = CallDetail {
            call_id: call_id.into(),
            extra: Extra::new(),
        };
        Some(match event_type {
            EventType::CallEnded => TelephonyEvent::CallEnded(d),
            EventType::Mute => TelephonyEvent::Mute(d),
            EventType::Unmute => TelephonyEvent::Unmute(d),
            EventType::Conference => TelephonyEvent::Conference(d),
            EventType::Swap => TelephonyEvent::Swap(d),
            EventType::PauseRecording => TelephonyEvent::PauseRecording(d),
            EventType::ResumeRecording => TelephonyEvent::ResumeRecording(d),
            EventType::WrapUpEnded => TelephonyEvent::WrapUpEnded(d),
            _ => return None,
        })
    }

    /// Builds an event about one participant (`HOLD`, `RESUME`, `PARTICIPANT_ADDED`,
    /// `PARTICIPANT_REMOVED`). Returns `None` for other types.
    pub fn with_participant(
        event_type: EventType,
        call_id: impl Into<String>,
        participant: impl Into<String>,
    ) -> Option<TelephonyEvent> {
        let d = ParticipantDetail {
            call_id: call_id.into(),
            participant: participant.into(),
            extra: Extra::new(),
        };
        Some(match event_type {
            EventType::Hold => TelephonyEvent::Hold(d),
            EventType::Resume => TelephonyEvent::Resume(d),
            EventType::ParticipantAdded => TelephonyEvent::ParticipantAdded(d),
            EventType::ParticipantRemoved => TelephonyEvent::ParticipantRemoved(d),
            _ => return None,
        })
    }
}
