//! What the imload test files need: a run with its JSON report, a child's stderr read
//! line by line with patience, and numbers out of a JSON report.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Flags for a small clean run: 12 clients in groups of 4.
pub const SMALL_RUN: [&str; 10] = [
    "--clients",
    "12",
    "--members",
    "4",
    "--rate",
    "400",
    "--duration",
    "1",
    "--warmup",
    "0.2",
];

/// Runs `imload` against `addr` with `flags` and a `--json` file; returns its output and
/// the parsed report (if it wrote one).
pub fn imload(addr: &str, flags: &[&str], tag: &str) -> (Output, Option<Value>) {
    let json: PathBuf =
        std::env::temp_dir().join(format!("imload-{}-{tag}.json", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--server", addr, "--json"])
        .arg(&json)
        .args(flags)
        .output()
        .expect("run imload");
    let report = std::fs::read(&json)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).expect("JSON report"));
    let _ = std::fs::remove_file(&json);
    (output, report)
}

/// Reads `child`'s stderr on a thread, a line at a time: a test waits for a line with
/// [`super::PATIENCE`] instead of blocking forever on a child that never writes it.
pub fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next stderr line, or the test fails (and the child is killed) after PATIENCE.
pub fn next_line(
    lines: &std::sync::mpsc::Receiver<String>,
    child: &mut std::process::Child,
) -> String {
    lines.recv_timeout(super::PATIENCE).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("no line from imload on stderr: {e}")
    })
}

pub fn n(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

/// A clean run's report: every message sent reached each of the `others` members and the
/// sender's echo once, in order, and nothing went wrong.
pub fn assert_every_message_delivered_once(report: &Value, others: u64) {
    let sent = n(report, "sent");
    assert!(sent > 0, "{report}");
    assert_eq!(n(report, "expected"), sent * others, "{report}");
    assert_eq!(n(report, "delivered"), sent * others, "{report}");
    assert_eq!(n(report, "echoes"), sent, "the sender's own echo: {report}");
    for field in [
        "lost",
        "duplicates",
        "reordered",
        "strays",
        "errors",
        "closed_by_server",
    ] {
        assert_eq!(n(report, field), 0, "{field}: {report}");
    }
}

/// Runs imload with flags it must refuse before connecting: asserts a usage error (exit
/// code 2, no report) and returns its stderr.
pub fn usage_error(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(args)
        .output()
        .expect("run imload");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "a usage error: {stderr}");
    assert!(output.stdout.is_empty(), "no report");
    stderr
}
