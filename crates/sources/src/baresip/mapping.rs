//! From baresip's call events to Voice Toolkit events: the source's table of calls.
//!
//! [`CallTable::observe`] takes one baresip event and says what to do about it, as a list of
//! [`Effect`]s the connection carries out in order: events to submit, RTCP samples for the
//! AUDIO_STATS aggregator, a call's audio to close. It never waits and never fails, so it is
//! tested event by event with frames recorded from a real baresip.
//!
//! | baresip event | toolkit event |
//! |---|---|
//! | `CALL_INCOMING` | CALL_STARTED, `callType` inbound |
//! | `CALL_OUTGOING`, `CALL_RINGING`, `CALL_PROGRESS` | CALL_STARTED, `callType` from `direction` (outbound) |
//! | `CALL_ESTABLISHED` | CALL_CONNECTED (opens the call when no CALL_STARTED was sent) |
//! | `CALL_CLOSED` | the call's last AUDIO_STATS, then CALL_ENDED with a top-level `reason` = `param` |
//! | `CALL_RTCP` (audio, connected call) | samples for the aggregator |
//! | anything else | nothing (debug log) |
//!
//! `callId` is baresip's call `id`, `participant` the `peeruri`, and the envelope's `agent`
//! the `accountaor`. Lifecycle events carry a stable `eventId`
//! (`baresip:<account>:<id>:started`, `:connected`, `:ended`), so a re-delivery (after a
//! reconnect, or by a restarted voicetk, see [`CallTable::found`]) is recognised by the
//! gateway; repeatable events (HOLD, MUTE, AUDIO_STATS, ...) carry one unique to this run.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;
use voicetk_engine::audio::RawSample;
use voicetk_events::{
    AudioStatsDetail, CallConnectedDetail, CallDetail, CallStartedDetail, CallType, Channel,
    Envelope, EventType, Extra, TelephonyEvent, TelephonyKind,
};

use super::protocol::{Direction, Event};

/// The top-level field of CALL_ENDED that holds baresip's close reason (`param` of
/// CALL_CLOSED), e.g. `"reason": "Connection reset by peer"`. Top level, not inside `detail`:
/// CONTRACT.md §1 lets payloads carry other system-generated fields but adds nothing to
/// `detail`.
pub(crate) const REASON_FIELD: &str = "reason";

/// How many closed calls are remembered, to ignore their late events and to explain a dial
/// that failed at once.
const CLOSED_MEMORY: usize = 256;

/// Where a call stands, as far as the source has told the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Started (CALL_STARTED sent, or registered silently in Native telephony), not answered.
    Ringing,
    /// Answered: CALL_CONNECTED sent (or the call was adopted with its media flowing).
    Connected,
}

/// One call under way on the softphone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// `accountaor`: the agent whose call it is.
    pub account: Option<String>,
    /// `peeruri`: the `participant` of every event about the call.
    pub peer: String,
    /// Who placed it.
    pub call_type: CallType,
    /// Ringing or connected.
    pub phase: Phase,
    /// The agent's mute, as last confirmed by baresip.
    pub muted: bool,
    /// Whether the peer is on hold, as last confirmed by baresip.
    pub on_hold: bool,
}

/// A call that ended: kept a while so late events about it are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closed {
    /// The call's id.
    pub call_id: String,
    /// baresip's close reason (`param` of CALL_CLOSED).
    pub reason: String,
}

/// Something the connection must do, in order, after an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// Submit this event to the gateway.
    Submit {
        /// The event.
        envelope: Envelope,
        /// True when the gateway may already have the event or not know the call (a call
        /// this run did not see start): a refusal is then expected, and only logged at debug
        /// level.
        speculative: bool,
    },
    /// Record RTCP samples for the AUDIO_STATS aggregator.
    Samples {
        /// The call.
        call_id: String,
        /// One sample per channel.
        samples: [(Channel, RawSample); 2],
    },
    /// Close the call's audio: its partial interval goes out as AUDIO_STATS now, before the
    /// CALL_ENDED that follows (nothing but WRAP_UP_ENDED is accepted after CALL_ENDED).
    EndAudio {
        /// The call.
        call_id: String,
        /// Its agent, for the envelopes.
        account: Option<String>,
    },
}

/// The calls the source knows about, and what it told the gateway about each.
#[derive(Debug)]
pub(crate) struct CallTable {
    /// Calls under way, by baresip call id.
    calls: HashMap<String, Call>,
    /// Recently closed calls, oldest first, and their ids for lookups.
    closed: VecDeque<Closed>,
    closed_ids: HashSet<String>,
    /// Which events exist (Native telephony has no CALL_STARTED and no AUDIO_STATS).
    telephony: TelephonyKind,
    /// Makes the `eventId`s of repeatable events unique to this run: a restarted voicetk
    /// must not reuse an id the gateway still remembers, or its event would be taken for a
    /// re-delivery and dropped.
    run: u64,
    /// Counts repeatable events, for their `eventId`s.
    counter: u64,
}

impl CallTable {
    /// An empty table. `run` distinguishes this run's event ids from earlier runs'.
    pub fn new(telephony: TelephonyKind, run: u64) -> CallTable {
        CallTable {
            calls: HashMap::new(),
            closed: VecDeque::new(),
            closed_ids: HashSet::new(),
            telephony,
            run,
            counter: 0,
        }
    }

    /// The call, if under way.
    pub fn get(&self, call_id: &str) -> Option<&Call> {
        self.calls.get(call_id)
    }

    /// Updates a call under way (mute, hold) once baresip and the gateway confirmed it.
    pub fn update(&mut self, call_id: &str, change: impl FnOnce(&mut Call)) {
        if let Some(call) = self.calls.get_mut(call_id) {
            change(call);
        }
    }

    /// Ids of the calls under way.
    pub fn active_ids(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }

    /// Every id the table knows, under way or recently closed.
    pub fn known_ids(&self) -> HashSet<String> {
        self.calls
            .keys()
            .chain(self.closed_ids.iter())
            .cloned()
            .collect()
    }

    /// A recently closed call.
    pub fn closed(&self, call_id: &str) -> Option<&Closed> {
        if !self.closed_ids.contains(call_id) {
            return None;
        }
        self.closed.iter().rev().find(|c| c.call_id == call_id)
    }

    /// The most recently closed call whose id is not in `before`.
    pub fn closed_since(&self, before: &HashSet<String>) -> Option<&Closed> {
        self.closed
            .iter()
            .rev()
            .find(|c| !before.contains(&c.call_id))
    }

    /// What to do about one baresip event.
    pub fn observe(&mut self, event: &Event) -> Vec<Effect> {
        let Some(call_id) = event.call_id.as_deref() else {
            tracing::debug!(kind = event.kind, "baresip event without a call id ignored");
            return Vec::new();
        };
        match event.kind.as_str() {
            "CALL_INCOMING" => self.start(call_id, event, CallType::Inbound),
            "CALL_OUTGOING" | "CALL_RINGING" | "CALL_PROGRESS" => {
                self.start(call_id, event, call_type_of(event.direction))
            }
            "CALL_ESTABLISHED" => self.connect(call_id, event),
            "CALL_CLOSED" => {
                let reason = event.param.clone().unwrap_or_default();
                self.close(call_id, event.account.clone(), &reason)
            }
            "CALL_RTCP" => self.rtcp(call_id, event),
            other => {
                tracing::debug!(kind = other, call_id, "baresip event ignored");
                Vec::new()
            }
        }
    }

    /// A call this source placed, identified after `dial` (by `callstat`): registered as
    /// started unless an event already did. `Err` with baresip's reason when it already
    /// closed.
    pub fn dialed(
        &mut self,
        call_id: &str,
        peer: &str,
        account: Option<String>,
    ) -> Result<Vec<Effect>, String> {
        if self.calls.contains_key(call_id) {
            return Ok(Vec::new());
        }
        if let Some(closed) = self.closed(call_id) {
            return Err(closed.reason.clone());
        }
        Ok(self.open(
            call_id,
            Call {
                account,
                peer: peer.to_owned(),
                call_type: CallType::Outbound,
                phase: Phase::Ringing,
                muted: false,
                on_hold: false,
            },
        ))
    }

    /// A call that baresip no longer has (it ended while the source was disconnected).
    pub fn gone(&mut self, call_id: &str, reason: &str) -> Vec<Effect> {
        if !self.calls.contains_key(call_id) {
            return Vec::new();
        }
        self.close(call_id, None, reason)
    }

    /// An event of a repeatable kind (HOLD, MUTE, ...) about a call under way, stamped with
    /// its agent and a fresh `eventId`.
    pub fn stamp(&mut self, event: TelephonyEvent) -> Envelope {
        let account = self
            .calls
            .get(event.call_id())
            .and_then(|c| c.account.clone());
        let kind = event.event_type().lwc_name();
        let id = self.fresh_id(account.as_deref(), event.call_id(), kind);
        envelope(event, account, id)
    }

    /// An AUDIO_STATS detail from the aggregator as an envelope.
    pub fn audio_stats(&mut self, detail: AudioStatsDetail, account: Option<String>) -> Envelope {
        let id = self.fresh_id(account.as_deref(), &detail.call_id, "audiostats");
        envelope(TelephonyEvent::AudioStats(detail), account, id)
    }

    fn fresh_id(&mut self, account: Option<&str>, call_id: &str, kind: &str) -> String {
        self.counter += 1;
        format!(
            "{}:{kind}:{:x}-{}",
            stable_prefix(account, call_id),
            self.run,
            self.counter
        )
    }

    fn start(&mut self, call_id: &str, event: &Event, call_type: CallType) -> Vec<Effect> {
        if self.calls.contains_key(call_id) || self.closed_ids.contains(call_id) {
            return Vec::new();
        }
        let Some(peer) = peer_of(event) else {
            tracing::warn!(
                call_id,
                kind = event.kind,
                "baresip call event without peeruri ignored"
            );
            return Vec::new();
        };
        self.open(
            call_id,
            Call {
                account: event.account.clone(),
                peer,
                call_type,
                phase: Phase::Ringing,
                muted: false,
                on_hold: false,
            },
        )
    }

    fn open(&mut self, call_id: &str, call: Call) -> Vec<Effect> {
        self.open_as(call_id, call, false)
    }

    /// Registers a new call; its first event is CALL_STARTED, or CALL_CONNECTED when it is
    /// already connected (or in Native telephony, which has no CALL_STARTED: nothing until it
    /// connects).
    fn open_as(&mut self, call_id: &str, call: Call, speculative: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        if call.phase == Phase::Connected {
            effects.push(connected(call_id, &call, speculative));
        } else if EventType::CallStarted.is_supported_by(self.telephony) {
            let started = TelephonyEvent::CallStarted(CallStartedDetail {
                call_id: call_id.to_owned(),
                call_type: call.call_type,
                participant: call.peer.clone(),
                extra: Extra::new(),
            });
            let id = format!(
                "{}:started",
                stable_prefix(call.account.as_deref(), call_id)
            );
            effects.push(Effect::Submit {
                envelope: envelope(started, call.account.clone(), id),
                speculative,
            });
        }
        self.calls.insert(call_id.to_owned(), call);
        effects
    }

    fn connect(&mut self, call_id: &str, event: &Event) -> Vec<Effect> {
        if self.closed_ids.contains(call_id) {
            return Vec::new();
        }
        match self.calls.get_mut(call_id) {
            Some(call) if call.phase == Phase::Connected => Vec::new(),
            Some(call) => {
                call.phase = Phase::Connected;
                vec![connected(call_id, call, false)]
            }
            None => {
                // No CALL_STARTED seen (an auto-answered incoming call): CALL_CONNECTED opens it.
                let Some(peer) = peer_of(event) else {
                    tracing::warn!(call_id, "CALL_ESTABLISHED without peeruri ignored");
                    return Vec::new();
                };
                let call = Call {
                    account: event.account.clone(),
                    peer,
                    call_type: call_type_of(event.direction),
                    phase: Phase::Connected,
                    muted: false,
                    on_hold: false,
                };
                self.open_as(call_id, call, false)
            }
        }
    }

    /// A call baresip lists when the source (re)connects. A call this run did not know is
    /// registered and announced (CALL_STARTED or CALL_CONNECTED, by its state) with the
    /// stable `eventId` it would have had: if the gateway already has that event (sent by a
    /// voicetk that restarted, or before the connection dropped), it answers with the
    /// original `seq` and delivers nothing twice. A ringing call that connected meanwhile gets
    /// its CALL_CONNECTED.
    pub fn found(&mut self, listed: Listed) -> Vec<Effect> {
        let call_id = listed.call_id.as_str();
        if self.closed_ids.contains(call_id) {
            return Vec::new();
        }
        match self.calls.get_mut(call_id) {
            Some(call) if call.phase == Phase::Connected || !listed.established => Vec::new(),
            Some(call) => {
                call.phase = Phase::Connected;
                vec![connected(call_id, call, false)]
            }
            None => {
                let call = Call {
                    account: listed.account,
                    peer: listed.peer,
                    call_type: listed.call_type,
                    phase: if listed.established {
                        Phase::Connected
                    } else {
                        Phase::Ringing
                    },
                    muted: false,
                    on_hold: false,
                };
                self.open_as(call_id, call, true)
            }
        }
    }

    fn close(&mut self, call_id: &str, account: Option<String>, reason: &str) -> Vec<Effect> {
        if self.closed_ids.contains(call_id) {
            return Vec::new();
        }
        let known = self.calls.remove(call_id);
        self.remember_closed(call_id, reason);
        let speculative = known.is_none();
        let account = known.and_then(|c| c.account).or(account);
        let ended = TelephonyEvent::CallEnded(CallDetail {
            call_id: call_id.to_owned(),
            extra: Extra::new(),
        });
        let id = format!("{}:ended", stable_prefix(account.as_deref(), call_id));
        let mut envelope = envelope(ended, account.clone(), id);
        // Top level, beside `agent`: CONTRACT §1 adds nothing inside `detail`.
        if !reason.is_empty() {
            envelope
                .extra
                .insert(REASON_FIELD.into(), Value::String(reason.to_owned()));
        }
        let mut effects = Vec::new();
        if !speculative {
            effects.push(Effect::EndAudio {
                call_id: call_id.to_owned(),
                account: account.clone(),
            });
        }
        effects.push(Effect::Submit {
            envelope,
            speculative,
        });
        effects
    }

    fn remember_closed(&mut self, call_id: &str, reason: &str) {
        if self.closed.len() == CLOSED_MEMORY {
            if let Some(old) = self.closed.pop_front() {
                self.closed_ids.remove(&old.call_id);
            }
        }
        self.closed.push_back(Closed {
            call_id: call_id.to_owned(),
            reason: reason.to_owned(),
        });
        self.closed_ids.insert(call_id.to_owned());
    }

    fn rtcp(&mut self, call_id: &str, event: &Event) -> Vec<Effect> {
        if !EventType::AudioStats.is_supported_by(self.telephony)
            || self.closed_ids.contains(call_id)
        {
            return Vec::new();
        }
        let samples = match RawSample::from_baresip_rtcp(&event.raw) {
            Ok(samples) => samples,
            Err(e) => {
                // Video statistics, or a report the source cannot read.
                tracing::debug!(call_id, error = %e, "CALL_RTCP not used for AUDIO_STATS");
                return Vec::new();
            }
        };
        let mut effects = Vec::new();
        match self.calls.get(call_id) {
            Some(call) if call.phase == Phase::Connected => {}
            // Reports during ringing are all zero: no conversation to measure yet.
            Some(_) => return Vec::new(),
            None => {
                // A call this run never saw (its events came while the source was away):
                // adopted once its media is seen flowing, like a listed established call.
                let flowing = samples.iter().any(|(_, s)| s.packets > 0);
                let Some(peer) = peer_of(event).filter(|_| flowing) else {
                    return Vec::new();
                };
                tracing::info!(call_id, "adopting a baresip call already under way");
                let call = Call {
                    account: event.account.clone(),
                    peer,
                    call_type: call_type_of(event.direction),
                    phase: Phase::Connected,
                    muted: false,
                    on_hold: false,
                };
                effects = self.open_as(call_id, call, true);
            }
        }
        effects.push(Effect::Samples {
            call_id: call_id.to_owned(),
            samples,
        });
        effects
    }
}

/// A call as baresip lists it (`listcalls`, then `callstat` on each line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Its id.
    pub call_id: String,
    /// The other party.
    pub peer: String,
    /// The account it belongs to.
    pub account: Option<String>,
    /// Who placed it.
    pub call_type: CallType,
    /// Whether it is answered (`ESTABLISHED`), or still ringing.
    pub established: bool,
}

/// CALL_CONNECTED for a call, with its stable `eventId`.
fn connected(call_id: &str, call: &Call, speculative: bool) -> Effect {
    let event = TelephonyEvent::CallConnected(CallConnectedDetail {
        call_id: call_id.to_owned(),
        call_type: call.call_type,
        participant: call.peer.clone(),
        call_attributes: None,
        extra: Extra::new(),
    });
    let id = format!(
        "{}:connected",
        stable_prefix(call.account.as_deref(), call_id)
    );
    Effect::Submit {
        envelope: envelope(event, call.account.clone(), id),
        speculative,
    }
}

fn call_type_of(direction: Option<Direction>) -> CallType {
    match direction {
        Some(Direction::Incoming) => CallType::Inbound,
        _ => CallType::Outbound,
    }
}

/// `baresip:<account>:<call id>`: the part of an `eventId` that names the call.
fn stable_prefix(account: Option<&str>, call_id: &str) -> String {
    format!("baresip:{}:{call_id}", account.unwrap_or("-"))
}

fn peer_of(event: &Event) -> Option<String> {
    event.peer.clone().or_else(|| {
        event
            .param
            .clone()
            .filter(|p| p.starts_with("sip:") || p.starts_with("sips:"))
    })
}

fn envelope(event: TelephonyEvent, agent: Option<String>, event_id: String) -> Envelope {
    let mut envelope = Envelope::new(event);
    envelope.agent = agent;
    envelope.event_id = Some(event_id);
    envelope
}
