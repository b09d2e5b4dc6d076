//! Actions: checked against the engine, carried out by the owning source, answered with the
//! seq of the confirming event (409 / 501 / 502 / 504 otherwise).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;
use voicetk_events::{CallConnectedDetail, CallType, Envelope, EventType, Extra, TelephonyEvent};
use voicetk_sources::{Action, ActionError, CallContext, EventSink, ParticipantType, Source};

use crate::common::*;

/// How the test source answers actions.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Carries the action out and reports the resulting event.
    Confirm,
    /// Says it did it, but no event ever follows.
    Silent,
    /// Tries and fails.
    Fail,
}

/// A source that owns the calls it was told about and reports what a real phone would.
struct TestSource {
    mode: Mode,
    calls: Mutex<HashSet<String>>,
    sink: Mutex<Option<Arc<dyn EventSink>>>,
}

impl TestSource {
    fn new(mode: Mode, calls: &[&str]) -> Arc<TestSource> {
        Arc::new(TestSource {
            mode,
            calls: Mutex::new(calls.iter().map(|c| (*c).to_owned()).collect()),
            sink: Mutex::new(None),
        })
    }

    fn sink(&self) -> Arc<dyn EventSink> {
        self.sink
            .lock()
            .unwrap()
            .clone()
            .expect("source not started")
    }
}

impl Source for TestSource {
    fn name(&self) -> &str {
        "test"
    }

    fn owns(&self, call_id: &str) -> bool {
        self.calls.lock().unwrap().contains(call_id)
    }

    fn perform<'a>(
        &'a self,
        call: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move {
            let event = match (self.mode, action) {
                (Mode::Fail, _) => {
                    return Err(ActionError::Failed {
                        source_name: "test".into(),
                        action: action.name(),
                        message: "the line is dead".into(),
                    });
                }
                (_, Action::Swap) => {
                    return Err(ActionError::Unsupported {
                        source_name: "test".into(),
                        action: action.name(),
                    });
                }
                (Mode::Silent, _) | (_, Action::SendDigits { .. }) => return Ok(()),
                (
                    _,
                    Action::Hold {
                        participant_type: ParticipantType::InitialCaller,
                    },
                ) => TelephonyEvent::with_participant(
                    EventType::Hold,
                    &call.call_id,
                    call.initial_caller.clone().unwrap_or_default(),
                ),
                (
                    _,
                    Action::Resume {
                        participant_type: ParticipantType::InitialCaller,
                    },
                ) => TelephonyEvent::with_participant(
                    EventType::Resume,
                    &call.call_id,
                    call.initial_caller.clone().unwrap_or_default(),
                ),
                (_, Action::AddParticipant { contact_value, .. }) => {
                    TelephonyEvent::with_participant(
                        EventType::ParticipantAdded,
                        &call.call_id,
                        contact_value.clone(),
                    )
                }
                (_, Action::Merge) => {
                    TelephonyEvent::call_only(EventType::Conference, &call.call_id)
                }
                (_, Action::Mute) => TelephonyEvent::call_only(EventType::Mute, &call.call_id),
                (_, Action::EndCall { .. }) => {
                    TelephonyEvent::call_only(EventType::CallEnded, &call.call_id)
                }
                _ => None,
            };
            let Some(event) = event else {
                return Err(ActionError::Unsupported {
                    source_name: "test".into(),
                    action: action.name(),
                });
            };
            let mut envelope = Envelope::new(event);
            envelope.agent = call.agent.clone();
            // A real source reports a moment later, not inside the request.
            let sink = self.sink();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = sink.submit(envelope).await;
            });
            Ok(())
        })
    }

    fn dial<'a>(
        &'a self,
        agent: Option<&'a str>,
        phone_number: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move {
            let call_id = format!("dialed-{}", phone_number.replace(' ', ""));
            self.calls.lock().unwrap().insert(call_id.clone());
            let mut envelope = Envelope::new(TelephonyEvent::CallConnected(CallConnectedDetail {
                call_id: call_id.clone(),
                call_type: CallType::Outbound,
                participant: phone_number.to_owned(),
                call_attributes: None,
                extra: Extra::new(),
            }));
            envelope.agent = agent.map(Into::into);
            let sink = self.sink();
            tokio::spawn(async move {
                let _ = sink.submit(envelope).await;
            });
            Ok(call_id)
        })
    }

    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        *self.sink.lock().unwrap() = Some(sink);
        Box::pin(async move {
            shutdown.await;
            self.sink.lock().unwrap().take();
        })
    }
}

async fn wait_started(source: &TestSource) {
    for _ in 0..100 {
        if source.sink.lock().unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("source never started");
}

#[tokio::test]
async fn actions_are_checked_carried_out_and_confirmed() {
    let source = TestSource::new(Mode::Confirm, &["a1"]);
    let s = TestServer::with(|_| {}, vec![source.clone() as Arc<dyn Source>]).await;
    wait_started(&source).await;
    s.post(&connected("a1", "+1 415 555 0100")).await;
    s.post(&connected("posted", "+1 415 555 0199")).await;

    let (st, body) = s
        .action(
            "a1",
            "hold",
            Some(json!({"participantType":"Initial_Caller"})),
            None,
        )
        .await;
    assert_eq!((st, body["seq"].as_u64()), (200, Some(3)), "{body}");
    let (_, call) = s.get("/v1/calls/a1", None).await;
    assert_eq!(call["call"]["participants"][0]["onHold"], true);

    // The state forbids a second hold: 409 before the source is asked.
    let (st, body) = s
        .action(
            "a1",
            "hold",
            Some(json!({"participantType":"Initial_Caller"})),
            None,
        )
        .await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already on hold"),
        "{body}"
    );

    let (st, body) = s
        .action(
            "a1",
            "resume",
            Some(json!({"participantType":"Initial_Caller"})),
            None,
        )
        .await;
    assert_eq!((st, body["seq"].as_u64()), (200, Some(4)));
    let (st, body) = s.action("a1", "add-participant", Some(json!({"contactType":"PhoneNumber","contactValue":"+1 222","isBlindTransfer":false})), None).await;
    assert_eq!((st, body["seq"].as_u64()), (200, Some(5)));
    let (st, _) = s.action("a1", "merge", None, None).await;
    assert_eq!(st, 200);
    let (st, body) = s
        .action("a1", "send-digits", Some(json!({"digits":"12#"})), None)
        .await;
    assert_eq!((st, &body), (200, &json!({"seq": null})));
    // The source cannot swap: 501. (Exactly two participants, one on hold, is not the case
    // here, so the engine refuses first: set up the state the source would need.)
    let (st, body) = s.action("a1", "swap", None, None).await;
    assert_eq!(st, 409, "{body}");
    // A call no source owns: 501.
    let (st, body) = s.action("posted", "mute", None, None).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (501, Some("not_implemented"))
    );
    let (st, body) = s.action("a1", "end-call", None, None).await;
    assert_eq!((st, body["seq"].as_u64()), (200, Some(7)));
    let (st, _) = s.action("a1", "mute", None, None).await;
    assert_eq!(st, 409, "after CALL_ENDED only WRAP_UP_ENDED");

    // Dialing.
    let r = s
        .http
        .post(s.url("/v1/calls"))
        .body(json!({"phoneNumber":"+1 555 0100"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["callId"], "dialed-+15550100");
    assert_eq!(body["seq"], 8);
}

#[tokio::test]
async fn unsupported_failed_and_unconfirmed_actions() {
    let source = TestSource::new(Mode::Confirm, &["u1"]);
    let silent = TestSource::new(Mode::Silent, &["s1"]);
    let failing = TestSource::new(Mode::Fail, &["f1"]);
    let s = TestServer::with(
        |c| c.limits.action_timeout = Duration::from_millis(300),
        vec![
            source.clone() as Arc<dyn Source>,
            silent.clone(),
            failing.clone(),
        ],
    )
    .await;
    wait_started(&source).await;
    s.post_ndjson(&[
        connected("u1", "p"),
        with_participant("PARTICIPANT_ADDED", "u1", "q"),
        with_participant("HOLD", "u1", "q"),
        connected("s1", "p"),
        connected("f1", "p"),
    ])
    .await;
    let (st, body) = s.action("u1", "swap", None, None).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (501, Some("not_implemented")),
        "{body}"
    );
    let (st, body) = s.action("s1", "mute", None, None).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (504, Some("not_confirmed"))
    );
    let (st, body) = s.action("f1", "mute", None, None).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (502, Some("source_failed"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the line is dead")
    );
}
