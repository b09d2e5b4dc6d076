//! How a source is doing ([`Health`], shown by `/healthz` and `/metrics`), and the
//! [`Backoff`] that paces its reconnects.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A source's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// Started, not connected to its peer yet.
    Starting,
    /// Connected (or, for a source with no peer, running).
    Up,
    /// Lost its peer, or never reached it; retrying with back-off.
    Down,
    /// Stopped for good (shutdown).
    Stopped,
}

impl HealthState {
    /// The state's name as `/healthz` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Up => "up",
            HealthState::Down => "down",
            HealthState::Stopped => "stopped",
        }
    }
}

/// A point-in-time copy of a source's [`Health`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// The connection state.
    pub state: HealthState,
    /// When the state last changed.
    pub since: SystemTime,
    /// How many times the source went from up to down (peer lost), since start.
    pub disconnects: u64,
    /// How many connection attempts failed, since start.
    pub failed_attempts: u64,
    /// The last error, if any (kept after recovery, for diagnosis).
    pub last_error: Option<String>,
}

impl HealthSnapshot {
    /// A source that is simply running (no peer to lose).
    pub fn running() -> HealthSnapshot {
        HealthSnapshot {
            state: HealthState::Up,
            since: SystemTime::UNIX_EPOCH,
            disconnects: 0,
            failed_attempts: 0,
            last_error: None,
        }
    }
}

/// A source's health, shared between the source (which updates it) and the gateway (which
/// reports it). Cheap to clone.
///
/// ```
/// use voicetk_sources::health::{Health, HealthState};
///
/// let health = Health::new();
/// assert_eq!(health.snapshot().state, HealthState::Starting);
/// health.up();
/// health.down("connection reset by peer");
/// let now = health.snapshot();
/// assert_eq!((now.state, now.disconnects), (HealthState::Down, 1));
/// assert_eq!(now.last_error.as_deref(), Some("connection reset by peer"));
/// ```
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<Mutex<HealthSnapshot>>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// A new health record in [`HealthState::Starting`].
    pub fn new() -> Health {
        Health {
            inner: Arc::new(Mutex::new(HealthSnapshot {
                state: HealthState::Starting,
                since: SystemTime::now(),
                disconnects: 0,
                failed_attempts: 0,
                last_error: None,
            })),
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> HealthSnapshot {
        self.lock().clone()
    }

    /// Connected.
    pub fn up(&self) {
        self.set(HealthState::Up, None);
    }

    /// Lost the peer (counts a disconnect when it was up) or failed to reach it (counts a
    /// failed attempt otherwise).
    pub fn down(&self, error: impl Into<String>) {
        let mut h = self.lock();
        if h.state == HealthState::Up {
            h.disconnects += 1;
        } else {
            h.failed_attempts += 1;
        }
        h.last_error = Some(error.into());
        if h.state != HealthState::Down {
            h.state = HealthState::Down;
            h.since = SystemTime::now();
        }
    }

    /// Stopped for good.
    pub fn stopped(&self) {
        self.set(HealthState::Stopped, None);
    }

    fn set(&self, state: HealthState, error: Option<String>) {
        let mut h = self.lock();
        if h.state != state {
            h.state = state;
            h.since = SystemTime::now();
        }
        if error.is_some() {
            h.last_error = error;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthSnapshot> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Exponential back-off with full jitter for reconnect loops: the `n`th delay is drawn from
/// `[base * 2^n / 2, base * 2^n]`, capped at `max`; [`reset`](Backoff::reset) after a
/// successful connection.
///
/// ```
/// use std::time::Duration;
/// use voicetk_sources::health::Backoff;
///
/// let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// let first = b.next_delay();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// for _ in 0..20 { assert!(b.next_delay() <= Duration::from_secs(5)); }
/// b.reset();
/// assert!(b.next_delay() <= Duration::from_millis(100));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    state: u64,
}

impl Backoff {
    /// Delays start near `base` and double up to `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Backoff {
            base,
            max: max.max(base),
            attempt: 0,
            state: seed | 1,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64: jitter only, not cryptography.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            self.state % (spread + 1)
        };
        half + Duration::from_nanos(jitter)
    }

    /// After a successful connection: the next delay starts near `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}
