//! Parsing and validation: bytes or a JSON value in, a typed [`Envelope`] or a
//! [`ValidationError`] naming the JSON path out. Never panics, whatever the input.

use serde_json::Value;

use crate::envelope::Envelope;
use crate::error::{ErrorKind, ValidationError};
use crate::event::{
    AudioStatsDetail, CallConnectedDetail, CallDetail, CallStartedDetail, Extra, ParticipantDetail,
    TelephonyEvent,
};
use crate::kind::{CallType, Channel, EventType, TelephonyKind};
use crate::raw::{Detail, DetailFields, Top};

/// The default per-payload size limit: 64 KiB, far above any real event (a few hundred bytes).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// How payloads are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Which telephony's catalogue applies. Default is [`TelephonyKind::Partner`].
    pub telephony: TelephonyKind,
    /// Largest accepted payload in bytes. Default is [`DEFAULT_MAX_PAYLOAD_BYTES`].
    pub max_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            telephony: TelephonyKind::Partner,
            max_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }
}

impl ParseOptions {
    /// Options for `telephony` with the default size limit.
    pub fn for_telephony(telephony: TelephonyKind) -> Self {
        ParseOptions {
            telephony,
            ..ParseOptions::default()
        }
    }
}

/// Parses and validates one JSON payload.
///
/// # Errors
/// A [`ValidationError`] when the bytes are over `opts.max_bytes`, are not JSON, or are not a
/// valid event for `opts.telephony`; its `path` names the offending field.
///
/// # Examples
/// ```
/// use voicetk_events::{parse_event, ParseOptions, TelephonyKind, ErrorKind};
/// let bad = br#"{"type":"AUDIO_STATS","detail":{"callId":"c1","stats":"inputChannelStats",
///   "packetsLost":-3,"packetsCount":100,"jitterBufferMillis":4,"roundTripTimeMillis":20,"statsCount":6}}"#;
/// let err = parse_event(bad, &ParseOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), "detail.packetsLost: expected a non-negative integer, found -3");
///
/// let native = ParseOptions::for_telephony(TelephonyKind::Native);
/// let err = parse_event(br#"{"type":"SWAP","detail":{"callId":"c1"}}"#, &native).unwrap_err();
/// assert_eq!(err.kind, ErrorKind::UnsupportedEvent);
/// ```
pub fn parse_event(bytes: &[u8], opts: &ParseOptions) -> Result<Envelope, ValidationError> {
    check_size(bytes.len(), opts)?;
    let top: Top = serde_json::from_slice(bytes).map_err(malformed)?;
    from_top(top, opts)
}

/// Validates an already-parsed JSON value (no size check).
///
/// # Errors
/// As [`parse_event`], except for size and syntax.
pub fn from_value(value: Value, opts: &ParseOptions) -> Result<Envelope, ValidationError> {
    from_top(Top::from_value(value), opts)
}

/// Validation proper, on the payload's fields however they were read.
fn from_top(top: Top, opts: &ParseOptions) -> Result<Envelope, ValidationError> {
    let top = match top {
        Top::Object(fields) => fields,
        Top::NotObject(found) => {
            return Err(ValidationError::new(
                ErrorKind::WrongType,
                "$",
                format!("expected a JSON object, found {found}"),
            ));
        }
    };
    let event_type = match top.event_type {
        None => {
            return Err(missing(
                "type",
                "an event type name such as \"CALL_STARTED\"",
            ));
        }
        Some(Value::String(name)) => EventType::from_name(&name).ok_or_else(|| {
            ValidationError::new(
                ErrorKind::UnknownType,
                "type",
                format!(
                    "unknown event type {name:?}; expected one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?,
        Some(other) => return Err(wrong_type("type", "an event type name (string)", &other)),
    };
    if !event_type.is_supported_by(opts.telephony) {
        return Err(unsupported(event_type, opts.telephony, "type"));
    }
    let detail = match top.detail {
        None => return Err(missing("detail", "an object")),
        Some(Detail::Object(d)) => d,
        Some(Detail::NotObject(other)) => return Err(wrong_type("detail", "an object", &other)),
    };
    let event = parse_detail(event_type, detail)?;

    let mut envelope = Envelope::new(event);
    if let Some(v) = top.seq {
        envelope.seq = Some(non_negative_int("seq", v)?);
    }
    if let Some(v) = top.timestamp {
        envelope.timestamp = Some(timestamp("timestamp", v)?);
    }
    if let Some(v) = top.agent {
        envelope.agent = Some(non_empty_string("agent", v)?);
    }
    if let Some(v) = top.event_id {
        envelope.event_id = Some(non_empty_string("eventId", v)?);
    }
    if let Some(v) = top.warnings {
        envelope.warnings = string_array("warnings", v)?;
    }
    if let Some(v) = top.replayed {
        envelope.replayed = match v {
            Value::Bool(b) => b,
            other => return Err(wrong_type("replayed", "a boolean", &other)),
        };
    }
    envelope.extra = top.extra;
    Ok(envelope)
}

/// The `unsupported_event` error for `event_type` under `kind`, reported at `path`.
pub fn unsupported(event_type: EventType, kind: TelephonyKind, path: &str) -> ValidationError {
    ValidationError::new(
        ErrorKind::UnsupportedEvent,
        path,
        format!(
            "{event_type} is not supported by {kind} telephony (Salesforce Voice Native \
             Telephony has no AUDIO_STATS, CALL_STARTED, SWAP or WRAP_UP_ENDED)"
        ),
    )
}

fn parse_detail(
    event_type: EventType,
    mut d: DetailFields,
) -> Result<TelephonyEvent, ValidationError> {
    let call_id = match d.call_id.take() {
        None => return Err(missing("detail.callId", "a non-empty string")),
        Some(v) => non_empty_string("detail.callId", v)?,
    };
    // Fields the spec gives other events are this event's extras, kept as they came.
    d.return_unused(match event_type {
        EventType::AudioStats => &[
            "stats",
            "packetsLost",
            "packetsCount",
            "jitterBufferMillis",
            "roundTripTimeMillis",
            "statsCount",
            "mos",
        ],
        EventType::CallStarted => &["callType", "participant"],
        EventType::CallConnected => &["callType", "participant", "callAttributes"],
        EventType::Hold
        | EventType::Resume
        | EventType::ParticipantAdded
        | EventType::ParticipantRemoved => &["participant"],
        _ => &[],
    });
    let call = |call_id: String, extra: Extra| CallDetail { call_id, extra };
    Ok(match event_type {
        EventType::AudioStats => {
            let stats = match take(d.stats.take(), "detail.stats", CHANNEL_EXPECTED)? {
                Value::String(s) => match s.as_str() {
                    "inputChannelStats" => Channel::Input,
                    "outputChannelStats" => Channel::Output,
                    _ => {
                        return Err(ValidationError::new(
                            ErrorKind::InvalidValue,
                            "detail.stats",
                            format!("expected {CHANNEL_EXPECTED}, found {s:?}"),
                        ));
                    }
                },
                other => return Err(wrong_type("detail.stats", CHANNEL_EXPECTED, &other)),
            };
            let counter = |v: Option<Value>, path: &'static str| {
                take(v, path, "a non-negative integer").and_then(|v| non_negative_int(path, v))
            };
            let packets_lost = counter(d.packets_lost.take(), "detail.packetsLost")?;
            let packets_count = counter(d.packets_count.take(), "detail.packetsCount")?;
            let jitter_buffer_millis =
                counter(d.jitter_buffer_millis.take(), "detail.jitterBufferMillis")?;
            let round_trip_time_millis = counter(
                d.round_trip_time_millis.take(),
                "detail.roundTripTimeMillis",
            )?;
            let stats_count = counter(d.stats_count.take(), "detail.statsCount")?;
            let mos = match d.mos.take() {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64(),
                Some(other) => return Err(wrong_type("detail.mos", "a number", &other)),
            };
            TelephonyEvent::AudioStats(AudioStatsDetail {
                call_id,
                stats,
                packets_lost,
                packets_count,
                jitter_buffer_millis,
                round_trip_time_millis,
                stats_count,
                mos,
                extra: d.extra,
            })
        }
        EventType::CallStarted => {
            let call_type = call_type(d.call_type.take())?;
            let participant = participant(d.participant.take())?;
            TelephonyEvent::CallStarted(CallStartedDetail {
                call_id,
                call_type,
                participant,
                extra: d.extra,
            })
        }
        EventType::CallConnected => {
            let call_type = call_type(d.call_type.take())?;
            let participant = participant(d.participant.take())?;
            let call_attributes = match d.call_attributes.take() {
                None => None,
                Some(Value::Object(attrs)) => Some(attrs),
                Some(other) => {
                    return Err(wrong_type("detail.callAttributes", "an object", &other));
                }
            };
            TelephonyEvent::CallConnected(CallConnectedDetail {
                call_id,
                call_type,
                participant,
                call_attributes,
                extra: d.extra,
            })
        }
        EventType::Hold
        | EventType::Resume
        | EventType::ParticipantAdded
        | EventType::ParticipantRemoved => {
            let participant = participant(d.participant.take())?;
            let p = ParticipantDetail {
                call_id,
                participant,
                extra: d.extra,
            };
            match event_type {
                EventType::Hold => TelephonyEvent::Hold(p),
                EventType::Resume => TelephonyEvent::Resume(p),
                EventType::ParticipantAdded => TelephonyEvent::ParticipantAdded(p),
                _ => TelephonyEvent::ParticipantRemoved(p),
            }
        }
        EventType::CallEnded => TelephonyEvent::CallEnded(call(call_id, d.extra)),
        EventType::Mute => TelephonyEvent::Mute(call(call_id, d.extra)),
        EventType::Unmute => TelephonyEvent::Unmute(call(call_id, d.extra)),
        EventType::Conference => TelephonyEvent::Conference(call(call_id, d.extra)),
        EventType::Swap => TelephonyEvent::Swap(call(call_id, d.extra)),
        EventType::PauseRecording => TelephonyEvent::PauseRecording(call(call_id, d.extra)),
        EventType::ResumeRecording => TelephonyEvent::ResumeRecording(call(call_id, d.extra)),
        EventType::WrapUpEnded => TelephonyEvent::WrapUpEnded(call(call_id, d.extra)),
    })
}

const CHANNEL_EXPECTED: &str = "\"inputChannelStats\" or \"outputChannelStats\"";
const CALL_TYPE_EXPECTED: &str = "\"inbound\" or \"outbound\"";

fn take(v: Option<Value>, path: &str, expected: &str) -> Result<Value, ValidationError> {
    v.ok_or_else(|| missing(path, expected))
}

fn call_type(v: Option<Value>) -> Result<CallType, ValidationError> {
    match take(v, "detail.callType", CALL_TYPE_EXPECTED)? {
        Value::String(s) => match s.as_str() {
            "inbound" => Ok(CallType::Inbound),
            "outbound" => Ok(CallType::Outbound),
            _ => Err(ValidationError::new(
                ErrorKind::InvalidValue,
                "detail.callType",
                format!("expected {CALL_TYPE_EXPECTED}, found {s:?}"),
            )),
        },
        other => Err(wrong_type("detail.callType", CALL_TYPE_EXPECTED, &other)),
    }
}

fn participant(v: Option<Value>) -> Result<String, ValidationError> {
    let v = take(v, "detail.participant", "a non-empty string")?;
    non_empty_string("detail.participant", v)
}

fn non_empty_string(path: &str, v: Value) -> Result<String, ValidationError> {
    match v {
        Value::String(s) if s.is_empty() => Err(ValidationError::new(
            ErrorKind::InvalidValue,
            path,
            "expected a non-empty string, found \"\"",
        )),
        Value::String(s) => Ok(s),
        other => Err(wrong_type(path, "a non-empty string", &other)),
    }
}

fn non_negative_int(path: &str, v: Value) -> Result<u64, ValidationError> {
    match &v {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            ValidationError::new(
                ErrorKind::InvalidValue,
                path,
                format!("expected a non-negative integer, found {n}"),
            )
        }),
        other => Err(wrong_type(path, "a non-negative integer", other)),
    }
}

fn timestamp(path: &str, v: Value) -> Result<jiff::Timestamp, ValidationError> {
    match v {
        Value::String(s) => s.parse::<jiff::Timestamp>().map_err(|e| {
            ValidationError::new(
                ErrorKind::InvalidValue,
                path,
                format!("expected an RFC 3339 timestamp, found {s:?} ({e})"),
            )
        }),
        other => Err(wrong_type(path, "an RFC 3339 timestamp string", &other)),
    }
}

fn string_array(path: &str, v: Value) -> Result<Vec<String>, ValidationError> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                other => Err(wrong_type(&format!("{path}[{i}]"), "a string", &other)),
            })
            .collect(),
        other => Err(wrong_type(path, "an array of strings", &other)),
    }
}

fn check_size(len: usize, opts: &ParseOptions) -> Result<(), ValidationError> {
    if len > opts.max_bytes {
        return Err(ValidationError::new(
            ErrorKind::TooLarge,
            "$",
            format!(
                "payload is {len} bytes, over the limit of {} bytes",
                opts.max_bytes
            ),
        ));
    }
    Ok(())
}

fn malformed(e: serde_json::Error) -> ValidationError {
    ValidationError::new(
        ErrorKind::MalformedJson,
        "$",
        format!("malformed JSON: {e}"),
    )
}

fn missing(path: &str, expected: &str) -> ValidationError {
    ValidationError::new(
        ErrorKind::MissingField,
        path,
        format!("missing required field (expected {expected})"),
    )
}

fn wrong_type(path: &str, expected: &str, found: &Value) -> ValidationError {
    ValidationError::new(
        ErrorKind::WrongType,
        path,
        format!("expected {expected}, found {}", describe(found)),
    )
}

/// A short description of a JSON value for error messages: its type and, for scalars, the value.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("a string ({shown:?})")
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// One payload of a multi-payload input, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based position: the array index + 1 for a JSON array, the line number for NDJSON,
    /// 1 for a single payload.
    pub position: usize,
    /// The payload, or why it is not a valid event.
    pub result: Result<Envelope, ValidationError>,
}

/// Reads one JSON payload, a JSON array of payloads, or NDJSON (one payload per line; blank
/// lines are skipped), and validates each payload on its own: one bad payload does not hide
/// the others. `opts.max_bytes` applies to each payload.
///
/// # Examples
/// ```
/// use voicetk_events::{parse_documents, ParseOptions};
/// let input = b"{\"type\":\"MUTE\",\"detail\":{\"callId\":\"c1\"}}\n\n{\"type\":\"MUTE\"}\n";
/// let docs = parse_documents(input, &ParseOptions::default());
/// assert_eq!(docs.len(), 2);
/// assert!(docs[0].result.is_ok());
/// assert_eq!(docs[1].position, 3); // the NDJSON line number
/// assert_eq!(docs[1].result.as_ref().unwrap_err().path, "detail");
/// ```
pub fn parse_documents(bytes: &[u8], opts: &ParseOptions) -> Vec<Document> {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return vec![Document {
            position: 1,
            result: Err(ValidationError::new(
                ErrorKind::MalformedJson,
                "$",
                "malformed JSON: the input is empty",
            )),
        }];
    }
    if trimmed.first() == Some(&b'[') {
        return match serde_json::from_slice::<Value>(trimmed) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| Document {
                    position: i + 1,
                    result: check_value_size(&item, opts).and_then(|()| from_value(item, opts)),
                })
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => vec![Document {
                position: 1,
                result: Err(malformed(e)),
            }],
        };
    }
    // A single payload may span several lines (pretty-printed): try it whole first.
    if let Ok(value) = serde_json::from_slice::<Value>(trimmed) {
        return vec![Document {
            position: 1,
            result: check_size(trimmed.len(), opts).and_then(|()| from_value(value, opts)),
        }];
    }
    parse_ndjson(bytes, opts)
}

/// Reads NDJSON: one payload per line, blank lines skipped, each validated on its own and
/// numbered by its line.
pub fn parse_ndjson(bytes: &[u8], opts: &ParseOptions) -> Vec<Document> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .map(|(i, line)| Document {
            position: i + 1,
            result: parse_event(line.trim_ascii(), opts),
        })
        .collect()
}

fn check_value_size(v: &Value, opts: &ParseOptions) -> Result<(), ValidationError> {
    // Only arrays need this; their items were never measured as bytes on their own.
    let len = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
    check_size(len, opts)
}
