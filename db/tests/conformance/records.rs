//! Single-record behaviour: accounts and tokens, config and job CRUD, plugin state, nodes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keywarden_db::{
    AUDIT_GENESIS, AuditFilter, CatchUp, Database, DbError, JobConfig, JobStatus, NewAuditEntry,
    NewToken, Overlap, Recurrence, RunOn, ScheduleKind, TokenRole,
};
use serde_json::json;
use uuid::Uuid;

use crate::{assert_conflict, new_job, t};

fn token<'a>(account: &'a str, hash: &'a str, role: TokenRole, label: &'a str) -> NewToken<'a> {
    NewToken {
        account_id: account,
        token_hash: hash,
        role,
        label,
        expires_at: None,
    }
}

pub async fn accounts_and_tokens(db: Arc<dyn Database>) {
    let a = db.ensure_account("kylo").await.unwrap();
    let again = db.ensure_account("kylo").await.unwrap();
    assert_eq!(a, again, "ensure_account is idempotent");

    assert_eq!(db.count_admin_tokens().await.unwrap(), 0);
    // create_token creates the account on first use.
    let admin = db
        .create_token(&token("root", "aa11", TokenRole::Admin, "bootstrap"))
        .await
        .unwrap();
    assert!(admin.is_admin);
    assert_eq!(admin.role, TokenRole::Admin);
    assert_eq!(admin.account_id, "root");
    assert_eq!(admin.label, "bootstrap");
    let user = db
        .create_token(&token("kylo", "bb22", TokenRole::Operator, "ci"))
        .await
        .unwrap();
    assert_ne!(admin.id, user.id);
    assert!(!user.is_admin);
    assert_eq!(db.count_admin_tokens().await.unwrap(), 1);

    assert_eq!(
        db.find_token_by_hash("aa11").await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        db.find_token_by_hash("bb22").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(db.find_token_by_hash("cc33").await.unwrap(), None);
    assert_conflict(
        db.create_token(&token("kylo", "bb22", TokenRole::Admin, "dup"))
            .await,
    );
    assert_eq!(
        db.count_admin_tokens().await.unwrap(),
        1,
        "failed insert left nothing"
    );

    // Listing, per account or all; revocation is kept, and only the first instant counts.
    let reader = db
        .create_token(&NewToken {
            expires_at: Some(t(3600)),
            ..token("kylo", "dd44", TokenRole::ReadOnly, "dash")
        })
        .await
        .unwrap();
    assert_eq!(reader.expires_at, Some(t(3600)));
    assert!(reader.usable_at(t(3599)) && !reader.usable_at(t(3600)));
    let ids =
        |tokens: Vec<keywarden_db::ApiToken>| tokens.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.list_tokens(Some("kylo")).await.unwrap()),
        [user.id.clone(), reader.id.clone()]
    );
    assert_eq!(db.list_tokens(None).await.unwrap().len(), 3);
    assert_eq!(
        db.revoke_token(Some("root"), &user.id, t(10))
            .await
            .unwrap(),
        None,
        "another account's"
    );
    let revoked = db
        .revoke_token(Some("kylo"), &user.id, t(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(t(10)));
    assert!(!revoked.usable_at(t(11)));
    let again = db
        .revoke_token(None, &user.id, t(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(t(10)));
    assert_eq!(
        db.revoke_token(None, "no-such-id", t(20)).await.unwrap(),
        None
    );
    // A revoked or expired admin token does not count as one.
    db.revoke_token(None, &admin.id, Utc::now()).await.unwrap();
    assert_eq!(db.count_admin_tokens().await.unwrap(), 0);
    db.create_token(&NewToken {
        expires_at: Some(Utc::now() - chrono::Duration::seconds(1)),
        ..token("root", "ee55", TokenRole::Admin, "old")
    })
    .await
    .unwrap();
    assert_eq!(db.count_admin_tokens().await.unwrap(), 0);
}

/// The audit log keeps entries in order, each chained to the one before: a listing shows
/// a chain whose hashes hold, across appends.
pub async fn audit_log_chain(db: Arc<dyn Database>) {
    let entry = |account: &str, action: &str, at: i64| NewAuditEntry {
        at: t(at),
        account_id: account.to_owned(),
        token_id: Some("tok-1".to_owned()),
        action: action.to_owned(),
        target: "/api/v1/x".to_owned(),
        result: "201".to_owned(),
        detail: json!({"n": at}),
    };
    let first = db
        .append_audit(&[entry("kylo", "POST /x", 1), entry("rey", "DELETE /y", 2)])
        .await
        .unwrap();
    assert_eq!(first[0].seq, 1);
    assert_eq!(first[0].prev_hash, AUDIT_GENESIS);
    assert_eq!(first[1].prev_hash, first[0].hash);
    let more: Vec<NewAuditEntry> = (3..=260)
        .map(|i| entry("kylo", "job completed", i))
        .collect();
    db.append_audit(&more).await.unwrap();
    let (total, all) = db.list_audit(&AuditFilter::default(), 1000).await.unwrap();
    assert_eq!(total, 260);
    let mut prev = AUDIT_GENESIS.to_owned();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.prev_hash, prev, "entry {}", e.seq);
        assert!(e.hash_holds(), "entry {}", e.seq);
        prev = e.hash.clone();
    }
    assert_eq!(
        all[1].entry,
        entry("rey", "DELETE /y", 2),
        "stored as given"
    );
    // Filters and paging by sequence number.
    let rey = AuditFilter {
        account_id: Some("rey".into()),
        ..AuditFilter::default()
    };
    assert_eq!(db.list_audit(&rey, 10).await.unwrap().0, 1);
    let jobs = AuditFilter {
        action_prefix: Some("job ".into()),
        after_seq: Some(250),
        ..AuditFilter::default()
    };
    let (n, page) = db.list_audit(&jobs, 5).await.unwrap();
    assert_eq!((n, page.len(), page[0].seq), (10, 5, 251));
    let window = AuditFilter {
        since: Some(t(10)),
        until: Some(t(19)),
        ..AuditFilter::default()
    };
    assert_eq!(db.list_audit(&window, 100).await.unwrap().0, 10);
    // An edited entry no longer matches its hash.
    let mut forged = all[5].clone();
    forged.entry.result = "500".into();
    assert!(!forged.hash_holds());
}

pub async fn config_crud(db: Arc<dyn Database>) {
    let mut c = JobConfig::new(
        "kylo",
        "rotate AWS keys",
        "cckm_key_rotation",
        "0 1 * * *",
        t(0),
    );
    c.description = "rotate all AWS keys".into();
    c.params = json!({"cloud_name": "aws", "expire_in": "6h"});
    c.params_key = "cckm_key_rotation_params".into();
    c.timezone = Some("Europe/Paris".into());
    c.start_date = Some(t(10));
    c.end_date = Some(t(1_000_000));
    c.max_retries = 2;
    c.next_fire_at = Some(t(3600));
    c.target = Some("aws".into());
    c.schedule_kind = Some(ScheduleKind::Daily);
    c.recurrence = Some(Recurrence::Weekly {
        days: vec![chrono::Weekday::Mon, chrono::Weekday::Thu],
        at: t(5400),
    });
    c.run_on = RunOn::Node("node-7".into());
    c.catch_up = CatchUp::All;
    c.overlap = Overlap::Allow;
    let stored = db.insert_config(&c).await.unwrap();
    assert_eq!(stored, c, "insert returns exactly what was stored");

    assert_eq!(
        db.get_config(Some("kylo"), c.id).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        db.get_config(None, c.id).await.unwrap(),
        Some(c.clone()),
        "admin view"
    );
    assert_eq!(
        db.get_config(Some("other"), c.id).await.unwrap(),
        None,
        "tenant isolation"
    );
    assert_eq!(db.get_config(None, Uuid::now_v7()).await.unwrap(), None);

    // Names are unique per account, not globally.
    let dup = JobConfig::new(
        "kylo",
        "rotate AWS keys",
        "cckm_synchronization",
        "* * * * *",
        t(1),
    );
    assert_conflict(db.insert_config(&dup).await);
    let elsewhere = JobConfig::new(
        "acme",
        "rotate AWS keys",
        "cckm_key_rotation",
        "* * * * *",
        t(1),
    );
    db.insert_config(&elsewhere).await.unwrap();

    // Full replace; created_at and account are kept, updated_at moves.
    let mut edit = c.clone();
    edit.name = "rotate AWS keys daily".into();
    edit.params = json!({"cloud_name": "aws", "expire_in": "2d"});
    edit.disabled = true;
    edit.timezone = None;
    edit.start_date = None;
    edit.overlap = Overlap::Allow;
    edit.catch_up = CatchUp::All;
    edit.created_at = t(999); // ignored
    let updated = db.update_config(&edit).await.unwrap();
    assert_eq!(updated.name, "rotate AWS keys daily");
    assert_eq!(
        updated.params,
        json!({"cloud_name": "aws", "expire_in": "2d"})
    );
    assert!(updated.disabled);
    assert_eq!(updated.timezone, None);
    assert_eq!(updated.start_date, None);
    assert_eq!(
        (updated.overlap.as_str(), updated.catch_up.as_str()),
        ("allow", "all")
    );
    assert_eq!(updated.created_at, c.created_at);
    assert!(updated.updated_at > c.updated_at);
    assert_eq!(
        db.get_config(None, c.id).await.unwrap(),
        Some(updated.clone())
    );

    // Renaming onto another config's name conflicts; missing or foreign rows are NotFound.
    let other = JobConfig::new("kylo", "sync", "cckm_synchronization", "* * * * *", t(2));
    db.insert_config(&other).await.unwrap();
    let mut clash = other.clone();
    clash.name = "rotate AWS keys daily".into();
    assert_conflict(db.update_config(&clash).await);
    let mut missing = other.clone();
    missing.id = Uuid::now_v7();
    assert!(matches!(
        db.update_config(&missing).await,
        Err(DbError::NotFound)
    ));
    let mut foreign = other.clone();
    foreign.account_id = "acme".into();
    assert!(matches!(
        db.update_config(&foreign).await,
        Err(DbError::NotFound)
    ));
    let mut bad = other.clone();
    bad.max_retries = -1;
    assert!(matches!(
        db.update_config(&bad).await,
        Err(DbError::Invalid(_))
    ));

    assert!(
        !db.delete_config(Some("acme"), c.id).await.unwrap(),
        "foreign delete"
    );
    assert!(db.delete_config(Some("kylo"), c.id).await.unwrap());
    assert_eq!(db.get_config(None, c.id).await.unwrap(), None);
    assert!(!db.delete_config(None, c.id).await.unwrap());
    assert!(
        db.delete_config(None, other.id).await.unwrap(),
        "admin delete"
    );
}

pub async fn job_crud(db: Arc<dyn Database>) {
    let mut a = new_job("kylo", "first", t(0), t(0));
    a.job_config_id = Some(Uuid::now_v7());
    a.max_attempts = 3;
    let b = new_job("kylo", "second", t(5), t(1));
    assert_eq!(db.insert_jobs(&[a.clone(), b.clone()]).await.unwrap(), 2);

    let got = db.get_job(Some("kylo"), a.id).await.unwrap().unwrap();
    assert_eq!(got.id, a.id);
    assert_eq!(got.account_id, "kylo");
    assert_eq!(got.job_config_id, a.job_config_id);
    assert_eq!(
        (got.name.as_str(), got.description.as_str()),
        ("first", "first description")
    );
    assert_eq!(got.operation, "cckm_key_rotation");
    assert_eq!(got.target.as_deref(), Some("aws"));
    assert_eq!(got.params, json!({"cloud_name": "aws"}));
    assert_eq!(got.run_on, RunOn::Any);
    assert_eq!(got.status, JobStatus::Queued);
    assert_eq!((got.result, got.message, got.details), (None, None, None));
    assert!(got.logs.is_empty());
    assert_eq!((got.progress_done, got.progress_total), (0, 0));
    assert_eq!(
        (got.attempt, got.max_attempts, got.retry_backoff_secs),
        (0, 3, 30)
    );
    assert_eq!(got.scheduled_for, t(0));
    assert_eq!(
        (got.enqueued_at, got.created_at, got.updated_at),
        (t(0), t(0), t(0))
    );
    assert_eq!(
        (got.started_at, got.finished_at, got.lease_expires_at),
        (None, None, None)
    );
    assert_eq!(got.processing_node, None);
    assert_eq!(db.get_job(Some("acme"), a.id).await.unwrap(), None);
    assert!(db.get_job(None, b.id).await.unwrap().is_some());

    // A batch is all or nothing: one duplicate id rejects the whole batch.
    let c = new_job("kylo", "third", t(0), t(2));
    assert_conflict(db.insert_jobs(&[c.clone(), a.clone()]).await);
    assert_eq!(db.get_job(None, c.id).await.unwrap(), None);

    // Batches larger than one INSERT statement.
    let many: Vec<_> = (0..1200)
        .map(|i| new_job("bulk", &format!("j{i}"), t(100), t(3)))
        .collect();
    assert_eq!(db.insert_jobs(&many).await.unwrap(), 1200);
    let mut bad = new_job("kylo", "bad", t(0), t(0));
    bad.max_attempts = 0;
    assert!(matches!(
        db.insert_jobs(&[bad]).await,
        Err(DbError::Invalid(_))
    ));

    // Running jobs cannot be deleted; others can, within the account.
    let claimed = db
        .claim_jobs("n1", t(0), 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, a.id);
    assert_conflict(db.delete_job(Some("kylo"), a.id).await);
    assert!(!db.delete_job(Some("acme"), b.id).await.unwrap());
    assert!(db.delete_job(Some("kylo"), b.id).await.unwrap());
    assert!(!db.delete_job(None, b.id).await.unwrap());
    assert_eq!(db.get_job(None, b.id).await.unwrap(), None);
}

pub async fn plugin_state(db: Arc<dyn Database>) {
    assert_eq!(db.state_get("p", "s", "k").await.unwrap(), None);
    assert_eq!(db.state_size("p", "s").await.unwrap(), 0);
    db.state_set("p", "s", "k", Some("v1")).await.unwrap();
    assert_eq!(
        db.state_get("p", "s", "k").await.unwrap().as_deref(),
        Some("v1")
    );
    db.state_set("p", "s", "k", Some("é€")).await.unwrap(); // 2 + 3 bytes
    assert_eq!(
        db.state_get("p", "s", "k").await.unwrap().as_deref(),
        Some("é€")
    );
    db.state_set("p", "s", "key2", Some("")).await.unwrap();
    assert_eq!(db.state_size("p", "s").await.unwrap(), (1 + 5) + 4);
    // Plugins and scopes are separate namespaces.
    db.state_set("p", "other", "k", Some("x")).await.unwrap();
    db.state_set("q", "s", "k", Some("y")).await.unwrap();
    assert_eq!(
        db.state_get("q", "s", "k").await.unwrap().as_deref(),
        Some("y")
    );
    assert_eq!(db.state_size("p", "s").await.unwrap(), 10);
    db.state_set("p", "s", "k", None).await.unwrap();
    db.state_set("p", "s", "absent", None).await.unwrap();
    assert_eq!(db.state_get("p", "s", "k").await.unwrap(), None);
    assert_eq!(db.state_size("p", "s").await.unwrap(), 4);
    assert_eq!(
        db.state_get("p", "other", "k").await.unwrap().as_deref(),
        Some("x")
    );
}

pub async fn nodes(db: Arc<dyn Database>) {
    assert!(db.list_nodes().await.unwrap().is_empty());
    db.heartbeat("node-b", t(0)).await.unwrap();
    db.heartbeat("node-a", t(1)).await.unwrap();
    db.heartbeat("node-b", t(9)).await.unwrap();
    let nodes = db.list_nodes().await.unwrap();
    let got: Vec<_> = nodes
        .iter()
        .map(|n| (n.id.as_str(), n.first_seen_at, n.last_seen_at))
        .collect();
    assert_eq!(got, vec![("node-a", t(1), t(1)), ("node-b", t(0), t(9))]);
}

/// A target's lock: one job at a time, the holder may extend it, an expired one is
/// taken over, release only by the holder; two takers racing, one wins.
pub async fn target_locks(db: Arc<dyn Database>) {
    let store = format!("store:{}", Uuid::now_v7());
    let store = store.as_str();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    assert!(db.acquire_target_lock(store, a, t(0), t(60)).await.unwrap());
    assert!(
        !db.acquire_target_lock(store, b, t(10), t(70))
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        db.acquire_target_lock(store, a, t(10), t(120))
            .await
            .unwrap(),
        "a extends it"
    );
    assert!(
        !db.acquire_target_lock(store, b, t(100), t(160))
            .await
            .unwrap(),
        "extended to 120"
    );
    db.release_target_lock(store, b).await.unwrap();
    assert!(
        !db.acquire_target_lock(store, b, t(110), t(170))
            .await
            .unwrap(),
        "b cannot release a's"
    );
    assert!(
        db.acquire_target_lock(store, b, t(120), t(180))
            .await
            .unwrap(),
        "expired: taken over"
    );
    db.release_target_lock(store, b).await.unwrap();
    assert!(
        db.acquire_target_lock(store, a, t(130), t(190))
            .await
            .unwrap(),
        "released"
    );
    assert!(
        db.acquire_target_lock("cloud:kylo:aws", b, t(130), t(190))
            .await
            .unwrap(),
        "another target"
    );

    let contested = "cloud:kylo:gcp";
    let takers = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            db.acquire_target_lock(contested, Uuid::now_v7(), t(0), t(60))
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for taker in takers {
        won += usize::from(taker.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one of eight racing takers holds it");
}

/// Payloads are kept once per account and hash, and only for that account.
pub async fn payloads(db: Arc<dyn Database>) {
    db.put_payload("kylo", "ab12", "-----BEGIN CERTIFICATE-----")
        .await
        .unwrap();
    db.put_payload("kylo", "ab12", "ignored: already stored")
        .await
        .unwrap();
    assert_eq!(
        db.get_payload("kylo", "ab12").await.unwrap().as_deref(),
        Some("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(
        db.get_payload("rey", "ab12").await.unwrap(),
        None,
        "another account's"
    );
    assert_eq!(db.get_payload("kylo", "cd34").await.unwrap(), None);
}
