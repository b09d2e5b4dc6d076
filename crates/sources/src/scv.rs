//! `--source scv`: what a Salesforce Service Cloud Voice partner connector publishes, as
//! toolkit events, at `POST /v1/sources/scv`.
//!
//! A partner connector built on Salesforce's `scv-connector-base`
//! (<https://github.com/salesforce/scv-connector-base>, `src/main/constants.js` and
//! `src/main/types.js`) reports what its telephony does with
//! `publishEvent({eventType, payload})`. Forward the same object here as JSON, with optional
//! top-level fields of your own:
//!
//! ```json
//! {"eventType": "HOLD_TOGGLE",
//!  "payload": {"isCustomerOnHold": true, "isThirdPartyOnHold": false},
//!  "agent": "ana", "callId": "c-42", "eventId": "evt-981"}
//! ```
//!
//! - `agent` (optional): the agent whose desktop the connector runs on; it becomes the events'
//!   `agent` (the engine keeps the first agent named for a call). The connector runs in the
//!   agent's browser, so the forwarder knows who that is; SCV's payloads do not say. With a
//!   token scoped to an agent ([`WebhookRequest::agent`]) it defaults to that agent, another
//!   one is refused (HTTP 403), and only that agent's calls are found, toggled or named: another
//!   agent's call is, for the token, a call voicetk does not know (HTTP 409).
//! - `callId` (optional): the toolkit call the event is about. SCV's toggles
//!   (`MUTE_TOGGLE`, `RECORDING_TOGGLE`, often `HOLD_TOGGLE`) do not name their call; without
//!   it the call is found from the payload's call ids and numbers, or is the agent's only live
//!   call. Ambiguity is an error, never a guess between calls.
//! - `eventId` (optional), or the `Idempotency-Key` header: the delivery's id; a re-sent
//!   delivery gets the original `seq`s, even for a toggle whose state has moved on.
//!
//! Payloads are checked by shape (field names and JSON types), as JSON cannot carry the
//! connector's classes. The toggles are judged against the engine's state: `HOLD_TOGGLE`
//! becomes `HOLD`/`RESUME` of the participants whose hold flag changed (or `SWAP`, or
//! `CONFERENCE` when the call was merged), `MUTE_TOGGLE` becomes `MUTE`/`UNMUTE`,
//! `RECORDING_TOGGLE` `PAUSE_RECORDING`/`RESUME_RECORDING`; a toggle that changes nothing is
//! answered with the reason and nothing stored, and a toggle for a call voicetk does not know is
//! a conflict (HTTP 409). The full table is in `docs/sources/scv.md`.

use std::sync::Arc;

use voicetk_engine::audio::mos;
use voicetk_engine::{CallState, Lifecycle, Recording, Role};
use voicetk_events::{
    AudioStatsDetail, CallConnectedDetail, CallStartedDetail, CallType, Channel, EventType, Extra,
    TelephonyEvent,
};

use crate::webhook::{
    CallLookup, Field, Translation, Webhook, WebhookError, WebhookMemory, WebhookRequest,
    call_only, checked, json_body, with_participant,
};

/// The source's name and its path under `/v1/sources/`.
pub const NAME: &str = "scv";

/// SCV event types that have no toolkit counterpart, with why; they are answered, not stored.
const IGNORED: [(&str, &str); 34] = [
    (
        "QUEUED_CALL_STARTED",
        "a queued callback is not a call on the agent's desktop yet",
    ),
    (
        "AFTER_CALL_WORK_STARTED",
        "after-call work starts with CALL_ENDED in the toolkit",
    ),
    (
        "UPDATE_AUDIO_STATS_COMPLETED",
        "a whole-call MOS summary; voicetk computes MOS for each AUDIO_STATS interval",
    ),
    (
        "SUPERVISOR_BARGED_IN",
        "supervisor activity is not part of the toolkit events",
    ),
    (
        "SUPERVISOR_CALL_STARTED",
        "supervisor activity is not part of the toolkit events",
    ),
    (
        "SUPERVISOR_CALL_CONNECTED",
        "supervisor activity is not part of the toolkit events",
    ),
    (
        "SUPERVISOR_HANGUP",
        "supervisor activity is not part of the toolkit events",
    ),
    (
        "CALL_BARGED_IN",
        "supervisor activity is not part of the toolkit events",
    ),
    ("LOGIN_STARTED", "agent login is not a telephony event"),
    ("LOGIN_RESULT", "agent login is not a telephony event"),
    ("LOGOUT_RESULT", "agent logout is not a telephony event"),
    ("SHOW_LOGIN", "agent login is not a telephony event"),
    ("SET_AGENT_STATUS", "agent status is not a telephony event"),
    (
        "SET_AGENT_STATUS_RESULT",
        "agent status is not a telephony event",
    ),
    ("GET_AGENT_STATUS", "agent status is not a telephony event"),
    (
        "GET_AGENT_STATUS_RESULT",
        "agent status is not a telephony event",
    ),
    ("STATE_CHANGE", "agent status is not a telephony event"),
    (
        "AGENT_CONFIG_UPDATED",
        "agent configuration is not a telephony event",
    ),
    (
        "CAPABILITIES",
        "connector capabilities are not a telephony event",
    ),
    ("PHONE_CONTACTS", "the phone book is not a telephony event"),
    (
        "GET_CONTACTS_RESULT",
        "the phone book is not a telephony event",
    ),
    (
        "SIGNED_RECORDING_URL",
        "recording URLs are not a telephony event",
    ),
    (
        "STORAGE_ACCESS_RESULT",
        "browser storage access is not a telephony event",
    ),
    (
        "MESSAGE",
        "messages to the Voice Call record are not telephony events",
    ),
    ("ERROR", "connector errors are not telephony events"),
    ("WARNING", "connector warnings are not telephony events"),
    ("INFO", "connector notices are not telephony events"),
    ("AGENT_ERROR", "connector errors are not telephony events"),
    (
        "SOFTPHONE_ERROR",
        "connector errors are not telephony events",
    ),
    (
        "SHOW_TRANSFER_VIEW",
        "a user-interface request is not a telephony event",
    ),
    (
        "CALL_UPDATED",
        "a call-record update is not a telephony event",
    ),
    (
        "REMOTE_CONTROLLER",
        "a development aid of the connector, not a telephony event",
    ),
    (
        "AFTER_CONVERSATION_WORK_STARTED",
        "after-call work starts with CALL_ENDED in the toolkit",
    ),
    (
        "AFTER_CONVERSATION_WORK_ENDED",
        "send WRAP_UP_ENDED for the toolkit's end of after-call work",
    ),
];

/// The SCV event types this source translates.
const TRANSLATED: [&str; 15] = [
    "CALL_STARTED",
    "CALL_CONNECTED",
    "CALL_FAILED",
    "HANGUP",
    "MUTE_TOGGLE",
    "HOLD_TOGGLE",
    "PARTICIPANTS_SWAPPED",
    "PARTICIPANTS_CONFERENCED",
    "RECORDING_TOGGLE",
    "PARTICIPANT_ADDED",
    "PARTICIPANT_CONNECTED",
    "PARTICIPANT_REMOVED",
    "UPDATE_AUDIO_STATS",
    "WRAP_UP_ENDED",
    "AUDIO_STATS",
];

/// The SCV webhook source.
///
/// ```
/// use voicetk_sources::scv::Scv;
/// use voicetk_sources::Source;
///
/// let scv = Scv::new();
/// let webhook = scv.webhook().ok_or("a webhook source")?;
/// assert_eq!((webhook.path(), webhook.needs_token()), ("scv", true));
/// # Ok::<(), &str>(())
/// ```
#[derive(Debug, Default)]
pub struct Scv {
    /// Deliveries and calls seen, and the turn that orders requests.
    memory: WebhookMemory,
}

impl Scv {
    /// A new SCV source.
    pub fn new() -> Scv {
        Scv::default()
    }
}

impl Webhook for Scv {
    fn path(&self) -> &str {
        NAME
    }

    fn needs_token(&self) -> bool {
        true
    }

    fn memory(&self) -> &WebhookMemory {
        &self.memory
    }

    fn translate(
        &self,
        request: &WebhookRequest<'_>,
        calls: &dyn CallLookup,
    ) -> Result<Translation, WebhookError> {
        let body = json_body(request, "SCV events")?;
        let root = Field::root(&body);
        root.object()?;
        let event_type = root.required_text("eventType")?;
        let named = root.text("agent")?;
        let scope = request.agent;
        if let (Some(mine), Some(other)) = (scope, named) {
            if other != mine {
                return Err(WebhookError::Forbidden(format!(
                    "agent: this token may publish for agent {mine:?} only, not {other:?}"
                )));
            }
        }
        let agent = named.or(scope);
        let explicit = root.text("callId")?;
        let delivery = match request.header("idempotency-key").map(str::trim) {
            Some(key) if !key.is_empty() => Some(key.to_owned()),
            _ => root.text("eventId")?.map(str::to_owned),
        };
        // An agent-scoped token recalls only its own agent's deliveries: another agent's
        // translation (and the call ids its `ignored` names) is not for it to see.
        let remembered_as = delivery.as_deref().map(|d| match scope {
            Some(mine) => format!("{mine}\u{1f}{d}"),
            None => d.to_owned(),
        });
        if let Some(earlier) = remembered_as.as_deref().and_then(|k| self.memory.recall(k)) {
            return Ok(earlier);
        }
        let request = Request {
            root: &root,
            event_type,
            agent,
            scope,
            explicit,
            calls,
        };
        let mut translation = request.translate()?;
        let mut events = Vec::with_capacity(translation.events.len());
        for mut event in translation.events {
            if event.agent.is_none() {
                event.agent = agent.map(str::to_owned);
            }
            events.push(checked(event, "payload")?);
        }
        translation.events = events;
        translation.delivery = delivery;
        let mut translation = translation.with_event_ids(NAME);
        translation.delivery = remembered_as;
        Ok(translation)
    }
}

/// One SCV request being translated.
struct Request<'r, 'a> {
    /// The whole body.
    root: &'r Field<'a>,
    /// `eventType`.
    event_type: &'a str,
    /// Top-level `agent`, else the token's agent scope.
    agent: Option<&'a str>,
    /// The agent scope of the token that authenticated the request: only that agent's calls
    /// can be found, toggled or named.
    scope: Option<&'a str>,
    /// Top-level `callId`.
    explicit: Option<&'a str>,
    /// The engine's calls.
    calls: &'r dyn CallLookup,
}

/// How a hold report came: a toggle, a swap, or a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldReport {
    Toggle,
    Swapped,
    Conferenced,
}

impl<'a> Request<'_, 'a> {
    fn translate(&self) -> Result<Translation, WebhookError> {
        match self.event_type {
            "CALL_STARTED" => self.call_opened(EventType::CallStarted),
            "CALL_CONNECTED" => self.call_opened(EventType::CallConnected),
            "CALL_FAILED" => self.call_failed(),
            "HANGUP" => self.hangup(),
            "MUTE_TOGGLE" => self.mute_toggle(),
            "HOLD_TOGGLE" => self.hold(HoldReport::Toggle),
            "PARTICIPANTS_SWAPPED" => self.hold(HoldReport::Swapped),
            "PARTICIPANTS_CONFERENCED" => self.hold(HoldReport::Conferenced),
            "RECORDING_TOGGLE" => self.recording_toggle(),
            "PARTICIPANT_ADDED" | "PARTICIPANT_CONNECTED" => self.participant_added(),
            "PARTICIPANT_REMOVED" => self.participant_removed(),
            "UPDATE_AUDIO_STATS" | "AUDIO_STATS" => self.audio_stats(),
            "WRAP_UP_ENDED" => self.wrap_up_ended(),
            other => match IGNORED.iter().find(|(t, _)| *t == other) {
                Some((t, why)) => Ok(Translation::ignored(format!("SCV {t}: {why}"))),
                None => Err(WebhookError::invalid(
                    "eventType",
                    format!(
                        "unknown SCV event type {other:?}; translated: {}; answered but not \
                         stored: {}",
                        TRANSLATED.join(", "),
                        IGNORED.map(|(t, _)| t).join(", ")
                    ),
                )),
            },
        }
    }

    /// `payload`, required to be an object.
    fn payload(&self) -> Result<Field<'a>, WebhookError> {
        let payload = self.root.get("payload").ok_or_else(|| {
            WebhookError::invalid(
                "payload",
                format!(
                    "missing required field (expected the object {} publishes)",
                    self.event_type
                ),
            )
        })?;
        payload.object()?;
        Ok(payload)
    }

    /// The payload's PhoneCall: `payload.call` (a CallResult) or the payload itself.
    fn phone_call(payload: &Field<'a>) -> Result<Field<'a>, WebhookError> {
        match payload.object_at("call")? {
            Some(call) => Ok(call),
            None => Ok(payload.clone()),
        }
    }

    /// CALL_STARTED / CALL_CONNECTED.
    fn call_opened(&self, kind: EventType) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let call = Self::phone_call(&payload)?;
        let call_id = match self.explicit {
            Some(id) => id,
            None => call.required_text("callId")?,
        };
        let Some(call_type) = call_type(&call)? else {
            return Ok(Translation::ignored(format!(
                "{}: a consult or added-participant leg is reported as PARTICIPANT_ADDED, not as \
                 a call of its own",
                self.event_type
            )));
        };
        let participant = number(&call)?.ok_or_else(|| {
            WebhookError::invalid(
                call.path_of("phoneNumber"),
                "missing: expected the other party's number in phoneNumber, contact.phoneNumber \
                 or contact.name",
            )
        })?;
        if let Some(known) = self.calls.call(call_id) {
            if !self.visible(&known) {
                // The id is taken by a call this token may not see: say no more than that.
                return Err(WebhookError::Conflict(format!(
                    "{}: call id {call_id} is already in use by a call outside this token's \
                     agent scope; use another call id",
                    self.event_type
                )));
            }
            let already = match kind {
                EventType::CallStarted => true,
                _ => known.lifecycle != Lifecycle::Started,
            };
            if already {
                return Ok(Translation::ignored(format!(
                    "{}: call {call_id} is already {}",
                    self.event_type, known.lifecycle
                )));
            }
        }
        let event = match kind {
            EventType::CallStarted => TelephonyEvent::CallStarted(CallStartedDetail {
                call_id: call_id.to_owned(),
                call_type,
                participant: participant.to_owned(),
                extra: Extra::new(),
            }),
            _ => {
                let call_attributes = call
                    .object_at("callAttributes")?
                    .map(|f| f.value.as_object().cloned().unwrap_or_default());
                TelephonyEvent::CallConnected(CallConnectedDetail {
                    call_id: call_id.to_owned(),
                    call_type,
                    participant: participant.to_owned(),
                    call_attributes,
                    extra: Extra::new(),
                })
            }
        };
        Ok(Translation::of(vec![event]))
    }

    /// CALL_FAILED: ends the call if voicetk knows it live; the connector usually sends it with
    /// no payload, for a dial that never became a call.
    fn call_failed(&self) -> Result<Translation, WebhookError> {
        let mut ids: Vec<&str> = self.explicit.into_iter().collect();
        if let Some(payload) = self.root.get("payload") {
            payload.object()?;
            ids.extend(candidate_ids(&Self::phone_call(&payload)?)?);
        }
        match ids.iter().find_map(|id| self.known(id)) {
            Some(call) if call.is_active() => Ok(Translation::of(vec![call_only(
                EventType::CallEnded,
                &call.call_id,
            )])),
            Some(call) => Ok(Translation::ignored(format!(
                "CALL_FAILED: call {} is already {}",
                call.call_id, call.lifecycle
            ))),
            None => Ok(Translation::ignored(
                "CALL_FAILED: the dial never became a call voicetk knows",
            )),
        }
    }

    /// HANGUP: a PhoneCall, a HangupResult `{calls}` (one call or several), or a CallResult.
    fn hangup(&self) -> Result<Translation, WebhookError> {
        let payload = self.root.get("payload").ok_or_else(|| {
            WebhookError::invalid(
                "payload",
                "missing required field (expected the ended calls)",
            )
        })?;
        let listed: Vec<Field<'a>> = if payload.value.is_array() {
            payload.items()?
        } else {
            payload.object()?;
            match payload.get("calls") {
                Some(calls) if calls.value.is_array() => calls.items()?,
                Some(calls) => vec![calls],
                None => vec![Self::phone_call(&payload)?],
            }
        };
        let mut ended: Vec<Arc<CallState>> = Vec::new();
        let mut named: Vec<&str> = Vec::new();
        if let Some(id) = self.explicit {
            named.push(id);
            if let Some(call) = self.known(id) {
                ended.push(call);
            }
        } else {
            for call in &listed {
                call.object()?;
                let ids = candidate_ids(call)?;
                named.extend(&ids);
                let numbers: Vec<&str> = number(call)?.into_iter().collect();
                let found = match ids.iter().find_map(|id| self.known(id)) {
                    Some(c) => Some(c),
                    None => self.by_number(&numbers)?,
                };
                if let Some(c) = found {
                    if !ended.iter().any(|e| e.call_id == c.call_id) {
                        ended.push(c);
                    }
                }
            }
        }
        if ended.is_empty() {
            return Err(WebhookError::Conflict(format!(
                "HANGUP names no call voicetk knows (call ids {named:?})"
            )));
        }
        let evs: Vec<TelephonyEvent> = ended
            .iter()
            .filter(|c| c.is_active())
            .map(|c| call_only(EventType::CallEnded, &c.call_id))
            .collect();
        if evs.is_empty() {
            return Ok(Translation::ignored(format!(
                "HANGUP: call {} is already {}",
                ended[0].call_id, ended[0].lifecycle
            )));
        }
        Ok(Translation::of(evs))
    }

    /// MUTE_TOGGLE `{isMuted, call?}`.
    fn mute_toggle(&self) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let muted = payload.required_flag("isMuted")?;
        let mut ids = Vec::new();
        if let Some(call) = payload.object_at("call")? {
            ids = candidate_ids(&call)?;
        }
        let call = self.resolve(&ids, &[], "MUTE_TOGGLE")?;
        if call.muted == muted {
            return Ok(Translation::ignored(format!(
                "MUTE_TOGGLE changes nothing: the agent is already {} on call {}",
                if muted { "muted" } else { "unmuted" },
                call.call_id
            )));
        }
        let t = if muted {
            EventType::Mute
        } else {
            EventType::Unmute
        };
        Ok(Translation::of(vec![call_only(t, &call.call_id)]))
    }

    /// RECORDING_TOGGLE `{isRecordingPaused, contactId?, initialContactId?}`.
    fn recording_toggle(&self) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let paused = payload.required_flag("isRecordingPaused")?;
        let mut ids: Vec<&str> = Vec::new();
        ids.extend(payload.text("contactId")?);
        ids.extend(payload.text("initialContactId")?);
        ids.extend(payload.text("callId")?);
        if let Some(call) = payload.object_at("call")? {
            ids.extend(candidate_ids(&call)?);
        }
        let call = self.resolve(&ids, &[], "RECORDING_TOGGLE")?;
        if (call.recording == Recording::Paused) == paused {
            return Ok(Translation::ignored(format!(
                "RECORDING_TOGGLE changes nothing: recording is already {} on call {}",
                call.recording.as_str(),
                call.call_id
            )));
        }
        let t = if paused {
            EventType::PauseRecording
        } else {
            EventType::ResumeRecording
        };
        Ok(Translation::of(vec![call_only(t, &call.call_id)]))
    }

    /// HOLD_TOGGLE, PARTICIPANTS_SWAPPED, PARTICIPANTS_CONFERENCED: a HoldToggleResult
    /// `{isCustomerOnHold, isThirdPartyOnHold, isCallMerged?, calls?}`.
    fn hold(&self, report: HoldReport) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let customer = payload.flag("isCustomerOnHold")?;
        let third = payload.flag("isThirdPartyOnHold")?;
        let merged = payload.flag("isCallMerged")?.unwrap_or(false);
        let mut ids: Vec<&str> = Vec::new();
        let mut numbers: Vec<&str> = Vec::new();
        if let Some(calls) = payload.get("calls") {
            // An array of PhoneCalls, or (as the demo connector sends it) an object of them
            // keyed by call id.
            let listed: Vec<Field<'a>> = match calls.value {
                serde_json::Value::Object(map) => map
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, value)| Field {
                        value,
                        path: format!("{}.{k}", calls.path),
                    })
                    .collect(),
                _ => calls.items()?,
            };
            for call in &listed {
                call.object()?;
                ids.extend(candidate_ids(call)?);
                numbers.extend(number(call)?);
            }
        }
        let call = self.resolve(&ids, &numbers, self.event_type)?;
        let conference = report == HoldReport::Conferenced || merged;
        let plan = hold_plan(&call, customer, third, conference);
        if plan.is_empty() {
            return Ok(Translation::ignored(format!(
                "{} changes nothing on call {} (participants on hold: {:?})",
                self.event_type,
                call.call_id,
                call.on_hold()
                    .map(|p| p.participant.as_str())
                    .collect::<Vec<_>>()
            )));
        }
        Ok(Translation::of(plan))
    }

    /// PARTICIPANT_ADDED / PARTICIPANT_CONNECTED: a ParticipantResult
    /// `{phoneNumber, callId, initialCallHasEnded, callInfo, callAttributes?, contact?}`.
    fn participant_added(&self) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let who = number(&payload)?.ok_or_else(|| {
            WebhookError::invalid(
                payload.path_of("phoneNumber"),
                "missing: expected the new participant's number in phoneNumber, \
                 contact.phoneNumber or contact.name",
            )
        })?;
        let ids = candidate_ids(&payload)?;
        let call = self.resolve(&ids, &[], self.event_type)?;
        let mut evs = Vec::new();
        if call.participant(who).is_none() {
            evs.push(with_participant(
                EventType::ParticipantAdded,
                &call.call_id,
                who,
            ));
        }
        if payload.flag("initialCallHasEnded")? == Some(true) {
            if let Some(initial) = call.initial_caller().filter(|p| p.participant != who) {
                evs.push(with_participant(
                    EventType::ParticipantRemoved,
                    &call.call_id,
                    &initial.participant,
                ));
            }
        }
        if evs.is_empty() {
            return Ok(Translation::ignored(format!(
                "{}: {who:?} is already on call {}",
                self.event_type, call.call_id
            )));
        }
        Ok(Translation::of(evs))
    }

    /// PARTICIPANT_REMOVED: a CallResult `{call}` or a PhoneCall, for the leg that hung up.
    fn participant_removed(&self) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let leg = Self::phone_call(&payload)?;
        let who = number(&leg)?;
        let role = match leg.object_at("callAttributes")? {
            Some(attrs) => attrs.text("participantType")?,
            None => None,
        };
        let ids = candidate_ids(&leg)?;
        let numbers: Vec<&str> = who.into_iter().collect();
        let call = self.resolve(&ids, &numbers, "PARTICIPANT_REMOVED")?;
        let participant = match (who, role) {
            (Some(n), _) => n.to_owned(),
            (None, Some(r)) if r.eq_ignore_ascii_case("Initial_Caller") => call
                .initial_caller()
                .map(|p| p.participant.clone())
                .ok_or_else(|| {
                    WebhookError::Conflict(format!(
                        "PARTICIPANT_REMOVED of the initial caller, who is no longer on call {}",
                        call.call_id
                    ))
                })?,
            (None, Some(r)) if r.eq_ignore_ascii_case("Third_Party") => {
                let mut third = call
                    .participants
                    .iter()
                    .filter(|p| p.role == Role::ThirdParty);
                match (third.next(), third.next()) {
                    (Some(p), None) => p.participant.clone(),
                    _ => {
                        return Err(WebhookError::invalid(
                            leg.path_of("phoneNumber"),
                            format!(
                                "missing: call {} does not have exactly one third party, so the \
                                 removed one must be named by its number",
                                call.call_id
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(WebhookError::invalid(
                    leg.path_of("phoneNumber"),
                    "missing: expected the removed participant's number in phoneNumber or \
                     contact.phoneNumber, or callAttributes.participantType",
                ));
            }
        };
        if call.participant(&participant).is_none() {
            return Ok(Translation::ignored(format!(
                "PARTICIPANT_REMOVED: {participant:?} is not on call {}",
                call.call_id
            )));
        }
        Ok(Translation::of(vec![with_participant(
            EventType::ParticipantRemoved,
            &call.call_id,
            &participant,
        )]))
    }

    /// UPDATE_AUDIO_STATS: an AudioStats `{callId?, stats: [{inputChannelStats?,
    /// outputChannelStats?}]}`; one AUDIO_STATS per channel present, the elements of a channel
    /// summed (packets) and averaged (jitter, round-trip time).
    fn audio_stats(&self) -> Result<Translation, WebhookError> {
        let payload = self.payload()?;
        let ids: Vec<&str> = payload.text("callId")?.into_iter().collect();
        let call = self.resolve(&ids, &[], self.event_type)?;
        let Some(stats) = payload.get("stats") else {
            return Ok(Translation::ignored(format!(
                "{}: no stats in the payload",
                self.event_type
            )));
        };
        let mut sums = [ChannelSums::default(), ChannelSums::default()];
        for element in stats.items()? {
            element.object()?;
            for (i, (key, _)) in CHANNEL_KEYS.iter().enumerate() {
                if let Some(s) = element.object_at(key)? {
                    sums[i].add(&s)?;
                }
            }
        }
        let evs: Vec<TelephonyEvent> = CHANNEL_KEYS
            .iter()
            .zip(&sums)
            .filter(|(_, s)| s.samples > 0)
            .map(|((_, channel), s)| TelephonyEvent::AudioStats(s.detail(&call.call_id, *channel)))
            .collect();
        if evs.is_empty() {
            return Ok(Translation::ignored(format!(
                "{}: no inputChannelStats or outputChannelStats in the payload",
                self.event_type
            )));
        }
        Ok(Translation::of(evs))
    }

    /// WRAP_UP_ENDED `{callId}` (or a PhoneCall): the call must be named, it is no longer live.
    fn wrap_up_ended(&self) -> Result<Translation, WebhookError> {
        let mut ids: Vec<&str> = self.explicit.into_iter().collect();
        if let Some(payload) = self.root.get("payload") {
            payload.object()?;
            ids.extend(candidate_ids(&Self::phone_call(&payload)?)?);
        }
        if ids.is_empty() {
            return Err(WebhookError::invalid(
                "payload.callId",
                "missing: WRAP_UP_ENDED must name its call (payload.callId or a top-level callId)",
            ));
        }
        let Some(call) = ids.iter().find_map(|id| self.known(id)) else {
            return Err(WebhookError::Conflict(format!(
                "WRAP_UP_ENDED for call {}, which voicetk does not know",
                ids[0]
            )));
        };
        if call.lifecycle == Lifecycle::Closed {
            return Ok(Translation::ignored(format!(
                "WRAP_UP_ENDED: call {} is already closed",
                call.call_id
            )));
        }
        Ok(Translation::of(vec![call_only(
            EventType::WrapUpEnded,
            &call.call_id,
        )]))
    }

    /// Whether this request may be about `call`: any call, but only its own agent's for an
    /// agent-scoped token (a call with no agent is not its agent's).
    fn visible(&self, call: &CallState) -> bool {
        self.scope
            .is_none_or(|mine| call.agent.as_deref() == Some(mine))
    }

    /// The call `id` names, when voicetk tracks it and this request may be about it: another
    /// agent's call is, for an agent-scoped token, a call voicetk does not know.
    fn known(&self, id: &str) -> Option<Arc<CallState>> {
        self.calls.call(id).filter(|c| self.visible(c))
    }

    /// The live calls this request may be about: the agent's, when it names one or the token
    /// is scoped to one.
    fn live_calls(&self) -> Vec<Arc<CallState>> {
        self.calls
            .active_calls()
            .into_iter()
            .filter(|c| self.visible(c))
            .filter(|c| match self.agent {
                Some(agent) => c.agent.as_deref() == Some(agent),
                None => true,
            })
            .collect()
    }

    /// The one live call that has a participant with one of `numbers`.
    fn by_number(&self, numbers: &[&str]) -> Result<Option<Arc<CallState>>, WebhookError> {
        if numbers.is_empty() {
            return Ok(None);
        }
        let mut found = self
            .live_calls()
            .into_iter()
            .filter(|c| numbers.iter().any(|n| c.participant(n).is_some()));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(Some(c)),
            (None, _) => Ok(None),
            (Some(a), Some(b)) => Err(WebhookError::invalid(
                "callId",
                format!(
                    "{} does not say which call it is about, and {numbers:?} is on several live \
                     calls ({}, {}, ...): add a top-level \"callId\"",
                    self.event_type, a.call_id, b.call_id
                ),
            )),
        }
    }

    /// Finds the call an event is about: the top-level `callId`; else a call id in the payload
    /// that voicetk tracks; else the live call with one of `numbers`; else the agent's only
    /// live call. Never guesses between several. With an agent-scoped token, only that agent's
    /// calls are candidates, and no other call is named in an error.
    fn resolve(
        &self,
        ids: &[&str],
        numbers: &[&str],
        what: &str,
    ) -> Result<Arc<CallState>, WebhookError> {
        if let Some(id) = self.explicit {
            return self.known(id).ok_or_else(|| {
                WebhookError::Conflict(format!("{what} for call {id}, which voicetk does not know"))
            });
        }
        if let Some(call) = ids.iter().find_map(|id| self.known(id)) {
            return Ok(call);
        }
        if let Some(call) = self.by_number(numbers)? {
            return Ok(call);
        }
        let whose = self
            .agent
            .map_or_else(String::new, |a| format!(" for agent {a:?}"));
        let mut live = self.live_calls();
        match live.len() {
            1 => Ok(live.remove(0)),
            0 if !ids.is_empty() => Err(WebhookError::Conflict(format!(
                "{what} for call {}, which voicetk does not know (and no call is live{whose})",
                ids[0]
            ))),
            0 => Err(WebhookError::Conflict(format!(
                "{what} for no call voicetk knows: no call is live{whose}"
            ))),
            n => Err(WebhookError::invalid(
                "callId",
                format!(
                    "{what} does not say which call it is about and {n} calls are live{whose}: \
                     add a top-level \"callId\""
                ),
            )),
        }
    }
}

/// The hold events that take `call` from its participants' hold flags to the reported ones:
/// the initial caller follows `customer`, third parties follow `third` (an absent flag leaves
/// them as they are, or takes them off hold when `conference`). A merge of a call with someone
/// on hold is CONFERENCE; exactly two participants trading places is SWAP; anything else is one
/// HOLD or RESUME per participant whose flag changed.
fn hold_plan(
    call: &CallState,
    customer: Option<bool>,
    third: Option<bool>,
    conference: bool,
) -> Vec<TelephonyEvent> {
    let target = |role: Role, now: bool| -> bool {
        let reported = match role {
            Role::InitialCaller => customer,
            Role::ThirdParty => third,
        };
        reported.unwrap_or(if conference { false } else { now })
    };
    let id = &call.call_id;
    let held = call.on_hold().count();
    let mut out = Vec::new();
    if conference && call.participants.len() >= 2 && held > 0 {
        out.push(call_only(EventType::Conference, id));
        for p in &call.participants {
            if target(p.role, false) {
                out.push(with_participant(EventType::Hold, id, &p.participant));
            }
        }
        return out;
    }
    let changes: Vec<_> = call
        .participants
        .iter()
        .filter(|p| target(p.role, p.on_hold) != p.on_hold)
        .collect();
    if call.participants.len() == 2 && held == 1 && changes.len() == 2 {
        return vec![call_only(EventType::Swap, id)];
    }
    for p in changes {
        let t = if p.on_hold {
            EventType::Resume
        } else {
            EventType::Hold
        };
        out.push(with_participant(t, id, &p.participant));
    }
    out
}

/// `stats` element keys and the channels they describe.
const CHANNEL_KEYS: [(&str, Channel); 2] = [
    ("inputChannelStats", Channel::Input),
    ("outputChannelStats", Channel::Output),
];

/// One channel's numbers over the elements of one UPDATE_AUDIO_STATS.
#[derive(Debug, Default)]
struct ChannelSums {
    samples: u64,
    packets: u64,
    lost: u64,
    jitter_ms: f64,
    rtt_ms: f64,
}

impl ChannelSums {
    /// Adds a StatsInfo `{packetsCount, packetsLost, jitterBufferMillis, roundTripTimeMillis}`;
    /// absent numbers count as 0, as the connector's own StatsInfo makes them.
    fn add(&mut self, s: &Field<'_>) -> Result<(), WebhookError> {
        self.samples += 1;
        self.packets = self.packets.saturating_add(whole(s, "packetsCount")?);
        self.lost = self.lost.saturating_add(whole(s, "packetsLost")?);
        self.jitter_ms += s.non_negative("jitterBufferMillis")?.unwrap_or(0.0);
        self.rtt_ms += s.non_negative("roundTripTimeMillis")?.unwrap_or(0.0);
        Ok(())
    }

    /// The AUDIO_STATS detail, with voicetk's MOS (loss share of what was expected: received
    /// plus lost on input, sent on output; none without packets).
    fn detail(&self, call_id: &str, channel: Channel) -> AudioStatsDetail {
        let n = self.samples.max(1) as f64;
        let jitter = mean_ms(self.jitter_ms / n);
        let rtt = mean_ms(self.rtt_ms / n);
        let expected = match channel {
            Channel::Input => self.packets.saturating_add(self.lost),
            Channel::Output => self.packets,
        };
        let mos = (expected > 0).then(|| {
            let loss = 100.0 * self.lost as f64 / expected as f64;
            mos(rtt as f64, jitter as f64, loss)
        });
        AudioStatsDetail {
            call_id: call_id.to_owned(),
            stats: channel,
            packets_lost: self.lost,
            packets_count: self.packets,
            jitter_buffer_millis: jitter,
            round_trip_time_millis: rtt,
            stats_count: self.samples,
            mos,
            extra: Extra::new(),
        }
    }
}

/// A mean in whole milliseconds, rounded half away from zero (finite and >= 0 by
/// construction).
fn mean_ms(x: f64) -> u64 {
    x.round() as u64
}

/// A whole number >= 0 at `key` (0 when absent).
fn whole(s: &Field<'_>, key: &str) -> Result<u64, WebhookError> {
    match s.non_negative(key)? {
        None => Ok(0),
        Some(x) if x.fract() == 0.0 && x < u64::MAX as f64 => Ok(x as u64),
        Some(x) => Err(WebhookError::invalid(
            s.path_of(key),
            format!("expected a whole number of packets, found {x}"),
        )),
    }
}

/// SCV's `callType` as the toolkit's; `None` for the legs of an existing call.
fn call_type(call: &Field<'_>) -> Result<Option<CallType>, WebhookError> {
    let raw = call.required_text("callType")?;
    match raw.to_ascii_lowercase().as_str() {
        "inbound" | "transfer" | "internalcall" => Ok(Some(CallType::Inbound)),
        "outbound" | "callback" | "dialedcallback" => Ok(Some(CallType::Outbound)),
        "addparticipant" | "consult" => Ok(None),
        _ => Err(WebhookError::invalid(
            call.path_of("callType"),
            format!(
                "unknown SCV callType {raw:?}; expected Inbound, Outbound, Callback, \
                 DialedCallback, Transfer, InternalCall, AddParticipant or Consult"
            ),
        )),
    }
}

/// The other party of a PhoneCall or ParticipantResult: `phoneNumber`, else the contact's
/// number, else the contact's name (a queue or Quick Connect).
fn number<'a>(call: &Field<'a>) -> Result<Option<&'a str>, WebhookError> {
    if let Some(n) = call.text("phoneNumber")? {
        return Ok(Some(n));
    }
    for key in ["contact", "toContact"] {
        if let Some(contact) = call.object_at(key)? {
            if let Some(n) = contact.text("phoneNumber")? {
                return Ok(Some(n));
            }
            if let Some(n) = contact.text("name")? {
                return Ok(Some(n));
            }
        }
    }
    Ok(None)
}

/// The call ids a PhoneCall or ParticipantResult carries that may name the toolkit call: its
/// own `callId`, `callAttributes.parentId`, `callInfo.parentCallId` and
/// `callInfo.initialCallId`.
fn candidate_ids<'a>(call: &Field<'a>) -> Result<Vec<&'a str>, WebhookError> {
    let mut ids: Vec<&str> = call.text("callId")?.into_iter().collect();
    if let Some(attrs) = call.object_at("callAttributes")? {
        ids.extend(attrs.text("parentId")?);
    }
    if let Some(info) = call.object_at("callInfo")? {
        ids.extend(info.text("parentCallId")?);
        ids.extend(info.text("initialCallId")?);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests;
