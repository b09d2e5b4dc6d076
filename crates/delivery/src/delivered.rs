//! One accepted event, serialized once and shared by every subscriber.

use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq)]
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
        }))
    }
}
