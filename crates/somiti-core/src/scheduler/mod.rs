//! The scheduler (README "Scheduled backups and the daemon"): jobs from the config, slots
//! computed in the job's real timezone (the daylight-saving rules are in `slots`), exactly-once
//! claims in `scheduler_runs`, catch-up at start in dependency order and only for slots after a
//! job was first known, one job at a time per scheduler, heartbeats that let anyone fail the
//! runs of a process that stopped, no overlap, status for every face, and the loop that runs in
//! the console and in `somiti daemon`. Time comes from a `clock::Clock` value.

pub mod actions;
pub mod clock;
pub mod engine;
pub mod runs;
pub mod signals;
pub mod slots;
pub mod status;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::access::Operator;
use crate::config::{Config, ScheduleAction};
use crate::db::Store;
use crate::error::{Error, Result};

pub use engine::{JobQueue, Scheduler, SchedulerHandle};
pub use runs::JobOutcome;
pub use slots::Schedule;

pub const DEFAULT_TIMEZONE: &str = "Asia/Dhaka";

/// A scheduled job as the config describes it, with its parsed schedule.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    pub action: ScheduleAction,
    pub scope: Option<String>,
    pub drill: bool,
    /// As configured; the console may override it (`runs::enabled_override`).
    pub enabled: bool,
}

impl Job {
    /// Where the job comes in catch-up and in a queue of jobs due at once: backups first
    /// (a drill wants the newest backup), then prune, then drills and verifies, then exports.
    pub fn rank(&self) -> u8 {
        match self.action {
            ScheduleAction::Backup => 0,
            ScheduleAction::Prune => 1,
            ScheduleAction::VerifyLatest => 2,
            ScheduleAction::ExportCsv => 3,
        }
    }

    /// What a person should read before running the job by hand, for jobs that delete
    /// (prune removes backups that the retention policy no longer keeps).
    pub fn deletes(&self) -> Option<&'static str> {
        match self.action {
            ScheduleAction::Prune => Some(
                "Prune deletes the scheduled backups that the retention policy no longer keeps.",
            ),
            _ => None,
        }
    }

    pub fn action_name(&self) -> &'static str {
        match self.action {
            ScheduleAction::Backup => "backup",
            ScheduleAction::Prune => "prune",
            ScheduleAction::VerifyLatest => "verify-latest",
            ScheduleAction::ExportCsv => "export-csv",
        }
    }
}

/// Parse every `[[schedule]]`: a bad expression or timezone names the job and the reason.
/// `default_tz` is the organization's timezone (Asia/Dhaka unless set).
pub fn jobs_from_config(cfg: &Config, default_tz: &str) -> Result<Vec<Job>> {
    cfg.schedule
        .iter()
        .map(|j| {
            let tz = j.timezone.as_deref().unwrap_or(default_tz);
            Ok(Job {
                name: j.name.clone(),
                schedule: Schedule::parse(&j.name, &j.cron, tz)?,
                action: j.action,
                scope: j.scope.clone(),
                drill: j.drill,
                enabled: j.enabled,
            })
        })
        .collect()
}

/// The default timezone for jobs: the organization's when there is exactly one zone in use.
pub async fn default_timezone(store: &Store) -> Result<String> {
    let orgs = crate::ledger::org::list(store).await?;
    let mut zones: Vec<&str> = orgs.iter().map(|o| o.timezone.as_str()).collect();
    zones.dedup();
    Ok(match zones.as_slice() {
        [one] => (*one).to_string(),
        _ => DEFAULT_TIMEZONE.to_string(),
    })
}

/// The jobs sorted by `Job::rank`, keeping the config's order within a rank.
pub fn in_dependency_order(mut jobs: Vec<Job>) -> Vec<Job> {
    jobs.sort_by_key(Job::rank);
    jobs
}

pub fn find_job<'a>(jobs: &'a [Job], name: &str) -> Result<&'a Job> {
    jobs.iter().find(|j| j.name == name).ok_or_else(|| {
        Error::NotFound(format!(
            "scheduled job {name:?}; the jobs are {}",
            jobs.iter()
                .map(|j| j.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// What a job does when it runs, acting as `who` (`system` for scheduled runs, the
/// operator for manual ones): a one-line result, "nothing to do yet", or an error.
pub trait Actions: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        job: &'a Job,
        who: &'a Operator,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<JobOutcome>>;

    /// After the scheduler stopped (its running job finished or was cancelled): tidy what
    /// a cancelled job may have left behind.
    fn after_stop(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

pub type SharedActions = Arc<dyn Actions>;

/// Which kind of process hosts a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerKind {
    Console,
    Daemon,
}

impl RunnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerKind::Console => "console",
            RunnerKind::Daemon => "daemon",
        }
    }
}

/// `host:pid` of this process.
pub fn runner_id() -> (String, String, i64) {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let pid = std::process::id() as i64;
    (format!("{host}:{pid}"), host, pid)
}

/// Switch a job on or off from a console or the command line (audited).
pub async fn set_enabled(store: &Store, op: &Operator, job: &str, on: bool) -> Result<()> {
    crate::access::require(
        store,
        op,
        crate::access::Permission::RunScheduledJob,
        None,
        "scheduler.toggle",
        job,
    )
    .await?;
    runs::set_enabled(store, job, on, &op.username).await?;
    crate::access::audit::record(
        store,
        &op.username,
        "scheduler.toggle",
        job,
        serde_json::json!({ "enabled": on }),
        crate::access::audit::Outcome::Ok,
    )
    .await
}
