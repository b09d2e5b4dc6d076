//! Builds the sources named by `--source SPEC` / `sources = [..]` from their specs.
//!
//! - `simulator` — the scenario simulator (`mixed` calls for `agent-1`, one every 2 s on
//!   average), or `simulator:KEY=VALUE,...` with keys `scenario`, `rate`, `agents` (separated
//!   by `|`), `seed`, `speed` (time scale) and `calls`.
//! - `baresip:HOST:PORT` — a baresip softphone's ctrl_tcp socket; its account is the agent,
//!   its telephony and AUDIO_STATS interval follow the gateway's (see `docs/sources/baresip.md`).
//! - `scv` — a Salesforce SCV partner connector's `publishEvent`s, POSTed to
//!   `/v1/sources/scv` with a `publish` token (see `docs/sources/scv.md`).
//! - `amazon-connect` or `amazon-connect:agent=id|arn` — Amazon Connect contact events from an
//!   EventBridge API destination, at `/v1/sources/amazon-connect` with a `publish` token; agents
//!   named by the id in their ARN (default) or the whole ARN (see `docs/sources/amazon-connect.md`).
//! - `twilio` or `twilio:auth_token_file=PATH,url=URL` — Twilio Voice status callbacks at
//!   `/v1/sources/twilio`, checked with `X-Twilio-Signature`; the auth token comes from the
//!   file, else from `TWILIO_AUTH_TOKEN` (no token, no start); `url` is the public URL Twilio
//!   calls, when a proxy hides it (see `docs/sources/twilio.md`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use voicetk_server::config::Config;
use voicetk_sources::Source;
use voicetk_sources::amazon_connect::{AgentNaming, AmazonConnect};
use voicetk_sources::baresip::{Baresip, BaresipConfig};
use voicetk_sources::scv::Scv;
use voicetk_sources::simulator::{Simulator, SimulatorConfig};
use voicetk_sources::twilio::Twilio;

/// Builds one source from its spec.
///
/// # Errors
/// A message naming what is wrong with the spec, or that the source is not available yet.
pub fn build(spec: &str, config: &Config) -> Result<Arc<dyn Source>, String> {
    let (kind, params) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "simulator" => Ok(Arc::new(simulator(params, config)?)),
        "baresip" => Ok(Arc::new(baresip(params, config)?)),
        "scv" => scv(params),
        "amazon-connect" => amazon_connect(params),
        "twilio" => twilio(params, std::env::var("TWILIO_AUTH_TOKEN").ok()),
        other => Err(format!(
            "unknown source {other:?}; expected simulator[:KEY=VALUE,..], baresip:HOST:PORT, \
             scv, amazon-connect[:agent=id|arn] or twilio[:auth_token_file=PATH,url=URL]"
        )),
    }
}

/// `KEY=VALUE,...` pairs of a source spec.
fn settings<'a>(
    source: &str,
    params: &'a str,
) -> impl Iterator<Item = Result<(&'a str, &'a str), String>> {
    let source = source.to_owned();
    params
        .split(',')
        .filter(|p| !p.is_empty())
        .map(move |pair| {
            pair.split_once('=')
                .ok_or_else(|| format!("{source}: {pair:?}: expected KEY=VALUE"))
        })
}

/// The SCV webhook source; it takes no settings.
fn scv(params: &str) -> Result<Arc<dyn Source>, String> {
    if !params.is_empty() {
        return Err(format!(
            "scv takes no settings, found {params:?}; the agent and call come with each request"
        ));
    }
    Ok(Arc::new(Scv::new()))
}

/// The Amazon Connect webhook source: `agent=id` (default) or `agent=arn`.
fn amazon_connect(params: &str) -> Result<Arc<dyn Source>, String> {
    let mut naming = AgentNaming::Id;
    for pair in settings("amazon-connect", params) {
        naming = match pair? {
            ("agent", "id") => AgentNaming::Id,
            ("agent", "arn") => AgentNaming::Arn,
            ("agent", other) => {
                return Err(format!(
                    "amazon-connect agent={other:?}: expected id or arn"
                ));
            }
            (other, _) => {
                return Err(format!(
                    "unknown amazon-connect setting {other:?}; expected agent"
                ));
            }
        };
    }
    Ok(Arc::new(AmazonConnect::new(naming)))
}

/// The Twilio webhook source: the auth token from `auth_token_file`, else `env_token`
/// (`TWILIO_AUTH_TOKEN`); `url` the public URL Twilio calls.
fn twilio(params: &str, env_token: Option<String>) -> Result<Arc<dyn Source>, String> {
    let mut token = None;
    let mut url = None;
    for pair in settings("twilio", params) {
        match pair? {
            ("auth_token_file", path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("twilio auth_token_file={path:?}: cannot read it: {e}"))?;
                token = Some(text.trim().to_owned());
            }
            ("url", u) => url = Some(u.to_owned()),
            (other, _) => {
                return Err(format!(
                    "unknown twilio setting {other:?}; expected auth_token_file or url"
                ));
            }
        }
    }
    let token = token.or(env_token).unwrap_or_default();
    Ok(Arc::new(
        Twilio::new(token, url).map_err(|e| e.to_string())?,
    ))
}

/// The baresip source for a gateway: the events it sends follow the gateway's telephony, and
/// its AUDIO_STATS the gateway's interval.
fn baresip(addr: &str, config: &Config) -> Result<Baresip, String> {
    let source = BaresipConfig {
        telephony: config.telephony,
        audio_interval: config.audio_stats_interval,
        ..BaresipConfig::new(addr)
    };
    Baresip::new(source).map_err(|e| e.to_string())
}

/// The simulator for a gateway: its telephony and AUDIO_STATS interval follow the gateway's,
/// and its seed changes with every start (the same seed would replay call and event ids the
/// log already holds).
fn simulator(params: &str, config: &Config) -> Result<Simulator, String> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut sim = SimulatorConfig {
        seed,
        telephony: config.telephony,
        audio_interval: config.audio_stats_interval,
        ..SimulatorConfig::default()
    };
    for pair in params.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: expected KEY=VALUE"))?;
        let number = |what: &str| format!("{key}={value:?}: expected {what}");
        match key {
            "scenario" => sim.scenario = value.to_owned(),
            "rate" => {
                sim.rate = value
                    .parse()
                    .map_err(|_| number("calls per second, e.g. 0.5"))?
            }
            "agents" => sim.agents = value.split('|').map(str::to_owned).collect(),
            "seed" => sim.seed = value.parse().map_err(|_| number("a whole number"))?,
            "speed" => {
                sim.time_scale = value.parse().map_err(|_| number("a time scale, e.g. 10"))?
            }
            "calls" => sim.calls = Some(value.parse().map_err(|_| number("a whole number"))?),
            other => {
                return Err(format!(
                    "unknown simulator setting {other:?}; expected scenario, rate, agents, seed, speed or calls"
                ));
            }
        }
    }
    Simulator::new(sim).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_specs() {
        let config = Config::default();
        assert!(build("simulator", &config).is_ok());
        assert!(
            build(
                "simulator:rate=2,agents=ana|ben,speed=10,scenario=hold-resume",
                &config
            )
            .is_ok()
        );
        let err = build("simulator:rate=fast", &config)
            .err()
            .unwrap_or_default();
        assert!(err.contains("rate=\"fast\""), "{err}");
        let err = build("simulator:colour=blue", &config)
            .err()
            .unwrap_or_default();
        assert!(err.contains("unknown simulator setting"), "{err}");
        assert!(build("simulator:scenario=no-such-scenario", &config).is_err());
        let baresip = build("baresip:127.0.0.1:4444", &config).map(|s| s.name().to_owned());
        assert_eq!(baresip, Ok("baresip:127.0.0.1:4444".to_owned()));
        let err = build("baresip:localhost", &config)
            .err()
            .unwrap_or_default();
        assert!(err.contains("expected HOST:PORT"), "{err}");
        assert!(build("baresip", &config).is_err());
        assert!(build("carrier-pigeon", &config).is_err());
    }

    #[test]
    fn webhook_specs() -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::default();
        let path = |s: &Arc<dyn Source>| s.webhook().map(|w| w.path().to_owned());
        assert_eq!(path(&build("scv", &config)?), Some("scv".into()));
        assert!(build("scv:x=1", &config).is_err());
        assert_eq!(
            path(&build("amazon-connect:agent=arn", &config)?),
            Some("amazon-connect".into())
        );
        let err = build("amazon-connect:agent=name", &config)
            .err()
            .unwrap_or_default();
        assert!(err.contains("expected id or arn"), "{err}");
        // Twilio: no token, no start; the file wins over the environment.
        let err = twilio("", None).err().unwrap_or_default();
        assert!(err.contains("TWILIO_AUTH_TOKEN"), "{err}");
        let twilio_source = twilio(
            "url=https://voice.example.com/v1/sources/twilio",
            Some("t".into()),
        )?;
        let webhook = twilio_source.webhook().ok_or("a webhook")?;
        assert_eq!(
            webhook.public_url(),
            Some("https://voice.example.com/v1/sources/twilio")
        );
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n")?;
        let spec = format!("auth_token_file={}", file.display());
        assert!(twilio(&spec, None).is_ok());
        let err = twilio("auth_token_file=/no/such/file", Some("t".into()))
            .err()
            .unwrap_or_default();
        assert!(err.contains("cannot read it"), "{err}");
        let err = twilio("url=voice.example.com", Some("t".into()))
            .err()
            .unwrap_or_default();
        assert!(err.contains("absolute http(s) URL"), "{err}");
        assert!(twilio("colour=blue", Some("t".into())).is_err());
        Ok(())
    }
}
