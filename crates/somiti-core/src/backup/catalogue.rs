//! The catalogue (`backups` table): an index of the store, one entry per archive with its
//! status, sizes, hashes, verify result and pin. `store` keeps it in step with the folder.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use super::BackupKind;
use super::create::{Job, Written};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::on_store;

pub use super::store::{Duplicate, Scan, Target, describe_file, hash_file, resolve, scan, startup};
pub(crate) use super::store::{cleanup, entry_from_manifest, file_backup_id};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BackupEntry {
    pub id: String,
    pub file: String,
    pub kind: BackupKind,
    pub scope: String,
    pub status: BackupStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<i64>,
    pub total_rows: Option<i64>,
    pub sha256: Option<String>,
    pub encrypted: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_result: Option<VerifyResult>,
    pub pinned: bool,
    pub missing_since: Option<DateTime<Utc>>,
    /// Pre-restore backups: the restore they undo, as the manifest's JSON.
    #[serde(skip)]
    #[sqlx(rename = "undoes")]
    pub undoes_json: Option<String>,
}

impl BackupEntry {
    pub fn short_id(&self) -> &str {
        &self.id[..8.min(self.id.len())]
    }

    /// Deleted from the store (the catalogue keeps the entry for the record).
    pub fn is_deleted(&self) -> bool {
        self.status == BackupStatus::Deleted
    }

    pub fn verified_ok(&self) -> bool {
        self.verify_result.as_ref().is_some_and(VerifyResult::is_ok)
    }

    /// Its last verify found the archive bad.
    pub fn verify_failed(&self) -> bool {
        self.verify_result
            .as_ref()
            .is_some_and(VerifyResult::is_failed)
    }

    /// Pre-restore backups: the restore this one undoes.
    pub fn undoes(&self) -> Option<super::Undoes> {
        serde_json::from_str(self.undoes_json.as_deref()?).ok()
    }
}

/// Where an archive is in its life, as the catalogue's `status` column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    /// Being written.
    InProgress,
    Completed,
    /// The backup did not finish (`error` says why), or the file is not a readable archive.
    Failed,
    /// Deleted from the store; the entry stays for the record.
    Deleted,
}

impl BackupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::InProgress => "in_progress",
            BackupStatus::Completed => "completed",
            BackupStatus::Failed => "failed",
            BackupStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<BackupStatus> {
        [
            BackupStatus::InProgress,
            BackupStatus::Completed,
            BackupStatus::Failed,
            BackupStatus::Deleted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn is_completed(self) -> bool {
        self == BackupStatus::Completed
    }

    pub fn is_failed(self) -> bool {
        self == BackupStatus::Failed
    }
}

/// What the last verify of an archive found (the catalogue's `verify_result`): `ok`, or
/// what failed, in words. Stored and shown as that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyResult {
    /// Every check passed (`ok`).
    Ok,
    /// A check failed: what failed (`failed: <what>`).
    Failed(String),
    /// Any other text: why the store's scan could not read the file as an archive.
    Other(String),
}

impl VerifyResult {
    pub fn parse(s: &str) -> VerifyResult {
        match s {
            "ok" => VerifyResult::Ok,
            _ => match s.strip_prefix("failed: ") {
                Some(what) => VerifyResult::Failed(what.to_string()),
                None => VerifyResult::Other(s.to_string()),
            },
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, VerifyResult::Ok)
    }

    /// What failed, in words (the text without its `failed: `).
    pub fn what(&self) -> &str {
        match self {
            VerifyResult::Ok => "ok",
            VerifyResult::Failed(w) => w.trim_start_matches("failed: "),
            VerifyResult::Other(s) => s,
        }
    }

    /// The archive failed a check: shown as FAILED.
    pub fn is_failed(&self) -> bool {
        match self {
            VerifyResult::Ok => false,
            VerifyResult::Failed(_) => true,
            VerifyResult::Other(s) => s.starts_with("failed"),
        }
    }
}

impl fmt::Display for VerifyResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyResult::Ok => f.pad("ok"),
            VerifyResult::Failed(what) => f.pad(&format!("failed: {what}")),
            VerifyResult::Other(s) => f.pad(s),
        }
    }
}

impl Serialize for VerifyResult {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Display for BackupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

use crate::db::text_column;

text_column!(BackupKind, |s| BackupKind::parse(s));
text_column!(BackupStatus, |s| BackupStatus::parse(s));
text_column!(VerifyResult, |s| Some(VerifyResult::parse(s)));

pub(crate) fn undoes_json(u: Option<&super::Undoes>) -> Option<String> {
    u.and_then(|u| serde_json::to_string(u).ok())
}

pub(super) const INTERRUPTED: &str = "interrupted";

const COLS: &str = "id, file, kind, scope, status, error, created_at, created_by, finished_at, \
    size_bytes, total_rows, sha256, encrypted, verified_at, verify_result, pinned, missing_since, undoes";

/// Every entry, newest first.
pub async fn all(store: &Store) -> Result<Vec<BackupEntry>> {
    let sql = format!("SELECT {COLS} FROM backups");
    let mut v: Vec<BackupEntry> =
        on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await?);
    v.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(v)
}

pub async fn get(store: &Store, id: &str) -> Result<Option<BackupEntry>> {
    let sql = format!("SELECT {COLS} FROM backups WHERE id = $1");
    Ok(on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(p)
    .await?))
}

/// An entry by id or unique prefix (at least 4 characters), whatever its file: for
/// commands that act on the entry itself (delete). Deleted entries are not found.
pub(crate) async fn find(store: &Store, what: &str) -> Result<BackupEntry> {
    let what = what.trim();
    let hits: Vec<BackupEntry> = if what.len() >= 4 {
        all(store)
            .await?
            .into_iter()
            .filter(|e| e.id.starts_with(what) && !e.is_deleted())
            .collect()
    } else {
        Vec::new()
    };
    match hits.len() {
        1 => Ok(hits.into_iter().next().expect("one")),
        0 => Err(Error::NotFound(format!(
            "no backup {what:?} in the catalogue; `somiti backup list` shows the ids"
        ))),
        n => Err(Error::invalid(
            "backup",
            format!("{what:?} matches {n} backups; give more of the id"),
        )),
    }
}

pub(super) async fn exec(store: &Store, sql: &str, binds: Vec<Option<String>>) -> Result<u64> {
    let n = on_store!(store, |p| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_deref());
        }
        q.execute(p).await?.rows_affected()
    });
    if n > 0 {
        announce(store, "").await;
    }
    Ok(n)
}

/// Tell open consoles the catalogue changed (`db::changes::announce`).
async fn announce(store: &Store, actor: &str) {
    crate::db::changes::announce(store, actor, "backup.catalogue", "backups").await;
}

pub(super) async fn insert(store: &Store, e: &BackupEntry) -> Result<()> {
    let sql = format!(
        "INSERT INTO backups ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    );
    on_store!(store, |p| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(&e.id)
        .bind(&e.file)
        .bind(e.kind)
        .bind(&e.scope)
        .bind(e.status)
        .bind(&e.error)
        .bind(e.created_at)
        .bind(&e.created_by)
        .bind(e.finished_at)
        .bind(e.size_bytes)
        .bind(e.total_rows)
        .bind(&e.sha256)
        .bind(e.encrypted)
        .bind(e.verified_at)
        .bind(&e.verify_result)
        .bind(e.pinned)
        .bind(e.missing_since)
        .bind(&e.undoes_json)
        .execute(p)
        .await?
        .rows_affected());
    announce(store, &e.created_by).await;
    Ok(())
}

/// A backup starts: `in_progress`.
pub(crate) async fn started(store: &Store, job: &Job<'_>, file: &str) -> Result<BackupEntry> {
    let e = BackupEntry {
        id: job.id.clone(),
        file: file.to_string(),
        kind: job.kind,
        scope: job.scope.as_str().into(),
        status: BackupStatus::InProgress,
        error: None,
        created_at: job.created_at,
        created_by: job.created_by.clone(),
        finished_at: None,
        size_bytes: None,
        total_rows: None,
        sha256: None,
        encrypted: job.passphrase.is_some(),
        verified_at: None,
        verify_result: None,
        pinned: false,
        missing_since: None,
        undoes_json: undoes_json(job.undoes.as_ref()),
    };
    insert(store, &e).await?;
    Ok(e)
}

/// A backup finished: `completed` with its sizes and the whole file's SHA-256.
pub(crate) async fn completed(store: &Store, id: &str, w: &Written) -> Result<BackupEntry> {
    let n = on_store!(store, |p| {
        sqlx::query(
        "UPDATE backups SET status = 'completed', error = NULL, finished_at = $1, size_bytes = $2, \
         total_rows = $3, sha256 = $4, file = $5, missing_since = NULL WHERE id = $6"
    )
    .bind(Utc::now())
    .bind(w.size_bytes as i64)
    .bind(w.manifest.total_rows() as i64)
    .bind(&w.sha256)
    .bind(&w.file)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected()
    });
    if n > 0 {
        announce(store, "").await;
    }
    get(store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("backup {id} in the catalogue")))
}

/// Record an archive written while the catalogue could not be written (pre-restore).
pub(crate) async fn record_written(store: &Store, w: &Written) -> Result<BackupEntry> {
    if get(store, &w.manifest.backup_id).await?.is_none() {
        insert(
            store,
            &entry_from_manifest(&w.manifest, &w.file, w.size_bytes, &w.sha256),
        )
        .await?;
    }
    completed(store, &w.manifest.backup_id, w).await
}

pub(crate) async fn failed(store: &Store, id: &str, why: &str) -> Result<()> {
    exec(
        store,
        "UPDATE backups SET status = 'failed', error = $1 WHERE id = $2",
        vec![Some(why.to_string()), Some(id.to_string())],
    )
    .await?;
    Ok(())
}

pub(crate) async fn set_verify(store: &Store, id: &str, result: &VerifyResult) -> Result<()> {
    let n = on_store!(store, |p| sqlx::query(
        "UPDATE backups SET verified_at = $1, verify_result = $2 WHERE id = $3"
    )
    .bind(Utc::now())
    .bind(result)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
    if n > 0 {
        announce(store, "").await;
    }
    Ok(())
}

pub(crate) async fn set_pinned(store: &Store, id: &str, pinned: bool) -> Result<()> {
    let n = on_store!(store, |p| sqlx::query(
        "UPDATE backups SET pinned = $1 WHERE id = $2"
    )
    .bind(pinned)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
    if n > 0 {
        announce(store, "").await;
    }
    Ok(())
}

pub(crate) async fn mark_deleted(store: &Store, id: &str) -> Result<()> {
    exec(
        store,
        "UPDATE backups SET status = 'deleted' WHERE id = $1",
        vec![Some(id.to_string())],
    )
    .await?;
    Ok(())
}
