//! The `keywarden plugins` commands, run as a user would: the real binary on real
//! compiled plugins.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = root.join("target/plugins");
        xtask::build_plugins(root, &out).expect("plugins build");
        out
    })
}

fn keywarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .args(args)
        .env("KEYWARDEN_LOG", "error")
        .output()
        .expect("keywarden runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn inspect_prints_the_manifest_and_requested_capabilities() {
    let file = plugins().join("hostile.wasm");
    let out = keywarden(&["plugins", "inspect", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("hostile 0.1.0"), "{text}");
    assert!(text.contains("spin (custom)"), "{text}");
    assert!(text.contains("outbound hosts: example.com"), "{text}");
    assert!(text.contains("secrets: hostile-demo"), "{text}");

    let out = keywarden(&["plugins", "inspect", file.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(json["manifest"]["name"], "hostile");
    assert_eq!(
        json["manifest"]["capabilities"]["paths"][0]["path"],
        "/data"
    );
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn list_shows_every_plugin_and_an_error_entry_for_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["hello", "noop"] {
        std::fs::copy(
            plugins().join(format!("{name}.wasm")),
            dir.path().join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("broken.wasm"), b"not wasm").unwrap();
    let out = keywarden(&[
        "plugins",
        "list",
        "--plugins-dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a broken plugin makes `list` fail: {out:?}"
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["broken", "hello", "noop"]);
    assert_eq!(rows[0]["status"], "failed");
    assert!(
        rows[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );
    assert_eq!(rows[1]["manifest"]["operations"][0]["name"], "hello");

    let out = keywarden(&[
        "plugins",
        "list",
        "--plugins-dir",
        dir.path().to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("broken  [failed]") && text.contains("hello  [ready]"),
        "{text}"
    );
}

#[test]
fn run_executes_a_custom_operation_with_grants_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keywarden.toml");
    std::fs::write(
        &config,
        "[plugins.hello]\nsettings = { greeting = \"Ahoy\" }\n",
    )
    .unwrap();
    let file = plugins().join("hello.wasm");
    let out = keywarden(&[
        "plugins",
        "run",
        file.to_str().unwrap(),
        "--operation",
        "hello",
        "--params",
        r#"{"name":"CLI"}"#,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"]["result"], "success");
    assert_eq!(report["outcome"]["details"]["greeting"], "Ahoy, CLI!");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code() {
    let out = keywarden(&["plugins", "inspect", "/nonexistent/x.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the file"));
    let file = plugins().join("hello.wasm");
    let out = keywarden(&[
        "plugins",
        "run",
        file.to_str().unwrap(),
        "--operation",
        "hello",
        "--params",
        "{oops",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--params is not JSON"));
}

/// The highest resident memory of `command` while it runs, in KiB (sampled from /proc).
#[cfg(target_os = "linux")]
fn peak_rss_kib(mut command: std::process::Command) -> (std::process::ExitStatus, u64) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A plugin logging empty lines until its time limit leaves the host near its idle
/// memory: each line counts toward the job's log cap, whatever it holds.
#[cfg(target_os = "linux")]
#[test]
fn a_plugin_flooding_its_log_or_secret_reveals_leaves_the_host_near_idle_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keywarden.toml");
    std::fs::write(
        &config,
        "[runtime]\ntimeout_secs = 3\n[secrets]\nhostile-demo = { value = \"abcdefgh12345678\" }\n\
         [plugins.hostile]\nsecrets = [\"hostile-demo\"]\n",
    )
    .unwrap();
    let file = plugins().join("hostile.wasm");
    let run = |operation: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keywarden"));
        command.args([
            "plugins",
            "run",
            file.to_str().unwrap(),
            "--operation",
            operation,
            "--config",
            config.to_str().unwrap(),
        ]);
        peak_rss_kib(command)
    };
    let (_, idle) = run("panic");
    for flood in ["log-flood", "reveal-flood"] {
        let (_, peak) = run(flood);
        println!("peak RSS: idle job {idle} KiB, {flood} {peak} KiB");
        assert!(
            peak < idle + 48 * 1024,
            "{flood} took the host from {idle} KiB to {peak} KiB"
        );
    }
}
