//! Per-account quotas from `[accounts.NAME]`: how many job configs an account may keep,
//! how many of its jobs may wait in the queue, and how often one of its schedules may
//! fire. Checked before a write (two requests racing may each pass the count once: the
//! quotas bound an account's share, they are not exact under concurrency).

use chrono::{DateTime, Utc};
use keywarden_db::{ConfigFilter, JobFilter, JobStatus, Sort};

use super::{DomainError, DomainResult, Field, Service};
use crate::scheduler::fire_times::Schedule;
use crate::tenancy::access;
use crate::tenancy::config::AccountConfig;

/// How many fires of a schedule are looked at for its shortest interval.
const FIRES_SAMPLED: usize = 500;

impl Service {
    pub(crate) fn account_table(&self, account: &str) -> Option<&AccountConfig> {
        access::account(self.registry.runtime().config(), account)
    }

    /// 403 when `account` already keeps its `max_job_configs`.
    pub(crate) async fn check_config_quota(&self, account: &str) -> DomainResult<()> {
        let Some(max) = self.account_table(account).and_then(|a| a.max_job_configs) else {
            return Ok(());
        };
        let filter = ConfigFilter {
            account_id: Some(account.to_owned()),
            ..ConfigFilter::default()
        };
        let (count, _) = self
            .db
            .list_configs(&filter, &Sort::default(), 0, 0)
            .await?;
        if u64::try_from(count).unwrap_or(0) < max {
            return Ok(());
        }
        Err(DomainError::Denied {
            field: None,
            reason: format!(
                "account {account:?} keeps {count} job configs, its quota ([accounts.{account}] max_job_configs = {max}); delete one first"
            ),
        })
    }

    /// 403 when `adding` more jobs would put more than `max_queued_jobs` of `account`'s
    /// in the queue.
    pub(crate) async fn check_queue_quota(&self, account: &str, adding: usize) -> DomainResult<()> {
        let Some(max) = self.account_table(account).and_then(|a| a.max_queued_jobs) else {
            return Ok(());
        };
        let filter = JobFilter {
            account_id: Some(account.to_owned()),
            status: Some(JobStatus::Queued),
            ..JobFilter::default()
        };
        let (queued, _) = self.db.list_jobs(&filter, &Sort::default(), 0, 0).await?;
        let queued = u64::try_from(queued).unwrap_or(0);
        if queued + adding as u64 <= max {
            return Ok(());
        }
        Err(DomainError::Denied {
            field: None,
            reason: format!(
                "account {account:?} has {queued} jobs waiting and asks for {adding} more; its quota is {max} ([accounts.{account}] max_queued_jobs)"
            ),
        })
    }

    /// 403 when `schedule` would fire twice within less than the account's
    /// `min_schedule_interval_secs`.
    pub(crate) fn check_schedule_interval(
        &self,
        account: &str,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> DomainResult<()> {
        let Some(min) = self
            .account_table(account)
            .and_then(|a| a.min_schedule_interval_secs)
        else {
            return Ok(());
        };
        let Some(shortest) = shortest_interval(schedule, now) else {
            return Ok(());
        };
        if shortest >= i64::try_from(min).unwrap_or(i64::MAX) {
            return Ok(());
        }
        Err(DomainError::denied(
            Field::Schedule,
            format!(
                "{:?} fires {shortest} s apart at times; account {account:?} may fire a schedule at most every {min} s ([accounts.{account}] min_schedule_interval_secs)",
                schedule.source()
            ),
        ))
    }
}

/// The shortest time between two consecutive fires among the next few hundred, in
/// seconds; `None` when it fires at most once.
pub(crate) fn shortest_interval(schedule: &Schedule, now: DateTime<Utc>) -> Option<i64> {
    let mut previous = schedule.next_after(now)?;
    let mut shortest: Option<i64> = None;
    for _ in 0..FIRES_SAMPLED {
        let Some(next) = schedule.next_after(previous) else {
            break;
        };
        let gap = (next - previous).num_seconds();
        shortest = Some(shortest.map_or(gap, |s| s.min(gap)));
        previous = next;
    }
    shortest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_interval_of_a_schedule() {
        let now = Utc::now();
        let every = |run_at: &str| shortest_interval(&Schedule::parse(run_at, None).unwrap(), now);
        assert_eq!(every("*/5 * * * *"), Some(300));
        assert_eq!(every("@every 90s"), Some(90));
        assert_eq!(every("0 3 * * *"), Some(86_400));
        // Irregular: 03:00 and 03:10 every day.
        assert_eq!(every("0,10 3 * * *"), Some(600));
    }
}
