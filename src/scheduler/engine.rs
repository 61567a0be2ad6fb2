//! The scheduler loop. Every second (a tokio-cron-scheduler job is the clock) it looks at
//! each job's next slot, computed in the job's own timezone; a due slot is claimed in the
//! database and run in its own task, so a slow or panicking job never stops the loop.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db::Store;
use crate::error::{Error, Result};
use crate::scheduler::runs::{self, Trigger};
use crate::scheduler::{Job, RunnerKind, SharedActions, runner_id};

/// How often a live scheduler says so; three missed beats and it counts as gone.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

pub fn stale_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(HEARTBEAT * 3).unwrap_or_default()
}

/// What the loop tells whoever watches it (the console redraws on these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerEvent {
    Started {
        job: String,
        slot: DateTime<Utc>,
        trigger: Trigger,
    },
    Finished {
        job: String,
        ok: bool,
        message: String,
    },
    Skipped {
        job: String,
        slot: DateTime<Utc>,
        reason: String,
    },
}

pub struct Scheduler {
    store: Store,
    jobs: Vec<Job>,
    actions: SharedActions,
    kind: RunnerKind,
    runner: String,
    host: String,
    pid: i64,
    events: Option<mpsc::UnboundedSender<SchedulerEvent>>,
    /// How long a running job may take to finish after shutdown before it is cancelled.
    grace: Duration,
}

/// A running scheduler: stop it and wait for it.
pub struct SchedulerHandle {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<()>>,
}

impl SchedulerHandle {
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        self.task
            .await
            .map_err(|e| Error::Other(format!("scheduler task: {e}")))?
    }
}

impl Scheduler {
    pub fn new(
        store: Store,
        jobs: Vec<Job>,
        actions: SharedActions,
        kind: RunnerKind,
    ) -> Scheduler {
        let (runner, host, pid) = runner_id();
        Scheduler {
            store,
            jobs,
            actions,
            kind,
            runner,
            host,
            pid,
            events: None,
            grace: Duration::from_secs(60),
        }
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

    pub fn spawn(self) -> SchedulerHandle {
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { self.run(token).await });
        SchedulerHandle { shutdown, task }
    }

    fn emit(&self, e: SchedulerEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    /// Run until `shutdown`; then take no new slot, let running jobs finish (or cancel them
    /// after the grace period), and leave.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        runs::register(
            &self.store,
            &self.runner,
            self.kind.as_str(),
            &self.host,
            self.pid,
        )
        .await?;
        runs::fail_orphans(&self.store, stale_before(Utc::now())).await?;

        // The clock: tokio-cron-scheduler fires every second; slot times are ours.
        let (tick_tx, mut tick_rx) = mpsc::channel::<()>(4);
        let mut clock = tokio_cron_scheduler::JobScheduler::new()
            .await
            .map_err(|e| Error::Other(format!("starting the scheduler clock: {e}")))?;
        let tick_job = tokio_cron_scheduler::Job::new_async("* * * * * *", move |_id, _l| {
            let tx = tick_tx.clone();
            Box::pin(async move {
                let _ = tx.try_send(());
            })
        })
        .map_err(|e| Error::Other(format!("scheduler clock job: {e}")))?;
        clock
            .add(tick_job)
            .await
            .map_err(|e| Error::Other(format!("scheduler clock job: {e}")))?;
        clock
            .start()
            .await
            .map_err(|e| Error::Other(format!("starting the scheduler clock: {e}")))?;

        let work_cancel = CancellationToken::new();
        let running: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        let now = Utc::now();
        let mut next: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();

        // Catch-up: the latest slot of each job that nobody ran (machine off, no daemon)
        // runs once now, not once per missed slot.
        for job in &self.jobs {
            if let Some(slot) = job.schedule.latest_at_or_before(now)
                && self.is_enabled(job).await?
                && !runs::exists(&self.store, &job.name, slot).await?
            {
                self.fire(
                    job,
                    slot,
                    Trigger::CatchUp,
                    &running,
                    &work_cancel,
                    &mut tasks,
                )
                .await?;
            }
            next.insert(job.name.clone(), job.schedule.next_after(now));
        }

        let mut last_beat = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                t = tick_rx.recv() => if t.is_none() { break },
            }
            let now = Utc::now();
            for job in &self.jobs {
                let Some(Some(slot)) = next.get(&job.name).copied() else {
                    continue;
                };
                if slot > now {
                    continue;
                }
                // Only the newest due slot runs; one that passed while the process was
                // stalled is not run twice.
                let mut due = slot;
                while let Some(n) = job.schedule.next_after(due) {
                    if n > now {
                        next.insert(job.name.clone(), Some(n));
                        break;
                    }
                    due = n;
                }
                if self.is_enabled(job).await? {
                    self.fire(
                        job,
                        due,
                        Trigger::Scheduled,
                        &running,
                        &work_cancel,
                        &mut tasks,
                    )
                    .await?;
                }
            }
            tasks.retain(|t| !t.is_finished());
            if last_beat.elapsed() >= HEARTBEAT {
                runs::heartbeat(&self.store, &self.runner).await?;
                runs::fail_orphans(&self.store, stale_before(now)).await?;
                last_beat = tokio::time::Instant::now();
            }
        }

        let _ = clock.shutdown().await;
        // Shutdown: no new slots. Give running jobs the grace period, then cancel them;
        // a cancelled backup removes its partial file and is recorded as failed.
        let all = futures::future::join_all(tasks);
        tokio::pin!(all);
        tokio::select! {
            _ = &mut all => {}
            _ = tokio::time::sleep(self.grace) => {
                work_cancel.cancel();
                all.await;
            }
        }
        runs::unregister(&self.store, &self.runner).await?;
        Ok(())
    }

    async fn is_enabled(&self, job: &Job) -> Result<bool> {
        Ok(runs::enabled_override(&self.store, &job.name)
            .await?
            .unwrap_or(job.enabled))
    }

    async fn fire(
        &self,
        job: &Job,
        slot: DateTime<Utc>,
        trigger: Trigger,
        running: &Arc<Mutex<HashSet<String>>>,
        cancel: &CancellationToken,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<()> {
        let busy_here = running
            .lock()
            .map(|r| r.contains(&job.name))
            .unwrap_or(false);
        let busy_elsewhere = runs::running(&self.store, &job.name).await?;
        if busy_here || busy_elsewhere.is_some() {
            let since = busy_elsewhere
                .map(|r| {
                    format!(
                        " (started {} by {})",
                        r.started_at.format("%H:%M:%S"),
                        r.runner
                    )
                })
                .unwrap_or_default();
            let reason = format!("the previous run of {} was still running{since}", job.name);
            if runs::record_skipped(&self.store, &job.name, slot, &self.runner, &reason).await? {
                tracing::info!(job = %job.name, %slot, "skipped: {reason}");
                self.emit(SchedulerEvent::Skipped {
                    job: job.name.clone(),
                    slot,
                    reason,
                });
            }
            return Ok(());
        }
        let Some(id) = runs::claim(&self.store, &job.name, slot, trigger, &self.runner).await?
        else {
            // another console or daemon has this slot
            return Ok(());
        };
        tracing::info!(job = %job.name, %slot, trigger = trigger.as_str(), "running");
        self.emit(SchedulerEvent::Started {
            job: job.name.clone(),
            slot,
            trigger,
        });
        if let Ok(mut r) = running.lock() {
            r.insert(job.name.clone());
        }
        let (store, actions, job, running, cancel, events) = (
            self.store.clone(),
            self.actions.clone(),
            job.clone(),
            running.clone(),
            cancel.clone(),
            self.events.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let outcome = run_contained(actions, job.clone(), cancel).await;
            if let Err(e) = runs::finish(&store, id, &outcome).await {
                tracing::error!(job = %job.name, "recording the result failed: {e}");
            }
            match &outcome {
                Ok(r) => tracing::info!(job = %job.name, "ok: {r}"),
                Err(e) => tracing::warn!(job = %job.name, "failed: {e}"),
            }
            if let Ok(mut r) = running.lock() {
                r.remove(&job.name);
            }
            if let Some(tx) = events {
                let (ok, message) = match outcome {
                    Ok(m) => (true, m),
                    Err(m) => (false, m),
                };
                let _ = tx.send(SchedulerEvent::Finished {
                    job: job.name.clone(),
                    ok,
                    message,
                });
            }
        }));
        Ok(())
    }
}

/// Run one job in its own task so that a panic is caught and recorded as a failure.
async fn run_contained(
    actions: SharedActions,
    job: Job,
    cancel: CancellationToken,
) -> std::result::Result<String, String> {
    let handle = tokio::spawn(async move { actions.run(&job, cancel).await });
    match handle.await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!("the job panicked: {msg}"))
        }
        Err(e) => Err(format!("the job was stopped: {e}")),
    }
}

/// `somiti scheduler run JOB`: run now through the same claim path, recorded as manual.
pub async fn run_now(store: &Store, actions: SharedActions, job: &Job) -> Result<String> {
    if let Some(r) = runs::running(store, &job.name).await? {
        return Err(Error::Busy(format!(
            "{} is running since {} ({})",
            job.name,
            r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.runner
        )));
    }
    let (runner, _, _) = runner_id();
    let slot = Utc::now().trunc_subsecs(3);
    let id = runs::claim(store, &job.name, slot, Trigger::Manual, &runner)
        .await?
        .ok_or_else(|| Error::Busy(format!("{} was just started by another process", job.name)))?;
    let outcome = run_contained(actions, job.clone(), CancellationToken::new()).await;
    runs::finish(store, id, &outcome).await?;
    outcome.map_err(Error::Other)
}
