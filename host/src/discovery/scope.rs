//! Where a plugin may probe for TLS: networks (CIDR) and ports, from the operator's
//! `tls_networks` and `tls_ports`. Nothing outside them is ever connected to; a name is
//! resolved first and only its granted addresses are tried.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use ipnet::IpNet;

/// Networks and ports a plugin (or an account's part of it) may probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeScope {
    networks: Vec<IpNet>,
    ports: Vec<RangeInclusive<u16>>,
}

impl ProbeScope {
    /// Parses `networks` (`10.0.0.0/8`, `::1/128`, or a bare address meaning just it) and
    /// `ports` (`443`, `8000-8100`); no ports given means 443 only.
    pub fn parse(networks: &[String], ports: &[String]) -> Result<Self, String> {
        let networks = networks
            .iter()
            .map(|n| parse_network(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut parsed = ports
            .iter()
            .map(|p| parse_ports(p))
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            parsed.push(443..=443);
        }
        Ok(Self {
            networks,
            ports: parsed,
        })
    }

    /// Whether `addr:port` may be probed.
    pub fn allows(&self, addr: IpAddr, port: u16) -> bool {
        let addr = canonical(addr);
        self.networks.iter().any(|n| n.contains(&addr)) && self.allows_port(port)
    }

    /// Whether `port` is one of the granted ports.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ports.iter().any(|r| r.contains(&port))
    }

    /// Whether every network and port range of `self` lies within `outer`'s (an account's
    /// part of a plugin's grant).
    pub fn within(&self, outer: &ProbeScope) -> bool {
        self.networks
            .iter()
            .all(|n| outer.networks.iter().any(|o| o.contains(n)))
            && self.ports.iter().all(|r| {
                outer
                    .ports
                    .iter()
                    .any(|o| o.start() <= r.start() && r.end() <= o.end())
            })
    }

    /// An account's part of this scope: the `networks` and `ports` it names (each side
    /// this scope's own when it names none), refused unless they lie within this scope.
    pub fn narrowed(&self, networks: &[String], ports: &[String]) -> Result<Self, String> {
        let mut part = Self::parse(networks, ports)?;
        if networks.is_empty() {
            part.networks = self.networks.clone();
        }
        if ports.is_empty() {
            part.ports = self.ports.clone();
        }
        if !part.within(self) {
            return Err(format!(
                "{} is not within the plugin's {}",
                part.describe(),
                self.describe()
            ));
        }
        Ok(part)
    }

    /// No network granted: nothing may be probed.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// The networks, as written back (for messages).
    pub fn describe(&self) -> String {
        if self.networks.is_empty() {
            return "no networks".to_owned();
        }
        let nets: Vec<String> = self.networks.iter().map(ToString::to_string).collect();
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        format!("{} on ports {}", nets.join(", "), ports.join(", "))
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4 address, so a grant of
/// `127.0.0.0/8` covers both spellings and a v6 grant cannot reach v4 hosts by accident.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_network(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    t.parse::<IpAddr>()
        .map(|a| IpNet::from(canonical(a)))
        .map_err(|_| format!("{text:?} is not a network (CIDR such as 10.0.0.0/8) or an address"))
}

fn parse_ports(text: &str) -> Result<RangeInclusive<u16>, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is not a port (1-65535) or a range such as 8000-8100");
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
    match t.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a).ok_or_else(bad)?, port(b).ok_or_else(bad)?);
            if a > b {
                return Err(format!("{text:?}: the range ends before it starts"));
            }
            Ok(a..=b)
        }
        None => port(t).map(|p| p..=p).ok_or_else(bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(nets: &[&str], ports: &[&str]) -> ProbeScope {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        ProbeScope::parse(&s(nets), &s(ports)).unwrap()
    }

    #[test]
    fn networks_and_ports() {
        let s = scope(&["127.0.0.2/32", "::1"], &["443", "8000-8002"]);
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(s.allows(ip("127.0.0.2"), 443));
        assert!(s.allows(ip("127.0.0.2"), 8001));
        assert!(!s.allows(ip("127.0.0.3"), 443), "another address");
        assert!(!s.allows(ip("127.0.0.2"), 8003), "another port");
        assert!(s.allows(ip("::1"), 8000));
        assert!(
            s.allows(ip("::ffff:127.0.0.2"), 443),
            "the v4-mapped spelling"
        );
        assert!(!s.allows(ip("::ffff:127.0.0.3"), 443));
        let default = scope(&["10.0.0.0/8"], &[]);
        assert!(default.allows(ip("10.1.2.3"), 443) && !default.allows(ip("10.1.2.3"), 80));
        assert!(scope(&[], &["443"]).is_empty());
        assert!(
            !scope(&[], &[]).allows(ip("127.0.0.1"), 443),
            "no network, nothing"
        );
    }

    #[test]
    fn within() {
        let plugin = scope(&["127.0.0.0/24"], &["443", "8000-8100"]);
        assert!(scope(&["127.0.0.2/31"], &["8010-8020"]).within(&plugin));
        assert!(scope(&["127.0.0.9"], &[]).within(&plugin));
        assert!(!scope(&["127.0.1.0/24"], &["443"]).within(&plugin));
        assert!(!scope(&["127.0.0.0/23"], &["443"]).within(&plugin));
        assert!(!scope(&["127.0.0.1"], &["8000-8200"]).within(&plugin));
    }

    #[test]
    fn an_accounts_part() {
        let plugin = scope(&["127.0.0.0/24"], &["443", "8000-8100"]);
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(plugin.narrowed(&[], &[]).unwrap(), plugin);
        let part = plugin.narrowed(&s(&["127.0.0.2"]), &[]).unwrap();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(part.allows(ip("127.0.0.2"), 8050));
        assert!(!part.allows(ip("127.0.0.3"), 443));
        let ports = plugin.narrowed(&[], &s(&["8000"])).unwrap();
        assert!(ports.allows(ip("127.0.0.9"), 8000) && !ports.allows(ip("127.0.0.9"), 443));
        let e = plugin.narrowed(&s(&["10.0.0.0/8"]), &[]).unwrap_err();
        assert!(e.contains("not within the plugin's"), "{e}");
    }

    #[test]
    fn bad_entries_say_why() {
        let e = ProbeScope::parse(&["10.0.0.0/33".into()], &[]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        let e = ProbeScope::parse(&[], &["9000-8000".into()]).unwrap_err();
        assert!(e.contains("ends before it starts"), "{e}");
        for bad in ["0", "65536", "x", "1-", "-5"] {
            assert!(ProbeScope::parse(&[], &[bad.into()]).is_err(), "{bad}");
        }
    }
}
