//! Addresses given on the command line: `host:port`, where the host is a name
//! (`localhost`, `chat.example.org`) or an IP literal (`127.0.0.1`, `[::1]`).
//!
//! Names are resolved once, at start, before any loop runs: `getaddrinfo` blocks, and the
//! loops never do. Every binary and example takes its address flags through here, so
//! `localhost:6666` means the same thing to all of them.

use std::net::{SocketAddr, ToSocketAddrs};

/// Every address `host_port` names, in the resolver's order of preference.
pub fn resolve_all(host_port: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("bad address {host_port:?} (expected host:port): {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("address {host_port:?} resolves to nothing"));
    }
    Ok(addrs)
}

/// The first address `host_port` names: the one a client connects to. Usable as a clap
/// `value_parser`.
pub fn resolve(host_port: &str) -> Result<SocketAddr, String> {
    resolve_all(host_port).map(|addrs| addrs[0])
}

/// The host part of `host:port` as typed, without an IPv6 literal's brackets: the name a
/// TLS client checks the server's certificate against (`localhost`, `127.0.0.1`, `::1`).
/// Text with no port is all host.
pub fn host(host_port: &str) -> &str {
    let host = host_port
        .rsplit_once(':')
        .filter(|(host, _)| !host.contains(':') || host.starts_with('['))
        .map_or(host_port, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names_resolve() {
        assert_eq!(
            resolve("127.0.0.1:6666"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 6666)))
        );
        assert_eq!(resolve("[::1]:7").map(|a| a.ip().is_loopback()), Ok(true));
        let local = resolve_all("localhost:7000").expect("localhost resolves");
        assert!(local
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 7000));
    }

    #[test]
    fn a_missing_port_is_an_error_naming_the_address() {
        let e = resolve("localhost").unwrap_err();
        assert!(e.contains("\"localhost\""), "{e}");
    }

    #[test]
    fn the_host_is_what_was_typed_before_the_port() {
        assert_eq!(host("localhost:6666"), "localhost");
        assert_eq!(host("chat.example.org:443"), "chat.example.org");
        assert_eq!(host("127.0.0.1:6666"), "127.0.0.1");
        assert_eq!(host("[::1]:6666"), "::1");
        assert_eq!(host("localhost"), "localhost");
        assert_eq!(host("::1"), "::1");
    }
}
