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

impl Plugin for OciKms {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(
                "Rotates and synchronizes OCI Vault keys. Config: tenancy_ocid, user_ocid, \
                 fingerprint (of the API key), region or endpoint (the KMS control plane, \
                 default https://kms.<region>.oraclecloud.com), compartment_ids \
                 (comma-separated default scope), private_key_secret (default oci-api-key). \
                 Grant the control-plane host and the vaults' management hosts in \
                 outbound_hosts, and the API key secret.",
            )
            .operation(
                Operation::key_management("cckm_key_rotation", "oci")
                    .describe("Rotate keys: a new key version, made current; optionally schedule the old versions' deletion")
                    .params_schema(params::schema(true)),
            )
            .operation(
                Operation::key_management("cckm_synchronization", "oci")
                    .describe("Pull the vaults' keys (current version, state, shape, versions, tags) into Keywarden")
                    .params_schema(params::schema(false)),
            )
            .capabilities(
                Capabilities::new()
                    .outbound_host("kms.<region>.oraclecloud.com")
                    .outbound_host("<vault>-management.kms.<region>.oraclecloud.com")
                    .secret(auth::PRIVATE_KEY),
            )
    }

    fn rotate_keys(ctx: JobContext) -> Result<Outcome, JobError> {
        match ctx.operation.as_str() {
            "cckm_key_rotation" => rotation::rotate(&ctx),
            _ => Err(ctx.unsupported()),
        }
    }

    fn synchronize_keys(ctx: JobContext) -> Result<Synchronized, JobError> {
        match ctx.operation.as_str() {
            "cckm_synchronization" => sync::synchronize(&ctx),
            _ => Err(ctx.unsupported()),
        }
    }
}

keywarden_sdk::export_plugin!(OciKms);
