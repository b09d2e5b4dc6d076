//! Sending events to a gateway from the command line: replaying a [`Recording`] in its
//! recorded rhythm, and a [`CountingSink`] that tells a progress display how far a run is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use voicetk_events::{Envelope, EventType};
use voicetk_sources::simulator::Recording;
use voicetk_sources::{EventSink, SubmitError};

/// An [`EventSink`] that forwards to another and counts what was accepted.
pub struct CountingSink {
    inner: Arc<dyn EventSink>,
    events: AtomicU64,
    calls_ended: AtomicU64,
    refused: AtomicU64,
}

impl CountingSink {
    /// Counts what `inner` accepts.
    pub fn new(inner: Arc<dyn EventSink>) -> CountingSink {
        CountingSink {
            inner,
            events: AtomicU64::new(0),
            calls_ended: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Events accepted so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// CALL_ENDED events accepted so far: calls done.
    pub fn calls_ended(&self) -> u64 {
        self.calls_ended.load(Ordering::Relaxed)
    }

    /// Events the gateway refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl EventSink for CountingSink {
    fn submit(&self, envelope: Envelope) -> BoxFuture<'_, Result<u64, SubmitError>> {
        let ended = envelope.event_type() == EventType::CallEnded;
        Box::pin(async move {
            let result = self.inner.submit(envelope).await;
            match &result {
                Ok(_) => {
                    self.events.fetch_add(1, Ordering::Relaxed);
                    if ended {
                        self.calls_ended.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(_) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            result
        })
    }
}

/// Sends `recording` to `sink`, each event at its recorded offset divided by `speed` (a
/// positive factor; 2.0 replays twice as fast). Stops at the first refusal.
///
/// # Errors
/// The first event the gateway refused, with its position (1-based) in the recording.
pub async fn replay(
    recording: &Recording,
    sink: &dyn EventSink,
    speed: f64,
) -> Result<u64, (usize, SubmitError)> {
    let start = tokio::time::Instant::now();
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let mut sent = 0;
    for (i, event) in recording.events().iter().enumerate() {
        let due = start + Duration::from_secs_f64(event.at.as_secs_f64() / speed);
        tokio::time::sleep_until(due).await;
        sink.submit(event.envelope.clone())
            .await
            .map_err(|e| (i + 1, e))?;
        sent += 1;
    }
    Ok(sent)
}
