//! The fan-out point: one publisher, in-process listeners, any number of subscribers.
//!
//! Each subscriber has its own bounded queue, and the publisher filters before it enqueues:
//!
//! - a subscriber's buffer holds only events it wants, so an agent-scoped subscriber is never
//!   pushed into lag by other agents' traffic, and is never woken for events it would drop;
//! - `capacity` is exact (a shared broadcast ring would round it up to a power of two);
//! - a subscriber that overflows still gets what its buffer holds before its single
//!   [`Lagged`](crate::Lagged), so it has less to re-read from the log.
//!
//! Publishing never waits: a full queue is not awaited, it ends that subscription. The events
//! are `Arc`s, serialized once ([`Delivered`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::mpsc;
use voicetk_events::TelephonyKind;

use crate::delivered::Delivered;
use crate::filter::Filter;
use crate::listener::Listeners;
use crate::subscription::Subscription;

/// How a [`Hub`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    /// Which telephony the events come from; decides which types listeners may name.
    /// Default is [`TelephonyKind::Partner`].
    pub telephony: TelephonyKind,
    /// How many events each subscriber may have waiting before it is ended with
    /// [`Lagged`](crate::Lagged). Default is [`HubConfig::DEFAULT_CAPACITY`] (1024); values
    /// are clamped to `1..=`[`HubConfig::MAX_CAPACITY`].
    pub capacity: usize,
    /// The seq of the last event already stored before this hub starts (the log's last seq
    /// after a restart): [`Hub::last_seq`] starts there and the first publish must be above
    /// it. Default 0.
    pub after: u64,
}

impl HubConfig {
    /// The default per-subscriber buffer: 1024 events.
    pub const DEFAULT_CAPACITY: usize = 1024;
    /// The largest per-subscriber buffer: 2^24 events. Buffers fill lazily, but a subscriber
    /// this far behind is better served by resuming from the log.
    pub const MAX_CAPACITY: usize = 1 << 24;

    /// The default configuration for `telephony`.
    pub fn new(telephony: TelephonyKind) -> HubConfig {
        HubConfig {
            telephony,
            ..HubConfig::default()
        }
    }

    /// This configuration with another per-subscriber capacity.
    pub fn capacity(self, capacity: usize) -> HubConfig {
        HubConfig { capacity, ..self }
    }

    /// This configuration for a hub that continues a log holding events up to `seq`.
    ///
    /// ```
    /// use voicetk_delivery::{Hub, HubConfig};
    /// use voicetk_events::TelephonyKind;
    ///
    /// let hub = Hub::new(HubConfig::new(TelephonyKind::Partner).after(41));
    /// assert_eq!(hub.last_seq(), 41);
    /// ```
    pub fn after(self, seq: u64) -> HubConfig {
        HubConfig { after: seq, ..self }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            telephony: TelephonyKind::Partner,
            capacity: HubConfig::DEFAULT_CAPACITY,
            after: 0,
        }
    }
}

/// The fan-out point of accepted events: [`publish`](Hub::publish) hands each event to the
/// in-process [`Listeners`] and then to every matching [`Subscription`].
///
/// A cheap clonable handle: clones share one hub. When the last handle is dropped, or on
/// [`close`](Hub::close), subscriptions end after delivering what they hold.
///
/// Publishing never blocks on a subscriber: see the crate docs for the lag policy.
///
/// # Examples
/// ```
/// use voicetk_delivery::{Delivered, Filter, Hub, HubConfig};
/// use voicetk_events::{parse_event, ParseOptions};
///
/// let hub = Hub::new(HubConfig::default());
/// let mut calls_c1 = hub.subscribe(Filter::all().call_id("c1"));
/// for (seq, call) in [(1, "c0"), (2, "c1")] {
///     let mut envelope = parse_event(
///         format!(r#"{{"type":"MUTE","detail":{{"callId":"{call}"}}}}"#).as_bytes(),
///         &ParseOptions::default(),
///     )?;
///     envelope.seq = Some(seq);
///     hub.publish(Delivered::new(envelope)?);
/// }
/// let first = futures::executor::block_on(calls_c1.recv()).ok_or("ended")??;
/// assert_eq!((first.seq, first.call_id.as_str()), (2, "c1"));
/// assert_eq!(hub.last_seq(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

/// The state every [`Hub`] clone shares.
pub(crate) struct HubInner {
    /// Listeners run synchronously in `publish`, before subscribers are fed.
    listeners: Listeners,
    /// Per-subscriber buffer size, already clamped.
    capacity: usize,
    /// Mirror of `Subscribers::last_seq` readable without the lock; written only under it.
    last_seq: AtomicU64,
    /// The subscribers, and the seq they have all been fed up to. One lock, so subscribing
    /// and publishing are atomic with respect to each other: a new subscription gets exactly
    /// the events published after its start seq.
    subscribers: Mutex<Subscribers>,
}

/// The mutable half of a hub.
pub(crate) struct Subscribers {
    /// The seq of the last event fed to subscribers; publishes at or below it are refused.
    last_seq: u64,
    /// The id of the next subscription, so a dropped one can find its entry.
    next_id: u64,
    /// Set by [`Hub::close`]: nothing more is published, new subscriptions end at once.
    closed: bool,
    /// One per live subscription, in subscription order.
    entries: Vec<Entry>,
}

/// A subscription as the publisher sees it.
struct Entry {
    id: u64,
    filter: Filter,
    /// `None` once the subscriber has lagged: its queue then only drains.
    ///
    /// Unbounded as a channel, bounded by `lag.queued`: a bounded channel would take a
    /// semaphore permit per event and give it back under the semaphore's mutex on every
    /// receive; one atomic counter does the same job for a single publisher.
    sender: Option<mpsc::UnboundedSender<Arc<Delivered>>>,
    /// Shared with the [`Subscription`], which reads it once its queue is drained.
    lag: Arc<LagState>,
}

/// Whether a subscriber overflowed, and how many of its events it has missed since.
#[derive(Debug, Default)]
pub(crate) struct LagState {
    /// Set before the sender is dropped, so a drained, closed queue with this set means
    /// "lagged", and without it means "the hub closed".
    pub(crate) lagged: AtomicBool,
    /// Matching events not enqueued because the subscriber had lagged.
    pub(crate) missed: AtomicU64,
    /// Events in the subscriber's queue: raised by the publisher (under the hub's lock)
    /// before it enqueues one, lowered by the subscriber as it takes one. Only the publisher
    /// raises it, so a count below the capacity when read stays so until it enqueues.
    pub(crate) queued: AtomicUsize,
}

impl Hub {
    /// A hub with no listener and no subscriber.
    pub fn new(config: HubConfig) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                listeners: Listeners::new(config.telephony),
                capacity: config.capacity.clamp(1, HubConfig::MAX_CAPACITY),
                last_seq: AtomicU64::new(config.after),
                subscribers: Mutex::new(Subscribers {
                    last_seq: config.after,
                    next_id: 0,
                    closed: false,
                    entries: Vec::new(),
                }),
            }),
        }
    }

    /// The in-process listener registry that [`publish`](Self::publish) dispatches to.
    pub fn listeners(&self) -> &Listeners {
        &self.inner.listeners
    }

    /// The telephony this hub was configured for.
    pub fn telephony(&self) -> TelephonyKind {
        self.inner.listeners.telephony()
    }

    /// Each subscriber's buffer size, after clamping.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Publishes an accepted event: dispatches it to the listeners of its type (synchronously,
    /// on this thread), then enqueues it for every subscriber whose filter matches.
    ///
    /// Never waits for a subscriber: one whose buffer is full is ended with
    /// [`Lagged`](crate::Lagged) instead (see the crate docs).
    ///
    /// Publish from one task, in `seq` order: `seq` must be above every seq published before.
    /// An event at or below [`last_seq`](Self::last_seq) is refused with a warning (and a
    /// debug assertion); nobody receives it. After [`close`](Self::close) nothing is
    /// published.
    pub fn publish(&self, event: Arc<Delivered>) {
        let seq = event.seq;
        // Checked before the listeners run, so a refused event reaches nobody.
        let last = self.inner.last_seq.load(Ordering::Acquire);
        if seq <= last {
            refuse(seq, last);
            return;
        }
        if self.inner.lock().closed {
            tracing::debug!(seq, "hub closed; event not published");
            return;
        }
        self.inner.listeners.dispatch(&event.envelope);

        let mut subscribers = self.inner.lock();
        if subscribers.closed {
            return;
        }
        // Checked again under the lock: only concurrent publishers (a misuse) can trip this.
        if seq <= subscribers.last_seq {
            let last = subscribers.last_seq;
            drop(subscribers);
            refuse(seq, last);
            return;
        }
        subscribers.last_seq = seq;
        self.inner.last_seq.store(seq, Ordering::Release);
        let capacity = self.inner.capacity;
        subscribers.entries.retain_mut(|entry| {
            if !entry.filter.matches(&event) {
                return true;
            }
            let Some(sender) = &entry.sender else {
                entry.lag.missed.fetch_add(1, Ordering::SeqCst);
                return true;
            };
            if entry.lag.queued.load(Ordering::Acquire) < capacity {
                entry.lag.queued.fetch_add(1, Ordering::AcqRel);
                match sender.send(Arc::clone(&event)) {
                    Ok(()) => true,
                    // The receiver is gone but its Drop has not detached it yet.
                    Err(_) => false,
                }
            } else {
                tracing::warn!(
                    subscription = entry.id,
                    capacity,
                    seq,
                    "subscriber fell more than its capacity behind; ending it with Lagged"
                );
                entry.lag.missed.fetch_add(1, Ordering::SeqCst);
                entry.lag.lagged.store(true, Ordering::SeqCst);
                // Dropping the sender lets the subscriber drain its buffer, then see the end.
                entry.sender = None;
                true
            }
        });
    }

    /// The seq of the last published event; 0 if none.
    pub fn last_seq(&self) -> u64 {
        self.inner.last_seq.load(Ordering::Acquire)
    }

    /// How many subscriptions are attached (including ones that lagged and have not yet read
    /// their [`Lagged`](crate::Lagged)).
    pub fn subscriber_count(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// A live subscription to the events matching `filter`, starting with the next published
    /// event. Its [`last_seq`](Subscription::last_seq) starts at this hub's
    /// [`last_seq`](Self::last_seq).
    ///
    /// To start from an earlier point, use [`resume`](crate::resume).
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        self.inner.subscribe(filter)
    }

    /// Closes the hub: every subscription ends (after delivering what it holds, without a
    /// [`Lagged`](crate::Lagged)), new subscriptions end at once, and later publishes are
    /// ignored. For graceful shutdown, when other handles may outlive it.
    pub fn close(&self) {
        let mut subscribers = self.inner.lock();
        subscribers.closed = true;
        subscribers.entries.clear();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }

    /// A handle that does not keep the hub alive.
    pub(crate) fn downgrade(&self) -> Weak<HubInner> {
        Arc::downgrade(&self.inner)
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("telephony", &self.telephony())
            .field("capacity", &self.inner.capacity)
            .field("last_seq", &self.last_seq())
            .field("subscribers", &self.subscriber_count())
            .field("listeners", &self.inner.listeners.len())
            .finish()
    }
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(self: &Arc<Self>, filter: Filter) -> Subscription {
        let (sender, receiver) = mpsc::unbounded_channel();
        let lag = Arc::new(LagState::default());
        let mut subscribers = self.lock();
        let id = subscribers.next_id;
        subscribers.next_id += 1;
        let start = subscribers.last_seq;
        if !subscribers.closed {
            subscribers.entries.push(Entry {
                id,
                filter: filter.clone(),
                sender: Some(sender),
                lag: Arc::clone(&lag),
            });
        }
        // (When closed, `sender` drops here and the subscription ends at once.)
        drop(subscribers);
        Subscription::new(id, filter, receiver, lag, Arc::downgrade(self), start)
    }

    /// Forgets subscription `id`: it was dropped or has ended.
    pub(crate) fn detach(&self, id: u64) {
        self.lock().entries.retain(|entry| entry.id != id);
    }
}

/// Logs (and in debug builds asserts on) an out-of-order publish.
fn refuse(seq: u64, last: u64) {
    tracing::warn!(
        seq,
        last_seq = last,
        "refusing to publish an event whose seq is not above the last published one"
    );
    debug_assert!(
        seq > last,
        "Hub::publish out of seq order: seq {seq} after {last}"
    );
}

/// A subscription made through a weak hub handle; one that ends at once if the hub is gone.
pub(crate) fn subscribe_weak(hub: &Weak<HubInner>, filter: Filter) -> Subscription {
    match hub.upgrade() {
        Some(inner) => inner.subscribe(filter),
        None => Subscription::ended(filter),
    }
}

#[cfg(test)]
mod tests;
