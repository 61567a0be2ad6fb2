//! The store folder and the catalogue kept in step with it: the archives are the truth,
//! so every backup command first brings the catalogue up to date — unknown archives are
//! added from their manifests, entries whose file vanished are marked, and (when nobody
//! holds the lock) leftover `.partial` files are removed and `in_progress` entries whose
//! process is gone become `failed`. Also: where `ID|PATH` points.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::archive::{self, ArchiveReader};
use super::catalogue::{
    BackupEntry, BackupStatus, INTERRUPTED, VerifyResult, all, exec, get, insert,
};
use super::{BackupKind, Backups, FORMAT, FORMAT_VERSION, Manifest, lock};
use crate::error::{Error, Result};
use crate::on_store;

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

pub(crate) fn entry_from_manifest(m: &Manifest, file: &str, size: u64, sha: &str) -> BackupEntry {
    BackupEntry {
        id: m.backup_id.clone(),
        file: file.to_string(),
        kind: m.kind,
        scope: m.scope.clone(),
        status: BackupStatus::Completed,
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
        undoes_json: super::catalogue::undoes_json(m.undoes.as_ref()),
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
        kind,
        scope: v.get("scope")?.as_str()?.to_string(),
        status: BackupStatus::Completed,
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
        undoes_json: None,
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

/// What a scan of the store found besides what it put into the catalogue.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Scan {
    /// Files that are not readable archives (catalogued as `failed` with the reason).
    pub problems: Vec<String>,
    /// Files holding a backup id that another file in the store holds too.
    pub duplicates: Vec<Duplicate>,
}

/// A second file of one backup (a copy under another name): listed, with a warning.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Duplicate {
    pub id: String,
    pub file: String,
    /// The file the catalogue knows the backup by.
    pub of_file: String,
    pub size_bytes: u64,
    pub sha256: String,
}

impl Duplicate {
    pub fn warning(&self) -> String {
        format!(
            "{} holds backup {} too (the catalogue knows it as {}); both are listed, keep one of them",
            self.file,
            &self.id[..8.min(self.id.len())],
            self.of_file
        )
    }
}

/// The backup id an archive file carries (its comment, else its manifest), if it reads.
pub(crate) fn file_backup_id(b: &Backups, path: &Path) -> Option<String> {
    if !path.is_file() {
        return None;
    }
    let f = std::fs::File::open(path).ok()?;
    if let Ok(z) = zip::ZipArchive::new(std::io::BufReader::new(f))
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(z.comment())
        && let Some(id) = v.get("backup_id").and_then(|x| x.as_str())
    {
        return Some(id.to_string());
    }
    let pass = b.passphrase().ok().flatten();
    ArchiveReader::open(path, pass, b.store.schema_version())
        .ok()
        .map(|r| r.manifest.backup_id)
}

/// Bring the catalogue up to date with the store folder: every archive is catalogued
/// under the backup id its manifest carries (a file name is never taken as proof of
/// which backup a file is).
pub async fn scan(b: &Backups) -> Result<Scan> {
    let entries = all(&b.store).await?;
    let files = archives_in(&b.dir)?;
    let mut out = Scan::default();
    let schema = b.store.schema_version();
    let pass = b.passphrase().ok().flatten();
    for file in &files {
        let known = entries.iter().find(|e| &e.file == file);
        if let Some(e) = known {
            // A backup that finished on disk but not in the catalogue (killed just after
            // the rename), or a file that came back.
            let interrupted = e.status.is_failed()
                && e.error
                    .as_deref()
                    .is_some_and(|m| m.starts_with(INTERRUPTED));
            let revive =
                e.status == BackupStatus::InProgress || interrupted || e.missing_since.is_some();
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
            // The file is another backup than the entry that has its name (or no entry
            // has its name): it is catalogued under its own id.
            (Ok(new), _) => match get(&b.store, &new.id).await? {
                Some(old) if old.file == *file => {}
                Some(old)
                    if b.path_of(&old.file).is_file()
                        && file_backup_id(b, &b.path_of(&old.file)).as_deref()
                            == Some(old.id.as_str()) =>
                {
                    out.duplicates.push(Duplicate {
                        id: old.id.clone(),
                        file: file.clone(),
                        of_file: old.file.clone(),
                        size_bytes: size,
                        sha256: sha,
                    });
                }
                // The same backup under a new file name (renamed in the store).
                Some(old) => {
                    exec(
                        &b.store,
                        "UPDATE backups SET file = $1, missing_since = NULL, status = 'completed' WHERE id = $2",
                        vec![Some(file.clone()), Some(old.id.clone())],
                    )
                    .await?;
                }
                None => insert(&b.store, &new).await?,
            },
            (Err(e), None) => {
                out.problems.push(format!("{file}: {e}"));
                let mut bad = BackupEntry {
                    id: uuid::Uuid::new_v4().to_string(),
                    file: file.clone(),
                    kind: BackupKind::Manual,
                    scope: "?".into(),
                    status: BackupStatus::Failed,
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
                    undoes_json: None,
                };
                bad.verify_result = bad.error.as_deref().map(VerifyResult::parse);
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
                e.status.is_completed() && e.missing_since.is_none() && !files.contains(&e.file);
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
    Ok(out)
}

fn modified(path: &Path) -> DateTime<Utc> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now())
}

/// With the lock held: remove leftover `.partial` files and fail `in_progress` entries
/// (their process is gone, or it would hold the lock), then scan.
pub(crate) async fn cleanup(b: &Backups) -> Result<Scan> {
    if let Ok(rd) = std::fs::read_dir(&b.dir) {
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                let _ = std::fs::remove_file(ent.path());
            }
        }
    }
    let found = scan(b).await?;
    exec(
        &b.store,
        "UPDATE backups SET status = 'failed', error = $1 WHERE status = 'in_progress'",
        vec![Some(format!(
            "{INTERRUPTED}: the process ended before the backup was complete"
        ))],
    )
    .await?;
    Ok(found)
}

/// Tidy the store if no backup, restore or prune runs right now; scan it in any case.
pub async fn startup(b: &Backups) -> Result<Scan> {
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
    /// The file to read: the archive, or its upgrade when it is an older format.
    pub path: PathBuf,
    pub entry: Option<BackupEntry>,
    /// Holds an older archive's upgrade (`backup::upgrade`) while the target is in use.
    pub(crate) upgraded: Option<std::sync::Arc<super::upgrade::Upgraded>>,
}

impl Backups {
    /// `t` as it is to be read: an older format's archive through its upgrade.
    pub(crate) async fn readable(&self, mut t: Target) -> Result<Target> {
        let pass = self.passphrase()?;
        if let Some(up) =
            super::upgrade::readable(&t.path, pass, self.store.schema_version()).await?
        {
            t.path = up.path.clone();
            t.upgraded = Some(up);
        }
        Ok(t)
    }
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
        // Deleted or missing here, but perhaps still on an off-site target.
        let gone = e.is_deleted() || !b.path_of(&e.file).is_file();
        if gone && let Some(t) = super::offsite::remote::fetch_for(b, &e.id).await? {
            return Ok(t);
        }
        if e.is_deleted() {
            return Err(Error::NotFound(format!(
                "backup {} was deleted",
                e.short_id()
            )));
        }
        let path = b.path_of(&e.file);
        if !path.is_file() {
            return Err(Error::NotFound(format!(
                "the archive {} of backup {} is missing from the store {}",
                e.file,
                e.short_id(),
                b.dir.display()
            )));
        }
        if let Some(other) = file_backup_id(b, &path)
            && other != e.id
        {
            return Err(Error::NotFound(format!(
                "the file {} holds backup {}, not backup {}; the archive of {} is not in the store {}",
                e.file,
                &other[..8.min(other.len())],
                e.short_id(),
                e.short_id(),
                b.dir.display()
            )));
        }
        return Ok(Target {
            path,
            entry: Some((*e).clone()),
            upgraded: None,
        });
    }
    let p = PathBuf::from(what);
    let path = if p.exists() {
        p
    } else if b.path_of(what).exists() {
        b.path_of(what)
    } else if let Some(t) = super::offsite::remote::fetch_for(b, what).await? {
        // Not here but on an off-site target: fetched into the store and catalogued.
        return Ok(t);
    } else {
        return Err(Error::NotFound(format!(
            "no backup {what:?}: not an id in `somiti backup list` nor an archive file"
        )));
    };
    // A path to a catalogued file in the store is that entry.
    let canon = std::fs::canonicalize(&path).ok();
    let entry = entries.into_iter().find(|e| {
        !e.is_deleted()
            && canon.is_some()
            && std::fs::canonicalize(b.path_of(&e.file)).ok() == canon
    });
    Ok(Target {
        path,
        entry,
        upgraded: None,
    })
}

pub fn describe_file(path: &Path) -> String {
    archive::file_name(path)
}
