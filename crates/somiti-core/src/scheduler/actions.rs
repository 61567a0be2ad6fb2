//! What each scheduled action does, through the same core calls as the command line:
//! backup, prune, verify-latest (with drill) and export-csv. Scheduled runs act as the
//! built-in `system` operator, manual runs as the operator who asked; every one of them is
//! audited (and permission-checked) by the core call it makes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::access::Operator;
use crate::backup::{BackupKind, Backups, CreateOptions, Scope, catalogue, no_progress};
use crate::config::{ScheduleAction, Settings};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::scheduler::{Actions, Job, JobOutcome, SharedActions};

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

    async fn backup(
        &self,
        job: &Job,
        who: &Operator,
        cancel: &CancellationToken,
    ) -> Result<String> {
        let opts = CreateOptions {
            scope: Scope::parse(job.scope.as_deref().unwrap_or("all"))?,
            kind: BackupKind::Scheduled,
            encrypt: false,
        };
        let e = self
            .backups()
            .create(who, &opts, &no_progress(), cancel)
            .await?;
        Ok(format!(
            "{} ({} rows, {} bytes)",
            e.file,
            e.total_rows.unwrap_or(0),
            e.size_bytes.unwrap_or(0)
        ))
    }

    async fn prune(&self, who: &Operator) -> Result<String> {
        let r = self.backups().prune(who, false).await?;
        let mut msg = format!(
            "removed {}, kept {}",
            r.removed,
            r.lines.iter().filter(|l| l.keep).count()
        );
        let mut failed = Vec::new();
        for t in &r.offsite {
            match &t.error {
                None => msg.push_str(&format!("; off-site {}: removed {}", t.target, t.removed)),
                Some(e) => failed.push(e.clone()),
            }
        }
        // The local prune stands; a target that could not be pruned fails the run (and
        // alerts) with its reason.
        if !failed.is_empty() {
            return Err(Error::Other(format!(
                "{msg}; the store was pruned, but {}",
                failed.join("; ")
            )));
        }
        Ok(msg)
    }

    /// `source = "<offsite name>"`: the newest archive of this database on that target,
    /// fetched into a temporary file and verified (with the drill when asked); the result
    /// goes on the catalogue entry of that backup.
    async fn verify_offsite(
        &self,
        job: &Job,
        source: &str,
        who: &Operator,
        cancel: &CancellationToken,
    ) -> Result<JobOutcome> {
        let b = self.backups();
        let Some(v) = b
            .verify_offsite_latest(who, source, job.drill, &no_progress(), cancel)
            .await?
        else {
            return Ok(JobOutcome::Skipped(format!(
                "{NO_BACKUP_YET} of this database on off-site target {source}"
            )));
        };
        Ok(JobOutcome::Ran(format!(
            "{} from off-site target {source} verified{}{}",
            v.file,
            if job.drill {
                " with a restore drill"
            } else {
                ""
            },
            if v.recorded {
                ""
            } else {
                " (not in the local catalogue: the result is in the audit log only)"
            }
        )))
    }

    /// Nothing to verify yet (no completed backup) is not a failure: the run is skipped.
    async fn verify_latest(
        &self,
        job: &Job,
        who: &Operator,
        cancel: &CancellationToken,
    ) -> Result<JobOutcome> {
        let source = self
            .settings
            .config
            .schedule
            .iter()
            .find(|s| s.name == job.name)
            .and_then(|s| s.source.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "local");
        if let Some(source) = source {
            return self.verify_offsite(job, source, who, cancel).await;
        }
        let b = self.backups();
        catalogue::startup(&b).await?;
        let Some(newest) = catalogue::all(&self.store)
            .await?
            .into_iter()
            .filter(|e| e.status.is_completed())
            .max_by_key(|e| e.created_at)
        else {
            return Ok(JobOutcome::Skipped(NO_BACKUP_YET.into()));
        };
        b.verify(who, &newest.id, job.drill, &no_progress(), cancel)
            .await?;
        Ok(JobOutcome::Ran(format!(
            "{} verified{}",
            newest.file,
            if job.drill {
                " with a restore drill"
            } else {
                ""
            }
        )))
    }
}

impl CoreActions {
    /// A members and a collections CSV per organization into a folder of its own under
    /// `<export dir>/scheduled`, then the oldest runs beyond `export.keep` are removed.
    async fn export_csv(&self) -> Result<String> {
        let root = self.settings.export_dir.join("scheduled");
        // milliseconds: two runs in one second get folders of their own
        let run = root.join(
            chrono::Utc::now()
                .format("%Y-%m-%d_%H-%M-%S%.3f")
                .to_string(),
        );
        for d in [&self.settings.export_dir, &root, &run] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(format!("setting mode 0700 on {}", d.display()), e))?;
        }
        let files = crate::csvio::export_all(&self.store, &run).await?;
        let removed = prune_export_runs(&root, self.settings.config.export.keep)?;
        Ok(format!(
            "{} files in {} ({removed} old export runs removed)",
            files.len(),
            run.display()
        ))
    }
}

/// Keep the newest `keep` export runs (folders named by their UTC start); 0 keeps all.
pub fn prune_export_runs(root: &Path, keep: u32) -> Result<usize> {
    if keep == 0 {
        return Ok(0);
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(format!("reading {}", root.display()), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(keep as usize);
    for old in &runs[..excess] {
        std::fs::remove_dir_all(old)
            .map_err(|e| Error::io(format!("removing {}", old.display()), e))?;
    }
    Ok(excess)
}

/// Why a drill or verify of the newest backup had nothing to do.
pub const NO_BACKUP_YET: &str = "no backup yet";

impl Actions for CoreActions {
    fn run<'a>(
        &'a self,
        job: &'a Job,
        who: &'a Operator,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<JobOutcome>> {
        Box::pin(async move {
            match job.action {
                ScheduleAction::Backup => self.backup(job, who, &cancel).await.map(JobOutcome::Ran),
                ScheduleAction::Prune => self.prune(who).await.map(JobOutcome::Ran),
                ScheduleAction::VerifyLatest => self.verify_latest(job, who, &cancel).await,
                ScheduleAction::ExportCsv => self.export_csv().await.map(JobOutcome::Ran),
            }
        })
    }

    /// A backup cancelled at shutdown removes its own partial file; this also clears what
    /// a killed one left (`.partial` files, `in_progress` entries) when no other process
    /// holds the backup lock.
    fn after_stop(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { catalogue::startup(&self.backups()).await.map(|_| ()) })
    }
}
