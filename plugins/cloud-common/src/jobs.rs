//! The job plumbing every cloud key plugin repeats: CipherTrust's params envelope around
//! the cloud's own group, the two operations in the manifest, and routing a job to the
//! operation it was started for.

use keywarden_sdk::prelude::*;

/// Declares `RotationParams` and `SyncParams`: CipherTrust's rotation parameters
/// (`cloud_name`, `expiration`, `expire_in`, `rotation_after`, all strings) and the
/// cloud's own group, e.g. `cloud_common::job_params!(oci_param: OciParam);`. Unknown
/// fields are refused, naming them.
#[macro_export]
macro_rules! job_params {
    ($field:ident: $group:ty) => {
        /// `cckm_key_rotation` params.
        #[derive(Debug, $crate::serde::Deserialize)]
        #[serde(crate = "cloud_common::serde", deny_unknown_fields)]
        pub struct RotationParams {
            /// Routed on by the host; always this plugin's cloud.
            #[allow(dead_code)]
            pub cloud_name: String,
            /// The new version expires this long after the rotation (`Xd`/`Yh`).
            #[serde(default)]
            pub expiration: Option<String>,
            /// Only keys whose current version expires within this window (`Xd`/`Yh`).
            #[serde(default)]
            pub expire_in: Option<String>,
            /// Rotate X days after the current version was made, or after this job's
            /// last rotation (`Xd`).
            #[serde(default)]
            pub rotation_after: Option<String>,
            #[serde(default)]
            pub $field: $group,
        }

        /// `cckm_synchronization` params.
        #[derive(Debug, $crate::serde::Deserialize)]
        #[serde(crate = "cloud_common::serde", deny_unknown_fields)]
        pub struct SyncParams {
            #[allow(dead_code)]
            pub cloud_name: String,
            #[serde(default)]
            pub $field: $group,
        }
    };
}

/// `manifest` with `cckm_key_rotation` and `cckm_synchronization` for `cloud`, described
/// by `rotate` and `sync`; `schema(true)` is the rotation params schema, `schema(false)`
/// the synchronization one.
pub fn key_operations(
    manifest: Manifest,
    cloud: &str,
    rotate: &str,
    sync: &str,
    schema: fn(bool) -> Value,
) -> Manifest {
    manifest
        .operation(
            Operation::key_management("cckm_key_rotation", cloud)
                .describe(rotate)
                .params_schema(schema(true)),
        )
        .operation(
            Operation::key_management("cckm_synchronization", cloud)
                .describe(sync)
                .params_schema(schema(false)),
        )
}

/// Runs `job` when `ctx` was started for `operation`; refuses any other.
pub fn route<T>(
    ctx: &JobContext,
    operation: &str,
    job: fn(&JobContext) -> Result<T, JobError>,
) -> Result<T, JobError> {
    if ctx.operation == operation {
        job(ctx)
    } else {
        Err(ctx.unsupported())
    }
}
