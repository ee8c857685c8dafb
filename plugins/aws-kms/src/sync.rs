//! `cckm_synchronization`: the account's keys, as the host stores and lists them.

use keywarden_sdk::prelude::*;
use keywarden_sdk::{log, progress};
use serde_json::json;

use crate::conn::connect;
use crate::inventory::{self, rfc3339};
use crate::params::SyncParams;

pub fn synchronize(ctx: &JobContext) -> Result<Synchronized, JobError> {
    let params: SyncParams = ctx.params()?;
    let (kms, endpoint) = connect(&params.aws_param)?;
    log::info_with("synchronizing keys", &[("endpoint", &endpoint)]);
    let alias_map = inventory::aliases(&kms)?;
    let ids = inventory::key_ids(&kms)?;
    let total = ids.len() as u64;
    let mut keys = Vec::with_capacity(ids.len());
    let wanted = &params.aws_param.tags;
    for (n, id) in ids.iter().enumerate() {
        progress::report(n as u64, total);
        // Only keys carrying every wanted tag (an account's scope may pin some).
        if !wanted.is_empty() {
            let tags = inventory::tags(&kms, id)?;
            if !cloud_common::carries_all(wanted, &tags) {
                continue;
            }
        }
        let key = inventory::describe(&kms, id, &alias_map)?;
        let created = key.created().map(rfc3339).unwrap_or_default();
        let mut cloud = CloudKey::new(&key.id, key.state(), created);
        cloud.resource_name = key.arn.clone();
        cloud.aliases = key.aliases.clone();
        cloud.rotated_at = inventory::last_aws_rotation(&kms, id).map(rfc3339);
        cloud.attributes = json!({
            "key_spec": key.str("KeySpec"),
            "key_usage": key.str("KeyUsage"),
            "key_manager": key.str("KeyManager"),
            "origin": key.str("Origin"),
            "description": key.str("Description"),
            "valid_to": key.valid_to().map(rfc3339),
        });
        keys.push(cloud);
    }
    progress::report(total, total);
    let outcome = Outcome::success(format!("{} keys synchronized", keys.len()))
        .with_details(json!({"total_keys": keys.len(), "endpoint": endpoint}));
    Ok(Synchronized { outcome, keys })
}
