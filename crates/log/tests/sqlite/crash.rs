//! Crash durability with a real process: a child appends and prints every acknowledged seq,
//! the parent SIGKILLs it mid-stream, reopens the file and checks that every acknowledged seq
//! is there, gap-free and not duplicated.
//!
//! The child is this very test binary, run again with `CHILD_DIR` set so that only
//! [`child_writer`] does anything.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use voicetk_log::{AppendBatch, EventLog, ReadQuery, SqliteLog, SqliteOptions};

use super::support::EventSpec;

/// Tells a re-executed test binary to act as the writer child, and where the log is.
const CHILD_DIR: &str = "VOICETK_LOG_TEST_CRASH_CHILD_DIR";
/// Acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 300;
/// Bounds the child's work, so it ends on its own should the parent die first.
const CHILD_ROUNDS: u64 = 20_000;
/// Appends the child keeps in flight at once, so commits merge as they do in the server.
const IN_FLIGHT: u64 = 3;

/// The child: appends batches of 1–7 events forever (well, `CHILD_ROUNDS`), each with a
/// snapshot naming the batch's last seq, and prints `ack <seq>` for every event of a batch
/// once its append returned `Ok`. Does nothing unless started by the parent.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = SqliteLog::open(Path::new(&dir), SqliteOptions::default()).unwrap();
        let mut next = log.last_seq().await.unwrap() + 1;
        // Written directly, not through print!, which libtest may capture.
        let mut out = std::io::stdout().lock();
        // libtest has printed `test ... ` without a newline; start the acks on a line of their own.
        writeln!(out).unwrap();
        for round in 0..CHILD_ROUNDS {
            let mut pending = Vec::new();
            for slot in 0..IN_FLIGHT {
                let size = 1 + (round + slot) % 7;
                let seqs = next..next + size;
                next += size;
                let events = seqs
                    .clone()
                    .map(|seq| EventSpec::new(seq).call("call-crash").build())
                    .collect();
                let last = seqs.end - 1;
                let batch = AppendBatch {
                    events,
                    calls: vec![("call-crash".into(), format!(r#"{{"last":{last}}}"#))],
                    removed_calls: vec![],
                };
                // Handed over now, in seq order; awaited below.
                pending.push((seqs, log.append(batch)));
            }
            for (seqs, answer) in pending {
                answer.await.unwrap();
                for seq in seqs {
                    writeln!(out, "ack {seq}").unwrap();
                }
                out.flush().unwrap();
            }
        }
    });
}

/// Kills and reaps the child if the test fails before doing so itself.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_acknowledged_append_survives_sigkill() {
    if std::env::var_os(CHILD_DIR).is_some() {
        // This process is a child started for `child_writer`.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = ChildGuard(
        Command::new(exe)
            .args([
                "--exact",
                "sqlite::crash::child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();

    let mut acked: Vec<u64> = Vec::new();
    let parse = |line: String| line.strip_prefix("ack ").map(|n| n.parse::<u64>().unwrap());
    while acked.len() < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("the child stopped before acknowledging enough appends")
            .unwrap();
        acked.extend(parse(line));
    }
    // SIGKILL: no destructor, no close, no flush of anything the child still held.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // Lines already in the pipe were acknowledged before the kill: they count too.
    acked.extend(lines.map_while(Result::ok).filter_map(parse));
    assert!(
        acked.iter().copied().eq(1..=acked.len() as u64),
        "acks not in order: {:?}",
        &acked[acked.len().saturating_sub(20)..]
    );
    let last_acked = *acked.last().unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = SqliteLog::open(dir.path(), SqliteOptions::default()).unwrap();
        let last_seq = log.last_seq().await.unwrap();
        assert!(
            last_seq >= last_acked,
            "acknowledged up to {last_acked}, but the log ends at {last_seq}"
        );
        let stored = log
            .read(ReadQuery::after(0).with_limit(usize::MAX))
            .await
            .unwrap();
        // Gap-free from 1, nothing duplicated, nothing past last_seq: so every ack is there.
        assert!(
            stored.iter().map(|e| e.seq).eq(1..=last_seq),
            "stored seqs are not exactly 1..={last_seq}"
        );
        // The snapshot was committed with the last batch, never apart from it.
        let recovered = log.recover(0).await.unwrap();
        assert_eq!(recovered.last_seq, last_seq);
        assert_eq!(
            recovered.calls,
            [("call-crash".to_owned(), format!(r#"{{"last":{last_seq}}}"#))]
        );
        // And the log carries on.
        let next = EventSpec::new(last_seq + 1).build();
        log.append(AppendBatch::new(vec![next])).await.unwrap();
        log.close().await.unwrap();
    });
}
