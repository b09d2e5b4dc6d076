//! voicetk: an open telephony event gateway speaking the Salesforce Voice Toolkit event model.
//!
//! Contact-center components react to phone calls through 15 telephony events
//! (`CALL_STARTED` … `WRAP_UP_ENDED`, `AUDIO_STATS`). voicetk makes that model real outside any
//! one vendor: sources are normalised into the events, a call engine keeps every call's state
//! honest, an embedded log makes every accepted event durable before it is acknowledged, and
//! delivery fans events out to Rust listeners, WebSocket and Server-Sent Events subscribers.
//!
//! This crate is the facade and the `voicetk` command line; each stage is its own crate,
//! re-exported here in the order data flows through them:
//! [`sources`] → [`events`] → [`engine`] → [`log`] → [`delivery`], orchestrated by [`server`].
//!
//! # Example: an embedded gateway with a Voice Toolkit listener
//! ```
//! use std::sync::{Arc, Mutex};
//! use voicetk::delivery::Listener;
//! use voicetk::events::{parse_event, ParseOptions};
//! use voicetk::server::{Server, config::Config};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = tempfile::tempdir()?;
//! let config = Config { data: Some(data.path().into()), ..Config::default() };
//! let server = Server::open(config, Vec::new()).await?;
//! let gateway = server.gateway().clone();
//!
//! // addTelephonyEventListener, as a Salesforce component would (LWC or Aura names).
//! let held = Arc::new(Mutex::new(Vec::new()));
//! let seen = Arc::clone(&held);
//! let on_hold = Listener::new(move |event| {
//!     seen.lock().unwrap_or_else(|e| e.into_inner()).push(event.seq);
//! });
//! gateway.hub().listeners().add_telephony_event_listener("HOLD", &on_hold)?;
//!
//! let events = [
//!     r#"{"type":"CALL_CONNECTED","detail":{"callId":"c1","callType":"inbound","participant":"+1 415 555 0100"}}"#,
//!     r#"{"type":"hold","detail":{"callId":"c1","participant":"+1 415 555 0100"}}"#,
//! ];
//! let envelopes = events
//!     .iter()
//!     .map(|e| parse_event(e.as_bytes(), &ParseOptions::default()))
//!     .collect::<Result<Vec<_>, _>>()?;
//! // Durable in the SQLite log when this returns; the listener has run.
//! let seqs = gateway.ingest(envelopes).await?;
//! assert_eq!(seqs, [1, 2]);
//! assert_eq!(*held.lock().unwrap_or_else(|e| e.into_inner()), [Some(2)]);
//!
//! // The call engine knows who is on hold; a second HOLD is refused.
//! assert_eq!(gateway.call("c1").ok_or("tracked")?.on_hold().count(), 1);
//! let again = parse_event(events[1].as_bytes(), &ParseOptions::default())?;
//! assert!(gateway.ingest(vec![again]).await.is_err());
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod replay;
pub mod source_spec;
pub mod validate;

pub use voicetk_delivery as delivery;
pub use voicetk_engine as engine;
pub use voicetk_events as events;
pub use voicetk_log as log;
pub use voicetk_server as server;
pub use voicetk_sources as sources;
