//! The events a comparison publishes: valid call flows from [`Workload`], each payload
//! stamped so subscribers can measure latency and find gaps without parsing JSON.
//!
//! Inside `detail`, next to the toolkit's own fields, every payload carries
//! - `benchSentNs`: when the event was *scheduled* to be sent (nanoseconds since the run's
//!   start), written at send time. Latency is measured from the schedule, not from the
//!   actual send, so a publisher held up by a slow system cannot hide the wait;
//! - `benchStep`: the rate step it belongs to;
//! - `benchLane`, `benchLaneSeq`: the publishing lane (calls are spread over lanes, each an
//!   ordered connection) and the event's number in it, 1, 2, 3 ...: a subscriber of every
//!   event sees each lane's numbers consecutively, so a jump is a gap and a repeat a
//!   duplicate;
//! - `benchCallSeq`: the event's number within its call, for subscribers of one call;
//! - `benchPad`: letters that bring the payload to the target size (350 bytes by default,
//!   an `AUDIO_STATS` of a few calls' worth of attributes).
//!
//! The gateway keeps extra `detail` fields as they are, so voicetk, nats-server and the raw
//! writer all carry the same bytes.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use memchr::memmem;
use serde_json::Value;

use crate::workload::{Workload, WorkloadConfig};

/// Stamps and ids a subscriber reads from one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `benchSentNs`.
    pub sent_ns: u64,
    /// `benchStep`.
    pub step: u32,
    /// `benchLane`.
    pub lane: u32,
    /// `benchLaneSeq`.
    pub lane_seq: u64,
    /// `benchCallSeq`.
    pub call_seq: u64,
    /// The gateway's top-level `seq`, when it added one (voicetk does).
    pub seq: Option<u64>,
}

/// One event ready to send: the JSON split where `benchSentNs` goes.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The call's id.
    pub call_id: Arc<str>,
    /// Which publishing lane (ordered connection) carries it.
    pub lane: u32,
    /// JSON up to and including `"detail":{`.
    head: Bytes,
    /// The rest of the JSON, from the first field of `detail` on.
    tail: Bytes,
}

impl Prepared {
    /// The payload with `benchSentNs` set to `sent_ns`.
    pub fn stamped(&self, sent_ns: u64) -> Bytes {
        let mut b = BytesMut::with_capacity(self.head.len() + self.tail.len() + 36);
        self.write_stamped(sent_ns, &mut b);
        b.freeze()
    }

    /// Appends the payload with `benchSentNs` set to `sent_ns` to `out`.
    pub fn write_stamped(&self, sent_ns: u64, out: &mut BytesMut) {
        out.put_slice(&self.head);
        out.put_slice(b"\"benchSentNs\":");
        // Formatted straight into `out`: no String per event on the publisher's path.
        let _ = std::fmt::Write::write_fmt(out, format_args!("{sent_ns}"));
        out.put_u8(b',');
        out.put_slice(&self.tail);
    }
}

/// How a [`Plan`] is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    /// Calls in progress at once.
    pub concurrent_calls: usize,
    /// Publishing lanes; each call is in one.
    pub lanes: u32,
    /// Payloads are padded to at least this many bytes.
    pub payload_bytes: usize,
    /// Seed of the workload.
    pub seed: u64,
    /// Mean conversation events of a call (a huge value keeps the same calls for the run).
    pub mean_call_events: u32,
}

/// The events of every step of one scenario, drawn up front so the publisher only stamps
/// and sends.
#[derive(Debug)]
pub struct Plan {
    workload: Workload,
    config: PlanConfig,
    lane_seq: Vec<u64>,
    call_seq: std::collections::HashMap<Arc<str>, u64>,
}

impl Plan {
    /// A plan over a fresh workload.
    pub fn new(config: PlanConfig) -> Plan {
        let workload = Workload::new(WorkloadConfig {
            seed: config.seed,
            concurrent_calls: config.concurrent_calls,
            mean_call_events: config.mean_call_events,
            ..WorkloadConfig::default()
        });
        Plan {
            workload,
            lane_seq: vec![0; config.lanes.max(1) as usize],
            call_seq: std::collections::HashMap::new(),
            config,
        }
    }

    /// The next `n` events, stamped for `step`.
    pub fn take(&mut self, step: u32, n: usize) -> Vec<Prepared> {
        (0..n)
            .map(|_| {
                let event = self.workload.next_event();
                self.prepare(step, event)
            })
            .collect()
    }

    fn prepare(&mut self, step: u32, mut event: Value) -> Prepared {
        let call_id: Arc<str> = event["detail"]["callId"].as_str().unwrap_or("").into();
        let lane = lane_of(&call_id, self.config.lanes.max(1));
        let lane_seq = {
            let s = &mut self.lane_seq[lane as usize];
            *s += 1;
            *s
        };
        let call_seq = {
            let s = self.call_seq.entry(call_id.clone()).or_insert(0);
            *s += 1;
            *s
        };
        if matches!(event["type"].as_str(), Some("WRAP_UP_ENDED")) {
            // The call's last event: forget it so the map stays the size of the live calls.
            self.call_seq.remove(&call_id);
        }
        if let Some(detail) = event.get_mut("detail").and_then(Value::as_object_mut) {
            detail.insert("benchStep".into(), step.into());
            detail.insert("benchLane".into(), lane.into());
            detail.insert("benchLaneSeq".into(), lane_seq.into());
            detail.insert("benchCallSeq".into(), call_seq.into());
        }
        let mut json = event.to_string();
        // 30 bytes for the stamp written at send time, then pad up to the target size.
        let short = self
            .config
            .payload_bytes
            .saturating_sub(json.len() + 30 + 14);
        if short > 0 {
            if let Some(detail) = event.get_mut("detail").and_then(Value::as_object_mut) {
                detail.insert("benchPad".into(), "x".repeat(short).into());
            }
            json = event.to_string();
        }
        let (head, tail) = match memmem::find(json.as_bytes(), b"\"detail\":{") {
            Some(i) => json.split_at(i + 10),
            None => (json.as_str(), ""),
        };
        Prepared {
            call_id,
            lane,
            head: Bytes::copy_from_slice(head.as_bytes()),
            tail: Bytes::copy_from_slice(tail.as_bytes()),
        }
    }
}

/// The lane of a call: a stable hash of its id.
fn lane_of(call_id: &str, lanes: u32) -> u32 {
    let h = call_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % u64::from(lanes)) as u32
}

/// Searchers for the stamps' keys, built once (a subscriber reads a million payloads a second).
static KEYS: std::sync::LazyLock<[memmem::Finder<'static>; 6]> = std::sync::LazyLock::new(|| {
    [
        memmem::Finder::new(b"\"benchSentNs\":"),
        memmem::Finder::new(b"\"benchStep\":"),
        memmem::Finder::new(b"\"benchLane\":"),
        memmem::Finder::new(b"\"benchLaneSeq\":"),
        memmem::Finder::new(b"\"benchCallSeq\":"),
        memmem::Finder::new(b"\"seq\":"),
    ]
});

/// Reads the stamps of one payload; `None` when it carries none (a heartbeat, a replayed
/// state, another publisher's event).
pub fn read_stamp(payload: &[u8]) -> Option<Stamp> {
    let [sent, step, lane, lane_seq, call_seq, seq] = &*KEYS;
    Some(Stamp {
        sent_ns: number_at(payload, sent)?,
        step: u32::try_from(number_at(payload, step)?).ok()?,
        lane: u32::try_from(number_at(payload, lane)?).ok()?,
        lane_seq: number_at(payload, lane_seq)?,
        call_seq: number_at(payload, call_seq)?,
        seq: number_at(payload, seq),
    })
}

fn number_at(payload: &[u8], key: &memmem::Finder<'_>) -> Option<u64> {
    let at = key.find(payload)? + key.needle().len();
    digits_at(payload, at)
}

/// The unsigned integer right after the first `key` in `payload`.
#[cfg(test)]
fn number_after(payload: &[u8], key: &[u8]) -> Option<u64> {
    let at = memmem::find(payload, key)? + key.len();
    digits_at(payload, at)
}

fn digits_at(payload: &[u8], at: usize) -> Option<u64> {
    let digits = payload[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 19 {
        return None;
    }
    payload[at..at + digits].iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The `callId` of a payload.
pub fn read_call_id(payload: &[u8]) -> Option<&[u8]> {
    let key = b"\"callId\":\"";
    let at = memmem::find(payload, key)? + key.len();
    let len = memchr::memchr(b'"', &payload[at..])?;
    Some(&payload[at..at + len])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use voicetk_events::{ParseOptions, parse_event};

    fn plan(lanes: u32) -> Plan {
        Plan::new(PlanConfig {
            concurrent_calls: 20,
            lanes,
            payload_bytes: 350,
            seed: 3,
            mean_call_events: 24,
        })
    }

    #[test]
    fn stamped_payloads_are_valid_events_of_the_target_size() {
        let mut p = plan(4);
        let events = p.take(2, 500);
        let mut total = 0;
        for (i, e) in events.iter().enumerate() {
            let bytes = e.stamped(1_000_000 + i as u64);
            total += bytes.len();
            assert!(bytes.len() >= 340, "{}", String::from_utf8_lossy(&bytes));
            parse_event(&bytes, &ParseOptions::default()).unwrap();
            let s = read_stamp(&bytes).unwrap();
            assert_eq!(s.sent_ns, 1_000_000 + i as u64);
            assert_eq!(s.step, 2);
            assert_eq!(s.lane, e.lane);
            assert_eq!(s.seq, None);
            assert_eq!(read_call_id(&bytes).unwrap(), e.call_id.as_bytes());
        }
        let mean = total / events.len();
        assert!((340..420).contains(&mean), "mean {mean}");
    }

    #[test]
    fn lane_and_call_numbers_count_up_without_gaps() {
        let mut p = plan(3);
        let mut lanes = [0u64; 3];
        let mut calls = std::collections::HashMap::new();
        for e in p.take(0, 2_000) {
            let s = read_stamp(&e.stamped(1)).unwrap();
            lanes[s.lane as usize] += 1;
            assert_eq!(s.lane_seq, lanes[s.lane as usize]);
            let c = calls.entry(e.call_id.clone()).or_insert(0u64);
            *c += 1;
            assert_eq!(s.call_seq, *c);
        }
        assert!(lanes.iter().all(|&n| n > 300), "{lanes:?}");
    }

    #[test]
    fn numbers_are_read_strictly() {
        assert_eq!(number_after(b"{\"seq\":42,", b"\"seq\":"), Some(42));
        assert_eq!(number_after(b"{\"seq\":-1}", b"\"seq\":"), None);
        assert_eq!(
            number_after(b"{\"seq\":99999999999999999999}", b"\"seq\":"),
            None
        );
        assert_eq!(read_call_id(b"{\"callId\":\"abc\"}"), Some(&b"abc"[..]));
        assert_eq!(read_stamp(b"{\"op\":\"heartbeat\",\"seq\":3}"), None);
    }
}
