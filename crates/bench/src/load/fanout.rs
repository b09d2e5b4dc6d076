//! `fanout` mode: S WebSocket subscribers, one publisher, delivery latency and exactly-once.
//!
//! The publisher posts the events of one call (one `POST` each), stamping each with its send
//! time inside `detail` as `sentAtNanos` (nanoseconds on a monotonic clock shared with the
//! subscribers, which live in this process too). Every subscriber subscribes to that call
//! only, so other traffic on the gateway does not disturb the check, and records
//! `receive time - sentAtNanos` for every event. At the end, each subscriber's sequence of
//! `seq`s must be exactly the publisher's acknowledged ones, in order, each once.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::progress::{Counters, Progress};
use super::{Clock, LoadError, Target, check_bounds, excerpt, grouped};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::workload::{CallFlow, to_bytes};

/// What a fan-out run does. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct FanoutOptions {
    /// WebSocket subscribers. Each holds one connection (and the gateway one more file
    /// descriptor): 1,000 subscribers need `ulimit -n` above about 2,100 for a spawned
    /// gateway. Default is 100.
    pub subscribers: usize,
    /// Events per second the publisher aims at; `None` posts the next event as soon as the
    /// previous one is acknowledged. Default is `None`.
    pub rate: Option<f64>,
    /// Events per POST: 1 posts each event on its own (`application/json`), more posts NDJSON
    /// batches, which measures how fast the hub fans out rather than one commit's latency.
    /// With `rate`, the rate counts batches. Default is 1.
    pub batch: usize,
    /// How long the publisher keeps publishing. Default is 10 s.
    pub duration: Duration,
    /// Stop publishing after this many events, if reached before `duration` (the call's
    /// `CALL_ENDED` and `WRAP_UP_ENDED` follow). Default is none.
    pub max_events: Option<u64>,
    /// How long subscribers may take, after the last event is acknowledged, to receive
    /// everything. Default is 30 s.
    pub drain_timeout: Duration,
    /// Subscribers connecting at once. Default is 64.
    pub connect_concurrency: usize,
    /// Seed of the call's events and of its `callId`. Default is 1.
    pub seed: u64,
    /// Interval of progress lines on stderr; `None` for none. Default is 5 s.
    pub progress: Option<Duration>,
}

impl Default for FanoutOptions {
    fn default() -> Self {
        FanoutOptions {
            subscribers: 100,
            rate: None,
            batch: 1,
            duration: Duration::from_secs(10),
            max_events: None,
            drain_timeout: Duration::from_secs(30),
            connect_concurrency: 64,
            seed: 1,
            progress: Some(Duration::from_secs(5)),
        }
    }
}

/// A subscriber that did not get every event exactly once and in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriberFailure {
    /// Which subscriber (0-based).
    pub subscriber: usize,
    /// Events it received.
    pub received: u64,
    /// Events whose `seq` was not above the previous one (duplicates or reordering).
    pub out_of_order: u64,
    /// What went wrong.
    pub reason: String,
}

/// The outcome of a fan-out run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FanoutReport {
    /// Always `"fanout"`.
    pub mode: &'static str,
    /// The gateway measured.
    pub target: String,
    /// Subscribers connected.
    pub subscribers: usize,
    /// Time to connect and subscribe all of them, in seconds.
    pub connect_s: f64,
    /// The rate the publisher aimed at, if any.
    pub target_rate: Option<f64>,
    /// Events per POST.
    pub batch: usize,
    /// Events acknowledged by the gateway.
    pub published: u64,
    /// From the first post to the last acknowledgement, in seconds.
    pub publish_s: f64,
    /// `published / publish_s`.
    pub published_per_s: f64,
    /// Time from posting an event to having read its 202.
    pub publish_ack_latency: LatencySummary,
    /// Events received, summed over subscribers.
    pub delivered: u64,
    /// `published * subscribers`: what `delivered` must be.
    pub expected: u64,
    /// From the first post to the last event received by any subscriber, in seconds.
    pub delivery_s: f64,
    /// `delivered / delivery_s`.
    pub delivered_per_s: f64,
    /// Receive time minus `sentAtNanos`, over every event of every subscriber.
    pub delivery_latency: LatencySummary,
    /// Subscribers that got every event exactly once, in order.
    pub complete_subscribers: usize,
    /// Subscribers that did not.
    pub failed_subscribers: usize,
    /// The first few failures.
    pub failures: Vec<SubscriberFailure>,
    /// Why the publisher stopped early, if it did.
    pub publish_failure: Option<String>,
}

impl FanoutReport {
    /// Whether events were published, none failed, and every subscriber got them all exactly
    /// once, in order.
    pub fn is_ok(&self) -> bool {
        self.published > 0 && self.publish_failure.is_none() && self.failed_subscribers == 0
    }
}

impl fmt::Display for FanoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "fanout against {}", self.target)?;
        writeln!(
            f,
            "  {} WebSocket subscribers (connected and subscribed in {:.2} s)",
            self.subscribers, self.connect_s
        )?;
        let rate = self.target_rate.map_or_else(
            || "as fast as acknowledged".to_owned(),
            |r| format!("at {r} posts/s"),
        );
        let rate = if self.batch > 1 {
            format!("{rate}, {} per POST", self.batch)
        } else {
            rate
        };
        writeln!(
            f,
            "  published: {} events {rate} in {:.1} s -> {} events/s; ack {}",
            grouped(self.published as f64),
            self.publish_s,
            grouped(self.published_per_s),
            self.publish_ack_latency
        )?;
        writeln!(
            f,
            "  delivered: {} of {} expected in {:.1} s -> {} events/s (sum over subscribers)",
            grouped(self.delivered as f64),
            grouped(self.expected as f64),
            self.delivery_s,
            grouped(self.delivered_per_s)
        )?;
        writeln!(f, "  delivery latency: {}", self.delivery_latency)?;
        write!(
            f,
            "  exactly once, in order: {}/{} subscribers",
            self.complete_subscribers, self.subscribers
        )?;
        if let Some(why) = &self.publish_failure {
            write!(f, "\n  PUBLISHER FAILED: {why}")?;
        }
        for failure in &self.failures {
            write!(
                f,
                "\n  FAILED subscriber {}: received {}, {} out of order: {}",
                failure.subscriber, failure.received, failure.out_of_order, failure.reason
            )?;
        }
        Ok(())
    }
}

/// How many subscriber failures a report lists.
const LISTED_FAILURES: usize = 10;

/// Connects `subscribers` WebSocket clients, publishes one call's events, and checks what
/// every subscriber received.
///
/// # Errors
/// [`LoadError::Invalid`] for out-of-range options; [`LoadError::Subscribers`] when a
/// subscriber cannot connect and subscribe (check `ulimit -n`); [`LoadError::Http`] when the
/// HTTP client cannot be built. Incomplete deliveries are reported, not returned as errors.
pub async fn run_fanout(
    target: &Target,
    options: &FanoutOptions,
) -> Result<FanoutReport, LoadError> {
    check_bounds(options.duration, options.max_events)?;
    if options.subscribers == 0 || options.subscribers > 100_000 {
        return Err(LoadError::Invalid(
            "--subscribers must be between 1 and 100000".into(),
        ));
    }
    if let Some(rate) = options.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(LoadError::Invalid(format!("--rate {rate}: expected > 0")));
        }
    }
    let clock = Clock::start();
    let call_id = format!("load-fanout-{:016x}", crate::workload::mix(options.seed));
    let counters = Arc::new(Counters::default());
    let (end_tx, end_rx) = watch::channel(None::<RunEnd>);

    // Connect everyone before publishing, so each subscriber can expect every event.
    let connecting = Instant::now();
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(options.subscribers);
    let gate = Arc::new(Semaphore::new(options.connect_concurrency.max(1)));
    let request = json!({"op": "subscribe", "callId": call_id}).to_string();
    let mut tasks = Vec::with_capacity(options.subscribers);
    for index in 0..options.subscribers {
        let subscriber = Subscriber {
            index,
            url: target.ws_url("/v1/ws"),
            request: request.clone(),
            gate: gate.clone(),
            ready: ready_tx.clone(),
            end: end_rx.clone(),
            clock,
            counters: counters.clone(),
        };
        tasks.push(tokio::spawn(subscriber.run()));
    }
    drop(ready_tx);
    let mut first_error = None;
    for _ in 0..options.subscribers {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {
                first_error.get_or_insert_with(|| "a subscriber task ended early".into());
                break;
            }
        }
    }
    if let Some(e) = first_error {
        let _ = end_tx.send(Some(RunEnd {
            last_seq: 0,
            deadline: tokio::time::Instant::now(),
        }));
        return Err(LoadError::Subscribers(e));
    }
    let connect_s = connecting.elapsed().as_secs_f64();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|source| LoadError::Http {
            what: "building the HTTP client".into(),
            source,
        })?;
    let publisher = Publisher {
        http,
        url: target.http_url("/v1/events"),
        token: target.token().map(str::to_owned),
        call: CallFlow::new(call_id, options.seed).with_agent("agent-load"),
        clock,
        counters: counters.clone(),
    };
    let progress = Progress::start(options.progress, counters.clone(), true);
    let published = publisher.run(options).await;
    let _ = end_tx.send(Some(RunEnd {
        last_seq: published.seqs.last().copied().unwrap_or(0),
        deadline: tokio::time::Instant::now() + options.drain_timeout,
    }));

    let expected = Expected::of(&published.seqs);
    let mut delivered = 0;
    let mut last_receive = 0;
    let mut latency = LatencyRecorder::new();
    let mut failures = Vec::new();
    let mut failed_subscribers = 0;
    for (index, task) in tasks.into_iter().enumerate() {
        let tally = match task.await {
            Ok(tally) => tally,
            Err(e) => SubscriberTally::failed(index, format!("task panicked: {e}")),
        };
        delivered += tally.received;
        last_receive = last_receive.max(tally.last_receive_nanos);
        latency.merge(&tally.latency);
        if let Some(reason) = expected.check(&tally) {
            failed_subscribers += 1;
            if failures.len() < LISTED_FAILURES {
                failures.push(SubscriberFailure {
                    subscriber: index,
                    received: tally.received,
                    out_of_order: tally.out_of_order,
                    reason,
                });
            }
        }
    }
    drop(progress);
    let count = published.seqs.len() as u64;
    let publish_s = secs(
        published
            .last_ack_nanos
            .saturating_sub(published.first_sent_nanos),
    );
    let delivery_s = secs(last_receive.saturating_sub(published.first_sent_nanos));
    Ok(FanoutReport {
        mode: "fanout",
        target: target.describe(),
        subscribers: options.subscribers,
        connect_s,
        target_rate: options.rate,
        batch: options.batch,
        published: count,
        publish_s,
        published_per_s: count as f64 / publish_s.max(1e-9),
        publish_ack_latency: published.latency.summary(),
        delivered,
        expected: count * options.subscribers as u64,
        delivery_s,
        delivered_per_s: delivered as f64 / delivery_s.max(1e-9),
        delivery_latency: latency.summary(),
        complete_subscribers: options.subscribers - failed_subscribers,
        failed_subscribers,
        failures,
        publish_failure: published.failure,
    })
}

fn secs(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// Sent to subscribers once the publisher is done.
#[derive(Debug, Clone, Copy)]
struct RunEnd {
    /// The last acknowledged seq (0 if none): a subscriber that has it is done.
    last_seq: u64,
    /// When subscribers give up waiting for the rest.
    deadline: tokio::time::Instant,
}

/// An order-insensitive fingerprint of a set of seqs; with strictly increasing reception,
/// equal count and fingerprint mean the same sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Fingerprint {
    sum: u64,
    mixed: u64,
}

impl Fingerprint {
    fn add(&mut self, seq: u64) {
        self.sum = self.sum.wrapping_add(seq);
        self.mixed = self.mixed.wrapping_add(crate::workload::mix(seq));
    }
}

/// What every subscriber must have received.
struct Expected {
    count: u64,
    last: u64,
    fingerprint: Fingerprint,
}

impl Expected {
    fn of(seqs: &[u64]) -> Expected {
        let mut fingerprint = Fingerprint::default();
        seqs.iter().for_each(|s| fingerprint.add(*s));
        Expected {
            count: seqs.len() as u64,
            last: seqs.last().copied().unwrap_or(0),
            fingerprint,
        }
    }

    /// `None` when `tally` is exactly the expected sequence; else why not.
    fn check(&self, tally: &SubscriberTally) -> Option<String> {
        if let Some(reason) = &tally.stopped {
            return Some(reason.clone());
        }
        if tally.out_of_order > 0 {
            return Some(format!(
                "{} events arrived with a seq not above the previous one",
                tally.out_of_order
            ));
        }
        if tally.received != self.count {
            return Some(format!(
                "received {} events, expected {} (last seq {}, expected {})",
                tally.received, self.count, tally.last_seq, self.last
            ));
        }
        if tally.fingerprint != self.fingerprint {
            return Some("received other seqs than the publisher's".into());
        }
        None
    }
}

/// A frame from `/v1/ws`: an event (`seq`, `detail`) or a control message (`op`).
#[derive(Deserialize)]
struct Frame {
    op: Option<String>,
    seq: Option<u64>,
    detail: Option<FrameDetail>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct FrameDetail {
    #[serde(rename = "sentAtNanos")]
    sent_at_nanos: Option<u64>,
}

/// One WebSocket subscriber.
struct Subscriber {
    index: usize,
    url: String,
    /// The subscribe frame.
    request: String,
    /// Limits how many connect at once.
    gate: Arc<Semaphore>,
    /// Told once subscribed (or why not).
    ready: mpsc::Sender<Result<(), String>>,
    /// Tells when the publisher is done.
    end: watch::Receiver<Option<RunEnd>>,
    clock: Clock,
    counters: Arc<Counters>,
}

/// What one subscriber received.
struct SubscriberTally {
    received: u64,
    out_of_order: u64,
    last_seq: u64,
    fingerprint: Fingerprint,
    latency: LatencyRecorder,
    last_receive_nanos: u64,
    /// Why it stopped before getting the last event, if it did.
    stopped: Option<String>,
}

impl SubscriberTally {
    fn new() -> SubscriberTally {
        SubscriberTally {
            received: 0,
            out_of_order: 0,
            last_seq: 0,
            fingerprint: Fingerprint::default(),
            latency: LatencyRecorder::new(),
            last_receive_nanos: 0,
            stopped: None,
        }
    }

    fn failed(index: usize, why: String) -> SubscriberTally {
        let mut tally = SubscriberTally::new();
        tally.stopped = Some(format!("subscriber {index}: {why}"));
        tally
    }

    /// Records one event frame received at `now` (nanoseconds on the run's clock).
    fn event(&mut self, seq: u64, sent_at: Option<u64>, now: u64) {
        if seq <= self.last_seq {
            self.out_of_order += 1;
        }
        self.received += 1;
        self.last_seq = self.last_seq.max(seq);
        self.fingerprint.add(seq);
        self.last_receive_nanos = now;
        if let Some(sent) = sent_at {
            self.latency.record_nanos(now.saturating_sub(sent));
        }
    }
}

impl Subscriber {
    async fn run(mut self) -> SubscriberTally {
        let mut tally = SubscriberTally::new();
        let connected = {
            let _permit = self.gate.acquire().await;
            self.connect().await
        };
        let mut ws = match connected {
            Ok(ws) => {
                let _ = self.ready.send(Ok(())).await;
                ws
            }
            Err(why) => {
                let why = format!("subscriber {}: {why}", self.index);
                let _ = self.ready.send(Err(why.clone())).await;
                tally.stopped = Some(why);
                return tally;
            }
        };
        let mut end: Option<RunEnd> = None;
        loop {
            if end.is_some_and(|e| tally.last_seq >= e.last_seq) {
                break;
            }
            let deadline = end.map(|e| e.deadline);
            tokio::select! {
                message = ws.next() => {
                    let now = self.clock.nanos();
                    match message {
                        Some(Ok(Message::Text(text))) => {
                            if let Err(why) = self.frame(text.as_str(), now, &mut tally) {
                                tally.stopped = Some(why);
                                break;
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            tally.stopped = Some(match frame {
                                Some(f) => format!("closed by the gateway: {} {}", f.code, f.reason),
                                None => "closed by the gateway".into(),
                            });
                            break;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tally.stopped = Some(format!("connection error: {e}"));
                            break;
                        }
                        None => {
                            tally.stopped = Some("connection ended".into());
                            break;
                        }
                    }
                }
                changed = self.end.changed(), if end.is_none() => {
                    end = *self.end.borrow_and_update();
                    if changed.is_err() && end.is_none() {
                        tally.stopped = Some("the run ended without a result".into());
                        break;
                    }
                }
                () = sleep_until(deadline) => {
                    tally.stopped = Some(format!(
                        "drain timeout: last seq received {}, expected {}",
                        tally.last_seq,
                        end.map_or(0, |e| e.last_seq)
                    ));
                    break;
                }
            }
        }
        let _ = ws.close(None).await;
        tally
    }

    /// Connects, subscribes to the call, and reads up to the end of the replay (the first
    /// heartbeat): from then on every event of the call reaches this subscriber.
    async fn connect(
        &self,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        String,
    > {
        let setup = async {
            let (mut ws, _) = tokio_tungstenite::connect_async(self.url.as_str())
                .await
                .map_err(|e| format!("connecting to {}: {e}", self.url))?;
            ws.send(Message::Text(self.request.clone().into()))
                .await
                .map_err(|e| format!("sending the subscribe frame: {e}"))?;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Frame = serde_json::from_str(text.as_str()).map_err(|e| {
                            format!("unreadable frame ({e}): {}", excerpt(text.as_str()))
                        })?;
                        match frame.op.as_deref() {
                            Some("heartbeat") => return Ok(ws),
                            Some("error") => {
                                return Err(format!(
                                    "subscription refused: {}",
                                    frame.error.unwrap_or(Value::Null)
                                ));
                            }
                            _ => {} // a replayed event: the call is new, so none is expected
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("while subscribing: {e}")),
                    None => {
                        return Err("the gateway closed the connection while subscribing".into());
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), setup)
            .await
            .map_err(|_| "no heartbeat within 60 s of subscribing".to_owned())?
    }

    /// Handles one text frame received at `now`.
    fn frame(&self, text: &str, now: u64, tally: &mut SubscriberTally) -> Result<(), String> {
        let frame: Frame = serde_json::from_str(text)
            .map_err(|e| format!("unreadable frame ({e}): {}", excerpt(text)))?;
        match frame.op.as_deref() {
            None => {
                let seq = frame
                    .seq
                    .ok_or_else(|| format!("event without seq: {}", excerpt(text)))?;
                let sent = frame.detail.and_then(|d| d.sent_at_nanos);
                tally.event(seq, sent, now);
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Some("error") => Err(format!(
                "error frame: {}",
                frame.error.unwrap_or(Value::Null)
            )),
            Some(_) => Ok(()), // heartbeats
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The single publisher: one call's events, one `POST` each.
struct Publisher {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    call: CallFlow,
    clock: Clock,
    counters: Arc<Counters>,
}

/// What the publisher did.
struct Published {
    /// The acknowledged seqs, in order.
    seqs: Vec<u64>,
    latency: LatencyRecorder,
    first_sent_nanos: u64,
    last_ack_nanos: u64,
    failure: Option<String>,
}

/// The body of a 202 to one event.
#[derive(Deserialize)]
struct AcceptedOne {
    seq: u64,
}

/// The body of a 202 to a batch.
#[derive(Deserialize)]
struct AcceptedMany {
    seqs: Vec<u64>,
}

impl Publisher {
    async fn run(mut self, options: &FanoutOptions) -> Published {
        let mut out = Published {
            seqs: Vec::new(),
            latency: LatencyRecorder::new(),
            first_sent_nanos: self.clock.nanos(),
            last_ack_nanos: 0,
            failure: None,
        };
        let deadline = Instant::now() + options.duration;
        let limit = options.max_events.unwrap_or(u64::MAX);
        let mut ticks = options.rate.map(|rate| {
            let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        let mut ending = false;
        loop {
            if !ending && (Instant::now() >= deadline || out.seqs.len() as u64 >= limit) {
                // Close the call properly: its last two events are published too.
                self.call.end();
                ending = true;
            }
            let mut events = Vec::with_capacity(options.batch);
            while events.len() < options.batch.max(1) {
                match self.call.next_event() {
                    Some(e) => events.push(e),
                    None => break,
                }
                if !ending && out.seqs.len() as u64 + events.len() as u64 >= limit {
                    break;
                }
            }
            if events.is_empty() {
                break;
            }
            if let Some(t) = &mut ticks {
                t.tick().await;
            }
            let first = out.seqs.is_empty();
            let posted = if events.len() == 1 && options.batch <= 1 {
                let event = events.pop().unwrap_or_default();
                self.post(event, first, &mut out).await.map(|seq| vec![seq])
            } else {
                self.post_batch(events, first, &mut out).await
            };
            match posted {
                Ok(seqs) => {
                    self.counters
                        .acked
                        .fetch_add(seqs.len() as u64, Ordering::Relaxed);
                    out.seqs.extend(seqs);
                    out.last_ack_nanos = self.clock.nanos();
                }
                Err(why) => {
                    out.failure = Some(why);
                    break;
                }
            }
        }
        out
    }

    /// Posts events as one NDJSON batch, all stamped with the same send time; returns their
    /// seqs.
    async fn post_batch(
        &self,
        events: Vec<Value>,
        first: bool,
        out: &mut Published,
    ) -> Result<Vec<u64>, String> {
        let text = self.send(events, true, first, out).await?;
        let accepted: AcceptedMany = serde_json::from_str(&text)
            .map_err(|e| format!("202 with an unexpected body ({e}): {}", excerpt(&text)))?;
        Ok(accepted.seqs)
    }

    /// Posts one event, stamped with its send time, until acknowledged; returns its seq.
    async fn post(&self, event: Value, first: bool, out: &mut Published) -> Result<u64, String> {
        let text = self.send(vec![event], false, first, out).await?;
        let accepted: AcceptedOne = serde_json::from_str(&text)
            .map_err(|e| format!("202 with an unexpected body ({e}): {}", excerpt(&text)))?;
        Ok(accepted.seq)
    }

    /// Sends `events` (one JSON payload, or NDJSON) until a 202, re-sending after a 429 with a
    /// fresh stamp; returns the 202's body.
    async fn send(
        &self,
        mut events: Vec<Value>,
        ndjson: bool,
        first: bool,
        out: &mut Published,
    ) -> Result<String, String> {
        let mut throttled = 0;
        loop {
            let sent_at = self.clock.nanos();
            if first {
                out.first_sent_nanos = sent_at;
            }
            let mut body = Vec::new();
            for event in &mut events {
                event["detail"]["sentAtNanos"] = json!(sent_at);
                body.extend_from_slice(&to_bytes(event));
                if ndjson {
                    body.push(b'\n');
                }
            }
            let content_type = if ndjson {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            let mut request = self
                .http
                .post(&self.url)
                .header("content-type", content_type)
                .body(body);
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let sent = Instant::now();
            let response = request
                .send()
                .await
                .map_err(|e| format!("POST {}: {e}", self.url))?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?;
            match status {
                202 => {
                    out.latency.record(sent.elapsed());
                    return Ok(text);
                }
                429 if throttled < 60 => {
                    throttled += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ => return Err(format!("HTTP {status}: {}", excerpt(&text))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(seqs: &[u64]) -> SubscriberTally {
        let mut tally = SubscriberTally::new();
        for (i, seq) in seqs.iter().enumerate() {
            tally.event(*seq, Some(i as u64 * 1_000), i as u64 * 1_000 + 2_000_000);
        }
        tally
    }

    #[test]
    fn exactly_the_published_seqs_in_order_pass() {
        let expected = Expected::of(&[3, 4, 7, 9]);
        let tally = received(&[3, 4, 7, 9]);
        assert_eq!(expected.check(&tally), None);
        assert_eq!(tally.latency.len(), 4);
        assert!((tally.latency.summary().p50_ms - 2.0).abs() < 0.01);
    }

    #[test]
    fn missing_duplicated_reordered_or_foreign_seqs_fail() {
        let expected = Expected::of(&[3, 4, 7, 9]);
        let missing = expected.check(&received(&[3, 4, 9])).unwrap_or_default();
        assert!(
            missing.contains("received 3 events, expected 4"),
            "{missing}"
        );
        let duplicate = expected.check(&received(&[3, 4, 4, 9])).unwrap_or_default();
        assert!(
            duplicate.contains("not above the previous one"),
            "{duplicate}"
        );
        let reordered = expected.check(&received(&[3, 7, 4, 9])).unwrap_or_default();
        assert!(reordered.contains("not above"), "{reordered}");
        let foreign = expected.check(&received(&[3, 4, 8, 9])).unwrap_or_default();
        assert!(foreign.contains("other seqs"), "{foreign}");
        let mut stopped = received(&[3, 4, 7, 9]);
        stopped.stopped = Some("closed by the gateway: 4008 slow consumer".into());
        assert!(expected.check(&stopped).is_some());
    }
}
