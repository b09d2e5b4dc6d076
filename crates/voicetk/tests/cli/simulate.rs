//! `voicetk simulate` against a real `voicetk serve`: load mode with its progress report, and
//! recorded NDJSON streams replayed as scenarios.

use std::time::Duration;

use serde_json::Value;

use super::process::{ServeProcess, voicetk};

async fn history(url: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{url}/v1/events?limit=10000"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["events"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mode_sends_exactly_n_calls_and_reports_progress() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path(), &[]);
    let url = server.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        voicetk()
            .args(["simulate", "inbound-basic", "--server", &url])
            .args([
                "--calls", "4", "--rate", "20", "--speed", "100", "--seed", "9",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("4 calls ended"), "{err}");
    let events = history(&server.url).await;
    let ended = events.iter().filter(|e| e["type"] == "CALL_ENDED").count();
    assert_eq!(ended, 4, "{:?}", types(&events));
    assert!(
        err.contains(&format!("{} events sent, 0 refused", events.len())),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_stream_replays_as_a_scenario() {
    let data = tempfile::tempdir().unwrap();
    let recording = data.path().join("fixture.ndjson");
    // Record: what the simulator prints is the fixture a component test would keep.
    let printed = voicetk()
        .args(["simulate", "warm-transfer", "--calls", "1", "--seed", "5"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    std::fs::write(&recording, &printed.stdout).unwrap();
    let recorded: Vec<Value> = String::from_utf8(printed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let store = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(store.path(), &[]);
    let replay = |extra: &'static [&'static str]| {
        let url = server.url.clone();
        let path = recording.clone();
        tokio::task::spawn_blocking(move || {
            voicetk()
                .arg("simulate")
                .arg(&path)
                .args(["--server", &url, "--speed", "1000"])
                .args(extra)
                .output()
                .unwrap()
        })
    };

    let out = replay(&[]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = history(&server.url).await;
    assert_eq!(
        types(&events),
        types(&recorded),
        "replayed in recorded order"
    );
    assert_eq!(
        events[0]["detail"]["callId"],
        recorded[0]["detail"]["callId"]
    );

    // Again, as is: the recorded eventIds make it idempotent, nothing new is stored.
    let out = replay(&[]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(history(&server.url).await.len(), recorded.len());

    // With fresh ids it opens a new call.
    let out = replay(&["--fresh-ids", "--seed", "2"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = history(&server.url).await;
    assert_eq!(events.len(), 2 * recorded.len());
    let fresh = format!("{}~2", recorded[0]["detail"]["callId"].as_str().unwrap());
    assert_eq!(events[recorded.len()]["detail"]["callId"], fresh.as_str());

    // A broken recording is refused before anything is sent, naming the line.
    let broken = store.path().join("broken.ndjson");
    std::fs::write(&broken, "{\"type\":\"HOLD\",\"detail\":{}}\n").unwrap();
    let out = voicetk()
        .arg("simulate")
        .arg(&broken)
        .args(["--server", &server.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && err.contains("detail.callId"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[test]
fn the_example_scenario_files_make_valid_calls() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let out = voicetk()
            .arg("simulate")
            .arg(&file)
            .args(["--calls", "3", "--seed", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let ended = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"CALL_ENDED\""))
            .count();
        assert_eq!(ended, 3, "{}", file.display());
        let mut validate = voicetk()
            .args(["validate", "--sequence"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        validate
            .stdin
            .take()
            .unwrap()
            .write_all(&out.stdout)
            .unwrap();
        let checked = validate.wait_with_output().unwrap();
        assert_eq!(checked.status.code(), Some(0), "{}", file.display());
    }
}
