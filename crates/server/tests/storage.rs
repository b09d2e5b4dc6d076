//! A storage failure during a group commit: nothing of the group is acknowledged or delivered,
//! the engine forgets what it applied, and the next events continue gap-free. The log is the
//! real SQLite log; the failure is injected in front of it (a disk error cannot be provoked
//! portably in a test).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use voicetk_log::{
    AppendBatch, BoxFuture, EventLog, LogError, LogErrorKind, LogStats, ReadQuery, Recovered,
    Retention, SqliteLog, SqliteOptions, StoredEvent,
};
use voicetk_server::Server;
use voicetk_server::config::Config;

use crate::common::*;

/// The real log, with appends that fail while `failing` is set.
struct FaultyDisk {
    inner: SqliteLog,
    failing: AtomicBool,
}

impl EventLog for FaultyDisk {
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), LogError>> {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(LogError::new(LogErrorKind::Io).with_context("injected: disk full"))
            });
        }
        self.inner.append(batch)
    }
    fn read(&self, query: ReadQuery) -> BoxFuture<'_, Result<Vec<StoredEvent>, LogError>> {
        self.inner.read(query)
    }
    fn last_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        self.inner.last_seq()
    }
    fn recover(&self, recent_ids: usize) -> BoxFuture<'_, Result<Recovered, LogError>> {
        self.inner.recover(recent_ids)
    }
    fn find_event_id(&self, event_id: &str) -> BoxFuture<'_, Result<Option<u64>, LogError>> {
        self.inner.find_event_id(event_id)
    }
    fn apply_retention(
        &self,
        policy: &Retention,
        now: jiff::Timestamp,
    ) -> BoxFuture<'_, Result<u64, LogError>> {
        self.inner.apply_retention(policy, now)
    }
    fn first_seq(&self) -> BoxFuture<'_, Result<u64, LogError>> {
        self.inner.first_seq()
    }
    fn stats(&self) -> LogStats {
        self.inner.stats()
    }
    fn close(&self) -> BoxFuture<'_, Result<(), LogError>> {
        Box::pin(self.inner.close())
    }
}

#[tokio::test]
async fn a_failed_commit_acknowledges_nothing_and_the_engine_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(FaultyDisk {
        inner: SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap(),
        failing: AtomicBool::new(false),
    });
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data: Some(dir.path().to_owned()),
        ..Config::default()
    };
    let server = Server::with_log(config, log.clone(), Vec::new())
        .await
        .unwrap();
    let app = server.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(format!("http://{addr}/v1/events"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let mut ws = {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws"))
            .await
            .unwrap();
        use futures::SinkExt;
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            json!({"op":"subscribe","after":0}).to_string().into(),
        ))
        .await
        .unwrap();
        Ws { ws }
    };

    assert_eq!(
        post(connected("d1", "p")).await.unwrap().status().as_u16(),
        202
    );
    log.failing.store(true, Ordering::SeqCst);
    let r = post(with_participant("HOLD", "d1", "p")).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "unavailable");
    log.failing.store(false, Ordering::SeqCst);

    // The HOLD never happened: not in the view, not in the engine (a RESUME is refused), and
    // the same HOLD now gets the seq the failed one would have had.
    let calls: serde_json::Value = http
        .get(format!("http://{addr}/v1/calls/d1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["call"]["participants"][0]["onHold"], false);
    assert_eq!(
        post(with_participant("RESUME", "d1", "p"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        409
    );
    let r: serde_json::Value = post(with_participant("HOLD", "d1", "p"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["seq"], 2);
    // Subscribers saw seq 1 then seq 2: the failed event was never delivered.
    assert_eq!(ws.next_event().await["seq"], 1);
    let second = ws.next_event().await;
    assert_eq!(
        (second["seq"].as_u64(), second["type"].as_str()),
        (Some(2), Some("HOLD"))
    );
    let health: serde_json::Value = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    serve.abort();
    drop(server);
}
