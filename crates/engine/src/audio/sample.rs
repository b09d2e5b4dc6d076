//! Raw media samples, and their conversion from baresip's and WebRTC's statistics.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use voicetk_events::Channel;

/// One direction of one call's media at one instant, as a source measured it.
///
/// Counters are cumulative since the stream started; the
/// [`AudioAggregator`](super::AudioAggregator) turns them into per-interval deltas.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RawSample {
    /// Cumulative packets: *received* for [`Channel::Input`], *sent* for [`Channel::Output`].
    pub packets: u64,
    /// Cumulative packets lost. For input, RFC 3550's "expected − received", which goes negative
    /// when duplicates arrive; for output, what the far end reports in its receiver reports.
    pub lost: i64,
    /// Interarrival jitter (RFC 3550), milliseconds. NaN when the source has no measurement.
    pub jitter_ms: f64,
    /// Round-trip time, milliseconds; `None` until one has been measured.
    pub rtt_ms: Option<f64>,
}

/// A source's statistics that cannot be turned into [`RawSample`]s.
///
/// `path` names the offending field as it appears in the source's JSON
/// (`rtcp_stats.rx.jit`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioSampleError {
    /// A required field is absent.
    #[error("{path}: missing required field (expected {expected})")]
    MissingField {
        /// Where the field belongs.
        path: String,
        /// What should be there.
        expected: &'static str,
    },
    /// A field is present with the wrong type or an impossible value.
    #[error("{path}: expected {expected}, found {found}")]
    InvalidValue {
        /// Where the field is.
        path: String,
        /// What should be there.
        expected: &'static str,
        /// What is there.
        found: String,
    },
    /// The statistics describe another medium (baresip also reports video).
    #[error("param: expected \"audio\", found {media:?} (only audio statistics feed AUDIO_STATS)")]
    NotAudio {
        /// The medium named by the event.
        media: String,
    },
}

impl AudioSampleError {
    /// The JSON path of the offending field.
    pub fn path(&self) -> &str {
        match self {
            AudioSampleError::MissingField { path, .. }
            | AudioSampleError::InvalidValue { path, .. } => path,
            AudioSampleError::NotAudio { .. } => "param",
        }
    }
}

impl RawSample {
    /// Reads baresip's `rtcp_stats` (a `CALL_RTCP` event, sent every few seconds per call) into
    /// one sample per channel: `rx` → [`Channel::Input`], `tx` → [`Channel::Output`].
    ///
    /// `v` is either the whole `CALL_RTCP` event or its `rtcp_stats` object. A whole event whose
    /// `param` names a medium other than `audio` is refused with
    /// [`AudioSampleError::NotAudio`].
    ///
    /// Units, from libre's `struct rtcp_stats` and baresip's `add_rtcp_stats`: `sent` and `lost`
    /// are cumulative packet counts (`rx.sent` is what was *received*; `rx.lost` is
    /// expected − received and may be negative; `tx.lost` is the far end's report), `jit` is in
    /// **microseconds**, and `rtt` is in **microseconds** and shared by both directions. All are
    /// zero until media flows; an `rtt` of 0 means "not measured yet" (it needs a full RTCP
    /// round) and becomes `rtt_ms: None`.
    ///
    /// # Errors
    /// [`AudioSampleError::MissingField`] when `tx`, `rx`, `rtt` or one of their counters is
    /// absent, and [`AudioSampleError::InvalidValue`] when one is not an integer of the right
    /// sign; both name the field, e.g. `rtcp_stats.rx.jit`.
    ///
    /// # Examples
    /// ```
    /// use serde_json::json;
    /// use voicetk_engine::audio::RawSample;
    /// use voicetk_events::Channel;
    ///
    /// let [(input, rx), (output, tx)] = RawSample::from_baresip_rtcp(&json!({
    ///     "tx": {"sent": 400, "lost": 0, "jit": 1125},
    ///     "rx": {"sent": 398, "lost": 2, "jit": 2500},
    ///     "rtt": 41000
    /// }))?;
    /// assert_eq!((input, output), (Channel::Input, Channel::Output));
    /// assert_eq!((rx.packets, rx.lost, rx.jitter_ms, rx.rtt_ms), (398, 2, 2.5, Some(41.0)));
    /// assert_eq!((tx.packets, tx.jitter_ms), (400, 1.125));
    ///
    /// let err = RawSample::from_baresip_rtcp(&json!({"tx": {}, "rx": {}, "rtt": 0})).unwrap_err();
    /// assert_eq!(err.to_string(), "rtcp_stats.tx.sent: missing required field (expected a non-negative integer)");
    /// # Ok::<(), voicetk_engine::audio::AudioSampleError>(())
    /// ```
    pub fn from_baresip_rtcp(v: &Value) -> Result<[(Channel, RawSample); 2], AudioSampleError> {
        let stats = match v.as_object() {
            Some(event) if event.contains_key("rtcp_stats") => {
                if let Some(param) = event.get("param") {
                    let media = param.as_str().unwrap_or_default();
                    if !media.eq_ignore_ascii_case("audio") {
                        return Err(AudioSampleError::NotAudio {
                            media: param
                                .as_str()
                                .map_or_else(|| param.to_string(), str::to_owned),
                        });
                    }
                }
                object(event, "rtcp_stats", "rtcp_stats")?
            }
            Some(stats) => stats,
            None => {
                return Err(invalid("rtcp_stats", "an object", v));
            }
        };
        let rtt_us = unsigned(stats, "rtt", "rtcp_stats.rtt")?;
        // 0 µs is what libre reports before the first RTCP round trip completes.
        let rtt_ms = (rtt_us > 0).then(|| rtt_us as f64 / 1000.0);
        let direction = |key: &'static str, path: &'static str| -> Result<RawSample, _> {
            let d = object(stats, key, path)?;
            Ok(RawSample {
                packets: unsigned(d, "sent", &format!("{path}.sent"))?,
                lost: signed(d, "lost", &format!("{path}.lost"))?,
                jitter_ms: unsigned(d, "jit", &format!("{path}.jit"))? as f64 / 1000.0,
                rtt_ms,
            })
        };
        let tx = direction("tx", "rtcp_stats.tx")?;
        let rx = direction("rx", "rtcp_stats.rx")?;
        Ok([(Channel::Input, rx), (Channel::Output, tx)])
    }

    /// Reads a WebRTC `getStats()` report's audio entries into one sample per channel present:
    /// `inbound` → [`Channel::Input`], `outbound` → [`Channel::Output`] (input first).
    ///
    /// WebRTC units are converted: jitter and round-trip time are in **seconds** there and in
    /// milliseconds here. The round-trip time comes from `remote-inbound-rtp` (the only place
    /// WebRTC measures it for audio) and applies to both channels. The output channel's loss and
    /// jitter are the far end's view of what this side sends, from the same entry; without it
    /// loss counts as 0 and jitter as unknown (NaN).
    ///
    /// # Examples
    /// ```
    /// use voicetk_engine::audio::{InboundRtpStats, RawSample, RemoteInboundRtpStats, WebRtcAudioStats};
    /// use voicetk_events::Channel;
    ///
    /// let report: WebRtcAudioStats = serde_json::from_str(r#"{
    ///     "inbound": {"packetsReceived": 1500, "packetsLost": 3, "jitter": 0.004},
    ///     "remoteInbound": {"roundTripTime": 0.082}
    /// }"#)?;
    /// let samples = RawSample::from_webrtc(&report);
    /// assert_eq!(samples.len(), 1);
    /// let (channel, s) = samples[0];
    /// assert_eq!(channel, Channel::Input);
    /// assert_eq!((s.packets, s.lost, s.jitter_ms, s.rtt_ms), (1500, 3, 4.0, Some(82.0)));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_webrtc(stats: &WebRtcAudioStats) -> Vec<(Channel, RawSample)> {
        let remote = stats.remote_inbound.unwrap_or_default();
        let rtt_ms = remote.round_trip_time.map(seconds_to_ms);
        let mut samples = Vec::with_capacity(2);
        if let Some(inbound) = stats.inbound {
            samples.push((
                Channel::Input,
                RawSample {
                    packets: inbound.packets_received,
                    lost: inbound.packets_lost,
                    jitter_ms: inbound.jitter.map_or(f64::NAN, seconds_to_ms),
                    rtt_ms,
                },
            ));
        }
        if let Some(outbound) = stats.outbound {
            samples.push((
                Channel::Output,
                RawSample {
                    packets: outbound.packets_sent,
                    lost: remote.packets_lost.unwrap_or(0),
                    jitter_ms: remote.jitter.map_or(f64::NAN, seconds_to_ms),
                    rtt_ms,
                },
            ));
        }
        samples
    }
}

/// The audio entries of one WebRTC `getStats()` report that voicetk reads, in WebRTC's own
/// names and units. Each entry is optional: a report may lack any of them.
///
/// Deserializes from `{"inbound": {..}, "outbound": {..}, "remoteInbound": {..}}`, each entry
/// with the W3C `RTCStats` member names, so a browser can post the fields it picked unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebRtcAudioStats {
    /// The `inbound-rtp` entry: what this side receives.
    #[serde(default)]
    pub inbound: Option<InboundRtpStats>,
    /// The `outbound-rtp` entry: what this side sends.
    #[serde(default)]
    pub outbound: Option<OutboundRtpStats>,
    /// The `remote-inbound-rtp` entry: the far end's receiver report on what this side sends.
    #[serde(default)]
    pub remote_inbound: Option<RemoteInboundRtpStats>,
}

/// `inbound-rtp` members for the audio track.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundRtpStats {
    /// `packetsReceived`: cumulative packets received.
    pub packets_received: u64,
    /// `packetsLost`: cumulative packets lost; negative when duplicates arrived (RFC 3550).
    pub packets_lost: i64,
    /// `jitter`: interarrival jitter in **seconds**.
    #[serde(default)]
    pub jitter: Option<f64>,
}

/// `outbound-rtp` members for the audio track.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundRtpStats {
    /// `packetsSent`: cumulative packets sent.
    pub packets_sent: u64,
}

/// `remote-inbound-rtp` members for the audio track: the far end's receiver reports.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteInboundRtpStats {
    /// `packetsLost`: cumulative packets the far end reports lost of those this side sent.
    #[serde(default)]
    pub packets_lost: Option<i64>,
    /// `jitter`: the far end's interarrival jitter, in **seconds**.
    #[serde(default)]
    pub jitter: Option<f64>,
    /// `roundTripTime`: the latest round-trip time, in **seconds**.
    #[serde(default)]
    pub round_trip_time: Option<f64>,
}

fn seconds_to_ms(s: f64) -> f64 {
    s * 1000.0
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, AudioSampleError> {
    match parent.get(key) {
        None => Err(missing(path, "an object")),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(invalid(path, "an object", other)),
    }
}

fn unsigned(parent: &Map<String, Value>, key: &str, path: &str) -> Result<u64, AudioSampleError> {
    const EXPECTED: &str = "a non-negative integer";
    match parent.get(key) {
        None => Err(missing(path, EXPECTED)),
        Some(v) => v.as_u64().ok_or_else(|| invalid(path, EXPECTED, v)),
    }
}

fn signed(parent: &Map<String, Value>, key: &str, path: &str) -> Result<i64, AudioSampleError> {
    const EXPECTED: &str = "an integer";
    match parent.get(key) {
        None => Err(missing(path, EXPECTED)),
        Some(v) => v.as_i64().ok_or_else(|| invalid(path, EXPECTED, v)),
    }
}

fn missing(path: &str, expected: &'static str) -> AudioSampleError {
    AudioSampleError::MissingField {
        path: path.to_owned(),
        expected,
    }
}

fn invalid(path: &str, expected: &'static str, found: &Value) -> AudioSampleError {
    AudioSampleError::InvalidValue {
        path: path.to_owned(),
        expected,
        found: describe(found),
    }
}

/// A short description of a JSON value for error messages; long values are cut.
fn describe(v: &Value) -> String {
    const MAX: usize = 40;
    let text = |kind: &str, shown: String| {
        if shown.chars().count() > MAX {
            let cut: String = shown.chars().take(MAX).collect();
            format!("{kind} ({cut}…)")
        } else {
            format!("{kind} ({shown})")
        }
    };
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => text("a boolean", b.to_string()),
        Value::Number(n) => text("a number", n.to_string()),
        Value::String(s) => text("a string", format!("{s:?}")),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A real `CALL_RTCP` event as baresip's ctrl_tcp/ctrl_dbus sends it.
    fn baresip_event(param: &str, stats: Value) -> Value {
        json!({
            "event": true, "class": "call", "type": "CALL_RTCP",
            "accountaor": "sip:alice@example.com", "direction": "outgoing",
            "peeruri": "sip:+14155550100@example.com", "id": "8f3b2c", "param": param,
            "rtcp_stats": stats
        })
    }

    #[test]
    fn baresip_fields_map_to_channels_with_units_converted() {
        let stats = json!({
            "tx": {"sent": 400, "lost": 3, "jit": 1125},
            "rx": {"sent": 390, "lost": -2, "jit": 20_000},
            "rtt": 85_500
        });
        let [(c_in, rx), (c_out, tx)] = RawSample::from_baresip_rtcp(&stats).unwrap();
        assert_eq!((c_in, c_out), (Channel::Input, Channel::Output));
        assert_eq!(
            rx,
            RawSample {
                packets: 390,
                lost: -2,
                jitter_ms: 20.0,
                rtt_ms: Some(85.5)
            }
        );
        assert_eq!(
            tx,
            RawSample {
                packets: 400,
                lost: 3,
                jitter_ms: 1.125,
                rtt_ms: Some(85.5)
            }
        );
        // The whole event is accepted too, and gives the same samples.
        let whole = RawSample::from_baresip_rtcp(&baresip_event("audio", stats)).unwrap();
        assert_eq!(whole, [(c_in, rx), (c_out, tx)]);
    }

    #[test]
    fn baresip_all_zero_before_media_flows() {
        let stats = json!({"tx": {"sent": 0, "lost": 0, "jit": 0}, "rx": {"sent": 0, "lost": 0, "jit": 0}, "rtt": 0});
        let samples = RawSample::from_baresip_rtcp(&stats).unwrap();
        for (_, s) in samples {
            assert_eq!(
                s,
                RawSample {
                    packets: 0,
                    lost: 0,
                    jitter_ms: 0.0,
                    rtt_ms: None
                }
            );
        }
    }

    #[test]
    fn baresip_missing_and_invalid_fields_are_named() {
        let full = json!({"tx": {"sent": 1, "lost": 0, "jit": 0}, "rx": {"sent": 1, "lost": 0, "jit": 0}, "rtt": 0});
        let without = |outer: &str, inner: Option<&str>| {
            let mut v = full.clone();
            match inner {
                None => {
                    v.as_object_mut().unwrap().remove(outer);
                }
                Some(k) => {
                    v[outer].as_object_mut().unwrap().remove(k);
                }
            }
            v
        };
        let cases = [
            (without("rtt", None), "rtcp_stats.rtt"),
            (without("tx", None), "rtcp_stats.tx"),
            (without("rx", None), "rtcp_stats.rx"),
            (without("tx", Some("sent")), "rtcp_stats.tx.sent"),
            (without("tx", Some("lost")), "rtcp_stats.tx.lost"),
            (without("rx", Some("jit")), "rtcp_stats.rx.jit"),
        ];
        for (v, path) in cases {
            let e = RawSample::from_baresip_rtcp(&v).unwrap_err();
            assert!(matches!(&e, AudioSampleError::MissingField { .. }), "{e:?}");
            assert_eq!(e.path(), path);
            assert!(
                e.to_string().starts_with(&format!("{path}: missing")),
                "{e}"
            );
        }
        let mut v = full.clone();
        v["rx"]["jit"] = json!(-5);
        let e = RawSample::from_baresip_rtcp(&v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rtcp_stats.rx.jit: expected a non-negative integer, found a number (-5)"
        );
        let mut v = full.clone();
        v["tx"]["lost"] = json!("3");
        let e = RawSample::from_baresip_rtcp(&v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rtcp_stats.tx.lost: expected an integer, found a string (\"3\")"
        );
        let mut v = full;
        v["tx"] = json!([1, 2]);
        let e = RawSample::from_baresip_rtcp(&v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rtcp_stats.tx: expected an object, found an array"
        );
        let e = RawSample::from_baresip_rtcp(&json!("x".repeat(100))).unwrap_err();
        assert_eq!(e.path(), "rtcp_stats");
        assert!(e.to_string().ends_with("…)"), "{e}");
        let e = RawSample::from_baresip_rtcp(&json!({"type": "CALL_RTCP", "rtcp_stats": 7}))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "rtcp_stats: expected an object, found a number (7)"
        );
    }

    #[test]
    fn baresip_video_statistics_are_refused() {
        let stats = json!({"tx": {"sent": 1, "lost": 0, "jit": 0}, "rx": {"sent": 1, "lost": 0, "jit": 0}, "rtt": 0});
        let e = RawSample::from_baresip_rtcp(&baresip_event("video", stats.clone())).unwrap_err();
        assert_eq!(
            e,
            AudioSampleError::NotAudio {
                media: "video".into()
            }
        );
        assert_eq!(e.path(), "param");
        assert!(RawSample::from_baresip_rtcp(&baresip_event("AUDIO", stats)).is_ok());
    }

    #[test]
    fn webrtc_converts_seconds_and_routes_remote_fields() {
        let report: WebRtcAudioStats = serde_json::from_value(json!({
            "inbound": {"packetsReceived": 1000, "packetsLost": -1, "jitter": 0.0125},
            "outbound": {"packetsSent": 1010},
            "remoteInbound": {"packetsLost": 7, "jitter": 0.002, "roundTripTime": 0.0405}
        }))
        .unwrap();
        let samples = RawSample::from_webrtc(&report);
        assert_eq!(
            samples,
            vec![
                (
                    Channel::Input,
                    RawSample {
                        packets: 1000,
                        lost: -1,
                        jitter_ms: 12.5,
                        rtt_ms: Some(40.5)
                    }
                ),
                (
                    Channel::Output,
                    RawSample {
                        packets: 1010,
                        lost: 7,
                        jitter_ms: 2.0,
                        rtt_ms: Some(40.5)
                    }
                ),
            ]
        );
    }

    #[test]
    fn webrtc_without_remote_report_has_unknown_jitter_and_rtt() {
        let report = WebRtcAudioStats {
            outbound: Some(OutboundRtpStats { packets_sent: 50 }),
            ..WebRtcAudioStats::default()
        };
        let samples = RawSample::from_webrtc(&report);
        assert_eq!(samples.len(), 1);
        let (channel, s) = samples[0];
        assert_eq!(channel, Channel::Output);
        assert_eq!((s.packets, s.lost, s.rtt_ms), (50, 0, None));
        assert!(s.jitter_ms.is_nan());
        assert!(RawSample::from_webrtc(&WebRtcAudioStats::default()).is_empty());
    }
}
