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
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(
                "Rotates and synchronizes Google Cloud KMS keys. Grant cloudkms.googleapis.com \
                 and oauth2.googleapis.com in outbound_hosts and the secret gcp-service-account \
                 (a service-account JSON key; name configurable: service_account_secret). \
                 Config: locations (comma-separated), project_id (default: the key's), endpoint.",
            )
            .operation(
                Operation::key_management("cckm_key_rotation", "gcp")
                    .describe("Rotate keys: a new key version, made primary for symmetric keys")
                    .params_schema(params::schema(true)),
            )
            .operation(
                Operation::key_management("cckm_synchronization", "gcp")
                    .describe("Pull the key rings' keys (primary version, purpose, labels, rotation schedule) into Keywarden")
                    .params_schema(params::schema(false)),
            )
            .capabilities(
                Capabilities::new()
                    .outbound_host("cloudkms.googleapis.com")
                    .outbound_host("oauth2.googleapis.com")
                    .secret(auth::SERVICE_ACCOUNT_SECRET),
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

keywarden_sdk::export_plugin!(GcpKms);
