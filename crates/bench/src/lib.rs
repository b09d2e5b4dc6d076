//! voicetk's performance tooling: realistic event workloads, the criterion benchmarks'
//! shared inputs, and the `voicetk-load` harness that drives a real gateway over loopback.
//!
//! # Example
//! ```
//! use voicetk_bench::{Workload, WorkloadConfig, to_bytes};
//! use voicetk_engine::{Engine, EngineConfig};
//! use voicetk_events::{ParseOptions, parse_event};
//!
//! // 500 events from 20 concurrent calls: every one is valid for a strict engine.
//! let mut workload = Workload::new(WorkloadConfig { concurrent_calls: 20, ..WorkloadConfig::default() });
//! let mut engine = Engine::new(EngineConfig::default());
//! for event in workload.take_events(500) {
//!     let envelope = parse_event(&to_bytes(&event), &ParseOptions::default())?;
//!     engine.apply(envelope, jiff::Timestamp::UNIX_EPOCH)?;
//! }
//! assert_eq!(engine.last_seq(), 500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! - [`Workload`] / [`CallFlow`]: engine-valid streams of all 15 event types, with
//!   realistic payload sizes (`callAttributes`, `AUDIO_STATS` every interval).
//! - [`LatencyRecorder`]: HdrHistogram percentiles.
//! - [`load`]: the `ingest` and `fanout` runs of `voicetk-load`.
//! - [`compare`]: `voicetk-bench`, voicetk side by side with nats-server and a raw writer
//!   (`BENCHMARKS.md` at the repository root).
//! - `benches/wire.rs`, `benches/log.rs`: criterion benchmarks; `src/bin/voicetk-call-memory.rs`:
//!   memory per tracked call. See `README.md` next to `Cargo.toml` for how to run each.
//!
//! Speed is measured here, never asserted in tests: the tests check behaviour only.

pub mod compare;
mod latency;
pub mod load;
mod workload;

pub use latency::{LatencyRecorder, LatencySummary};
pub use workload::{CallFlow, Workload, WorkloadConfig, to_bytes, typical_call};
