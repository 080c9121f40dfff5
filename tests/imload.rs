//! `imload` end to end: the real binary against a real `imserver` on `127.0.0.1:0`, started
//! with `--max-line-rate off` as any load test's server is: imload's clients send as fast
//! as they are told to, and a throttled one would only make the runs slow.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::imload::{
    assert_every_message_delivered_once, imload, n, next_line, stderr_lines, SMALL_RUN,
};

#[test]
fn im_run_delivers_every_message_to_every_other_member_once() {
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let addr = server.addr.to_string();
    let (output, report) = imload(&addr, &SMALL_RUN, "clean");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "imload failed:\n{stderr}\nserver:\n{}",
        server.logs()
    );
    let report = report.expect("a JSON report");
    assert_every_message_delivered_once(&report, 3);
    assert_eq!(
        n(&report, "presence_bytes"),
        0,
        "presence none: no presence traffic"
    );
    assert!(n(&report["latency_corrected_us"], "count") > 0);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("| corrected |") && table.contains("lost 0"),
        "{table}"
    );
}

#[test]
fn presence_full_is_counted_apart_from_messages() {
    let server = common::Server::start(&["--presence-interval-ms", "50", "--max-line-rate", "off"]);
    let addr = server.addr.to_string();
    let flags = [
        "--clients",
        "6",
        "--members",
        "3",
        "--rate",
        "100",
        "--duration",
        "0.5",
        "--warmup",
        "0",
        "--presence",
        "full",
        "--source-ips",
        "127.0.0.2-127.0.0.3",
    ];
    let (output, report) = imload(&addr, &flags, "presence");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("a JSON report");
    assert!(n(&report, "presence_bytes") > 0, "{report}");
    assert_eq!(n(&report, "lost"), 0);
}

#[test]
fn an_unreachable_server_fails_with_a_clear_message() {
    // A port that was just free: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (output, report) = imload(&addr, &["--clients", "2", "--members", "2"], "unreachable");
    assert!(!output.status.success());
    assert!(report.is_none(), "no report for a run that never started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to {addr}")),
        "{stderr}"
    );
}

#[test]
fn a_server_that_refuses_the_clients_fails_the_run() {
    // Room for one client only: the second is told "server full" and closed.
    let server = common::Server::start(&["--max-connections", "1", "--max-line-rate", "off"]);
    let addr = server.addr.to_string();
    let (output, _) = imload(
        &addr,
        &["--clients", "2", "--members", "2", "--duration", "0.2"],
        "full",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server full") || stderr.contains("closed by the server"),
        "{stderr}"
    );
}

#[test]
fn idle_clients_are_held_until_interrupted() {
    use std::process::Stdio;

    let server = common::Server::start(&["--max-line-rate", "off"]);
    let addr = server.addr.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--server", &addr, "--clients", "5", "--idle"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run imload");
    // On stderr: stdout holds the report alone.
    let lines = stderr_lines(&mut child);
    let line = next_line(&lines, &mut child);
    assert_eq!(
        line.trim(),
        "registered 5 clients; holding them until interrupted"
    );
    for _ in 0..5 {
        server.wait_log("register ");
    }
    // The progress lines go on while holding (once a second, like any phase's).
    let progress = next_line(&lines, &mut child);
    assert!(
        progress.contains(" holding ") && progress.contains("connected      5"),
        "{progress}"
    );
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    assert!(
        child.wait().unwrap().success(),
        "an interrupted hold is a clean exit"
    );
    for _ in 0..5 {
        server.wait_log("disconnect ");
    }
}

#[test]
fn the_server_address_may_be_a_host_name() {
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let addr = format!("localhost:{}", server.addr.port());
    let flags = ["--clients", "2", "--members", "2", "--rate", "50"];
    let (output, report) = imload(
        &addr,
        &[&flags[..], &["--duration", "0.2"]].concat(),
        "name",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("a JSON report");
    let resolved: std::net::SocketAddr = report["server"].as_str().unwrap().parse().unwrap();
    assert!(resolved.ip().is_loopback(), "{report}");
    assert_eq!(resolved.port(), server.addr.port());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("not a loopback"), "{stderr}");
}

/// Runs imload with flags it must refuse before connecting (the address has no server).
fn refused(flags: &[&str]) -> String {
    common::imload::usage_error(&[&["--server", "127.0.0.1:9"], flags].concat())
}

#[test]
fn a_size_below_the_stamp_is_refused_with_the_minimum() {
    let stderr = refused(&["--size", "10", "--clients", "4", "--members", "2"]);
    let min: usize = stderr
        .split("--size must be at least ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the message names the minimum: {stderr}"));
    assert!(min > 10 && stderr.contains("got 10"), "{stderr}");
    // The minimum itself is a run, and its messages are that long, not longer.
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let size = min.to_string();
    let flags = [
        "--clients",
        "4",
        "--members",
        "2",
        "--rate",
        "50",
        "--duration",
        "0.2",
    ];
    let (output, report) = imload(
        &server.addr.to_string(),
        &[&flags[..], &["--size", &size]].concat(),
        "min-size",
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("a JSON report");
    let deliveries = n(&report, "delivered") + n(&report, "echoes");
    assert!(deliveries > 0, "{report}");
    // Every delivery is `MESSAGE [c,"uxyN","text"]` with a one-digit conversation and a
    // four-letter name on a fresh server: 22 bytes around a text of exactly `min` bytes.
    assert_eq!(
        n(&report, "message_bytes"),
        deliveries * (min as u64 + 22),
        "every text is the size asked: {report}"
    );
}

#[test]
fn more_members_than_clients_is_refused_not_shrunk() {
    let stderr = refused(&["--clients", "5", "--members", "10"]);
    assert!(
        stderr.contains("--members must be at most --clients (5), got 10"),
        "{stderr}"
    );
    for (flags, what) in [
        (&["--duration", "0"][..], "--duration must be a positive"),
        (&["--warmup=-1"][..], "--warmup must be 0 or more"),
        (&["--rate", "0"][..], "--rate must be a positive"),
    ] {
        let stderr = refused(flags);
        assert!(stderr.contains(what), "{flags:?}: {stderr}");
    }
}

#[test]
fn redis_target_run_delivers_every_message_once_and_again_after_a_restart() {
    let mut redis = common::redis::Redis::start();
    assert_eq!(redis.command(&["PING"]), "PONG");
    let addr = redis.addr().to_string();
    let flags = [&SMALL_RUN[..], &["--target", "redis"]].concat();
    let (output, report) = imload(&addr, &flags, "redis");
    assert!(
        output.status.success(),
        "{}\nredis-server:\n{}",
        String::from_utf8_lossy(&output.stderr),
        redis.logs()
    );
    assert_every_message_delivered_once(&report.expect("a JSON report"), 3);

    // Killed and started again on the same port, empty: it answers there again.
    redis.command(&["SET", "before", "1"]);
    let port = redis.port();
    redis.restart();
    assert_eq!(redis.port(), port);
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(redis.command(&["PING"]), "PONG");
    assert_eq!(
        redis.command(&["EXISTS", "before"]),
        "0",
        "nothing persisted"
    );
    let (output, report) = imload(&addr, &flags, "redis-restarted");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_every_message_delivered_once(&report.expect("a JSON report"), 3);
}
