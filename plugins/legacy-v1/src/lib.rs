//! `legacy-v1`: a plugin as one built before `keywarden:plugin@0.2.0` would be, bound
//! straight to the 0.1.0 WIT kept in `wit/v0.1.0/` (no SDK). It proves that the host
//! still loads and runs such a component, through every import it uses, and that a dry
//! run is refused for it (0.1.0 has no dry run).
//!
//! `cckm_key_rotation` for the cloud `legacy` counts its runs in the plugin state (a
//! real write the host keeps) and logs; `legacy_echo` answers its params back.

wit_bindgen::generate!({
    world: "plugin",
    path: "../../wit/v0.1.0",
    generate_all,
});

use exports::keywarden::plugin::certificate_store::{
    self, CertificateEntry, DiscoveryRequest, NewEntry, ReenrollmentRequest, Store,
};
use exports::keywarden::plugin::{custom_job, key_management, network_discovery};
use keywarden::plugin::types::{
    Capabilities, JobContext, JobError, JobFamily, JobOutcome, JobResult, Operation,
};
use keywarden::plugin::{log, state};

struct Legacy;

const ROTATION_SCHEMA: &str =
    r#"{"type": "object", "properties": {"cloud_name": {"type": "string"}}}"#;

impl Guest for Legacy {
    fn describe() -> Manifest {
        Manifest {
            name: "legacy-v1".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Built against keywarden:plugin@0.1.0; counts its rotations.".into(),
            operations: vec![
                Operation {
                    name: "cckm_key_rotation".into(),
                    target: Some("legacy".into()),
                    family: JobFamily::KeyManagement,
                    description: "Count a rotation in the plugin state".into(),
                    params_schema: ROTATION_SCHEMA.into(),
                },
                Operation {
                    name: "legacy_echo".into(),
                    target: None,
                    family: JobFamily::Custom,
                    description: "Answer the params back".into(),
                    params_schema: r#"{"type": "object"}"#.into(),
                },
            ],
            capabilities: Capabilities {
                outbound_hosts: Vec::new(),
                paths: Vec::new(),
                secrets: Vec::new(),
                tls_probe: false,
                csr_enrollment: false,
            },
        }
    }
}

fn unsupported(ctx: &JobContext) -> JobError {
    JobError::Unsupported(format!("legacy-v1 does not provide {}", ctx.operation))
}

impl key_management::Guest for Legacy {
    fn rotate(ctx: JobContext) -> Result<JobOutcome, JobError> {
        if ctx.operation != "cckm_key_rotation" {
            return Err(unsupported(&ctx));
        }
        let runs = state::get("rotations")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        state::set("rotations", Some(&runs.to_string())).map_err(JobError::Failed)?;
        log::write(
            log::Level::Info,
            "rotated",
            &[("runs".into(), runs.to_string())],
        );
        Ok(JobOutcome {
            result: JobResult::Success,
            message: format!("rotation {runs}"),
            details: format!(r#"{{"rotations": {runs}}}"#),
        })
    }

    fn synchronize(ctx: JobContext) -> Result<key_management::Synchronized, JobError> {
        Err(unsupported(&ctx))
    }
}

impl custom_job::Guest for Legacy {
    fn run(ctx: JobContext) -> Result<JobOutcome, JobError> {
        if ctx.operation != "legacy_echo" {
            return Err(unsupported(&ctx));
        }
        Ok(JobOutcome {
            result: JobResult::Success,
            message: "echo".into(),
            details: format!(r#"{{"params": {}}}"#, ctx.params),
        })
    }
}

impl network_discovery::Guest for Legacy {
    fn scan(ctx: JobContext) -> Result<JobOutcome, JobError> {
        Err(unsupported(&ctx))
    }
}

impl certificate_store::Guest for Legacy {
    fn inventory(ctx: JobContext, _: Store) -> Result<Vec<CertificateEntry>, JobError> {
        Err(unsupported(&ctx))
    }
    fn add(ctx: JobContext, _: Store, _: NewEntry) -> Result<JobOutcome, JobError> {
        Err(unsupported(&ctx))
    }
    fn remove(ctx: JobContext, _: Store, _: String) -> Result<JobOutcome, JobError> {
        Err(unsupported(&ctx))
    }
    fn create(ctx: JobContext, _: Store) -> Result<JobOutcome, JobError> {
        Err(unsupported(&ctx))
    }
    fn discover(ctx: JobContext, _: DiscoveryRequest) -> Result<Vec<String>, JobError> {
        Err(unsupported(&ctx))
    }
    fn reenroll(ctx: JobContext, _: Store, _: ReenrollmentRequest) -> Result<JobOutcome, JobError> {
        Err(unsupported(&ctx))
    }
}

export!(Legacy);
