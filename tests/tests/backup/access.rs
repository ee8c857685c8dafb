//! Who may back up, what bad params get, and where secrets never go: a team's token (any
//! role) gets 403 naming the rule, for a config and for its offer; bad params a 422 naming
//! the field; the backup key shows in no response, job record, or the database.

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{CONFIGS, age_keygen, backup, config, file_contains, seed};

const CONNECTION: &str = r#"
[backup.connections.offsite]
host = "127.0.0.1"
port = 1
user = "nobody"
key_secret = "backup_key"
remote_dir = "/tmp"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAY9GDfwyxCsSJ5VyFCWsH8k+cN8s4BqGLkzoqaeYoLf"
"#;

fn body(params: Value) -> Value {
    json!({"name": "nightly-backup", "operation": "database_backup", "run_at": "0 3 * * *",
           "database_backup_params": params})
}

async fn scenario(s: &TestServer, key: &crate::support::Key) {
    let alice = seed(s).await;
    let alice_admin = s.token("alice", true).await;
    for token in [&alice, &alice_admin] {
        let (status, err) = s
            .post(token, CONFIGS, &body(json!({"backupKey": "backup_key"})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("reserved to the admin account"), "{err}");
        assert_eq!(err["field"], "operation", "{err}");
    }
    // The contract offers it to admins only.
    let (_, doc) = s.get(&s.admin, "/openapi.json").await;
    assert!(doc.to_string().contains("database_backup_params"));
    for token in [&alice, &alice_admin] {
        let (_, doc) = s.get(token, "/openapi.json").await;
        assert!(!doc.to_string().contains("database_backup"));
    }

    // Bad params: 422 naming the field and the reason.
    for (params, field, says) in [
        (
            json!({"backupKey": "missing"}),
            "database_backup_params.backupKey",
            "not configured",
        ),
        (
            json!({"backupKey": "short_key"}),
            "database_backup_params.backupKey",
            "shorter than 16 characters",
        ),
        (json!({}), "database_backup_params.backupKey", "required"),
        (
            json!({"backupKey": "backup_key", "do_scp": true}),
            "database_backup_params.connection",
            "required with do_scp",
        ),
        (
            json!({"backupKey": "backup_key", "do_scp": true, "connection": "nowhere"}),
            "database_backup_params.connection",
            "not configured",
        ),
        (
            json!({"backupKey": "backup_key", "compress": "max"}),
            "database_backup_params.compress",
            "",
        ),
    ] {
        let (status, err) = s.post(&s.admin, CONFIGS, &body(params.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{params}: {err}");
        assert_eq!(err["field"], field, "{params}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(says),
            "{params}: {err}"
        );
        assert!(!err.to_string().contains(&key.value));
    }

    // A backup job: the key is nowhere a user or the database can see it.
    let job = backup(
        s,
        json!({"backupKey": "backup_key", "description": "nightly"}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["details"]["result"], "success", "{job}");
    let tables = job["details"]["details"]["manifest"]["tables"]
        .as_array()
        .unwrap();
    let jobs_counted = tables.iter().find(|t| t["name"] == "jobs").unwrap();
    assert!(jobs_counted["rows"].as_u64().unwrap() >= 2, "{job}");
    let (_, configs) = s.get(&s.admin, &format!("{CONFIGS}?limit=100")).await;
    let (_, jobs) = s
        .get(
            &s.admin,
            "/api/v1/scheduler/jobs?limit=100&include=params,logs",
        )
        .await;
    let (_, audit) = s.get(&s.admin, "/api/v1/audit?limit=1000").await;
    for seen in [&job, &configs, &jobs, &audit] {
        assert!(!seen.to_string().contains(&key.value), "{seen}");
    }
    if s.backend == "sqlite" {
        let db = std::path::Path::new(s.database_url());
        for file in [db.to_path_buf(), db.with_extension("db-wal")] {
            assert!(!file_contains(&file, &key.value), "{}", file.display());
        }
    } else {
        let n = s
            .query_count(&format!(
                "SELECT COUNT(*) FROM jobs WHERE params LIKE '%{0}%' OR details LIKE '%{0}%' \
                 OR logs LIKE '%{0}%' OR message LIKE '%{0}%'",
                key.value
            ))
            .await;
        assert_eq!(n, 0);
    }
    let file = crate::support::file_of(&job);
    assert!(!file_contains(&file, &key.value));
    // Owner-only, like the database.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    // A team cannot run the admin's backup config either: its operator token does not
    // see it, and its admin-role token (which sees every account) is still the team's.
    let id = job["job_config_id"].as_str().unwrap();
    let (status, _) = s
        .post(&alice, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let reserved = |status: StatusCode, body: &Value| {
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body.to_string().contains("reserved to the admin account"),
            "{body}"
        );
    };
    let (status, body) = s
        .post(&alice_admin, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    reserved(status, &body);
    let (status, body) = s
        .patch(
            &alice_admin,
            &format!("{CONFIGS}/{id}"),
            &json!({"database_backup_params": {"backupKey": "backup_key", "do_scp": false}}),
        )
        .await;
    reserved(status, &body);
    let (status, body) = s.delete(&alice_admin, &format!("{CONFIGS}/{id}")).await;
    reserved(status, &body);
    let history = format!(
        "/KeyfactorAPI/OrchestratorJobs/JobHistory?QueryString=JobId%20-eq%20{}",
        job["id"].as_str().unwrap()
    );
    let (status, entries) = s.get(&s.admin, &history).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    let audit_id = entries[0]["JobAuditId"].clone();
    let (status, body) = s
        .post(
            &alice_admin,
            "/KeyfactorAPI/OrchestratorJobs/Reschedule",
            &json!({"JobAuditIds": [audit_id]}),
        )
        .await;
    reserved(status, &body);
    // The config is as it was, and still the admin's to run.
    let (status, kept) = s.get(&s.admin, &format!("{CONFIGS}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    let (status, body) = s
        .post(&s.admin, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_only_clear_refusals_and_no_secret_shown() {
    let key = age_keygen();
    let s = TestServer::sqlite_with(config(&key, CONNECTION)).await;
    scenario(&s, &key).await;
    s.stop().await;
    if let Some(s) = TestServer::postgres_with(config(&key, CONNECTION)).await {
        scenario(&s, &key).await;
        s.stop().await;
    }
}
