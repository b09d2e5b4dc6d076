//! `POST /v1/calls/{callId}/audio-samples`: raw WebRTC statistics from an agent's browser (the
//! JS client's `publishAudioStats` samples `RTCPeerConnection.getStats()`), aggregated by the
//! engine's audio aggregator into AUDIO_STATS events, one per channel per interval.
//!
//! The body is [`WebRtcAudioStats`]: `{"inbound":{packetsReceived,packetsLost,jitter},
//! "outbound":{packetsSent},"remoteInbound":{packetsLost,jitter,roundTripTime}}`, W3C names and
//! units (seconds), each entry optional but at least one of `inbound`/`outbound` present.
//! Counters are cumulative, as `getStats()` reports them.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::mpsc;
use voicetk_engine::Lifecycle;
use voicetk_engine::audio::{RawSample, SampleMsg, WebRtcAudioStats};
use voicetk_events::{Envelope, EventType};

use super::AppState;
use super::events::read_body;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::gateway::{Gateway, IngestError};

/// Largest samples body: one getStats() digest.
const MAX_SAMPLES_BODY: usize = 16 * 1024;

/// Accepts one WebRTC statistics sample of a connected call.
#[utoipa::path(
    post, path = "/v1/calls/{callId}/audio-samples", tag = "calls",
    params(("callId" = String, Path, description = "The call")),
    request_body(content = String, content_type = "application/json",
        description = "{inbound:{packetsReceived,packetsLost,jitter}, outbound:{packetsSent}, \
            remoteInbound:{packetsLost,jitter,roundTripTime}} (W3C RTCStats names, seconds)"),
    responses(
        (status = 202, description = "Taken into the current interval: {\"channels\": n}"),
        (status = 404, description = "Unknown call", body = ErrorBody),
        (status = 409, description = "The call is not connected", body = ErrorBody),
        (status = 422, description = "unsupported_event: Native telephony has no AUDIO_STATS", body = ErrorBody),
        (status = 422, description = "A field is missing or has the wrong type (path named)", body = ErrorBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the publish or control role, or the agent", body = ErrorBody),
    )
)]
pub(super) async fn post_samples(
    State(state): State<AppState>,
    principal: Principal,
    Path(call_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // The agent's own desktop (control) or a media probe (publish) may report.
    if !principal.has(Role::Control) {
        principal.require(Role::Publish)?;
    }
    let telephony = state.gateway().telephony();
    if !EventType::AudioStats.is_supported_by(telephony) {
        return Err(ApiError::unprocessable(
            "unsupported_event",
            format!(
                "AUDIO_STATS does not exist in {telephony} telephony: audio samples would never \
                 become events"
            ),
        ));
    }
    let call = state
        .gateway()
        .call(&call_id)
        .filter(|c| principal.can_see(c.agent.as_deref()))
        .ok_or_else(|| ApiError::unknown_call(&call_id))?;
    if call.lifecycle != Lifecycle::Connected {
        return Err(ApiError::invalid_transition(format!(
            "call {call_id:?} is {}: audio samples are taken only while it is connected",
            call.lifecycle
        )));
    }
    let bytes = read_body(body, MAX_SAMPLES_BODY).await?;
    let stats = parse(&bytes)?;
    let samples = RawSample::from_webrtc(&stats);
    let channels = samples.len();
    for (channel, sample) in samples {
        let msg = SampleMsg::Sample {
            call_id: call_id.clone(),
            channel,
            sample,
        };
        if state.audio().send(msg).await.is_err() {
            return Err(ApiError::unavailable("the gateway is shutting down"));
        }
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "channels": channels }))).into_response())
}

fn parse(bytes: &[u8]) -> Result<WebRtcAudioStats, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let stats: WebRtcAudioStats = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::malformed_json(&inner)
        } else {
            ApiError::unprocessable("invalid_field", format!("{path}: {inner}")).with_path(path)
        }
    })?;
    if stats.inbound.is_none() && stats.outbound.is_none() {
        return Err(ApiError::unprocessable(
            "invalid_field",
            "expected at least one of \"inbound\" (inbound-rtp) or \"outbound\" (outbound-rtp)",
        )
        .with_path("inbound"));
    }
    Ok(stats)
}

/// Ingests what the aggregator produces, each AUDIO_STATS for the agent of its call. An
/// interval that closes after its call ended is refused by the engine (nothing but
/// WRAP_UP_ENDED follows CALL_ENDED) and dropped here.
pub async fn forward_audio_stats(gateway: Gateway, mut events: mpsc::Receiver<Envelope>) {
    while let Some(mut envelope) = events.recv().await {
        if envelope.agent.is_none() {
            envelope.agent = gateway
                .call(envelope.call_id())
                .and_then(|c| c.agent.clone());
        }
        match gateway.ingest(vec![envelope]).await {
            Ok(_) => {}
            Err(IngestError::Refused { refusal, .. }) => {
                tracing::debug!(reason = %refusal.message, "aggregated AUDIO_STATS refused");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot store aggregated AUDIO_STATS");
                if matches!(e, IngestError::Unavailable) {
                    return;
                }
            }
        }
    }
}

/// The sender end of the aggregator's input, as the handlers share it.
pub type AudioSamples = Arc<mpsc::Sender<SampleMsg>>;
