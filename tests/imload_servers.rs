//! `imload --server A,B,C` and `--server-pid P1,P2` end to end: the real binary against
//! three real `imserver` processes on `127.0.0.1:0` (`--max-line-rate off` as in
//! `imload.rs`). They share nothing yet (the Redis engine will join them into one chat), so
//! the runs here form conversations of one member (`--members 1`: every delivery is the
//! sender's echo) wherever a conversation would span servers.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::imload::{
    assert_every_message_delivered_once, imload, n, next_line, stderr_lines, SMALL_RUN,
};
use serde_json::Value;

/// Three servers, and their addresses.
fn three_servers() -> (Vec<common::Server>, Vec<SocketAddr>) {
    let servers: Vec<common::Server> = (0..3)
        .map(|_| common::Server::start(&["--max-line-rate", "off"]))
        .collect();
    let addrs = servers.iter().map(|s| s.addr).collect();
    (servers, addrs)
}

fn joined(addrs: &[SocketAddr]) -> String {
    let addrs: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    addrs.join(",")
}

/// SMALL_RUN (12 clients), each client a conversation of its own.
fn alone() -> Vec<&'static str> {
    let mut flags = SMALL_RUN.to_vec();
    let members = flags.iter().position(|&f| f == "--members").unwrap();
    flags[members + 1] = "1";
    flags
}

/// The report's `servers`: address → clients.
fn clients_by_server(report: &Value) -> HashMap<String, u64> {
    let servers = report["servers"].as_array().expect("servers");
    servers
        .iter()
        .map(|s| (s["server"].as_str().unwrap().to_string(), n(s, "clients")))
        .collect()
}

/// Established connections whose local end is `port` on 127.0.0.1 (the server's side of
/// its accepted connections), from Linux's /proc/net/tcp.
fn accepted_on(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    // `sl local_address rem_address st ...`, addresses as hex `0100007F:1A0A`; 01 is
    // ESTABLISHED.
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 3 && f[1] == local && f[3] == "01")
        .count()
}

#[test]
fn clients_are_dealt_round_robin_to_every_server_and_every_message_arrives() {
    let (servers, addrs) = three_servers();
    let (output, report) = imload(&joined(&addrs), &alone(), "three");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = report.expect("a JSON report");
    // Each message's one delivery is its sender's echo.
    assert_every_message_delivered_once(&report, 0);
    let expected: HashMap<String, u64> = addrs.iter().map(|a| (a.to_string(), 4)).collect();
    assert_eq!(clients_by_server(&report), expected, "{report}");
    assert_eq!(report["server"], joined(&addrs));
    for server in &servers {
        server.wait_log("register ");
    }
    let table = String::from_utf8_lossy(&output.stdout);
    let line = format!(
        "servers {} (4 clients), {} (4 clients), {} (4 clients)",
        addrs[0], addrs[1], addrs[2]
    );
    assert!(table.contains(&line), "{table}");
}

#[test]
fn each_server_holds_its_share_of_the_connections() {
    let (_servers, addrs) = three_servers();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--server", &joined(&addrs), "--clients", "9", "--idle"])
        .args(["--json", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run imload");
    let lines = stderr_lines(&mut child);
    assert_eq!(
        next_line(&lines, &mut child).trim(),
        "registered 9 clients; holding them until interrupted"
    );
    // Seen from the kernel, not from imload: three connections came in at each address.
    let held: Vec<usize> = addrs.iter().map(|a| accepted_on(a.port())).collect();
    assert_eq!(held, [3, 3, 3]);
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut stdout = Vec::new();
    let mut pipe = child.stdout.take().unwrap();
    pipe.read_to_end(&mut stdout).unwrap();
    assert!(child.wait().unwrap().success());
    let report: Value = serde_json::from_slice(&stdout).expect("JSON on stdout");
    let counts = clients_by_server(&report);
    assert!(
        counts.values().all(|&c| c == 3) && counts.len() == 3,
        "{report}"
    );
}

#[test]
fn server_pids_are_summed_and_listed() {
    // The loaded server, and a second, idle one: its memory and (near nil) CPU count in
    // the sums too.
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let other = common::Server::start(&[]);
    let pids = format!("{},{}", server.pid(), other.pid());
    let flags = [&SMALL_RUN[..], &["--server-pid", &pids]].concat();
    let (output, report) = imload(&server.addr.to_string(), &flags, "pids");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = report.expect("a JSON report");
    let each = report["server_processes"].as_array().expect("per process");
    let listed: Vec<u64> = each.iter().map(|p| n(p, "pid")).collect();
    assert_eq!(listed, [u64::from(server.pid()), u64::from(other.pid())]);
    for field in ["rss_kb_before", "rss_kb_after"] {
        let sum: u64 = each.iter().map(|p| n(p, field)).sum();
        assert!(each.iter().all(|p| n(p, field) > 0), "{report}");
        assert_eq!(n(&report, &format!("server_{field}")), sum, "{report}");
    }
    let cpu = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("CPU in {report}"));
    let sum: f64 = each.iter().map(|p| cpu(&p["cpu_measured_s"])).sum();
    let total = cpu(&report["server_cpu_measured_s"]);
    assert!((total - sum).abs() < 1e-9, "{report}");
    let per = cpu(&report["server_cpu_us_per_delivery"]);
    let delivered = n(&report, "delivered_measured") as f64;
    assert!((per - total * 1e6 / delivered).abs() < 1e-6, "{report}");
    let table = String::from_utf8_lossy(&output.stdout);
    let named = format!("(pids {} summed)", pids.replace(',', ", "));
    assert!(table.contains(&named), "{table}");
}

/// imload's stderr for flags it must refuse before connecting (a usage error).
fn refused(flags: &[&str]) -> String {
    common::imload::usage_error(flags)
}

#[test]
fn a_bad_list_is_a_usage_error_naming_the_item() {
    let stderr = refused(&["--server", "127.0.0.1:9,,127.0.0.1:10"]);
    assert!(stderr.contains("item 2 of the list is empty"), "{stderr}");
    let stderr = refused(&["--server", "127.0.0.1:9,127.0.0.1:10,"]);
    assert!(stderr.contains("item 3 of the list is empty"), "{stderr}");
    let stderr = refused(&["--server", "127.0.0.1:9,nowhere"]);
    assert!(
        stderr.contains("item 2 of \"127.0.0.1:9,nowhere\": bad address \"nowhere\""),
        "{stderr}"
    );
    let stderr = refused(&["--server", "127.0.0.1:9", "--server-pid", "1,x"]);
    assert!(
        stderr.contains("item 2 of \"1,x\": \"x\" is not a process id"),
        "{stderr}"
    );
}
