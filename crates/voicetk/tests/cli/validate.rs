//! `voicetk validate`: output lines and exit codes (CONTRACT.md §3).

use std::io::Write;
use std::process::{Output, Stdio};

use super::process::voicetk;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = voicetk()
        .arg("validate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const STARTED: &str = r#"{"type":"CALL_STARTED","detail":{"callId":"c1","callType":"outbound","participant":"+1 (415) 999-0000"}}"#;
const CONNECTED: &str = r#"{"type":"callconnected","detail":{"callId":"c1","callType":"outbound","participant":"+1 (415) 999-0000","callAttributes":{"isTranscribed":"true"}}}"#;

#[test]
fn all_valid_exits_zero() {
    let o = run(&[], &format!("{STARTED}\n{CONNECTED}\n"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "ok CALL_STARTED c1\nok CALL_CONNECTED c1\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 payload(s): 2 ok, 0 invalid"));
}

#[test]
fn invalid_payloads_exit_one_and_name_position_and_path() {
    let input = format!(
        "[{STARTED}, {{\"type\":\"AUDIO_STATS\",\"detail\":{{\"callId\":\"c1\",\"stats\":\"inputChannelStats\",\"packetsLost\":1.5,\"packetsCount\":1,\"jitterBufferMillis\":1,\"roundTripTimeMillis\":1,\"statsCount\":1}}}}]"
    );
    let o = run(&[], &input);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "ok CALL_STARTED c1\nerror 2: detail.packetsLost: expected a non-negative integer, found 1.5\n"
    );
    // NDJSON: positions are line numbers; malformed lines do not hide the others.
    let o = run(&[], &format!("{STARTED}\n{{nope\n{CONNECTED}\n"));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ok CALL_STARTED c1");
    assert!(lines[1].starts_with("error 2: $: malformed JSON"), "{out}");
    assert_eq!(lines[2], "ok CALL_CONNECTED c1");
}

#[test]
fn native_telephony_refuses_its_missing_events() {
    let o = run(&["--telephony", "native"], STARTED);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("error 1: type: CALL_STARTED is not supported by native telephony")
    );
}

#[test]
fn sequence_mode_runs_the_call_model() {
    let hold = r#"{"type":"HOLD","detail":{"callId":"c1","participant":"+1 (415) 999-0000"}}"#;
    let o = run(
        &["--sequence"],
        &format!("{STARTED}\n{CONNECTED}\n{hold}\n{hold}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..3],
        ["ok CALL_STARTED c1", "ok CALL_CONNECTED c1", "ok HOLD c1"]
    );
    assert!(lines[3].starts_with("error 4: $: HOLD refused"), "{out}");
    assert!(lines[3].contains("already on hold"), "{out}");
    // Without --sequence the same stream is schema-valid.
    assert_eq!(
        run(&[], &format!("{STARTED}\n{hold}\n{hold}\n"))
            .status
            .code(),
        Some(0)
    );
    // Lenient: accepted with a warning line.
    let o = run(&["--sequence", "--lenient"], &format!("{hold}\n"));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("warning 1: $: "), "{}", stdout(&o));
}

#[test]
fn usage_and_io_errors_exit_two() {
    let o = voicetk()
        .args(["validate", "/no/such/file.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /no/such/file.json"));
    let o = voicetk()
        .args(["validate", "--telephony", "cloud"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = voicetk().args(["validate", "--lenient"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "--lenient requires --sequence");
}

#[test]
fn reads_a_file_argument() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    std::fs::write(&path, format!("{CONNECTED}\n")).unwrap();
    let o = voicetk().arg("validate").arg(&path).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "ok CALL_CONNECTED c1\n");
}
