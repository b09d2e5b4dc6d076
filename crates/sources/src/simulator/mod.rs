//! The scenario simulator: realistic contact-center calls as Voice Toolkit events, for the
//! demo, `voicetk simulate`, load generation, and as a live [`Source`](crate::Source) that
//! carries out actions on its calls.
//!
//! ```
//! use voicetk_events::EventType;
//! use voicetk_sources::simulator::{generate, SimulatorConfig};
//!
//! let config = SimulatorConfig {
//!     seed: 7,
//!     calls: Some(3),
//!     scenario: "warm-transfer".into(),
//!     agents: vec!["ana".into(), "ben".into()],
//!     ..SimulatorConfig::default()
//! };
//! let events: Vec<_> = generate(config.clone())?.collect();
//!
//! // Three complete calls, the agents taking turns.
//! let ended: Vec<_> = events.iter().filter(|e| e.event_type() == EventType::CallEnded).collect();
//! assert_eq!(ended.len(), 3);
//! assert_eq!(events[0].event_type(), EventType::CallStarted);
//! assert_eq!(events[0].agent.as_deref(), Some("ana"));
//! assert!(events.iter().any(|e| e.event_type() == EventType::AudioStats));
//!
//! // The same seed gives the same calls, event for event.
//! let again: Vec<_> = generate(config)?.collect();
//! assert_eq!(events, again);
//! # Ok::<(), voicetk_sources::simulator::ConfigError>(())
//! ```
//!
//! # Pieces
//! - [`Scenario`]: a script of [`Step`]s ("connect after 3 to 12 s", "hold the initial caller",
//!   "talk for a while", ...); [`builtin_scenarios`] has `inbound-basic`, `outbound-basic`,
//!   `hold-resume`, `mute-unmute`, `recording-pause`, `warm-transfer`, `swap`, `abandoned`,
//!   `long-call` and `mixed` (the default: a weighted pick per call); files load with
//!   [`Scenario::from_toml_str`] / [`Scenario::from_path`].
//! - [`Recording`]: a recorded NDJSON event stream replayed as it was (fixtures for component
//!   tests), optionally with fresh call ids.
//! - [`SimulatorConfig`]: seed, number and rate of calls, agents, telephony kind, scenario,
//!   time scale, AUDIO_STATS interval.
//! - [`Timeline`] / [`generate`]: every event of every call in virtual-time order, without
//!   waiting.
//! - [`Simulator`]: the same timeline paced in real time, plus actions and dialing.
//!
//! # How a call is simulated
//! Each call draws everything (its uuid-looking id, a fictional `+1 (415) 555-01xx` number,
//! direction, scenario, delays, third parties, network quality) from its own random stream
//! derived from the seed, so calls are reproducible one by one. Its steps are planned against
//! a model of the call that mirrors the engine's strict rules: a step the state does not allow
//! is skipped. That is how one script serves partner and Native telephony alike (Native has no
//! CALL_STARTED, SWAP, WRAP_UP_ENDED or AUDIO_STATS: those steps fall away, and a call that
//! never connects sends nothing), and how a live call's script survives a user's action.
//!
//! While a call is connected, AUDIO_STATS come every [`SimulatorConfig::audio_interval`]: one
//! per channel, computed by the engine's real
//! [`AudioAggregator`](voicetk_engine::audio::AudioAggregator) from synthetic cumulative RTP
//! counters (a report every 5 s, 50 packets per second, loss, jitter and round-trip time drawn
//! per call from good, fair or poor network quality).
//!
//! Events carry `agent` and an `eventId` of the form `<callId>/<n>`, unique and deterministic;
//! `seq` and `timestamp` are left to the gateway.

mod call;
mod config;
mod live;
mod media;
mod recording;
mod scenario;
mod timeline;

#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, MAX_RATE, MAX_TIME_SCALE, MIN_RATE, MIN_TIME_SCALE, SimulatorConfig,
};
pub use live::Simulator;
pub use recording::{MAX_RECORDED_GAP, Recording, RecordingError};
pub use scenario::{
    DEFAULT_SCENARIO, Delay, MAX_STEP_DELAY, Party, Scenario, ScenarioError, Step, StepKind,
    Weighted, builtin_names, builtin_scenarios,
};
pub use timeline::{ScheduledEvent, Timeline, generate};
