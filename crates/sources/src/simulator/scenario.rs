//! Scenarios: what happens on a simulated call, step by step, and how long between steps.
//!
//! A scenario is a script of intentions ("connect", "hold the initial caller", "talk for a
//! while", ...). The simulator turns each step into the telephony event it implies when the
//! call's state allows it, and skips it otherwise: that is how one script serves both partner
//! and Native telephony (where CALL_STARTED, SWAP and WRAP_UP_ENDED do not exist), and how a
//! live call stays consistent after a user's action changed it under the script.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use toml::Value;
use voicetk_events::{CallType, EventType, TelephonyKind};

use super::call::{CallModel, Intent};

/// The longest delay a step may have: one day. Longer is surely a typo (milliseconds given as
/// seconds), and it keeps the arithmetic on virtual time far from overflow.
pub const MAX_STEP_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Which participant a step acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The customer the call started with.
    InitialCaller,
    /// The most recently added third party.
    ThirdParty,
}

impl Party {
    /// The Voice Toolkit's `participantType` spelling (`Initial_Caller`, `Third_Party`), which is
    /// also how scenario files name them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Party::InitialCaller => "Initial_Caller",
            Party::ThirdParty => "Third_Party",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long to wait before a step: drawn uniformly from `min..=max`, in whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    /// The shortest wait.
    pub min: Duration,
    /// The longest wait; a `max` below `min` is read as `min`.
    pub max: Duration,
}

impl Delay {
    /// No wait.
    pub const ZERO: Delay = Delay::fixed(Duration::ZERO);

    /// Always exactly `delay`.
    pub const fn fixed(delay: Duration) -> Delay {
        Delay {
            min: delay,
            max: delay,
        }
    }

    /// Between `min` and `max` whole seconds.
    pub const fn secs(min: u64, max: u64) -> Delay {
        Delay {
            min: Duration::from_secs(min),
            max: Duration::from_secs(max),
        }
    }

    /// Draws one wait.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> Duration {
        let lo = millis(self.min);
        let hi = millis(self.max).max(lo);
        Duration::from_millis(rng.random_range(lo..=hi))
    }
}

/// Whole milliseconds of `d`, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What a step does. Every kind but [`Talk`](StepKind::Talk) stands for one telephony event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// CALL_STARTED: the call rings. Omitted in Native telephony, where the call first appears
    /// when it connects.
    CallStarted,
    /// CALL_CONNECTED: the call is answered.
    CallConnected,
    /// HOLD of a participant.
    Hold(Party),
    /// RESUME of a participant.
    Resume(Party),
    /// MUTE: the agent mutes.
    Mute,
    /// UNMUTE: the agent unmutes.
    Unmute,
    /// PARTICIPANT_ADDED: a third party joins.
    ParticipantAdded {
        /// Who joins: a phone number or a Quick Connect name. `None` picks a fresh one.
        contact: Option<String>,
    },
    /// PARTICIPANT_REMOVED: a participant leaves.
    ParticipantRemoved(Party),
    /// CONFERENCE: everyone is taken off hold.
    Conference,
    /// SWAP: the two participants swap who is on hold. Omitted in Native telephony.
    Swap,
    /// PAUSE_RECORDING.
    PauseRecording,
    /// RESUME_RECORDING.
    ResumeRecording,
    /// CALL_ENDED.
    CallEnded,
    /// WRAP_UP_ENDED: the agent finishes after-call work. Omitted in Native telephony.
    WrapUpEnded,
    /// The parties talk for the step's delay; no event of its own, but AUDIO_STATS keep coming
    /// every interval while the call is connected.
    Talk,
}

impl StepKind {
    /// The step's name in scenario files (`call-started`, `hold`, `talk`, ...).
    pub const fn name(&self) -> &'static str {
        match self {
            StepKind::CallStarted => "call-started",
            StepKind::CallConnected => "call-connected",
            StepKind::Hold(_) => "hold",
            StepKind::Resume(_) => "resume",
            StepKind::Mute => "mute",
            StepKind::Unmute => "unmute",
            StepKind::ParticipantAdded { .. } => "participant-added",
            StepKind::ParticipantRemoved(_) => "participant-removed",
            StepKind::Conference => "conference",
            StepKind::Swap => "swap",
            StepKind::PauseRecording => "pause-recording",
            StepKind::ResumeRecording => "resume-recording",
            StepKind::CallEnded => "call-ended",
            StepKind::WrapUpEnded => "wrap-up-ended",
            StepKind::Talk => "talk",
        }
    }

    /// Every step name a scenario file accepts, in catalogue order.
    pub const NAMES: [&'static str; 15] = [
        "call-started",
        "call-connected",
        "hold",
        "resume",
        "mute",
        "unmute",
        "participant-added",
        "participant-removed",
        "conference",
        "swap",
        "pause-recording",
        "resume-recording",
        "call-ended",
        "wrap-up-ended",
        "talk",
    ];

    /// The event type the step stands for; `None` for [`Talk`](StepKind::Talk).
    pub const fn event_type(&self) -> Option<EventType> {
        Some(match self {
            StepKind::CallStarted => EventType::CallStarted,
            StepKind::CallConnected => EventType::CallConnected,
            StepKind::Hold(_) => EventType::Hold,
            StepKind::Resume(_) => EventType::Resume,
            StepKind::Mute => EventType::Mute,
            StepKind::Unmute => EventType::Unmute,
            StepKind::ParticipantAdded { .. } => EventType::ParticipantAdded,
            StepKind::ParticipantRemoved(_) => EventType::ParticipantRemoved,
            StepKind::Conference => EventType::Conference,
            StepKind::Swap => EventType::Swap,
            StepKind::PauseRecording => EventType::PauseRecording,
            StepKind::ResumeRecording => EventType::ResumeRecording,
            StepKind::CallEnded => EventType::CallEnded,
            StepKind::WrapUpEnded => EventType::WrapUpEnded,
            StepKind::Talk => return None,
        })
    }

    /// What the step asks of the call; `fresh` names a new third party when the step names
    /// none. `None` for [`Talk`](StepKind::Talk).
    pub(crate) fn intent(&self, fresh: impl FnOnce() -> String) -> Option<Intent> {
        Some(match self {
            StepKind::CallStarted => Intent::Start,
            StepKind::CallConnected => Intent::Connect,
            StepKind::Hold(p) => Intent::Hold(*p),
            StepKind::Resume(p) => Intent::Resume(*p),
            StepKind::Mute => Intent::Mute,
            StepKind::Unmute => Intent::Unmute,
            StepKind::ParticipantAdded { contact } => {
                Intent::Add(contact.clone().unwrap_or_else(fresh))
            }
            StepKind::ParticipantRemoved(p) => Intent::Remove(*p),
            StepKind::Conference => Intent::Conference,
            StepKind::Swap => Intent::Swap,
            StepKind::PauseRecording => Intent::PauseRecording,
            StepKind::ResumeRecording => Intent::ResumeRecording,
            StepKind::CallEnded => Intent::End,
            StepKind::WrapUpEnded => Intent::WrapUp,
            StepKind::Talk => return None,
        })
    }
}

/// One step of a scenario: wait [`delay`](Self::delay) after the previous step, then do
/// [`kind`](Self::kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What happens.
    pub kind: StepKind,
    /// How long after the previous step (after the call's arrival, for the first step).
    pub delay: Delay,
}

impl Step {
    /// A step.
    pub const fn new(kind: StepKind, delay: Delay) -> Step {
        Step { kind, delay }
    }
}

/// A scenario and how often a mix picks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weighted {
    /// Relative weight; 0 never picks it.
    pub weight: u32,
    /// The scenario.
    pub scenario: Scenario,
}

/// A simulated call's script, or a weighted mix of scripts.
///
/// A scenario has either [`steps`](Self::steps) (each call follows them) or a
/// [`mix`](Self::mix) (each call picks one of the mixed scenarios at random, by weight), not
/// both. [`Scenario::validate`] checks that the steps make a valid call in partner telephony
/// and end it; the simulator checks every scenario it is given.
///
/// # Examples
/// ```
/// use voicetk_sources::simulator::{Scenario, StepKind};
///
/// let scenario = Scenario::from_toml_str(r#"
///     name = "quick-question"
///     description = "A short inbound call"
///     call_type = "inbound"
///
///     [[steps]]
///     event = "call-started"
///
///     [[steps]]
///     event = "call-connected"
///     delay = [2, 6]          # seconds: rings 2 to 6 s
///
///     [[steps]]
///     event = "talk"
///     delay = 45
///
///     [[steps]]
///     event = "call-ended"
///
///     [[steps]]
///     event = "wrap-up-ended"
///     delay = [5, 20]
/// "#)?;
/// assert_eq!(scenario.steps.len(), 5);
/// assert_eq!(scenario.steps[2].kind, StepKind::Talk);
///
/// // Errors name the step and the field.
/// let err = Scenario::from_toml_str(r#"
///     name = "broken"
///     [[steps]]
///     event = "call-connected"
///     [[steps]]
///     event = "hold"
///     participant = "Supervisor"
/// "#).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"step 2 (hold): participant: expected "Initial_Caller" or "Third_Party", found "Supervisor""#
/// );
/// # Ok::<(), voicetk_sources::simulator::ScenarioError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// A short name, used to pick the scenario (`hold-resume`).
    pub name: String,
    /// One sentence saying what happens.
    pub description: String,
    /// The direction of its calls; `None` draws one per call (mostly inbound).
    pub call_type: Option<CallType>,
    /// The script each call follows; empty for a mix.
    pub steps: Vec<Step>,
    /// The scenarios a mix picks from; empty for a script.
    pub mix: Vec<Weighted>,
}

/// The name of the default scenario, a weighted mix of all the other built-ins.
pub const DEFAULT_SCENARIO: &str = "mixed";

/// Why a scenario could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not TOML.
    #[error("invalid TOML: {message}")]
    Syntax {
        /// What the TOML parser said, with the line.
        message: String,
    },
    /// A top-level field is missing or wrong.
    #[error("{field}: {message}")]
    Field {
        /// The field's name.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A field of one step is missing or wrong.
    #[error("step {step}{}: {field}: {message}", event_label(event.as_deref()))]
    StepField {
        /// The step's position, from 1.
        step: usize,
        /// The step's event name, when it has a valid one.
        event: Option<String>,
        /// The field's name.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A step cannot happen where it stands (a HOLD before the call connects, ...).
    #[error("step {step} ({event}): {message}")]
    Sequence {
        /// The step's position, from 1.
        step: usize,
        /// The step's event name.
        event: &'static str,
        /// Why it cannot happen.
        message: String,
    },
    /// The scenario has nothing to do, or leaves its calls open.
    #[error("scenario {name:?}: {message}")]
    Shape {
        /// The scenario's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// No built-in scenario has this name, and it is not a `.toml` path.
    #[error(
        "unknown scenario {name:?}; expected one of {} or the path of a .toml scenario file",
        builtin_names().join(", ")
    )]
    Unknown {
        /// The name that was given.
        name: String,
    },
    /// A scenario file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A scenario file was read but is not a valid scenario.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        source: Box<ScenarioError>,
    },
}

fn event_label(event: Option<&str>) -> String {
    event.map(|e| format!(" ({e})")).unwrap_or_default()
}

impl Scenario {
    /// A scripted scenario.
    pub fn scripted(
        name: impl Into<String>,
        description: impl Into<String>,
        call_type: Option<CallType>,
        steps: Vec<Step>,
    ) -> Scenario {
        Scenario {
            name: name.into(),
            description: description.into(),
            call_type,
            steps,
            mix: Vec::new(),
        }
    }

    /// The built-in scenario called `name`, if there is one.
    pub fn builtin(name: &str) -> Option<Scenario> {
        builtin_scenarios().into_iter().find(|s| s.name == name)
    }

    /// A built-in scenario by name, or else a scenario file when `name_or_path` ends in
    /// `.toml`.
    ///
    /// # Errors
    /// [`ScenarioError::Unknown`] for any other name; the errors of [`Scenario::from_path`]
    /// for a file.
    ///
    /// # Examples
    /// ```
    /// use voicetk_sources::simulator::Scenario;
    /// assert_eq!(Scenario::resolve("swap")?.name, "swap");
    /// assert!(Scenario::resolve("nope").unwrap_err().to_string().contains("hold-resume"));
    /// # Ok::<(), voicetk_sources::simulator::ScenarioError>(())
    /// ```
    pub fn resolve(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(scenario) = Scenario::builtin(name_or_path) {
            return Ok(scenario);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|ext| ext == "toml") {
            return Scenario::from_path(path);
        }
        Err(ScenarioError::Unknown {
            name: name_or_path.to_owned(),
        })
    }

    /// Reads a scenario file (see [`Scenario::from_toml_str`] for the format).
    ///
    /// # Errors
    /// [`ScenarioError::Read`] when the file cannot be read; [`ScenarioError::File`] wrapping
    /// the error of [`Scenario::from_toml_str`] when its content is not a valid scenario.
    ///
    /// # Examples
    /// ```
    /// use voicetk_sources::simulator::Scenario;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("callback.toml");
    /// std::fs::write(&path, "name = \"callback\"\ncall_type = \"outbound\"\n\
    ///     [[steps]]\nevent = \"call-started\"\n\
    ///     [[steps]]\nevent = \"call-ended\"\ndelay = [10, 20]\n")?;
    /// assert_eq!(Scenario::from_path(&path)?.steps.len(), 2);
    ///
    /// std::fs::write(&path, "name = \"callback\"\n")?;
    /// let err = Scenario::from_path(&path).unwrap_err();
    /// assert!(err.to_string().ends_with("callback.toml: steps: missing required field (an array of [[steps]] tables)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Scenario::from_toml_str(&text).map_err(|e| ScenarioError::File {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Parses a scenario from TOML and [validates](Scenario::validate) it.
    ///
    /// The format: top-level `name` (required), `description`, `call_type` (`"inbound"` or
    /// `"outbound"`; drawn per call when absent), and an array of `[[steps]]` tables, each
    /// with:
    /// - `event`: the step, one of [`StepKind::NAMES`] (`call-started`, ..., `talk`); the
    ///   event type names (`CALL_STARTED`, `callstarted`) are accepted too;
    /// - `delay`: seconds to wait after the previous step, a number or `[min, max]` (drawn
    ///   uniformly); default 0;
    /// - `participant`: for `hold`, `resume` and `participant-removed` (required there):
    ///   `"Initial_Caller"` or `"Third_Party"` (the most recently added one);
    /// - `contact`: for `participant-added`, who joins (a number or Quick Connect name);
    ///   a fresh number is drawn when absent.
    ///
    /// # Errors
    /// A [`ScenarioError`] naming the step and the field: [`ScenarioError::Syntax`] for bad
    /// TOML, [`ScenarioError::Field`] / [`ScenarioError::StepField`] for a missing, unknown or
    /// wrong field, and the errors of [`Scenario::validate`].
    ///
    /// # Examples
    /// See [`Scenario`].
    pub fn from_toml_str(text: &str) -> Result<Scenario, ScenarioError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ScenarioError::Syntax {
                    message: e.to_string().trim_end().to_owned(),
                })?;
        let scenario = parse_scenario(table)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks that the scenario can run: a script's steps, tried in order on a fresh call in
    /// partner telephony, must each be possible where they stand, and the call must have ended
    /// by the last one; a mix needs a positive total weight, and each mixed scenario must be
    /// valid.
    ///
    /// # Errors
    /// [`ScenarioError::Sequence`] naming the first step that cannot happen;
    /// [`ScenarioError::Shape`] for an empty scenario, one with both steps and a mix, or one
    /// that leaves the call open.
    ///
    /// # Examples
    /// ```
    /// use voicetk_sources::simulator::{Delay, Party, Scenario, Step, StepKind};
    ///
    /// let step = |kind| Step::new(kind, Delay::ZERO);
    /// let mut scenario = Scenario::scripted("early-hold", "", None, vec![
    ///     step(StepKind::CallStarted),
    ///     step(StepKind::Hold(Party::InitialCaller)),
    ///     step(StepKind::CallEnded),
    /// ]);
    /// assert_eq!(
    ///     scenario.validate().unwrap_err().to_string(),
    ///     "step 2 (hold): the call is ringing; HOLD needs a connected call"
    /// );
    /// scenario.steps.insert(1, step(StepKind::CallConnected));
    /// assert!(scenario.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let shape = |message: &str| ScenarioError::Shape {
            name: self.name.clone(),
            message: message.to_owned(),
        };
        match (self.steps.is_empty(), self.mix.is_empty()) {
            (true, true) => return Err(shape("has no steps")),
            (false, false) => return Err(shape("has both steps and a mix; give one or the other")),
            (true, false) => {
                if self.mix.iter().all(|w| w.weight == 0) {
                    return Err(shape("its mix has no scenario with a positive weight"));
                }
                return self.mix.iter().try_for_each(|w| w.scenario.validate());
            }
            (false, true) => {}
        }
        let mut call = CallModel::new(
            "validation".to_owned(),
            self.call_type.unwrap_or(CallType::Inbound),
            TelephonyKind::Partner,
            "+1 (415) 555-0100".to_owned(),
            serde_json::Map::new(),
        );
        let mut added = 0u32;
        for (i, step) in self.steps.iter().enumerate() {
            let Some(intent) = step.kind.intent(|| {
                added += 1;
                format!("third party {added}")
            }) else {
                continue;
            };
            let event = call
                .plan(&intent)
                .map_err(|message| ScenarioError::Sequence {
                    step: i + 1,
                    event: step.kind.name(),
                    message,
                })?;
            call.apply(&event);
        }
        if !call.phase().is_over() {
            return Err(shape(
                "never ends the call: its steps must reach call-ended (optionally followed by wrap-up-ended)",
            ));
        }
        Ok(())
    }

    /// Whether calls of this scenario would send no event at all in `telephony`: its steps
    /// tried in order, skipping those the telephony or the call's state does not allow, plan
    /// nothing. A mix is silent when every scenario it can pick is.
    pub(crate) fn is_silent_in(&self, telephony: TelephonyKind) -> bool {
        if !self.mix.is_empty() {
            return self
                .mix
                .iter()
                .filter(|w| w.weight > 0)
                .all(|w| w.scenario.is_silent_in(telephony));
        }
        let mut call = CallModel::new(
            "validation".to_owned(),
            self.call_type.unwrap_or(CallType::Inbound),
            telephony,
            "+1 (415) 555-0100".to_owned(),
            serde_json::Map::new(),
        );
        let mut silent = true;
        for step in &self.steps {
            let intent = step.kind.intent(|| "third party".to_owned());
            if let Some(Ok(event)) = intent.map(|i| call.plan(&i)) {
                call.apply(&event);
                silent = false;
            }
        }
        silent
    }

    /// The script a new call follows: this scenario's steps, or a weighted pick from its mix.
    pub(crate) fn pick(&self, rng: &mut impl Rng) -> &Scenario {
        if self.mix.is_empty() {
            return self;
        }
        let total: u64 = self.mix.iter().map(|w| u64::from(w.weight)).sum();
        let mut ticket = rng.random_range(0..total.max(1));
        for w in &self.mix {
            let weight = u64::from(w.weight);
            if ticket < weight {
                return w.scenario.pick(rng);
            }
            ticket -= weight;
        }
        // Unreachable for a validated mix (the ticket is below the total); any script will do.
        self.mix.first().map_or(self, |w| w.scenario.pick(rng))
    }
}

/// The names of the built-in scenarios, the default (`mixed`) last.
pub fn builtin_names() -> Vec<&'static str> {
    vec![
        "inbound-basic",
        "outbound-basic",
        "hold-resume",
        "mute-unmute",
        "recording-pause",
        "warm-transfer",
        "swap",
        "abandoned",
        "long-call",
        DEFAULT_SCENARIO,
    ]
}

/// The built-in scenarios, in the order of [`builtin_names`]; the last, `mixed`, picks one of
/// the others per call, weighted towards the simple ones, as a contact center sees them.
///
/// Every call a built-in script places ends with CALL_ENDED then WRAP_UP_ENDED (partner
/// telephony), so the engine can close and eventually forget it.
pub fn builtin_scenarios() -> Vec<Scenario> {
    use StepKind::*;
    let s = |kind, min, max| Step::new(kind, Delay::secs(min, max));
    let start = || s(CallStarted, 0, 0);
    let wrap_up = || s(WrapUpEnded, 8, 40);
    let inbound = Some(CallType::Inbound);

    let scripts = vec![
        Scenario::scripted(
            "inbound-basic",
            "A customer calls in; the agent answers, they talk, the customer hangs up.",
            inbound,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 40, 150),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "outbound-basic",
            "The agent calls a customer, who answers after a few rings; they talk and hang up.",
            Some(CallType::Outbound),
            vec![
                start(),
                s(CallConnected, 5, 20),
                s(Talk, 30, 120),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "hold-resume",
            "The agent puts the customer on hold to look something up, then resumes.",
            None,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 20, 60),
                s(Hold(Party::InitialCaller), 0, 2),
                s(Resume(Party::InitialCaller), 10, 45),
                s(Talk, 20, 60),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "mute-unmute",
            "The agent mutes to talk to a colleague, then unmutes.",
            None,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 15, 45),
                s(Mute, 0, 2),
                s(Unmute, 5, 20),
                s(Talk, 20, 60),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "recording-pause",
            "The agent pauses recording while the customer reads out card details, then resumes it.",
            inbound,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 20, 60),
                s(PauseRecording, 0, 2),
                s(ResumeRecording, 15, 40),
                s(Talk, 15, 45),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "warm-transfer",
            "The agent holds the customer, consults a third party, conferences everyone in, \
             and the customer drops, leaving the agent with the third party.",
            inbound,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 20, 60),
                s(Hold(Party::InitialCaller), 0, 2),
                s(ParticipantAdded { contact: None }, 2, 6),
                s(Talk, 15, 40),
                s(Conference, 0, 2),
                s(Talk, 10, 30),
                s(ParticipantRemoved(Party::InitialCaller), 0, 5),
                s(Talk, 10, 40),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "swap",
            "A three-way call: the agent swaps between the customer and a third party, \
             conferences them, then the third party leaves.",
            inbound,
            vec![
                start(),
                s(CallConnected, 3, 12),
                s(Talk, 20, 50),
                s(Hold(Party::InitialCaller), 0, 2),
                s(ParticipantAdded { contact: None }, 2, 6),
                s(Talk, 10, 30),
                s(Swap, 0, 2),
                s(Talk, 10, 30),
                s(Swap, 0, 2),
                s(Talk, 5, 20),
                s(Conference, 0, 2),
                s(Talk, 10, 30),
                s(ParticipantRemoved(Party::ThirdParty), 0, 3),
                s(Talk, 10, 30),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
        Scenario::scripted(
            "abandoned",
            "A customer calls in and hangs up while it is still ringing.",
            inbound,
            // A missed call still leaves a contact to close: the agent dismisses it quickly.
            vec![start(), s(CallEnded, 5, 30), s(WrapUpEnded, 1, 5)],
        ),
        Scenario::scripted(
            "long-call",
            "A long conversation spanning many AUDIO_STATS intervals, with a brief mute.",
            None,
            vec![
                start(),
                s(CallConnected, 3, 10),
                s(Talk, 90, 180),
                s(Mute, 0, 2),
                s(Unmute, 5, 15),
                s(Talk, 120, 300),
                s(CallEnded, 0, 2),
                wrap_up(),
            ],
        ),
    ];

    let weights = [30, 15, 12, 10, 6, 8, 5, 8, 6];
    let mix = scripts
        .iter()
        .zip(weights)
        .map(|(scenario, weight)| Weighted {
            weight,
            scenario: scenario.clone(),
        })
        .collect();
    let mut all = scripts;
    all.push(Scenario {
        name: DEFAULT_SCENARIO.to_owned(),
        description: "A weighted random pick of the other built-in scenarios, call by call."
            .to_owned(),
        call_type: None,
        steps: Vec::new(),
        mix,
    });
    all
}

// ---------------------------------------------------------------------------------------------
// TOML

fn parse_scenario(mut table: toml::Table) -> Result<Scenario, ScenarioError> {
    let field = |field: &str, message: String| ScenarioError::Field {
        field: field.to_owned(),
        message,
    };
    let name = match table.remove("name") {
        None => {
            return Err(field(
                "name",
                "missing required field (a non-empty string)".into(),
            ));
        }
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(other) => return Err(field("name", expected("a non-empty string", &other))),
    };
    let description = match table.remove("description") {
        None => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => return Err(field("description", expected("a string", &other))),
    };
    let call_type = match table.remove("call_type") {
        None => None,
        Some(Value::String(s)) if s == "inbound" => Some(CallType::Inbound),
        Some(Value::String(s)) if s == "outbound" => Some(CallType::Outbound),
        Some(other) => {
            return Err(field(
                "call_type",
                expected(r#""inbound" or "outbound""#, &other),
            ));
        }
    };
    let steps = match table.remove("steps") {
        None => {
            return Err(field(
                "steps",
                "missing required field (an array of [[steps]] tables)".into(),
            ));
        }
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(other) => {
            return Err(field(
                "steps",
                expected("a non-empty array of [[steps]] tables", &other),
            ));
        }
    };
    if let Some(unknown) = table.keys().next() {
        return Err(field(
            unknown,
            "unknown field; expected name, description, call_type or steps".into(),
        ));
    }
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, item)| parse_step(i + 1, item))
        .collect::<Result<_, _>>()?;
    Ok(Scenario::scripted(name, description, call_type, steps))
}

fn parse_step(index: usize, item: Value) -> Result<Step, ScenarioError> {
    let err = |event: Option<&str>, field: &str, message: String| ScenarioError::StepField {
        step: index,
        event: event.map(str::to_owned),
        field: field.to_owned(),
        message,
    };
    let Value::Table(mut table) = item else {
        return Err(err(None, "$", expected("a table", &item)));
    };
    let name = match table.remove("event") {
        None => {
            return Err(err(
                None,
                "event",
                format!(
                    "missing required field (one of {})",
                    StepKind::NAMES.join(", ")
                ),
            ));
        }
        Some(Value::String(s)) => s,
        Some(other) => return Err(err(None, "event", expected("a step name", &other))),
    };
    let Some(proto) = step_by_name(&name) else {
        return Err(err(
            None,
            "event",
            format!(
                "unknown step {name:?}; expected one of {}",
                StepKind::NAMES.join(", ")
            ),
        ));
    };
    let event = Some(proto.name());
    let delay = match table.remove("delay") {
        None => Delay::ZERO,
        Some(v) => parse_delay(&v).map_err(|m| err(event, "delay", m))?,
    };
    let participant = table
        .remove("participant")
        .map(|v| match &v {
            Value::String(s) if s == "Initial_Caller" => Ok(Party::InitialCaller),
            Value::String(s) if s == "Third_Party" => Ok(Party::ThirdParty),
            other => Err(err(
                event,
                "participant",
                expected(r#""Initial_Caller" or "Third_Party""#, other),
            )),
        })
        .transpose()?;
    let contact = table
        .remove("contact")
        .map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s),
            other => Err(err(
                event,
                "contact",
                expected("a non-empty phone number or Quick Connect name", &other),
            )),
        })
        .transpose()?;
    if let Some(unknown) = table.keys().next() {
        return Err(err(
            event,
            unknown,
            "unknown field; expected event, delay, participant or contact".into(),
        ));
    }
    let needs_participant = matches!(
        proto,
        StepKind::Hold(_) | StepKind::Resume(_) | StepKind::ParticipantRemoved(_)
    );
    let kind = match (proto, participant, contact) {
        (_, Some(_), _) if !needs_participant => {
            return Err(err(
                event,
                "participant",
                "does not apply to this step (only hold, resume and participant-removed)".into(),
            ));
        }
        (StepKind::ParticipantAdded { .. }, None, contact) => {
            StepKind::ParticipantAdded { contact }
        }
        (_, _, Some(_)) => {
            return Err(err(
                event,
                "contact",
                "does not apply to this step (only participant-added)".into(),
            ));
        }
        (_, None, None) if needs_participant => {
            return Err(err(
                event,
                "participant",
                r#"missing required field ("Initial_Caller" or "Third_Party")"#.into(),
            ));
        }
        (StepKind::Hold(_), Some(p), None) => StepKind::Hold(p),
        (StepKind::Resume(_), Some(p), None) => StepKind::Resume(p),
        (StepKind::ParticipantRemoved(_), Some(p), None) => StepKind::ParticipantRemoved(p),
        (kind, _, None) => kind,
    };
    Ok(Step::new(kind, delay))
}

/// The step a file names, with placeholder data the caller fills in: by step name, or by the
/// event type's Aura or LWC name.
fn step_by_name(name: &str) -> Option<StepKind> {
    let name = match EventType::from_name(name) {
        Some(t) => event_step_name(t),
        None => name,
    };
    let p = Party::InitialCaller;
    Some(match name {
        "call-started" => StepKind::CallStarted,
        "call-connected" => StepKind::CallConnected,
        "hold" => StepKind::Hold(p),
        "resume" => StepKind::Resume(p),
        "mute" => StepKind::Mute,
        "unmute" => StepKind::Unmute,
        "participant-added" => StepKind::ParticipantAdded { contact: None },
        "participant-removed" => StepKind::ParticipantRemoved(p),
        "conference" => StepKind::Conference,
        "swap" => StepKind::Swap,
        "pause-recording" => StepKind::PauseRecording,
        "resume-recording" => StepKind::ResumeRecording,
        "call-ended" => StepKind::CallEnded,
        "wrap-up-ended" => StepKind::WrapUpEnded,
        "talk" => StepKind::Talk,
        _ => return None,
    })
}

/// The step name of an event type; AUDIO_STATS has no step (it comes with talking), so it
/// maps to a name no step has.
fn event_step_name(t: EventType) -> &'static str {
    match t {
        EventType::CallStarted => "call-started",
        EventType::CallConnected => "call-connected",
        EventType::CallEnded => "call-ended",
        EventType::Hold => "hold",
        EventType::Resume => "resume",
        EventType::Mute => "mute",
        EventType::Unmute => "unmute",
        EventType::ParticipantAdded => "participant-added",
        EventType::ParticipantRemoved => "participant-removed",
        EventType::Conference => "conference",
        EventType::Swap => "swap",
        EventType::PauseRecording => "pause-recording",
        EventType::ResumeRecording => "resume-recording",
        EventType::WrapUpEnded => "wrap-up-ended",
        EventType::AudioStats => "AUDIO_STATS (comes by itself while the call talks; use talk)",
    }
}

fn parse_delay(v: &Value) -> Result<Delay, String> {
    const EXPECTED: &str = "a number of seconds (0 to 86400) or [min, max] with min <= max";
    let secs = |v: &Value| -> Result<Duration, String> {
        let s = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            other => return Err(expected(EXPECTED, other)),
        };
        if !(0.0..=MAX_STEP_DELAY.as_secs_f64()).contains(&s) {
            return Err(expected(EXPECTED, v));
        }
        Ok(Duration::from_millis((s * 1000.0).round() as u64))
    };
    match v {
        Value::Array(pair) => match pair.as_slice() {
            [min, max] => {
                let (min, max) = (secs(min)?, secs(max)?);
                if min > max {
                    return Err(expected(EXPECTED, v));
                }
                Ok(Delay { min, max })
            }
            _ => Err(expected(EXPECTED, v)),
        },
        other => secs(other).map(Delay::fixed),
    }
}

fn expected(what: &str, found: &Value) -> String {
    let found = match found {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a table".to_owned(),
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table) => {
            "an array of tables".to_owned()
        }
        other => other.to_string(),
    };
    format!("expected {what}, found {found}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        Scenario::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn every_builtin_is_valid_and_named_in_order() {
        let all = builtin_scenarios();
        let names: Vec<_> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, builtin_names());
        for s in &all {
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert!(!s.description.is_empty());
        }
        let mixed = Scenario::builtin("mixed").unwrap();
        assert_eq!(mixed.mix.len(), all.len() - 1);
    }

    #[test]
    fn full_file_parses() {
        let s = Scenario::from_toml_str(
            r#"
            name = "escalation"
            description = "to a supervisor"
            call_type = "outbound"
            [[steps]]
            event = "CALL_STARTED"
            [[steps]]
            event = "callconnected"
            delay = [1.5, 3]
            [[steps]]
            event = "hold"
            participant = "Initial_Caller"
            [[steps]]
            event = "participant-added"
            contact = "Supervisor Queue"
            delay = 2
            [[steps]]
            event = "conference"
            [[steps]]
            event = "participant-removed"
            participant = "Third_Party"
            [[steps]]
            event = "call-ended"
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "escalation");
        assert_eq!(s.call_type, Some(CallType::Outbound));
        assert_eq!(s.steps[0].kind, StepKind::CallStarted);
        assert_eq!(
            s.steps[1].delay,
            Delay {
                min: Duration::from_millis(1500),
                max: Duration::from_secs(3)
            }
        );
        assert_eq!(s.steps[2].kind, StepKind::Hold(Party::InitialCaller));
        assert_eq!(
            s.steps[3],
            Step::new(
                StepKind::ParticipantAdded {
                    contact: Some("Supervisor Queue".into())
                },
                Delay::secs(2, 2)
            )
        );
        assert_eq!(
            s.steps[5].kind,
            StepKind::ParticipantRemoved(Party::ThirdParty)
        );
    }

    #[test]
    fn field_errors_name_step_and_field() {
        let head = "name = \"x\"\n[[steps]]\nevent = \"call-started\"\n[[steps]]\n";
        let cases = [
            (
                "event = \"hold\"",
                r#"step 2 (hold): participant: missing required field ("Initial_Caller" or "Third_Party")"#,
            ),
            (
                "event = \"mute\"\nparticipant = \"Initial_Caller\"",
                "step 2 (mute): participant: does not apply to this step (only hold, resume and participant-removed)",
            ),
            (
                "event = \"call-connected\"\ndelay = -1",
                "step 2 (call-connected): delay: expected a number of seconds (0 to 86400) or [min, max] with min <= max, found -1",
            ),
            (
                "event = \"call-connected\"\ndelay = [5, 2]",
                "step 2 (call-connected): delay: expected a number of seconds (0 to 86400) or [min, max] with min <= max, found [5, 2]",
            ),
            (
                "event = \"call-connected\"\ndelay = nan",
                "step 2 (call-connected): delay: expected a number of seconds (0 to 86400) or [min, max] with min <= max, found nan",
            ),
            (
                "event = \"call-connected\"\ndelay = \"3s\"",
                "step 2 (call-connected): delay: expected a number of seconds (0 to 86400) or [min, max] with min <= max, found \"3s\"",
            ),
            (
                "event = \"call-connected\"\nwho = 1",
                "step 2 (call-connected): who: unknown field; expected event, delay, participant or contact",
            ),
            (
                "event = \"conference\"\ncontact = \"bob\"",
                "step 2 (conference): contact: does not apply to this step (only participant-added)",
            ),
            (
                "event = \"ringing\"",
                "step 2: event: unknown step \"ringing\"; expected one of call-started, call-connected, hold, resume, mute, unmute, participant-added, participant-removed, conference, swap, pause-recording, resume-recording, call-ended, wrap-up-ended, talk",
            ),
            ("delay = 3", "step 2: event: missing required field"),
            ("event = 7", "step 2: event: expected a step name, found 7"),
            (
                "event = \"AUDIO_STATS\"",
                "step 2: event: unknown step \"AUDIO_STATS\"",
            ),
        ];
        for (step, want) in cases {
            let got = parse_err(&format!("{head}{step}\n"));
            assert!(got.starts_with(want), "{step:?}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn top_level_errors_name_the_field() {
        assert_eq!(
            parse_err("description = \"x\"\n"),
            "name: missing required field (a non-empty string)"
        );
        assert_eq!(
            parse_err("name = \"\"\n"),
            "name: expected a non-empty string, found \"\""
        );
        assert_eq!(
            parse_err("name = \"x\"\ncall_type = \"sideways\"\n"),
            "call_type: expected \"inbound\" or \"outbound\", found \"sideways\""
        );
        assert_eq!(
            parse_err("name = \"x\"\n"),
            "steps: missing required field (an array of [[steps]] tables)"
        );
        assert_eq!(
            parse_err("name = \"x\"\nsteps = []\n"),
            "steps: expected a non-empty array of [[steps]] tables, found []"
        );
        assert_eq!(
            parse_err("name = \"x\"\nfoo = 1\n[[steps]]\nevent = \"talk\"\n"),
            "foo: unknown field; expected name, description, call_type or steps"
        );
        assert!(parse_err("name = ").starts_with("invalid TOML: "));
    }

    #[test]
    fn impossible_sequences_are_refused_with_the_step() {
        let err = parse_err(
            "name = \"x\"\n[[steps]]\nevent = \"call-started\"\n[[steps]]\nevent = \"hold\"\nparticipant = \"Initial_Caller\"\n",
        );
        assert_eq!(
            err,
            "step 2 (hold): the call is ringing; HOLD needs a connected call"
        );
        let err = parse_err(
            "name = \"x\"\n[[steps]]\nevent = \"call-connected\"\n[[steps]]\nevent = \"swap\"\n",
        );
        assert!(err.starts_with("step 2 (swap): "), "{err}");
        let err = parse_err(
            "name = \"x\"\n[[steps]]\nevent = \"call-connected\"\n[[steps]]\nevent = \"talk\"\n",
        );
        assert_eq!(
            err,
            "scenario \"x\": never ends the call: its steps must reach call-ended (optionally followed by wrap-up-ended)"
        );
    }

    #[test]
    fn resolve_reads_files_and_names_them_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "name = \"g\"\n[[steps]]\nevent = \"call-connected\"\n[[steps]]\nevent = \"call-ended\"\ndelay = 4\n",
        )
        .unwrap();
        let s = Scenario::resolve(good.to_str().unwrap()).unwrap();
        assert_eq!(s.name, "g");

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "name = 3\n").unwrap();
        let err = Scenario::resolve(bad.to_str().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: name: expected a non-empty string, found 3",
                bad.display()
            )
        );

        let missing = dir.path().join("missing.toml");
        let err = Scenario::resolve(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, ScenarioError::Read { .. }), "{err}");

        let err = Scenario::resolve("no-such-scenario").unwrap_err();
        assert!(matches!(err, ScenarioError::Unknown { .. }));
    }

    #[test]
    fn validate_refuses_bad_shapes() {
        let mut s = Scenario::builtin("inbound-basic").unwrap();
        s.mix = vec![Weighted {
            weight: 1,
            scenario: s.clone(),
        }];
        assert!(matches!(s.validate(), Err(ScenarioError::Shape { .. })));
        s.steps.clear();
        s.mix[0].weight = 0;
        assert!(matches!(s.validate(), Err(ScenarioError::Shape { .. })));
        s.mix.clear();
        assert!(matches!(s.validate(), Err(ScenarioError::Shape { .. })));
    }

    #[test]
    fn mix_picks_by_weight() {
        use rand::SeedableRng;
        let mixed = Scenario::builtin("mixed").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut counts = std::collections::BTreeMap::<String, u32>::new();
        for _ in 0..10_000 {
            *counts.entry(mixed.pick(&mut rng).name.clone()).or_default() += 1;
        }
        assert_eq!(counts.len(), 9, "{counts:?}");
        // inbound-basic weighs 30 of 100: about 3000 picks; swap weighs 5.
        assert!(
            (2700..3300).contains(&counts["inbound-basic"]),
            "{counts:?}"
        );
        assert!((350..650).contains(&counts["swap"]), "{counts:?}");
    }

    #[test]
    fn delay_samples_within_bounds() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let d = Delay::secs(2, 5);
        for _ in 0..1000 {
            let x = d.sample(&mut rng);
            assert!((Duration::from_secs(2)..=Duration::from_secs(5)).contains(&x));
        }
        let inverted = Delay {
            min: Duration::from_secs(4),
            max: Duration::from_secs(1),
        };
        assert_eq!(inverted.sample(&mut rng), Duration::from_secs(4));
    }
}
