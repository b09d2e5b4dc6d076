//! What subscribers saw, step by step: counts, latency, gaps and duplicates.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::peer::{Peer, SubConn};
use super::stream::{read_call_id, read_stamp};
use crate::latency::LatencyRecorder;

/// Everything subscribers received during one step (by `benchStep`, whenever it arrived).
#[derive(Debug, Clone, Default)]
pub struct StepTally {
    /// Payloads received.
    pub received: u64,
    /// Missing events detected (a lane or call number jumped).
    pub gaps: u64,
    /// Events received again or out of order.
    pub duplicates: u64,
    /// Receive time minus scheduled send time.
    pub latency: LatencyRecorder,
    /// The last receive time, in ns since the run's start.
    pub last_ns: u64,
}

/// The tallies of all subscribers of one run, shared with their tasks. The harness runs on
/// one thread, so the lock is never contended.
#[derive(Debug, Clone)]
pub struct Collector {
    inner: Arc<Mutex<Inner>>,
    base: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    steps: Vec<StepTally>,
    /// Subscribers that stopped with an error or were closed by the server.
    lost: Vec<String>,
    /// Subscribers connected again after a drop.
    reconnected: u64,
    /// When the last of them was subscribed again, ns since the run's start.
    last_reconnect_ns: u64,
}

impl Collector {
    /// A collector timing everything from `base`.
    pub fn new(base: Instant) -> Collector {
        Collector {
            inner: Arc::new(Mutex::new(Inner::default())),
            base,
        }
    }

    /// Nanoseconds since the run's start.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of step `step`'s tally.
    pub fn step(&self, step: u32) -> StepTally {
        self.lock()
            .steps
            .get(step as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// Received count of step `step` so far.
    pub fn received(&self, step: u32) -> u64 {
        self.lock()
            .steps
            .get(step as usize)
            .map_or(0, |s| s.received)
    }

    /// Why subscribers stopped, if any did.
    pub fn lost(&self) -> Vec<String> {
        self.lock().lost.clone()
    }

    /// Subscribers reconnected after a drop.
    pub fn reconnected(&self) -> u64 {
        self.lock().reconnected
    }

    /// When the last reconnected subscriber was subscribed again, ns since the run's start.
    pub fn last_reconnect_ns(&self) -> u64 {
        self.lock().last_reconnect_ns
    }

    fn record(&self, step: u32, now_ns: u64, sent_ns: u64, gap: u64, duplicate: bool) {
        let mut inner = self.lock();
        let i = step as usize;
        if inner.steps.len() <= i {
            inner.steps.resize_with(i + 1, StepTally::default);
        }
        let s = &mut inner.steps[i];
        s.received += 1;
        s.gaps += gap;
        s.duplicates += u64::from(duplicate);
        s.latency.record_nanos(now_ns.saturating_sub(sent_ns));
        s.last_ns = s.last_ns.max(now_ns);
    }
}

/// What one subscriber listens to.
#[derive(Debug, Clone)]
pub enum Interest {
    /// Every event: gaps are found per publishing lane.
    All,
    /// One call's events: gaps are found by the call's numbers.
    Call(Arc<str>),
}

/// Lane numbers at or above this are not tracked (see [`Seen::check`]).
const MAX_LANES: usize = 1 << 16;

/// One subscriber's memory of what it saw, kept across reconnects.
#[derive(Debug, Default)]
struct Seen {
    /// Last number per lane, indexed by lane (for `All`), or of the call (for `Call`, index
    /// 0). Lanes are a few small numbers: a `Vec`, not a hash, on every delivery.
    last: Vec<u64>,
    /// The gateway's last `seq` (voicetk), to resume after.
    last_seq: Option<u64>,
}

impl Seen {
    /// `(gap, duplicate)` for number `n` in series `key`.
    fn check(&mut self, key: u32, n: u64) -> (u64, bool) {
        let i = key as usize;
        if i >= MAX_LANES {
            // No publisher has that many lanes: a mangled stamp, counted as a duplicate.
            return (0, true);
        }
        if self.last.len() <= i {
            self.last.resize(i + 1, 0);
        }
        let last = &mut self.last[i];
        if n == *last + 1 {
            *last = n;
            (0, false)
        } else if n > *last + 1 {
            let gap = n - *last - 1;
            *last = n;
            (gap, false)
        } else {
            (0, true)
        }
    }
}

/// Runs one subscriber until `stop`: reads payloads and tallies them. When `reconnect`
/// changes, it drops its connection and subscribes again, resuming after the last `seq` it
/// saw where the peer supports it (voicetk).
pub async fn run_subscriber(
    peer: Arc<Peer>,
    mut conn: SubConn,
    interest: Interest,
    collector: Collector,
    mut reconnect: watch::Receiver<u64>,
    stop: CancellationToken,
    id: usize,
) {
    let mut seen = Seen::default();
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => {
                conn.close().await;
                return;
            }
            changed = reconnect.changed() => {
                if changed.is_err() {
                    continue;
                }
                // A drop, as when a network blips: no close handshake.
                drop(conn);
                let call = match &interest {
                    Interest::All => None,
                    Interest::Call(c) => Some(c.as_ref()),
                };
                // Resume after the last seq seen; a subscriber that saw none resumes after 0
                // (the whole log) rather than taking a replay of call states.
                let after = peer.voicetk_base().map(|_| seen.last_seq.unwrap_or(0));
                match peer.subscribe(call, after).await {
                    Ok(c) => {
                        conn = c;
                        let now = collector.now_ns();
                        let mut inner = collector.lock();
                        inner.reconnected += 1;
                        inner.last_reconnect_ns = inner.last_reconnect_ns.max(now);
                    }
                    Err(e) => {
                        collector.lock().lost.push(format!("subscriber {id}: reconnecting: {e}"));
                        return;
                    }
                }
            }
            next = conn.next_payload() => match next {
                Ok(Some(payload)) => tally(&payload, &interest, &mut seen, &collector),
                Ok(None) => {
                    if !stop.is_cancelled() {
                        collector.lock().lost.push(format!("subscriber {id}: closed by the server"));
                    }
                    return;
                }
                Err(e) => {
                    collector.lock().lost.push(format!("subscriber {id}: {e}"));
                    return;
                }
            }
        }
    }
}

fn tally(payload: &Bytes, interest: &Interest, seen: &mut Seen, collector: &Collector) {
    let now = collector.now_ns();
    let Some(stamp) = read_stamp(payload) else {
        return;
    };
    if let Some(seq) = stamp.seq {
        seen.last_seq = Some(seq);
    }
    let (gap, dup) = match interest {
        Interest::All => seen.check(stamp.lane, stamp.lane_seq),
        Interest::Call(call) => {
            if read_call_id(payload) != Some(call.as_bytes()) {
                // Another call's event: a filtering bug of the peer, counted as a duplicate.
                (0, true)
            } else {
                seen.check(0, stamp.call_seq)
            }
        }
    };
    collector.record(stamp.step, now, stamp.sent_ns, gap, dup);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_find_gaps_and_duplicates() {
        let mut s = Seen::default();
        assert_eq!(s.check(0, 1), (0, false));
        assert_eq!(s.check(0, 2), (0, false));
        assert_eq!(s.check(0, 5), (2, false));
        assert_eq!(s.check(0, 5), (0, true));
        assert_eq!(s.check(0, 3), (0, true));
        assert_eq!(s.check(1, 1), (0, false));
        assert_eq!(s.check(0, 6), (0, false));
        assert_eq!(s.check(u32::MAX, 1), (0, true));
    }
}
