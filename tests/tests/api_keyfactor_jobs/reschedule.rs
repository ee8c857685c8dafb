//! Reschedule and Acknowledge, by ids and by query.

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn reschedule_and_acknowledge(s: &TestServer) {
    let t = s.admin.as_str();
    let d = seed(s).await;
    let total_before = history(s, t, &[]).await.1;
    let refused = |body: &Value| -> Vec<(i64, String)> {
        body["refused"]
            .as_array()
            .unwrap_or(&vec![])
            .iter()
            .map(|r| {
                (
                    r["JobAuditId"].as_i64().unwrap(),
                    r["Reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };

    // Body shape.
    for (body, field) in [
        (json!({}), "JobAuditIds"),
        (
            json!({"JobAuditIds": [1], "Query": "Result -eq 4"}),
            "Query",
        ),
        (json!({"JobAuditIds": []}), "JobAuditIds"),
        (json!({"JobAuditIds": ["1"]}), "JobAuditIds[0]"),
        (json!({"JobAuditIds": "1"}), "JobAuditIds"),
        (json!({"Query": "  "}), "Query"),
        (json!({"Query": 4}), "Query"),
        (json!({"Query": "Result -eq 4", "Force": true}), "Force"),
    ] {
        let (status, err) = s.post(t, RESCHEDULE, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["field"], field, "{body}: {err}");
    }

    // A batch with an ineligible job is refused whole, with the reference's reason.
    // Settled on purpose: what refuses it is the jobs' state, a conflict (409; it was 400).
    let (status, err) = s
        .post(
            t,
            RESCHEDULE,
            &json!({"JobAuditIds": [id(&d.weekly), id(&d.panic_now)]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let why = refused(&err);
    assert_eq!(why.len(), 1, "{err}");
    assert_eq!(why[0].0, id(&d.panic_now));
    assert!(why[0].1.contains("POST /OrchestratorJobs/Custom"), "{err}");
    let (status, err) = s
        .post(
            t,
            RESCHEDULE,
            &json!({"JobAuditIds": [id(&d.daily), id(&d.greet[0])]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    // Listed in audit-id order: greet[0] came first.
    let why = refused(&err);
    assert_eq!(
        (why[0].0, why[1].0),
        (id(&d.greet[0]), id(&d.daily)),
        "{err}"
    );
    assert!(why[0].1.contains("only failed jobs"), "{err}");
    assert!(
        why[1].1.contains("weekly or monthly") && why[1].1.contains("daily"),
        "{err}"
    );
    // Unknown ids: 404 naming them.
    let (status, err) = s
        .post(
            t,
            RESCHEDULE,
            &json!({"JobAuditIds": [id(&d.weekly), 987654]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(refused(&err)[0].0, 987654);
    // Another account's jobs do not exist for it.
    let bob = s.token("bob", false).await;
    let (status, _) = s
        .post(&bob, RESCHEDULE, &json!({"JobAuditIds": [id(&d.weekly)]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing happened.
    assert_eq!(history(s, t, &[]).await.1, total_before);
    assert!(entry(s, t, d.weekly["JobId"].as_str().unwrap()).await["RescheduledAsJobId"].is_null());

    // By ids: the weekly custom job re-runs (and fails again, as the plugin does).
    let (status, err) = s
        .post(t, RESCHEDULE, &json!({"JobAuditIds": [id(&d.weekly)]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    let old = entry(s, t, d.weekly["JobId"].as_str().unwrap()).await;
    let rerun_id = old["RescheduledAsJobId"]
        .as_str()
        .expect("marked")
        .to_owned();
    s.wait_job(t, &rerun_id, WAIT).await;
    let rerun = entry(s, t, &rerun_id).await;
    assert!(id(&rerun) > id(&d.panic_now));
    assert_eq!(rerun["JobConfigId"], d.weekly["JobConfigId"]);
    assert_eq!(
        (rerun["JobType"].as_str(), rerun["ScheduleType"].as_str()),
        (Some("panic"), Some("W_"))
    );
    assert_eq!(
        (rerun["Result"].as_i64(), rerun["Status"].as_i64()),
        (Some(4), Some(3))
    );
    // Twice: refused.
    let (status, err) = s
        .post(t, RESCHEDULE, &json!({"JobAuditIds": [id(&d.weekly)]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(refused(&err)[0].1.contains("already rescheduled"), "{err}");

    // By query: only what it selects, and only if all of it is eligible.
    let (status, err) = s
        .post(t, RESCHEDULE, &json!({"Query": "Result -eq 4"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let refused_ids: Vec<i64> = refused(&err).iter().map(|r| r.0).collect();
    assert_eq!(
        refused_ids,
        [id(&d.weekly), id(&d.daily), id(&d.panic_now)],
        "{err}"
    );
    let before = history(s, t, &[]).await.1;
    let (status, err) = s
        .post(
            t,
            RESCHEDULE,
            &json!({"Query": "JobType -eq panic AND ScheduleType -eq M_ AND Result -eq 4"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    assert_eq!(history(s, t, &[]).await.1, before + 1);
    let monthly = entry(s, t, d.monthly["JobId"].as_str().unwrap()).await;
    let rerun_id = monthly["RescheduledAsJobId"]
        .as_str()
        .expect("marked")
        .to_owned();
    s.wait_job(t, &rerun_id, WAIT).await;
    assert_eq!(entry(s, t, &rerun_id).await["ScheduleType"], "M_");
    // A query selecting nothing does nothing.
    let (status, _) = s
        .post(t, RESCHEDULE, &json!({"Query": "JobType -eq nothing"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Acknowledge: failed or warning jobs only, all or nothing.
    let (status, err) = s
        .post(
            t,
            ACKNOWLEDGE,
            &json!({"JobAuditIds": [id(&d.panic_now), id(&d.greet[0])]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(refused(&err)[0].0, id(&d.greet[0]));
    assert_eq!(
        entry(s, t, d.panic_now["JobId"].as_str().unwrap()).await["Status"],
        3
    );
    let (status, err) = s
        .post(t, ACKNOWLEDGE, &json!({"JobAuditIds": [id(&d.panic_now)]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    assert_eq!(
        entry(s, t, d.panic_now["JobId"].as_str().unwrap()).await["Status"],
        4
    );
    assert_eq!(select(s, t, "Status -eq 4").await, [id(&d.panic_now)]);
    // Acknowledged is not eligible for acknowledging again.
    let (status, _) = s
        .post(t, ACKNOWLEDGE, &json!({"JobAuditIds": [id(&d.panic_now)]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The reference's eligibility query.
    let eligible =
        "(Result -eq \"4\" OR Result -eq \"3\") AND (Status -eq \"3\" OR Status -eq \"5\")";
    let (status, err) = s.post(t, ACKNOWLEDGE, &json!({"Query": eligible})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    assert!(select(s, t, eligible).await.is_empty());
    assert_eq!(
        select(s, t, "Status -eq 4").await,
        select(s, t, "Result -eq 4").await
    );
    // An acknowledged weekly failure can still be rescheduled; an immediate one cannot.
    let rerun = select(s, t, "ScheduleType -eq W_ AND JobType -eq panic").await;
    let latest = *rerun.last().unwrap();
    let (status, err) = s
        .post(t, RESCHEDULE, &json!({"JobAuditIds": [latest]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{err}");
    let (status, _) = s
        .post(t, RESCHEDULE, &json!({"JobAuditIds": [id(&d.panic_now)]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_reruns_only_eligible_failed_jobs_and_acknowledge() {
    on_each_backend(reschedule_and_acknowledge).await;
}
