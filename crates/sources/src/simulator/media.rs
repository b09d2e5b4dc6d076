//! Synthetic media for AUDIO_STATS: cumulative RTP counters like a softphone's RTCP reports
//! (50 packets per second, a little loss, jitter and round-trip time that depend on the call's
//! network quality), fed through the engine's real [`AudioAggregator`], so simulated
//! AUDIO_STATS are computed exactly as live ones are.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use voicetk_engine::audio::{AudioAggregator, RawSample};
use voicetk_events::{AudioStatsDetail, Channel};

/// RTP packets per second of a 20 ms-packetised voice stream.
const PACKETS_PER_SECOND: f64 = 50.0;

/// How often a softphone reports RTCP statistics; each report is one raw sample.
const REPORT_PERIOD: Duration = Duration::from_secs(5);

/// A call's network, drawn once per call: most calls are clean, a few are not.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Network {
    /// Share of packets lost, in percent.
    loss_percent: f64,
    /// Typical interarrival jitter, ms.
    jitter_ms: f64,
    /// Typical round-trip time, ms.
    rtt_ms: f64,
}

impl Network {
    fn draw(rng: &mut impl Rng) -> Network {
        // (share of calls, loss %, jitter ms, rtt ms) ranges per quality class.
        let (loss, jitter, rtt) = match rng.random_range(0..100) {
            0..75 => (0.0..0.4, 2.0..10.0, 20.0..80.0),
            75..93 => (0.5..2.5, 10.0..30.0, 80.0..200.0),
            _ => (3.0..10.0, 30.0..80.0, 200.0..450.0),
        };
        Network {
            loss_percent: rng.random_range(loss),
            jitter_ms: rng.random_range(jitter),
            rtt_ms: rng.random_range(rtt),
        }
    }
}

/// Cumulative counters of one channel, as RTCP reports them.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    /// Packets received (input) or sent (output) since the call connected.
    packets: u64,
    /// Packets lost since the call connected.
    lost: i64,
}

/// The media of one simulated call.
#[derive(Debug)]
pub(crate) struct Media {
    /// `callId` the statistics are about.
    call_id: String,
    /// Its own random stream, so media never shifts what the script draws.
    rng: ChaCha8Rng,
    /// The levels loss, jitter and round-trip time vary around.
    network: Network,
    /// Input, then output.
    counters: [Counters; 2],
    /// One aggregator per call: each call's intervals start when it connects, so they do not
    /// line up across calls.
    aggregator: AudioAggregator,
    /// Raw samples per interval, and the packets each one adds.
    samples_per_interval: u32,
    packets_per_sample: u64,
}

impl Media {
    pub(crate) fn new(call_id: String, mut rng: ChaCha8Rng, interval: Duration) -> Media {
        let network = Network::draw(&mut rng);
        let samples = (interval.as_secs_f64() / REPORT_PERIOD.as_secs_f64())
            .round()
            .max(1.0);
        let period = interval.as_secs_f64() / samples;
        Media {
            call_id,
            rng,
            network,
            counters: [Counters::default(); 2],
            aggregator: AudioAggregator::new(),
            samples_per_interval: samples as u32,
            packets_per_sample: (period * PACKETS_PER_SECOND).round() as u64,
        }
    }

    /// One interval of talking: its raw samples go through the aggregator, which returns one
    /// AUDIO_STATS detail per channel (input first).
    pub(crate) fn interval(&mut self) -> Vec<AudioStatsDetail> {
        for _ in 0..self.samples_per_interval {
            for (i, channel) in Channel::BOTH.into_iter().enumerate() {
                let sample = self.next_sample(i);
                self.aggregator.record(&self.call_id, channel, sample);
            }
        }
        self.aggregator.flush()
    }

    /// Advances channel `i`'s counters by one report period.
    fn next_sample(&mut self, i: usize) -> RawSample {
        let net = self.network;
        let expected = self.packets_per_sample;
        // Loss comes in small bursts around the call's mean.
        let lost = (expected as f64 * net.loss_percent / 100.0 * self.rng.random_range(0.0..2.0))
            .round()
            .min(expected as f64) as u64;
        let c = &mut self.counters[i];
        // Input counts packets received, output packets sent (the far end reports the loss).
        c.packets += if i == 0 { expected - lost } else { expected };
        c.lost += lost as i64;
        let vary = |rng: &mut ChaCha8Rng, x: f64| x * rng.random_range(0.6..1.4);
        RawSample {
            packets: c.packets,
            lost: c.lost,
            jitter_ms: vary(&mut self.rng, net.jitter_ms),
            rtt_ms: Some(vary(&mut self.rng, net.rtt_ms)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn intervals_are_plausible_on_both_channels() {
        for seed in 0..50 {
            let rng = ChaCha8Rng::seed_from_u64(seed);
            let mut media = Media::new("c".into(), rng, Duration::from_secs(30));
            for _ in 0..3 {
                let details = media.interval();
                assert_eq!(
                    details.iter().map(|d| d.stats).collect::<Vec<_>>(),
                    Channel::BOTH
                );
                for d in details {
                    assert_eq!(d.call_id, "c");
                    assert_eq!(d.stats_count, 6);
                    // 30 s at 50 packets/s, less what the input lost.
                    assert!((1200..=1500).contains(&d.packets_count), "{d:?}");
                    assert!(d.packets_lost <= 300, "{d:?}");
                    assert!((1..=120).contains(&d.jitter_buffer_millis), "{d:?}");
                    assert!((10..=650).contains(&d.round_trip_time_millis), "{d:?}");
                    let mos = d.mos.unwrap();
                    assert!((1.0..=4.5).contains(&mos), "{d:?}");
                }
            }
        }
    }

    #[test]
    fn short_intervals_still_sample() {
        let rng = ChaCha8Rng::seed_from_u64(1);
        let mut media = Media::new("c".into(), rng, Duration::from_secs(2));
        let details = media.interval();
        assert_eq!(details.len(), 2);
        assert_eq!(details[1].packets_count, 100);
        assert_eq!(details[1].stats_count, 1);
    }
}
