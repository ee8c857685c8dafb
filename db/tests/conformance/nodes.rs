//! Nodes as an operator sees them: what each process recorded at its start, its
//! heartbeats, the jobs it runs (counted when read, per account) and the queued jobs that
//! wait for a node that stopped (told once, whoever tells).

use std::sync::Arc;
use std::time::Duration;

use keywarden_db::{Database, JobStatus, NodeStart, RunOn};

use crate::executor::LEASE;
use crate::{new_job, t};

fn start<'a>(id: &'a str, version: &'a str, at: i64, heartbeat_secs: u64) -> NodeStart<'a> {
    NodeStart {
        id,
        version,
        started_at: t(at),
        heartbeat: Duration::from_secs(heartbeat_secs),
    }
}

/// A restart replaces version, start time and interval; first sight stays.
pub async fn nodes_record_their_start(db: Arc<dyn Database>) {
    db.start_node(&start("node-a", "0.1.0", 10, 10))
        .await
        .unwrap();
    db.heartbeat("node-a", t(20)).await.unwrap();
    // A node that only heartbeats (never announced a start) started when first seen.
    db.heartbeat("node-b", t(15)).await.unwrap();
    db.start_node(&start("node-a", "0.2.0", 100, 2))
        .await
        .unwrap();
    let nodes = db.list_nodes().await.unwrap();
    let got: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n.id.as_str(),
                n.version.as_str(),
                n.first_seen_at,
                n.started_at,
                n.last_seen_at,
                n.heartbeat_interval,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "node-a",
                "0.2.0",
                t(10),
                t(100),
                t(100),
                Duration::from_secs(2)
            ),
            ("node-b", "", t(15), t(15), t(15), Duration::from_secs(10)),
        ]
    );
}

/// Running jobs per node, all accounts or one; queued and finished jobs do not count.
pub async fn running_jobs_are_counted_per_node(db: Arc<dyn Database>) {
    assert!(db.running_jobs_per_node(None).await.unwrap().is_empty());
    // Due one second apart, so claims take them in this order.
    let jobs: Vec<_> = [
        ("alice", "a1"),
        ("alice", "a2"),
        ("alice", "a3"),
        ("bob", "b1"),
        ("bob", "b2"),
    ]
    .iter()
    .zip(0..)
    .map(|((account, name), due)| new_job(account, name, t(due), t(0)))
    .collect();
    db.insert_jobs(&jobs).await.unwrap();
    // node-a takes three (a1, a2, a3), node-b the next one (b1); b2 stays queued.
    assert_eq!(
        db.claim_jobs("node-a", t(9), 3, LEASE).await.unwrap().len(),
        3
    );
    assert_eq!(
        db.claim_jobs("node-b", t(9), 1, LEASE).await.unwrap().len(),
        1
    );
    let finished = crate::executor::finish(jobs[0].id, "node-a", JobStatus::Completed);
    assert_eq!(db.finish_jobs(&[finished]).await.unwrap(), 1);
    assert_eq!(
        db.running_jobs_per_node(None).await.unwrap(),
        vec![("node-a".to_owned(), 2), ("node-b".to_owned(), 1)]
    );
    assert_eq!(
        db.running_jobs_per_node(Some("alice")).await.unwrap(),
        vec![("node-a".to_owned(), 2)]
    );
    assert_eq!(
        db.running_jobs_per_node(Some("bob")).await.unwrap(),
        vec![("node-b".to_owned(), 1)]
    );
    assert!(
        db.running_jobs_per_node(Some("carol"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Only due, queued jobs pinned to the node are told; each once per message, even when
/// several nodes tell at the same moment.
pub async fn jobs_waiting_for_a_node_are_told_once(db: Arc<dyn Database>) {
    let pinned = |name: &str, due: i64| {
        let mut j = new_job("alice", name, t(due), t(0));
        j.run_on = RunOn::Node("node-x".into());
        j
    };
    let (due, later) = (pinned("due", 5), pinned("later", 500));
    let other = new_job("alice", "any", t(5), t(0));
    db.insert_jobs(&[due.clone(), later.clone(), other.clone()])
        .await
        .unwrap();
    let msg = "waits for node node-x, last seen at 2020-01-01T00:00:00Z";
    let told: Vec<_> = futures_util::future::join_all(
        (0..4).map(|_| db.note_jobs_waiting_for("node-x", t(10), msg)),
    )
    .await
    .into_iter()
    .flat_map(Result::unwrap)
    .collect();
    assert_eq!(told.len(), 1, "told once whoever tells: {told:?}");
    assert_eq!(told[0].id, due.id);
    assert_eq!(told[0].message.as_deref(), Some(msg));
    assert_eq!(told[0].status, JobStatus::Queued);
    assert!(
        db.note_jobs_waiting_for("node-x", t(10), msg)
            .await
            .unwrap()
            .is_empty(),
        "already told"
    );
    let again = db
        .note_jobs_waiting_for("node-x", t(10), "waits for node node-x, last seen later")
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "a new message is told again");
    for id in [later.id, other.id] {
        let j = db.get_job(None, id).await.unwrap().unwrap();
        assert_eq!(j.message, None, "{} was not due or not pinned", j.name);
    }
}

/// A clean stop is recorded until the node's next start, which clears it.
pub async fn a_clean_stop_is_recorded_until_the_next_start(db: Arc<dyn Database>) {
    let stopped = |db: Arc<dyn Database>| async move {
        db.list_nodes()
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.id == "node-a")
            .unwrap()
            .stopped_at
    };
    db.start_node(&start("node-a", "0.1.0", 10, 10))
        .await
        .unwrap();
    assert_eq!(stopped(db.clone()).await, None);
    db.stop_node("node-a", t(50)).await.unwrap();
    assert_eq!(stopped(db.clone()).await, Some(t(50)));
    db.start_node(&start("node-a", "0.1.0", 60, 10))
        .await
        .unwrap();
    assert_eq!(stopped(db.clone()).await, None, "the next start clears it");
    // Stopping a node never seen changes nothing.
    db.stop_node("node-z", t(70)).await.unwrap();
    assert!(
        db.list_nodes()
            .await
            .unwrap()
            .iter()
            .all(|n| n.id != "node-z")
    );
}
