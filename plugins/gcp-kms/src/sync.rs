//! `cckm_synchronization`: the key rings' keys, as the host stores and lists them. One
//! kept key per CryptoKey; its version in use is the resource name.

use cloud_common::{rfc3339, synchronized};
use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::json;

use crate::auth::Auth;
use crate::keys::{self, time};
use crate::kms::Kms;
use crate::params::SyncParams;

pub fn synchronize(ctx: &JobContext) -> Result<Synchronized, JobError> {
    let params: SyncParams = ctx.params()?;
    let scope = &params.gcp_param;
    let kms = Kms::new(Auth::from_secret()?);
    kms.auth.token()?;
    let rings = keys::rings(&kms, scope)?;
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for (n, ring) in rings.iter().enumerate() {
        progress::report(n as u64, rings.len() as u64);
        log::info_with("synchronizing keys", &[("key_ring", ring)]);
        let listed = match keys::keys(&kms, ring) {
            Ok(k) => k,
            Err(e) => {
                failed.push(json!({"key_ring": ring, "error": e.0}));
                continue;
            }
        };
        for key in listed {
            if !scope.takes(&key) {
                continue;
            }
            let labels = key.labels();
            let versions = match keys::versions(&kms, key.name()) {
                Ok(v) => v,
                Err(e) => {
                    failed.push(json!({"key": key.name(), "error": e.0}));
                    continue;
                }
            };
            let current = keys::current(&key, &versions);
            // A retired symmetric key shows its primary's state (DISABLED, ...).
            let state = current
                .as_ref()
                .and_then(|c| c["state"].as_str())
                .or(key.0["primary"]["state"].as_str())
                .unwrap_or("NO_ENABLED_VERSION");
            let mut cloud = CloudKey::new(
                key.name(),
                state,
                key.created().map(rfc3339).unwrap_or_default(),
            );
            cloud.resource_name = current
                .as_ref()
                .and_then(|c| c["name"].as_str())
                .map(str::to_owned);
            cloud.aliases = vec![key.id().to_owned()];
            cloud.rotated_at = current
                .as_ref()
                .and_then(|c| time(&c["createTime"]))
                .filter(|_| versions.len() > 1)
                .map(rfc3339);
            cloud.attributes = json!({
                "key_ring": ring,
                "purpose": key.purpose(),
                "algorithm": key.0["versionTemplate"]["algorithm"],
                "protection_level": key.protection(),
                "labels": labels,
                "rotation_period": key.0["rotationPeriod"],
                "next_rotation_time": key.0["nextRotationTime"],
                "import_only": key.import_only(),
                "versions": versions.len(),
            });
            out.push(cloud);
        }
    }
    progress::report(rings.len() as u64, rings.len() as u64);
    let outcome = synchronized(out.len(), failed, json!({"key_rings": rings}));
    Ok(Synchronized { outcome, keys: out })
}
