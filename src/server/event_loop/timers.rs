//! Phase 3 of a pass: the timers. Every deadline the loop keeps is one `Timer` on the wheel
//! (`wheel.rs`); when the pass's `now` reaches it, [`Server::fire`] does what it says.

use log::debug;

use super::lifecycle::Run;
use super::{Reason, Server};

/// What a timer does when it fires. Timers outlive the events that set them, so those that
/// point at a connection carry its generation: a reused slab key is never mistaken for the
/// old connection.
#[derive(Debug)]
pub(super) enum Timer {
    RegisterDeadline {
        key: usize,
        generation: u64,
    },
    /// The connection's unfinished line may be overdue (see `input.rs`).
    LineDeadline {
        key: usize,
        generation: u64,
    },
    /// The throttled connection has a line token again.
    Unthrottle {
        key: usize,
        generation: u64,
    },
    Linger {
        key: usize,
        generation: u64,
    },
    PresenceBroadcast,
    /// The next unasked ANNOUNCE (`announce.rs`).
    Announce,
    /// The answer owed to REQUESTs heard within a second of the last ANNOUNCE.
    Answer,
    AcceptRetry,
    ShutdownDeadline,
    LogSummary,
    /// The next attempt to connect to Redis (`engine.rs`).
    #[cfg(feature = "engine")]
    EngineConnect,
    /// The node's lease in Redis is due for its refresh (`engine.rs`).
    #[cfg(feature = "engine")]
    EngineLease,
}

impl Server {
    /// Phase 3, for one due timer.
    pub(super) fn fire(&mut self, timer: Timer, now: u64) {
        trace!(self.config.trace, "timer fired: {timer:?}");
        match timer {
            Timer::RegisterDeadline { key, generation } => {
                if self.is_current(key, generation) && !self.chat.is_registered(key) {
                    self.out.send_error(key, "registration timeout; closing");
                    self.close(key, Reason::Timeout);
                }
            }
            Timer::LineDeadline { key, generation } => self.line_deadline(key, generation, now),
            Timer::Unthrottle { key, generation } => self.unthrottle(key, generation),
            Timer::Linger { key, generation } => {
                if self.is_current(key, generation) {
                    debug!("conn {key}: did not finish closing in time");
                    self.abandon(key, Reason::Broken);
                }
            }
            Timer::PresenceBroadcast => {
                self.presence_timer = None;
                self.chat.broadcast_presence(&mut self.out);
            }
            Timer::Announce => self.announce_due(now),
            Timer::Answer => self.answer_due(now),
            Timer::AcceptRetry => self.accept.retry(),
            Timer::ShutdownDeadline => self.run = Run::Stopped,
            Timer::LogSummary => {
                self.log_timer = None;
                self.log.end_windows(now);
            }
            #[cfg(feature = "engine")]
            Timer::EngineConnect => self.engine_connect(now),
            #[cfg(feature = "engine")]
            Timer::EngineLease => self.engine_lease(now),
        }
    }
}
