//! The voicetk gateway: durable ingest, HTTP/WebSocket/SSE delivery, actions and auth.
//!
//! Data flows one way: sources (HTTP `POST /v1/events`, built-in sources) → the
//! [`Gateway`]'s single writer task, which applies events to the engine and commits them to
//! the log in groups → the delivery hub, which fans them out to in-process listeners,
//! WebSocket and SSE subscribers. See CONTRACT.md §3, §4 and §6 for the external interface.
//!
//! # Example
//! ```no_run
//! use voicetk_server::{Server, config::Config};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config { data: Some("/tmp/voicetk-example".into()), ..Config::default() };
//! let server = Server::open(config, Vec::new()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! println!("listening on {}", listener.local_addr()?);
//! server.run(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod config;
pub mod error;
pub mod gateway;
pub mod http;
pub mod metrics;
mod ratelimit;
pub mod supervisor;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use voicetk_delivery::{Hub, HubConfig};
use voicetk_engine::EngineConfig;
use voicetk_engine::audio::{AudioStatsConfig, SampleMsg, run_aggregator};
use voicetk_log::{EventLog, LogError, MemoryLog, Retention, SqliteLog, SqliteOptions};
use voicetk_sources::{EventSink, Source};

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError, Store};
pub use crate::gateway::{Gateway, GatewayConfig, IngestError};
pub use crate::http::{AppState, app};
use crate::metrics::Metrics;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The event log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The store named is not available in this build.
    #[error(
        "store {0}: the NATS JetStream store is not available yet; use the embedded SQLite store (--data DIR)"
    )]
    StoreUnavailable(String),
    /// A network error.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

/// A configured gateway, ready to serve.
pub struct Server {
    /// The validated configuration.
    config: Config,
    /// The shared state of the HTTP handlers (holds the gateway handle).
    state: AppState,
    /// The ingest writer task; ends after [`Gateway::stop`].
    writer: tokio::task::JoinHandle<()>,
    /// The log, closed last.
    log: Arc<dyn EventLog>,
    /// Sources to start with the server.
    sources: Vec<Arc<dyn Source>>,
    /// Cancelled at shutdown: streams close, sources stop.
    shutdown: CancellationToken,
    /// Samples posted to `/v1/calls/{callId}/audio-samples`, for the aggregator.
    audio_rx: tokio::sync::mpsc::Receiver<SampleMsg>,
}

/// Room for posted audio samples waiting for the aggregator.
const AUDIO_SAMPLE_QUEUE: usize = 4096;

impl Server {
    /// Validates `config`, opens the store, rebuilds the engine from it, and prepares the
    /// HTTP API. `sources` are started by [`run`](Self::run) and carry out actions.
    ///
    /// # Errors
    /// [`ServerError::Config`] for an invalid configuration, [`ServerError::Log`] when the
    /// store cannot be opened or read, [`ServerError::StoreUnavailable`] for NATS.
    pub async fn open(
        config: Config,
        sources: Vec<Arc<dyn Source>>,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        let log: Arc<dyn EventLog> = match config.store()? {
            Store::Sqlite(dir) => {
                let dir2 = dir.clone();
                let log = tokio::task::spawn_blocking(move || {
                    SqliteLog::open(&dir2, SqliteOptions::default())
                })
                .await
                .map_err(|e| std::io::Error::other(format!("opening the store panicked: {e}")))??;
                tracing::info!(path = %log.path().display(), "event log open");
                Arc::new(log)
            }
            Store::Nats(url) => return Err(ServerError::StoreUnavailable(url)),
            Store::Memory => {
                tracing::warn!(
                    "event log in MEMORY ONLY (store = \"memory:\"): NOT durable, every event is \
                     lost on exit; for benchmarks and tests only"
                );
                Arc::new(MemoryLog::new())
            }
        };
        Server::with_log(config, log, sources).await
    }

    /// Like [`open`](Self::open), with a log the caller opened.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn with_log(
        config: Config,
        log: Arc<dyn EventLog>,
        sources: Vec<Arc<dyn Source>>,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        // After a restart, delivery continues the log: `lastSeq`, replays and the live start
        // of new subscribers are positioned after what is already stored.
        let stored = log.last_seq().await?;
        let hub = Arc::new(Hub::new(
            HubConfig::new(config.telephony)
                .capacity(config.limits.subscriber_buffer)
                .after(stored),
        ));
        let metrics = Arc::new(Metrics::new());
        let gateway_config = GatewayConfig {
            engine: EngineConfig {
                telephony: config.telephony,
                lenient: config.lenient,
                ..EngineConfig::default()
            },
            ..GatewayConfig::default()
        };
        let (gateway, writer) = Gateway::start(gateway_config, log.clone(), hub, metrics).await?;
        let shutdown = CancellationToken::new();
        let (audio, audio_rx) = tokio::sync::mpsc::channel(AUDIO_SAMPLE_QUEUE);
        let state = AppState::new(
            gateway,
            Authenticator::new(&config.auth.tokens),
            config.limits.clone(),
            sources.clone(),
            Arc::new(audio),
            config.cors_origins.clone(),
            shutdown.clone(),
        );
        Ok(Server {
            config,
            audio_rx,
            state,
            writer,
            log,
            sources,
            shutdown,
        })
    }

    /// The ingest pipeline (to submit events or add in-process listeners).
    pub fn gateway(&self) -> &Gateway {
        self.state.gateway()
    }

    /// The HTTP API as a router, with CORS for `cors_origins`.
    pub fn router(&self) -> axum::Router {
        with_cors(app(self.state.clone()), &self.config.cors_origins)
    }

    /// Serves on `listener` until `signal` resolves, then shuts down gracefully: streams get
    /// their close frames, sources stop, the last group is committed and the log closed, all
    /// bounded by `limits.shutdown_timeout`.
    ///
    /// # Errors
    /// [`ServerError::Io`] when serving fails.
    pub async fn run(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            config,
            audio_rx,
            state,
            writer,
            log,
            sources,
            shutdown,
        } = self;
        drop(sources);
        let gateway = state.gateway().clone();
        let sink: Arc<dyn EventSink> = Arc::new(gateway.clone());
        let mut tasks = Vec::new();
        for entry in state.supervised() {
            tasks.push(tokio::spawn(supervisor::supervise(
                entry.clone(),
                sink.clone(),
                shutdown.clone(),
                gateway.metrics().clone(),
            )));
        }
        drop(sink);
        // Posted WebRTC samples → the aggregator → AUDIO_STATS into the gateway. Both tasks end
        // with the process: the aggregator's input lives as long as the HTTP state.
        let (stats_tx, stats_rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(run_aggregator(
            AudioStatsConfig {
                interval: config.audio_stats_interval,
            },
            audio_rx,
            stats_tx,
        ));
        tokio::spawn(http::samples::forward_audio_stats(
            gateway.clone(),
            stats_rx,
        ));
        tasks.push(tokio::spawn(retention_task(
            log.clone(),
            Retention {
                max_age: config.retention.max_age,
                max_events: config.retention.max_events,
            },
            shutdown.clone(),
        )));
        let addr = listener.local_addr()?;
        tracing::info!(%addr, telephony = %config.telephony, "voicetk listening");
        let token = shutdown.clone();
        // Events are small and latency matters: no Nagle delay on any connection (a frame
        // written behind an unacknowledged one would otherwise wait for the client's ACK).
        let listener =
            axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
            });
        let serve = axum::serve(
            listener,
            with_cors(app(state), &config.cors_origins)
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("shutting down");
            token.cancel();
        });
        let served = serve.await;
        shutdown.cancel();
        let deadline = config.limits.shutdown_timeout;
        let drain = async {
            for t in tasks {
                let _ = t.await;
            }
            gateway.stop().await;
            let _ = writer.await;
            gateway.hub().close();
        };
        if tokio::time::timeout(deadline, drain).await.is_err() {
            tracing::warn!(timeout = ?deadline, "graceful shutdown timed out");
        }
        if let Err(e) = log.close().await {
            tracing::warn!(error = %e, "closing the event log failed");
        }
        served?;
        Ok(())
    }
}

/// `router` with the CORS layer for `origins`, if any.
fn with_cors(router: axum::Router, origins: &[String]) -> axum::Router {
    match http::cors_layer(origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// Applies the retention policy once a minute until shutdown.
async fn retention_task(log: Arc<dyn EventLog>, policy: Retention, shutdown: CancellationToken) {
    if policy.keeps_all() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => match log.apply_retention(&policy, jiff::Timestamp::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "retention pruned events"),
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            },
        }
    }
}
