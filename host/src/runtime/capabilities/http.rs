//! Outgoing `wasi:http`, limited to the hosts the operator granted.
//!
//! wasmtime-wasi-http does the HTTP work; this module decides, per request, whether the
//! destination is allowed and answers `HTTP-request-denied` otherwise.

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// Hosts a plugin may reach: `name` (any port) or `name:port`, compared without case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    rules: Vec<(String, Option<u16>)>,
}

impl HostAllowlist {
    pub fn new(entries: &[String]) -> Self {
        let rules = entries
            .iter()
            .map(|entry| parse_rule(&entry.trim().to_ascii_lowercase()))
            .collect();
        Self { rules }
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.rules
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| p == port))
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn parse_rule(entry: &str) -> (String, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            addr.to_owned(),
            tail.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match entry.split_once(':') {
        // A malformed port keeps the whole entry as the host, which then matches nothing
        // rather than widening the grant to every port.
        Some((host, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (host.to_owned(), Some(port)),
            Err(_) => (entry.to_owned(), None),
        },
        _ => (entry.to_owned(), None),
    }
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
        if !self.allowlist.allows(&host, port) {
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
    fn matches_host_and_optional_port() {
        let list = HostAllowlist::new(&[
            "kms.us-east-1.amazonaws.com".into(),
            "127.0.0.1:5000".into(),
            "[::1]:80".into(),
        ]);
        assert!(list.allows("KMS.us-east-1.amazonaws.com", 443));
        assert!(list.allows("127.0.0.1", 5000));
        assert!(!list.allows("127.0.0.1", 5001));
        assert!(list.allows("[::1]", 80));
        assert!(!list.allows("example.com", 443));
        assert!(!HostAllowlist::default().allows("localhost", 80));
    }
}
