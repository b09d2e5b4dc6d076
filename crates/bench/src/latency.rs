//! Latency histograms (HdrHistogram, microsecond resolution) and their summaries.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency tracked: one hour, in microseconds. Longer ones count as one hour.
const MAX_MICROS: u64 = 3_600_000_000;

/// Records latencies with 3 significant digits from 1 µs to one hour, cheaply enough to
/// record every event. One per task; [`merge`](Self::merge) them at the end.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use voicetk_bench::LatencyRecorder;
///
/// let mut a = LatencyRecorder::new();
/// a.record(Duration::from_millis(2));
/// let mut b = LatencyRecorder::new();
/// b.record_nanos(4_000_000);
/// a.merge(&b);
/// let summary = a.summary();
/// assert_eq!(summary.count, 2);
/// assert!((summary.max_ms - 4.0).abs() < 0.01);
/// ```
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    /// Values in microseconds.
    micros: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> LatencyRecorder {
        let micros = match Histogram::new_with_bounds(1, MAX_MICROS, 3) {
            Ok(h) => h,
            // The bounds are constants that HdrHistogram accepts.
            Err(e) => unreachable!("constant histogram bounds refused: {e}"),
        };
        LatencyRecorder { micros }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.micros.saturating_record(micros.max(1));
    }

    /// Records one latency given in nanoseconds.
    pub fn record_nanos(&mut self, nanos: u64) {
        self.micros.saturating_record((nanos / 1_000).max(1));
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        // Both have the same bounds, so adding cannot fail; if it ever did, fall back to
        // re-recording value by value.
        if self.micros.add(&other.micros).is_err() {
            for v in other.micros.iter_recorded() {
                self.micros
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// How many latencies were recorded.
    pub fn len(&self) -> u64 {
        self.micros.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// Percentiles in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1_000.0;
        let q = |quantile: f64| ms(self.micros.value_at_quantile(quantile));
        if self.micros.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.micros.len(),
            mean_ms: self.micros.mean() / 1_000.0,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: ms(self.micros.max()),
        }
    }
}

/// Latency percentiles, in milliseconds (HdrHistogram values: within 0.1 % of the truth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many latencies were recorded.
    pub count: u64,
    /// Their mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// The largest.
    pub max_ms: f64,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms (mean {:.3} ms, n = {})",
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.mean_ms,
            self.count
        )
    }
}
