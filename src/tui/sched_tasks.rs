//! Scheduler work for the console: status (who runs it, each job's next and last run), a
//! job's run history, run a job now, switch a job on or off — the same core calls as
//! `somiti scheduler …`.

use crate::access::{self, Operator, Permission};
use crate::db::Store;
use crate::scheduler::runs::{self, Run};
use crate::scheduler::status::{self, SchedulerStatus};
use crate::scheduler::{self, Job, JobQueue, SharedActions, engine};

/// What the console knows about the scheduler it may host.
#[derive(Clone)]
pub struct SchedContext {
    pub jobs: Vec<Job>,
    pub actions: SharedActions,
    /// This process's runner name (`host:pid`), so the status can say "this console".
    pub runner: String,
    /// The hosted scheduler's queue: a job run from here waits for the scheduler's
    /// running job instead of tripping over its lock. `None` when a daemon hosts it.
    pub queue: Option<JobQueue>,
    /// Cancels a manual run made without a hosted scheduler when the console ends.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// `[[alert]]`: told about a manual run made without a hosted scheduler.
    pub alerts: Vec<crate::config::AlertConfig>,
}

#[derive(Debug, Clone)]
pub enum SchedEffect {
    Status { seq: u64 },
    History { job: String },
    RunNow { job: String },
    Toggle { job: String, on: bool },
}

#[derive(Debug)]
pub enum SchedOutcome {
    Status {
        seq: u64,
        result: Result<Box<SchedulerStatus>, String>,
    },
    History {
        job: String,
        result: Result<Vec<Run>, String>,
    },
    Ran {
        job: String,
        result: Result<String, String>,
    },
    Toggled {
        job: String,
        on: bool,
        result: Result<(), String>,
    },
}

pub async fn run(store: &Store, op: &Operator, cx: &SchedContext, e: SchedEffect) -> SchedOutcome {
    let s = |e: crate::error::Error| e.to_string();
    match e {
        SchedEffect::Status { seq } => SchedOutcome::Status {
            seq,
            result: status::status(store, &cx.jobs, Some(&cx.runner))
                .await
                .map(Box::new)
                .map_err(s),
        },
        SchedEffect::History { job } => SchedOutcome::History {
            result: runs::history(store, &job, 20).await.map_err(s),
            job,
        },
        SchedEffect::RunNow { job } => {
            let r = async {
                access::require(
                    store,
                    op,
                    Permission::RunScheduledJob,
                    None,
                    "scheduler.run",
                    &job,
                )
                .await?;
                let j = scheduler::find_job(&cx.jobs, &job)?;
                match &cx.queue {
                    Some(q) => q.run_now(&j.name, op).await,
                    None => {
                        engine::run_now(
                            store,
                            cx.actions.clone(),
                            j,
                            op,
                            scheduler::clock::system(),
                            cx.shutdown.child_token(),
                            &cx.alerts,
                        )
                        .await
                    }
                }
            }
            .await;
            SchedOutcome::Ran {
                job,
                result: r.map(|o| o.message()).map_err(s),
            }
        }
        SchedEffect::Toggle { job, on } => SchedOutcome::Toggled {
            result: scheduler::set_enabled(store, op, &job, on).await.map_err(s),
            job,
            on,
        },
    }
}
