//! The load harness behind `voicetk-load`: drives a real gateway over loopback and measures
//! acknowledged ingest throughput and WebSocket fan-out latency.
//!
//! Every run is bounded in time and in events, and stops by itself. Targets must be on the
//! loopback interface ([`Target::remote`] refuses anything else).

mod fanout;
mod ingest;
mod progress;
mod target;

pub use fanout::{FanoutOptions, FanoutReport, SubscriberFailure, run_fanout};
pub use ingest::{IngestOptions, IngestReport, run_ingest};
pub use target::Target;

use std::time::{Duration, Instant};

/// Why a load run could not be carried out. (Problems the run *measures*, such as refused
/// batches or incomplete deliveries, are in the reports instead.)
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The `--server` URL is not usable.
    #[error("--server {url}: {reason}")]
    BadTarget {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    Invalid(String),
    /// The in-process gateway did not start.
    #[error("cannot start the in-process gateway: {0}")]
    Spawn(String),
    /// A request failed at the transport level (connection refused, reset, ...).
    #[error("{what}: {source}")]
    Http {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The gateway answered with an unexpected status or body.
    #[error("{what}: HTTP {status}: {body}")]
    Refused {
        /// What was being done.
        what: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// WebSocket subscribers could not be set up.
    #[error("subscribers: {0}")]
    Subscribers(String),
    /// A local I/O error (temporary directory, thread).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A monotonic clock shared by the publisher and the subscribers of one run: nanoseconds
/// since the run began. Both sides live in this process, so their readings compare exactly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(crate) fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    pub(crate) fn nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Checks the bounds every run shares: a duration of at most an hour, at least one event.
fn check_bounds(duration: Duration, max_events: Option<u64>) -> Result<(), LoadError> {
    if duration.is_zero() || duration > Duration::from_secs(3_600) {
        return Err(LoadError::Invalid(format!(
            "--duration {duration:?}: expected between 1 ms and 1 hour"
        )));
    }
    if max_events == Some(0) {
        return Err(LoadError::Invalid("--events must be at least 1".into()));
    }
    Ok(())
}

/// The start of an error body, for messages.
pub(crate) fn excerpt(body: &str) -> String {
    const MAX: usize = 300;
    match body.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_owned(),
    }
}

/// A rate with thousands separators, for the human summaries.
pub(crate) fn grouped(n: f64) -> String {
    let whole = n.round() as u64;
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0.0), "0");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1_000.0), "1,000");
        assert_eq!(grouped(1_234_567.8), "1,234,568");
    }

    #[test]
    fn bounds_refuse_unbounded_runs() {
        assert!(check_bounds(Duration::from_secs(10), None).is_ok());
        assert!(check_bounds(Duration::ZERO, None).is_err());
        assert!(check_bounds(Duration::from_secs(7_200), None).is_err());
        assert!(check_bounds(Duration::from_secs(1), Some(0)).is_err());
    }

    #[test]
    fn excerpts_are_cut_on_a_char_boundary() {
        let long = "é".repeat(400);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 301);
        assert_eq!(excerpt("short"), "short");
    }
}
