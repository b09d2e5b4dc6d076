//! The simulator as a live [`Source`]: the timeline paced against the clock, and actions
//! carried out on its calls.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use voicetk_events::{EventType, TelephonyEvent, TelephonyKind};

use super::call::{Intent, Phase};
use super::config::{ConfigError, SimulatorConfig};
use super::scenario::Party;
use super::timeline::Timeline;
use crate::action::{Action, ActionError, ParticipantType};
use crate::source::{CallContext, EventSink, Source};

/// The source name, in logs and action errors.
const NAME: &str = "simulator";

/// The scenario simulator as a live source of calls.
///
/// [`run`](Source::run) paces the configured timeline in real time (scaled by
/// [`time_scale`](SimulatorConfig::time_scale)) with tokio's clock, submitting each event to
/// the sink: with the same configuration it submits exactly the events
/// [`generate`](super::generate) yields, in the same order. An event the sink refuses is
/// logged and its call abandoned; the simulation goes on. Events are submitted one at a time,
/// each once the previous one was accepted: a sink slower than the timeline makes the
/// simulator fall behind and catch up later, never queue events up.
///
/// [`perform`](Source::perform) carries out an action on one of its calls and resolves once
/// the sink accepted the confirming event (HOLD for `hold`, CONFERENCE for `merge`, ...). The
/// call's script then goes on from the new state: a scripted step that no longer makes sense
/// is skipped, and after a user's `end-call` the rest of the script is dropped (only the
/// after-call work's WRAP_UP_ENDED follows). [`dial`](Source::dial) places an outbound call
/// that rings briefly, connects, and stays up until ended (or until the far end hangs up after
/// 10 to 15 simulated minutes).
///
/// # Examples
/// ```
/// use std::sync::{Arc, Mutex, PoisonError};
/// use futures::future::{BoxFuture, FutureExt};
/// use voicetk_events::{Envelope, EventType};
/// use voicetk_sources::{EventSink, Source, SubmitError};
/// use voicetk_sources::simulator::{Simulator, SimulatorConfig};
///
/// /// Accepts everything, numbering events.
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<Envelope>>);
/// impl EventSink for Collect {
///     fn submit(&self, envelope: Envelope) -> BoxFuture<'_, Result<u64, SubmitError>> {
///         let mut events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
///         events.push(envelope);
///         let seq = events.len() as u64;
///         async move { Ok(seq) }.boxed()
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?.block_on(async {
/// let config = SimulatorConfig { calls: Some(1), scenario: "outbound-basic".into(), ..SimulatorConfig::default() };
/// let simulator = Arc::new(Simulator::new(config)?);
/// let sink = Arc::new(Collect::default());
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let run = tokio::spawn(simulator.clone().run(sink.clone(), stopped.map(|_| ()).boxed()));
///
/// // The paused clock jumps ahead whenever everything waits: the call plays out at once.
/// tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
/// stop.send(()).ok();
/// run.await?;
/// let events = sink.0.lock().unwrap_or_else(PoisonError::into_inner);
/// assert_eq!(events.first().map(|e| e.event_type()), Some(EventType::CallStarted));
/// assert_eq!(events.last().map(|e| e.event_type()), Some(EventType::WrapUpEnded));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Simulator {
    /// The timeline and, while running, the sink and the clock.
    state: Mutex<Live>,
    /// Held from planning an event to applying it once the sink accepted it, by the run loop
    /// and by actions alike: so the model always matches what the gateway accepted, and a
    /// call's events reach the sink in order.
    turn: tokio::sync::Mutex<()>,
    /// Wakes the run loop when an action or a dial changed what is due next.
    wake: Notify,
    /// Whether every configured call has been placed and has finished, for
    /// [`Simulator::finished`].
    finished: watch::Sender<bool>,
    /// Virtual seconds per real second.
    time_scale: f64,
    /// Decides which actions exist (no `swap` in Native telephony).
    telephony: TelephonyKind,
}

struct Live {
    /// Every call of the simulation, scripted and dialed.
    timeline: Timeline,
    /// Set while `run` runs; actions need it to confirm.
    sink: Option<Arc<dyn EventSink>>,
    /// Set while `run` runs.
    clock: Option<Clock>,
}

/// Maps virtual time (the timeline's) to tokio's clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// The instant virtual time 0 maps to: when `run` started.
    start: Instant,
    /// Virtual seconds per real second.
    scale: f64,
}

impl Clock {
    /// When virtual time `at` comes; `None` if beyond what the clock can represent.
    fn deadline(&self, at: Duration) -> Option<Instant> {
        Duration::try_from_secs_f64(at.as_secs_f64() / self.scale)
            .ok()
            .and_then(|real| self.start.checked_add(real))
    }

    /// Virtual time now.
    fn now(&self) -> Duration {
        Duration::try_from_secs_f64(self.start.elapsed().as_secs_f64() * self.scale)
            .unwrap_or(Duration::ZERO)
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live = self.lock();
        f.debug_struct("Simulator")
            .field("telephony", &self.telephony)
            .field("time_scale", &self.time_scale)
            .field("running", &live.sink.is_some())
            .field("active_calls", &live.timeline.active_calls())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator for `config`, not yet running.
    ///
    /// # Errors
    /// As [`Timeline::new`]: a [`ConfigError`] for settings out of range or a scenario that
    /// cannot be loaded.
    ///
    /// # Examples
    /// ```
    /// use voicetk_sources::Source;
    /// use voicetk_sources::simulator::{Simulator, SimulatorConfig};
    ///
    /// let simulator = Simulator::new(SimulatorConfig::default())?;
    /// assert_eq!(simulator.name(), "simulator");
    /// assert!(!simulator.is_running());
    ///
    /// let slow = SimulatorConfig { time_scale: 0.0, ..SimulatorConfig::default() };
    /// assert!(Simulator::new(slow).is_err());
    /// # Ok::<(), voicetk_sources::simulator::ConfigError>(())
    /// ```
    pub fn new(config: SimulatorConfig) -> Result<Simulator, ConfigError> {
        let time_scale = config.time_scale;
        let telephony = config.telephony;
        let timeline = Timeline::new(config)?;
        let (finished, _) = watch::channel(timeline.is_exhausted());
        Ok(Simulator {
            state: Mutex::new(Live {
                timeline,
                sink: None,
                clock: None,
            }),
            turn: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            finished,
            time_scale,
            telephony,
        })
    }

    /// How many of its calls are under way (placed and not finished).
    pub fn active_calls(&self) -> usize {
        self.lock().timeline.active_calls()
    }

    /// Whether [`run`](Source::run) is under way: actions and dials need it, since their
    /// events go through the sink it was given.
    pub fn is_running(&self) -> bool {
        self.lock().sink.is_some()
    }

    /// Resolves once every configured call has been placed and has finished (and every dialed
    /// call too); never when [`calls`](SimulatorConfig::calls) is `None`. The source keeps
    /// running after that, for dials, until its shutdown.
    pub async fn finished(&self) {
        let mut finished = self.finished.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = finished.wait_for(|done| *done).await;
    }

    /// Publishes whether the timeline is done, after anything that may have changed it.
    fn note_progress(&self, live: &Live) {
        let done = live.timeline.is_exhausted();
        self.finished
            .send_if_modified(|was| std::mem::replace(was, done) != done);
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The run loop's body: sleeps until the next event is due, fires it, and again, until
    /// `shutdown`.
    async fn pace(&self, sink: Arc<dyn EventSink>, mut shutdown: BoxFuture<'static, ()>) {
        let clock = {
            let mut live = self.lock();
            if live.sink.is_some() {
                tracing::warn!("the simulator is already running; ignoring a second run");
                return;
            }
            let clock = Clock {
                start: Instant::now(),
                scale: self.time_scale,
            };
            live.sink = Some(Arc::clone(&sink));
            live.clock = Some(clock);
            clock
        };
        loop {
            let deadline = self
                .lock()
                .timeline
                .next_due()
                .and_then(|at| clock.deadline(at));
            let due = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    // Nothing scheduled: only a dial can bring more.
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = due => self.fire_due(&sink, clock).await,
            }
        }
        let mut live = self.lock();
        live.sink = None;
        live.clock = None;
    }

    /// Fires what is due now and submits its events.
    async fn fire_due(&self, sink: &Arc<dyn EventSink>, clock: Clock) {
        let _turn = self.turn.lock().await;
        let events = {
            let mut live = self.lock();
            let due_now = live
                .timeline
                .next_due()
                .and_then(|at| clock.deadline(at))
                .is_some_and(|deadline| deadline <= Instant::now());
            if !due_now {
                // An action changed the timeline meanwhile; the loop looks again.
                return;
            }
            live.timeline
                .advance()
                .map(|(_, events)| events)
                .unwrap_or_default()
        };
        // All events of one firing belong to one call.
        for envelope in events {
            let call_id = envelope.call_id().to_owned();
            let event_type = envelope.event_type();
            if let Err(error) = sink.submit(envelope).await {
                tracing::warn!(
                    call_id,
                    event_type = event_type.as_str(),
                    code = error.code,
                    message = error.message,
                    "the gateway refused a simulated event; abandoning the call"
                );
                self.lock().timeline.abandon(&call_id);
                break;
            }
        }
        self.note_progress(&self.lock());
    }

    /// [`Source::perform`].
    async fn carry_out(&self, call: &CallContext, action: &Action) -> Result<(), ActionError> {
        let failed = |message: String| ActionError::Failed {
            source_name: NAME.to_owned(),
            action: action.name(),
            message,
        };
        let intent = self.intent_of(action)?;
        let _turn = self.turn.lock().await;
        let (sink, clock, key, event, envelope) = {
            let mut live = self.lock();
            let (Some(sink), Some(clock)) = (live.sink.clone(), live.clock) else {
                return Err(failed("the simulator is not running".to_owned()));
            };
            let key = live.timeline.key_of(&call.call_id).ok_or_else(|| {
                ActionError::Invalid(format!(
                    "the simulator has no call {:?} under way",
                    call.call_id
                ))
            })?;
            let Some(run) = live.timeline.run_mut(key) else {
                return Err(failed(format!("call {} is gone", call.call_id)));
            };
            let model = run.model();
            let phase = model.phase();
            let Some(intent) = intent else {
                // send-digits: tones on a connected call, which no telephony event reports.
                return if phase == Phase::Connected {
                    Ok(())
                } else {
                    Err(failed(format!(
                        "digits need a connected call (call {})",
                        call.call_id
                    )))
                };
            };
            if matches!(action, Action::DeclineCall) && phase != Phase::Ringing {
                return Err(failed(format!(
                    "only a ringing call can be declined (call {})",
                    call.call_id
                )));
            }
            let event = model
                .plan(&intent)
                .map_err(|reason| failed(format!("{reason} (call {})", call.call_id)))?;
            let envelope = run.envelope(event.clone());
            (sink, clock, key, event, envelope)
        };
        let event_type = event.event_type();
        sink.submit(envelope)
            .await
            .map_err(|e| failed(format!("the gateway refused {event_type}: {e}")))?;

        let mut live = self.lock();
        let now = clock.now();
        if let Some(run) = live.timeline.run_mut(key) {
            run.apply(&event, now);
            match (action, &event) {
                (_, TelephonyEvent::CallEnded(_)) => run.wrap_up(now),
                (
                    Action::AddParticipant {
                        is_blind_transfer: true,
                        ..
                    },
                    _,
                ) => run.leave_after_transfer(now),
                _ => {}
            }
        }
        live.timeline.reschedule(key);
        self.note_progress(&live);
        drop(live);
        self.wake.notify_one();
        Ok(())
    }

    /// What `action` asks of a call, checked as far as it can be without the call: `None` for
    /// `send-digits`, which no event confirms.
    fn intent_of(&self, action: &Action) -> Result<Option<Intent>, ActionError> {
        let party = |p: ParticipantType| match p {
            ParticipantType::InitialCaller => Ok(Party::InitialCaller),
            ParticipantType::ThirdParty => Ok(Party::ThirdParty),
            ParticipantType::Agent => Err(ActionError::Invalid(format!(
                "{action} needs participantType Initial_Caller or Third_Party, not Agent"
            ))),
        };
        if let Some(t) = action.confirming_event() {
            if !t.is_supported_by(self.telephony) {
                return Err(ActionError::Unsupported {
                    source_name: NAME.to_owned(),
                    action: action.name(),
                });
            }
        }
        Ok(Some(match action {
            Action::AcceptCall => Intent::Connect,
            Action::DeclineCall => Intent::End,
            Action::EndCall {
                participant_type: Some(ParticipantType::ThirdParty),
            } => Intent::Remove(Party::ThirdParty),
            Action::EndCall { .. } => Intent::End,
            Action::Mute => Intent::Mute,
            Action::Unmute => Intent::Unmute,
            Action::Hold { participant_type } => Intent::Hold(party(*participant_type)?),
            Action::Resume { participant_type } => Intent::Resume(party(*participant_type)?),
            Action::PauseRecording => Intent::PauseRecording,
            Action::ResumeRecording => Intent::ResumeRecording,
            Action::Merge => Intent::Conference,
            Action::Swap => Intent::Swap,
            Action::AddParticipant { contact_value, .. } => {
                let contact = contact_value.trim();
                if contact.is_empty() {
                    return Err(ActionError::Invalid(
                        "add-participant needs a contactValue".to_owned(),
                    ));
                }
                Intent::Add(contact.to_owned())
            }
            Action::SendDigits { digits } => {
                let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | ',');
                if digits.is_empty() || !digits.chars().all(valid) {
                    return Err(ActionError::Invalid(format!(
                        "digits must be 0-9, *, # or , (pause); found {digits:?}"
                    )));
                }
                return Ok(None);
            }
        }))
    }

    /// [`Source::dial`].
    async fn place_call(&self, agent: Option<&str>, number: &str) -> Result<String, ActionError> {
        let failed = |message: String| ActionError::Failed {
            source_name: NAME.to_owned(),
            action: "dial",
            message,
        };
        let number = number.trim();
        if number.is_empty() {
            return Err(ActionError::Invalid("dial needs a phone number".to_owned()));
        }
        if agent.is_some_and(|a| a.trim().is_empty()) {
            return Err(ActionError::Invalid(
                "the agent's name must not be empty".to_owned(),
            ));
        }
        let _turn = self.turn.lock().await;
        let (sink, call_id, events) = {
            let mut live = self.lock();
            let (Some(sink), Some(clock)) = (live.sink.clone(), live.clock) else {
                return Err(failed("the simulator is not running".to_owned()));
            };
            let key = live
                .timeline
                .dial(agent.map(str::trim), number.to_owned(), clock.now());
            // The call starts now: take its first step here, so CALL_STARTED is accepted
            // before dial answers (Native telephony has none: the call shows when it connects).
            let Some(run) = live.timeline.run_mut(key) else {
                return Err(failed("the new call vanished".to_owned()));
            };
            let call_id = run.call_id().to_owned();
            let events = run.fire();
            live.timeline.reschedule(key);
            self.note_progress(&live);
            (sink, call_id, events)
        };
        for envelope in events {
            if let Err(e) = sink.submit(envelope).await {
                let mut live = self.lock();
                live.timeline.abandon(&call_id);
                self.note_progress(&live);
                return Err(failed(format!(
                    "the gateway refused {}: {e}",
                    EventType::CallStarted
                )));
            }
        }
        self.wake.notify_one();
        Ok(call_id)
    }
}

impl Source for Simulator {
    fn name(&self) -> &str {
        NAME
    }

    fn owns(&self, call_id: &str) -> bool {
        self.lock().timeline.key_of(call_id).is_some()
    }

    fn perform<'a>(
        &'a self,
        call: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(self.carry_out(call, action))
    }

    fn dial<'a>(
        &'a self,
        agent: Option<&'a str>,
        phone_number: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(self.place_call(agent, phone_number))
    }

    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.pace(sink, shutdown).await })
    }
}
