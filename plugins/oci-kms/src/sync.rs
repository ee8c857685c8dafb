//! `cckm_synchronization`: the vaults' keys, as the host stores and lists them. One kept
//! key per OCI key (its OCID); the current key version's OCID is its resource name.

use cloud_common::{rfc3339, synchronized};
use keywarden_sdk::prelude::*;
use serde_json::json;

use crate::auth::Account;
use crate::keys;
use crate::params::SyncParams;
use crate::vaults::in_scope;

pub fn synchronize(ctx: &JobContext) -> Result<Synchronized, JobError> {
    let params: SyncParams = ctx.params()?;
    let scope = &params.oci_param;
    let account = Account::from_config()?;
    let vaults = in_scope(&account, scope)?;
    let oci = &account.oci;
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let unlisted = keys::each(oci, &vaults, scope, "synchronizing keys", |vault, key| {
        // The list has no current version or shape: read the key itself.
        let read = keys::get(oci, vault, &key.id)
            .and_then(|full| Ok((full, keys::versions(oci, vault, &key.id)?)));
        let (full, versions) = match read {
            Ok(r) => r,
            Err(e) => {
                failed.push(json!({"vault": vault.id, "key_id": key.id, "error": e.0}));
                return Ok(());
            }
        };
        let current = versions.iter().find(|v| v.id == full.current_version());
        let k = &full.0;
        let mut cloud = CloudKey::new(
            &key.id,
            &key.state,
            full.created().map(rfc3339).unwrap_or_default(),
        );
        cloud.resource_name = Some(full.current_version().to_owned());
        cloud.aliases = vec![key.name.clone()];
        cloud.rotated_at = current
            .and_then(|v| v.created)
            .filter(|_| versions.len() > 1)
            .map(rfc3339);
        cloud.attributes = json!({
            "vault": vault.id,
            "vault_name": vault.name,
            "compartment": k["compartmentId"],
            "algorithm": k["keyShape"]["algorithm"],
            "length": k["keyShape"]["length"],
            "curve": k["keyShape"]["curveId"],
            "protection_mode": k["protectionMode"],
            "versions": versions.len(),
            "current_version": full.current_version(),
            "auto_rotation": k["isAutoRotationEnabled"],
            "tags": key.tags,
        });
        out.push(cloud);
        Ok(())
    })?;
    failed.extend(unlisted);
    let outcome = synchronized(
        out.len(),
        failed,
        json!({"vaults": vaults.iter().map(|v| &v.id).collect::<Vec<_>>()}),
    );
    Ok(Synchronized { outcome, keys: out })
}
