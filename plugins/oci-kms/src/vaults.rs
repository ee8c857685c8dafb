//! The vaults a job covers: each compartment's vaults from the regional control plane
//! (`GET /vaults?compartmentId=`), narrowed to the ones named, each with the
//! management endpoint its keys are called on.

use cloud_common::CloudError;
use keywarden_sdk::JobError;
use serde_json::Value;

use crate::auth::Account;
use crate::params::OciParam;

pub struct Vault {
    pub id: String,
    pub name: String,
    /// The compartment listed (its keys are listed in the same one).
    pub compartment: String,
    /// `https://…-management.kms.{region}.oraclecloud.com`.
    pub management: String,
}

/// Active vaults of the compartments in scope (`oci_param.compartments`, else the
/// operator's `compartment_ids`, else the tenancy's root compartment).
pub fn in_scope(account: &Account, scope: &OciParam) -> Result<Vec<Vault>, JobError> {
    let compartments = if !scope.compartments.is_empty() {
        scope.compartments.clone()
    } else if !account.compartments.is_empty() {
        account.compartments.clone()
    } else {
        vec![account.tenancy.clone()]
    };
    if let Some(bad) = compartments.iter().find(|c| !crate::keys::is_ocid(c)) {
        return Err(JobError::invalid_param(
            "oci_param.compartments",
            format!("{bad:?} is not an OCID"),
        ));
    }
    let mut out = Vec::new();
    for compartment in compartments {
        let listed = account.oci.list(
            &account.control_plane,
            &format!("/vaults?compartmentId={compartment}"),
        )?;
        for v in listed {
            let Some(vault) = vault(&v, &compartment) else {
                continue;
            };
            let named = scope.vaults.is_empty()
                || scope
                    .vaults
                    .iter()
                    .any(|s| *s == vault.id || *s == vault.name);
            if named && v["lifecycleState"] == "ACTIVE" {
                out.push(vault);
            }
        }
    }
    if out.is_empty() && !scope.vaults.is_empty() {
        return Err(CloudError(format!(
            "no active vault named {} in the compartments in scope",
            scope.vaults.join(", ")
        ))
        .into());
    }
    Ok(out)
}

/// A vault from the listing, when its id is an OCID and its management endpoint a bare
/// `https://host` (signed requests go there; the outbound grant still decides whether
/// they may).
fn vault(v: &Value, compartment: &str) -> Option<Vault> {
    let management = v["managementEndpoint"].as_str()?.trim_end_matches('/');
    let bare = management.matches('/').count() == 2 && !management.contains(['?', '#', '@']);
    cloud_common::origin(management).filter(|_| bare)?;
    Some(Vault {
        id: v["id"]
            .as_str()
            .filter(|id| crate::keys::is_ocid(id))?
            .to_owned(),
        name: v["displayName"].as_str().unwrap_or_default().to_owned(),
        compartment: compartment.to_owned(),
        management: management.to_owned(),
    })
}
