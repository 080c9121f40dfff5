//! A process's resident memory and CPU time, for `--server-pid`: what the server's
//! connections and deliveries cost; and imload's own CPU time, to tell whether a run
//! measured the server or imload.

/// `VmRSS` of process `pid` in kB, from Linux's `/proc/PID/status`; `None` where there is
/// no such file (another system, a process that has exited) or no such line.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:   1234 kB` line's number.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// CPU time process `pid` has used so far (user and system), seconds, from Linux's
/// `/proc/PID/stat`; `None` where it cannot be read. Clock-tick resolution (10 ms where
/// `CLK_TCK` is 100): a window of a few seconds is what it is for.
pub fn cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf reads a system constant; no memory is involved.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then_some(())?;
    Some(parse_cpu_ticks(&stat)? as f64 / hz as f64)
}

/// CPU time this process has used so far (user and system), seconds, from
/// `getrusage(RUSAGE_SELF)`: microsecond resolution, with no file to read. The call fails
/// only for a bad pointer or `who` (EFAULT, EINVAL), neither of which it is given.
pub fn own_cpu_s() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of that plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for getrusage to fill. (Were it to fail, `usage`
    // would stay zero.)
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(usage.ru_utime) + s(usage.ru_stime)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field
/// 2) is in parentheses and may hold spaces, so fields are counted after its `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// imload's CPU time and each server process's (`--server-pid`), seconds, read when the
/// measured window starts (0) and when sending stops (1), with when they were read (µs
/// since the start): what each side spent on the window's traffic.
#[derive(Default)]
pub struct CpuWindow {
    at_us: [u64; 2],
    imload_s: [Option<f64>; 2],
    server_s: [Vec<Option<f64>>; 2],
}

impl CpuWindow {
    pub fn started(&self) -> bool {
        self.imload_s[0].is_some()
    }

    /// Reads both sides' times at the window's start (`end` 0) or its end (1); `now` is
    /// µs since the run's start.
    pub fn read(&mut self, end: usize, now: u64, server_pids: &[u32]) {
        self.at_us[end] = now;
        self.imload_s[end] = Some(own_cpu_s());
        self.server_s[end] = server_pids.iter().map(|&pid| cpu_s(pid)).collect();
    }

    /// The window's wall time, seconds, each server process's CPU time in it (in
    /// `--server-pid`'s order; `None` for one not read at both ends) and imload's; `None`
    /// if the window never ended (or never began).
    pub fn spent(&self) -> Option<(f64, Vec<Option<f64>>, f64)> {
        let [Some(i0), Some(i1)] = self.imload_s else {
            return None;
        };
        let wall = self.at_us[1].saturating_sub(self.at_us[0]) as f64 / 1e6;
        Some((wall, cpu_spent(&self.server_s), i1 - i0))
    }
}

/// Each process's CPU time between two reads of them all.
pub fn cpu_spent([start, end]: &[Vec<Option<f64>>; 2]) -> Vec<Option<f64>> {
    start
        .iter()
        .zip(end)
        .map(|(s0, s1)| Some((*s1)? - (*s0)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_from_status() {
        let status = "Name:\timserver\nVmPeak:\t  9000 kB\nVmRSS:\t    4321 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(4321));
        assert_eq!(
            parse_vm_rss("Name:\tkthreadd\n"),
            None,
            "kernel threads have none"
        );
        assert!(rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "4242 (im server) S 1 4242 4242 0 -1 4194560 300 0 0 0 157 43 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(200));
        assert_eq!(parse_cpu_ticks("4242 (short) S 1"), None);
        assert!(cpu_s(std::process::id()).is_some());
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        let before = own_cpu_s();
        // Work until the clock moves (it counts in µs), with a generous deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 0u64;
        while own_cpu_s() <= before {
            assert!(std::time::Instant::now() < deadline, "CPU time never grew");
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }
}
