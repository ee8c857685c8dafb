//! Outgoing `wasi:http`, limited to the hosts the operator granted.
//!
//! wasmtime-wasi-http does the HTTP work; this module decides, per request, whether the
//! destination is allowed and answers `HTTP-request-denied` otherwise.

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Hosts a plugin may reach, compared without case: `name` (HTTPS on 443), `name:port`
/// (HTTPS on that port), or `http://name[:port]` (plain HTTP, 80 by default; the only way
/// a plugin may send anything, credentials included, unencrypted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    host: String,
    port: u16,
    plain_http: bool,
}

impl HostAllowlist {
    pub fn new(entries: &[String]) -> Self {
        let rules = entries
            .iter()
            .filter_map(|entry| parse_rule(&entry.trim().to_ascii_lowercase()))
            .collect();
        Self { rules }
    }

    /// Whether a connection to `host:port` is granted; `plain_http` when it would not
    /// be encrypted.
    pub fn allows(&self, host: &str, port: u16, plain_http: bool) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.rules
            .iter()
            .any(|r| r.host == host && r.port == port && (r.plain_http || !plain_http))
    }
}

/// `[http://|https://]host[:port]`, the host a name, an IPv4 address or a `[v6]` address
/// (or a bare IPv6 address without port). A malformed entry grants nothing.
fn parse_rule(entry: &str) -> Option<Rule> {
    let (plain_http, rest) = match entry.strip_prefix("http://") {
        Some(rest) => (true, rest),
        None => (false, entry.strip_prefix("https://").unwrap_or(entry)),
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if plain_http { 80 } else { 443 };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, tail) = v6.split_once(']')?;
        match tail.strip_prefix(':') {
            Some(p) => (addr, p.parse().ok()?),
            None if tail.is_empty() => (addr, default_port),
            None => return None,
        }
    } else if rest.matches(':').count() > 1 {
        (rest, default_port) // a bare IPv6 address
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (rest, default_port),
        }
    };
    (!host.is_empty()).then(|| Rule {
        host: host.to_owned(),
        port,
        plain_http,
    })
}

/// The `WasiHttpHooks` of one job.
pub struct OutboundHttp {
    allowlist: Arc<HostAllowlist>,
}

impl OutboundHttp {
    pub fn new(allowlist: Arc<HostAllowlist>) -> Self {
        Self { allowlist }
    }
}

type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") {
                80
            } else {
                443
            });
        let plain_http = uri.scheme_str() == Some("http");
        if !self.allowlist.allows(&host, port, plain_http) {
            tracing::info!(%host, port, "denied an outgoing request outside the plugin's allowlist");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        // Keep the default behaviour (connect, TLS, timeouts) for allowed hosts.
        wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
    }
}

#[cfg(test)]
mod tests {
    use super::HostAllowlist;

    #[test]
    fn a_host_means_https_on_443_and_plain_http_only_when_granted() {
        let list = HostAllowlist::new(&[
            "kms.us-east-1.amazonaws.com".into(),
            "127.0.0.1:5000".into(),
            "http://127.0.0.1:4566".into(),
            "http://[::1]".into(),
            "oops:notaport".into(),
        ]);
        assert!(list.allows("KMS.us-east-1.amazonaws.com", 443, false));
        assert!(
            !list.allows("kms.us-east-1.amazonaws.com", 8443, false),
            "no port: 443 only"
        );
        assert!(
            !list.allows("kms.us-east-1.amazonaws.com", 80, true),
            "no plain HTTP"
        );
        assert!(list.allows("127.0.0.1", 5000, false));
        assert!(
            !list.allows("127.0.0.1", 5000, true),
            "credentials never in clear unless granted"
        );
        assert!(!list.allows("127.0.0.1", 5001, false));
        assert!(list.allows("127.0.0.1", 4566, true));
        assert!(list.allows("[::1]", 80, true));
        assert!(
            !list.allows("oops", 443, false),
            "a malformed entry grants nothing"
        );
        assert!(!list.allows("example.com", 443, false));
        assert!(!HostAllowlist::default().allows("localhost", 80, true));
    }
}
