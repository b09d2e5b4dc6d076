//! The last stage of voicetk (source → engine → log → **delivery**): it fans accepted
//! events — already sequenced and durable — out to in-process listeners and to async
//! subscribers, never letting a slow consumer slow anyone else, and never delivering an event
//! twice to one subscriber.
//!
//! # Example
//! ```
//! use std::sync::{Arc, Mutex};
//! use voicetk_delivery::{Delivered, Filter, Hub, HubConfig, Listener};
//! use voicetk_events::{parse_event, ParseOptions};
//!
//! let hub = Hub::new(HubConfig::default());
//!
//! // An in-process listener, Voice Toolkit style (LWC or Aura names).
//! let calls = Arc::new(Mutex::new(Vec::new()));
//! let seen = Arc::clone(&calls);
//! let on_start = Listener::new(move |envelope| {
//!     seen.lock().unwrap_or_else(|e| e.into_inner()).push(envelope.call_id().to_owned());
//! });
//! hub.listeners().add_telephony_event_listener("callstarted", &on_start)?;
//!
//! // An async subscriber that wants one agent's events.
//! let mut alice = hub.subscribe(Filter::all().agent("alice"));
//!
//! // The log accepted an event (it has a seq): publish it.
//! let envelope = parse_event(
//!     br#"{"type":"CALL_STARTED","seq":1,"agent":"alice",
//!          "detail":{"callId":"c1","callType":"inbound","participant":"+1 415 555 0100"}}"#,
//!     &ParseOptions::default(),
//! )?;
//! hub.publish(Delivered::new(envelope)?);
//!
//! assert_eq!(*calls.lock().unwrap_or_else(|e| e.into_inner()), ["c1"]);
//! let event = futures::executor::block_on(alice.recv()).ok_or("ended")??;
//! assert_eq!(event.seq, 1);
//! assert!(event.json.starts_with(br#"{"type":"CALL_STARTED""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! - [`Delivered`]: one accepted event, serialized once and shared (`Arc`) by every consumer.
//! - [`Listeners`] / [`Listener`]: `addTelephonyEventListener` and
//!   `removeTelephonyEventListener` with the JavaScript semantics (the same listener twice is
//!   registered once, removing an unknown one does nothing, one that panics does not stop the
//!   others).
//! - [`Hub`]: [`publish`](Hub::publish) runs the listeners, then feeds every
//!   [`Subscription`] whose [`Filter`] matches.
//! - [`resume`]: the events after a seq from a [`History`] (the log), then live, with no gap
//!   and no duplicate.
//!
//! # Lag policy
//! Each subscription has its own bounded buffer of [`HubConfig::capacity`] events (default
//! 1024). The hub filters before it buffers, so only events the subscriber wants count.
//! Publishing never waits: when a subscriber's buffer is full, the hub stops feeding it; the
//! subscriber still receives what its buffer holds, then exactly one
//! `Err(`[`Lagged`]` { last_seq, missed })`, then the end of the stream. `last_seq` is the
//! seq of the last event it was delivered (before any, the hub's last seq when it
//! subscribed), so the consumer can resume from the durable log after that seq — which is
//! what [`resume`] does on its own. A subscription never silently skips events and carries
//! on.
//!
//! # Resuming without gap or duplicate
//! [`resume(hub, history, filter, after)`](resume) relies on one ordering fact: an event is
//! in the log before it is published. Its algorithm:
//!
//! 1. Subscribe to live **first**. Every event published from now on is in that
//!    subscription (while it keeps up); every event published before is in the log.
//! 2. Page through history after `last` (initially `after`), yielding each page, until a page
//!    comes back empty: history is exhausted.
//! 3. Drain live, skipping events with `seq <= last` — those history already yielded.
//! 4. If the live subscription lags, during catch-up or later: drop it, subscribe again, and
//!    go back to step 2 after `last`, the seq of the last event yielded (the "resync from the
//!    log" policy). During catch-up this is checked between pages, so an overflowed
//!    subscription is replaced before it is drained.
//!
//! Whatever is published while history is read lands in both places and is yielded once,
//! since `last` only grows. Only events matching the filter are yielded; history is asked
//! with the same filter.

mod delivered;
mod error;
mod filter;
mod hub;
mod listener;
mod resume;
mod subscription;

#[cfg(test)]
mod fixture;

pub use delivered::Delivered;
pub use error::{DeliveryError, HistoryError, SubscribeError};
pub use filter::Filter;
pub use hub::{Hub, HubConfig};
pub use listener::{EventName, Listener, Listeners};
pub use resume::{History, ResumeStream, resume};
pub use subscription::{Lagged, Subscription};
