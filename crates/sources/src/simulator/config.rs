//! What the simulator simulates: how many calls, how often, for whom, and how fast.

use std::time::Duration;

use voicetk_events::TelephonyKind;

use super::scenario::{DEFAULT_SCENARIO, ScenarioError};

/// The simulator's settings. Every field has a documented default ([`Default`]).
///
/// # Examples
/// ```
/// use voicetk_sources::simulator::SimulatorConfig;
/// let config = SimulatorConfig {
///     seed: 42,
///     calls: Some(10),
///     scenario: "warm-transfer".into(),
///     ..SimulatorConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// assert!(SimulatorConfig { rate: 0.0, ..config }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Seeds every random choice (call ids, numbers, scenarios, delays, media), so the same
    /// configuration always produces the same calls. Default is 0. A gateway that keeps its
    /// log across restarts should vary it (e.g. from the clock): the same seed replays the same
    /// call ids and event ids, which the gateway then refuses or treats as duplicates.
    pub seed: u64,
    /// How many calls to place; `None` (the default) never stops.
    pub calls: Option<u64>,
    /// New calls per second, on average (arrivals are a Poisson process). Default is 0.5;
    /// accepted from [`MIN_RATE`] to [`MAX_RATE`].
    pub rate: f64,
    /// The agents calls are given to, in turn. Default is `["agent-1"]`.
    pub agents: Vec<String>,
    /// Which telephony to imitate. Default is partner; Native omits the events it lacks.
    pub telephony: TelephonyKind,
    /// A built-in scenario's name or the path of a `.toml` scenario file. Default is `mixed`.
    pub scenario: String,
    /// How much faster than real time the live source runs: 1.0 (the default) is real time,
    /// 10.0 makes a 60 s call last 6 s. Accepted from [`MIN_TIME_SCALE`] to
    /// [`MAX_TIME_SCALE`]. [`generate`](super::generate) ignores it (it does not wait).
    pub time_scale: f64,
    /// The AUDIO_STATS interval, in simulated time. Default is 30 s; accepted from 1 s to
    /// 1 h.
    pub audio_interval: Duration,
}

/// The lowest accepted [`SimulatorConfig::rate`]: one call every few hours.
pub const MIN_RATE: f64 = 1e-4;
/// The highest accepted [`SimulatorConfig::rate`].
pub const MAX_RATE: f64 = 1e5;
/// The lowest accepted [`SimulatorConfig::time_scale`].
pub const MIN_TIME_SCALE: f64 = 1e-3;
/// The highest accepted [`SimulatorConfig::time_scale`].
pub const MAX_TIME_SCALE: f64 = 1e4;

const MIN_AUDIO_INTERVAL: Duration = Duration::from_secs(1);
const MAX_AUDIO_INTERVAL: Duration = Duration::from_secs(3600);

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 0,
            calls: None,
            rate: 0.5,
            agents: vec!["agent-1".to_owned()],
            telephony: TelephonyKind::Partner,
            scenario: DEFAULT_SCENARIO.to_owned(),
            time_scale: 1.0,
            audio_interval: Duration::from_secs(30),
        }
    }
}

impl SimulatorConfig {
    /// Checks the numbers and the agents (not the scenario, which
    /// [`Timeline::new`](super::Timeline::new) loads).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that is out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_RATE..=MAX_RATE).contains(&self.rate) {
            return Err(ConfigError::Rate(self.rate));
        }
        if !(MIN_TIME_SCALE..=MAX_TIME_SCALE).contains(&self.time_scale) {
            return Err(ConfigError::TimeScale(self.time_scale));
        }
        if !(MIN_AUDIO_INTERVAL..=MAX_AUDIO_INTERVAL).contains(&self.audio_interval) {
            return Err(ConfigError::AudioInterval(self.audio_interval));
        }
        if self.agents.is_empty() {
            return Err(ConfigError::NoAgents);
        }
        if let Some(index) = self.agents.iter().position(|a| a.trim().is_empty()) {
            return Err(ConfigError::EmptyAgent { index });
        }
        Ok(())
    }
}

/// A [`SimulatorConfig`] the simulator cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `rate` is out of range (NaN included).
    #[error("rate must be between {MIN_RATE} and {MAX_RATE} calls per second, found {0}")]
    Rate(f64),
    /// `time_scale` is out of range (NaN included).
    #[error("time scale must be between {MIN_TIME_SCALE} and {MAX_TIME_SCALE}, found {0}")]
    TimeScale(f64),
    /// `audio_interval` is out of range.
    #[error("audio interval must be between 1 s and 1 h, found {0:?}")]
    AudioInterval(Duration),
    /// `agents` is empty.
    #[error("at least one agent is needed")]
    NoAgents,
    /// An agent's name is empty.
    #[error("agent {index} has an empty name")]
    EmptyAgent {
        /// Its position in `agents`, from 0.
        index: usize,
    },
    /// The scenario cannot be found, read or run.
    #[error("scenario: {0}")]
    Scenario(#[from] ScenarioError),
    /// In Native telephony the scenario's calls would produce no event at all (a call that
    /// never connects is invisible there), so the simulation would run silently forever.
    #[error(
        "scenario {0:?} produces no event in native telephony: a call that never connects is invisible there"
    )]
    Silent(String),
}
