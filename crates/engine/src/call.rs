//! The state the engine keeps for one call: lifecycle, participants, mute, recording and the
//! last audio statistics.
//!
//! [`CallState`] is what `GET /v1/calls` returns and what the log persists for restarts, so its
//! JSON form is part of the contract: camelCase names, lower-case enum values, every field
//! always present (absent values are `null`), and an exact round trip through `serde_json`.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use voicetk_events::{AudioStatsDetail, CallType, Channel, TelephonyKind};

/// Where a call is in its life: `started` (ringing) → `connected` → `ended` → `closed`.
///
/// The order of the variants is the order of the lifecycle, so `a < b` means "b comes after
/// a"; the engine never moves a call backwards.
///
/// # Examples
/// ```
/// use voicetk_engine::Lifecycle;
/// assert!(Lifecycle::Started < Lifecycle::Closed);
/// assert_eq!(Lifecycle::Connected.to_string(), "connected");
/// assert_eq!(serde_json::to_string(&Lifecycle::Ended).ok().as_deref(), Some("\"ended\""));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Opened by `CALL_STARTED`: the call rings, nobody talks yet.
    Started,
    /// `CALL_CONNECTED` arrived: the call is live; hold, mute, recording and participant events
    /// apply.
    Connected,
    /// `CALL_ENDED` arrived: the agent is in after-call work; only `WRAP_UP_ENDED` is accepted.
    Ended,
    /// `WRAP_UP_ENDED` arrived: the call is over for good and accepts no more events.
    Closed,
}

impl Lifecycle {
    /// The lower-case name used in JSON and in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Started => "started",
            Lifecycle::Connected => "connected",
            Lifecycle::Ended => "ended",
            Lifecycle::Closed => "closed",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the call is being recorded. Recording starts `active` when the call is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recording {
    /// The call is being recorded (the initial state).
    #[default]
    Active,
    /// The rep paused recording with `PAUSE_RECORDING`.
    Paused,
}

impl Recording {
    /// The lower-case name used in JSON and in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Recording::Active => "active",
            Recording::Paused => "paused",
        }
    }
}

/// How a participant came to be on the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The other party of `CALL_STARTED` / `CALL_CONNECTED` (`"initialCaller"`).
    InitialCaller,
    /// Joined later with `PARTICIPANT_ADDED` (`"thirdParty"`).
    ThirdParty,
}

/// A party on the call other than the agent, who is never in the participant list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// The `participant` value of the events: a phone number or an Amazon Quick Connect name.
    /// Unique within a call.
    pub participant: String,
    /// Initial caller or third party.
    pub role: Role,
    /// Whether the participant is on hold.
    pub on_hold: bool,
}

/// The last `AUDIO_STATS` of one channel, as the event carried it, plus when it was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastAudioStats {
    /// `packetsLost` of the interval.
    pub packets_lost: u64,
    /// `packetsCount` of the interval.
    pub packets_count: u64,
    /// `jitterBufferMillis`: mean jitter of the interval, whole ms.
    pub jitter_buffer_millis: u64,
    /// `roundTripTimeMillis`: mean round-trip time of the interval, whole ms.
    pub round_trip_time_millis: u64,
    /// `statsCount`: raw samples aggregated into the interval.
    pub stats_count: u64,
    /// voicetk's MOS estimate for the interval, when the event carried a finite one.
    pub mos: Option<f64>,
    /// `seq` of the event, so a reader can fetch it from the log.
    pub seq: u64,
    /// When the event was accepted.
    pub at: Timestamp,
}

impl LastAudioStats {
    /// The stored form of an `AUDIO_STATS` detail accepted as `seq` at `at`.
    ///
    /// A non-finite `mos` is dropped: JSON cannot carry it, and the snapshot must round-trip.
    pub fn from_detail(detail: &AudioStatsDetail, seq: u64, at: Timestamp) -> LastAudioStats {
        LastAudioStats {
            packets_lost: detail.packets_lost,
            packets_count: detail.packets_count,
            jitter_buffer_millis: detail.jitter_buffer_millis,
            round_trip_time_millis: detail.round_trip_time_millis,
            stats_count: detail.stats_count,
            mos: detail.mos.filter(|m| m.is_finite()),
            seq,
            at,
        }
    }
}

/// The last `AUDIO_STATS` per channel; `null` until the first one arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioState {
    /// `inputChannelStats`: what this side receives.
    pub input: Option<LastAudioStats>,
    /// `outputChannelStats`: what this side sends.
    pub output: Option<LastAudioStats>,
}

impl AudioState {
    /// The last stats of `channel`.
    pub fn channel(&self, channel: Channel) -> Option<&LastAudioStats> {
        match channel {
            Channel::Input => self.input.as_ref(),
            Channel::Output => self.output.as_ref(),
        }
    }

    /// Mutable access to the slot of `channel`.
    pub(crate) fn slot_mut(&mut self, channel: Channel) -> &mut Option<LastAudioStats> {
        match channel {
            Channel::Input => &mut self.input,
            Channel::Output => &mut self.output,
        }
    }
}

/// Everything the engine knows about one call.
///
/// Invariants the engine maintains (and its tests check after every event): participant numbers
/// are unique; the hold flag lives on the participant, so nobody can be on hold without being
/// on the call; `lifecycle` never moves backwards; a closed call never changes again.
///
/// # Examples
/// ```
/// use voicetk_engine::{CallState, Lifecycle};
/// let json = r#"{"callId":"c-1","agent":null,"lifecycle":"connected","callType":"inbound",
///   "participants":[{"participant":"+1 415 555 0100","role":"initialCaller","onHold":true}],
///   "muted":false,"recording":"active","callAttributes":null,
///   "startedAt":"2025-01-01T09:00:00Z","connectedAt":"2025-01-01T09:00:05Z","endedAt":null,
///   "closedAt":null,"updatedAt":"2025-01-01T09:01:00Z","firstSeq":1,"lastSeq":3,"eventCount":3,
///   "audio":{"input":null,"output":null}}"#;
/// let call: CallState = serde_json::from_str(json)?;
/// assert_eq!(call.lifecycle, Lifecycle::Connected);
/// assert_eq!(call.on_hold().count(), 1);
/// assert!(call.is_active());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallState {
    /// `callId` of the call's events.
    pub call_id: String,
    /// The agent whose desktop the call belongs to: taken from the first event that named one.
    pub agent: Option<String>,
    /// Where the call is in its life.
    pub lifecycle: Lifecycle,
    /// `callType` from `CALL_STARTED` / `CALL_CONNECTED`; unknown for a call a lenient engine
    /// opened from another event.
    pub call_type: Option<CallType>,
    /// The parties besides the agent, in the order they joined (the initial caller first).
    pub participants: Vec<Participant>,
    /// Whether the agent is muted. Starts false.
    pub muted: bool,
    /// Whether recording is active or paused. Starts active.
    pub recording: Recording,
    /// `callAttributes` of `CALL_CONNECTED`, kept as given.
    pub call_attributes: Option<Map<String, Value>>,
    /// When `CALL_STARTED` was accepted (none for a call opened by another event).
    pub started_at: Option<Timestamp>,
    /// When the call became connected.
    pub connected_at: Option<Timestamp>,
    /// When the call became ended.
    pub ended_at: Option<Timestamp>,
    /// When the call became closed.
    pub closed_at: Option<Timestamp>,
    /// When the last event that changed this snapshot was accepted.
    pub updated_at: Timestamp,
    /// `seq` of the event that opened the call.
    pub first_seq: u64,
    /// `seq` of the last event that changed this snapshot.
    pub last_seq: u64,
    /// How many events changed this snapshot (events a lenient engine accepts for an ended or
    /// closed call are logged but not counted here: they change nothing).
    pub event_count: u64,
    /// The last `AUDIO_STATS` per channel.
    pub audio: AudioState,
}

impl CallState {
    /// A call that has not seen any event yet: `started`, no participants, not muted,
    /// recording active. The engine fills it from the opening event.
    pub(crate) fn blank(call_id: &str, seq: u64, now: Timestamp) -> CallState {
        CallState {
            call_id: call_id.to_owned(),
            agent: None,
            lifecycle: Lifecycle::Started,
            call_type: None,
            participants: Vec::new(),
            muted: false,
            recording: Recording::Active,
            call_attributes: None,
            started_at: None,
            connected_at: None,
            ended_at: None,
            closed_at: None,
            updated_at: now,
            first_seq: seq,
            last_seq: seq,
            event_count: 0,
            audio: AudioState::default(),
        }
    }

    /// The participants on hold.
    pub fn on_hold(&self) -> impl Iterator<Item = &Participant> {
        self.participants.iter().filter(|p| p.on_hold)
    }

    /// Whether the call is live: `started` or `connected`.
    pub fn is_active(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Started | Lifecycle::Connected)
    }

    /// Whether the call is over for good under `telephony`: `closed`, or, for Native
    /// telephony (which has no `WRAP_UP_ENDED`), `ended` as well. A finished call never changes
    /// again.
    pub fn is_finished(&self, telephony: TelephonyKind) -> bool {
        match self.lifecycle {
            Lifecycle::Closed => true,
            Lifecycle::Ended => telephony == TelephonyKind::Native,
            Lifecycle::Started | Lifecycle::Connected => false,
        }
    }

    /// The participant with this number, if on the call.
    pub fn participant(&self, participant: &str) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.participant == participant)
    }

    /// The initial caller, unless they left or are unknown.
    pub fn initial_caller(&self) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.role == Role::InitialCaller)
    }

    pub(crate) fn participant_mut(&mut self, participant: &str) -> Option<&mut Participant> {
        self.participants
            .iter_mut()
            .find(|p| p.participant == participant)
    }

    /// The participant numbers, for messages.
    pub(crate) fn numbers(&self) -> Vec<&str> {
        self.participants
            .iter()
            .map(|p| p.participant.as_str())
            .collect()
    }

    /// The numbers of the participants on hold, for messages.
    pub(crate) fn held_numbers(&self) -> Vec<&str> {
        self.on_hold().map(|p| p.participant.as_str()).collect()
    }
}
