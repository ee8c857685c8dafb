//! The in-process hub: a broadcast channel plus, per running job, its recent log lines
//! and latest progress, so a stream opened mid-job starts with what came before.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runtime::capabilities::log::LogLine;

/// Events kept for subscribers that fall behind; one that falls further re-reads the
/// database instead (`RecvError::Lagged`).
const CHANNEL_CAPACITY: usize = 4096;
/// Per running job, at most this many recent lines are kept for late subscribers...
const RECENT_LINES: usize = 1000;
/// ...and at most this many bytes of them (a job's whole log is capped by its limits too).
const RECENT_BYTES: usize = 256 * 1024;

/// Most streams one account may hold open on a node: each costs a task and a database
/// read a second, so a runaway client cannot load the database without bound.
pub const STREAMS_PER_ACCOUNT: usize = 32;

/// One open stream's place (see [`JobEvents::open_stream`]).
pub struct StreamGuard {
    inner: Arc<Inner>,
    account: String,
}

impl std::fmt::Debug for StreamGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamGuard")
            .field("account", &self.account)
            .finish()
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = self.inner.streams.lock().expect("job streams lock");
        if let Some(count) = open.get_mut(&self.account) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.account);
            }
        }
    }
}

/// One thing that happened to a job.
#[derive(Debug, Clone)]
pub struct JobEvent {
    pub job_id: Uuid,
    pub kind: JobEventKind,
}

#[derive(Debug, Clone)]
pub enum JobEventKind {
    /// The plugin reported `done` of `total`.
    Progress { done: u64, total: u64 },
    /// The plugin wrote a line (already scrubbed of secrets and within the log cap).
    Log(Arc<LogLine>),
    /// The job's row changed (claimed, finished, requeued): read it again.
    Changed,
}

/// What a running job reported so far on this node.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    pub lines: Vec<LogLine>,
    pub progress: Option<(u64, u64)>,
}

#[derive(Default)]
struct Buffer {
    lines: VecDeque<Arc<LogLine>>,
    bytes: usize,
    progress: Option<(u64, u64)>,
}

struct Inner {
    tx: broadcast::Sender<JobEvent>,
    running: Mutex<HashMap<Uuid, Buffer>>,
    /// Open streams per account (each reads the database once a second).
    streams: Mutex<HashMap<String, usize>>,
    /// Cancelled when the server shuts down: open streams end instead of holding it up.
    closing: CancellationToken,
}

/// The hub. Cheap to clone; publishing never blocks and costs little when nobody
/// listens.
#[derive(Clone)]
pub struct JobEvents {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JobEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEvents")
            .field("subscribers", &self.inner.tx.receiver_count())
            .finish_non_exhaustive()
    }
}

impl Default for JobEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl JobEvents {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                tx,
                running: Mutex::default(),
                streams: Mutex::default(),
                closing: CancellationToken::new(),
            }),
        }
    }

    /// A job started on this node: its lines and progress are kept until it ends.
    pub fn started(&self, id: Uuid) {
        self.buffers().insert(id, Buffer::default());
        self.send(id, JobEventKind::Changed);
    }

    pub fn progress(&self, id: Uuid, done: u64, total: u64) {
        if let Some(buffer) = self.buffers().get_mut(&id) {
            buffer.progress = Some((done, total));
        }
        self.send(id, JobEventKind::Progress { done, total });
    }

    pub fn log(&self, id: Uuid, line: &LogLine) {
        let line = Arc::new(line.clone());
        if let Some(buffer) = self.buffers().get_mut(&id) {
            buffer.bytes += line_size(&line);
            buffer.lines.push_back(line.clone());
            while buffer.lines.len() > RECENT_LINES || buffer.bytes > RECENT_BYTES {
                match buffer.lines.pop_front() {
                    Some(old) => buffer.bytes -= line_size(&old),
                    None => break,
                }
            }
        }
        self.send(id, JobEventKind::Log(line));
    }

    /// The job's row changed (its outcome or a retry was written): forget its buffer.
    pub fn ended(&self, id: Uuid) {
        self.buffers().remove(&id);
        self.send(id, JobEventKind::Changed);
    }

    /// Every event from now on. Subscribe before reading the database, so nothing
    /// falls between the read and the first event.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.tx.subscribe()
    }

    /// What the job reported so far, if it runs on this node.
    pub fn recent(&self, id: Uuid) -> Option<Recent> {
        self.buffers().get(&id).map(|b| Recent {
            lines: b.lines.iter().map(|l| (**l).clone()).collect(),
            progress: b.progress,
        })
    }

    /// A place for one more open stream of `account`, or `None` when it has
    /// [`STREAMS_PER_ACCOUNT`] already. The place is freed when the guard drops.
    pub fn open_stream(&self, account: &str) -> Option<StreamGuard> {
        let mut open = self.inner.streams.lock().expect("job streams lock");
        let count = open.entry(account.to_owned()).or_default();
        if *count >= STREAMS_PER_ACCOUNT {
            return None;
        }
        *count += 1;
        Some(StreamGuard {
            inner: self.inner.clone(),
            account: account.to_owned(),
        })
    }

    /// Ends every open stream (the server is shutting down).
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    /// Resolves once [`JobEvents::close`] was called.
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.inner.closing.clone().cancelled_owned()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closing.is_cancelled()
    }

    fn send(&self, job_id: Uuid, kind: JobEventKind) {
        // An error only means nobody listens right now.
        let _ = self.inner.tx.send(JobEvent { job_id, kind });
    }

    fn buffers(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Buffer>> {
        self.inner.running.lock().expect("job events lock")
    }
}

fn line_size(line: &LogLine) -> usize {
    64 + line.level.len()
        + line.message.len()
        + line
            .fields
            .iter()
            .map(|(k, v)| 32 + k.len() + v.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(message: &str) -> LogLine {
        LogLine {
            level: "info".into(),
            message: message.into(),
            fields: Default::default(),
        }
    }

    #[tokio::test]
    async fn late_subscribers_get_recent_lines_and_progress_of_running_jobs_only() {
        let hub = JobEvents::new();
        let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
        hub.started(id);
        hub.log(id, &line("first"));
        hub.progress(id, 1, 3);
        hub.log(other, &line("not running here")); // not started: nothing kept
        let recent = hub.recent(id).unwrap();
        assert_eq!(recent.lines.len(), 1);
        assert_eq!(recent.lines[0].message, "first");
        assert_eq!(recent.progress, Some((1, 3)));
        assert!(hub.recent(other).is_none());

        let mut rx = hub.subscribe();
        hub.progress(id, 2, 3);
        hub.ended(id);
        assert!(matches!(
            rx.recv().await.unwrap().kind,
            JobEventKind::Progress { done: 2, total: 3 }
        ));
        assert!(matches!(
            rx.recv().await.unwrap().kind,
            JobEventKind::Changed
        ));
        assert!(hub.recent(id).is_none(), "forgotten once ended");
    }

    #[test]
    fn streams_per_account_are_capped_and_freed() {
        let hub = JobEvents::new();
        let held: Vec<StreamGuard> = (0..STREAMS_PER_ACCOUNT)
            .map(|_| hub.open_stream("team-a").unwrap())
            .collect();
        assert!(hub.open_stream("team-a").is_none());
        assert!(
            hub.open_stream("team-b").is_some(),
            "another account's own cap"
        );
        drop(held);
        assert!(hub.open_stream("team-a").is_some());
    }

    #[test]
    fn the_recent_buffer_keeps_the_newest_lines_within_its_caps() {
        let hub = JobEvents::new();
        let id = Uuid::now_v7();
        hub.started(id);
        for i in 0..(RECENT_LINES + 10) {
            hub.log(id, &line(&format!("line {i}")));
        }
        let recent = hub.recent(id).unwrap();
        assert_eq!(recent.lines.len(), RECENT_LINES);
        assert_eq!(recent.lines[0].message, "line 10");
        let big = "x".repeat(100 * 1024);
        for _ in 0..5 {
            hub.log(id, &line(&big));
        }
        let recent = hub.recent(id).unwrap();
        assert!(recent.lines.len() <= 2, "{} lines kept", recent.lines.len());
    }
}
