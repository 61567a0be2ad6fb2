//! The catalogue (`backups` table): an index of the store. The archives are the truth, so
//! every backup command first brings the catalogue up to date with the folder: unknown
//! archives are added from their manifests, entries whose file vanished are marked, and —
//! when no backup, restore or prune is running — leftover `.partial` files are removed and
//! entries still `in_progress` become `failed`.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::archive::{self, ArchiveReader};
use super::create::{Job, Written};
use super::{BackupKind, Backups, FORMAT, FORMAT_VERSION, Manifest, lock};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::on_store;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BackupEntry {
    pub id: String,
    pub file: String,
    pub kind: String,
    pub scope: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub finished_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<i64>,
    pub total_rows: Option<i64>,
    pub sha256: Option<String>,
    pub encrypted: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_result: Option<String>,
    pub pinned: bool,
    pub missing_since: Option<DateTime<Utc>>,
}

impl BackupEntry {
    pub fn short_id(&self) -> &str {
        &self.id[..8.min(self.id.len())]
    }

    pub fn verified_ok(&self) -> bool {
        self.verify_result.as_deref() == Some("ok")
    }
}

const INTERRUPTED: &str = "interrupted";

const COLS: &str = "id, file, kind, scope, status, error, created_at, created_by, finished_at, \
    size_bytes, total_rows, sha256, encrypted, verified_at, verify_result, pinned, missing_since";

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

async fn exec(store: &Store, sql: &str, binds: Vec<Option<String>>) -> Result<u64> {
    Ok(on_store!(store, |p| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_deref());
        }
        q.execute(p).await?.rows_affected()
    }))
}

async fn insert(store: &Store, e: &BackupEntry) -> Result<()> {
    let sql = format!(
        "INSERT INTO backups ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    on_store!(store, |p| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(&e.id)
        .bind(&e.file)
        .bind(&e.kind)
        .bind(&e.scope)
        .bind(&e.status)
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
        .execute(p)
        .await?
        .rows_affected());
    Ok(())
}

/// A backup starts: `in_progress`.
pub(crate) async fn started(store: &Store, job: &Job<'_>, file: &str) -> Result<BackupEntry> {
    let e = BackupEntry {
        id: job.id.clone(),
        file: file.to_string(),
        kind: job.kind.as_str().into(),
        scope: job.scope.as_str().into(),
        status: "in_progress".into(),
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
    };
    insert(store, &e).await?;
    Ok(e)
}

/// A backup finished: `completed` with its sizes and the whole file's SHA-256.
pub(crate) async fn completed(store: &Store, id: &str, w: &Written) -> Result<BackupEntry> {
    on_store!(store, |p| sqlx::query(
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
    .rows_affected());
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

pub(crate) async fn set_verify(store: &Store, id: &str, result: &str) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE backups SET verified_at = $1, verify_result = $2 WHERE id = $3"
    )
    .bind(Utc::now())
    .bind(result)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

pub(crate) async fn set_pinned(store: &Store, id: &str, pinned: bool) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE backups SET pinned = $1 WHERE id = $2"
    )
    .bind(pinned)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
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

/// Size and SHA-256 of a whole file.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if k == 0 {
            break;
        }
        sha.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(sha.finalize())))
}

/// The archive comment: what the catalogue needs when the manifest is encrypted and no
/// passphrase is at hand (never row counts or data).
pub(crate) fn comment_for(m: &Manifest) -> String {
    serde_json::json!({
        "format": FORMAT, "format_version": m.format_version, "backup_id": m.backup_id,
        "created_at": m.created_at, "kind": m.kind, "scope": m.scope, "encrypted": m.encrypted,
    })
    .to_string()
}

fn entry_from_manifest(m: &Manifest, file: &str, size: u64, sha: &str) -> BackupEntry {
    BackupEntry {
        id: m.backup_id.clone(),
        file: file.to_string(),
        kind: m.kind.as_str().into(),
        scope: m.scope.clone(),
        status: "completed".into(),
        error: None,
        created_at: m.created_at,
        created_by: m.created_by.clone(),
        finished_at: None,
        size_bytes: Some(size as i64),
        total_rows: Some(m.total_rows() as i64),
        sha256: Some(sha.to_string()),
        encrypted: m.encrypted,
        verified_at: None,
        verify_result: None,
        pinned: false,
        missing_since: None,
    }
}

/// What the comment of an archive says (encrypted archives without a passphrase).
fn entry_from_comment(path: &Path, file: &str, size: u64, sha: &str) -> Option<BackupEntry> {
    let f = std::fs::File::open(path).ok()?;
    let z = zip::ZipArchive::new(std::io::BufReader::new(f)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(z.comment()).ok()?;
    if v.get("format")?.as_str()? != FORMAT
        || v.get("format_version")?.as_u64()? > u64::from(FORMAT_VERSION)
    {
        return None;
    }
    let id = v.get("backup_id")?.as_str()?;
    uuid::Uuid::parse_str(id).ok()?;
    let kind = BackupKind::parse(v.get("kind")?.as_str()?)?;
    Some(BackupEntry {
        id: id.to_string(),
        file: file.to_string(),
        kind: kind.as_str().into(),
        scope: v.get("scope")?.as_str()?.to_string(),
        status: "completed".into(),
        error: None,
        created_at: v.get("created_at")?.as_str()?.parse().ok()?,
        created_by: String::new(),
        finished_at: None,
        size_bytes: Some(size as i64),
        total_rows: None,
        sha256: Some(sha.to_string()),
        encrypted: true,
        verified_at: None,
        verify_result: None,
        pinned: false,
        missing_since: None,
    })
}

/// `.zip` files in the store folder.
fn archives_in(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::io(
                format!("reading backup folder {}", dir.display()),
                e,
            ));
        }
    };
    let mut out = Vec::new();
    for ent in rd.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.ends_with(".zip") && ent.file_type().is_ok_and(|t| t.is_file()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Bring the catalogue up to date with the store folder. Returns the files that could not
/// be read as archives (they are catalogued as `failed` with the reason).
pub async fn scan(b: &Backups) -> Result<Vec<String>> {
    let entries = all(&b.store).await?;
    let files = archives_in(&b.dir)?;
    let mut problems = Vec::new();
    let schema = b.store.schema_version();
    let pass = b.passphrase().ok().flatten();
    for file in &files {
        let known = entries.iter().find(|e| &e.file == file);
        if let Some(e) = known {
            // A backup that finished on disk but not in the catalogue (killed just after
            // the rename), or a file that came back.
            let interrupted = e.status == "failed"
                && e.error
                    .as_deref()
                    .is_some_and(|m| m.starts_with(INTERRUPTED));
            let revive = e.status == "in_progress" || interrupted || e.missing_since.is_some();
            if !revive {
                continue;
            }
        }
        let path = b.path_of(file);
        let (size, sha) = hash_file(&path)?;
        let found = match ArchiveReader::open(&path, pass.clone(), schema) {
            Ok(r) => Ok(entry_from_manifest(&r.manifest, file, size, &sha)),
            Err(e) => entry_from_comment(&path, file, size, &sha).ok_or(e),
        };
        match (found, known) {
            (Ok(new), Some(old)) if new.id == old.id => {
                on_store!(&b.store, |p| {
                    sqlx::query(
                    "UPDATE backups SET status = 'completed', error = NULL, missing_since = NULL, \
                     size_bytes = $1, sha256 = $2, total_rows = COALESCE(total_rows, $3) WHERE id = $4"
                )
                .bind(size as i64)
                .bind(&sha)
                .bind(new.total_rows)
                .bind(&old.id)
                .execute(p)
                .await?
                .rows_affected()
                });
            }
            (Ok(_), Some(_)) => {}
            (Ok(new), None) => match get(&b.store, &new.id).await? {
                // The same backup under a new file name (renamed in the store).
                Some(old) if old.status != "deleted" || !b.path_of(&old.file).exists() => {
                    exec(
                        &b.store,
                        "UPDATE backups SET file = $1, missing_since = NULL, status = 'completed' WHERE id = $2",
                        vec![Some(file.clone()), Some(old.id.clone())],
                    )
                    .await?;
                }
                Some(_) => {}
                None => insert(&b.store, &new).await?,
            },
            (Err(e), None) => {
                problems.push(format!("{file}: {e}"));
                let mut bad = BackupEntry {
                    id: uuid::Uuid::new_v4().to_string(),
                    file: file.clone(),
                    kind: "manual".into(),
                    scope: "?".into(),
                    status: "failed".into(),
                    error: Some(format!("not a readable somiti backup: {e}")),
                    created_at: modified(&path),
                    created_by: String::new(),
                    finished_at: None,
                    size_bytes: Some(size as i64),
                    total_rows: None,
                    sha256: Some(sha),
                    encrypted: false,
                    verified_at: None,
                    verify_result: None,
                    pinned: false,
                    missing_since: None,
                };
                bad.verify_result = bad.error.clone();
                insert(&b.store, &bad).await?;
            }
            (Err(_), Some(_)) => {}
        }
    }
    // Entries whose file vanished.
    on_store!(&b.store, |p| {
        let mut n = 0;
        for e in &entries {
            let gone =
                e.status == "completed" && e.missing_since.is_none() && !files.contains(&e.file);
            if gone {
                n += sqlx::query("UPDATE backups SET missing_since = $1 WHERE id = $2")
                    .bind(Utc::now())
                    .bind(&e.id)
                    .execute(p)
                    .await?
                    .rows_affected();
            }
        }
        n
    });
    Ok(problems)
}

fn modified(path: &Path) -> DateTime<Utc> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

/// With the lock held: remove leftover `.partial` files and fail `in_progress` entries
/// (their process is gone, or it would hold the lock), then scan.
pub(crate) async fn cleanup(b: &Backups) -> Result<Vec<String>> {
    if let Ok(rd) = std::fs::read_dir(&b.dir) {
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                let _ = std::fs::remove_file(ent.path());
            }
        }
    }
    let problems = scan(b).await?;
    exec(
        &b.store,
        "UPDATE backups SET status = 'failed', error = $1 WHERE status = 'in_progress'",
        vec![Some(format!(
            "{INTERRUPTED}: the process ended before the backup was complete"
        ))],
    )
    .await?;
    Ok(problems)
}

/// Tidy the store if no backup, restore or prune runs right now; scan it in any case.
pub async fn startup(b: &Backups) -> Result<Vec<String>> {
    match lock::try_acquire(&b.store, lock::STARTUP, &super::real_login()).await? {
        Some(l) => {
            let r = cleanup(b).await;
            l.release().await;
            r
        }
        None => scan(b).await,
    }
}

/// Where `ID|PATH` points: a catalogue entry (full id or a unique prefix of it) or an
/// archive file anywhere.
pub struct Target {
    pub path: PathBuf,
    pub entry: Option<BackupEntry>,
}

pub async fn resolve(b: &Backups, what: &str) -> Result<Target> {
    let what = what.trim();
    let entries = all(&b.store).await?;
    let by_id: Vec<&BackupEntry> = if what.len() >= 4 {
        entries.iter().filter(|e| e.id.starts_with(what)).collect()
    } else {
        Vec::new()
    };
    if by_id.len() > 1 {
        return Err(Error::invalid(
            "backup",
            format!(
                "{what:?} matches {} backups; give more of the id",
                by_id.len()
            ),
        ));
    }
    if let Some(e) = by_id.first() {
        if e.status == "deleted" {
            return Err(Error::NotFound(format!(
                "backup {} was deleted",
                e.short_id()
            )));
        }
        let path = b.path_of(&e.file);
        if !path.exists() {
            return Err(Error::NotFound(format!(
                "the archive {} of backup {} is missing from the store {}",
                e.file,
                e.short_id(),
                b.dir.display()
            )));
        }
        return Ok(Target {
            path,
            entry: Some((*e).clone()),
        });
    }
    let p = PathBuf::from(what);
    let path = if p.exists() {
        p
    } else if b.path_of(what).exists() {
        b.path_of(what)
    } else {
        return Err(Error::NotFound(format!(
            "no backup {what:?}: not an id in `somiti backup list` nor an archive file"
        )));
    };
    // A path to a catalogued file in the store is that entry.
    let canon = std::fs::canonicalize(&path).ok();
    let entry = entries.into_iter().find(|e| {
        e.status != "deleted"
            && canon.is_some()
            && std::fs::canonicalize(b.path_of(&e.file)).ok() == canon
    });
    Ok(Target { path, entry })
}

pub fn describe_file(path: &Path) -> String {
    archive::file_name(path)
}
