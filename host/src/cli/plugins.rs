//! `keywarden plugins ...`: what an operator or plugin author checks before deploying.

use std::path::Path;
use std::sync::Arc;

use crate::operator_config::OperatorConfig;
use crate::plugins::{Family, ManifestView, PluginListing, PluginRegistry, loader};
use crate::runtime::Runtime;
use crate::runtime::capabilities::secrets::ConfiguredSecrets;
use crate::runtime::capabilities::state::MemoryState;
use crate::runtime::invoke::{JobCall, JobInput, job_result};
use crate::runtime::sandbox::HostServices;

fn runtime_for(config: Option<&Path>) -> anyhow::Result<Arc<Runtime>> {
    let config = match config {
        Some(path) => OperatorConfig::load(path)?,
        None => OperatorConfig::default(),
    };
    let services = HostServices {
        secrets: Arc::new(ConfiguredSecrets::new(config.secrets.clone())),
        state: Arc::new(MemoryState::default()),
        authority: None,
        tls_prober: Some(crate::discovery::probing(&config)?),
    };
    Runtime::new(config, None, services)
}

/// `plugins list`: exits non-zero when any file failed to load.
pub async fn list(dir: &Path, config: Option<&Path>, json: bool) -> anyhow::Result<bool> {
    if !dir.is_dir() {
        anyhow::bail!("plugins folder {} does not exist", dir.display());
    }
    let registry = PluginRegistry::new(runtime_for(config)?, dir);
    registry.scan().await;
    let listings = registry.list();
    if json {
        println!("{}", serde_json::to_string_pretty(&listings)?);
    } else if listings.is_empty() {
        println!("no *.wasm files in {}", dir.display());
    } else {
        for listing in &listings {
            print_listing(listing);
        }
    }
    Ok(listings.iter().all(|l| l.status == "ready"))
}

/// `plugins inspect FILE`.
pub async fn inspect(file: &Path, json: bool) -> anyhow::Result<()> {
    let runtime = runtime_for(None)?;
    let plugin = loader::load_file(&runtime, file)
        .await
        .map_err(|f| anyhow::anyhow!("{}: {}", file.display(), f.reason))?;
    if json {
        let value = serde_json::json!({
            "file": file,
            "sha256": plugin.sha256,
            "manifest": plugin.manifest,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}  sha256 {}", file.display(), plugin.sha256);
        print_manifest(&plugin.manifest);
    }
    Ok(())
}

/// `plugins run FILE --operation OP`: prints the report as JSON; exits non-zero on failure.
pub async fn run(
    file: &Path,
    operation: &str,
    params: &str,
    config: Option<&Path>,
) -> anyhow::Result<bool> {
    let params: serde_json::Value =
        serde_json::from_str(params).map_err(|e| anyhow::anyhow!("--params is not JSON: {e}"))?;
    let runtime = runtime_for(config)?;
    let plugin = loader::load_file(&runtime, file)
        .await
        .map_err(|f| anyhow::anyhow!("{}: {}", file.display(), f.reason))?;
    let op = plugin.operation(operation, None).ok_or_else(|| {
        anyhow::anyhow!("{} does not provide operation `{operation}`", plugin.name)
    })?;
    if op.family != Family::Custom {
        anyhow::bail!(
            "`plugins run` only runs custom operations; `{operation}` is {}",
            op.family
        );
    }
    let input = JobInput {
        job_id: "cli".into(),
        operation: operation.into(),
        target: None,
        params,
        scope: "cli".into(),
        dry_run: false,
    };
    let report = plugin.run(&runtime, input, JobCall::Custom, None).await;
    let (ok, outcome) = match &report.outcome {
        Ok(f) => (
            true,
            serde_json::json!({"result": job_result(f.result), "message": f.message, "details": f.details}),
        ),
        Err(e) => (false, serde_json::json!({"error": e.to_string()})),
    };
    let out = serde_json::json!({
        "outcome": outcome,
        "logs": report.logs,
        "elapsed_ms": report.elapsed.as_secs_f64() * 1000.0,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ok)
}

fn print_listing(listing: &PluginListing) {
    match (&listing.manifest, &listing.error) {
        (Some(manifest), _) => {
            println!(
                "{}  [{}]  {}",
                listing.name,
                listing.status,
                listing.file.display()
            );
            print_manifest(manifest);
        }
        (None, error) => println!(
            "{}  [{}]  {}\n  error: {}",
            listing.name,
            listing.status,
            listing.file.display(),
            error.as_deref().unwrap_or("unknown")
        ),
    }
    println!();
}

fn print_manifest(m: &ManifestView) {
    println!("  {} {} — {}", m.name, m.version, m.description);
    println!("  operations:");
    for op in &m.operations {
        let target = op
            .target
            .as_deref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        println!(
            "    {}{target} ({}) — {}",
            op.name, op.family, op.description
        );
    }
    let c = &m.capabilities;
    println!("  requests:");
    println!("    outbound hosts: {}", join_or_none(&c.outbound_hosts));
    let paths: Vec<String> = c
        .paths
        .iter()
        .map(|p| {
            format!(
                "{} ({}{})",
                p.path,
                if p.writable { "rw" } else { "ro" },
                if p.purpose.is_empty() {
                    String::new()
                } else {
                    format!(": {}", p.purpose)
                }
            )
        })
        .collect();
    println!("    paths: {}", join_or_none(&paths));
    println!("    secrets: {}", join_or_none(&c.secrets));
    println!(
        "    tls probe: {}, csr enrollment: {}",
        c.tls_probe, c.csr_enrollment
    );
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
