//! Backup work for the console: each call runs the backup engine in a task, samples its
//! progress into `Event::Progress` (at most ten times a second) and answers with an outcome.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::access::Operator;
use crate::backup::ops::{DownloadReport, ListReport};
use crate::backup::prune::PruneReport;
use crate::backup::restore::RestoreReport;
use crate::backup::verify::VerifyReport;
use crate::backup::{
    BackupEntry, BackupKind, Backups, Confirm, CreateOptions, Progress, RestoreOptions, Scope,
};
use crate::tui::event::Event;
use crate::tui::tasks::{FieldErrors, field_errors};

#[derive(Debug, Clone)]
pub enum BackupEffect {
    List {
        seq: u64,
    },
    Create {
        cancel: CancellationToken,
    },
    Verify {
        id: String,
        drill: bool,
        cancel: CancellationToken,
    },
    Download {
        id: String,
        dest: String,
        /// Create the destination folder first (the operator said yes).
        create_dir: bool,
    },
    /// `D` on a pinned backup, confirmed: unpin, then delete.
    UnpinAndDelete {
        id: String,
    },
    Pin {
        id: String,
        pinned: bool,
    },
    Delete {
        id: String,
    },
    PrunePreview,
    /// A dry run: what a restore would change.
    RestorePreview {
        id: String,
        scope: RestoreScope,
    },
    Restore {
        id: String,
        scope: RestoreScope,
        typed: String,
        cancel: CancellationToken,
    },
}

/// What a restore replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreScope {
    Everything,
    Org(String),
    Tables(Vec<String>),
}

impl RestoreScope {
    pub fn options(&self) -> RestoreOptions {
        match self {
            RestoreScope::Everything => RestoreOptions::default(),
            RestoreScope::Org(c) => RestoreOptions {
                org: Some(c.clone()),
                ..Default::default()
            },
            RestoreScope::Tables(t) => RestoreOptions {
                tables: Some(t.clone()),
                ..Default::default()
            },
        }
    }
}

#[derive(Debug)]
pub enum BackupOutcome {
    Listed {
        seq: u64,
        result: Result<ListReport, String>,
    },
    Created(Result<BackupEntry, String>),
    Verified {
        drill: bool,
        result: Result<VerifyReport, String>,
    },
    Downloaded(Result<DownloadReport, FieldErrors>),
    Pinned(Result<BackupEntry, String>),
    Deleted(Result<BackupEntry, String>),
    PrunePlan(Result<PruneReport, String>),
    RestorePreview {
        id: String,
        scope: RestoreScope,
        result: Result<RestoreReport, String>,
    },
    Restored(Result<RestoreReport, FieldErrors>),
}

/// Forward progress changes to the loop until the work is done.
fn sampler(tx: UnboundedSender<Event>) -> (crate::backup::ProgressTx, tokio::task::JoinHandle<()>) {
    let (ptx, mut prx) = tokio::sync::watch::channel(Progress::default());
    let h = tokio::spawn(async move {
        while prx.changed().await.is_ok() {
            let p = prx.borrow_and_update().clone();
            if tx.send(Event::Progress(p)).is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (ptx, h)
}

pub async fn run(
    b: &Backups,
    op: &Operator,
    effect: BackupEffect,
    tx: UnboundedSender<Event>,
) -> BackupOutcome {
    let s = |e: crate::error::Error| e.to_string();
    match effect {
        BackupEffect::List { seq } => BackupOutcome::Listed {
            seq,
            result: b.list(op).await.map_err(s),
        },
        BackupEffect::Create { cancel } => {
            let (ptx, h) = sampler(tx);
            let opts = CreateOptions {
                scope: Scope::All,
                kind: BackupKind::Manual,
                encrypt: false,
            };
            let r = b.create(op, &opts, &ptx, &cancel).await.map_err(s);
            h.abort();
            BackupOutcome::Created(r)
        }
        BackupEffect::Verify { id, drill, cancel } => {
            let (ptx, h) = sampler(tx);
            let r = b.verify(op, &id, drill, &ptx, &cancel).await.map_err(s);
            h.abort();
            BackupOutcome::Verified { drill, result: r }
        }
        BackupEffect::Download {
            id,
            dest,
            create_dir,
        } => {
            let dest = PathBuf::from(expand_home(dest.trim()));
            BackupOutcome::Downloaded(
                b.download_to(op, &id, &dest, create_dir)
                    .await
                    .map_err(|e| field_errors(&e)),
            )
        }
        BackupEffect::UnpinAndDelete { id } => {
            let r = async {
                b.pin(op, &id, false).await?;
                b.delete(op, &id).await
            }
            .await;
            BackupOutcome::Deleted(r.map_err(s))
        }
        BackupEffect::Pin { id, pinned } => {
            BackupOutcome::Pinned(b.pin(op, &id, pinned).await.map_err(s))
        }
        BackupEffect::Delete { id } => BackupOutcome::Deleted(b.delete(op, &id).await.map_err(s)),
        BackupEffect::PrunePreview => BackupOutcome::PrunePlan(b.prune(op, true).await.map_err(s)),
        BackupEffect::RestorePreview { id, scope } => {
            let mut opts = scope.options();
            opts.dry_run = true;
            let r = b
                .restore(
                    op,
                    &id,
                    &opts,
                    &crate::backup::no_progress(),
                    &CancellationToken::new(),
                )
                .await
                .map_err(s);
            BackupOutcome::RestorePreview {
                id,
                scope,
                result: r,
            }
        }
        BackupEffect::Restore {
            id,
            scope,
            typed,
            cancel,
        } => {
            let (ptx, h) = sampler(tx);
            let mut opts = scope.options();
            opts.confirm = Confirm::Typed(typed);
            let r = b
                .restore(op, &id, &opts, &ptx, &cancel)
                .await
                .map_err(|e| field_errors(&e));
            h.abort();
            BackupOutcome::Restored(r)
        }
    }
}

/// `~/x` → `$HOME/x`, as a shell would.
pub fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}
