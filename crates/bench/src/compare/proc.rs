//! Peer processes: starting them pinned to a CPU, and reading their RSS and CPU time from
//! `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::CompareError;

/// Pins every thread of this process (and the threads it starts later) to `cpu`, with
/// `taskset -a -p`. Call it before starting the async runtime.
///
/// # Errors
/// [`CompareError::Missing`] without `taskset`, [`CompareError::Spawn`] when it fails.
pub fn pin_self(cpu: usize) -> Result<(), CompareError> {
    let out = std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .output()
        .map_err(|e| missing_or("taskset", "apt-get install util-linux", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CompareError::Spawn {
            peer: "taskset".into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// A `Missing` error for a program that is not installed, an I/O error otherwise.
pub(crate) fn missing_or(program: &str, hint: &str, e: std::io::Error) -> CompareError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CompareError::Missing {
            program: program.into(),
            hint: hint.into(),
        }
    } else {
        CompareError::Io {
            what: format!("running {program}"),
            source: e,
        }
    }
}

/// `program` if it is a path to a file, else the first match in `PATH`.
pub(crate) fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A `Command` for `program`, run under `taskset -c cpu` when `cpu` is given.
pub fn pinned(program: &Path, cpu: Option<usize>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// One reading of a process's resident memory and CPU time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// Resident set size in bytes (`VmRSS`).
    pub rss_bytes: u64,
    /// User + system CPU time in seconds.
    pub cpu_s: f64,
}

/// Reads `pid`'s RSS and CPU time from `/proc`.
///
/// # Errors
/// [`CompareError::Io`] when the process is gone, [`CompareError::Protocol`] when `/proc`
/// does not read as expected.
pub fn sample(pid: u32) -> Result<ProcSample, CompareError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(CompareError::io(format!("reading /proc/{pid}/status")))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| CompareError::protocol("/proc", format!("no VmRSS for pid {pid}")))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(CompareError::io(format!("reading /proc/{pid}/stat")))?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| CompareError::protocol("/proc", format!("odd stat for pid {pid}")))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; after ')' they are at 11 and 12.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(CompareError::protocol(
            "/proc",
            format!("no CPU times for pid {pid}"),
        ));
    };
    Ok(ProcSample {
        rss_bytes: rss_kib * 1024,
        cpu_s: (utime + stime) as f64 / clock_ticks(),
    })
}

/// Clock ticks per second of `/proc/*/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// A child process that prints one line announcing its addresses when it is ready, killed
/// when dropped.
#[derive(Debug)]
pub struct Announced {
    /// The running process.
    pub child: Child,
    /// Its pid (the program's own: `taskset -c` execs it).
    pub pid: u32,
    /// The line it announced.
    pub line: String,
}

/// Starts `command` (stdout piped) and waits, at most `within`, for a stdout line containing
/// `marker`. The rest of its stdout is drained in the background.
///
/// # Errors
/// [`CompareError::Spawn`] when it exits or stays silent, with what it printed to stderr.
pub async fn start_announced(
    peer: &str,
    mut command: Command,
    marker: &str,
    within: Duration,
) -> Result<Announced, CompareError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| CompareError::Spawn {
        peer: peer.into(),
        message: e.to_string(),
    })?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Keep the last lines of stderr for the error message, and never let the pipe fill.
    let (err_tx, err_rx) = tokio::sync::watch::channel(String::new());
    if let Some(stderr) = stderr {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut tail: Vec<String> = Vec::new();
            while let Ok(Some(l)) = lines.next_line().await {
                tail.push(l);
                if tail.len() > 20 {
                    tail.remove(0);
                }
                let _ = err_tx.send(tail.join("\n"));
            }
        });
    }
    let Some(stdout) = stdout else {
        return Err(CompareError::Spawn {
            peer: peer.into(),
            message: "no stdout".into(),
        });
    };
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(within, async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains(marker) {
                return Some(l);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok(Announced { child, pid, line })
        }
        other => {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let why = if other.is_err() {
                format!("no {marker:?} line within {within:?}")
            } else {
                "exited before it was ready".to_owned()
            };
            let tail = err_rx.borrow().clone();
            Err(CompareError::Spawn {
                peer: peer.into(),
                message: if tail.is_empty() {
                    why
                } else {
                    format!("{why}; it printed:\n{tail}")
                },
            })
        }
    }
}

/// The `voicetk` binary next to this one (`target/release/voicetk` beside
/// `target/release/voicetk-bench`), if there is one.
pub fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.rss_bytes > 1024 * 1024, "{s:?}");
        assert!(s.cpu_s >= 0.0);
    }

    #[test]
    fn a_missing_process_is_an_error() {
        assert!(sample(u32::MAX - 1).is_err());
    }
}
