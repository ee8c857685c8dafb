//! Per-job overhead: Keywarden instantiating the `noop` plugin in a fresh sandbox and
//! calling it, next to a minimal raw-wasmtime harness doing the same in the same run.
//! Also: loading from the precompiled cache against compiling afresh.
//!
//! Run with `cargo bench -p keywarden --bench job_overhead`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden::plugins::loader;
use keywarden::runtime::Runtime;
use keywarden::runtime::bindings::types::{JobContext, JobError, JobOutcome};
use keywarden::runtime::bindings::{log, types};
use keywarden::runtime::capabilities::secrets::ConfiguredSecrets;
use keywarden::runtime::capabilities::state::MemoryState;
use keywarden::runtime::invoke::{JobCall, JobInput};
use keywarden::runtime::sandbox::HostServices;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

const WARMUP: usize = 300;
const ITERATIONS: usize = 2_000;
/// The three harnesses run in turn this many times and their samples are pooled, so a
/// slow spell of the machine weighs on all of them alike.
const ROUNDS: usize = 3;

struct Raw {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Raw {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for Raw {
    async fn write(
        &mut self,
        _level: log::Level,
        _message: String,
        _fields: Vec<(String, String)>,
    ) {
    }
}

impl types::Host for Raw {}

struct Stats {
    median: Duration,
    p95: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Stats {
        median: samples[samples.len() / 2],
        p95: samples[samples.len() * 95 / 100],
        mean,
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn time<F, Fut>(mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..WARMUP {
        f().await;
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples
}

fn context() -> JobContext {
    JobContext {
        job_id: "bench".into(),
        operation: "noop".into(),
        target: None,
        params: "{}".into(),
        dry_run: false,
    }
}

/// wasmtime's defaults plus the pooling allocator: what a first embedder would write.
fn default_engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.allocation_strategy(InstanceAllocationStrategy::pooling());
    Engine::new(&config).unwrap()
}

/// The engine Keywarden builds (pool tuning, epoch interruption), so the ratio against
/// it isolates the cost of Keywarden's own layer: sandbox, grants, limits, reporting.
fn keywarden_engine() -> Engine {
    keywarden::runtime::engine::build_engine(&Default::default(), false).unwrap()
}

/// The least a wasmtime embedder must do per call: a store with an empty WASI context,
/// instantiate from an `InstancePre`, look up the export, call it.
async fn raw_harness(engine: Engine, bytes: &[u8]) -> Vec<Duration> {
    let component = Component::new(&engine, bytes).unwrap();
    let mut linker = Linker::<Raw>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    // `noop` imports `log` (the SDK's panic hook) and `types`; nothing else of ours.
    log::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |s| s).unwrap();
    types::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |s| s).unwrap();
    let pre = linker.instantiate_pre(&component).unwrap();
    let iface = component
        .get_export_index(None, "keywarden:plugin/custom-job@0.1.0")
        .expect("custom-job export");
    let run = component
        .get_export_index(Some(&iface), "run")
        .expect("run export");
    let ctx = context();
    time(|| {
        let (pre, run, ctx, engine) = (&pre, &run, &ctx, &engine);
        async move {
            let raw = Raw {
                wasi: WasiCtxBuilder::new().build(),
                table: ResourceTable::new(),
            };
            let mut store = Store::new(engine, raw);
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let func = instance
                .get_typed_func::<(&JobContext,), (Result<JobOutcome, JobError>,)>(&mut store, run)
                .unwrap();
            let (result,) = func.call_async(&mut store, (ctx,)).await.unwrap();
            assert!(result.is_ok());
        }
    })
    .await
}

fn keywarden_runtime(cache_dir: Option<std::path::PathBuf>) -> Arc<Runtime> {
    let services = HostServices {
        secrets: Arc::new(ConfiguredSecrets::default()),
        state: Arc::new(MemoryState::default()),
        authority: None,
        tls_prober: None,
    };
    Runtime::new(OperatorConfig::default(), cache_dir, services).unwrap()
}

async fn keywarden_path(noop: &std::path::Path) -> Vec<Duration> {
    let runtime = keywarden_runtime(None);
    let plugin = loader::load_file(&runtime, noop).await.unwrap();
    time(|| {
        let (runtime, plugin) = (&runtime, &plugin);
        async move {
            let input = JobInput {
                job_id: "bench".into(),
                operation: "noop".into(),
                target: None,
                params: serde_json::json!({}),
                scope: "bench".into(),
                dry_run: false,
            };
            let report = plugin.run(runtime, input, JobCall::Custom, None).await;
            assert!(report.outcome.is_ok());
        }
    })
    .await
}

fn median_of<F: FnMut() -> Duration>(runs: usize, mut f: F) -> Duration {
    let mut samples: Vec<Duration> = (0..runs).map(|_| f()).collect();
    samples.sort();
    samples[runs / 2]
}

fn cache_vs_compile(noop: &std::path::Path) -> (Duration, Duration) {
    let bytes = std::fs::read(noop).unwrap();
    let sha = keywarden::runtime::cache::content_hash(&bytes);
    let cache = tempfile::tempdir().unwrap();
    let runtime = keywarden_runtime(Some(cache.path().to_owned()));
    let compile = median_of(5, || {
        let start = Instant::now();
        keywarden::runtime::cache::compile(runtime.engine(), &bytes).unwrap();
        start.elapsed()
    });
    runtime.compile(&bytes, &sha).unwrap(); // fills the cache
    let cached = median_of(5, || {
        let start = Instant::now();
        let (_, source) = runtime.compile(&bytes, &sha).unwrap();
        assert_eq!(source, keywarden::runtime::cache::CompileSource::Cache);
        start.elapsed()
    });
    (compile, cached)
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let out = root.join("target/plugins");
    xtask::build_plugins(&root, &out).expect("building the plugins");
    let noop = out.join("noop.wasm");
    let bytes = std::fs::read(&noop).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut raw, mut raw_tuned, mut ours) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.extend(rt.block_on(raw_harness(default_engine(), &bytes)));
        raw_tuned.extend(rt.block_on(raw_harness(keywarden_engine(), &bytes)));
        ours.extend(rt.block_on(keywarden_path(&noop)));
    }
    let (raw, raw_tuned, ours) = (stats(raw), stats(raw_tuned), stats(ours));
    let (compile, cached) = cache_vs_compile(&noop);

    println!(
        "per-job overhead: instantiate `noop` in a fresh store and call it ({} runs each, in {ROUNDS} alternating rounds)",
        ITERATIONS * ROUNDS
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "", "median µs", "p95 µs", "mean µs"
    );
    for (name, s) in [
        ("raw wasmtime, defaults", &raw),
        ("raw wasmtime, same engine", &raw_tuned),
        ("keywarden sandbox", &ours),
    ] {
        println!(
            "{name:<28} {:>10.1} {:>10.1} {:>10.1}",
            us(s.median),
            us(s.p95),
            us(s.mean)
        );
    }
    let ratio = |base: &Stats| ours.median.as_secs_f64() / base.median.as_secs_f64();
    println!(
        "ratio keywarden / raw (median): {:.2}x against defaults, {:.2}x against the same engine",
        ratio(&raw),
        ratio(&raw_tuned)
    );
    println!(
        "targets: <= 1.5x the raw harness and <= 20 µs median: {}",
        if ratio(&raw_tuned) <= 1.5 && ours.median <= Duration::from_micros(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!();
    println!("loading `noop` ({} KiB):", bytes.len() / 1024);
    println!(
        "  compile afresh      {:>10.2} ms",
        compile.as_secs_f64() * 1e3
    );
    println!(
        "  from the disk cache {:>10.2} ms",
        cached.as_secs_f64() * 1e3
    );
    println!(
        "  speed-up            {:>10.1}x",
        compile.as_secs_f64() / cached.as_secs_f64()
    );
}
