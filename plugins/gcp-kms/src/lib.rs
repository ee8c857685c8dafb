//! `gcp-kms`: `cckm_key_rotation` and `cckm_synchronization` for Google Cloud KMS
//! (`cloud_name: "gcp"`).
//!
//! Calls Cloud KMS v1 over wasi:http, so only the hosts the operator granted, with an
//! OAuth token bought by a service account: the plugin signs a JWT with the account's
//! key (RS256) and exchanges it at the account's token endpoint. The key JSON comes from
//! the secrets import; the token lives in memory for the job. A rotation makes a new
//! key version and, for symmetric keys, makes it primary.

mod auth;
mod keys;
mod kms;
mod params;
mod rotation;
mod sync;

use keywarden_sdk::prelude::*;

struct GcpKms;

impl Plugin for GcpKms {
    fn describe() -> Manifest {
        let manifest = Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(
                "Rotates and synchronizes Google Cloud KMS keys. Grant cloudkms.googleapis.com \
                 and oauth2.googleapis.com in outbound_hosts and the secret gcp-service-account \
                 (a service-account JSON key; name configurable: service_account_secret). \
                 Config: locations (comma-separated), project_id (default: the key's), endpoint.",
            )
            .capabilities(
                Capabilities::new()
                    .outbound_host("cloudkms.googleapis.com")
                    .outbound_host("oauth2.googleapis.com")
                    .secret(auth::SERVICE_ACCOUNT_SECRET),
            );
        cloud_common::key_operations(
            manifest,
            "gcp",
            "Rotate keys: a new key version, made primary for symmetric keys",
            "Pull the key rings' keys (version in use, purpose, labels, rotation schedule) into Keywarden",
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

keywarden_sdk::export_plugin!(GcpKms);
