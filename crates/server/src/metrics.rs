//! Prometheus metrics (`GET /metrics`): events accepted and refused by type and reason,
//! subscribers and their lag, commit latency, rate limiting, and each source's health.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use voicetk_events::EventType;
use voicetk_sources::{HealthSnapshot, HealthState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    r#type: &'static str,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

/// All of the gateway's metrics, registered once.
pub struct Metrics {
    /// The registry `/metrics` encodes.
    registry: Registry,
    accepted: Family<TypeLabel, Counter>,
    refused: Family<RefusedLabels, Counter>,
    duplicates: Family<TypeLabel, Counter>,
    commit_seconds: Histogram,
    commit_events: Histogram,
    subscribers: Family<TransportLabel, Gauge>,
    resyncs: Family<TransportLabel, Counter>,
    closed_slow: Family<TransportLabel, Counter>,
    lag_max: Gauge,
    rate_limited: Counter,
    source_up: Family<SourceLabel, Gauge>,
    source_disconnects: Family<SourceLabel, Counter>,
    source_failed_attempts: Family<SourceLabel, Counter>,
    source_restarts: Family<SourceLabel, Counter>,
    /// Each live subscriber's last delivered seq, to compute the lag at scrape time.
    positions: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("voicetk");
        let accepted = Family::<TypeLabel, Counter>::default();
        registry.register(
            "events_accepted",
            "Events accepted and stored, by type",
            accepted.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            "events_refused",
            "Events refused by the engine, by type and reason",
            refused.clone(),
        );
        let duplicates = Family::<TypeLabel, Counter>::default();
        registry.register(
            "events_duplicate",
            "Idempotent re-sends answered with the original seq",
            duplicates.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        registry.register(
            "log_commit_seconds",
            "Duration of one group commit to the event log",
            commit_seconds.clone(),
        );
        let commit_events = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "log_commit_events",
            "Events per group commit",
            commit_events.clone(),
        );
        let subscribers = Family::<TransportLabel, Gauge>::default();
        registry.register(
            "subscribers",
            "Live subscribers, by transport",
            subscribers.clone(),
        );
        let resyncs = Family::<TransportLabel, Counter>::default();
        registry.register(
            "subscriber_resyncs",
            "Subscribers that fell behind and were resynced from the log",
            resyncs.clone(),
        );
        let closed_slow = Family::<TransportLabel, Counter>::default();
        registry.register(
            "subscriber_closed_slow",
            "Subscribers closed because they stopped reading",
            closed_slow.clone(),
        );
        let lag_max = Gauge::default();
        registry.register(
            "subscriber_lag_max_events",
            "Largest gap between the last seq and a subscriber's last delivered seq",
            lag_max.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "requests_rate_limited",
            "Requests refused with 429",
            rate_limited.clone(),
        );
        let source_up = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "source_up",
            "1 while a source is connected to its peer (or running), 0 otherwise",
            source_up.clone(),
        );
        let source_disconnects = Family::<SourceLabel, Counter>::default();
        registry.register(
            "source_disconnects",
            "Times a source lost its peer",
            source_disconnects.clone(),
        );
        let source_failed_attempts = Family::<SourceLabel, Counter>::default();
        registry.register(
            "source_failed_attempts",
            "Connection attempts of a source that failed",
            source_failed_attempts.clone(),
        );
        let source_restarts = Family::<SourceLabel, Counter>::default();
        registry.register(
            "source_restarts",
            "Times the gateway restarted a source that stopped or panicked",
            source_restarts.clone(),
        );
        Metrics {
            registry,
            source_up,
            source_disconnects,
            source_failed_attempts,
            source_restarts,
            accepted,
            refused,
            duplicates,
            commit_seconds,
            commit_events,
            subscribers,
            resyncs,
            closed_slow,
            lag_max,
            rate_limited,
            positions: Mutex::new(Vec::new()),
        }
    }

    /// Counts an accepted event.
    pub fn accepted(&self, t: EventType) {
        self.accepted
            .get_or_create(&TypeLabel { r#type: t.as_str() })
            .inc();
    }

    /// Counts a refused event.
    pub fn refused(&self, t: EventType, reason: &str) {
        self.refused
            .get_or_create(&RefusedLabels {
                r#type: t.as_str(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts an idempotent re-send.
    pub fn duplicate(&self, t: EventType) {
        self.duplicates
            .get_or_create(&TypeLabel { r#type: t.as_str() })
            .inc();
    }

    /// Records one group commit.
    pub fn commit(&self, took: Duration, events: usize) {
        self.commit_seconds.observe(took.as_secs_f64());
        self.commit_events.observe(events as f64);
    }

    /// Counts a 429.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// Counts a subscriber resynced from the log.
    pub fn resynced(&self, transport: &'static str) {
        self.resyncs
            .get_or_create(&TransportLabel { transport })
            .inc();
    }

    /// Counts a subscriber closed for not reading.
    pub fn closed_slow(&self, transport: &'static str) {
        self.closed_slow
            .get_or_create(&TransportLabel { transport })
            .inc();
    }

    /// Records a source's health as read at scrape time: `source_up`, and the disconnect and
    /// failed-attempt counters brought up to the source's totals.
    pub fn source_health(&self, source: &str, health: &HealthSnapshot) {
        let label = SourceLabel {
            source: source.to_owned(),
        };
        let up = matches!(health.state, HealthState::Up);
        self.source_up.get_or_create(&label).set(i64::from(up));
        for (family, total) in [
            (&self.source_disconnects, health.disconnects),
            (&self.source_failed_attempts, health.failed_attempts),
        ] {
            let counter = family.get_or_create(&label);
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
    }

    /// Counts a restart of a source by the gateway.
    pub fn source_restarted(&self, source: &str) {
        self.source_restarts
            .get_or_create(&SourceLabel {
                source: source.to_owned(),
            })
            .inc();
    }

    /// Registers a live subscriber starting at `start` (the last seq when it connected); the
    /// guard unregisters it on drop and holds its position.
    pub fn subscriber(self: &Arc<Self>, transport: &'static str, start: u64) -> SubscriberGuard {
        self.subscribers
            .get_or_create(&TransportLabel { transport })
            .inc();
        let position = Arc::new(AtomicU64::new(start));
        self.positions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::downgrade(&position));
        SubscriberGuard {
            metrics: self.clone(),
            transport,
            position,
            resyncs: AtomicU64::new(0),
        }
    }

    /// Encodes every metric in the Prometheus text format, computing the subscriber lag
    /// against `last_seq` first.
    pub fn encode(&self, last_seq: u64) -> String {
        let mut max_lag = 0;
        {
            let mut positions = self
                .positions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            positions.retain(|w| match w.upgrade() {
                Some(p) => {
                    max_lag = max_lag.max(last_seq.saturating_sub(p.load(Ordering::Relaxed)));
                    true
                }
                None => false,
            });
        }
        self.lag_max.set(i64::try_from(max_lag).unwrap_or(i64::MAX));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// A live subscriber's registration: updates its position, unregisters on drop.
pub struct SubscriberGuard {
    metrics: Arc<Metrics>,
    transport: &'static str,
    position: Arc<AtomicU64>,
    /// Resyncs already counted for this subscriber.
    resyncs: AtomicU64,
}

impl SubscriberGuard {
    /// Records the last seq delivered to this subscriber.
    pub fn delivered(&self, seq: u64) {
        self.position.store(seq, Ordering::Relaxed);
    }

    /// Records the subscriber's resync total so far (from its resume stream); counts the new ones.
    pub fn resyncs(&self, total: u64) {
        let before = self.resyncs.swap(total, Ordering::Relaxed);
        for _ in before..total {
            self.metrics.resynced(self.transport);
        }
    }
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.metrics
            .subscribers
            .get_or_create(&TransportLabel {
                transport: self.transport,
            })
            .dec();
    }
}
