//! One scripted call: a state machine that only ever emits events the engine accepts.

use std::collections::VecDeque;

use serde_json::Value;
use voicetk_events::{Channel, EventType};

use super::payload;
use super::rng::Rng;

/// Where a scripted call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing emitted yet; `CALL_STARTED` comes next.
    New,
    /// `CALL_STARTED` emitted; `CALL_CONNECTED` comes next (or the end, if abandoned).
    Ringing,
    /// In conversation: hold, mute, recording, participants, audio statistics.
    Connected,
    /// The closing events are queued or emitted; nothing new is decided.
    Over,
}

/// One call's events, in an order the call model accepts: `CALL_STARTED`, `CALL_CONNECTED`
/// (with `callAttributes`), conversation events chosen at random among those valid in the
/// call's current state, then `CALL_ENDED` and `WRAP_UP_ENDED`.
///
/// Conversation events are weighted like a real call: mostly `AUDIO_STATS` (an input and an
/// output event per interval), some hold/resume and mute/unmute, occasionally recording pauses
/// and a third party who is added, swapped with the caller, conferenced and removed. Every
/// one of the 15 event types occurs.
///
/// # Examples
/// ```
/// use voicetk_bench::CallFlow;
///
/// let mut call = CallFlow::new("call-1", 42).ending_after(10);
/// let types: Vec<String> = std::iter::from_fn(|| call.next_event())
///     .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
///     .collect();
/// assert_eq!(types[..2], ["CALL_STARTED", "CALL_CONNECTED"]);
/// assert_eq!(types[types.len() - 2..], ["CALL_ENDED", "WRAP_UP_ENDED"]);
/// assert!(call.is_over());
/// ```
#[derive(Debug, Clone)]
pub struct CallFlow {
    /// `detail.callId` of every event.
    call_id: String,
    /// Named on `CALL_STARTED`, so the engine attributes the call to this agent.
    agent: Option<String>,
    /// `inbound` or `outbound`.
    call_type: &'static str,
    /// The initial caller's number; stays on the call until it ends.
    caller: String,
    /// A third party's number while one is on the call.
    third: Option<String>,
    /// Hold flags, as the engine tracks them, so only valid HOLD/RESUME/SWAP are chosen.
    caller_on_hold: bool,
    third_on_hold: bool,
    /// The agent's mute.
    muted: bool,
    /// Recording paused.
    paused: bool,
    phase: Phase,
    /// Conversation events still to emit before the call ends itself; `None` never ends.
    budget: Option<u32>,
    /// End while ringing, without connecting (a caller who hangs up in the queue).
    abandon: bool,
    /// Events decided but not yet emitted: the output half of an `AUDIO_STATS` pair and the
    /// closing pair.
    queued: VecDeque<Value>,
    rng: Rng,
}

/// Relative weights of the conversation events, when they are valid.
const W_AUDIO: u64 = 50;
const W_HOLD_CALLER: u64 = 6;
const W_HOLD_THIRD: u64 = 2;
const W_MUTE: u64 = 6;
const W_RECORDING: u64 = 3;
const W_ADD: u64 = 3;
const W_REMOVE: u64 = 3;
const W_CONFERENCE: u64 = 3;
const W_SWAP: u64 = 4;

impl CallFlow {
    /// A call with id `call_id` whose choices follow `seed`. It never ends by itself: call
    /// [`end`](Self::end), or set a budget with [`ending_after`](Self::ending_after).
    pub fn new(call_id: impl Into<String>, seed: u64) -> CallFlow {
        let mut rng = Rng::new(seed);
        let caller = payload::phone_number(&mut rng);
        let call_type = if rng.percent(75) {
            "inbound"
        } else {
            "outbound"
        };
        CallFlow {
            call_id: call_id.into(),
            agent: None,
            call_type,
            caller,
            third: None,
            caller_on_hold: false,
            third_on_hold: false,
            muted: false,
            paused: false,
            phase: Phase::New,
            budget: None,
            abandon: false,
            queued: VecDeque::new(),
            rng,
        }
    }

    /// Names `agent` on `CALL_STARTED`.
    #[must_use]
    pub fn with_agent(mut self, agent: impl Into<String>) -> CallFlow {
        self.agent = Some(agent.into());
        self
    }

    /// Ends the call by itself after `n` conversation events.
    #[must_use]
    pub fn ending_after(mut self, n: u32) -> CallFlow {
        self.budget = Some(n);
        self
    }

    /// Ends the call while it rings: `CALL_STARTED`, `CALL_ENDED`, `WRAP_UP_ENDED`.
    #[must_use]
    pub fn abandoned(mut self) -> CallFlow {
        self.abandon = true;
        self
    }

    /// The call's id.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Whether every event of the call has been emitted.
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Over && self.queued.is_empty()
    }

    /// Queues `CALL_ENDED` and `WRAP_UP_ENDED` (after anything already queued). A call that
    /// has not started yet just ends, with no event; a call already ending is left alone.
    pub fn end(&mut self) {
        match self.phase {
            Phase::New => self.phase = Phase::Over,
            Phase::Ringing | Phase::Connected => {
                self.queued
                    .push_back(payload::call_only(EventType::CallEnded, &self.call_id));
                self.queued
                    .push_back(payload::call_only(EventType::WrapUpEnded, &self.call_id));
                self.phase = Phase::Over;
            }
            Phase::Over => {}
        }
    }

    /// The call's next event, or `None` once it is over.
    pub fn next_event(&mut self) -> Option<Value> {
        if let Some(v) = self.queued.pop_front() {
            return Some(v);
        }
        match self.phase {
            Phase::New => {
                self.phase = Phase::Ringing;
                Some(payload::call_started(
                    &self.call_id,
                    self.call_type,
                    &self.caller,
                    self.agent.as_deref(),
                ))
            }
            Phase::Ringing if self.abandon => {
                self.end();
                self.queued.pop_front()
            }
            Phase::Ringing => {
                self.phase = Phase::Connected;
                Some(payload::call_connected(
                    &self.call_id,
                    self.call_type,
                    &self.caller,
                    &mut self.rng,
                ))
            }
            Phase::Connected if self.budget == Some(0) => {
                self.end();
                self.queued.pop_front()
            }
            Phase::Connected => {
                if let Some(b) = &mut self.budget {
                    *b -= 1;
                }
                Some(self.conversation_event())
            }
            Phase::Over => None,
        }
    }

    /// Draws one conversation event among those valid now, and updates the tracked state.
    fn conversation_event(&mut self) -> Value {
        let third_present = self.third.is_some();
        let exactly_one_held = third_present && (self.caller_on_hold != self.third_on_hold);
        let on = |cond: bool, w: u64| if cond { w } else { 0 };
        let weights = [
            W_AUDIO,
            W_HOLD_CALLER,
            on(third_present, W_HOLD_THIRD),
            W_MUTE,
            W_RECORDING,
            on(!third_present, W_ADD),
            on(third_present, W_REMOVE),
            on(third_present, W_CONFERENCE),
            on(exactly_one_held, W_SWAP),
        ];
        let id = self.call_id.as_str();
        match self.rng.weighted(&weights) {
            0 => {
                self.queued
                    .push_back(payload::audio_stats(id, Channel::Output, &mut self.rng));
                payload::audio_stats(id, Channel::Input, &mut self.rng)
            }
            1 => {
                let t = toggle(&mut self.caller_on_hold, EventType::Hold, EventType::Resume);
                payload::participant_event(t, id, &self.caller)
            }
            2 => {
                let t = toggle(&mut self.third_on_hold, EventType::Hold, EventType::Resume);
                payload::participant_event(t, id, self.third.as_deref().unwrap_or_default())
            }
            3 => {
                let t = toggle(&mut self.muted, EventType::Mute, EventType::Unmute);
                payload::call_only(t, id)
            }
            4 => {
                let t = toggle(
                    &mut self.paused,
                    EventType::PauseRecording,
                    EventType::ResumeRecording,
                );
                payload::call_only(t, id)
            }
            5 => {
                let mut number = payload::phone_number(&mut self.rng);
                while number == self.caller {
                    number = payload::phone_number(&mut self.rng);
                }
                let v = payload::participant_event(EventType::ParticipantAdded, id, &number);
                self.third = Some(number);
                self.third_on_hold = false;
                v
            }
            6 => {
                let number = self.third.take().unwrap_or_default();
                self.third_on_hold = false;
                payload::participant_event(EventType::ParticipantRemoved, id, &number)
            }
            7 => {
                self.caller_on_hold = false;
                self.third_on_hold = false;
                payload::call_only(EventType::Conference, id)
            }
            _ => {
                self.caller_on_hold = !self.caller_on_hold;
                self.third_on_hold = !self.third_on_hold;
                payload::call_only(EventType::Swap, id)
            }
        }
    }
}

/// Flips `flag` and names the event that does it: `on` when it becomes true, else `off`.
fn toggle(flag: &mut bool, on: EventType, off: EventType) -> EventType {
    *flag = !*flag;
    if *flag { on } else { off }
}
