//! An ACME (RFC 8555) CA through `instant-acme`: one account per authority, kept in the
//! data dir; for each CSR an order for its DNS and IP names, http-01 challenges set ready
//! (answered by [`Http01Responder`] when configured), finalization with the CSR itself,
//! and the chain downloaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeStatus,
    ChallengeType, Error, Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

use super::config::AcmeCaConfig;
use super::csr::VerifiedCsr;
use super::files::write_private;
use super::http01::Http01Responder;
use crate::runtime::capabilities::enrollment::AuthorityError;

/// File of the account credentials (its private key included) in the authority's state dir.
pub const ACCOUNT_FILE: &str = "acme-account.json";

/// How often a request refused for a stale nonce is sent again, on top of the retries
/// `instant-acme` makes itself (servers such as pebble refuse good nonces at random). At
/// pebble's test rate of one refusal in two, 12 attempts leave one request in 4,096 failing
/// (5 failed an order of about six requests now and then).
const BAD_NONCE_ATTEMPTS: u32 = 12;

const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";

/// Evaluates an `instant-acme` call again (up to [`BAD_NONCE_ATTEMPTS`] times) while the
/// server refuses it for a bad nonce; such a request was not acted on, so sending it again
/// is safe.
macro_rules! retry_bad_nonce {
    ($call:expr) => {{
        let mut attempt = 1;
        loop {
            match $call {
                Err(e) if is_bad_nonce(&e) && attempt < BAD_NONCE_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "ACME request refused for a bad nonce; sending it again"
                    );
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

/// An ACME CA.
pub struct AcmeCa {
    name: String,
    config: AcmeCaConfig,
    account_file: PathBuf,
    account: tokio::sync::Mutex<Option<Account>>,
    http01: Option<Http01Responder>,
}

/// What [`ACCOUNT_FILE`] holds: the credentials and the directory they belong to, so that
/// pointing the authority at another directory makes a new account.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

impl AcmeCa {
    /// Checks the configuration and starts the http-01 listener if one is configured; the
    /// account is made or loaded at the first order (the CA may be down at startup).
    pub fn open(name: &str, config: &AcmeCaConfig, state_dir: &Path) -> anyhow::Result<Self> {
        let url: http::Uri = config.directory.parse().with_context(|| {
            format!(
                "authority {name}: directory {:?} is not a URL",
                config.directory
            )
        })?;
        if url.scheme_str() != Some("https") {
            anyhow::bail!("authority {name}: the ACME directory must be an https:// URL");
        }
        if let Some(ca_file) = &config.ca_file {
            let pem = std::fs::read(ca_file).with_context(|| {
                format!(
                    "authority {name}: cannot read ca_file {}",
                    ca_file.display()
                )
            })?;
            CertificateDer::from_pem_slice(&pem).with_context(|| {
                format!(
                    "authority {name}: ca_file {} holds no PEM certificate",
                    ca_file.display()
                )
            })?;
        }
        let http01 = config
            .http01_listen
            .map(Http01Responder::start)
            .transpose()
            .with_context(|| format!("authority {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            config: config.clone(),
            account_file: state_dir.join(ACCOUNT_FILE),
            account: tokio::sync::Mutex::new(None),
            http01,
        })
    }

    /// Where the http-01 listener is, when there is one.
    pub fn http01_addr(&self) -> Option<std::net::SocketAddr> {
        self.http01.as_ref().map(Http01Responder::local_addr)
    }

    /// Orders a certificate for the CSR's DNS names and IP addresses and returns the chain
    /// (DER, leaf first).
    pub async fn issue(&self, csr: &VerifiedCsr) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let identifiers = identifiers(csr).map_err(AuthorityError::Rejected)?;
        let timeout = Duration::from_secs(self.config.timeout_secs.max(1));
        match tokio::time::timeout(timeout, self.order_certificate(csr, &identifiers)).await {
            Ok(result) => result,
            Err(_) => Err(AuthorityError::Unavailable(format!(
                "the ACME order did not complete within {}s",
                timeout.as_secs()
            ))),
        }
    }

    async fn order_certificate(
        &self,
        csr: &VerifiedCsr,
        identifiers: &[Identifier],
    ) -> Result<Vec<Vec<u8>>, AuthorityError> {
        let new_order = NewOrder::new(identifiers);
        let mut order = match self.new_order(&new_order, false).await {
            Err(e) if account_is_gone(&e) => {
                tracing::warn!(authority = %self.name, "the ACME server no longer knows the account; registering a new one");
                self.new_order(&new_order, true).await
            }
            other => other,
        }
        .map_err(|e| classify("the ACME server refused the order", &e))?;

        let mut challenges = Readied::default();
        let result = self.finish_order(&mut order, csr, &mut challenges).await;
        if let Some(http01) = &self.http01 {
            for token in &challenges.tokens {
                http01.remove(token);
            }
        }
        let pem = result?;
        let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                AuthorityError::Unavailable(format!(
                    "the ACME server sent a chain that is not PEM: {e}"
                ))
            })?;
        if chain.is_empty() {
            return Err(AuthorityError::Unavailable(
                "the ACME server sent no certificate".into(),
            ));
        }
        Ok(chain)
    }

    async fn finish_order(
        &self,
        order: &mut Order,
        csr: &VerifiedCsr,
        challenges: &mut Readied,
    ) -> Result<String, AuthorityError> {
        // Reading authorizations can fail on a refused nonce half-way; the walk starts
        // again and skips what is already under way.
        retry_bad_nonce!(self.authorize(order, challenges).await)
            .map_err(|e| classify("the ACME authorizations could not be completed", &e))?;
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(2.0)
            .timeout(Duration::from_secs(self.config.timeout_secs.max(1)));
        let status = retry_bad_nonce!(order.poll_ready(&retry).await)
            .map_err(|e| classify("the ACME order failed while waiting for authorization", &e))?;
        if status != OrderStatus::Ready {
            return Err(AuthorityError::Rejected(format!(
                "the ACME order became {status:?} instead of ready (the CA did not validate every identifier)"
            )));
        }
        retry_bad_nonce!(order.finalize_csr(&csr.der).await)
            .map_err(|e| classify("the ACME server refused the CSR", &e))?;
        retry_bad_nonce!(order.poll_certificate(&retry).await)
            .map_err(|e| classify("the ACME server did not issue the certificate", &e))
    }

    /// Takes every pending authorization through its http-01 challenge: token published
    /// (when this host answers challenges), challenge set ready. The order's polling then
    /// tells whether the CA validated them. Challenges already set ready (in `readied`, or no
    /// longer pending) are left alone, so the walk may be repeated.
    async fn authorize(&self, order: &mut Order, readied: &mut Readied) -> Result<(), Error> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(Error::Other(
                        format!("the authorization for {} is {other:?}", authz.identifier()).into(),
                    ));
                }
            }
            let identifier = authz.identifier().to_string();
            let mut challenge = authz.challenge(ChallengeType::Http01).ok_or_else(|| {
                Error::Other(
                    format!("the server offers no http-01 challenge for {identifier}").into(),
                )
            })?;
            // A CA may still show a challenge as pending while it validates it.
            if challenge.status != ChallengeStatus::Pending || readied.urls.contains(&challenge.url)
            {
                continue;
            }
            if let Some(http01) = &self.http01 {
                http01.insert(&challenge.token, challenge.key_authorization().as_str());
                readied.tokens.push(challenge.token.clone());
            }
            challenge.set_ready().await?;
            readied.urls.push(challenge.url.clone());
        }
        Ok(())
    }

    /// A new order with the cached, stored or a newly registered account (`fresh`: always a
    /// new one, for when the server forgot the old one).
    async fn new_order(&self, new_order: &NewOrder<'_>, fresh: bool) -> Result<Order, Error> {
        let account = self.account(fresh).await?;
        retry_bad_nonce!(account.new_order(new_order).await)
    }

    async fn account(&self, fresh: bool) -> Result<Account, Error> {
        let mut cached = self.account.lock().await;
        if !fresh && let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        let stored = if fresh {
            None
        } else {
            self.stored_credentials()
        };
        let account = match stored {
            Some(credentials) => self.builder()?.from_credentials(credentials).await?,
            None => self.register().await?,
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    async fn register(&self) -> Result<Account, Error> {
        let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
        let (account, credentials) = retry_bad_nonce!(
            self.builder()?
                .create(
                    &NewAccount {
                        contact: &contact,
                        terms_of_service_agreed: true,
                        only_return_existing: false,
                    },
                    self.config.directory.clone(),
                    None,
                )
                .await
        )?;
        let stored = StoredAccount {
            directory: self.config.directory.clone(),
            credentials,
        };
        let json = serde_json::to_string_pretty(&stored)?;
        if let Err(e) = write_private(&self.account_file, &json) {
            // The account still works for this run; the next start registers another.
            tracing::warn!(authority = %self.name, error = %e, "cannot keep the ACME account");
        }
        tracing::info!(authority = %self.name, account = account.id(), "registered an ACME account");
        Ok(account)
    }

    fn stored_credentials(&self) -> Option<AccountCredentials> {
        let text = std::fs::read_to_string(&self.account_file).ok()?;
        match serde_json::from_str::<StoredAccount>(&text) {
            Ok(stored) if stored.directory == self.config.directory => Some(stored.credentials),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(authority = %self.name, file = %self.account_file.display(), error = %e, "unreadable ACME account file; registering a new account");
                None
            }
        }
    }

    /// An account builder whose HTTPS client trusts `ca_file` only, or the system's roots.
    fn builder(&self) -> Result<AccountBuilder, Error> {
        match &self.config.ca_file {
            Some(ca_file) => Account::builder_with_root(ca_file),
            None => Account::builder(),
        }
    }
}

/// Challenges of one order that this host has set ready, and the http-01 tokens it serves.
#[derive(Default)]
struct Readied {
    urls: Vec<String>,
    tokens: Vec<String>,
}

/// The CSR's names as ACME identifiers; ACME certifies nothing else.
fn identifiers(csr: &VerifiedCsr) -> Result<Vec<Identifier>, String> {
    if !csr.emails.is_empty() || !csr.uris.is_empty() {
        return Err("an ACME CA certifies DNS names and IP addresses only; the CSR also asks for e-mail or URI names".into());
    }
    let mut ids: Vec<Identifier> = csr.dns_names.iter().cloned().map(Identifier::Dns).collect();
    ids.extend(csr.ip_addresses.iter().copied().map(Identifier::Ip));
    if ids.is_empty() {
        return Err(
            "the CSR names no DNS name or IP address in its subject alternative names; an ACME CA needs at least one"
                .into(),
        );
    }
    Ok(ids)
}

/// Problem types that say the server cannot serve now, not that the request is wrong.
const TRANSIENT_PROBLEMS: &[&str] = &[
    "urn:ietf:params:acme:error:serverInternal",
    "urn:ietf:params:acme:error:rateLimited",
    BAD_NONCE,
];

/// A refusal of the request (a problem document about it) or the CA being unavailable
/// (no answer, a transport failure, a problem saying the server cannot serve now).
fn classify(context: &str, e: &Error) -> AuthorityError {
    let text = format!("{context}: {e}");
    match problem_type(e) {
        Some(kind) if !TRANSIENT_PROBLEMS.contains(&kind) => AuthorityError::Rejected(text),
        Some(_) => AuthorityError::Unavailable(text),
        None if matches!(e, Error::Api(_)) => AuthorityError::Rejected(text),
        None => AuthorityError::Unavailable(text),
    }
}

fn problem_type(e: &Error) -> Option<&str> {
    match e {
        Error::Api(problem) => problem.r#type.as_deref(),
        _ => None,
    }
}

fn is_bad_nonce(e: &Error) -> bool {
    problem_type(e) == Some(BAD_NONCE)
}

fn account_is_gone(e: &Error) -> bool {
    problem_type(e) == Some("urn:ietf:params:acme:error:accountDoesNotExist")
}
