//! What each scheduled action does, through the same core calls as the command line:
//! backup, prune, verify-latest (with drill) and export-csv. They act as the built-in
//! `system` operator, and every one of them is audited by the core call it makes.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::access::Operator;
use crate::backup::{BackupKind, Backups, CreateOptions, Scope, catalogue, no_progress};
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

    fn backups(&self) -> Backups {
        Backups::new(self.store.clone(), &self.settings)
    }

    async fn backup(&self, job: &Job, cancel: &CancellationToken) -> Result<String> {
        let opts = CreateOptions {
            scope: Scope::parse(job.scope.as_deref().unwrap_or("all"))?,
            kind: BackupKind::Scheduled,
            encrypt: false,
        };
        let e = self
            .backups()
            .create(&Operator::system(), &opts, &no_progress(), cancel)
            .await?;
        Ok(format!(
            "{} ({} rows, {} bytes)",
            e.file,
            e.total_rows.unwrap_or(0),
            e.size_bytes.unwrap_or(0)
        ))
    }

    async fn prune(&self) -> Result<String> {
        let r = self.backups().prune(&Operator::system(), false).await?;
        Ok(format!(
            "removed {}, kept {}",
            r.removed,
            r.lines.iter().filter(|l| l.keep).count()
        ))
    }

    async fn verify_latest(&self, job: &Job, cancel: &CancellationToken) -> Result<String> {
        let b = self.backups();
        catalogue::startup(&b).await?;
        let newest = catalogue::all(&self.store)
            .await?
            .into_iter()
            .filter(|e| e.status == "completed")
            .max_by_key(|e| e.created_at)
            .ok_or_else(|| Error::NotFound("no completed backup to verify yet".into()))?;
        b.verify(
            &Operator::system(),
            &newest.id,
            job.drill,
            &no_progress(),
            cancel,
        )
        .await?;
        Ok(format!(
            "{} verified{}",
            newest.file,
            if job.drill {
                " with a restore drill"
            } else {
                ""
            }
        ))
    }
}

impl Actions for CoreActions {
    fn run<'a>(&'a self, job: &'a Job, cancel: CancellationToken) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            match job.action {
                ScheduleAction::Backup => self.backup(job, &cancel).await,
                ScheduleAction::Prune => self.prune().await,
                ScheduleAction::VerifyLatest => self.verify_latest(job, &cancel).await,
                ScheduleAction::ExportCsv => Err(Error::Other(
                    "export-csv is wired when the CSV writer lands".into(),
                )),
            }
        })
    }
}
