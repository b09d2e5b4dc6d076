//! Per-call, per-channel interval state: raw cumulative samples in, AUDIO_STATS details out.

use std::collections::BTreeMap;

use voicetk_events::{AudioStatsDetail, Channel, Extra};

use super::emodel::mos;
use super::sample::RawSample;

/// Turns raw cumulative samples into one [`AudioStatsDetail`] per call, channel and interval.
///
/// The aggregator has no clock: [`flush`](Self::flush) closes the interval, whoever calls it
/// ([`run_aggregator`](super::run_aggregator) does on a timer). The rules it applies are listed
/// in the [module docs](super#aggregation-rules).
///
/// # Examples
/// ```
/// use voicetk_engine::audio::{AudioAggregator, RawSample};
/// use voicetk_events::Channel;
///
/// let mut agg = AudioAggregator::new();
/// let sample = |packets, lost, jitter_ms| RawSample { packets, lost, jitter_ms, rtt_ms: Some(40.0) };
/// agg.record("c1", Channel::Input, sample(250, 1, 4.0));
/// agg.record("c1", Channel::Input, sample(500, 3, 6.0));
/// let [d] = agg.flush().try_into().unwrap();
/// assert_eq!((d.packets_count, d.packets_lost, d.jitter_buffer_millis, d.stats_count), (500, 3, 5, 2));
///
/// // The next interval counts from where this one ended.
/// agg.record("c1", Channel::Input, sample(750, 3, 5.0));
/// let [d] = agg.flush().try_into().unwrap();
/// assert_eq!((d.packets_count, d.packets_lost), (250, 0));
/// ```
#[derive(Debug, Clone)]
pub struct AudioAggregator {
    /// State per call, ordered by call id so that flushes come out sorted without a sort.
    calls: BTreeMap<String, CallAudio>,
    /// Empty intervals in a row after which a call is forgotten (see [`Self::with_idle_limit`]).
    idle_limit: u32,
}

/// Both channels of one call.
#[derive(Debug, Clone, Default)]
struct CallAudio {
    /// Indexed by [`channel_index`]: input, then output.
    channels: [ChannelAudio; 2],
    /// Flushes in a row in which neither channel got a sample.
    idle_flushes: u32,
}

/// One channel of one call.
#[derive(Debug, Clone, Default)]
struct ChannelAudio {
    /// Cumulative packets of the latest sample: the baseline the next increment is measured
    /// from. Starts at 0, the call's start.
    last_packets: u64,
    /// Cumulative lost of the latest sample, the same way.
    last_lost: i64,
    /// What the open interval has gathered so far.
    interval: IntervalStats,
}

/// The open interval's accumulators for one channel.
#[derive(Debug, Clone, Default)]
struct IntervalStats {
    /// Samples recorded: `statsCount`.
    samples: u64,
    /// Sum of packet increments (after reset handling).
    packets: u64,
    /// Sum of loss increments; negative while duplicates outnumber losses.
    lost: i64,
    /// Mean of the valid jitter values.
    jitter: RunningMean,
    /// Mean of the valid round-trip times.
    rtt: RunningMean,
}

/// A mean that cannot overflow however large the finite inputs are.
#[derive(Debug, Clone, Copy, Default)]
struct RunningMean {
    /// Values taken.
    n: u64,
    /// Mean of those values.
    mean: f64,
}

impl RunningMean {
    /// Takes `x` if it is a real measurement: finite and not negative.
    fn add(&mut self, x: f64) {
        if x.is_finite() && x >= 0.0 {
            self.n += 1;
            self.mean += (x - self.mean) / self.n as f64;
        }
    }

    /// The mean rounded half away from zero to whole milliseconds; 0 without any value.
    fn rounded(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            // Saturating float → int cast: an absurd mean becomes u64::MAX, never wraps.
            self.mean.round() as u64
        }
    }
}

impl AudioAggregator {
    /// Calls whose channels get no sample for this many intervals in a row are forgotten, by
    /// default. With 5 s RTCP reports and 30 s intervals this is 10 silent minutes.
    pub const DEFAULT_IDLE_LIMIT: u32 = 20;

    /// An aggregator with no calls, forgetting idle calls after
    /// [`DEFAULT_IDLE_LIMIT`](Self::DEFAULT_IDLE_LIMIT) empty intervals.
    pub fn new() -> Self {
        AudioAggregator {
            calls: BTreeMap::new(),
            idle_limit: Self::DEFAULT_IDLE_LIMIT,
        }
    }

    /// Sets after how many empty intervals in a row a call is forgotten (at least 1).
    ///
    /// Forgetting bounds memory when a source never reports a call's end. A forgotten call
    /// that reports again starts over from a zero baseline, so its next interval counts
    /// everything since the stream started: keep the limit well above any silence a live call
    /// can have.
    #[must_use]
    pub fn with_idle_limit(mut self, intervals: u32) -> Self {
        self.idle_limit = intervals.max(1);
        self
    }

    /// Records one sample of `call_id`'s `channel` in the open interval.
    pub fn record(&mut self, call_id: &str, channel: Channel, sample: RawSample) {
        let call = match self.calls.get_mut(call_id) {
            Some(call) => call,
            None => self.calls.entry(call_id.to_owned()).or_default(),
        };
        call.channels[channel_index(channel)].record(sample);
    }

    /// Closes the interval: one [`AudioStatsDetail`] per (call, channel) that got at least one
    /// sample in it, sorted by call id then channel (input first).
    ///
    /// Interval accumulators are reset; cumulative baselines are kept. Calls idle for the
    /// [idle limit](Self::with_idle_limit) are forgotten.
    pub fn flush(&mut self) -> Vec<AudioStatsDetail> {
        let mut details = Vec::new();
        let idle_limit = self.idle_limit;
        self.calls.retain(|call_id, call| {
            let before = details.len();
            call.close_into(call_id, &mut details);
            if details.len() > before {
                call.idle_flushes = 0;
                return true;
            }
            call.idle_flushes += 1;
            let keep = call.idle_flushes < idle_limit;
            if !keep {
                tracing::debug!(
                    call_id,
                    intervals = call.idle_flushes,
                    "forgetting audio statistics of a silent call"
                );
            }
            keep
        });
        details
    }

    /// The call ended: returns its partial interval (channels with at least one sample, input
    /// first) and forgets it. Unknown calls give nothing.
    pub fn end_call(&mut self, call_id: &str) -> Vec<AudioStatsDetail> {
        let mut details = Vec::new();
        if let Some(mut call) = self.calls.remove(call_id) {
            call.close_into(call_id, &mut details);
        }
        details
    }

    /// How many calls the aggregator holds state for.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }
}

impl Default for AudioAggregator {
    fn default() -> Self {
        Self::new()
    }
}

impl CallAudio {
    /// Closes both channels' interval, pushing a detail for each that had samples.
    fn close_into(&mut self, call_id: &str, out: &mut Vec<AudioStatsDetail>) {
        for channel in Channel::BOTH {
            let interval = std::mem::take(&mut self.channels[channel_index(channel)].interval);
            if interval.samples > 0 {
                out.push(interval.detail(call_id, channel));
            }
        }
    }
}

impl ChannelAudio {
    fn record(&mut self, sample: RawSample) {
        // A counter that goes down means the stream restarted (new SSRC, re-INVITE): the new
        // value counts from zero. Packet counters never go down otherwise.
        let restarted = sample.packets < self.last_packets;
        let packets = if restarted {
            sample.packets
        } else {
            sample.packets - self.last_packets
        };
        // Cumulative loss may legitimately go down (duplicates, late packets): that is a
        // negative increment, unless the stream restarted, when it counts from zero too.
        let lost = if restarted {
            sample.lost
        } else {
            sample.lost.saturating_sub(self.last_lost)
        };
        self.last_packets = sample.packets;
        self.last_lost = sample.lost;

        let i = &mut self.interval;
        i.samples += 1;
        i.packets = i.packets.saturating_add(packets);
        i.lost = i.lost.saturating_add(lost);
        i.jitter.add(sample.jitter_ms);
        if let Some(rtt) = sample.rtt_ms {
            i.rtt.add(rtt);
        }
    }
}

impl IntervalStats {
    fn detail(&self, call_id: &str, channel: Channel) -> AudioStatsDetail {
        let packets_count = self.packets;
        // More duplicates than losses is still no loss.
        let lost = u64::try_from(self.lost).unwrap_or(0);
        // What the loss is a share of: for input, packets arrived + packets lost; for output,
        // packets sent, of which no more can be lost than were sent.
        let (packets_lost, expected) = match channel {
            Channel::Input => (lost, packets_count.saturating_add(lost)),
            Channel::Output => (lost.min(packets_count), packets_count),
        };
        let jitter_buffer_millis = self.jitter.rounded();
        let round_trip_time_millis = self.rtt.rounded();
        // Computed from the event's own (rounded) fields so anyone can check it; no estimate
        // for an interval without media.
        let mos = (expected > 0).then(|| {
            let loss_percent = 100.0 * packets_lost as f64 / expected as f64;
            mos(
                round_trip_time_millis as f64,
                jitter_buffer_millis as f64,
                loss_percent,
            )
        });
        AudioStatsDetail {
            call_id: call_id.to_owned(),
            stats: channel,
            packets_lost,
            packets_count,
            jitter_buffer_millis,
            round_trip_time_millis,
            stats_count: self.samples,
            mos,
            extra: Extra::new(),
        }
    }
}

/// Index of a channel in [`CallAudio::channels`].
fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Input => 0,
        Channel::Output => 1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(packets: u64, lost: i64) -> RawSample {
        RawSample {
            packets,
            lost,
            jitter_ms: 0.0,
            rtt_ms: None,
        }
    }

    fn with(packets: u64, lost: i64, jitter_ms: f64, rtt_ms: Option<f64>) -> RawSample {
        RawSample {
            packets,
            lost,
            jitter_ms,
            rtt_ms,
        }
    }

    fn only(details: Vec<AudioStatsDetail>) -> AudioStatsDetail {
        assert_eq!(details.len(), 1, "{details:?}");
        details.into_iter().next().unwrap()
    }

    #[test]
    fn deltas_from_the_previous_interval_s_last_sample() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(100, 1));
        a.record("c", Channel::Input, s(250, 2));
        let d = only(a.flush());
        assert_eq!(
            (d.packets_count, d.packets_lost, d.stats_count),
            (250, 2, 2)
        );
        // Baseline is now 250 / 2, not 0 and not the interval's first sample.
        a.record("c", Channel::Input, s(300, 2));
        a.record("c", Channel::Input, s(500, 6));
        let d = only(a.flush());
        assert_eq!(
            (d.packets_count, d.packets_lost, d.stats_count),
            (250, 4, 2)
        );
    }

    #[test]
    fn baseline_survives_an_empty_interval() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Output, s(1000, 0));
        a.flush();
        assert!(a.flush().is_empty());
        a.record("c", Channel::Output, s(1500, 5));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (500, 5));
    }

    #[test]
    fn counter_reset_counts_from_zero() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(5000, 40));
        a.flush();
        // Re-INVITE: the new stream's counters start over.
        a.record("c", Channel::Input, s(120, 3));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (120, 3));
        // And the new stream is the baseline from now on.
        a.record("c", Channel::Input, s(300, 4));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (180, 1));
    }

    #[test]
    fn counter_reset_inside_an_interval_keeps_both_parts() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(1000, 0));
        a.flush();
        a.record("c", Channel::Input, s(1200, 2)); // +200, +2
        a.record("c", Channel::Input, s(50, 1)); // restart: +50, +1
        a.record("c", Channel::Input, s(80, 1)); // +30, +0
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (280, 3));
    }

    #[test]
    fn negative_loss_clamps_at_zero_per_interval() {
        let mut a = AudioAggregator::new();
        // Duplicates from the start: cumulative lost is negative.
        a.record("c", Channel::Input, s(100, -3));
        let d = only(a.flush());
        assert_eq!(d.packets_lost, 0);
        // Loss went down inside an interval but up more overall: the net counts.
        a.record("c", Channel::Input, s(200, 2)); // +5
        a.record("c", Channel::Input, s(300, 0)); // −2
        let d = only(a.flush());
        assert_eq!(d.packets_lost, 3);
        // Net decrease over an interval: 0, not a wrapped huge number.
        a.record("c", Channel::Input, s(400, -4));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (100, 0));
    }

    #[test]
    fn output_loss_never_exceeds_packets_sent() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Output, s(10, 0));
        a.flush();
        a.record("c", Channel::Output, s(15, 40));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (5, 5));
        assert_eq!(d.mos, Some(1.0));
        // Input loss is not capped by packets received: an outage loses more than arrives.
        a.record("c", Channel::Input, s(10, 90));
        let d = only(a.flush());
        assert_eq!((d.packets_count, d.packets_lost), (10, 90));
    }

    #[test]
    fn means_ignore_nan_infinite_and_negative_values_but_count_the_samples() {
        let mut a = AudioAggregator::new();
        let ch = Channel::Input;
        a.record("c", ch, with(10, 0, 4.0, Some(30.0)));
        a.record("c", ch, with(20, 0, f64::NAN, Some(f64::INFINITY)));
        a.record("c", ch, with(30, 0, -1.0, Some(-5.0)));
        a.record("c", ch, with(40, 0, f64::INFINITY, Some(f64::NAN)));
        a.record("c", ch, with(50, 0, 7.0, None));
        a.record("c", ch, with(60, 0, f64::NEG_INFINITY, Some(50.0)));
        let d = only(a.flush());
        assert_eq!(d.stats_count, 6);
        assert_eq!(d.jitter_buffer_millis, 6); // (4 + 7) / 2 = 5.5 → 6
        assert_eq!(d.round_trip_time_millis, 40); // (30 + 50) / 2
    }

    #[test]
    fn no_valid_value_means_zero() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, with(10, 0, f64::NAN, None));
        a.record("c", Channel::Input, with(20, 0, -3.0, Some(f64::NAN)));
        let d = only(a.flush());
        assert_eq!((d.jitter_buffer_millis, d.round_trip_time_millis), (0, 0));
        assert_eq!(d.stats_count, 2);
    }

    #[test]
    fn means_round_half_away_from_zero() {
        let cases = [
            (vec![2.0, 3.0], 3),          // 2.5 → 3
            (vec![2.4], 2),               // 2.4 → 2
            (vec![0.5], 1),               // 0.5 → 1
            (vec![0.49], 0),              // 0.49 → 0
            (vec![10.0, 11.0, 12.5], 11), // 11.1666 → 11
            (vec![1.5, 1.5, 1.5], 2),     // 1.5 → 2
        ];
        for (values, expected) in cases {
            let mut a = AudioAggregator::new();
            for (n, v) in values.iter().enumerate() {
                a.record("c", Channel::Input, with(n as u64, 0, *v, Some(*v)));
            }
            let d = only(a.flush());
            assert_eq!(d.jitter_buffer_millis, expected, "{values:?}");
            assert_eq!(d.round_trip_time_millis, expected, "{values:?}");
        }
    }

    #[test]
    fn channels_and_calls_are_separate_and_sorted() {
        let mut a = AudioAggregator::new();
        a.record("b", Channel::Output, with(100, 1, 8.0, Some(80.0)));
        a.record("b", Channel::Input, with(90, 2, 4.0, Some(80.0)));
        a.record("a", Channel::Output, with(10, 0, 1.0, None));
        a.record("b", Channel::Input, with(190, 2, 6.0, Some(60.0)));
        let details = a.flush();
        let keys: Vec<_> = details
            .iter()
            .map(|d| (d.call_id.as_str(), d.stats))
            .collect();
        assert_eq!(
            keys,
            [
                ("a", Channel::Output),
                ("b", Channel::Input),
                ("b", Channel::Output)
            ]
        );
        let [a_out, b_in, b_out] = details.try_into().unwrap();
        assert_eq!(
            (
                a_out.packets_count,
                a_out.stats_count,
                a_out.jitter_buffer_millis
            ),
            (10, 1, 1)
        );
        assert_eq!(
            (
                b_in.packets_count,
                b_in.packets_lost,
                b_in.stats_count,
                b_in.jitter_buffer_millis,
                b_in.round_trip_time_millis
            ),
            (190, 2, 2, 5, 70)
        );
        assert_eq!(
            (
                b_out.packets_count,
                b_out.packets_lost,
                b_out.stats_count,
                b_out.jitter_buffer_millis
            ),
            (100, 1, 1, 8)
        );
    }

    #[test]
    fn only_channels_with_samples_are_flushed() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(1, 0));
        let d = only(a.flush());
        assert_eq!(d.stats, Channel::Input);
        assert!(a.flush().is_empty());
        a.record("c", Channel::Output, s(1, 0));
        assert_eq!(only(a.flush()).stats, Channel::Output);
    }

    #[test]
    fn mos_is_computed_from_the_reported_fields() {
        let mut a = AudioAggregator::new();
        // 2 of 10 expected lost on input → 20 %; rtt 30, jitter 10.
        a.record("c", Channel::Input, with(8, 2, 10.0, Some(30.0)));
        let d = only(a.flush());
        assert_eq!(d.mos, Some(mos(30.0, 10.0, 20.0)));
        // Output: 1 of 20 sent lost → 5 %.
        a.record("c", Channel::Output, with(20, 1, 20.0, Some(40.0)));
        let d = only(a.flush());
        assert_eq!(d.mos, Some(mos(40.0, 20.0, 5.0)));
        // Rounded means feed the estimate: 10.4 ms jitter counts as 10.
        a.record("c", Channel::Output, with(40, 1, 10.4, Some(30.0)));
        let d = only(a.flush());
        assert_eq!(d.mos, Some(mos(30.0, 10.0, 0.0)));
    }

    #[test]
    fn no_mos_for_an_interval_without_media() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(0, 0));
        a.record("c", Channel::Output, s(0, 0));
        let details = a.flush();
        assert_eq!(details.len(), 2);
        assert!(
            details
                .iter()
                .all(|d| d.mos.is_none() && d.stats_count == 1)
        );
    }

    #[test]
    fn end_call_flushes_the_partial_interval_and_forgets() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(100, 0));
        a.record("c", Channel::Output, s(100, 0));
        a.record("other", Channel::Input, s(5, 0));
        a.flush();
        a.record("c", Channel::Output, s(160, 1));
        a.record("other", Channel::Input, s(10, 0));
        let d = only(a.end_call("c"));
        assert_eq!(
            (d.stats, d.packets_count, d.packets_lost),
            (Channel::Output, 60, 1)
        );
        assert_eq!(a.call_count(), 1);
        assert!(a.end_call("c").is_empty());
        assert!(a.end_call("never-seen").is_empty());
        // The other call is untouched.
        let d = only(a.flush());
        assert_eq!((d.call_id.as_str(), d.packets_count), ("other", 5));
        // A call id reused after its end starts from a zero baseline.
        a.record("c", Channel::Input, s(30, 0));
        let d = only(a.end_call("c"));
        assert_eq!(d.packets_count, 30);
    }

    #[test]
    fn end_call_without_samples_in_the_interval_gives_nothing() {
        let mut a = AudioAggregator::new();
        a.record("c", Channel::Input, s(100, 0));
        a.flush();
        assert!(a.end_call("c").is_empty());
        assert_eq!(a.call_count(), 0);
    }

    #[test]
    fn silent_calls_are_forgotten_after_the_idle_limit() {
        let mut a = AudioAggregator::new().with_idle_limit(3);
        a.record("quiet", Channel::Input, s(100, 0));
        a.record("busy", Channel::Input, s(100, 0));
        a.flush();
        for round in 1..=3u64 {
            assert_eq!(a.call_count(), 2, "round {round}");
            a.record("busy", Channel::Input, s(100 + round, 0));
            a.flush();
        }
        assert_eq!(a.call_count(), 1);
        assert_eq!(
            AudioAggregator::default().idle_limit,
            AudioAggregator::DEFAULT_IDLE_LIMIT
        );
        assert_eq!(AudioAggregator::new().with_idle_limit(0).idle_limit, 1);
    }

    #[test]
    fn produced_details_are_valid_wire_events() {
        let mut a = AudioAggregator::new();
        a.record("c-1", Channel::Input, with(500, 4, 12.0, Some(75.0)));
        a.record("c-1", Channel::Output, with(0, 0, 0.0, None));
        for d in a.flush() {
            let env = voicetk_events::Envelope::new(voicetk_events::TelephonyEvent::AudioStats(d));
            let back = voicetk_events::parse_event(
                env.to_json().as_bytes(),
                &voicetk_events::ParseOptions::default(),
            )
            .unwrap();
            assert_eq!(back, env);
        }
    }

    /// Raw counters of one channel, fed in order.
    fn arb_samples() -> impl Strategy<Value = Vec<(u64, i64, f64, Option<f64>, bool)>> {
        let packets = prop_oneof![0u64..5_000, any::<u64>()];
        let lost = prop_oneof![-50i64..500, any::<i64>()];
        let value = prop_oneof![
            0.0f64..500.0,
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0)
        ];
        prop::collection::vec(
            (
                packets,
                lost,
                value.clone(),
                prop::option::of(value),
                any::<bool>(),
            ),
            0..40,
        )
    }

    proptest! {
        /// Whatever is fed: no panic, statsCount adds up, packet counts equal the reference
        /// increments, loss never exceeds the positive loss increments fed, output loss never
        /// exceeds packets sent, and mos stays in [1, 4.5].
        #[test]
        fn arbitrary_sequences_keep_the_invariants(
            feed in arb_samples(),
            output in any::<bool>(),
        ) {
            let channel = if output { Channel::Output } else { Channel::Input };
            let mut a = AudioAggregator::new();
            let (mut prev_p, mut prev_l) = (0u64, 0i64);
            let (mut ref_packets, mut ref_positive_lost) = (0u128, 0u128);
            let mut details = Vec::new();
            for (packets, lost, jitter_ms, rtt_ms, flush_after) in &feed {
                let restarted = *packets < prev_p;
                ref_packets += u128::from(if restarted { *packets } else { packets - prev_p });
                let lost_inc = if restarted { i128::from(*lost) } else { i128::from(*lost) - i128::from(prev_l) };
                ref_positive_lost += u128::try_from(lost_inc.max(0)).unwrap();
                (prev_p, prev_l) = (*packets, *lost);
                a.record("c", channel, with(*packets, *lost, *jitter_ms, *rtt_ms));
                if *flush_after {
                    details.extend(a.flush());
                }
            }
            details.extend(a.end_call("c"));
            prop_assert_eq!(a.call_count(), 0);
            let stats: u64 = details.iter().map(|d| d.stats_count).sum();
            prop_assert_eq!(stats, feed.len() as u64);
            let packets: u128 = details.iter().map(|d| u128::from(d.packets_count)).sum();
            let lost: u128 = details.iter().map(|d| u128::from(d.packets_lost)).sum();
            // Saturation can only lower the reported sum.
            prop_assert!(packets <= ref_packets);
            if ref_packets <= u128::from(u64::MAX) {
                prop_assert_eq!(packets, ref_packets);
            }
            prop_assert!(lost <= ref_positive_lost, "lost {} > fed {}", lost, ref_positive_lost);
            for d in &details {
                prop_assert!(d.stats_count >= 1);
                if output {
                    prop_assert!(d.packets_lost <= d.packets_count);
                }
                if let Some(m) = d.mos {
                    prop_assert!((1.0..=4.5).contains(&m), "mos {}", m);
                }
            }
        }
    }
}
