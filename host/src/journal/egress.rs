//! Egress rules of a tenant or of one of its deployments: which hosts and ports its guests'
//! requests may reach. They only narrow the host's egress policy (`outbound/egress.rs`): an
//! address the host denies stays denied whatever a rule says.
//!
//! A request passes a set of rules if its port is listed (or none is), and its host is: a
//! name equal to it, a `*.suffix` it ends in, or a range holding the address it connects to
//! (checked on every address as the name is resolved for the connection). No host listed
//! allows every host.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An address range: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        match (self.addr, canonical_ip(ip)) {
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
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One allowed host: a name, every name under a suffix, or an address range.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AllowedHost {
    /// Exactly this name (lower case, no trailing dot).
    Name(String),
    /// Every name ending in `.` and this suffix (written `*.suffix`).
    Under(String),
    /// Every address in this range.
    Range(Cidr),
}

/// Why an allowed host does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not a host to allow: expected a name (api.example.com), a wildcard (*.example.com) or an address range (203.0.113.0/24)"
)]
pub struct BadHost(String);

impl FromStr for AllowedHost {
    type Err = BadHost;

    fn from_str(text: &str) -> Result<Self, BadHost> {
        let bad = || BadHost(text.chars().take(64).collect());
        if let Ok(range) = text.parse::<Cidr>() {
            return Ok(AllowedHost::Range(range));
        }
        let (under, name) = match text.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, text),
        };
        let name = normal_name(name);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(bad());
        }
        Ok(if under {
            AllowedHost::Under(name)
        } else {
            AllowedHost::Name(name)
        })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHost::Name(name) => f.write_str(name),
            AllowedHost::Under(suffix) => write!(f, "*.{suffix}"),
            AllowedHost::Range(range) => range.fmt(f),
        }
    }
}

/// A name as rules compare it: lower case, without a trailing dot.
fn normal_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The hosts and ports a tenant's (or a deployment's) guests may reach.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EgressRules {
    /// Hosts allowed; none listed allows every host.
    pub hosts: Vec<AllowedHost>,
    /// Ports allowed; none listed allows every port.
    pub ports: Vec<u16>,
}

impl EgressRules {
    /// Whether a request to `port` may be sent.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ports.is_empty() || self.ports.contains(&port)
    }

    /// Whether `host` (a name, or an address written as one) is allowed whatever it
    /// resolves to.
    pub fn allows_name(&self, host: &str) -> bool {
        if self.hosts.is_empty() {
            return true;
        }
        let host = normal_name(host);
        self.hosts.iter().any(|allowed| match allowed {
            AllowedHost::Name(name) => *name == host,
            AllowedHost::Under(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.ends_with('.')),
            AllowedHost::Range(_) => false,
        })
    }

    /// Whether a connection to `ip` is allowed by a range.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.hosts.iter().any(|allowed| match allowed {
            AllowedHost::Range(range) => range.contains(ip),
            _ => false,
        })
    }

    /// Whether a name not allowed as such may still be reached at some addresses.
    pub fn has_ranges(&self) -> bool {
        self.hosts
            .iter()
            .any(|allowed| matches!(allowed, AllowedHost::Range(_)))
    }
}

impl fmt::Display for EgressRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hosts.is_empty() {
            f.write_str("any host")?;
        } else {
            let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
            f.write_str(&hosts.join(", "))?;
        }
        if self.ports.is_empty() {
            f.write_str(", any port")
        } else {
            let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
            write!(f, ", port {}", ports.join(" or "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rules_allow_names_suffixes_ranges_and_ports() {
        let host = |t: &str| t.parse::<AllowedHost>().expect(t);
        let rules = EgressRules {
            hosts: vec![
                host("API.crm.test."),
                host("*.stripe.test"),
                host("203.0.113.0/24"),
            ],
            ports: vec![443],
        };
        assert!(rules.allows_name("api.crm.test"));
        assert!(rules.allows_name("Api.Crm.Test."));
        assert!(!rules.allows_name("evil.api.crm.test"));
        assert!(rules.allows_name("a.b.stripe.test"));
        assert!(!rules.allows_name("stripe.test"));
        assert!(!rules.allows_name("notstripe.test"));
        assert!(rules.allows_ip("203.0.113.9".parse().expect("ip")));
        assert!(!rules.allows_ip("203.0.114.9".parse().expect("ip")));
        assert!(rules.has_ranges());
        assert!(rules.allows_port(443) && !rules.allows_port(80));
        assert_eq!(
            rules.to_string(),
            "api.crm.test, *.stripe.test, 203.0.113.0/24, port 443"
        );
        let open = EgressRules::default();
        assert!(open.allows_name("anything.test") && open.allows_port(1));
        for bad in ["", "*.", "a..b", "under_score.test", "sp ace", "x/y", "*"] {
            let err = bad.parse::<AllowedHost>().expect_err(bad).to_string();
            assert!(err.contains("not a host to allow"), "{err}");
        }
    }
}
