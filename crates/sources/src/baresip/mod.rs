//! A baresip softphone as a source: its call events become Voice Toolkit events, and actions
//! become baresip commands.
//!
//! [`Baresip`] connects to baresip's ctrl_tcp socket (`ctrl_tcp_listen`, netstring-framed
//! JSON, see [`NetstringCodec`]), turns the events it pushes into telephony events
//! (`mapping`: CALL_INCOMING → CALL_STARTED inbound, CALL_ESTABLISHED → CALL_CONNECTED,
//! CALL_CLOSED → CALL_ENDED, CALL_RTCP → AUDIO_STATS, ...), and submits them to the gateway.
//! The agent of every event is the softphone's account (`accountaor`), the `callId` baresip's
//! call `id`, the `participant` the peer's SIP URI.
//!
//! Actions are carried out with baresip's menu commands, each sent with a `token` and matched
//! to its answer: `accept`, `hangup`, `hold`, `resume`, `mute` (a toggle: the source reads
//! baresip's "call muted" / "call un-muted" and toggles again if it went the wrong way),
//! `sndcode` for DTMF, `dial` to place calls. Every call command is preceded by
//! `callfind <id>`, which makes that call baresip's current call, so actions hit the right
//! call when several are under way. baresip 1.0.0 reports no hold or mute events, so the
//! source submits HOLD, RESUME, MUTE and UNMUTE itself once baresip confirmed the command.
//! Conferences, transfers to a third party and recording controls have no baresip
//! counterpart: those actions are [`ActionError::Unsupported`].
//!
//! The source reconnects with [`Backoff`](crate::health::Backoff) when baresip goes away,
//! keeping its [`Health`] current. On every (re)connection it lists baresip's calls: calls it
//! did not know (started while it was away, or before voicetk restarted) are announced with
//! the stable `eventId`s they would have had, so the gateway delivers nothing twice, and calls
//! baresip no longer has are ended. `docs/sources/baresip.md` has the full mapping and the
//! limits.
//!
//! # Examples
//! ```
//! use voicetk_sources::Source;
//! use voicetk_sources::baresip::{Baresip, BaresipConfig};
//!
//! let source = Baresip::new(BaresipConfig::new("127.0.0.1:4444"))?;
//! assert_eq!(source.name(), "baresip:127.0.0.1:4444");
//! assert!(!source.owns("e8a897270ce84cac"));
//!
//! let err = Baresip::new(BaresipConfig::new("localhost")).unwrap_err();
//! assert_eq!(err.to_string(), "baresip address \"localhost\": expected HOST:PORT");
//! # Ok::<(), voicetk_sources::baresip::BaresipConfigError>(())
//! ```

mod actions;
mod connection;
mod mapping;
mod netstring;
mod protocol;
mod target;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use voicetk_engine::audio::AudioStatsConfig;
use voicetk_events::{TelephonyEvent, TelephonyKind};

use self::connection::Control;
use self::mapping::CallTable;
use self::protocol::{CallFind, Response};
use crate::action::{Action, ActionError};
use crate::health::{Health, HealthSnapshot};
use crate::source::{CallContext, EventSink, Source};

pub use self::netstring::{DEFAULT_MAX_FRAME, NetstringCodec, NetstringError};
pub use self::protocol::ProtocolError;
pub use self::target::{TargetError, dial_target};

/// How to reach baresip and pace the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaresipConfig {
    /// `HOST:PORT` of baresip's ctrl_tcp socket (its `ctrl_tcp_listen`).
    pub addr: String,
    /// Which events exist: in Native telephony no CALL_STARTED (calls appear when they
    /// connect) and no AUDIO_STATS are sent. Default is partner.
    pub telephony: TelephonyKind,
    /// The AUDIO_STATS interval. Default is 30 s; clamped to
    /// [`AudioStatsConfig::MIN_INTERVAL`]..=[`AudioStatsConfig::MAX_INTERVAL`].
    pub audio_interval: Duration,
    /// How long to wait for baresip to answer a command. Default is 5 s.
    pub command_timeout: Duration,
    /// How long a connection attempt may take. Default is 5 s.
    pub connect_timeout: Duration,
    /// First reconnect delay. Default is 100 ms.
    pub reconnect_min: Duration,
    /// Longest reconnect delay. Default is 5 s.
    pub reconnect_max: Duration,
    /// The pause a `,` in `send-digits` stands for. Default is 1 s.
    pub digit_pause: Duration,
}

impl BaresipConfig {
    /// The defaults, for baresip at `addr` (`HOST:PORT`).
    pub fn new(addr: impl Into<String>) -> BaresipConfig {
        BaresipConfig {
            addr: addr.into(),
            telephony: TelephonyKind::default(),
            audio_interval: AudioStatsConfig::DEFAULT_INTERVAL,
            command_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            digit_pause: Duration::from_secs(1),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`BaresipConfigError`] naming the setting that is wrong.
    pub fn validate(&self) -> Result<(), BaresipConfigError> {
        let bad_addr = || BaresipConfigError::Address {
            addr: self.addr.clone(),
        };
        let (host, port) = self.addr.rsplit_once(':').ok_or_else(bad_addr)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad_addr());
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(bad_addr()),
        }
        for (name, value) in [
            ("command_timeout", self.command_timeout),
            ("connect_timeout", self.connect_timeout),
            ("reconnect_min", self.reconnect_min),
        ] {
            if value.is_zero() {
                return Err(BaresipConfigError::Zero { setting: name });
            }
        }
        if self.reconnect_max < self.reconnect_min {
            return Err(BaresipConfigError::ReconnectRange);
        }
        Ok(())
    }
}

/// A [`BaresipConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaresipConfigError {
    /// `addr` is not `HOST:PORT`.
    #[error("baresip address {addr:?}: expected HOST:PORT")]
    Address {
        /// The address given.
        addr: String,
    },
    /// A duration that must be positive is zero.
    #[error("baresip {setting}: must be greater than zero")]
    Zero {
        /// The setting.
        setting: &'static str,
    },
    /// `reconnect_max` is shorter than `reconnect_min`.
    #[error("baresip reconnect_max: must not be shorter than reconnect_min")]
    ReconnectRange,
}

/// A baresip softphone, driven over its ctrl_tcp socket. See the [module docs](self).
pub struct Baresip {
    /// `baresip:HOST:PORT`, for logs and errors.
    name: String,
    /// Where baresip is and how to pace the source.
    config: BaresipConfig,
    /// Connected or not, for `/healthz`.
    health: Health,
    /// The calls under way; changed by the connection task from baresip's events, read by
    /// actions and `owns`.
    calls: Mutex<CallTable>,
    /// The way to the connection task while connected; `None` otherwise.
    control: Mutex<Option<mpsc::Sender<Control>>>,
    /// The softphone's accounts (AORs), the current one first: learned from `reginfo` and
    /// from events; completes bare numbers and decides which agents this source dials for.
    accounts: Mutex<Vec<String>>,
    /// The gateway, while `run` runs: actions submit the events baresip does not report.
    sink: Mutex<Option<Arc<dyn EventSink>>>,
    /// Held for a whole command sequence (`callfind` then `hold`, ...), so two actions never
    /// interleave and change baresip's current call under each other.
    session: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Baresip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baresip")
            .field("name", &self.name)
            .field("health", &self.health.snapshot().state)
            .finish_non_exhaustive()
    }
}

impl Baresip {
    /// A source for the baresip at `config.addr`; it connects once [`run`](Source::run).
    ///
    /// # Errors
    /// [`BaresipConfigError`] when the configuration is invalid.
    pub fn new(config: BaresipConfig) -> Result<Baresip, BaresipConfigError> {
        config.validate()?;
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Baresip {
            name: format!("baresip:{}", config.addr),
            calls: Mutex::new(CallTable::new(config.telephony, run)),
            config,
            health: Health::new(),
            control: Mutex::new(None),
            accounts: Mutex::new(Vec::new()),
            sink: Mutex::new(None),
            session: tokio::sync::Mutex::new(()),
        })
    }

    /// The softphone's accounts known so far, the current one first.
    pub fn accounts(&self) -> Vec<String> {
        lock(&self.accounts).clone()
    }

    fn lock_calls(&self) -> MutexGuard<'_, CallTable> {
        lock(&self.calls)
    }

    fn lock_control(&self) -> MutexGuard<'_, Option<mpsc::Sender<Control>>> {
        lock(&self.control)
    }

    fn note_account(&self, account: &str) {
        let mut accounts = lock(&self.accounts);
        if !accounts.iter().any(|a| a == account) {
            accounts.push(account.to_owned());
        }
    }

    fn failed(&self, action: &'static str, message: impl Into<String>) -> ActionError {
        ActionError::Failed {
            source_name: self.name.clone(),
            action,
            message: message.into(),
        }
    }

    fn unsupported(&self, action: &'static str) -> ActionError {
        ActionError::Unsupported {
            source_name: self.name.clone(),
            action,
        }
    }

    /// Sends one command and waits for baresip's answer (ok or not).
    async fn exchange(
        &self,
        action: &'static str,
        command: &str,
        params: &str,
    ) -> Result<Response, ActionError> {
        let control = self.lock_control().clone().ok_or_else(|| {
            self.failed(
                action,
                format!("not connected to baresip at {}", self.config.addr),
            )
        })?;
        let (reply, answer) = oneshot::channel();
        let lost = || {
            self.failed(
                action,
                format!("the connection to baresip was lost during `{command}`"),
            )
        };
        control
            .send(Control::Command {
                command: command.to_owned(),
                params: params.to_owned(),
                reply,
            })
            .await
            .map_err(|_| lost())?;
        match tokio::time::timeout(self.config.command_timeout, answer).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(lost()),
            Err(_) => Err(self.failed(
                action,
                format!(
                    "baresip did not answer `{command}` within {:?}",
                    self.config.command_timeout
                ),
            )),
        }
    }

    /// Sends one command; its text output when baresip ran it.
    async fn command(
        &self,
        action: &'static str,
        command: &str,
        params: &str,
    ) -> Result<String, ActionError> {
        let response = self.exchange(action, command, params).await?;
        if response.ok {
            Ok(response.data)
        } else {
            Err(self.failed(
                action,
                format!("baresip refused `{command}`: {}", response.data.trim()),
            ))
        }
    }

    /// Makes `call_id` baresip's current call (`callfind`), so the next command acts on it.
    async fn select_call(&self, action: &'static str, call_id: &str) -> Result<(), ActionError> {
        let response = self.exchange(action, "callfind", call_id).await?;
        match protocol::parse_callfind(&response) {
            CallFind::Selected => Ok(()),
            CallFind::NotFound => Err(self.failed(
                action,
                format!("baresip has no call {call_id:?} (any more)"),
            )),
            CallFind::Other(data) => Err(self.failed(
                action,
                format!("baresip could not select call {call_id:?}: {data}"),
            )),
        }
    }

    /// Submits an event an action produced (HOLD, MUTE, ...), stamped by the table.
    async fn confirm(
        &self,
        action: &'static str,
        event: TelephonyEvent,
    ) -> Result<(), ActionError> {
        let sink = lock(&self.sink).clone();
        let Some(sink) = sink else {
            return Err(self.failed(action, "the source is not running"));
        };
        let envelope = self.lock_calls().stamp(event);
        let event_type = envelope.event_type();
        sink.submit(envelope)
            .await
            .map(|_| ())
            .map_err(|e| self.failed(action, format!("the gateway refused {event_type}: {e}")))
    }
}

/// Locks a std mutex, ignoring poisoning: the data is plain state that stays consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Source for Baresip {
    fn name(&self) -> &str {
        &self.name
    }

    fn owns(&self, call_id: &str) -> bool {
        self.lock_calls().get(call_id).is_some()
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

    fn health(&self) -> HealthSnapshot {
        self.health.snapshot()
    }

    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            *lock(&self.sink) = Some(Arc::clone(&sink));
            Arc::clone(&self).serve(sink, shutdown).await;
            *lock(&self.sink) = None;
        })
    }
}
