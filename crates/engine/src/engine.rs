//! The engine: every call's state, the sequence counter, idempotency, and transactions.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use voicetk_events::{Envelope, TelephonyEvent, TelephonyKind};

use crate::call::CallState;
use crate::error::{Refusal, RefusalKind};
use crate::transition::{apply_effect, evaluate, is_frozen};

/// Default of [`EngineConfig::idempotency_window`]: event ids remembered.
pub const DEFAULT_IDEMPOTENCY_WINDOW: usize = 100_000;

/// Default of [`EngineConfig::closed_call_retention`]: finished calls kept.
pub const DEFAULT_CLOSED_CALL_RETENTION: usize = 10_000;

/// How the engine judges events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EngineConfig {
    /// Which telephony's catalogue applies: Native refuses `AUDIO_STATS`, `CALL_STARTED`,
    /// `SWAP` and `WRAP_UP_ENDED`. Default is [`TelephonyKind::Partner`].
    pub telephony: TelephonyKind,
    /// Accept events that break the call model, marking them with `warnings` (`--lenient`).
    /// Unsupported event types are refused all the same. Default is `false`.
    pub lenient: bool,
    /// How many `eventId`s are remembered for idempotent re-sends; the oldest is forgotten
    /// first. `0` turns idempotency off. Default is [`DEFAULT_IDEMPOTENCY_WINDOW`] (100 000).
    pub idempotency_window: usize,
    /// How many finished calls (closed; for Native telephony also ended) are kept so that a
    /// late event gets a precise "call is closed" refusal rather than "unknown call". Beyond
    /// that the call that finished first is forgotten. Default is
    /// [`DEFAULT_CLOSED_CALL_RETENTION`] (10 000).
    pub closed_call_retention: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            telephony: TelephonyKind::Partner,
            lenient: false,
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
            closed_call_retention: DEFAULT_CLOSED_CALL_RETENTION,
        }
    }
}

/// What [`Engine::apply`] did with an event it did not refuse.
// Accepted is the common case; boxing it would cost an allocation per event to shrink the rare
// Duplicate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The event is new and accepted; here it is stamped with `seq`, `timestamp`, `agent` and,
    /// when lenient, `warnings`. The caller must log it.
    Accepted(Envelope),
    /// An event with the same `eventId` was accepted before as `seq`; nothing changed and
    /// nothing must be delivered again.
    Duplicate {
        /// `seq` of the original event.
        seq: u64,
    },
}

impl Applied {
    /// The event's `seq`: the new one, or the original one for a duplicate.
    pub fn seq(&self) -> u64 {
        match self {
            Applied::Accepted(envelope) => envelope.seq.unwrap_or_default(),
            Applied::Duplicate { seq } => *seq,
        }
    }
}

/// A mark in the engine's history that [`Engine::rollback`] returns to, or that
/// [`Engine::commit`] makes permanent. Get one from [`Engine::checkpoint`].
#[must_use = "pass the checkpoint to Engine::commit or Engine::rollback"]
#[derive(Debug)]
pub struct Checkpoint {
    /// Tells this checkpoint's journal frame apart from any other, in any engine.
    generation: u64,
}

/// Source of checkpoint generations: process-wide, so a checkpoint handed to the wrong engine
/// is recognised as foreign rather than matching that engine's own frame by accident.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// Everything [`Engine::restore`] needs to rebuild an engine, as [`Engine::snapshot`] gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineSnapshot {
    /// The last `seq` handed out.
    pub last_seq: u64,
    /// Every tracked call, ordered by `callId`.
    pub calls: Vec<CallState>,
    /// The remembered `eventId`s with their `seq`, oldest first.
    pub recent_event_ids: Vec<(String, u64)>,
}

/// The per-call state machine of the whole gateway (CONTRACT.md §2).
///
/// It judges each event against its call's state ([`apply`](Self::apply),
/// [`check`](Self::check)), numbers accepted events gap-free, recognises re-sent events by
/// `eventId`, and can undo a batch ([`checkpoint`](Self::checkpoint)). It does no I/O and takes
/// the clock as an argument, so it is deterministic.
///
/// The engine is `Send + Sync` but not internally locked: one owner (the log's writer task)
/// drives it, or callers wrap it in a mutex.
///
/// # Examples
/// ```
/// use voicetk_engine::{Applied, Engine, EngineConfig};
/// use voicetk_events::{Envelope, EventType, TelephonyEvent};
///
/// let mut engine = Engine::new(EngineConfig::default());
/// let now = jiff::Timestamp::UNIX_EPOCH;
/// let mute = TelephonyEvent::call_only(EventType::Mute, "c-1").ok_or("not call-only")?;
/// // Nothing is known about c-1 yet, so the checkpointed batch fails and is undone.
/// let cp = engine.checkpoint();
/// assert!(engine.apply(Envelope::new(mute), now).is_err());
/// engine.rollback(cp);
/// assert_eq!(engine.last_seq(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    /// How events are judged; fixed for the engine's life.
    config: EngineConfig,
    /// The last `seq` handed out; the next accepted event gets `last_seq + 1`.
    last_seq: u64,
    /// Every tracked call by `callId`.
    /// Shared (`Arc`) so a reader such as the gateway's calls view can hold a snapshot
    /// without copying it; a change copies the call only while someone else holds it.
    calls: HashMap<String, Arc<CallState>>,
    /// The finished calls as `(last_seq, callId)`: a finished call never changes, so its
    /// `last_seq` orders calls by when they finished, oldest first, for eviction.
    finished: BTreeSet<(u64, String)>,
    /// Remembered `eventId` → `seq` of the event that carried it.
    event_ids: HashMap<Arc<str>, u64>,
    /// The same ids in the order they were remembered, for FIFO eviction. Shares the strings
    /// with `event_ids` to keep the window at one copy of each id.
    event_id_order: VecDeque<Arc<str>>,
    /// Calls changed since the last `take_dirty` (including evicted ones).
    dirty: HashSet<String>,
    /// Open checkpoints, outermost first; each journals what it needs to undo.
    frames: Vec<Frame>,
    /// Changes to the idempotency window while a checkpoint is open, oldest first.
    id_undo: Vec<IdChange>,
    /// Changes to the dirty set while a checkpoint is open, oldest first: journaling them is
    /// O(change), where copying the set at each checkpoint was O(set) per request.
    dirty_undo: Vec<DirtyChange>,
}

/// What one open checkpoint needs to restore the engine.
#[derive(Debug)]
struct Frame {
    /// The generation of the matching [`Checkpoint`].
    generation: u64,
    /// `last_seq` at the checkpoint.
    last_seq: u64,
    /// Length of `Engine::dirty_undo` at the checkpoint.
    dirty_mark: usize,
    /// Each call touched since the checkpoint, as it was then (`None`: it did not exist).
    calls: HashMap<String, Option<Arc<CallState>>>,
    /// Length of `Engine::id_undo` at the checkpoint.
    id_mark: usize,
}

/// One change to the dirty set, journaled so a rollback can undo it.
#[derive(Debug)]
enum DirtyChange {
    /// The id was not in the set and was added.
    Added(String),
    /// `take_dirty` handed these ids out.
    Taken(Vec<String>),
}

/// One change to the idempotency window, journaled so a rollback can undo it.
#[derive(Debug)]
enum IdChange {
    /// An id was pushed at the back.
    Remembered,
    /// The id at the front, with its seq, was evicted.
    Forgotten(Arc<str>, u64),
}

impl Engine {
    /// An engine with no calls; the first accepted event gets `seq` 1.
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            config,
            last_seq: 0,
            calls: HashMap::new(),
            finished: BTreeSet::new(),
            event_ids: HashMap::new(),
            event_id_order: VecDeque::new(),
            dirty: HashSet::new(),
            frames: Vec::new(),
            id_undo: Vec::new(),
            dirty_undo: Vec::new(),
        }
    }

    /// How this engine judges events.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Validates `envelope` against its call's state and applies it.
    ///
    /// When accepted, the returned envelope is stamped: `seq` = [`last_seq`](Self::last_seq)
    /// `+ 1` (gap-free), `timestamp` = `now`, `agent` filled from the call when the event names
    /// none (the call records its agent from the first event that names one; a later event
    /// naming another agent keeps its own `agent` and does not change the call's), `warnings`
    /// set to the lenient warnings (empty when strict: a source cannot inject warnings), and
    /// `replayed` cleared (it is delivery's to set).
    ///
    /// An `eventId` seen before, within the idempotency window, returns
    /// [`Applied::Duplicate`] with the original `seq` without judging the event again: a
    /// re-sent HOLD must not be refused as "already on hold".
    ///
    /// # Errors
    /// A [`Refusal`] when the event type does not exist in the configured telephony
    /// ([`RefusalKind::UnsupportedEvent`], also when lenient) or, unless lenient, when the event
    /// makes no sense in its call's state ([`RefusalKind::InvalidTransition`]). Nothing changes.
    ///
    /// # Examples
    /// ```
    /// use voicetk_engine::{Applied, Engine, EngineConfig};
    /// use voicetk_events::{Envelope, EventType, TelephonyEvent};
    ///
    /// let mut engine = Engine::new(EngineConfig::default());
    /// let now: jiff::Timestamp = "2025-03-01T10:00:00Z".parse()?;
    /// let hold = TelephonyEvent::with_participant(EventType::Hold, "c-1", "+1 415 555 0100")
    ///     .ok_or("not a participant event")?;
    /// let mut envelope = Envelope::new(hold);
    /// envelope.event_id = Some("evt-7".into());
    ///
    /// // Strict: HOLD cannot open a call.
    /// let refusal = engine.apply(envelope.clone(), now).unwrap_err();
    /// assert_eq!(refusal.code(), "invalid_transition");
    ///
    /// // Lenient: accepted with a warning, the caller added on hold.
    /// let mut engine = Engine::new(EngineConfig { lenient: true, ..EngineConfig::default() });
    /// let Applied::Accepted(stamped) = engine.apply(envelope.clone(), now)? else {
    ///     unreachable!("first time")
    /// };
    /// assert_eq!((stamped.seq, stamped.timestamp, stamped.warnings.len()), (Some(1), Some(now), 1));
    /// assert_eq!(engine.call("c-1").map(|c| c.on_hold().count()), Some(1));
    ///
    /// // The same eventId again: the original seq, nothing else.
    /// assert_eq!(engine.apply(envelope, now)?, Applied::Duplicate { seq: 1 });
    /// assert_eq!(engine.last_seq(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, mut envelope: Envelope, now: Timestamp) -> Result<Applied, Refusal> {
        if let Some(seq) = self.duplicate_of(&envelope) {
            return Ok(Applied::Duplicate { seq });
        }
        let warnings = self.verdict(&envelope).inspect_err(|refusal| {
            tracing::debug!(code = refusal.code(), message = %refusal.message, "event refused");
        })?;
        let seq = self.last_seq + 1;
        self.last_seq = seq;

        let frozen = self
            .calls
            .get(envelope.call_id())
            .filter(|call| is_frozen(call, envelope.event_type()));
        let call_agent = match frozen {
            // Logged, but the finished call's snapshot stays as it was.
            Some(call) => call.agent.clone(),
            None => self.change_call(&envelope.event, envelope.agent.as_deref(), seq, now),
        };
        if envelope.agent.is_none() {
            envelope.agent = call_agent;
        }
        if let Some(id) = &envelope.event_id {
            self.remember_event_id(id, seq);
        }
        envelope.seq = Some(seq);
        envelope.timestamp = Some(now);
        envelope.warnings = warnings;
        envelope.replayed = false;
        Ok(Applied::Accepted(envelope))
    }

    /// Dry run of [`apply`](Self::apply): would `envelope` be accepted now? Changes nothing.
    ///
    /// Returns the warnings a lenient engine would attach (always empty when strict); a
    /// duplicate `eventId` is accepted (as a duplicate) with no warnings.
    ///
    /// # Errors
    /// The [`Refusal`] that `apply` would return.
    ///
    /// # Examples
    /// ```
    /// use voicetk_engine::{Engine, EngineConfig};
    /// use voicetk_events::{Envelope, EventType, TelephonyEvent};
    ///
    /// let engine = Engine::new(EngineConfig::default());
    /// let end = Envelope::new(TelephonyEvent::call_only(EventType::CallEnded, "c-1").ok_or("?")?);
    /// assert!(engine.check(&end).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, envelope: &Envelope) -> Result<Vec<String>, Refusal> {
        if self.duplicate_of(envelope).is_some() {
            return Ok(Vec::new());
        }
        self.verdict(envelope)
    }

    /// The last `seq` handed out (0 before the first event).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The state of one call, if tracked.
    pub fn call(&self, call_id: &str) -> Option<&CallState> {
        self.calls.get(call_id).map(|c| &**c)
    }

    /// A shared handle to one call's current state: cheap to keep (no copy); the engine copies
    /// the call before changing it while such a handle is alive.
    pub fn call_shared(&self, call_id: &str) -> Option<Arc<CallState>> {
        self.calls.get(call_id).cloned()
    }

    /// Every tracked call, finished ones included, in no particular order.
    pub fn calls(&self) -> impl Iterator<Item = &CallState> {
        self.calls.values().map(|c| &**c)
    }

    /// The calls that are not finished, in no particular order: started, connected, and, for
    /// Partner telephony, ended ones whose after-call work (until `WRAP_UP_ENDED`) still
    /// belongs to the agent. Native telephony has no `WRAP_UP_ENDED`, so there an ended call is
    /// finished. See [`CallState::is_finished`].
    pub fn active_calls(&self) -> impl Iterator<Item = &CallState> {
        let telephony = self.config.telephony;
        self.calls
            .values()
            .map(|c| &**c)
            .filter(move |call| !call.is_finished(telephony))
    }

    /// Opens a transaction: until [`commit`](Self::commit) or [`rollback`](Self::rollback) of
    /// the returned checkpoint, every change is journaled (the prior state of each touched
    /// call, `last_seq`, the idempotency window, the dirty set) so that `rollback` restores the
    /// engine exactly. Used for all-or-nothing batches and for a failed durable commit.
    ///
    /// Checkpoints nest: a checkpoint taken while another is open is resolved inside it.
    /// Resolving a checkpoint also resolves the checkpoints taken after it that are still
    /// open (committing the outer one commits the inner ones; rolling it back undoes them).
    /// A checkpoint that is already resolved, or that belongs to another engine, is ignored
    /// with a logged warning. A checkpoint dropped without being resolved keeps its journal
    /// until an enclosing checkpoint is resolved; an outermost one keeps it for good, so
    /// always resolve checkpoints.
    pub fn checkpoint(&mut self) -> Checkpoint {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        self.frames.push(Frame {
            generation,
            last_seq: self.last_seq,
            dirty_mark: self.dirty_undo.len(),
            calls: HashMap::new(),
            id_mark: self.id_undo.len(),
        });
        Checkpoint { generation }
    }

    /// Undoes every change made since `cp` was taken: calls, `last_seq`, remembered event ids
    /// (an id first seen after `cp` is forgotten, one evicted since is remembered again) and
    /// the dirty set are as they were at `cp`.
    pub fn rollback(&mut self, cp: Checkpoint) {
        let Some(pos) = self.frame_of(&cp) else {
            return;
        };
        while self.frames.len() > pos {
            if let Some(frame) = self.frames.pop() {
                self.undo(frame);
            }
        }
    }

    /// Keeps every change made since `cp` was taken and drops its journal (inside an enclosing
    /// checkpoint, the changes stay undoable by that one).
    pub fn commit(&mut self, cp: Checkpoint) {
        let Some(pos) = self.frame_of(&cp) else {
            return;
        };
        let resolved = self.frames.split_off(pos);
        match self.frames.last_mut() {
            Some(parent) => {
                // The parent keeps its own, older, prior states.
                for frame in resolved {
                    for (id, prior) in frame.calls {
                        parent.calls.entry(id).or_insert(prior);
                    }
                }
            }
            None => {
                self.id_undo.clear();
                self.dirty_undo.clear();
            }
        }
    }

    /// Rebuilds an engine after a restart from what the log persisted: the last `seq`, the
    /// call snapshots, and the recent `(eventId, seq)` pairs (any order; only the newest
    /// `idempotency_window` are kept, and an id listed twice keeps its first `seq`).
    ///
    /// The input is trusted to come from an engine's snapshots. Two safety nets: `last_seq`
    /// is raised to the highest `seq` found in `calls` or `recent_event_ids`, so a `seq` is
    /// never handed out twice; and finished calls beyond `closed_call_retention` are evicted
    /// (and reported by [`take_dirty`](Self::take_dirty)).
    ///
    /// # Examples
    /// ```
    /// use voicetk_engine::{Engine, EngineConfig};
    /// let engine = Engine::restore(EngineConfig::default(), 41, Vec::new(), vec![("e-1".into(), 41)]);
    /// assert_eq!(engine.last_seq(), 41);
    /// ```
    pub fn restore(
        config: EngineConfig,
        last_seq: u64,
        calls: Vec<CallState>,
        mut recent_event_ids: Vec<(String, u64)>,
    ) -> Engine {
        let mut engine = Engine::new(config);
        let telephony = engine.config.telephony;
        engine.last_seq = last_seq;
        for call in calls {
            engine.last_seq = engine.last_seq.max(call.last_seq);
            if call.is_finished(telephony) {
                engine
                    .finished
                    .insert((call.last_seq, call.call_id.clone()));
            }
            if let Some(replaced) = engine.calls.insert(call.call_id.clone(), Arc::new(call)) {
                engine
                    .finished
                    .remove(&(replaced.last_seq, replaced.call_id.clone()));
            }
        }
        recent_event_ids.sort_by_key(|&(_, seq)| seq);
        let keep_from = recent_event_ids
            .len()
            .saturating_sub(engine.config.idempotency_window);
        for (id, seq) in recent_event_ids.drain(..).skip(keep_from) {
            engine.last_seq = engine.last_seq.max(seq);
            if !engine.event_ids.contains_key(id.as_str()) {
                engine.remember_event_id(&id, seq);
            }
        }
        engine.evict_finished();
        engine
    }

    /// Everything [`restore`](Self::restore) needs, in a deterministic order: calls by
    /// `callId`, event ids oldest first. Two engines in the same state give equal snapshots.
    pub fn snapshot(&self) -> EngineSnapshot {
        let mut calls: Vec<CallState> = self.calls.values().map(|c| (**c).clone()).collect();
        calls.sort_by(|a, b| a.call_id.cmp(&b.call_id));
        let recent_event_ids = self
            .event_id_order
            .iter()
            .map(|id| {
                let seq = self.event_ids.get(id).copied().unwrap_or_default();
                (id.to_string(), seq)
            })
            .collect();
        EngineSnapshot {
            last_seq: self.last_seq,
            calls,
            recent_event_ids,
        }
    }

    /// The ids of the calls changed since the last call of this function, in no particular
    /// order, so the log can persist their snapshots in the same transaction as the events.
    ///
    /// For each id, [`call`](Self::call) gives the snapshot to write; `None` means the call was
    /// evicted (see [`EngineConfig::closed_call_retention`]) and its snapshot should be deleted.
    /// A rollback restores the set as it was at the checkpoint, ids taken since included.
    pub fn take_dirty(&mut self) -> Vec<String> {
        let ids: Vec<String> = self.dirty.drain().collect();
        if !self.frames.is_empty() && !ids.is_empty() {
            self.dirty_undo.push(DirtyChange::Taken(ids.clone()));
        }
        ids
    }

    /// Marks a call changed, journaling the addition under an open checkpoint.
    fn mark_dirty(&mut self, call_id: &str) {
        if self.dirty.contains(call_id) {
            return;
        }
        self.dirty.insert(call_id.to_owned());
        if !self.frames.is_empty() {
            self.dirty_undo.push(DirtyChange::Added(call_id.to_owned()));
        }
    }

    /// The `seq` of an earlier event with the same `eventId`, if remembered.
    fn duplicate_of(&self, envelope: &Envelope) -> Option<u64> {
        let id = envelope.event_id.as_deref()?;
        self.event_ids.get(id).copied()
    }

    /// The strict verdict, turned into warnings when lenient.
    fn verdict(&self, envelope: &Envelope) -> Result<Vec<String>, Refusal> {
        let call = self.call(envelope.call_id());
        match evaluate(self.config.telephony, call, &envelope.event) {
            Ok(()) => Ok(Vec::new()),
            Err(refusal)
                if self.config.lenient && refusal.kind == RefusalKind::InvalidTransition =>
            {
                Ok(vec![refusal.message])
            }
            Err(refusal) => Err(refusal),
        }
    }

    /// Applies an accepted event to its call, creating the call if needed; returns the call's
    /// agent.
    fn change_call(
        &mut self,
        event: &TelephonyEvent,
        agent: Option<&str>,
        seq: u64,
        now: Timestamp,
    ) -> Option<String> {
        let telephony = self.config.telephony;
        let call_id = event.call_id();
        self.touch(call_id);
        self.mark_dirty(call_id);
        let opened = !self.calls.contains_key(call_id);
        if opened {
            self.calls.insert(
                call_id.to_owned(),
                Arc::new(CallState::blank(call_id, seq, now)),
            );
        }
        // Copies the call only if a checkpoint or a reader still holds this version.
        let call = Arc::make_mut(self.calls.get_mut(call_id)?);
        let was_finished = call.is_finished(telephony);
        apply_effect(call, event, opened, seq, now);
        call.updated_at = now;
        call.last_seq = seq;
        call.event_count += 1;
        if call.agent.is_none() {
            call.agent = agent.map(str::to_owned);
        }
        let call_agent = call.agent.clone();
        if call.is_finished(telephony) && !was_finished {
            self.finished.insert((seq, call_id.to_owned()));
            self.evict_finished();
        }
        call_agent
    }

    /// Forgets the calls that finished first while more than `closed_call_retention` are kept.
    fn evict_finished(&mut self) {
        while self.finished.len() > self.config.closed_call_retention {
            let Some((_, call_id)) = self.finished.pop_first() else {
                break;
            };
            self.touch(&call_id);
            self.calls.remove(&call_id);
            self.mark_dirty(&call_id);
        }
    }

    /// Journals the state of `call_id` before its first change under the innermost checkpoint.
    fn touch(&mut self, call_id: &str) {
        if let Some(frame) = self.frames.last_mut() {
            if !frame.calls.contains_key(call_id) {
                frame
                    .calls
                    .insert(call_id.to_owned(), self.calls.get(call_id).cloned());
            }
        }
    }

    fn remember_event_id(&mut self, id: &str, seq: u64) {
        if self.config.idempotency_window == 0 {
            return;
        }
        let journaled = !self.frames.is_empty();
        let id: Arc<str> = Arc::from(id);
        self.event_ids.insert(Arc::clone(&id), seq);
        self.event_id_order.push_back(id);
        if journaled {
            self.id_undo.push(IdChange::Remembered);
        }
        while self.event_id_order.len() > self.config.idempotency_window {
            let Some(oldest) = self.event_id_order.pop_front() else {
                break;
            };
            let seq = self.event_ids.remove(&oldest).unwrap_or_default();
            if journaled {
                self.id_undo.push(IdChange::Forgotten(oldest, seq));
            }
        }
    }

    /// The position of `cp`'s frame, or `None` (logged) when it is not open in this engine.
    fn frame_of(&self, cp: &Checkpoint) -> Option<usize> {
        let pos = self
            .frames
            .iter()
            .position(|f| f.generation == cp.generation);
        if pos.is_none() {
            tracing::warn!(
                generation = cp.generation,
                "ignoring a checkpoint that is already resolved or belongs to another engine"
            );
        }
        pos
    }

    /// Restores the engine to the state `frame` journaled.
    fn undo(&mut self, frame: Frame) {
        let telephony = self.config.telephony;
        for (call_id, prior) in frame.calls {
            if let Some(current) = self.calls.remove(&call_id) {
                if current.is_finished(telephony) {
                    self.finished.remove(&(current.last_seq, call_id.clone()));
                }
            }
            if let Some(prior) = prior {
                if prior.is_finished(telephony) {
                    self.finished.insert((prior.last_seq, call_id.clone()));
                }
                self.calls.insert(call_id, prior);
            }
        }
        while self.id_undo.len() > frame.id_mark {
            match self.id_undo.pop() {
                Some(IdChange::Remembered) => {
                    if let Some(id) = self.event_id_order.pop_back() {
                        self.event_ids.remove(&id);
                    }
                }
                Some(IdChange::Forgotten(id, seq)) => {
                    self.event_ids.insert(Arc::clone(&id), seq);
                    self.event_id_order.push_front(id);
                }
                None => break,
            }
        }
        while self.dirty_undo.len() > frame.dirty_mark {
            match self.dirty_undo.pop() {
                Some(DirtyChange::Added(id)) => {
                    self.dirty.remove(&id);
                }
                Some(DirtyChange::Taken(ids)) => self.dirty.extend(ids),
                None => break,
            }
        }
        self.last_seq = frame.last_seq;
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
