//! SSL scans: a network's ranges (discovery) or monitored endpoints (monitoring) cut into
//! parts of at most `[tls_probing] part_endpoints` endpoints, each part one job of the
//! scanning plugin. Parts are ordinary jobs: a node that dies mid-part loses its lease
//! and another runs that part again; parts already kept are not probed again. What each
//! part's probes saw is kept by `discovery::results`.

use chrono::Utc;
use keywarden_db::{
    ScanKind, ScanProgress, SslEndpoint, SslEndpointFilter, SslHistoryEntry, SslNetwork,
    SslScanPart, truncate_micros,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::jobs::JobSpec;
use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::discovery::ranges::NetworkRange;

/// One part before it is stored: what it probes, and how many endpoints that is.
struct PlannedPart {
    definitions: Value,
    endpoints: u64,
}

/// The ranges of a discovery scan, packed into parts of at most `size` endpoints.
fn plan_discovery(ranges: &[String], size: u64) -> Vec<PlannedPart> {
    let mut parts: Vec<PlannedPart> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut count = 0u64;
    for range in ranges.iter().filter_map(|r| NetworkRange::parse(r).ok()) {
        for piece in range.split(size) {
            let n = u64::try_from(piece.endpoints()).unwrap_or(u64::MAX);
            if count > 0 && count.saturating_add(n) > size {
                parts.push(PlannedPart {
                    definitions: json!(std::mem::take(&mut current)),
                    endpoints: count,
                });
                count = 0;
            }
            current.push(piece.normal());
            count = count.saturating_add(n);
        }
    }
    if !current.is_empty() {
        parts.push(PlannedPart {
            definitions: json!(current),
            endpoints: count,
        });
    }
    parts
}

/// The monitored endpoints of a monitoring scan, `size` to a part.
fn plan_monitoring(endpoints: &[SslEndpoint], size: u64) -> Vec<PlannedPart> {
    let size = usize::try_from(size).unwrap_or(usize::MAX).max(1);
    endpoints
        .chunks(size)
        .map(|chunk| PlannedPart {
            definitions: Value::Array(
                chunk
                    .iter()
                    .map(|e| {
                        let mut item = json!({"host": e.host, "port": e.port});
                        if !e.sni_name.is_empty() {
                            item["server_name"] = json!(e.sni_name);
                        }
                        item
                    })
                    .collect(),
            ),
            endpoints: chunk.len() as u64,
        })
        .collect()
}

/// What a scan request started: the scan's id and its parts.
#[derive(Debug, Clone)]
pub struct StartedScan {
    pub kind: ScanKind,
    pub scan_id: Uuid,
    pub parts: usize,
}

impl Service {
    /// Starts a discovery and/or monitoring scan of the caller's network now. Refused
    /// (409) when the network is disabled, has nothing to scan, or a scan of that kind is
    /// still running.
    pub async fn start_ssl_scan(
        &self,
        caller: &Caller,
        network_id: Uuid,
        discovery: bool,
        monitoring: bool,
    ) -> DomainResult<Vec<StartedScan>> {
        if !discovery && !monitoring {
            return Err(DomainError::invalid(
                Field::ScanKinds,
                "ask for Discovery, Monitoring or both",
            ));
        }
        let network = self.ssl_network(caller, network_id).await?;
        if !network.enabled {
            return Err(DomainError::conflict(
                Field::ScanKinds,
                format!("network {:?} is disabled", network.name),
            ));
        }
        let progress = self
            .db
            .ssl_scan_progress(Some(&network.account_id), &[network.id])
            .await?;
        let mut started = Vec::new();
        for (wanted, kind) in [
            (discovery, ScanKind::Discovery),
            (monitoring, ScanKind::Monitoring),
        ] {
            if !wanted {
                continue;
            }
            if let Some(p) = progress
                .iter()
                .find(|p| p.kind == kind && p.ended < p.parts)
            {
                return Err(DomainError::conflict(
                    Field::ScanKinds,
                    format!(
                        "a {kind} scan of {:?} is still running ({} of {} parts ended)",
                        network.name, p.ended, p.parts
                    ),
                ));
            }
            started.push(self.plan_scan(&network, kind).await?);
        }
        let mut out = Vec::new();
        for (kind, parts, jobs) in started {
            self.db.insert_ssl_scan(&parts, &jobs).await?;
            self.events.queued();
            out.push(StartedScan {
                kind,
                scan_id: parts.first().map(|p| p.scan_id).unwrap_or_default(),
                parts: parts.len(),
            });
        }
        Ok(out)
    }

    /// A scan's parts and their jobs, admitted (grants and queue quota), not stored.
    async fn plan_scan(
        &self,
        network: &SslNetwork,
        kind: ScanKind,
    ) -> DomainResult<(ScanKind, Vec<SslScanPart>, Vec<keywarden_db::NewJob>)> {
        let config = &self.registry.runtime().config().tls_probing;
        let size = config.part_endpoints.max(1);
        let (planned, operation, timeout) = match kind {
            ScanKind::Discovery => (
                plan_discovery(&network.ranges, size),
                config.discovery_operation.clone(),
                network.discover_timeout_ms,
            ),
            ScanKind::Monitoring => {
                let filter = SslEndpointFilter {
                    account_id: Some(network.account_id.clone()),
                    network_id: Some(network.id),
                    monitored: Some(true),
                    ..Default::default()
                };
                let (_, endpoints) = self
                    .db
                    .list_ssl_endpoints(&filter, &keywarden_db::Sort::default(), 0, i64::MAX)
                    .await?;
                (
                    plan_monitoring(&endpoints, size),
                    config.monitoring_operation.clone(),
                    network.monitor_timeout_ms,
                )
            }
        };
        if planned.is_empty() {
            let what = match kind {
                ScanKind::Discovery => "no ranges",
                ScanKind::Monitoring => "no monitored endpoints",
            };
            return Err(DomainError::conflict(
                Field::ScanKinds,
                format!("network {:?} has {what} to scan", network.name),
            ));
        }
        let now = truncate_micros(Utc::now());
        let scan_id = Uuid::now_v7();
        let total = planned.len();
        let mut specs: Vec<JobSpec> = planned
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let key = match kind {
                    ScanKind::Discovery => "ranges",
                    ScanKind::Monitoring => "endpoints",
                };
                let params = json!({key: p.definitions, "timeout_ms": timeout});
                let mut spec = JobSpec::new(&operation, params, None, now);
                spec.name = format!("{} {kind} {}/{total}", network.name, i + 1);
                spec.description = format!("SSL {kind} scan {scan_id}, part {}", i + 1);
                // A part is probed again if its node dies; a failed probe run is retried once.
                spec.max_attempts = 2;
                spec.retry_backoff_secs = 5;
                spec
            })
            .collect();
        self.admit(&network.account_id, &mut specs, false).await?;
        let jobs: Vec<keywarden_db::NewJob> = specs
            .into_iter()
            .map(|s| s.build(&network.account_id, now))
            .collect();
        let parts = planned
            .into_iter()
            .zip(&jobs)
            .enumerate()
            .map(|(i, (p, job))| SslScanPart {
                id: Uuid::now_v7(),
                scan_id,
                account_id: network.account_id.clone(),
                network_id: network.id,
                kind,
                seq: i as i64,
                job_id: job.id,
                definitions: p.definitions,
                estimated_endpoints: i64::try_from(p.endpoints).unwrap_or(i64::MAX),
                created_at: now,
                finished_at: None,
                stats: None,
                job_status: None,
                job_started_at: None,
                job_finished_at: None,
            })
            .collect();
        Ok((kind, parts, jobs))
    }

    /// Starts the scans whose network schedules are due at `now` (one node wins each fire
    /// time); returns how many started. A scan that cannot start (still running, nothing
    /// to scan, over quota) is logged and waits for the next fire.
    pub async fn fire_ssl_schedules(&self, now: chrono::DateTime<Utc>) -> DomainResult<usize> {
        let mut started = 0;
        for network in self.db.due_ssl_networks(now, 100).await? {
            let caller = Caller::new(&network.account_id, keywarden_db::TokenRole::Operator, "");
            for (kind, due, schedule) in [
                (
                    ScanKind::Discovery,
                    network.next_discover_at,
                    &network.discover_schedule,
                ),
                (
                    ScanKind::Monitoring,
                    network.next_monitor_at,
                    &network.monitor_schedule,
                ),
            ] {
                let Some(due) = due.filter(|d| *d <= now) else {
                    continue;
                };
                let next =
                    super::ssl_networks::next_fire(schedule.as_ref(), now).filter(|n| *n > now);
                if !self
                    .db
                    .advance_ssl_schedule(network.id, kind, due, next)
                    .await?
                {
                    continue;
                }
                let discovery = kind == ScanKind::Discovery;
                match self
                    .start_ssl_scan(&caller, network.id, discovery, !discovery)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(network = %network.id, name = %network.name, %kind, "scheduled scan started");
                        started += 1;
                    }
                    Err(e) => tracing::warn!(
                        network = %network.id, name = %network.name, %kind,
                        "scheduled scan not started: {e}"
                    ),
                }
            }
        }
        Ok(started)
    }

    /// The newest scans of each of `networks` (the caller's).
    pub async fn ssl_progress(
        &self,
        caller: &Caller,
        networks: &[Uuid],
    ) -> DomainResult<Vec<ScanProgress>> {
        Ok(self.db.ssl_scan_progress(caller.scope(), networks).await?)
    }

    /// A page of a network's scan parts, newest scan first.
    pub async fn ssl_parts(
        &self,
        caller: &Caller,
        network_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<SslScanPart>)> {
        let network = self.ssl_network(caller, network_id).await?;
        Ok(self
            .db
            .list_ssl_parts(Some(&network.account_id), network.id, skip, limit)
            .await?)
    }

    pub async fn ssl_part(&self, caller: &Caller, id: Uuid) -> DomainResult<SslScanPart> {
        self.db
            .get_ssl_part(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no scan part with id {id}")))
    }

    /// A page of the caller's endpoints.
    pub async fn ssl_endpoints(
        &self,
        caller: &Caller,
        mut filter: SslEndpointFilter,
        sort: &keywarden_db::Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<SslEndpoint>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self
            .db
            .list_ssl_endpoints(&filter, sort, skip, limit)
            .await?)
    }

    /// Sets the monitor or reviewed flag of every endpoint of the caller's `filter`
    /// matches (Keyfactor's MonitorAll, ReviewAll); how many.
    pub async fn set_ssl_endpoint_flags_where(
        &self,
        caller: &Caller,
        mut filter: SslEndpointFilter,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> DomainResult<u64> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self
            .db
            .set_ssl_endpoint_flags_where(&filter, monitor, reviewed)
            .await?)
    }

    pub async fn ssl_endpoint(&self, caller: &Caller, id: Uuid) -> DomainResult<SslEndpoint> {
        self.db
            .get_ssl_endpoint(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no SSL endpoint with id {id}")))
    }

    /// Sets whether an endpoint is monitored, or reviewed.
    pub async fn set_ssl_endpoint_flags(
        &self,
        caller: &Caller,
        id: Uuid,
        monitor: Option<bool>,
        reviewed: Option<bool>,
    ) -> DomainResult<()> {
        if self
            .db
            .set_ssl_endpoint_flags(caller.scope(), id, monitor, reviewed)
            .await?
        {
            Ok(())
        } else {
            Err(DomainError::not_found(format!(
                "no SSL endpoint with id {id}"
            )))
        }
    }

    /// A page of an endpoint's history, newest first.
    pub async fn ssl_history(
        &self,
        caller: &Caller,
        endpoint_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<SslHistoryEntry>)> {
        let endpoint = self.ssl_endpoint(caller, endpoint_id).await?;
        Ok(self
            .db
            .list_ssl_history(Some(&endpoint.account_id), endpoint.id, skip, limit)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_parts_hold_at_most_the_size_and_every_endpoint_once() {
        let ranges = vec![
            "127.0.0.0/22:443,8443".to_owned(),
            "127.0.8.1:443".to_owned(),
            "web.test:443".to_owned(),
        ];
        let parts = plan_discovery(&ranges, 1000);
        assert!(parts.iter().all(|p| p.endpoints <= 1000));
        let total: u64 = parts.iter().map(|p| p.endpoints).sum();
        assert_eq!(total, 1024 * 2 + 2);
        assert_eq!(parts.len(), 3, "1000, 1000, then 48 + 1 + 1");
        assert_eq!(
            parts[2].definitions,
            json!([
                "127.0.3.232-127.0.3.255:443,8443",
                "127.0.8.1:443",
                "web.test:443"
            ])
        );
    }
}
