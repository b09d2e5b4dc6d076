//! A payload split into its known fields, read straight from the bytes in one pass.
//!
//! Parsing into a `serde_json::Value` first allocates a `String` for every key and a map node
//! for every field, then validation takes them out again. Here the known keys are matched
//! without allocating and their values kept aside; only fields voicetk does not know are
//! collected into a map, to be preserved. Validation ([`crate::parse`]) then works on these
//! fields, whichever way they were read: from bytes ([`Top`]'s `Deserialize`) or from a
//! `Value` ([`Top::from_value`]).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A whole payload: an object split into fields, or what was found instead.
// Lives on the stack for one parse; boxing the big variant would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Top {
    /// A JSON object.
    Object(TopFields),
    /// Anything else, described for the error message ("an array", "a number (7)").
    NotObject(String),
}

/// The top-level fields.
#[derive(Default)]
pub(crate) struct TopFields {
    pub event_type: Option<Value>,
    pub detail: Option<Detail>,
    pub seq: Option<Value>,
    pub timestamp: Option<Value>,
    pub agent: Option<Value>,
    pub event_id: Option<Value>,
    pub warnings: Option<Value>,
    pub replayed: Option<Value>,
    pub extra: Map<String, Value>,
}

/// `detail`: an object split into fields, or the value found instead.
#[allow(clippy::large_enum_variant)] // as for `Top`
pub(crate) enum Detail {
    /// A JSON object.
    Object(DetailFields),
    /// Anything else.
    NotObject(Value),
}

/// The fields any event's `detail` may have by the spec; the event type decides which belong
/// to it (the others go back into `extra`, untouched).
#[derive(Default)]
pub(crate) struct DetailFields {
    pub call_id: Option<Value>,
    pub call_type: Option<Value>,
    pub participant: Option<Value>,
    pub call_attributes: Option<Value>,
    pub stats: Option<Value>,
    pub packets_lost: Option<Value>,
    pub packets_count: Option<Value>,
    pub jitter_buffer_millis: Option<Value>,
    pub round_trip_time_millis: Option<Value>,
    pub stats_count: Option<Value>,
    pub mos: Option<Value>,
    pub extra: Map<String, Value>,
}

/// The names of [`DetailFields`]' known fields, in declaration order.
pub(crate) const DETAIL_NAMES: [&str; 11] = [
    "callId",
    "callType",
    "participant",
    "callAttributes",
    "stats",
    "packetsLost",
    "packetsCount",
    "jitterBufferMillis",
    "roundTripTimeMillis",
    "statsCount",
    "mos",
];

impl DetailFields {
    /// The known fields with their names, to route each one by the event type.
    pub(crate) fn slots(&mut self) -> [(&'static str, &mut Option<Value>); 11] {
        [
            (DETAIL_NAMES[0], &mut self.call_id),
            (DETAIL_NAMES[1], &mut self.call_type),
            (DETAIL_NAMES[2], &mut self.participant),
            (DETAIL_NAMES[3], &mut self.call_attributes),
            (DETAIL_NAMES[4], &mut self.stats),
            (DETAIL_NAMES[5], &mut self.packets_lost),
            (DETAIL_NAMES[6], &mut self.packets_count),
            (DETAIL_NAMES[7], &mut self.jitter_buffer_millis),
            (DETAIL_NAMES[8], &mut self.round_trip_time_millis),
            (DETAIL_NAMES[9], &mut self.stats_count),
            (DETAIL_NAMES[10], &mut self.mos),
        ]
    }

    /// Puts back into `extra` every known field the event type does not use, under its name.
    pub(crate) fn return_unused(&mut self, used: &[&str]) {
        let mut back = Vec::new();
        for (name, slot) in self.slots() {
            if !used.contains(&name) {
                if let Some(v) = slot.take() {
                    back.push((name, v));
                }
            }
        }
        for (name, v) in back {
            self.extra.insert(name.to_owned(), v);
        }
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        self.slots()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }

    fn from_map(mut map: Map<String, Value>) -> DetailFields {
        let mut fields = DetailFields::default();
        for name in DETAIL_NAMES {
            if let Some(v) = map.remove(name) {
                if let Some(slot) = fields.slot(name) {
                    *slot = Some(v);
                }
            }
        }
        fields.extra = map;
        fields
    }
}

impl Top {
    /// Splits an already-parsed value.
    pub(crate) fn from_value(value: Value) -> Top {
        let Value::Object(mut map) = value else {
            return Top::NotObject(crate::parse::describe(&value));
        };
        let mut take = |k: &str| map.remove(k);
        let fields = TopFields {
            event_type: take("type"),
            detail: take("detail").map(|d| match d {
                Value::Object(m) => Detail::Object(DetailFields::from_map(m)),
                other => Detail::NotObject(other),
            }),
            seq: take("seq"),
            timestamp: take("timestamp"),
            agent: take("agent"),
            event_id: take("eventId"),
            warnings: take("warnings"),
            replayed: take("replayed"),
            extra: Map::new(),
        };
        Top::Object(TopFields {
            extra: map,
            ..fields
        })
    }
}

/// A key of the top-level object, matched without allocating when it is a known one.
enum TopKey {
    Type,
    Detail,
    Seq,
    Timestamp,
    Agent,
    EventId,
    Warnings,
    Replayed,
    Other(String),
}

impl<'de> Deserialize<'de> for TopKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = TopKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TopKey, E> {
                Ok(match v {
                    "type" => TopKey::Type,
                    "detail" => TopKey::Detail,
                    "seq" => TopKey::Seq,
                    "timestamp" => TopKey::Timestamp,
                    "agent" => TopKey::Agent,
                    "eventId" => TopKey::EventId,
                    "warnings" => TopKey::Warnings,
                    "replayed" => TopKey::Replayed,
                    other => TopKey::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// A key of `detail`: the index of a known field, or another name.
enum DetailKey {
    Known(usize),
    Other(String),
}

impl<'de> Deserialize<'de> for DetailKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = DetailKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DetailKey, E> {
                Ok(match DETAIL_NAMES.iter().position(|n| *n == v) {
                    Some(i) => DetailKey::Known(i),
                    None => DetailKey::Other(v.to_owned()),
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Builds the description of a non-object from the scalar or sequence the visitor saw.
fn scalar_description(v: Value) -> String {
    crate::parse::describe(&v)
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a telephony event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                let mut t = TopFields::default();
                while let Some(key) = map.next_key::<TopKey>()? {
                    match key {
                        TopKey::Type => t.event_type = Some(map.next_value()?),
                        TopKey::Detail => t.detail = Some(map.next_value()?),
                        TopKey::Seq => t.seq = Some(map.next_value()?),
                        TopKey::Timestamp => t.timestamp = Some(map.next_value()?),
                        TopKey::Agent => t.agent = Some(map.next_value()?),
                        TopKey::EventId => t.event_id = Some(map.next_value()?),
                        TopKey::Warnings => t.warnings = Some(map.next_value()?),
                        TopKey::Replayed => t.replayed = Some(map.next_value()?),
                        TopKey::Other(k) => {
                            t.extra.insert(k, map.next_value()?);
                        }
                    }
                }
                Ok(Top::Object(t))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Top::NotObject(scalar_description(Value::Array(Vec::new()))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(Value::Bool(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(v.into())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(Value::String(
                    v.to_owned(),
                ))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
                Ok(Top::NotObject(scalar_description(Value::Null)))
            }
        }
        d.deserialize_any(TopVisitor)
    }
}

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DetailVisitor;
        impl<'de> Visitor<'de> for DetailVisitor {
            type Value = Detail;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Detail, A::Error> {
                let mut fields = DetailFields::default();
                while let Some(key) = map.next_key::<DetailKey>()? {
                    match key {
                        DetailKey::Known(i) => {
                            let v = map.next_value()?;
                            if let Some((_, slot)) = fields.slots().into_iter().nth(i) {
                                *slot = Some(v);
                            }
                        }
                        DetailKey::Other(k) => {
                            fields.extra.insert(k, map.next_value()?);
                        }
                    }
                }
                Ok(Detail::Object(fields))
            }
            // Anything else is kept whole, for the error message.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Detail, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Detail::NotObject(Value::Array(items)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Detail, E> {
                Ok(Detail::NotObject(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Detail, E> {
                Ok(Detail::NotObject(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Detail, E> {
                Ok(Detail::NotObject(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Detail, E> {
                Ok(Detail::NotObject(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Detail, E> {
                Ok(Detail::NotObject(Value::String(v.to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Detail, E> {
                Ok(Detail::NotObject(Value::Null))
            }
        }
        d.deserialize_any(DetailVisitor)
    }
}
