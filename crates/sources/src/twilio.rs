//! `--source twilio`: Twilio Voice status callbacks, as toolkit events, at
//! `POST /v1/sources/twilio`.
//!
//! Twilio POSTs a form (`application/x-www-form-urlencoded`) to a call's `statusCallback` URL as
//! the call progresses (<https://www.twilio.com/docs/voice/api/call-resource#statuscallback>):
//! `CallSid`, `CallStatus` (`queued`, `initiated`, `ringing`, `in-progress`, `completed`,
//! `busy`, `failed`, `no-answer`, `canceled`), `Direction` (`inbound`, `outbound-api`,
//! `outbound-dial`), `From`, `To`, `ParentCallSid` for a leg dialed from another call, and more.
//! Subscribe to `initiated ringing answered completed` (`statusCallbackEvent`) to see the
//! whole call.
//!
//! # Signatures
//! Every request must carry a valid `X-Twilio-Signature`
//! (<https://www.twilio.com/docs/usage/webhooks/webhooks-security>): the base64 HMAC-SHA1, keyed
//! with the account's auth token, of the URL Twilio requested followed by every POST parameter's
//! name and value, sorted by name. A request without one is refused (401), one with a wrong one
//! too (403), always, whatever the gateway's token settings: Twilio cannot send a bearer token.
//! The URL is the one Twilio called; behind a proxy give it with `url=` (it wins over the
//! `X-Forwarded-Proto`/`X-Forwarded-Host`/`Host` reconstruction). As Twilio's own libraries do,
//! the URL is also tried with the scheme's default port added or removed.
//!
//! # Calls, legs and agents
//! Each callback is about one call leg. The toolkit call is the top leg: `ParentCallSid` when
//! present, else `CallSid`. An agent on Twilio Client is the `client:NAME` endpoint: a call to a
//! client is inbound (the participant is `From`), a call from a client is outbound (the
//! participant is `To`), and the agent is `NAME`; otherwise `Direction` decides (`inbound`:
//! participant `From`; `outbound-*`: participant `To`). An `agent` query parameter on the
//! callback URL (it is signed with the rest) names the agent explicitly.
//!
//! | CallStatus | toolkit event |
//! |---|---|
//! | `queued` | none: Twilio has not dialed yet |
//! | `initiated`, `ringing` | CALL_STARTED if the call is new |
//! | `in-progress` | CALL_CONNECTED if the call is new or ringing |
//! | `completed`, `busy`, `failed`, `no-answer`, `canceled` | CALL_ENDED if the call is live; for a dialed leg only `completed` of a connected call does |
//!
//! Status callbacks say nothing of hold, mute, recording pauses, conferences or wrap-up: those
//! toolkit events cannot come from this source, and its calls stay `ended` (partner
//! telephony) as no WRAP_UP_ENDED follows. The re-delivery of a callback (same `CallSid` and
//! `CallStatus`) is stored once.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use voicetk_engine::Lifecycle;
use voicetk_events::{
    CallConnectedDetail, CallStartedDetail, CallType, Envelope, EventType, Extra, TelephonyEvent,
};

use crate::webhook::{
    CallLookup, Translation, Webhook, WebhookError, WebhookMemory, WebhookRequest, call_only,
    checked,
};

/// The source's name and its path under `/v1/sources/`.
pub const NAME: &str = "twilio";

/// The header Twilio signs requests with.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The form content type of status callbacks.
const FORM: &str = "application/x-www-form-urlencoded";

/// Why a Twilio source cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioConfigError {
    /// No auth token: every request would have to be refused.
    #[error(
        "the twilio source needs the account's auth token to check X-Twilio-Signature: set \
         TWILIO_AUTH_TOKEN or give twilio:auth_token_file=PATH"
    )]
    MissingToken,
    /// The public URL is not an absolute http(s) URL.
    #[error("twilio url={0:?}: expected the absolute http(s) URL Twilio calls")]
    BadUrl(String),
}

/// The Twilio webhook source.
///
/// ```
/// use voicetk_sources::twilio::Twilio;
/// use voicetk_sources::Source;
///
/// let twilio = Twilio::new("auth-token", None)?;
/// let webhook = twilio.webhook().ok_or("a webhook source")?;
/// assert_eq!((webhook.path(), webhook.needs_token()), ("twilio", false));
/// assert!(Twilio::new("", None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Twilio {
    /// Deliveries and calls seen, and the turn that orders requests.
    memory: WebhookMemory,
    /// The account's auth token: the HMAC key of the signatures. Never logged.
    auth_token: String,
    /// The URL Twilio calls, when the gateway cannot reconstruct it (behind a proxy).
    public_url: Option<String>,
}

impl fmt::Debug for Twilio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Twilio")
            .field("auth_token", &"<redacted>")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Twilio {
    /// A Twilio source checking signatures with `auth_token`; `public_url` is the URL Twilio
    /// calls, when the gateway cannot see it.
    ///
    /// # Errors
    /// [`TwilioConfigError::MissingToken`] for an empty token, [`TwilioConfigError::BadUrl`]
    /// for a URL that is not absolute http(s).
    pub fn new(
        auth_token: impl Into<String>,
        public_url: Option<String>,
    ) -> Result<Twilio, TwilioConfigError> {
        let auth_token: String = auth_token.into();
        let auth_token = auth_token.trim().to_owned();
        if auth_token.is_empty() {
            return Err(TwilioConfigError::MissingToken);
        }
        if let Some(url) = &public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(' ') {
                return Err(TwilioConfigError::BadUrl(url.clone()));
            }
        }
        Ok(Twilio {
            memory: WebhookMemory::new(),
            auth_token,
            public_url,
        })
    }

    /// Whether `signature` is Twilio's for `url` and `params`, also trying the URL with the
    /// scheme's default port added or removed. Compared in constant time.
    pub fn verify(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        let presented = signature.trim().as_bytes();
        let mut ok = false;
        for candidate in url_variants(url) {
            let expected = signature_of(&self.auth_token, &candidate, params);
            ok |= bool::from(expected.as_bytes().ct_eq(presented));
        }
        ok
    }
}

/// Twilio's signature of a request: base64(HMAC-SHA1(token, url + name1 + value1 + ...)), the
/// parameters sorted by name (then value, for repeated names).
///
/// ```
/// // The worked example of Twilio's "Webhooks security" guide.
/// use voicetk_sources::twilio::signature_of;
/// let params: Vec<(String, String)> = [
///     ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
///     ("From", "+12349013030"), ("To", "+18005551212"),
/// ].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
/// assert_eq!(
///     signature_of("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params),
///     "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
/// );
/// ```
pub fn signature_of(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC accepts keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// `url` as given, and with the scheme's default port added (when it has none) or removed
/// (when it is the default).
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    // An IPv6 literal's colons are inside the brackets.
    let port_at = hostport
        .rfind(':')
        .filter(|&i| !hostport[i..].contains(']'));
    match port_at {
        Some(i) if &hostport[i + 1..] == default_port => {
            out.push(format!("{scheme}://{userinfo}{}{tail}", &hostport[..i]));
        }
        Some(_) => {}
        None => out.push(format!(
            "{scheme}://{userinfo}{hostport}:{default_port}{tail}"
        )),
    }
    out
}

impl Webhook for Twilio {
    fn path(&self) -> &str {
        NAME
    }

    fn needs_token(&self) -> bool {
        false
    }

    fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    fn memory(&self) -> &WebhookMemory {
        &self.memory
    }

    fn translate(
        &self,
        request: &WebhookRequest<'_>,
        calls: &dyn CallLookup,
    ) -> Result<Translation, WebhookError> {
        let signature = request
            .header(SIGNATURE_HEADER)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                WebhookError::Unauthorized(
                    "missing X-Twilio-Signature: Twilio signs every request it sends; this one \
                     did not come from Twilio"
                        .into(),
                )
            })?;
        let content_type = request.content_type();
        if content_type.as_deref() != Some(FORM) {
            return Err(WebhookError::UnsupportedMediaType(format!(
                "Content-Type {}: Twilio status callbacks are {FORM}",
                content_type.map_or_else(|| "missing".to_owned(), |c| format!("{c:?}"))
            )));
        }
        let params: Vec<(String, String)> =
            form_urlencoded::parse(request.body).into_owned().collect();
        if !self.verify(request.url, &params, signature) {
            return Err(WebhookError::Forbidden(format!(
                "X-Twilio-Signature does not match: the request was not signed with this \
                 account's auth token for the URL {:?} (behind a proxy, configure the URL Twilio \
                 calls with twilio:url=...)",
                request.url
            )));
        }
        let form = Form { params: &params };
        let call_sid = form.required("CallSid")?;
        let status = form.required("CallStatus")?;
        let delivery = format!("{call_sid}:{status}");
        if let Some(earlier) = self.memory.recall(&delivery) {
            return Ok(earlier);
        }
        let query: Vec<(String, String)> = form_urlencoded::parse(request.query().as_bytes())
            .into_owned()
            .collect();
        let agent_param = query
            .iter()
            .find(|(k, v)| k == "agent" && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let leg = Leg::read(&form, agent_param)?;
        let mut translation = leg.translate(status, calls)?;
        let mut events = Vec::with_capacity(translation.events.len());
        for mut event in translation.events {
            if event.agent.is_none() {
                event.agent = leg.agent.clone();
            }
            events.push(checked(event, "CallSid")?);
        }
        translation.events = events;
        translation.delivery = Some(delivery);
        Ok(translation.with_event_ids(NAME))
    }
}

/// The POST parameters.
struct Form<'a> {
    params: &'a [(String, String)],
}

impl<'a> Form<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&'a str, WebhookError> {
        self.get(name).ok_or_else(|| {
            WebhookError::invalid(
                name,
                "missing required form field (expected a non-empty value)",
            )
        })
    }
}

/// One callback's leg, read.
struct Leg<'a> {
    /// `CallSid`.
    sid: &'a str,
    /// The toolkit call: `ParentCallSid`, else `CallSid`.
    call_id: &'a str,
    /// Whether this leg was dialed from another call (it has a parent).
    dialed: bool,
    /// `callType`.
    call_type: CallType,
    /// The other party.
    participant: &'a str,
    /// The agent, when known.
    agent: Option<String>,
}

impl<'a> Leg<'a> {
    fn read(form: &Form<'a>, agent_param: Option<&str>) -> Result<Leg<'a>, WebhookError> {
        let sid = form.required("CallSid")?;
        let parent = form.get("ParentCallSid");
        let from = form.get("From");
        let to = form.get("To");
        let client = |v: Option<&'a str>| v.and_then(|v| v.strip_prefix("client:"));
        let (call_type, participant, client_agent) = match (client(to), client(from)) {
            (Some(agent), _) => (CallType::Inbound, ("From", from), Some(agent)),
            (None, Some(agent)) => (CallType::Outbound, ("To", to), Some(agent)),
            (None, None) => {
                let direction = form.required("Direction")?;
                if direction == "inbound" {
                    (CallType::Inbound, ("From", from), None)
                } else if direction.starts_with("outbound") {
                    (CallType::Outbound, ("To", to), None)
                } else {
                    return Err(WebhookError::invalid(
                        "Direction",
                        format!(
                            "unknown Direction {direction:?}; expected inbound, outbound-api or \
                             outbound-dial"
                        ),
                    ));
                }
            }
        };
        let (field, value) = participant;
        let participant = value.ok_or_else(|| {
            WebhookError::invalid(
                field,
                "missing required form field (expected the other party's number)",
            )
        })?;
        Ok(Leg {
            sid,
            call_id: parent.unwrap_or(sid),
            dialed: parent.is_some(),
            call_type,
            participant,
            agent: agent_param.or(client_agent).map(str::to_owned),
        })
    }

    fn translate(&self, status: &str, calls: &dyn CallLookup) -> Result<Translation, WebhookError> {
        let id = self.call_id;
        let known = calls.call(id);
        let lifecycle = known.as_ref().map(|c| c.lifecycle);
        let ignored = |why: String| Ok(Translation::ignored(format!("{status}: {why}")));
        let event = match status {
            "queued" => return ignored("Twilio has not dialed the call yet".into()),
            "initiated" | "ringing" => match lifecycle {
                Some(l) => return ignored(format!("call {id} is already {l}")),
                None => TelephonyEvent::CallStarted(CallStartedDetail {
                    call_id: id.to_owned(),
                    call_type: self.call_type,
                    participant: self.participant.to_owned(),
                    extra: Extra::new(),
                }),
            },
            "in-progress" => match lifecycle {
                None | Some(Lifecycle::Started) => {
                    TelephonyEvent::CallConnected(CallConnectedDetail {
                        call_id: id.to_owned(),
                        call_type: known
                            .as_ref()
                            .and_then(|c| c.call_type)
                            .unwrap_or(self.call_type),
                        participant: known
                            .as_ref()
                            .and_then(|c| c.initial_caller())
                            .map_or(self.participant, |p| p.participant.as_str())
                            .to_owned(),
                        call_attributes: None,
                        extra: Extra::new(),
                    })
                }
                Some(l) => return ignored(format!("call {id} is already {l}")),
            },
            "completed" | "busy" | "failed" | "no-answer" | "canceled" => match &known {
                Some(c) if c.is_active() => {
                    if self.dialed
                        && !(status == "completed" && c.lifecycle == Lifecycle::Connected)
                    {
                        return ignored(format!(
                            "the dialed leg {} ended without a conversation; call {id} goes on \
                             until its own leg ends",
                            self.sid
                        ));
                    }
                    call_only(EventType::CallEnded, id)
                }
                Some(c) => return ignored(format!("call {id} is already {}", c.lifecycle)),
                None => {
                    return ignored(format!(
                        "call {id} never reached voicetk (subscribe its status callback to \
                         initiated, ringing and answered too)"
                    ));
                }
            },
            other => {
                return Err(WebhookError::invalid(
                    "CallStatus",
                    format!(
                        "unknown CallStatus {other:?}; expected queued, initiated, ringing, \
                         in-progress, completed, busy, failed, no-answer or canceled"
                    ),
                ));
            }
        };
        Ok(Translation {
            events: vec![Envelope::new(event)],
            ..Translation::default()
        })
    }
}

#[cfg(test)]
mod tests;
