//! `--source amazon-connect`: Amazon Connect contact events, as toolkit events, at
//! `POST /v1/sources/amazon-connect`.
//!
//! Amazon Connect publishes a near real-time stream of contact events to Amazon EventBridge
//! ("Amazon Connect contact events",
//! <https://docs.aws.amazon.com/connect/latest/adminguide/contact-events.html>). An EventBridge
//! rule matching `{"source": ["aws.connect"], "detail-type": ["Amazon Connect Contact Event"]}`
//! with an API destination target POSTs each event here as it is:
//!
//! ```json
//! {"version": "0", "id": "abcabcab-...", "detail-type": "Amazon Connect Contact Event",
//!  "source": "aws.connect", "time": "2021-08-04T17:43:48Z", "resources": ["..."],
//!  "detail": {"eventType": "CONNECTED_TO_AGENT", "contactId": "11111111-...",
//!             "channel": "VOICE", "initiationMethod": "INBOUND",
//!             "agentInfo": {"agentArn": "arn:aws:connect:...:instance/.../agent/12345678-..."}}}
//! ```
//!
//! - `detail.contactId` is the toolkit `callId`.
//! - `detail.initiationMethod` gives `callType`: `INBOUND`, `TRANSFER` and `QUEUE_TRANSFER` are
//!   inbound; `OUTBOUND`, `CALLBACK` and `API` are outbound; contacts started otherwise
//!   (`MONITOR`, `EXTERNAL_OUTBOUND`, `DISCONNECT`, ...) are not agent calls and are ignored.
//! - `detail.agentInfo.agentArn` gives `agent`: by default the agent's id, the last segment of
//!   the ARN (`.../agent/<id>`), which is the user id Amazon Connect's console and API show;
//!   with [`AgentNaming::Arn`] the whole ARN.
//! - The events are judged against the engine's state: a contact connects once (whichever of
//!   CONNECTED_TO_SYSTEM for an agent's outbound call or CONNECTED_TO_AGENT arrives first;
//!   EventBridge does not order events), ends once, and closes (WRAP_UP_ENDED) with COMPLETED,
//!   which comes after the agent's after-contact work.
//! - The EventBridge event `id` makes the events' `eventId`s: a re-delivered event is stored
//!   once.
//!
//! Contact events carry no customer phone number (the data model has the system endpoint
//! only), so `participant` is `detail.customerEndpoint.address` when an event has it, and the
//! word `customer` otherwise. Nor do they report hold, mute, recording, conference or audio
//! quality: those toolkit events cannot come from this source. Field names are read in both
//! spellings the AWS documentation has used (`contactId` and `ContactId`). The full table is in
//! `docs/sources/amazon-connect.md`.

use serde_json::{Map, Value};
use voicetk_engine::Lifecycle;
use voicetk_events::{
    CallConnectedDetail, CallStartedDetail, CallType, EventType, Extra, TelephonyEvent,
};

use crate::webhook::{
    CallLookup, Field, Translation, Webhook, WebhookError, WebhookMemory, WebhookRequest,
    call_only, checked, json_body,
};

/// The source's name and its path under `/v1/sources/`.
pub const NAME: &str = "amazon-connect";

/// EventBridge's `source` for Amazon Connect.
const EVENT_SOURCE: &str = "aws.connect";

/// EventBridge's `detail-type` for contact events.
const DETAIL_TYPE: &str = "Amazon Connect Contact Event";

/// `participant` when the event does not carry the customer's number.
pub const UNKNOWN_CUSTOMER: &str = "customer";

/// How an agent ARN becomes the events' `agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentNaming {
    /// The agent's id: the ARN's last segment (`arn:...:instance/I/agent/<id>` → `<id>`).
    /// The default.
    #[default]
    Id,
    /// The whole ARN, unambiguous across instances.
    Arn,
}

impl AgentNaming {
    /// The `agent` for `arn`.
    ///
    /// ```
    /// use voicetk_sources::amazon_connect::AgentNaming;
    /// let arn = "arn:aws:connect:us-west-2:123456789012:instance/i-1/agent/a-7";
    /// assert_eq!(AgentNaming::Id.agent(arn), "a-7");
    /// assert_eq!(AgentNaming::Arn.agent(arn), arn);
    /// ```
    pub fn agent(self, arn: &str) -> String {
        match self {
            AgentNaming::Arn => arn.to_owned(),
            AgentNaming::Id => arn
                .rsplit_once("/agent/")
                .map_or(arn, |(_, id)| id)
                .to_owned(),
        }
    }
}

/// The Amazon Connect webhook source.
///
/// ```
/// use voicetk_sources::amazon_connect::{AgentNaming, AmazonConnect};
/// use voicetk_sources::Source;
///
/// let connect = AmazonConnect::new(AgentNaming::Id);
/// let webhook = connect.webhook().ok_or("a webhook source")?;
/// assert_eq!((webhook.path(), webhook.needs_token()), ("amazon-connect", true));
/// # Ok::<(), &str>(())
/// ```
#[derive(Debug, Default)]
pub struct AmazonConnect {
    /// Deliveries and calls seen, and the turn that orders requests.
    memory: WebhookMemory,
    /// How agent ARNs are named.
    naming: AgentNaming,
}

impl AmazonConnect {
    /// A new Amazon Connect source naming agents by `naming`.
    pub fn new(naming: AgentNaming) -> AmazonConnect {
        AmazonConnect {
            memory: WebhookMemory::new(),
            naming,
        }
    }
}

impl Webhook for AmazonConnect {
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
        let body = json_body(request, "Amazon Connect contact events (EventBridge)")?;
        let root = Field::root(&body);
        root.object()?;
        let source = root.required_text("source")?;
        if source != EVENT_SOURCE {
            return Err(WebhookError::invalid(
                "source",
                format!(
                    "expected {EVENT_SOURCE:?} (an Amazon Connect event), found {source:?}; check \
                     the EventBridge rule"
                ),
            ));
        }
        let detail_type = root.required_text("detail-type")?;
        if detail_type != DETAIL_TYPE {
            return Ok(Translation::ignored(format!(
                "EventBridge {detail_type:?} is not a contact event; only {DETAIL_TYPE:?} are \
                 translated"
            )));
        }
        let delivery = root.text("id")?.map(str::to_owned);
        if let Some(earlier) = delivery.as_deref().and_then(|d| self.memory.recall(d)) {
            return Ok(earlier);
        }
        let detail = root.get("detail").ok_or_else(|| {
            WebhookError::invalid("detail", "missing required field (expected an object)")
        })?;
        detail.object()?;
        let mut translation = Contact {
            detail: &detail,
            calls,
            naming: self.naming,
        }
        .translate()?;
        let mut events = Vec::with_capacity(translation.events.len());
        for event in translation.events {
            events.push(checked(event, "detail")?);
        }
        translation.events = events;
        translation.delivery = delivery;
        Ok(translation.with_event_ids(NAME))
    }
}

/// One contact event being translated.
struct Contact<'r, 'a> {
    /// The event's `detail`.
    detail: &'r Field<'a>,
    /// The engine's calls.
    calls: &'r dyn CallLookup,
    /// How agents are named.
    naming: AgentNaming,
}

impl<'a> Contact<'_, 'a> {
    fn text(&self, camel: &str, pascal: &str) -> Result<Option<&'a str>, WebhookError> {
        self.detail.text_any(&[camel, pascal])
    }

    fn translate(&self) -> Result<Translation, WebhookError> {
        let event_type = self.text("eventType", "EventType")?.ok_or_else(|| {
            WebhookError::invalid(
                "detail.eventType",
                "missing required field (expected a contact event type such as \"INITIATED\")",
            )
        })?;
        let contact_id = self.text("contactId", "ContactId")?.ok_or_else(|| {
            WebhookError::invalid(
                "detail.contactId",
                "missing required field (expected a non-empty string)",
            )
        })?;
        let channel = self.text("channel", "Channel")?.ok_or_else(|| {
            WebhookError::invalid(
                "detail.channel",
                "missing required field (expected VOICE, CHAT, TASK or EMAIL)",
            )
        })?;
        if !channel.eq_ignore_ascii_case("VOICE") {
            return Ok(Translation::ignored(format!(
                "contact {contact_id} is a {channel} contact, not a call"
            )));
        }
        let known = self.calls.call(contact_id);
        let lifecycle = known.as_ref().map(|c| c.lifecycle);
        let agent = self.agent()?;
        let ignored = |why: String| Ok(Translation::ignored(format!("{event_type}: {why}")));
        let mut events = match event_type {
            "INITIATED" => match lifecycle {
                Some(l) => return ignored(format!("call {contact_id} is already {l}")),
                None => match self.call_type()? {
                    Ok(call_type) => {
                        vec![TelephonyEvent::CallStarted(CallStartedDetail {
                            call_id: contact_id.to_owned(),
                            call_type,
                            participant: self.customer()?.to_owned(),
                            extra: Extra::new(),
                        })]
                    }
                    Err(why) => return ignored(why),
                },
            },
            "CONNECTED_TO_SYSTEM" | "CONNECTED_TO_AGENT" => {
                let method = self.method()?;
                if event_type == "CONNECTED_TO_SYSTEM" && method != "OUTBOUND" {
                    return ignored(format!(
                        "the {method} contact {contact_id} reached Amazon Connect (a flow or \
                         queue), not an agent"
                    ));
                }
                match lifecycle {
                    None | Some(Lifecycle::Started) => match self.call_type()? {
                        Ok(call_type) => {
                            vec![TelephonyEvent::CallConnected(CallConnectedDetail {
                                call_id: contact_id.to_owned(),
                                call_type,
                                participant: match &known {
                                    // The number the call started with, unless this event
                                    // brings the real one.
                                    Some(c) if self.customer_endpoint()?.is_none() => c
                                        .initial_caller()
                                        .map_or(UNKNOWN_CUSTOMER, |p| p.participant.as_str())
                                        .to_owned(),
                                    _ => self.customer()?.to_owned(),
                                },
                                call_attributes: Some(self.call_attributes()?),
                                extra: Extra::new(),
                            })]
                        }
                        Err(why) => return ignored(why),
                    },
                    Some(l) => return ignored(format!("call {contact_id} is already {l}")),
                }
            }
            "DISCONNECTED" => match &known {
                Some(c) if c.is_active() => vec![call_only(EventType::CallEnded, contact_id)],
                Some(c) => return ignored(format!("call {contact_id} is already {}", c.lifecycle)),
                None => {
                    return ignored(format!(
                        "contact {contact_id} never became a call voicetk knows"
                    ));
                }
            },
            "COMPLETED" => match &known {
                Some(c) if c.is_active() => vec![
                    call_only(EventType::CallEnded, contact_id),
                    call_only(EventType::WrapUpEnded, contact_id),
                ],
                Some(c) if c.lifecycle == Lifecycle::Ended => {
                    vec![call_only(EventType::WrapUpEnded, contact_id)]
                }
                Some(c) => return ignored(format!("call {contact_id} is already {}", c.lifecycle)),
                None => {
                    return ignored(format!(
                        "contact {contact_id} never became a call voicetk knows"
                    ));
                }
            },
            "QUEUED" => {
                return ignored(
                    "a contact waiting in a queue has no toolkit counterpart; the call is \
                     started and connects when an agent takes it"
                        .into(),
                );
            }
            "CONTACT_DATA_UPDATED" => {
                return ignored(
                    "contact attributes, tags or routing changed: no toolkit counterpart".into(),
                );
            }
            "PAUSED" | "RESUMED" => {
                return ignored("task contacts pause and resume, calls do not".into());
            }
            "AMD_DISABLED" => {
                return ignored("answering machine detection has no toolkit counterpart".into());
            }
            "WEBRTC_API" => {
                return ignored("an in-app call notice has no toolkit counterpart".into());
            }
            other => {
                return Ok(Translation::ignored(format!(
                    "Amazon Connect contact event {other:?} is not one voicetk translates (new \
                     event types are ignored, as AWS asks of consumers)"
                )));
            }
        }
        .into_iter()
        .map(voicetk_events::Envelope::new)
        .collect::<Vec<_>>();
        if let Some(agent) = agent {
            for e in &mut events {
                e.agent = Some(agent.clone());
            }
        }
        Ok(Translation {
            events,
            ..Translation::default()
        })
    }

    /// `initiationMethod`, required to say what kind of call this is.
    fn method(&self) -> Result<&'a str, WebhookError> {
        self.text("initiationMethod", "InitiationMethod")?
            .ok_or_else(|| {
                WebhookError::invalid(
                    "detail.initiationMethod",
                    "missing required field (expected INBOUND, OUTBOUND, TRANSFER, ...)",
                )
            })
    }

    /// The toolkit `callType`, or why this contact is not an agent's call.
    fn call_type(&self) -> Result<Result<CallType, String>, WebhookError> {
        let method = self.method()?;
        Ok(match method {
            "INBOUND" | "TRANSFER" | "QUEUE_TRANSFER" => Ok(CallType::Inbound),
            "OUTBOUND" | "CALLBACK" | "API" => Ok(CallType::Outbound),
            "MONITOR" => Err("a supervisor monitoring a contact is not a call of its own".into()),
            "EXTERNAL_OUTBOUND" => Err(
                "a leg to an external participant; contact events do not say which agent call \
                 it joins"
                    .into(),
            ),
            other => Err(format!(
                "contacts initiated by {other} are not agent calls voicetk translates"
            )),
        })
    }

    /// `customerEndpoint.address`, when the event carries it.
    fn customer_endpoint(&self) -> Result<Option<&'a str>, WebhookError> {
        match self
            .detail
            .get_any(&["customerEndpoint", "CustomerEndpoint"])
        {
            Some(endpoint) => {
                endpoint.object()?;
                endpoint.text_any(&["address", "Address"])
            }
            None => Ok(None),
        }
    }

    /// The customer's number, or [`UNKNOWN_CUSTOMER`].
    fn customer(&self) -> Result<&'a str, WebhookError> {
        Ok(self.customer_endpoint()?.unwrap_or(UNKNOWN_CUSTOMER))
    }

    /// The agent, from `agentInfo.agentArn`.
    fn agent(&self) -> Result<Option<String>, WebhookError> {
        match self.detail.get_any(&["agentInfo", "AgentInfo"]) {
            Some(info) => {
                info.object()?;
                Ok(info
                    .text_any(&["agentArn", "AgentArn", "AgentARN"])?
                    .map(|arn| self.naming.agent(arn)))
            }
            None => Ok(None),
        }
    }

    /// `callAttributes` of CALL_CONNECTED: the contact's identifying values, as given.
    fn call_attributes(&self) -> Result<Map<String, Value>, WebhookError> {
        let mut attrs = Map::new();
        for (camel, pascal) in [
            ("initiationMethod", "InitiationMethod"),
            ("channel", "Channel"),
            ("instanceArn", "InstanceArn"),
            ("initialContactId", "InitialContactId"),
            ("previousContactId", "PreviousContactId"),
            ("relatedContactId", "RelatedContactId"),
        ] {
            if let Some(v) = self.text(camel, pascal)? {
                attrs.insert(camel.to_owned(), Value::String(v.to_owned()));
            }
        }
        if let Some(queue) = self.detail.get_any(&["queueInfo", "QueueInfo"]) {
            queue.object()?;
            if let Some(arn) = queue.text_any(&["queueArn", "QueueArn", "ARN"])? {
                attrs.insert("queueArn".into(), Value::String(arn.to_owned()));
            }
            if let Some(t) = queue.text_any(&["queueType", "QueueType"])? {
                attrs.insert("queueType".into(), Value::String(t.to_owned()));
            }
        }
        Ok(attrs)
    }
}

#[cfg(test)]
mod tests;
