//! Discovery in tests: real multicast on loopback, each test in a group of its own.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Instant;

use imchat::discovery::{self, Datagram, MAX_DATAGRAM};

use super::PATIENCE;

/// A group no other test uses: an address in 239.255.0.0/16 drawn from this process and a
/// counter, and a UDP port that no socket on 127.0.0.1 held a moment ago. Sockets are bound
/// to the group's address, so a test never hears another's datagrams even on a shared port.
pub fn fresh_group() -> SocketAddrV4 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = std::process::id().wrapping_mul(7919) + NEXT.fetch_add(1, Ordering::Relaxed);
    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port();
    SocketAddrV4::new(Ipv4Addr::new(239, 255, (n >> 8) as u8, n as u8), port)
}

/// The flags that make a server announce in `group` on loopback only.
pub fn announce_flags(group: SocketAddrV4, name: &str) -> Vec<String> {
    [
        "--announce",
        "--announce-group",
        &group.to_string(),
        "--announce-interface",
        "127.0.0.1",
        "--name",
        name,
    ]
    .map(String::from)
    .to_vec()
}

/// A socket in `group` on loopback, as a client or a listener has.
pub struct Ear {
    pub socket: UdpSocket,
    pub group: SocketAddrV4,
}

impl Ear {
    pub fn join(group: SocketAddrV4) -> Ear {
        let socket = discovery::join(group, Ipv4Addr::LOCALHOST)
            .expect("multicast on loopback (this test needs it)");
        Ear { socket, group }
    }

    pub fn send(&self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.group).unwrap();
    }

    /// The next datagram before `deadline`, parsed (or why not), with its sender; `None`
    /// once the deadline passes.
    pub fn recv_until(
        &self,
        deadline: Instant,
    ) -> Option<(Result<Datagram, &'static str>, SocketAddr)> {
        let mut buf = [0u8; MAX_DATAGRAM + 1];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(std::time::Duration::from_millis(1))))
                .unwrap();
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => return Some((discovery::parse(&buf[..n]), from)),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// The next ANNOUNCE from a server named `name`, waiting at most [`PATIENCE`].
    pub fn announce_from(&self, name: &str) -> discovery::Announce {
        let deadline = Instant::now() + PATIENCE;
        while let Some((datagram, _)) = self.recv_until(deadline) {
            if let Ok(Datagram::Announce(a)) = datagram {
                if a.name == name {
                    return a;
                }
            }
        }
        panic!("no ANNOUNCE from {name} within {PATIENCE:?}");
    }
}
