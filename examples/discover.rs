//! A discovery listener: joins the multicast group that `imserver --announce` speaks in,
//! asks once who is there (`REQUEST {}`), and prints every `ANNOUNCE` it hears, one line
//! each, until killed (Ctrl-C).
//!
//! A multicast group is an address (here in 239.0.0.0/8) that no machine owns: a datagram
//! sent to it reaches every socket that joined it. The point of this file is [`join`], the
//! socket options that make one socket a member; docs/teaching.md ("Finding a server:
//! multicast") says why each is there. It is blocking on purpose: one socket, nothing else
//! to wait for. The server keeps the same socket in its poll loop instead.
//!
//! ```text
//! cargo run --bin imserver -- --announce &
//! cargo run --example discover                            # the default group, 239.255.66.66:6666
//! cargo run --example discover -- 239.255.1.2:7000 --interface 192.168.1.10
//! ```
//!
//! `--help` prints the usage and exits 0; a group that is not a multicast address and port
//! prints one line and the usage on standard error and exits 2.

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::process::ExitCode;

use clap::Parser;
use imchat::discovery::{self, Datagram, DEFAULT_GROUP, MAX_DATAGRAM};
use socket2::{Domain, Protocol, Socket, Type};

/// Prints every imserver that announces itself in a multicast group.
#[derive(Debug, Parser)]
#[command(name = "discover")]
struct Args {
    /// The group and port to listen in, ADDR:PORT (a multicast IPv4 address).
    #[arg(
        value_name = "GROUP:PORT",
        default_value = DEFAULT_GROUP,
        value_parser = discovery::parse_group
    )]
    group: SocketAddrV4,
    /// The address of the interface to join on (0.0.0.0: the one the routing table picks).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    interface: Ipv4Addr,
}

fn main() -> ExitCode {
    let args = imchat::cli::parse_or_usage::<Args>();
    match listen(args.group, args.interface) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("discover: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A UDP socket that is a member of `group` on `interface` (what `discovery::join` does for
/// the server and `imclient --discover`, spelled out).
fn join(group: SocketAddrV4, interface: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // SO_REUSEADDR: let other processes on this machine (a server, another listener) bind
    // the same address and port; each bound socket gets its own copy of every datagram.
    socket.set_reuse_address(true)?;
    // Bind to the group's address, not 0.0.0.0: the kernel then hands this socket only
    // datagrams sent to the group, not unicast or other groups' traffic to the same port.
    socket.bind(&SocketAddr::V4(group).into())?;
    // IP_ADD_MEMBERSHIP: join the group on one interface. The kernel tells the LAN's
    // switches and routers (an IGMP report) that someone here wants the group's datagrams.
    socket.join_multicast_v4(group.ip(), &interface)?;
    // IP_MULTICAST_IF: which interface our own datagrams to the group leave by (without it,
    // the routing table decides; on loopback tests it must be 127.0.0.1).
    if !interface.is_unspecified() {
        socket.set_multicast_if_v4(&interface)?;
    }
    // IP_MULTICAST_TTL 1: no router forwards what we send; it stays on this link.
    socket.set_multicast_ttl_v4(discovery::TTL)?;
    // IP_MULTICAST_LOOP: our datagrams are delivered to members on this machine too (us
    // included), so a server on the same machine hears our REQUEST.
    socket.set_multicast_loop_v4(true)?;
    Ok(socket.into())
}

fn listen(group: SocketAddrV4, interface: Ipv4Addr) -> io::Result<()> {
    let socket = join(group, interface)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot join {group}: {e}")))?;
    println!("discover: joined {group} on interface {interface}");
    // One REQUEST, to the group: every server answers (to the group, at most once a
    // second), so the first second shows everyone, not only who happens to announce next.
    socket.send_to(&discovery::request(), group)?;

    // One byte more than the longest datagram, so a longer one is seen as too long.
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match discovery::parse(&buf[..n]) {
            Ok(Datagram::Announce(a)) => println!("discover: {}", describe(a, from)),
            // Ours comes back too (IP_MULTICAST_LOOP), like anyone else's.
            Ok(Datagram::Request) => println!("discover: REQUEST from {from}"),
            // Never the text itself: it is anyone's bytes, perhaps a terminal escape.
            Err(why) => println!("discover: skipped a datagram from {from}: {why}"),
        }
    }
}

/// An ANNOUNCE heard from `from`, as one line with the datagram's field names. Addresses
/// whose IP is unspecified (the server listens on every interface) become `from`'s IP:
/// where a client that heard it connects. Name and version are anyone's text, so they are
/// printed escaped.
fn describe(announce: discovery::Announce, from: SocketAddr) -> String {
    let a = announce.seen_from(from.ip());
    let mut line = format!(
        "ANNOUNCE from {from}: {:?}, version {}, users {}",
        a.name,
        a.version.escape_debug(),
        a.users
    );
    for (field, addrs) in [("plain", &a.plain), ("web", &a.web)] {
        if !addrs.is_empty() {
            let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            line += &format!(", {field} {}", addrs.join(" "));
        }
    }
    line
}
