//! `imload --target ws` end to end: the real binary against a real `imserver` whose HTTP
//! listener (`--http 127.0.0.1:0`, from the harness) takes the WebSocket upgrades, with
//! `--max-line-rate off` as in tests/imload.rs.

#![cfg(feature = "web")]

mod common;

use common::imload::{assert_every_message_delivered_once, imload, n, SMALL_RUN};

#[test]
fn ws_run_delivers_every_message_to_every_other_member_once() {
    // The harness starts it with `--http 127.0.0.1:0` and reads the page's address.
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let web = server.http().to_string();
    let flags = [&SMALL_RUN[..], &["--target", "ws"]].concat();
    let (output, report) = imload(&web, &flags, "ws-clean");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "imload failed:\n{stderr}\nserver:\n{}",
        server.logs()
    );
    let report = report.expect("a JSON report");
    assert_eq!(report["target"], "ws", "{report}");
    assert_every_message_delivered_once(&report, 3);
    assert!(n(&report["latency_corrected_us"], "count") > 0, "{report}");
    // The same report counts bytes the same way (the protocol lines, not the frames).
    let deliveries = n(&report, "delivered") + n(&report, "echoes");
    assert!(n(&report, "message_bytes") > deliveries * 64, "{report}");
}

#[test]
fn a_ws_run_against_the_plain_port_fails_saying_why() {
    // The IM port answers the upgrade request with protocol lines, not HTTP.
    let server = common::Server::start(&["--max-line-rate", "off"]);
    let addr = server.addr.to_string();
    let flags = [&SMALL_RUN[..], &["--target", "ws"]].concat();
    let (output, report) = imload(&addr, &flags, "ws-plain");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed run, not a usage error"
    );
    assert!(report.is_none(), "no report for a run that never started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server rejected setup") && stderr.contains("not HTTP"),
        "{stderr}"
    );
}
