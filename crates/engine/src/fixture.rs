//! Test fixtures shared by the unit tests: event builders and an engine with a clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use voicetk_events::{
    AudioStatsDetail, CallConnectedDetail, CallStartedDetail, CallType, Channel, Envelope,
    EventType, Extra, TelephonyEvent, TelephonyKind,
};

use crate::{Applied, CallState, Engine, EngineConfig, Refusal};

/// The call most tests are about.
pub(crate) const C: &str = "c-1";

/// The initial caller of the fixture calls.
pub(crate) const CALLER: &str = "+1 415 555 0100";
/// The third party the fixtures add.
pub(crate) const THIRD: &str = "+1 415 555 0142";
/// A number never on the fixture calls.
pub(crate) const STRANGER: &str = "+1 415 555 0199";

/// A fixed instant plus `n` seconds.
pub(crate) fn at(n: i64) -> Timestamp {
    Timestamp::from_second(1_740_000_000 + n).unwrap()
}

/// An event of any type for `call_id`; `participant` is used where the type has one.
pub(crate) fn event(t: EventType, call_id: &str, participant: &str) -> Envelope {
    let e = match t {
        EventType::CallStarted => TelephonyEvent::CallStarted(CallStartedDetail {
            call_id: call_id.into(),
            call_type: CallType::Inbound,
            participant: participant.into(),
            extra: Extra::new(),
        }),
        EventType::CallConnected => TelephonyEvent::CallConnected(CallConnectedDetail {
            call_id: call_id.into(),
            call_type: CallType::Inbound,
            participant: participant.into(),
            call_attributes: None,
            extra: Extra::new(),
        }),
        EventType::AudioStats => TelephonyEvent::AudioStats(AudioStatsDetail {
            call_id: call_id.into(),
            stats: Channel::Input,
            packets_lost: 3,
            packets_count: 1500,
            jitter_buffer_millis: 12,
            round_trip_time_millis: 80,
            stats_count: 6,
            mos: Some(4.21),
            extra: Extra::new(),
        }),
        EventType::Hold
        | EventType::Resume
        | EventType::ParticipantAdded
        | EventType::ParticipantRemoved => {
            TelephonyEvent::with_participant(t, call_id, participant).unwrap()
        }
        _ => TelephonyEvent::call_only(t, call_id).unwrap(),
    };
    Envelope::new(e)
}

/// An engine and a clock that ticks one second per applied event.
pub(crate) struct Fixture {
    pub(crate) engine: Engine,
    pub(crate) clock: i64,
}

impl Fixture {
    pub(crate) fn new(telephony: TelephonyKind, lenient: bool) -> Fixture {
        Fixture {
            engine: Engine::new(EngineConfig {
                telephony,
                lenient,
                ..EngineConfig::default()
            }),
            clock: 0,
        }
    }

    pub(crate) fn strict() -> Fixture {
        Fixture::new(TelephonyKind::Partner, false)
    }

    pub(crate) fn lenient() -> Fixture {
        Fixture::new(TelephonyKind::Partner, true)
    }

    pub(crate) fn run(&mut self, setup: &[Envelope]) {
        for e in setup {
            self.ok(e.clone());
        }
    }

    /// `setup` followed by `more`.
    pub(crate) fn with(mut self, setup: &[Envelope]) -> Fixture {
        self.run(setup);
        self
    }

    pub(crate) fn apply(&mut self, e: Envelope) -> Result<Applied, Refusal> {
        self.clock += 1;
        self.engine.apply(e, at(self.clock))
    }

    /// Applies `e`, which must be accepted; returns the stamped envelope.
    pub(crate) fn ok(&mut self, e: Envelope) -> Envelope {
        let t = e.event_type();
        let before = self.engine.last_seq();
        assert!(self.engine.check(&e).is_ok(), "check disagrees for {t}");
        match self.apply(e) {
            Ok(Applied::Accepted(stamped)) => {
                assert_eq!(stamped.seq, Some(before + 1));
                assert_eq!(stamped.timestamp, Some(at(self.clock)));
                stamped
            }
            other => panic!("{t} not accepted: {other:?}"),
        }
    }

    /// Applies `e`, which must be refused without any change; returns the refusal.
    pub(crate) fn refused(&mut self, e: Envelope) -> Refusal {
        let t = e.event_type();
        let before = serde_json::to_string(&self.engine.snapshot()).unwrap();
        let checked = self.engine.check(&e);
        let refusal = match self.apply(e) {
            Err(refusal) => refusal,
            Ok(applied) => panic!("{t} accepted: {applied:?}"),
        };
        assert_eq!(checked, Err(refusal.clone()), "check disagrees for {t}");
        let after = serde_json::to_string(&self.engine.snapshot()).unwrap();
        assert_eq!(before, after, "a refused {t} changed the engine");
        refusal
    }

    pub(crate) fn call(&self) -> &CallState {
        self.engine.call(C).expect("c-1 is tracked")
    }
}

/// An event for c-1, about the initial caller where it names a participant.
pub(crate) fn ev(t: EventType) -> Envelope {
    event(t, C, CALLER)
}

/// An event for c-1 about `participant`.
pub(crate) fn evp(t: EventType, participant: &str) -> Envelope {
    event(t, C, participant)
}

/// c-1 started (ringing).
pub(crate) fn ringing() -> Vec<Envelope> {
    vec![ev(EventType::CallStarted)]
}

/// c-1 connected with its initial caller.
pub(crate) fn live() -> Vec<Envelope> {
    vec![ev(EventType::CallStarted), ev(EventType::CallConnected)]
}

/// c-1 connected with the initial caller and a third party.
pub(crate) fn three_way() -> Vec<Envelope> {
    let mut s = live();
    s.push(evp(EventType::ParticipantAdded, THIRD));
    s
}

/// c-1 ended after being connected.
pub(crate) fn ended() -> Vec<Envelope> {
    let mut s = live();
    s.push(ev(EventType::CallEnded));
    s
}

/// c-1 closed.
pub(crate) fn closed() -> Vec<Envelope> {
    let mut s = ended();
    s.push(ev(EventType::WrapUpEnded));
    s
}

/// `setup` followed by `more`.
pub(crate) fn with(mut setup: Vec<Envelope>, more: &[Envelope]) -> Vec<Envelope> {
    setup.extend_from_slice(more);
    setup
}
