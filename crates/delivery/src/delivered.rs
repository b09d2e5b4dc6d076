//! One accepted event, serialized once and shared by every subscriber.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use voicetk_events::{Envelope, EventType};

use crate::error::DeliveryError;

/// One accepted event as delivery hands it out: the envelope, the fields filters look at, and
/// the JSON every subscriber writes to its socket.
///
/// It is built once per event and shared behind an [`Arc`], so a thousand subscribers cost a
/// thousand pointer copies, not a thousand serializations.
///
/// # Examples
/// ```
/// use voicetk_delivery::Delivered;
/// use voicetk_events::{parse_event, EventType, ParseOptions};
///
/// let envelope = parse_event(
///     br#"{"type":"MUTE","detail":{"callId":"c1"},"seq":7,"agent":"alice"}"#,
///     &ParseOptions::default(),
/// )?;
/// let delivered = Delivered::new(envelope)?;
/// assert_eq!((delivered.seq, delivered.event_type), (7, EventType::Mute));
/// assert_eq!(delivered.agent.as_deref(), Some("alice"));
/// assert_eq!(&delivered.json[..], br#"{"type":"MUTE","detail":{"callId":"c1"},"seq":7,"agent":"alice"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Delivered {
    /// The event's `seq`: its position in the log, the key of ordering and deduplication.
    pub seq: u64,
    /// The event's type, copied out so filters need not look into the envelope.
    pub event_type: EventType,
    /// `detail.callId`, copied out for call-scoped filters.
    pub call_id: String,
    /// The top-level `agent`, copied out for agent-scoped filters.
    pub agent: Option<String>,
    /// The whole payload, for in-process consumers that want typed access.
    pub envelope: Envelope,
    /// `envelope` serialized to compact JSON; what sockets send.
    pub json: Bytes,
    /// A transport's own form of `json`, made by the first subscriber that asks (see
    /// [`Delivered::encoded`]).
    encoded: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Delivered {
    /// Wraps an accepted envelope, serializing it once.
    ///
    /// # Errors
    /// [`DeliveryError::MissingSeq`] if the envelope has no `seq`: only events accepted into
    /// the log are delivered.
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::{Delivered, DeliveryError};
    /// use voicetk_events::{Envelope, EventType, TelephonyEvent};
    ///
    /// let event = TelephonyEvent::call_only(EventType::CallEnded, "c1").ok_or("not call-only")?;
    /// let err = Delivered::new(Envelope::new(event)).unwrap_err();
    /// assert!(matches!(err, DeliveryError::MissingSeq { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(envelope: Envelope) -> Result<Arc<Delivered>, DeliveryError> {
        let json = Bytes::from(envelope.to_json_bytes());
        Delivered::from_json(envelope, json)
    }

    /// Wraps an accepted envelope together with its JSON, already serialized (by the log, or
    /// by the writer that stored it), so it is not serialized again.
    ///
    /// The caller promises `json` is `envelope` serialized; the log's stored payload is.
    /// Nothing checks it: it is what subscribers will send.
    ///
    /// # Errors
    /// [`DeliveryError::MissingSeq`] if the envelope has no `seq`.
    ///
    /// # Examples
    /// ```
    /// use bytes::Bytes;
    /// use voicetk_delivery::Delivered;
    /// use voicetk_events::{parse_event, ParseOptions};
    ///
    /// let stored = r#"{"type":"UNMUTE","detail":{"callId":"c1"},"seq":3}"#;
    /// let envelope = parse_event(stored.as_bytes(), &ParseOptions::default())?;
    /// let delivered = Delivered::from_json(envelope, Bytes::from_static(stored.as_bytes()))?;
    /// assert_eq!(delivered.seq, 3);
    /// assert_eq!(&delivered.json[..], stored.as_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(envelope: Envelope, json: Bytes) -> Result<Arc<Delivered>, DeliveryError> {
        let Some(seq) = envelope.seq else {
            return Err(DeliveryError::MissingSeq {
                event_type: envelope.event_type(),
                call_id: envelope.call_id().to_owned(),
            });
        };
        Ok(Arc::new(Delivered {
            seq,
            event_type: envelope.event_type(),
            call_id: envelope.call_id().to_owned(),
            agent: envelope.agent.clone(),
            json,
            envelope,
            encoded: OnceLock::new(),
        }))
    }

    /// This event in a transport's own form (a WebSocket text frame, say), made by `make` for
    /// the first subscriber that asks and shared, as a clone, by every later one: per-event
    /// work such as UTF-8 validation is then done once, not once per subscriber.
    ///
    /// One form is kept per event, the first one asked for; asking for another type calls
    /// `make` every time.
    ///
    /// # Examples
    /// ```
    /// use voicetk_delivery::Delivered;
    /// use voicetk_events::{Envelope, EventType, TelephonyEvent};
    ///
    /// let mut envelope = Envelope::new(TelephonyEvent::call_only(EventType::Mute, "c1").ok_or("?")?);
    /// envelope.seq = Some(1);
    /// let event = Delivered::new(envelope)?;
    /// let mut calls = 0;
    /// for _ in 0..3 {
    ///     let text = event.encoded(|d| {
    ///         calls += 1;
    ///         String::from_utf8(d.json.to_vec()).ok()
    ///     });
    ///     assert!(text.is_some_and(|t| t.starts_with(r#"{"type":"MUTE""#)));
    /// }
    /// assert_eq!(calls, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encoded<T>(&self, make: impl FnOnce(&Delivered) -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(stored) = self.encoded.get() {
            return match stored.downcast_ref::<T>() {
                Some(value) => value.clone(),
                None => make(self),
            };
        }
        let value = make(self);
        // Another subscriber may have stored its form meanwhile: then this one is not kept.
        let _ = self.encoded.set(Box::new(value.clone()));
        value
    }
}

impl Clone for Delivered {
    /// A copy of the event; the transport form cache starts empty.
    fn clone(&self) -> Self {
        Delivered {
            seq: self.seq,
            event_type: self.event_type,
            call_id: self.call_id.clone(),
            agent: self.agent.clone(),
            envelope: self.envelope.clone(),
            json: self.json.clone(),
            encoded: OnceLock::new(),
        }
    }
}

impl PartialEq for Delivered {
    /// The same event with the same JSON (the transport form cache is not compared).
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.event_type == other.event_type
            && self.call_id == other.call_id
            && self.agent == other.agent
            && self.envelope == other.envelope
            && self.json == other.json
    }
}

impl fmt::Debug for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivered")
            .field("seq", &self.seq)
            .field("event_type", &self.event_type)
            .field("call_id", &self.call_id)
            .field("agent", &self.agent)
            .field("envelope", &self.envelope)
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}
