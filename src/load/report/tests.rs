//! The report's CPU fields and the limit they name, for one server process and several.

use super::*;
use std::net::SocketAddr;

#[test]
fn the_server_is_the_limit_only_when_it_used_its_core_and_imload_did_not() {
    let cases = [
        (Some(0.95), 0.2, Bound::Server),
        (Some(0.99), 0.94, Bound::Server),
        (Some(0.99), 0.99, Bound::Both),
        (Some(0.95), 0.95, Bound::Both),
        (Some(1.3), 0.5, Bound::Server),
        (Some(0.94), 0.97, Bound::Generator),
        (Some(0.60), 0.95, Bound::Generator),
        (Some(0.60), 0.94, Bound::Neither),
        (Some(0.0), 0.0, Bound::Neither),
        (None, 0.96, Bound::Generator),
        (None, 0.94, Bound::Unknown),
    ];
    for (server, imload, expected) in cases {
        assert_eq!(bound(server, imload), expected, "{server:?}, {imload}");
    }
}

#[test]
fn cpu_fields_are_each_sides_time_over_the_window() {
    let mut report = Report::sample(4_000, 2.0, Some(42));
    report.set_cpu(2.0, &[Some(1.0)], 0.5);
    assert_eq!(report.server_cpu_share, Some(0.5));
    assert_eq!(report.imload_cpu_share, 0.25);
    assert_eq!(report.server_cpu_us_per_delivery, Some(250.0));
    assert_eq!(report.imload_cpu_us_per_delivery, Some(125.0));
    assert_eq!(report.bound, Bound::Neither);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["bound"], "neither");
    assert_eq!(json["procs"], 1);
    assert_eq!(json["imload_cpu_s"], 0.5);
    assert_eq!(json["server_cpu_measured_s"], 1.0);

    // Without the server's time nothing is said of it; imload alone can still be
    // found to be the limit. One thread is one core at most.
    report.set_cpu(2.0, &[], 2.001);
    assert_eq!(
        (report.server_cpu_share, report.imload_cpu_share),
        (None, 1.0)
    );
    assert_eq!(report.bound, Bound::Generator);
    assert!(serde_json::to_value(&report).unwrap()["server_cpu_share"].is_null());

    let mut silent = Report::sample(0, 2.0, None);
    silent.set_cpu(2.0, &[], 0.1);
    assert_eq!(silent.imload_cpu_us_per_delivery, None);
    assert_eq!(silent.bound, Bound::Unknown);
}

#[test]
fn several_server_processes_are_summed_and_the_busiest_says_whether_one_was_the_limit() {
    let nodes: Vec<Node> = (1..=3)
        .map(|port| Node::plain(SocketAddr::from(([127, 0, 0, 1], port))))
        .collect();
    let mut report = Report::sample(1_000, 1.0, Some(7));
    report.set_servers(
        &nodes,
        10,
        &[7, 8],
        [&[Some(100), Some(50)], &[Some(300), None]],
    );
    assert_eq!(report.server, "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3");
    let counts: Vec<usize> = report.servers.iter().map(|s| s.clients).collect();
    assert_eq!(counts, [4, 3, 3]);
    // Two processes at 60% and 50% of a core: together more than one, yet neither
    // was saturated.
    report.set_cpu(1.0, &[Some(0.6), Some(0.5)], 0.2);
    assert_eq!(report.server_cpu_measured_s, Some(1.1));
    assert_eq!(report.server_cpu_share, Some(1.1));
    assert_eq!(report.server_cpu_us_per_delivery, Some(1_100.0));
    assert_eq!(report.bound, Bound::Neither);
    let first = &report.server_processes[0];
    assert_eq!((first.pid, first.cpu_share), (7, Some(0.6)));
    assert_eq!(
        (first.rss_kb_before, first.rss_kb_after),
        (Some(100), Some(300))
    );
    // One of them at its core: that node is the limit.
    report.set_cpu(1.0, &[Some(0.97), Some(0.5)], 0.2);
    assert_eq!(report.bound, Bound::Server);
    // A process unread: no sum, which would pass for all of them.
    report.set_cpu(1.0, &[Some(0.97), None], 0.2);
    assert_eq!(
        (report.server_cpu_measured_s, report.bound),
        (None, Bound::Unknown)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["servers"][0]["server"], "127.0.0.1:1");
    assert_eq!(json["server_processes"][1]["pid"], 8);
}
