//! A real gateway for tests, stopped on drop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voicetk_server::Server;
use voicetk_server::config::Config;
use voicetk_sources::Source;

/// A running gateway on a loopback port with its own data folder.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with(|_| {}, Vec::new()).await
    }

    pub async fn with(
        configure: impl FnOnce(&mut Config),
        sources: Vec<Arc<dyn Source>>,
    ) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        TestServer::in_dir(dir, configure, sources).await
    }

    /// Starts on an existing data folder (restart tests).
    pub async fn in_dir(
        dir: Arc<tempfile::TempDir>,
        configure: impl FnOnce(&mut Config),
        sources: Vec<Arc<dyn Source>>,
    ) -> TestServer {
        let mut config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            data: Some(dir.path().to_owned()),
            ..Config::default()
        };
        configure(&mut config);
        let server = Server::open(config, sources).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            addr,
            dir,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops gracefully and waits until the log is closed.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap();
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_with(body, None, None).await
    }

    pub async fn post_with(
        &self,
        body: &Value,
        token: Option<&str>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url("/v1/events"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_ndjson(&self, lines: &[Value]) -> (u16, Value) {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let resp = self
            .http
            .post(self.url("/v1/events"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn action(
        &self,
        call_id: &str,
        action: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(&format!("/v1/calls/{call_id}/actions/{action}")));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A WebSocket client, subscribed with `op` (a `{"op":"subscribe",..}` object).
    pub async fn ws(&self, op: Value, token: Option<&str>) -> Ws {
        let mut url = format!("ws://{}/v1/ws", self.addr);
        if let Some(t) = token {
            url.push_str(&format!("?access_token={t}"));
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(Message::Text(op.to_string().into())).await.unwrap();
        Ws { ws }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub struct Ws {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// The next text frame as JSON (heartbeats included), within 10 s.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("no frame within 10 s")
                .expect("socket ended")
                .expect("socket error");
            if let Message::Text(t) = msg {
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    }

    /// The next event payload, skipping heartbeats.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let v = self.next_frame().await;
            if v.get("op").is_none() {
                return v;
            }
            assert_ne!(v["op"], json!("error"), "unexpected error frame: {v}");
        }
    }

    /// Events until the first heartbeat (the end of a replay).
    pub async fn until_heartbeat(&mut self) -> (Vec<Value>, u64) {
        let mut events = Vec::new();
        loop {
            let v = self.next_frame().await;
            match v["op"].as_str() {
                Some("heartbeat") => return (events, v["seq"].as_u64().unwrap()),
                Some(other) => panic!("unexpected op {other}: {v}"),
                None => events.push(v),
            }
        }
    }
}

pub fn started(call_id: &str, participant: &str) -> Value {
    json!({"type":"CALL_STARTED","detail":{"callId":call_id,"callType":"inbound","participant":participant}})
}

pub fn connected(call_id: &str, participant: &str) -> Value {
    json!({"type":"CALL_CONNECTED","detail":{"callId":call_id,"callType":"inbound","participant":participant}})
}

pub fn with_participant(t: &str, call_id: &str, participant: &str) -> Value {
    json!({"type":t,"detail":{"callId":call_id,"participant":participant}})
}

pub fn call_only(t: &str, call_id: &str) -> Value {
    json!({"type":t,"detail":{"callId":call_id}})
}

pub fn with_agent(mut v: Value, agent: &str) -> Value {
    v["agent"] = json!(agent);
    v
}

/// A configured token: `roles`, scoped to `agent` when given.
pub fn token(
    token: &str,
    roles: Vec<voicetk_server::auth::Role>,
    agent: Option<&str>,
) -> voicetk_server::config::TokenConfig {
    voicetk_server::config::TokenConfig {
        name: None,
        token: token.into(),
        roles,
        agent: agent.map(Into::into),
    }
}
