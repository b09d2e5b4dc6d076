//! `voicetk.toml`: the gateway's typed configuration, validated at start-up.
//!
//! Every command-line flag of `voicetk serve` has an equivalent here; flags override the file.
//! Durations are written the human way (`"30s"`, `"10m"`, `"7days"`).
//!
//! ```toml
//! addr = "127.0.0.1:8080"
//! data = "/var/lib/voicetk"
//! telephony = "partner"          # or "native"
//! lenient = false
//! audio_stats_interval = "30s"
//! sources = ["simulator"]
//!
//! [limits]
//! rate_per_second = 2000.0
//!
//! [retention]
//! max_age = "30days"
//!
//! [[auth.tokens]]
//! name = "alice-desktop"
//! token = "change-me-to-a-long-random-string"
//! roles = ["subscribe", "control"]
//! agent = "alice"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use voicetk_events::TelephonyKind;

use crate::auth::Role;

/// The whole configuration of `voicetk serve`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default is `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// Folder for the embedded store. Default is a `voicetk` folder in the platform data
    /// directory (`~/.local/share/voicetk` on Linux).
    pub data: Option<PathBuf>,
    /// Where the log lives: `sqlite:PATH` (a folder), `nats://HOST:PORT`, or `memory:` (in RAM
    /// only, lost on exit: for benchmarks and tests). Default is SQLite in [`data`](Self::data).
    pub store: Option<String>,
    /// Which telephony's catalogue applies. Default is partner.
    pub telephony: TelephonyKind,
    /// Accept events that break the call model, marked with `warnings`. Default is false.
    pub lenient: bool,
    /// AUDIO_STATS aggregation interval. Default is 30 s.
    #[serde(with = "duration")]
    pub audio_stats_interval: Duration,
    /// Event sources to start: `simulator`, `baresip:HOST:PORT`, webhook sources.
    pub sources: Vec<String>,
    /// Web origins (`https://acme.lightning.force.com`) whose pages may call the API from the
    /// browser (CORS), e.g. a Salesforce org running the JS client. `"*"` allows any origin
    /// (tokens still apply). Default: none, only same-origin pages (the console).
    pub cors_origins: Vec<String>,
    /// Sizes, rates and timeouts.
    pub limits: Limits,
    /// How long the log keeps events.
    pub retention: RetentionConfig,
    /// Who may do what.
    pub auth: AuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: None,
            store: None,
            telephony: TelephonyKind::Partner,
            lenient: false,
            audio_stats_interval: Duration::from_secs(30),
            sources: Vec::new(),
            cors_origins: Vec::new(),
            limits: Limits::default(),
            retention: RetentionConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// Sizes, rates and timeouts. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body in bytes (413 above). Default is 8 MiB.
    pub max_body_bytes: usize,
    /// Largest single event payload in bytes. Default is 64 KiB.
    pub max_payload_bytes: usize,
    /// Most events in one `POST /v1/events` batch. Default is 10,000.
    pub max_batch_events: usize,
    /// Requests per second allowed on one connection (429 above). Default is 2,000.
    pub rate_per_second: f64,
    /// Burst of requests allowed above the rate on one connection. Default is 4,000.
    pub rate_burst: f64,
    /// Events buffered per live subscriber before it counts as lagging. Default is 1,024.
    pub subscriber_buffer: usize,
    /// Longest wait for the event confirming an action (504 after). Default is 10 s.
    #[serde(with = "duration")]
    pub action_timeout: Duration,
    /// Interval between heartbeats on WebSocket and SSE streams. Default is 15 s.
    #[serde(with = "duration")]
    pub heartbeat: Duration,
    /// Longest a WebSocket or SSE client may take to accept one frame before it is closed as
    /// stalled. Default is 30 s.
    #[serde(with = "duration")]
    pub send_timeout: Duration,
    /// Most simultaneous connections. Default is 10,000.
    pub max_connections: usize,
    /// Longest graceful shutdown before connections are dropped. Default is 10 s.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_payload_bytes: voicetk_events::DEFAULT_MAX_PAYLOAD_BYTES,
            max_batch_events: 10_000,
            rate_per_second: 2_000.0,
            rate_burst: 4_000.0,
            subscriber_buffer: 1_024,
            action_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(15),
            send_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// How long the log keeps events. Default: keep everything.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Drop events older than this.
    #[serde(with = "opt_duration")]
    pub max_age: Option<Duration>,
    /// Keep at most this many events.
    pub max_events: Option<u64>,
}

/// Bearer tokens. With none configured, only a loopback address may be used.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The accepted tokens.
    pub tokens: Vec<TokenConfig>,
}

/// One bearer token and what it may do.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (never the token itself). Default is `token-N`.
    #[serde(default)]
    pub name: Option<String>,
    /// The secret. At least 16 characters.
    pub token: String,
    /// What it may do: `publish`, `subscribe`, `control`, `admin`.
    pub roles: Vec<Role>,
    /// Restricts the token to one agent's calls.
    #[serde(default)]
    pub agent: Option<String>,
}

/// Where the event log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// Embedded SQLite in this folder.
    Sqlite(PathBuf),
    /// NATS JetStream at this URL.
    Nats(String),
    /// In memory only (`memory:`): not durable, every event is lost on exit. For benchmarks
    /// (the same path with the store's cost removed) and tests.
    Memory,
}

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, with the line.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Parses TOML text. `origin` names the file in errors.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] with the TOML parser's message (line and column included).
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Where the log lives, from `store` and `data`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a `store` that is not `sqlite:PATH`, `nats://…` or exactly
    /// `memory:`, or when no platform data directory exists and `data` is not set.
    pub fn store(&self) -> Result<Store, ConfigError> {
        match self.store.as_deref() {
            Some(s) if s.starts_with("sqlite:") => {
                let path = &s["sqlite:".len()..];
                if path.is_empty() {
                    return Err(ConfigError::Invalid(
                        "store \"sqlite:\" needs a path".into(),
                    ));
                }
                Ok(Store::Sqlite(PathBuf::from(path)))
            }
            Some(s) if s.starts_with("nats://") => Ok(Store::Nats(s.to_owned())),
            Some("memory:") => Ok(Store::Memory),
            Some(other) => Err(ConfigError::Invalid(format!(
                "store {other:?}: expected sqlite:PATH, nats://HOST:PORT or memory:"
            ))),
            None => match &self.data {
                Some(dir) => Ok(Store::Sqlite(dir.clone())),
                None => platform_data_dir("voicetk").map(Store::Sqlite),
            },
        }
    }

    /// Checks everything that can be checked before starting.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the field: a non-loopback `addr` without tokens, a short
    /// or duplicate token, a token without roles, zero limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !self.addr.ip().is_loopback() && self.auth.tokens.is_empty() {
            return invalid(format!(
                "addr {}: listening beyond loopback requires auth tokens ([[auth.tokens]] in the \
                 config file); use 127.0.0.1 or ::1 for an open local gateway",
                self.addr
            ));
        }
        for (i, t) in self.auth.tokens.iter().enumerate() {
            let name = t.name.clone().unwrap_or_else(|| format!("token-{}", i + 1));
            if t.token.chars().count() < 16 {
                return invalid(format!(
                    "auth.tokens[{i}] ({name}): token must be at least 16 characters"
                ));
            }
            if t.roles.is_empty() {
                return invalid(format!(
                    "auth.tokens[{i}] ({name}): roles must not be empty"
                ));
            }
            if t.agent.as_deref() == Some("") {
                return invalid(format!(
                    "auth.tokens[{i}] ({name}): agent must not be empty"
                ));
            }
            if self.auth.tokens[..i].iter().any(|o| o.token == t.token) {
                return invalid(format!(
                    "auth.tokens[{i}] ({name}): the same token appears twice"
                ));
            }
        }
        for (i, origin) in self.cors_origins.iter().enumerate() {
            if origin != "*" && !is_origin(origin) {
                return invalid(format!(
                    "cors_origins[{i}]: {origin:?} is not an origin; expected scheme://host[:port] \
                     with no path, e.g. \"https://acme.lightning.force.com\", or \"*\""
                ));
            }
        }
        let l = &self.limits;
        for (name, v) in [
            ("limits.max_body_bytes", l.max_body_bytes),
            ("limits.max_payload_bytes", l.max_payload_bytes),
            ("limits.max_batch_events", l.max_batch_events),
            ("limits.subscriber_buffer", l.subscriber_buffer),
            ("limits.max_connections", l.max_connections),
        ] {
            if v == 0 {
                return invalid(format!("{name} must be greater than 0"));
            }
        }
        if !(l.rate_per_second > 0.0 && l.rate_burst >= 1.0) {
            return invalid("limits.rate_per_second must be > 0 and limits.rate_burst >= 1".into());
        }
        if self.audio_stats_interval < Duration::from_secs(1) {
            return invalid("audio_stats_interval must be at least 1s".into());
        }
        if self.retention.max_events == Some(0) {
            return invalid("retention.max_events must be greater than 0".into());
        }
        self.store()?;
        Ok(())
    }
}

/// `name` inside the platform data directory (`~/.local/share/NAME` on Linux).
///
/// # Errors
/// [`ConfigError::Invalid`] when the platform has none (then `--data DIR` is needed).
pub fn platform_data_dir(name: &str) -> Result<PathBuf, ConfigError> {
    dirs::data_dir().map(|d| d.join(name)).ok_or_else(|| {
        ConfigError::Invalid("no platform data directory found: pass --data DIR".into())
    })
}

/// Serde for durations written as `"30s"`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {s:?} ({e}); write e.g. \"30s\" or \"5m\""
            ))
        })
    }
}

/// Serde for optional durations written as `"30days"`.
mod opt_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(d).map(Some)
    }
}

/// Whether `s` is a web origin: `http(s)://host[:port]`, nothing after.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn example_in_the_docs_parses_and_validates() {
        let text = r#"
addr = "127.0.0.1:8080"
data = "/var/lib/voicetk"
telephony = "native"
audio_stats_interval = "10s"
sources = ["simulator"]
[limits]
rate_per_second = 50.0
action_timeout = "2s"
[retention]
max_age = "30days"
[[auth.tokens]]
name = "alice-desktop"
token = "change-me-to-a-long-random-string"
roles = ["subscribe", "control"]
agent = "alice"
"#;
        let c = Config::from_toml(text, Path::new("voicetk.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.telephony, TelephonyKind::Native);
        assert_eq!(c.audio_stats_interval, Duration::from_secs(10));
        assert_eq!(c.limits.action_timeout, Duration::from_secs(2));
        assert_eq!(c.limits.max_batch_events, 10_000);
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.auth.tokens[0].roles, [Role::Subscribe, Role::Control]);
        assert_eq!(c.store().unwrap(), Store::Sqlite("/var/lib/voicetk".into()));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::from_toml("adr = 1", Path::new("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("v.toml") && e.contains("adr"), "{e}");
        let e = Config::from_toml("audio_stats_interval = \"soon\"", Path::new("v.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid duration \"soon\""), "{e}");
    }

    #[test]
    fn beyond_loopback_needs_tokens() {
        let mut c = Config {
            addr: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("requires auth tokens"), "{e}");
        c.auth.tokens.push(TokenConfig {
            name: None,
            token: "short".into(),
            roles: vec![Role::Admin],
            agent: None,
        });
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("at least 16")
        );
        c.auth.tokens[0].token = "a-long-enough-secret-token".into();
        c.validate().unwrap();
        let ipv6_loopback = Config {
            addr: "[::1]:0".parse().unwrap(),
            ..Config::default()
        };
        ipv6_loopback.validate().unwrap();
    }

    #[test]
    fn store_spec() {
        let c = Config {
            store: Some("sqlite:/tmp/x".into()),
            ..Config::default()
        };
        assert_eq!(c.store().unwrap(), Store::Sqlite("/tmp/x".into()));
        let c = Config {
            store: Some("nats://127.0.0.1:4222".into()),
            ..Config::default()
        };
        assert_eq!(
            c.store().unwrap(),
            Store::Nats("nats://127.0.0.1:4222".into())
        );
        let c = Config {
            store: Some("redis://x".into()),
            ..Config::default()
        };
        assert!(c.store().is_err());
    }

    #[test]
    fn memory_store_takes_nothing_after_the_colon() {
        let with = |store: &str| Config {
            store: Some(store.into()),
            ..Config::default()
        };
        assert_eq!(with("memory:").store().unwrap(), Store::Memory);
        with("memory:").validate().unwrap();
        let from_file = Config::from_toml("store = \"memory:\"", Path::new("v.toml")).unwrap();
        assert_eq!(from_file.store().unwrap(), Store::Memory);
        for bad in ["memory:/tmp/x", "memory", "memory: ", "MEMORY:"] {
            let err = with(bad).store().unwrap_err().to_string();
            assert!(
                err.contains("store") && err.contains(&format!("{bad:?}")),
                "{bad}: {err}"
            );
            assert!(
                err.contains("sqlite:PATH")
                    && err.contains("nats://HOST:PORT")
                    && err.contains("memory:"),
                "{err}"
            );
            assert!(with(bad).validate().is_err());
        }
    }

    #[test]
    fn cors_origins_are_checked() {
        let with = |origins: &[&str]| Config {
            cors_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..Config::default()
        };
        for good in [
            "https://acme.lightning.force.com",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
            "*",
        ] {
            assert!(with(&[good]).validate().is_ok(), "{good}");
        }
        for bad in [
            "acme.lightning.force.com",
            "https://acme.example/path",
            "https://",
            "http://host:99999",
        ] {
            let err = with(&["*", bad]).validate().unwrap_err().to_string();
            assert!(err.contains("cors_origins[1]"), "{bad}: {err}");
        }
    }
}
