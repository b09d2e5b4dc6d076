//! Builds the sources named by `--source` / `sources = [..]`.

use std::sync::Arc;

use voicetk_server::config::Config;
use voicetk_sources::Source;

/// Builds one source from its spec.
///
/// # Errors
/// A message naming what is wrong with the spec, or that the source is not available yet.
pub fn build(spec: &str, config: &Config) -> Result<Arc<dyn Source>, String> {
    let _ = config;
    match spec.split_once(':').map_or(spec, |(kind, _)| kind) {
        "baresip" => Err("the baresip source is not available yet in this build".into()),
        other => Err(format!(
            "unknown source {other:?}; expected simulator or baresip:HOST:PORT"
        )),
    }
}
