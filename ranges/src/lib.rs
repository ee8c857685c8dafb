//! Network ranges of SSL networks, in Keyfactor's notation: a target, optionally with
//! ports after a colon. Targets: an address (`10.0.0.5`, `[::1]`), a CIDR (`10.0.0.0/24`,
//! `[fd00::]/120`), a dash range (`10.0.0.5-10.0.0.20`) or a host name
//! (`www.example.com`). Ports: `443`, `443,8443`, `8000-8010`, mixed; 443 when left out.
//! `127.0.0.0/30:443` is four addresses on one port.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// What a range names before the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeTarget {
    Address(IpAddr),
    Network(IpNet),
    /// `first..=last`, same family, first not after last.
    Span(IpAddr, IpAddr),
    Host(String),
}

/// One range: its target and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRange {
    pub target: RangeTarget,
    /// Sorted, without repeats.
    pub ports: Vec<u16>,
}

/// One endpoint of a range: a host (an address as text, or a name) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Why a range does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Ports a single range may name.
const MAX_PORTS: usize = 1024;

impl NetworkRange {
    /// Parses one range.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(RangeError("an empty range".into()));
        }
        let (target, ports) = split_ports(t)?;
        let ports = match ports {
            Some(p) => parse_ports(p)?,
            None => vec![443],
        };
        Ok(Self {
            target: parse_target(target)?,
            ports,
        })
    }

    /// How many addresses it names (a host name counts as one).
    pub fn addresses(&self) -> u128 {
        match &self.target {
            RangeTarget::Address(_) | RangeTarget::Host(_) => 1,
            RangeTarget::Network(n) => {
                let bits = n.max_prefix_len() - n.prefix_len();
                1u128.checked_shl(u32::from(bits)).unwrap_or(u128::MAX)
            }
            RangeTarget::Span(a, b) => ordinal(*b) - ordinal(*a) + 1,
        }
    }

    /// Endpoints (addresses × ports) it names.
    pub fn endpoints(&self) -> u128 {
        self.addresses().saturating_mul(self.ports.len() as u128)
    }

    /// Every host it names, in order: each address (as text), or the host name once.
    pub fn hosts(&self) -> Box<dyn Iterator<Item = String> + '_> {
        let span = |first: u128, last: u128, v4: bool| {
            (first..=last).map(move |n| {
                if v4 {
                    std::net::Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)).to_string()
                } else {
                    std::net::Ipv6Addr::from(n).to_string()
                }
            })
        };
        match &self.target {
            RangeTarget::Address(a) => Box::new(std::iter::once(a.to_string())),
            RangeTarget::Host(h) => Box::new(std::iter::once(h.clone())),
            RangeTarget::Network(n) => Box::new(span(
                ordinal(n.network()),
                ordinal(n.broadcast()),
                n.network().is_ipv4(),
            )),
            RangeTarget::Span(a, b) => Box::new(span(ordinal(*a), ordinal(*b), a.is_ipv4())),
        }
    }

    /// Every endpoint it names: each host on each port.
    pub fn endpoints_iter(&self) -> impl Iterator<Item = Endpoint> + '_ {
        self.hosts().flat_map(move |host| {
            self.ports.iter().map(move |port| Endpoint {
                host: host.clone(),
                port: *port,
            })
        })
    }

    /// The range written back in its normal form (`10.0.0.0/30:443,8443`).
    pub fn normal(&self) -> String {
        let target = match &self.target {
            RangeTarget::Address(IpAddr::V6(a)) => format!("[{a}]"),
            RangeTarget::Address(a) => a.to_string(),
            RangeTarget::Network(IpNet::V6(n)) => format!("[{}]/{}", n.network(), n.prefix_len()),
            RangeTarget::Network(n) => n.to_string(),
            RangeTarget::Span(IpAddr::V6(a), IpAddr::V6(b)) => format!("[{a}]-[{b}]"),
            RangeTarget::Span(a, b) => format!("{a}-{b}"),
            RangeTarget::Host(h) => h.clone(),
        };
        format!("{target}:{}", ports_text(&self.ports))
    }
}

/// Ports as written back: runs collapsed (`443,8000-8002`).
pub fn ports_text(ports: &[u16]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        let mut end = start;
        while i + 1 < ports.len() && ports[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = ports[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn ordinal(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `target[:ports]`, with IPv6 targets in brackets when ports follow.
fn split_ports(t: &str) -> Result<(&str, Option<&str>), RangeError> {
    if t.starts_with('[') {
        // [v6], [v6]/len, [v6]-[v6], each optionally followed by :ports
        let last = t
            .rfind(']')
            .ok_or_else(|| RangeError(format!("{t:?}: a '[' without ']'")))?;
        let after = &t[last + 1..];
        let (suffix, ports) = match after.find(':') {
            Some(i) => (&after[..i], Some(&after[i + 1..])),
            None => (after, None),
        };
        return Ok((&t[..last + 1 + suffix.len()], ports));
    }
    if t.matches(':').count() > 1 {
        // A bare IPv6 address or network: no ports.
        return Ok((t, None));
    }
    Ok(match t.split_once(':') {
        Some((target, ports)) => (target, Some(ports)),
        None => (t, None),
    })
}

fn parse_ports(text: &str) -> Result<Vec<u16>, RangeError> {
    let bad = |p: &str| RangeError(format!("{p:?} is not a port (1-65535) or a port range"));
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
    let mut ports = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    port(a).ok_or_else(|| bad(part))?,
                    port(b).ok_or_else(|| bad(part))?,
                );
                if a > b {
                    return Err(RangeError(format!(
                        "ports {part:?}: the range ends before it starts"
                    )));
                }
                if usize::from(b - a) >= MAX_PORTS {
                    return Err(RangeError(format!(
                        "ports {part:?}: more than {MAX_PORTS} ports"
                    )));
                }
                ports.extend(a..=b);
            }
            None => ports.push(port(part).ok_or_else(|| bad(part))?),
        }
        if ports.len() > MAX_PORTS {
            return Err(RangeError(format!(
                "more than {MAX_PORTS} ports in one range"
            )));
        }
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

fn unbracket(s: &str) -> &str {
    s.trim().trim_start_matches('[').trim_end_matches(']')
}

fn parse_target(t: &str) -> Result<RangeTarget, RangeError> {
    if let Some((net, len)) = t.split_once('/') {
        let text = format!("{}/{}", unbracket(net), len.trim());
        return text
            .parse::<IpNet>()
            .map(|n| RangeTarget::Network(n.trunc()))
            .map_err(|_| RangeError(format!("{t:?} is not a network (CIDR such as 10.0.0.0/24)")));
    }
    if let Ok(a) = unbracket(t).parse::<IpAddr>() {
        return Ok(RangeTarget::Address(a));
    }
    if let Some((a, b)) = t.split_once('-')
        && let (Ok(a), Ok(b)) = (
            unbracket(a).parse::<IpAddr>(),
            unbracket(b).parse::<IpAddr>(),
        )
    {
        if a.is_ipv4() != b.is_ipv4() {
            return Err(RangeError(format!("{t:?}: the range mixes IPv4 and IPv6")));
        }
        if ordinal(a) > ordinal(b) {
            return Err(RangeError(format!(
                "{t:?}: the range ends before it starts"
            )));
        }
        return Ok(RangeTarget::Span(a, b));
    }
    if valid_host(t) {
        return Ok(RangeTarget::Host(t.to_ascii_lowercase()));
    }
    Err(RangeError(format!(
        "{t:?} is not an address, a network, an address range or a host name"
    )))
}

/// A DNS name: labels of letters, digits and hyphens (not at either end), at most 253
/// characters, not all digits (that would be a malformed address).
fn valid_host(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 253
        && !t.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(t: &str) -> String {
        NetworkRange::parse(t).unwrap().normal()
    }

    #[test]
    fn forms() {
        assert_eq!(n("127.0.0.0/30:443"), "127.0.0.0/30:443");
        assert_eq!(
            n("127.0.0.1/30"),
            "127.0.0.0/30:443",
            "host bits dropped, 443 by default"
        );
        assert_eq!(n(" 10.0.0.5 : 8443,443 "), "10.0.0.5:443,8443");
        assert_eq!(
            n("10.0.0.5-10.0.0.20:8000-8002,9000"),
            "10.0.0.5-10.0.0.20:8000-8002,9000"
        );
        assert_eq!(n("[::1]:8443"), "[::1]:8443");
        assert_eq!(n("::1"), "[::1]:443");
        assert_eq!(n("[fd00::]/120:443"), "[fd00::]/120:443");
        assert_eq!(n("WWW.Example.com:443"), "www.example.com:443");
        let r = NetworkRange::parse("127.0.0.0/30:443,8443").unwrap();
        assert_eq!((r.addresses(), r.endpoints()), (4, 8));
        assert_eq!(
            NetworkRange::parse("10.0.0.5-10.0.1.4")
                .unwrap()
                .addresses(),
            256
        );
        assert_eq!(
            NetworkRange::parse("[::]/0").unwrap().addresses(),
            u128::MAX
        );
    }

    #[test]
    fn expansion() {
        let r = NetworkRange::parse("127.0.0.0/31:443,8443").unwrap();
        let all: Vec<String> = r
            .endpoints_iter()
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        assert_eq!(
            all,
            [
                "127.0.0.0:443",
                "127.0.0.0:8443",
                "127.0.0.1:443",
                "127.0.0.1:8443"
            ]
        );
        let span: Vec<String> = NetworkRange::parse("10.0.0.254-10.0.1.1")
            .unwrap()
            .hosts()
            .collect();
        assert_eq!(span, ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]);
        let v6: Vec<String> = NetworkRange::parse("[fd00::]/127")
            .unwrap()
            .hosts()
            .collect();
        assert_eq!(v6, ["fd00::", "fd00::1"]);
        let host: Vec<String> = NetworkRange::parse("web.test:8443")
            .unwrap()
            .hosts()
            .collect();
        assert_eq!(host, ["web.test"]);
        assert_eq!(
            NetworkRange::parse("10.0.0.0/20")
                .unwrap()
                .endpoints_iter()
                .count(),
            4096
        );
    }

    #[test]
    fn mistakes_say_why() {
        for (bad, says) in [
            ("", "empty"),
            ("10.0.0.0/33", "not a network"),
            ("10.0.0.20-10.0.0.5", "ends before it starts"),
            ("10.0.0.1-::1", "mixes IPv4 and IPv6"),
            ("10.0.0.1:0", "not a port"),
            ("10.0.0.1:70000", "not a port"),
            ("10.0.0.1:9000-8000", "ends before it starts"),
            ("10.0.0.1:1-2000", "more than 1024"),
            ("10.0.0.256", "not an address"),
            ("bad_host!", "not an address"),
            ("[::1", "without ']'"),
        ] {
            let e = NetworkRange::parse(bad).unwrap_err().0;
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
