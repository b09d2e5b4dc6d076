//! The whole payload: the event plus the top-level fields voicetk adds or carries.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::event::{Extra, TelephonyEvent};
use crate::kind::{Channel, EventType};
use crate::parse::{ParseOptions, from_value};

/// A telephony event as it travels: `{"type", "detail", ...top-level fields}`.
///
/// Besides `type` and `detail`, a delivered payload carries `seq`, `timestamp` and `agent`
/// (CONTRACT.md §1); a source may send `eventId` for idempotency; the engine may add
/// `warnings` (lenient mode) and delivery may add `replayed`. Any other top-level field is kept
/// in [`extra`](Self::extra) and written back unchanged.
///
/// # Examples
/// ```
/// use voicetk_events::{Envelope, EventType, ParseOptions, parse_event};
/// let env = parse_event(
///     br#"{"type":"callstarted","detail":{"callId":"c1","callType":"inbound","participant":"+1 415 555 0100"}}"#,
///     &ParseOptions::default(),
/// )?;
/// assert_eq!(env.event_type(), EventType::CallStarted);
/// // Output always uses the Aura name.
/// assert!(env.to_json().starts_with(r#"{"type":"CALL_STARTED","detail":{"callId":"c1""#));
/// # Ok::<(), voicetk_events::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The event itself: `type` and `detail`.
    pub event: TelephonyEvent,
    /// `seq`: position in the log that holds the event; set when the event is accepted.
    pub seq: Option<u64>,
    /// `timestamp`: when the event was accepted (RFC 3339, UTC).
    pub timestamp: Option<jiff::Timestamp>,
    /// `agent`: the agent whose desktop the call belongs to, when known.
    pub agent: Option<String>,
    /// `eventId`: the source's identifier for idempotent re-sends.
    pub event_id: Option<String>,
    /// `warnings`: why a lenient engine accepted an event it would otherwise refuse.
    pub warnings: Vec<String>,
    /// `replayed`: true when delivery re-sends a past event to bring a new subscriber up to date.
    pub replayed: bool,
    /// Any other top-level field, kept as given.
    pub extra: Extra,
}

/// Top-level names with a meaning of their own; never taken from or written from `extra`.
pub(crate) const TOP_LEVEL_KNOWN: [&str; 8] = [
    "type",
    "detail",
    "seq",
    "timestamp",
    "agent",
    "eventId",
    "warnings",
    "replayed",
];

impl Envelope {
    /// Wraps an event with no top-level fields set.
    pub fn new(event: TelephonyEvent) -> Envelope {
        Envelope {
            event,
            seq: None,
            timestamp: None,
            agent: None,
            event_id: None,
            warnings: Vec::new(),
            replayed: false,
            extra: Extra::new(),
        }
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }

    /// `detail.callId`.
    pub fn call_id(&self) -> &str {
        self.event.call_id()
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing a tree of strings, numbers and maps with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Serializes to compact JSON bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl From<TelephonyEvent> for Envelope {
    fn from(event: TelephonyEvent) -> Self {
        Envelope::new(event)
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.event.event_type().as_str())?;
        map.serialize_entry("detail", &DetailRef(&self.event))?;
        if let Some(seq) = self.seq {
            map.serialize_entry("seq", &seq)?;
        }
        if let Some(ts) = &self.timestamp {
            map.serialize_entry("timestamp", &ts.to_string())?;
        }
        if let Some(agent) = &self.agent {
            map.serialize_entry("agent", agent)?;
        }
        if let Some(id) = &self.event_id {
            map.serialize_entry("eventId", id)?;
        }
        if !self.warnings.is_empty() {
            map.serialize_entry("warnings", &self.warnings)?;
        }
        if self.replayed {
            map.serialize_entry("replayed", &true)?;
        }
        for (k, v) in &self.extra {
            if !TOP_LEVEL_KNOWN.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// Reads any payload [`parse_event`](crate::parse_event) accepts with the default options but
/// no size limit (the bytes are already in memory).
impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        from_value(value, &ParseOptions::default()).map_err(serde::de::Error::custom)
    }
}

/// Serializes an event's `detail` object: the spec's fields in the spec's order, then extras.
struct DetailRef<'a>(&'a TelephonyEvent);

impl Serialize for DetailRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("callId", self.0.call_id())?;
        let known: &[&str] = match self.0 {
            TelephonyEvent::AudioStats(d) => {
                map.serialize_entry("stats", channel_name(d.stats))?;
                map.serialize_entry("packetsLost", &d.packets_lost)?;
                map.serialize_entry("packetsCount", &d.packets_count)?;
                map.serialize_entry("jitterBufferMillis", &d.jitter_buffer_millis)?;
                map.serialize_entry("roundTripTimeMillis", &d.round_trip_time_millis)?;
                map.serialize_entry("statsCount", &d.stats_count)?;
                if let Some(mos) = d.mos.filter(|m| m.is_finite()) {
                    map.serialize_entry("mos", &mos)?;
                }
                &[
                    "stats",
                    "packetsLost",
                    "packetsCount",
                    "jitterBufferMillis",
                    "roundTripTimeMillis",
                    "statsCount",
                    "mos",
                ]
            }
            TelephonyEvent::CallStarted(d) => {
                map.serialize_entry("callType", d.call_type.as_str())?;
                map.serialize_entry("participant", &d.participant)?;
                &["callType", "participant"]
            }
            TelephonyEvent::CallConnected(d) => {
                map.serialize_entry("callType", d.call_type.as_str())?;
                map.serialize_entry("participant", &d.participant)?;
                if let Some(attrs) = &d.call_attributes {
                    map.serialize_entry("callAttributes", attrs)?;
                }
                &["callType", "participant", "callAttributes"]
            }
            TelephonyEvent::Hold(d)
            | TelephonyEvent::Resume(d)
            | TelephonyEvent::ParticipantAdded(d)
            | TelephonyEvent::ParticipantRemoved(d) => {
                map.serialize_entry("participant", &d.participant)?;
                &["participant"]
            }
            _ => &[],
        };
        for (k, v) in self.0.extra() {
            if k != "callId" && !known.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

fn channel_name(c: Channel) -> &'static str {
    c.as_str()
}
