//! The one wasmtime `Engine` a Keywarden process uses, and the epoch ticker that
//! enforces wall-clock limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::operator_config::RuntimeConfig;

/// How often the epoch advances. A job's timeout is checked at this granularity, and a
/// busy plugin yields its thread back to tokio this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Freed pool slots whose pages are decommitted together.
const DECOMMIT_BATCH: usize = 32;

/// Dirty pages per freed memory or table slot that are reset in place (found with the
/// `PAGEMAP_SCAN` ioctl, Linux 6.7+) instead of being decommitted: the next job on the
/// slot then takes no page faults. A job dirtying more has the rest decommitted, so a
/// warm slot keeps at most this much resident.
const KEEP_RESIDENT: usize = 2 << 20;

/// Builds the engine: component model, async, epoch interruption, and the pooling
/// allocator sized from the runtime config (so per-job instantiation does no mmap).
/// `meter_fuel` turns on fuel accounting, which costs every job a little, so only when
/// some plugin has a fuel budget.
pub fn build_engine(cfg: &RuntimeConfig, meter_fuel: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(meter_fuel);

    let instances = cfg.max_instances.max(1);
    let max_memory = cfg.max_memory_mb.max(1).saturating_mul(1 << 20);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        // A Rust wasip2 component holds a few core instances (program, adapter, shims).
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .max_memories_per_module(2)
        .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX))
        .total_stacks(instances)
        // Return freed slots' pages to the OS in batches rather than one madvise per
        // memory, table and stack at the end of every job.
        .decommit_batch_size(DECOMMIT_BATCH)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("cannot create the wasm engine: {e}"))
}

/// How many guests run now (stores armed by `arm_limits` and not yet dropped): the epoch
/// threads sleep while there are none, so an idle node does not wake 200 times a second.
static GUESTS: Guests = Guests {
    running: Mutex::new(0),
    started: Condvar::new(),
};

struct Guests {
    running: Mutex<usize>,
    started: Condvar,
}

impl Guests {
    fn running(&self) -> std::sync::MutexGuard<'_, usize> {
        // The count stays right even if a holder panicked: it is only ever +1/-1.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Held by a store while its guest may run: the epoch advances only while one exists.
/// Taken before the guest's first instruction, so its deadline always ticks.
#[derive(Debug)]
pub(crate) struct GuestRunning(());

impl GuestRunning {
    pub(crate) fn enter() -> Self {
        let mut n = GUESTS.running();
        *n += 1;
        if *n == 1 {
            GUESTS.started.notify_all();
        }
        GuestRunning(())
    }
}

impl Drop for GuestRunning {
    fn drop(&mut self) {
        *GUESTS.running() -= 1;
    }
}

/// How long a sleeping epoch thread waits before it checks whether it should stop.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Advances the engine's epoch every [`EPOCH_TICK`] on a thread of its own while a guest
/// runs, until dropped. A thread (not a tokio task) keeps ticking even when every tokio
/// worker is busy running guest code.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("keywarden-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    {
                        let running = GUESTS.running();
                        if *running == 0 {
                            // Woken by the next guest, or after a while to check `flag`.
                            let _ = GUESTS.started.wait_timeout(running, IDLE_CHECK);
                            continue;
                        }
                    }
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
