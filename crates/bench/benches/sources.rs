//! What the sources cost per message before the gateway sees an event:
//! - `baresip/netstring-decode`: framing 100 baresip `CALL_RTCP` messages (netstrings) off one
//!   read buffer, then parsing each frame's JSON (what the ctrl_tcp reader does per message).
//! - `twilio/verify`: checking one `X-Twilio-Signature` (HMAC-SHA1 over the URL and the sorted
//!   parameters, for the URL and its default-port variant, constant-time compare).
//! - `twilio/translate`: a whole signed status callback → CALL_STARTED (form parse, signature,
//!   translation), on a fresh source each time (so no delivery is recalled from memory).
//! - `scv/translate`: an SCV `CALL_CONNECTED` publishEvent → CALL_CONNECTED, likewise.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, black_box};
use tokio_util::codec::Decoder;
use voicetk_engine::CallState;
use voicetk_sources::baresip::NetstringCodec;
use voicetk_sources::scv::Scv;
use voicetk_sources::twilio::{Twilio, signature_of};
use voicetk_sources::{CallLookup, Webhook, WebhookRequest};

/// No calls known yet: what a first event of a call finds.
struct NoCalls;

impl CallLookup for NoCalls {
    fn call(&self, _: &str) -> Option<Arc<CallState>> {
        None
    }
    fn active_calls(&self) -> Vec<Arc<CallState>> {
        Vec::new()
    }
}

const FRAMES: usize = 100;

fn rtcp_frames() -> BytesMut {
    let mut buf = BytesMut::new();
    for i in 0..FRAMES {
        let json = format!(
            r#"{{"event":true,"type":"CALL_RTCP","class":"call","accountaor":"sip:a@127.0.0.1:5061","direction":"outgoing","peeruri":"sip:b@127.0.0.1:5072","id":"e8a897270ce84cac","param":"audio","rtcp_stats":{{"tx":{{"sent":{},"lost":0,"jit":1125}},"rx":{{"sent":{},"lost":{},"jit":1375}},"rtt":21000}}}}"#,
            250 * i,
            250 * i,
            i / 10
        );
        buf.extend_from_slice(format!("{}:{json},", json.len()).as_bytes());
    }
    buf
}

fn baresip_benches(c: &mut Criterion) {
    let frames = rtcp_frames();
    let mut group = c.benchmark_group("baresip");
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("netstring-decode", |b| {
        b.iter_batched(
            || (NetstringCodec::default(), frames.clone()),
            |(mut codec, mut buf)| {
                let mut n = 0;
                while let Ok(Some(frame)) = codec.decode(&mut buf) {
                    let v: serde_json::Value = serde_json::from_slice(&frame).unwrap_or_default();
                    n += usize::from(v.is_object());
                }
                assert_eq!(n, FRAMES);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

const TOKEN: &str = "a-twilio-auth-token-0123456789ab";
const URL: &str = "https://voice.example.com/v1/sources/twilio";

fn twilio_params() -> Vec<(String, String)> {
    [
        ("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA1234567890ABCDE1234567890ABCDEF"),
        ("CallStatus", "ringing"),
        ("Called", "+18005551212"),
        ("Caller", "+14155550100"),
        ("Direction", "inbound"),
        ("From", "+14155550100"),
        ("SequenceNumber", "0"),
        ("Timestamp", "Sun, 29 Nov 2026 21:00:00 +0000"),
        ("To", "+18005551212"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into()
}

fn twilio_benches(c: &mut Criterion) {
    let params = twilio_params();
    let signature = signature_of(TOKEN, URL, &params);
    let body = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("x-twilio-signature".to_owned(), signature.clone()),
    ];
    let mut group = c.benchmark_group("twilio");
    group.throughput(Throughput::Elements(1));
    let source = Twilio::new(TOKEN, None).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("verify", |b| {
        b.iter(|| assert!(source.verify(black_box(URL), &params, &signature)));
    });
    group.bench_function("translate", |b| {
        b.iter_batched(
            || Twilio::new(TOKEN, None).unwrap_or_else(|e| panic!("{e}")),
            |source| {
                let request = WebhookRequest {
                    url: URL,
                    headers: &headers,
                    body: body.as_bytes(),
                    agent: None,
                };
                let t = source
                    .translate(&request, &NoCalls)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(t.events.len(), 1);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn scv_benches(c: &mut Criterion) {
    let body = serde_json::json!({
        "eventType": "CALL_CONNECTED", "agent": "ana",
        "payload": {"call": {"callId": "c-1", "callType": "Inbound", "phoneNumber": "+14155550100",
            "callAttributes": {"participantType": "Initial_Caller", "voiceCallId": "0LQ000000000001"},
            "state": "connected"}}
    })
    .to_string();
    let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    let mut group = c.benchmark_group("scv");
    group.throughput(Throughput::Elements(1));
    group.bench_function("translate", |b| {
        b.iter_batched(
            Scv::new,
            |source| {
                let request = WebhookRequest {
                    url: "http://127.0.0.1:8080/v1/sources/scv",
                    headers: &headers,
                    body: body.as_bytes(),
                    agent: None,
                };
                let t = source
                    .translate(&request, &NoCalls)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(t.events.len(), 1);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(25)
}

// What `criterion_group!` / `criterion_main!` expand to, written out so the entry point can
// carry the workspace's doc lint.
fn main() {
    let mut criterion = config().configure_from_args();
    baresip_benches(&mut criterion);
    twilio_benches(&mut criterion);
    scv_benches(&mut criterion);
    criterion.final_summary();
}
