//! `azure-keyvault`: `cckm_key_rotation` and `cckm_synchronization` for Azure Key Vault
//! (`cloud_name: "AzureCloud"`).
//!
//! Talks to the vaults' data plane (keys API 7.6) over wasi:http, so only to the hosts
//! the operator granted, with a bearer token from Microsoft Entra ID's client-credentials
//! flow (the client secret from the secrets import; the token kept in memory for the
//! job and fetched again before it expires). The last rotation of each key is kept in
//! the durable `state` import, so `rotation_after` holds across runs.

mod auth;
mod keys;
mod params;
mod rotation;
mod sync;
mod vault;

use keywarden_sdk::prelude::*;

struct AzureKeyVault;

impl Plugin for AzureKeyVault {
    fn describe() -> Manifest {
        let manifest = Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(
                "Rotates and synchronizes Azure Key Vault keys. Config: tenant_id, client_id, \
                 vault_urls (comma-separated), authority_host (default \
                 https://login.microsoftonline.com), client_secret_secret (default \
                 azure-client-secret). Grant the vault hosts and the authority host in \
                 outbound_hosts, and the client secret.",
            )
            .capabilities(
                Capabilities::new()
                    .outbound_host("<vault>.vault.azure.net")
                    .outbound_host("login.microsoftonline.com")
                    .secret(auth::CLIENT_SECRET),
            );
        cloud_common::key_operations(
            manifest,
            "AzureCloud",
            "Rotate keys: a new version by the vault's rotate call or by create with the same type, size and operations",
            "Pull the vaults' keys (current version, state, dates, rotation policy) into Keywarden",
            params::schema,
        )
    }

    fn rotate_keys(ctx: JobContext) -> Result<Outcome, JobError> {
        cloud_common::route(&ctx, "cckm_key_rotation", rotation::rotate)
    }

    fn synchronize_keys(ctx: JobContext) -> Result<Synchronized, JobError> {
        cloud_common::route(&ctx, "cckm_synchronization", sync::synchronize)
    }
}

keywarden_sdk::export_plugin!(AzureKeyVault);
