//! The plugin runtime against real components built from `plugins/` with the SDK:
//! describe and run, and the hostile plugin contained case by case while other jobs
//! keep running.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden::plugins::{LoadedPlugin, loader};
use keywarden::runtime::Runtime;
use keywarden::runtime::bindings::types::JobResult;
use keywarden::runtime::invoke::{JobCall, JobFailure, JobInput, JobReport};
use keywarden_tests::{plugin_file, runtime_from_toml};
use serde_json::json;

async fn load(runtime: &Arc<Runtime>, name: &str) -> LoadedPlugin {
    loader::load_file(runtime, &plugin_file(name))
        .await
        .unwrap_or_else(|f| panic!("{name} did not load: {}", f.reason))
}

async fn run(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    op: &str,
    params: serde_json::Value,
) -> JobReport {
    run_as(runtime, plugin, op, params, JobCall::Custom, false).await
}

async fn run_as(
    runtime: &Runtime,
    plugin: &LoadedPlugin,
    op: &str,
    params: serde_json::Value,
    call: JobCall,
    dry_run: bool,
) -> JobReport {
    let input = JobInput {
        job_id: format!("test-{op}"),
        operation: op.into(),
        target: None,
        params,
        scope: "tests".into(),
        dry_run,
    };
    plugin.run(runtime, input, call, None).await
}

fn failure(report: &JobReport) -> &JobFailure {
    match &report.outcome {
        Ok(f) => panic!(
            "expected a failure, got {:?}: {} {}",
            f.result, f.message, f.details
        ),
        Err(e) => e,
    }
}

/// A job the plugin itself reported as failed (the sandbox denied it something).
fn plugin_failure_message(report: &JobReport) -> String {
    match &report.outcome {
        Ok(f) if f.result == JobResult::Failure => f.message.clone(),
        Ok(f) => panic!(
            "expected a failure outcome, got {:?}: {} {}",
            f.result, f.message, f.details
        ),
        Err(JobFailure::Failed(m)) => m.clone(),
        Err(e) => panic!("expected the plugin to report a failure, got {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_is_described_and_run_with_details_logs_progress_config_and_secret() {
    let runtime = runtime_from_toml(
        r#"
        [secrets]
        lab_token = { value = "tok-3141592653" }
        [plugins.hello]
        secrets = ["lab_token"]
        settings = { greeting = "Howdy" }
        "#,
    );
    let hello = load(&runtime, "hello").await;
    assert_eq!(hello.manifest.name, "hello");
    let op = hello
        .operation("hello", None)
        .expect("hello provides `hello`");
    assert_eq!(op.family, keywarden::plugins::Family::Custom);
    assert_eq!(op.params_schema["required"], json!(["name"]));

    let report = run(
        &runtime,
        &hello,
        "hello",
        json!({"name": "Ada", "secret": "lab_token"}),
    )
    .await;
    let done = report.outcome.as_ref().expect("hello succeeds");
    assert_eq!(done.result, JobResult::Success);
    assert_eq!(done.details["greeting"], "Howdy, Ada!");
    assert_eq!(done.details["secret_length"], 14);
    assert!(!report.logs.is_empty(), "hello logs a line");
    assert!(report.progress.is_some(), "hello reports progress");
    let everything = format!("{:?} {:?}", report.logs, done);
    assert!(
        !everything.contains("tok-3141592653"),
        "the secret leaked: {everything}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_params_are_reported_with_the_field() {
    let runtime = runtime_from_toml("");
    let hello = load(&runtime, "hello").await;
    let report = run(&runtime, &hello, "hello", json!({"name": 42})).await;
    match failure(&report) {
        JobFailure::InvalidParams { field, .. } => assert_eq!(field, "name"),
        other => panic!("expected invalid params, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_is_stopped_at_its_timeout_while_other_jobs_run() {
    let runtime = runtime_from_toml(
        r#"
        [plugins.hostile]
        timeout_secs = 2
        "#,
    );
    let hostile = Arc::new(load(&runtime, "hostile").await);
    let hello = load(&runtime, "hello").await;

    let started = Instant::now();
    let spin = {
        let (runtime, hostile) = (runtime.clone(), hostile.clone());
        tokio::spawn(async move { run(&runtime, &hostile, "spin", json!({})).await })
    };
    // Several spinning plugins at once must not starve the host either.
    let spin2 = {
        let (runtime, hostile) = (runtime.clone(), hostile.clone());
        tokio::spawn(async move { run(&runtime, &hostile, "spin", json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = run(&runtime, &hello, "hello", json!({"name": "still here"})).await;
    assert!(
        ok.outcome.is_ok(),
        "hello ran while hostile spun: {:?}",
        ok.outcome
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "hello waited for the spinner"
    );

    for handle in [spin, spin2] {
        let report = handle.await.unwrap();
        assert_eq!(
            failure(&report),
            &JobFailure::TimedOut(Duration::from_secs(2))
        );
        assert!(
            report.elapsed >= Duration::from_secs(2) && report.elapsed < Duration::from_secs(4)
        );
    }
}

/// More jobs at once than the pooling allocator has slots: the extra ones wait for a
/// slot and then run; none fails to instantiate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_beyond_the_instance_pool_wait_for_a_slot() {
    let runtime = runtime_from_toml(
        r#"
        [runtime]
        max_instances = 2
        "#,
    );
    let hello = Arc::new(load(&runtime, "hello").await);
    let started = Instant::now();
    let jobs: Vec<_> = (0..6)
        .map(|i| {
            let (runtime, hello) = (runtime.clone(), hello.clone());
            tokio::spawn(async move {
                run(
                    &runtime,
                    &hello,
                    "hello",
                    json!({"name": format!("n{i}"), "delay_ms": 300}),
                )
                .await
            })
        })
        .collect();
    for job in jobs {
        let report = job.await.unwrap();
        assert!(report.outcome.is_ok(), "{:?}", report.outcome);
    }
    // Two at a time: three rounds of 300 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "more than two ran at once: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_stopped_at_the_cap() {
    let runtime = runtime_from_toml(
        r#"
        [plugins.hostile]
        memory_mb = 32
        "#,
    );
    let hostile = load(&runtime, "hostile").await;
    let report = run(&runtime, &hostile, "memory-bomb", json!({})).await;
    assert_eq!(failure(&report), &JobFailure::MemoryExceeded(32 << 20));
    assert!(report.peak_memory <= 32 << 20);
    assert_eq!(
        failure(&report).to_string(),
        "the job exceeded its memory limit of 32 MiB and was stopped"
    );
    // The host is fine afterwards.
    let hello = load(&runtime, "hello").await;
    assert!(
        run(&runtime, &hello, "hello", json!({"name": "after"}))
            .await
            .outcome
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_outside_the_grant_are_denied_and_inside_it_work() {
    let granted = tempfile::tempdir().unwrap();
    std::fs::write(granted.path().join("inside.txt"), "hello").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret_file = outside.path().join("outside.txt");
    std::fs::write(&secret_file, "do not read").unwrap();
    let runtime = runtime_from_toml(&format!(
        r#"
        [[plugins.hostile.dirs]]
        host = "{}"
        guest = "/data"
        "#,
        granted.path().display()
    ));
    let hostile = load(&runtime, "hostile").await;

    let inside = run(
        &runtime,
        &hostile,
        "read-outside",
        json!({"path": "/data/inside.txt"}),
    )
    .await;
    let inside = inside.outcome.expect("reading inside the grant works");
    assert_eq!(inside.result, JobResult::Success);
    assert_eq!(inside.details["bytes"], 5);

    for path in [
        secret_file.display().to_string(),
        "/etc/passwd".to_owned(),
        "/data/../../../../etc/passwd".to_owned(),
    ] {
        let report = run(&runtime, &hostile, "read-outside", json!({ "path": path })).await;
        let message = plugin_failure_message(&report);
        assert!(!message.contains("do not read"), "{message}");
    }

    // Read-only grants refuse writes.
    let report = run(
        &runtime,
        &hostile,
        "write-readonly",
        json!({"path": "/data/new.txt"}),
    )
    .await;
    plugin_failure_message(&report);
    assert!(!granted.path().join("new.txt").exists());
}

/// A runtime that grants the hostile plugin `granted` as `/data`, writable.
fn writable_data(granted: &tempfile::TempDir) -> Arc<Runtime> {
    runtime_from_toml(&format!(
        r#"
        [[plugins.hostile.dirs]]
        host = "{}"
        guest = "/data"
        writable = true
        "#,
        granted.path().display()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writable_grants_allow_writes() {
    let granted = tempfile::tempdir().unwrap();
    let runtime = writable_data(&granted);
    let hostile = load(&runtime, "hostile").await;
    let report = run(
        &runtime,
        &hostile,
        "write-readonly",
        json!({"path": "/data/new.txt"}),
    )
    .await;
    assert_eq!(
        report.outcome.expect("write allowed").result,
        JobResult::Success
    );
    assert!(granted.path().join("new.txt").exists());
}

/// A dry run is held back by the host, whatever the plugin does: writable grants are
/// read-only, `state.set` answers an error (here to a 0.1.0 plugin, which cannot even
/// know it is a dry run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_cannot_write_files_or_state() {
    let granted = tempfile::tempdir().unwrap();
    let runtime = writable_data(&granted);
    let hostile = load(&runtime, "hostile").await;
    let params = json!({"path": "/data/new.txt"});
    let report = run_as(
        &runtime,
        &hostile,
        "write-readonly",
        params.clone(),
        JobCall::Custom,
        true,
    )
    .await;
    plugin_failure_message(&report);
    assert!(!granted.path().join("new.txt").exists());
    let report = run(&runtime, &hostile, "write-readonly", params).await;
    assert_eq!(report.outcome.expect("written").result, JobResult::Success);
    assert!(granted.path().join("new.txt").exists());

    let legacy = load(&runtime, "legacy-v1").await;
    let dry = run_as(
        &runtime,
        &legacy,
        "cckm_key_rotation",
        json!({}),
        JobCall::Rotate,
        true,
    )
    .await;
    assert_eq!(
        failure(&dry).to_string(),
        keywarden::runtime::capabilities::state::DRY_RUN_REFUSAL
    );
    // The refused write left nothing: the first real run counts 1.
    let real = run_as(
        &runtime,
        &legacy,
        "cckm_key_rotation",
        json!({}),
        JobCall::Rotate,
        false,
    )
    .await;
    assert_eq!(real.outcome.expect("rotated").details["rotations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_http_reaches_only_allowed_hosts() {
    let server = keywarden_tests::HttpServer::start();
    let runtime = runtime_from_toml(&format!(
        r#"
        [plugins.hostile]
        outbound_hosts = ["http://127.0.0.1:{}"]
        "#,
        server.port
    ));
    let hostile = load(&runtime, "hostile").await;

    let allowed = run(
        &runtime,
        &hostile,
        "connect",
        json!({"url": server.url("/")}),
    )
    .await;
    let allowed = allowed.outcome.expect("allowed host is reachable");
    assert_eq!(allowed.result, JobResult::Success, "{}", allowed.message);
    assert_eq!(allowed.details["status"], 200);

    let other = keywarden_tests::HttpServer::start();
    for url in [other.url("/"), format!("http://localhost:{}/", server.port)] {
        let report = run(&runtime, &hostile, "connect", json!({ "url": url })).await;
        let message = plugin_failure_message(&report);
        assert!(
            message.to_lowercase().contains("denied"),
            "{url}: {message}"
        );
    }

    // The same host and port without `http://` in the grant: HTTPS only, so the plain
    // request (which could carry credentials in clear) is denied.
    let https_only = runtime_from_toml(&format!(
        r#"
        [plugins.hostile]
        outbound_hosts = ["127.0.0.1:{}"]
        "#,
        server.port
    ));
    let hostile = load(&https_only, "hostile").await;
    let report = run(
        &https_only,
        &hostile,
        "connect",
        json!({"url": server.url("/")}),
    )
    .await;
    let message = plugin_failure_message(&report);
    assert!(message.to_lowercase().contains("denied"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_not_granted_are_refused() {
    let runtime = runtime_from_toml(
        r#"
        [secrets]
        admin_password = { value = "hunter22" }
        mine = { value = "mine-value" }
        [plugins.hostile]
        secrets = ["mine"]
        "#,
    );
    let hostile = load(&runtime, "hostile").await;
    let report = run(
        &runtime,
        &hostile,
        "steal-secret",
        json!({"name": "admin_password"}),
    )
    .await;
    let message = plugin_failure_message(&report);
    assert!(message.contains("not granted"), "{message}");
    assert!(!format!("{:?}", report.logs).contains("hunter22"));

    let report = run(&runtime, &hostile, "steal-secret", json!({"name": "mine"})).await;
    assert!(
        report.outcome.is_ok(),
        "a granted secret is revealed: {:?}",
        report.outcome
    );
}

/// A plugin's error text is scrubbed of the secrets it revealed (as written, JSON-escaped)
/// and cut to the output cap, like its message and details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_an_error_is_scrubbed_and_the_error_capped() {
    let runtime = runtime_from_toml(
        r#"
        [runtime]
        max_output_kb = 4
        [secrets]
        hostile-demo = { value = "pa\"ss-word" }
        [plugins.hostile]
        secrets = ["hostile-demo"]
        "#,
    );
    let hostile = load(&runtime, "hostile").await;
    let report = run(&runtime, &hostile, "reveal-in-error", json!({})).await;
    let message = plugin_failure_message(&report);
    assert!(message.starts_with("leaking "), "{message}");
    assert!(
        !message.contains("ss-word"),
        "scrubbed: {}",
        &message[..100]
    );
    assert!(
        message.len() < 4096 + 100,
        "capped: {} bytes",
        message.len()
    );
    assert!(message.contains("cut at 4096 bytes"), "says it was cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_plugin_is_reported_as_a_crash_with_its_message() {
    let runtime = runtime_from_toml("");
    let hostile = load(&runtime, "hostile").await;
    let report = run(&runtime, &hostile, "panic", json!({})).await;
    assert!(
        matches!(failure(&report), JobFailure::Crashed(_)),
        "{:?}",
        report.outcome
    );
    assert!(
        report.logs.iter().any(|l| l.message.contains("panicked")),
        "the panic message is in the logs: {:?}",
        report.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuel_budget_stops_a_plugin_that_spins() {
    let runtime = runtime_from_toml(
        r#"
        [plugins.hostile]
        fuel = 5000000
        "#,
    );
    let hostile = load(&runtime, "hostile").await;
    let report = run(&runtime, &hostile, "spin", json!({})).await;
    assert_eq!(failure(&report), &JobFailure::FuelExhausted(5_000_000));
    // Plugins without a budget are not limited by it.
    let hello = load(&runtime, "hello").await;
    assert!(
        run(&runtime, &hello, "hello", json!({"name": "x"}))
            .await
            .outcome
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_output_are_capped() {
    let runtime = runtime_from_toml(
        r#"
        [runtime]
        max_log_kb = 0
        max_output_kb = 0
        "#,
    );
    let hello = load(&runtime, "hello").await;
    let report = run(&runtime, &hello, "hello", json!({"name": "Ada"})).await;
    assert!(
        matches!(failure(&report), JobFailure::OutputTooLarge(size, 0) if *size > 0),
        "{:?}",
        report.outcome
    );
    assert_eq!(
        report.logs.len(),
        1,
        "only the note about dropped lines: {:?}",
        report.logs
    );
    assert!(
        report.logs[0].message.contains("log limit of 0 bytes"),
        "{:?}",
        report.logs
    );
}
