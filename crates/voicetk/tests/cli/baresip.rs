//! `voicetk serve --source baresip:HOST:PORT` against real baresip softphones on loopback:
//! A (the agent's softphone, driven by voicetk) calls B (answers by itself); real SIP, real
//! RTP audio, real RTCP statistics.
//!
//! Needs the `baresip` binary (Debian: `baresip-core`). Without it the tests skip with a
//! message, except under `CI=true`, where a missing baresip is a failure.

use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::process::ServeProcess;

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

/// The baresip binary, or `None` (with a message) when it is missing outside CI.
fn baresip_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("baresip"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "baresip is not installed, and CI=true requires the baresip tests to run \
             (apt-get install -y baresip-core)"
        );
        eprintln!("skipping: baresip is not installed (apt-get install -y baresip-core)");
    }
    found
}

/// A loopback port where nothing listens now, over TCP (and UDP when `udp`), in a range
/// outside Linux's ephemeral ports so outgoing connections do not take it meanwhile.
fn free_port(udp: bool, also_next: bool) -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let free = |p: u16| {
        TcpListener::bind(("127.0.0.1", p)).is_ok()
            && (!udp || UdpSocket::bind(("127.0.0.1", p)).is_ok())
    };
    for i in 0..2000u32 {
        let p = 20_000 + ((seed / 7 + i * 37) % 12_000) as u16;
        if free(p) && (!also_next || (free(p + 1) && free(p + 10) && free(p + 11))) {
            return p;
        }
    }
    panic!("no free loopback port found");
}

/// One baresip softphone, killed on drop.
struct Softphone {
    child: Child,
    dir: PathBuf,
    /// The account's AOR.
    aor: String,
    ctrl: u16,
}

impl Softphone {
    /// Writes `config` and `accounts` into `dir` and starts `baresip -f dir`; returns once its
    /// ctrl_tcp socket accepts connections.
    fn start(binary: &Path, dir: &Path, user: &str, sip: u16, ctrl: u16, auto: bool) -> Softphone {
        std::fs::create_dir_all(dir).unwrap();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip}\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aubridge.so\n\
             module ausine.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl}\n\
             audio_source ausine,440\n\
             audio_player aubridge,spk-{user}\n\
             audio_alert aubridge,alert-{user}\n\
             ausrc_srate 48000\n\
             auplay_srate 48000\n\
             ausrc_channels 2\n\
             auplay_channels 2\n\
             rtcp_mux no\n"
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let aor = format!("sip:{user}@127.0.0.1:{sip}");
        let answer = if auto { ";answermode=auto" } else { "" };
        std::fs::write(dir.join("accounts"), format!("<{aor}>;regint=0{answer}\n")).unwrap();
        let log = File::options()
            .create(true)
            .append(true)
            .open(dir.join("baresip.log"))
            .unwrap();
        let child = Command::new(binary)
            .arg("-f")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut phone = Softphone {
            child,
            dir: dir.to_owned(),
            aor,
            ctrl,
        };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", ctrl)).is_err() {
            if let Some(status) = phone.child.try_wait().unwrap() {
                panic!("baresip {user} exited ({status}):\n{}", phone.log());
            }
            assert!(
                Instant::now() < deadline,
                "baresip {user} did not open its ctrl_tcp socket within {WAIT:?}:\n{}",
                phone.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        phone
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two softphones: A (the agent, driven by voicetk) and B (answers by itself), SIP ports 10
/// apart (baresip also binds SIP port + 1 for TLS).
struct Pair {
    binary: PathBuf,
    dir: tempfile::TempDir,
    a: Softphone,
    b: Softphone,
    a_sip: u16,
    b_sip: u16,
}

impl Pair {
    fn start(binary: PathBuf) -> Pair {
        Pair::start_with(binary, true)
    }

    /// Two softphones; B answers by itself when `b_auto`, else rings until hung up.
    fn start_with(binary: PathBuf, b_auto: bool) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let a_sip = free_port(true, true);
        let b_sip = a_sip + 10;
        let a_ctrl = free_port(false, false);
        let b_ctrl = loop {
            let p = free_port(false, false);
            if p != a_ctrl {
                break p;
            }
        };
        let a = Softphone::start(&binary, &dir.path().join("a"), "a", a_sip, a_ctrl, false);
        let b = Softphone::start(&binary, &dir.path().join("b"), "b", b_sip, b_ctrl, b_auto);
        Pair {
            binary,
            dir,
            a,
            b,
            a_sip,
            b_sip,
        }
    }

    fn b_uri(&self) -> String {
        format!("sip:b@127.0.0.1:{}", self.b_sip)
    }

    fn source(&self) -> String {
        format!("baresip:127.0.0.1:{}", self.a.ctrl)
    }

    /// A source on B's softphone (the other end of A's calls).
    fn b_source(&self) -> String {
        format!("baresip:127.0.0.1:{}", self.b.ctrl)
    }

    /// Kills A and starts a new A on the same ports.
    fn restart_a(&mut self) {
        self.a.kill();
        let dir = self.dir.path().join("a");
        let ctrl = self.a.ctrl;
        self.a = Softphone::start(&self.binary, &dir, "a", self.a_sip, ctrl, false);
    }

    /// Both logs, for failure messages.
    fn logs(&self) -> String {
        format!(
            "--- baresip A ---\n{}\n--- baresip B ---\n{}",
            tail(&self.a.log()),
            tail(&self.b.log())
        )
    }
}

/// The end of a log (baresip's status line repeats a lot).
fn tail(log: &str) -> String {
    let start = log.len().saturating_sub(4000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(0);
    log[start..].to_owned()
}

/// `voicetk serve` like [`ServeProcess::start`], its log (stderr, warnings and up) written
/// to `log` so the test can read it.
fn serve_logging_to(data: &Path, extra: &[&str], log: &Path) -> ServeProcess {
    use std::io::{BufRead, BufReader};
    let mut child = super::process::voicetk()
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(WAIT)
        .expect("voicetk serve did not report its address in time");
    let url = line
        .strip_prefix("voicetk listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    ServeProcess { child, url }
}

/// The HTTP side of the test.
struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str) -> Api {
        Api {
            url: url.to_owned(),
            http: reqwest::Client::builder().timeout(WAIT).build().unwrap(),
        }
    }

    /// One call's events, oldest first.
    async fn events(&self, call_id: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/v1/events", self.url))
            .query(&[("callId", call_id), ("limit", "1000")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["events"].as_array().unwrap().clone()
    }

    /// Waits (at most [`WAIT`]) until the call's events satisfy `done`; returns them.
    async fn wait_events(
        &self,
        call_id: &str,
        what: &str,
        logs: impl Fn() -> String,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let events = self.events(call_id).await;
            if done(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}; events of {call_id}: {events:#?}\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `POST /v1/calls`, retried while the source is not connected yet (502); the new call's id.
    async fn dial(&self, number: &str, logs: impl Fn() -> String) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.post("/v1/calls", json!({"phoneNumber": number})).await;
            if status == 200 {
                return body["callId"].as_str().unwrap().to_owned();
            }
            assert!(
                status == 502 && Instant::now() < deadline,
                "dial: {status} {body}\n{}",
                logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn action(&self, call_id: &str, action: &str, body: Value) -> (u16, Value) {
        self.post(&format!("/v1/calls/{call_id}/actions/{action}"), body)
            .await
    }

    /// The source's state in `/healthz` (which lists every source).
    async fn source_state(&self, name: &str) -> String {
        let v: Value = self
            .http
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sources = v["sources"]
            .as_array()
            .unwrap_or_else(|| panic!("/healthz without `sources`: {v}"));
        let source = sources
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("/healthz does not list source {name}: {v}"));
        source["state"]
            .as_str()
            .unwrap_or_else(|| panic!("source {name} without a `state`: {v}"))
            .to_owned()
    }

    /// Waits (at most [`WAIT`]) until `/healthz` shows the source in `state`.
    async fn wait_source_state(&self, name: &str, state: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.source_state(name).await;
            if s == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "source {name} still {s:?}, not {state:?}, after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends one command straight to a softphone's ctrl_tcp socket (as its user would) and
/// returns baresip's answer.
fn ctrl(port: u16, command: &str, params: &str) -> Value {
    use std::io::{Read, Write};
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let frame = json!({"command": command, "params": params, "token": "test"}).to_string();
    write!(socket, "{}:{frame},", frame.len()).unwrap();
    let mut buf = Vec::new();
    loop {
        // Frames are `len:payload,`; events may come before the answer.
        while let Some(colon) = buf.iter().position(|b| *b == b':') {
            let len: usize = std::str::from_utf8(&buf[..colon]).unwrap().parse().unwrap();
            if buf.len() < colon + len + 2 {
                break;
            }
            let v: Value = serde_json::from_slice(&buf[colon + 1..colon + 1 + len]).unwrap();
            buf.drain(..colon + len + 2);
            if v["response"] == true {
                return v;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "baresip closed the ctrl socket before answering {command}"
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits (at most [`WAIT`]) for a CALL_STARTED not in `seen`; its call id.
async fn next_started(api: &Api, seen: &[String], logs: impl Fn() -> String) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let v: Value = api
            .http
            .get(format!(
                "{}/v1/events?types=CALL_STARTED&limit=1000",
                api.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(id) = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["detail"]["callId"].as_str())
            .find(|id| !seen.iter().any(|s| s == id))
        {
            return id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no new CALL_STARTED within {WAIT:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The call's story: its event types in order, without the periodic AUDIO_STATS.
fn story(events: &[Value]) -> Vec<&str> {
    types(events)
        .into_iter()
        .filter(|t| *t != "AUDIO_STATS")
        .collect()
}

fn has(events: &[Value], t: &str) -> bool {
    events.iter().any(|e| e["type"] == t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_call_through_baresip_dial_hold_mute_audio_stats_hang_up() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    let pair = Pair::start(binary);
    let data = tempfile::tempdir().unwrap();
    let source = pair.source();
    let server = ServeProcess::start(
        data.path(),
        &["--source", &source, "--audio-stats-interval", "2s"],
    );
    let api = Api::new(&server.url);
    let logs = || pair.logs();

    // Dial B through voicetk; B answers by itself.
    let call_id = api.dial(&pair.b_uri(), logs).await;
    let events = api
        .wait_events(&call_id, "CALL_CONNECTED", logs, |e| {
            has(e, "CALL_CONNECTED")
        })
        .await;
    assert_eq!(types(&events)[..2], ["CALL_STARTED", "CALL_CONNECTED"]);
    for e in &events[..2] {
        assert_eq!(
            e["detail"],
            json!({"callId": call_id, "callType": "outbound", "participant": pair.b_uri()}),
            "{e}"
        );
        assert_eq!(e["agent"], pair.a.aor.as_str(), "the agent is A's account");
    }
    assert_eq!(api.source_state(&source).await, "up");

    // Hold and resume the caller; mute and unmute: each answered once its event is logged.
    let b_uri = pair.b_uri();
    for (action, body, event) in [
        ("hold", json!({"participantType": "Initial_Caller"}), "HOLD"),
        (
            "resume",
            json!({"participantType": "Initial_Caller"}),
            "RESUME",
        ),
        ("mute", json!({}), "MUTE"),
        ("unmute", json!({}), "UNMUTE"),
    ] {
        let (status, body) = api.action(&call_id, action, body).await;
        assert_eq!(status, 200, "{action}: {body}\n{}", logs());
        let seq = body["seq"].as_u64().unwrap();
        let events = api.events(&call_id).await;
        let logged = events.iter().find(|e| e["seq"] == seq).unwrap();
        assert_eq!(logged["type"], event, "{logged}");
        assert_eq!(logged["agent"], pair.a.aor.as_str());
        if matches!(event, "HOLD" | "RESUME") {
            assert_eq!(
                logged["detail"],
                json!({"callId": call_id, "participant": b_uri})
            );
        } else {
            assert_eq!(logged["detail"], json!({"callId": call_id}));
        }
    }
    // The engine's state follows: muting twice is refused before baresip is asked.
    let (status, _) = api.action(&call_id, "unmute", json!({})).await;
    assert_eq!(status, 409);
    // No recording, conference or transfer on a softphone: 501.
    let (status, body) = api.action(&call_id, "pause-recording", json!({})).await;
    assert_eq!(status, 501, "{body}");

    // DTMF reaches B.
    let (status, body) = api
        .action(&call_id, "send-digits", json!({"digits": "4#"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + WAIT;
    while !pair.b.log().contains("received event: '#'") {
        assert!(
            Instant::now() < deadline,
            "B received no DTMF '#' within {WAIT:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Real RTP flows: AUDIO_STATS with packets, every 2 s once baresip reports RTCP (~5 s).
    let events = api
        .wait_events(&call_id, "AUDIO_STATS with packets", logs, |e| {
            e.iter().any(|e| {
                e["type"] == "AUDIO_STATS" && e["detail"]["packetsCount"].as_u64() > Some(0)
            })
        })
        .await;
    for stats in events.iter().filter(|e| e["type"] == "AUDIO_STATS") {
        let d = &stats["detail"];
        assert_eq!(d["callId"], call_id.as_str());
        assert!(
            matches!(
                d["stats"].as_str(),
                Some("inputChannelStats" | "outputChannelStats")
            ),
            "{stats}"
        );
        for field in [
            "packetsLost",
            "packetsCount",
            "jitterBufferMillis",
            "roundTripTimeMillis",
        ] {
            assert!(d[field].is_u64(), "{field}: {stats}");
        }
        assert!(d["statsCount"].as_u64() >= Some(1), "{stats}");
        if let Some(mos) = d["mos"].as_f64() {
            assert!((1.0..=4.5).contains(&mos), "{stats}");
        }
        assert_eq!(stats["agent"], pair.a.aor.as_str());
    }

    // Hang up: CALL_ENDED, last, with baresip's reason.
    let (status, body) = api.action(&call_id, "end-call", json!({})).await;
    assert_eq!(status, 200, "{body}\n{}", logs());
    let events = api
        .wait_events(&call_id, "CALL_ENDED", logs, |e| has(e, "CALL_ENDED"))
        .await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "CALL_ENDED");
    // baresip's reason is a top-level field: nothing is added inside `detail`.
    assert!(last["reason"].is_string(), "{last}");
    assert_eq!(last["detail"], json!({"callId": call_id}), "{last}");
    assert_eq!(last["agent"], pair.a.aor.as_str());

    // The whole story, in order; every event has a distinct eventId.
    let story = story(&events);
    assert_eq!(
        story,
        [
            "CALL_STARTED",
            "CALL_CONNECTED",
            "HOLD",
            "RESUME",
            "MUTE",
            "UNMUTE",
            "CALL_ENDED"
        ]
    );
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len());
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_survives_baresip_being_killed_and_reconnects() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    let mut pair = Pair::start(binary);
    let data = tempfile::tempdir().unwrap();
    let source = pair.source();
    let server = ServeProcess::start(data.path(), &["--source", &source]);
    let api = Api::new(&server.url);

    let first = api.dial(&pair.b_uri(), || pair.logs()).await;
    api.wait_events(
        &first,
        "CALL_CONNECTED",
        || pair.logs(),
        |e| has(e, "CALL_CONNECTED"),
    )
    .await;

    // baresip dies mid-call: the gateway keeps serving, the source goes down.
    pair.a.kill();
    api.wait_source_state(&source, "down").await;
    let (status, _) = api
        .action(&first, "hold", json!({"participantType": "Initial_Caller"}))
        .await;
    assert_eq!(status, 502, "no baresip, no hold");

    // A new baresip on the same port: the source reconnects by itself, and ends the call the
    // old one took with it.
    pair.restart_a();
    api.wait_source_state(&source, "up").await;
    let events = api
        .wait_events(
            &first,
            "CALL_ENDED after the reconnect",
            || pair.logs(),
            |e| has(e, "CALL_ENDED"),
        )
        .await;
    let last = events.last().unwrap();
    assert_eq!(
        last["reason"], "the call was gone when voicetk reconnected to baresip",
        "{last}"
    );
    assert_eq!(last["detail"], json!({"callId": first}), "{last}");

    // And it carries out actions again.
    let second = api.dial(&pair.b_uri(), || pair.logs()).await;
    assert_ne!(second, first);
    api.wait_events(
        &second,
        "CALL_CONNECTED",
        || pair.logs(),
        |e| has(e, "CALL_CONNECTED"),
    )
    .await;
    let (status, body) = api.action(&second, "end-call", json!({})).await;
    assert_eq!(status, 200, "{body}");
    api.wait_events(
        &second,
        "CALL_ENDED",
        || pair.logs(),
        |e| has(e, "CALL_ENDED"),
    )
    .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_calls_ring_and_are_accepted_or_declined() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    let pair = Pair::start(binary);
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path(), &["--source", &pair.source()]);
    let api = Api::new(&server.url);
    let logs = || pair.logs();
    let a_uri = format!("sip:a@127.0.0.1:{}", pair.a_sip);

    // The source must be connected before B calls, or it would miss CALL_INCOMING.
    api.wait_source_state(&pair.source(), "up").await;

    // B calls A; A rings (no auto-answer): CALL_STARTED inbound; accept-call answers it.
    let answer = ctrl(pair.b.ctrl, "dial", &a_uri);
    assert_eq!(answer["ok"], true, "{answer}");
    let first = next_started(&api, &[], logs).await;
    let events = api.events(&first).await;
    assert_eq!(
        events[0]["detail"],
        json!({"callId": first, "callType": "inbound", "participant": pair.b_uri()})
    );
    assert_eq!(events[0]["agent"], pair.a.aor.as_str());
    let (status, body) = api.action(&first, "accept-call", json!({})).await;
    assert_eq!(status, 200, "{body}\n{}", logs());
    let events = api.events(&first).await;
    let connected = events.iter().find(|e| e["seq"] == body["seq"]).unwrap();
    assert_eq!(connected["type"], "CALL_CONNECTED");
    assert_eq!(connected["detail"]["callType"], "inbound");

    // B hangs up: CALL_ENDED with the reason A's baresip gives.
    let answer = ctrl(pair.b.ctrl, "hangup", "");
    assert_eq!(answer["ok"], true, "{answer}");
    let events = api
        .wait_events(&first, "CALL_ENDED", logs, |e| has(e, "CALL_ENDED"))
        .await;
    assert_eq!(
        types(&events),
        ["CALL_STARTED", "CALL_CONNECTED", "CALL_ENDED"]
    );
    assert!(events[2]["reason"].is_string(), "{}", events[2]);
    assert_eq!(
        events[2]["detail"],
        json!({"callId": first}),
        "{}",
        events[2]
    );

    // B calls again; this time A declines.
    let answer = ctrl(pair.b.ctrl, "dial", &a_uri);
    assert_eq!(answer["ok"], true, "{answer}");
    let second = next_started(&api, &[first], logs).await;
    let (status, body) = api.action(&second, "decline-call", json!({})).await;
    assert_eq!(status, 200, "{body}\n{}", logs());
    let events = api
        .wait_events(&second, "CALL_ENDED", logs, |e| has(e, "CALL_ENDED"))
        .await;
    assert_eq!(types(&events), ["CALL_STARTED", "CALL_ENDED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_telephony_calls_appear_when_they_connect() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    let pair = Pair::start(binary);
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        data.path(),
        &[
            "--source",
            &pair.source(),
            "--telephony",
            "native",
            "--audio-stats-interval",
            "1s",
        ],
    );
    let api = Api::new(&server.url);
    let logs = || pair.logs();

    let call_id = api.dial(&pair.b_uri(), logs).await;
    let events = api
        .wait_events(&call_id, "CALL_CONNECTED", logs, |e| {
            has(e, "CALL_CONNECTED")
        })
        .await;
    assert_eq!(
        types(&events),
        ["CALL_CONNECTED"],
        "no CALL_STARTED in Native telephony"
    );
    // Long enough for baresip's RTCP reports (every ~5 s) and several 1 s intervals: none of
    // them may become AUDIO_STATS.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let (status, body) = api.action(&call_id, "end-call", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let events = api.events(&call_id).await;
    assert_eq!(
        types(&events),
        ["CALL_CONNECTED", "CALL_ENDED"],
        "and no AUDIO_STATS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_voicetk_picks_up_the_call_and_delivers_nothing_twice() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    let pair = Pair::start(binary);
    let data = tempfile::tempdir().unwrap();
    let source = pair.source();
    let logs = || pair.logs();
    let server = ServeProcess::start(data.path(), &["--source", &source]);
    let api = Api::new(&server.url);
    let call_id = api.dial(&pair.b_uri(), logs).await;
    api.wait_events(&call_id, "CALL_CONNECTED", logs, |e| {
        has(e, "CALL_CONNECTED")
    })
    .await;
    let hold = json!({"participantType": "Initial_Caller"});
    let (status, body) = api.action(&call_id, "hold", hold.clone()).await;
    assert_eq!(status, 200, "{body}");

    // voicetk dies; the call goes on in baresip. A new voicetk on the same log reconnects,
    // finds the call (listcalls + callstat), and re-announces it with the event ids it had:
    // the gateway recognises them, so nothing is delivered twice.
    server.kill();
    let server = ServeProcess::start(data.path(), &["--source", &source]);
    let api = Api::new(&server.url);
    // It can act on the call again once it has picked it up (501 until then).
    let resume = json!({"participantType": "Initial_Caller"});
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = api.action(&call_id, "resume", resume.clone()).await;
        if status == 200 {
            break;
        }
        assert!(
            status == 501 && Instant::now() < deadline,
            "resume after the restart: {status} {body}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = api.action(&call_id, "end-call", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let events = api.events(&call_id).await;
    let story = story(&events);
    assert_eq!(
        story,
        [
            "CALL_STARTED",
            "CALL_CONNECTED",
            "HOLD",
            "RESUME",
            "CALL_ENDED"
        ],
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_on_both_ends_of_one_call_share_its_id_and_the_refusals_are_logged() {
    let Some(binary) = baresip_binary() else {
        return;
    };
    // B rings (no auto-answer), so each end opens the call with a CALL_STARTED.
    let pair = Pair::start_with(binary, false);
    let data = tempfile::tempdir().unwrap();
    let log = pair.dir.path().join("voicetk.log");
    let (a_source, b_source) = (pair.source(), pair.b_source());
    let server = serve_logging_to(
        data.path(),
        &["--source", &a_source, "--source", &b_source],
        &log,
    );
    let api = Api::new(&server.url);
    let voicetk_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let logs = || format!("{}\n--- voicetk ---\n{}", pair.logs(), tail(&voicetk_log()));
    api.wait_source_state(&a_source, "up").await;
    api.wait_source_state(&b_source, "up").await;

    // A (the first source) dials B. Both softphones report the call under baresip's one id:
    // whichever CALL_STARTED reaches the gateway first opens the call, the other is refused,
    // and that refusal is logged with the likely cause.
    let call_id = api.dial(&pair.b_uri(), logs).await;
    let deadline = Instant::now() + WAIT;
    while !voicetk_log().contains("not opened by this source") {
        assert!(
            Instant::now() < deadline,
            "no warning about the shared call id within {WAIT:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refusal = voicetk_log()
        .lines()
        .find(|l| l.contains("not opened by this source"))
        .unwrap()
        .to_owned();
    assert!(refusal.contains("WARN"), "{refusal}");
    assert!(
        refusal.contains(&call_id),
        "the warning names the call: {refusal}"
    );
    assert!(refusal.contains("CALL_STARTED"), "{refusal}");
    assert!(refusal.contains("invalid_transition"), "{refusal}");
    assert_eq!(types(&api.events(&call_id).await), ["CALL_STARTED"]);

    // The call still works as one call: A hangs up, and it ends once.
    let (status, body) = api.action(&call_id, "end-call", json!({})).await;
    assert_eq!(status, 200, "{body}\n{}", logs());
    let events = api
        .wait_events(&call_id, "CALL_ENDED", logs, |e| has(e, "CALL_ENDED"))
        .await;
    assert_eq!(types(&events), ["CALL_STARTED", "CALL_ENDED"]);
}
