//! The metrics listener in the loop (the `metrics` feature): a connection to it is one more
//! kind of connection in the same slab, whose one request is answered like the page's
//! (queued, flushed, then closed with [`Reason::Served`]). Answering `GET /metrics` takes a
//! snapshot of the counters and computes the gauges by one pass over the connections:
//! O(connections), a few microseconds per thousand, once per scrape (a scraper asks every
//! 15 s or so), never per line.

use std::io;
use std::net::SocketAddr;

use log::info;

use crate::buffer::Wire;
use crate::server::metrics::{self, Announced, Ask, Kind, Snapshot, Stage};

use super::lifecycle::State;
use super::listen::addrs_of;
use super::transport::Transport;
use super::{Reason, Server};

impl Server {
    /// The addresses `/metrics` is served on (`--metrics`).
    pub fn metrics_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        addrs_of(&self.listeners, Wire::Metrics)
    }

    /// Says where the metrics are, at start (tests and operators read the address there).
    pub(super) fn log_metrics_addrs(&self) -> io::Result<()> {
        for addr in self.metrics_addrs()? {
            info!("metrics at http://{addr}{}", metrics::METRICS_PATH);
        }
        Ok(())
    }

    /// Answers the one request of a connection to the metrics listener, then closes it.
    pub(super) fn on_scrape(&mut self, key: usize, ask: Ask) {
        let response = match ask {
            Ask::Metrics => {
                self.stats.scrapes += 1;
                let text = self.snapshot().encode();
                metrics::response(200, metrics::CONTENT_TYPE, &text)
            }
            Ask::Refuse(status) => metrics::refusal(status),
        };
        self.out.send_raw(key, &response);
        self.close(key, Reason::Served);
    }

    /// The counters as they stand, and the gauges, computed now.
    pub(super) fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot {
            stats: self.stats.clone(),
            lines_out: self.out.sent.clone(),
            users: self.chat.user_count() as u64,
            conversations: self.chat.conversation_count() as u64,
            timers: self.wheel.len() as u64,
            ..Snapshot::default()
        };
        for (key, conn) in &self.conns {
            let kind = match conn.transport {
                Transport::Lines => Kind::Lines,
                #[cfg(feature = "web")]
                Transport::Http => Kind::Http,
                #[cfg(feature = "web")]
                Transport::WebSocket(_) => Kind::WebSocket,
                Transport::Metrics => Kind::Metrics,
            };
            let stage = match conn.state {
                State::Open if self.chat.is_registered(key) => Stage::Registered,
                State::Open => Stage::Unregistered,
                _ => Stage::Closing,
            };
            snapshot.count(kind, stage, self.out.queued(key));
            snapshot.tls_connections += u64::from(conn.stream.is_tls());
        }
        snapshot.announced = self.announcer.as_ref().map(|a| Announced {
            sent: a.sent,
            requests: a.requests,
            malformed: a.malformed,
        });
        #[cfg(feature = "engine")]
        if let crate::server::engine::Engine::Redis(redis) = &self.engine {
            snapshot.engine = Some(redis.state(&self.chat));
        }
        snapshot
    }
}
