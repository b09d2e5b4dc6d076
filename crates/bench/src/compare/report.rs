//! The run's report: a readable table, the targets, and JSON.

use std::fmt::{self, Write as _};

use serde::Serialize;

use super::peer::PeerKind;
use super::scenario::{PeerResult, Scale, ScenarioKind, ScenarioResult, StepResult};

/// Everything one `voicetk-bench` run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// When the run started (RFC 3339).
    pub started: String,
    /// The machine: CPUs, kernel, and the pinning used.
    pub machine: String,
    /// Sizes and durations.
    pub scale: Scale,
    /// Per scenario, per peer.
    pub scenarios: Vec<ScenarioResult>,
    /// The targets, judged from this run's numbers.
    pub targets: Vec<TargetCheck>,
}

/// One target of the comparison and where voicetk stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    /// What is compared.
    pub target: String,
    /// voicetk's figure.
    pub voicetk: Option<f64>,
    /// The reference figure (a peer's, or a fixed bound).
    pub reference: Option<f64>,
    /// `voicetk / reference`.
    pub ratio: Option<f64>,
    /// Whether the target is met; `None` when a figure is missing.
    pub met: Option<bool>,
    /// How the figures were taken.
    pub detail: String,
}

fn peer(s: &ScenarioResult, kind: PeerKind) -> Option<&PeerResult> {
    s.peers.iter().find(|p| p.peer == kind.name())
}

/// The best step a peer kept up with: highest delivered/s.
fn best(p: &PeerResult) -> Option<&StepResult> {
    p.steps
        .iter()
        .filter(|s| s.kept_up)
        .max_by(|a, b| a.delivered_per_s.total_cmp(&b.delivered_per_s))
}

fn scenario(r: &[ScenarioResult], kind: ScenarioKind) -> Option<&ScenarioResult> {
    r.iter().find(|s| s.scenario == kind)
}

/// Judges the targets from the results.
pub fn judge(results: &[ScenarioResult]) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    if let Some(large) = scenario(results, ScenarioKind::FanoutLarge) {
        let v = peer(large, PeerKind::Voicetk).and_then(best);
        let n = peer(large, PeerKind::Nats).and_then(best);
        let r = peer(large, PeerKind::Raw).and_then(best);
        let vd = v.map(|s| s.delivered_per_s);
        let nd = n.map(|s| s.delivered_per_s);
        let x = ratio(vd, nd);
        // p99 compared at the highest rate both kept up with.
        fn common(p: Option<&PeerResult>, rate: f64) -> Option<&StepResult> {
            p.and_then(|p| p.steps.iter().find(|s| s.rate == rate && s.kept_up))
        }
        let vp = peer(large, PeerKind::Voicetk);
        let np = peer(large, PeerKind::Nats);
        let shared_rate = vp
            .into_iter()
            .flat_map(|p| p.steps.iter())
            .filter(|s| s.kept_up && common(np, s.rate).is_some())
            .map(|s| s.rate)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        let (p99v, p99n) = shared_rate.map_or((None, None), |rate| {
            (
                common(vp, rate).map(|s| s.latency.p99_ms),
                common(np, rate).map(|s| s.latency.p99_ms),
            )
        });
        let p99_ok = match (p99v, p99n) {
            (Some(a), Some(b)) => Some(a <= b),
            _ => None,
        };
        out.push(TargetCheck {
            target: "fan-out to 1,000: delivered/s ≥ 1.5 × nats-server WebSocket, p99 no worse"
                .into(),
            voicetk: vd,
            reference: nd,
            ratio: x,
            met: match (x, p99_ok) {
                (Some(x), Some(p)) => Some(x >= 1.5 && p),
                (Some(x), None) => Some(x >= 1.5),
                _ => None,
            },
            detail: format!(
                "best step each kept up with; p99 at {}: voicetk {} ms, nats {} ms",
                shared_rate.map_or("-".into(), |r| format!("{r} events/s")),
                p99v.map_or("-".into(), |v| format!("{v:.1}")),
                p99n.map_or("-".into(), |v| format!("{v:.1}")),
            ),
        });
        let rd = r.map(|s| s.delivered_per_s);
        let xr = ratio(vd, rd);
        out.push(TargetCheck {
            target: "fan-out to 1,000: delivered/s ≥ 1/3 of the raw writer".into(),
            voicetk: vd,
            reference: rd,
            ratio: xr,
            met: xr.map(|x| x >= 1.0 / 3.0),
            detail: "best step each kept up with".into(),
        });
        let mem = vp.and_then(|p| p.rss_per_subscriber_bytes);
        out.push(TargetCheck {
            target: "≤ 10 KiB of server RSS per idle subscriber".into(),
            voicetk: mem,
            reference: Some(10.0 * 1024.0),
            ratio: mem.map(|m| m / 10240.0),
            met: mem.map(|m| m <= 10240.0),
            detail: format!(
                "(RSS with 1,000 idle WebSocket subscribers − RSS with none) / 1,000; nats-server: {}",
                np.and_then(|p| p.rss_per_subscriber_bytes)
                    .map_or("-".into(), |b| format!("{:.1} KiB", b / 1024.0))
            ),
        });
    }
    if let Some(ingest) = scenario(results, ScenarioKind::Ingest) {
        let v = peer(ingest, PeerKind::Voicetk).and_then(|p| p.ingest_per_s);
        let n = peer(ingest, PeerKind::Nats).and_then(|p| p.ingest_per_s);
        let x = ratio(v, n);
        out.push(TargetCheck {
            target: "durable ingest ≥ JetStream file-store async publish".into(),
            voicetk: v,
            reference: n,
            ratio: x,
            met: x.map(|x| x >= 1.0),
            detail: "acknowledged events/s".into(),
        });
    }
    if let Some(storm) = scenario(results, ScenarioKind::Reconnect) {
        let v = peer(storm, PeerKind::Voicetk);
        let gaps = v
            .and_then(|p| p.steps.first())
            .map(|s| (s.gaps + s.duplicates) as f64);
        let complete = v
            .and_then(|p| p.steps.first())
            .map(|s| s.received >= s.expected);
        out.push(TargetCheck {
            target: "reconnect storm: no gap, no duplicate".into(),
            voicetk: gaps,
            reference: Some(0.0),
            ratio: None,
            met: gaps.zip(complete).map(|(g, c)| g == 0.0 && c),
            detail: "gaps + duplicates seen by voicetk's subscribers, every delivery received"
                .into(),
        });
    }
    if let Some(stall) = scenario(results, ScenarioKind::Stalled) {
        let v = peer(stall, PeerKind::Voicetk);
        let base = v.and_then(|p| p.steps.first()).map(|s| s.latency.p99_ms);
        let with = v.and_then(|p| p.steps.get(1)).map(|s| s.latency.p99_ms);
        let x = ratio(with, base);
        out.push(TargetCheck {
            target: "one stalled subscriber: the others' p99 does not move".into(),
            voicetk: with,
            reference: base,
            ratio: x,
            // Within 25 % or 2 ms: the noise of this machine between two steps.
            met: with.zip(base).map(|(w, b)| w <= b * 1.25 || w <= b + 2.0),
            detail: "others' p99 (ms) with the stalled subscriber vs without".into(),
        });
    }
    out
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn big(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".into(), f)
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "voicetk-bench, {} — {}", self.started, self.machine)?;
        for s in &self.scenarios {
            writeln!(f, "\n## {}: {}", s.scenario.name(), s.description)?;
            if s.scenario == ScenarioKind::Ingest {
                writeln!(
                    f,
                    "{:<15} {:>12} {:>10} {:>10} {:>10} {:>8}",
                    "peer", "acked/s", "acked", "ack p50", "ack p99", "cpu %"
                )?;
                for p in &s.peers {
                    writeln!(
                        f,
                        "{:<15} {:>12} {:>10} {:>10} {:>10} {:>8}  {}",
                        p.peer,
                        opt(p.ingest_per_s, big),
                        opt(p.ingest_acked, |v| v.to_string()),
                        opt(p.ingest_ack_latency.map(|l| l.p50_ms), ms),
                        opt(p.ingest_ack_latency.map(|l| l.p99_ms), ms),
                        opt(p.ingest_cpu_pct, |v| format!("{v:.0}")),
                        p.note.clone().unwrap_or_default()
                    )?;
                }
                continue;
            }
            writeln!(
                f,
                "{:<15} {:<9} {:>8} {:>11} {:>8} {:>8} {:>8} {:>8} {:>6} {:>5} {:>5} {:>8}",
                "peer",
                "step",
                "rate/s",
                "delivered/s",
                "ratio",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "gaps",
                "dups",
                "cpu%",
                "RSS MiB"
            )?;
            for p in &s.peers {
                for st in &p.steps {
                    writeln!(
                        f,
                        "{:<15} {:<9} {:>8} {:>11} {:>8.4} {:>8} {:>8} {:>8} {:>6} {:>5} {:>5.0} {:>8.1} {:>6.0}{}",
                        p.peer,
                        st.label,
                        big(st.rate),
                        big(st.delivered_per_s),
                        st.delivery_ratio,
                        ms(st.latency.p50_ms),
                        ms(st.latency.p99_ms),
                        ms(st.latency.p999_ms),
                        st.gaps,
                        st.duplicates,
                        st.server_cpu_pct,
                        st.server_rss_bytes as f64 / 1048576.0,
                        st.harness_cpu_pct,
                        if st.kept_up {
                            ""
                        } else {
                            "  (did not keep up)"
                        }
                    )?;
                }
                let mut extra = String::new();
                if let Some(b) = p.rss_per_subscriber_bytes {
                    let _ = write!(extra, " RSS/subscriber {:.1} KiB;", b / 1024.0);
                }
                if let Some(c) = p.connect_s {
                    let _ = write!(extra, " connect {c:.2} s;");
                }
                if let Some(r) = p.resubscribe_s {
                    let _ = write!(extra, " all resubscribed in {r:.2} s;");
                }
                if let Some(n) = &p.note {
                    let _ = write!(extra, " {n};");
                }
                if !p.lost_subscribers.is_empty() {
                    let _ = write!(extra, " lost: {};", p.lost_subscribers.join(" | "));
                }
                if !extra.is_empty() {
                    writeln!(f, "{:<15}{}", p.peer, extra)?;
                }
            }
        }
        writeln!(f, "\n## Targets")?;
        for t in &self.targets {
            writeln!(
                f,
                "{} {}: voicetk {} vs {} (ratio {}) — {}",
                match t.met {
                    Some(true) => "[met]    ",
                    Some(false) => "[not met]",
                    None => "[n/a]    ",
                },
                t.target,
                opt(t.voicetk, |v| format!("{v:.1}")),
                opt(t.reference, |v| format!("{v:.1}")),
                opt(t.ratio, |v| format!("{v:.2}")),
                t.detail
            )?;
        }
        Ok(())
    }
}
