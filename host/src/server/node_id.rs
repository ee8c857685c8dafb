//! One process per node id. Two processes sharing an id would each take the other's
//! running jobs for orphans of a crash (a node recovers its own jobs at start) and run them
//! twice, so a start that finds the id heartbeating is refused. A start that is not
//! refused announces itself: version, start time, heartbeat interval.

use std::time::Duration;

use chrono::Utc;
use keywarden_db::{Database, NodeStart};

/// Refuses to start as `node_id` while another process heartbeats as it. A node seen
/// within the last two of its heartbeats is watched for one more: a live process
/// heartbeats again, a crashed one does not (a restart after a crash waits that long).
/// The other process's interval is the one it recorded at its start (this process's own
/// if longer or unknown): judged by this process's shorter interval, a live process with
/// a longer one would look crashed between two of its heartbeats.
pub async fn refuse_duplicate(
    db: &dyn Database,
    node_id: &str,
    heartbeat: Duration,
) -> anyhow::Result<()> {
    let find = |nodes: Vec<keywarden_db::Node>| nodes.into_iter().find(|n| n.id == node_id);
    let Some(node) = find(db.list_nodes().await?) else {
        return Ok(());
    };
    // Its last process said it stopped, and nothing heartbeat since.
    if node.stopped_at.is_some() {
        return Ok(());
    }
    let seen = node.last_seen_at;
    let every = node.heartbeat_interval.max(heartbeat);
    let recent = chrono::Duration::from_std(every * 2).unwrap_or(chrono::Duration::MAX);
    if Utc::now() - seen > recent {
        return Ok(());
    }
    tracing::info!(
        node = node_id,
        %seen,
        "this node id was seen moments ago; waiting one heartbeat to tell a crash from a running process"
    );
    // A live process heartbeats again by `seen + every`; wait until just past it.
    let next =
        seen + chrono::Duration::from_std(every + Duration::from_secs(2)).unwrap_or_default();
    let wait = (next - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    match find(db.list_nodes().await?).map(|n| n.last_seen_at) {
        Some(now_seen) if now_seen > seen => anyhow::bail!(
            "another keywarden process is running as node {node_id:?} (it heartbeat at {now_seen}); \
             give this one another --node-id, or stop the other first"
        ),
        _ => Ok(()),
    }
}

/// Records this process's start as `node_id`: the crate version, now, and how often it
/// heartbeats (others judge whether it is alive by that interval).
pub async fn announce(db: &dyn Database, node_id: &str, heartbeat: Duration) -> anyhow::Result<()> {
    db.start_node(&NodeStart {
        id: node_id,
        version: env!("CARGO_PKG_VERSION"),
        started_at: Utc::now(),
        heartbeat,
    })
    .await?;
    Ok(())
}
