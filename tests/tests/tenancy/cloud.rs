//! Attack 3: a `cckm_key_rotation` with `old_key: schedule_deletion` whose default scope
//! was every key the operator's AWS credentials see. Team B's grant pins its scope to keys
//! tagged `team = b` (moto).

use std::time::Duration;

use keywarden_tests::aws::{ACCESS_KEY, KmsServer, SECRET_KEY};
use keywarden_tests::moto::Moto;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const CONFIGS: &str = "/api/v1/scheduler/job-configs";

fn kms(moto: &Moto) -> Vec<Value> {
    moto.boto3(&["dump"], None)["keys"]
        .as_array()
        .unwrap()
        .clone()
}

fn state(keys: &[Value], id: &Value) -> String {
    keys.iter()
        .find(|k| k["KeyId"] == *id)
        .map(|k| k["KeyState"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_stays_in_the_accounts_scope() {
    let moto = Moto::start();
    let ids = moto.boto3(
        &["setup"],
        Some(&json!({"keys": [
            {"name": "a1", "aliases": ["alias/a1"], "tags": {"team": "a"}},
            {"name": "b1", "aliases": ["alias/b1"], "tags": {"team": "b"}},
            {"name": "shared", "aliases": ["alias/shared"]},
        ]})),
    );
    let lab = Lab::make();
    let secrets = format!(
        "aws-access-key-id = {{ value = \"{ACCESS_KEY}\" }}\naws-secret-access-key = {{ value = \"{SECRET_KEY}\" }}\n"
    );
    let extra = format!(
        r#"
[plugins.aws-kms]
outbound_hosts = ["{host}"]
secrets = ["aws-access-key-id", "aws-secret-access-key"]
settings = {{ endpoint = "{endpoint}", region = "us-east-1" }}
[accounts.team-b.plugins.aws-kms]
secrets = ["aws-access-key-id", "aws-secret-access-key"]
outbound_hosts = ["{host}"]
pinned_params = {{ aws_param = {{ tags = {{ team = "b" }} }} }}
"#,
        host = moto.host(),
        endpoint = moto.endpoint(),
    );
    let t = Teams::start_with(&lab, false, &secrets, &extra)
        .await
        .unwrap();
    let s = &t.server;

    // Another team's scope named outright is refused, naming the param.
    let (status, body) = s
        .post(
            &t.b,
            CONFIGS,
            &json!({"name": "steal", "operation": "cckm_key_rotation", "run_at": "0 3 * * *",
                    "cckm_key_rotation_params": {"cloud_name": "aws",
                        "aws_param": {"old_key": "schedule_deletion", "tags": {"team": "a"}}}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["field"]
            .as_str()
            .unwrap()
            .ends_with("aws_param.tags.team"),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("pins it to \"b\""),
        "{body}"
    );
    // Team A is not granted the plugin at all.
    let rotation = json!({"name": "all", "operation": "cckm_key_rotation", "run_at": "0 3 * * *",
        "cckm_key_rotation_params": {"cloud_name": "aws", "aws_param": {"old_key": "schedule_deletion"}}});
    let (status, body) = s.post(&t.a, CONFIGS, &rotation).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // No scope given: the pinned one is set, and shown.
    let config = s.create_config(&t.b, &rotation).await;
    assert_eq!(
        config["job_config_params"]["aws_param"]["tags"],
        json!({"team": "b"}),
        "{config}"
    );
    let id = config["id"].as_str().unwrap().to_owned();
    let job = run(s, &t.b, &id).await;
    assert_eq!(job["result"], "success", "{job}");
    assert_eq!(job["details"]["details"]["num_rotated"], 1, "{job}");
    let keys = kms(&moto);
    assert_eq!(state(&keys, &ids["b1"]), "PendingDeletion");
    assert_eq!(
        state(&keys, &ids["a1"]),
        "Enabled",
        "team-a's key untouched"
    );
    assert_eq!(
        state(&keys, &ids["shared"]),
        "Enabled",
        "an untagged key untouched"
    );

    // Run now asks the grants again (the params changed behind the API's back)...
    let team_a =
        r#"{"cloud_name":"aws","aws_param":{"old_key":"schedule_deletion","tags":{"team":"a"}}}"#;
    s.execute_sql(&format!(
        "UPDATE job_configs SET params = '{team_a}' WHERE id = '{id}'"
    ))
    .await;
    let (status, body) = s
        .post(&t.b, &format!("{CONFIGS}/{id}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["field"], "params.aws_param.tags.team", "{body}");
    // ...and so does the executor, for jobs the scheduler fires.
    let often = s
        .create_config(
            &t.b,
            &json!({"name": "often", "operation": "cckm_key_rotation",
            "run_at": "@every 1s", "cckm_key_rotation_params": {"cloud_name": "aws"}}),
        )
        .await;
    let often = often["id"].as_str().unwrap().to_owned();
    s.execute_sql(&format!(
        "UPDATE job_configs SET params = '{team_a}' WHERE id = '{often}'"
    ))
    .await;
    let refused = refused_job(s, &t.b, &often).await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("refused by the account's grants"),
        "{refused}"
    );
    let (status, body) = s.delete(&t.b, &format!("{CONFIGS}/{often}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(state(&kms(&moto), &ids["a1"]), "Enabled");

    // Synchronization sees the team's keys only.
    let sync = s
        .create_config(
            &t.b,
            &json!({"name": "sync", "operation": "cckm_synchronization", "run_at": "@daily",
            "cckm_synchronization_params": {"cloud_name": "aws"}}),
        )
        .await;
    let job = run(s, &t.b, sync["id"].as_str().unwrap()).await;
    assert_eq!(job["result"], "success", "{job}");
    let (status, listed) = s.get(&t.b, "/api/v1/cckm/keys?cloud_name=aws").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let text = listed.to_string();
    assert!(text.contains(ids["b1"].as_str().unwrap()), "{listed}");
    assert!(!text.contains(ids["a1"].as_str().unwrap()), "{listed}");
    assert!(!text.contains(ids["shared"].as_str().unwrap()), "{listed}");
    t.server.stop().await;
}

/// The first failed job of `config`, waiting for the scheduler to fire one.
async fn refused_job(s: &keywarden_tests::server::TestServer, token: &str, config: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = s
            .get(
                token,
                &format!("/api/v1/scheduler/jobs?job_config_id={config}&limit=100"),
            )
            .await;
        if let Some(job) = page["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|j| j["status"] == "failed")
        {
            return job.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed job of {config}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run(s: &keywarden_tests::server::TestServer, token: &str, config: &str) -> Value {
    let (status, started) = s
        .post(token, &format!("{CONFIGS}/{config}/run-now"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    s.wait_job(
        token,
        started["job_id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await
}
