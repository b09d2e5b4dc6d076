//! The HTTP edge (CONTRACT.md §4): routes, shared state, authentication and rate limiting.
//! Handlers are thin: they parse, authorize, and call the [`Gateway`].

mod actions;
mod assets;
mod calls;
mod events;
mod feed;
mod openapi;
mod ops;
pub mod samples;
mod stream;
mod webhooks;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use voicetk_sources::Source;

use crate::auth::{Authenticator, Principal};
use crate::config::Limits;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::ratelimit::RateLimiter;
use crate::supervisor::Supervised;
use samples::AudioSamples;

pub use openapi::document as openapi;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    /// The ingest pipeline and the views it keeps.
    gateway: Gateway,
    /// Token checks.
    auth: Authenticator,
    /// Sizes, rates and timeouts.
    limits: Limits,
    /// The sources that can carry out actions.
    sources: Vec<Arc<dyn Source>>,
    /// The same sources with their supervision records (restarts), for `/healthz`.
    supervised: Vec<Arc<Supervised>>,
    /// Input of the audio aggregator (WebRTC samples posted by browsers).
    audio: AudioSamples,
    /// Origins besides the gateway's own whose pages may call the API (`cors_origins`).
    cors_origins: Vec<String>,
    /// Per-connection request budget.
    rate: RateLimiter,
    /// Caps long-lived stream connections (WebSocket, SSE).
    streams: Arc<Semaphore>,
    /// Cancelled when the server shuts down: streams send their close frames and end.
    shutdown: CancellationToken,
}

impl AppState {
    /// Builds the state the router shares.
    pub fn new(
        gateway: Gateway,
        auth: Authenticator,
        limits: Limits,
        sources: Vec<Arc<dyn Source>>,
        audio: AudioSamples,
        cors_origins: Vec<String>,
        shutdown: CancellationToken,
    ) -> AppState {
        let rate = RateLimiter::new(limits.rate_per_second, limits.rate_burst);
        let streams = Arc::new(Semaphore::new(limits.max_connections));
        let supervised = sources
            .iter()
            .map(|s| Arc::new(Supervised::new(s.clone())))
            .collect();
        AppState {
            inner: Arc::new(AppInner {
                gateway,
                auth,
                limits,
                sources,
                supervised,
                audio,
                cors_origins,
                rate,
                streams,
                shutdown,
            }),
        }
    }

    /// The ingest pipeline.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// Token checks.
    fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The configured sources with their supervision records.
    pub fn supervised(&self) -> &[Arc<Supervised>] {
        &self.inner.supervised
    }

    /// Where posted audio samples go.
    fn audio(&self) -> &AudioSamples {
        &self.inner.audio
    }

    fn limits(&self) -> &Limits {
        &self.inner.limits
    }
}

/// The whole HTTP API. Shared by `voicetk serve` and the tests (which can drive it with
/// `tower::ServiceExt::oneshot`, no socket needed, as long as they add a `ConnectInfo`).
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/events", post(events::post_events).get(events::history))
        .route("/v1/events/stream", get(stream::sse))
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/calls", get(calls::list).post(actions::dial))
        .route("/v1/calls/{callId}", get(calls::one))
        .route(
            "/v1/calls/{callId}/audio-samples",
            post(samples::post_samples),
        )
        .route(
            "/v1/calls/{callId}/actions/{action}",
            post(actions::perform),
        )
        .route("/v1/sources/{name}", post(webhooks::receive))
        .route("/metrics", get(ops::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), check_origin));
    Router::new()
        .merge(api)
        .route("/healthz", get(ops::healthz))
        .route("/v1/openapi.json", get(ops::openapi_json))
        .route("/", get(assets::index))
        .route("/console/{file}", get(assets::console))
        .route("/client/voicetk.js", get(assets::client))
        .fallback(ops::not_found)
        .with_state(state)
}

/// The CORS layer for `origins` (`cors_origins` in the config), or `None` when the list is
/// empty (same-origin only). Pages on those origins may call every endpoint with a bearer
/// token; no cookies are involved, so no credentials mode.
pub fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

/// Refuses what a browser sends across sites without asking first: a POST (a form can post
/// to any URL) or a WebSocket upgrade (not covered by CORS) whose `Origin` is neither the
/// gateway's own nor in `cors_origins`. Without this, any page a demo user visits could read
/// or act on an open loopback gateway. Requests without `Origin` (curl, servers, providers'
/// webhooks) are not browser requests and pass.
async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::Method;
    let guarded = req.method() == Method::POST || req.uri().path() == "/v1/ws";
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    if let (true, Some(origin)) = (guarded, origin) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !origin_allowed(&origin, host, &state.inner.cors_origins) {
            return ApiError::forbidden(format!(
                "cross-origin request from {origin} refused: only the gateway's own pages and \
                 the origins in cors_origins (--cors-origin) may call it from a browser"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// Whether a browser page from `origin` may call a gateway reached as `host`.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Refuses with 429 when the connection spent its budget.
async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Some(peer) = peer {
        if let Err(wait) = state.inner.rate.check(peer, Instant::now()) {
            state.gateway().metrics().rate_limited();
            return ApiError::rate_limited(wait).into_response();
        }
    }
    next.run(req).await
}

/// The token presented with a request: the `Authorization: Bearer` header, or the
/// `access_token` query parameter (browsers cannot set headers on WebSocket/EventSource).
fn presented_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim);
    }
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .inner
            .auth
            .authenticate(presented_token(&parts.headers, parts.uri.query()))
    }
}
