//! Realistic, engine-valid event streams: many concurrent calls, interleaved.

mod call;
mod payload;
mod rng;

pub use call::CallFlow;
pub(crate) use rng::mix;

use serde_json::Value;
use voicetk_events::{Channel, EventType};

use rng::Rng;

/// How a [`Workload`] generates events. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Seed of every random choice: the same configuration gives the same events.
    /// Default is 1.
    pub seed: u64,
    /// Which generator this is (a client of the load harness). It is part of every `callId`,
    /// so generators with different streams never share a call. Default is 0.
    pub stream: u16,
    /// Calls in progress at any time; their events are interleaved at random. Default is 100.
    pub concurrent_calls: usize,
    /// Mean number of conversation events of a connected call, drawn uniformly from half to
    /// one and a half times this. `AUDIO_STATS` dominate, as in a real call (two per 30 s
    /// interval). Default is 24.
    pub mean_call_events: u32,
    /// Percentage of calls that end while still ringing. Default is 5.
    pub abandoned_percent: u8,
    /// How many agents the calls are spread over (`agent-001`, ...). Default is 50.
    pub agents: u32,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            seed: 1,
            stream: 0,
            concurrent_calls: 100,
            mean_call_events: 24,
            abandoned_percent: 5,
            agents: 50,
        }
    }
}

/// An endless stream of telephony event payloads (`serde_json::Value`s) from many concurrent
/// calls, each following a [`CallFlow`], so every event is accepted by a strict
/// [`Engine`](voicetk_engine::Engine) fed the stream in order. When a call ends, a new one
/// takes its place. `callId`s are unique within a stream and across streams.
///
/// # Examples
/// ```
/// use voicetk_bench::{Workload, WorkloadConfig};
///
/// let mut workload = Workload::new(WorkloadConfig { concurrent_calls: 10, ..WorkloadConfig::default() });
/// let batch = workload.take_events(100);
/// assert_eq!(batch.len(), 100);
/// assert!(batch.iter().all(|e| e["detail"]["callId"].is_string()));
/// ```
#[derive(Debug, Clone)]
pub struct Workload {
    config: WorkloadConfig,
    rng: Rng,
    /// The calls in progress; `None` until a slot's first call is opened.
    calls: Vec<Option<CallFlow>>,
    /// Calls opened so far; the per-stream part of the next `callId`.
    opened: u32,
}

impl Workload {
    /// A workload with `config`.
    pub fn new(config: WorkloadConfig) -> Workload {
        let slots = config.concurrent_calls.max(1);
        Workload {
            rng: Rng::new(rng::mix(config.seed ^ (u64::from(config.stream) << 48))),
            calls: vec![None; slots],
            opened: 0,
            config,
        }
    }

    /// The next event of a call chosen at random among those in progress.
    pub fn next_event(&mut self) -> Value {
        let slot = self.rng.below(self.calls.len() as u64) as usize;
        loop {
            if let Some(event) = self.calls[slot].as_mut().and_then(CallFlow::next_event) {
                return event;
            }
            self.calls[slot] = Some(self.open_call());
        }
    }

    /// The next `n` events.
    pub fn take_events(&mut self, n: usize) -> Vec<Value> {
        (0..n).map(|_| self.next_event()).collect()
    }

    /// Ends every call in progress and returns their remaining events (pending `AUDIO_STATS`
    /// halves, `CALL_ENDED`, `WRAP_UP_ENDED`). The workload then starts new calls.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        for call in self.calls.iter_mut().flatten() {
            call.end();
            out.extend(std::iter::from_fn(|| call.next_event()));
        }
        self.calls.iter_mut().for_each(|c| *c = None);
        out
    }

    /// How many calls have been opened so far.
    pub fn calls_opened(&self) -> u64 {
        u64::from(self.opened)
    }

    fn open_call(&mut self) -> CallFlow {
        let id = payload::call_id(&mut self.rng, self.config.stream, self.opened);
        self.opened = self.opened.wrapping_add(1);
        let agent = format!(
            "agent-{:03}",
            1 + self.rng.below(u64::from(self.config.agents.max(1)))
        );
        let mean = u64::from(self.config.mean_call_events);
        let events = self.rng.between(mean / 2, mean + mean / 2) as u32;
        let flow = CallFlow::new(id, self.rng.next_u64())
            .with_agent(agent)
            .ending_after(events);
        if self.rng.percent(u64::from(self.config.abandoned_percent)) {
            flow.abandoned()
        } else {
            flow
        }
    }
}

impl Iterator for Workload {
    type Item = Value;

    /// Never `None`: the stream is endless.
    fn next(&mut self) -> Option<Value> {
        Some(self.next_event())
    }
}

/// The six events of a typical connected call, as the memory measurement opens them:
/// `CALL_STARTED`, `CALL_CONNECTED` with `callAttributes`, `HOLD` and `RESUME` of the caller,
/// and one `AUDIO_STATS` per channel. `index` makes the `callId` unique.
///
/// # Examples
/// ```
/// let events = voicetk_bench::typical_call(7);
/// assert_eq!(events.len(), 6);
/// assert_eq!(events[1]["type"], "CALL_CONNECTED");
/// assert!(events[1]["detail"]["callAttributes"].is_object());
/// ```
pub fn typical_call(index: u32) -> Vec<Value> {
    let mut rng = Rng::new(rng::mix(u64::from(index)));
    let id = payload::call_id(&mut rng, u16::MAX, index);
    let caller = payload::phone_number(&mut rng);
    let agent = format!("agent-{:03}", 1 + index % 50);
    vec![
        payload::call_started(&id, "inbound", &caller, Some(&agent)),
        payload::call_connected(&id, "inbound", &caller, &mut rng),
        payload::participant_event(EventType::Hold, &id, &caller),
        payload::participant_event(EventType::Resume, &id, &caller),
        payload::audio_stats(&id, Channel::Input, &mut rng),
        payload::audio_stats(&id, Channel::Output, &mut rng),
    ]
}

/// A payload as compact JSON bytes.
pub fn to_bytes(event: &Value) -> Vec<u8> {
    // `Display` of a `Value` cannot fail, unlike `to_vec`'s signature suggests.
    event.to_string().into_bytes()
}

#[cfg(test)]
mod tests;
