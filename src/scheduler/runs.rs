//! The `scheduler_runs` table: claims, results, history, and the runners' heartbeats.
//! A claim is an INSERT under the unique key (job, slot); whoever inserts first runs it.

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
}

const RUN_COLS: &str =
    "id, job, slot, trigger, status, runner, started_at, finished_at, result, error";

/// Claim (job, slot) as running. `None` when another process claimed it first.
pub async fn claim(
    store: &Store,
    job: &str,
    slot: DateTime<Utc>,
    trigger: Trigger,
    runner: &str,
) -> Result<Option<i64>> {
    insert(store, job, slot, trigger, "running", runner, "").await
}

/// Record a slot that was not run because the previous run of the job was still going.
pub async fn record_skipped(
    store: &Store,
    job: &str,
    slot: DateTime<Utc>,
    runner: &str,
    why: &str,
) -> Result<bool> {
    Ok(
        insert(store, job, slot, Trigger::Scheduled, "skipped", runner, why)
            .await?
            .is_some(),
    )
}

async fn insert(
    store: &Store,
    job: &str,
    slot: DateTime<Utc>,
    trigger: Trigger,
    status: &str,
    runner: &str,
    error: &str,
) -> Result<Option<i64>> {
    let now = Utc::now();
    let finished = if status == "running" { None } else { Some(now) };
    let res = on_store!(store, |p| {
        sqlx::query_scalar::<_, i64>(
        "INSERT INTO scheduler_runs (job, slot, trigger, status, runner, started_at, finished_at, result, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8) RETURNING id"
    )
    .bind(job)
    .bind(slot)
    .bind(trigger.as_str())
    .bind(status)
    .bind(runner)
    .bind(now)
    .bind(finished)
    .bind(error)
    .fetch_one(p)
    .await
    });
    match res {
        Ok(id) => Ok(Some(id)),
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
    outcome: &std::result::Result<String, String>,
) -> Result<()> {
    let (status, result, error) = match outcome {
        Ok(r) => ("ok", r.as_str(), ""),
        Err(e) => ("failed", "", e.as_str()),
    };
    on_store!(store, |p| {
        sqlx::query(
        "UPDATE scheduler_runs SET status = $1, result = $2, error = $3, finished_at = $4 WHERE id = $5"
    )
    .bind(status)
    .bind(result)
    .bind(error)
    .bind(Utc::now())
    .bind(id)
    .execute(p)
    .await?
    .rows_affected()
    });
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

/// Runs left `running` by a process that is gone become failed. A process is alive when
/// its heartbeat is fresh, or, on this host, when its pid still exists (manual runs from
/// the command line have no heartbeat).
pub async fn fail_orphans(store: &Store, stale_before: DateTime<Utc>) -> Result<u64> {
    let sql = format!("SELECT {RUN_COLS} FROM scheduler_runs WHERE status = 'running'");
    let open = on_store!(store, |p| sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(p)
    .await?);
    if open.is_empty() {
        return Ok(0);
    }
    let live: std::collections::HashSet<String> = live_runners(store, stale_before)
        .await?
        .into_iter()
        .map(|r| r.runner)
        .collect();
    let (_, this_host, _) = crate::scheduler::runner_id();
    let mut n = 0;
    for r in open {
        if live.contains(&r.runner) || pid_alive_here(&r.runner, &this_host) {
            continue;
        }
        n += on_store!(store, |p| {
            sqlx::query(
            "UPDATE scheduler_runs SET status = 'failed', error = 'the process running it stopped during the run', \
             finished_at = $1 WHERE id = $2 AND status = 'running'"
        )
        .bind(Utc::now())
        .bind(r.id)
        .execute(p)
        .await?
        .rows_affected()
        });
    }
    Ok(n)
}

fn pid_alive_here(runner: &str, this_host: &str) -> bool {
    let Some((host, pid)) = runner.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    host == this_host && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
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

pub async fn register(store: &Store, runner: &str, kind: &str, host: &str, pid: i64) -> Result<()> {
    let now = Utc::now();
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

pub async fn heartbeat(store: &Store, runner: &str) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE scheduler_runners SET heartbeat_at = $1 WHERE runner = $2"
    )
    .bind(Utc::now())
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
