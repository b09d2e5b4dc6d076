//! The closed vocabularies of the catalogue: event types, telephony kinds, call types and
//! AUDIO_STATS channels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the 15 telephony event types of the Voice Toolkit API.
///
/// The canonical (Aura) name is the upper-case one (`CALL_STARTED`); the LWC name
/// (`callstarted`: lower case, no underscores) is accepted wherever a type is named, and output
/// always uses the Aura name.
///
/// # Examples
/// ```
/// use voicetk_events::EventType;
/// assert_eq!("callstarted".parse::<EventType>().ok(), Some(EventType::CallStarted));
/// assert_eq!(EventType::WrapUpEnded.as_str(), "WRAP_UP_ENDED");
/// assert_eq!(EventType::WrapUpEnded.lwc_name(), "wrapupended");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `AUDIO_STATS`: real-time audio statistics, one event per channel per interval.
    AudioStats,
    /// `CALL_STARTED`: the call starts (rings).
    CallStarted,
    /// `CALL_CONNECTED`: the call connects.
    CallConnected,
    /// `CALL_ENDED`: the call ends.
    CallEnded,
    /// `HOLD`: a participant is put on hold.
    Hold,
    /// `RESUME`: a participant is taken off hold.
    Resume,
    /// `MUTE`: the agent is muted.
    Mute,
    /// `UNMUTE`: the agent is unmuted.
    Unmute,
    /// `PARTICIPANT_ADDED`: a participant joins the call.
    ParticipantAdded,
    /// `PARTICIPANT_REMOVED`: a participant leaves the call.
    ParticipantRemoved,
    /// `CONFERENCE`: participants of a three-way call are all taken off hold.
    Conference,
    /// `SWAP`: participants of a three-way call have their hold status swapped.
    Swap,
    /// `PAUSE_RECORDING`: the rep pauses call recording.
    PauseRecording,
    /// `RESUME_RECORDING`: the rep resumes call recording.
    ResumeRecording,
    /// `WRAP_UP_ENDED`: the rep exits after-call work.
    WrapUpEnded,
}

impl EventType {
    /// All 15 types, in the order of the spec's catalogue.
    pub const ALL: [EventType; 15] = [
        EventType::AudioStats,
        EventType::CallStarted,
        EventType::CallConnected,
        EventType::CallEnded,
        EventType::Hold,
        EventType::Resume,
        EventType::Mute,
        EventType::Unmute,
        EventType::ParticipantAdded,
        EventType::ParticipantRemoved,
        EventType::Conference,
        EventType::Swap,
        EventType::PauseRecording,
        EventType::ResumeRecording,
        EventType::WrapUpEnded,
    ];

    /// The canonical (Aura) name, e.g. `CALL_STARTED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::AudioStats => "AUDIO_STATS",
            EventType::CallStarted => "CALL_STARTED",
            EventType::CallConnected => "CALL_CONNECTED",
            EventType::CallEnded => "CALL_ENDED",
            EventType::Hold => "HOLD",
            EventType::Resume => "RESUME",
            EventType::Mute => "MUTE",
            EventType::Unmute => "UNMUTE",
            EventType::ParticipantAdded => "PARTICIPANT_ADDED",
            EventType::ParticipantRemoved => "PARTICIPANT_REMOVED",
            EventType::Conference => "CONFERENCE",
            EventType::Swap => "SWAP",
            EventType::PauseRecording => "PAUSE_RECORDING",
            EventType::ResumeRecording => "RESUME_RECORDING",
            EventType::WrapUpEnded => "WRAP_UP_ENDED",
        }
    }

    /// The LWC name: lower case without underscores, e.g. `callstarted`.
    pub const fn lwc_name(self) -> &'static str {
        match self {
            EventType::AudioStats => "audiostats",
            EventType::CallStarted => "callstarted",
            EventType::CallConnected => "callconnected",
            EventType::CallEnded => "callended",
            EventType::Hold => "hold",
            EventType::Resume => "resume",
            EventType::Mute => "mute",
            EventType::Unmute => "unmute",
            EventType::ParticipantAdded => "participantadded",
            EventType::ParticipantRemoved => "participantremoved",
            EventType::Conference => "conference",
            EventType::Swap => "swap",
            EventType::PauseRecording => "pauserecording",
            EventType::ResumeRecording => "resumerecording",
            EventType::WrapUpEnded => "wrapupended",
        }
    }

    /// Looks a type up by its Aura or LWC name. Names are matched exactly (`Hold` is neither).
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == name || t.lwc_name() == name)
    }

    /// A dense index in `0..15`, handy for per-type tables.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether `kind` of telephony has this event. Native telephony (Salesforce Voice) has no
    /// `AUDIO_STATS`, `CALL_STARTED`, `SWAP` or `WRAP_UP_ENDED`.
    pub const fn is_supported_by(self, kind: TelephonyKind) -> bool {
        match kind {
            TelephonyKind::Partner => true,
            TelephonyKind::Native => !matches!(
                self,
                EventType::AudioStats
                    | EventType::CallStarted
                    | EventType::Swap
                    | EventType::WrapUpEnded
            ),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`EventType`] from a name that is neither an Aura nor an LWC name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {name:?}; expected one of {}", EventType::ALL.map(EventType::as_str).join(", "))]
pub struct UnknownEventType {
    /// The name that was given.
    pub name: String,
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::from_name(s).ok_or_else(|| UnknownEventType { name: s.to_owned() })
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Which telephony the events come from; it decides which event types exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelephonyKind {
    /// A partner telephony provider (Amazon Connect, ...): all 15 events. The default.
    #[default]
    Partner,
    /// Salesforce Voice Native Telephony: no `AUDIO_STATS`, `CALL_STARTED`, `SWAP`,
    /// `WRAP_UP_ENDED`.
    Native,
}

impl TelephonyKind {
    /// The lower-case name used on the command line and in config files.
    pub const fn as_str(self) -> &'static str {
        match self {
            TelephonyKind::Partner => "partner",
            TelephonyKind::Native => "native",
        }
    }
}

impl fmt::Display for TelephonyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`TelephonyKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown telephony kind {0:?}; expected \"partner\" or \"native\"")]
pub struct UnknownTelephonyKind(pub String);

impl FromStr for TelephonyKind {
    type Err = UnknownTelephonyKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "partner" => Ok(TelephonyKind::Partner),
            "native" => Ok(TelephonyKind::Native),
            other => Err(UnknownTelephonyKind(other.to_owned())),
        }
    }
}

/// The direction of a call, `callType` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    /// `"inbound"`: the customer called the agent.
    Inbound,
    /// `"outbound"`: the agent called out.
    Outbound,
}

impl CallType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallType::Inbound => "inbound",
            CallType::Outbound => "outbound",
        }
    }
}

/// The media channel an `AUDIO_STATS` event describes, `stats` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    /// `"inputChannelStats"`: what this side receives.
    #[serde(rename = "inputChannelStats")]
    Input,
    /// `"outputChannelStats"`: what this side sends.
    #[serde(rename = "outputChannelStats")]
    Output,
}

impl Channel {
    /// Both channels, input first.
    pub const BOTH: [Channel; 2] = [Channel::Input, Channel::Output];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Input => "inputChannelStats",
            Channel::Output => "outputChannelStats",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_both_names() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.as_str()), Some(t));
            assert_eq!(EventType::from_name(t.lwc_name()), Some(t));
            assert_eq!(t.lwc_name(), t.as_str().to_lowercase().replace('_', ""));
            assert_eq!(EventType::ALL[t.index()], t);
        }
    }

    #[test]
    fn names_are_exact() {
        assert_eq!(EventType::from_name("Hold"), None);
        assert_eq!(EventType::from_name("call_started"), None);
        let err = "CALL_FOO".parse::<EventType>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|m| m.contains("CALL_FOO") && m.contains("WRAP_UP_ENDED")));
    }

    #[test]
    fn native_lacks_exactly_four() {
        let missing: Vec<_> = EventType::ALL
            .into_iter()
            .filter(|t| !t.is_supported_by(TelephonyKind::Native))
            .collect();
        assert_eq!(
            missing,
            [
                EventType::AudioStats,
                EventType::CallStarted,
                EventType::Swap,
                EventType::WrapUpEnded
            ]
        );
        assert!(
            EventType::ALL
                .iter()
                .all(|t| t.is_supported_by(TelephonyKind::Partner))
        );
    }
}
