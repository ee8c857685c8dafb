//! The SSL networks' scan schedules (DiscoverSchedule, MonitorSchedule): every node looks
//! each tick for networks whose next fire time has come and starts their scans through
//! the domain service; a compare-and-set on the fire time makes one node start each.

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::domain::Service;

pub fn spawn(service: Service, tick: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(tick.max(Duration::from_millis(50)));
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = every.tick() => {
                    if let Err(e) = service.fire_ssl_schedules(Utc::now()).await {
                        tracing::warn!("firing SSL scan schedules failed: {e}");
                    }
                }
            }
        }
    })
}
