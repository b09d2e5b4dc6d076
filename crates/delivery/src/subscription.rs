//! A live, filtered, bounded stream of published events.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use tokio::sync::mpsc;

use crate::delivered::Delivered;
use crate::filter::Filter;
use crate::hub::{HubInner, LagState};

/// A subscriber fell more than its buffer behind and was ended.
///
/// Every event matching its filter with a seq up to `last_seq` has been delivered to it (or
/// was published before it subscribed): resuming from the log after `last_seq` with the same
/// filter yields exactly what it missed.
///
/// # Examples
/// ```
/// use voicetk_delivery::Lagged;
/// let lagged = Lagged { last_seq: 41, missed: 3 };
/// assert_eq!(
///     lagged.to_string(),
///     "subscriber lagged: 3 events missed after seq 41; resume from the log after seq 41"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error(
    "subscriber lagged: {missed} events missed after seq {last_seq}; resume from the log after \
     seq {last_seq}"
)]
pub struct Lagged {
    /// The seq of the last event this subscription delivered; if it delivered none, the hub's
    /// last seq when it subscribed (0 on a hub that had published nothing).
    pub last_seq: u64,
    /// How many matching events were not delivered, counted until this was read (at least 1).
    pub missed: u64,
}

/// A live subscription: the events matching its filter, in seq order, starting with the next
/// one published after [`Hub::subscribe`](crate::Hub::subscribe).
///
/// A [`Stream`] of `Result<Arc<Delivered>, Lagged>`, also readable with
/// [`recv`](Self::recv). It ends (`None`) when the hub is closed or dropped, after the events
/// still buffered; or, if the subscriber fell more than its capacity behind, with one
/// `Err(Lagged)` after the events still buffered. Dropping it unsubscribes.
pub struct Subscription {
    /// The key of this subscription's entry in the hub.
    id: u64,
    /// The filter it was made with, for callers that need to recreate it.
    filter: Filter,
    /// Its queue; the hub holds the sender until the subscriber lags or the hub closes.
    receiver: mpsc::UnboundedReceiver<Arc<Delivered>>,
    /// Tells a lag from a close once the queue is drained.
    lag: Arc<LagState>,
    /// To detach on drop, without keeping the hub alive.
    hub: Weak<HubInner>,
    /// The last seq delivered (or the start seq).
    last_seq: u64,
    /// Set once `None` or `Lagged` has been returned.
    finished: bool,
}

impl Subscription {
    pub(crate) fn new(
        id: u64,
        filter: Filter,
        receiver: mpsc::UnboundedReceiver<Arc<Delivered>>,
        lag: Arc<LagState>,
        hub: Weak<HubInner>,
        start: u64,
    ) -> Subscription {
        Subscription {
            id,
            filter,
            receiver,
            lag,
            hub,
            last_seq: start,
            finished: false,
        }
    }

    /// A subscription to a hub that no longer exists: it ends at once.
    pub(crate) fn ended(filter: Filter) -> Subscription {
        let (_, receiver) = mpsc::unbounded_channel();
        Subscription::new(u64::MAX, filter, receiver, Arc::default(), Weak::new(), 0)
    }

    /// The seq of the last event delivered; before the first, the hub's last seq when this
    /// subscription was made.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The filter this subscription was made with.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Whether this subscriber has overflowed its buffer: it will yield what the buffer holds
    /// and then its [`Lagged`].
    pub fn is_lagged(&self) -> bool {
        self.lag.lagged.load(Ordering::SeqCst)
    }

    /// The next event; `Some(Err(Lagged))` once if this subscriber fell behind, then `None`.
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Result<Arc<Delivered>, Lagged>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Arc<Delivered>, Lagged>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.receiver.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(event)) => {
                // Makes room for the publisher (see `LagState::queued`).
                self.lag.queued.fetch_sub(1, Ordering::AcqRel);
                debug_assert!(event.seq > self.last_seq, "hub fed seqs out of order");
                self.last_seq = event.seq;
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(None) => {
                self.finished = true;
                // Stop the hub counting missed events for us.
                self.detach();
                if self.lag.lagged.load(Ordering::SeqCst) {
                    Poll::Ready(Some(Err(Lagged {
                        last_seq: self.last_seq,
                        missed: self.lag.missed.load(Ordering::SeqCst),
                    })))
                } else {
                    Poll::Ready(None)
                }
            }
        }
    }

    fn detach(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.detach(self.id);
        }
        self.hub = Weak::new();
    }
}

impl Stream for Subscription {
    type Item = Result<Arc<Delivered>, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.finished
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.detach();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("filter", &self.filter)
            .field("last_seq", &self.last_seq)
            .field("lagged", &self.is_lagged())
            .field("finished", &self.finished)
            .finish()
    }
}
