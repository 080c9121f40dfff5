//! Discovery on the loop (`--announce`): one UDP socket in the same poll, joined to a
//! multicast group (`crate::discovery`). It says `ANNOUNCE {...}` at start, then every
//! [`ANNOUNCE_INTERVAL_MS`] or so (jittered), and in answer to `REQUEST`, always to the
//! group and at most once per [`ANSWER_INTERVAL_MS`].
//!
//! The socket is served like a connection: its readiness is noted in phase 1, its
//! datagrams are read in phase 2 with a budget ([`DATAGRAMS_PER_PASS`]) and the backlog
//! rule, and its two timers are on the wheel. A datagram is handled where it is read; a
//! REQUEST costs a comparison, and at most one ANNOUNCE per second goes out however many
//! come in.

use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddrV4};

use log::{debug, info, warn};
use mio::net::UdpSocket;
use mio::{Interest, Poll, Token};

use crate::buffer::Wire;
use crate::discovery::{self, Announce, Datagram, MAX_DATAGRAM};
use crate::wheel::TimerId;
use crate::xorshift::XorShift;

use super::listen::{addrs_of, Listener};
use super::{Kind, Server, Timer};

/// The discovery socket's token: just below the engine link's, above the listeners'.
pub(super) const ANNOUNCER: Token = Token(usize::MAX - 2);

/// The mean time between unasked announcements. Each wait is drawn uniformly from half to
/// one and a half of it, as RTCP does (RFC 3550, 6.3.1): servers started together (after a
/// power cut, say) would otherwise announce in lockstep for ever (Floyd and Jacobson, "The
/// Synchronization of Periodic Routing Messages", 1993).
pub const ANNOUNCE_INTERVAL_MS: u64 = 10_000;

/// The least time between two ANNOUNCEs, whatever asked for them. A REQUEST is one small
/// datagram that anyone can send (with any source address): answered at once every time, a
/// flood of them would make the server flood the group. Within the second, REQUESTs share
/// the one answer sent when it is over.
pub const ANSWER_INTERVAL_MS: u64 = 1_000;

/// Datagrams read per pass: the socket's share of a pass, like a connection's line budget.
/// A flood of datagrams waits in the socket's buffer (the kernel drops what does not fit)
/// while every connection gets its turn; the backlog brings the next pass at once.
pub const DATAGRAMS_PER_PASS: usize = 64;

/// What `--announce` asks for.
#[derive(Debug, Clone)]
pub struct AnnounceConfig {
    /// The group and port (`--announce-group`).
    pub group: SocketAddrV4,
    /// The address of the interface to use (`--announce-interface`); unspecified: the
    /// routing table's choice.
    pub interface: Ipv4Addr,
    /// The server's name in its announcements (`--name`).
    pub name: String,
}

/// The discovery socket and what it remembers.
#[derive(Debug)]
pub(super) struct Announcer {
    socket: UdpSocket,
    group: SocketAddrV4,
    /// Everything an ANNOUNCE says but the count of users, which is filled in when sent.
    announce: Announce,
    /// When the last ANNOUNCE went out.
    last_sent: Option<u64>,
    /// The answer owed to REQUESTs heard within a second of the last ANNOUNCE.
    pub(super) answer_timer: Option<TimerId>,
    /// Not yet read to `WouldBlock` since its last readable event.
    pub(super) readable: bool,
    /// The jitter's generator.
    rng: XorShift,
    /// ANNOUNCEs sent, REQUESTs heard and malformed datagrams ignored, for the log at exit.
    pub(super) sent: u64,
    pub(super) requests: u64,
    pub(super) malformed: u64,
}

impl Announcer {
    /// Joins the group and registers the socket. The announcement names the addresses the
    /// `listeners` serve; those on every interface are named by the interface's address if
    /// one was given (a receiver reads an unspecified address as the sender's).
    pub(super) fn bind(
        config: &AnnounceConfig,
        listeners: &[Listener],
        poll: &Poll,
    ) -> io::Result<Announcer> {
        let plain = addrs_of(listeners, Wire::Lines)?;
        #[cfg(feature = "web")]
        let web = addrs_of(listeners, Wire::Http)?;
        #[cfg(not(feature = "web"))]
        let web = Vec::new();
        let mut announce = Announce {
            name: config.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            users: u64::MAX,
            plain,
            web,
        };
        if !config.interface.is_unspecified() {
            announce = announce.seen_from(config.interface.into());
        }
        // Checked once with the largest count, so no later ANNOUNCE can be over the cap.
        let longest = announce.encode().len();
        if longest > MAX_DATAGRAM {
            let why = format!("--announce: an ANNOUNCE would be {longest} bytes, over {MAX_DATAGRAM}: use a shorter --name or fewer addresses");
            return Err(io::Error::new(ErrorKind::InvalidInput, why));
        }
        if (announce.plain.iter()).all(|a| a.ip().is_loopback()) && !config.interface.is_loopback()
        {
            warn!("--announce: the server listens on loopback only, so other machines that hear it cannot connect (--listen 0.0.0.0:PORT serves them)");
        }
        let socket = discovery::join(config.group, config.interface)?;
        socket.set_nonblocking(true)?;
        let mut socket = UdpSocket::from_std(socket);
        poll.registry()
            .register(&mut socket, ANNOUNCER, Interest::READABLE)?;
        // A seed of this process's own (std's hash keys are random per process), so servers
        // started together draw different waits.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Ok(Announcer {
            socket,
            group: config.group,
            announce,
            last_sent: None,
            answer_timer: None,
            readable: false,
            rng: XorShift(seed | 1),
            sent: 0,
            requests: 0,
            malformed: 0,
        })
    }

    /// The wait before the next unasked ANNOUNCE: uniform in [0.5, 1.5] × the interval.
    fn next_wait(&mut self) -> u64 {
        ANNOUNCE_INTERVAL_MS / 2 + self.rng.below(ANNOUNCE_INTERVAL_MS + 1)
    }

    pub(super) fn deregister(&mut self, poll: &Poll) {
        let _ = poll.registry().deregister(&mut self.socket);
    }
}

impl Server {
    /// The first ANNOUNCE goes out at the first pass, through the same timer as the others.
    pub(super) fn start_announcing(&mut self) {
        if self.announcer.is_some() {
            self.wheel.insert(0, Timer::Announce);
        }
    }

    /// Phase 2 for the discovery socket: at most [`DATAGRAMS_PER_PASS`] datagrams, each
    /// handled as it is read. If the budget runs out first, `readable` stays set: the
    /// socket is the backlog, and the next pass comes at once.
    pub(super) fn serve_announcer(&mut self, now: u64) {
        let Some(announcer) = self.announcer.as_mut().filter(|a| a.readable) else {
            return;
        };
        // One byte more than the cap, so a longer datagram shows as longer (the kernel
        // cuts what does not fit) instead of passing as the cap's worth of its start.
        let mut buf = [0u8; MAX_DATAGRAM + 1];
        let mut requested = false;
        for _ in 0..DATAGRAMS_PER_PASS {
            let (n, from) = match announcer.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    announcer.readable = false;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // An error queued on the socket (an ICMP error for a datagram it sent);
                    // reading it cleared it.
                    debug!("announce: receive failed: {e}");
                    continue;
                }
            };
            match discovery::parse(&buf[..n]) {
                Ok(Datagram::Request) => {
                    announcer.requests += 1;
                    requested = true;
                }
                // Our own, come back, or another server's: nothing to do.
                Ok(Datagram::Announce(_)) => {}
                Err(why) => {
                    announcer.malformed += 1;
                    if self.log.allow(Kind::Malformed, now) {
                        info!("announce: ignored a malformed datagram from {from}: {why}");
                    }
                }
            }
        }
        if requested {
            self.answer(now);
        }
    }

    /// A REQUEST was heard: announce now, or a second after the last ANNOUNCE.
    fn answer(&mut self, now: u64) {
        let Some(announcer) = self.announcer.as_mut() else {
            return;
        };
        match announcer.last_sent {
            Some(last) if now < last + ANSWER_INTERVAL_MS => {
                if announcer.answer_timer.is_none() {
                    let at = last + ANSWER_INTERVAL_MS;
                    announcer.answer_timer = Some(self.wheel.insert(at, Timer::Answer));
                }
            }
            _ => self.announce(now),
        }
    }

    /// Phase 3: the periodic ANNOUNCE is due. It is left out if one went out within the
    /// last second (that one said the same), and the next is put on the wheel.
    pub(super) fn announce_due(&mut self, now: u64) {
        let Some(announcer) = self.announcer.as_mut() else {
            return;
        };
        let wait = announcer.next_wait();
        self.wheel.insert(now + wait, Timer::Announce);
        if announcer
            .last_sent
            .is_none_or(|last| now >= last + ANSWER_INTERVAL_MS)
        {
            self.announce(now);
        }
    }

    /// Phase 3: the answer owed since the last ANNOUNCE is due.
    pub(super) fn answer_due(&mut self, now: u64) {
        if let Some(announcer) = self.announcer.as_mut() {
            announcer.answer_timer = None;
            self.announce(now);
        }
    }

    /// Sends one ANNOUNCE to the group, with the count of users now. A datagram the kernel
    /// cannot take now is not queued: the next one says the same.
    fn announce(&mut self, now: u64) {
        let users = self.chat.user_count() as u64;
        let Some(announcer) = self.announcer.as_mut() else {
            return;
        };
        if let Some(timer) = announcer.answer_timer.take() {
            self.wheel.cancel(timer);
        }
        announcer.last_sent = Some(now);
        announcer.announce.users = users;
        let datagram = announcer.announce.encode();
        match announcer.socket.send_to(&datagram, announcer.group.into()) {
            Ok(_) => announcer.sent += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => debug!("announce: not sent: {e}"),
            // At most one per second: no flood of lines.
            Err(e) => warn!("announce: cannot send to {}: {e}", announcer.group),
        }
    }

    /// Shutting down: no more announcements.
    pub(super) fn stop_announcing(&mut self) {
        if let Some(mut announcer) = self.announcer.take() {
            announcer.deregister(&self.poll);
            let (sent, requests, malformed) =
                (announcer.sent, announcer.requests, announcer.malformed);
            info!("announce: sent {sent} ANNOUNCEs, heard {requests} REQUESTs, ignored {malformed} malformed datagrams");
        }
    }
}
