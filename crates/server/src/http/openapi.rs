//! The OpenAPI 3 document served at `/v1/openapi.json`, generated from the handlers'
//! annotations (utoipa) and the shapes below, which document bodies the handlers build by hand
//! (they splice stored JSON rather than re-serializing it).

#![allow(dead_code)] // the shapes below exist for the document only

use serde::Serialize;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use voicetk_events::EventType;

use crate::error::{ErrorBody, ErrorDetail};

/// A telephony event as delivered (CONTRACT.md §1).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct TelephonyEventDoc {
    #[schema(schema_with = event_type_schema)]
    r#type: String,
    /// `callId` plus the type's fields, exactly as the spec names them; extra fields kept.
    #[schema(value_type = Object, example = json!({"callId": "4ba06a63", "callType": "outbound", "participant": "+1 415 555 0100"}))]
    detail: serde_json::Value,
    /// Position in the log, strictly increasing.
    seq: Option<u64>,
    /// When the event was accepted (RFC 3339, UTC).
    timestamp: Option<String>,
    /// The agent whose desktop the call belongs to.
    agent: Option<String>,
    /// The source's id for idempotent re-sends.
    event_id: Option<String>,
    /// Why a lenient gateway accepted an event that breaks the call model.
    warnings: Option<Vec<String>>,
    /// True on events replayed to bring a new subscriber up to date.
    replayed: Option<bool>,
}

/// The 15 type names, straight from the catalogue.
fn event_type_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "One of the 15 types (Aura name); LWC names are accepted on input",
        ))
        .enum_values(Some(EventType::ALL.map(EventType::as_str)))
        .build()
}

/// `POST /v1/events` answer: `seq` for one payload, `seqs` for a batch.
#[derive(Serialize, ToSchema)]
pub(super) struct IngestAck {
    /// The seq of a single payload.
    seq: Option<u64>,
    /// The seqs of a batch, in order.
    seqs: Option<Vec<u64>>,
}

/// `POST /v1/sources/{name}` answer.
#[derive(Serialize, ToSchema)]
pub(super) struct WebhookAck {
    /// The seqs of the events the request became, in order (empty when none).
    seqs: Vec<u64>,
    /// Why nothing (or less than the provider reported) was stored, when so.
    ignored: Option<String>,
}

/// A page of history.
#[derive(Serialize, ToSchema)]
pub(super) struct HistoryPage {
    /// Events, oldest first.
    events: Vec<TelephonyEventDoc>,
    /// `after` for the next page; null when this page reached the end.
    next: Option<u64>,
}

/// One participant of a call.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ParticipantDoc {
    /// Phone number or Quick Connect name.
    participant: String,
    /// `initialCaller` or `thirdParty`.
    role: String,
    /// On hold?
    on_hold: bool,
}

/// A call's state as the engine keeps it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CallStateDoc {
    call_id: String,
    agent: Option<String>,
    /// `started`, `connected`, `ended` or `closed`.
    lifecycle: String,
    /// `inbound` or `outbound`.
    call_type: Option<String>,
    participants: Vec<ParticipantDoc>,
    muted: bool,
    /// `active` or `paused`.
    recording: String,
    #[schema(value_type = Object)]
    call_attributes: Option<serde_json::Value>,
    started_at: Option<String>,
    connected_at: Option<String>,
    ended_at: Option<String>,
    closed_at: Option<String>,
    updated_at: String,
    first_seq: u64,
    last_seq: u64,
    event_count: u64,
    /// The last AUDIO_STATS per channel (`input`, `output`).
    #[schema(value_type = Object)]
    audio: serde_json::Value,
}

/// `GET /v1/calls` answer.
#[derive(Serialize, ToSchema)]
pub(super) struct CallsPage {
    calls: Vec<CallStateDoc>,
}

/// `GET /v1/calls/{callId}` answer.
#[derive(Serialize, ToSchema)]
pub(super) struct CallWithEvents {
    call: CallStateDoc,
    events: Vec<TelephonyEventDoc>,
}

/// The optional body of an action.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActionBody {
    /// `Initial_Caller`, `Third_Party` or `Agent` (hold, resume: required; end-call: optional).
    participant_type: Option<String>,
    /// add-participant: `PhoneNumber`, `Queue`, `Agent`...
    contact_type: Option<String>,
    /// add-participant: who to call.
    contact_value: Option<String>,
    /// add-participant: drop the agent once connected.
    is_blind_transfer: Option<bool>,
    /// send-digits: 0-9, `*`, `#`, `,`.
    digits: Option<String>,
}

/// An action's answer: the seq of the confirming event (null for send-digits).
#[derive(Serialize, ToSchema)]
pub(super) struct ActionAck {
    seq: Option<u64>,
}

/// `POST /v1/calls` body.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DialBody {
    phone_number: String,
}

/// `POST /v1/calls` answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DialAck {
    seq: u64,
    call_id: String,
}

/// `/healthz` answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Health {
    /// `ok`, `degraded` (a source is down) or `unavailable` (cannot store events).
    status: String,
    last_seq: u64,
    /// `partner` or `native`.
    telephony: String,
    /// Each configured source: name, state (`starting`, `up`, `down`, `stopped`), since,
    /// disconnects, failedAttempts, restarts, lastError.
    sources: Vec<serde_json::Value>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "voicetk",
        description = "Telephony event gateway speaking the Salesforce Voice Toolkit event model. \
                       Errors are {\"error\":{\"code\",\"message\",\"path\"?,\"line\"?}}. \
                       With tokens configured, send Authorization: Bearer TOKEN (or ?access_token= on \
                       WebSocket and EventSource)."
    ),
    paths(
        super::events::post_events,
        super::events::history,
        super::stream::sse,
        super::ws::upgrade,
        super::calls::list,
        super::calls::one,
        super::actions::perform,
        super::samples::post_samples,
        super::actions::dial,
        super::webhooks::receive,
        super::ops::healthz,
        super::ops::metrics,
    ),
    components(schemas(ErrorBody, ErrorDetail, TelephonyEventDoc, IngestAck, WebhookAck, HistoryPage,
        CallStateDoc, ParticipantDoc, CallsPage, CallWithEvents, ActionBody, ActionAck, DialBody, DialAck, Health)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The OpenAPI document of the HTTP API.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
