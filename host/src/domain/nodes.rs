//! Nodes as an operator sees them (`GET /api/v1/nodes`): which processes run jobs, which
//! version each runs, since when, how many jobs it runs now, and whether it is alive. And
//! the one consequence of a node being dead that nobody would see otherwise: jobs pinned
//! to it (`run_on`) that wait in the queue are told so, and their configs' missed-run
//! alert is raised, instead of sitting there silently.

use chrono::{DateTime, SecondsFormat, Utc};
use keywarden_db::Node;

use super::{Caller, DomainResult, Service};

/// Heartbeats a node may miss before it counts as dead. One late heartbeat (a slow
/// database, a busy machine) must not declare a node dead; three in a row means the
/// process is gone or cut off.
pub const MISSED_HEARTBEATS: u32 = 3;

/// The interval assumed for a node that never said its own (a row from before nodes
/// recorded one): the executor's default.
const DEFAULT_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `node` is alive at `now`: it heartbeat within its last [`MISSED_HEARTBEATS`]
/// intervals, by its own interval (nodes of one cluster may heartbeat at different
/// rates, and the reader's rate says nothing about another's). The one rule for
/// "alive": the API, the dead-node report and the docs use it.
pub fn is_alive(node: &Node, now: DateTime<Utc>) -> bool {
    if node.stopped_at.is_some() {
        return false;
    }
    let every = if node.heartbeat_interval.is_zero() {
        DEFAULT_HEARTBEAT
    } else {
        node.heartbeat_interval
    };
    let grace =
        chrono::Duration::from_std(every * MISSED_HEARTBEATS).unwrap_or(chrono::Duration::MAX);
    now - node.last_seen_at <= grace
}

/// One node as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    pub node: Node,
    /// Jobs running on it now, of the caller's account (of every account for admins).
    pub running_jobs: i64,
    /// See [`is_alive`].
    pub alive: bool,
}

/// What a queued job pinned to a dead node is told: which node, when it was last seen,
/// and what the operator can do.
pub fn waiting_message(node: &Node) -> String {
    format!(
        "waits for node {} which is not alive (last seen at {}); it runs once that node is \
         back, or change run_on",
        node.id,
        node.last_seen_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

impl Service {
    /// A page of the nodes that ever ran here, by id, with the total. Any caller may
    /// list them: node ids are not secret (every account's contract offers them for
    /// `run_on`). The running-job counts are account-scoped like every job listing: a
    /// team sees how many of its own jobs each node runs, an admin all of them.
    pub async fn nodes(
        &self,
        caller: &Caller,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<NodeStatus>)> {
        let now = Utc::now();
        let nodes = self.db.list_nodes().await?;
        let running = self.db.running_jobs_per_node(caller.scope()).await?;
        let total = i64::try_from(nodes.len()).unwrap_or(i64::MAX);
        let page = nodes
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|node| NodeStatus {
                running_jobs: running
                    .iter()
                    .find(|(id, _)| *id == node.id)
                    .map_or(0, |(_, n)| *n),
                alive: is_alive(&node, now),
                node,
            })
            .collect();
        Ok((total, page))
    }

    /// Tells each due, queued job pinned to a dead node that it waits for that node
    /// ([`waiting_message`]), once, and raises its config's missed-run alert. Every node
    /// runs this; the database hands each job to one of them. Returns how many jobs were
    /// told.
    pub async fn tell_jobs_waiting_for_dead_nodes(
        &self,
        now: DateTime<Utc>,
    ) -> DomainResult<usize> {
        let mut told = 0;
        for node in self.db.list_nodes().await? {
            if is_alive(&node, now) {
                continue;
            }
            let jobs = self
                .db
                .note_jobs_waiting_for(&node.id, now, &waiting_message(&node))
                .await?;
            for job in &jobs {
                tracing::warn!(
                    job = %job.id,
                    node = %node.id,
                    last_seen = %node.last_seen_at,
                    "a queued job waits for a node that is not alive"
                );
                crate::alerts::jobs::waiting_for_node(self.db.as_ref(), job, &node).await;
            }
            told += jobs.len();
        }
        Ok(told)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn node(last_seen: DateTime<Utc>, heartbeat: Duration) -> Node {
        Node {
            id: "n1".into(),
            first_seen_at: last_seen,
            last_seen_at: last_seen,
            version: "0.1.0".into(),
            started_at: last_seen,
            heartbeat_interval: heartbeat,
            stopped_at: None,
        }
    }

    #[test]
    fn alive_within_three_of_its_own_heartbeats() {
        let seen = Utc::now();
        let at = |secs: i64| seen + chrono::Duration::seconds(secs);
        let n = node(seen, Duration::from_secs(10));
        assert!(is_alive(&n, at(0)));
        assert!(
            is_alive(&n, at(30)),
            "three missed heartbeats are still alive"
        );
        assert!(!is_alive(&n, at(31)));
        let fast = node(seen, Duration::from_secs(1));
        assert!(!is_alive(&fast, at(4)), "judged by its own interval");
        let unknown = node(seen, Duration::ZERO);
        assert!(
            is_alive(&unknown, at(30)),
            "no interval recorded: the default"
        );
        assert!(!is_alive(&unknown, at(31)));
    }

    #[test]
    fn the_waiting_message_names_node_and_last_sight() {
        let seen = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            waiting_message(&node(seen, Duration::from_secs(10))),
            "waits for node n1 which is not alive (last seen at 2025-03-01T10:00:00Z); \
             it runs once that node is back, or change run_on"
        );
    }
}
