//! The egress policy: which addresses a guest's HTTP requests may reach.
//!
//! By default only public addresses: loopback, private (RFC 1918, unique-local), shared
//! (100.64/10), link-local (169.254/16 — the cloud metadata address among them — and fe80::/10),
//! unspecified, multicast and broadcast addresses are denied, and so is the host's own API
//! (on every address of the machine's interfaces when it listens on all of them, on loopback
//! under any loopback address). `reprise serve --allow-egress CIDR` allows a range besides (tests and demos allow
//! loopback that way). The check is made on every address a connection may use: an IP in
//! the URL before anything is sent, a name's addresses as it is resolved for the connection
//! (so a name cannot resolve to an allowed address for a check and another for the connect).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// An address range: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not an address range: expected ADDRESS/PREFIX (e.g. 127.0.0.0/8, ::1/128) or an address"
)]
pub struct BadCidr(String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(text: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(text.chars().take(64).collect());
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A request the policy refuses: the address and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the host's egress policy denies {ip} ({why}); an operator can allow it with `reprise serve --allow-egress CIDR`"
)]
pub struct Denied {
    /// The address refused.
    pub ip: IpAddr,
    /// What kind of address it is.
    pub why: &'static str,
}

/// Which addresses guests may reach.
#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    /// Ranges allowed although they are not public.
    allowed: Vec<Cidr>,
    /// The host's own API address, never reachable from a guest.
    own: Option<SocketAddr>,
}

impl EgressPolicy {
    /// Public addresses, and `allowed` besides.
    pub fn new(allowed: Vec<Cidr>) -> Self {
        EgressPolicy { allowed, own: None }
    }

    /// This policy, also denying the host's own API at `addr`.
    pub fn with_own_address(mut self, addr: SocketAddr) -> Self {
        self.own = Some(addr);
        self
    }

    /// Whether `port` is the host's own API port (so a request to it must be checked by
    /// address).
    pub fn guards_port(&self, port: u16) -> bool {
        self.own.is_some_and(|own| own.port() == port)
    }

    /// The ranges allowed besides public addresses.
    pub fn allowed(&self) -> &[Cidr] {
        &self.allowed
    }

    /// Whether a connection to `ip` is allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Denied> {
        let ip = canonical(ip);
        if self.allowed.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match special(ip) {
            Some(why) => Err(Denied { ip, why }),
            None => Ok(()),
        }
    }

    /// Whether a connection to `addr` is allowed: its address, and not the host's own API
    /// (whatever ranges are allowed).
    pub fn check(&self, addr: SocketAddr) -> Result<(), Denied> {
        if let Some(own) = self.own
            && own.port() == addr.port()
        {
            let ip = canonical(addr.ip());
            let own_ip = canonical(own.ip());
            // Any loopback or unspecified address reaches a host listening on loopback or on
            // every interface; so does any of this machine's own addresses, when it listens on
            // every interface.
            let local = ip.is_loopback() || ip.is_unspecified();
            if ip == own_ip
                || local && (own_ip.is_loopback() || own_ip.is_unspecified())
                || own_ip.is_unspecified() && is_own_interface(ip)
            {
                return Err(Denied {
                    ip,
                    why: "the host's own API",
                });
            }
        }
        self.check_ip(addr.ip())
    }
}

/// Whether `ip` is an address of one of this machine's interfaces: a socket binds only to
/// those.
fn is_own_interface(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// What kind of non-public address `ip` is, if it is one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => special_v4(ip),
        IpAddr::V6(ip) => special_v6(ip),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local, where cloud metadata lives"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if a == 100 && (64..128).contains(&b) {
        "shared address space"
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        "multicast, broadcast or reserved"
    } else {
        return None;
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xfe00 == 0xfc00 {
        "unique-local (private)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn only_public_addresses_pass_by_default_and_allowed_ranges_besides() {
        let policy = EgressPolicy::default();
        for denied in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(policy.check_ip(ip(denied)).is_err(), "{denied}");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(policy.check_ip(ip(allowed)).is_ok(), "{allowed}");
        }
        let message = policy
            .check_ip(ip("169.254.169.254"))
            .expect_err("metadata")
            .to_string();
        assert!(message.contains("169.254.169.254 (link-local"), "{message}");

        let loopback: Cidr = "127.0.0.0/8".parse().expect("cidr");
        let policy = EgressPolicy::new(vec![loopback, "::1".parse().expect("cidr")])
            .with_own_address("127.0.0.1:7420".parse().expect("addr"));
        assert!(policy.check_ip(ip("127.0.0.2")).is_ok());
        assert!(policy.check_ip(ip("::1")).is_ok());
        assert!(policy.check_ip(ip("10.0.0.1")).is_err());
        assert!(
            policy
                .check("127.0.0.1:7421".parse().expect("addr"))
                .is_ok()
        );
        let own = policy
            .check("127.0.0.1:7420".parse().expect("addr"))
            .expect_err("own");
        assert_eq!(own.why, "the host's own API");
        let any = EgressPolicy::new(vec![loopback])
            .with_own_address("0.0.0.0:7420".parse().expect("addr"));
        assert!(any.check("127.0.0.1:7420".parse().expect("addr")).is_err());
        assert!(
            any.check("93.184.216.34:7420".parse().expect("addr"))
                .is_ok()
        );
        // Listening on every interface, the host is reached on each of its own addresses
        // (whatever ranges are allowed): every address a socket binds to is one.
        let everywhere = EgressPolicy::new(vec!["0.0.0.0/0".parse().expect("cidr")])
            .with_own_address("0.0.0.0:7420".parse().expect("addr"));
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
        // The address this machine would send from: one of its own interfaces.
        if probe.connect("192.0.2.1:9").is_ok()
            && let Ok(own) = probe.local_addr()
        {
            let own = SocketAddr::new(own.ip(), 7420);
            let denied = everywhere.check(own).expect_err("own interface");
            assert_eq!(denied.why, "the host's own API");
            assert!(everywhere.check(SocketAddr::new(own.ip(), 7421)).is_ok());
        }
    }

    #[test]
    fn ranges_parse_and_name_what_is_wrong() {
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().expect("cidr").to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<Cidr>().expect("cidr").to_string(), "::1/128");
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::1/129"] {
            let err = bad.parse::<Cidr>().expect_err(bad).to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
