//! The storage conformance suite: every behaviour is written once (in `conformance/*.rs`,
//! as `async fn(Arc<dyn Database>)`) and run against SQLite always and against PostgreSQL when
//! `KEYWARDEN_TEST_DATABASE_URL` is a `postgres://` URL. Each test gets a fresh database
//! (SQLite: a new file; PostgreSQL: a new schema, dropped afterwards) so tests never see
//! each other's rows and run in parallel.

#[path = "conformance/agents.rs"]
mod agents;
#[path = "conformance/alerts.rs"]
mod alerts;
#[path = "conformance/certificate_stores.rs"]
mod certificate_stores;
#[path = "conformance/cloud_keys.rs"]
mod cloud_keys;
#[path = "conformance/config_listing.rs"]
mod config_listing;
#[path = "conformance/dry_run.rs"]
mod dry_run;
#[path = "conformance/executor.rs"]
mod executor;
#[path = "conformance/history.rs"]
mod history;
#[path = "conformance/job_listing.rs"]
mod job_listing;
#[path = "conformance/nodes.rs"]
mod nodes;
#[path = "conformance/policies.rs"]
mod policies;
#[path = "conformance/records.rs"]
mod records;
#[path = "conformance/recovery.rs"]
mod recovery;
#[path = "conformance/retention.rs"]
mod retention;
#[path = "conformance/snapshot.rs"]
mod snapshot;
#[path = "conformance/ssl.rs"]
mod ssl;
#[path = "conformance/ssl_scans.rs"]
mod ssl_scans;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use keywarden_db::testing::PgTestSchema;
use keywarden_db::{Database, DbError, NewJob, RunOn, connect};
use serde_json::json;
use uuid::Uuid;

/// A fresh db plus what is needed to throw it away.
struct Harness {
    db: Arc<dyn Database>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgTestSchema>,
}

impl Harness {
    async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keywarden.db");
        let db = connect(path.to_str().expect("utf-8 path"))
            .await
            .expect("open sqlite");
        assert_eq!(db.backend(), "sqlite");
        Harness {
            db,
            _dir: Some(dir),
            pg: None,
        }
    }

    async fn postgres(case: &str) -> Option<Harness> {
        let pg = PgTestSchema::create(case).await?;
        let db = connect(&pg.url).await.expect("open postgres");
        assert_eq!(db.backend(), "postgres");
        Some(Harness {
            db,
            _dir: None,
            pg: Some(pg),
        })
    }

    async fn finish(self) {
        drop(self.db);
        if let Some(pg) = self.pg {
            pg.drop_schema().await;
        }
    }
}

/// Declares each case once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = super::Harness::sqlite().await;
                    super::$module::$case(h.db.clone()).await;
                    h.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(h) = super::Harness::postgres(stringify!($case)).await {
                        super::$module::$case(h.db.clone()).await;
                        h.finish().await;
                    }
                }
            )*
        }
    };
}

conformance!(
    records::accounts_and_tokens,
    policies::policies_and_pauses,
    dry_run::dry_run_is_kept_and_not_counted,
    records::audit_log_chain,
    records::target_locks,
    records::payloads,
    retention::purged_jobs_stay_counted,
    retention::concurrent_purges_count_each_job_once,
    retention::unreferenced_payloads_are_purged,
    retention::listings_leave_out_params_and_logs,
    snapshot::snapshot_and_restore,
    ssl::ssl_networks,
    ssl::ssl_schedules,
    alerts::alerts_are_raised_once_and_delivered_once,
    ssl_scans::ssl_scans,
    ssl_scans::inventory_merges_stores_and_ssl_endpoints,
    recovery::finishes_are_fenced_by_attempt,
    executor::claims_leave_out_accounts,
    records::config_crud,
    records::job_crud,
    records::plugin_state,
    records::nodes,
    nodes::nodes_record_their_start,
    nodes::a_clean_stop_is_recorded_until_the_next_start,
    nodes::running_jobs_are_counted_per_node,
    nodes::jobs_waiting_for_a_node_are_told_once,
    config_listing::config_filters,
    config_listing::config_sort_and_page,
    config_listing::params_filters_survive_nul_in_params,
    job_listing::job_filters,
    job_listing::job_sort_and_page,
    job_listing::jobs_changed_since,
    job_listing::queue_stats_count_the_queue,
    job_listing::counts_stop_past_the_bound,
    executor::claim_semantics,
    executor::concurrent_claimers,
    executor::finish_only_if_still_running_on_node,
    executor::finish_audits_what_applied,
    executor::leases_and_progress,
    recovery::retry,
    recovery::an_attempt_that_did_not_run_is_not_counted,
    recovery::lease_expiry_recovery,
    recovery::node_restart_recovery,
    recovery::due_configs_page_on_from_a_cursor,
    recovery::fire_config_compare_and_set,
    recovery::fire_configs_compare_and_set_per_config,
    history::audit_ids_are_assigned_on_insert,
    history::history_conditions,
    history::acknowledge_and_reschedule,
    history::schedule_kinds_are_recorded,
    certificate_stores::certificate_store_crud,
    certificate_stores::certificate_store_listing,
    certificate_stores::inventory_schedule_is_owned_by_the_store,
    certificate_stores::inventory_is_replaced_whole,
    certificate_stores::discovered_paths,
    cloud_keys::cloud_key_snapshots,
    cloud_keys::cloud_key_filters,
    agents::agent_records,
    agents::agent_listing,
    agents::agent_reset,
    agents::registration_credentials_and_sessions,
    agents::agents_claim_only_their_own_jobs,
    agents::agent_jobs_fail_when_their_lease_ends,
);

// ----- helpers shared by the cases -----

/// A fixed, whole-second instant: `base + secs` (no sub-microsecond surprises).
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// A queued-job request due at `due`, enqueued at `enqueued`.
pub fn new_job(account: &str, name: &str, due: DateTime<Utc>, enqueued: DateTime<Utc>) -> NewJob {
    NewJob {
        id: Uuid::now_v7(),
        account_id: account.to_owned(),
        job_config_id: None,
        name: name.to_owned(),
        description: format!("{name} description"),
        operation: "cckm_key_rotation".to_owned(),
        target: Some("aws".to_owned()),
        params: json!({"cloud_name": "aws"}),
        run_on: RunOn::Any,
        schedule_kind: None,
        max_attempts: 1,
        retry_backoff_secs: 30,
        scheduled_for: due,
        start_by: None,
        dry_run: false,
        enqueued_at: enqueued,
    }
}

/// Asserts `r` is `Err(Conflict(_))`.
pub fn assert_conflict<T: std::fmt::Debug>(r: Result<T, DbError>) {
    match r {
        Err(DbError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_picks_backend_by_url() {
    let mem = connect("sqlite::memory:").await.expect("memory");
    assert_eq!(mem.backend(), "sqlite");
    mem.ensure_account("a").await.expect("usable");
    assert!(matches!(
        connect("mysql://localhost/x").await,
        Err(DbError::InvalidUrl(_))
    ));
    assert!(matches!(connect("").await, Err(DbError::InvalidUrl(_))));
}
