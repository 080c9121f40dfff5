//! Finding a server on the LAN: the course's discovery protocol (docs/protocol.md, "Finding
//! a server"). A server started with `--announce` multicasts `ANNOUNCE {...}` now and then
//! and in answer to `REQUEST {}`; `imclient --discover` sends the REQUEST and lists who
//! answers.
//!
//! A datagram is one line of the protocol's own format, `COMMAND JSON`, at most
//! [`MAX_DATAGRAM`] bytes. This module knows the two datagrams and opens the multicast
//! socket; it does no other I/O. The server's side (its socket in the loop, the timers, the
//! rate limit) is `server/event_loop/announce.rs`.

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use crate::protocol::{encode, split_command};

/// The group and port announcements go to unless `--announce-group` says otherwise: an
/// address of the IPv4 Local Scope (239.255.0.0/16, RFC 2365), which routers do not pass
/// beyond the site, and the IM protocol's own port number, over UDP.
pub const DEFAULT_GROUP: &str = "239.255.66.66:6666";

/// Longest datagram sent or accepted, in bytes. An ANNOUNCE is a name, a version, a count
/// and a few addresses: a few hundred bytes. 1024 stays below the smallest path MTU IPv6
/// guarantees (1280, less its headers), so no datagram is ever fragmented, and a receiver
/// needs a buffer of this size only. A longer datagram is malformed.
pub const MAX_DATAGRAM: usize = 1024;

/// Longest `--name`, in bytes: a label for a list, not a description. With a handful of
/// addresses it keeps every ANNOUNCE well under [`MAX_DATAGRAM`].
pub const MAX_SERVER_NAME: usize = 64;

/// The multicast TTL: 1, so datagrams never leave the sender's network (no router forwards
/// them). Discovery is for the LAN; beyond it, people type an address.
pub const TTL: u32 = 1;

/// Command words of the two datagrams.
pub const ANNOUNCE: &str = "ANNOUNCE";
pub const REQUEST: &str = "REQUEST";

/// What a server says about itself, and nothing else. Addresses whose IP is unspecified
/// (`0.0.0.0`, `::`: the server listens on every interface) stand for the address the
/// datagram came from; [`Announce::seen_from`] fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    /// The server's `--name` (by default the machine's host name).
    pub name: String,
    /// The server's version (`imserver --version`).
    pub version: String,
    /// Users registered when the datagram was sent.
    pub users: u64,
    /// Where the IM protocol is served over plain TCP (`--listen`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plain: Vec<SocketAddr>,
    /// Where the page and its WebSocket are served (`--http`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web: Vec<SocketAddr>,
}

impl Announce {
    /// The datagram: `ANNOUNCE {...}` and a newline.
    pub fn encode(&self) -> Vec<u8> {
        encode(ANNOUNCE, self)
    }

    /// The announcement with every unspecified address replaced by `from`'s IP: where a
    /// client that heard it from `from` connects.
    pub fn seen_from(mut self, from: IpAddr) -> Announce {
        for addr in self.plain.iter_mut().chain(self.web.iter_mut()) {
            if addr.ip().is_unspecified() {
                addr.set_ip(from);
            }
        }
        self
    }
}

/// The `REQUEST` datagram.
pub fn request() -> Vec<u8> {
    encode(REQUEST, &serde_json::Map::new())
}

/// A datagram understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// Who is there? Its argument, if any, is a JSON object, whose members are ignored
    /// (room for filters in a later version).
    Request,
    Announce(Announce),
}

/// Reads one datagram: one line (its newline optional), a known command word and its JSON.
/// Anything else is malformed, and the error says why (for a log line, never the text).
pub fn parse(datagram: &[u8]) -> Result<Datagram, &'static str> {
    if datagram.len() > MAX_DATAGRAM {
        return Err("longer than 1024 bytes");
    }
    let text = std::str::from_utf8(datagram).map_err(|_| "not UTF-8")?;
    let line = text.strip_suffix('\n').unwrap_or(text);
    if line.contains('\n') {
        return Err("more than one line");
    }
    match split_command(line) {
        Some((REQUEST, None)) => Ok(Datagram::Request),
        Some((REQUEST, Some(args))) => serde_json::from_str::<serde_json::Map<_, _>>(args)
            .map(|_| Datagram::Request)
            .map_err(|_| "REQUEST: not a JSON object"),
        Some((ANNOUNCE, Some(args))) => serde_json::from_str(args)
            .map(Datagram::Announce)
            .map_err(|_| "ANNOUNCE: not an announcement"),
        Some((ANNOUNCE, None)) => Err("ANNOUNCE: not an announcement"),
        Some(_) => Err("unknown command"),
        None => Err("empty"),
    }
}

/// `--name`: 1 to [`MAX_SERVER_NAME`] bytes, no control characters (it is shown in lists).
pub fn check_server_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_SERVER_NAME {
        return Err(format!("a server name is 1 to {MAX_SERVER_NAME} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err("a server name has no control characters".into());
    }
    Ok(name.into())
}

/// `--announce-group`: an IPv4 multicast address and a port.
pub fn parse_group(value: &str) -> Result<SocketAddrV4, String> {
    let addr: SocketAddr = value.parse().map_err(|_| {
        format!("{value:?}: expected a multicast IPv4 address and port, like {DEFAULT_GROUP}")
    })?;
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_multicast() && v4.port() != 0 => Ok(v4),
        SocketAddr::V4(_) => Err(format!(
            "{value}: not a multicast group and port (224.0.0.0 to 239.255.255.255, port 1 to 65535)"
        )),
        SocketAddr::V6(_) => Err(format!("{value}: discovery groups are IPv4 only")),
    }
}

/// The machine's host name: a server's name unless `--name` gives one.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if ok => check_server_name(name).unwrap_or_else(|_| "imserver".into()),
        _ => "imserver".into(),
    }
}

/// A UDP socket that hears `group` on the interface whose address is `interface`
/// (`0.0.0.0`: the one the routing table picks for the group) and sends to it with TTL 1.
///
/// It is bound to the group's address and port, with `SO_REUSEADDR`, so that several
/// servers and clients on one machine all hear the group (every socket bound to a
/// multicast address and port gets its own copy), and none hears other traffic to the port.
/// Its own datagrams come back to it (`IP_MULTICAST_LOOP`), which is how servers and
/// clients on one machine hear each other. Blocking; callers set what they need.
pub fn join(group: SocketAddrV4, interface: Ipv4Addr) -> io::Result<std::net::UdpSocket> {
    let named = |e: io::Error, what: &str| {
        io::Error::new(e.kind(), format!("multicast group {group}: {what}: {e}"))
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&SocketAddr::V4(group).into())
        .map_err(|e| named(e, "cannot bind"))?;
    socket
        .join_multicast_v4(group.ip(), &interface)
        .map_err(|e| named(e, &format!("cannot join on interface {interface}")))?;
    if !interface.is_unspecified() {
        socket
            .set_multicast_if_v4(&interface)
            .map_err(|e| named(e, &format!("cannot send on interface {interface}")))?;
    }
    socket.set_multicast_ttl_v4(TTL)?;
    socket.set_multicast_loop_v4(true)?;
    Ok(socket.into())
}
