//! The small operations: list, download, delete, pin and unpin.

use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Backups;
use super::catalogue::{self, BackupEntry};
use super::offsite::{OffsiteCopy, copies};
use super::writer::create_private;
use crate::access::{Operator, Permission, audit, require};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub dir: PathBuf,
    pub backups: Vec<BackupEntry>,
    /// Files in the store that are not readable archives.
    pub problems: Vec<String>,
    /// Second files of one backup id (listed too, with a warning).
    pub duplicates: Vec<catalogue::Duplicate>,
    /// The off-site targets a copy can be on: the configured ones in config order, then any
    /// other target a recorded copy names (one taken out of the config).
    pub targets: Vec<String>,
    /// Every recorded off-site copy (`offsite_copies`), by backup id and target.
    pub copies: Vec<OffsiteCopy>,
}

/// Where one backup is: its archive in the local store, and each target's copy.
#[derive(Debug, Clone)]
pub struct Places<'a> {
    /// `present`, `missing` (catalogued, file gone), `deleted`, `none` (a failed run left
    /// no archive) or `writing` (in progress).
    pub local: &'static str,
    /// Each target of [`ListReport::targets`], with its copy if one is recorded.
    pub targets: Vec<(&'a str, Option<&'a OffsiteCopy>)>,
    /// At least one off-site copy was read back and matched.
    pub offsite_verified: bool,
}

impl Places<'_> {
    /// Targets holding a verified copy.
    pub fn verified_on(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|(_, c)| c.is_some_and(|c| c.is_verified()))
            .map(|(t, _)| *t)
            .collect()
    }
}

/// The local archive of a catalogue entry, in one word.
pub fn local_word(e: &BackupEntry) -> &'static str {
    if e.is_deleted() {
        "deleted"
    } else if e.missing_since.is_some() {
        "missing"
    } else {
        match e.status.as_str() {
            "completed" => "present",
            "in_progress" => "writing",
            _ => "none",
        }
    }
}

/// A target's copy in words: `verified`, `copying`, `pending`, `failed: <reason>`,
/// `deleted`, or `—` when no copy is recorded.
pub fn copy_word(c: Option<&OffsiteCopy>) -> String {
    match c {
        None => "—".into(),
        Some(c) if c.status == copies::FAILED => match c.error.as_deref() {
            Some(e) if !e.is_empty() => format!("failed: {e}"),
            _ => "failed".into(),
        },
        Some(c) => c.status.clone(),
    }
}

impl ListReport {
    /// The recorded copies of one backup.
    pub fn copies_of(&self, backup_id: &str) -> Vec<&OffsiteCopy> {
        self.copies
            .iter()
            .filter(|c| c.backup_id == backup_id)
            .collect()
    }

    /// Where a backup is: local and on each target.
    pub fn places<'a>(&'a self, e: &BackupEntry) -> Places<'a> {
        let mine = self.copies_of(&e.id);
        let targets: Vec<(&str, Option<&OffsiteCopy>)> = self
            .targets
            .iter()
            .map(|t| (t.as_str(), mine.iter().copied().find(|c| &c.target == t)))
            .collect();
        Places {
            local: local_word(e),
            offsite_verified: mine.iter().any(|c| c.is_verified()),
            targets,
        }
    }

    /// The creation time of the newest backup with a verified off-site copy.
    pub fn newest_offsite(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.backups
            .iter()
            .filter(|e| {
                self.copies
                    .iter()
                    .any(|c| c.backup_id == e.id && c.is_verified())
            })
            .map(|e| e.created_at)
            .max()
    }
}

/// The folder a download to `dest` writes into, when it does not exist yet: `dest` itself
/// when written as a folder (`/x/y/`), else the folder of the file named.
pub fn missing_folder(dest: &Path) -> Option<PathBuf> {
    if dest.as_os_str().is_empty() || dest.is_dir() {
        return None;
    }
    let as_folder = dest.as_os_str().to_string_lossy().ends_with('/');
    let folder = if as_folder {
        dest.to_path_buf()
    } else {
        match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => return None,
        }
    };
    if folder.is_dir() {
        return None;
    }
    // Named without a trailing slash, as `mkdir` would.
    let folder: PathBuf = folder.components().collect();
    Some(std::path::absolute(&folder).unwrap_or(folder))
}

#[derive(Debug, Clone, Serialize)]
pub struct DownloadReport {
    pub id: String,
    pub file: String,
    pub dest: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// `scp user@host:PATH .`, to fetch the copy over the same SSH.
    pub scp: String,
}

impl Backups {
    /// Every catalogued backup, newest first, after bringing the catalogue up to date with
    /// the store (so it works on a fresh database pointed at an existing store).
    pub async fn list(&self, op: &Operator) -> Result<ListReport> {
        let found = catalogue::startup(self).await?;
        require(
            &self.store,
            op,
            Permission::Read,
            None,
            "backup.list",
            "store",
        )
        .await?;
        let copies = copies::all(&self.store).await?;
        let mut targets: Vec<String> = self.offsite.iter().map(|c| c.name.clone()).collect();
        let others: std::collections::BTreeSet<&String> = copies
            .iter()
            .map(|c| &c.target)
            .filter(|t| !targets.contains(t))
            .collect();
        targets.extend(others.into_iter().cloned());
        Ok(ListReport {
            dir: self.dir.clone(),
            backups: catalogue::all(&self.store).await?,
            problems: found.problems,
            duplicates: found.duplicates,
            targets,
            copies,
        })
    }

    /// A catalogued backup by id (or unique prefix), with its file present.
    async fn entry(&self, id: &str) -> Result<BackupEntry> {
        let t = catalogue::resolve(self, id).await?;
        t.entry.ok_or_else(|| {
            Error::invalid(
                "backup",
                format!("{id:?} is not a backup id; see `somiti backup list`"),
            )
        })
    }

    async fn scope_org(&self, e: &BackupEntry) -> Result<Option<i64>> {
        if e.scope == "all" {
            Ok(None)
        } else {
            super::org_id_of(&self.store, &e.scope).await
        }
    }

    /// Copy an archive out of the store to `dest` (a file name or a folder), checking its
    /// SHA-256 against the catalogue on the way. A folder that does not exist is refused,
    /// naming it; [`Self::download_to`] can create it.
    pub async fn download(&self, op: &Operator, id: &str, dest: &Path) -> Result<DownloadReport> {
        self.download_to(op, id, dest, false).await
    }

    /// [`Self::download`], creating the destination folder (mode 0700) with `create_dir`.
    pub async fn download_to(
        &self,
        op: &Operator,
        id: &str,
        dest: &Path,
        create_dir: bool,
    ) -> Result<DownloadReport> {
        catalogue::startup(self).await?;
        let e = match self.entry(id).await {
            Ok(e) => e,
            Err(x) => {
                return audit::record_if_failed(
                    &self.store,
                    &op.username,
                    "backup.download",
                    id,
                    Err(x),
                )
                .await;
            }
        };
        let org = self.scope_org(&e).await?;
        require(
            &self.store,
            op,
            Permission::DownloadBackup,
            org,
            "backup.download",
            &e.id,
        )
        .await?;
        let r = self.copy_out(&e, dest, create_dir);
        let r =
            audit::record_if_failed(&self.store, &op.username, "backup.download", &e.id, r).await?;
        audit::record(
            &self.store,
            &op.username,
            "backup.download",
            &e.id,
            serde_json::json!({ "file": e.file, "dest": r.dest, "bytes": r.bytes }),
            audit::Outcome::Ok,
        )
        .await?;
        Ok(r)
    }

    fn copy_out(&self, e: &BackupEntry, dest: &Path, create_dir: bool) -> Result<DownloadReport> {
        let want = e.sha256.clone().ok_or_else(|| {
            Error::Other(format!("backup {} has no recorded SHA-256", e.short_id()))
        })?;
        if let Some(folder) = missing_folder(dest) {
            if !create_dir {
                return Err(Error::invalid(
                    "dest",
                    format!(
                        "folder {} does not exist; create it first (mkdir -p {}), or pass --create-dir",
                        folder.display(),
                        folder.display()
                    ),
                ));
            }
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&folder)
                .map_err(|x| Error::io(format!("creating folder {}", folder.display()), x))?;
        }
        let dest = if dest.is_dir() {
            dest.join(&e.file)
        } else {
            dest.to_path_buf()
        };
        let dest = std::path::absolute(&dest)
            .map_err(|x| Error::io(format!("resolving {}", dest.display()), x))?;
        if dest.exists() {
            return Err(Error::invalid(
                "dest",
                format!("{} already exists; choose another name", dest.display()),
            ));
        }
        let src = self.path_of(&e.file);
        let partial = PathBuf::from(format!("{}.partial", dest.display()));
        let r = (|| {
            let mut from = std::fs::File::open(&src)
                .map_err(|x| Error::io(format!("reading {}", src.display()), x))?;
            let mut to = create_private(&partial)?;
            let mut sha = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0u64;
            loop {
                let k = from
                    .read(&mut buf)
                    .map_err(|x| Error::io(format!("reading {}", src.display()), x))?;
                if k == 0 {
                    break;
                }
                sha.update(&buf[..k]);
                to.write_all(&buf[..k])
                    .map_err(|x| Error::io(format!("writing {}", partial.display()), x))?;
                n += k as u64;
            }
            to.sync_all()
                .map_err(|x| Error::io(format!("writing {}", partial.display()), x))?;
            let got = hex::encode(sha.finalize());
            if got != want {
                return Err(Error::VerifyFailed(format!(
                    "{}: SHA-256 {got} does not match the catalogue's {want}; the archive in the store is damaged, nothing was copied",
                    e.file
                )));
            }
            std::fs::rename(&partial, &dest)
                .map_err(|x| Error::io(format!("renaming to {}", dest.display()), x))?;
            if let Some(parent) = dest.parent() {
                super::sync_dir(parent)?;
            }
            Ok((n, got))
        })();
        let (bytes, sha256) = match r {
            Ok(x) => x,
            Err(x) => {
                let _ = std::fs::remove_file(&partial);
                return Err(x);
            }
        };
        Ok(DownloadReport {
            id: e.id.clone(),
            file: e.file.clone(),
            scp: format!(
                "scp {}@{}:{} .",
                super::real_login(),
                super::hostname(),
                dest.display()
            ),
            dest,
            bytes,
            sha256,
        })
    }

    /// Remove an archive and mark it deleted. Admins; pinned backups must be unpinned first.
    /// Only the file whose manifest carries this backup's id is removed; an entry without
    /// its file (a failed or interrupted run, a vanished archive) is only marked deleted.
    pub async fn delete(&self, op: &Operator, id: &str) -> Result<BackupEntry> {
        let lock = self.take_lock("delete", op, "backup.delete", id).await?;
        let r = async {
            require(
                &self.store,
                op,
                Permission::DeleteBackup,
                None,
                "backup.delete",
                id,
            )
            .await?;
            let r = self.delete_checked(id).await;
            let (e, removed) =
                audit::record_if_failed(&self.store, &op.username, "backup.delete", id, r).await?;
            audit::record(
                &self.store,
                &op.username,
                "backup.delete",
                &e.id,
                serde_json::json!({ "file": e.file, "file_removed": removed }),
                audit::Outcome::Ok,
            )
            .await?;
            Ok(e)
        }
        .await;
        lock.release().await;
        r
    }

    /// With the lock held: the entry and whether its file was removed.
    async fn delete_checked(&self, id: &str) -> Result<(BackupEntry, bool)> {
        catalogue::cleanup(self).await?;
        let e = catalogue::find(&self.store, id).await?;
        if e.pinned {
            return Err(Error::Refused(format!(
                "backup {} is pinned; unpin it first (somiti backup unpin {})",
                e.short_id(),
                e.short_id()
            )));
        }
        let removed = self.remove_archive_of(&e)?;
        catalogue::mark_deleted(&self.store, &e.id).await?;
        Ok((
            catalogue::get(&self.store, &e.id).await?.unwrap_or(e),
            removed,
        ))
    }

    /// Remove the entry's archive if, and only if, the file in the store carries this
    /// entry's backup id. Ok(false): there was no such file (nothing removed).
    pub(crate) fn remove_archive_of(&self, e: &BackupEntry) -> Result<bool> {
        let path = self.path_of(&e.file);
        if catalogue::file_backup_id(self, &path).as_deref() != Some(e.id.as_str()) {
            return Ok(false);
        }
        std::fs::remove_file(&path)
            .map_err(|x| Error::io(format!("removing {}", path.display()), x))?;
        super::sync_dir(&self.dir)?;
        Ok(true)
    }

    /// Pin (never pruned, never deleted until unpinned) or unpin a backup.
    pub async fn pin(&self, op: &Operator, id: &str, pinned: bool) -> Result<BackupEntry> {
        let action = if pinned { "backup.pin" } else { "backup.unpin" };
        catalogue::startup(self).await?;
        let e = match self.entry(id).await {
            Ok(e) => e,
            Err(x) => {
                return audit::record_if_failed(&self.store, &op.username, action, id, Err(x))
                    .await;
            }
        };
        let org = self.scope_org(&e).await?;
        require(&self.store, op, Permission::PinBackup, org, action, &e.id).await?;
        let r = catalogue::set_pinned(&self.store, &e.id, pinned).await;
        audit::record_if_failed(&self.store, &op.username, action, &e.id, r).await?;
        audit::record(
            &self.store,
            &op.username,
            action,
            &e.id,
            serde_json::json!({ "file": e.file }),
            audit::Outcome::Ok,
        )
        .await?;
        Ok(catalogue::get(&self.store, &e.id).await?.unwrap_or(e))
    }
}
