//! The Keyfactor orchestrator job endpoints over HTTP against the real server with the
//! real `hello` and `hostile` plugins, on SQLite and (when configured) PostgreSQL:
//! JobHistory filtering, sorting and paging through the query language, every query
//! fault answered 400 with its position, Reschedule and Acknowledge by ids and by query,
//! and custom jobs run through the Custom endpoint.

use std::time::Duration;

use keywarden_tests::server::{TestServer, on_each_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const HISTORY: &str = "/KeyfactorAPI/OrchestratorJobs/JobHistory";
const RESCHEDULE: &str = "/KeyfactorAPI/OrchestratorJobs/Reschedule";
const ACKNOWLEDGE: &str = "/KeyfactorAPI/OrchestratorJobs/Acknowledge";
const CUSTOM: &str = "/KeyfactorAPI/OrchestratorJobs/Custom";
const WAIT: Duration = Duration::from_secs(60);

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GET JobHistory with `params` (name, value); the page and X-Total-Count.
async fn history(s: &TestServer, token: &str, params: &[(&str, &str)]) -> (Vec<Value>, i64) {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = format!("{}{HISTORY}?{}", s.base, query.join("&"));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let total = response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{params:?}: {body}");
    (body.as_array().unwrap().clone(), total)
}

/// Audit ids matching `query` (ascending).
async fn select(s: &TestServer, token: &str, query: &str) -> Vec<i64> {
    let (page, total) = history(s, token, &[("QueryString", query), ("ReturnLimit", "1000")]).await;
    assert_eq!(total, page.len() as i64, "{query}");
    page.iter()
        .map(|e| e["JobAuditId"].as_i64().unwrap())
        .collect()
}

/// The history entry of a job (by GUID).
async fn entry(s: &TestServer, token: &str, job_id: &str) -> Value {
    let (page, _) = history(s, token, &[("QueryString", &format!("JobId -eq {job_id}"))]).await;
    assert_eq!(page.len(), 1, "{job_id}");
    page[0].clone()
}

async fn config(
    s: &TestServer,
    name: &str,
    operation: &str,
    run_at: &str,
    params: Value,
) -> String {
    let c = s
        .create_config(
            &s.admin,
            &json!({"name": name, "operation": operation, "run_at": run_at, "params": params}),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

/// Runs a config now and waits for the job; returns its history entry.
async fn run(s: &TestServer, config_id: &str) -> Value {
    let (status, body) = s
        .post(
            &s.admin,
            &format!("/api/v1/scheduler/job-configs/{config_id}/run-now"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job_id = body["job_id"].as_str().unwrap();
    s.wait_job(&s.admin, job_id, WAIT).await;
    entry(s, &s.admin, job_id).await
}

/// Starts an immediate custom job and waits for it; returns its history entry.
async fn custom_now(s: &TestServer, job_type: &str, fields: Value) -> Value {
    let (status, body) = s
        .post(
            &s.admin,
            CUSTOM,
            &json!({"JobTypeName": job_type, "Schedule": {"Immediate": true}, "JobFields": fields}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job_id = body["JobId"].as_str().unwrap();
    s.wait_job(&s.admin, job_id, WAIT).await;
    let e = entry(s, &s.admin, job_id).await;
    assert_eq!(e["JobAuditId"], body["JobAuditId"]);
    e
}

fn id(e: &Value) -> i64 {
    e["JobAuditId"].as_i64().unwrap()
}

/// Jobs of every kind the tests need: two successful `hello` runs of a yearly config, one
/// failing `panic` run each from a weekly, a monthly and a daily config, and immediate
/// custom jobs (`hello` succeeding, `panic` failing).
struct Seeded {
    greet: [Value; 2],
    weekly: Value,
    monthly: Value,
    daily: Value,
    hello_now: Value,
    panic_now: Value,
}

async fn seed(s: &TestServer) -> Seeded {
    let greet = config(s, "greet", "hello", "0 0 1 1 *", json!({"name": "Ada"})).await;
    let weekly = config(s, "weekly-panic", "panic", "0 9 * * mon", json!({})).await;
    let monthly = config(s, "monthly-panic", "panic", "0 3 15 * *", json!({})).await;
    let daily = config(s, "daily-panic", "panic", "30 2 * * *", json!({})).await;
    Seeded {
        greet: [run(s, &greet).await, run(s, &greet).await],
        weekly: run(s, &weekly).await,
        monthly: run(s, &monthly).await,
        daily: run(s, &daily).await,
        hello_now: custom_now(s, "hello", json!({"name": "Grace"})).await,
        panic_now: custom_now(s, "panic", json!({})).await,
    }
}

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

async fn query_faults(s: &TestServer) {
    let t = s.admin.as_str();
    for (query, position, reason) in [
        ("Message -eq \"disk", 13, "unterminated string"),
        ("Message -eq \"a\\qb\"", 15, "unknown escape"),
        ("Status -equals 3", 8, "unknown operator"),
        ("Colour -eq red", 1, "unknown field Colour"),
        ("Status -eq", 11, "missing operand"),
        ("Status -eq 3 AND", 17, "missing operand"),
        ("AND Status -eq 3", 1, "missing operand"),
        ("Status 3", 8, "missing operator"),
        ("(Status -eq 3", 1, "unbalanced parentheses"),
        ("Status -eq 3)", 13, "unbalanced parentheses"),
        (
            "Status -eq 3 Result -eq 4",
            14,
            "expected AND, OR or the end",
        ),
        ("Message -gt \"a\"", 9, "type mismatch"),
        ("OperationStart -contains 2024", 16, "type mismatch"),
        ("Status -eq Done", 12, "Status takes a code"),
        ("OperationStart -gt yesterday", 20, "takes a date"),
        ("ScheduleType -eq Yearly", 18, "ScheduleType takes"),
    ] {
        let path = format!("{HISTORY}?QueryString={}", encode(query));
        let (status, body) = s.get(t, &path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], "QueryString", "{query}: {body}");
        assert_eq!(body["position"], position, "{query}: {body}");
        assert!(
            body["reason"].as_str().unwrap().contains(reason),
            "{query}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("position {position}")),
            "{body}"
        );
        // The same fault in a Reschedule or Acknowledge query names `Query`.
        for endpoint in [RESCHEDULE, ACKNOWLEDGE] {
            let (status, body) = s.post(t, endpoint, &json!({"Query": query})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(
                (body["field"].as_str(), body["position"].as_i64()),
                (Some("Query"), Some(position as i64))
            );
        }
    }
    for (params, field) in [
        ("PageReturned=0", "PageReturned"),
        ("ReturnLimit=ten", "ReturnLimit"),
        ("SortField=ScheduleType", "SortField"),
        ("SortField=Colour", "SortField"),
        ("SortAscending=maybe", "SortAscending"),
    ] {
        let (status, body) = s.get(t, &format!("{HISTORY}?{params}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params}: {body}");
        assert_eq!(body["field"], field, "{params}: {body}");
    }
    let (status, _) = s.get(t, &format!("{HISTORY}?Colour=red")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s.call(reqwest::Method::GET, HISTORY, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Documented in the OpenAPI document.
    let (_, doc) = s
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    for path in [HISTORY, RESCHEDULE, ACKNOWLEDGE, CUSTOM] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from /openapi.json"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_fault_answers_400_with_its_position() {
    on_each_backend(query_faults).await;
}

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
    let (status, err) = s
        .post(
            t,
            RESCHEDULE,
            &json!({"JobAuditIds": [id(&d.weekly), id(&d.panic_now)]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
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
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
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
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(refused(&err)[0].1.contains("already rescheduled"), "{err}");

    // By query: only what it selects, and only if all of it is eligible.
    let (status, err) = s
        .post(t, RESCHEDULE, &json!({"Query": "Result -eq 4"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
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
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
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
    assert_eq!(status, StatusCode::BAD_REQUEST);
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
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_reruns_only_eligible_failed_jobs_and_acknowledge() {
    on_each_backend(reschedule_and_acknowledge).await;
}

async fn custom_jobs(s: &TestServer) {
    let t = s.admin.as_str();
    // Immediate: a job that completes with the plugin's details.
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello", "AgentId": "test-node",
                    "Schedule": {"Immediate": true}, "JobFields": {"name": "Ada", "repeat": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["JobTypeName"], "hello");
    assert_eq!(body["AgentId"], "test-node");
    assert_eq!(body["JobFields"], json!({"name": "Ada", "repeat": 2}));
    assert!(body["JobConfigId"].is_null());
    let job = s.wait_job(t, body["JobId"].as_str().unwrap(), WAIT).await;
    assert_eq!(
        (job["status"].as_str(), job["result"].as_str()),
        (Some("completed"), Some("success")),
        "{job}"
    );
    assert_eq!(job["details"]["details"]["greeting"], "Hello, Ada!");
    assert_eq!(job["details"]["details"]["repeat"], 2);
    assert_eq!(job["run_on"], "test-node");
    let e = entry(s, t, body["JobId"].as_str().unwrap()).await;
    assert_eq!(e["JobAuditId"], body["JobAuditId"]);
    assert_eq!(
        (e["Result"].as_i64(), e["Status"].as_i64()),
        (Some(2), Some(3))
    );
    assert!(e["ScheduleType"].is_null());

    // Recurring: a job config firing on the schedule.
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello",
                    "Schedule": {"Weekly": {"Days": ["Monday", "Thursday"], "Time": "2024-01-01T10:30:00Z"}},
                    "JobFields": {"name": "Weekly"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let config_id = body["JobConfigId"].as_str().expect("a config").to_owned();
    assert_eq!(body["JobId"], config_id.as_str());
    assert!(body["JobAuditId"].is_null());
    let (_, cfg) = s
        .get(t, &format!("/api/v1/scheduler/job-configs/{config_id}"))
        .await;
    assert_eq!(cfg["run_at"], "30 10 * * mon,thu");
    assert_eq!(cfg["operation"], "hello");
    assert!(cfg["next_run_at"].is_string(), "{cfg}");
    let fired = run(s, &config_id).await;
    assert_eq!(
        (fired["ScheduleType"].as_str(), fired["Result"].as_i64()),
        (Some("W_"), Some(2))
    );
    let (status, body) = s
        .post(
            t,
            CUSTOM,
            &json!({"JobTypeName": "hello", "Schedule": {"ExactlyOnce": {"Time": "2099-06-01T08:00:00Z"}},
                    "JobFields": {"name": "Once"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, cfg) = s
        .get(
            t,
            &format!(
                "/api/v1/scheduler/job-configs/{}",
                body["JobConfigId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        cfg["next_run_at"].as_str().map(|s| &s[..19]),
        Some("2099-06-01T08:00:00"),
        "{cfg}"
    );
    let once = run(s, body["JobConfigId"].as_str().unwrap()).await;
    assert_eq!(once["ScheduleType"], "O_");

    // Refusals name the field.
    for (request, status, field) in [
        (
            json!({"Schedule": {"Immediate": true}}),
            StatusCode::BAD_REQUEST,
            "JobTypeName",
        ),
        (
            json!({"JobTypeName": "hello", "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule",
        ),
        (
            json!({"JobTypeName": "nope", "Schedule": {"Immediate": true}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobTypeName",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": 5}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.name",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.name",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": "x", "extra": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JobFields.extra",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": [1]}),
            StatusCode::BAD_REQUEST,
            "JobFields",
        ),
        (
            json!({"JobTypeName": "hello", "AgentId": "ghost", "Schedule": {"Immediate": true}, "JobFields": {"name": "x"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "AgentId",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Hourly": {}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Interval": {"Minutes": 7}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule.Interval.Minutes",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"ExactlyOnce": {"Time": "2001-01-01T00:00:00Z"}}, "JobFields": {"name": "x"}}),
            StatusCode::BAD_REQUEST,
            "Schedule.ExactlyOnce.Time",
        ),
        (
            json!({"JobTypeName": "hello", "Schedule": {"Immediate": true}, "JobFields": {"name": "x"}, "Priority": 1}),
            StatusCode::BAD_REQUEST,
            "Priority",
        ),
    ] {
        let (got, err) = s.post(t, CUSTOM, &request).await;
        assert_eq!(got, status, "{request}: {err}");
        assert_eq!(err["field"], field, "{request}: {err}");
    }
    // Nothing was created by the refused requests.
    assert_eq!(history(s, t, &[]).await.1, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_endpoint_runs_plugin_custom_jobs() {
    on_each_backend(custom_jobs).await;
}
