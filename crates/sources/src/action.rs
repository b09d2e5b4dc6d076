//! Actions: what a component asks a call to do, mirroring the Voice Toolkit API methods.

use std::fmt;

use serde::{Deserialize, Serialize};
use voicetk_events::EventType;

/// Which party of the call an action targets (`participantType` in the Voice Toolkit API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParticipantType {
    /// The customer the call started with.
    #[serde(rename = "Initial_Caller")]
    InitialCaller,
    /// A party added later (transfer, conference).
    #[serde(rename = "Third_Party")]
    ThirdParty,
    /// The agent.
    #[serde(rename = "Agent")]
    Agent,
}

/// An action on a call, as `POST /v1/calls/{callId}/actions/{action}` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `accept-call`: answer a ringing call. Confirmed by CALL_CONNECTED.
    AcceptCall,
    /// `decline-call`: reject a ringing call. Confirmed by CALL_ENDED.
    DeclineCall,
    /// `end-call`: hang up (the whole call, or one participant). Confirmed by CALL_ENDED, or
    /// PARTICIPANT_REMOVED when a third party is dropped from a conference.
    EndCall {
        /// Who to drop; `None` ends the call for everyone.
        participant_type: Option<ParticipantType>,
    },
    /// `mute`: mute the agent. Confirmed by MUTE.
    Mute,
    /// `unmute`: unmute the agent. Confirmed by UNMUTE.
    Unmute,
    /// `hold`: put a participant on hold. Confirmed by HOLD.
    Hold {
        /// Who to hold.
        participant_type: ParticipantType,
    },
    /// `resume`: take a participant off hold. Confirmed by RESUME.
    Resume {
        /// Who to resume.
        participant_type: ParticipantType,
    },
    /// `pause-recording`. Confirmed by PAUSE_RECORDING.
    PauseRecording,
    /// `resume-recording`. Confirmed by RESUME_RECORDING.
    ResumeRecording,
    /// `merge`: join everyone in a conference. Confirmed by CONFERENCE.
    Merge,
    /// `swap`: swap which of two participants is on hold. Confirmed by SWAP.
    Swap,
    /// `add-participant`: call a third party into the call. Confirmed by PARTICIPANT_ADDED.
    AddParticipant {
        /// `contactType`: e.g. `PhoneNumber`, `Queue`, `Agent`.
        contact_type: String,
        /// `contactValue`: the number or name to reach.
        contact_value: String,
        /// `isBlindTransfer`: drop the agent once the third party is connected.
        is_blind_transfer: bool,
    },
    /// `send-digits`: send DTMF. No telephony event confirms it.
    SendDigits {
        /// The digits: 0-9, `*`, `#`, `,` (pause).
        digits: String,
    },
}

impl Action {
    /// The action's name in the URL (`hold`, `add-participant`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::AcceptCall => "accept-call",
            Action::DeclineCall => "decline-call",
            Action::EndCall { .. } => "end-call",
            Action::Mute => "mute",
            Action::Unmute => "unmute",
            Action::Hold { .. } => "hold",
            Action::Resume { .. } => "resume",
            Action::PauseRecording => "pause-recording",
            Action::ResumeRecording => "resume-recording",
            Action::Merge => "merge",
            Action::Swap => "swap",
            Action::AddParticipant { .. } => "add-participant",
            Action::SendDigits { .. } => "send-digits",
        }
    }

    /// The event type that confirms the action once the source carried it out, or `None` for
    /// `send-digits`, which no telephony event reports.
    pub fn confirming_event(&self) -> Option<EventType> {
        Some(match self {
            Action::AcceptCall => EventType::CallConnected,
            Action::DeclineCall => EventType::CallEnded,
            Action::EndCall {
                participant_type: Some(ParticipantType::ThirdParty),
            } => EventType::ParticipantRemoved,
            Action::EndCall { .. } => EventType::CallEnded,
            Action::Mute => EventType::Mute,
            Action::Unmute => EventType::Unmute,
            Action::Hold { .. } => EventType::Hold,
            Action::Resume { .. } => EventType::Resume,
            Action::PauseRecording => EventType::PauseRecording,
            Action::ResumeRecording => EventType::ResumeRecording,
            Action::Merge => EventType::Conference,
            Action::Swap => EventType::Swap,
            Action::AddParticipant { .. } => EventType::ParticipantAdded,
            Action::SendDigits { .. } => return None,
        })
    }

    /// Every action name, as the URL spells them.
    pub const NAMES: [&'static str; 13] = [
        "accept-call",
        "decline-call",
        "end-call",
        "mute",
        "unmute",
        "hold",
        "resume",
        "pause-recording",
        "resume-recording",
        "merge",
        "swap",
        "add-participant",
        "send-digits",
    ];
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a source could not carry out an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The source cannot do this kind of action at all (HTTP 501).
    #[error("the {source_name} source cannot {action}")]
    Unsupported {
        /// The source's name.
        source_name: String,
        /// The action's name.
        action: &'static str,
    },
    /// The source tried and failed (HTTP 502): the message says why.
    #[error("the {source_name} source failed to {action}: {message}")]
    Failed {
        /// The source's name.
        source_name: String,
        /// The action's name.
        action: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The request names something the source does not know (HTTP 422).
    #[error("{0}")]
    Invalid(String),
}
