//! Resuming: the events after a seq from history, then live, with no gap and no duplicate.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use futures::stream::FusedStream;

use crate::delivered::Delivered;
use crate::error::{DeliveryError, HistoryError};
use crate::filter::Filter;
use crate::hub::{Hub, HubInner, subscribe_weak};
use crate::subscription::Subscription;

/// Where [`resume`] reads the events a subscriber missed: the durable log.
///
/// Implemented by the log (through an adapter where the log crate cannot see this one).
///
/// The contract [`resume`] relies on:
///
/// - every event is in the history before it is [published](Hub::publish) (the hub only
///   publishes durable events);
/// - `read_after` returns, oldest first, at most `limit` events with `seq > after` that match
///   `filter` (it may return fewer, e.g. to cap a page);
/// - an empty page means no event after `after` matched when it was read. (A short page
///   means nothing: `resume` keeps reading until a page is empty, so a history that caps
///   pages or filters after reading cannot open a gap.)
pub trait History: Send + Sync {
    /// Up to `limit` events with `seq > after` matching `filter`, in seq order.
    ///
    /// # Errors
    /// [`HistoryError`] when the history cannot be read; [`resume`] yields it and ends.
    fn read_after(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Arc<Delivered>>, HistoryError>>;
}

/// The events matching `filter` with `seq > after`: first from `history`, then live from
/// `hub`, with no gap and no duplicate across the switch (see the crate docs for the
/// algorithm).
///
/// The live subscription is made now, before this returns; history is read when the stream
/// is first polled, [`ResumeStream::DEFAULT_PAGE_SIZE`] events at a time.
///
/// The stream yields `Err` only when history cannot be read, and then ends. It ends (`None`)
/// when the hub is closed or dropped, after what it has already received. A live
/// subscription that lags is not an error: the stream re-subscribes and re-reads the
/// history after the last event it yielded.
///
/// # Examples
/// ```
/// use std::sync::{Arc, Mutex};
/// use futures::{StreamExt, future::BoxFuture};
/// use voicetk_delivery::{resume, Delivered, Filter, History, HistoryError, Hub, HubConfig};
/// use voicetk_events::{Envelope, EventType, TelephonyEvent};
///
/// /// A toy log: a vector.
/// #[derive(Default)]
/// struct Log(Mutex<Vec<Arc<Delivered>>>);
///
/// impl History for Log {
///     fn read_after(&self, after: u64, filter: &Filter, limit: usize)
///         -> BoxFuture<'_, Result<Vec<Arc<Delivered>>, HistoryError>>
///     {
///         let page = self.0.lock().unwrap_or_else(|e| e.into_inner()).iter()
///             .filter(|d| d.seq > after && filter.matches(d)).take(limit).cloned().collect();
///         Box::pin(async move { Ok(page) })
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::new(HubConfig::default());
/// let log = Arc::new(Log::default());
/// let append = |seq: u64| -> Result<(), Box<dyn std::error::Error>> {
///     let mut envelope = Envelope::new(TelephonyEvent::call_only(EventType::Mute, "c1").ok_or("?")?);
///     envelope.seq = Some(seq);
///     let event = Delivered::new(envelope)?;
///     log.0.lock().unwrap_or_else(|e| e.into_inner()).push(Arc::clone(&event)); // durable first,
///     hub.publish(event);                                                       // then published
///     Ok(())
/// };
/// for seq in 1..=3 { append(seq)?; }
///
/// let mut stream = resume(&hub, log.clone(), Filter::all(), 1);
/// append(4)?;
/// let seqs: Vec<u64> = futures::executor::block_on(
///     stream.by_ref().take(3).map(|r| r.map(|d| d.seq)).collect::<Vec<_>>(),
/// ).into_iter().collect::<Result<_, _>>()?;
/// assert_eq!(seqs, [2, 3, 4]);
/// # Ok(())
/// # }
/// ```
pub fn resume(hub: &Hub, history: Arc<dyn History>, filter: Filter, after: u64) -> ResumeStream {
    let live = hub.subscribe(filter.clone());
    ResumeStream {
        hub: hub.downgrade(),
        history,
        filter,
        page_size: ResumeStream::DEFAULT_PAGE_SIZE,
        last_seq: after,
        live: Some(live),
        phase: Phase::CatchUp(CatchUp::default()),
        resyncs: 0,
    }
}

/// The stream [`resume`] returns: `Result<Arc<Delivered>, DeliveryError>` items in strictly
/// increasing seq order.
pub struct ResumeStream {
    /// To re-subscribe after a lag, without keeping the hub alive.
    hub: Weak<HubInner>,
    /// Where missed events are read from.
    history: Arc<dyn History>,
    /// What the consumer wants; history reads and live subscriptions both use it.
    filter: Filter,
    /// How many events one history read asks for.
    page_size: usize,
    /// The stream's position: every wanted event with a seq above `after` and up to this one
    /// has been yielded. Anything at or below it is a duplicate; history is read after it.
    last_seq: u64,
    /// The live subscription, made before the history it complements is read.
    live: Option<Subscription>,
    /// Reading history, draining live, or finished.
    phase: Phase,
    /// How many times a lagged live subscription was replaced.
    resyncs: u64,
}

/// A page read in flight.
type PageRead = BoxFuture<'static, Result<Vec<Arc<Delivered>>, HistoryError>>;

enum Phase {
    /// Paging through history after `last_seq`.
    CatchUp(CatchUp),
    /// History is exhausted; yielding from the live subscription.
    Live,
    /// Ended: the hub closed, or history failed.
    Done,
}

#[derive(Default)]
struct CatchUp {
    /// The read under way, if any.
    reading: Option<PageRead>,
    /// The last page read, being yielded.
    page: std::vec::IntoIter<Arc<Delivered>>,
    /// Set when an empty page says history had nothing more.
    exhausted: bool,
}

impl ResumeStream {
    /// How many events one history read asks for unless told otherwise: 256.
    pub const DEFAULT_PAGE_SIZE: usize = 256;

    /// This stream, reading history `page_size` events at a time (at least 1).
    pub fn page_size(mut self, page_size: usize) -> ResumeStream {
        self.page_size = page_size.max(1);
        self
    }

    /// The stream's position: every wanted event after `after` and up to this seq has been
    /// yielded. Usually the seq of the last event yielded; it can be higher when history
    /// returned unwanted events after it. Before the first event, the `after` it was made with.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The filter this stream was made with.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// How many times the live subscription lagged and the stream resynced from history.
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Whether the stream is still reading history (rather than yielding live events).
    pub fn is_catching_up(&self) -> bool {
        matches!(self.phase, Phase::CatchUp(_))
    }

    /// Replaces a lagged (or absent) live subscription. Always done before the history read
    /// that covers what it missed, which is what makes the switch gap-free.
    fn resubscribe(live: &mut Option<Subscription>, hub: &Weak<HubInner>, filter: &Filter) {
        *live = Some(subscribe_weak(hub, filter.clone()));
    }
}

/// Starts reading the page of history after `after`.
fn read_page(history: &Arc<dyn History>, filter: &Filter, after: u64, limit: usize) -> PageRead {
    let history = Arc::clone(history);
    let filter = filter.clone();
    Box::pin(async move { history.read_after(after, &filter, limit).await })
}

/// `event` if it is new and wanted; `None` for a duplicate or (from a history that does not
/// filter) an unwanted event. A new event advances `last_seq` even when unwanted: it still
/// proves every earlier event was seen.
fn take(last_seq: &mut u64, filter: &Filter, event: Arc<Delivered>) -> Option<Arc<Delivered>> {
    if event.seq <= *last_seq {
        return None;
    }
    *last_seq = event.seq;
    filter.matches(&event).then_some(event)
}

impl Stream for ResumeStream {
    type Item = Result<Arc<Delivered>, DeliveryError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Done => return Poll::Ready(None),
                Phase::CatchUp(catch_up) => {
                    if let Some(event) = catch_up.page.next() {
                        if let Some(event) = take(&mut this.last_seq, &this.filter, event) {
                            return Poll::Ready(Some(Ok(event)));
                        }
                        continue;
                    }
                    if let Some(reading) = catch_up.reading.as_mut() {
                        match reading.as_mut().poll(cx) {
                            Poll::Pending => return Poll::Pending,
                            Poll::Ready(Ok(page)) => {
                                // Empty, or (from a history that ignores `after`) nothing new:
                                // reading again would return the same.
                                catch_up.exhausted = !page.iter().any(|d| d.seq > this.last_seq);
                                if catch_up.exhausted && !page.is_empty() {
                                    tracing::warn!(
                                        after = this.last_seq,
                                        "history returned only events at or before `after`; \
                                         treating it as exhausted"
                                    );
                                }
                                catch_up.page = page.into_iter();
                                catch_up.reading = None;
                            }
                            Poll::Ready(Err(error)) => {
                                this.phase = Phase::Done;
                                this.live = None;
                                return Poll::Ready(Some(Err(error.into())));
                            }
                        }
                        continue;
                    }
                    // Between pages. A live subscription that has already overflowed is
                    // replaced now, before the next read, rather than drained and resynced
                    // later: the reads still to come cover whatever it dropped.
                    if this.live.as_ref().is_none_or(Subscription::is_lagged) {
                        catch_up.exhausted = false;
                        this.resyncs += 1;
                        ResumeStream::resubscribe(&mut this.live, &this.hub, &this.filter);
                    }
                    if catch_up.exhausted {
                        this.phase = Phase::Live;
                    } else {
                        catch_up.reading = Some(read_page(
                            &this.history,
                            &this.filter,
                            this.last_seq,
                            this.page_size,
                        ));
                    }
                }
                Phase::Live => {
                    let Some(live) = this.live.as_mut() else {
                        this.phase = Phase::Done;
                        continue;
                    };
                    match Pin::new(live).poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(event))) => {
                            // The hub matched it against this same filter: only duplicates
                            // (already read from history) are left out.
                            if event.seq > this.last_seq {
                                this.last_seq = event.seq;
                                return Poll::Ready(Some(Ok(event)));
                            }
                        }
                        Poll::Ready(Some(Err(lagged))) => {
                            // Resync from the log: subscribe again first, then read history
                            // after the last event yielded.
                            tracing::debug!(
                                last_seq = this.last_seq,
                                missed = lagged.missed,
                                "resumed subscriber lagged; resyncing from history"
                            );
                            ResumeStream::resubscribe(&mut this.live, &this.hub, &this.filter);
                            this.resyncs += 1;
                            this.phase = Phase::CatchUp(CatchUp::default());
                        }
                        Poll::Ready(None) => {
                            this.phase = Phase::Done;
                            this.live = None;
                            return Poll::Ready(None);
                        }
                    }
                }
            }
        }
    }
}

impl FusedStream for ResumeStream {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }
}

impl fmt::Debug for ResumeStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::CatchUp(_) => "catch-up",
            Phase::Live => "live",
            Phase::Done => "done",
        };
        f.debug_struct("ResumeStream")
            .field("filter", &self.filter)
            .field("last_seq", &self.last_seq)
            .field("page_size", &self.page_size)
            .field("phase", &phase)
            .field("resyncs", &self.resyncs)
            .finish()
    }
}

#[cfg(test)]
mod tests;
