//! The connection to baresip's ctrl_tcp socket: connect, read frames, send commands, carry
//! out the table's effects, reconnect with back-off.
//!
//! One task (the [`run`](super::Baresip) loop) owns the socket and is the only one that
//! changes the call table from baresip's events and submits lifecycle events, so they reach
//! the gateway in baresip's order. Actions send their commands through it and wait for the
//! answer matched by token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::codec::Framed;
use voicetk_engine::audio::{AudioAggregator, AudioStatsConfig};
use voicetk_events::EventType;

use super::Baresip;
use super::mapping::{Effect, Listed};
use super::netstring::NetstringCodec;
use super::protocol::{self, Message, Response};
use crate::health::Backoff;
use crate::source::EventSink;

/// Commands waiting to be written, per connection. Actions are few; this only smooths bursts.
const CONTROL_QUEUE: usize = 64;

/// A connection that lasted this long resets the reconnect back-off.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// What an action (or the reconciliation after a reconnect) asks of the connection task.
pub(super) enum Control {
    /// Send a command; the answer (or why there is none) goes to `reply`.
    Command {
        /// The command name (`dial`, `callfind`, `mute`, ...).
        command: String,
        /// Its parameters.
        params: String,
        /// Where the answer goes.
        reply: oneshot::Sender<Response>,
    },
    /// A call this source placed, identified by `callstat`: register it (and submit
    /// CALL_STARTED) unless an event already did. `reply` gets baresip's close reason if the
    /// call is already over.
    Dialed {
        /// The call's id.
        call_id: String,
        /// The dialed party.
        peer: String,
        /// The account that placed it.
        account: Option<String>,
        /// Ok once registered (and CALL_STARTED accepted or refused).
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A call baresip lists (found when reconnecting): register it if new.
    Found {
        /// The call as listed.
        listed: Listed,
    },
    /// A call baresip no longer has: end it.
    Gone {
        /// The call's id.
        call_id: String,
        /// Why, for CALL_ENDED's `reason`.
        reason: String,
    },
}

/// Why a connection ended.
enum Ended {
    /// Shutdown was requested.
    Shutdown,
    /// The socket failed or baresip closed it.
    Lost(String),
}

/// AUDIO_STATS state that outlives connections: calls survive a reconnect.
struct Audio {
    /// Per call and channel interval state.
    aggregator: AudioAggregator,
    /// Closes an interval every `AudioStatsConfig::interval`.
    ticker: tokio::time::Interval,
}

impl Baresip {
    /// The run loop: connects, serves the connection until it drops, waits out the back-off,
    /// and again, until `shutdown`.
    pub(super) async fn serve(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        mut shutdown: BoxFuture<'static, ()>,
    ) {
        let period = self.config.audio_interval.clamp(
            AudioStatsConfig::MIN_INTERVAL,
            AudioStatsConfig::MAX_INTERVAL,
        );
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut audio = Audio {
            aggregator: AudioAggregator::new(),
            ticker,
        };
        let mut backoff = Backoff::new(self.config.reconnect_min, self.config.reconnect_max);
        let addr = self.config.addr.clone();
        loop {
            let attempt = tokio::select! {
                biased;
                () = &mut shutdown => break,
                r = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(&addr)) => r,
            };
            match attempt {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    quick_ack(&stream);
                    tracing::info!(source = self.name, "connected to baresip");
                    self.health.up();
                    let connected_at = Instant::now();
                    let ended = Arc::clone(&self)
                        .connection(stream, &sink, &mut shutdown, &mut audio)
                        .await;
                    // Back to short delays only after a connection that held: baresip serves
                    // one ctrl_tcp client at a time and drops the older one, so two clients
                    // of the same softphone would otherwise take it from each other at full
                    // speed.
                    if connected_at.elapsed() >= STABLE_CONNECTION {
                        backoff.reset();
                    }
                    match ended {
                        Ended::Shutdown => break,
                        Ended::Lost(reason) => {
                            tracing::warn!(source = self.name, reason, "lost baresip");
                            self.health.down(reason);
                        }
                    }
                }
                Ok(Err(e)) => {
                    let reason = format!("cannot connect to baresip at {addr}: {e}");
                    tracing::debug!(source = self.name, reason);
                    self.health.down(reason);
                }
                Err(_) => {
                    let reason = format!(
                        "cannot connect to baresip at {addr}: no answer within {:?}",
                        self.config.connect_timeout
                    );
                    tracing::debug!(source = self.name, reason);
                    self.health.down(reason);
                }
            }
            let delay = backoff.next_delay();
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.health.stopped();
    }

    /// Serves one connection until it drops or shutdown.
    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        sink: &Arc<dyn EventSink>,
        shutdown: &mut BoxFuture<'static, ()>,
        audio: &mut Audio,
    ) -> Ended {
        let (control_tx, mut control_rx) = mpsc::channel(CONTROL_QUEUE);
        *self.lock_control() = Some(control_tx);
        let mut framed = Framed::new(stream, NetstringCodec::default());
        // Commands sent and not answered yet, by token number (oldest first).
        let mut pending: BTreeMap<u64, oneshot::Sender<Response>> = BTreeMap::new();
        let mut next_token: u64 = 0;
        // Learns the accounts and ends calls that vanished while disconnected.
        let reconcile = tokio::spawn(Arc::clone(&self).reconcile());

        let ended = loop {
            tokio::select! {
                biased;
                () = &mut *shutdown => break Ended::Shutdown,
                frame = framed.next() => match frame {
                    Some(Ok(payload)) => {
                        quick_ack(framed.get_ref());
                        self.on_frame(&payload, &mut pending, sink, audio).await;
                    }
                    Some(Err(e)) => break Ended::Lost(format!("baresip connection failed: {e}")),
                    None => break Ended::Lost("baresip closed the connection".to_owned()),
                },
                Some(control) = control_rx.recv() => match control {
                    Control::Command { command, params, reply } => {
                        next_token += 1;
                        let token = format!("vt-{next_token}");
                        tracing::debug!(source = self.name, command, params, token, "baresip command");
                        let frame = protocol::encode_command(&command, &params, &token);
                        if let Err(e) = framed.send(frame).await {
                            break Ended::Lost(format!("cannot write to baresip: {e}"));
                        }
                        // Forget waiters that gave up (timed out).
                        pending.retain(|_, waiter| !waiter.is_closed());
                        pending.insert(next_token, reply);
                    }
                    Control::Dialed { call_id, peer, account, reply } => {
                        let outcome = self.lock_calls().dialed(&call_id, &peer, account);
                        let outcome = match outcome {
                            Ok(effects) => {
                                self.apply(effects, sink, audio).await;
                                Ok(())
                            }
                            Err(reason) => Err(reason),
                        };
                        let _ = reply.send(outcome);
                    }
                    Control::Found { listed } => {
                        let effects = self.lock_calls().found(listed);
                        self.apply(effects, sink, audio).await;
                    }
                    Control::Gone { call_id, reason } => {
                        let effects = self.lock_calls().gone(&call_id, &reason);
                        self.apply(effects, sink, audio).await;
                    }
                },
                _ = audio.ticker.tick() => self.flush_audio(sink, audio).await,
            }
        };
        reconcile.abort();
        // Dropping the sender and the waiters tells every action the connection is gone.
        *self.lock_control() = None;
        drop(pending);
        ended
    }

    /// One frame from baresip.
    async fn on_frame(
        &self,
        payload: &[u8],
        pending: &mut BTreeMap<u64, oneshot::Sender<Response>>,
        sink: &Arc<dyn EventSink>,
        audio: &mut Audio,
    ) {
        match protocol::parse_message(payload) {
            Ok(Message::Response(response)) => {
                let number = response
                    .token
                    .as_deref()
                    .and_then(|t| t.strip_prefix("vt-"))
                    .and_then(|n| n.parse::<u64>().ok());
                // An answer without our token answers the oldest command (baresip answers in
                // order).
                let waiter = match number {
                    Some(n) => pending.remove(&n),
                    None => pending.pop_first().map(|(_, w)| w),
                };
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.send(response);
                    }
                    None => tracing::debug!(
                        source = self.name,
                        token = response.token,
                        "baresip answer nobody waits for (timed out?)"
                    ),
                }
            }
            Ok(Message::Event(event)) => {
                tracing::debug!(
                    source = self.name,
                    kind = event.kind,
                    call_id = event.call_id,
                    "baresip event"
                );
                if let Some(account) = &event.account {
                    self.note_account(account);
                }
                let effects = self.lock_calls().observe(&event);
                self.apply(effects, sink, audio).await;
            }
            Err(e) => {
                tracing::warn!(source = self.name, error = %e, "unreadable frame from baresip skipped");
            }
        }
    }

    /// Carries out the table's effects, in order.
    async fn apply(&self, effects: Vec<Effect>, sink: &Arc<dyn EventSink>, audio: &mut Audio) {
        for effect in effects {
            match effect {
                Effect::Submit {
                    envelope,
                    speculative,
                } => self.submit(sink, envelope, speculative).await,
                Effect::Samples { call_id, samples } => {
                    for (channel, sample) in samples {
                        audio.aggregator.record(&call_id, channel, sample);
                    }
                }
                Effect::EndAudio { call_id, account } => {
                    for detail in audio.aggregator.end_call(&call_id) {
                        let envelope = self.lock_calls().audio_stats(detail, account.clone());
                        self.submit(sink, envelope, false).await;
                    }
                }
            }
        }
    }

    /// Closes the AUDIO_STATS interval: one event per call and channel that had samples.
    async fn flush_audio(&self, sink: &Arc<dyn EventSink>, audio: &mut Audio) {
        for detail in audio.aggregator.flush() {
            let envelope = {
                let mut calls = self.lock_calls();
                let Some(call) = calls.get(&detail.call_id) else {
                    continue;
                };
                let account = call.account.clone();
                calls.audio_stats(detail, account)
            };
            self.submit(sink, envelope, false).await;
        }
    }

    /// Submits one event; a refusal is logged (the call goes on: baresip is the truth).
    async fn submit(
        &self,
        sink: &Arc<dyn EventSink>,
        envelope: voicetk_events::Envelope,
        speculative: bool,
    ) {
        let event_type = envelope.event_type();
        let call_id = envelope.call_id().to_owned();
        match sink.submit(envelope).await {
            Ok(seq) => tracing::debug!(source = self.name, %event_type, call_id, seq, "submitted"),
            Err(e) if speculative => tracing::debug!(
                source = self.name, %event_type, call_id, code = e.code, message = e.message,
                "the gateway does not know this call; nothing to end"
            ),
            // An opening event refused by the call model: the gateway already has a call with
            // this id that this source did not open. The usual cause is another baresip source
            // on the other end of the same SIP call (both ends share baresip's call id).
            Err(e)
                if e.code == "invalid_transition"
                    && matches!(
                        event_type,
                        EventType::CallStarted | EventType::CallConnected
                    ) =>
            {
                tracing::warn!(
                    source = self.name, %event_type, call_id, code = e.code, message = e.message,
                    "the gateway refused an event from baresip: it already has this call, not \
                     opened by this source; if another baresip source serves the other end of \
                     the same SIP call, both report baresip's call id and their events mix on \
                     one call (see docs/sources/baresip.md)"
                )
            }
            Err(e) => tracing::warn!(
                source = self.name, %event_type, call_id, code = e.code, message = e.message,
                "the gateway refused an event from baresip"
            ),
        }
    }
}

/// Asks the kernel to acknowledge what arrives next at once. baresip leaves Nagle's algorithm
/// on, so when it writes two frames in a row (an event, then a command's answer) the second
/// waits until the first is acknowledged, and Linux delays ACKs by up to 40 ms: measured,
/// `resume` took ~42 ms instead of < 1 ms. The flag does not stick (the kernel returns to
/// delayed ACKs on its own), so it is set again after every frame.
fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}
