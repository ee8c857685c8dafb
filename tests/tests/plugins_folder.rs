//! A watched plugins folder: dropping, replacing and removing `.wasm` files takes effect
//! without a restart; broken files show an error entry and never crash the host.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keywarden::plugins::{PluginRegistry, watcher};
use keywarden::runtime::bindings::types::JobResult;
use keywarden::runtime::cache::CompileSource;
use keywarden::runtime::invoke::{JobCall, JobInput};
use keywarden_tests::{plugin_file, runtime_from_toml};
use serde_json::json;

/// Polls `check` until it holds, for up to thirty seconds (compiling a component on a
/// busy 2-core machine can take several).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Copies a file into place the way operators are told to: write aside, then rename.
fn drop_in(from: &Path, to: &Path) {
    let tmp = to.with_file_name(format!(
        ".{}.tmp",
        to.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

fn input(op: &str, params: serde_json::Value) -> JobInput {
    JobInput {
        job_id: "folder-test".into(),
        operation: op.into(),
        target: None,
        params,
        scope: "tests".into(),
        dry_run: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_replacing_and_removing_files_takes_effect_live() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime_from_toml("");
    let registry = PluginRegistry::new(runtime.clone(), dir.path());
    assert!(registry.scan().await.loaded.is_empty());
    let _watch = watcher::watch(registry.clone()).unwrap();

    // Drop: a new file goes live.
    let hello_path = dir.path().join("hello.wasm");
    drop_in(&plugin_file("hello"), &hello_path);
    eventually("hello is loaded", || registry.get("hello").is_some()).await;
    let (plugin, _) = registry
        .resolve("hello", None)
        .expect("`hello` is resolvable");

    // A job that is still running when the file is replaced finishes on the old version.
    let old = plugin.clone();
    let rt = runtime.clone();
    let running = tokio::spawn(async move {
        old.run(
            &rt,
            input("hello", json!({"name": "old", "delay_ms": 1500})),
            JobCall::Custom,
            None,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Replace: hello.wasm now holds the noop plugin.
    drop_in(&plugin_file("noop"), &hello_path);
    eventually("hello.wasm is swapped", || {
        registry
            .get("hello")
            .is_some_and(|p| p.manifest.name == "noop")
    })
    .await;
    assert!(
        registry.resolve("hello", None).is_err(),
        "the old operation is gone"
    );
    let unresolved = registry.resolve("hello", None).unwrap_err();
    assert!(
        unresolved.available.contains(&"noop".to_owned()),
        "{unresolved:?}"
    );
    let report = running.await.unwrap();
    let done = report
        .outcome
        .expect("the running job finished on the old version");
    assert_eq!(done.details["greeting"], "Hello, old!");

    // Remove: the plugin unloads.
    std::fs::remove_file(&hello_path).unwrap();
    eventually("hello is unloaded", || registry.list().is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_core_modules_get_error_entries_and_the_rest_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garbage.wasm"), b"this is not wasm at all").unwrap();
    // The smallest core module: magic and version 1.
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    // A truncated component.
    let hello = std::fs::read(plugin_file("hello")).unwrap();
    std::fs::write(dir.path().join("truncated.wasm"), &hello[..hello.len() / 2]).unwrap();
    drop_in(&plugin_file("noop"), &dir.path().join("noop.wasm"));
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();

    let registry = PluginRegistry::new(runtime_from_toml(""), dir.path());
    let summary = registry.scan().await;
    assert_eq!(summary.loaded, ["noop"]);
    assert_eq!(summary.failed, ["core", "garbage", "truncated"]);

    let listing = registry.list();
    let error_of = |name: &str| {
        listing
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.error.clone())
            .unwrap_or_else(|| panic!("{name} has an error entry"))
    };
    assert!(error_of("garbage").contains("not a WebAssembly file"));
    assert!(error_of("core").contains("core WebAssembly module, not a component"));
    assert!(
        error_of("truncated").contains("invalid component"),
        "{}",
        error_of("truncated")
    );

    let (noop, _) = registry.resolve("noop", None).unwrap();
    let report = noop
        .run(
            registry.runtime(),
            input("noop", json!({})),
            JobCall::Custom,
            None,
        )
        .await;
    assert_eq!(report.outcome.unwrap().result, JobResult::Success);

    // Fixing a broken file in place loads it.
    drop_in(&plugin_file("hello"), &dir.path().join("garbage.wasm"));
    let summary = registry.scan().await;
    assert_eq!(summary.loaded, ["garbage"]);
    assert!(registry.resolve("hello", None).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let config = format!("[runtime]\ncache_dir = \"{}\"\n", cache.path().display());
    let first =
        keywarden::plugins::loader::load_file(&runtime_from_toml(&config), &plugin_file("noop"))
            .await
            .unwrap();
    assert_eq!(first.source, CompileSource::Compiled);
    let compiled = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .collect()
    };
    let entries = compiled(cache.path());
    assert_eq!(entries.len(), 1, "one cache entry");
    // A fresh runtime (as after a restart) loads from the cache.
    let runtime: Arc<_> = runtime_from_toml(&config);
    let second = keywarden::plugins::loader::load_file(&runtime, &plugin_file("noop"))
        .await
        .unwrap();
    assert_eq!(second.source, CompileSource::Cache);
    assert_eq!(second.sha256, first.sha256);
    let report = second
        .run(&runtime, input("noop", json!({})), JobCall::Custom, None)
        .await;
    assert!(report.outcome.is_ok());

    // A swapped entry (here another plugin's compiled code, as someone able to write
    // the cache could put there) fails authentication: compiled again, never run.
    let other = tempfile::tempdir().unwrap();
    let other_config = format!("[runtime]\ncache_dir = \"{}\"\n", other.path().display());
    keywarden::plugins::loader::load_file(&runtime_from_toml(&other_config), &plugin_file("hello"))
        .await
        .unwrap();
    let hello = compiled(other.path()).remove(0);
    std::fs::copy(&hello, &entries[0]).unwrap();
    let runtime: Arc<_> = runtime_from_toml(&config);
    let third = keywarden::plugins::loader::load_file(&runtime, &plugin_file("noop"))
        .await
        .unwrap();
    assert_eq!(
        third.source,
        CompileSource::Compiled,
        "the swapped entry was not used"
    );
    assert_eq!(
        third.manifest.name, first.manifest.name,
        "it is noop, not hello"
    );
    // Written again with a good tag: the next start uses it.
    let fourth =
        keywarden::plugins::loader::load_file(&runtime_from_toml(&config), &plugin_file("noop"))
            .await
            .unwrap();
    assert_eq!(fourth.source, CompileSource::Cache);
}
