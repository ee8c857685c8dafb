//! The `dry_run` flag of a job: stored as enqueued, read back by every listing (the
//! light one selects its columns by name), and a dry run's outcome is left out of the
//! latest outcomes the pause after N failed runs counts.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keywarden_db::{Database, JobConfig, JobFilter, JobStatus, Sort};

use super::executor::{LEASE, finish};
use super::{new_job, t};

pub async fn dry_run_is_kept_and_not_counted(db: Arc<dyn Database>) {
    let config = JobConfig::new("kylo", "nightly", "cckm_key_rotation", "0 3 * * *", t(0));
    db.insert_config(&config).await.unwrap();
    let before = Utc::now() - Duration::seconds(1);

    // A real run that failed, then a dry run that failed after it.
    let mut ids = Vec::new();
    for (i, dry_run) in [false, true].into_iter().enumerate() {
        let mut job = new_job("kylo", "nightly", t(i as i64), t(0));
        job.job_config_id = Some(config.id);
        job.dry_run = dry_run;
        db.insert_jobs(std::slice::from_ref(&job)).await.unwrap();
        let claimed = db.claim_jobs("node-a", t(100), 1, LEASE).await.unwrap();
        assert_eq!(claimed[0].id, job.id);
        assert_eq!(claimed[0].dry_run, dry_run, "a claim reads the flag");
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        db.finish_jobs(&[finish(job.id, "node-a", JobStatus::Failed)])
            .await
            .unwrap();
        ids.push((job.id, dry_run));
    }
    for (id, dry_run) in &ids {
        let got = db.get_job(None, *id).await.unwrap().unwrap();
        assert_eq!(got.dry_run, *dry_run);
    }
    for (omit_params, omit_logs) in [(false, false), (true, true), (true, false), (false, true)] {
        let filter = JobFilter {
            omit_params,
            omit_logs,
            ..JobFilter::default()
        };
        let (_, jobs) = db
            .list_jobs(&filter, &Sort::default(), 0, 10)
            .await
            .unwrap();
        for (id, dry_run) in &ids {
            let listed = jobs.iter().find(|j| j.id == *id).unwrap();
            assert_eq!(
                listed.dry_run, *dry_run,
                "listing with omit_params={omit_params} omit_logs={omit_logs}"
            );
        }
    }
    // Only the real run counts toward the pause.
    assert_eq!(
        db.latest_outcomes(config.id, before, 10).await.unwrap(),
        [JobStatus::Failed]
    );
}
