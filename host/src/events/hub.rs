//! The in-process hub: a broadcast channel plus, per running job, its recent log lines
//! and latest progress, so a stream opened mid-job starts with what came before.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

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
/// Progress events of one job are at most this frequent (the last one always goes).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

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
    /// The job's account, so a stream can ignore other accounts' jobs.
    pub account: Option<Arc<str>>,
    /// Per job, increasing with each progress or log event (0 for `Changed`).
    pub seq: u64,
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
    /// The last event's sequence number in this snapshot.
    pub seq: u64,
}

#[derive(Default)]
struct Buffer {
    account: Arc<str>,
    lines: VecDeque<Arc<LogLine>>,
    bytes: usize,
    progress: Option<(u64, u64)>,
    progress_sent: Option<std::time::Instant>,
    seq: u64,
}

struct Inner {
    tx: broadcast::Sender<JobEvent>,
    running: Mutex<HashMap<Uuid, Buffer>>,
    /// Open streams per account (each reads the database once a second).
    streams: Mutex<HashMap<String, usize>>,
    /// Cancelled when the server shuts down: open streams end instead of holding it up.
    closing: CancellationToken,
    /// Jobs were queued in this process since the executor last looked.
    queued: tokio::sync::Notify,
    /// When jobs queued here for later (a jitter, a retry's backoff) come due, as
    /// [`WAKE_GRAIN`] steps since `started`: the executor claims then.
    wakes: Mutex<BTreeSet<u64>>,
    started: tokio::time::Instant,
}

/// Jobs coming due within one step are claimed together.
const WAKE_GRAIN: Duration = Duration::from_millis(10);

/// Jobs coming due further out than this are left to the executor's idle poll, whose
/// delay is small beside theirs.
const WAKE_HORIZON: Duration = Duration::from_secs(120);

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
                queued: tokio::sync::Notify::new(),
                wakes: Mutex::default(),
                started: tokio::time::Instant::now(),
            }),
        }
    }

    /// A job of `account` started on this node: its lines and progress are kept until
    /// it leaves the executor ([`JobEvents::discard`]).
    pub fn started(&self, id: Uuid, account: &str) {
        let account: Arc<str> = Arc::from(account);
        let mut buffers = self.buffers();
        buffers.insert(
            id,
            Buffer {
                account: account.clone(),
                ..Buffer::default()
            },
        );
        self.send(id, Some(account), 0, JobEventKind::Changed);
    }

    /// At most one progress event per job every [`PROGRESS_EVERY`]: a plugin reporting
    /// in a tight loop must not crowd other jobs' events out of the channel. The latest
    /// value is kept either way (late streams, the job's end carry it).
    pub fn progress(&self, id: Uuid, done: u64, total: u64) {
        let mut buffers = self.buffers();
        let Some(buffer) = buffers.get_mut(&id) else {
            return;
        };
        buffer.progress = Some((done, total));
        let now = std::time::Instant::now();
        let finished = total > 0 && done >= total;
        if !finished
            && buffer
                .progress_sent
                .is_some_and(|at| now.duration_since(at) < PROGRESS_EVERY)
        {
            return;
        }
        buffer.progress_sent = Some(now);
        buffer.seq += 1;
        let (seq, account) = (buffer.seq, buffer.account.clone());
        // Sent under the lock, so sequence numbers reach subscribers in order.
        self.send(
            id,
            Some(account),
            seq,
            JobEventKind::Progress { done, total },
        );
    }

    pub fn log(&self, id: Uuid, line: &LogLine) {
        let mut buffers = self.buffers();
        let Some(buffer) = buffers.get_mut(&id) else {
            return;
        };
        let line = Arc::new(line.clone());
        buffer.bytes += line_size(&line);
        buffer.lines.push_back(line.clone());
        while buffer.lines.len() > RECENT_LINES || buffer.bytes > RECENT_BYTES {
            match buffer.lines.pop_front() {
                Some(old) => buffer.bytes -= line_size(&old),
                None => break,
            }
        }
        buffer.seq += 1;
        let (seq, account) = (buffer.seq, buffer.account.clone());
        self.send(id, Some(account), seq, JobEventKind::Log(line));
    }

    /// The job's row changed (its outcome or a retry was written): streams read it.
    pub fn ended(&self, id: Uuid, account: &str) {
        self.send(id, Some(Arc::from(account)), 0, JobEventKind::Changed);
    }

    /// Jobs were queued in this process (enqueued, fired, recovered), due now: this
    /// node's executor claims now instead of at its next poll, which grows long while the
    /// queue is idle. Other nodes find them at their own poll.
    pub fn queued(&self) {
        self.inner.queued.notify_one();
    }

    /// Jobs were queued in this process to start at these times (now, or later for a
    /// fire's jitter, a retry's backoff, a maintenance window): this node's executor
    /// claims each when it comes due.
    pub fn queued_for(&self, due: impl IntoIterator<Item = DateTime<Utc>>) {
        let (now, clock) = (Utc::now(), tokio::time::Instant::now());
        let mut due_now = false;
        let mut soonest = None::<u64>;
        let mut wakes = self.wakes();
        let earliest = wakes.first().copied();
        for at in due {
            match (at - now).to_std() {
                Ok(delay) if !delay.is_zero() => {
                    if delay <= WAKE_HORIZON {
                        // The first step boundary at or after the job is due.
                        let slot = self.step(clock + delay).saturating_add(1);
                        wakes.insert(slot);
                        soonest = Some(soonest.map_or(slot, |s| s.min(slot)));
                    }
                }
                _ => due_now = true,
            }
        }
        drop(wakes);
        // The executor sleeps until the earliest wake it knew of; a sooner one needs it up.
        let sooner = soonest.is_some_and(|s| earliest.is_none_or(|e| e > s));
        if due_now || sooner {
            self.inner.queued.notify_one();
        }
    }

    /// Resolves once jobs were queued since the last call resolved (a wake-up given while
    /// nobody waited is kept, so none is lost between two waits).
    pub async fn wait_queued(&self) {
        self.inner.queued.notified().await
    }

    /// Whether jobs queued for later came due (each is reported once), and when the next
    /// ones will.
    pub fn due_wakes(&self) -> (bool, Option<tokio::time::Instant>) {
        let now = self.step(tokio::time::Instant::now());
        let mut wakes = self.wakes();
        let later = wakes.split_off(&now.saturating_add(1));
        let came_due = !wakes.is_empty();
        *wakes = later;
        let next = wakes.first().map(|s| {
            let millis = s.saturating_mul(WAKE_GRAIN.as_millis() as u64);
            self.inner.started + Duration::from_millis(millis)
        });
        (came_due, next)
    }

    /// Whole [`WAKE_GRAIN`] steps from the hub's start to `at`.
    fn step(&self, at: tokio::time::Instant) -> u64 {
        let steps = at.duration_since(self.inner.started).as_millis() / WAKE_GRAIN.as_millis();
        u64::try_from(steps).unwrap_or(u64::MAX)
    }

    fn wakes(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.inner.wakes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job left this node's executor (written, given up to lease recovery, or
    /// crashed): its buffer goes.
    pub fn discard(&self, id: Uuid) {
        self.buffers().remove(&id);
    }

    /// Every event from now on. Subscribe before reading the database, so nothing
    /// falls between the read and the first event.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.tx.subscribe()
    }

    /// What the job reported so far, if it runs on this node. Events with a `seq` up to
    /// the snapshot's are in it; a subscriber skips them.
    pub fn recent(&self, id: Uuid) -> Option<Recent> {
        self.buffers().get(&id).map(|b| Recent {
            lines: b.lines.iter().map(|l| (**l).clone()).collect(),
            progress: b.progress,
            seq: b.seq,
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

    fn send(&self, job_id: Uuid, account: Option<Arc<str>>, seq: u64, kind: JobEventKind) {
        // An error only means nobody listens right now.
        let _ = self.inner.tx.send(JobEvent {
            job_id,
            account,
            seq,
            kind,
        });
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
    async fn jobs_queued_for_later_wake_the_executor_when_due_once() {
        let hub = JobEvents::new();
        assert_eq!(hub.due_wakes(), (false, None));
        let t0 = tokio::time::Instant::now();
        hub.queued_for([Utc::now() + chrono::Duration::milliseconds(300)]);
        hub.queued_for([Utc::now() + chrono::Duration::milliseconds(303)]);
        hub.queued_for([Utc::now() + chrono::Duration::milliseconds(900)]);
        // Past the horizon: the idle poll finds it.
        hub.queued_for([Utc::now() + chrono::Duration::minutes(10)]);
        // A sooner wake than any known one wakes the waiting executor to sleep shorter.
        tokio::time::timeout(Duration::from_millis(50), hub.wait_queued())
            .await
            .expect("woken");
        let (due, next) = hub.due_wakes();
        assert!(!due);
        let first = next.expect("a wake is pending");
        assert!(
            first - t0 >= Duration::from_millis(300) && first - t0 <= Duration::from_millis(330),
            "{:?}",
            first - t0
        );
        tokio::time::sleep_until(first).await;
        let (due, next) = hub.due_wakes();
        assert!(due, "the 300 ms jobs are due, both in one wake");
        let second = next.expect("the 900 ms job");
        assert!(second - t0 >= Duration::from_millis(900));
        assert!(!hub.due_wakes().0, "reported once");
        tokio::time::sleep_until(second).await;
        assert_eq!(hub.due_wakes(), (true, None), "the far one is not kept");
        // Due already: a plain wake-up.
        hub.queued_for([Utc::now() - chrono::Duration::seconds(1)]);
        tokio::time::timeout(Duration::from_millis(50), hub.wait_queued())
            .await
            .expect("woken");
    }

    #[tokio::test]
    async fn late_subscribers_get_recent_lines_and_progress_of_running_jobs_only() {
        let hub = JobEvents::new();
        let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
        hub.started(id, "team-a");
        hub.log(id, &line("first"));
        hub.progress(id, 1, 3);
        hub.log(other, &line("not running here")); // not started: nothing kept
        let recent = hub.recent(id).unwrap();
        assert_eq!(recent.lines.len(), 1);
        assert_eq!(recent.lines[0].message, "first");
        assert_eq!(recent.progress, Some((1, 3)));
        assert_eq!(recent.seq, 2);
        assert!(hub.recent(other).is_none());

        let mut rx = hub.subscribe();
        hub.progress(id, 2, 3); // within 100 ms of the last: kept, not sent
        hub.progress(id, 3, 3); // the last always goes
        hub.ended(id, "team-a");
        hub.discard(id);
        let event = rx.recv().await.unwrap();
        assert!(matches!(
            event.kind,
            JobEventKind::Progress { done: 3, total: 3 }
        ));
        assert_eq!(event.seq, 3);
        assert_eq!(event.account.as_deref(), Some("team-a"));
        assert!(matches!(
            rx.recv().await.unwrap().kind,
            JobEventKind::Changed
        ));
        assert!(hub.recent(id).is_none(), "forgotten once discarded");
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
        hub.started(id, "team-a");
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
