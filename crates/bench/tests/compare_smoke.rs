//! `voicetk-bench --smoke` end to end: real voicetk, nats-server and raw-writer processes on
//! loopback, a handful of subscribers, half-second steps. Checks that the harness runs and
//! that its checks hold (every delivery received, no gap, voicetk resumes without loss),
//! never how fast anything is.
//!
//! Needs the `voicetk` binary next to `voicetk-bench` (the workspace's test build makes it)
//! and nats-server (`scripts/setup` installs it). Under `CI=true` a missing nats-server is a
//! failure; elsewhere nats is left out with a notice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

fn nats_available() -> bool {
    // Where the harness itself looks (PATH, then /usr/sbin).
    let found = Command::new(voicetk_bench::compare::Programs::find().nats_server)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nats-server is not installed (apt-get install nats-server; scripts/setup does it)"
        );
        eprintln!("NOTICE: nats-server not installed; the smoke run leaves it out");
    }
    found
}

/// Runs the smoke harness on `scenarios` and returns its JSON report.
fn smoke(scenarios: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let peers = if nats_available() {
        "voicetk,voicetk-memory,nats,raw"
    } else {
        "voicetk,voicetk-memory,raw"
    };
    let out = Command::new(env!("CARGO_BIN_EXE_voicetk-bench"))
        .args([
            "--smoke",
            "--quiet",
            "--scenarios",
            scenarios,
            "--peers",
            peers,
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "voicetk-bench failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("## Targets"), "{stdout}");
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

fn peers<'a>(report: &'a Value, scenario: &str) -> &'a Vec<Value> {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == scenario)
        .unwrap_or_else(|| panic!("no {scenario} in {report}"))["peers"]
        .as_array()
        .unwrap()
}

/// Every step of every peer received every delivery exactly once.
fn assert_complete(report: &Value, scenario: &str) {
    let peers = peers(report, scenario);
    assert!(peers.len() >= 3, "{peers:?}");
    for p in peers {
        assert_eq!(p["note"], Value::Null, "{p}");
        let steps = p["steps"].as_array().unwrap();
        assert!(!steps.is_empty(), "{p}");
        for s in steps {
            assert!(s["expected"].as_u64().unwrap() > 0, "{s}");
            assert_eq!(s["received"], s["expected"], "{}: {s}", p["peer"]);
            assert_eq!(s["gaps"], 0, "{}: {s}", p["peer"]);
            assert_eq!(s["duplicates"], 0, "{}: {s}", p["peer"]);
            assert_eq!(s["publish_errors"], 0, "{}: {s}", p["peer"]);
            assert!(s["latency"]["count"].as_u64().unwrap() > 0, "{s}");
            assert!(s["server_rss_bytes"].as_u64().unwrap() > 0, "{s}");
        }
        assert!(p["rss_per_subscriber_bytes"].is_number(), "{p}");
    }
}

#[test]
fn fan_out_and_per_call_deliver_everything_to_every_peer() {
    let report = smoke("fanout-small,per-call");
    assert_complete(&report, "fanout-small");
    assert_complete(&report, "per-call");
    // The per-call subscribers each watch one of the calls: every call has its subscriber.
    let vt = &peers(&report, "per-call")[0];
    assert_eq!(vt["peer"], "voicetk");
    assert_eq!(report["scale"]["calls"], 10);
}

#[test]
fn durable_ingest_is_acknowledged_by_voicetk_and_jetstream() {
    let report = smoke("ingest");
    for p in peers(&report, "ingest") {
        if p["peer"] == "raw" {
            assert!(
                p["note"].as_str().unwrap().contains("not applicable"),
                "{p}"
            );
            continue;
        }
        assert_eq!(p["note"], Value::Null, "{p}");
        assert!(p["ingest_acked"].as_u64().unwrap() > 0, "{p}");
        assert!(
            p["ingest_ack_latency"]["count"].as_u64().unwrap() > 0,
            "{p}"
        );
    }
}

#[test]
fn voicetk_resumes_a_reconnect_storm_without_loss_and_survives_a_stalled_subscriber() {
    let report = smoke("reconnect,stalled");
    for p in peers(&report, "reconnect") {
        let step = &p["steps"][0];
        assert!(p["resubscribe_s"].is_number(), "{p}");
        if p["peer"].as_str().unwrap().starts_with("voicetk") {
            // Resumed after the last seq seen: nothing lost, nothing twice.
            assert_eq!(step["received"], step["expected"], "{p}");
            assert_eq!(step["gaps"], 0, "{p}");
            assert_eq!(step["duplicates"], 0, "{p}");
        } else {
            // No resume: whatever was lost is counted as a gap, never silently.
            assert_eq!(
                step["received"].as_u64().unwrap() + step["gaps"].as_u64().unwrap(),
                step["expected"].as_u64().unwrap(),
                "{p}"
            );
        }
    }
    assert_complete(&report, "stalled");
    let targets = report["targets"].as_array().unwrap();
    let storm = targets
        .iter()
        .find(|t| t["target"].as_str().unwrap().starts_with("reconnect storm"))
        .unwrap();
    assert_eq!(storm["met"], true, "{storm}");
}
