//! Scheduler status, readable from any process: each job's next and last run, who runs the
//! scheduler, the newest completed and verified backups, and whether they are late.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::ScheduleAction;
use crate::db::Store;
use crate::error::Result;
use crate::on_store;
use crate::scheduler::Job;
use crate::scheduler::engine::stale_before;
use crate::scheduler::runs::{self, Run, Runner};

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub action: &'static str,
    pub cron: String,
    pub timezone: String,
    /// "daily at 02:00 Asia/Dhaka"
    pub schedule: String,
    pub enabled: bool,
    /// For a job that deletes (prune): what it deletes, for a face to confirm first.
    pub deletes: Option<String>,
    pub next_run_utc: Option<DateTime<Utc>>,
    /// The next run as wall-clock time in the job's zone, RFC 3339 with its offset.
    pub next_run_local: Option<String>,
    pub running: bool,
    pub last_run: Option<Run>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunnerStatus {
    /// "console", "daemon" or "nobody"
    pub kind: String,
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// "a daemon on db1 (pid 4242)", "this console", "nobody"
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupAge {
    pub id: String,
    pub file: String,
    pub created_at: DateTime<Utc>,
    pub age_seconds: i64,
    /// "3 h 12 min"
    pub age: String,
}

/// The newest backup with a verified off-site copy: how old it is and where the copy is.
#[derive(Debug, Clone, Serialize)]
pub struct OffsiteAge {
    pub backup_id: String,
    /// A target holding a verified copy of it.
    pub target: String,
    pub created_at: DateTime<Utc>,
    pub age_seconds: i64,
    /// "3 h 12 min"
    pub age: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchedulerStatus {
    pub now: DateTime<Utc>,
    pub runner: RunnerStatus,
    pub runners: Vec<Runner>,
    pub jobs: Vec<JobStatus>,
    pub newest_backup: Option<BackupAge>,
    pub newest_verified_backup: Option<BackupAge>,
    /// The newest backup with a verified off-site copy (`None`: no copy verified yet).
    pub newest_verified_offsite: Option<OffsiteAge>,
    /// How old the newest backup may be before it is late ([`backup_allowance`]); a face
    /// colours the ages it shows by it ([`is_late`]).
    #[serde(skip)]
    pub backup_allowance: Option<chrono::Duration>,
    pub warnings: Vec<String>,
}

pub fn human_age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} days", s / 86_400),
    }
}

#[derive(sqlx::FromRow)]
struct BackupRow {
    id: String,
    file: String,
    created_at: DateTime<Utc>,
}

async fn newest(store: &Store, verified: bool, now: DateTime<Utc>) -> Result<Option<BackupAge>> {
    let sql = if verified {
        "SELECT id, file, created_at FROM backups WHERE status = 'completed' AND verify_result = 'ok' ORDER BY created_at DESC LIMIT 1"
    } else {
        "SELECT id, file, created_at FROM backups WHERE status = 'completed' ORDER BY created_at DESC LIMIT 1"
    };
    let row = on_store!(store, |p| sqlx::query_as::<_, BackupRow>(sql)
        .fetch_optional(p)
        .await?);
    Ok(row.map(|r| {
        let age = (now - r.created_at).num_seconds();
        BackupAge {
            id: r.id,
            file: r.file,
            created_at: r.created_at,
            age_seconds: age,
            age: human_age(age),
        }
    }))
}

/// Everything the status screens show. `this_runner` is the caller's own `host:pid`, so a
/// console can say "this console".
pub async fn status(
    store: &Store,
    jobs: &[Job],
    this_runner: Option<&str>,
) -> Result<SchedulerStatus> {
    status_at(store, jobs, this_runner, Utc::now()).await
}

/// The status as of `now` (the scheduler's clock). Runs of processes that stopped are
/// failed first, so "running" is never a ghost; a next run is always after `now`.
pub async fn status_at(
    store: &Store,
    jobs: &[Job],
    this_runner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SchedulerStatus> {
    runs::reap_dead(store, stale_before(now), now).await?;
    let runners = runs::live_runners(store, stale_before(now)).await?;
    let runner = match runners.first() {
        Some(r) if Some(r.runner.as_str()) == this_runner => RunnerStatus {
            kind: r.kind.clone(),
            host: Some(r.host.clone()),
            pid: Some(r.pid),
            heartbeat_at: Some(r.heartbeat_at),
            description: format!("this {}", r.kind),
        },
        Some(r) => RunnerStatus {
            kind: r.kind.clone(),
            host: Some(r.host.clone()),
            pid: Some(r.pid),
            heartbeat_at: Some(r.heartbeat_at),
            description: format!("a {} on {} (pid {})", r.kind, r.host, r.pid),
        },
        None => RunnerStatus {
            kind: "nobody".into(),
            host: None,
            pid: None,
            heartbeat_at: None,
            description: "nobody: no console or daemon runs the scheduler".into(),
        },
    };
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let enabled = runs::enabled_override(store, &j.name)
            .await?
            .unwrap_or(j.enabled);
        let next = if enabled {
            j.schedule.next_after(now).filter(|n| *n > now)
        } else {
            None
        };
        let last = runs::last_run(store, &j.name).await?;
        let running = runs::running(store, &j.name).await?.is_some();
        out.push(JobStatus {
            name: j.name.clone(),
            action: j.action_name(),
            cron: j.schedule.expr.clone(),
            timezone: j.schedule.tz.name().to_string(),
            schedule: j.schedule.describe(),
            enabled,
            deletes: j.deletes().map(str::to_string),
            next_run_utc: next,
            next_run_local: next.map(|n| n.with_timezone(&j.schedule.tz).to_rfc3339()),
            running,
            last_result: last
                .as_ref()
                .filter(|r| r.status == "ok")
                .map(|r| r.result.clone()),
            last_error: last
                .as_ref()
                .filter(|r| r.status == "failed")
                .map(|r| r.error.clone()),
            last_run: last,
        });
    }
    let newest_backup = newest(store, false, now).await?;
    let newest_verified_backup = newest(store, true, now).await?;
    let newest_verified_offsite = crate::backup::offsite::copies::newest_verified(store)
        .await?
        .map(|(created_at, backup_id, target)| {
            let age = (now - created_at).num_seconds();
            OffsiteAge {
                backup_id,
                target,
                created_at,
                age_seconds: age,
                age: human_age(age),
            }
        });
    let enabled: Vec<bool> = out.iter().map(|j| j.enabled).collect();
    let backup_allowance = backup_allowance(jobs, &enabled, now);
    let mut warnings: Vec<String> = late(
        jobs,
        &enabled,
        newest_backup.as_ref(),
        newest_verified_backup.as_ref(),
        now,
    )
    .into_iter()
    .map(|l| l.message)
    .collect();
    if runner.kind == "nobody" && out.iter().any(|j| j.enabled) {
        warnings
            .push("nobody runs the scheduler: start `somiti daemon` or keep a console open".into());
    }
    Ok(SchedulerStatus {
        now,
        runner,
        runners,
        jobs: out,
        newest_backup,
        newest_verified_backup,
        newest_verified_offsite,
        backup_allowance,
        warnings,
    })
}

/// How long past its schedule's longest gap a backup may be before it counts as late.
pub const LATE_GRACE_MINUTES: i64 = 30;

/// How much time `job`'s schedule allows between two backups as of `now`: its longest gap
/// between slots and the grace.
pub fn allowance(job: &Job, now: DateTime<Utc>) -> chrono::Duration {
    job.schedule.max_interval(now) + chrono::Duration::minutes(LATE_GRACE_MINUTES)
}

/// How old the newest backup (and so its verification and its off-site copy) may be
/// before it is late: the least any enabled backup job allows. `None` when no enabled job
/// takes backups: then nothing counts as late (no warning, no alert, no red age).
pub fn backup_allowance(
    jobs: &[Job],
    enabled: &[bool],
    now: DateTime<Utc>,
) -> Option<chrono::Duration> {
    jobs.iter()
        .zip(enabled)
        .filter(|(j, on)| **on && j.action == ScheduleAction::Backup)
        .map(|(j, _)| allowance(j, now))
        .min()
}

/// The allowance a face uses while the schedule cannot be read (the jobs did not load, or
/// their on/off did not): a day and the grace, what the default daily backup job allows.
/// An unknown schedule never hides an old backup (`None` means "no backup job", a fact).
pub fn fallback_allowance() -> chrono::Duration {
    chrono::Duration::hours(24) + chrono::Duration::minutes(LATE_GRACE_MINUTES)
}

/// [`backup_allowance`] with each job's on/off as it stands in the database.
pub async fn current_backup_allowance(
    store: &Store,
    jobs: &[Job],
    now: DateTime<Utc>,
) -> Result<Option<chrono::Duration>> {
    let enabled = enabled_now(store, jobs).await?;
    Ok(backup_allowance(jobs, &enabled, now))
}

/// Whether a backup taken at `taken` is late as of `now` under `allowance` (older than
/// it allows; never without an allowance).
pub fn is_late(
    taken: DateTime<Utc>,
    now: DateTime<Utc>,
    allowance: Option<chrono::Duration>,
) -> bool {
    allowance.is_some_and(|a| now - taken > a)
}

/// Each job's on/off: the database's override, else the configuration's.
async fn enabled_now(store: &Store, jobs: &[Job]) -> Result<Vec<bool>> {
    let mut enabled = Vec::with_capacity(jobs.len());
    for j in jobs {
        enabled.push(
            runs::enabled_override(store, &j.name)
                .await?
                .unwrap_or(j.enabled),
        );
    }
    Ok(enabled)
}

/// A job whose newest backup (or verified backup, for a drill) is older than its schedule
/// allows.
#[derive(Debug, Clone)]
pub struct Late {
    pub job: String,
    /// "the newest backup is 3 days old; job daily-backup expects one daily at 02:00 …"
    pub message: String,
    /// There is no such backup at all (yet).
    pub none_yet: bool,
    /// How much time the job's schedule allows.
    pub allowed: chrono::Duration,
}

/// The enabled backup and verify-latest jobs whose newest backup is late (the warnings of
/// the status screens; the "stale" alert).
pub fn late(
    jobs: &[Job],
    enabled: &[bool],
    newest_backup: Option<&BackupAge>,
    newest_verified_backup: Option<&BackupAge>,
    now: DateTime<Utc>,
) -> Vec<Late> {
    let mut out = Vec::new();
    for (j, on) in jobs.iter().zip(enabled) {
        if !on {
            continue;
        }
        let (have, what) = match j.action {
            ScheduleAction::Backup => (newest_backup, "backup"),
            ScheduleAction::VerifyLatest => (newest_verified_backup, "verified backup"),
            _ => continue,
        };
        let allowed = allowance(j, now);
        match have {
            None => out.push(Late {
                job: j.name.clone(),
                message: format!(
                    "no {what} yet; job {} expects one {}",
                    j.name,
                    j.schedule.describe()
                ),
                none_yet: true,
                allowed,
            }),
            Some(b) if now - b.created_at > allowed => out.push(Late {
                job: j.name.clone(),
                message: format!(
                    "the newest {what} is {} old; job {} expects one {}",
                    b.age,
                    j.name,
                    j.schedule.describe()
                ),
                none_yet: false,
                allowed,
            }),
            Some(_) => {}
        }
    }
    out
}

/// Why the backups are late as of `now`, in one sentence, or None when they are fresh (the
/// "stale:backup" alert). A job with no backup at all counts as late only once it has been
/// known longer than its schedule allows (a new install is not late).
pub async fn stale_reason(
    store: &Store,
    jobs: &[Job],
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let enabled = enabled_now(store, jobs).await?;
    if !jobs.iter().zip(&enabled).any(|(j, on)| {
        *on && matches!(
            j.action,
            ScheduleAction::Backup | ScheduleAction::VerifyLatest
        )
    }) {
        return Ok(None);
    }
    let newest_backup = newest(store, false, now).await?;
    let newest_verified_backup = newest(store, true, now).await?;
    let lates = late(
        jobs,
        &enabled,
        newest_backup.as_ref(),
        newest_verified_backup.as_ref(),
        now,
    );
    if lates.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let seen = runs::first_seen(store, &names, now).await?;
    let reasons: Vec<String> = lates
        .into_iter()
        .filter(|l| {
            !l.none_yet
                || seen
                    .get(&l.job)
                    .is_some_and(|first| now - *first > l.allowed)
        })
        .map(|l| l.message)
        .collect();
    Ok((!reasons.is_empty()).then(|| reasons.join("; ")))
}

/// Why the newest verified off-site copy is late, or None: older than an enabled backup job
/// allows (its longest gap between slots and the grace), or none at all once the job has
/// been known longer than that.
pub async fn offsite_stale_reason(
    store: &Store,
    jobs: &[Job],
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let newest = crate::backup::offsite::copies::newest_verified(store).await?;
    let mut reasons = Vec::new();
    for j in jobs {
        if j.action != ScheduleAction::Backup
            || !runs::enabled_override(store, &j.name)
                .await?
                .unwrap_or(j.enabled)
        {
            continue;
        }
        let allowed = allowance(j, now);
        match &newest {
            Some((created_at, _, target)) if now - *created_at > allowed => reasons.push(format!(
                "the newest verified off-site copy (on {target}) is {} old; job {} expects a backup {}",
                human_age((now - *created_at).num_seconds()),
                j.name,
                j.schedule.describe()
            )),
            Some(_) => {}
            None => {
                let seen = runs::first_seen(store, &[j.name.as_str()], now).await?;
                if seen.get(&j.name).is_some_and(|first| now - *first > allowed) {
                    reasons.push(format!(
                        "no verified off-site copy yet; job {} expects a backup {}",
                        j.name,
                        j.schedule.describe()
                    ));
                }
            }
        }
    }
    Ok((!reasons.is_empty()).then(|| reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::slots::Schedule;
    use chrono::TimeZone;

    fn job(name: &str, cron: &str, action: ScheduleAction) -> Job {
        Job {
            name: name.into(),
            schedule: Schedule::parse(name, cron, "Asia/Dhaka").unwrap(),
            action,
            scope: None,
            drill: false,
            enabled: true,
        }
    }

    #[test]
    fn a_backup_is_late_once_older_than_the_least_an_enabled_backup_job_allows() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap();
        let jobs = [
            job("weekly", "0 3 * * SUN", ScheduleAction::Backup),
            job("daily", "0 2 * * *", ScheduleAction::Backup),
            job("hourly-drill", "0 * * * *", ScheduleAction::VerifyLatest),
        ];
        let day_and_grace = chrono::Duration::minutes(24 * 60 + LATE_GRACE_MINUTES);
        let a = backup_allowance(&jobs, &[true, true, true], now);
        assert_eq!(a, Some(day_and_grace));
        // the daily job off: the weekly one decides
        let weekly = backup_allowance(&jobs, &[true, false, true], now);
        assert_eq!(
            weekly,
            Some(chrono::Duration::minutes(7 * 24 * 60 + LATE_GRACE_MINUTES))
        );
        // no backup job: nothing is late
        assert_eq!(backup_allowance(&jobs, &[false, false, true], now), None);
        let hours = |h: i64| now - chrono::Duration::hours(h);
        assert!(!is_late(hours(24), now, a));
        assert!(is_late(hours(25), now, a));
        assert!(!is_late(hours(25), now, weekly));
        assert!(!is_late(hours(24 * 30), now, None));
        // what a face assumes while the schedule is unknown: the default daily job's
        assert_eq!(fallback_allowance(), day_and_grace);
    }
}
