//! `backup create`: one consistent snapshot (one read transaction; PostgreSQL `REPEATABLE
//! READ READ ONLY`) streamed table by table into the archive, manifest last, then fsync,
//! rename and catalogue.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::catalogue::{self, BackupEntry};
use super::schema::{self, TableSpec};
use super::snapshot::ArchiveSink;
use super::writer::{ArchiveWriter, Finished};
use super::{
    BackupKind, Backups, FORMAT, FORMAT_VERSION, Manifest, Passphrase, ProgressTx, Scope, report,
};
use crate::access::{Operator, Permission, audit, require};
use crate::db::{Tx, dialect};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub scope: Scope,
    pub kind: BackupKind,
    /// Encrypt this backup (it is also encrypted when `backup.encrypt` is set).
    pub encrypt: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            scope: Scope::All,
            kind: BackupKind::Manual,
            encrypt: false,
        }
    }
}

/// What a finished archive is.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub file: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sha256: String,
    pub manifest: Manifest,
}

/// Everything `write_archive` needs to know.
pub(crate) struct Job<'a> {
    pub dir: &'a Path,
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub kind: BackupKind,
    pub scope: Scope,
    /// The organization's id when the scope is one organization (None: it is not in the
    /// database, so the archive holds no rows).
    pub org_id: Option<i64>,
    pub created_by: String,
    pub passphrase: Option<Passphrase>,
    pub include_csv: bool,
    pub schema_version: i64,
    /// The SQLite file, read through a connection of its own (see `snapshot`); None on
    /// PostgreSQL.
    pub sqlite: Option<&'a Path>,
    /// Pre-restore backups: the restore this archive undoes.
    pub undoes: Option<super::Undoes>,
    /// `somiti_meta.database_id`, into the manifest.
    pub database_id: Option<String>,
    /// The database the rows came from, when not the one read (an upgraded archive keeps
    /// its original's).
    pub source: Option<crate::db::Backend>,
}

impl Backups {
    /// Take a backup. Needs `CreateBackup` (for one organization, in that organization).
    /// The lock comes first: nothing is read before it is held.
    pub async fn create(
        &self,
        op: &Operator,
        opts: &CreateOptions,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<BackupEntry> {
        let target = opts.scope.as_str().to_string();
        let lock = self
            .take_lock("backup", op, "backup.create", &target)
            .await?;
        let r = self
            .create_locked(op, opts, &target, progress, cancel)
            .await;
        lock.release().await;
        if let Ok(e) = &r {
            super::offsite::copier::queue_after_backup(self, e).await;
        }
        r
    }

    async fn create_locked(
        &self,
        op: &Operator,
        opts: &CreateOptions,
        target: &str,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<BackupEntry> {
        let org_id = match &opts.scope {
            Scope::All => None,
            Scope::Org(code) => {
                Some(super::org_id_of(&self.store, code).await?.ok_or_else(|| {
                    Error::NotFound(format!("organization {code:?}; `somiti info` lists them"))
                })?)
            }
        };
        require(
            &self.store,
            op,
            Permission::CreateBackup,
            org_id,
            "backup.create",
            target,
        )
        .await?;
        let r = self
            .create_checked(op, opts, org_id, progress, cancel)
            .await;
        let r =
            audit::record_if_failed(&self.store, &op.username, "backup.create", target, r).await?;
        audit::record(
            &self.store,
            &op.username,
            "backup.create",
            &r.id,
            serde_json::json!({
                "file": r.file, "scope": r.scope, "kind": r.kind, "rows": r.total_rows,
                "bytes": r.size_bytes, "encrypted": r.encrypted,
            }),
            audit::Outcome::Ok,
        )
        .await?;
        Ok(r)
    }

    /// With the lock held.
    async fn create_checked(
        &self,
        op: &Operator,
        opts: &CreateOptions,
        org_id: Option<i64>,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<BackupEntry> {
        let passphrase = if opts.encrypt || self.encrypt {
            Some(self.require_passphrase("an encrypted backup")?)
        } else {
            None
        };
        self.ensure_dir()?;
        catalogue::cleanup(self).await?;
        let database_id = Some(crate::db::meta::database_id(&self.store).await?);
        let job = Job {
            dir: &self.dir,
            id: uuid::Uuid::new_v4().to_string(),
            created_at: now_micros(),
            kind: opts.kind,
            scope: opts.scope.clone(),
            org_id,
            created_by: op.username.clone(),
            passphrase,
            include_csv: self.include_csv,
            schema_version: self.store.schema_version(),
            sqlite: self.store.sqlite_path(),
            undoes: None,
            database_id,
            source: None,
        };
        let file = archive_name(&self.dir, &job);
        let entry = catalogue::started(&self.store, &job, &file).await?;
        let r = async {
            let mut tx = begin_snapshot(&self.store).await?;
            let r = write_archive(&mut tx, &job, &file, progress, cancel).await;
            let _ = tx.rollback().await;
            r
        }
        .await;
        match r {
            Ok(w) => catalogue::completed(&self.store, &entry.id, &w).await,
            Err(e) => {
                let why = if matches!(e, Error::Cancelled) {
                    "cancelled".to_string()
                } else {
                    e.to_string()
                };
                catalogue::failed(&self.store, &entry.id, &why).await?;
                Err(e)
            }
        }
    }
}

pub(crate) use crate::db::now_micros;

pub(crate) use crate::db::dialect::begin_snapshot;

/// `somiti-<scope>-<YYYY-MM-DD_HH-MM-SS>-<kind>-<id8>.zip` (UTC): the backup id's first
/// eight characters make the name its own, so no two backups ever share a file (a `-2`,
/// `-3`… is added only if such a file is somehow there already).
pub(crate) fn archive_name(dir: &Path, job: &Job<'_>) -> String {
    let base = format!(
        "somiti-{}-{}-{}-{}",
        job.scope.as_str(),
        job.created_at.format("%Y-%m-%d_%H-%M-%S"),
        job.kind.as_str(),
        &job.id[..8.min(job.id.len())]
    );
    let mut name = format!("{base}.zip");
    let mut n = 2;
    while dir.join(&name).exists() || dir.join(format!("{name}.partial")).exists() {
        name = format!("{base}-{n}.zip");
        n += 1;
    }
    name
}

/// The tables of a scope: everything, or one organization's rows (no users).
pub(crate) fn tables_of(scope: &Scope) -> Vec<&'static TableSpec> {
    schema::TABLES
        .iter()
        .filter(|t| *scope == Scope::All || t.name != "users")
        .collect()
}

/// Write the archive `file` in `job.dir` from the transaction `tx` (its snapshot). The
/// `.partial` file is removed on any error or cancellation.
pub(crate) async fn write_archive(
    tx: &mut Tx,
    job: &Job<'_>,
    file: &str,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Written> {
    let path = job.dir.join(file);
    let partial = job.dir.join(format!("{file}.partial"));
    let r = write_partial(tx, job, &partial, progress, cancel).await;
    let done = match r {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &path)
        .map_err(|e| Error::io(format!("renaming {} into place", partial.display()), e))?;
    super::sync_dir(job.dir)?;
    Ok(Written {
        file: file.to_string(),
        path,
        size_bytes: done.size_bytes,
        sha256: done.sha256,
        manifest: done.manifest,
    })
}

async fn write_partial(
    tx: &mut Tx,
    job: &Job<'_>,
    partial: &Path,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Finished> {
    let specs = tables_of(&job.scope);
    // An organization that is not in the database: the archive holds no rows at all.
    let org = match (&job.scope, job.org_id) {
        (Scope::All, _) => None,
        (Scope::Org(_), Some(id)) => Some(id),
        (Scope::Org(_), None) => Some(i64::MIN),
    };
    report(progress, "counting", 0, 0);
    let mut writer = ArchiveWriter::start(partial, job.passphrase.clone(), job.created_at)?;
    let sink = ArchiveSink::new(job.include_csv, progress.clone(), cancel.clone());
    let read = dialect::read_snapshot(tx, job.sqlite, specs, org, sink, writer.sender()).await;
    let tables = match read {
        Ok(sink) => sink.tables,
        Err(Error::Other(m)) if m == dialect::SINK_STOPPED => return Err(writer.fail().await),
        Err(e) => return Err(e),
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        backup_id: job.id.clone(),
        created_at: job.created_at,
        kind: job.kind,
        scope: job.scope.as_str().to_string(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: job.schema_version,
        source: job.source.unwrap_or(tx.backend()),
        created_by: job.created_by.clone(),
        encrypted: job.passphrase.is_some(),
        database_id: job.database_id.clone(),
        undoes: job.undoes.clone(),
        tables,
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let done = writer.finish(manifest).await?;
    let rows = done.manifest.total_rows();
    report(progress, "done", rows, rows);
    Ok(done)
}
