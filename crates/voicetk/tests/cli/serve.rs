//! `voicetk serve`, `tail` and `calls` as a user runs them.

use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::process::{ServeProcess, voicetk};

async fn post(url: &str, lines: &[Value]) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let r = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
}

fn flow(call: &str) -> Vec<Value> {
    vec![
        json!({"type":"CALL_STARTED","detail":{"callId":call,"callType":"inbound","participant":"+1 415 555 0100"}}),
        json!({"type":"CALL_CONNECTED","detail":{"callId":call,"callType":"inbound","participant":"+1 415 555 0100"}}),
        json!({"type":"HOLD","detail":{"callId":call,"participant":"+1 415 555 0100"}}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_and_calls_print_what_the_gateway_holds() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path(), &[]);
    post(&server.url, &flow("t1")).await;

    let out = tokio::task::spawn_blocking({
        let url = server.url.clone();
        move || {
            voicetk()
                .args(["tail", "--server", &url, "--after", "1", "--count", "2"])
                .stdin(Stdio::null())
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["seq"].as_u64(), lines[0]["type"].as_str()),
        (Some(2), Some("CALL_CONNECTED"))
    );
    assert_eq!(
        (lines[1]["seq"].as_u64(), lines[1]["type"].as_str()),
        (Some(3), Some("HOLD"))
    );

    let out = voicetk()
        .args(["calls", "--server", &server.url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["calls"][0]["callId"], "t1");
    assert_eq!(v["calls"][0]["participants"][0]["onHold"], true);
    let out = voicetk()
        .args(["calls", "--server", &server.url, "t1"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 3);
    let out = voicetk()
        .args(["calls", "--server", &server.url, "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown_call"));
    // Nothing listening: a clear error, exit 1.
    let out = voicetk()
        .args(["calls", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_streams_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path(), &[]);
    post(&server.url, &flow("g1")).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/v1/ws",
        server.url.replace("http://", "ws://")
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({"op":"subscribe","after":0}).to_string().into(),
    ))
    .await
    .unwrap();
    for _ in 0..3 {
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap();
    }
    let url = server.url.clone();
    let status = tokio::task::spawn_blocking(move || server.terminate(Duration::from_secs(15)))
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut code = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Ok(Message::Close(Some(frame))) = msg {
            code = Some(u16::from(frame.code));
            break;
        }
    }
    assert_eq!(code, Some(1001), "going-away close frame");
    // Restarted on the same data: the call is still on hold.
    let server = ServeProcess::start(dir.path(), &[]);
    let v: Value = reqwest::get(format!("{}/v1/calls/g1", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["call"]["participants"][0]["onHold"], true);
    drop(url);
}

#[test]
fn serve_refuses_a_public_address_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let out = voicetk()
        .args(["serve", "--addr", "0.0.0.0:0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires auth tokens"));
}

#[test]
fn serve_reads_a_config_file_and_reports_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("voicetk.toml");
    std::fs::write(&path, "telephony = \"cloud\"\n").unwrap();
    let out = voicetk()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("voicetk.toml") && err.contains("telephony"),
        "{err}"
    );
}

#[test]
fn simulate_prints_deterministic_valid_ndjson() {
    let run = |args: &[&str]| voicetk().arg("simulate").args(args).output().unwrap();
    let a = run(&["--calls", "5", "--seed", "42"]);
    let b = run(&["--calls", "5", "--seed", "42"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "same seed, same events");
    let text = String::from_utf8(a.stdout).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "CALL_ENDED").count(),
        5
    );
    // What the simulator prints is a valid sequence for the strict call model.
    let mut validate = voicetk()
        .args(["validate", "--sequence"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut validate.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = validate.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = run(&["--list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("warm-transfer"));
    let bad = run(&["no-such-scenario"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_simulated_calls_and_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = voicetk()
        .args([
            "demo",
            "--addr",
            "127.0.0.1:0",
            "--speed",
            "50",
            "--rate",
            "5",
            "--data",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        std::thread::spawn(move || for _ in lines {});
        first
    })
    .await
    .unwrap();
    let url = first
        .strip_prefix("voicetk listening on ")
        .unwrap()
        .to_owned();
    // Simulated calls arrive through the real pipeline.
    let mut seen = 0;
    for _ in 0..100 {
        let v: Value = reqwest::get(format!("{url}/v1/events?limit=1000"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen = v["events"].as_array().unwrap().len();
        if seen >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen >= 10,
        "the simulator should have produced events, saw {seen}"
    );
    let page = reqwest::get(format!("{url}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("voicetk console"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn stores_not_in_this_build_and_bad_sources_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = voicetk()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--store",
            "nats://127.0.0.1:4222",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NATS JetStream store is not available yet")
    );
    let refused = |source: &str| {
        let out = voicetk()
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--source",
                source,
                "--data",
            ])
            .arg(dir.path())
            .env_remove("TWILIO_AUTH_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{source}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused("carrier-pigeon");
    assert!(err.contains("unknown source \"carrier-pigeon\""), "{err}");
    let err = refused("baresip:no-port");
    assert!(err.contains("baresip"), "{err}");
    let err = refused("twilio");
    assert!(err.contains("TWILIO_AUTH_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_memory_store_serves_events_back_and_warns_it_keeps_nothing() {
    use std::io::BufRead;

    /// The child, killed on drop even when an assertion fails.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = voicetk()
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--store",
                "memory:",
                "--data",
            ])
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        for reader in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            // Drains the pipe so the child never blocks on it.
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(reader)
                    .lines()
                    .map_while(Result::ok)
                {
                    let _ = tx.send(line);
                }
            });
        }
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let url = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no listening line within 30 s; output: {seen:?}"));
            if let Some(url) = line.strip_prefix("voicetk listening on ") {
                break url.to_owned();
            }
            seen.push(line);
        };
        (Child(child), url, seen)
    };

    let (child, url, stderr) = start();
    // The warning is logged before the gateway listens.
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("WARN") && l.contains("NOT durable")),
        "{stderr:?}"
    );
    post(&url, &flow("m1")).await;
    let v: Value = reqwest::get(format!("{url}/v1/events?after=0"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got: Vec<(Option<u64>, Option<&str>)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["seq"].as_u64(), e["type"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(1), Some("CALL_STARTED")),
            (Some(2), Some("CALL_CONNECTED")),
            (Some(3), Some("HOLD")),
        ]
    );
    assert_eq!(v["events"][2]["detail"]["callId"], "m1");
    // Nothing went to disk, and a restart starts from an empty log.
    assert!(!dir.path().join("events.db").exists());
    drop(child);
    let (_child, url, _) = start();
    let v: Value = reqwest::get(format!("{url}/v1/events?after=0"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["events"].as_array().map(Vec::len), Some(0), "{v}");
}
