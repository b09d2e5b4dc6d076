//! `ingest` mode: K clients post NDJSON batches of valid call flows and time the 202s.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::progress::{Counters, Progress};
use super::{LoadError, Target, check_bounds, excerpt, grouped};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::workload::{Workload, WorkloadConfig, to_bytes};

/// What an ingest run does. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    /// Concurrent HTTP clients, each with its own connection and its own calls. Default is 4.
    pub clients: usize,
    /// Events per `POST /v1/events` (NDJSON). Default is 100.
    pub batch: usize,
    /// How long clients keep starting new batches. Default is 10 s.
    pub duration: Duration,
    /// Stop after this many events in total, if reached before `duration`. Default is none.
    pub max_events: Option<u64>,
    /// Calls in progress per client, interleaved in its batches. Default is 100.
    pub calls_per_client: usize,
    /// Seed of the generated calls; also makes `callId`s differ between runs. Default is 1.
    pub seed: u64,
    /// Interval of progress lines on stderr; `None` for none. Default is 5 s.
    pub progress: Option<Duration>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            clients: 4,
            batch: 100,
            duration: Duration::from_secs(10),
            max_events: None,
            calls_per_client: 100,
            seed: 1,
            progress: Some(Duration::from_secs(5)),
        }
    }
}

/// The outcome of an ingest run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestReport {
    /// Always `"ingest"`.
    pub mode: &'static str,
    /// The gateway measured.
    pub target: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Events per batch.
    pub batch: usize,
    /// From the first request to the last answer, in seconds.
    pub elapsed_s: f64,
    /// Events acknowledged with 202 (durable).
    pub events_acked: u64,
    /// Batches acknowledged with 202.
    pub batches_acked: u64,
    /// `events_acked / elapsed_s`.
    pub events_per_s: f64,
    /// `batches_acked / elapsed_s`.
    pub batches_per_s: f64,
    /// Mean NDJSON bytes per event sent.
    pub bytes_per_event: f64,
    /// Time from sending a batch to having read its 202 answer.
    pub ack_latency: LatencySummary,
    /// 429 answers (the batch was then sent again).
    pub throttled: u64,
    /// Batches answered with an error or lost to a transport error; each stops its client,
    /// since its calls no longer match the gateway's state.
    pub failed_batches: u64,
    /// The first failure, for the summary.
    pub first_failure: Option<String>,
}

impl IngestReport {
    /// Whether events were acknowledged and no batch failed.
    pub fn is_ok(&self) -> bool {
        self.events_acked > 0 && self.failed_batches == 0
    }
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ingest against {}", self.target)?;
        writeln!(
            f,
            "  {} clients x NDJSON batches of {} event{}, {:.1} s",
            self.clients,
            self.batch,
            if self.batch == 1 { "" } else { "s" },
            self.elapsed_s
        )?;
        writeln!(
            f,
            "  acknowledged: {} events in {} batches -> {} events/s, {:.1} batches/s ({:.0} bytes/event)",
            grouped(self.events_acked as f64),
            grouped(self.batches_acked as f64),
            grouped(self.events_per_s),
            self.batches_per_s,
            self.bytes_per_event
        )?;
        writeln!(f, "  ack latency per batch: {}", self.ack_latency)?;
        if self.throttled > 0 {
            writeln!(f, "  throttled (429, re-sent): {}", self.throttled)?;
        }
        match &self.first_failure {
            Some(why) => write!(
                f,
                "  FAILED batches: {} (first: {why})",
                self.failed_batches
            ),
            None => write!(f, "  failed batches: 0"),
        }
    }
}

/// Runs K clients against `target` until `duration` has passed or `max_events` are sent.
///
/// # Errors
/// [`LoadError::Invalid`] for out-of-range options, [`LoadError::Http`] when the HTTP client
/// cannot be built. Failed batches are reported, not returned as errors.
pub async fn run_ingest(
    target: &Target,
    options: &IngestOptions,
) -> Result<IngestReport, LoadError> {
    check_bounds(options.duration, options.max_events)?;
    if options.clients == 0 || options.clients > usize::from(u16::MAX) {
        return Err(LoadError::Invalid(
            "--clients must be between 1 and 65535".into(),
        ));
    }
    if options.batch == 0 {
        return Err(LoadError::Invalid("--batch must be at least 1".into()));
    }
    let counters = Arc::new(Counters::default());
    let budget = Arc::new(AtomicU64::new(options.max_events.unwrap_or(u64::MAX)));
    let url = target.http_url("/v1/events");
    let started = Instant::now();
    let deadline = started + options.duration;
    let _progress = Progress::start(options.progress, counters.clone(), false);
    let mut tasks = Vec::with_capacity(options.clients);
    for index in 0..options.clients {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|source| LoadError::Http {
                what: "building the HTTP client".into(),
                source,
            })?;
        let client = Client {
            http,
            url: url.clone(),
            token: target.token().map(str::to_owned),
            batch: options.batch,
            deadline,
            budget: budget.clone(),
            counters: counters.clone(),
            workload: Workload::new(WorkloadConfig {
                seed: options.seed,
                stream: index as u16,
                concurrent_calls: options.calls_per_client,
                ..WorkloadConfig::default()
            }),
        };
        tasks.push(tokio::spawn(client.run()));
    }
    let mut total = ClientTally::default();
    for task in tasks {
        match task.await {
            Ok(tally) => total.add(tally),
            Err(e) => total.fail(format!("a client task panicked: {e}")),
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let sent_events = total.sent_events.max(1) as f64;
    Ok(IngestReport {
        mode: "ingest",
        target: target.describe(),
        clients: options.clients,
        batch: options.batch,
        elapsed_s: elapsed,
        events_acked: total.events,
        batches_acked: total.batches,
        events_per_s: total.events as f64 / elapsed,
        batches_per_s: total.batches as f64 / elapsed,
        bytes_per_event: total.sent_bytes as f64 / sent_events,
        ack_latency: total.latency.summary(),
        throttled: total.throttled,
        failed_batches: total.failed,
        first_failure: total.first_failure,
    })
}

/// Takes up to `want` events from the shared budget; 0 when it is spent.
fn reserve(budget: &AtomicU64, want: u64) -> u64 {
    budget
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
            (left > 0).then(|| left - left.min(want))
        })
        .map_or(0, |left| left.min(want))
}

/// One client: its connection, its calls, and what it measured.
struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    batch: usize,
    deadline: Instant,
    budget: Arc<AtomicU64>,
    counters: Arc<Counters>,
    workload: Workload,
}

/// What one client measured.
#[derive(Default)]
struct ClientTally {
    events: u64,
    batches: u64,
    sent_events: u64,
    sent_bytes: u64,
    throttled: u64,
    failed: u64,
    first_failure: Option<String>,
    latency: LatencyRecorder,
}

impl ClientTally {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        self.first_failure.get_or_insert(why);
    }

    fn add(&mut self, other: ClientTally) {
        self.events += other.events;
        self.batches += other.batches;
        self.sent_events += other.sent_events;
        self.sent_bytes += other.sent_bytes;
        self.throttled += other.throttled;
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latency.merge(&other.latency);
    }
}

/// The body of a 202 to a batch.
#[derive(Deserialize)]
struct Accepted {
    seqs: Vec<u64>,
}

impl Client {
    async fn run(mut self) -> ClientTally {
        let mut tally = ClientTally::default();
        while Instant::now() < self.deadline {
            let n = reserve(&self.budget, self.batch as u64);
            if n == 0 {
                break;
            }
            let body = self.next_body(n as usize);
            tally.sent_events += n;
            tally.sent_bytes += body.len() as u64;
            match self.post(body, n, &mut tally).await {
                Ok(true) => {}
                // Throttled up to the deadline: the batch was not stored, so its calls' next
                // events would no longer be valid. Stop here.
                Ok(false) => break,
                Err(why) => {
                    tally.fail(why);
                    break;
                }
            }
        }
        tally
    }

    fn next_body(&mut self, n: usize) -> Bytes {
        let mut body = Vec::with_capacity(n * 256);
        for event in self.workload.take_events(n) {
            body.extend_from_slice(&to_bytes(&event));
            body.push(b'\n');
        }
        Bytes::from(body)
    }

    /// Posts one batch until it is acknowledged (re-sending after a 429): `Ok(true)` when
    /// acknowledged, `Ok(false)` when still throttled at the deadline.
    async fn post(&mut self, body: Bytes, n: u64, tally: &mut ClientTally) -> Result<bool, String> {
        loop {
            let mut request = self
                .http
                .post(&self.url)
                .header("content-type", "application/x-ndjson")
                .body(body.clone());
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let sent = Instant::now();
            let response = request
                .send()
                .await
                .map_err(|e| format!("POST {}: {e}", self.url))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let text = response
                .text()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?;
            match status {
                202 => {
                    tally.latency.record(sent.elapsed());
                    let accepted: Accepted = serde_json::from_str(&text).map_err(|e| {
                        format!("202 with an unexpected body ({e}): {}", excerpt(&text))
                    })?;
                    if accepted.seqs.len() as u64 != n {
                        return Err(format!(
                            "202 for {n} events with {} seqs",
                            accepted.seqs.len()
                        ));
                    }
                    tally.events += n;
                    tally.batches += 1;
                    self.counters.acked.fetch_add(n, Ordering::Relaxed);
                    return Ok(true);
                }
                429 => {
                    tally.throttled += 1;
                    let wait = Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 60));
                    if Instant::now() + wait > self.deadline {
                        return Ok(false);
                    }
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(format!("HTTP {status}: {}", excerpt(&text))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_out_exactly() {
        let budget = AtomicU64::new(250);
        let taken: Vec<u64> = (0..5).map(|_| reserve(&budget, 100)).collect();
        assert_eq!(taken, [100, 100, 50, 0, 0]);
        let unbounded = AtomicU64::new(u64::MAX);
        assert_eq!(reserve(&unbounded, 100), 100);
    }
}
