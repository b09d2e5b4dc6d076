//! Progress lines on stderr during long runs, so a run that stalls is seen to stall.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Counters a run updates and the progress task reads (relaxed: they are only displayed).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events acknowledged by the gateway.
    pub(crate) acked: AtomicU64,
    /// Events received by subscribers, summed over all of them (fan-out only).
    pub(crate) delivered: AtomicU64,
}

/// Prints a progress line every `every` until dropped.
pub(crate) struct Progress {
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts printing, or does nothing when `every` is `None`.
    pub(crate) fn start(
        every: Option<Duration>,
        counters: Arc<Counters>,
        fanout: bool,
    ) -> Progress {
        let Some(every) = every.filter(|d| !d.is_zero()) else {
            return Progress { task: None };
        };
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            let (mut acked_before, mut delivered_before) = (0, 0);
            loop {
                ticks.tick().await;
                let acked = counters.acked.load(Ordering::Relaxed);
                let delivered = counters.delivered.load(Ordering::Relaxed);
                let secs = every.as_secs_f64();
                let mut line = format!(
                    "[{:>6.1}s] acked {} events ({}/s)",
                    started.elapsed().as_secs_f64(),
                    super::grouped(acked as f64),
                    super::grouped((acked - acked_before) as f64 / secs),
                );
                if fanout {
                    line.push_str(&format!(
                        ", delivered {} ({}/s)",
                        super::grouped(delivered as f64),
                        super::grouped((delivered - delivered_before) as f64 / secs),
                    ));
                }
                eprintln!("{line}");
                (acked_before, delivered_before) = (acked, delivered);
            }
        });
        Progress { task: Some(task) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
