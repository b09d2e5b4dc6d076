//! Actions (`POST /v1/calls/{callId}/actions/{action}`) and dialing (`POST /v1/calls`).
//!
//! An action is checked against the engine first (409 with the reason when the call's state
//! forbids it), then carried out by the source that owns the call, and answered once the
//! event that confirms it is in the log (200 `{"seq": N}`); 501 when the source cannot do
//! such an action, 502 when it failed, 504 when no confirmation arrived in time.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use voicetk_delivery::{Delivered, Filter};
use voicetk_engine::{CallState, Lifecycle, Role as CallRole};
use voicetk_events::{CallConnectedDetail, CallType, Envelope, EventType, Extra, TelephonyEvent};
use voicetk_sources::{Action, ActionError, CallContext, ParticipantType, Source};

use super::AppState;
use super::events::read_body;
use super::openapi::{ActionAck, ActionBody, DialAck, DialBody};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::error::ErrorBody;

/// Largest action body: these are a few fields at most.
const MAX_ACTION_BODY: usize = 16 * 1024;

/// Carries out an action on a call and answers with the seq of the confirming event.
#[utoipa::path(
    post, path = "/v1/calls/{callId}/actions/{action}", tag = "actions",
    params(
        ("callId" = String, Path, description = "The call"),
        ("action" = String, Path, description = "accept-call, decline-call, end-call, mute, unmute, hold, resume, \
            pause-recording, resume-recording, merge, swap, add-participant, send-digits"),
    ),
    request_body(content = ActionBody, description = "Fields the action needs (none for most)"),
    responses(
        (status = 200, description = "Done: the seq of the confirming event", body = ActionAck),
        (status = 404, description = "Unknown call or action", body = ErrorBody),
        (status = 409, description = "The call's state forbids the action (reason given)", body = ErrorBody),
        (status = 422, description = "A body field is missing or invalid", body = ErrorBody),
        (status = 501, description = "The source cannot do this action, or no source owns the call", body = ErrorBody),
        (status = 502, description = "The source failed", body = ErrorBody),
        (status = 504, description = "No confirming event in time", body = ErrorBody),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
    )
)]
pub(super) async fn perform(
    State(state): State<AppState>,
    principal: Principal,
    Path((call_id, action_name)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require(Role::Control)?;
    let call = state
        .gateway()
        .call(&call_id)
        .filter(|c| principal.can_see(c.agent.as_deref()))
        .ok_or_else(|| ApiError::unknown_call(&call_id))?;
    let body = read_body(body, MAX_ACTION_BODY).await?;
    let action = parse_action(&action_name, &body)?;
    let expected = expected_event(&call, &action)?;
    if let Some(envelope) = &expected {
        match state.gateway().check(envelope.clone()).await {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) if refusal.code() == "unsupported_event" => {
                return Err(ApiError::unprocessable(
                    "unsupported_event",
                    refusal.message,
                ));
            }
            Ok(Err(refusal)) => {
                return Err(ApiError::invalid_transition(format!(
                    "{action_name} is not possible now: {}",
                    refusal.message
                )));
            }
            Err(_) => return Err(ApiError::unavailable("the gateway is shutting down")),
        }
    }
    let source = owner(&state, &call_id).ok_or_else(|| {
        ApiError::not_implemented(format!(
            "no source can act on call {call_id:?}: it was not produced by a running source \
             (events posted over HTTP have none)"
        ))
    })?;
    let context = context_of(&call);
    // Subscribe before asking the source, so the confirmation cannot slip past.
    let mut confirmation = expected.as_ref().map(|e| {
        state.gateway().hub().subscribe(
            Filter::all()
                .types([e.event_type()])
                .call_id(call_id.clone()),
        )
    });
    source
        .perform(&context, &action)
        .await
        .map_err(action_error)?;
    let Some(sub) = confirmation.as_mut() else {
        // send-digits: no telephony event reports DTMF.
        return Ok(Json(json!({ "seq": Value::Null })).into_response());
    };
    let timeout = state.limits().action_timeout;
    let wait = async {
        while let Some(item) = sub.recv().await {
            match item {
                Ok(d) if confirms(&d, expected.as_ref()) => return Some(d.seq),
                Ok(_) => {}
                // Fell behind: the confirmation may be among the missed; the log has it.
                Err(_) => return None,
            }
        }
        None
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Some(seq)) => Ok(Json(json!({ "seq": seq })).into_response()),
        Ok(None) => confirmed_in_log(&state, &call_id, expected.as_ref())
            .await
            .map(|seq| Json(json!({ "seq": seq })).into_response()),
        Err(_) => Err(ApiError::not_confirmed(format!(
            "the source did not confirm {action_name} on call {call_id:?} within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// The body of `POST /v1/calls`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DialRequest {
    phone_number: String,
}

/// Places a call (`startPreviewCall`/dial): 200 `{"seq": N, "callId": ID}` once the new
/// call's first event is in the log.
#[utoipa::path(
    post, path = "/v1/calls", tag = "actions",
    request_body(content = DialBody),
    responses(
        (status = 200, description = "The new call's first event is in the log", body = DialAck),
        (status = 422, description = "phoneNumber missing or empty", body = ErrorBody),
        (status = 501, description = "No running source can place calls", body = ErrorBody),
        (status = 504, description = "The call's first event did not arrive in time", body = ErrorBody),
        (status = 400, description = "Malformed JSON or bad parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Token lacks the role or agent", body = ErrorBody),
        (status = 429, description = "Rate limited on this connection", body = ErrorBody),
    )
)]
pub(super) async fn dial(
    State(state): State<AppState>,
    principal: Principal,
    body: Body,
) -> Result<Response, ApiError> {
    principal.require(Role::Control)?;
    let body = read_body(body, MAX_ACTION_BODY).await?;
    let req: DialRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::unprocessable(
            "invalid_value",
            format!("expected {{\"phoneNumber\": \"...\"}}: {e}"),
        )
        .with_path("phoneNumber")
    })?;
    if req.phone_number.trim().is_empty() {
        return Err(
            ApiError::unprocessable("invalid_value", "phoneNumber must not be empty")
                .with_path("phoneNumber"),
        );
    }
    let mut sub = state
        .gateway()
        .hub()
        .subscribe(Filter::all().types([EventType::CallStarted, EventType::CallConnected]));
    let mut last_unsupported = None;
    let mut dialed = None;
    for source in &state.inner.sources {
        match source
            .dial(principal.agent.as_deref(), &req.phone_number)
            .await
        {
            Ok(call_id) => {
                dialed = Some(call_id);
                break;
            }
            Err(e @ ActionError::Unsupported { .. }) => last_unsupported = Some(e),
            Err(e) => return Err(action_error(e)),
        }
    }
    let Some(call_id) = dialed else {
        return Err(match last_unsupported {
            Some(e) => action_error(e),
            None => ApiError::not_implemented("no source is running that can place calls"),
        });
    };
    let timeout = state.limits().action_timeout;
    let wait = async {
        while let Some(Ok(d)) = sub.recv().await {
            if d.call_id == call_id {
                return Some(d.seq);
            }
        }
        None
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Some(seq)) => Ok(Json(json!({ "seq": seq, "callId": call_id })).into_response()),
        _ => Err(ApiError::not_confirmed(format!(
            "the source placed call {call_id:?} but no CALL_STARTED/CALL_CONNECTED arrived within {} ms",
            timeout.as_millis()
        ))),
    }
}

fn owner(state: &AppState, call_id: &str) -> Option<Arc<dyn Source>> {
    state
        .inner
        .sources
        .iter()
        .find(|s| s.owns(call_id))
        .cloned()
}

fn context_of(call: &CallState) -> CallContext {
    CallContext {
        call_id: call.call_id.clone(),
        agent: call.agent.clone(),
        initial_caller: call.initial_caller().map(|p| p.participant.clone()),
        third_parties: call
            .participants
            .iter()
            .filter(|p| p.role == CallRole::ThirdParty)
            .map(|p| p.participant.clone())
            .collect(),
    }
}

fn action_error(e: ActionError) -> ApiError {
    match e {
        ActionError::Unsupported { .. } => ApiError::not_implemented(e.to_string()),
        ActionError::Failed { .. } => ApiError::source_failed(e.to_string()),
        ActionError::Invalid(m) => ApiError::unprocessable("invalid_value", m),
    }
}

/// Parses the action name and its JSON body (empty body = `{}`).
fn parse_action(name: &str, body: &[u8]) -> Result<Action, ApiError> {
    let body: serde_json::Map<String, Value> = if body.trim_ascii().is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(ApiError::unprocessable(
                    "wrong_type",
                    "the action body must be a JSON object",
                )
                .with_path("$"));
            }
            Err(e) => return Err(ApiError::malformed_json(&e)),
        }
    };
    let participant_type = |required: bool| -> Result<Option<ParticipantType>, ApiError> {
        match body.get("participantType") {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(ApiError::unprocessable(
                "missing_field",
                "missing required field (expected \"Initial_Caller\", \"Third_Party\" or \"Agent\")",
            )
            .with_path("participantType")),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| {
                ApiError::unprocessable(
                    "invalid_value",
                    format!("expected \"Initial_Caller\", \"Third_Party\" or \"Agent\", found {v}"),
                )
                .with_path("participantType")
            }),
        }
    };
    let string = |field: &str| -> Result<String, ApiError> {
        match body.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(v) => Err(ApiError::unprocessable(
                "invalid_value",
                format!("expected a non-empty string, found {v}"),
            )
            .with_path(field)),
            None => Err(ApiError::unprocessable(
                "missing_field",
                "missing required field (expected a non-empty string)",
            )
            .with_path(field)),
        }
    };
    Ok(match name {
        "accept-call" => Action::AcceptCall,
        "decline-call" => Action::DeclineCall,
        "end-call" => Action::EndCall {
            participant_type: participant_type(false)?,
        },
        "mute" => Action::Mute,
        "unmute" => Action::Unmute,
        "hold" => Action::Hold {
            participant_type: participant_type(true)?.unwrap_or(ParticipantType::InitialCaller),
        },
        "resume" => Action::Resume {
            participant_type: participant_type(true)?.unwrap_or(ParticipantType::InitialCaller),
        },
        "pause-recording" => Action::PauseRecording,
        "resume-recording" => Action::ResumeRecording,
        "merge" => Action::Merge,
        "swap" => Action::Swap,
        "add-participant" => Action::AddParticipant {
            contact_type: body
                .get("contactType")
                .and_then(Value::as_str)
                .unwrap_or("PhoneNumber")
                .to_owned(),
            contact_value: string("contactValue")?,
            is_blind_transfer: match body.get("isBlindTransfer") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    return Err(ApiError::unprocessable(
                        "wrong_type",
                        format!("expected a boolean, found {v}"),
                    )
                    .with_path("isBlindTransfer"));
                }
            },
        },
        "send-digits" => {
            let digits = string("digits")?;
            if !digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | ','))
            {
                return Err(ApiError::unprocessable(
                    "invalid_value",
                    format!("digits may hold 0-9, *, # and , only; found {digits:?}"),
                )
                .with_path("digits"));
            }
            Action::SendDigits { digits }
        }
        other => {
            return Err(ApiError::not_found(format!(
                "unknown action {other:?}; expected one of {}",
                Action::NAMES.join(", ")
            )));
        }
    })
}

/// The event that would confirm `action` on `call`, to check against the engine first and to
/// recognise when it arrives. `None` for send-digits.
fn expected_event(call: &CallState, action: &Action) -> Result<Option<Envelope>, ApiError> {
    let call_id = call.call_id.clone();
    let by_type = |participant_type: ParticipantType,
                   on_hold: Option<bool>|
     -> Result<String, ApiError> {
        let role = match participant_type {
            ParticipantType::InitialCaller => CallRole::InitialCaller,
            ParticipantType::ThirdParty => CallRole::ThirdParty,
            ParticipantType::Agent => {
                return Err(ApiError::unprocessable(
                    "invalid_value",
                    "participantType Agent cannot be held, resumed or dropped this way; use mute or end-call",
                )
                .with_path("participantType"));
            }
        };
        call.participants
            .iter()
            .filter(|p| p.role == role)
            .find(|p| on_hold.is_none_or(|h| p.on_hold == h))
            .or_else(|| call.participants.iter().find(|p| p.role == role))
            .map(|p| p.participant.clone())
            .ok_or_else(|| {
                ApiError::invalid_transition(format!(
                    "call {call_id:?} has no {} participant (participants: {:?})",
                    match role {
                        CallRole::InitialCaller => "Initial_Caller",
                        CallRole::ThirdParty => "Third_Party",
                    },
                    call.participants
                        .iter()
                        .map(|p| p.participant.as_str())
                        .collect::<Vec<_>>()
                ))
            })
    };
    let only = |t: EventType| TelephonyEvent::call_only(t, call_id.clone());
    let with = |t: EventType, p: String| TelephonyEvent::with_participant(t, call_id.clone(), p);
    let event = match action {
        Action::AcceptCall => {
            if call.lifecycle != Lifecycle::Started {
                return Err(ApiError::invalid_transition(format!(
                    "accept-call needs a ringing call; call {:?} is {}",
                    call.call_id, call.lifecycle
                )));
            }
            Some(TelephonyEvent::CallConnected(CallConnectedDetail {
                call_id: call_id.clone(),
                call_type: call.call_type.unwrap_or(CallType::Inbound),
                participant: call
                    .initial_caller()
                    .map(|p| p.participant.clone())
                    .unwrap_or_default(),
                call_attributes: None,
                extra: Extra::new(),
            }))
        }
        Action::DeclineCall => {
            if call.lifecycle != Lifecycle::Started {
                return Err(ApiError::invalid_transition(format!(
                    "decline-call needs a ringing call; call {:?} is {}",
                    call.call_id, call.lifecycle
                )));
            }
            only(EventType::CallEnded)
        }
        Action::EndCall {
            participant_type: Some(ParticipantType::ThirdParty),
        } => with(
            EventType::ParticipantRemoved,
            by_type(ParticipantType::ThirdParty, None)?,
        ),
        Action::EndCall { .. } => only(EventType::CallEnded),
        Action::Mute => only(EventType::Mute),
        Action::Unmute => only(EventType::Unmute),
        Action::Hold { participant_type } => {
            with(EventType::Hold, by_type(*participant_type, Some(false))?)
        }
        Action::Resume { participant_type } => {
            with(EventType::Resume, by_type(*participant_type, Some(true))?)
        }
        Action::PauseRecording => only(EventType::PauseRecording),
        Action::ResumeRecording => only(EventType::ResumeRecording),
        Action::Merge => only(EventType::Conference),
        Action::Swap => only(EventType::Swap),
        Action::AddParticipant { contact_value, .. } => {
            with(EventType::ParticipantAdded, contact_value.clone())
        }
        Action::SendDigits { .. } => return Ok(None),
    };
    Ok(event.map(|e| {
        let mut envelope = Envelope::new(e);
        envelope.agent = call.agent.clone();
        envelope
    }))
}

/// Whether a delivered event confirms the expected one: same type and call, and the same
/// participant for the events that name one.
fn confirms(d: &Delivered, expected: Option<&Envelope>) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    d.event_type == expected.event_type()
        && d.call_id == expected.call_id()
        && match (expected.event.participant(), d.envelope.event.participant()) {
            (Some(want), Some(got)) => {
                want == got || matches!(d.event_type, EventType::CallConnected)
            }
            _ => true,
        }
}

/// After a lagged confirmation wait: look for the confirmation in the call's recent history.
async fn confirmed_in_log(
    state: &AppState,
    call_id: &str,
    expected: Option<&Envelope>,
) -> Result<u64, ApiError> {
    let Some(call) = state.gateway().call(call_id) else {
        return Err(ApiError::not_confirmed(
            "the call disappeared before the action was confirmed",
        ));
    };
    let Some(expected) = expected else {
        return Err(ApiError::not_confirmed("no confirmation expected"));
    };
    let events = state
        .gateway()
        .log()
        .read(
            voicetk_log::ReadQuery::after(call.first_seq.saturating_sub(1))
                .with_call_id(call_id.to_owned())
                .with_types([expected.event_type()])
                .with_limit(1_000),
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
    events
        .last()
        .map(|e| e.seq)
        .ok_or_else(|| ApiError::not_confirmed("the confirming event was not found"))
}
