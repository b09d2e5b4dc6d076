//! Builds the sources named by `--source SPEC` / `sources = [..]` from their specs.
//!
//! - `simulator` — the scenario simulator (`mixed` calls for `agent-1`, one every 2 s on
//!   average), or `simulator:KEY=VALUE,...` with keys `scenario`, `rate`, `agents` (separated
//!   by `|`), `seed`, `speed` (time scale) and `calls`.
//! - `baresip:HOST:PORT` — a baresip softphone's ctrl_tcp socket (not in this build yet).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use voicetk_server::config::Config;
use voicetk_sources::Source;
use voicetk_sources::simulator::{Simulator, SimulatorConfig};

/// Builds one source from its spec.
///
/// # Errors
/// A message naming what is wrong with the spec, or that the source is not available yet.
pub fn build(spec: &str, config: &Config) -> Result<Arc<dyn Source>, String> {
    let (kind, params) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "simulator" => Ok(Arc::new(simulator(params, config)?)),
        "baresip" => Err("the baresip source is not available in this build yet".into()),
        other => Err(format!(
            "unknown source {other:?}; expected simulator[:KEY=VALUE,..] or baresip:HOST:PORT"
        )),
    }
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
        assert!(build("baresip:127.0.0.1:4444", &config).is_err());
        assert!(build("carrier-pigeon", &config).is_err());
    }
}
