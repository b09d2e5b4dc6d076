//! The simulator's own model of one call: who is on it, who is on hold, mute, recording, and
//! which events the call's state allows next.
//!
//! It mirrors the engine's strict rules (crates/engine/TRANSITIONS.md), so that everything the
//! simulator emits is accepted: a scripted step or a user's action is first
//! [planned](CallModel::plan) against this model, which refuses what the engine would refuse,
//! and the model only [applies](CallModel::apply) an event once it is really sent.

use rand::Rng;
use serde_json::{Map, Value};
use voicetk_events::{
    CallConnectedDetail, CallStartedDetail, CallType, EventType, Extra, TelephonyEvent,
    TelephonyKind,
};

use super::scenario::Party;

/// Where the call is in its life, as the gateway sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing sent yet (in Native telephony, also while it rings: there is no CALL_STARTED).
    Pending,
    /// CALL_STARTED sent.
    Ringing,
    /// CALL_CONNECTED sent.
    Connected,
    /// CALL_ENDED sent.
    Ended,
    /// WRAP_UP_ENDED sent.
    Closed,
}

impl Phase {
    /// Whether the call has ended (and maybe been wrapped up).
    pub(crate) fn is_over(self) -> bool {
        matches!(self, Phase::Ended | Phase::Closed)
    }

    /// "the call is ringing", for messages.
    fn describe(self) -> &'static str {
        match self {
            Phase::Pending => "the call has not started",
            Phase::Ringing => "the call is ringing",
            Phase::Connected => "the call is connected",
            Phase::Ended => "the call has ended",
            Phase::Closed => "the call is closed",
        }
    }
}

/// What a step or an action asks of the call, with the data it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    Start,
    Connect,
    Hold(Party),
    Resume(Party),
    Mute,
    Unmute,
    Add(String),
    Remove(Party),
    Conference,
    Swap,
    PauseRecording,
    ResumeRecording,
    End,
    WrapUp,
}

impl Intent {
    fn event_type(&self) -> EventType {
        match self {
            Intent::Start => EventType::CallStarted,
            Intent::Connect => EventType::CallConnected,
            Intent::Hold(_) => EventType::Hold,
            Intent::Resume(_) => EventType::Resume,
            Intent::Mute => EventType::Mute,
            Intent::Unmute => EventType::Unmute,
            Intent::Add(_) => EventType::ParticipantAdded,
            Intent::Remove(_) => EventType::ParticipantRemoved,
            Intent::Conference => EventType::Conference,
            Intent::Swap => EventType::Swap,
            Intent::PauseRecording => EventType::PauseRecording,
            Intent::ResumeRecording => EventType::ResumeRecording,
            Intent::End => EventType::CallEnded,
            Intent::WrapUp => EventType::WrapUpEnded,
        }
    }
}

/// One participant besides the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Participant {
    /// Phone number or Quick Connect name, as events carry it.
    number: String,
    /// Initial caller or third party.
    role: Party,
    /// Whether the participant is on hold.
    on_hold: bool,
}

/// The model of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallModel {
    /// `callId` of every event.
    call_id: String,
    /// `callType` of CALL_STARTED / CALL_CONNECTED.
    call_type: CallType,
    /// Decides which events exist.
    telephony: TelephonyKind,
    /// The initial caller's number, kept after they leave (CALL_CONNECTED names them).
    caller: String,
    /// `callAttributes` of CALL_CONNECTED.
    attributes: Map<String, Value>,
    /// Where the call is; decides which events may come next.
    phase: Phase,
    /// Initial caller first, then third parties, oldest first.
    participants: Vec<Participant>,
    /// Whether the agent is muted (MUTE / UNMUTE alternate).
    muted: bool,
    /// Whether recording is paused (PAUSE_RECORDING / RESUME_RECORDING alternate).
    recording_paused: bool,
}

impl CallModel {
    pub(crate) fn new(
        call_id: String,
        call_type: CallType,
        telephony: TelephonyKind,
        caller: String,
        attributes: Map<String, Value>,
    ) -> CallModel {
        CallModel {
            call_id,
            call_type,
            telephony,
            caller,
            attributes,
            phase: Phase::Pending,
            participants: Vec::new(),
            muted: false,
            recording_paused: false,
        }
    }

    pub(crate) fn call_id(&self) -> &str {
        &self.call_id
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether nothing more can happen on the call: closed, or ended in Native telephony (which
    /// has no WRAP_UP_ENDED).
    pub(crate) fn is_finished(&self) -> bool {
        match self.phase {
            Phase::Closed => true,
            Phase::Ended => !EventType::WrapUpEnded.is_supported_by(self.telephony),
            _ => false,
        }
    }

    /// The participant a step or action means: the initial caller, or the most recent third
    /// party.
    fn party(&self, who: Party) -> Option<&Participant> {
        self.participants.iter().rev().find(|p| p.role == who)
    }

    /// The event that carries out `intent` now, or why the call's state does not allow it.
    pub(crate) fn plan(&self, intent: &Intent) -> Result<TelephonyEvent, String> {
        let t = intent.event_type();
        if !t.is_supported_by(self.telephony) {
            return Err(format!(
                "{t} does not exist in {} telephony",
                self.telephony
            ));
        }
        let phase_ok = match intent {
            Intent::Start => self.phase == Phase::Pending,
            Intent::Connect => matches!(self.phase, Phase::Pending | Phase::Ringing),
            Intent::End => matches!(self.phase, Phase::Ringing | Phase::Connected),
            Intent::WrapUp => self.phase == Phase::Ended,
            _ => self.phase == Phase::Connected,
        };
        if !phase_ok {
            let needs = match intent {
                Intent::Start => "CALL_STARTED only opens a call",
                Intent::Connect => "CALL_CONNECTED needs a new or ringing call",
                Intent::End => "CALL_ENDED needs a ringing or connected call",
                Intent::WrapUp => "WRAP_UP_ENDED needs an ended call",
                _ => "",
            };
            return Err(if needs.is_empty() {
                format!("{}; {t} needs a connected call", self.phase.describe())
            } else {
                format!("{}; {needs}", self.phase.describe())
            });
        }
        let only_call = |t| TelephonyEvent::call_only(t, self.call_id.clone());
        let about = |t, who: &str| TelephonyEvent::with_participant(t, self.call_id.clone(), who);
        let event = match intent {
            Intent::Start => Some(TelephonyEvent::CallStarted(CallStartedDetail {
                call_id: self.call_id.clone(),
                call_type: self.call_type,
                participant: self.caller.clone(),
                extra: Extra::new(),
            })),
            Intent::Connect => Some(TelephonyEvent::CallConnected(CallConnectedDetail {
                call_id: self.call_id.clone(),
                call_type: self.call_type,
                participant: self.caller.clone(),
                call_attributes: Some(self.attributes.clone()),
                extra: Extra::new(),
            })),
            Intent::Hold(who) | Intent::Resume(who) | Intent::Remove(who) => {
                let p = self
                    .party(*who)
                    .ok_or_else(|| format!("there is no {} on the call", party_name(*who)))?;
                match intent {
                    Intent::Hold(_) if p.on_hold => {
                        return Err(format!(
                            "the {} ({}) is already on hold",
                            party_name(*who),
                            p.number
                        ));
                    }
                    Intent::Resume(_) if !p.on_hold => {
                        return Err(format!(
                            "the {} ({}) is not on hold",
                            party_name(*who),
                            p.number
                        ));
                    }
                    _ => {}
                }
                about(t, &p.number)
            }
            Intent::Add(number) => {
                if number.trim().is_empty() {
                    return Err("a participant needs a phone number or a name".to_owned());
                }
                if self.participants.iter().any(|p| &p.number == number) {
                    return Err(format!("{number:?} is already on the call"));
                }
                about(t, number)
            }
            Intent::Mute if self.muted => return Err("the agent is already muted".to_owned()),
            Intent::Unmute if !self.muted => return Err("the agent is not muted".to_owned()),
            Intent::PauseRecording if self.recording_paused => {
                return Err("recording is already paused".to_owned());
            }
            Intent::ResumeRecording if !self.recording_paused => {
                return Err("recording is not paused".to_owned());
            }
            Intent::Conference if self.participants.len() < 2 => {
                return Err(
                    "a conference needs at least two participants besides the agent".to_owned(),
                );
            }
            Intent::Swap
                if self.participants.len() != 2
                    || self.participants.iter().filter(|p| p.on_hold).count() != 1 =>
            {
                return Err(
                    "a swap needs exactly two participants with exactly one on hold".to_owned(),
                );
            }
            _ => only_call(t),
        };
        // Every arm above builds a type that matches its constructor.
        event.ok_or_else(|| format!("{t} cannot be built"))
    }

    /// Takes `event` into the model; it must come from [`plan`](Self::plan) on this state.
    pub(crate) fn apply(&mut self, event: &TelephonyEvent) {
        match event {
            TelephonyEvent::CallStarted(_) => {
                self.phase = Phase::Ringing;
                self.add_caller();
            }
            TelephonyEvent::CallConnected(_) => {
                self.phase = Phase::Connected;
                self.add_caller();
            }
            TelephonyEvent::CallEnded(_) => self.phase = Phase::Ended,
            TelephonyEvent::WrapUpEnded(_) => self.phase = Phase::Closed,
            TelephonyEvent::Hold(d) | TelephonyEvent::Resume(d) => {
                let hold = matches!(event, TelephonyEvent::Hold(_));
                if let Some(p) = self
                    .participants
                    .iter_mut()
                    .find(|p| p.number == d.participant)
                {
                    p.on_hold = hold;
                }
            }
            TelephonyEvent::ParticipantAdded(d) => self.participants.push(Participant {
                number: d.participant.clone(),
                role: Party::ThirdParty,
                on_hold: false,
            }),
            TelephonyEvent::ParticipantRemoved(d) => {
                self.participants.retain(|p| p.number != d.participant);
            }
            TelephonyEvent::Conference(_) => {
                self.participants.iter_mut().for_each(|p| p.on_hold = false);
            }
            TelephonyEvent::Swap(_) => {
                self.participants
                    .iter_mut()
                    .for_each(|p| p.on_hold = !p.on_hold);
            }
            TelephonyEvent::Mute(_) => self.muted = true,
            TelephonyEvent::Unmute(_) => self.muted = false,
            TelephonyEvent::PauseRecording(_) => self.recording_paused = true,
            TelephonyEvent::ResumeRecording(_) => self.recording_paused = false,
            TelephonyEvent::AudioStats(_) => {}
        }
    }

    fn add_caller(&mut self) {
        if self.participants.is_empty() {
            self.participants.push(Participant {
                number: self.caller.clone(),
                role: Party::InitialCaller,
                on_hold: false,
            });
        }
    }

    /// A third party not on the call yet: mostly a phone number, sometimes a Quick Connect
    /// name (the spec allows either).
    pub(crate) fn fresh_contact(&self, rng: &mut impl Rng) -> String {
        let taken = |c: &str| self.participants.iter().any(|p| p.number == c);
        if rng.random_bool(0.3) {
            let start = rng.random_range(0..QUICK_CONNECTS.len());
            let free = (0..QUICK_CONNECTS.len())
                .map(|i| QUICK_CONNECTS[(start + i) % QUICK_CONNECTS.len()])
                .find(|c| !taken(c));
            if let Some(name) = free {
                return name.to_owned();
            }
        }
        // Walk the number space from a random point: the first free number, so this always
        // ends (a call has far fewer participants than there are numbers).
        let start = rng.random_range(0..NUMBER_SPACE);
        (0..NUMBER_SPACE)
            .map(|i| phone_number((start + i) % NUMBER_SPACE))
            .find(|n| !taken(n))
            .unwrap_or_else(|| format!("{} ext. {}", phone_number(start), self.participants.len()))
    }
}

fn party_name(who: Party) -> &'static str {
    match who {
        Party::InitialCaller => "initial caller",
        Party::ThirdParty => "third party",
    }
}

/// Area codes of the simulated numbers; every number is in the 555-01xx range that North
/// American numbering reserves for fiction, so a simulated call can never ring anyone.
const AREA_CODES: [&str; 8] = ["415", "212", "312", "206", "617", "512", "303", "404"];

/// How many distinct simulated numbers there are.
pub(crate) const NUMBER_SPACE: usize = AREA_CODES.len() * 100;

/// Quick Connect names a third party may have instead of a number.
const QUICK_CONNECTS: [&str; 4] = [
    "Billing Queue",
    "Tier 2 Support",
    "Retention Desk",
    "Supervisor",
];

/// The `k`th simulated number (`k < NUMBER_SPACE`), e.g. `+1 (415) 555-0142`.
pub(crate) fn phone_number(k: usize) -> String {
    let area = AREA_CODES[(k / 100) % AREA_CODES.len()];
    format!("+1 ({area}) 555-01{:02}", k % 100)
}

/// A uuid-looking call id (version 4 layout) drawn from `rng`, so it is deterministic for a
/// seed.
pub(crate) fn call_id(rng: &mut impl Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `callAttributes` a partner provider might send on CALL_CONNECTED (the spec's example keys).
pub(crate) fn call_attributes(rng: &mut impl Rng) -> Map<String, Value> {
    const LANGUAGES: [&str; 4] = ["en-US", "en-US", "es-US", "fr-CA"];
    let mut attrs = Map::new();
    attrs.insert(
        "isTranscribed".to_owned(),
        Value::String(rng.random_bool(0.6).to_string()),
    );
    attrs.insert(
        "languageCode".to_owned(),
        Value::String(LANGUAGES[rng.random_range(0..LANGUAGES.len())].to_owned()),
    );
    attrs
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn connected(telephony: TelephonyKind) -> CallModel {
        let mut call = CallModel::new(
            "c-1".into(),
            CallType::Inbound,
            telephony,
            phone_number(0),
            Map::new(),
        );
        let e = call.plan(&Intent::Connect).unwrap();
        call.apply(&e);
        call
    }

    fn run(call: &mut CallModel, intent: Intent) -> Result<TelephonyEvent, String> {
        let e = call.plan(&intent)?;
        call.apply(&e);
        Ok(e)
    }

    #[test]
    fn ids_and_numbers_look_real() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let id = call_id(&mut rng);
        let parts: Vec<_> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(id, call_id(&mut rng));
        assert_eq!(phone_number(142), "+1 (212) 555-0142");
        assert_eq!(phone_number(7), "+1 (415) 555-0107");
    }

    #[test]
    fn hold_resume_and_swap_follow_the_engine_rules() {
        let mut call = connected(TelephonyKind::Partner);
        assert!(run(&mut call, Intent::Resume(Party::InitialCaller)).is_err());
        let hold = run(&mut call, Intent::Hold(Party::InitialCaller)).unwrap();
        assert_eq!(hold.participant(), Some("+1 (415) 555-0100"));
        assert_eq!(
            run(&mut call, Intent::Hold(Party::InitialCaller)).unwrap_err(),
            "the initial caller (+1 (415) 555-0100) is already on hold"
        );
        assert!(run(&mut call, Intent::Swap).is_err());
        assert!(run(&mut call, Intent::Hold(Party::ThirdParty)).is_err());
        run(&mut call, Intent::Add("Supervisor".into())).unwrap();
        assert!(run(&mut call, Intent::Add("Supervisor".into())).is_err());
        run(&mut call, Intent::Swap).unwrap();
        // After the swap the caller talks and the supervisor waits.
        assert!(run(&mut call, Intent::Resume(Party::InitialCaller)).is_err());
        run(&mut call, Intent::Resume(Party::ThirdParty)).unwrap();
        run(&mut call, Intent::Remove(Party::InitialCaller)).unwrap();
        assert!(run(&mut call, Intent::Conference).is_err());
        run(&mut call, Intent::End).unwrap();
        assert_eq!(
            run(&mut call, Intent::Mute).unwrap_err(),
            "the call has ended; MUTE needs a connected call"
        );
        assert!(!call.is_finished());
        run(&mut call, Intent::WrapUp).unwrap();
        assert!(call.is_finished());
    }

    #[test]
    fn native_has_no_start_swap_or_wrap_up() {
        let mut call = CallModel::new(
            "c-2".into(),
            CallType::Outbound,
            TelephonyKind::Native,
            phone_number(1),
            Map::new(),
        );
        assert_eq!(
            call.plan(&Intent::Start).unwrap_err(),
            "CALL_STARTED does not exist in native telephony"
        );
        run(&mut call, Intent::Connect).unwrap();
        run(&mut call, Intent::End).unwrap();
        assert!(call.is_finished());
        assert!(call.plan(&Intent::WrapUp).is_err());
    }

    #[test]
    fn fresh_contacts_are_never_on_the_call() {
        let mut call = connected(TelephonyKind::Partner);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let c = call.fresh_contact(&mut rng);
            run(&mut call, Intent::Add(c)).unwrap();
        }
        assert_eq!(call.participants.len(), 51);
    }
}
