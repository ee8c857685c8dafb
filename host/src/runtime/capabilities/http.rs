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
            .map(|entry| {
                let entry = entry.trim().to_ascii_lowercase();
                match entry.rsplit_once(':') {
                    Some((host, port)) if !host.ends_with(']') && port.parse::<u16>().is_ok() => {
                        (host.trim_matches(['[', ']']).to_owned(), port.parse().ok())
                    }
                    _ => (entry.trim_matches(['[', ']']).to_owned(), None),
                }
            })
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
