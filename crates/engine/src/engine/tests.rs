//! Engine behaviour beyond single transitions: seq, idempotency, transactions, restore,
//! retention of finished calls, dirty tracking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use voicetk_events::{Envelope, EventType, TelephonyKind};

use super::*;
use crate::fixture::{
    C, CALLER, Fixture, THIRD, at, closed, ev, event, evp, live, three_way, with,
};
use crate::{Lifecycle, RefusalKind};

fn with_id(mut e: Envelope, id: &str) -> Envelope {
    e.event_id = Some(id.into());
    e
}

fn engine_with(config: EngineConfig) -> Fixture {
    Fixture {
        engine: Engine::new(config),
        clock: 0,
    }
}

fn state(engine: &Engine) -> String {
    serde_json::to_string(&engine.snapshot()).unwrap()
}

/// Opens, connects, ends and closes `call_id`.
fn full_call(call_id: &str) -> Vec<Envelope> {
    [
        EventType::CallStarted,
        EventType::CallConnected,
        EventType::CallEnded,
        EventType::WrapUpEnded,
    ]
    .map(|t| event(t, call_id, CALLER))
    .to_vec()
}

#[test]
fn defaults_are_documented_values() {
    let config = EngineConfig::default();
    assert_eq!(config.telephony, TelephonyKind::Partner);
    assert!(!config.lenient);
    assert_eq!(config.idempotency_window, 100_000);
    assert_eq!(config.closed_call_retention, 10_000);
    let partial: EngineConfig = serde_json::from_str(r#"{"lenient":true}"#).unwrap();
    assert_eq!(
        partial,
        EngineConfig {
            lenient: true,
            ..EngineConfig::default()
        }
    );
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<CallState>();
}

#[test]
fn seq_is_gap_free_across_refusals_and_duplicates() {
    let mut f = Fixture::strict();
    let mut seqs = Vec::new();
    for e in [
        with_id(ev(EventType::CallStarted), "e1"),
        ev(EventType::Hold), // refused: ringing
        with_id(ev(EventType::CallStarted), "e1"),
        ev(EventType::CallConnected),
        ev(EventType::Unmute), // refused: not muted
        ev(EventType::Mute),
    ] {
        if let Ok(applied) = f.apply(e) {
            seqs.push(applied.seq());
        }
    }
    assert_eq!(seqs, [1, 1, 2, 3]);
    assert_eq!(f.engine.last_seq(), 3);
}

#[test]
fn a_duplicate_returns_the_original_seq_without_judging_again() {
    let mut f = Fixture::strict().with(&live());
    let hold = with_id(ev(EventType::Hold), "hold-1");
    assert_eq!(f.ok(hold.clone()).seq, Some(3));
    let before = state(&f.engine);
    // Judged again, this re-send would be "already on hold".
    assert_eq!(f.engine.check(&hold), Ok(Vec::new()));
    assert_eq!(f.apply(hold.clone()), Ok(Applied::Duplicate { seq: 3 }));
    assert_eq!(state(&f.engine), before);
    assert_eq!(f.engine.last_seq(), 3);
    // Still a duplicate after the call moved on, even once it is closed.
    f.run(&[ev(EventType::CallEnded), ev(EventType::WrapUpEnded)]);
    assert_eq!(f.apply(hold), Ok(Applied::Duplicate { seq: 3 }));
    assert_eq!(f.engine.last_seq(), 5);
}

#[test]
fn a_refused_event_id_is_not_remembered() {
    let mut f = Fixture::strict();
    let hold = with_id(ev(EventType::Hold), "hold-1");
    assert!(f.apply(hold.clone()).is_err());
    f.run(&live());
    assert_eq!(f.ok(hold).seq, Some(3));
}

#[test]
fn the_idempotency_window_forgets_the_oldest_ids() {
    let mut f = engine_with(EngineConfig {
        idempotency_window: 2,
        ..EngineConfig::default()
    });
    f.ok(with_id(ev(EventType::CallStarted), "a"));
    f.ok(with_id(ev(EventType::CallConnected), "b"));
    f.ok(with_id(ev(EventType::Mute), "c"));
    let ids: Vec<(String, u64)> = f.engine.snapshot().recent_event_ids;
    assert_eq!(ids, [("b".to_owned(), 2), ("c".to_owned(), 3)]);
    assert_eq!(
        f.apply(with_id(ev(EventType::Mute), "c")),
        Ok(Applied::Duplicate { seq: 3 })
    );
    // "a" is forgotten: the re-send is judged like a new event.
    let refusal = f
        .apply(with_id(ev(EventType::CallStarted), "a"))
        .unwrap_err();
    assert_eq!(refusal.kind, RefusalKind::InvalidTransition);
}

#[test]
fn a_zero_window_turns_idempotency_off() {
    let mut f = engine_with(EngineConfig {
        idempotency_window: 0,
        ..EngineConfig::default()
    });
    f.run(&live());
    f.ok(with_id(ev(EventType::Mute), "m"));
    assert!(f.apply(with_id(ev(EventType::Mute), "m")).is_err());
    assert!(f.engine.snapshot().recent_event_ids.is_empty());
}

#[test]
fn rollback_restores_the_exact_state() {
    let mut f = engine_with(EngineConfig {
        closed_call_retention: 1,
        idempotency_window: 3,
        ..EngineConfig::default()
    });
    f.run(&full_call("old"));
    f.run(&three_way());
    f.ok(with_id(ev(EventType::Hold), "h"));
    f.ok(with_id(ev(EventType::Mute), "m"));
    let dirty_before = f.engine.dirty.clone();
    let before = state(&f.engine);

    let cp = f.engine.checkpoint();
    f.ok(with_id(evp(EventType::Hold, THIRD), "x1"));
    f.ok(with_id(ev(EventType::Conference), "x2"));
    f.ok(with_id(ev(EventType::AudioStats), "x3")); // evicts "h" and "m" from the window
    f.run(&full_call("new")); // closes "new", evicting "old"
    f.ok(event(EventType::CallConnected, "c-2", CALLER)); // a new call
    assert!(f.engine.call("old").is_none());
    assert_ne!(state(&f.engine), before);
    f.engine.take_dirty();
    f.engine.rollback(cp);

    assert_eq!(state(&f.engine), before);
    assert_eq!(f.engine.dirty, dirty_before);
    assert_eq!(f.engine.last_seq(), 9);
    // The ids evicted inside the transaction are remembered again; new ones are forgotten.
    assert_eq!(
        f.apply(with_id(ev(EventType::Mute), "m")),
        Ok(Applied::Duplicate { seq: 9 })
    );
    assert_eq!(f.ok(with_id(ev(EventType::Unmute), "x1")).seq, Some(10));
    // Retention still works on the restored index: closing "new" evicts "old" again.
    f.run(&full_call("new"));
    assert!(f.engine.call("old").is_none());
    assert!(f.engine.call("new").is_some());
}

#[test]
fn commit_keeps_the_changes() {
    let mut f = Fixture::strict().with(&live());
    let cp = f.engine.checkpoint();
    f.ok(ev(EventType::Mute));
    f.engine.commit(cp);
    assert!(f.call().muted);
    assert!(f.engine.frames.is_empty());
    assert!(f.engine.id_undo.is_empty());
}

#[test]
fn a_failed_batch_rolls_back_as_a_whole() {
    let mut f = Fixture::strict().with(&live());
    let before = state(&f.engine);
    let cp = f.engine.checkpoint();
    let batch = [
        ev(EventType::Mute),
        ev(EventType::Hold),
        ev(EventType::Mute),
    ];
    let outcome: Result<Vec<Applied>, _> = batch.into_iter().map(|e| f.apply(e)).collect();
    assert!(outcome.is_err(), "the second MUTE is refused");
    f.engine.rollback(cp);
    assert_eq!(state(&f.engine), before);
    assert!(!f.call().muted);
}

#[test]
fn checkpoints_nest() {
    let mut f = Fixture::strict().with(&live());
    let start = state(&f.engine);
    let outer = f.engine.checkpoint();
    f.ok(ev(EventType::Mute));
    let after_mute = state(&f.engine);
    let inner = f.engine.checkpoint();
    f.ok(ev(EventType::Hold));
    f.engine.rollback(inner);
    assert_eq!(state(&f.engine), after_mute);

    // A committed inner checkpoint stays undoable by the outer one.
    let inner = f.engine.checkpoint();
    f.ok(ev(EventType::Hold));
    f.engine.commit(inner);
    assert_eq!(f.call().on_hold().count(), 1);
    f.engine.rollback(outer);
    assert_eq!(state(&f.engine), start);
    assert!(f.engine.frames.is_empty());
}

#[test]
fn resolving_an_outer_checkpoint_resolves_the_inner_ones() {
    let mut f = Fixture::strict().with(&live());
    let start = state(&f.engine);
    let outer = f.engine.checkpoint();
    f.ok(ev(EventType::Mute));
    let inner = f.engine.checkpoint();
    f.ok(ev(EventType::Hold));
    f.engine.rollback(outer);
    assert_eq!(state(&f.engine), start);
    // The inner checkpoint is stale now: ignored.
    f.engine.rollback(inner);
    assert_eq!(state(&f.engine), start);

    let outer = f.engine.checkpoint();
    f.ok(ev(EventType::Mute));
    let inner = f.engine.checkpoint();
    f.ok(ev(EventType::Hold));
    f.engine.commit(outer);
    f.engine.rollback(inner);
    assert!(f.call().muted);
    assert_eq!(f.call().on_hold().count(), 1);
    assert!(f.engine.frames.is_empty());
}

#[test]
fn a_checkpoint_of_another_engine_is_ignored() {
    let mut a = Fixture::strict().with(&live());
    let mut b = Fixture::strict().with(&live());
    let cp_a = a.engine.checkpoint();
    let cp_b = b.engine.checkpoint();
    b.ok(ev(EventType::Mute));
    b.engine.rollback(cp_a);
    assert!(b.call().muted);
    b.engine.rollback(cp_b);
    assert!(!b.call().muted);
}

#[test]
fn restore_rebuilds_an_engine_that_judges_the_same() {
    let mut f = Fixture::strict().with(&three_way());
    f.ok(with_id(evp(EventType::Hold, THIRD), "h"));
    f.run(&full_call("done"));
    let snapshot = f.engine.snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    let persisted: EngineSnapshot = serde_json::from_str(&json).unwrap();

    let mut restored = Fixture {
        engine: Engine::restore(
            EngineConfig::default(),
            persisted.last_seq,
            persisted.calls,
            persisted.recent_event_ids,
        ),
        clock: 100,
    };
    assert_eq!(state(&restored.engine), json);
    // RESUME of someone never put on hold is still refused after the restart.
    let refusal = restored.refused(ev(EventType::Resume));
    assert_eq!(
        refusal.message,
        r#"RESUME refused: participant "+1 415 555 0100" is not on hold (call c-1 is connected; on hold: ["+1 415 555 0142"])"#
    );
    // Late events for the closed call get the precise refusal.
    let refusal = restored.refused(event(EventType::Mute, "done", CALLER));
    assert_eq!(refusal.lifecycle, Some(Lifecycle::Closed));
    // Re-sends are still recognised, and numbering continues.
    assert_eq!(
        restored.apply(with_id(evp(EventType::Hold, THIRD), "h")),
        Ok(Applied::Duplicate { seq: 4 })
    );
    assert_eq!(restored.ok(evp(EventType::Resume, THIRD)).seq, Some(9));
}

#[test]
fn restore_keeps_the_newest_ids_and_never_reuses_a_seq() {
    let config = EngineConfig {
        idempotency_window: 2,
        ..EngineConfig::default()
    };
    let ids = vec![
        ("c".to_owned(), 30),
        ("a".to_owned(), 10),
        ("b".to_owned(), 20),
        ("b".to_owned(), 25),
    ];
    let engine = Engine::restore(config, 12, Vec::new(), ids);
    assert_eq!(
        engine.snapshot().recent_event_ids,
        [("b".to_owned(), 25), ("c".to_owned(), 30)]
    );
    // 12 was behind the ids: seq 30 must never be handed out again.
    assert_eq!(engine.last_seq(), 30);
}

#[test]
fn restore_evicts_finished_calls_beyond_retention() {
    let mut f = Fixture::strict();
    f.run(&full_call("a"));
    f.run(&full_call("b"));
    f.run(&live());
    let snapshot = f.engine.snapshot();
    let config = EngineConfig {
        closed_call_retention: 1,
        ..EngineConfig::default()
    };
    let mut engine = Engine::restore(config, snapshot.last_seq, snapshot.calls, Vec::new());
    assert!(engine.call("a").is_none());
    assert!(engine.call("b").is_some());
    assert!(engine.call(C).is_some());
    // The log learns it should delete "a"'s snapshot.
    assert_eq!(engine.take_dirty(), ["a"]);
}

#[test]
fn the_oldest_finished_call_is_evicted_beyond_retention() {
    let mut f = engine_with(EngineConfig {
        closed_call_retention: 2,
        ..EngineConfig::default()
    });
    f.run(&live());
    for id in ["a", "b"] {
        f.run(&full_call(id));
    }
    f.engine.take_dirty();
    f.run(&full_call("z"));
    // "a" finished first: it goes. Open calls never count.
    assert!(f.engine.call("a").is_none());
    assert!(f.engine.call("b").is_some() && f.engine.call("z").is_some());
    assert!(f.engine.call(C).is_some());
    assert_eq!(sorted(f.engine.take_dirty()), ["a", "z"]);
    // A late event for "a" is now an unknown call's.
    let refusal = f.refused(event(EventType::Hold, "a", CALLER));
    assert!(refusal.message.contains("unknown call a"), "{refusal}");
    // For "b" it is still precise.
    let refusal = f.refused(event(EventType::Hold, "b", CALLER));
    assert!(refusal.message.contains("call b is closed"), "{refusal}");
}

#[test]
fn native_ended_calls_count_towards_retention() {
    let mut f = engine_with(EngineConfig {
        telephony: TelephonyKind::Native,
        closed_call_retention: 1,
        ..EngineConfig::default()
    });
    for id in ["a", "b"] {
        f.ok(event(EventType::CallConnected, id, CALLER));
        f.ok(event(EventType::CallEnded, id, CALLER));
    }
    assert!(f.engine.call("a").is_none());
    assert_eq!(
        f.engine.call("b").map(|c| c.lifecycle),
        Some(Lifecycle::Ended)
    );
}

#[test]
fn take_dirty_names_each_changed_call_once() {
    let mut f = Fixture::lenient();
    assert!(f.engine.take_dirty().is_empty());
    f.run(&live());
    f.ok(event(EventType::CallStarted, "c-0", CALLER));
    assert_eq!(sorted(f.engine.take_dirty()), ["c-0", "c-1"]);
    assert!(f.engine.take_dirty().is_empty());
    // Events that leave the snapshot alone do not dirty it.
    f.run(&with(Vec::new(), &[ev(EventType::CallEnded)]));
    f.engine.take_dirty();
    f.ok(ev(EventType::Mute)); // lenient, on an ended call: logged, snapshot untouched
    assert!(f.engine.take_dirty().is_empty());
    let mut strict = Fixture::strict().with(&closed());
    strict.engine.take_dirty();
    strict.refused(ev(EventType::Mute));
    assert!(strict.engine.take_dirty().is_empty());
}

#[test]
fn lenient_events_for_finished_calls_are_logged_with_the_calls_agent() {
    let mut f = Fixture::lenient();
    let mut start = ev(EventType::CallStarted);
    start.agent = Some("ana".into());
    f.ok(start);
    f.run(&[ev(EventType::CallEnded), ev(EventType::WrapUpEnded)]);
    let stamped = f.ok(ev(EventType::Hold));
    assert_eq!(stamped.agent.as_deref(), Some("ana"));
    assert_eq!(stamped.seq, Some(4));
    assert_eq!(stamped.warnings.len(), 1);
    assert_eq!(f.call().last_seq, 3);
}

#[test]
fn active_calls_leave_out_finished_ones() {
    let mut f = Fixture::strict();
    f.run(&full_call("done"));
    f.run(&live());
    f.ok(event(EventType::CallStarted, "ended", CALLER));
    f.ok(event(EventType::CallEnded, "ended", CALLER));
    let mut active: Vec<&str> = f
        .engine
        .active_calls()
        .map(|c| c.call_id.as_str())
        .collect();
    active.sort_unstable();
    assert_eq!(active, [C, "ended"]);
    assert_eq!(f.engine.calls().count(), 3);
}

#[test]
fn applied_seq_covers_both_outcomes() {
    let mut f = Fixture::strict();
    let accepted = f
        .engine
        .apply(with_id(ev(EventType::CallStarted), "s"), at(1))
        .unwrap();
    assert_eq!(accepted.seq(), 1);
    assert_eq!(Applied::Duplicate { seq: 7 }.seq(), 7);
}

/// `take_dirty` names calls in no particular order.
fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_unstable();
    ids
}
