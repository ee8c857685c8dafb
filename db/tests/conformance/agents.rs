//! Agents (orchestrators): records, lookups by thumbprint and machine, listing with
//! conditions, reset, registration credentials, sessions, and the lease rule for jobs
//! handed to an agent (failed, never handed out twice).

use std::sync::Arc;

use chrono::Duration;
use keywarden_db::{
    Agent, AgentCondition, AgentField, AgentFilter, AgentSession, AgentStatus, CertificateRenewal,
    Compare, Database, DbError, FieldValue, JobResult, JobStatus, RegistrationCredential, RunOn,
    Sort,
};
use uuid::Uuid;

use crate::executor::LEASE;
use crate::{assert_conflict, new_job, t};

fn agent(account: &str, machine: &str, secs: i64) -> Agent {
    let mut a = Agent::new(account, machine, "reg-user", t(secs));
    a.platform = 5;
    a.version = "2.19.0.0".into();
    a.capabilities = vec!["CertStores.PEM.Inventory".into(), "Custom.FetchLogs".into()];
    a
}

pub async fn agent_records(db: Arc<dyn Database>) {
    let a = db.insert_agent(&agent("acct", "web-1", 0)).await.unwrap();
    assert_eq!(a.status, AgentStatus::New);
    assert_eq!(a.capabilities.len(), 2);
    assert_eq!(
        db.get_agent(Some("acct"), a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        db.get_agent(Some("other"), a.id).await.unwrap(),
        None,
        "scoped"
    );
    assert_eq!(
        db.get_agent(None, a.id).await.unwrap().map(|x| x.id),
        Some(a.id)
    );

    let mut approved = a.clone();
    approved.status = AgentStatus::Approved;
    approved.thumbprint = Some("AA11".into());
    approved.certificate_not_after = Some(t(86_400));
    approved.certificate_renewal = CertificateRenewal::Required;
    approved.last_seen = Some(t(10));
    let stored = db.update_agent(&approved).await.unwrap();
    assert_eq!(stored.status, AgentStatus::Approved);
    assert_eq!(stored.certificate_renewal, CertificateRenewal::Required);
    assert_eq!(stored.certificate_not_after, Some(t(86_400)));
    assert_eq!(
        db.find_agent_by_thumbprint("AA11")
            .await
            .unwrap()
            .map(|x| x.id),
        Some(a.id)
    );
    assert_eq!(db.find_agent_by_thumbprint("BB22").await.unwrap(), None);

    // Renewal: the old thumbprint still finds the agent (as legacy), the new one too.
    let mut renewed = stored.clone();
    renewed.legacy_thumbprint = renewed.thumbprint.take();
    renewed.thumbprint = Some("BB22".into());
    db.update_agent(&renewed).await.unwrap();
    assert_eq!(
        db.find_agent_by_thumbprint("AA11")
            .await
            .unwrap()
            .map(|x| x.id),
        Some(a.id)
    );
    assert_eq!(
        db.find_agent_by_thumbprint("BB22")
            .await
            .unwrap()
            .map(|x| x.id),
        Some(a.id)
    );

    // A thumbprint belongs to one agent.
    let mut other = agent("acct", "web-2", 1);
    other.thumbprint = Some("BB22".into());
    assert_conflict(db.insert_agent(&other).await);

    let second = db.insert_agent(&agent("acct", "web-1", 5)).await.unwrap();
    let same_machine = db.find_agents_by_machine("acct", "web-1").await.unwrap();
    assert_eq!(
        same_machine.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![second.id, a.id],
        "newest first"
    );
    assert!(
        db.find_agents_by_machine("other", "web-1")
            .await
            .unwrap()
            .is_empty()
    );

    let mut missing = agent("acct", "ghost", 0);
    missing.id = Uuid::new_v4();
    assert!(matches!(
        db.update_agent(&missing).await,
        Err(DbError::NotFound)
    ));
}

pub async fn agent_listing(db: Arc<dyn Database>) {
    for (i, machine) in ["c-host", "a-host", "b-host"].iter().enumerate() {
        let mut a = agent("acct", machine, i as i64);
        if i == 1 {
            a.status = AgentStatus::Approved;
        }
        db.insert_agent(&a).await.unwrap();
    }
    db.insert_agent(&agent("other", "z-host", 9)).await.unwrap();
    let mine = AgentFilter {
        account_id: Some("acct".into()),
        condition: None,
    };
    let (total, page) = db
        .list_agents(&mine, &Sort::by("client_machine", false), 0, 2)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let names: Vec<_> = page.iter().map(|a| a.client_machine.as_str()).collect();
    assert_eq!(names, ["a-host", "b-host"]);

    let approved = AgentFilter {
        account_id: Some("acct".into()),
        condition: Some(AgentCondition::eq(
            AgentField::Status,
            FieldValue::Int(AgentStatus::Approved.code()),
        )),
    };
    let (total, page) = db
        .list_agents(&approved, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!((total, page[0].client_machine.as_str()), (1, "a-host"));

    let contains = AgentFilter {
        account_id: None,
        condition: Some(AgentCondition::Compare {
            field: AgentField::ClientMachine,
            op: Compare::Contains,
            value: FieldValue::Text("HOST".into()),
        }),
    };
    let (total, _) = db
        .list_agents(&contains, &Sort::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        total, 4,
        "text comparisons ignore case; None = every account"
    );

    let mismatched = AgentFilter {
        account_id: None,
        condition: Some(AgentCondition::eq(
            AgentField::Status,
            FieldValue::Text("2".into()),
        )),
    };
    assert!(matches!(
        db.list_agents(&mismatched, &Sort::default(), 0, 10).await,
        Err(DbError::Invalid(_))
    ));
    assert!(matches!(
        db.list_agents(&mine, &Sort::by("secret_hash", false), 0, 10)
            .await,
        Err(DbError::InvalidSort(_))
    ));
}

pub async fn agent_reset(db: Arc<dyn Database>) {
    let mut a = agent("acct", "web-1", 0);
    a.status = AgentStatus::Approved;
    a.thumbprint = Some("CC33".into());
    a.legacy_thumbprint = Some("DD44".into());
    a.certificate_renewal = CertificateRenewal::Requested;
    let a = db.insert_agent(&a).await.unwrap();
    let run_on = RunOn::Node(a.id.to_string());
    let mut queued = new_job("acct", "inv", t(0), t(0));
    queued.run_on = run_on.clone();
    let mut running = new_job("acct", "inv-2", t(0), t(0));
    running.run_on = run_on.clone();
    let elsewhere = new_job("acct", "local", t(0), t(0));
    db.insert_jobs(&[running.clone()]).await.unwrap();
    db.claim_agent_jobs(&a.id.to_string(), "acct", t(1), 1, LEASE)
        .await
        .unwrap();
    db.insert_jobs(&[queued.clone(), elsewhere.clone()])
        .await
        .unwrap();
    db.insert_agent_session(&session(&a, "h1", 0, 600))
        .await
        .unwrap();

    assert_eq!(db.reset_agent(Some("other"), a.id).await.unwrap(), None);
    let (reset, removed) = db.reset_agent(Some("acct"), a.id).await.unwrap().unwrap();
    assert_eq!(removed, 1, "only its queued job");
    assert_eq!(reset.status, AgentStatus::New);
    assert_eq!(reset.thumbprint, None);
    assert_eq!(reset.legacy_thumbprint, None);
    assert_eq!(reset.certificate_renewal, CertificateRenewal::None);
    assert!(db.get_job(None, queued.id).await.unwrap().is_none());
    assert!(db.get_job(None, elsewhere.id).await.unwrap().is_some());
    assert_eq!(
        db.get_job(None, running.id).await.unwrap().unwrap().status,
        JobStatus::Running,
        "a running job keeps its lease (the agent may be acting on it)"
    );
    assert_eq!(db.find_agent_session("h1", t(1)).await.unwrap(), None);
    assert_eq!(db.find_agent_by_thumbprint("CC33").await.unwrap(), None);
}

fn session(a: &Agent, hash: &str, from: i64, secs: i64) -> AgentSession {
    AgentSession {
        token_hash: hash.into(),
        agent_id: a.id,
        account_id: a.account_id.clone(),
        thumbprint: a.thumbprint.clone(),
        created_at: t(from),
        expires_at: t(from) + Duration::seconds(secs),
    }
}

pub async fn registration_credentials_and_sessions(db: Arc<dyn Database>) {
    let c = RegistrationCredential {
        username: "fleet".into(),
        account_id: "acct".into(),
        secret_hash: "ab".repeat(32),
        client_machine: Some("web-1".into()),
        created_at: t(0),
    };
    db.insert_registration_credential(&c).await.unwrap();
    assert_eq!(
        db.find_registration_credential("fleet").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        db.find_registration_credential("FLEET").await.unwrap(),
        None
    );
    let mut again = c.clone();
    again.account_id = "other".into();
    assert_conflict(db.insert_registration_credential(&again).await);
    assert!(
        !db.delete_registration_credential(Some("other"), "fleet")
            .await
            .unwrap()
    );
    let mut second = c.clone();
    second.username = "fleet-2".into();
    second.client_machine = None;
    db.insert_registration_credential(&second).await.unwrap();
    assert!(
        db.delete_registration_credential(Some("acct"), "fleet-2")
            .await
            .unwrap()
    );
    assert_eq!(
        db.find_registration_credential("fleet-2").await.unwrap(),
        None
    );

    let a = db.insert_agent(&agent("acct", "web-1", 0)).await.unwrap();
    let s = session(&a, "tok-1", 0, 60);
    db.insert_agent_session(&s).await.unwrap();
    assert_eq!(
        db.find_agent_session("tok-1", t(30)).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        db.find_agent_session("tok-1", t(61)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(db.find_agent_session("tok-2", t(30)).await.unwrap(), None);
    // A later session sweeps the expired ones away.
    db.insert_agent_session(&session(&a, "tok-2", 120, 60))
        .await
        .unwrap();
    assert_eq!(db.find_agent_session("tok-1", t(0)).await.unwrap(), None);
    assert!(
        db.find_agent_session("tok-2", t(130))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn agents_claim_only_their_own_jobs(db: Arc<dyn Database>) {
    let a = db.insert_agent(&agent("acct", "web-1", 0)).await.unwrap();
    let id = a.id.to_string();
    let mut mine = new_job("acct", "mine", t(0), t(0));
    mine.run_on = RunOn::Node(id.clone());
    let any_here = new_job("acct", "any-here", t(0), t(0));
    let any_elsewhere = new_job("other", "any-elsewhere", t(0), t(0));
    let mut forged = new_job("other", "pinned-by-another-account", t(0), t(0));
    forged.run_on = RunOn::Node(id.clone());
    db.insert_jobs(&[
        mine.clone(),
        any_here.clone(),
        any_elsewhere.clone(),
        forged.clone(),
    ])
    .await
    .unwrap();
    let claimed = db
        .claim_agent_jobs(&id, "acct", t(1), 100, LEASE)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![mine.id],
        "only its own account's jobs pinned to it; `any` jobs are the nodes'"
    );
    for other in [&any_here, &any_elsewhere, &forged] {
        assert_eq!(
            db.get_job(None, other.id).await.unwrap().unwrap().status,
            JobStatus::Queued
        );
    }
}

pub async fn agent_jobs_fail_when_their_lease_ends(db: Arc<dyn Database>) {
    let a = db.insert_agent(&agent("acct", "web-1", 0)).await.unwrap();
    let agent_id = a.id.to_string();
    let mut handed = new_job("acct", "inv", t(0), t(0));
    handed.run_on = RunOn::Node(agent_id.clone());
    handed.max_attempts = 3;
    let mut local = new_job("acct", "local", t(0), t(0));
    local.run_on = RunOn::Node("node-a".into());
    local.max_attempts = 3;
    db.insert_jobs(&[handed.clone(), local.clone()])
        .await
        .unwrap();
    assert_eq!(
        db.claim_agent_jobs(&agent_id, "acct", t(1), 10, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.claim_jobs("node-a", t(1), 10, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );

    let after = t(1) + Duration::from_std(LEASE).unwrap() + Duration::seconds(1);
    let recovered = db.recover_expired_leases(after).await.unwrap();
    assert_eq!(recovered.len(), 2);
    let h = db.get_job(None, handed.id).await.unwrap().unwrap();
    assert_eq!(
        h.status,
        JobStatus::Failed,
        "attempts left, but never handed out twice"
    );
    assert_eq!(h.result, Some(JobResult::Failure));
    let message = h.message.unwrap_or_default();
    assert!(
        message.contains("web-1") && message.contains(&agent_id) && message.contains("lease"),
        "{message}"
    );
    let l = db.get_job(None, local.id).await.unwrap().unwrap();
    assert_eq!(
        l.status,
        JobStatus::Queued,
        "a node's job is requeued as before"
    );
}
