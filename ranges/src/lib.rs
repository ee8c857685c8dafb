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

/// Why a range is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    pub kind: RangeErrorKind,
    pub message: String,
}

/// Whether a range is not written in the notation at all ([`pattern`] does not match
/// it), or is well written but names something impossible or too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeErrorKind {
    /// Not the notation: [`pattern`] rejects it too.
    Syntax,
    /// Well written, but a span ends before it starts or names too many ports.
    Limit,
}

impl RangeError {
    fn syntax(message: String) -> Self {
        Self {
            kind: RangeErrorKind::Syntax,
            message,
        }
    }

    fn limit(message: String) -> Self {
        Self {
            kind: RangeErrorKind::Limit,
            message,
        }
    }
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RangeError {}

/// Ports a single range may name.
pub const MAX_PORTS: usize = 1024;

impl NetworkRange {
    /// Parses one range (white space around it is ignored). The notation is strict, so
    /// that [`pattern`] can state it exactly: no white space inside, no leading zeros in
    /// numbers, brackets only around IPv6 (needed when ports follow), and a host name's
    /// last label has a letter.
    pub fn parse(text: &str) -> Result<Self, RangeError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(RangeError::syntax("an empty range".into()));
        }
        let (target, ports) = split_ports(t)?;
        // Syntax first, everywhere, so a limit is reported only for a well-written range.
        if let Some(p) = ports {
            check_ports_syntax(p)?;
        }
        let target = parse_target(target)?;
        let ports = match ports {
            Some(p) => parse_ports(p)?,
            None => vec![443],
        };
        Ok(Self { target, ports })
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

    /// The range cut into consecutive ranges of at most `max_endpoints` endpoints each
    /// (never less than one address with all its ports), in order; together they name
    /// exactly the endpoints this one does. The caller bounds the size of what it splits
    /// (a network names at most `max_network_addresses`): `[::]/0` has 2^128 addresses.
    pub fn split(&self, max_endpoints: u64) -> Vec<NetworkRange> {
        let per_address = self.ports.len().max(1) as u128;
        let step = (u128::from(max_endpoints) / per_address).max(1);
        let (first, last, v4) = match &self.target {
            RangeTarget::Host(_) | RangeTarget::Address(_) => return vec![self.clone()],
            RangeTarget::Network(n) => (
                ordinal(n.network()),
                ordinal(n.broadcast()),
                n.network().is_ipv4(),
            ),
            RangeTarget::Span(a, b) => (ordinal(*a), ordinal(*b), a.is_ipv4()),
        };
        if last - first < step {
            return vec![self.clone()];
        }
        let address = |n: u128| -> IpAddr {
            if v4 {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    u32::try_from(n).unwrap_or(u32::MAX),
                ))
            } else {
                IpAddr::V6(std::net::Ipv6Addr::from(n))
            }
        };
        let mut out = Vec::new();
        let mut start = first;
        loop {
            let end = start.saturating_add(step - 1).min(last);
            let target = if start == end {
                RangeTarget::Address(address(start))
            } else {
                RangeTarget::Span(address(start), address(end))
            };
            out.push(NetworkRange {
                target,
                ports: self.ports.clone(),
            });
            if end == last {
                return out;
            }
            start = end + 1;
        }
    }

    /// Whether it names endpoint `host` (an address in any notation, or a name, any
    /// case) on `port`.
    pub fn contains(&self, host: &str, port: u16) -> bool {
        if !self.ports.contains(&port) {
            return false;
        }
        let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
        let ip = bare.parse::<IpAddr>().ok();
        match (&self.target, ip) {
            (RangeTarget::Host(h), None) => h.eq_ignore_ascii_case(bare),
            (RangeTarget::Address(a), Some(ip)) => *a == ip,
            (RangeTarget::Network(n), Some(ip)) => n.contains(&ip),
            (RangeTarget::Span(a, b), Some(ip)) => {
                a.is_ipv4() == ip.is_ipv4() && (ordinal(*a)..=ordinal(*b)).contains(&ordinal(ip))
            }
            _ => false,
        }
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

/// `target[:ports]`; a bracketed IPv6 target may have ports, a bare one may not.
fn split_ports(t: &str) -> Result<(&str, Option<&str>), RangeError> {
    let bad = || {
        RangeError::syntax(format!(
            "{t:?} is not an address, a network, an address range or a host name (with ports after a colon)"
        ))
    };
    if t.starts_with('[') {
        // [v6], [v6]/len, [v6]-[v6], each optionally followed by :ports
        let last = t.rfind(']').ok_or_else(bad)?;
        let after = &t[last + 1..];
        return Ok(match after.find(':') {
            Some(i) => (&t[..last + 1 + i], Some(&after[i + 1..])),
            None => (t, None),
        });
    }
    if t.matches(':').count() > 1 {
        // A bare IPv6 address, network or span: no ports.
        return Ok((t, None));
    }
    Ok(match t.split_once(':') {
        Some((target, ports)) => (target, Some(ports)),
        None => (t, None),
    })
}

/// A decimal number without sign or leading zeros, at most `max`.
fn decimal(s: &str, max: u32) -> Option<u32> {
    let plain = !s.is_empty()
        && s.len() <= 6
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    plain
        .then(|| s.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n <= max)
}

fn port(s: &str) -> Option<u16> {
    decimal(s, 65_535)
        .filter(|p| *p > 0)
        .and_then(|p| u16::try_from(p).ok())
}

fn check_ports_syntax(text: &str) -> Result<(), RangeError> {
    for part in text.split(',') {
        let ok = match part.split_once('-') {
            Some((a, b)) => port(a).is_some() && port(b).is_some(),
            None => port(part).is_some(),
        };
        if !ok {
            return Err(RangeError::syntax(format!(
                "{part:?} is not a port (1-65535) or a port range"
            )));
        }
    }
    Ok(())
}

fn parse_ports(text: &str) -> Result<Vec<u16>, RangeError> {
    let bad =
        |p: &str| RangeError::syntax(format!("{p:?} is not a port (1-65535) or a port range"));
    let mut ports = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    port(a).ok_or_else(|| bad(part))?,
                    port(b).ok_or_else(|| bad(part))?,
                );
                if a > b {
                    return Err(RangeError::limit(format!(
                        "ports {part:?}: the range ends before it starts"
                    )));
                }
                if usize::from(b - a) >= MAX_PORTS {
                    return Err(RangeError::limit(format!(
                        "ports {part:?}: more than {MAX_PORTS} ports"
                    )));
                }
                ports.extend(a..=b);
            }
            None => ports.push(port(part).ok_or_else(|| bad(part))?),
        }
    }
    ports.sort_unstable();
    ports.dedup();
    if ports.len() > MAX_PORTS {
        return Err(RangeError::limit(format!(
            "more than {MAX_PORTS} ports in one range"
        )));
    }
    Ok(ports)
}

/// An IPv6 address in brackets (`bracketed`) or bare.
fn v6(s: &str, bracketed: bool) -> Option<IpAddr> {
    let inner = if bracketed {
        s.strip_prefix('[')?.strip_suffix(']')?
    } else {
        s
    };
    inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

fn v4(s: &str) -> Option<IpAddr> {
    s.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn parse_target(t: &str) -> Result<RangeTarget, RangeError> {
    let bad = || {
        RangeError::syntax(format!(
            "{t:?} is not an address, a network (CIDR such as 10.0.0.0/24), an address range or a host name"
        ))
    };
    // Bracketed only when the whole target is IPv6.
    let bracketed = t.starts_with('[');
    let address = |s: &str| {
        if bracketed {
            v6(s, true)
        } else if s.contains(':') {
            v6(s, false)
        } else {
            v4(s)
        }
    };
    if let Some((net, len)) = t.split_once('/') {
        let addr = address(net).ok_or_else(bad)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = decimal(len, max).ok_or_else(bad)?;
        let len = u8::try_from(len).map_err(|_| bad())?;
        let net = IpNet::new(addr, len).map_err(|_| bad())?;
        return Ok(RangeTarget::Network(net.trunc()));
    }
    if let Some(a) = address(t) {
        return Ok(RangeTarget::Address(a));
    }
    if let Some((a, b)) = t.split_once('-')
        && let (Some(a), Some(b)) = (address(a), address(b))
        && a.is_ipv4() == b.is_ipv4()
    {
        if ordinal(a) > ordinal(b) {
            return Err(RangeError::limit(format!(
                "{t:?}: the range ends before it starts"
            )));
        }
        return Ok(RangeTarget::Span(a, b));
    }
    if !bracketed && valid_host(t) {
        return Ok(RangeTarget::Host(t.to_ascii_lowercase()));
    }
    Err(bad())
}

/// A DNS name: labels of letters, digits and hyphens (not at either end); the last one
/// has a letter (a name of digits only would be a malformed address).
fn valid_host(t: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
    };
    let last = t.rsplit('.').next().unwrap_or_default();
    t.split('.').all(label) && last.bytes().any(|c| c.is_ascii_alphabetic())
}

/// A regular expression (ECMA-262 and Rust `regex` alike: no look-around) that matches
/// exactly the ranges [`NetworkRange::parse`] reads, refusals of kind
/// [`RangeErrorKind::Limit`] included; `white` is a class of the white space trimmed
/// around it. API schemas state the notation with it.
pub fn pattern(white: &str) -> String {
    let dec = |alternatives: &[&str]| format!("({})", alternatives.join("|"));
    let octet = dec(&["25[0-5]", "2[0-4][0-9]", "1[0-9]{2}", "[1-9]?[0-9]"]);
    let v4 = format!("{octet}(\\.{octet}){{3}}");
    let h = "[0-9A-Fa-f]{1,4}";
    // IPv6: eight groups, or fewer around one `::` standing for at least one group; the
    // last two groups may be written as an IPv4 address.
    let mut forms = vec![format!("({h}:){{7}}{h}"), format!("({h}:){{6}}{v4}")];
    let groups = |n: usize| match n {
        0 => String::new(),
        1 => h.to_owned(),
        n => format!("{h}(:{h}){{{}}}", n - 1),
    };
    for left in 0..=7 {
        for right in 0..=(7 - left) {
            forms.push(format!("{}::{}", groups(left), groups(right)));
            if left + right + 2 <= 7 {
                let lead = if right == 0 {
                    String::new()
                } else {
                    format!("{}:", groups(right))
                };
                forms.push(format!("{}::{lead}{v4}", groups(left)));
            }
        }
    }
    let v6 = format!("({})", forms.join("|"));
    let len32 = dec(&["3[0-2]", "[12]?[0-9]"]);
    let len128 = dec(&["12[0-8]", "1[01][0-9]", "[1-9]?[0-9]"]);
    let port = dec(&[
        "6553[0-5]",
        "655[0-2][0-9]",
        "65[0-4][0-9]{2}",
        "6[0-4][0-9]{3}",
        "[1-5][0-9]{4}",
        "[1-9][0-9]{0,3}",
    ]);
    let ports = format!("{port}(-{port})?(,{port}(-{port})?)*");
    let label = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?";
    let last = "([0-9][0-9-]*)?[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?";
    let host = format!("({label}\\.)*{last}");
    let with_ports = format!(
        "({v4}|{v4}/{len32}|{v4}-{v4}|{host}|\\[{v6}\\]|\\[{v6}\\]/{len128}|\\[{v6}\\]-\\[{v6}\\])(:{ports})?"
    );
    let bare = format!("{v6}|{v6}/{len128}|{v6}-{v6}");
    format!("^{white}*({with_ports}|{bare}){white}*$")
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
        assert_eq!(n(" 10.0.0.5:8443,443 "), "10.0.0.5:443,8443");
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
    fn containment() {
        let r = NetworkRange::parse("127.0.0.0/30:443,8443").unwrap();
        assert!(r.contains("127.0.0.3", 8443));
        assert!(!r.contains("127.0.0.4", 443));
        assert!(!r.contains("127.0.0.1", 80));
        let span = NetworkRange::parse("10.0.0.5-10.0.0.9").unwrap();
        assert!(span.contains("10.0.0.9", 443) && !span.contains("10.0.0.10", 443));
        assert!(
            NetworkRange::parse("[::1]:8443")
                .unwrap()
                .contains("::1", 8443)
        );
        assert!(
            NetworkRange::parse("Web.Test")
                .unwrap()
                .contains("web.test", 443)
        );
        assert!(
            !NetworkRange::parse("web.test")
                .unwrap()
                .contains("127.0.0.1", 443)
        );
    }

    #[test]
    fn splitting() {
        let r = NetworkRange::parse("127.0.0.0/22:443,8443").unwrap();
        let parts = r.split(1000);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(parts[0].normal(), "127.0.0.0-127.0.1.243:443,8443");
        assert_eq!(parts[2].normal(), "127.0.3.232-127.0.3.255:443,8443");
        let all: Vec<Endpoint> = parts
            .iter()
            .flat_map(|p| p.endpoints_iter().collect::<Vec<_>>())
            .collect();
        assert_eq!(all, r.endpoints_iter().collect::<Vec<_>>());
        assert!(parts.iter().all(|p| p.endpoints() <= 1000));
        assert_eq!(
            NetworkRange::parse("10.0.0.1-10.0.0.2")
                .unwrap()
                .split(1)
                .len(),
            2
        );
        assert_eq!(
            NetworkRange::parse("web.test:1-5").unwrap().split(1).len(),
            1
        );
        assert_eq!(
            NetworkRange::parse("[fd00::]/120")
                .unwrap()
                .split(1000)
                .len(),
            1
        );
    }

    #[test]
    fn mistakes_say_why() {
        for (bad, says) in [
            ("", "empty"),
            ("10.0.0.0/33", "not an address, a network"),
            ("10.0.0.20-10.0.0.5", "ends before it starts"),
            ("10.0.0.1-::1", "not an address"),
            ("10.0.0.1:0", "not a port"),
            ("10.0.0.1:70000", "not a port"),
            ("10.0.0.1:9000-8000", "ends before it starts"),
            ("10.0.0.1:1-2000", "more than 1024"),
            ("10.0.0.256", "not an address"),
            ("bad_host!", "not an address"),
            ("[::1", "not an address"),
            ("10.0.0.01", "not an address"),
            ("10.0.0.1: 443", "not a port"),
            ("10.0.0.1:0443", "not a port"),
            ("[10.0.0.1]", "not an address"),
            ("1.2.3.4.5", "not an address"),
        ] {
            let e = NetworkRange::parse(bad).unwrap_err().message;
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    /// A small deterministic generator (xorshift), so the comparison needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    /// Strings near the notation: pieces of every form joined at random, then mutated.
    fn candidate(rng: &mut Rng) -> String {
        let pieces = [
            "10.0.0.5",
            "127.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "0.0.0.0",
            "1.2.3",
            "::1",
            "fd00::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::ffff:1.2.3.4",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:1.2.3.4",
            "[::1]",
            "[fd00::]",
            "[",
            "]",
            "/",
            "/24",
            "/33",
            "/0",
            "/128",
            "/129",
            "/08",
            "-",
            ":",
            ":443",
            ":0",
            ":65535",
            ":65536",
            ":443,8443",
            ":8000-8002",
            ":9000-8000",
            ":1-2000",
            ",",
            "-",
            ".",
            "www",
            "example",
            "com",
            "a-b",
            "-a",
            "a-",
            "1",
            "08",
            "x",
            " ",
            "\t",
            "_",
            "Ü",
            "web.test",
            "localhost",
            "0443",
            "+1",
        ];
        let mut s = String::new();
        for _ in 0..(1 + rng.next() % 5) {
            s.push_str(rng.pick(&pieces));
        }
        if rng.next().is_multiple_of(3) {
            let mut chars: Vec<char> = s.chars().collect();
            let i = (rng.next() as usize) % (chars.len() + 1);
            match rng.next() % 3 {
                0 if i < chars.len() => {
                    chars.remove(i);
                }
                1 => chars.insert(
                    i,
                    rng.pick(&[":", "-", ".", "/", "0", "a", "[", "]", ","])
                        .chars()
                        .next()
                        .unwrap(),
                ),
                _ if i < chars.len() => {
                    chars[i] = rng.pick(&["1", "f", ":", "."]).chars().next().unwrap()
                }
                _ => {}
            }
            s = chars.into_iter().collect();
        }
        s
    }

    #[test]
    fn the_pattern_matches_exactly_what_parses() {
        let re = regex::Regex::new(&pattern(r"\s")).unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..200_000 {
            let s = candidate(&mut rng);
            let parses = match NetworkRange::parse(&s) {
                Ok(_) => true,
                Err(e) => e.kind == RangeErrorKind::Limit,
            };
            assert_eq!(
                re.is_match(&s),
                parses,
                "{s:?}: parse says {:?}",
                NetworkRange::parse(&s)
            );
            if parses { accepted += 1 } else { refused += 1 }
        }
        // Both sides were exercised.
        assert!(
            accepted > 5_000 && refused > 5_000,
            "{accepted} accepted, {refused} refused"
        );
        for s in [
            "1:2:3:4:5:6:7::",
            "::",
            "::1.2.3.4",
            "1::2:3:4:5:6:7",
            "[::]/0:1-1024",
            " www.Example.com:443 ",
        ] {
            assert!(re.is_match(s) && NetworkRange::parse(s).is_ok(), "{s:?}");
        }
    }
}
