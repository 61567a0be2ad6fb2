//! `somiti scheduler status|run|enable|disable` and `somiti daemon`.

use clap::Subcommand;

use crate::access::{self, Permission};
use crate::cli::{Ctx, table};
use crate::error::{Error, Result};
use crate::scheduler::{self, RunnerKind, Scheduler, actions, engine, runs, status};

#[derive(Debug, Subcommand)]
pub enum SchedulerCmd {
    /// Jobs, next and last runs, who runs the scheduler, backup ages and warnings
    Status,
    /// Run a job now through the same path as a scheduled run (recorded as manual)
    Run {
        /// The job's name, as in `scheduler status` (e.g. daily-backup)
        job: String,
    },
    /// Switch a job on (overrides the config until changed again)
    Enable {
        /// The job's name, as in `scheduler status`
        job: String,
    },
    /// Switch a job off
    Disable {
        /// The job's name, as in `scheduler status`
        job: String,
    },
    /// The run history of a job, newest first
    History {
        /// The job's name, as in `scheduler status`
        job: String,
        /// At most this many runs
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

async fn jobs(ctx: &Ctx, store: &crate::db::Store) -> Result<Vec<scheduler::Job>> {
    let tz = scheduler::default_timezone(store).await?;
    scheduler::jobs_from_config(&ctx.settings.config, &tz)
}

pub async fn run(ctx: &Ctx, cmd: SchedulerCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    let jobs = jobs(ctx, &store).await?;
    match cmd {
        SchedulerCmd::Status => {
            access::require(
                &store,
                &op,
                Permission::Read,
                None,
                "scheduler.status",
                "scheduler",
            )
            .await?;
            let st = status::status(&store, &jobs, None).await?;
            if ctx.json {
                return ctx.print_json(&st);
            }
            let clock = ctx.clock(&store, &op).await?;
            outln!("scheduler: {}", st.runner.description)?;
            let body: Vec<Vec<String>> = st
                .jobs
                .iter()
                .map(|j| {
                    vec![
                        j.name.clone(),
                        j.schedule.clone(),
                        if j.enabled { "on" } else { "off" }.into(),
                        j.next_run_utc
                            .map(|t| clock.minute(t))
                            .unwrap_or_else(|| "-".into()),
                        j.last_run
                            .as_ref()
                            .map(|r| format!("{} {}", clock.minute(r.started_at), r.status))
                            .unwrap_or_else(|| "never".into()),
                        j.last_error
                            .clone()
                            .or_else(|| j.last_result.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            let (next, last) = (
                format!("Next run ({})", clock.label()),
                format!("Last run ({})", clock.label()),
            );
            out!(
                "{}",
                table(
                    &["Job", "Schedule", "On", &next, &last, "Result"],
                    &body,
                    &[]
                )
            )?;
            match &st.newest_backup {
                Some(b) => outln!("newest backup: {} ({} old)", b.file, b.age),
                None => outln!("newest backup: none"),
            }?;
            match &st.newest_verified_backup {
                Some(b) => outln!("newest verified backup: {} ({} old)", b.file, b.age),
                None => outln!("newest verified backup: none"),
            }?;
            if ctx.settings.config.offsite.iter().any(|t| t.enabled) {
                match &st.newest_verified_offsite {
                    Some(o) => outln!(
                        "newest verified off-site copy: backup {} on {} ({} old)",
                        &o.backup_id[..8.min(o.backup_id.len())],
                        o.target,
                        o.age
                    ),
                    None => outln!("newest verified off-site copy: none"),
                }?;
            }
            for w in &st.warnings {
                outln!("warning: {w}")?;
            }
        }
        SchedulerCmd::Run { job } => {
            access::require(
                &store,
                &op,
                Permission::RunScheduledJob,
                None,
                "scheduler.run",
                &job,
            )
            .await?;
            let j = scheduler::find_job(&jobs, &job)?;
            let acts = actions::CoreActions::shared(store.clone(), ctx.settings.clone());
            // SIGINT, SIGTERM or SIGHUP cancel the run cleanly (a backup removes its
            // partial file) instead of leaving it half done.
            let cancel = tokio_util::sync::CancellationToken::new();
            let on_signal = cancel.clone();
            let mut signals = crate::scheduler::signals::Signals::listen()?;
            let watcher = tokio::spawn(async move {
                let why = signals.next().await;
                tracing::info!("{why}: cancelling the run");
                on_signal.cancel();
            });
            let result = engine::run_now(
                &store,
                acts,
                j,
                &op,
                scheduler::clock::system(),
                cancel,
                &ctx.settings.config.alert,
            )
            .await;
            watcher.abort();
            let outcome = result?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({
                    "job": job,
                    "ok": true,
                    "skipped": matches!(outcome, scheduler::JobOutcome::Skipped(_)),
                    "result": outcome.message(),
                }));
            }
            outln!("{job}: {}", outcome.message())?;
        }
        SchedulerCmd::Enable { job } | SchedulerCmd::Disable { job }
            if scheduler::find_job(&jobs, &job).is_err() =>
        {
            return Err(scheduler::find_job(&jobs, &job)
                .err()
                .unwrap_or(Error::NotFound(job)));
        }
        SchedulerCmd::Enable { job } => toggle(ctx, &store, &op, &job, true).await?,
        SchedulerCmd::Disable { job } => toggle(ctx, &store, &op, &job, false).await?,
        SchedulerCmd::History { job, limit } => {
            scheduler::find_job(&jobs, &job)?;
            let h = runs::history(&store, &job, limit).await?;
            if ctx.json {
                return ctx.print_json(&h);
            }
            let clock = ctx.clock(&store, &op).await?;
            let body: Vec<Vec<String>> = h
                .iter()
                .map(|r| {
                    vec![
                        clock.second(r.slot),
                        r.trigger.clone(),
                        r.status.clone(),
                        r.runner.clone(),
                        if r.error.is_empty() {
                            r.result.clone()
                        } else {
                            r.error.clone()
                        },
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &[
                        &format!("Slot ({})", clock.label()),
                        "Trigger",
                        "Status",
                        "Runner",
                        "Result"
                    ],
                    &body,
                    &[]
                )
            )?;
        }
    }
    Ok(())
}

async fn toggle(
    ctx: &Ctx,
    store: &crate::db::Store,
    op: &access::Operator,
    job: &str,
    on: bool,
) -> Result<()> {
    scheduler::set_enabled(store, op, job, on).await?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "job": job, "enabled": on }));
    }
    outln!("{job} is now {}", if on { "enabled" } else { "disabled" })?;
    Ok(())
}

/// `somiti daemon`: the scheduler without a screen, until SIGTERM, SIGHUP or SIGINT, each
/// of which ends it the same clean way (exit 0). It opens only a database that `init`
/// made, and creates nothing when there is none.
pub async fn daemon(ctx: &Ctx) -> Result<()> {
    let mut signals = crate::scheduler::signals::Signals::listen()?;
    let store = if ctx.demo {
        ctx.store().await?
    } else {
        crate::db::Store::open_existing(&ctx.settings.database_url).await?
    };
    // Logs go to stderr too, except with `--json` (stderr then holds one JSON error at most).
    let _log = crate::logging::init(&ctx.settings.log_dir, "daemon", !ctx.json)?;
    let jobs = jobs(ctx, &store).await?;
    tracing::info!(database = %store.describe(), jobs = jobs.len(), "somiti daemon starting");
    let acts = actions::CoreActions::shared(store.clone(), ctx.settings.clone());
    let handle = Scheduler::new(store.clone(), jobs, acts, RunnerKind::Daemon)
        .with_offsite(crate::backup::Backups::new(store.clone(), &ctx.settings))
        .with_alerts(ctx.settings.config.alert.clone())
        .spawn();
    let shutdown = handle.shutdown.clone();
    let mut task = handle.task;
    let ended = tokio::select! {
        why = signals.next() => {
            tracing::info!("{why}: finishing the running job, taking no new slots");
            shutdown.cancel();
            task.await
        }
        // the scheduler ended by itself (its database went away at the start)
        r = &mut task => r,
    };
    let r = ended.map_err(|e| Error::Other(format!("scheduler task: {e}")))?;
    store.close().await;
    r?;
    tracing::info!("somiti daemon stopped");
    Ok(())
}
