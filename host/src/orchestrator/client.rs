//! The agent side of the agent protocol: the calls `keywarden agent` makes, over HTTPS
//! with its client certificate once it has one.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// A connection profile: the server, the CA it is trusted by, and (once enrolled) the
/// agent's client certificate.
#[derive(Clone)]
pub struct ProtocolClient {
    base: String,
    http: reqwest::Client,
    basic: Option<(String, String)>,
}

impl std::fmt::Debug for ProtocolClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What a registration answered.
#[derive(Debug)]
pub enum Registration {
    /// Not approved yet (or disapproved): try again later.
    Pending(String),
    /// The server asks for a new client certificate now.
    Renew,
    Session(Session),
}

/// An opened session.
#[derive(Debug)]
pub struct Session {
    pub token: String,
    pub agent_id: String,
    pub certificate: Option<Vec<u8>>,
    pub heartbeat: Duration,
    /// `(job id, configuration endpoint, completion endpoint)`.
    pub jobs: Vec<(String, String, String)>,
}

impl ProtocolClient {
    /// `server` is the base URL (`https://host:port`); `ca` the CA that signed the server's
    /// certificate (else the system's roots); `identity` the agent's key and certificate.
    pub fn new(
        server: &str,
        ca: Option<&Path>,
        identity: Option<&[u8]>,
        basic: Option<(String, String)>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            builder = builder
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        if let Some(pem) = identity {
            builder = builder.identity(
                reqwest::Identity::from_pem(pem).context("the agent's key and certificate")?,
            );
        }
        Ok(Self {
            base: format!("{}/KeyfactorAgents", server.trim_end_matches('/')),
            http: builder.build()?,
            basic,
        })
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let path = path.strip_prefix("/KeyfactorAgents").unwrap_or(path);
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut request = self.http.post(&url).json(body);
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("POST {url}: {status}: {text}");
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("POST {url}: not JSON"))
    }

    /// `/Session/Register`.
    pub async fn register(
        &self,
        client_machine: &str,
        agent_id: Option<&str>,
        capabilities: &[String],
        csr: Option<&[u8]>,
    ) -> anyhow::Result<Registration> {
        let body = json!({
            "AgentPlatform": 5,
            "AgentVersion": env!("CARGO_PKG_VERSION"),
            "TenantId": "00000000-0000-0000-0000-000000000000",
            "ClientMachine": client_machine,
            "CSR": csr.map(|c| base64::engine::general_purpose::STANDARD.encode(c)),
            "AgentId": agent_id.unwrap_or(""),
            "Capabilities": capabilities,
            "ClientParameters": {},
        });
        let answer = self.post("/Session/Register", &body).await?;
        let code = answer["Result"]["Error"]["CodeString"]
            .as_str()
            .unwrap_or("");
        if code.eq_ignore_ascii_case("A0100007") || code.eq_ignore_ascii_case("A0100008") {
            return Ok(Registration::Renew);
        }
        let session = &answer["Session"];
        let Some(token) = session["Token"].as_str() else {
            let message = answer["Result"]["Error"]["Message"]
                .as_str()
                .unwrap_or("no session")
                .to_owned();
            return Ok(Registration::Pending(message));
        };
        let certificate = session["Certificate"]
            .as_str()
            .map(|c| base64::engine::general_purpose::STANDARD.decode(c.trim()))
            .transpose()
            .context("the issued certificate is not base64")?;
        let minutes = session["HeartbeatInterval"]
            .as_u64()
            .unwrap_or(5)
            .clamp(1, 24 * 60);
        let jobs = session["Jobs"]
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|j| {
                        Some((
                            j["JobId"].as_str()?.to_owned(),
                            j["ConfigurationEndpoint"].as_str()?.to_owned(),
                            j["CompletionEndpoint"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Registration::Session(Session {
            token: token.to_owned(),
            agent_id: session["AgentId"].as_str().unwrap_or_default().to_owned(),
            certificate,
            heartbeat: Duration::from_secs(minutes * 60),
            jobs,
        }))
    }

    /// A job's configuration (`/Keywarden/Configuration`).
    pub async fn configuration(
        &self,
        endpoint: &str,
        token: &str,
        job: &str,
    ) -> anyhow::Result<Value> {
        self.post(endpoint, &json!({"SessionToken": token, "JobId": job}))
            .await
    }

    /// A job's completion, with what it left behind.
    pub async fn complete(
        &self,
        endpoint: &str,
        token: &str,
        job: &str,
        mut outcome: serde_json::Map<String, Value>,
    ) -> anyhow::Result<()> {
        outcome.insert("SessionToken".into(), json!(token));
        outcome.insert("JobId".into(), json!(job));
        self.post(endpoint, &Value::Object(outcome)).await?;
        Ok(())
    }

    /// Signs a CSR of a reenrollment job (`/Reenrollment/Enroll`); DER certificates back.
    pub async fn enroll(&self, token: &str, job: &str, csr: &[u8]) -> anyhow::Result<Vec<u8>> {
        let answer = self
            .post(
                "/Reenrollment/Enroll",
                &json!({"SessionToken": token, "JobId": job,
                        "CSRText": base64::engine::general_purpose::STANDARD.encode(csr)}),
            )
            .await?;
        let cert = answer["Certificate"]
            .as_str()
            .context("the server issued no certificate")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(cert.trim())?)
    }
}
