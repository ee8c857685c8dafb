//! Repository chores, callable from the `xtask` binary and from tests.
//!
//! [`build_plugins`] compiles the bundled plugins (`plugins/`, a separate workspace) for
//! `wasm32-wasip2` and copies the components to one directory as `<name>.wasm`, where
//! `<name>` is the plugin's crate name with `-` (e.g. `hello.wasm`, `noop.wasm`,
//! `hostile.wasm`). [`ci_exports`] runs one of the `.ci/` scripts that provide the
//! servers the tests use, and returns what it exports.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// The guest target: produces WASI 0.2 components directly.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Build every plugin of `<repo_root>/plugins` in release mode for [`WASM_TARGET`]
/// (target dir `<repo_root>/target/wasm`) and copy each component to
/// `<out_dir>/<name>.wasm`. Returns the copied files, sorted.
///
/// Safe to call from several processes at once: cargo's lock on the target dir
/// serialises the builds, and each copy is written to a temporary name and renamed
/// into place, so readers never see a partial file. Files whose content did not
/// change are left alone (their mtime too), so directory watchers stay quiet.
///
/// Installs the target with `rustup target add` first if it is missing.
pub fn build_plugins(repo_root: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    build(
        repo_root,
        out_dir,
        &repo_root.join("target").join("wasm"),
        &[],
    )
}

/// Builds one plugin `package` with cargo `features` that only tests use (a build that
/// breaks something on purpose) into its own target dir, so the shipped build is never
/// replaced by it, and copies it to `<out_dir>/<name>.wasm`.
pub fn build_plugin_variant(
    repo_root: &Path,
    package: &str,
    features: &str,
    out_dir: &Path,
) -> Result<PathBuf> {
    let target_dir = repo_root.join("target").join("wasm-variants");
    let built = build(
        repo_root,
        out_dir,
        &target_dir,
        &["-p", package, "--features", features],
    )?;
    built
        .into_iter()
        .find(|p| p.file_stem().and_then(OsStr::to_str) == Some(package))
        .with_context(|| format!("cargo built no {package}.wasm"))
}

fn build(
    repo_root: &Path,
    out_dir: &Path,
    target_dir: &Path,
    extra: &[&str],
) -> Result<Vec<PathBuf>> {
    let manifest = repo_root.join("plugins").join("Cargo.toml");
    if !manifest.is_file() {
        bail!("no plugins workspace at {}", manifest.display());
    }
    ensure_target_installed()?;

    let mut cmd = Command::new(cargo_binary());
    cmd.current_dir(repo_root.join("plugins"))
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    scrub_env(&mut cmd);

    let mut child = cmd.spawn().context("running cargo to build the plugins")?;
    let stdout = child.stdout.take().context("cargo stdout")?;
    let mut artifacts = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo output")?;
        if let Some(path) = wasm_artifact(&line) {
            artifacts.push(path);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("building the plugins failed ({status}); see the compiler output above");
    }
    if artifacts.is_empty() {
        bail!(
            "cargo built no .wasm components from {}",
            manifest.display()
        );
    }

    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut copied = Vec::new();
    for artifact in artifacts {
        let stem = artifact
            .file_stem()
            .and_then(OsStr::to_str)
            .with_context(|| format!("odd artifact name {}", artifact.display()))?;
        let dest = out_dir.join(format!("{}.wasm", stem.replace('_', "-")));
        copy_atomically(&artifact, &dest)?;
        copied.push(dest);
    }
    copied.sort();
    copied.dedup();
    Ok(copied)
}

/// The `.wasm` file of a `cdylib` in one line of cargo's JSON output, if any.
fn wasm_artifact(line: &str) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let is_cdylib = message["target"]["kind"]
        .as_array()?
        .iter()
        .any(|kind| kind == "cdylib");
    if !is_cdylib {
        return None;
    }
    message["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))
        .map(PathBuf::from)
}

/// The cargo that runs us (set by cargo for `cargo run`/`cargo test`), else `cargo`.
fn cargo_binary() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Remove what the parent cargo (a build script, `cargo test`, `cargo clippy`, a
/// coverage run...) put into the environment that would change or break the nested
/// build: another target dir, host-only rustflags, wrappers, build-script variables,
/// a jobserver whose file descriptors we do not pass on.
fn scrub_env(cmd: &mut Command) {
    const REMOVE: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "CARGO",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "MAKEFLAGS",
        "MFLAGS",
    ];
    // CARGO_* settings that are about the user's setup rather than this build.
    const KEEP_PREFIXES: &[&str] = &[
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
        "CARGO_SOURCE_",
    ];
    for name in REMOVE {
        cmd.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let cargo_var =
            name.starts_with("CARGO_") && !KEEP_PREFIXES.iter().any(|p| name.starts_with(p));
        if cargo_var || name.starts_with("__CARGO") {
            cmd.env_remove(name);
        }
    }
}

/// `rustup target add wasm32-wasip2` unless it is already installed. Without rustup
/// (e.g. a distro toolchain) the build itself will say whether the target exists.
fn ensure_target_installed() -> Result<()> {
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"]);
    scrub_env(&mut list);
    let Ok(output) = list.output() else {
        return Ok(());
    };
    let installed = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("installing the {WASM_TARGET} target with rustup");
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    scrub_env(&mut add);
    let status = add.status().context("running rustup target add")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status})");
    }
    Ok(())
}

/// Copy `from` to `to` through a temporary file in the same directory and a rename,
/// so a concurrent reader sees the old or the new file, never half of one. Skips the
/// copy when `to` already has the same content.
fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    if std::fs::read(to).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let file_name = to
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or("plugin.wasm");
    let tmp = to.with_file_name(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("renaming {} to {}", tmp.display(), to.display())
    })
}

/// Runs `<root>/.ci/SCRIPT`, which starts or installs a service, and returns the
/// `export NAME=VALUE` lines it prints (none when it failed; its messages go to stderr).
///
/// Its output goes through a file, not a pipe: a server the script leaves running
/// would hold a pipe open and keep the wait for its end going forever.
pub fn ci_exports(root: &Path, script: &str) -> Vec<(String, String)> {
    let out_path = root
        .join("target")
        .join(format!("xtask-{script}-{}.out", std::process::id()));
    let run = || -> Result<String> {
        std::fs::create_dir_all(out_path.parent().context("no parent")?)?;
        let out = std::fs::File::create(&out_path)?;
        let status = Command::new("bash")
            .arg(root.join(".ci").join(script))
            .stdout(out)
            .stderr(Stdio::inherit())
            .status()?;
        if !status.success() {
            eprintln!("xtask: .ci/{script} failed ({status}); see its messages above");
        }
        Ok(std::fs::read_to_string(&out_path)?)
    };
    let printed = run().unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    printed
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_cdylib_wasm_artifacts() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["cdylib"],"name":"hello"},"filenames":["/t/wasm32-wasip2/release/hello.wasm"]}"#;
        assert_eq!(
            wasm_artifact(line),
            Some(PathBuf::from("/t/wasm32-wasip2/release/hello.wasm"))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"serde"},"filenames":["/t/libserde.rlib"]}"#;
        assert_eq!(wasm_artifact(lib), None);
        assert_eq!(wasm_artifact("not json"), None);
    }
}
