//! The ingest pipeline: source → engine → log → delivery, owned by one writer task.
//!
//! Every producer (HTTP `POST /v1/events`, built-in sources) hands its events to the
//! [`Gateway`], a cheap handle over a single writer task. The task:
//!
//! 1. takes the first waiting request and drains whatever else is queued (up to
//!    `max_group_events`): that is the group commit;
//! 2. applies each request's events to the [`Engine`] all-or-nothing (a refused event rolls
//!    its whole request back and names the position), which assigns gap-free `seq`s;
//! 3. appends every accepted event of the group, with the snapshots of the calls they
//!    changed, in ONE durable [`EventLog::append`];
//! 4. only then publishes each event to the [`Hub`] (listeners, WebSocket, SSE) and
//!    acknowledges every request with its seqs.
//!
//! While step 3 waits for the disk, new requests queue up and form the next group. If the
//! append fails, nothing was stored: every request of the group gets the error, and the
//! engine is rebuilt from the log so its state matches what is durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use voicetk_delivery::{Delivered, Hub};
use voicetk_engine::{Applied, CallState, Engine, EngineConfig, Refusal};
use voicetk_events::{Envelope, TelephonyKind};
use voicetk_log::{AppendBatch, EventLog, LogError, StoredEvent};
use voicetk_sources::{EventSink, SubmitError};

use crate::metrics::Metrics;

/// How the gateway's pipeline behaves.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Engine settings: telephony kind, lenient mode, idempotency window.
    pub engine: EngineConfig,
    /// Most events committed in one group. Default is 4,096.
    pub max_group_events: usize,
    /// Requests waiting for the writer before producers wait too. Default is 4,096.
    pub queue: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            engine: EngineConfig::default(),
            max_group_events: 4_096,
            queue: 4_096,
        }
    }
}

/// Why events were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The engine refused the event at `index` (0-based) of the request; nothing of the
    /// request was stored.
    #[error("event {} refused: {refusal}", index + 1)]
    Refused {
        /// Position of the refused event in the request, 0-based.
        index: usize,
        /// Why.
        refusal: Refusal,
    },
    /// The log could not store the group; nothing of it was stored.
    #[error("the event log could not store the events: {0}")]
    Storage(#[source] Arc<LogError>),
    /// The gateway is shutting down or its writer stopped.
    #[error("the gateway is not accepting events (shutting down or failed)")]
    Unavailable,
}

/// A request to the writer task.
enum Command {
    /// Apply and store these events, all or nothing.
    Append {
        envelopes: Vec<Envelope>,
        reply: oneshot::Sender<Result<Vec<u64>, IngestError>>,
    },
    /// Would this event be accepted now? (Actions check before asking a source.)
    Check {
        envelope: Box<Envelope>,
        reply: oneshot::Sender<Result<Vec<String>, Refusal>>,
    },
    /// Commit what came before, then stop (graceful shutdown).
    Stop,
}

/// The durable view of call state, updated after each commit: what `GET /v1/calls` and
/// actions read, never showing state that is not yet durable.
type CallsView = HashMap<String, Arc<CallState>>;

/// State shared between the handles and the writer task.
struct Shared {
    /// Fan-out to listeners and subscribers.
    hub: Arc<Hub>,
    /// The durable log; read directly by history and resume.
    log: Arc<dyn EventLog>,
    /// Call state as of the last commit.
    calls: RwLock<CallsView>,
    /// Counters and histograms for `/metrics`.
    metrics: Arc<Metrics>,
    /// Which catalogue applies.
    telephony: TelephonyKind,
    /// False once the writer could not rebuild the engine after a storage failure.
    healthy: AtomicBool,
}

/// A cheap, clonable handle to the ingest pipeline.
#[derive(Clone)]
pub struct Gateway {
    /// Requests to the writer task.
    tx: mpsc::Sender<Command>,
    /// What handles read without going through the writer.
    shared: Arc<Shared>,
}

impl Gateway {
    /// Rebuilds the engine from `log` and starts the writer task. Returns the handle and the
    /// task, which ends once every handle is dropped (after committing what was queued).
    ///
    /// # Errors
    /// A [`LogError`] when the log cannot be read back.
    pub async fn start(
        config: GatewayConfig,
        log: Arc<dyn EventLog>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
    ) -> Result<(Gateway, JoinHandle<()>), LogError> {
        let engine = recover_engine(&config.engine, log.as_ref()).await?;
        let calls = engine
            .calls()
            .filter_map(|c| engine.call_shared(&c.call_id))
            .map(|c| (c.call_id.clone(), c))
            .collect();
        let shared = Arc::new(Shared {
            hub,
            log,
            calls: RwLock::new(calls),
            metrics,
            telephony: config.engine.telephony,
            healthy: AtomicBool::new(true),
        });
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let writer = Writer {
            engine,
            config,
            shared: shared.clone(),
        };
        let task = tokio::spawn(writer.run(rx));
        Ok((Gateway { tx, shared }, task))
    }

    /// Applies and durably stores `envelopes`, all or nothing, and returns their seqs (the
    /// original seq for an idempotent re-send).
    ///
    /// # Errors
    /// [`IngestError::Refused`] naming the first refused event; [`IngestError::Storage`];
    /// [`IngestError::Unavailable`] when shutting down.
    pub async fn ingest(&self, envelopes: Vec<Envelope>) -> Result<Vec<u64>, IngestError> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Append { envelopes, reply })
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.map_err(|_| IngestError::Unavailable)?
    }

    /// Asks whether `envelope` would be accepted now, without storing anything.
    ///
    /// # Errors
    /// The engine's [`Refusal`]; `None` inside when the gateway is shutting down.
    pub async fn check(
        &self,
        envelope: Envelope,
    ) -> Result<Result<Vec<String>, Refusal>, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Check {
                envelope: Box::new(envelope),
                reply,
            })
            .await
            .map_err(|_| IngestError::Unavailable)?;
        answer.await.map_err(|_| IngestError::Unavailable)
    }

    /// Stops the writer once everything queued before this call is committed, and waits for
    /// the queue to accept the stop. Later `ingest` calls get [`IngestError::Unavailable`].
    pub async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }

    /// The fan-out hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.shared.hub
    }

    /// The durable log.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.shared.log
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Which catalogue applies.
    pub fn telephony(&self) -> TelephonyKind {
        self.shared.telephony
    }

    /// Whether the pipeline can store events.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// One call's durable state.
    pub fn call(&self, call_id: &str) -> Option<Arc<CallState>> {
        self.read_calls().get(call_id).cloned()
    }

    /// Every tracked call's durable state, most recently updated first.
    pub fn calls(&self) -> Vec<Arc<CallState>> {
        let mut calls: Vec<_> = self.read_calls().values().cloned().collect();
        calls.sort_by_key(|c| std::cmp::Reverse(c.last_seq));
        calls
    }

    fn read_calls(&self) -> std::sync::RwLockReadGuard<'_, CallsView> {
        self.shared
            .calls
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Sources submit through the same pipeline as HTTP clients.
impl EventSink for Gateway {
    fn submit(&self, envelope: Envelope) -> BoxFuture<'_, Result<u64, SubmitError>> {
        Box::pin(async move {
            match self.ingest(vec![envelope]).await {
                Ok(seqs) => seqs.first().copied().ok_or_else(|| SubmitError {
                    code: "internal".into(),
                    message: "no seq returned".into(),
                }),
                Err(IngestError::Refused { refusal, .. }) => Err(SubmitError {
                    code: refusal.code().into(),
                    message: refusal.message.clone(),
                }),
                Err(e) => Err(SubmitError {
                    code: "unavailable".into(),
                    message: e.to_string(),
                }),
            }
        })
    }
}

/// Rebuilds an engine from what the log holds.
async fn recover_engine(config: &EngineConfig, log: &dyn EventLog) -> Result<Engine, LogError> {
    let recovered = log.recover(config.idempotency_window).await?;
    let mut calls = Vec::with_capacity(recovered.calls.len());
    for (call_id, snapshot) in recovered.calls {
        match serde_json::from_str::<CallState>(&snapshot) {
            Ok(call) => calls.push(call),
            // A snapshot from an incompatible version: the call is forgotten, not the log.
            Err(e) => tracing::warn!(call_id, error = %e, "skipping unreadable call snapshot"),
        }
    }
    Ok(Engine::restore(
        config.clone(),
        recovered.last_seq,
        calls,
        recovered.recent_event_ids,
    ))
}

/// The writer task's state.
struct Writer {
    /// The only engine; nothing else mutates call state.
    engine: Engine,
    /// Group size and engine settings.
    config: GatewayConfig,
    /// Log, hub, calls view, metrics.
    shared: Arc<Shared>,
}

/// A request of the current group that the engine accepted, waiting for the commit.
struct Pending {
    reply: oneshot::Sender<Result<Vec<u64>, IngestError>>,
    seqs: Vec<u64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.recv().await {
            if matches!(first, Command::Stop) {
                break;
            }
            let mut group = vec![first];
            let mut events = group_len(&group[0]);
            let mut stop = false;
            while events < self.config.max_group_events {
                match rx.try_recv() {
                    Ok(Command::Stop) => {
                        stop = true;
                        break;
                    }
                    Ok(cmd) => {
                        events += group_len(&cmd);
                        group.push(cmd);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group).await;
            if stop {
                break;
            }
        }
        // Whatever is still queued after a stop is refused, not silently dropped.
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            if let Command::Append { reply, .. } = cmd {
                let _ = reply.send(Err(IngestError::Unavailable));
            }
        }
        tracing::debug!("ingest writer stopped");
    }

    async fn commit_group(&mut self, group: Vec<Command>) {
        let now = jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let mut pending: Vec<Pending> = Vec::new();
        let mut accepted: Vec<Envelope> = Vec::new();
        let metrics = self.shared.metrics.clone();
        for cmd in group {
            match cmd {
                Command::Check { envelope, reply } => {
                    // Checked against the state including this group's earlier requests.
                    let _ = reply.send(self.engine.check(&envelope));
                }
                Command::Stop => {}
                Command::Append { envelopes, reply } => {
                    // One event is applied or refused whole; only batches need a journal.
                    let checkpoint = (envelopes.len() > 1).then(|| self.engine.checkpoint());
                    let start = accepted.len();
                    let mut seqs = Vec::with_capacity(envelopes.len());
                    let mut refused = None;
                    for (index, envelope) in envelopes.into_iter().enumerate() {
                        let event_type = envelope.event_type();
                        match self.engine.apply(envelope, now) {
                            Ok(Applied::Accepted(e)) => {
                                seqs.push(e.seq.unwrap_or_default());
                                accepted.push(e);
                            }
                            Ok(Applied::Duplicate { seq }) => {
                                metrics.duplicate(event_type);
                                seqs.push(seq);
                            }
                            Err(refusal) => {
                                metrics.refused(event_type, refusal.code());
                                refused = Some(IngestError::Refused { index, refusal });
                                break;
                            }
                        }
                    }
                    match refused {
                        Some(err) => {
                            if let Some(cp) = checkpoint {
                                self.engine.rollback(cp);
                            }
                            accepted.truncate(start);
                            let _ = reply.send(Err(err));
                        }
                        None => {
                            if let Some(cp) = checkpoint {
                                self.engine.commit(cp);
                            }
                            pending.push(Pending { reply, seqs });
                        }
                    }
                }
            }
        }
        if accepted.is_empty() {
            for p in pending {
                let _ = p.reply.send(Ok(p.seqs));
            }
            return;
        }

        // Snapshots of the calls this group changed go into the same transaction.
        let dirty = self.engine.take_dirty();
        let mut snapshots = Vec::new();
        let mut removed = Vec::new();
        let mut view_updates = Vec::new();
        for call_id in dirty {
            // The view shares the engine's version of the call: no copy.
            match self.engine.call_shared(&call_id) {
                Some(call) => {
                    match serde_json::to_string(&*call) {
                        Ok(json) => snapshots.push((call_id.clone(), json)),
                        Err(e) => {
                            tracing::error!(call_id, error = %e, "cannot serialize call snapshot")
                        }
                    }
                    view_updates.push((call_id, Some(call)));
                }
                None => {
                    removed.push(call_id.clone());
                    view_updates.push((call_id, None));
                }
            }
        }
        // Serialized once: the log stores these bytes and subscribers receive them.
        let mut payloads = Vec::with_capacity(accepted.len());
        let mut stored = Vec::with_capacity(accepted.len());
        for envelope in &accepted {
            let json = envelope.to_json();
            stored.push(StoredEvent {
                seq: envelope.seq.unwrap_or_default(),
                timestamp: envelope.timestamp.unwrap_or(now),
                event_type: envelope.event_type(),
                call_id: envelope.call_id().to_owned(),
                agent: envelope.agent.clone(),
                event_id: envelope.event_id.clone(),
                json: json.clone(),
            });
            payloads.push(bytes::Bytes::from(json));
        }
        let batch = AppendBatch {
            events: stored,
            calls: snapshots,
            removed_calls: removed,
        };
        let started = Instant::now();
        let result = self.shared.log.append(batch).await;
        metrics.commit(started.elapsed(), accepted.len());

        match result {
            Ok(()) => {
                {
                    let mut view = self
                        .shared
                        .calls
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for (call_id, state) in view_updates {
                        match state {
                            Some(s) => view.insert(call_id, s),
                            None => view.remove(&call_id),
                        };
                    }
                }
                for (envelope, json) in accepted.into_iter().zip(payloads) {
                    metrics.accepted(envelope.event_type());
                    match Delivered::from_json(envelope, json) {
                        Ok(d) => self.shared.hub.publish(d),
                        Err(e) => tracing::error!(error = %e, "accepted event without seq"),
                    }
                }
                for p in pending {
                    let _ = p.reply.send(Ok(p.seqs));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = accepted.len(), "group commit failed; rebuilding engine from the log");
                let e = Arc::new(e);
                for p in pending {
                    let _ = p.reply.send(Err(IngestError::Storage(e.clone())));
                }
                self.rebuild().await;
            }
        }
    }

    /// After a failed commit the engine is ahead of the log: rebuild it from the log, retrying
    /// with a growing pause; until then the gateway reports itself unhealthy.
    async fn rebuild(&mut self) {
        let mut pause = Duration::from_millis(50);
        loop {
            match recover_engine(&self.config.engine, self.shared.log.as_ref()).await {
                Ok(engine) => {
                    self.engine = engine;
                    self.shared.healthy.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    self.shared.healthy.store(false, Ordering::Relaxed);
                    if e.is_closed() {
                        tracing::error!("event log closed; ingest stops");
                        return;
                    }
                    tracing::error!(error = %e, "cannot rebuild the engine from the log; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

fn group_len(cmd: &Command) -> usize {
    match cmd {
        Command::Append { envelopes, .. } => envelopes.len(),
        Command::Check { .. } | Command::Stop => 1,
    }
}
