//! `oci-kms`: `cckm_key_rotation` and `cckm_synchronization` for OCI Vault keys
//! (`cloud_name: "oci"`).
//!
//! Calls OCI's Key Management API (`/20180608`) over wasi:http, so only to the hosts the
//! operator granted: the regional control plane to find the vaults of the compartments
//! in scope, then each vault's management endpoint for its keys. Every request is
//! signed with OCI's HTTP Signature from the user's API key (the secrets import); no
//! token is exchanged, so nothing but the key is a credential. A rotation is a new key
//! version, which OCI makes current. The last rotation of each key is kept in the
//! durable `state` import, so `rotation_after` holds across runs.

mod auth;
mod client;
mod keys;
mod params;
mod rotation;
mod signer;
mod sync;
mod vaults;

use keywarden_sdk::prelude::*;

struct OciKms;

const DESCRIPTION: &str = "Rotates and synchronizes OCI Vault keys. Config: tenancy_ocid, \
    user_ocid, fingerprint (of the API key), region or endpoint (the KMS control plane, default \
    https://kms.<region>.oraclecloud.com), compartment_ids (comma-separated default scope), \
    private_key_secret (default oci-api-key). Grant the control-plane host and the vaults' \
    management hosts in outbound_hosts, and the API key secret.";

impl Plugin for OciKms {
    fn describe() -> Manifest {
        let manifest = Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(DESCRIPTION)
            .capabilities(
                Capabilities::new()
                    .outbound_host("kms.<region>.oraclecloud.com")
                    .outbound_host("<vault>-management.kms.<region>.oraclecloud.com")
                    .secret(auth::PRIVATE_KEY),
            );
        cloud_common::key_operations(
            manifest,
            "oci",
            "Rotate keys: a new key version, made current; optionally schedule the old \
             versions' deletion",
            "Pull the vaults' keys (current version, state, shape, versions, tags) into Keywarden",
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

keywarden_sdk::export_plugin!(OciKms);
