//! The scheduler loop and its queue. The loop sleeps on the scheduler's clock until the
//! next slot of any job (or the next heartbeat), then puts the due slots in a queue; one
//! worker runs the queue one job after another, in dependency order (backups, prune,
//! drills and verifies, exports), so no job of a scheduler ever finds the backup lock held
//! by another job of the same scheduler. A lock held by another process is waited for
//! (bounded) instead of failing. Each run is claimed in the database first (exactly once
//! across processes), beats while it runs, and is contained in its own task, so a slow or
//! panicking job never stops the loop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::Operator;
use crate::alert::{self, Occurrence};
use crate::config::AlertConfig;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::scheduler::clock::{self, SharedClock};
use crate::scheduler::runs::{self, Claim, JobOutcome, Trigger};
use crate::scheduler::{Job, RunnerKind, SharedActions, in_dependency_order, runner_id};

/// How often a live scheduler, and whoever runs a job, says so; three missed beats and it
/// counts as gone.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a scheduled job waits for the backup lock held by another process before it
/// gives up and fails.
pub const BUSY_WAIT: Duration = Duration::from_secs(30 * 60);

/// How often a job waiting for the lock tries again.
const BUSY_RETRY: Duration = Duration::from_secs(5);

/// How often (by the scheduler's clock) the loop looks at whether the newest backup is
/// late, for the "stale" alert; it also looks after each run.
pub const STALE_CHECK: Duration = Duration::from_secs(5 * 60);

/// The alert key of the age of the newest backup.
pub const STALE_KEY: &str = "stale:backup";
/// The alert key of a late off-site copy (the newest verified one is older than the backup
/// schedule allows).
pub const STALE_OFFSITE_KEY: &str = "stale:offsite";

pub fn stale_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(HEARTBEAT * 3).unwrap_or_default()
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// What the loop tells whoever watches it (the console redraws on some of these; tests
/// wait for them instead of sleeping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerEvent {
    /// A slot was put in this scheduler's queue.
    Queued {
        job: String,
        slot: DateTime<Utc>,
        trigger: Trigger,
    },
    Started {
        job: String,
        slot: DateTime<Utc>,
        trigger: Trigger,
    },
    Finished {
        job: String,
        slot: DateTime<Utc>,
        ok: bool,
        message: String,
    },
    /// Recorded as skipped: the previous run was still going, or there was nothing to do.
    Skipped {
        job: String,
        slot: DateTime<Utc>,
        reason: String,
    },
    /// Another console or daemon had this slot first.
    Passed { job: String, slot: DateTime<Utc> },
    /// The loop sleeps until this instant (the next slot or heartbeat).
    Waiting { until: DateTime<Utc> },
}

/// A manual run asked of a running scheduler: it joins the queue like any slot.
struct Request {
    job: String,
    who: Operator,
    reply: oneshot::Sender<Result<JobOutcome>>,
}

/// Where a console sends "run this job now" so that it runs in its scheduler's queue,
/// after whatever that scheduler is doing, never beside it.
#[derive(Clone)]
pub struct JobQueue {
    tx: mpsc::UnboundedSender<Request>,
}

impl JobQueue {
    /// Run `job` now for `who`, after the jobs ahead of it in the queue.
    pub async fn run_now(&self, job: &str, who: &Operator) -> Result<JobOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                job: job.to_string(),
                who: who.clone(),
                reply,
            })
            .map_err(|_| Error::Other("the scheduler has stopped".into()))?;
        answer.await.map_err(|_| {
            Error::Other(format!(
                "the scheduler stopped before {job} could run; run it again"
            ))
        })?
    }
}

pub struct Scheduler {
    store: Store,
    /// In dependency order.
    jobs: Vec<Job>,
    actions: SharedActions,
    kind: RunnerKind,
    runner: String,
    host: String,
    pid: i64,
    events: Option<mpsc::UnboundedSender<SchedulerEvent>>,
    /// How long a running job may take to finish after shutdown before it is cancelled
    /// (real time: it is the process's stop deadline).
    grace: Duration,
    busy_wait: Duration,
    clock: SharedClock,
    requests_tx: mpsc::UnboundedSender<Request>,
    requests: mpsc::UnboundedReceiver<Request>,
    /// The backups whose off-site copies this scheduler's copier makes (`with_offsite`).
    offsite: Option<crate::backup::Backups>,
    /// `[[alert]]`: told when a run fails or recovers, and when backups are late.
    alerts: Arc<[AlertConfig]>,
}

/// A running scheduler: ask it to run a job, stop it and wait for it.
pub struct SchedulerHandle {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<()>>,
    queue: JobQueue,
}

impl SchedulerHandle {
    pub fn queue(&self) -> JobQueue {
        self.queue.clone()
    }

    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        self.task
            .await
            .map_err(|e| Error::Other(format!("scheduler task: {e}")))?
    }
}

/// What running one claimed job needs; shared by the queue's worker and `run_now`.
struct Runner {
    store: Store,
    actions: SharedActions,
    runner: String,
    clock: SharedClock,
    events: Option<mpsc::UnboundedSender<SchedulerEvent>>,
    busy_wait: Duration,
    /// Jobs queued or running in this scheduler.
    pending: Mutex<HashSet<String>>,
    alerts: Arc<[AlertConfig]>,
    /// The jobs whose backups the "stale" alert watches (none for a one-off run).
    jobs: Vec<Job>,
    /// Off-site targets are configured: the age of the newest verified off-site copy is
    /// watched too (`stale:offsite`).
    offsite_watched: bool,
}

struct Queued {
    job: Job,
    slot: DateTime<Utc>,
    trigger: Trigger,
    who: Operator,
    reply: Option<oneshot::Sender<Result<JobOutcome>>>,
}

impl Scheduler {
    pub fn new(
        store: Store,
        jobs: Vec<Job>,
        actions: SharedActions,
        kind: RunnerKind,
    ) -> Scheduler {
        let (runner, host, pid) = runner_id();
        let (requests_tx, requests) = mpsc::unbounded_channel();
        Scheduler {
            store,
            jobs: in_dependency_order(jobs),
            actions,
            kind,
            runner,
            host,
            pid,
            events: None,
            grace: Duration::from_secs(60),
            busy_wait: BUSY_WAIT,
            clock: clock::system(),
            requests_tx,
            requests,
            offsite: None,
            alerts: Arc::from(Vec::new()),
        }
    }

    /// Run the off-site copier beside the jobs (when the backups have enabled targets):
    /// every completed backup is copied to each target, woken at once by a backup of this
    /// process.
    pub fn with_offsite(mut self, backups: crate::backup::Backups) -> Self {
        self.offsite = Some(backups);
        self
    }

    /// The `[[alert]]` channels this scheduler tells about failed and recovered runs and
    /// late backups.
    pub fn with_alerts(mut self, alerts: Vec<AlertConfig>) -> Self {
        self.alerts = Arc::from(alerts);
        self
    }

    /// A distinct runner name, for several schedulers in one process (tests).
    pub fn with_runner_name(mut self, name: &str) -> Self {
        self.runner = name.to_string();
        self
    }

    pub fn with_events(mut self, tx: mpsc::UnboundedSender<SchedulerEvent>) -> Self {
        self.events = Some(tx);
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_busy_wait(mut self, wait: Duration) -> Self {
        self.busy_wait = wait;
        self
    }

    /// The jobs in the order catch-up runs them.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    pub fn queue(&self) -> JobQueue {
        JobQueue {
            tx: self.requests_tx.clone(),
        }
    }

    pub fn spawn(self) -> SchedulerHandle {
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let queue = self.queue();
        let task = tokio::spawn(async move { self.run(token).await });
        SchedulerHandle {
            shutdown,
            task,
            queue,
        }
    }

    /// Run until `shutdown`; then take no new slot, let the running job finish (or cancel
    /// it after the grace period), tidy what a cancelled job left, and sign off.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<()> {
        let now = self.clock.now();
        runs::register(
            &self.store,
            &self.runner,
            self.kind.as_str(),
            &self.host,
            self.pid,
            now,
        )
        .await?;
        let runner = Arc::new(Runner {
            store: self.store.clone(),
            actions: self.actions.clone(),
            runner: self.runner.clone(),
            clock: self.clock.clone(),
            events: self.events.clone(),
            busy_wait: self.busy_wait,
            pending: Mutex::default(),
            alerts: self.alerts.clone(),
            jobs: self.jobs.clone(),
            offsite_watched: self
                .offsite
                .as_ref()
                .is_some_and(|b| b.offsite.iter().any(|t| t.enabled)),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let stopping = CancellationToken::new();
        let work_cancel = CancellationToken::new();
        let mut worker = tokio::spawn(work(
            runner.clone(),
            rx,
            stopping.clone(),
            work_cancel.clone(),
        ));

        let copier_stop = shutdown.child_token();
        let copier = self
            .offsite
            .take()
            .filter(|b| b.offsite.iter().any(|c| c.enabled))
            .map(|b| {
                tokio::spawn(crate::backup::offsite::copier::run_copier(
                    b,
                    self.clock.clone(),
                    copier_stop.clone(),
                    crate::backup::offsite::copier::waker(),
                ))
            });

        let result = self.schedule(&runner, &tx, &shutdown).await;
        copier_stop.cancel();
        if let Some(c) = copier {
            // It stops at once, leaving an interrupted copy due again.
            let _ = c.await;
        }

        // No new slots; the job that runs gets the grace period, then is cancelled (a
        // cancelled backup removes its partial file and is recorded as failed).
        stopping.cancel();
        drop(tx);
        tokio::select! {
            _ = &mut worker => {}
            _ = tokio::time::sleep(self.grace) => {
                work_cancel.cancel();
                let _ = (&mut worker).await;
            }
        }
        if let Err(e) = self.actions.after_stop().await {
            tracing::warn!("tidying after the scheduler stopped: {e}");
        }
        let now = self.clock.now();
        runs::fail_left_by(&self.store, &self.runner, now).await?;
        runs::unregister(&self.store, &self.runner).await?;
        result
    }

    async fn schedule(
        &mut self,
        runner: &Arc<Runner>,
        tx: &mpsc::UnboundedSender<Queued>,
        shutdown: &CancellationToken,
    ) -> Result<()> {
        let now = self.clock.now();
        runs::reap_dead(&self.store, stale_before(now), now).await?;
        let names: Vec<&str> = self.jobs.iter().map(|j| j.name.as_str()).collect();
        let seen = runs::first_seen(&self.store, &names, now).await?;

        // Catch-up: the latest slot of each job that nobody ran (machine off, no daemon)
        // runs once now, in dependency order, and only if it came after the job was first
        // known to this database.
        let mut next: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(self.jobs.len());
        for job in &self.jobs {
            if let Some(slot) = job.schedule.latest_at_or_before(now)
                && seen.get(&job.name).is_some_and(|first| slot >= *first)
                && is_enabled(&self.store, job).await?
                && !runs::exists(&self.store, &job.name, slot).await?
            {
                runner
                    .enqueue(tx, job, slot, Trigger::CatchUp, Operator::system(), None)
                    .await;
            }
            next.push(job.schedule.next_after(now));
        }

        let mut next_beat = now + chrono_of(HEARTBEAT);
        let mut next_stale = now;
        let mut told: Option<DateTime<Utc>> = None;
        loop {
            let wake = next
                .iter()
                .flatten()
                .copied()
                .fold(next_beat, DateTime::min);
            if told != Some(wake) {
                runner.emit(SchedulerEvent::Waiting { until: wake });
                told = Some(wake);
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Ok(()),
                Some(req) = self.requests.recv() => {
                    runner.request(tx, &self.jobs, req).await;
                    continue;
                }
                _ = self.clock.sleep_until(wake) => {}
            }
            let now = self.clock.now();
            for (i, job) in self.jobs.iter().enumerate() {
                let Some(slot) = next[i] else { continue };
                if slot > now {
                    continue;
                }
                // Only the newest due slot runs; one that passed while the process was
                // stalled is not run twice.
                let due = job
                    .schedule
                    .latest_at_or_before(now)
                    .unwrap_or(slot)
                    .max(slot);
                next[i] = job.schedule.next_after(now);
                match is_enabled(&self.store, job).await {
                    Ok(true) => {
                        runner
                            .enqueue(tx, job, due, Trigger::Scheduled, Operator::system(), None)
                            .await
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(job = %job.name, "reading whether it is on: {e}"),
                }
            }
            if now >= next_beat {
                if let Err(e) = runs::heartbeat(&self.store, &self.runner, now).await {
                    tracing::warn!("scheduler heartbeat: {e}");
                }
                if let Err(e) = runs::reap_dead(&self.store, stale_before(now), now).await {
                    tracing::warn!("looking for runs of stopped processes: {e}");
                }
                next_beat = now + chrono_of(HEARTBEAT);
            }
            if now >= next_stale {
                runner.check_stale(now).await;
                next_stale = now + chrono_of(STALE_CHECK);
            }
        }
    }
}

async fn is_enabled(store: &Store, job: &Job) -> Result<bool> {
    Ok(runs::enabled_override(store, &job.name)
        .await?
        .unwrap_or(job.enabled))
}

/// The queue's one worker: one job at a time, in the order queued.
async fn work(
    runner: Arc<Runner>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    stopping: CancellationToken,
    cancel: CancellationToken,
) {
    loop {
        let q = tokio::select! {
            biased;
            _ = stopping.cancelled() => break,
            q = rx.recv() => match q {
                Some(q) => q,
                None => break,
            },
        };
        let r = runner.execute(&q, &cancel, &stopping).await;
        if let Some(reply) = q.reply {
            let _ = reply.send(r);
        }
        runner.check_stale(runner.clock.now()).await;
    }
}

impl Runner {
    /// Fire the "stale" alert when the newest backup is late, clear it when it is fresh
    /// again. Not while a job of this scheduler is queued or running (it may be the backup
    /// that makes it fresh).
    async fn check_stale(&self, now: DateTime<Utc>) {
        if self.alerts.is_empty() || self.jobs.is_empty() {
            return;
        }
        if self.pending.lock().map(|p| !p.is_empty()).unwrap_or(true) {
            return;
        }
        let o = |message: String| Occurrence {
            key: STALE_KEY.into(),
            job: None,
            backup_id: None,
            message,
        };
        match crate::scheduler::status::stale_reason(&self.store, &self.jobs, now).await {
            Ok(Some(why)) => alert::fire(&self.store, &self.alerts, &o(why), now).await,
            Ok(None) => {
                let fresh = o("the newest backup is recent enough again".into());
                alert::clear(&self.store, &self.alerts, &fresh, now).await
            }
            Err(e) => tracing::warn!("looking at the age of the newest backup: {e}"),
        }
        if !self.offsite_watched {
            return;
        }
        let o = |message: String| Occurrence {
            key: STALE_OFFSITE_KEY.into(),
            job: None,
            backup_id: None,
            message,
        };
        match crate::scheduler::status::offsite_stale_reason(&self.store, &self.jobs, now).await {
            Ok(Some(why)) => alert::fire(&self.store, &self.alerts, &o(why), now).await,
            Ok(None) => {
                let fresh = o("the newest verified off-site copy is recent enough again".into());
                alert::clear(&self.store, &self.alerts, &fresh, now).await
            }
            Err(e) => tracing::warn!("looking at the age of the newest off-site copy: {e}"),
        }
    }

    fn emit(&self, e: SchedulerEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// A manual run asked of this scheduler: queued like a slot, slot = now.
    async fn request(&self, tx: &mpsc::UnboundedSender<Queued>, jobs: &[Job], req: Request) {
        let job = match crate::scheduler::find_job(jobs, &req.job) {
            Ok(j) => j.clone(),
            Err(e) => {
                let _ = req.reply.send(Err(e));
                return;
            }
        };
        let slot = self.clock.now().trunc_subsecs(3);
        self.enqueue(tx, &job, slot, Trigger::Manual, req.who, Some(req.reply))
            .await;
    }

    /// Queue a slot, unless the job is already queued or running here: then a scheduled
    /// slot is recorded as skipped and a manual one refused as busy.
    async fn enqueue(
        &self,
        tx: &mpsc::UnboundedSender<Queued>,
        job: &Job,
        slot: DateTime<Utc>,
        trigger: Trigger,
        who: Operator,
        reply: Option<oneshot::Sender<Result<JobOutcome>>>,
    ) {
        let fresh = self
            .pending
            .lock()
            .map(|mut p| p.insert(job.name.clone()))
            .unwrap_or(false);
        if !fresh {
            match reply {
                Some(r) => {
                    let _ = r.send(Err(Error::Busy(format!(
                        "{} is already queued or running in this scheduler",
                        job.name
                    ))));
                }
                None => {
                    let reason = format!("the previous run of {} was still running", job.name);
                    if let Some(e) = self.skip(job, slot, trigger, &who, &reason).await {
                        self.emit(e);
                    }
                }
            }
            return;
        }
        self.emit(SchedulerEvent::Queued {
            job: job.name.clone(),
            slot,
            trigger,
        });
        let q = Queued {
            job: job.clone(),
            slot,
            trigger,
            who,
            reply,
        };
        if let Err(mpsc::error::SendError(q)) = tx.send(q) {
            if let Ok(mut p) = self.pending.lock() {
                p.remove(&q.job.name);
            }
            if let Some(r) = q.reply {
                let _ = r.send(Err(Error::Other("the scheduler is stopping".into())));
            }
        }
    }

    /// Record a slot as skipped; the event says whether this scheduler recorded it or
    /// another process had the slot already.
    async fn skip(
        &self,
        job: &Job,
        slot: DateTime<Utc>,
        trigger: Trigger,
        who: &Operator,
        why: &str,
    ) -> Option<SchedulerEvent> {
        let claim = Claim {
            job: &job.name,
            slot,
            trigger,
            runner: &self.runner,
            requested_by: &who.username,
        };
        match runs::record_skipped(&self.store, &claim, why, self.clock.now()).await {
            Ok(true) => {
                tracing::info!(job = %job.name, %slot, "skipped: {why}");
                Some(SchedulerEvent::Skipped {
                    job: job.name.clone(),
                    slot,
                    reason: why.to_string(),
                })
            }
            Ok(false) => Some(SchedulerEvent::Passed {
                job: job.name.clone(),
                slot,
            }),
            Err(e) => {
                tracing::warn!(job = %job.name, "recording a skipped slot failed: {e}");
                None
            }
        }
    }

    /// Run one queued slot; the job stops counting as pending here before its last event
    /// goes out, so whoever reacts to that event finds the job free.
    async fn execute(
        &self,
        q: &Queued,
        cancel: &CancellationToken,
        stopping: &CancellationToken,
    ) -> Result<JobOutcome> {
        let (r, last) = self.execute_inner(q, cancel, stopping).await;
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&q.job.name);
        }
        if let Some(e) = last {
            self.emit(e);
        }
        r
    }

    /// Claim and run one slot. Runs of stopped processes are failed first, so only a live
    /// run makes the job busy.
    async fn execute_inner(
        &self,
        q: &Queued,
        cancel: &CancellationToken,
        stopping: &CancellationToken,
    ) -> (Result<JobOutcome>, Option<SchedulerEvent>) {
        let now = self.clock.now();
        if let Err(e) = runs::reap_dead(&self.store, stale_before(now), now).await {
            return (Err(e), None);
        }
        let name = q.job.name.as_str();
        let running = match runs::running(&self.store, name).await {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        if let Some(r) = running {
            let since = r.started_at.format("%Y-%m-%d %H:%M:%S UTC");
            if q.trigger == Trigger::Manual {
                return (
                    Err(Error::Busy(format!(
                        "{name} is running since {since} ({})",
                        r.runner
                    ))),
                    None,
                );
            }
            let reason = format!(
                "the previous run of {name} was still running (started {since} by {})",
                r.runner
            );
            let e = self.skip(&q.job, q.slot, q.trigger, &q.who, &reason).await;
            return (Ok(JobOutcome::Skipped(reason)), e);
        }
        let claim = Claim {
            job: name,
            slot: q.slot,
            trigger: q.trigger,
            runner: &self.runner,
            requested_by: &q.who.username,
        };
        let id = match runs::claim(&self.store, &claim, now).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return (
                    Err(Error::Busy(format!(
                        "{name} was just started by another process"
                    ))),
                    Some(SchedulerEvent::Passed {
                        job: name.to_string(),
                        slot: q.slot,
                    }),
                );
            }
            Err(e) => return (Err(e), None),
        };
        tracing::info!(job = %name, slot = %q.slot, trigger = q.trigger.as_str(), "running");
        self.emit(SchedulerEvent::Started {
            job: name.to_string(),
            slot: q.slot,
            trigger: q.trigger,
        });
        alert::run_started(&self.store, &self.alerts, name, now).await;
        let beats = tokio::spawn(beat_run(self.store.clone(), self.clock.clone(), id));
        let outcome = self.run_waiting(id, q, cancel, stopping).await;
        beats.abort();
        if let Err(e) = runs::finish(&self.store, id, &outcome, self.clock.now()).await {
            tracing::error!(job = %name, "recording the result failed: {e}");
        }
        self.tell(name, &outcome).await;
        let last = match &outcome {
            Ok(JobOutcome::Skipped(why)) => {
                tracing::info!(job = %name, "skipped: {why}");
                SchedulerEvent::Skipped {
                    job: name.to_string(),
                    slot: q.slot,
                    reason: why.clone(),
                }
            }
            Ok(JobOutcome::Ran(m)) => {
                tracing::info!(job = %name, "ok: {m}");
                SchedulerEvent::Finished {
                    job: name.to_string(),
                    slot: q.slot,
                    ok: true,
                    message: m.clone(),
                }
            }
            Err(e) => {
                tracing::warn!(job = %name, "failed: {e}");
                SchedulerEvent::Finished {
                    job: name.to_string(),
                    slot: q.slot,
                    ok: false,
                    message: e.clone(),
                }
            }
        };
        (outcome.map_err(Error::Other), Some(last))
    }

    /// Tell the alert channels how a run ended: healthchecks pings for every run, a
    /// failure fired (`job:<name>`), a success clearing it.
    async fn tell(&self, name: &str, outcome: &std::result::Result<JobOutcome, String>) {
        if self.alerts.is_empty() {
            return;
        }
        let now = self.clock.now();
        let said = outcome.as_ref().map(JobOutcome::message);
        let ping = match &said {
            Ok(m) => Ok(m.as_str()),
            Err(e) => Err(e.as_str()),
        };
        alert::run_finished(&self.store, &self.alerts, name, ping, now).await;
        let o = |message: String| Occurrence {
            key: format!("job:{name}"),
            job: Some(name.to_string()),
            backup_id: None,
            message,
        };
        match outcome {
            Err(e) => alert::fire(&self.store, &self.alerts, &o(e.clone()), now).await,
            Ok(JobOutcome::Ran(m)) => {
                let m = format!("{name} succeeded again: {m}");
                alert::clear(&self.store, &self.alerts, &o(m), now).await
            }
            Ok(JobOutcome::Skipped(_)) => {}
        }
    }

    /// Run the action; a scheduled run that finds the lock held by another process waits
    /// for it (up to `busy_wait`), saying so in its row, instead of failing at once.
    async fn run_waiting(
        &self,
        id: i64,
        q: &Queued,
        cancel: &CancellationToken,
        stopping: &CancellationToken,
    ) -> std::result::Result<JobOutcome, String> {
        let deadline = self.clock.now() + chrono_of(self.busy_wait);
        loop {
            match run_contained(
                self.actions.clone(),
                q.job.clone(),
                q.who.clone(),
                cancel.clone(),
            )
            .await
            {
                Err(Error::Busy(who))
                    if q.trigger != Trigger::Manual && self.clock.now() < deadline =>
                {
                    // the next try's time first: the note says the wait has begun
                    let until = (self.clock.now() + chrono_of(BUSY_RETRY)).min(deadline);
                    let note = format!("waiting for the lock: {who}");
                    tracing::info!(job = %q.job.name, "{note}");
                    let _ = runs::beat(&self.store, id, Some(&note), self.clock.now()).await;
                    let wait = async {
                        while self.clock.now() < until {
                            self.clock.sleep_until(until).await;
                        }
                    };
                    tokio::select! {
                        _ = cancel.cancelled() => return Err(Error::Cancelled.to_string()),
                        _ = stopping.cancelled() => return Err(format!(
                            "cancelled: the scheduler stopped while waiting for the lock ({who})"
                        )),
                        _ = wait => {}
                    }
                    let _ = runs::beat(&self.store, id, Some(""), self.clock.now()).await;
                }
                Err(Error::Busy(who)) if q.trigger != Trigger::Manual => {
                    return Err(format!(
                        "busy: {who} (waited {} min for it)",
                        self.busy_wait.as_secs() / 60
                    ));
                }
                Ok(o) => return Ok(o),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// Beat a claimed run's row every `HEARTBEAT` until aborted.
async fn beat_run(store: Store, clock: SharedClock, id: i64) {
    loop {
        let until = clock.now() + chrono_of(HEARTBEAT);
        while clock.now() < until {
            clock.sleep_until(until).await;
        }
        if let Err(e) = runs::beat(&store, id, None, clock.now()).await {
            tracing::warn!("beating run {id}: {e}");
        }
    }
}

/// Run one job in its own task so that a panic is caught and recorded as a failure.
async fn run_contained(
    actions: SharedActions,
    job: Job,
    who: Operator,
    cancel: CancellationToken,
) -> Result<JobOutcome> {
    let handle = tokio::spawn(async move { actions.run(&job, &who, cancel).await });
    match handle.await {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::Other(format!("the job panicked: {msg}")))
        }
        Err(e) => Err(Error::Other(format!("the job was stopped: {e}"))),
    }
}

/// `somiti scheduler run JOB` (and a console that does not host the scheduler): run now,
/// as `who`, through the same claim path, recorded as manual. Runs of processes that
/// stopped are failed first, so a dead process never makes the job busy.
pub async fn run_now(
    store: &Store,
    actions: SharedActions,
    job: &Job,
    who: &Operator,
    clock: SharedClock,
    cancel: CancellationToken,
    alerts: &[AlertConfig],
) -> Result<JobOutcome> {
    let (runner, _, _) = runner_id();
    let now = clock.now();
    runs::first_seen(store, &[job.name.as_str()], now).await?;
    let one = Runner {
        store: store.clone(),
        actions,
        runner,
        clock,
        events: None,
        busy_wait: Duration::ZERO,
        pending: Mutex::default(),
        alerts: Arc::from(alerts.to_vec()),
        jobs: Vec::new(),
        offsite_watched: false,
    };
    let q = Queued {
        job: job.clone(),
        slot: now.trunc_subsecs(3),
        trigger: Trigger::Manual,
        who: who.clone(),
        reply: None,
    };
    one.execute(&q, &cancel, &CancellationToken::new()).await
}
