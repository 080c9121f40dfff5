//! What the loop shows: a progress line once a second, and the final report.

use super::super::nodes::sum_all;
use super::super::proto::Protocol;
use super::super::report::{Held, Progress, Report, ReportHeader};
use super::super::rss_kb;
use super::super::text::rfc3339;
use super::{Driver, Phase, PROGRESS_EVERY_US};

impl<P: Protocol> Driver<P> {
    pub(super) fn progress(&mut self, now: u64) {
        let secs = (now - self.next_progress_us + PROGRESS_EVERY_US) as f64 / 1e6;
        let phase = match self.phase {
            Phase::Setup => "setup",
            Phase::Sending if now < self.measure_start_us => "warmup",
            Phase::Sending => "measured",
            Phase::Draining { .. } => "drain",
            Phase::Holding => "holding",
        };
        let measuring = matches!(self.phase, Phase::Sending | Phase::Draining { .. })
            && now >= self.measure_start_us;
        let line = Progress {
            elapsed_s: now as f64 / 1e6,
            phase,
            connected: self.connected,
            sent_per_s: (self.stats.sent - self.last_sent) as f64 / secs,
            delivered_per_s: (self.stats.delivered - self.last_delivered) as f64 / secs,
            p99_us: measuring.then(|| self.stats.corrected.value_at_quantile(0.99)),
            errors: self.stats.errors,
        };
        self.last_sent = self.stats.sent;
        self.last_delivered = self.stats.delivered;
        self.next_progress_us = now + PROGRESS_EVERY_US;
        if self.settings.progress {
            eprintln!("{line}");
        }
    }

    pub(super) fn report(&mut self, now: u64) -> Report {
        let s = |us: u64| us as f64 / 1e6;
        let sending = !self.settings.idle && self.setup_us.is_some();
        let measured_us = if sending {
            self.send_end_us
                .min(now)
                .saturating_sub(self.measure_start_us)
        } else {
            0
        };
        let header = ReportHeader {
            target: self.settings.target.name(),
            tls: self.settings.tls(),
            clients: self.settings.clients,
            members: self.settings.members,
            size: self.settings.size,
            offered_rate: self.settings.rate,
            warmup_s: if sending { self.settings.warmup } else { 0.0 },
            measured_s: s(measured_us),
        };
        // Read before the connections close (they close when the driver is dropped).
        let pids = &self.settings.server_pids;
        let rss_after_kb: Vec<Option<u64>> = pids.iter().map(|&p| rss_kb(p)).collect();
        let held = Held {
            idle: self.settings.idle,
            setup_s: self.setup_us.map(s),
            connections_held: self.clients.len(),
            held_s: self.setup_us.map_or(0.0, |setup| s(now - setup)),
            server_pid: pids.first().copied(),
            server_rss_kb_before: sum_all(&self.rss_before_kb),
            server_rss_kb_after: sum_all(&rss_after_kb),
        };
        let (expected, echoes) = (self.expected, self.expected_echoes);
        let mut report = Report::new(&mut self.stats, header, held, expected, echoes);
        report.timestamp = rfc3339(self.started_wall);
        let (nodes, clients) = (&self.settings.servers, self.settings.clients);
        let rss = [&self.rss_before_kb[..], &rss_after_kb[..]];
        report.set_servers(nodes, clients, pids, rss);
        if let Some((wall_s, server_s, imload_s)) = self.cpu.spent() {
            report.set_cpu(wall_s, &server_s, imload_s);
        }
        report
    }
}
