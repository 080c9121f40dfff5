//! What `imload` writes: `--json -` on stdout, the warmup and the measured window apart,
//! the `--hgrm` distribution, and what an `--idle` run measured. The real binary against a
//! real `imserver` on `127.0.0.1:0`, with `--max-line-rate off` as in `imload.rs`.

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};

use common::imload::{n, next_line, stderr_lines};
use serde_json::Value;

fn imload(server: &common::Server, flags: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--server", &server.addr.to_string()])
        .args(flags)
        .output()
        .expect("run imload");
    assert!(
        output.status.success(),
        "imload failed:\n{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    output
}

fn server() -> common::Server {
    common::Server::start(&["--max-line-rate", "off"])
}

/// The shape `2026-11-25T17:16:49Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 20
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16)
        && digits(17..19)
        && [b[4], b[7], b[10], b[13], b[16], b[19]] == *b"--T::Z"
}

#[test]
fn json_dash_is_the_report_on_stdout_with_its_context() {
    let server = server();
    let flags = [
        "--clients",
        "6",
        "--members",
        "3",
        "--rate",
        "200",
        "--warmup",
        "0.2",
        "--duration",
        "1.5",
        "--json",
        "-",
    ];
    let output = imload(&server, &flags);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is the JSON alone ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(report["imload_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["server"], server.addr.to_string());
    assert_eq!(report["target"], "im");
    let timestamp = report["timestamp"].as_str().unwrap_or_default();
    assert!(is_rfc3339_utc(timestamp), "{timestamp}");
    // One entry per second of the measured window (the last one half a second), whose
    // deliveries are the window's.
    let seconds = report["per_second"].as_array().expect("per_second");
    assert_eq!(seconds.len(), 2, "{report}");
    let delivered: u64 = seconds.iter().map(|s| n(s, "delivered")).sum();
    assert_eq!(delivered, n(&report, "delivered_measured"));
    // Sums only: how a busy machine spreads them over the seconds is not this test's.
    let sent: u64 = seconds.iter().map(|s| n(s, "sent")).sum();
    assert_eq!(sent, n(&report, "sent_measured"), "{report}");
    // The table is still shown, on stderr, and no file named `-` was written.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("| corrected |"), "{stderr}");
    assert!(!std::path::Path::new("-").exists());
}

#[test]
fn server_pid_gives_the_server_cpu_per_delivery_in_the_measured_window() {
    let server = server();
    let pid = server.pid().to_string();
    let flags = [
        "--clients",
        "6",
        "--members",
        "3",
        "--rate",
        "300",
        "--warmup",
        "0.2",
        "--duration",
        "1",
        "--json",
        "-",
    ];
    let without: Value = serde_json::from_slice(&imload(&server, &flags).stdout).unwrap();
    assert!(without["server_cpu_measured_s"].is_null(), "{without}");
    let output = imload(&server, &[&flags[..], &["--server-pid", &pid]].concat());
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    // Clock ticks: a light second of work may round to zero, but never below.
    let cpu = report["server_cpu_measured_s"].as_f64().expect("measured");
    let per = report["server_cpu_us_per_delivery"]
        .as_f64()
        .expect("per delivery");
    assert!(cpu >= 0.0 && per >= 0.0, "{report}");
    let expected = cpu * 1e6 / n(&report, "delivered_measured") as f64;
    assert!((per - expected).abs() < 1e-6, "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("CPU in the measured window: server {cpu:.2} s (")),
        "{stderr}"
    );
}

#[test]
fn the_report_shows_the_warmup_and_the_measured_window_apart() {
    let server = server();
    // A warmup of 2 s holds at least one progress line.
    let flags = [
        "--clients",
        "4",
        "--members",
        "2",
        "--rate",
        "100",
        "--warmup",
        "2",
        "--duration",
        "0.5",
        "--json",
        "-",
        "--hgrm",
        "/dev/null",
    ];
    let output = imload(&server, &flags);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let (sent_warmup, sent_measured) = (n(&report, "sent_warmup"), n(&report, "sent_measured"));
    assert!(sent_warmup > 0 && sent_measured > 0, "{report}");
    assert_eq!(n(&report, "sent"), sent_warmup + sent_measured);
    assert_eq!(
        n(&report, "delivered"),
        n(&report, "delivered_warmup")
            + n(&report, "delivered_measured")
            + n(&report, "delivered_after")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("warmup (2.0 s): sent {sent_warmup}  delivered "))
            && stderr.contains(&format!("measured (0.5 s): sent {sent_measured} (")),
        "{stderr}"
    );
    // Progress lines before the measured window name it instead of showing a latency.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(" warmup ") && l.contains("p99      warmup")),
        "{stderr}"
    );
    assert!(!stderr.contains("p99    0.000 ms"), "{stderr}");
}

#[test]
fn hgrm_holds_the_whole_distribution_in_hdrhistogram_format() {
    let server = server();
    let dir = std::env::temp_dir();
    let hgrm = dir.join(format!("imload-{}.hgrm", std::process::id()));
    let flags = [
        "--clients",
        "6",
        "--members",
        "3",
        "--rate",
        "300",
        "--warmup",
        "0.2",
        "--duration",
        "1",
        "--json",
        "-",
        "--hgrm",
    ];
    let output = imload(&server, &[&flags[..], &[hgrm.to_str().unwrap()]].concat());
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let text = std::fs::read_to_string(&hgrm).expect("the .hgrm file");
    let _ = std::fs::remove_file(&hgrm);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("       Value   Percentile   TotalCount 1/(1-Percentile)")
    );
    assert_eq!(lines.next(), Some(""));
    let (mut rows, mut footer) = (Vec::new(), Vec::new());
    for line in lines {
        if line.starts_with("#[") {
            footer.push(line);
        } else {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 4, "{line}");
            let value: f64 = cols[0].parse().unwrap();
            let percentile: f64 = cols[1].parse().unwrap();
            let count: u64 = cols[2].parse().unwrap();
            rows.push((value, percentile, count));
        }
    }
    assert!(rows.len() > 10, "{text}");
    for pair in rows.windows(2) {
        let ((v0, p0, c0), (v1, p1, c1)) = (pair[0], pair[1]);
        assert!(p1 > p0 && v1 >= v0 && c1 >= c0, "{pair:?}\n{text}");
    }
    let count = n(&report["latency_corrected_us"], "count");
    let (_, last_percentile, last_count) = *rows.last().unwrap();
    assert_eq!((last_percentile, last_count), (1.0, count));
    assert_eq!(footer.len(), 3, "{text}");
    assert!(footer[0].starts_with("#[Mean    = "), "{text}");
    let total: u64 = footer[1]
        .split("Total count    =")
        .nth(1)
        .and_then(|t| t.trim().trim_end_matches(']').trim().parse().ok())
        .expect("the total count");
    assert_eq!(total, count, "the footer counts what the JSON counts");
    let max_ms: f64 = footer[1]
        .trim_start_matches("#[Max     =")
        .split(',')
        .next()
        .and_then(|m| m.trim().parse().ok())
        .expect("the max");
    let json_max_ms = n(&report["latency_corrected_us"], "max") as f64 / 1000.0;
    assert!(
        (max_ms - json_max_ms).abs() < 0.0015,
        "{max_ms} vs {json_max_ms}"
    );
    assert_eq!(
        footer[2],
        "#[Buckets =           16, SubBuckets     =         2048]"
    );
}

#[test]
fn an_interrupted_idle_run_reports_the_connections_it_held() {
    let server = server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args([
            "--server",
            &server.addr.to_string(),
            "--clients",
            "7",
            "--idle",
        ])
        .args(["--server-pid", &server.pid().to_string(), "--json", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run imload");
    let lines = stderr_lines(&mut child);
    let line = next_line(&lines, &mut child);
    assert_eq!(
        line.trim(),
        "registered 7 clients; holding them until interrupted"
    );
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    // The rest, until imload closes stderr by exiting.
    let rest: String = lines.iter().map(|l| l + "\n").collect();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    let report: Value = serde_json::from_slice(&stdout).expect("JSON on stdout");
    assert_eq!(report["idle"], true);
    assert_eq!(n(&report, "connections_held"), 7, "{report}");
    assert!(
        report["setup_s"].as_f64().is_some_and(|s| s > 0.0),
        "{report}"
    );
    assert_eq!(n(&report, "server_pid"), u64::from(server.pid()));
    assert!(n(&report, "server_rss_kb_before") > 0 && n(&report, "server_rss_kb_after") > 0);
    // The table says what was held, and no rates of a run that sent nothing.
    assert!(rest.contains("7 connections held for "), "{rest}");
    assert!(
        rest.contains(&format!("server RSS (pid {}): ", server.pid())),
        "{rest}"
    );
    assert!(
        !rest.contains("msgs/s") && !rest.contains("| corrected |"),
        "{rest}"
    );
}
