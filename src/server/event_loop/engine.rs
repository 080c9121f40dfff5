//! The Redis engine's side of the loop (`--engine redis`). Its link to Redis is one more
//! socket in the same poll, under its own token, with the loop's rules: its readiness is
//! noted in phase 1, it is read to `WouldBlock` and its frames are handled in phase 2
//! (after the connections, so the requests they made in this pass are answered in a later
//! one), it is written in the flush, and two timers keep it: the next attempt to connect
//! after a failure, and the lease refresh.
//!
//! An answer resumes the connection that waited for it (`Conn::waiting`): its refusal or
//! its registration is applied as a handler's outcome would have been, and the connection
//! goes back in the ready set, where the lines it sent meanwhile still wait in its buffer.
//! It is not a connection of the slab: it has no user, no deadline and no output limit of a
//! client's, and it is never closed for good, only made again.

use mio::Token;

use crate::server::engine::redis::{describe, Event};
use crate::server::engine::{welcome, Engine};

use super::lifecycle::State;
use super::{dispatch, Ctx, Effect, Reason, Server, Timer};

/// The link's token: just below the signals'.
pub(super) const ENGINE: Token = Token(usize::MAX - 1);

/// Frames from Redis handled per pass at most. Each costs little (a presence change, an
/// answer), but a burst of thousands (a node's users all going offline at once) is spread
/// over passes so the connections are served between; the rest wait, and the poll does
/// not sleep while they do.
pub const MAX_ENGINE_FRAMES_PER_PASS: usize = 4096;

impl Server {
    /// At start: the first attempt to connect.
    pub(super) fn start_engine(&mut self, now: u64) {
        self.engine_connect(now);
    }

    /// Phase 1: the link's readiness.
    pub(super) fn engine_ready(&mut self, readable: bool, writable: bool, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        let link = redis.link();
        link.readable |= readable;
        if writable {
            if let Err(e) = link.on_writable() {
                self.engine_failed(&format!("connect failed: {e}"), now);
            }
        }
    }

    /// Phase 2: reads the link and handles what it brought, within a budget of frames.
    pub(super) fn serve_engine(&mut self, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        let mut failure = None;
        if redis.link().readable {
            match redis.link().read() {
                Ok(true) => {}
                Ok(false) => failure = Some("Redis closed the connection".to_string()),
                Err(e) => failure = Some(format!("read failed: {e}")),
            }
        }
        let mut handled = 0;
        while failure.is_none() && handled < MAX_ENGINE_FRAMES_PER_PASS {
            match redis.link().next_frame() {
                Ok(Some(frame)) => {
                    handled += 1;
                    trace!(self.config.trace, "engine: Redis sent {}", describe(&frame));
                    if let Err(why) = redis.on_frame(frame, &mut self.chat, &mut self.out, now) {
                        failure = Some(why);
                    }
                }
                Ok(None) => break,
                Err(e) => failure = Some(format!("bad RESP: {e}")),
            }
        }
        // Frames left over: the next pass comes at once.
        redis.link().readable |= handled == MAX_ENGINE_FRAMES_PER_PASS;
        for event in redis.take_events() {
            self.on_engine_event(event, now);
        }
        if let Some(why) = failure {
            self.engine_failed(&why, now);
        }
    }

    /// Phase 4: writes what was queued for Redis in this pass.
    pub(super) fn flush_engine(&mut self, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        let link = redis.link();
        if link.is_overfull() {
            return self.engine_failed("Redis does not keep up (MAX_OUTPUT)", now);
        }
        if link.wants_flush() {
            if let Err(e) = link.flush() {
                self.engine_failed(&format!("write failed: {e}"), now);
            }
        }
    }

    /// Whether the link has work for the next pass without a new event.
    pub(super) fn engine_has_work(&self) -> bool {
        match &self.engine {
            Engine::Redis(redis) => redis.link_has_work(),
            Engine::Memory => false,
        }
    }

    /// Whether the engine has said goodbye for this node, on shutdown: the node's lease is
    /// ended and written, or the link is down.
    pub(super) fn engine_settled(&mut self) -> bool {
        let Engine::Redis(redis) = &mut self.engine else {
            return true;
        };
        redis.sign_off();
        !redis.link().is_up() || !redis.link_has_work() && !redis.has_pending()
    }

    /// The `EngineConnect` timer: try again.
    pub(super) fn engine_connect(&mut self, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        if redis.link().is_up() {
            return;
        }
        if let Err(e) = redis.connect(self.poll.registry(), ENGINE) {
            return self.engine_failed(&format!("cannot connect: {e}"), now);
        }
        // One lease timer at a time, however often the link was made again.
        let at = now + redis.lease_interval_ms();
        if let Some(old) = redis
            .lease_timer
            .replace(self.wheel.insert(at, Timer::EngineLease))
        {
            self.wheel.cancel(old);
        }
    }

    /// The `EngineLease` timer: refresh the lease, and set the next refresh.
    pub(super) fn engine_lease(&mut self, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        redis.lease_timer = None;
        if !redis.link().is_up() {
            return; // the next connect sets the timer again
        }
        let at = now + redis.lease_interval_ms();
        match redis.lease_due(now) {
            Ok(()) => redis.lease_timer = Some(self.wheel.insert(at, Timer::EngineLease)),
            Err(why) => self.engine_failed(&why, now),
        }
    }

    /// The link broke or the lease ended: waiting commands are refused, every registered
    /// user is signed out (it cannot be told what it missed), and the next attempt to
    /// connect is put on the wheel.
    fn engine_failed(&mut self, why: &str, now: u64) {
        let Engine::Redis(redis) = &mut self.engine else {
            return;
        };
        let delay = redis.fail(self.poll.registry(), &mut self.chat, why);
        for event in redis.take_events() {
            self.on_engine_event(event, now);
        }
        let registered: Vec<usize> = (self.conns.iter())
            .filter(|(key, conn)| conn.state == State::Open && self.chat.is_registered(*key))
            .map(|(key, _)| key)
            .collect();
        for key in registered {
            self.close(key, Reason::EngineLost);
        }
        self.wheel.insert(now + delay, Timer::EngineConnect);
    }

    /// An answer for a waiting connection: applied as its handler's outcome, and the
    /// connection resumes.
    fn on_engine_event(&mut self, event: Event, now: u64) {
        let (me, outcome) = match event {
            Event::Registered { me, user } => {
                let open = self.is_current(me.key, me.generation)
                    && matches!(self.conns[me.key].state, State::Open | State::Closing(_));
                if !open {
                    // Gone while Redis decided: the name is given back.
                    if let Engine::Redis(redis) = &mut self.engine {
                        redis.retire_key(me.key);
                    }
                    return;
                }
                (me, Ok(welcome(&mut self.chat, &mut self.out, me.key, user)))
            }
            Event::Answered {
                me,
                command,
                outcome,
            } => (me, outcome.map_err(|refusal| (command, refusal))),
        };
        if !self.is_current(me.key, me.generation) {
            return;
        }
        let effect = match outcome {
            Ok(effect) => effect,
            Err((command, refusal)) => {
                let mut ctx = Ctx {
                    chat: &mut self.chat,
                    engine: &mut self.engine,
                    generation: me.generation,
                    out: &mut self.out,
                    password: self.config.password.as_ref(),
                    stats: &mut self.stats,
                };
                dispatch::refuse(&mut ctx, me.key, command, refusal)
            }
        };
        let key = me.key;
        trace!(
            self.config.trace,
            "conn {key}: the engine answered; resumes"
        );
        let conn = &mut self.conns[key];
        conn.waiting = false;
        if conn.state == State::Open && !conn.throttled {
            self.ready.insert(me.key);
        }
        if effect != Effect::Continue {
            self.apply(me.key, effect, now);
        }
    }
}
