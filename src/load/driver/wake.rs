//! How the loop sleeps until its next send is due.
//!
//! The poll's timeout has millisecond resolution (mio rounds it up), and a message due in
//! 300 µs must not leave 700 µs late: that wait would be counted in every latency imload
//! measures. Spinning the last millisecond (polling with a zero timeout until the send is
//! due) is exact but burns the core, and then imload's CPU time is its idle time: a lightly
//! loaded imload would report itself saturated, and its CPU share could no longer tell a
//! generator-bound run from a server-bound one.
//!
//! On Linux a `timerfd` in the same poll wakes the loop instead: it expires at the
//! nanosecond it is armed for (no timer slack, unlike the poll's own timeout), so a send
//! is late only by the time the kernel takes to wake the loop, which a sleeping real
//! client pays too. The poll sleeps with a millisecond timeout while the next send is
//! further than [`TIMER_BELOW_US`] away, and without one, on the timer, for the rest.
//! Elsewhere the loop spins that last stretch as before.

use std::io;
use std::time::{Duration, Instant};

use mio::{Registry, Token};

/// Below this wait (µs) the poll's millisecond timeout is too coarse: the loop sleeps on
/// the timer (Linux) or spins (elsewhere). One poll resolution step: the poll, asked for
/// the wait less this, wakes no later than the send is due, however it rounds.
pub const TIMER_BELOW_US: u64 = 1_000;

/// Wakes the loop at a due time, µs since the run's start.
pub struct Wake {
    #[cfg(target_os = "linux")]
    timer: linux::Timer,
}

impl Wake {
    /// A wake for a run whose times count from `started`, its timer (Linux) registered in
    /// `registry` under `token`.
    pub fn new(registry: &Registry, token: Token, started: Instant) -> io::Result<Wake> {
        #[cfg(not(target_os = "linux"))]
        let _ = (registry, token, started);
        Ok(Wake {
            #[cfg(target_os = "linux")]
            timer: linux::Timer::new(registry, token, started)?,
        })
    }

    /// The poll's timeout to sleep from `now` until `due` (µs since the start), the
    /// timer armed (Linux) for a wait too short for the timeout.
    pub fn timeout(&mut self, now: u64, due: u64) -> Option<Duration> {
        let wait = due.saturating_sub(now);
        if wait == 0 {
            return Some(Duration::ZERO);
        }
        if wait >= TIMER_BELOW_US {
            // Rounded up to a millisecond, this is still no later than `due`.
            return Some(Duration::from_micros(wait - TIMER_BELOW_US));
        }
        self.sleep_on_timer(due)
    }

    /// The poll's timeout for a wait shorter than its resolution: none, the timer armed.
    /// A timer that cannot be armed (no error is expected: the arguments are ours) leaves
    /// the spin, exact if costly, rather than a poll that might never wake.
    #[cfg(target_os = "linux")]
    fn sleep_on_timer(&mut self, due: u64) -> Option<Duration> {
        match self.timer.arm(due) {
            Ok(()) => None,
            Err(_) => Some(Duration::ZERO),
        }
    }

    /// Without a timer finer than the poll's timeout: spin.
    #[cfg(not(target_os = "linux"))]
    fn sleep_on_timer(&mut self, _due: u64) -> Option<Duration> {
        Some(Duration::ZERO)
    }

    /// The timer's token had an event: take its expirations, so that it is quiet until
    /// armed again.
    pub fn fired(&mut self) {
        #[cfg(target_os = "linux")]
        self.timer.drain();
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};

    /// A one-shot `CLOCK_MONOTONIC` timerfd, armed at absolute times.
    pub struct Timer {
        fd: OwnedFd,
        /// `CLOCK_MONOTONIC` at the run's start, ns: a due time in µs since the start is
        /// this plus its nanoseconds. Read just after `started.elapsed()`, so it is at or
        /// after the true start (by the tens of ns between the reads): the timer never
        /// fires before the loop's own clock says the send is due.
        start_ns: u128,
        /// The due time (µs since the start) the timer is armed for, so that the loop,
        /// passing again before it fires, does not arm it again.
        armed_for: Option<u64>,
        /// Where it is registered, to re-arm its interest on mio's `poll(2)` backend.
        registry: Registry,
        token: Token,
        /// Its interest could not be re-armed: it would never wake the loop again.
        unusable: bool,
    }

    impl Timer {
        pub fn new(registry: &Registry, token: Token, started: Instant) -> io::Result<Timer> {
            // SAFETY: timerfd_create takes no pointers; the result is checked before use.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let since_start = started.elapsed().as_nanos();
            let start_ns = monotonic_ns()?.saturating_sub(since_start);
            registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
            Ok(Timer {
                fd,
                start_ns,
                armed_for: None,
                registry: registry.try_clone()?,
                token,
                unusable: false,
            })
        }

        /// Arms the timer to fire once at `due`, µs since the start.
        pub fn arm(&mut self, due: u64) -> io::Result<()> {
            if self.unusable {
                return Err(io::Error::other(
                    "the timer's interest could not be re-armed",
                ));
            }
            if self.armed_for == Some(due) {
                return Ok(());
            }
            let at = self.start_ns + u128::from(due) * 1000;
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: (at / 1_000_000_000) as libc::time_t,
                    tv_nsec: (at % 1_000_000_000) as libc::c_long,
                },
            };
            // SAFETY: both pointers are to valid itimerspecs (the old one may be null).
            let rc = unsafe {
                libc::timerfd_settime(
                    self.fd.as_raw_fd(),
                    libc::TFD_TIMER_ABSTIME,
                    &spec,
                    std::ptr::null_mut(),
                )
            };
            if rc < 0 {
                self.armed_for = None;
                return Err(io::Error::last_os_error());
            }
            self.armed_for = Some(due);
            Ok(())
        }

        /// Reads the expiration count until there is none: the timer is quiet until armed
        /// again.
        pub fn drain(&mut self) {
            let mut count = [0u8; 8];
            loop {
                // SAFETY: `count` is 8 writable bytes, the size a timerfd read needs.
                let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // 8 bytes read: look again; WouldBlock (or any error): nothing more.
                if n != 8 {
                    break;
                }
            }
            self.armed_for = None;
            // mio's poll(2) backend drops an interest once it fired and re-arms it only for
            // its own types, when they say `WouldBlock`; a raw descriptor must be re-armed
            // by hand, or the timer never wakes the loop again (docs/teaching.md, "Why the
            // same code works on epoll and on poll(2)"). On epoll this call is not needed.
            // Should that fail, the timer is not used again: `arm` says so and the loop spins.
            if cfg!(mio_unsupported_force_poll_poll) {
                let fd = self.fd.as_raw_fd();
                let interest = Interest::READABLE;
                let rearmed = self
                    .registry
                    .reregister(&mut SourceFd(&fd), self.token, interest);
                self.unusable |= rearmed.is_err();
            }
        }
    }

    /// `CLOCK_MONOTONIC` now, ns: the clock `Instant` reads on Linux.
    fn monotonic_ns() -> io::Result<u128> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    const TIMER: Token = Token(7);

    #[test]
    fn a_short_wait_sleeps_on_the_timer_and_wakes_when_due() {
        let mut poll = Poll::new().unwrap();
        let started = Instant::now();
        let mut wake = Wake::new(poll.registry(), TIMER, started).unwrap();
        let now = started.elapsed().as_micros() as u64;
        let due = now + 300;
        assert_eq!(
            wake.timeout(now, due),
            None,
            "no timeout: the timer wakes it"
        );
        let mut events = Events::with_capacity(4);
        // A generous backstop: the timer fires long before it, or the test fails.
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        let woke = started.elapsed().as_micros() as u64;
        assert!(
            events.iter().any(|e| e.token() == TIMER),
            "the timer woke it"
        );
        assert!(woke >= due, "never before the send is due: {woke} < {due}");
        wake.fired();
        // Drained: quiet until armed again.
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn long_waits_use_the_poll_timeout_and_due_ones_do_not_sleep() {
        let poll = Poll::new().unwrap();
        let mut wake = Wake::new(poll.registry(), TIMER, Instant::now()).unwrap();
        assert_eq!(wake.timeout(0, 5_500), Some(Duration::from_micros(4_500)));
        assert_eq!(wake.timeout(7, 7), Some(Duration::ZERO));
        assert_eq!(wake.timeout(9, 3), Some(Duration::ZERO));
    }
}
