//! `cckm_synchronization`: the vaults' keys, as the host stores and lists them. One
//! kept key per Key Vault key (its versionless identifier); the current version is its
//! resource name.

use std::rc::Rc;

use cloud_common::{rfc3339, synchronized};
use keywarden_sdk::http::Method;
use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::keys;
use crate::params::SyncParams;
use crate::vault::vaults;

pub fn synchronize(ctx: &JobContext) -> Result<Synchronized, JobError> {
    let params: SyncParams = ctx.params()?;
    let scope = &params.azure_param;
    let auth = Rc::new(Auth::from_config()?);
    let vaults = vaults(&scope.vaults, &auth)?;
    auth.token()?;
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for vault in &vaults {
        log::info_with("synchronizing keys", &[("vault", &vault.url)]);
        let listed = match keys::list(vault) {
            Ok(l) => l,
            Err(e) => {
                failed.push(json!({"vault": vault.url, "error": e.0}));
                continue;
            }
        };
        let total = listed.len() as u64;
        for (n, key) in listed.iter().enumerate() {
            progress::report(n as u64, total);
            if !scope.takes(key) {
                continue;
            }
            let read = keys::current(vault, &key.name)
                .and_then(|c| Ok((c, keys::versions(vault, &key.name)?)));
            let (current, versions) = match read {
                Ok(r) => r,
                Err(e) => {
                    failed.push(json!({"vault": vault.url, "name": key.name, "error": e.0}));
                    continue;
                }
            };
            let created = versions.iter().filter_map(|v| v.created).min();
            let policy = vault
                .call(
                    Method::Get,
                    &format!("/keys/{}/rotationpolicy", key.name),
                    None,
                )
                .unwrap_or(Value::Null);
            let state = if current.enabled() {
                "Enabled"
            } else {
                "Disabled"
            };
            let mut cloud = CloudKey::new(
                &key.kid,
                state,
                created
                    .or(current.created())
                    .map(rfc3339)
                    .unwrap_or_default(),
            );
            cloud.resource_name = Some(current.kid().to_owned());
            cloud.aliases = vec![key.name.clone()];
            cloud.rotated_at = current
                .created()
                .filter(|_| versions.len() > 1)
                .map(rfc3339);
            cloud.attributes = json!({
                "vault": vault.url,
                "version": current.version(),
                "versions": versions.len(),
                "kty": current.kty(),
                "key_size": current.key_size(),
                "crv": current.curve(),
                "key_ops": current.0["key"]["key_ops"],
                "expires": current.expires().map(rfc3339),
                "managed": key.managed,
                "tags": key.tags,
                "rotation_policy": policy,
            });
            out.push(cloud);
        }
        progress::report(total, total);
    }
    let outcome = synchronized(
        out.len(),
        failed,
        json!({"vaults": vaults.iter().map(|v| &v.url).collect::<Vec<_>>()}),
    );
    Ok(Synchronized { outcome, keys: out })
}
