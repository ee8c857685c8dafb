//! `/api/v1` commands: configs, jobs (with `--wait`), tokens, keys, alerts, audit,
//! plugins, nodes, api; and the exit codes of refusals.

use keywarden_tests::server::TestServer;
use serde_json::json;

use crate::support::{Kw, Token, shows};

#[tokio::test]
async fn configs_and_jobs_from_create_to_delete() {
    let s = TestServer::sqlite().await;
    let kw = Kw::new(&s, &s.admin);

    // create from flags and a file; the JSON is what the API answers for the config
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(
        &file,
        r#"{"description": "from a file", "params": {"name": "Ada"}}"#,
    )
    .unwrap();
    let created = kw
        .json(&[
            "configs",
            "create",
            "--name",
            "greet",
            "--operation",
            "hello",
            "--run-at",
            "@hourly",
            "--file",
            file.to_str().unwrap(),
        ])
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["description"], "from a file");
    let (_, api) = s
        .get(&s.admin, &format!("/api/v1/scheduler/job-configs/{id}"))
        .await;
    assert_eq!(kw.json(&["configs", "get", &id]).await, api);
    shows(
        &kw.ok(&["configs", "get", &id]).await,
        &["greet", "hello", "@hourly"],
    );

    let table = kw.ok(&["configs", "list"]).await;
    shows(
        &table,
        &["ID", "NAME", "OPERATION", &id, "greet", "@hourly", "1 of 1"],
    );
    let (_, api) = s
        .get(&s.admin, "/api/v1/scheduler/job-configs?operation=hello")
        .await;
    assert_eq!(
        kw.json(&["configs", "list", "--filter", "operation=hello"])
            .await,
        api
    );

    let updated = kw
        .json(&[
            "configs",
            "update",
            &id,
            "--description",
            "changed",
            "--params",
            r#"{"repeat": 3}"#,
        ])
        .await;
    assert_eq!(updated["description"], "changed");
    assert_eq!(updated["job_config_params"]["repeat"], 3);

    // scheduling policy flags, pause and resume
    let windows =
        r#"[{"start": "0 22 * * sat", "timezone": "Europe/Berlin", "duration_secs": 21600}]"#;
    let policy = kw
        .json(&[
            "configs",
            "update",
            &id,
            "--maintenance-windows",
            windows,
            "--jitter-secs",
            "600",
            "--pause-after-failures",
            "2",
        ])
        .await;
    assert_eq!(
        policy["maintenance_windows"],
        serde_json::from_str::<serde_json::Value>(windows).unwrap()
    );
    assert_eq!(
        (
            policy["jitter_secs"].as_i64(),
            policy["pause_after_failures"].as_i64()
        ),
        (Some(600), Some(2))
    );
    let refused = kw
        .fails(
            &[
                "configs",
                "update",
                &id,
                "--blackout-windows",
                r#"[{"start": "0 1 * * *", "duration_secs": 0}]"#,
            ],
            5,
        )
        .await;
    assert!(
        refused.contains("blackout_windows[0].duration_secs"),
        "{refused}"
    );
    let paused = kw.json(&["configs", "pause", &id]).await;
    assert_eq!(paused["disabled"], true);
    assert!(paused["paused_at"].is_string(), "{paused}");
    let resumed = kw.json(&["configs", "resume", &id]).await;
    assert_eq!(resumed["disabled"], false);
    assert_eq!(resumed["paused_at"], serde_json::Value::Null);
    let cleared = kw
        .json(&["configs", "update", &id, "--maintenance-windows", "null"])
        .await;
    assert_eq!(cleared["maintenance_windows"], serde_json::json!([]));

    // run and wait: the final job as JSON, exit 0; the table ends with the result
    let job = kw.json(&["jobs", "run", &id, "--wait"]).await;
    assert_eq!(
        (job["status"].as_str(), job["result"].as_str()),
        (Some("completed"), Some("success"))
    );
    let job_id = job["id"].as_str().unwrap().to_owned();
    let line = kw.ok(&["configs", "run-now", &id, "--wait"]).await;
    assert!(
        line.starts_with("job ") && line.contains("completed (success): Hello, Ada!"),
        "{line}"
    );

    // --dry-run asks run-now?dry_run=true: a custom operation has none (exit 5, the
    // server's reason and field), and no job is queued
    let err = kw.fails(&["jobs", "run", &id, "--dry-run"], 5).await;
    assert!(
        err.contains("operation hello has no dry run") && err.contains("(field: dry_run)"),
        "{err}"
    );

    // without --wait: the job's id at once
    let started = kw.json(&["jobs", "run", &id]).await;
    let third = started["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        kw.json(&["jobs", "get", &third, "--wait"]).await["status"],
        "completed"
    );

    let table = kw.ok(&["jobs", "list", "--config", &id]).await;
    shows(&table, &[&job_id, &third, "completed", "success", "3 of 3"]);
    let (_, api) = s
        .get(
            &s.admin,
            &format!("/api/v1/scheduler/jobs?job_config_id={id}&limit=2&sort=createdAt"),
        )
        .await;
    let listed = kw
        .json(&[
            "jobs",
            "list",
            "--config",
            &id,
            "--limit",
            "2",
            "--sort",
            "createdAt",
        ])
        .await;
    assert_eq!(listed, api);
    shows(
        &kw.ok(&["jobs", "get", &job_id]).await,
        &["status", "completed", "Hello, Ada!"],
    );

    // logs: the plugin's lines, as text and as JSON lines
    let logs = kw.ok(&["jobs", "logs", &job_id]).await;
    shows(&logs, &["info", "saying hello", "name=Ada", "repeat=3"]);
    let logs = kw.ok(&["jobs", "logs", &job_id, "-o", "json"]).await;
    let first: serde_json::Value = serde_json::from_str(logs.lines().next().unwrap()).unwrap();
    assert_eq!(first["message"], "saying hello");
    shows(
        &kw.ok(&["jobs", "logs", &job_id, "--follow"]).await,
        &["saying hello"],
    );

    let counts = kw.json(&["jobs", "counts", "--config", &id]).await;
    assert_eq!(counts["resources"][0]["count"], 3, "{counts}");
    shows(
        &kw.ok(&["jobs", "counts"]).await,
        &["DAY", "hello", "completed", "3"],
    );

    // a failing job: exit 8 with --wait, its message in the line
    let failing = kw.failing_config().await;
    let out = kw.run(&["jobs", "run", &failing, "--wait"]).await;
    assert_eq!(out.code, 8, "{out:?}");
    assert!(out.stdout.contains(" failed "), "{out:?}");

    // delete: the job, then the config; both are gone (exit 3)
    assert_eq!(kw.ok(&["jobs", "delete", &job_id]).await.trim(), "deleted");
    let err = kw.fails(&["jobs", "get", &job_id], 3).await;
    assert!(err.contains("no job with id"), "{err}");
    kw.ok(&["configs", "delete", &id]).await;
    kw.fails(&["configs", "get", &id], 3).await;
    s.stop().await;
}

#[tokio::test]
async fn refusals_exit_with_their_codes_and_the_servers_message() {
    let s = TestServer::sqlite().await;
    let kw = Kw::new(&s, &s.admin);

    // no token: 4, with a hint
    let err = kw
        .with_token(Token::None)
        .fails(&["configs", "list"], 4)
        .await;
    assert!(err.contains("KEYWARDEN_TOKEN"), "{err}");
    // a read-only token (from a file) may read but not create: 4 with the server's words
    let (_, reader) = s
        .post(
            &s.admin,
            "/api/v1/tokens",
            &json!({"account": "alice", "role": "read-only"}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", reader["token"].as_str().unwrap())).unwrap();
    let reading = kw.with_token(Token::File(file.clone()));
    reading.ok(&["configs", "list"]).await;
    let err = reading
        .fails(
            &[
                "configs",
                "create",
                "--name",
                "n",
                "--operation",
                "hello",
                "--run-at",
                "@daily",
                "--params",
                r#"{"name": "x"}"#,
            ],
            4,
        )
        .await;
    assert!(err.contains("read-only"), "{err}");
    // a bad field: 5, naming it
    let err = kw
        .fails(
            &[
                "configs",
                "create",
                "--name",
                "n",
                "--operation",
                "hello",
                "--run-at",
                "nope",
                "--params",
                r#"{"name": "x"}"#,
            ],
            5,
        )
        .await;
    assert!(err.contains("(field: run_at)"), "{err}");
    // local mistakes: 1; usage: 2
    kw.fails(&["configs", "create", "--params", "{oops"], 1)
        .await;
    kw.fails(&["configs", "create", "--file", "/nonexistent.json"], 1)
        .await;
    assert_eq!(kw.run(&["configs", "frobnicate"]).await.code, 2);
    // unknown ids: 3
    kw.fails(&["jobs", "get", "0190d2a8-0000-7000-8000-000000000000"], 3)
        .await;
    kw.fails(
        &["tokens", "revoke", "0190d2a8-0000-7000-8000-000000000000"],
        3,
    )
    .await;
    // a missing token file: 1
    kw.with_token(Token::File(dir.path().join("absent")))
        .fails(&["configs", "list"], 1)
        .await;

    // the server down: 6
    let down = Kw {
        server: format!("http://127.0.0.1:{}", keywarden_tests::free_port()),
        ..kw.clone()
    };
    let err = down.fails(&["jobs", "list"], 6).await;
    assert!(err.contains("cannot reach the server"), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn tokens_plugins_keys_alerts_nodes_audit_and_raw_calls() {
    let s = TestServer::sqlite().await;
    let kw = Kw::new(&s, &s.admin);

    // tokens: the secret alone on stdout (shown once), usable at once; listed; revoked
    let out = kw
        .run(&[
            "tokens",
            "create",
            "--account",
            "bob",
            "--label",
            "ci",
            "--role",
            "operator",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let secret = out.stdout.trim().to_owned();
    assert!(out.stderr.contains("for account bob (operator)"), "{out:?}");
    let bob = kw.with_token(Token::Env(secret.clone()));
    bob.ok(&["configs", "list"]).await;
    let created = kw
        .json(&[
            "tokens",
            "create",
            "--account",
            "bob",
            "--role",
            "read-only",
            "--expires-in-days",
            "3",
        ])
        .await;
    assert!(created["expires_at"].is_string(), "{created}");
    let listed = kw.json(&["tokens", "list", "--account", "bob"]).await;
    let (_, api) = s.get(&s.admin, "/api/v1/tokens?account=bob").await;
    assert_eq!(listed, api);
    assert!(
        !listed.to_string().contains(&secret),
        "lists never show secrets"
    );
    let table = kw.ok(&["tokens", "list", "--account", "bob"]).await;
    shows(&table, &["bob", "ci", "operator", "read-only"]);
    let bob_id = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        kw.ok(&["tokens", "revoke", &bob_id]).await.trim(),
        "revoked"
    );
    bob.fails(&["configs", "list"], 4).await;
    // a non-admin may not issue tokens
    let alice = Kw::new(&s, &s.token("alice", false).await);
    alice
        .fails(&["tokens", "create", "--account", "alice"], 4)
        .await;

    // plugins: the server's, as alice may use them
    shows(
        &alice.ok(&["plugins", "list"]).await,
        &["NAME", "hello", "noop", "ready"],
    );
    let (_, api) = s.get(&s.admin, "/api/v1/plugins").await;
    assert_eq!(kw.json(&["plugins", "list"]).await, api);

    // keys and alerts: empty lists, both formats
    let (_, api) = s.get(&s.admin, "/api/v1/cckm/keys").await;
    assert_eq!(kw.json(&["keys", "list"]).await, api);
    shows(
        &kw.ok(&["keys", "list", "--cloud", "aws"]).await,
        &["KEY ID", "0 of 0"],
    );
    let (_, api) = s.get(&s.admin, "/api/v1/alerts").await;
    assert_eq!(kw.json(&["alerts", "list"]).await, api);
    shows(&kw.ok(&["alerts", "list"]).await, &["KIND", "0 of 0"]);

    // nodes: this one, alive (the heartbeat may move last_seen_at between two reads)
    let nodes = alice.json(&["nodes", "list"]).await;
    assert_eq!(
        (
            &nodes["total"],
            &nodes["resources"][0]["id"],
            &nodes["resources"][0]["alive"]
        ),
        (&json!(1), &json!("test-node"), &json!(true)),
        "{nodes}"
    );
    shows(
        &alice.ok(&["nodes", "list"]).await,
        &[
            "ID",
            "VERSION",
            "ALIVE",
            "RUNNING",
            "test-node",
            "true",
            "1 of 1",
        ],
    );

    // audit: the token issued above is there; the chain holds
    let audit = kw
        .json(&["audit", "list", "--action", "POST", "--limit", "100"])
        .await;
    assert_eq!(audit["chain_intact"], true);
    let table = kw.ok(&["audit", "list", "--account", "admin"]).await;
    shows(
        &table,
        &["SEQ", "POST", "/api/v1/tokens", "chain intact: true"],
    );
    alice.fails(&["audit", "list"], 4).await;

    // raw calls, health and the contract
    let (_, api) = s.get(&s.admin, "/api/v1/scheduler/jobs?limit=1").await;
    assert_eq!(
        kw.json(&[
            "api",
            "get",
            "/api/v1/scheduler/jobs",
            "--filter",
            "limit=1"
        ])
        .await,
        api
    );
    shows(&kw.ok(&["api", "health"]).await, &["status"]);
    let doc = kw.json(&["api", "openapi"]).await;
    assert!(doc["paths"]["/api/v1/scheduler/job-configs"].is_object());
    kw.fails(&["api", "get", "/api/v1/nothing-here"], 3).await;
    // an answer that is not JSON prints as it is
    shows(&kw.ok(&["api", "get", "/metrics"]).await, &["# TYPE"]);
    s.stop().await;
}

#[tokio::test]
async fn https_with_the_servers_internal_ca() {
    let s = TestServer::sqlite_tls(keywarden::operator_config::OperatorConfig::default()).await;
    // Kw passes the server's CA certificate as --ca-file
    let kw = Kw::new(&s, &s.admin);
    assert!(kw.server.starts_with("https://"), "{}", kw.server);
    let (_, api) = s.get(&s.admin, "/api/v1/scheduler/job-configs").await;
    assert_eq!(kw.json(&["configs", "list"]).await, api);
    // without it the server's certificate is not trusted: unreachable, 6
    let untrusting = Kw {
        ca_file: None,
        ..kw.clone()
    };
    let err = untrusting.fails(&["configs", "list"], 6).await;
    assert!(err.contains("certificate"), "{err}");
    s.stop().await;
}
