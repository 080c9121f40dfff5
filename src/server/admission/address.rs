//! Which addresses count as one: the key the per-address cap and the bans are kept under.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address, as the limits count it: an IPv4 address, or an IPv6 /64. A /64 is what one
/// site or one subscriber is given (RFC 6177), and any host in it can pick a new address at
/// will (privacy addresses, RFC 8981), so counting IPv6 per address would count nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrKey {
    V4(u32),
    /// The first 64 bits.
    V6(u64),
}

/// The key `ip` is counted under, or `None` when it is exempt: loopback (127.0.0.0/8, ::1)
/// unless `limit_loopback`, so that local load tests, bots and the test suite are never
/// refused. An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, from a `[::]` listener) is
/// the IPv4 address it maps: one client, one key, whichever listener it came through.
pub fn key_of(ip: IpAddr, limit_loopback: bool) -> Option<AddrKey> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    if ip.is_loopback() && !limit_loopback {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => AddrKey::V4(u32::from(v4)),
        IpAddr::V6(v6) => AddrKey::V6((u128::from(v6) >> 64) as u64),
    })
}

/// As the log shows it: `203.0.113.7`, or `2001:db8:1:2::/64`.
impl fmt::Display for AddrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AddrKey::V4(v4) => Ipv4Addr::from(v4).fmt(f),
            AddrKey::V6(prefix) => write!(f, "{}/64", Ipv6Addr::from(u128::from(prefix) << 64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> Option<AddrKey> {
        key_of(ip.parse().unwrap(), false)
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a = key("2001:db8:1:2:aaaa::1").unwrap();
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), Some(a), "same /64");
        assert_ne!(key("2001:db8:1:3::1"), Some(a), "the next /64");
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_counts_per_address_and_mapped_is_the_same_key() {
        let a = key("203.0.113.7").unwrap();
        assert_eq!(key("::ffff:203.0.113.7"), Some(a));
        assert_ne!(key("203.0.113.8"), Some(a));
        assert_eq!(a.to_string(), "203.0.113.7");
    }

    #[test]
    fn loopback_is_exempt_unless_limited() {
        for ip in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(key(ip), None, "{ip}");
            assert!(key_of(ip.parse().unwrap(), true).is_some(), "{ip}");
        }
        assert_eq!(
            key_of("::ffff:127.0.0.1".parse().unwrap(), true),
            key_of("127.0.0.1".parse().unwrap(), true)
        );
    }
}
