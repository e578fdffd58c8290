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

use crate::journal::EgressRules;
use crate::journal::canonical_ip as canonical;
pub use crate::journal::{BadCidr, Cidr};

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

/// Whose egress rules a set of rules is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The tenant's, set by an operator.
    Tenant,
    /// One of the tenant's deployments', set by the tenant.
    Deployment(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Tenant => f.write_str("the tenant's egress rules"),
            Scope::Deployment(name) => write!(f, "the egress rules of deployment `{name}`"),
        }
    }
}

/// A request that a tenant's or a deployment's rules do not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{scope} ({rules}) do not allow {target}; {hint}")]
pub struct NotAllowed {
    /// Whose rules.
    pub scope: Scope,
    /// The rules.
    pub rules: EgressRules,
    /// What was asked for: `host:port`, or an address of a host.
    pub target: String,
    /// Who may change them, and how.
    hint: &'static str,
}

/// The egress rules narrowing the host's policy for one invocation: its tenant's, then its
/// deployment's. A request must pass every one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Narrowing(Vec<(Scope, EgressRules)>);

impl Narrowing {
    /// `tenant`'s rules, then `deployment`'s, where set.
    pub fn new(tenant: Option<EgressRules>, deployment: Option<(String, EgressRules)>) -> Self {
        let tenant = tenant.map(|rules| (Scope::Tenant, rules));
        let deployment = deployment.map(|(name, rules)| (Scope::Deployment(name), rules));
        Narrowing(tenant.into_iter().chain(deployment).collect())
    }

    /// Whether no rule narrows anything.
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    fn not_allowed(scope: &Scope, rules: &EgressRules, target: String) -> NotAllowed {
        let hint = match scope {
            Scope::Tenant => "an operator sets them with `reprise tenant egress`",
            Scope::Deployment(_) => "set them with `reprise egress`",
        };
        NotAllowed {
            scope: scope.clone(),
            rules: rules.clone(),
            target,
            hint,
        }
    }

    /// Checks a request to `host` (a name or an address) on `port` before anything is sent.
    /// A name allowed only by address ranges passes here: its addresses are checked as it
    /// is resolved ([`Narrowing::check_resolved`]).
    pub fn check_request(&self, host: &str, port: u16) -> Result<(), NotAllowed> {
        let ip = host.parse::<IpAddr>().ok();
        for (scope, rules) in &self.0 {
            let allowed = rules.allows_port(port)
                && match ip {
                    Some(ip) => rules.hosts.is_empty() || rules.allows_ip(ip),
                    None => rules.allows_name(host) || rules.has_ranges(),
                };
            if !allowed {
                return Err(Self::not_allowed(scope, rules, format!("{host}:{port}")));
            }
        }
        Ok(())
    }

    /// Checks `ip`, an address the name `host` resolved to, before connecting to it.
    pub fn check_resolved(&self, host: &str, ip: IpAddr) -> Result<(), NotAllowed> {
        for (scope, rules) in &self.0 {
            if !(rules.allows_name(host) || rules.allows_ip(ip)) {
                return Err(Self::not_allowed(scope, rules, format!("{host} at {ip}")));
            }
        }
        Ok(())
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
    fn narrowing_needs_every_set_of_rules_and_names_the_one_that_refuses() {
        let rules = |hosts: &[&str], ports: &[u16]| EgressRules {
            hosts: hosts.iter().map(|h| h.parse().expect("host")).collect(),
            ports: ports.to_vec(),
        };
        let narrowing = Narrowing::new(
            Some(rules(&["*.crm.test", "203.0.113.0/24"], &[])),
            Some(("export".into(), rules(&["api.crm.test"], &[443]))),
        );
        assert!(narrowing.check_request("api.crm.test", 443).is_ok());
        let port = narrowing
            .check_request("api.crm.test", 80)
            .expect_err("port");
        assert_eq!(port.scope, Scope::Deployment("export".into()));
        assert!(
            port.to_string().starts_with(
                "the egress rules of deployment `export` (api.crm.test, port 443) do not allow api.crm.test:80"
            ),
            "{port}"
        );
        let other = narrowing
            .check_request("other.crm.test", 443)
            .expect_err("name");
        assert_eq!(other.scope, Scope::Deployment("export".into()));
        // Only the tenant's rules: a name outside its names is checked by address.
        let tenant = Narrowing::new(Some(rules(&["*.crm.test", "203.0.113.0/24"], &[])), None);
        assert!(tenant.check_request("cdn.test", 443).is_ok());
        assert!(tenant.check_resolved("cdn.test", ip("203.0.113.7")).is_ok());
        let outside = tenant
            .check_resolved("cdn.test", ip("198.51.100.1"))
            .expect_err("outside");
        assert_eq!(outside.scope, Scope::Tenant);
        assert!(outside.to_string().contains("cdn.test at 198.51.100.1"));
        assert!(tenant.check_request("198.51.100.1", 443).is_err());
        assert!(tenant.check_request("203.0.113.1", 443).is_ok());
        let names_only = Narrowing::new(Some(rules(&["api.crm.test"], &[])), None);
        assert!(names_only.check_request("cdn.test", 443).is_err());
        assert!(Narrowing::default().is_open());
        assert!(
            Narrowing::default()
                .check_request("anything.test", 1)
                .is_ok()
        );
    }
}
