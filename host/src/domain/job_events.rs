//! Following jobs as they run: the events of one job (progress, log lines, state, end)
//! and the changes of every job an account can see.
//!
//! Both streams read the database once a second, which is the record and sees jobs on
//! every node; the in-process hub ([`crate::events`]) adds what has not reached the
//! database yet — each progress report and log line of a job running on this node —
//! and wakes a stream at once when a job changes here. A stream ends when its job does,
//! when the client goes away, or when the server shuts down.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use keywarden_db::{Database, Job, JobFilter, JobStatus, Sort};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::events::{JobEventKind, JobEvents, STREAMS_PER_ACCOUNT, StreamGuard};
use crate::runtime::capabilities::log::LogLine;

/// How often a stream reads the database.
const POLL: Duration = Duration::from_secs(1);
/// Events buffered for a slow client before the stream waits for it.
const BUFFER: usize = 256;
/// How far back each look at changed jobs reaches beyond the last change it saw: rows
/// written by other nodes (other clocks) or committed late are still seen.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);
/// How long the account stream waits after a change on this node before it looks, so
/// a burst of changes costs one look.
const SOON: Duration = Duration::from_millis(250);
/// How often a stream checks that its token still works (revoked, expired).
const TOKEN_CHECK: Duration = Duration::from_secs(30);
/// Changed jobs read per query...
const PAGE: i64 = 500;
/// ...and per look at most (the rest comes at the next look).
const MOST_PER_LOOK: i64 = 10_000;

/// What happens to one job.
#[derive(Debug, Clone)]
pub enum JobUpdate {
    /// The job as it is now (without params and logs): first, and on each change of
    /// status or attempt.
    Job(Job),
    Progress {
        done: u64,
        total: u64,
    },
    /// A line the plugin wrote; lines written before the stream opened come first.
    Log(LogLine),
    /// The job ended: its final record, logs included. Nothing follows.
    End(Job),
}

fn finished(status: JobStatus) -> bool {
    matches!(
        status,
        JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
    )
}

/// A stored log line (as the executor keeps it) back as a line.
fn stored_line(value: &serde_json::Value) -> Option<LogLine> {
    serde_json::from_value(value.clone()).ok()
}

impl Service {
    /// The events of job `id`, which the caller must be able to read (404 otherwise).
    pub async fn watch_job(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> DomainResult<impl Stream<Item = JobUpdate> + Send + use<>> {
        let place = self.stream_place(caller)?;
        // Subscribed before the read, so nothing falls between the two.
        let hub = self.events.subscribe();
        let job = self.job(caller, id).await?;
        let (tx, rx) = mpsc::channel(BUFFER);
        let follower = JobFollower {
            db: self.db.clone(),
            events: self.events.clone(),
            scope: caller.scope().map(str::to_owned),
            tx,
            token: TokenCheck::of(caller),
            _place: place,
        };
        tokio::spawn(follower.run(job, hub));
        Ok(receive(rx))
    }

    /// Every change (creation, claim, progress, end) of the jobs the caller can see
    /// from now on, narrowed by `filter` (account, config, operation...). Each item is
    /// the job as it is after the change, without params and logs.
    pub fn watch_jobs(
        &self,
        caller: &Caller,
        mut filter: JobFilter,
    ) -> DomainResult<impl Stream<Item = Job> + Send + use<>> {
        if !caller.narrow(&mut filter.account_id) {
            return Err(DomainError::Forbidden(format!(
                "a token of account {} follows its own account's jobs only",
                caller.account
            )));
        }
        let place = self.stream_place(caller)?;
        let (tx, rx) = mpsc::channel(BUFFER);
        {
            filter.omit_params = true;
            filter.omit_logs = true;
            let watcher = ChangeWatcher {
                db: self.db.clone(),
                events: self.events.clone(),
                filter,
                tx,
                seen: HashMap::new(),
                since: Utc::now(),
                token: TokenCheck::of(caller),
                _place: place,
            };
            tokio::spawn(watcher.run(self.events.subscribe()));
        }
        Ok(receive(rx))
    }

    /// One more open stream for the caller's account, within its cap.
    fn stream_place(&self, caller: &Caller) -> DomainResult<StreamGuard> {
        self.events.open_stream(&caller.account).ok_or_else(|| {
            DomainError::denied(
                Field::Account,
                format!(
                    "account {} already has {STREAMS_PER_ACCOUNT} job streams open on this \
                     node: close one first",
                    caller.account
                ),
            )
        })
    }
}

fn receive<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|t| (t, rx)) })
}

/// Follows one job until it ends.
struct JobFollower {
    db: std::sync::Arc<dyn Database>,
    events: JobEvents,
    scope: Option<String>,
    tx: mpsc::Sender<JobUpdate>,
    token: TokenCheck,
    /// Held while the stream is open.
    _place: StreamGuard,
}

impl JobFollower {
    async fn run(mut self, job: Job, mut hub: broadcast::Receiver<crate::events::JobEvent>) {
        let id = job.id;
        let mut last = light(&job);
        if !self.send(JobUpdate::Job(last.clone())).await {
            return;
        }
        // Earlier attempts' lines (and a finished job's) are stored with the job.
        for line in job.logs.iter().filter_map(stored_line) {
            if !self.send(JobUpdate::Log(line)).await {
                return;
            }
        }
        if finished(job.status) {
            self.send(JobUpdate::End(job)).await;
            return;
        }
        let mut progress = (job.progress_done, job.progress_total);
        // Events up to the snapshot's number are in it; the channel may hold them too.
        let mut replayed = 0;
        if let Some(recent) = self.events.recent(id) {
            replayed = recent.seq;
            for line in recent.lines {
                if !self.send(JobUpdate::Log(line)).await {
                    return;
                }
            }
            if let Some((done, total)) = recent.progress {
                progress = (to_i64(done), to_i64(total));
            }
        }
        if progress != (0, 0) && !self.send(progress_update(progress)).await {
            return;
        }
        let mut tick = tokio::time::interval(POLL);
        tick.tick().await;
        loop {
            let reread = tokio::select! {
                () = self.events.closed() => return,
                () = self.tx.closed() => return,
                event = hub.recv() => match event {
                    Ok(e) if e.job_id != id => false,
                    Ok(e) if e.seq != 0 && e.seq <= replayed => false,
                    Ok(e) => match e.kind {
                        JobEventKind::Progress { done, total } => {
                            progress = (to_i64(done), to_i64(total));
                            if !self.send(JobUpdate::Progress { done, total }).await {
                                return;
                            }
                            false
                        }
                        JobEventKind::Log(line) => {
                            if !self.send(JobUpdate::Log((*line).clone())).await {
                                return;
                            }
                            false
                        }
                        JobEventKind::Changed => true,
                    },
                    // Fell behind the hub: the database has the state.
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if !self.token.alive(self.db.as_ref()).await {
                        return;
                    }
                    true
                }
            };
            if !reread {
                continue;
            }
            let now = match self.read(id).await {
                Ok(Some(job)) => job,
                // Deleted (or purged) while followed: nothing more will happen.
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(job = %id, "following the job: reading it failed: {e}");
                    continue;
                }
            };
            if finished(now.status) {
                match self.db.get_job(self.scope.as_deref(), id).await {
                    Ok(Some(full)) => {
                        self.send(JobUpdate::Job(light(&full))).await;
                        self.send(JobUpdate::End(full)).await;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(job = %id, "reading the ended job failed: {e}"),
                }
                return;
            }
            if (now.status != last.status || now.attempt != last.attempt)
                && !self.send(JobUpdate::Job(now.clone())).await
            {
                return;
            }
            let saved = (now.progress_done, now.progress_total);
            // Saved progress from another node (this node's comes from the hub first).
            if saved != progress && saved != (0, 0) && self.events.recent(id).is_none() {
                progress = saved;
                if !self.send(progress_update(saved)).await {
                    return;
                }
            }
            last = now;
        }
    }

    /// The job without params and logs (what a poll needs).
    async fn read(&self, id: Uuid) -> keywarden_db::Result<Option<Job>> {
        let filter = JobFilter {
            id: Some(id),
            account_id: self.scope.clone(),
            omit_params: true,
            omit_logs: true,
            ..Default::default()
        };
        let (_, mut rows) = self.db.list_jobs(&filter, &Sort::default(), 0, 1).await?;
        Ok(rows.pop())
    }

    async fn send(&self, update: JobUpdate) -> bool {
        deliver(&self.tx, &self.events, update).await
    }
}

/// Hands `item` to the stream's client; false once the client is gone or the server
/// stops (a client that stopped reading must not hold the shutdown up).
async fn deliver<T>(tx: &mpsc::Sender<T>, events: &JobEvents, item: T) -> bool {
    tokio::select! {
        sent = tx.send(item) => sent.is_ok(),
        () = events.closed() => false,
    }
}

/// Follows the changes of many jobs.
struct ChangeWatcher {
    db: std::sync::Arc<dyn Database>,
    events: JobEvents,
    filter: JobFilter,
    tx: mpsc::Sender<Job>,
    /// The change time of each job sent lately, so the overlap sends nothing twice.
    seen: HashMap<Uuid, DateTime<Utc>>,
    since: DateTime<Utc>,
    token: TokenCheck,
    /// Held while the stream is open.
    _place: StreamGuard,
}

impl ChangeWatcher {
    async fn run(mut self, mut hub: broadcast::Receiver<crate::events::JobEvent>) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.events.closed() => return,
                () = self.tx.closed() => return,
                event = hub.recv() => match event {
                    // A job this stream shows changed on this node: look soon rather
                    // than at the next tick, once for however many changed meanwhile.
                    Ok(e) if matches!(e.kind, JobEventKind::Changed) && self.shows(&e) => {
                        tokio::time::sleep(SOON).await;
                        while hub.try_recv().is_ok() {}
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    if !self.token.alive(self.db.as_ref()).await {
                        return;
                    }
                }
            }
            if !self.look().await {
                return;
            }
        }
    }

    /// Whether the event is about a job of the accounts this stream shows.
    fn shows(&self, event: &crate::events::JobEvent) -> bool {
        match (&self.filter.account_id, &event.account) {
            (Some(wanted), Some(account)) => wanted.as_str() == &**account,
            _ => true,
        }
    }

    /// Sends what changed since the last look; false once the client is gone. Pages by
    /// position: one insert or claim gives many jobs the same change time.
    async fn look(&mut self) -> bool {
        let sort = Sort::parse("updated_at,id");
        self.filter.updated_after = Some(self.since - OVERLAP);
        let mut newest = self.since;
        let mut skip = 0;
        while skip < MOST_PER_LOOK {
            let rows = match self.db.list_jobs(&self.filter, &sort, skip, PAGE).await {
                Ok((_, rows)) => rows,
                Err(e) => {
                    tracing::debug!("watching jobs: reading changes failed: {e}");
                    return true;
                }
            };
            let full = rows.len() as i64 == PAGE;
            for job in rows {
                newest = newest.max(job.updated_at);
                if self.seen.get(&job.id) == Some(&job.updated_at) {
                    continue;
                }
                self.seen.insert(job.id, job.updated_at);
                if !deliver(&self.tx, &self.events, job).await {
                    return false;
                }
            }
            if !full {
                break;
            }
            skip += PAGE;
        }
        self.since = newest;
        let horizon = self.since - OVERLAP - OVERLAP;
        self.seen.retain(|_, at| *at >= horizon);
        true
    }
}

/// Whether the token a stream was opened with still works: a revoked or expired token
/// loses its streams within [`TOKEN_CHECK`].
struct TokenCheck {
    account: String,
    /// Empty for callers that are not tokens (nothing to check).
    token_id: String,
    checked: std::time::Instant,
}

impl TokenCheck {
    fn of(caller: &Caller) -> Self {
        Self {
            account: caller.account.clone(),
            token_id: caller.token_id.clone(),
            checked: std::time::Instant::now(),
        }
    }

    async fn alive(&mut self, db: &dyn Database) -> bool {
        if self.token_id.is_empty() || self.checked.elapsed() < TOKEN_CHECK {
            return true;
        }
        self.checked = std::time::Instant::now();
        match db.list_tokens(Some(&self.account)).await {
            Ok(tokens) => tokens.iter().any(|t| {
                t.id == self.token_id
                    && t.revoked_at.is_none()
                    && t.expires_at.is_none_or(|at| at > Utc::now())
            }),
            // Not known to be gone: keep the stream; the next check decides.
            Err(e) => {
                tracing::debug!("checking a stream's token failed: {e}");
                true
            }
        }
    }
}

fn light(job: &Job) -> Job {
    let mut job = job.clone();
    job.params = serde_json::Value::Object(Default::default());
    job.logs = Vec::new();
    job
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn progress_update((done, total): (i64, i64)) -> JobUpdate {
    JobUpdate::Progress {
        done: u64::try_from(done).unwrap_or(0),
        total: u64::try_from(total).unwrap_or(0),
    }
}
