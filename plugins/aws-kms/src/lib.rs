//! `aws-kms`: `cckm_key_rotation` and `cckm_synchronization` for AWS KMS
//! (`cloud_name: "aws"`).
//!
//! Talks to KMS over wasi:http (so only to the hosts the operator granted), signs each
//! request with SigV4 (`aws-sigv4`), reads credentials from the secrets import and the
//! region/endpoint from the operator's plugin config (overridable per job in
//! `aws_param`). The last rotation date of each key is kept in the durable `state`
//! import, so `rotation_after` holds across runs and restarts.

mod conn;
mod import;
mod inventory;
mod kms;
mod params;
mod rotation;
mod sync;

use keywarden_sdk::prelude::*;

struct AwsKms;

impl Plugin for AwsKms {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe(
                "Rotates and synchronizes AWS KMS customer-managed keys. Grant the KMS endpoint \
                 host in outbound_hosts and the secrets aws-access-key-id and aws-secret-access-key \
                 (names configurable: access_key_id_secret, secret_access_key_secret, \
                 session_token_secret); config keys region and endpoint.",
            )
            .operation(
                Operation::key_management("cckm_key_rotation", "aws")
                    .dry_run()
                    .describe("Rotate customer-managed keys (new key + alias move, or RotateKeyOnDemand)")
                    .params_schema(params::schema(true)),
            )
            .operation(
                Operation::key_management("cckm_synchronization", "aws")
                    .describe("Pull the key inventory (ids, aliases, state, dates) into Keywarden")
                    .params_schema(params::schema(false)),
            )
            .capabilities(
                Capabilities::new()
                    .outbound_host("kms.<region>.amazonaws.com")
                    .secret(conn::ACCESS_KEY_SECRET)
                    .secret(conn::SECRET_KEY_SECRET),
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

keywarden_sdk::export_plugin!(AwsKms);
