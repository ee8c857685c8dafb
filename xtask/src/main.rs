//! `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! Commands:
//! * `plugins [--out DIR]`: build the bundled plugins into DIR (default
//!   `target/plugins`) as `<name>.wasm`.
//! * `test [ARGS]`: build the plugins, start a throwaway PostgreSQL when none is
//!   configured (`.ci/postgres.sh`), a pebble ACME server (`.ci/pebble.sh`) and moto's
//!   and LocalStack's venvs for the AWS KMS tests (`.ci/moto.sh`, `.ci/localstack.sh`),
//!   schemathesis's for the OpenAPI contract test (`.ci/schemathesis.sh`), and run the
//!   whole workspace's tests.
//! * `demo [ARGS]`: build the plugins and run the server on SQLite in `target/demo`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const USAGE: &str =
    "usage: cargo xtask <plugins [--out DIR] | test [CARGO TEST ARGS] | demo [SERVE ARGS]>

commands:
  plugins    build the plugins in plugins/ for wasm32-wasip2 and copy the
             components to DIR (default: target/plugins) as <name>.wasm
  test       build the plugins, provide PostgreSQL (KEYWARDEN_TEST_DATABASE_URL, or a
             throwaway server from .ci/postgres.sh), pebble (KEYWARDEN_TEST_PEBBLE_*,
             or .ci/pebble.sh), moto and LocalStack for the AWS tests
             (KEYWARDEN_MOTO_VENV, KEYWARDEN_LOCALSTACK_VENV, or .ci/moto.sh and
             .ci/localstack.sh), schemathesis for the OpenAPI contract test
             (KEYWARDEN_SCHEMATHESIS_VENV, or .ci/schemathesis.sh), run
             `cargo test --workspace`
  demo       build the plugins and run `keywarden serve` on SQLite in target/demo,
             listening on 127.0.0.1:8080";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

fn run(args: Vec<String>) -> Result<()> {
    let root = repo_root();
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("plugins") => {
            let mut out = root.join("target").join("plugins");
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "--out" => out = PathBuf::from(args.next().context("--out needs a directory")?),
                    other if other.starts_with("--out=") => {
                        out = PathBuf::from(&other["--out=".len()..])
                    }
                    "-h" | "--help" => {
                        println!("{USAGE}");
                        return Ok(());
                    }
                    other => bail!("unexpected argument `{other}`\n\n{USAGE}"),
                }
            }
            let out = if out.is_absolute() {
                out
            } else {
                std::env::current_dir()?.join(out)
            };
            for file in xtask::build_plugins(&root, &out)? {
                let size = std::fs::metadata(&file)
                    .map(|m| m.len())
                    .unwrap_or_default();
                println!("{:>9} {}", size, file.display());
            }
            Ok(())
        }
        Some("test") => test(&root, args.collect()),
        Some("demo") => demo(&root, args.collect()),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// `cargo test --workspace` with the plugins built and a PostgreSQL URL when one can be had.
fn test(root: &Path, extra: Vec<String>) -> Result<()> {
    // python3, openssl and keytool: installed when missing and run as root.
    let tools = Command::new("bash")
        .arg(root.join(".ci").join("tools.sh"))
        .status();
    if !tools.is_ok_and(|s| s.success()) {
        eprintln!("xtask: .ci/tools.sh could not install every tool; some tests may fail");
    }
    xtask::build_plugins(root, &root.join("target").join("plugins"))?;
    // The plugins' shared libraries carry unit tests that run natively; the plugins
    // themselves are tested as components, end to end.
    let guest_libs = Command::new(env!("CARGO"))
        .current_dir(root.join("plugins"))
        .args(["test", "-p", "cloud-common"])
        .status()
        .context("running the plugin libraries' unit tests")?;
    if !guest_libs.success() {
        bail!("the plugin libraries' unit tests failed ({guest_libs})");
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root)
        .args(["test", "--workspace"])
        .args(&extra);
    let services = [
        // (script, the variable that says it is already provided, what is lost without it)
        (
            "postgres.sh",
            "KEYWARDEN_TEST_DATABASE_URL",
            "PostgreSQL tests will be skipped",
        ),
        (
            "pebble.sh",
            "KEYWARDEN_TEST_PEBBLE_DIRECTORY",
            "ACME tests will be skipped (they fail under CI)",
        ),
        (
            "moto.sh",
            "KEYWARDEN_MOTO_VENV",
            "the AWS KMS tests will try it again",
        ),
        (
            "localstack.sh",
            "KEYWARDEN_LOCALSTACK_VENV",
            "the imported-key-material tests will try it again",
        ),
        (
            "schemathesis.sh",
            "KEYWARDEN_SCHEMATHESIS_VENV",
            "the OpenAPI contract test will try it again",
        ),
        (
            "prometheus.sh",
            "KEYWARDEN_PROMETHEUS_VENV",
            "the metrics test will try it again",
        ),
    ];
    for (script, provided, without) in services {
        if std::env::var_os(provided).is_some() {
            continue;
        }
        let vars = xtask::ci_exports(root, script);
        if !vars.iter().any(|(name, _)| name == provided) {
            eprintln!("xtask: .ci/{script} provided nothing; {without}");
        }
        for (name, value) in vars {
            eprintln!("xtask: {name}={value}");
            cmd.env(name, value);
        }
    }
    let status = cmd.status().context("running cargo test")?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}

/// The server with the bundled plugins on the embedded default database.
fn demo(root: &Path, extra: Vec<String>) -> Result<()> {
    let plugins = root.join("target").join("plugins");
    xtask::build_plugins(root, &plugins)?;
    let data = root.join("target").join("demo");
    std::fs::create_dir_all(&data)?;
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "keywarden",
            "--",
            "serve",
            "--listen",
            "127.0.0.1:8080",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--plugins-dir")
        .arg(&plugins)
        .args(&extra)
        .status()
        .context("running keywarden serve")?;
    if !status.success() {
        bail!("keywarden serve exited with {status}");
    }
    Ok(())
}
