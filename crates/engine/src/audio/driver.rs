//! The task that closes intervals on a timer and sends AUDIO_STATS events on.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use voicetk_events::{AudioStatsDetail, Channel, Envelope, TelephonyEvent};

use super::aggregator::AudioAggregator;
use super::sample::RawSample;

/// How AUDIO_STATS are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioStatsConfig {
    /// Length of one interval: one AUDIO_STATS event per call and channel per interval.
    /// Default is 30 s, the Voice Toolkit's own period; allowed range
    /// [`MIN_INTERVAL`](Self::MIN_INTERVAL)..=[`MAX_INTERVAL`](Self::MAX_INTERVAL).
    pub interval: Duration,
}

impl AudioStatsConfig {
    /// The default interval: 30 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
    /// The shortest interval accepted: 1 s. Sources report every few seconds, so shorter
    /// intervals would mostly be empty.
    pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
    /// The longest interval accepted: 1 h. AUDIO_STATS are meant to be near real time.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

    /// Checks the configuration; call it at start-up.
    ///
    /// # Errors
    /// [`AudioStatsConfigError::IntervalOutOfRange`] when `interval` is outside
    /// [`MIN_INTERVAL`](Self::MIN_INTERVAL)..=[`MAX_INTERVAL`](Self::MAX_INTERVAL).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use voicetk_engine::audio::AudioStatsConfig;
    ///
    /// assert!(AudioStatsConfig::default().validate().is_ok());
    /// let err = AudioStatsConfig { interval: Duration::ZERO }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "audio stats interval 0ns is out of range (1s to 3600s)");
    /// ```
    pub fn validate(&self) -> Result<(), AudioStatsConfigError> {
        if (Self::MIN_INTERVAL..=Self::MAX_INTERVAL).contains(&self.interval) {
            Ok(())
        } else {
            Err(AudioStatsConfigError::IntervalOutOfRange {
                interval: self.interval,
            })
        }
    }
}

impl Default for AudioStatsConfig {
    fn default() -> Self {
        AudioStatsConfig {
            interval: Self::DEFAULT_INTERVAL,
        }
    }
}

/// An [`AudioStatsConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioStatsConfigError {
    /// The interval is shorter than 1 s or longer than 1 h.
    #[error(
        "audio stats interval {interval:?} is out of range ({:?} to {:?})",
        AudioStatsConfig::MIN_INTERVAL,
        AudioStatsConfig::MAX_INTERVAL
    )]
    IntervalOutOfRange {
        /// The interval given.
        interval: Duration,
    },
}

/// What sources send to [`run_aggregator`].
#[derive(Debug, Clone, PartialEq)]
pub enum SampleMsg {
    /// One raw sample of one channel of a call.
    Sample {
        /// The call the sample belongs to (`callId`).
        call_id: String,
        /// Which direction it measures.
        channel: Channel,
        /// The measurement.
        sample: RawSample,
    },
    /// The call ended: its partial interval is sent at once and its state dropped.
    CallEnded {
        /// The call that ended.
        call_id: String,
    },
}

/// Aggregates `samples` into AUDIO_STATS events sent to `sink`, one per call and channel per
/// interval.
///
/// The first interval closes one full `config.interval` after the start, then every interval
/// after that ([`MissedTickBehavior::Delay`]: a late tick shifts the schedule rather than
/// bursting). At each close, messages already queued in `samples` are taken first, so a sample
/// sent before the close counts in the interval it was sent in. Each detail is sent as an
/// [`Envelope`] holding [`TelephonyEvent::AudioStats`], with no `seq` or `timestamp` yet (the
/// log sets them). A [`SampleMsg::CallEnded`] sends that call's partial interval at once.
///
/// Back-pressure: sending waits for room in `sink`, and meanwhile `samples` is not read, so a
/// slow consumer slows the sources instead of growing a buffer.
///
/// Stops when `samples` closes, after a final flush of every open interval, or as soon as
/// `sink` closes. An interval out of [`AudioStatsConfig::validate`]'s range is clamped into it,
/// with a warning.
///
/// # Examples
/// ```
/// use voicetk_engine::audio::{run_aggregator, AudioStatsConfig, RawSample, SampleMsg};
/// use voicetk_events::{Channel, EventType};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (samples, rx) = tokio::sync::mpsc::channel(1024);
/// let (tx, mut events) = tokio::sync::mpsc::channel(256);
/// let task = tokio::spawn(run_aggregator(AudioStatsConfig::default(), rx, tx));
///
/// let sample = RawSample { packets: 250, lost: 0, jitter_ms: 3.0, rtt_ms: Some(40.0) };
/// samples.send(SampleMsg::Sample { call_id: "c1".into(), channel: Channel::Input, sample }).await.unwrap();
/// drop(samples); // closing the input flushes what is open and stops the task
///
/// let event = events.recv().await.unwrap();
/// assert_eq!(event.event_type(), EventType::AudioStats);
/// assert_eq!(event.call_id(), "c1");
/// task.await.unwrap();
/// # }
/// ```
pub async fn run_aggregator(
    config: AudioStatsConfig,
    mut samples: mpsc::Receiver<SampleMsg>,
    sink: mpsc::Sender<Envelope>,
) {
    let period = config.interval.clamp(
        AudioStatsConfig::MIN_INTERVAL,
        AudioStatsConfig::MAX_INTERVAL,
    );
    if let Err(e) = config.validate() {
        tracing::warn!(error = %e, used = ?period, "audio stats interval clamped");
    }
    let mut aggregator = AudioAggregator::new();
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            // The tick first: a steady stream of samples must not starve the interval.
            biased;
            _ = ticker.tick() => {
                if close_interval(&mut aggregator, &mut samples, &sink).await.is_err() {
                    return;
                }
            }
            msg = samples.recv() => match msg {
                Some(msg) => {
                    if apply(&mut aggregator, msg, &sink).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = send_all(&sink, aggregator.flush()).await;
                    tracing::debug!("audio sample channel closed; aggregator stopped");
                    return;
                }
            },
        }
    }
}

/// The sink is gone: nobody will read what the aggregator produces.
#[derive(Debug)]
struct SinkClosed;

/// Closes the interval: takes the messages already queued (they were sent before the close),
/// then flushes. Only what is queued now, so a busy producer cannot hold the close off.
async fn close_interval(
    aggregator: &mut AudioAggregator,
    samples: &mut mpsc::Receiver<SampleMsg>,
    sink: &mpsc::Sender<Envelope>,
) -> Result<(), SinkClosed> {
    for _ in 0..samples.len() {
        let Ok(msg) = samples.try_recv() else { break };
        apply(aggregator, msg, sink).await?;
    }
    send_all(sink, aggregator.flush()).await
}

async fn apply(
    aggregator: &mut AudioAggregator,
    msg: SampleMsg,
    sink: &mpsc::Sender<Envelope>,
) -> Result<(), SinkClosed> {
    match msg {
        SampleMsg::Sample {
            call_id,
            channel,
            sample,
        } => {
            aggregator.record(&call_id, channel, sample);
            Ok(())
        }
        SampleMsg::CallEnded { call_id } => send_all(sink, aggregator.end_call(&call_id)).await,
    }
}

async fn send_all(
    sink: &mpsc::Sender<Envelope>,
    details: Vec<AudioStatsDetail>,
) -> Result<(), SinkClosed> {
    for detail in details {
        let envelope = Envelope::new(TelephonyEvent::AudioStats(detail));
        if sink.send(envelope).await.is_err() {
            tracing::debug!("audio stats sink closed; aggregator stopped");
            return Err(SinkClosed);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::error::TryRecvError;
    use tokio::task::JoinHandle;

    struct Harness {
        samples: mpsc::Sender<SampleMsg>,
        events: mpsc::Receiver<Envelope>,
        task: JoinHandle<()>,
        start: Instant,
    }

    /// Spawns the aggregator and lets it start its clock before returning.
    async fn start(config: AudioStatsConfig) -> Harness {
        let (samples, samples_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(64);
        let start = Instant::now();
        let task = tokio::spawn(run_aggregator(config, samples_rx, events_tx));
        let h = Harness {
            samples,
            events,
            task,
            start,
        };
        h.settle().await;
        h
    }

    fn sample(packets: u64) -> RawSample {
        RawSample {
            packets,
            lost: 0,
            jitter_ms: 2.0,
            rtt_ms: Some(20.0),
        }
    }

    impl Harness {
        async fn send(&self, call_id: &str, channel: Channel, packets: u64) {
            self.samples
                .send(SampleMsg::Sample {
                    call_id: call_id.into(),
                    channel,
                    sample: sample(packets),
                })
                .await
                .unwrap();
        }

        /// Lets the aggregator task run until it waits again, without moving the clock.
        async fn settle(&self) {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }

        async fn assert_nothing_yet(&mut self) {
            self.settle().await;
            assert_eq!(self.events.try_recv().unwrap_err(), TryRecvError::Empty);
        }

        /// Receives the next event and when, relative to the start, it came out.
        async fn next(&mut self) -> (AudioStatsDetail, Duration) {
            let env = self.events.recv().await.expect("an event");
            assert_eq!(env.seq, None);
            let TelephonyEvent::AudioStats(detail) = env.event else {
                panic!("not AUDIO_STATS: {env:?}")
            };
            (detail, self.start.elapsed())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn default_interval_emits_exactly_at_30_s() {
        let mut h = start(AudioStatsConfig::default()).await;
        h.send("c1", Channel::Input, 100).await;
        h.send("c1", Channel::Output, 120).await;
        tokio::time::advance(Duration::from_secs(29) + Duration::from_millis(999)).await;
        h.assert_nothing_yet().await;
        tokio::time::advance(Duration::from_millis(1)).await;
        let (d, at) = h.next().await;
        assert_eq!(at, Duration::from_secs(30));
        assert_eq!(
            (d.stats, d.packets_count, d.stats_count),
            (Channel::Input, 100, 1)
        );
        let (d, at) = h.next().await;
        assert_eq!(at, Duration::from_secs(30));
        assert_eq!((d.stats, d.packets_count), (Channel::Output, 120));
        h.assert_nothing_yet().await;
    }

    #[tokio::test(start_paused = true)]
    async fn configured_interval_emits_at_10_s_then_every_10_s() {
        let mut h = start(AudioStatsConfig {
            interval: Duration::from_secs(10),
        })
        .await;
        h.send("c1", Channel::Input, 50).await;
        tokio::time::advance(Duration::from_millis(9_999)).await;
        h.assert_nothing_yet().await;
        tokio::time::advance(Duration::from_millis(1)).await;
        let (d, at) = h.next().await;
        assert_eq!((at, d.packets_count), (Duration::from_secs(10), 50));
        tokio::time::advance(Duration::from_secs(5)).await;
        h.send("c1", Channel::Input, 80).await;
        let (d, at) = h.next().await;
        assert_eq!((at, d.packets_count), (Duration::from_secs(20), 30));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interval_without_samples_emits_nothing() {
        let mut h = start(AudioStatsConfig::default()).await;
        h.send("c1", Channel::Input, 100).await;
        let (_, at) = h.next().await;
        assert_eq!(at, Duration::from_secs(30));
        // The 60 s close, with nothing recorded: nothing comes out.
        tokio::time::advance(Duration::from_secs(30)).await;
        h.assert_nothing_yet().await;
        tokio::time::advance(Duration::from_secs(5)).await;
        h.send("c1", Channel::Input, 400).await;
        let (d, at) = h.next().await;
        assert_eq!(at, Duration::from_secs(90));
        assert_eq!((d.packets_count, d.stats_count), (300, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn samples_queued_before_the_close_count_in_that_interval() {
        let mut h = start(AudioStatsConfig::default()).await;
        tokio::time::advance(Duration::from_secs(29)).await;
        // Sent a second before the close: counted in the closing interval.
        h.samples
            .try_send(SampleMsg::Sample {
                call_id: "c1".into(),
                channel: Channel::Input,
                sample: sample(10),
            })
            .unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (d, at) = h.next().await;
        assert_eq!((at, d.packets_count), (Duration::from_secs(30), 10));
    }

    #[tokio::test]
    async fn closing_takes_the_queued_messages_first_and_only_those() {
        let (samples_tx, mut samples) = mpsc::channel(8);
        let (sink, mut events) = mpsc::channel(8);
        let mut aggregator = AudioAggregator::new();
        for (call_id, packets) in [("a", 10), ("b", 20)] {
            samples_tx
                .try_send(SampleMsg::Sample {
                    call_id: call_id.into(),
                    channel: Channel::Input,
                    sample: sample(packets),
                })
                .unwrap();
        }
        samples_tx
            .try_send(SampleMsg::CallEnded {
                call_id: "a".into(),
            })
            .unwrap();
        close_interval(&mut aggregator, &mut samples, &sink)
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Ok(env) = events.try_recv() {
            got.push(env.call_id().to_owned());
        }
        // "a" ended before the close (its partial interval goes first), "b" is flushed.
        assert_eq!(got, ["a", "b"]);
        assert_eq!(aggregator.call_count(), 1);
        assert!(samples.try_recv().is_err());
        drop(events);
        samples_tx
            .try_send(SampleMsg::Sample {
                call_id: "b".into(),
                channel: Channel::Input,
                sample: sample(30),
            })
            .unwrap();
        assert!(
            close_interval(&mut aggregator, &mut samples, &sink)
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn call_ended_sends_the_partial_interval_at_once() {
        let mut h = start(AudioStatsConfig::default()).await;
        h.send("c1", Channel::Input, 100).await;
        h.send("c2", Channel::Input, 7).await;
        tokio::time::advance(Duration::from_secs(12)).await;
        h.samples
            .send(SampleMsg::CallEnded {
                call_id: "c1".into(),
            })
            .await
            .unwrap();
        let (d, at) = h.next().await;
        assert_eq!((d.call_id.as_str(), at), ("c1", Duration::from_secs(12)));
        h.assert_nothing_yet().await;
        let (d, at) = h.next().await;
        assert_eq!((d.call_id.as_str(), at), ("c2", Duration::from_secs(30)));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_the_samples_flushes_and_stops() {
        let mut h = start(AudioStatsConfig::default()).await;
        h.send("c1", Channel::Input, 100).await;
        h.send("c1", Channel::Output, 90).await;
        tokio::time::advance(Duration::from_secs(3)).await;
        drop(h.samples);
        h.task.await.unwrap();
        let mut got = Vec::new();
        while let Some(env) = h.events.recv().await {
            got.push(env);
        }
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|e| e.call_id() == "c1"));
        assert_eq!(h.start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_sink_stops_the_task() {
        let h = start(AudioStatsConfig::default()).await;
        h.send("c1", Channel::Input, 100).await;
        drop(h.events);
        tokio::time::advance(Duration::from_secs(30)).await;
        h.task.await.unwrap();
        assert!(h.samples.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn an_out_of_range_interval_is_clamped_not_a_panic() {
        let mut h = start(AudioStatsConfig {
            interval: Duration::ZERO,
        })
        .await;
        h.send("c1", Channel::Input, 1).await;
        let (_, at) = h.next().await;
        assert_eq!(at, AudioStatsConfig::MIN_INTERVAL);

        let mut h = start(AudioStatsConfig {
            interval: Duration::MAX,
        })
        .await;
        h.send("c1", Channel::Input, 1).await;
        let (_, at) = h.next().await;
        assert_eq!(at, AudioStatsConfig::MAX_INTERVAL);
    }

    #[test]
    fn config_default_and_validation() {
        assert_eq!(
            AudioStatsConfig::default().interval,
            Duration::from_secs(30)
        );
        for ok in [1, 10, 30, 3600] {
            let c = AudioStatsConfig {
                interval: Duration::from_secs(ok),
            };
            assert_eq!(c.validate(), Ok(()));
        }
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            Duration::from_secs(3601),
        ] {
            let c = AudioStatsConfig { interval: bad };
            assert_eq!(
                c.validate(),
                Err(AudioStatsConfigError::IntervalOutOfRange { interval: bad })
            );
        }
    }
}
