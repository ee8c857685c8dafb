//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Plugins have no sockets; the host makes the request on their behalf, and only to
//! the hosts the operator granted. A request to any other host fails with
//! [`HttpError::Denied`].
//!
//! ```no_run
//! use keywarden_sdk::http::{self, Request};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), http::HttpError> {
//! let response = Request::post("https://kms.example.com/keys")
//!     .header("accept", "application/json")
//!     .json(&json!({"alias": "app"}))
//!     .send()?
//!     .error_for_status()?;
//! let created: serde_json::Value = response.json()?;
//! # let _ = created;
//! let page = http::get("https://example.com/").send()?;
//! println!("{} {}", page.status, page.text());
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// HTTP request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
    /// Any other method token.
    Other(String),
}

impl Method {
    fn to_wasi(&self) -> WasiMethod {
        match self {
            Method::Get => WasiMethod::Get,
            Method::Head => WasiMethod::Head,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Delete => WasiMethod::Delete,
            Method::Patch => WasiMethod::Patch,
            Method::Options => WasiMethod::Options,
            Method::Other(other) => WasiMethod::Other(other.clone()),
        }
    }

    fn expects_body(&self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other(other) => other,
        })
    }
}

/// Why an HTTP request failed. The `Display` text is meant for job messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The request could not be built (bad URL, bad header, unserializable body).
    InvalidRequest(String),
    /// The host refused to make the request: the target (the `String`, `host[:port]`)
    /// is not granted to this plugin.
    Denied(String),
    /// The connection, the response or the body timed out.
    Timeout(String),
    /// DNS, TCP or TLS failure.
    Connection(String),
    /// Any other HTTP-level failure reported by the host.
    Protocol(String),
    /// [`Response::error_for_status`] found a non-2xx status.
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body, for the error message.
        body: String,
    },
    /// The response body could not be decoded (e.g. invalid JSON).
    Decode(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidRequest(d) => write!(f, "invalid HTTP request: {d}"),
            HttpError::Denied(target) => {
                write!(
                    f,
                    "HTTP request denied: `{target}` is not granted to this plugin"
                )
            }
            HttpError::Timeout(d) => write!(f, "HTTP request timed out: {d}"),
            HttpError::Connection(d) => write!(f, "HTTP connection failed: {d}"),
            HttpError::Protocol(d) => write!(f, "HTTP request failed: {d}"),
            HttpError::Status { status, body } if body.is_empty() => {
                write!(f, "HTTP status {status}")
            }
            HttpError::Status { status, body } => write!(f, "HTTP status {status}: {body}"),
            HttpError::Decode(d) => write!(f, "could not decode HTTP response: {d}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP response with the whole body read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in the order received (names lower-case as the host delivers them;
    /// values decoded lossily as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode(e.to_string()))
    }

    /// `Ok(self)` for 2xx, otherwise [`HttpError::Status`] with the start of the body.
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        let mut body = self.text();
        if body.len() > 300 {
            let mut cut = 300;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        Err(HttpError::Status {
            status: self.status,
            body: body.trim().to_owned(),
        })
    }
}

/// Start a `GET` request.
pub fn get(url: impl Into<String>) -> Request {
    Request::get(url)
}

/// An HTTP request under construction; [`Request::send`] performs it.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `send` is called"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    error: Option<HttpError>,
}

impl Request {
    /// A request with `method` to `url` (`http://` or `https://`).
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            error: None,
        }
    }

    /// `GET url`
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// `HEAD url`
    pub fn head(url: impl Into<String>) -> Self {
        Self::new(Method::Head, url)
    }

    /// `POST url`
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// `PUT url`
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// `PATCH url`
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }

    /// `DELETE url`
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Add a header (repeat the call for repeated headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body. `Content-Length` is added automatically.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = bytes;
                if !self.has_header("content-type") {
                    self.headers
                        .push(("content-type".into(), "application/json".into()));
                }
            }
            Err(e) => self.error = Some(HttpError::InvalidRequest(format!("JSON body: {e}"))),
        }
        self
    }

    /// Limit connecting, waiting for the first byte, and each wait between body bytes
    /// to `timeout` (the host applies its own limits too).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(name))
    }

    /// Perform the request and read the whole response body.
    ///
    /// Non-2xx statuses are *not* errors here; use [`Response::error_for_status`].
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let target = Target::parse(&self.url)?;

        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        if (!self.body.is_empty() || self.method.expects_body())
            && !self.has_header("content-length")
        {
            headers.push((
                "content-length".into(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let fields = Fields::from_list(&headers)
            .map_err(|e| HttpError::InvalidRequest(format!("headers rejected: {e:?}")))?;

        let request = OutgoingRequest::new(fields);
        let invalid =
            |what: &str| HttpError::InvalidRequest(format!("{what} rejected for {}", self.url));
        request
            .set_method(&self.method.to_wasi())
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&target.scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| invalid("path"))?;

        let options = self.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // The host may not support a setting; it then keeps its own default.
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            let _ = options.set_between_bytes_timeout(Some(nanos));
            options
        });

        let outgoing_body = request.body().map_err(|()| invalid("body"))?;
        let future =
            outgoing_handler::handle(request, options).map_err(|code| target.error(code))?;

        if let Err(write_error) = write_body(outgoing_body, &self.body, &target) {
            // A refused or failed request usually shows up here first; the response
            // future has the precise reason.
            return match wait(&future, &target) {
                Err(error) => Err(error),
                Ok(_) => Err(write_error),
            };
        }

        let response = wait(&future, &target)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::Protocol("response body already taken".into()))?;
        let body = read_body(&incoming, &target);
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body: body?,
        })
    }
}

fn wait(
    future: &wasi::http::types::FutureIncomingResponse,
    target: &Target,
) -> Result<wasi::http::types::IncomingResponse, HttpError> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(target.error(code)),
        Some(Err(())) => Err(HttpError::Protocol("response already taken".into())),
        None => Err(HttpError::Protocol("response not ready".into())),
    }
}

fn write_body(body: OutgoingBody, bytes: &[u8], target: &Target) -> Result<(), HttpError> {
    {
        let stream = body
            .write()
            .map_err(|()| HttpError::Protocol("request body already taken".into()))?;
        // `blocking-write-and-flush` accepts at most 4096 bytes per call.
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| target.stream_error(e))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|code| target.error(code))
}

fn read_body(body: &IncomingBody, target: &Target) -> Result<Vec<u8>, HttpError> {
    let stream = body
        .stream()
        .map_err(|()| HttpError::Protocol("response body stream already taken".into()))?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(out),
            Err(e) => return Err(target.stream_error(e)),
        }
    }
}

/// The parts of a URL that wasi:http wants separately.
#[derive(Debug)]
struct Target {
    scheme: Scheme,
    authority: String,
    path_with_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, HttpError> {
        let invalid = |why: &str| HttpError::InvalidRequest(format!("URL `{url}`: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected http:// or https://"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(invalid("only http and https are supported")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "credentials in URLs are not supported; send a header",
            ));
        }
        let path = rest[end..].split('#').next().unwrap_or_default();
        let path_with_query = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            path_with_query,
        })
    }

    fn stream_error(&self, error: StreamError) -> HttpError {
        match error {
            StreamError::Closed => HttpError::Protocol("stream closed early".into()),
            StreamError::LastOperationFailed(io) => match wasi::http::types::http_error_code(&io) {
                Some(code) => self.error(code),
                None => HttpError::Protocol(io.to_debug_string()),
            },
        }
    }

    fn error(&self, code: ErrorCode) -> HttpError {
        use ErrorCode as E;
        let text = |s: &str| s.to_owned();
        match code {
            E::HttpRequestDenied => HttpError::Denied(self.authority.clone()),
            E::DnsTimeout => HttpError::Timeout(text("DNS lookup timed out")),
            E::ConnectionTimeout => HttpError::Timeout(format!("connecting to {}", self.authority)),
            E::ConnectionReadTimeout => HttpError::Timeout(text("reading from the connection")),
            E::ConnectionWriteTimeout => HttpError::Timeout(text("writing to the connection")),
            E::HttpResponseTimeout => HttpError::Timeout(text("waiting for the response")),
            E::DnsError(payload) => HttpError::Connection(format!(
                "DNS lookup of {} failed{}",
                self.authority,
                payload.rcode.map(|r| format!(": {r}")).unwrap_or_default()
            )),
            E::DestinationNotFound => {
                HttpError::Connection(format!("{} not found", self.authority))
            }
            E::DestinationUnavailable => {
                HttpError::Connection(format!("{} unavailable", self.authority))
            }
            E::DestinationIpProhibited => HttpError::Denied(self.authority.clone()),
            E::DestinationIpUnroutable => {
                HttpError::Connection(format!("{} unroutable", self.authority))
            }
            E::ConnectionRefused => {
                HttpError::Connection(format!("connection to {} refused", self.authority))
            }
            E::ConnectionTerminated => HttpError::Connection(text("connection terminated")),
            E::ConnectionLimitReached => HttpError::Connection(text("connection limit reached")),
            E::TlsProtocolError => HttpError::Connection(text("TLS protocol error")),
            E::TlsCertificateError => {
                HttpError::Connection(format!("TLS certificate of {} rejected", self.authority))
            }
            E::TlsAlertReceived(alert) => HttpError::Connection(format!(
                "TLS alert received{}",
                alert
                    .alert_message
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )),
            E::HttpRequestUriInvalid => HttpError::InvalidRequest(text("URI rejected")),
            E::HttpRequestMethodInvalid => HttpError::InvalidRequest(text("method rejected")),
            E::InternalError(Some(message)) => HttpError::Protocol(message),
            other => HttpError::Protocol(
                format!("{other:?}")
                    .trim_start_matches("ErrorCode::")
                    .to_owned(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_wasi_parts() {
        let t = Target::parse("https://kms.example.com:8443/a/b?x=1#frag").unwrap();
        assert!(matches!(t.scheme, Scheme::Https));
        assert_eq!(t.authority, "kms.example.com:8443");
        assert_eq!(t.path_with_query, "/a/b?x=1");

        let t = Target::parse("http://127.0.0.1?q").unwrap();
        assert_eq!(t.authority, "127.0.0.1");
        assert_eq!(t.path_with_query, "/?q");

        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("example.com/").is_err());
        assert!(Target::parse("https://user:pw@x/").is_err());
    }

    #[test]
    fn denied_reads_well() {
        let t = Target::parse("https://evil.example/").unwrap();
        let msg = t.error(ErrorCode::HttpRequestDenied).to_string();
        assert!(msg.starts_with("HTTP request denied"), "{msg}");
    }
}
