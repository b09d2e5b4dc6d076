#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use voicetk_engine::{Applied, Engine, EngineConfig};
use voicetk_events::{EventType, ParseOptions, parse_event};

use super::*;

/// Feeds `events` to a strict engine through the real parser; panics on the first refusal,
/// naming the event. Returns how many of each type were seen.
fn apply_all(engine: &mut Engine, events: &[Value]) -> BTreeMap<EventType, usize> {
    let mut seen = BTreeMap::new();
    let now = jiff::Timestamp::UNIX_EPOCH;
    for (i, event) in events.iter().enumerate() {
        let envelope = parse_event(&to_bytes(event), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("event {i} does not parse: {e}: {event}"));
        *seen.entry(envelope.event_type()).or_insert(0) += 1;
        match engine.apply(envelope, now) {
            Ok(Applied::Accepted(_)) => {}
            other => panic!("event {i} not accepted: {other:?}: {event}"),
        }
    }
    seen
}

#[test]
fn interleaved_calls_are_accepted_by_a_strict_engine_and_cover_every_type() {
    let mut workload = Workload::new(WorkloadConfig {
        seed: 99,
        concurrent_calls: 200,
        ..WorkloadConfig::default()
    });
    let mut engine = Engine::new(EngineConfig::default());
    let seen = apply_all(&mut engine, &workload.take_events(20_000));
    for t in EventType::ALL {
        assert!(
            seen.get(&t).copied().unwrap_or(0) > 0,
            "{t} never generated"
        );
    }
    // AUDIO_STATS dominate, as on a real call.
    let audio = seen[&EventType::AudioStats];
    assert!(audio * 2 > 20_000, "{seen:?}");
    assert!(
        workload.calls_opened() > 200,
        "calls end and new ones start"
    );

    // Ending every call leaves the engine with no live call.
    apply_all(&mut engine, &workload.finish());
    assert_eq!(engine.active_calls().count(), 0);
    // And the workload carries on with fresh calls.
    apply_all(&mut engine, &workload.take_events(1_000));
}

#[test]
fn streams_never_share_a_call_id_and_seeds_reproduce() {
    let ids = |stream: u16| -> HashSet<String> {
        let mut w = Workload::new(WorkloadConfig {
            stream,
            ..WorkloadConfig::default()
        });
        w.take_events(5_000)
            .iter()
            .map(|e| e["detail"]["callId"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a, b) = (ids(1), ids(2));
    assert!(a.len() > 100);
    assert!(a.is_disjoint(&b));

    let config = WorkloadConfig {
        seed: 5,
        ..WorkloadConfig::default()
    };
    let first = Workload::new(config.clone()).take_events(500);
    assert_eq!(first, Workload::new(config).take_events(500));
}

#[test]
fn an_endless_call_stays_valid_until_it_is_ended() {
    let mut call = CallFlow::new("fanout-call", 3).with_agent("agent-001");
    let mut events: Vec<Value> = (0..5_000).map(|_| call.next_event().unwrap()).collect();
    assert!(!call.is_over());
    call.end();
    events.extend(std::iter::from_fn(|| call.next_event()));
    assert!(call.is_over());
    assert_eq!(events.last().unwrap()["type"], "WRAP_UP_ENDED");
    let mut engine = Engine::new(EngineConfig::default());
    apply_all(&mut engine, &events);
    assert_eq!(
        engine.call("fanout-call").unwrap().agent.as_deref(),
        Some("agent-001")
    );
}

#[test]
fn abandoned_calls_end_while_ringing() {
    let mut call = CallFlow::new("gone", 1).abandoned();
    let types: Vec<_> = std::iter::from_fn(|| call.next_event())
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["CALL_STARTED", "CALL_ENDED", "WRAP_UP_ENDED"]);
}

#[test]
fn typical_calls_are_valid_and_distinct() {
    let mut engine = Engine::new(EngineConfig::default());
    for i in 0..50 {
        apply_all(&mut engine, &typical_call(i));
    }
    assert_eq!(engine.active_calls().count(), 50);
}
