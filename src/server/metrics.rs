//! `--metrics` (the `metrics` feature): what a request on the metrics listener gets, and the
//! OpenMetrics text of a scrape. Pure, like `web/`: the loop (`event_loop/metrics.rs`)
//! reads the request, takes a [`Snapshot`] of its counters and gauges, and queues the
//! answer; nothing here touches a socket.
//!
//! The text is written by prometheus-client (the Prometheus project's crate) from a
//! snapshot taken at scrape time, through its `Collector` trait: the loop's counters stay
//! plain `u64`s (`stats.rs`), with no registry, atomics or locks on the hot path. A
//! scrape costs one pass over the connections (for the gauges) and a few kilobytes of text.

mod request;

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::dispatch::COMMANDS;
use super::stats::{
    reason_label, LinesOut, Refused, Stats, LINES_IN_OTHER, OUT_WORDS, PASS_BUCKETS_US, REASONS,
};
pub use request::{read_request, refusal, response, Ask, CONTENT_TYPE, METRICS_PATH};

/// Every metric's name starts with this.
const PREFIX: &str = "imchat";

/// Every kind of connection, as the `transport` label names it.
pub const TRANSPORTS: [&str; 4] = ["lines", "http", "websocket", "metrics"];

/// A connection's kind, indexing [`TRANSPORTS`] (a build without the `web` feature has no
/// page connections, and shows none).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Lines = 0,
    #[cfg(feature = "web")]
    Http = 1,
    #[cfg(feature = "web")]
    WebSocket = 2,
    Metrics = 3,
}

/// Where a connection is, as the `state` label names it: not (yet) a user, a user, or on
/// its way out.
pub const STATES: [&str; 3] = ["unregistered", "registered", "closing"];

/// Where a connection is, indexing [`STATES`].
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Unregistered,
    Registered,
    Closing,
}

/// The discovery socket's counts (`--announce`).
#[derive(Debug, Clone, Copy)]
pub struct Announced {
    pub sent: u64,
    pub requests: u64,
    pub malformed: u64,
}

/// The Redis engine's state (`--engine redis`), for its metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineState {
    /// 1 while the node is part of the chat (connected, with a node id), else 0.
    pub connected: u64,
    /// Requests sent to Redis and not answered yet.
    pub pending: u64,
    /// Times the link to Redis broke or could not be made.
    pub failures: u64,
    /// Users of other nodes this node knows.
    pub remote_users: u64,
}

/// Everything one scrape shows: the counters as they stand, and the gauges the loop
/// computed for it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub stats: Stats,
    pub lines_out: LinesOut,
    /// Open connections, by [`TRANSPORTS`] then [`STATES`].
    pub connections: [[u64; STATES.len()]; TRANSPORTS.len()],
    pub users: u64,
    pub conversations: u64,
    pub queued_bytes: u64,
    pub timers: u64,
    /// Open connections that speak TLS (of every transport and state above).
    pub tls_connections: u64,
    pub announced: Option<Announced>,
    pub engine: Option<EngineState>,
}

impl Snapshot {
    /// One open connection, with what is queued for it.
    pub fn count(&mut self, kind: Kind, stage: Stage, queued: usize) {
        self.connections[kind as usize][stage as usize] += 1;
        self.queued_bytes += queued as u64;
    }

    /// The OpenMetrics text, `# EOF` included.
    pub fn encode(self) -> String {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(self));
        let mut text = String::new();
        // Writing to a String cannot fail, and every value here is a plain number.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// The unit of byte counts.
static BYTES: Unit = Unit::Bytes;

/// A metric: its name after the prefix (the unit, if any, follows it), unit, type and help.
struct Desc {
    name: &'static str,
    unit: Option<&'static Unit>,
    kind: MetricType,
    help: &'static str,
}

fn counter(name: &'static str, help: &'static str) -> Desc {
    Desc::new(MetricType::Counter, name, help)
}

fn gauge(name: &'static str, help: &'static str) -> Desc {
    Desc::new(MetricType::Gauge, name, help)
}

impl Desc {
    fn new(kind: MetricType, name: &'static str, help: &'static str) -> Desc {
        let unit = None;
        Desc {
            name,
            unit,
            kind,
            help,
        }
    }

    fn in_bytes(self) -> Desc {
        let unit = Some(&BYTES);
        Desc { unit, ..self }
    }

    fn start<'e>(
        &self,
        encoder: &'e mut DescriptorEncoder,
    ) -> Result<MetricEncoder<'e>, fmt::Error> {
        encoder.encode_descriptor(self.name, self.help, self.unit, self.kind)
    }
}

/// One metric with one label, and a value per label value.
fn family<'a>(
    encoder: &mut DescriptorEncoder,
    desc: Desc,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut metric = desc.start(encoder)?;
    for (value, n) in values {
        put(&mut metric.encode_family(&[(label, value)])?, desc.kind, n)?;
    }
    Ok(())
}

/// One value of a counter or a gauge.
fn put(metric: &mut MetricEncoder, kind: MetricType, n: u64) -> fmt::Result {
    match kind {
        MetricType::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&n, None),
        _ => metric.encode_gauge(&n),
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let s = &self.stats;
        let help = "Lines received, by command word (unknown: no command's; empty: blank)";
        let commands = COMMANDS.iter().map(|c| c.name).chain(LINES_IN_OTHER);
        family(
            &mut e,
            counter("lines_in", help),
            "command",
            commands.zip(s.lines_in),
        )?;
        let help = "Lines queued for clients, by command word, one per recipient";
        let words = OUT_WORDS.into_iter().zip(self.lines_out.0);
        family(&mut e, counter("lines_out", help), "command", words)?;
        let help = "Chat connections closed, by why";
        let reasons = REASONS.map(reason_label).into_iter().zip(s.closes);
        family(&mut e, counter("closes", help), "reason", reasons)?;
        let help = "Connections refused at accept, by why (scrapes included)";
        let refused = Refused::ALL.iter().map(|r| r.label()).zip(s.refusals);
        family(&mut e, counter("refusals", help), "reason", refused)?;
        for (desc, n) in self.singles() {
            put(&mut desc.start(&mut e)?, desc.kind, n)?;
        }
        self.encode_pass_times(&mut e)?;
        self.encode_connections(&mut e)
    }
}

impl Snapshot {
    /// Every metric without labels, with its value.
    fn singles(&self) -> Vec<(Desc, u64)> {
        let s = &self.stats;
        let mut singles = vec![
            (
                counter("received", "Bytes read from chat connections").in_bytes(),
                s.bytes_in,
            ),
            (
                counter("sent", "Bytes written to chat connections").in_bytes(),
                s.bytes_out,
            ),
            (
                counter(
                    "slow_readers_dropped",
                    "Connections dropped for not reading",
                ),
                s.slow_readers,
            ),
            (counter("passes", "Passes of the event loop"), s.passes),
            (
                counter("scrapes", "Requests for these metrics answered"),
                s.scrapes,
            ),
            (
                counter(
                    "wrong_passwords",
                    "REGISTERs refused for a wrong or missing password",
                ),
                s.wrong_passwords,
            ),
            (
                gauge("tls_connections", "Open connections speaking TLS"),
                self.tls_connections,
            ),
            (gauge("users", "Registered users"), self.users),
            (
                gauge(
                    "conversations",
                    "Conversations (the last member to leave ends one)",
                ),
                self.conversations,
            ),
            (
                gauge("output_queued", "Bytes queued and not yet written").in_bytes(),
                self.queued_bytes,
            ),
            (gauge("timers", "Timers pending on the wheel"), self.timers),
        ];
        if let Some(a) = self.announced {
            singles.extend([
                (
                    counter("announcements", "ANNOUNCE datagrams sent (--announce)"),
                    a.sent,
                ),
                (
                    counter("discovery_requests", "REQUEST datagrams heard (--announce)"),
                    a.requests,
                ),
                (
                    counter(
                        "discovery_malformed",
                        "Malformed datagrams ignored (--announce)",
                    ),
                    a.malformed,
                ),
            ]);
        }
        if let Some(e) = self.engine {
            singles.extend([
                (
                    gauge(
                        "engine_connected",
                        "1 while this node is part of the chat in Redis (--engine redis)",
                    ),
                    e.connected,
                ),
                (
                    gauge(
                        "engine_pending",
                        "Requests sent to Redis and not answered yet",
                    ),
                    e.pending,
                ),
                (
                    counter(
                        "engine_failures",
                        "Times the link to Redis broke or could not be made",
                    ),
                    e.failures,
                ),
                (
                    gauge("remote_users", "Users of other nodes this node knows"),
                    e.remote_users,
                ),
            ]);
        }
        singles
    }

    fn encode_pass_times(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let times = &self.stats.pass_time;
        let help = "How long each pass of the event loop took (recorded while --metrics is on)";
        // The name carries the unit, without a `# UNIT` line: OpenMetrics allows one on a
        // histogram, but parsers in use (openmetrics-parser) refuse it.
        let name = "pass_duration_seconds";
        let mut metric = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
        let bounds = (PASS_BUCKETS_US.iter().map(|us| *us as f64 / 1e6)).chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds.zip(times.buckets).collect();
        let sum = times.sum_ns as f64 / 1e9;
        metric.encode_histogram::<NoLabelSet>(sum, times.count, &buckets, None)
    }

    fn encode_connections(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let help = "Open connections, by transport and state (a scrape's is transport=metrics)";
        let mut metric = gauge("connections", help).start(e)?;
        for (transport, states) in TRANSPORTS.iter().zip(self.connections) {
            for (state, n) in STATES.iter().zip(states) {
                let labels = [("transport", *transport), ("state", *state)];
                metric.encode_family(&labels)?.encode_gauge(&n)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
