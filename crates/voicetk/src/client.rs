//! A small client for a running gateway: what `voicetk tail`, `voicetk calls` and
//! `voicetk simulate --server` use.

use futures::{SinkExt, StreamExt};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What went wrong talking to the gateway.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not usable.
    #[error("invalid server URL {url:?}: {message}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        message: String,
    },
    /// The connection failed.
    #[error("cannot reach {url}: {message}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The gateway answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The contract's error code.
        code: String,
        /// The message.
        message: String,
    },
    /// The gateway answered something unexpected.
    #[error("unexpected answer from the gateway: {0}")]
    Protocol(String),
}

/// A gateway client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    /// `http://HOST:PORT` without a trailing slash.
    base: String,
    /// Bearer token, if any.
    token: Option<String>,
    /// Connection pool.
    http: reqwest::Client,
}

impl Client {
    /// A client for the gateway at `base` (`http://127.0.0.1:8080`).
    ///
    /// # Errors
    /// [`ClientError::Url`] when `base` is not an `http://` URL.
    pub fn new(base: &str, token: Option<String>) -> Result<Client, ClientError> {
        let trimmed = base.trim_end_matches('/');
        let url = reqwest::Url::parse(trimmed).map_err(|e| ClientError::Url {
            url: base.to_owned(),
            message: e.to_string(),
        })?;
        if url.scheme() != "http" {
            return Err(ClientError::Url {
                url: base.to_owned(),
                message: "expected an http:// URL (put TLS in front of voicetk with a proxy)"
                    .into(),
            });
        }
        let mut headers = HeaderMap::new();
        if let Some(t) = &token {
            let v =
                HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| ClientError::Url {
                    url: base.to_owned(),
                    message: "the token holds characters not allowed in a header".into(),
                })?;
            headers.insert(AUTHORIZATION, v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .map_err(|e| ClientError::Connect {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Client {
            base: trimmed.to_owned(),
            token,
            http,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn answer(
        &self,
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Value, ClientError> {
        let resp = resp.map_err(|e| ClientError::Connect {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| ClientError::Protocol(format!("status {status}, body not JSON: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(ClientError::Api {
                status: status.as_u16(),
                code: body["error"]["code"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
                message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
            })
        }
    }

    /// `GET /v1/calls` (`all` includes ended calls still tracked).
    ///
    /// # Errors
    /// Connection, protocol or API errors.
    pub async fn calls(&self, all: bool) -> Result<Value, ClientError> {
        let url = format!(
            "{}/v1/calls{}",
            self.base,
            if all { "?all=true" } else { "" }
        );
        self.answer(self.http.get(url).send().await).await
    }

    /// `GET /v1/calls/{callId}`.
    ///
    /// # Errors
    /// Connection, protocol or API errors (404 `unknown_call`).
    pub async fn call(&self, call_id: &str) -> Result<Value, ClientError> {
        let mut url = reqwest::Url::parse(&format!("{}/v1/calls/", self.base))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| ClientError::Protocol("base URL cannot have a path".into()))?
            .pop_if_empty()
            .push(call_id);
        self.answer(self.http.get(url).send().await).await
    }

    /// `POST /v1/events` with NDJSON lines; returns the seqs.
    ///
    /// # Errors
    /// Connection, protocol or API errors (the batch is all or nothing).
    pub async fn post_ndjson(&self, body: String) -> Result<Vec<u64>, ClientError> {
        let resp = self
            .http
            .post(format!("{}/v1/events", self.base))
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .send()
            .await;
        let v = self.answer(resp).await?;
        v["seqs"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .ok_or_else(|| ClientError::Protocol(format!("expected {{\"seqs\":[..]}}, got {v}")))
    }

    /// `POST /v1/events` with one payload; returns its seq.
    ///
    /// # Errors
    /// Connection, protocol or API errors (409 `invalid_transition`, ...).
    pub async fn post_event(
        &self,
        envelope: &voicetk_events::Envelope,
    ) -> Result<u64, ClientError> {
        let resp = self
            .http
            .post(format!("{}/v1/events", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(envelope.to_json())
            .send()
            .await;
        let v = self.answer(resp).await?;
        v["seq"]
            .as_u64()
            .ok_or_else(|| ClientError::Protocol(format!("expected {{\"seq\":N}}, got {v}")))
    }

    /// Subscribes over WebSocket and calls `on_event` with each payload (parsed, and the text
    /// exactly as the gateway sent it; not the heartbeats),
    /// reconnecting and resuming after the last seq on a dropped connection. Returns when
    /// `on_event` returns false.
    ///
    /// # Errors
    /// When the first connection fails, or the gateway answers a subscription with an error.
    pub async fn tail(
        &self,
        types: &[String],
        call_id: Option<&str>,
        mut after: Option<u64>,
        mut on_event: impl FnMut(&Value, &str) -> bool,
    ) -> Result<(), ClientError> {
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let mut first = true;
        loop {
            let mut url = format!("{ws_base}/v1/ws");
            if let Some(t) = &self.token {
                url.push_str(&format!("?access_token={t}"));
            }
            let request = url
                .as_str()
                .into_client_request()
                .map_err(|e| ClientError::Url {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
            let (mut ws, _) = match tokio_tungstenite::connect_async(request).await {
                Ok(c) => c,
                Err(e) if first => {
                    return Err(ClientError::Connect {
                        url: ws_base,
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reconnecting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            first = false;
            let mut op = json!({ "op": "subscribe" });
            if !types.is_empty() {
                op["types"] = json!(types);
            }
            if let Some(c) = call_id {
                op["callId"] = json!(c);
            }
            if let Some(a) = after {
                op["after"] = json!(a);
            }
            ws.send(Message::Text(op.to_string().into()))
                .await
                .map_err(|e| ClientError::Connect {
                    url: ws_base.clone(),
                    message: e.to_string(),
                })?;
            while let Some(msg) = ws.next().await {
                let Ok(Message::Text(text)) = msg else {
                    if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                        break;
                    }
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                match v["op"].as_str() {
                    Some("heartbeat") => {
                        if let Some(seq) = v["seq"].as_u64() {
                            after = Some(after.map_or(seq, |a| a.max(seq)));
                        }
                    }
                    Some("error") => {
                        return Err(ClientError::Api {
                            status: 0,
                            code: v["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
                            message: v["error"]["message"].as_str().unwrap_or("").to_owned(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        if v["replayed"] != json!(true) {
                            if let Some(seq) = v["seq"].as_u64() {
                                after = Some(seq);
                            }
                        }
                        if !on_event(&v, text.as_str()) {
                            return Ok(());
                        }
                    }
                }
            }
            tracing::warn!(after = ?after, "connection lost; resuming");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// A remote gateway as the sink of a local source (`voicetk simulate --server`).
impl voicetk_sources::EventSink for Client {
    fn submit(
        &self,
        envelope: voicetk_events::Envelope,
    ) -> futures::future::BoxFuture<'_, Result<u64, voicetk_sources::SubmitError>> {
        Box::pin(async move {
            self.post_event(&envelope).await.map_err(|e| match e {
                ClientError::Api { code, message, .. } => {
                    voicetk_sources::SubmitError { code, message }
                }
                other => voicetk_sources::SubmitError {
                    code: "unavailable".into(),
                    message: other.to_string(),
                },
            })
        })
    }
}
