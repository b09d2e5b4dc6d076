//! The simulated timeline: calls arrive, follow their scripts and send AUDIO_STATS while they
//! talk, all in virtual time, interleaved in time order. [`generate`] reads it straight
//! through; the live [`Simulator`](super::Simulator) paces the same timeline against the
//! clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use voicetk_events::{CallType, Envelope, EventType, TelephonyEvent, TelephonyKind};

use super::call::{self, CallModel, Phase};
use super::config::{ConfigError, SimulatorConfig};
use super::media::Media;
use super::scenario::{Delay, Scenario, Step, StepKind};

/// An event of the timeline and when it happens, counted from the simulation's start.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledEvent {
    /// Virtual time since the start of the simulation.
    pub at: Duration,
    /// The event, with `agent` and a unique `eventId` (`<callId>/<n>`); no `seq` or
    /// `timestamp`, which the gateway sets when it accepts it.
    pub envelope: Envelope,
}

/// Generates the complete event stream of `config`, in timeline order, without waiting: what
/// `voicetk simulate` prints. Endless when `config.calls` is `None`.
///
/// The same configuration always yields the same events. Concurrent calls interleave by their
/// virtual time; [`Timeline`] yields the same events with that time.
///
/// # Errors
/// A [`ConfigError`] when the configuration is out of range or its scenario cannot be loaded.
///
/// # Examples
/// ```
/// use voicetk_events::EventType;
/// use voicetk_sources::simulator::{generate, SimulatorConfig};
///
/// let config = SimulatorConfig { seed: 1, calls: Some(2), scenario: "hold-resume".into(), ..SimulatorConfig::default() };
/// let types: Vec<_> = generate(config)?
///     .filter(|e| e.event_type() != EventType::AudioStats)
///     .map(|e| e.event_type())
///     .collect();
/// assert_eq!(types.iter().filter(|t| **t == EventType::Hold).count(), 2);
/// # Ok::<(), voicetk_sources::simulator::ConfigError>(())
/// ```
pub fn generate(config: SimulatorConfig) -> Result<impl Iterator<Item = Envelope>, ConfigError> {
    Ok(Timeline::new(config)?.map(|scheduled| scheduled.envelope))
}

/// Seeds of the independent random streams; each call has its own streams, numbered by its
/// key, so calls never disturb each other's draws (and user actions on one live call leave the
/// others exactly as generated).
#[derive(Debug, Clone, Copy)]
enum Stream {
    /// Arrival times.
    Arrivals = 0,
    /// One call's script: id, number, scenario pick, delays, third parties.
    Call = 1,
    /// One call's media statistics.
    Media = 2,
}

fn rng(seed: u64, stream: Stream, key: u64) -> ChaCha8Rng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = stream as u8;
    let mut rng = ChaCha8Rng::from_seed(bytes);
    rng.set_stream(key);
    rng
}

/// Keys of calls placed with [`Timeline::dial`] start here, far above scripted arrivals.
const DIALED_KEYS: u64 = 1 << 63;

/// How a dialed (user-placed) call goes: it rings briefly, then stays up until the user ends
/// it, or until the far end hangs up after a long while, so a forgotten call cannot talk
/// forever.
fn dialed_script() -> Vec<Step> {
    vec![
        Step::new(StepKind::CallStarted, Delay::ZERO),
        Step::new(StepKind::CallConnected, Delay::secs(2, 6)),
        Step::new(StepKind::CallEnded, Delay::secs(600, 900)),
        wrap_up_step(),
    ]
}

/// The agent's after-call work once a call has ended.
fn wrap_up_step() -> Step {
    Step::new(StepKind::WrapUpEnded, Delay::secs(8, 40))
}

/// The settings every call needs.
#[derive(Debug, Clone)]
struct Settings {
    /// Seeds every call's random streams.
    seed: u64,
    /// Decides which events calls send.
    telephony: TelephonyKind,
    /// How often connected calls send AUDIO_STATS.
    audio_interval: Duration,
}

/// One call on the timeline: its model, what its script still has to do, and when.
#[derive(Debug)]
pub(crate) struct CallRun {
    /// The call's state, against which each step is planned.
    model: CallModel,
    /// `agent` of every event.
    agent: String,
    /// The call's own random stream: delays and third parties.
    rng: ChaCha8Rng,
    /// The steps still to come, the next first.
    script: VecDeque<Step>,
    /// When the next step is due.
    next_step_at: Option<Duration>,
    /// `None` in Native telephony, which has no AUDIO_STATS.
    media: Option<Media>,
    /// When the next AUDIO_STATS interval closes; set while the call is connected.
    next_audio_at: Option<Duration>,
    /// How far apart AUDIO_STATS intervals close.
    audio_interval: Duration,
    /// Events built so far, numbering `eventId`s.
    sent: u64,
    /// The due time under which [`Timeline`] queued the call.
    queued_at: Option<Duration>,
}

impl CallRun {
    /// A new call arriving `at`, drawing everything from its own streams.
    fn new(
        settings: &Settings,
        key: u64,
        scenario: &Scenario,
        agent: String,
        dialed: Option<String>,
        at: Duration,
    ) -> CallRun {
        let mut rng = rng(settings.seed, Stream::Call, key);
        let call_id = call::call_id(&mut rng);
        let (script, call_type, caller) = match dialed {
            Some(number) => (dialed_script(), CallType::Outbound, number),
            None => {
                let picked = scenario.pick(&mut rng);
                let call_type = picked.call_type.unwrap_or_else(|| {
                    if rng.random_bool(0.7) {
                        CallType::Inbound
                    } else {
                        CallType::Outbound
                    }
                });
                let caller = call::phone_number(rng.random_range(0..call::NUMBER_SPACE));
                (picked.steps.clone(), call_type, caller)
            }
        };
        let attributes = call::call_attributes(&mut rng);
        let media = EventType::AudioStats
            .is_supported_by(settings.telephony)
            .then(|| {
                Media::new(
                    call_id.clone(),
                    self::rng(settings.seed, Stream::Media, key),
                    settings.audio_interval,
                )
            });
        let model = CallModel::new(call_id, call_type, settings.telephony, caller, attributes);
        let mut run = CallRun {
            model,
            agent,
            rng,
            script: VecDeque::new(),
            next_step_at: None,
            media,
            next_audio_at: None,
            audio_interval: settings.audio_interval,
            sent: 0,
            queued_at: None,
        };
        run.replace_script(script, at);
        run
    }

    pub(crate) fn model(&self) -> &CallModel {
        &self.model
    }

    pub(crate) fn call_id(&self) -> &str {
        self.model.call_id()
    }

    /// When something next happens on the call; `None` once it is finished.
    fn due(&self) -> Option<Duration> {
        if self.model.is_finished() {
            return None;
        }
        match (self.next_step_at, self.next_audio_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does what is due: closes an AUDIO_STATS interval (first, when a step is due at the same
    /// instant), or takes the next step. Returns the events that produced, maybe none (a
    /// step the call's state does not allow is skipped).
    pub(crate) fn fire(&mut self) -> Vec<Envelope> {
        let Some(now) = self.due() else {
            return Vec::new();
        };
        if self.next_audio_at == Some(now) {
            self.next_audio_at = Some(now + self.audio_interval);
            let details = self.media.as_mut().map(Media::interval).unwrap_or_default();
            return details
                .into_iter()
                .map(|d| self.envelope(TelephonyEvent::AudioStats(d)))
                .collect();
        }
        let Some(step) = self.script.pop_front() else {
            self.next_step_at = None;
            return Vec::new();
        };
        let events = self.take_step(&step, now);
        self.next_step_at = self
            .script
            .front()
            .map(|next| now + next.delay.sample(&mut self.rng));
        if self.script.is_empty() && matches!(self.model.phase(), Phase::Ringing | Phase::Connected)
        {
            // Validated scripts end their calls; should one not, the call still ends rather
            // than talk forever.
            self.replace_script(
                vec![Step::new(StepKind::CallEnded, Delay::ZERO), wrap_up_step()],
                now,
            );
        }
        events
    }

    fn take_step(&mut self, step: &Step, now: Duration) -> Vec<Envelope> {
        let (model, rng) = (&self.model, &mut self.rng);
        let Some(intent) = step.kind.intent(|| model.fresh_contact(rng)) else {
            return Vec::new();
        };
        match self.model.plan(&intent) {
            Ok(event) => {
                self.apply(&event, now);
                vec![self.envelope(event)]
            }
            Err(reason) => {
                tracing::debug!(
                    call_id = self.model.call_id(),
                    step = step.kind.name(),
                    reason,
                    "simulator skips a step the call's state does not allow"
                );
                Vec::new()
            }
        }
    }

    /// Takes an event that was sent into the model, starting or stopping the AUDIO_STATS
    /// clock as the call connects or ends.
    pub(crate) fn apply(&mut self, event: &TelephonyEvent, now: Duration) {
        self.model.apply(event);
        if self.model.phase() != Phase::Connected {
            self.next_audio_at = None;
        } else if self.next_audio_at.is_none() && self.media.is_some() {
            self.next_audio_at = Some(now + self.audio_interval);
        }
    }

    /// Wraps an event of this call with its agent and the next `eventId`.
    pub(crate) fn envelope(&mut self, event: TelephonyEvent) -> Envelope {
        self.sent += 1;
        Envelope {
            agent: Some(self.agent.clone()),
            event_id: Some(format!("{}/{}", self.model.call_id(), self.sent)),
            ..Envelope::new(event)
        }
    }

    /// Drops what the script still had to do and follows `steps` from `now` instead.
    pub(crate) fn replace_script(&mut self, steps: Vec<Step>, now: Duration) {
        self.script = steps.into();
        self.next_step_at = self
            .script
            .front()
            .map(|first| now + first.delay.sample(&mut self.rng));
    }

    /// Replaces the script with the after-call work of an ended call (none in Native
    /// telephony, where an ended call is finished).
    pub(crate) fn wrap_up(&mut self, now: Duration) {
        let steps = if self.model.is_finished() {
            Vec::new()
        } else {
            vec![wrap_up_step()]
        };
        self.replace_script(steps, now);
    }

    /// A blind transfer: the agent leaves shortly after the third party joined, then wraps up.
    pub(crate) fn leave_after_transfer(&mut self, now: Duration) {
        self.replace_script(
            vec![
                Step::new(StepKind::CallEnded, Delay::secs(1, 3)),
                wrap_up_step(),
            ],
            now,
        );
    }
}

/// The simulated timeline: an iterator over every event of every call, in time order.
///
/// Calls arrive as a Poisson process of [`rate`](SimulatorConfig::rate), go to the agents in
/// turn, and follow the configured scenario; events at the same instant come in a fixed order,
/// so a seed always gives the same sequence.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use voicetk_events::EventType;
/// use voicetk_sources::simulator::{SimulatorConfig, Timeline};
///
/// let config = SimulatorConfig { calls: Some(1), scenario: "long-call".into(), ..SimulatorConfig::default() };
/// let events: Vec<_> = Timeline::new(config)?.collect();
/// assert_eq!(events[0].at, Duration::ZERO);
/// assert_eq!(events[0].envelope.event_type(), EventType::CallStarted);
/// assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
/// # Ok::<(), voicetk_sources::simulator::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Timeline {
    /// What every new call is given.
    settings: Settings,
    /// The configured scenario (a mix picks per call).
    scenario: Scenario,
    /// Who gets the calls, in turn.
    agents: Vec<String>,
    /// Calls still to place; `None` without end.
    remaining: Option<u64>,
    /// Mean arrivals per second.
    rate: f64,
    /// Draws the gaps between arrivals.
    arrivals: ChaCha8Rng,
    /// When the next scripted call arrives; `None` once all have.
    next_arrival: Option<Duration>,
    /// Scripted calls placed so far: the next one's key.
    placed: u64,
    /// Dialed calls placed so far.
    dialed: u64,
    /// Unfinished calls by key.
    runs: HashMap<u64, CallRun>,
    /// Keys of unfinished calls by call id.
    keys: HashMap<String, u64>,
    /// Unfinished calls by (due time, key): the earliest first, ties by key.
    queue: BTreeSet<(Duration, u64)>,
    /// Events produced but not yet handed out by the iterator.
    ready: VecDeque<ScheduledEvent>,
}

impl Timeline {
    /// A timeline for `config`, loading its scenario.
    ///
    /// # Errors
    /// A [`ConfigError`] when the configuration is out of range, its scenario cannot be
    /// loaded or is invalid, or (Native telephony) its calls would produce no event.
    ///
    /// # Examples
    /// ```
    /// use voicetk_events::TelephonyKind;
    /// use voicetk_sources::simulator::{ConfigError, SimulatorConfig, Timeline};
    ///
    /// let config = SimulatorConfig { calls: Some(5), ..SimulatorConfig::default() };
    /// assert!(Timeline::new(config.clone()).is_ok());
    ///
    /// // Calls that only ring are invisible in Native telephony: nothing would ever happen.
    /// let native = SimulatorConfig {
    ///     telephony: TelephonyKind::Native,
    ///     scenario: "abandoned".into(),
    ///     ..config
    /// };
    /// assert!(matches!(Timeline::new(native), Err(ConfigError::Silent(_))));
    /// ```
    pub fn new(config: SimulatorConfig) -> Result<Timeline, ConfigError> {
        config.validate()?;
        let scenario = Scenario::resolve(&config.scenario)?;
        scenario.validate()?;
        if scenario.is_silent_in(config.telephony) {
            return Err(ConfigError::Silent(scenario.name));
        }
        Ok(Timeline {
            settings: Settings {
                seed: config.seed,
                telephony: config.telephony,
                audio_interval: config.audio_interval,
            },
            scenario,
            agents: config.agents,
            remaining: config.calls,
            rate: config.rate,
            arrivals: rng(config.seed, Stream::Arrivals, 0),
            next_arrival: (config.calls != Some(0)).then_some(Duration::ZERO),
            placed: 0,
            dialed: 0,
            runs: HashMap::new(),
            keys: HashMap::new(),
            queue: BTreeSet::new(),
            ready: VecDeque::new(),
        })
    }

    /// When something next happens; `None` when nothing will unless a call is dialed.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        let call = self.queue.first().map(|(at, _)| *at);
        match (call, self.next_arrival) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether every configured call has been placed and has finished.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.next_arrival.is_none() && self.runs.is_empty()
    }

    /// Does the next thing due: a call's step or AUDIO_STATS interval (calls first at the same
    /// instant), or a new call's arrival. Returns when it happened and the events it produced;
    /// `None` when nothing is left.
    pub(crate) fn advance(&mut self) -> Option<(Duration, Vec<Envelope>)> {
        let call = self.queue.first().copied();
        match (call, self.next_arrival) {
            (Some((at, key)), arrival) if arrival.is_none_or(|a| at <= a) => {
                let events = self
                    .runs
                    .get_mut(&key)
                    .map(CallRun::fire)
                    .unwrap_or_default();
                self.reschedule(key);
                Some((at, events))
            }
            (_, Some(at)) => {
                self.arrive(at);
                Some((at, Vec::new()))
            }
            (_, None) => None,
        }
    }

    /// Places the next scripted call at `at` and draws when the one after arrives.
    fn arrive(&mut self, at: Duration) {
        let key = self.placed;
        self.placed += 1;
        let agent = self.agents[(key % self.agents.len() as u64) as usize].clone();
        let run = CallRun::new(&self.settings, key, &self.scenario, agent, None, at);
        self.insert(key, run);
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
        self.next_arrival = if self.remaining == Some(0) {
            None
        } else {
            // Exponential gaps: a Poisson process of `rate` calls per second, in whole ms.
            let u: f64 = self.arrivals.random();
            let gap = -(1.0 - u).ln() / self.rate;
            Some(at + Duration::from_millis((gap * 1000.0).round() as u64))
        };
    }

    /// Places an outbound call from `agent` (the first configured agent when `None`) to
    /// `number` at `now`; it follows the dialed script. Returns its key.
    pub(crate) fn dial(&mut self, agent: Option<&str>, number: String, now: Duration) -> u64 {
        let key = DIALED_KEYS | self.dialed;
        self.dialed += 1;
        let agent = agent
            .map(str::to_owned)
            .or_else(|| self.agents.first().cloned())
            .unwrap_or_default();
        let run = CallRun::new(
            &self.settings,
            key,
            &self.scenario,
            agent,
            Some(number),
            now,
        );
        self.insert(key, run);
        key
    }

    fn insert(&mut self, key: u64, run: CallRun) {
        self.keys.insert(run.call_id().to_owned(), key);
        self.runs.insert(key, run);
        self.reschedule(key);
    }

    /// Re-queues a call under its current due time, or forgets it once finished. Call after
    /// anything that may have changed when the call is next due.
    pub(crate) fn reschedule(&mut self, key: u64) {
        let Some(run) = self.runs.get_mut(&key) else {
            return;
        };
        if let Some(at) = run.queued_at.take() {
            self.queue.remove(&(at, key));
        }
        match run.due() {
            Some(at) => {
                run.queued_at = Some(at);
                self.queue.insert((at, key));
            }
            None => {
                let call_id = run.call_id().to_owned();
                self.runs.remove(&key);
                self.keys.remove(&call_id);
            }
        }
    }

    /// The key of an unfinished call.
    pub(crate) fn key_of(&self, call_id: &str) -> Option<u64> {
        self.keys.get(call_id).copied()
    }

    /// An unfinished call by key.
    pub(crate) fn run_mut(&mut self, key: u64) -> Option<&mut CallRun> {
        self.runs.get_mut(&key)
    }

    /// Forgets a call without finishing it (the gateway refused one of its events).
    pub(crate) fn abandon(&mut self, call_id: &str) {
        if let Some(key) = self.keys.remove(call_id) {
            if let Some(run) = self.runs.remove(&key) {
                if let Some(at) = run.queued_at {
                    self.queue.remove(&(at, key));
                }
            }
        }
    }

    /// How many calls are under way.
    pub(crate) fn active_calls(&self) -> usize {
        self.runs.len()
    }
}

impl Iterator for Timeline {
    type Item = ScheduledEvent;

    fn next(&mut self) -> Option<ScheduledEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let (at, events) = self.advance()?;
            self.ready.extend(
                events
                    .into_iter()
                    .map(|envelope| ScheduledEvent { at, envelope }),
            );
        }
    }
}
