//! Random event sequences over a few calls and participants, in every mode: the engine never
//! panics, and its invariants hold after every step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use proptest::prelude::*;
use voicetk_events::{Channel, Envelope, EventType, TelephonyEvent, TelephonyKind};

use super::*;
use crate::Lifecycle;
use crate::fixture::{at, event};

const CALLS: [&str; 3] = ["c-1", "c-2", "c-3"];
const PARTICIPANTS: [&str; 3] = [
    "+1 415 555 0100",
    "+1 415 555 0142",
    "Quick Connect: Billing",
];

#[derive(Debug, Clone)]
struct Op {
    event_type: EventType,
    call: usize,
    participant: usize,
    event_id: Option<u8>,
    agent: Option<u8>,
    output_channel: bool,
}

impl Op {
    fn envelope(&self) -> Envelope {
        let mut e = event(
            self.event_type,
            CALLS[self.call],
            PARTICIPANTS[self.participant],
        );
        if let TelephonyEvent::AudioStats(d) = &mut e.event {
            if self.output_channel {
                d.stats = Channel::Output;
            }
        }
        e.event_id = self.event_id.map(|n| format!("evt-{n}"));
        e.agent = self.agent.map(|n| format!("agent-{n}"));
        e
    }
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..EventType::ALL.len(),
        0..CALLS.len(),
        0..PARTICIPANTS.len(),
        proptest::option::weighted(0.3, 0..12u8),
        proptest::option::of(0..2u8),
        any::<bool>(),
    )
        .prop_map(
            |(t, call, participant, event_id, agent, output_channel)| Op {
                event_type: EventType::ALL[t],
                call,
                participant,
                event_id,
                agent,
                output_channel,
            },
        )
}

/// Sequences biased towards the events that open calls, so most steps land on a live call.
fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    let opener = (0..CALLS.len(), 0..PARTICIPANTS.len(), any::<bool>()).prop_map(
        |(call, participant, started)| Op {
            event_type: if started {
                EventType::CallStarted
            } else {
                EventType::CallConnected
            },
            call,
            participant,
            event_id: None,
            agent: None,
            output_channel: false,
        },
    );
    proptest::collection::vec(prop_oneof![3 => op(), 1 => opener], 0..max)
}

fn config() -> impl Strategy<Value = EngineConfig> {
    (
        prop_oneof![Just(TelephonyKind::Partner), Just(TelephonyKind::Native)],
        any::<bool>(),
        prop_oneof![Just(0usize), Just(3), Just(100_000)],
        prop_oneof![Just(0usize), Just(1), Just(10_000)],
    )
        .prop_map(
            |(telephony, lenient, idempotency_window, closed_call_retention)| EngineConfig {
                telephony,
                lenient,
                idempotency_window,
                closed_call_retention,
            },
        )
}

impl Engine {
    /// The derived indexes agree with the data they index.
    fn assert_consistent(&self) {
        let telephony = self.config.telephony;
        let finished: BTreeSet<(u64, String)> = self
            .calls
            .values()
            .filter(|c| c.is_finished(telephony))
            .map(|c| (c.last_seq, c.call_id.clone()))
            .collect();
        assert_eq!(self.finished, finished);
        assert!(self.finished.len() <= self.config.closed_call_retention);
        assert_eq!(self.event_ids.len(), self.event_id_order.len());
        assert!(self.event_ids.len() <= self.config.idempotency_window);
        assert!(
            self.event_id_order
                .iter()
                .all(|id| self.event_ids.contains_key(id))
        );
        for (id, call) in &self.calls {
            assert_eq!(id, &call.call_id);
            assert!(call.first_seq <= call.last_seq && call.last_seq <= self.last_seq);
        }
    }
}

fn calls_by_id(engine: &Engine) -> HashMap<String, CallState> {
    engine
        .calls()
        .map(|c| (c.call_id.clone(), c.clone()))
        .collect()
}

/// Applies one op and checks everything that must hold around it.
fn step(engine: &mut Engine, op: &Op, n: i64) -> Result<(), TestCaseError> {
    let telephony = engine.config.telephony;
    let lenient = engine.config.lenient;
    let envelope = op.envelope();
    let event_type = envelope.event_type();
    let target = envelope.call_id().to_owned();
    let before = calls_by_id(engine);
    let last_seq = engine.last_seq();
    let checked = engine.check(&envelope);

    match engine.apply(envelope, at(n)) {
        Ok(Applied::Accepted(stamped)) => {
            prop_assert_eq!(stamped.seq, Some(last_seq + 1));
            prop_assert_eq!(engine.last_seq(), last_seq + 1);
            prop_assert_eq!(checked, Ok(stamped.warnings.clone()));
            if lenient {
                prop_assert!(stamped.warnings.len() <= 1);
            } else {
                prop_assert!(stamped.warnings.is_empty(), "strict attached warnings");
            }
        }
        Ok(Applied::Duplicate { seq }) => {
            prop_assert!(seq <= last_seq);
            prop_assert_eq!(engine.last_seq(), last_seq);
            prop_assert_eq!(checked, Ok(Vec::new()));
            prop_assert_eq!(&calls_by_id(engine), &before);
        }
        Err(refusal) => {
            prop_assert_eq!(checked, Err(refusal.clone()));
            prop_assert_eq!(engine.last_seq(), last_seq);
            prop_assert_eq!(&calls_by_id(engine), &before);
            match refusal.kind {
                RefusalKind::UnsupportedEvent => {
                    prop_assert!(!event_type.is_supported_by(telephony));
                }
                RefusalKind::InvalidTransition => prop_assert!(!lenient),
            }
        }
    }

    engine.assert_consistent();
    for call in engine.calls() {
        let mut numbers: Vec<&str> = call.numbers();
        numbers.sort_unstable();
        numbers.dedup();
        prop_assert_eq!(
            numbers.len(),
            call.participants.len(),
            "duplicate participant"
        );
        // Nobody is on hold without being on the call.
        prop_assert!(
            call.on_hold()
                .all(|p| call.participant(&p.participant).is_some())
        );
        let Some(old) = before.get(&call.call_id) else {
            continue;
        };
        prop_assert!(call.lifecycle >= old.lifecycle, "lifecycle went backwards");
        let may_change = call.call_id == target
            && match old.lifecycle {
                Lifecycle::Closed => false,
                Lifecycle::Ended => event_type == EventType::WrapUpEnded,
                Lifecycle::Started | Lifecycle::Connected => true,
            };
        if !may_change {
            prop_assert_eq!(call, old, "call changed without an event of its own");
        }
    }
    Ok(())
}

fn state(engine: &Engine) -> String {
    serde_json::to_string(&engine.snapshot()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_sequences_keep_the_invariants(config in config(), ops in ops(60)) {
        let mut engine = Engine::new(config);
        for (n, op) in ops.iter().enumerate() {
            step(&mut engine, op, n as i64)?;
        }
    }

    #[test]
    fn rollback_leaves_the_engine_as_it_was(
        config in config(),
        prefix in ops(30),
        batch in ops(30),
        nested_at in proptest::option::of(0..30usize),
        suffix in ops(10),
    ) {
        let mut engine = Engine::new(config.clone());
        let mut twin = Engine::new(config);
        for (n, op) in prefix.iter().enumerate() {
            let _ = engine.apply(op.envelope(), at(n as i64));
            let _ = twin.apply(op.envelope(), at(n as i64));
        }
        let before = state(&engine);
        let dirty = engine.dirty.clone();

        let cp = engine.checkpoint();
        let mut inner = None;
        for (n, op) in batch.iter().enumerate() {
            if nested_at == Some(n) {
                inner = Some(engine.checkpoint());
            }
            step(&mut engine, op, 100 + n as i64)?;
        }
        if let Some(inner) = inner {
            engine.commit(inner);
        }
        engine.rollback(cp);
        prop_assert_eq!(state(&engine), before);
        prop_assert_eq!(&engine.dirty, &dirty);
        prop_assert!(engine.frames.is_empty() && engine.id_undo.is_empty());
        engine.assert_consistent();

        // And it behaves exactly like an engine that never saw the batch.
        for (n, op) in suffix.iter().enumerate() {
            let now = at(200 + n as i64);
            prop_assert_eq!(engine.apply(op.envelope(), now), twin.apply(op.envelope(), now));
        }
        prop_assert_eq!(state(&engine), state(&twin));
    }

    #[test]
    fn a_restored_engine_behaves_like_the_original(
        config in config(),
        prefix in ops(40),
        suffix in ops(20),
    ) {
        let mut engine = Engine::new(config.clone());
        for (n, op) in prefix.iter().enumerate() {
            let _ = engine.apply(op.envelope(), at(n as i64));
        }
        let json = state(&engine);
        let persisted: EngineSnapshot = serde_json::from_str(&json).unwrap();
        let mut restored = Engine::restore(
            config,
            persisted.last_seq,
            persisted.calls,
            persisted.recent_event_ids,
        );
        prop_assert_eq!(state(&restored), json);
        restored.assert_consistent();
        for (n, op) in suffix.iter().enumerate() {
            let now = at(100 + n as i64);
            prop_assert_eq!(engine.apply(op.envelope(), now), restored.apply(op.envelope(), now));
        }
        prop_assert_eq!(state(&engine), state(&restored));
    }
}
