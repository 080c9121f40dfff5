//! Setup: opening connections at the connect rate, logging in, forming each group's
//! conversation once all its members are logged in.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::super::link::Link;
use super::super::proto::{Member, Protocol};
use super::super::{LoadError, SETUP_PATIENCE_MS};
use super::{Client, Driver, Note, Phase, Stage};

impl<P: Protocol> Driver<P> {
    pub(super) fn connect_due_us(&self) -> u64 {
        (self.clients.len() as f64 / self.settings.connect_rate * 1e6) as u64
    }

    /// Acts on what the lines of one read asked for.
    pub(super) fn act_on_notes(&mut self) -> Result<(), LoadError> {
        for (key, note) in std::mem::take(&mut self.notes) {
            match note {
                Note::Registered => self.on_registered(key),
                Note::Invited { conv, by_me } => {
                    let Some(client) = self.clients.get_mut(key) else {
                        continue;
                    };
                    client.conv = conv;
                    if by_me {
                        self.on_joined(key);
                    } else {
                        let accept = self.proto.accept(conv);
                        self.send(key, accept);
                    }
                }
                Note::Joined => self.on_joined(key),
                Note::Answer(bytes) => self.send(key, bytes),
                Note::Error(text) if self.phase == Phase::Setup => {
                    return Err(LoadError::Rejected(format!("{}: {text}", self.names[key])));
                }
                Note::Error(text) => self.stats.error(format!("{}: {text}", self.names[key])),
            }
        }
        Ok(())
    }

    pub(super) fn on_registered(&mut self, key: usize) {
        let Some(client) = self
            .clients
            .get_mut(key)
            .filter(|c| c.stage < Stage::Registered)
        else {
            return;
        };
        client.stage = Stage::Registered;
        self.registered += 1;
        if self.settings.idle {
            return;
        }
        let k = self.settings.members;
        let group = key / k;
        self.group_registered[group] += 1;
        let members = group * k..((group + 1) * k).min(self.settings.clients);
        if self.group_registered[group] < members.len() {
            return;
        }
        for member in members.clone() {
            let me = Member {
                name: &self.names[member],
                group: self.group_offset + group,
                leader: member == members.start,
            };
            if let Some(bytes) = self.proto.form(me, &self.names[members.clone()]) {
                self.send(member, bytes);
            }
        }
    }

    pub(super) fn on_joined(&mut self, key: usize) {
        if let Some(client) = self
            .clients
            .get_mut(key)
            .filter(|c| c.stage < Stage::Joined)
        {
            client.stage = Stage::Joined;
            self.joined += 1;
        }
    }

    pub(super) fn advance_setup(&mut self, now: u64) -> Result<(), LoadError> {
        let n = self.settings.clients;
        while self.clients.len() < n && self.connect_due_us() <= now {
            self.open()?;
        }
        if self.interrupted {
            return Err(LoadError::Interrupted {
                registered: self.registered,
                clients: n,
            });
        }
        if self.settings.idle && self.registered == n {
            // On stderr with the progress lines: stdout holds the report alone, so that
            // `--json -` can be parsed.
            eprintln!("registered {n} clients; holding them until interrupted");
            self.setup_us = Some(now);
            self.phase = Phase::Holding;
        } else if self.joined == n && self.setup_us.is_none() {
            self.setup_us = Some(now);
        }
        // Sending starts now, or at `--procs`' common start.
        let set_up = self.phase == Phase::Setup && !self.settings.idle && self.joined == n;
        if let Some(start) = set_up.then(|| self.start_us(now)).transpose()?.flatten() {
            self.send_start_us = start;
            self.measure_start_us = start + (self.settings.warmup * 1e6) as u64;
            self.send_end_us = self.measure_start_us + (self.settings.duration * 1e6) as u64;
            (self.stats.series).window(self.measure_start_us, self.send_end_us);
            self.phase = Phase::Sending;
        }
        let progress = self.clients.len() + self.connected + self.registered + self.joined;
        if progress != self.setup_progress {
            self.setup_progress = progress;
            self.setup_deadline_us = now + SETUP_PATIENCE_MS * 1000;
        } else if self.phase == Phase::Setup && self.joined < n && now >= self.setup_deadline_us {
            // (Once all have joined, only `--procs`' common start is awaited, and the
            // parent bounds that wait.)
            let (ready, phase) = match () {
                _ if self.connected < n => (self.connected, "connected"),
                _ if self.registered < n => (self.registered, "registered"),
                _ => (self.joined, "joined their conversation"),
            };
            return Err(LoadError::SetupTimeout {
                ready,
                clients: n,
                phase,
            });
        }
        Ok(())
    }

    /// Opens the next client's connection and queues its login.
    pub(super) fn open(&mut self) -> Result<(), LoadError> {
        let index = self.clients.len();
        let ips = &self.settings.source_ips;
        let source = (!ips.is_empty()).then(|| ips[index % ips.len()]);
        let node = self.node(index).clone();
        let fail = |source| LoadError::Connect {
            addr: node.addr,
            source,
        };
        let mut socket = open_socket(node.addr, source).map_err(fail)?;
        let key = self.clients.vacant_entry().key();
        debug_assert_eq!(key, index, "keys are client numbers");
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut socket, Token(key), interest)
            .map_err(fail)?;
        let name = self.names[index].clone();
        let mut conn = Link::new(&self.settings, &node, socket).map_err(fail)?;
        conn.send(self.proto.login(&name, self.settings.presence));
        let group = (self.group_offset + index / self.settings.members) as u64;
        self.clients.insert(Client {
            name,
            conn,
            state: P::State::default(),
            stage: Stage::Connecting,
            conv: group,
            dirty: false,
            partial_bytes: 0,
        });
        Ok(())
    }
}

/// Client names: `u`, two letters that differ from run to run, and the client's number,
/// as in `uqf17`. A run that starts while the server still retires the last run's clients
/// would otherwise be refused their names. At most 9 characters below a million clients,
/// the longest nick RFC 2812 promises. `run` is the process id of the run (with `--procs`,
/// the parent's), `first` the first client's number: a share's names are those of
/// clients `first..first + n` of the whole run.
pub(super) fn names(first: usize, n: usize, run: u32) -> Vec<String> {
    let run = run as usize;
    let letter = |i: usize| char::from(b'a' + (i % 26) as u8);
    let tag: String = [letter(run), letter(run / 26)].iter().collect();
    (first..first + n).map(|i| format!("u{tag}{i}")).collect()
}

/// Starts a non-blocking connect, from `source` if given.
fn open_socket(server: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(server);
    };
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Whether a non-blocking connect has finished: the check mio documents for the first
/// writable event (`take_error`, then `peer_addr`).
pub(super) fn connected(socket: &mut TcpStream) -> io::Result<bool> {
    if let Some(e) = socket.take_error()? {
        return Err(e);
    }
    match socket.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}
