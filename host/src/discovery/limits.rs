//! How fast a plugin may probe: at most `tls_rate_per_sec` new probes a second and
//! `tls_concurrency` at once, across every job of the plugin on this node (whatever
//! account runs them), so a scan cannot flood a network or the host.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Probes a second when the operator names no rate.
pub const DEFAULT_RATE_PER_SEC: u32 = 50;
/// Probes at once when the operator names no concurrency.
pub const DEFAULT_CONCURRENCY: u32 = 16;

/// One plugin's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    pub rate_per_sec: u32,
    pub concurrency: u32,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        Self {
            rate_per_sec: DEFAULT_RATE_PER_SEC,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

struct Gate {
    limits: ProbeLimits,
    rate: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
}

impl Gate {
    fn new(limits: ProbeLimits) -> Self {
        let rate = NonZeroU32::new(limits.rate_per_sec).unwrap_or(NonZeroU32::MIN);
        // No bursts beyond one probe: the rate holds over any window, not on average.
        let quota = Quota::per_second(rate).allow_burst(NonZeroU32::MIN);
        Self {
            limits,
            rate: RateLimiter::direct(quota),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1) as usize)),
        }
    }
}

/// The gates of every plugin, by plugin name (a plugin's limits changed by the operator
/// take effect with its next probe).
#[derive(Default)]
pub struct ProbeGates {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

/// Held while a probe runs; the slot frees when it drops.
pub struct ProbePermit {
    _slot: OwnedSemaphorePermit,
}

impl ProbeGates {
    /// Waits until `plugin` may start a probe under `limits`.
    pub async fn enter(&self, plugin: &str, limits: ProbeLimits) -> ProbePermit {
        let gate = {
            let mut gates = self.gates.lock().expect("probe gates lock");
            let gate = gates
                .entry(plugin.to_owned())
                .or_insert_with(|| Arc::new(Gate::new(limits)));
            if gate.limits != limits {
                *gate = Arc::new(Gate::new(limits));
            }
            gate.clone()
        };
        let slot = gate
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("probe semaphore is never closed");
        gate.rate.until_ready().await;
        ProbePermit { _slot: slot }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn rate_holds_per_plugin() {
        let gates = ProbeGates::default();
        let limits = ProbeLimits {
            rate_per_sec: 20,
            concurrency: 100,
        };
        let start = Instant::now();
        for _ in 0..11 {
            drop(gates.enter("scan", limits).await);
        }
        // The first is free; ten more at 20 a second take half a second.
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
        // Another plugin has its own budget.
        let other = Instant::now();
        drop(gates.enter("other", limits).await);
        assert!(other.elapsed() < Duration::from_millis(40));
    }

    #[tokio::test]
    async fn concurrency_holds() {
        let gates = Arc::new(ProbeGates::default());
        let limits = ProbeLimits {
            rate_per_sec: 1000,
            concurrency: 2,
        };
        let a = gates.enter("scan", limits).await;
        let _b = gates.enter("scan", limits).await;
        let g = gates.clone();
        let third = tokio::spawn(async move { g.enter("scan", limits).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!third.is_finished(), "a third waits while two run");
        drop(a);
        tokio::time::timeout(Duration::from_secs(2), third)
            .await
            .expect("runs once a slot frees")
            .unwrap();
    }
}
