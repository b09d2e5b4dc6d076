//! The JSON payloads, shaped and sized like what telephony providers send.

use serde_json::{Value, json};
use voicetk_events::{Channel, EventType};

use super::rng::Rng;

/// Queues an Amazon Connect-style contact centre routes calls to.
const QUEUES: [&str; 6] = [
    "Billing",
    "Technical Support",
    "Sales EMEA",
    "Retention",
    "Claims",
    "Priority Care",
];
const LANGUAGES: [&str; 4] = ["en-US", "en-GB", "es-US", "fr-CA"];
const FLOWS: [&str; 3] = ["Inbound Main IVR", "Callback Flow", "Outbound Campaign"];
const SEGMENTS: [&str; 3] = ["standard", "gold", "platinum"];
const AREA_CODES: [u16; 6] = [415, 212, 312, 646, 206, 512];

/// A North American number as providers format it, e.g. `+1 (415) 555-0142`.
pub(crate) fn phone_number(rng: &mut Rng) -> String {
    let area = AREA_CODES[rng.below(AREA_CODES.len() as u64) as usize];
    format!(
        "+1 ({area}) {:03}-{:04}",
        rng.between(200, 989),
        rng.below(10_000)
    )
}

/// A UUID-shaped call id whose last group holds `stream` and `counter`, so ids from
/// different streams, or different counters, never collide; the other groups come from `rng`.
pub(crate) fn call_id(rng: &mut Rng, stream: u16, counter: u32) -> String {
    let r = rng.next_u64();
    let s = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{stream:04x}{counter:08x}",
        r >> 32,
        (r >> 16) & 0xffff,
        r & 0x0fff,
        (s & 0x3fff) | 0x8000,
    )
}

/// `CALL_STARTED`; the agent is named on the first event only (the engine carries it on).
pub(crate) fn call_started(
    call_id: &str,
    call_type: &str,
    participant: &str,
    agent: Option<&str>,
) -> Value {
    let mut v = json!({
        "type": EventType::CallStarted.as_str(),
        "detail": {"callId": call_id, "callType": call_type, "participant": participant},
    });
    if let Some(agent) = agent {
        v["agent"] = json!(agent);
    }
    v
}

/// `CALL_CONNECTED` with a provider's `callAttributes` (about ten string values).
pub(crate) fn call_connected(
    call_id: &str,
    call_type: &str,
    participant: &str,
    rng: &mut Rng,
) -> Value {
    let pick = |rng: &mut Rng, list: &[&'static str]| list[rng.below(list.len() as u64) as usize];
    let queue = pick(rng, &QUEUES);
    let language = pick(rng, &LANGUAGES);
    let flow = pick(rng, &FLOWS);
    let segment = pick(rng, &SEGMENTS);
    json!({
        "type": EventType::CallConnected.as_str(),
        "detail": {
            "callId": call_id,
            "callType": call_type,
            "participant": participant,
            "callAttributes": {
                "isTranscribed": if rng.percent(70) { "true" } else { "false" },
                "languageCode": language,
                "queueName": queue,
                "queueArn": format!("arn:aws:connect:us-west-2:123456789012:instance/queue/{:08x}", rng.next_u64() >> 32),
                "contactFlowName": flow,
                "initiationMethod": if call_type == "inbound" { "INBOUND" } else { "OUTBOUND" },
                "customerSegment": segment,
                "accountNumber": format!("{:08}", rng.below(100_000_000)),
                "caseNumber": format!("0{:07}", rng.below(10_000_000)),
                "channel": "VOICE",
            },
        },
    })
}

/// `HOLD`, `RESUME`, `PARTICIPANT_ADDED` or `PARTICIPANT_REMOVED`.
pub(crate) fn participant_event(event_type: EventType, call_id: &str, participant: &str) -> Value {
    json!({
        "type": event_type.as_str(),
        "detail": {"callId": call_id, "participant": participant},
    })
}

/// An event whose detail is only the `callId`.
pub(crate) fn call_only(event_type: EventType, call_id: &str) -> Value {
    json!({"type": event_type.as_str(), "detail": {"callId": call_id}})
}

/// One channel's `AUDIO_STATS` for a 30 s interval: about 1,500 packets at 50 packets/s,
/// statistics sampled every 5 s, usually a clean line and now and then a lossy one.
pub(crate) fn audio_stats(call_id: &str, channel: Channel, rng: &mut Rng) -> Value {
    let lost = if rng.percent(5) {
        rng.between(20, 150)
    } else {
        rng.between(0, 4)
    };
    json!({
        "type": EventType::AudioStats.as_str(),
        "detail": {
            "callId": call_id,
            "stats": channel.as_str(),
            "packetsLost": lost,
            "packetsCount": rng.between(1_380, 1_510),
            "jitterBufferMillis": rng.between(1, 25),
            "roundTripTimeMillis": rng.between(18, 160),
            "statsCount": 6,
        },
    })
}
