//! The `scheduler_runs` table: claims, results, history, the runners' and the runs'
//! heartbeats, and when each job was first seen. A claim is an INSERT under the unique key
//! (job, slot); whoever inserts first runs it. Every write takes its time from the caller
//! (the scheduler's clock), never from the system clock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::Store;
use crate::error::{Error, Result};
use crate::on_store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Scheduled,
    CatchUp,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::CatchUp => "catch-up",
            Trigger::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub job: String,
    pub slot: DateTime<Utc>,
    pub trigger: String,
    pub status: String,
    pub runner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub result: String,
    pub error: String,
    /// The newest beat of whoever runs it (`None` for runs recorded by older versions).
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// The operator the run acts for: `system`, or who asked for a manual run.
    pub requested_by: String,
}

const RUN_COLS: &str = "id, job, slot, trigger, status, runner, started_at, finished_at, result, error, heartbeat_at, requested_by";

/// What a job's action came to: it ran, or there was nothing for it to do yet (a drill
/// before the first backup), which is recorded as skipped rather than failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Ran(String),
    Skipped(String),
}

impl JobOutcome {
    /// The line a face shows: the result, or "skipped: why".
    pub fn message(&self) -> String {
        match self {
            JobOutcome::Ran(m) => m.clone(),
            JobOutcome::Skipped(why) => format!("skipped: {why}"),
        }
    }
}

/// Why a run was marked failed by someone else: its process is gone.
pub const RUNNER_STOPPED: &str = "the process running it stopped";

/// Claim (job, slot) as running. `None` when another process claimed it first.
pub async fn claim(store: &Store, claim: &Claim<'_>, now: DateTime<Utc>) -> Result<Option<i64>> {
    insert(store, claim, "running", "", now).await
}

/// Who claims which slot of which job, and for whom.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub job: &'a str,
    pub slot: DateTime<Utc>,
    pub trigger: Trigger,
    pub runner: &'a str,
    pub requested_by: &'a str,
}

/// Record a slot that was not run because the previous run of the job was still going.
/// `false` when the slot already has a row (someone else ran or skipped it).
pub async fn record_skipped(
    store: &Store,
    claim: &Claim<'_>,
    why: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(insert(store, claim, "skipped", why, now).await?.is_some())
}

async fn insert(
    store: &Store,
    c: &Claim<'_>,
    status: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let finished = if status == "running" { None } else { Some(now) };
    let res = on_store!(store, |p| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO scheduler_runs (job, slot, trigger, status, runner, started_at, finished_at, result, error, heartbeat_at, requested_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $6, $9) RETURNING id"
    )
    .bind(c.job)
    .bind(c.slot)
    .bind(c.trigger.as_str())
    .bind(status)
    .bind(c.runner)
    .bind(now)
    .bind(finished)
    .bind(error)
    .bind(c.requested_by)
    .fetch_one(p)
    .await
    });
    match res {
        Ok(id) => {
            crate::db::changes::announce(store, c.runner, "scheduler.run", "scheduler_runs").await;
            Ok(Some(id))
        }
        Err(e) => {
            let e = Error::from(e);
            if e.is_unique_violation() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Close a claimed run with its outcome.
pub async fn finish(
    store: &Store,
    id: i64,
    outcome: &std::result::Result<JobOutcome, String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (status, result, error) = match outcome {
        Ok(JobOutcome::Ran(r)) => ("ok", r.as_str(), ""),
        Ok(JobOutcome::Skipped(why)) => ("skipped", "", why.as_str()),
        Err(e) => ("failed", "", e.as_str()),
    };
    on_store!(store, |p| {
        sqlx::query(
        "UPDATE scheduler_runs SET status = $1, result = $2, error = $3, finished_at = $4 WHERE id = $5"
    )
    .bind(status)
    .bind(result)
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected()
    });
    crate::db::changes::announce(store, "", "scheduler.run", "scheduler_runs").await;
    Ok(())
}

/// Whether a run of `job` is going on (in any live process).
pub async fn running(store: &Store, job: &str) -> Result<Option<Run>> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM scheduler_runs WHERE job = $1 AND status = 'running' ORDER BY id DESC LIMIT 1"
    );
    Ok(on_store!(store, |p| sqlx::query_as::<_, Run>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(job)
    .fetch_optional(p)
    .await?))
}

pub async fn exists(store: &Store, job: &str, slot: DateTime<Utc>) -> Result<bool> {
    let n: i64 = on_store!(store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = $1 AND slot = $2"
    )
    .bind(job)
    .bind(slot)
    .fetch_one(p)
    .await?);
    Ok(n > 0)
}

/// The newest runs of a job (skips included), newest first.
pub async fn history(store: &Store, job: &str, limit: i64) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM scheduler_runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT {}",
        limit.max(1)
    );
    Ok(on_store!(store, |p| sqlx::query_as::<_, Run>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(job)
    .fetch_all(p)
    .await?))
}

/// The newest run that actually ran (not skipped).
pub async fn last_run(store: &Store, job: &str) -> Result<Option<Run>> {
    let sql = format!(
        "SELECT {RUN_COLS} FROM scheduler_runs WHERE job = $1 AND status <> 'skipped' ORDER BY started_at DESC, id DESC LIMIT 1"
    );
    Ok(on_store!(store, |p| sqlx::query_as::<_, Run>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(job)
    .fetch_optional(p)
    .await?))
}

/// A run's beat: whoever runs it says so every `HEARTBEAT`, with what it is doing now
/// ("waiting for the backup lock: …"), or leaves the note as it is (`None`).
pub async fn beat(store: &Store, id: i64, note: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    on_store!(store, |p| {
        match note {
        Some(n) => sqlx::query(
            "UPDATE scheduler_runs SET heartbeat_at = $1, result = $2 WHERE id = $3 AND status = 'running'"
        )
        .bind(now)
        .bind(n)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected(),
        None => sqlx::query(
            "UPDATE scheduler_runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'"
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected(),
    }
    });
    Ok(())
}

/// Runs left `running` by a process that is gone become failed ("the process running it
/// stopped"): their beat is older than `stale_before`, or they were started on this host
/// by a pid that no longer exists. Every scheduler and `scheduler run` calls this before
/// deciding that a job is busy, so a dead process never blocks anyone.
pub async fn reap_dead(
    store: &Store,
    stale_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let sql = format!("SELECT {RUN_COLS} FROM scheduler_runs WHERE status = 'running'");
    let open = on_store!(store, |p| sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(p)
    .await?);
    let (_, this_host, _) = crate::scheduler::runner_id();
    let mut n = 0;
    for r in open {
        let beat = r.heartbeat_at.unwrap_or(r.started_at);
        if beat >= stale_before && !pid_gone_here(&r.runner, &this_host) {
            continue;
        }
        n += on_store!(store, |p| {
            sqlx::query(
                "UPDATE scheduler_runs SET status = 'failed', error = $1, finished_at = $2 \
                 WHERE id = $3 AND status = 'running'",
            )
            .bind(RUNNER_STOPPED)
            .bind(now)
            .bind(r.id)
            .execute(p)
            .await?
            .rows_affected()
        });
    }
    Ok(n)
}

/// A scheduler that stops fails whatever it still has `running` (a run whose result
/// could not be written), so it leaves no run behind.
pub async fn fail_left_by(store: &Store, runner: &str, now: DateTime<Utc>) -> Result<u64> {
    Ok(on_store!(store, |p| sqlx::query(
        "UPDATE scheduler_runs SET status = 'failed', error = $1, finished_at = $2 \
         WHERE runner = $3 AND status = 'running'"
    )
    .bind(RUNNER_STOPPED)
    .bind(now)
    .bind(runner)
    .execute(p)
    .await?
    .rows_affected()))
}

/// Whether `host:pid` names a process of this host that no longer exists. A pid of
/// another user answers EPERM: it exists.
pub fn pid_gone_here(runner: &str, this_host: &str) -> bool {
    let Some((host, pid)) = runner.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    host == this_host
        && pid > 0
        && matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        )
}

/// Record each job's first sighting (the earlier one wins) and return them all: catch-up
/// looks only at slots from then on.
pub async fn first_seen(
    store: &Store,
    jobs: &[&str],
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, DateTime<Utc>>> {
    let now = chrono::SubsecRound::trunc_subsecs(now, 0);
    for job in jobs {
        on_store!(store, |p| {
            sqlx::query(
            "INSERT INTO scheduler_jobs (job, first_seen) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING"
        )
        .bind(*job)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected()
        });
    }
    let rows: Vec<(String, DateTime<Utc>)> = on_store!(store, |p| sqlx::query_as(
        "SELECT job, first_seen FROM scheduler_jobs"
    )
    .fetch_all(p)
    .await?);
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Runner {
    pub runner: String,
    pub kind: String,
    pub host: String,
    pub pid: i64,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
}

pub async fn register(
    store: &Store,
    runner: &str,
    kind: &str,
    host: &str,
    pid: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query("DELETE FROM scheduler_runners WHERE runner = $1")
            .bind(runner)
            .execute(p)
            .await?;
        sqlx::query(
            "INSERT INTO scheduler_runners (runner, kind, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(runner)
        .bind(kind)
        .bind(host)
        .bind(pid)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(())
}

pub async fn heartbeat(store: &Store, runner: &str, now: DateTime<Utc>) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE scheduler_runners SET heartbeat_at = $1 WHERE runner = $2"
    )
    .bind(now)
    .bind(runner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

pub async fn unregister(store: &Store, runner: &str) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "DELETE FROM scheduler_runners WHERE runner = $1"
    )
    .bind(runner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

/// Runners whose heartbeat is newer than `fresh_after`, daemons first.
pub async fn live_runners(store: &Store, fresh_after: DateTime<Utc>) -> Result<Vec<Runner>> {
    Ok(on_store!(store, |p| sqlx::query_as::<_, Runner>(
        "SELECT runner, kind, host, pid, started_at, heartbeat_at FROM scheduler_runners \
         WHERE heartbeat_at >= $1 ORDER BY kind DESC, started_at"
    )
    .bind(fresh_after)
    .fetch_all(p)
    .await?))
}

/// The console's override of a job's `enabled`, if any.
pub async fn enabled_override(store: &Store, job: &str) -> Result<Option<bool>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, bool>(
        "SELECT enabled FROM scheduler_job_overrides WHERE job = $1"
    )
    .bind(job)
    .fetch_optional(p)
    .await?))
}

pub async fn set_enabled(store: &Store, job: &str, enabled: bool, by: &str) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query("DELETE FROM scheduler_job_overrides WHERE job = $1")
            .bind(job)
            .execute(p)
            .await?;
        sqlx::query("INSERT INTO scheduler_job_overrides (job, enabled, changed_by, changed_at) VALUES ($1, $2, $3, $4)")
            .bind(job)
            .bind(enabled)
            .bind(by)
            .bind(Utc::now())
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}
