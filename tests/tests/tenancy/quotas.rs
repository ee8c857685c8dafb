//! Quotas: one account cannot fill the server with configs, queued jobs or schedules that
//! fire every second.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_stays_within_its_quotas() {
    let lab = Lab::make();
    let quotas = "[accounts.team-a]\nmax_job_configs = 2\nmax_queued_jobs = 3\nmin_schedule_interval_secs = 3600\n";
    let t = Teams::start_with(&lab, false, "", quotas).await.unwrap();
    let s = &t.server;
    let config =
        |name: &str, run_at: &str| json!({"name": name, "operation": "noop", "run_at": run_at});

    let (status, body) = s.post(&t.a, CONFIGS, &config("often", "*/5 * * * *")).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "run_at",
        "min_schedule_interval_secs",
    );
    let (status, body) = s.post(&t.a, CONFIGS, &config("often", "@every 59m")).await;
    assert_refused(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "run_at",
        "3540 s apart",
    );
    s.create_config(&t.a, &config("one", "@hourly")).await;
    s.create_config(&t.a, &config("two", "0 3 * * *")).await;
    let (status, body) = s.post(&t.a, CONFIGS, &config("three", "0 4 * * *")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("max_job_configs = 2"),
        "{body}"
    );
    // Team B has no quota.
    for name in ["b1", "b2", "b3"] {
        let (status, body) = s
            .post(
                &t.b,
                CONFIGS,
                &json!({"name": name, "operation": "noop", "run_at": "* * * * *"}),
            )
            .await;
        // Team B may not run noop, but not because of a quota.
        assert!(
            body["message"].as_str().unwrap().contains("plugins.noop"),
            "{status} {body}"
        );
    }

    // A failed Management job (its store file does not exist), to reschedule later.
    let missing = create_store(s, &t.a, "/stores/team-a/missing.pem").await;
    let (status, ids) = s
        .post(
            &t.a,
            &format!("{STORES}/Certificates/Add"),
            &json!({"Certificate": lab.read("team-a.pem"),
                    "CertificateStores": [{"CertificateStoreId": missing, "Alias": "m"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let failed = ids[0].as_str().unwrap().to_owned();
    let job = s.wait_job(&t.a, &failed, WAIT).await;
    assert_eq!(job["status"], "failed", "{job}");

    // Jobs waiting in the queue: management jobs due in an hour.
    let store = create_store(s, &t.a, "/stores/team-a/web.pem").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let add = |alias: &str| {
        json!({"Certificate": lab.read("team-a.pem"), "Schedule": {"ExactlyOnce": {"Time": at}},
               "CertificateStores": [{"CertificateStoreId": store, "Alias": alias}]})
    };
    for alias in ["x1", "x2", "x3"] {
        let (status, body) = s
            .post(&t.a, &format!("{STORES}/Certificates/Add"), &add(alias))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = s
        .post(&t.a, &format!("{STORES}/Certificates/Add"), &add("x4"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("max_queued_jobs"),
        "{body}"
    );
    assert_eq!(
        jobs(s, &t.a, "Management").await.len(),
        4,
        "three queued, one failed"
    );
    // Rescheduling the failed job would queue a fourth: refused like any other job.
    let (status, body) = s
        .post(
            &t.a,
            "/KeyfactorAPI/OrchestratorJobs/Reschedule",
            &json!({"Query": format!("JobId -eq \"{failed}\"")}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("max_queued_jobs"), "{body}");
    assert_eq!(jobs(s, &t.a, "Management").await.len(), 4, "nothing queued");
    // Inventory now of a store named many times: one job, and it counts too.
    let (status, body) = s
        .post(
            &t.a,
            &format!("{STORES}/Schedule"),
            &json!({"StoreIds": [store, store, store], "Schedule": {"Immediate": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("asks for 1 more"),
        "{body}"
    );
    t.server.stop().await;
}
