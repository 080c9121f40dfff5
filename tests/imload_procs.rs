//! `imload --procs N` end to end: the real binary, as N real processes, against a real
//! `imserver` on `127.0.0.1:0` (`--max-line-rate off`, as any load test's server).

mod common;

use std::process::Command;

use common::imload::{assert_every_message_delivered_once, imload, n};
use serde_json::Value;

/// 16 clients in 4 conversations of 4, at 400 messages/s for 0.2 + 1 s: 480 messages,
/// shared by two processes as 2 conversations and 200 messages/s each.
const RUN: [&str; 10] = [
    "--clients",
    "16",
    "--members",
    "4",
    "--rate",
    "400",
    "--duration",
    "1",
    "--warmup",
    "0.2",
];

fn run(server: &common::Server, procs: &str, tag: &str) -> Value {
    let pid = server.pid().to_string();
    let flags = [&RUN[..], &["--procs", procs, "--server-pid", &pid]].concat();
    let (output, report) = imload(&server.addr.to_string(), &flags, tag);
    assert!(
        output.status.success(),
        "imload --procs {procs} failed:\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    report.expect("a JSON report")
}

#[test]
fn two_processes_deliver_every_message_and_report_as_one_run() {
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let two = run(&server, "2", "procs2");
    assert_eq!(n(&two, "procs"), 2, "{two}");
    let cpu = two["imload_cpu_s"].as_f64().unwrap();
    let share = two["imload_cpu_share"].as_f64().unwrap();
    assert!(
        cpu > 0.0 && share > 0.0,
        "both processes' CPU is counted: {two}"
    );
    assert_eq!(two["bound"], "neither", "a light run: {two}");
    assert_eq!(n(&two, "clients"), 16);
    assert_every_message_delivered_once(&two, 3);
    // Every message due in the measured window has one corrected latency per other
    // member: the merged histogram holds the processes' values, not an average of them.
    let measured = n(&two, "sent_measured");
    assert!(measured > 0, "{two}");
    let count = n(&two["latency_corrected_us"], "count");
    assert_eq!(count, measured * 3, "{two}");
    assert_eq!(n(&two["latency_uncorrected_us"], "count"), count);
    let seconds = two["per_second"].as_array().expect("per_second");
    let sum = |field: &str| seconds.iter().map(|s| n(s, field)).sum::<u64>();
    assert_eq!(sum("sent"), measured, "{two}");
    assert_eq!(sum("delivered"), n(&two, "delivered_measured"), "{two}");
    assert!(
        two["server_cpu_measured_s"].as_f64().is_some(),
        "the parent reads --server-pid around the common window: {two}"
    );
    // The same run from one process offers and expects the same.
    let one = run(&server, "1", "procs1");
    assert_eq!(n(&one, "procs"), 1);
    assert_eq!(n(&two, "sent"), 480, "400/s for 1.2 s: {two}");
    for field in ["sent", "sent_warmup", "sent_measured", "expected"] {
        assert_eq!(n(&two, field), n(&one, field), "{field}");
    }
}

#[test]
fn a_split_that_would_cut_a_conversation_is_refused_naming_the_bound() {
    let output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--clients", "8", "--members", "4", "--procs", "3"])
        .output()
        .expect("run imload");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--procs must be at most") && stderr.contains("(2)"),
        "{stderr}"
    );
}

#[test]
fn a_process_that_fails_fails_the_run_with_its_error() {
    // A port that was just free: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let flags = ["--clients", "8", "--members", "4", "--procs", "2"];
    let (output, report) = imload(&addr, &flags, "procs-unreachable");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(report.is_none(), "no report from a failed run");
    assert!(
        stderr.contains("cannot connect") && stderr.contains("failed"),
        "{stderr}"
    );
}
