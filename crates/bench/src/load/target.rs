//! The gateway under load: one started in this process, or one already running on loopback.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::thread::JoinHandle;

use reqwest::Url;
use tokio::sync::oneshot;
use voicetk_server::Server;
use voicetk_server::config::Config;

use super::LoadError;

/// The gateway a run measures.
///
/// With [`spawn`](Self::spawn), a real [`Server`] (SQLite log in a temporary directory, the
/// default configuration but no rate limit) runs on its own Tokio runtime and threads in this
/// process, on `127.0.0.1:0`; [`shutdown`](Self::shutdown) stops it gracefully and deletes its
/// data. With [`remote`](Self::remote), a gateway already listening on loopback.
#[derive(Debug)]
pub struct Target {
    /// `http://HOST:PORT`, no trailing slash.
    base: Url,
    /// Bearer token for publishing and subscribing, if the gateway requires one.
    token: Option<String>,
    /// The in-process gateway, when spawned.
    spawned: Option<Spawned>,
}

/// An in-process gateway and what it needs to stop.
#[derive(Debug)]
struct Spawned {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
    /// The SQLite log's folder; deleted when the target is dropped.
    _data: tempfile::TempDir,
}

impl Target {
    /// Starts a gateway in this process on `127.0.0.1:0`, with its log in a new temporary
    /// directory (inside `data_parent` when given). Its per-connection rate limit is lifted,
    /// since the harness measures capacity, not the limiter.
    ///
    /// # Errors
    /// [`LoadError::Io`] when the directory or thread cannot be created,
    /// [`LoadError::Spawn`] when the gateway does not start.
    pub async fn spawn(data_parent: Option<&Path>) -> Result<Target, LoadError> {
        let data = match data_parent {
            Some(parent) => tempfile::Builder::new()
                .prefix("voicetk-load-")
                .tempdir_in(parent),
            None => tempfile::Builder::new().prefix("voicetk-load-").tempdir(),
        }
        .map_err(|source| LoadError::Io {
            what: "creating the gateway's data directory".into(),
            source,
        })?;
        let mut config = Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: Some(data.path().to_owned()),
            ..Config::default()
        };
        config.limits.rate_per_second = 1e9;
        config.limits.rate_burst = 1e9;

        let (ready_tx, ready_rx) = oneshot::channel::<Result<SocketAddr, String>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("voicetk-gateway".into())
            .spawn(move || serve(config, ready_tx, stopped))
            .map_err(|source| LoadError::Io {
                what: "starting the gateway thread".into(),
                source,
            })?;
        let addr = match ready_rx.await {
            Ok(Ok(addr)) => addr,
            Ok(Err(message)) => return Err(LoadError::Spawn(message)),
            Err(_) => {
                let message = match thread.join() {
                    Ok(Err(message)) => message,
                    _ => "the gateway thread ended before listening".into(),
                };
                return Err(LoadError::Spawn(message));
            }
        };
        let base = Url::parse(&format!("http://{addr}"))
            .map_err(|e| LoadError::Spawn(format!("bad listen address {addr}: {e}")))?;
        Ok(Target {
            base,
            token: None,
            spawned: Some(Spawned {
                stop: Some(stop),
                thread: Some(thread),
                _data: data,
            }),
        })
    }

    /// A gateway already running at `url` (`http://127.0.0.1:8080`). Only loopback hosts are
    /// accepted: `127.0.0.0/8`, `::1` and `localhost`.
    ///
    /// # Errors
    /// [`LoadError::BadTarget`] for an unparsable URL, a scheme other than `http`, or a host
    /// that is not loopback.
    ///
    /// # Examples
    /// ```
    /// use voicetk_bench::load::Target;
    ///
    /// let target = Target::remote("http://127.0.0.1:8080/")?;
    /// assert_eq!(target.http_url("/v1/events"), "http://127.0.0.1:8080/v1/events");
    /// assert_eq!(target.ws_url("/v1/ws"), "ws://127.0.0.1:8080/v1/ws");
    /// assert!(Target::remote("http://192.168.1.20:8080").is_err());
    /// # Ok::<(), voicetk_bench::load::LoadError>(())
    /// ```
    pub fn remote(url: &str) -> Result<Target, LoadError> {
        let bad = |reason: &str| LoadError::BadTarget {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad("expected an http:// URL"));
        }
        let loopback = parsed.host_str().is_some_and(|host| {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => ip.is_loopback(),
                Err(_) => bare.eq_ignore_ascii_case("localhost"),
            }
        });
        if !loopback {
            return Err(bad(
                "the load harness only targets loopback (127.0.0.0/8, ::1, localhost)",
            ));
        }
        let mut base = parsed;
        base.set_path("");
        base.set_query(None);
        base.set_fragment(None);
        Ok(Target {
            base,
            token: None,
            spawned: None,
        })
    }

    /// Sends `token` as the bearer token (HTTP) and `access_token` (WebSocket).
    #[must_use]
    pub fn with_token(mut self, token: Option<String>) -> Target {
        self.token = token;
        self
    }

    /// The bearer token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The HTTP URL of `path` (which starts with `/`).
    pub fn http_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// The WebSocket URL of `path`, with the token as `access_token` when one is set.
    pub fn ws_url(&self, path: &str) -> String {
        let http = self.http_url(path);
        let ws = http.replacen("http://", "ws://", 1);
        match &self.token {
            Some(t) => format!("{ws}?access_token={t}"),
            None => ws,
        }
    }

    /// `in-process gateway at http://…` or the URL given.
    pub fn describe(&self) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        match &self.spawned {
            Some(_) => format!("in-process gateway at {base} (SQLite log in a temp dir)"),
            None => base.to_owned(),
        }
    }

    /// Stops a spawned gateway gracefully (last group committed, log closed) and removes its
    /// data. Does nothing for a remote one.
    ///
    /// # Errors
    /// [`LoadError::Spawn`] when the gateway reported an error while running or stopping.
    pub async fn shutdown(mut self) -> Result<(), LoadError> {
        let Some(mut spawned) = self.spawned.take() else {
            return Ok(());
        };
        if let Some(stop) = spawned.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = spawned.thread.take() else {
            return Ok(());
        };
        let joined = tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| LoadError::Spawn(format!("waiting for the gateway: {e}")))?;
        match joined {
            Ok(result) => result.map_err(LoadError::Spawn),
            Err(_) => Err(LoadError::Spawn("the gateway thread panicked".into())),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Not shut down explicitly (an error path): still ask the gateway to stop.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The gateway thread: its own runtime, so the load generator's tasks and the gateway's do
/// not share one scheduler (they still share the machine's cores).
fn serve(
    config: Config,
    ready: oneshot::Sender<Result<SocketAddr, String>>,
    stopped: oneshot::Receiver<()>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("voicetk-gateway-rt")
        .build()
        .map_err(|e| format!("building the gateway runtime: {e}"))?;
    runtime.block_on(async move {
        let started = async {
            let server = Server::open(config, Vec::new())
                .await
                .map_err(|e| e.to_string())?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("reading the listen address: {e}"))?;
            Ok::<_, String>((server, listener, addr))
        };
        let (server, listener, addr) = match started.await {
            Ok(s) => s,
            Err(message) => {
                let _ = ready.send(Err(message.clone()));
                return Err(message);
            }
        };
        let _ = ready.send(Ok(addr));
        server
            .run(listener, async {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("the gateway stopped with an error: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_targets_are_accepted() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.9.0.1:1/v1/ignored?x=1",
            "http://localhost:8080/",
            "http://LOCALHOST:80",
            "http://[::1]:8080",
        ] {
            assert!(Target::remote(url).is_ok(), "{url}");
        }
        for url in [
            "https://127.0.0.1:8443",
            "http://10.0.0.5:8080",
            "http://192.168.1.20",
            "http://example.com",
            "http://[2001:db8::1]:8080",
            "not a url",
        ] {
            assert!(
                matches!(Target::remote(url), Err(LoadError::BadTarget { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn urls_keep_only_scheme_host_and_port() {
        let target = Target::remote("http://127.9.0.1:1/v1/ignored?x=1")
            .map(|t| t.with_token(Some("s3cret-token-0123".into())));
        let Ok(target) = target else {
            panic!("loopback refused")
        };
        assert_eq!(
            target.http_url("/v1/events"),
            "http://127.9.0.1:1/v1/events"
        );
        assert_eq!(
            target.ws_url("/v1/ws"),
            "ws://127.9.0.1:1/v1/ws?access_token=s3cret-token-0123"
        );
        assert_eq!(target.describe(), "http://127.9.0.1:1");
    }
}
