//! AUDIO_STATS aggregation: raw per-direction media samples in, one event per call, channel
//! and interval out, with voicetk's MOS estimate (CONTRACT.md §1).
//!
//! ```
//! use serde_json::json;
//! use voicetk_engine::audio::{AudioAggregator, RawSample};
//! use voicetk_events::Channel;
//!
//! let mut agg = AudioAggregator::new();
//! // Two baresip CALL_RTCP reports, 5 s apart: cumulative counters, jitter and rtt in µs.
//! for (sent, lost, jit) in [(250, 0, 2000), (500, 2, 4000)] {
//!     let rtcp = json!({"tx": {"sent": sent, "lost": 0, "jit": 1000},
//!                       "rx": {"sent": sent, "lost": lost, "jit": jit}, "rtt": 60000});
//!     for (channel, sample) in RawSample::from_baresip_rtcp(&rtcp)? {
//!         agg.record("call-1", channel, sample);
//!     }
//! }
//! // The interval closes (every 30 s in `run_aggregator`): one detail per channel.
//! let details = agg.flush();
//! let input = &details[0];
//! assert_eq!(input.stats, Channel::Input);
//! assert_eq!((input.packets_count, input.packets_lost), (500, 2));
//! assert_eq!((input.jitter_buffer_millis, input.round_trip_time_millis), (3, 60));
//! assert_eq!(input.stats_count, 2);
//! let mos = input.mos.unwrap();
//! assert!((4.0..=4.5).contains(&mos));
//! # Ok::<(), voicetk_engine::audio::AudioSampleError>(())
//! ```
//!
//! The pieces, in the order data flows through them:
//! - [`RawSample`]: one direction of a call at one instant, cumulative counters;
//!   [`RawSample::from_baresip_rtcp`] and [`RawSample::from_webrtc`] convert source statistics.
//! - [`AudioAggregator`]: per (call, channel) interval state; [`flush`](AudioAggregator::flush)
//!   closes an interval and returns `voicetk_events::AudioStatsDetail`s.
//! - [`run_aggregator`]: the task that flushes every [`AudioStatsConfig::interval`] (30 s by
//!   default) and sends the events on, fed by [`SampleMsg`]s.
//! - [`mos`], [`r_factor`], [`mos_from_r`]: the E-model.
//!
//! # Channels and units
//! `inputChannelStats` ([`Channel::Input`](voicetk_events::Channel::Input)) is what this side
//! receives: `packets` counts packets received and `lost` is RFC 3550's cumulative
//! "expected − received". `outputChannelStats` is what it sends: `packets` counts packets sent
//! and `lost` is what the far end reports lost. Jitter and round-trip time are milliseconds in a
//! [`RawSample`]; baresip reports both in microseconds and WebRTC in seconds, which the
//! conversions take care of.
//!
//! # Aggregation rules
//! For each (call, channel), over the samples recorded in one interval:
//! - **Deltas, not totals.** `packetsCount` and `packetsLost` are the increase since the last
//!   sample of the previous interval (0 at the call's start), kept across empty intervals.
//! - **Restarts.** When the packet counter goes *down* (new SSRC, re-INVITE, restarted stream),
//!   both counters are taken to count from zero: the increment is the new value. A restart that
//!   happens early enough for the new count to overtake the old one cannot be seen, and is
//!   under-counted rather than invented.
//! - **Negative loss.** Cumulative loss may go down without a restart (duplicates, late
//!   packets): that is a negative increment. An interval whose net loss is negative reports 0,
//!   and nothing is carried over, so the reported loss never exceeds the losses fed.
//! - **Plausible loss.** Output loss is capped at the packets sent in the interval. Input loss
//!   is not capped by packets received: in an outage more is lost than arrives.
//! - **Means.** `jitterBufferMillis` and `roundTripTimeMillis` are the means of the finite,
//!   non-negative values only (NaN, ±∞ and negative values are skipped, `rtt_ms: None` too, but
//!   the sample still counts), rounded half away from zero; 0 when there is no valid value.
//! - **`statsCount`** is the number of samples recorded in the interval.
//! - **Only channels with samples** produce an event; an interval nobody reported on is silent.
//! - **`mos`** is computed from the event's own fields (the rounded means and the loss share),
//!   so anyone can check it: loss percent = lost / (received + lost) for input and
//!   lost / sent for output. An interval with no packets at all has no estimate (`mos` absent).
//!
//! # The MOS estimate
//! The simplified E-model used by Salesforce's `scv-connector-base` (its `mosUtil.js`), itself
//! the widely used reduction of ITU-T G.107's `R = R₀ − Is − Id − Ie_eff + A`:
//!
//! ```text
//! effective latency  L = rtt + 2·jitter + 10            (ms; 10 ms for the codec)
//! R = 93.2 − L/40                 if L < 160             (93.2 = default R₀ − Is; Id)
//! R = 93.2 − (L − 120)/10         otherwise
//! R = R − 2.5 · loss%                                    (Ie_eff, no codec-specific Bpl)
//! MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)        (G.107 Annex B)
//! ```
//!
//! voicetk's [`mos`] clamps R to `[0, 100]` and MOS to `[1.0, 4.5]`. It differs from scv in one
//! input: scv subtracts `2.5 · lost/count`, a *ratio*, where the model (and voicetk) uses a
//! *percentage*; with the ratio even 100 % loss only lowers MOS by about 0.1.
//! [`mos_unclamped_scv`] keeps scv's exact behaviour and reproduces its test vectors. Like scv,
//! voicetk feeds the round-trip time (not the one-way delay) as the latency, which errs
//! pessimistic on long paths.

mod aggregator;
mod driver;
mod emodel;
mod sample;

pub use aggregator::AudioAggregator;
pub use driver::{AudioStatsConfig, AudioStatsConfigError, SampleMsg, run_aggregator};
pub use emodel::{mos, mos_from_r, mos_unclamped_scv, r_factor};
pub use sample::{
    AudioSampleError, InboundRtpStats, OutboundRtpStats, RawSample, RemoteInboundRtpStats,
    WebRtcAudioStats,
};
