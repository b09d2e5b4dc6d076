//! Events for tests: one valid envelope of any type, with a seq and optionally an agent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use voicetk_events::{
    AudioStatsDetail, CallConnectedDetail, CallStartedDetail, CallType, Channel, Envelope,
    EventType, Extra, TelephonyEvent,
};

use crate::Delivered;

/// A valid envelope of `event_type` for `call_id`, accepted as `seq`.
pub(crate) fn envelope(
    seq: u64,
    event_type: EventType,
    call_id: &str,
    agent: Option<&str>,
) -> Envelope {
    let event = match event_type {
        EventType::AudioStats => TelephonyEvent::AudioStats(AudioStatsDetail {
            call_id: call_id.into(),
            stats: Channel::Input,
            packets_lost: 0,
            packets_count: 250,
            jitter_buffer_millis: 3,
            round_trip_time_millis: 40,
            stats_count: 6,
            mos: Some(4.3),
            extra: Extra::new(),
        }),
        EventType::CallStarted => TelephonyEvent::CallStarted(CallStartedDetail {
            call_id: call_id.into(),
            call_type: CallType::Inbound,
            participant: "+1 415 555 0100".into(),
            extra: Extra::new(),
        }),
        EventType::CallConnected => TelephonyEvent::CallConnected(CallConnectedDetail {
            call_id: call_id.into(),
            call_type: CallType::Inbound,
            participant: "+1 415 555 0100".into(),
            call_attributes: None,
            extra: Extra::new(),
        }),
        t => TelephonyEvent::call_only(t, call_id)
            .or_else(|| TelephonyEvent::with_participant(t, call_id, "+1 415 555 0199"))
            .unwrap(),
    };
    let mut envelope = Envelope::new(event);
    envelope.seq = Some(seq);
    envelope.agent = agent.map(str::to_owned);
    envelope
}

/// [`envelope`], ready to publish.
pub(crate) fn delivered(
    seq: u64,
    event_type: EventType,
    call_id: &str,
    agent: Option<&str>,
) -> Arc<Delivered> {
    Delivered::new(envelope(seq, event_type, call_id, agent)).unwrap()
}
