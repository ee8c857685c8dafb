//! The one room for `keywarden:plugin@0.1.0`: components built against it get the same
//! host capabilities (each import answered by the current implementation) and their
//! exports are called with the current types, converted here and nowhere else.
//!
//! 0.1.0 differs from 0.2.0 only in `job-context`, which has no `dry-run`: a dry run is
//! never handed to such a plugin (the domain refuses it, the executor fails the job),
//! so dropping the flag loses nothing.

use wasmtime::component::{HasSelf, Linker};

use super::bindings as now;
use super::bindings_v1 as v1;
use super::capabilities::enrollment::EnrollmentCtx;
use super::capabilities::log::LogCtx;
use super::capabilities::plugin_config::PluginSettingsCtx;
use super::capabilities::progress::ProgressCtx;
use super::capabilities::secrets::SecretsCtx;
use super::capabilities::state::StateCtx;
use super::capabilities::tls::TlsCtx;
use super::capabilities::types::TypesCtx;
use super::sandbox::Sandbox;

type Answer<T> = wasmtime::Result<Result<T, now::types::JobError>>;

// ----- imports: each 0.1.0 function answered by the current host implementation -----

impl v1::types::Host for TypesCtx {}

impl v1::log::Host for LogCtx {
    async fn write(
        &mut self,
        level: v1::log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) {
        use now::log::Level as L;
        let level = match level {
            v1::log::Level::Trace => L::Trace,
            v1::log::Level::Debug => L::Debug,
            v1::log::Level::Info => L::Info,
            v1::log::Level::Warn => L::Warn,
            v1::log::Level::Error => L::Error,
        };
        now::log::Host::write(self, level, message, fields).await;
    }
}

impl v1::progress::Host for ProgressCtx {
    async fn report(&mut self, done: u64, total: u64) {
        now::progress::Host::report(self, done, total).await;
    }
}

impl v1::secrets::Host for SecretsCtx {
    async fn reveal(&mut self, name: String) -> Result<String, v1::secrets::SecretError> {
        use v1::secrets::SecretError as E;
        now::secrets::Host::reveal(self, name)
            .await
            .map_err(|e| match e {
                now::secrets::SecretError::NotGranted(s) => E::NotGranted(s),
                now::secrets::SecretError::NotFound(s) => E::NotFound(s),
            })
    }
}

impl v1::config::Host for PluginSettingsCtx {
    async fn get(&mut self, key: String) -> Option<String> {
        now::config::Host::get(self, key).await
    }

    async fn entries(&mut self) -> Vec<(String, String)> {
        now::config::Host::entries(self).await
    }
}

impl v1::state::Host for StateCtx {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        now::state::Host::get(self, key).await
    }

    async fn set(
        &mut self,
        key: String,
        value: Option<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        now::state::Host::set(self, key, value).await
    }
}

impl v1::tls::Host for TlsCtx {
    async fn probe(
        &mut self,
        host: String,
        port: u16,
        server_name: Option<String>,
        timeout_ms: Option<u32>,
    ) -> Result<v1::tls::Peer, v1::tls::ProbeError> {
        use now::tls::ProbeError as N;
        use v1::tls::ProbeError as E;
        match now::tls::Host::probe(self, host, port, server_name, timeout_ms).await {
            Ok(p) => Ok(v1::tls::Peer {
                address: p.address,
                chain: p.chain,
                protocol: p.protocol,
                cipher_suite: p.cipher_suite,
                trusted: p.trusted,
                trust_error: p.trust_error,
                name_matches: p.name_matches,
                expired: p.expired,
            }),
            Err(e) => Err(match e {
                N::NotGranted(s) => E::NotGranted(s),
                N::TimedOut(s) => E::TimedOut(s),
                N::Refused(s) => E::Refused(s),
                N::NotTls(s) => E::NotTls(s),
                N::Handshake(s) => E::Handshake(s),
                N::Unreachable(s) => E::Unreachable(s),
            }),
        }
    }
}

impl v1::enrollment::Host for EnrollmentCtx {
    async fn submit_csr(
        &mut self,
        csr: Vec<u8>,
        authority: Option<String>,
    ) -> wasmtime::Result<Result<Vec<Vec<u8>>, v1::enrollment::EnrollmentError>> {
        use now::enrollment::EnrollmentError as N;
        use v1::enrollment::EnrollmentError as E;
        let answer = now::enrollment::Host::submit_csr(self, csr, authority).await?;
        Ok(answer.map_err(|e| match e {
            N::NotGranted(s) => E::NotGranted(s),
            N::Rejected(s) => E::Rejected(s),
            N::Unavailable(s) => E::Unavailable(s),
        }))
    }
}

/// Links the 0.1.0 imports (beside the current ones: their names differ by version).
pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    v1::types::add_to_linker::<Sandbox, HasSelf<TypesCtx>>(linker, |s| &mut s.types)?;
    v1::log::add_to_linker::<Sandbox, HasSelf<LogCtx>>(linker, |s| &mut s.log)?;
    v1::progress::add_to_linker::<Sandbox, HasSelf<ProgressCtx>>(linker, |s| &mut s.progress)?;
    v1::secrets::add_to_linker::<Sandbox, HasSelf<SecretsCtx>>(linker, |s| &mut s.secrets)?;
    v1::config::add_to_linker::<Sandbox, HasSelf<PluginSettingsCtx>>(linker, |s| &mut s.settings)?;
    v1::state::add_to_linker::<Sandbox, HasSelf<StateCtx>>(linker, |s| &mut s.state)?;
    v1::tls::add_to_linker::<Sandbox, HasSelf<TlsCtx>>(linker, |s| &mut s.tls)?;
    v1::enrollment::add_to_linker::<Sandbox, HasSelf<EnrollmentCtx>>(linker, |s| &mut s.enrollment)
}

// ----- exports: current inputs to 0.1.0, 0.1.0 answers to current -----

/// The context without `dry-run`. A dry run should never get here; if one does (a caller
/// of the runtime that skipped the rule), the sandbox still holds the plugin back.
pub(super) fn context(ctx: &now::types::JobContext) -> v1::types::JobContext {
    v1::types::JobContext {
        job_id: ctx.job_id.clone(),
        operation: ctx.operation.clone(),
        target: ctx.target.clone(),
        params: ctx.params.clone(),
    }
}

pub(super) fn store(s: &now::certificate_store::Store) -> v1::certificate_store::Store {
    v1::certificate_store::Store {
        store_type: s.store_type.clone(),
        path: s.path.clone(),
        password_secret: s.password_secret.clone(),
        properties: s.properties.clone(),
    }
}

pub(super) fn new_entry(e: &now::certificate_store::NewEntry) -> v1::certificate_store::NewEntry {
    v1::certificate_store::NewEntry {
        alias: e.alias.clone(),
        chain: e.chain.clone(),
        private_key: e.private_key.clone(),
        overwrite: e.overwrite,
        create_if_missing: e.create_if_missing,
    }
}

pub(super) fn discovery(
    r: &now::certificate_store::DiscoveryRequest,
) -> v1::certificate_store::DiscoveryRequest {
    v1::certificate_store::DiscoveryRequest {
        directories: r.directories.clone(),
        extensions: r.extensions.clone(),
        ignored_directories: r.ignored_directories.clone(),
        patterns: r.patterns.clone(),
    }
}

pub(super) fn reenrollment(
    r: &now::certificate_store::ReenrollmentRequest,
) -> v1::certificate_store::ReenrollmentRequest {
    v1::certificate_store::ReenrollmentRequest {
        alias: r.alias.clone(),
        subject: r.subject.clone(),
        sans: r.sans.clone(),
        key_type: r.key_type.clone(),
        authority: r.authority.clone(),
        overwrite: r.overwrite,
    }
}

/// A plugin's answer with its value converted by `f` and its error converted.
pub(super) fn answer<A, B>(r: Result<A, v1::types::JobError>, f: impl FnOnce(A) -> B) -> Answer<B> {
    use now::types::JobError as N;
    Ok(r.map(f).map_err(|e| match e {
        v1::types::JobError::InvalidParams(p) => N::InvalidParams(now::types::ParamError {
            field: p.field,
            reason: p.reason,
        }),
        v1::types::JobError::Unsupported(s) => N::Unsupported(s),
        v1::types::JobError::Failed(s) => N::Failed(s),
    }))
}

fn job_outcome(o: v1::types::JobOutcome) -> now::types::JobOutcome {
    use now::types::JobResult as N;
    now::types::JobOutcome {
        result: match o.result {
            v1::types::JobResult::Success => N::Success,
            v1::types::JobResult::Warning => N::Warning,
            v1::types::JobResult::Failure => N::Failure,
        },
        message: o.message,
        details: o.details,
    }
}

pub(super) fn outcome(
    r: Result<v1::types::JobOutcome, v1::types::JobError>,
) -> Answer<now::types::JobOutcome> {
    answer(r, job_outcome)
}

pub(super) fn synchronized(
    r: Result<v1::key_management::Synchronized, v1::types::JobError>,
) -> Answer<now::key_management::Synchronized> {
    answer(r, |s| now::key_management::Synchronized {
        outcome: job_outcome(s.outcome),
        keys: s
            .keys
            .into_iter()
            .map(|k| now::key_management::CloudKey {
                id: k.id,
                resource_name: k.resource_name,
                aliases: k.aliases,
                state: k.state,
                created_at: k.created_at,
                rotated_at: k.rotated_at,
                attributes: k.attributes,
            })
            .collect(),
    })
}

pub(super) fn entries(
    r: Result<Vec<v1::certificate_store::CertificateEntry>, v1::types::JobError>,
) -> Answer<Vec<now::certificate_store::CertificateEntry>> {
    answer(r, |entries| {
        entries
            .into_iter()
            .map(|e| now::certificate_store::CertificateEntry {
                alias: e.alias,
                chain: e.chain,
                has_private_key: e.has_private_key,
            })
            .collect()
    })
}

pub(super) fn manifest(m: v1::types::Manifest) -> now::types::Manifest {
    use now::types::JobFamily as F;
    let c = m.capabilities;
    now::types::Manifest {
        name: m.name,
        version: m.version,
        description: m.description,
        operations: m
            .operations
            .into_iter()
            .map(|o| now::types::Operation {
                name: o.name,
                target: o.target,
                family: match o.family {
                    v1::types::JobFamily::KeyManagement => F::KeyManagement,
                    v1::types::JobFamily::CertificateStore => F::CertificateStore,
                    v1::types::JobFamily::NetworkDiscovery => F::NetworkDiscovery,
                    v1::types::JobFamily::Custom => F::Custom,
                },
                description: o.description,
                params_schema: o.params_schema,
                // 0.1.0 has no dry run.
                dry_run: false,
            })
            .collect(),
        capabilities: now::types::Capabilities {
            outbound_hosts: c.outbound_hosts,
            paths: c
                .paths
                .into_iter()
                .map(|p| now::types::PathRequest {
                    path: p.path,
                    writable: p.writable,
                    purpose: p.purpose,
                })
                .collect(),
            secrets: c.secrets,
            tls_probe: c.tls_probe,
            csr_enrollment: c.csr_enrollment,
        },
    }
}
