//! What both imload test files need: a child's stderr read line by line with patience,
//! and numbers out of a JSON report.

use serde_json::Value;

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
