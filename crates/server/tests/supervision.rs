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

/// Panics on its first run; on the second it reports itself up and submits one event.
struct PanicsOnce {
    runs: AtomicU32,
    health: Health,
}

/// Panics at every start, and keeps no health of its own (like the simulator).
struct AlwaysPanics;

impl Source for AlwaysPanics {
    fn name(&self) -> &str {
        "always-panics"
    }
    fn owns(&self, _: &str) -> bool {
        false
    }
    fn perform<'a>(
        &'a self,
        _: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), action.name())) })
    }
    fn dial<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), "dial")) })
    }
    fn run(
        self: Arc<Self>,
        _: Arc<dyn EventSink>,
        _: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move { panic!("broken for good") })
    }
}

/// Never reaches its peer: reports itself down.
struct Unreachable {
    health: Health,
}

fn unsupported(name: &str, action: &'static str) -> ActionError {
    ActionError::Unsupported {
        source_name: name.to_owned(),
        action,
    }
}

impl Source for PanicsOnce {
    fn name(&self) -> &str {
        "panics-once"
    }
    fn owns(&self, _: &str) -> bool {
        false
    }
    fn perform<'a>(
        &'a self,
        _: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), action.name())) })
    }
    fn dial<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), "dial")) })
    }
    fn health(&self) -> HealthSnapshot {
        self.health.snapshot()
    }
    fn run(
        self: Arc<Self>,
        sink: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("lost its mind");
            }
            self.health.up();
            let event = from_value(
                started("after-restart", "+14155550100"),
                &ParseOptions::default(),
            )
            .unwrap();
            sink.submit(event).await.unwrap();
            shutdown.await;
            self.health.stopped();
        })
    }
}

impl Source for Unreachable {
    fn name(&self) -> &str {
        "unreachable"
    }
    fn owns(&self, _: &str) -> bool {
        false
    }
    fn perform<'a>(
        &'a self,
        _: &'a CallContext,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<(), ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), action.name())) })
    }
    fn dial<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
    ) -> BoxFuture<'a, Result<String, ActionError>> {
        Box::pin(async move { Err(unsupported(self.name(), "dial")) })
    }
    fn health(&self) -> HealthSnapshot {
        self.health.snapshot()
    }
    fn run(
        self: Arc<Self>,
        _: Arc<dyn EventSink>,
        shutdown: BoxFuture<'static, ()>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.health.down("connection refused (127.0.0.1:9)");
            shutdown.await;
        })
    }
}

#[tokio::test]
async fn a_panicking_source_is_restarted_and_health_shows_every_source() {
    let sources: Vec<Arc<dyn Source>> = vec![
        Arc::new(PanicsOnce {
            runs: AtomicU32::new(0),
            health: Health::new(),
        }),
        Arc::new(Unreachable {
            health: Health::new(),
        }),
        Arc::new(AlwaysPanics),
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
