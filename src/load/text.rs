//! The progress lines and the final report as people read them, and the report's
//! timestamp.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::report::{Bound, Progress, Report, ReportHeader};

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:6.1}s {:<8} connected {:>6}  sent/s {:>9.0}  delivered/s {:>10.0}  p99 ",
            self.elapsed_s, self.phase, self.connected, self.sent_per_s, self.delivered_per_s,
        )?;
        // Before the measured window there is no latency to show, and 0.000 would read
        // as a fast server.
        match self.p99_us {
            Some(us) => write!(f, "{:>8.3} ms", ms(us))?,
            None => write!(f, "{:>11}", self.phase)?,
        }
        write!(f, "  errors {}", self.errors)
    }
}

/// `im`, or `im over TLS` for `--tls`.
fn target(h: &ReportHeader) -> String {
    let tls = if h.tls { " over TLS" } else { "" };
    format!("{}{tls}", h.target)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        if self.held.idle {
            writeln!(f, "target {}  clients {}  idle", target(h), h.clients)?;
            write_servers(f, self)?;
            write_held(f, self)?;
            return write_errors(f, self);
        }
        writeln!(
            f,
            "target {}  clients {}  members {}  size {} B  offered {:.0} msgs/s  measured {:.1} s",
            target(h),
            h.clients,
            h.members,
            h.size,
            h.offered_rate,
            h.measured_s
        )?;
        write_servers(f, self)?;
        writeln!(f, "| latency (ms) | p50 | p90 | p99 | p99.9 | max |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|")?;
        for (name, p) in [
            ("corrected", &self.latency_corrected_us),
            ("uncorrected", &self.latency_uncorrected_us),
        ] {
            writeln!(
                f,
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                ms(p.p50),
                ms(p.p90),
                ms(p.p99),
                ms(p.p999),
                ms(p.max)
            )?;
        }
        // The windows apart: the rates are the measured window's alone, so its counts
        // stand next to them, and the totals below say what the whole run did.
        writeln!(
            f,
            "warmup ({:.1} s): sent {}  delivered {}",
            h.warmup_s, self.sent_warmup, self.delivered_warmup
        )?;
        writeln!(
            f,
            "measured ({:.1} s): sent {} ({:.0} msgs/s)  delivered {} ({:.0} msgs/s, {:.0} bytes/s, to members other than the sender)",
            h.measured_s,
            self.sent_measured,
            self.sent_per_s,
            self.delivered_measured,
            self.delivered_per_s,
            self.delivered_bytes_per_s
        )?;
        // A window of no time (interrupted in the warmup) had no CPU to speak of.
        if h.measured_s > 0.0 {
            write_cpu(f, self)?;
        }
        writeln!(
            f,
            "after sending stopped: delivered {}",
            self.delivered_after
        )?;
        writeln!(
            f,
            "total: sent {}  delivered {} of {}  sender echoes {}  lost {}  duplicates {}  reordered {}  strays {}",
            self.sent, self.delivered, self.expected, self.echoes, self.lost, self.duplicates, self.reordered, self.strays
        )?;
        writeln!(
            f,
            "bytes received: messages {}  presence {}  other {}",
            self.message_bytes, self.presence_bytes, self.other_bytes
        )?;
        write_held(f, self)?;
        write_errors(f, self)
    }
}

/// Every server with its clients: `server 127.0.0.1:6666 (100 clients)`, or with several
/// `servers 127.0.0.1:7001 (34 clients), 127.0.0.1:7002 (33 clients), ...`.
fn write_servers(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let plural = if r.servers.len() > 1 { "s" } else { "" };
    write!(f, "server{plural} ")?;
    for (i, s) in r.servers.iter().enumerate() {
        let comma = if i > 0 { ", " } else { "" };
        write!(f, "{comma}{} ({} clients)", s.server, s.clients)?;
    }
    writeln!(f)
}

/// `pid 42`, or `pids 42, 43 summed` for several server processes.
fn pids(r: &Report) -> String {
    let mut pids: Vec<String> = (r.server_processes.iter())
        .map(|p| p.pid.to_string())
        .collect();
    if pids.is_empty() {
        pids.extend(r.held.server_pid.map(|pid| pid.to_string()));
    }
    match &pids[..] {
        [one] => format!("pid {one}"),
        _ => format!("pids {} summed", pids.join(", ")),
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// Each side's CPU in the measured window, and which of them, if either, was the limit:
/// a rate is called the server's only when the server was saturated.
fn write_cpu(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    write!(f, "CPU in the measured window: ")?;
    match (r.server_cpu_measured_s, r.server_cpu_share) {
        (Some(cpu), Some(share)) if r.server_processes.len() > 1 => {
            let busiest = (r.server_processes.iter())
                .filter_map(|p| p.cpu_share)
                .fold(0.0, f64::max);
            write!(
                f,
                "servers ({}) {cpu:.2} s ({} of a core, the busiest at {}",
                pids(r),
                percent(share),
                percent(busiest)
            )?;
            if let Some(per) = r.server_cpu_us_per_delivery {
                write!(f, ", {per:.3} µs per delivery")?;
            }
            write!(f, "); ")?;
        }
        (Some(cpu), Some(share)) => {
            write!(f, "server {cpu:.2} s ({} of a core", percent(share))?;
            if let Some(per) = r.server_cpu_us_per_delivery {
                write!(f, ", {per:.3} µs per delivery")?;
            }
            write!(f, "); ")?;
        }
        _ if r.held.server_pid.is_none() => write!(f, "server not measured (give --server-pid); ")?,
        _ => write!(
            f,
            "server not measured (its /proc/PID/stat was unreadable); "
        )?,
    }
    write!(f, "imload {:.2} s (", r.imload_cpu_s)?;
    if r.procs > 1 {
        write!(f, "{} processes, the busiest at ", r.procs)?;
    }
    write!(f, "{}", percent(r.imload_cpu_share))?;
    if let Some(per) = r.imload_cpu_us_per_delivery {
        write!(f, ", {per:.3} µs per delivery")?;
    }
    write!(f, "): ")?;
    let imload = percent(r.imload_cpu_share);
    match (r.bound, r.server_cpu_share) {
        (Bound::Server, _) => writeln!(f, "server-bound, the delivered rate is the server's"),
        (Bound::Both, _) => writeln!(
            f,
            "both saturated, so this rate is a lower bound on the server's limit, not the limit"
        ),
        (Bound::Generator, Some(server)) => writeln!(
            f,
            "generator-bound: imload used {imload} of its core and the server {}, so this rate is imload's limit, not the server's",
            percent(server)
        ),
        (Bound::Generator, None) => writeln!(
            f,
            "generator-bound: imload used {imload} of its core, so this rate is imload's limit, not the server's"
        ),
        (Bound::Neither, _) => writeln!(f, "neither saturated"),
        (Bound::Unknown, _) => writeln!(
            f,
            "imload not saturated; whether the server was is unknown without its CPU time"
        ),
    }
}

/// The connections, the setup time and the server's memory.
fn write_held(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let held = &r.held;
    match held.setup_s {
        Some(setup) => writeln!(
            f,
            "setup {:.3} s; {} connections held for {:.1} s",
            setup, held.connections_held, held.held_s
        )?,
        None => writeln!(f, "setup did not finish")?,
    }
    let (Some(_), Some(before), Some(after)) = (
        held.server_pid,
        held.server_rss_kb_before,
        held.server_rss_kb_after,
    ) else {
        let why = match held.server_pid {
            None => "give --server-pid",
            Some(_) => "its /proc/PID/status was unreadable",
        };
        return writeln!(f, "server RSS: not measured ({why})");
    };
    write!(
        f,
        "server RSS ({}): {before} kB before connecting, {after} kB at the end: {:+} kB",
        pids(r),
        after as i64 - before as i64
    )?;
    if let Some(per) = held.rss_bytes_per_connection() {
        write!(f, ", {per:.0} B per held connection")?;
    }
    writeln!(f)
}

fn write_errors(f: &mut fmt::Formatter<'_>, report: &Report) -> fmt::Result {
    write!(
        f,
        "errors {}  closed by server {}",
        report.errors, report.closed_by_server
    )?;
    for sample in &report.error_samples {
        write!(f, "\n  error: {sample}")?;
    }
    Ok(())
}

/// `time` as RFC 3339 in UTC to the second, `2026-11-25T17:16:49Z`: civil-from-days
/// (Howard Hinnant's algorithm, proleptic Gregorian), as a date crate would do it, without
/// the crate. Times before 1970 (a wrong clock) are written as 1970.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates_are_right_around_leap_days_and_centuries() {
        let at = |secs| rfc3339(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(at(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(at(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(at(1_795_619_809), "2026-11-25T15:16:49Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn progress_shows_the_phase_until_there_is_a_latency() {
        let mut line = Progress {
            elapsed_s: 1.0,
            phase: "warmup",
            connected: 3,
            sent_per_s: 10.0,
            delivered_per_s: 20.0,
            p99_us: None,
            errors: 0,
        };
        let text = line.to_string();
        assert!(
            text.contains("p99      warmup") && !text.contains("0.000"),
            "{text}"
        );
        line.p99_us = Some(1500);
        assert!(line.to_string().contains("p99    1.500 ms"), "{line}");
    }

    /// The report's CPU line, for a run of 1,000,000 deliveries in 2 s.
    fn cpu_line(server_pid: Option<u32>, server_s: Option<f64>, imload_s: f64) -> String {
        let mut report = Report::sample(1_000_000, 2.0, server_pid);
        let pids: Vec<u32> = server_pid.into_iter().collect();
        report.set_servers(&[], 10, &pids, [&[], &[]]);
        report.set_cpu(
            2.0,
            &pids.iter().map(|_| server_s).collect::<Vec<_>>(),
            imload_s,
        );
        let text = report.to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("CPU in the measured window: "));
        line.unwrap_or_else(|| panic!("no CPU line in\n{text}"))
            .to_string()
    }

    #[test]
    fn the_cpu_line_names_the_limit_only_when_one_side_used_its_core() {
        assert_eq!(
            cpu_line(Some(7), Some(1.92), 0.94),
            "CPU in the measured window: server 1.92 s (96% of a core, 1.920 µs per delivery); \
             imload 0.94 s (47%, 0.940 µs per delivery): server-bound, the delivered rate is the server's"
        );
        assert!(cpu_line(Some(7), Some(1.2), 1.94).ends_with(
            ": generator-bound: imload used 97% of its core and the server 60%, \
             so this rate is imload's limit, not the server's"
        ));
        assert!(cpu_line(Some(7), Some(1.2), 0.6)
            .ends_with("(30%, 0.600 µs per delivery): neither saturated"));
        let both = cpu_line(Some(7), Some(1.96), 1.98);
        assert!(
            both.ends_with(
                ": both saturated, so this rate is a lower bound on the server's limit, not the limit"
            ),
            "{both}"
        );
        let alone = cpu_line(None, None, 1.95);
        assert!(
            alone.starts_with("CPU in the measured window: server not measured (give --server-pid); imload 1.95 s (98%")
                && alone.ends_with(": generator-bound: imload used 98% of its core, so this rate is imload's limit, not the server's"),
            "{alone}"
        );
        let unknown = cpu_line(None, None, 0.2);
        assert!(
            unknown.ends_with(
                ": imload not saturated; whether the server was is unknown without its CPU time"
            ),
            "{unknown}"
        );
        let unreadable = cpu_line(Some(7), None, 0.2);
        assert!(
            unreadable.contains("server not measured (its /proc/PID/stat was unreadable); "),
            "{unreadable}"
        );
        for line in [alone, unknown, unreadable, both] {
            assert!(
                !line.contains("server-bound") && !line.contains("rate is the server's"),
                "{line}"
            );
        }
    }

    #[test]
    fn a_run_of_several_processes_shows_the_busiest_ones_share() {
        let mut report = Report::sample(1_000_000, 2.0, None);
        report.set_cpu(2.0, &[], 0.8);
        report.procs = 4;
        report.imload_cpu_s = 3.0;
        assert!(
            report
                .to_string()
                .contains("imload 3.00 s (4 processes, the busiest at 40%, "),
            "{report}"
        );
    }
}
