//! JobHistory: filtering, sorting and paging through the query language.

use keywarden_tests::server::{TestServer, on_each_backend};
use serde_json::Value;

use crate::support::*;

async fn history_queries(s: &TestServer) {
    let t = s.admin.as_str();
    let d = seed(s).await;
    let all = [
        &d.greet[0],
        &d.greet[1],
        &d.weekly,
        &d.monthly,
        &d.daily,
        &d.hello_now,
        &d.panic_now,
    ];
    let ids: Vec<i64> = all.iter().map(|e| id(e)).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "audit ids grow in creation order");

    // What an entry looks like.
    let w = &d.weekly;
    assert_eq!(w["JobType"], "panic");
    assert_eq!(w["ScheduleType"], "W_");
    assert_eq!(
        (w["Result"].as_i64(), w["Status"].as_i64()),
        (Some(4), Some(3))
    );
    assert_eq!(w["Agent"], "test-node");
    assert_eq!(w["JobHistoryId"], w["JobAuditId"]);
    assert!(
        w["Message"]
            .as_str()
            .unwrap()
            .contains("the plugin crashed"),
        "{w}"
    );
    assert!(
        w["OperationStart"].is_string() && w["OperationEnd"].is_string(),
        "{w}"
    );
    assert_eq!(d.monthly["ScheduleType"], "M_");
    assert_eq!(d.daily["ScheduleType"], "D_");
    assert_eq!(d.greet[0]["ScheduleType"], "I_");
    assert_eq!(d.panic_now["ScheduleType"], Value::Null);
    assert_eq!(
        (d.greet[0]["Result"].as_i64(), d.greet[0]["Status"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(d.hello_now["JobType"], "hello");

    // Filtering.
    let pick = |entries: &[&Value]| entries.iter().map(|e| id(e)).collect::<Vec<_>>();
    let failed = pick(&[&d.weekly, &d.monthly, &d.daily, &d.panic_now]);
    let hello = pick(&[&d.greet[0], &d.greet[1], &d.hello_now]);
    assert_eq!(select(s, t, "").await, ids);
    assert_eq!(select(s, t, "Result -eq 4").await, failed);
    assert_eq!(
        select(s, t, "result -EQ Failure and status -eq \"3\"").await,
        failed
    );
    assert_eq!(
        select(s, t, "Result -eq 2 AND JobType -eq \"HELLO\"").await,
        hello
    );
    assert_eq!(select(s, t, "NOT Result -eq 4").await, hello);
    assert_eq!(
        select(
            s,
            t,
            "JobType -eq panic AND (ScheduleType -eq W_ OR ScheduleType -eq \"Monthly\")"
        )
        .await,
        pick(&[&d.weekly, &d.monthly])
    );
    // Precedence: NOT > AND > OR.
    assert_eq!(
        select(
            s,
            t,
            "ScheduleType -eq D_ OR JobType -eq hello AND ScheduleType -eq null"
        )
        .await,
        pick(&[&d.daily, &d.hello_now])
    );
    assert_eq!(
        select(
            s,
            t,
            "(ScheduleType -eq D_ OR JobType -eq hello) AND ScheduleType -eq null"
        )
        .await,
        pick(&[&d.hello_now])
    );
    assert_eq!(
        select(s, t, "ScheduleType -eq null").await,
        pick(&[&d.hello_now, &d.panic_now])
    );
    assert_eq!(select(s, t, "ScheduleType -ne null").await.len(), 5);
    assert_eq!(
        select(s, t, "Message -contains \"PLUGIN CRASHED\"").await,
        failed
    );
    assert_eq!(
        select(s, t, "Agent -eq test-node AND AgentId -ne null").await,
        ids
    );
    assert_eq!(select(s, t, "TargetPath -eq null").await, ids);
    assert_eq!(select(s, t, "JobType -startswith pan").await, failed);
    assert_eq!(
        select(s, t, &format!("JobId -eq {}", ids[2])).await,
        [ids[2]]
    );
    assert_eq!(
        select(s, t, &format!("JobAuditId -gt {}", ids[4])).await,
        ids[5..]
    );
    assert_eq!(
        select(
            s,
            t,
            &format!("JobId -eq {}", d.weekly["JobId"].as_str().unwrap())
        )
        .await,
        [id(&d.weekly)]
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        select(s, t, &format!("OperationStart -ge {today}")).await,
        ids
    );
    assert!(select(s, t, "OperationEnd -lt 2000-01-01").await.is_empty());
    let start = d.daily["OperationStart"].as_str().unwrap();
    assert_eq!(
        select(
            s,
            t,
            &format!("OperationStart -ge \"{start}\" AND Result -eq 4")
        )
        .await,
        pick(&[&d.daily, &d.panic_now])
    );
    assert!(
        select(s, t, "Status -eq 1 OR Status -eq 2 OR Status -eq 5")
            .await
            .is_empty()
    );

    // The codes shown and the codes filtered agree, and partition the jobs.
    for (field, codes) in [
        ("Status", &[0, 1, 2, 3, 4, 5][..]),
        ("Result", &[0, 2, 3, 4][..]),
    ] {
        let mut seen = 0;
        for code in codes {
            let (page, _) = history(s, t, &[("QueryString", &format!("{field} -eq {code}"))]).await;
            assert!(
                page.iter().all(|e| e[field] == *code),
                "{field} {code}: {page:?}"
            );
            seen += page.len();
        }
        assert_eq!(seen, ids.len(), "{field}");
    }

    // Sorting and paging.
    let (page, total) = history(s, t, &[("SortField", "JobId"), ("SortAscending", "1")]).await;
    assert_eq!(total, 7);
    let mut desc = ids.clone();
    desc.reverse();
    assert_eq!(page.iter().map(id).collect::<Vec<_>>(), desc);
    let (page, total) = history(s, t, &[("ReturnLimit", "2"), ("PageReturned", "2")]).await;
    assert_eq!(
        (total, page.iter().map(id).collect::<Vec<_>>()),
        (7, ids[2..4].to_vec())
    );
    let (page, _) = history(s, t, &[("ReturnLimit", "5"), ("PageReturned", "3")]).await;
    assert!(page.is_empty());
    let (page, _) = history(s, t, &[("SortField", "Result")]).await;
    let results: Vec<i64> = page.iter().map(|e| e["Result"].as_i64().unwrap()).collect();
    assert_eq!(
        results,
        [2, 2, 2, 4, 4, 4, 4],
        "Result codes ascending, then audit id"
    );
    let (page, _) = history(
        s,
        t,
        &[("SortField", "jobtype"), ("SortAscending", "false")],
    )
    .await;
    assert_eq!(page[0]["JobType"], "panic");
    let (page, _) = history(
        s,
        t,
        &[("SortField", "OperationStart"), ("pq.sortAscending", "1")],
    )
    .await;
    assert_eq!(page.iter().map(id).collect::<Vec<_>>(), desc);

    // ScheduleType sorts, nulls (immediate) first, then by Keyfactor's code order
    // (D_ < I_ < M_ < W_).
    let (page, _) = history(s, t, &[("SortField", "ScheduleType")]).await;
    let types: Vec<Value> = page.iter().map(|e| e["ScheduleType"].clone()).collect();
    assert_eq!(
        types,
        [
            Value::Null,
            Value::Null,
            "D_".into(),
            "I_".into(),
            "I_".into(),
            "M_".into(),
            "W_".into()
        ]
    );

    // Settled on purpose: a job keeps the ScheduleType its config had when it was queued.
    // Editing the weekly config into a daily one, or deleting the monthly one, does not
    // rewrite their past jobs (they were derived from the configs on every request before).
    let weekly_config = d.weekly["JobConfigId"].as_str().unwrap();
    let (status, body) = s
        .patch(
            t,
            &format!("/api/v1/scheduler/job-configs/{weekly_config}"),
            &serde_json::json!({"run_at": "30 2 * * *"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let monthly_config = d.monthly["JobConfigId"].as_str().unwrap();
    let (status, _) = s
        .delete(
            t,
            &format!("/api/v1/scheduler/job-configs/{monthly_config}"),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    let weekly = entry(s, t, d.weekly["JobId"].as_str().unwrap()).await;
    let monthly = entry(s, t, d.monthly["JobId"].as_str().unwrap()).await;
    assert_eq!(
        (
            weekly["ScheduleType"].as_str(),
            monthly["ScheduleType"].as_str()
        ),
        (Some("W_"), Some("M_"))
    );
    // The edited config's next job is daily.
    let next = run(s, weekly_config).await;
    assert_eq!(next["ScheduleType"], "D_");

    // Accounts: another account sees none of these.
    let bob = s.token("bob", false).await;
    assert_eq!(history(s, &bob, &[]).await.1, 0);
    assert!(
        select(s, &bob, &format!("JobId -eq {}", ids[0]))
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_history_filters_sorts_and_pages() {
    on_each_backend(history_queries).await;
}
