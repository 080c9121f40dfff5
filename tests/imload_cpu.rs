//! What `imload` says about CPU: its own time in the measured window, the server's, and
//! which side, if either, limited the run. The real binary against a real `imserver` on
//! `127.0.0.1:0`, with `--max-line-rate off` as in `imload.rs`.

mod common;

use std::process::{Command, Output};

use serde_json::Value;

/// A light run: 100 clients offered 1,000 messages/s (9,000 deliveries/s), far below
/// what either side can do. A send is due every millisecond: a generator that spun
/// through the last millisecond before each would spin all the time.
const LIGHT_RUN: [&str; 12] = [
    "--clients",
    "100",
    "--members",
    "10",
    "--rate",
    "1000",
    "--warmup",
    "0.2",
    "--duration",
    "1",
    "--json",
    "-",
];

fn imload(server: &common::Server, extra: &[&str]) -> (Value, String) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--server", &server.addr.to_string()])
        .args(LIGHT_RUN)
        .args(extra)
        .output()
        .expect("run imload");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "imload failed:\n{stderr}\nserver:\n{}",
        server.logs()
    );
    let report = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    (report, stderr)
}

fn f(report: &Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {report}"))
}

#[test]
fn a_light_run_finds_neither_side_saturated_and_imload_asleep() {
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let pid = server.pid().to_string();
    let (report, stderr) = imload(&server, &["--server-pid", &pid]);
    let cpu = f(&report, "imload_cpu_s");
    assert!(cpu > 0.0, "{report}");
    let per = f(&report, "imload_cpu_us_per_delivery");
    let delivered = report["delivered_measured"].as_u64().expect("deliveries");
    assert!(
        (per - cpu * 1e6 / delivered as f64).abs() < 1e-6,
        "{report}"
    );
    // A generator that waits for its next send on a timer sleeps between sends; one that
    // spun until each was due would use all of its core here.
    let share = f(&report, "imload_cpu_share");
    assert!(share < 0.5, "imload sleeps while it waits: {report}");
    assert!(f(&report, "server_cpu_share") >= 0.0, "{report}");
    assert_eq!(report["bound"], "neither", "{report}");
    assert_eq!(report["procs"], 1);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("CPU in the measured window: server "))
        .unwrap_or_else(|| panic!("no CPU line in\n{stderr}"));
    assert!(line.ends_with(": neither saturated"), "{line}");
}

#[test]
fn without_the_servers_pid_imload_does_not_guess_the_servers_share() {
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let (report, stderr) = imload(&server, &[]);
    assert!(f(&report, "imload_cpu_s") > 0.0, "{report}");
    assert!(report["server_cpu_share"].is_null(), "{report}");
    assert!(report["server_cpu_measured_s"].is_null(), "{report}");
    assert_eq!(report["bound"], "unknown", "{report}");
    assert!(
        stderr.contains("CPU in the measured window: server not measured (give --server-pid); "),
        "{stderr}"
    );
}
