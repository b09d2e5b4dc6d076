//! Running the configured sources: each in its own task, restarted with back-off if it stops
//! or panics before shutdown, so a source's failure never takes the gateway down. What each
//! source reports of its own health, plus the restarts, is what `/healthz` and `/metrics` show.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use voicetk_sources::{Backoff, EventSink, HealthState, Source};

use crate::metrics::Metrics;

/// First and largest delay between restarts of a source that stopped by itself.
const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));

/// One configured source and what the gateway knows of how it runs.
pub struct Supervised {
    /// The source.
    pub source: Arc<dyn Source>,
    /// Restarts after it stopped or panicked.
    restarts: AtomicU64,
    /// Why it last stopped by itself, if it did.
    last_crash: Mutex<Option<String>>,
    /// Set while it waits to be restarted: it is down, whatever its own health last said.
    restarting: AtomicBool,
}

/// A source's status as `/healthz` reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// The source's name (`simulator`, `baresip:127.0.0.1:4444`, ...).
    pub name: String,
    /// `starting`, `up`, `down` or `stopped`.
    pub state: &'static str,
    /// Since when (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Times it lost its peer.
    pub disconnects: u64,
    /// Connection attempts that failed.
    pub failed_attempts: u64,
    /// Times the gateway restarted it.
    pub restarts: u64,
    /// The last error it reported, or why it last stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Supervised {
    /// Wraps a source.
    pub fn new(source: Arc<dyn Source>) -> Supervised {
        Supervised {
            source,
            restarts: AtomicU64::new(0),
            last_crash: Mutex::new(None),
            restarting: AtomicBool::new(false),
        }
    }

    /// The source's status now; records its health in `metrics` too.
    pub fn status(&self, metrics: &Metrics) -> SourceStatus {
        let mut health = self.source.health();
        let restarting = self.restarting.load(Ordering::Relaxed);
        if restarting {
            health.state = HealthState::Down;
        }
        metrics.source_health(self.source.name(), &health);
        let since = (health.since > SystemTime::UNIX_EPOCH)
            .then(|| jiff::Timestamp::try_from(health.since).ok())
            .flatten()
            .map(|t| t.to_string());
        let crash = self
            .last_crash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        SourceStatus {
            name: self.source.name().to_owned(),
            state: health.state.as_str(),
            since,
            disconnects: health.disconnects,
            failed_attempts: health.failed_attempts,
            restarts: self.restarts.load(Ordering::Relaxed),
            last_error: if restarting {
                crash.or(health.last_error)
            } else {
                health.last_error.or(crash)
            },
        }
    }
}

/// Runs `entry`'s source until `shutdown`, restarting it with back-off whenever it returns or
/// panics before then.
pub async fn supervise(
    entry: Arc<Supervised>,
    sink: Arc<dyn EventSink>,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) {
    let name = entry.source.name().to_owned();
    let mut backoff = Backoff::new(RESTART_BACKOFF.0, RESTART_BACKOFF.1);
    loop {
        tracing::info!(source = %name, "starting source");
        let run = entry
            .source
            .clone()
            .run(sink.clone(), Box::pin(shutdown.clone().cancelled_owned()));
        let outcome = tokio::spawn(run).await;
        if shutdown.is_cancelled() {
            return;
        }
        let why = match outcome {
            Ok(()) => "it stopped by itself".to_owned(),
            Err(e) if e.is_panic() => format!("it panicked: {}", panic_message(e)),
            Err(e) => format!("its task failed: {e}"),
        };
        let delay = backoff.next_delay();
        tracing::error!(source = %name, %why, restart_in = ?delay, "source stopped; restarting");
        *entry
            .last_crash
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(why);
        entry.restarting.store(true, Ordering::Relaxed);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        entry.restarting.store(false, Ordering::Relaxed);
        entry.restarts.fetch_add(1, Ordering::Relaxed);
        metrics.source_restarted(&name);
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}
