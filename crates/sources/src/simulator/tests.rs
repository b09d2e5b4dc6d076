//! The simulator against the real call engine: every built-in scenario must be a valid
//! sequence in strict mode, the live source must submit what `generate` yields, and actions
//! must produce events the engine accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use voicetk_engine::{Applied, Engine, EngineConfig, Lifecycle};
use voicetk_events::{Channel, Envelope, EventType, TelephonyEvent, TelephonyKind};

use super::*;
use crate::action::{Action, ActionError, ParticipantType};
use crate::source::{CallContext, EventSink, Source, SubmitError};

// ---------------------------------------------------------------------------------------------
// A sink that is the real engine

/// Applies every submitted event to a strict [`Engine`] and records what it accepted (with the
/// tokio instant it arrived) and what it refused.
struct EngineSink {
    engine: Mutex<Engine>,
    accepted: Mutex<Vec<(Instant, Envelope)>>,
    refused: Mutex<Vec<String>>,
    /// Bumped on every submission, so tests can wait for a condition.
    changed: watch::Sender<u64>,
    /// Refuse every event of this type before the engine sees it (a gateway saying no).
    refuse: Option<EventType>,
}

impl EngineSink {
    fn new(telephony: TelephonyKind) -> Arc<EngineSink> {
        EngineSink::refusing(telephony, None)
    }

    fn refusing(telephony: TelephonyKind, refuse: Option<EventType>) -> Arc<EngineSink> {
        Arc::new(EngineSink {
            engine: Mutex::new(Engine::new(EngineConfig {
                telephony,
                lenient: false,
                ..EngineConfig::default()
            })),
            accepted: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
            refuse,
        })
    }

    fn events(&self) -> Vec<Envelope> {
        let accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        accepted.iter().map(|(_, e)| e.clone()).collect()
    }

    fn refusals(&self) -> Vec<String> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lifecycle(&self, call_id: &str) -> Option<Lifecycle> {
        let engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
        engine.call(call_id).map(|c| c.lifecycle)
    }

    /// Waits (in virtual time, at most a simulated day) until the accepted events satisfy
    /// `done`.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Envelope]) -> bool) {
        let mut changes = self.changed.subscribe();
        let wait = async {
            while !done(&self.events()) {
                changes.changed().await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(86_400), wait)
            .await
            .unwrap_or_else(|_| panic!("no {what} within a simulated day"));
    }
}

impl EventSink for EngineSink {
    fn submit(&self, envelope: Envelope) -> BoxFuture<'_, Result<u64, SubmitError>> {
        let result = if self.refuse == Some(envelope.event_type()) {
            Err(SubmitError {
                code: "unavailable".into(),
                message: "refused by the test".into(),
            })
        } else {
            let mut engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            match engine.apply(envelope, jiff::Timestamp::now()) {
                Ok(Applied::Accepted(stamped)) => {
                    let seq = stamped.seq.unwrap_or_default();
                    self.accepted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((Instant::now(), stamped));
                    Ok(seq)
                }
                Ok(Applied::Duplicate { seq }) => Ok(seq),
                Err(refusal) => Err(SubmitError {
                    code: refusal.code().into(),
                    message: refusal.message.clone(),
                }),
            }
        };
        if let Err(e) = &result {
            self.refused
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(e.to_string());
        }
        self.changed.send_modify(|n| *n += 1);
        async move { result }.boxed()
    }
}

/// Applies events to a fresh strict engine; panics naming the first refused one.
fn apply_all(telephony: TelephonyKind, events: &[Envelope]) -> Engine {
    let mut engine = Engine::new(EngineConfig {
        telephony,
        lenient: false,
        ..EngineConfig::default()
    });
    for (i, e) in events.iter().enumerate() {
        match engine.apply(e.clone(), jiff::Timestamp::now()) {
            Ok(Applied::Accepted(_)) => {}
            other => panic!("event {i} {} not accepted: {other:?}", e.to_json()),
        }
    }
    engine
}

fn config(scenario: &str, calls: u64, seed: u64) -> SimulatorConfig {
    SimulatorConfig {
        seed,
        calls: Some(calls),
        scenario: scenario.into(),
        ..SimulatorConfig::default()
    }
}

fn events_of(config: SimulatorConfig) -> Vec<Envelope> {
    generate(config).unwrap().collect()
}

fn count(events: &[Envelope], t: EventType) -> usize {
    events.iter().filter(|e| e.event_type() == t).count()
}

/// The event without what the gateway stamps on it.
fn bare(mut e: Envelope) -> Envelope {
    e.seq = None;
    e.timestamp = None;
    e
}

// ---------------------------------------------------------------------------------------------
// generate()

#[test]
fn same_seed_same_ndjson_other_seed_other_calls() {
    let ndjson = |seed| {
        let mut c = config("mixed", 40, seed);
        c.rate = 1.0;
        generate(c)
            .unwrap()
            .map(|e| e.to_json() + "\n")
            .collect::<String>()
    };
    let first = ndjson(11);
    assert_eq!(first, ndjson(11));
    assert_ne!(first, ndjson(12));
    assert!(
        first.lines().count() > 200,
        "{} lines",
        first.lines().count()
    );
    // Every line is a valid event.
    for line in first.lines() {
        voicetk_events::parse_event(line.as_bytes(), &Default::default()).unwrap();
    }
}

#[test]
fn every_builtin_is_valid_for_the_strict_engine_in_partner_and_native() {
    // What each scenario must show in partner telephony, besides a start and an end.
    let expected: BTreeMap<&str, &[EventType]> = BTreeMap::from([
        (
            "inbound-basic",
            &[EventType::CallConnected, EventType::AudioStats][..],
        ),
        ("outbound-basic", &[EventType::CallConnected][..]),
        ("hold-resume", &[EventType::Hold, EventType::Resume][..]),
        ("mute-unmute", &[EventType::Mute, EventType::Unmute][..]),
        (
            "recording-pause",
            &[EventType::PauseRecording, EventType::ResumeRecording][..],
        ),
        (
            "warm-transfer",
            &[
                EventType::Hold,
                EventType::ParticipantAdded,
                EventType::Conference,
                EventType::ParticipantRemoved,
            ][..],
        ),
        (
            "swap",
            &[
                EventType::ParticipantAdded,
                EventType::Swap,
                EventType::Conference,
            ][..],
        ),
        ("abandoned", &[][..]),
        ("long-call", &[EventType::Mute, EventType::AudioStats][..]),
        ("mixed", &[EventType::Hold, EventType::ParticipantAdded][..]),
    ]);
    assert_eq!(
        expected.keys().copied().collect::<BTreeSet<_>>(),
        builtin_names().into_iter().collect()
    );
    for (name, must) in &expected {
        let calls = 20;
        let events = events_of(config(name, calls, 3));
        let engine = apply_all(TelephonyKind::Partner, &events);
        assert_eq!(
            count(&events, EventType::CallStarted),
            calls as usize,
            "{name}"
        );
        assert_eq!(
            count(&events, EventType::CallEnded),
            calls as usize,
            "{name}"
        );
        assert_eq!(
            count(&events, EventType::WrapUpEnded),
            calls as usize,
            "{name}"
        );
        assert!(
            engine.calls().all(|c| c.lifecycle == Lifecycle::Closed),
            "{name}: every call closes"
        );
        for t in *must {
            assert!(count(&events, *t) > 0, "{name} has no {t}");
        }
        if *name == "abandoned" {
            assert_eq!(count(&events, EventType::CallConnected), 0);
        }

        let mut native = config(name, calls, 3);
        native.telephony = TelephonyKind::Native;
        if *name == "abandoned" {
            // Nothing of a call that never connects exists in Native telephony.
            assert!(matches!(
                generate(native).err(),
                Some(ConfigError::Silent(n)) if n == "abandoned"
            ));
            continue;
        }
        let events = events_of(native);
        assert!(
            events
                .iter()
                .all(|e| e.event_type().is_supported_by(TelephonyKind::Native)),
            "{name}: native got an unsupported event"
        );
        let engine = apply_all(TelephonyKind::Native, &events);
        assert!(engine.calls().all(|c| c.lifecycle == Lifecycle::Ended));
        assert!(count(&events, EventType::CallConnected) > 0, "{name}");
        for t in must
            .iter()
            .filter(|t| t.is_supported_by(TelephonyKind::Native))
        {
            assert!(count(&events, *t) > 0, "{name} (native) has no {t}");
        }
    }
}

#[test]
fn calls_n_yields_exactly_n_calls() {
    for n in [1, 7, 60] {
        let events = events_of(config("mixed", n, n));
        assert_eq!(count(&events, EventType::CallEnded), n as usize);
        let ids: BTreeSet<_> = events.iter().map(|e| e.call_id().to_owned()).collect();
        assert_eq!(ids.len(), n as usize);
        let event_ids: BTreeSet<_> = events.iter().map(|e| e.event_id.clone().unwrap()).collect();
        assert_eq!(event_ids.len(), events.len(), "eventIds are unique");
    }
    assert_eq!(events_of(config("mixed", 0, 1)), Vec::new());
}

#[test]
fn the_default_mix_exercises_all_15_events() {
    let events = events_of(config("mixed", 200, 3));
    let seen: BTreeSet<_> = events.iter().map(|e| e.event_type()).collect();
    let all: BTreeSet<_> = EventType::ALL.into_iter().collect();
    assert_eq!(
        all.difference(&seen).collect::<Vec<_>>(),
        Vec::<&EventType>::new()
    );
}

#[test]
fn endless_keeps_going() {
    let c = SimulatorConfig {
        calls: None,
        ..SimulatorConfig::default()
    };
    let ended = generate(c)
        .unwrap()
        .filter(|e| e.event_type() == EventType::CallEnded)
        .take(500)
        .count();
    assert_eq!(ended, 500);
}

#[test]
fn long_call_has_plausible_audio_stats_on_both_channels() {
    let events = events_of(config("long-call", 4, 8));
    apply_all(TelephonyKind::Partner, &events);
    let mut per_call: HashMap<&str, Vec<&voicetk_events::AudioStatsDetail>> = HashMap::new();
    for e in &events {
        if let TelephonyEvent::AudioStats(d) = &e.event {
            per_call.entry(e.call_id()).or_default().push(d);
        }
    }
    assert_eq!(per_call.len(), 4);
    for stats in per_call.values() {
        // Talking lasts at least 215 s: at least 7 intervals of 30 s, one event per channel.
        assert!(stats.len() >= 14, "{} AUDIO_STATS", stats.len());
        for pair in stats.chunks(2) {
            assert_eq!(
                pair.iter().map(|d| d.stats).collect::<Vec<_>>(),
                Channel::BOTH
            );
        }
        for d in stats {
            assert_eq!(d.stats_count, 6);
            assert!((1200..=1500).contains(&d.packets_count), "{d:?}");
            assert!(d.packets_lost <= d.packets_count / 4, "{d:?}");
            assert!(d.jitter_buffer_millis < 200, "{d:?}");
            assert!((5..1000).contains(&d.round_trip_time_millis), "{d:?}");
            assert!(d.mos.is_some_and(|m| (1.0..=4.5).contains(&m)), "{d:?}");
        }
    }

    // A shorter interval: more, smaller events.
    let mut c = config("long-call", 1, 8);
    c.audio_interval = Duration::from_secs(10);
    let events = events_of(c);
    let stats: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            TelephonyEvent::AudioStats(d) => Some(d),
            _ => None,
        })
        .collect();
    assert!(stats.len() >= 42);
    assert!(stats.iter().all(|d| d.stats_count == 2));
    assert!(stats.iter().all(|d| (400..=500).contains(&d.packets_count)));
}

#[test]
fn timeline_interleaves_calls_in_time_order() {
    let mut c = config("long-call", 10, 2);
    c.rate = 0.2;
    let timeline: Vec<_> = Timeline::new(c).unwrap().collect();
    assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
    // Calls overlap: a second call starts before the first one ends.
    let first = timeline[0].envelope.call_id().to_owned();
    let first_end = timeline
        .iter()
        .find(|s| s.envelope.call_id() == first && s.envelope.event_type() == EventType::CallEnded)
        .unwrap()
        .at;
    let second_start = timeline
        .iter()
        .find(|s| s.envelope.call_id() != first)
        .unwrap()
        .at;
    assert!(second_start < first_end);
    apply_all(
        TelephonyKind::Partner,
        &timeline.into_iter().map(|s| s.envelope).collect::<Vec<_>>(),
    );
}

#[test]
fn agents_take_turns_and_numbers_look_fictional() {
    let mut c = config("inbound-basic", 6, 4);
    c.agents = vec!["ana".into(), "ben".into(), "cy".into()];
    let events = events_of(c);
    let started: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            TelephonyEvent::CallStarted(d) => Some((e.agent.clone().unwrap(), d)),
            _ => None,
        })
        .collect();
    let agents: Vec<_> = started.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(agents, ["ana", "ben", "cy", "ana", "ben", "cy"]);
    for (_, d) in started {
        let n = &d.participant;
        assert!(n.starts_with("+1 (") && n.contains(") 555-01"), "{n}");
        assert_eq!(n.len(), "+1 (415) 555-0100".len());
    }
    assert!(events.iter().all(|e| e.agent.is_some()));
}

#[test]
fn bad_configs_are_refused_with_the_setting() {
    let base = config("mixed", 1, 0);
    let err = |c: SimulatorConfig| generate(c).err().unwrap().to_string();
    assert!(
        err(SimulatorConfig {
            rate: 0.0,
            ..base.clone()
        })
        .starts_with("rate must be")
    );
    assert!(
        err(SimulatorConfig {
            rate: f64::NAN,
            ..base.clone()
        })
        .starts_with("rate must be")
    );
    assert!(
        err(SimulatorConfig {
            time_scale: 0.0,
            ..base.clone()
        })
        .starts_with("time scale")
    );
    assert!(
        err(SimulatorConfig {
            audio_interval: Duration::ZERO,
            ..base.clone()
        })
        .starts_with("audio interval")
    );
    assert_eq!(
        err(SimulatorConfig {
            agents: vec![],
            ..base.clone()
        }),
        "at least one agent is needed"
    );
    assert_eq!(
        err(SimulatorConfig {
            agents: vec!["a".into(), " ".into()],
            ..base.clone()
        }),
        "agent 1 has an empty name"
    );
    assert!(
        err(SimulatorConfig {
            scenario: "nope".into(),
            ..base.clone()
        })
        .starts_with("scenario: unknown scenario \"nope\"")
    );
    assert!(Simulator::new(SimulatorConfig { rate: -1.0, ..base }).is_err());
}

#[test]
fn file_scenarios_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalation.toml");
    std::fs::write(
        &path,
        r#"
        name = "escalation"
        call_type = "inbound"
        [[steps]]
        event = "call-started"
        [[steps]]
        event = "call-connected"
        delay = [2, 4]
        [[steps]]
        event = "hold"
        participant = "Initial_Caller"
        delay = 10
        [[steps]]
        event = "participant-added"
        contact = "Supervisor"
        [[steps]]
        event = "conference"
        delay = 20
        [[steps]]
        event = "call-ended"
        delay = 40
        [[steps]]
        event = "wrap-up-ended"
        "#,
    )
    .unwrap();
    let events = events_of(config(path.to_str().unwrap(), 3, 1));
    apply_all(TelephonyKind::Partner, &events);
    let added: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == EventType::ParticipantAdded)
        .map(|e| e.event.participant().unwrap())
        .collect();
    assert_eq!(added, ["Supervisor"; 3]);
}

// ---------------------------------------------------------------------------------------------
// The live source

/// A simulator running against an [`EngineSink`].
struct Running {
    simulator: Arc<Simulator>,
    sink: Arc<EngineSink>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(config: SimulatorConfig) -> Running {
        let sink = EngineSink::new(config.telephony);
        Running::with_sink(config, sink).await
    }

    async fn with_sink(config: SimulatorConfig, sink: Arc<EngineSink>) -> Running {
        let simulator = Arc::new(Simulator::new(config).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task =
            tokio::spawn(Arc::clone(&simulator).run(sink.clone(), stopped.map(|_| ()).boxed()));
        // Let the run task take the sink before anyone acts.
        while !simulator.is_running() {
            tokio::task::yield_now().await;
        }
        Running {
            simulator,
            sink,
            stop,
            task,
        }
    }

    async fn finished(&self) {
        tokio::time::timeout(Duration::from_secs(7 * 86_400), self.simulator.finished())
            .await
            .expect("the simulation finishes");
    }

    async fn stop(self) -> Arc<EngineSink> {
        self.stop.send(()).ok();
        self.task.await.unwrap();
        self.sink
    }

    /// The call context the gateway would pass for `call_id`.
    fn context(&self, call_id: &str) -> CallContext {
        CallContext {
            call_id: call_id.to_owned(),
            agent: Some("agent-1".into()),
            initial_caller: None,
            third_parties: vec![],
        }
    }

    async fn perform(&self, call_id: &str, action: Action) -> Result<(), ActionError> {
        self.simulator
            .perform(&self.context(call_id), &action)
            .await
    }

    fn last(&self) -> Envelope {
        self.sink.events().pop().unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn live_run_submits_what_generate_yields_paced_by_the_clock() {
    let mut c = config("mixed", 12, 5);
    c.time_scale = 4.0;
    let expected: Vec<_> = Timeline::new(c.clone()).unwrap().collect();

    let start = Instant::now();
    let running = Running::start(c).await;
    running.finished().await;
    assert_eq!(running.simulator.active_calls(), 0);
    let sink = running.stop().await;

    assert_eq!(sink.refusals(), Vec::<String>::new());
    let accepted = sink
        .accepted
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let got: Vec<_> = accepted.iter().map(|(_, e)| bare(e.clone())).collect();
    let want: Vec<_> = expected.iter().map(|s| s.envelope.clone()).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    // Each event was submitted when its virtual time came, four times faster than real time.
    for ((at, _), scheduled) in accepted.iter().zip(&expected) {
        let real = at.duration_since(start);
        let virtual_time = scheduled.at.div_f64(4.0);
        assert!(
            real.abs_diff(virtual_time) < Duration::from_millis(2),
            "{real:?} vs {virtual_time:?}"
        );
    }
}

/// Starts a one-call simulation of `scenario` and waits until its call is connected.
async fn connected_call(scenario: &str) -> (Running, String) {
    let running = Running::start(config(scenario, 1, 21)).await;
    running
        .sink
        .wait_for("CALL_CONNECTED", |events| {
            count(events, EventType::CallConnected) == 1
        })
        .await;
    let call_id = running.last().call_id().to_owned();
    assert!(running.simulator.owns(&call_id));
    (running, call_id)
}

#[tokio::test(start_paused = true)]
async fn actions_on_a_live_call_are_confirmed_by_accepted_events() {
    let (running, call_id) = connected_call("long-call").await;
    let caller = running
        .sink
        .events()
        .iter()
        .find_map(|e| match &e.event {
            TelephonyEvent::CallConnected(d) => Some(d.participant.clone()),
            _ => None,
        })
        .unwrap();

    // Each action's confirming event is in the engine's log by the time perform returns.
    let steps = [
        (
            Action::Hold {
                participant_type: ParticipantType::InitialCaller,
            },
            EventType::Hold,
            Some(caller.as_str()),
        ),
        (
            Action::Resume {
                participant_type: ParticipantType::InitialCaller,
            },
            EventType::Resume,
            Some(caller.as_str()),
        ),
        (Action::Mute, EventType::Mute, None),
        (Action::Unmute, EventType::Unmute, None),
        (Action::PauseRecording, EventType::PauseRecording, None),
        (Action::ResumeRecording, EventType::ResumeRecording, None),
        (
            Action::AddParticipant {
                contact_type: "PhoneNumber".into(),
                contact_value: "+1 (312) 555-0177".into(),
                is_blind_transfer: false,
            },
            EventType::ParticipantAdded,
            Some("+1 (312) 555-0177"),
        ),
        (Action::Merge, EventType::Conference, None),
        (
            Action::EndCall {
                participant_type: Some(ParticipantType::ThirdParty),
            },
            EventType::ParticipantRemoved,
            Some("+1 (312) 555-0177"),
        ),
    ];
    for (action, t, participant) in steps {
        running.perform(&call_id, action.clone()).await.unwrap();
        let last = running.last();
        assert_eq!(last.event_type(), t, "{action}");
        assert_eq!(last.call_id(), call_id);
        assert_eq!(last.event.participant(), participant, "{action}");
        assert_eq!(last.agent.as_deref(), Some("agent-1"));
    }

    // What the state forbids fails, and nothing is sent.
    let before = running.sink.events().len();
    running.perform(&call_id, Action::Unmute).await.unwrap_err();
    let err = running
        .perform(
            &call_id,
            Action::Resume {
                participant_type: ParticipantType::InitialCaller,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActionError::Failed { message, .. } if message.contains("is not on hold")),
        "{err}"
    );
    running
        .perform(&call_id, Action::DeclineCall)
        .await
        .unwrap_err();
    // Digits need no event.
    running
        .perform(
            &call_id,
            Action::SendDigits {
                digits: "12#,*".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(running.sink.events().len(), before);

    // Ending the call drops the rest of the script: only the wrap-up follows.
    running
        .perform(
            &call_id,
            Action::EndCall {
                participant_type: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(running.last().event_type(), EventType::CallEnded);
    running.finished().await;
    assert!(!running.simulator.owns(&call_id));
    let events = running.sink.events();
    let ended = events
        .iter()
        .position(|e| e.event_type() == EventType::CallEnded)
        .unwrap();
    let after: Vec<_> = events[ended + 1..].iter().map(|e| e.event_type()).collect();
    assert_eq!(after, [EventType::WrapUpEnded]);
    // The scripted mute of long-call never came: the call ended first.
    assert_eq!(count(&events, EventType::Mute), 1);
    let sink = running.stop().await;
    assert_eq!(sink.lifecycle(&call_id), Some(Lifecycle::Closed));
    assert_eq!(sink.refusals(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn the_script_goes_on_sensibly_after_a_users_action() {
    // hold-resume: the user holds the caller before the script would; the script's own HOLD
    // is skipped and its RESUME takes the caller off hold.
    let (running, call_id) = connected_call("hold-resume").await;
    running
        .perform(
            &call_id,
            Action::Hold {
                participant_type: ParticipantType::InitialCaller,
            },
        )
        .await
        .unwrap();
    running.finished().await;
    let sink = running.stop().await;
    assert_eq!(sink.refusals(), Vec::<String>::new());
    let types: Vec<_> = sink
        .events()
        .iter()
        .map(|e| e.event_type())
        .filter(|t| *t != EventType::AudioStats)
        .collect();
    assert_eq!(
        types,
        [
            EventType::CallStarted,
            EventType::CallConnected,
            EventType::Hold,
            EventType::Resume,
            EventType::CallEnded,
            EventType::WrapUpEnded
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn accept_and_blind_transfer() {
    // abandoned rings for 5 to 30 s: the agent picks up before the caller gives up.
    let running = Running::start(config("abandoned", 1, 2)).await;
    running
        .sink
        .wait_for("CALL_STARTED", |e| count(e, EventType::CallStarted) == 1)
        .await;
    let call_id = running.last().call_id().to_owned();
    running.perform(&call_id, Action::AcceptCall).await.unwrap();
    assert_eq!(running.last().event_type(), EventType::CallConnected);
    running
        .perform(
            &call_id,
            Action::AddParticipant {
                contact_type: "Queue".into(),
                contact_value: "Billing Queue".into(),
                is_blind_transfer: true,
            },
        )
        .await
        .unwrap();
    running.finished().await;
    let sink = running.stop().await;
    assert_eq!(sink.refusals(), Vec::<String>::new());
    let types: Vec<_> = sink
        .events()
        .iter()
        .map(|e| e.event_type())
        .filter(|t| *t != EventType::AudioStats)
        .collect();
    assert_eq!(
        types,
        [
            EventType::CallStarted,
            EventType::CallConnected,
            EventType::ParticipantAdded,
            EventType::CallEnded,
            EventType::WrapUpEnded
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn actions_that_cannot_be_done_are_typed_errors() {
    // Before the simulator runs there is no sink to confirm through.
    let idle = Simulator::new(config("long-call", 1, 1)).unwrap();
    let ctx = CallContext {
        call_id: "x".into(),
        agent: None,
        initial_caller: None,
        third_parties: vec![],
    };
    assert!(matches!(
        idle.perform(&ctx, &Action::Mute).await,
        Err(ActionError::Failed { .. })
    ));
    assert!(matches!(
        idle.dial(None, "+1 (415) 555-0100").await,
        Err(ActionError::Failed { .. })
    ));

    let (running, call_id) = connected_call("long-call").await;
    assert!(matches!(
        running.perform("no-such-call", Action::Mute).await,
        Err(ActionError::Invalid(m)) if m.contains("no-such-call")
    ));
    assert!(!running.simulator.owns("no-such-call"));
    assert!(matches!(
        running
            .perform(
                &call_id,
                Action::Hold {
                    participant_type: ParticipantType::Agent
                }
            )
            .await,
        Err(ActionError::Invalid(_))
    ));
    assert!(matches!(
        running
            .perform(
                &call_id,
                Action::SendDigits {
                    digits: "12a".into()
                }
            )
            .await,
        Err(ActionError::Invalid(_))
    ));
    assert!(matches!(
        running
            .perform(
                &call_id,
                Action::AddParticipant {
                    contact_type: "PhoneNumber".into(),
                    contact_value: " ".into(),
                    is_blind_transfer: false
                }
            )
            .await,
        Err(ActionError::Invalid(_))
    ));
    assert!(matches!(
        running.perform(&call_id, Action::Swap).await,
        Err(ActionError::Failed { .. })
    ));
    running.stop().await;

    // Native telephony has no SWAP: the simulator cannot swap at all.
    let mut native = config("swap", 1, 1);
    native.telephony = TelephonyKind::Native;
    let running = Running::start(native).await;
    running
        .sink
        .wait_for("CALL_CONNECTED", |e| {
            count(e, EventType::CallConnected) == 1
        })
        .await;
    let call_id = running.last().call_id().to_owned();
    let err = running.perform(&call_id, Action::Swap).await.unwrap_err();
    assert_eq!(
        err,
        ActionError::Unsupported {
            source_name: "simulator".into(),
            action: "swap"
        }
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn dial_places_an_outbound_call() {
    for telephony in [TelephonyKind::Partner, TelephonyKind::Native] {
        let mut c = config("mixed", 0, 3);
        c.telephony = telephony;
        c.agents = vec!["ana".into(), "ben".into()];
        let running = Running::start(c).await;
        let call_id = running
            .simulator
            .dial(Some("ben"), " +1 (206) 555-0123 ")
            .await
            .unwrap();
        assert!(running.simulator.owns(&call_id));
        if telephony == TelephonyKind::Partner {
            // CALL_STARTED is accepted by the time dial answers.
            let started = running.last();
            let TelephonyEvent::CallStarted(d) = &started.event else {
                panic!("{started:?}")
            };
            assert_eq!(d.call_id, call_id);
            assert_eq!(d.participant, "+1 (206) 555-0123");
            assert_eq!(d.call_type, voicetk_events::CallType::Outbound);
            assert_eq!(started.agent.as_deref(), Some("ben"));
        } else {
            assert!(running.sink.events().is_empty());
        }
        running
            .sink
            .wait_for("CALL_CONNECTED", |e| {
                count(e, EventType::CallConnected) == 1
            })
            .await;
        assert_eq!(running.last().call_id(), call_id);
        running
            .perform(
                &call_id,
                Action::EndCall {
                    participant_type: None,
                },
            )
            .await
            .unwrap();
        running.finished().await;
        assert!(!running.simulator.owns(&call_id));
        let sink = running.stop().await;
        assert_eq!(sink.refusals(), Vec::<String>::new());
        let want = match telephony {
            TelephonyKind::Partner => Lifecycle::Closed,
            TelephonyKind::Native => Lifecycle::Ended,
        };
        assert_eq!(sink.lifecycle(&call_id), Some(want));
    }
}

#[tokio::test(start_paused = true)]
async fn a_refused_event_abandons_its_call_and_the_rest_goes_on() {
    let sink = EngineSink::refusing(TelephonyKind::Partner, Some(EventType::Hold));
    let running = Running::with_sink(config("mixed", 30, 9), sink).await;
    running.finished().await;
    let sink = running.stop().await;
    let events = sink.events();
    let refused = sink.refusals();
    assert!(!refused.is_empty(), "mixed has holds");
    // Calls whose HOLD was refused stop there: no RESUME, no end; the others complete.
    assert_eq!(count(&events, EventType::Hold), 0);
    assert_eq!(count(&events, EventType::Resume), 0);
    assert_eq!(
        count(&events, EventType::CallEnded) + refused.len(),
        30,
        "{refused:?}"
    );
}
