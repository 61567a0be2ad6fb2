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
    Run { job: String },
    /// Switch a job on (overrides the config until changed again)
    Enable { job: String },
    /// Switch a job off
    Disable { job: String },
    /// The run history of a job, newest first
    History {
        job: String,
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
            outln!("scheduler: {}", st.runner.description)?;
            let body: Vec<Vec<String>> = st
                .jobs
                .iter()
                .map(|j| {
                    vec![
                        j.name.clone(),
                        j.schedule.clone(),
                        if j.enabled { "on" } else { "off" }.into(),
                        j.next_run_local.clone().unwrap_or_else(|| "-".into()),
                        j.last_run
                            .as_ref()
                            .map(|r| {
                                format!("{} {}", r.started_at.format("%Y-%m-%d %H:%M:%S"), r.status)
                            })
                            .unwrap_or_else(|| "never".into()),
                        j.last_error
                            .clone()
                            .or_else(|| j.last_result.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &[
                        "Job",
                        "Schedule",
                        "On",
                        "Next run",
                        "Last run (UTC)",
                        "Result"
                    ],
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
            let result = engine::run_now(&store, acts, j).await;
            match result {
                Ok(msg) => {
                    if ctx.json {
                        return ctx.print_json(
                            &serde_json::json!({ "job": job, "ok": true, "result": msg }),
                        );
                    }
                    outln!("{job}: {msg}")?;
                }
                Err(e) => return Err(e),
            }
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
            let body: Vec<Vec<String>> = h
                .iter()
                .map(|r| {
                    vec![
                        r.slot.format("%Y-%m-%d %H:%M:%S").to_string(),
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
                    &["Slot (UTC)", "Trigger", "Status", "Runner", "Result"],
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

/// `somiti daemon`: the scheduler without a screen, until SIGTERM or SIGINT.
pub async fn daemon(ctx: &Ctx) -> Result<()> {
    // Logs go to stderr too, except with `--json` (stderr then holds one JSON error at most).
    let _log = crate::logging::init(&ctx.settings.log_dir, "daemon", !ctx.json)?;
    let store = ctx.store().await?;
    let jobs = jobs(ctx, &store).await?;
    tracing::info!(database = %store.describe(), jobs = jobs.len(), "somiti daemon starting");
    let acts = actions::CoreActions::shared(store.clone(), ctx.settings.clone());
    let handle = Scheduler::new(store.clone(), jobs, acts, RunnerKind::Daemon).spawn();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::io("listening for SIGTERM", e))?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing the running job, taking no new slots"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing the running job, taking no new slots"),
    }
    handle.stop().await?;
    tracing::info!("somiti daemon stopped");
    store.close().await;
    Ok(())
}
