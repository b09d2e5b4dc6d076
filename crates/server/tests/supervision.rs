//! Sources are supervised: one that panics is restarted with back-off and the server keeps
//! serving; each source's health shows in `/healthz` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use voicetk_events::{ParseOptions, from_value};
use voicetk_sources::{
    Action, ActionError, CallContext, EventSink, Health, HealthSnapshot, Source,
};

use crate::common::{TestServer, started};

/// How a test source behaves when the gateway runs it.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Panics on its first run; on the second it reports itself up and submits one event.
    PanicsOnce,
    /// Never reaches its peer: reports itself down.
    Unreachable,
    /// Panics at every start, and keeps no health of its own (like the simulator).
    AlwaysPanics,
}

struct TestSource {
    name: &'static str,
    behaviour: Behaviour,
    runs: AtomicU32,
    /// `None`: the trait's default health ("running"), as sources without a peer have.
    health: Option<Health>,
}

impl TestSource {
    fn shared(name: &'static str, behaviour: Behaviour) -> Arc<dyn Source> {
        let health = (!matches!(behaviour, Behaviour::AlwaysPanics)).then(Health::new);
        Arc::new(TestSource {
            name,
            behaviour,
            runs: AtomicU32::new(0),
            health,
        })
    }

    fn unsupported(&self, action: &'static str) -> ActionError {
        ActionError::Unsupported {
            source_name: self.name.to_owned(),
            action,
        }
    }
}

impl Source for TestSource {
    fn name(&self) -> &str {
        self.name
    }
    fn owns(&self, _: &str) -> bool {
        false
    }
    fn perform<'a>(
        &'a self,
        _: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move { Err(self.unsupported(action.name())) })
    }
    fn dial<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { Err(self.unsupported("dial")) })
    }
    fn health(&self) -> HealthSnapshot {
        self.health
            .as_ref()
            .map_or_else(HealthSnapshot::running, Health::snapshot)
    }
    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let first = self.runs.fetch_add(1, Ordering::SeqCst) == 0;
            let health = self.health.clone();
            match self.behaviour {
                Behaviour::AlwaysPanics => panic!("broken for good"),
                Behaviour::PanicsOnce if first => panic!("lost its mind"),
                Behaviour::PanicsOnce => {
                    if let Some(h) = &health {
                        h.up();
                    }
                    let event = from_value(
                        started("after-restart", "+14155550100"),
                        &ParseOptions::default(),
                    )
                    .unwrap();
                    sink.submit(event).await.unwrap();
                }
                Behaviour::Unreachable => {
                    if let Some(h) = &health {
                        h.down("connection refused (127.0.0.1:9)");
                    }
                }
            }
            shutdown.await;
            if let Some(h) = &health {
                if matches!(self.behaviour, Behaviour::PanicsOnce) {
                    h.stopped();
                }
            }
        })
    }
}

#[tokio::test]
async fn a_panicking_source_is_restarted_and_health_shows_every_source() {
    let sources = vec![
        TestSource::shared("panics-once", Behaviour::PanicsOnce),
        TestSource::shared("unreachable", Behaviour::Unreachable),
        TestSource::shared("always-panics", Behaviour::AlwaysPanics),
    ];
    let server = TestServer::with(|_| {}, sources).await;

    // The restarted run submits its event; the server kept serving meanwhile.
    let mut calls = Value::Null;
    for _ in 0..100 {
        let (status, body) = server.get("/v1/events?callId=after-restart", None).await;
        assert_eq!(status, 200);
        if body["events"].as_array().is_some_and(|e| !e.is_empty()) {
            calls = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls["events"][0]["type"], "CALL_STARTED", "{calls}");

    let (status, health) = server.get("/healthz", None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["telephony"], "partner");
    let sources = health["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3, "{health}");
    assert_eq!(sources[0]["name"], "panics-once");
    assert_eq!(sources[0]["state"], "up");
    assert_eq!(sources[0]["restarts"], 1);
    let crash = sources[0]["lastError"].as_str().unwrap();
    assert!(crash.contains("panicked: lost its mind"), "{crash}");
    assert_eq!(sources[1]["name"], "unreachable");
    assert_eq!(sources[1]["state"], "down");
    assert_eq!(sources[1]["failedAttempts"], 1);
    assert_eq!(sources[1]["lastError"], "connection refused (127.0.0.1:9)");

    // Waiting to be restarted is down, even for a source that keeps no health of its own.
    assert_eq!(sources[2]["name"], "always-panics");
    assert_eq!(sources[2]["state"], "down", "{health}");
    let crash = sources[2]["lastError"].as_str().unwrap();
    assert!(crash.contains("panicked: broken for good"), "{crash}");

    let metrics = server.metrics_text().await;
    for line in [
        "voicetk_source_up{source=\"panics-once\"} 1",
        "voicetk_source_up{source=\"unreachable\"} 0",
        "voicetk_source_up{source=\"always-panics\"} 0",
        "voicetk_source_restarts_total{source=\"panics-once\"} 1",
        "voicetk_source_failed_attempts_total{source=\"unreachable\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    server.stop().await;
}
