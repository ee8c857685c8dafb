//! Certificate-store jobs: from a job's params to the plugin call. The store record is
//! read when the job runs, from the job's own account, so a job can never reach another
//! account's store and always sees the store as it is now.

use keywarden_db::{CertificateStore, Database, Job};
use uuid::Uuid;

use crate::certificates::job_params::{Management, StoreJobParams, operation};
use crate::certificates::{canonical_store_type, parse};
use crate::plugins::{LoadedPlugin, OperationView};
use crate::runtime::bindings::certificate_store::{
    DiscoveryRequest, NewEntry, ReenrollmentRequest, Store as WitStore,
};
use crate::runtime::capabilities::secrets::SecretResolver;
use crate::runtime::invoke::JobCall;
use crate::runtime::sandbox::PreparedGrants;

/// A certificate-store job's inputs, read before the plugin is resolved.
#[derive(Debug, Clone)]
pub(crate) struct StoreJob {
    pub params: StoreJobParams,
    /// The store record, for all operations but Discovery.
    pub store: Option<CertificateStore>,
}

impl StoreJob {
    /// The store type the job's plugin must serve.
    pub fn target(&self) -> Option<String> {
        self.store
            .as_ref()
            .map(|s| s.store_type.clone())
            .or_else(|| {
                self.params
                    .discovery
                    .as_ref()
                    .map(|d| canonical_store_type(&d.store_type))
            })
    }

    /// The params object the plugin sees: the job properties only.
    pub fn plugin_params(&self) -> serde_json::Value {
        serde_json::Value::Object(self.params.job_properties.clone())
    }
}

/// Whether the job was made by the certificate store APIs (see
/// [`is_store_request`](crate::certificates::job_params::is_store_request)).
pub(crate) fn is_store_job(job: &Job) -> bool {
    crate::certificates::job_params::is_store_request(&job.operation, &job.params)
}

/// Reads the job's params and its store record.
pub(crate) async fn load(store: &dyn Database, job: &Job) -> Result<StoreJob, String> {
    let mut params: StoreJobParams = serde_json::from_value(job.params.clone())
        .map_err(|e| format!("the certificate-store job's params are malformed: {e}"))?;
    crate::certificates::job_params::load_payloads(store, &job.account_id, &mut params).await?;
    let record = match &params.certificate_store_id {
        None => None,
        Some(raw) => {
            let id = Uuid::parse_str(raw)
                .map_err(|_| format!("certificate_store_id {raw:?} is not a UUID"))?;
            let found = store
                .get_certificate_store(Some(&job.account_id), id)
                .await
                .map_err(|e| format!("reading certificate store {id} failed: {e}"))?;
            let found = found.ok_or_else(|| {
                format!("certificate store {id} does not exist (it was deleted?)")
            })?;
            if !found.approved {
                return Err(format!(
                    "certificate store {id} is not approved; approve it before running jobs on it"
                ));
            }
            Some(found)
        }
    };
    Ok(StoreJob {
        params,
        store: record,
    })
}

/// The plugin call of a certificate-store operation.
pub(crate) fn call(
    op: &OperationView,
    job: &StoreJob,
    plugin: &LoadedPlugin,
    grants: &PreparedGrants,
    secrets: &dyn SecretResolver,
) -> Result<JobCall, String> {
    let store = || {
        job.store
            .as_ref()
            .map(wit_store)
            .ok_or_else(|| format!("a {} job needs certificate_store_id", op.name))
    };
    match op.name.as_str() {
        operation::INVENTORY => Ok(JobCall::Inventory(store()?)),
        operation::MANAGEMENT => match &job.params.management {
            None => Err("a Management job needs params.management".into()),
            Some(Management::Remove { alias }) => Ok(JobCall::Remove(store()?, alias.clone())),
            Some(Management::Create) => Ok(JobCall::Create(store()?)),
            Some(Management::Add {
                alias,
                certificate,
                private_key_secret,
                overwrite,
                ..
            }) => {
                let certificate = certificate
                    .as_deref()
                    .ok_or("management.certificate is missing")?;
                let chain = parse::certificate_chain(certificate)
                    .map_err(|e| format!("management.certificate {e}"))?;
                let private_key = match private_key_secret {
                    None => None,
                    Some(name) => Some(private_key(name, plugin, grants, secrets)?),
                };
                let create_if_missing = job.store.as_ref().is_some_and(|s| s.create_if_missing);
                Ok(JobCall::Add(
                    store()?,
                    NewEntry {
                        alias: alias.clone(),
                        chain,
                        private_key,
                        overwrite: *overwrite,
                        create_if_missing,
                    },
                ))
            }
        },
        operation::REENROLLMENT => {
            let r = job
                .params
                .reenrollment
                .as_ref()
                .ok_or("a Reenrollment job needs params.reenrollment")?;
            Ok(JobCall::Reenroll(
                store()?,
                ReenrollmentRequest {
                    alias: r.alias.clone(),
                    subject: r.subject.clone(),
                    sans: r.sans.clone(),
                    key_type: r.key_type.clone(),
                    authority: r.authority.clone(),
                    overwrite: r.overwrite,
                },
            ))
        }
        operation::DISCOVERY => {
            let d = job
                .params
                .discovery
                .as_ref()
                .ok_or("a Discovery job needs params.discovery")?;
            Ok(JobCall::Discover(DiscoveryRequest {
                directories: d.directories.clone(),
                extensions: d.extensions.clone(),
                ignored_directories: d.ignored_directories.clone(),
                patterns: d.patterns.clone(),
            }))
        }
        other => Err(format!(
            "certificate-store operation {other} is not one of Inventory, Management, \
             Discovery, Reenrollment"
        )),
    }
}

fn wit_store(s: &CertificateStore) -> WitStore {
    WitStore {
        store_type: s.store_type.clone(),
        path: s.store_path.clone(),
        password_secret: s.password_secret.clone(),
        properties: s.properties.to_string(),
    }
}

/// Resolves a private-key secret for a Management/Add. Only secrets in the job's grants
/// (the job's account's part of the plugin's): the key ends up inside that plugin, in a
/// store of that account.
fn private_key(
    name: &str,
    plugin: &LoadedPlugin,
    grants: &PreparedGrants,
    secrets: &dyn SecretResolver,
) -> Result<Vec<u8>, String> {
    if !grants.secrets.contains(name) {
        return Err(format!(
            "management.private_key_secret {name:?} is not granted to this job (plugin {} and the job's account)",
            plugin.name
        ));
    }
    let pem = secrets
        .resolve(name)
        .ok_or_else(|| format!("management.private_key_secret {name:?} has no value"))?;
    parse::pkcs8_private_key(&pem)
        .map_err(|e| format!("management.private_key_secret {name:?} {e}"))
}
