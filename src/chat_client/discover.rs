//! `imclient --discover`: find a server on the LAN before the chat starts (docs/imclient.md,
//! "Finding a server on the LAN"). The client joins the discovery group, sends one
//! `REQUEST {}`, and keeps every `ANNOUNCE` heard within [`DISCOVER_WAIT`] (and
//! [`DISCOVER_SLACK`]); then it connects to the only server or asks which one.
//!
//! This runs before the client's poll loop, with nothing else to watch, so it blocks: on
//! the socket (with a deadline), then on stdin for the one line of the choice. The listing
//! and the choice are pure ([`Heard`], [`Listing`], [`choose`]), so they are unit-tested
//! without a network.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use crate::discovery::{self, Announce, Datagram, MAX_DATAGRAM};

use super::{clean, exit};

/// How long a server may take to answer the client's `REQUEST`: it sends at most one
/// ANNOUNCE a second, and answers a REQUEST at once or when that second is over. The client
/// listens this long, plus [`DISCOVER_SLACK`]; waiting longer would delay every start.
pub const DISCOVER_WAIT: Duration = Duration::from_secs(1);

/// Listened beyond [`DISCOVER_WAIT`]. A server that announced just before the REQUEST came
/// answers when its second is over, on its loop's next timer tick (10 ms) and pass, and the
/// datagram still has to cross the network: an answer due exactly 1 s after the REQUEST
/// arrives a few milliseconds later. Measured on loopback with a REQUEST sent right after
/// an ANNOUNCE, it came 1 to 3 ms after the second, and sometimes past it; a quarter
/// second covers a busy server's pass and a LAN, at a cost a person does not notice.
pub const DISCOVER_SLACK: Duration = Duration::from_millis(250);

/// At most this many servers are listed; ANNOUNCEs of further servers are counted, not kept.
/// A LAN has a handful of servers; a flood of forged ANNOUNCEs (one datagram each) must
/// neither grow the client's memory nor scroll the real ones off the screen.
pub const MAX_LISTED: usize = 32;

/// Longest answer to `connect to which?` read from stdin, in bytes: a number of two digits
/// and some blanks. A longer line is a bad answer, and reading stops there.
pub const MAX_CHOICE_LINE: usize = 16;

/// The servers heard, one per server: deduplicated by name and plain addresses (two servers
/// on one machine send from the same address, so the sender is no key), sorted by them.
#[derive(Debug, Default)]
pub struct Heard {
    servers: BTreeMap<(String, Vec<SocketAddr>), Announce>,
    /// ANNOUNCEs of servers beyond [`MAX_LISTED`].
    pub not_listed: usize,
}

impl Heard {
    /// Takes one datagram received from `from`: an ANNOUNCE is kept (its unspecified
    /// addresses read as `from`'s IP; a later one from the same server replaces the earlier,
    /// for the fresher user count). REQUESTs (the client's own comes back) and malformed
    /// datagrams are skipped. `from_here` says whether `from` is this machine: a loopback
    /// address another machine announces is that machine's, unreachable from here (and
    /// the same address here would be ours), so it is left out.
    pub fn hear(&mut self, datagram: &[u8], from: SocketAddr, from_here: bool) {
        let Ok(Datagram::Announce(announce)) = discovery::parse(datagram) else {
            return;
        };
        let mut announce = announce.seen_from(from.ip());
        if !from_here {
            announce.plain.retain(|addr| !addr.ip().is_loopback());
            announce.web.retain(|addr| !addr.ip().is_loopback());
        }
        let key = (announce.name.clone(), announce.plain.clone());
        if self.servers.len() < MAX_LISTED || self.servers.contains_key(&key) {
            self.servers.insert(key, announce);
        } else {
            self.not_listed += 1;
        }
    }

    /// The servers, in the order they are listed.
    pub fn servers(&self) -> Vec<Announce> {
        self.servers.values().cloned().collect()
    }
}

/// A server as one line of the list: `lab at 127.0.0.1:40123 (2 users online)`, or why it
/// cannot be picked. Names come from the network, so control characters are escaped.
pub fn describe(server: &Announce) -> String {
    let name = clean(&server.name);
    let users = match server.users {
        1 => "1 user online".to_string(),
        n => format!("{n} users online"),
    };
    match server.plain.first() {
        Some(addr) => format!("{name} at {addr} ({users})"),
        None => format!("{name} ({users}): {}", why_not(server)),
    }
}

/// Why a server without a plain TCP address cannot be picked.
fn why_not(server: &Announce) -> String {
    match server.web.first() {
        Some(web) => format!("web page only (http://{web}/), imclient needs a plain address"),
        None => "no address reachable from here (a server on loopback serves its own machine only)"
            .into(),
    }
}

/// What the client shows once the listening is over, and what it does next.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// Screen lines, in order.
    pub lines: Vec<String>,
    pub next: Next,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Connect to this address.
    Connect(SocketAddr),
    /// Read the choice from stdin ([`choose`]).
    Ask,
    /// Nothing to connect to: exit with [`exit::REFUSED`].
    Fail,
}

/// The screen after listening on `group`: none, one, or several servers heard
/// (`not_listed` more beyond [`MAX_LISTED`], which only several can have).
pub fn listing(servers: &[Announce], not_listed: usize, group: SocketAddrV4) -> Listing {
    let mut lines = Vec::new();
    let next = match servers {
        [] => {
            lines.push(format!(
                "! no server answered on {group} within {} s (is one started with --announce?)",
                DISCOVER_WAIT.as_secs()
            ));
            Next::Fail
        }
        [only] => {
            lines.push(format!("* found {}", describe(only)));
            match only.plain.first() {
                Some(&addr) => Next::Connect(addr),
                None => {
                    lines.push("! no server to connect to".into());
                    Next::Fail
                }
            }
        }
        several => {
            lines.push(format!("* found {} servers:", several.len()));
            for (i, server) in several.iter().enumerate() {
                lines.push(format!("  {}. {}", i + 1, describe(server)));
            }
            if not_listed > 0 {
                lines.push(format!(
                    "* {not_listed} more ANNOUNCEs not listed (at most {MAX_LISTED} servers are)"
                ));
            }
            if several.iter().all(|s| s.plain.is_empty()) {
                lines.push("! no server to connect to".into());
                Next::Fail
            } else {
                lines.push(format!("* connect to which? (1-{})", several.len()));
                Next::Ask
            }
        }
    };
    Listing { lines, next }
}

/// The address chosen by the line typed after `connect to which?` (`None`: end of input),
/// or the error line to show before exiting with [`exit::REFUSED`].
pub fn choose(line: Option<&str>, servers: &[Announce]) -> Result<SocketAddr, String> {
    let Some(line) = line else {
        return Err("! no server chosen (end of input)".into());
    };
    let answer = line.trim();
    let server = answer
        .parse::<usize>()
        .ok()
        .and_then(|n| servers.get(n.checked_sub(1)?))
        .ok_or_else(|| {
            format!(
                "! not a choice: \"{}\" (1-{} picks a server)",
                clean(answer),
                servers.len()
            )
        })?;
    server.plain.first().copied().ok_or_else(|| {
        format!(
            "! {} cannot be picked: {}",
            clean(&server.name),
            why_not(server)
        )
    })
}

/// Listens on `group` through `interface`, shows what answered, and returns the address to
/// connect to; or the exit code, after saying why on the screen.
pub fn discover(group: SocketAddrV4, interface: Ipv4Addr) -> Result<SocketAddr, u8> {
    let heard = listen(group, interface).map_err(|e| {
        show(&[format!("! cannot discover servers: {e}")]);
        exit::REFUSED
    })?;
    let servers = heard.servers();
    let listing = listing(&servers, heard.not_listed, group);
    show(&listing.lines);
    match listing.next {
        Next::Connect(addr) => Ok(addr),
        Next::Fail => Err(exit::REFUSED),
        Next::Ask => {
            let line = read_choice().map_err(|e| {
                show(&[format!("! cannot read the choice: {e}")]);
                exit::REFUSED
            })?;
            choose(line.as_deref(), &servers).map_err(|error| {
                show(&[error]);
                exit::REFUSED
            })
        }
    }
}

/// Joins the group, sends one REQUEST, and hears ANNOUNCEs until [`DISCOVER_WAIT`] and
/// [`DISCOVER_SLACK`] have passed since it was sent.
fn listen(group: SocketAddrV4, interface: Ipv4Addr) -> io::Result<Heard> {
    let socket = discovery::join(group, interface)?;
    socket.send_to(&discovery::request(), group)?;
    let deadline = Instant::now() + DISCOVER_WAIT + DISCOVER_SLACK;
    let mut heard = Heard::default();
    // One byte more than the largest datagram, so that a longer one is seen as such.
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => heard.hear(&buf[..n], from, is_this_machine(from.ip())),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(heard)
}

/// Whether `ip` is one of this machine's addresses: only then can a socket be bound to it.
fn is_this_machine(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Reads one line from stdin, one byte at a time: whatever follows the line belongs to the
/// chat (the client's loop reads stdin next), so nothing past the newline may be taken
/// into a buffer here. `None` at end of input.
fn read_choice() -> io::Result<Option<String>> {
    let mut stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => {
                line.push(byte[0]);
                if line.len() > MAX_CHOICE_LINE {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Writes screen lines to stdout. A closed stdout is no reason to panic, and the client's
/// loop reports it next (or the exit code tells).
fn show(lines: &[String]) {
    let mut stdout = io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}
