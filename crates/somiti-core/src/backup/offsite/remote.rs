//! The archives on an off-site target, read from their own manifests (ranged reads, never
//! the whole object): what `backup list --offsite NAME` shows, where a restore of an id the
//! local store does not have finds it, and what a drill from the target takes. An object
//! that is not a Somiti archive, cannot be read, or is encrypted while no passphrase is at
//! hand is listed as such with the reason, never silently left out.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::copies;
use super::target::{RemoteObject, Target, target_named, targets};
use crate::access::{Operator, Permission, audit, require};
use crate::backup::archive::ArchiveReader;
use crate::backup::catalogue::{self, BackupEntry, VerifyResult};
use crate::backup::verify::VerifyReport;
use crate::backup::{Backups, Manifest, Passphrase, ProgressTx};
use crate::error::{Error, Result};
use crate::on_store;

/// How an archive's `database_id` compares with this database's.
pub const THIS_DATABASE: &str = "this database";
pub const OTHER_DATABASE: &str = "other database";
pub const UNKNOWN_DATABASE: &str = "unknown (older archive)";

/// What an object on the target turned out to be.
pub const ARCHIVE: &str = "archive";
pub const ENCRYPTED: &str = "encrypted";
pub const NOT_SOMITI: &str = "not-somiti";
pub const UNREADABLE: &str = "unreadable";

/// How many manifests are read at once.
const MANIFEST_READS: usize = 4;

/// One object under a target's prefix, and what its manifest says.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteArchive {
    pub target: String,
    pub file: String,
    pub object_key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    /// `archive`, or why it is not usable: `encrypted` (no passphrase to read its
    /// manifest), `not-somiti`, `unreadable`.
    pub status: String,
    /// The reason, when `status` is not `archive`.
    pub problem: Option<String>,
    pub backup_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub scope: Option<String>,
    pub rows: Option<u64>,
    pub encrypted: bool,
    pub database_id: Option<String>,
    /// "this database", "other database" or "unknown (older archive)"; None without a
    /// readable manifest.
    pub database: Option<String>,
    #[serde(skip)]
    pub manifest: Option<Manifest>,
}

impl RemoteArchive {
    pub fn short_id(&self) -> &str {
        self.backup_id
            .as_deref()
            .map_or("", |i| &i[..8.min(i.len())])
    }

    /// A readable Somiti archive whose manifest names this database.
    pub fn of_this_database(&self) -> bool {
        self.manifest.is_some() && self.database.as_deref() == Some(THIS_DATABASE)
    }

    fn from_manifest(t: &Target, o: &RemoteObject, m: Manifest, this_db: &str) -> RemoteArchive {
        let database = match &m.database_id {
            Some(id) if id == this_db => THIS_DATABASE,
            Some(_) => OTHER_DATABASE,
            None => UNKNOWN_DATABASE,
        };
        RemoteArchive {
            target: t.name.clone(),
            file: o.file.clone(),
            object_key: t.key_of(&o.file).to_string(),
            size: o.size,
            last_modified: o.last_modified,
            status: ARCHIVE.into(),
            problem: None,
            backup_id: Some(m.backup_id.clone()),
            created_at: Some(m.created_at),
            kind: Some(m.kind.as_str().into()),
            scope: Some(m.scope.clone()),
            rows: Some(m.total_rows()),
            encrypted: m.encrypted,
            database_id: m.database_id.clone(),
            database: Some(database.into()),
            manifest: Some(m),
        }
    }

    fn problem(t: &Target, o: &RemoteObject, e: &Error) -> RemoteArchive {
        let msg = e.to_string();
        let status = match e {
            Error::Refused(m) if m.contains("is encrypted") => ENCRYPTED,
            Error::VerifyFailed(m)
                if m.contains("not a somiti")
                    || m.contains("not a readable ZIP")
                    || m.contains("not a somiti-backup manifest") =>
            {
                NOT_SOMITI
            }
            _ => UNREADABLE,
        };
        RemoteArchive {
            target: t.name.clone(),
            file: o.file.clone(),
            object_key: t.key_of(&o.file).to_string(),
            size: o.size,
            last_modified: o.last_modified,
            status: status.into(),
            problem: Some(msg),
            backup_id: None,
            created_at: None,
            kind: None,
            scope: None,
            rows: None,
            encrypted: status == ENCRYPTED,
            database_id: None,
            database: None,
            manifest: None,
        }
    }
}

/// What `backup list --offsite NAME` shows.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteListing {
    pub target: String,
    pub url: String,
    /// This database's id, that the archives' `database_id` is compared with.
    pub database_id: String,
    /// Readable archives newest first, then the objects that are not, by name.
    pub archives: Vec<RemoteArchive>,
}

/// Every `.zip` object of the target with what its manifest says. Fails only when the
/// target cannot be listed; an object that cannot be read is listed with the reason.
pub async fn list_target(
    t: &Target,
    pass: Option<Passphrase>,
    schema_version: i64,
    this_db: &str,
) -> Result<Vec<RemoteArchive>> {
    let objects = t.list().await?;
    let mut out: Vec<RemoteArchive> = futures::stream::iter(objects)
        .map(|o| {
            let pass = pass.clone();
            async move {
                match t.read_manifest(&o.file, o.size, pass, schema_version).await {
                    Ok(m) => RemoteArchive::from_manifest(t, &o, m, this_db),
                    Err(e) => RemoteArchive::problem(t, &o, &e),
                }
            }
        })
        .buffered(MANIFEST_READS)
        .collect()
        .await;
    out.sort_by(|a, b| {
        (
            a.created_at.is_none(),
            std::cmp::Reverse(a.created_at),
            &a.file,
        )
            .cmp(&(
                b.created_at.is_none(),
                std::cmp::Reverse(b.created_at),
                &b.file,
            ))
    });
    Ok(out)
}

/// An id or the start of one (at least 4 characters), not a path.
fn id_like(what: &str) -> bool {
    what.len() >= 4 && what.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Backups {
    /// The archives on the target named `name` (any reader may look).
    pub async fn list_offsite(&self, op: &Operator, name: &str) -> Result<RemoteListing> {
        require(
            &self.store,
            op,
            Permission::Read,
            None,
            "backup.list",
            &format!("offsite:{name}"),
        )
        .await?;
        let t = target_named(&self.offsite, name)?;
        let this_db = crate::db::meta::database_id(&self.store).await?;
        let pass = self.passphrase()?;
        let archives = list_target(&t, pass, self.store.schema_version(), &this_db).await?;
        Ok(RemoteListing {
            target: t.name.clone(),
            url: t.url.clone(),
            database_id: this_db,
            archives,
        })
    }

    /// The archive whose backup id is `what` (or starts with it, at least 4 characters) on
    /// the enabled targets, in the config's order: None when no target has it. Two backups
    /// matching is an error; so is not finding it while a target could not be listed.
    pub async fn find_offsite(&self, what: &str) -> Result<Option<(Target, RemoteArchive)>> {
        let what = what.trim();
        if !id_like(what) || self.offsite.iter().all(|o| !o.enabled) {
            return Ok(None);
        }
        let this_db = crate::db::meta::database_id(&self.store).await?;
        let pass = self.passphrase()?;
        let schema = self.store.schema_version();
        let mut found: Vec<(Target, RemoteArchive)> = Vec::new();
        let mut failed = Vec::new();
        let mut locked = Vec::new();
        for t in targets(&self.offsite)? {
            match list_target(&t, pass.clone(), schema, &this_db).await {
                Ok(list) => {
                    for a in list {
                        if a.backup_id.as_deref().is_some_and(|i| i.starts_with(what)) {
                            found.push((t.clone(), a));
                        } else if a.status == ENCRYPTED {
                            locked.push(format!("{} on {}", a.file, t.name));
                        }
                    }
                }
                Err(e) => failed.push(e.to_string()),
            }
        }
        let mut ids: Vec<&str> = found
            .iter()
            .filter_map(|(_, a)| a.backup_id.as_deref())
            .collect();
        ids.sort();
        ids.dedup();
        if ids.len() > 1 {
            return Err(Error::invalid(
                "backup",
                format!(
                    "{what:?} matches {} backups on the off-site targets; give more of the id",
                    ids.len()
                ),
            ));
        }
        if found.is_empty() {
            let mut why = Vec::new();
            if !failed.is_empty() {
                why.push(failed.join("; "));
            }
            if !locked.is_empty() {
                why.push(format!(
                    "encrypted archives whose manifests need the passphrase ({}): {}",
                    crate::backup::PASSPHRASE_ENV,
                    locked.join(", ")
                ));
            }
            if why.is_empty() {
                return Ok(None);
            }
            return Err(Error::NotFound(format!(
                "no backup {what:?} in the store or on the off-site targets that could be read; {}",
                why.join("; ")
            )));
        }
        Ok(found.into_iter().next())
    }

    /// Fetch a target's archive into the store (mode 0600), prove it is the backup its
    /// listing said (its manifest, read again from the file), catalogue it the way a file
    /// found in the store is catalogued, and record the verified off-site copy.
    pub async fn fetch_offsite(
        &self,
        actor: &str,
        t: &Target,
        a: &RemoteArchive,
    ) -> Result<BackupEntry> {
        let id = a.backup_id.clone().ok_or_else(|| {
            Error::Other(format!(
                "{}: {} is not a readable archive",
                t.label(),
                a.file
            ))
        })?;
        self.ensure_dir()?;
        let dest = self.path_of(&a.file);
        if dest.exists() {
            if catalogue::file_backup_id(self, &dest).as_deref() != Some(id.as_str()) {
                return Err(Error::Refused(format!(
                    "{} is already in the store {} but is not backup {}; move it away and try again",
                    a.file,
                    self.dir.display(),
                    a.short_id()
                )));
            }
        } else {
            t.download(&a.file, &dest).await?;
        }
        let r = self.catalogue_fetched(&id, &a.file, &dest).await;
        let (e, size, sha) = match r {
            Ok(x) => x,
            Err(x) => {
                let _ = std::fs::remove_file(&dest);
                return Err(x);
            }
        };
        let now = Utc::now();
        copies::record_found(&self.store, &id, &t.name, &a.object_key, size, &sha, now).await?;
        audit::record(
            &self.store,
            actor,
            "backup.offsite.fetch",
            &id,
            serde_json::json!({ "target": t.name, "file": a.file, "bytes": size, "sha256": sha }),
            audit::Outcome::Ok,
        )
        .await?;
        Ok(e)
    }

    /// The fetched file into the catalogue under the id its own manifest carries.
    async fn catalogue_fetched(
        &self,
        id: &str,
        file: &str,
        path: &Path,
    ) -> Result<(BackupEntry, u64, String)> {
        let (size, sha) = catalogue::hash_file(path)?;
        let pass = self.passphrase()?;
        let schema = self.store.schema_version();
        let p = path.to_path_buf();
        let m = tokio::task::spawn_blocking(move || {
            ArchiveReader::open(&p, pass, schema).map(|r| r.manifest)
        })
        .await
        .map_err(|e| Error::Other(format!("reading {file}: {e}")))??;
        if m.backup_id != id {
            return Err(Error::VerifyFailed(format!(
                "{file} holds backup {}, not backup {}; it was not taken into the store",
                &m.backup_id[..8.min(m.backup_id.len())],
                &id[..8.min(id.len())]
            )));
        }
        match catalogue::get(&self.store, id).await? {
            None => {
                catalogue::insert(
                    &self.store,
                    &catalogue::entry_from_manifest(&m, file, size, &sha),
                )
                .await?
            }
            Some(_) => {
                on_store!(&self.store, |p| sqlx::query(
                    "UPDATE backups SET file = $1, status = 'completed', error = NULL, \
                     missing_since = NULL, size_bytes = $2, sha256 = $3, \
                     total_rows = COALESCE(total_rows, $4) WHERE id = $5"
                )
                .bind(file)
                .bind(size as i64)
                .bind(&sha)
                .bind(m.total_rows() as i64)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected());
            }
        }
        let e = catalogue::get(&self.store, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("backup {id} in the catalogue")))?;
        Ok((e, size, sha))
    }

    /// Verify (with `drill`, restore into a scratch database too) the newest archive of this
    /// database on the target named `name`, fetched into a temporary file outside the store
    /// (never into it). The result goes on the catalogue entry of that backup id, as a local
    /// verify's does, and into the audit log. None: the target holds no archive of this
    /// database yet.
    pub async fn verify_offsite_latest(
        &self,
        op: &Operator,
        name: &str,
        drill: bool,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<Option<OffsiteVerify>> {
        let label = format!("offsite:{name}");
        require(
            &self.store,
            op,
            Permission::VerifyBackup,
            None,
            "backup.verify",
            &label,
        )
        .await?;
        let r = self
            .verify_offsite_checked(name, drill, progress, cancel)
            .await;
        let r =
            audit::record_if_failed(&self.store, &op.username, "backup.verify", &label, r).await?;
        if let Some(v) = &r {
            audit::record(
                &self.store,
                &op.username,
                "backup.verify",
                &v.backup_id,
                serde_json::json!({ "source": name, "file": v.file, "drill": drill,
                    "result": v.result, "recorded": v.recorded }),
                if v.result.is_ok() {
                    audit::Outcome::Ok
                } else {
                    audit::Outcome::Failed
                },
            )
            .await?;
            if !v.result.is_ok() {
                return Err(Error::VerifyFailed(format!(
                    "{} from {}: {}",
                    v.file,
                    v.target_label,
                    v.result.what()
                )));
            }
        }
        Ok(r)
    }

    async fn verify_offsite_checked(
        &self,
        name: &str,
        drill: bool,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<Option<OffsiteVerify>> {
        let t = target_named(&self.offsite, name)?;
        let this_db = crate::db::meta::database_id(&self.store).await?;
        let pass = self.passphrase()?;
        let schema = self.store.schema_version();
        let list = list_target(&t, pass.clone(), schema, &this_db).await?;
        let Some(newest) = list
            .into_iter()
            .filter(|a| a.of_this_database())
            .max_by_key(|a| a.created_at)
        else {
            return Ok(None);
        };
        let id = newest.backup_id.clone().unwrap_or_default();
        let tmp = scratch_folder(&self.dir)?;
        let path = tmp.path().join(&newest.file);
        let (size, sha) = t.download(&newest.file, &path).await?;
        let copy = copies::get(&self.store, &id, &t.name).await?;
        let r: Result<VerifyReport> = match copy.as_ref().and_then(|c| c.sha256.clone()) {
            Some(want) if want != sha => Err(Error::VerifyFailed(format!(
                "{}: the object's SHA-256 {sha} is not the {want} it had when it was copied; the off-site copy was changed or damaged",
                newest.file
            ))),
            _ => {
                if drill {
                    self.ensure_dir()?;
                }
                crate::backup::verify::verify_archive(
                    &path,
                    pass,
                    schema,
                    drill.then_some(self.dir.as_path()),
                    progress,
                    cancel,
                )
                .await
            }
        };
        drop(tmp);
        let result = match &r {
            Ok(_) => Some(VerifyResult::Ok),
            Err(Error::VerifyFailed(m)) => Some(VerifyResult::Failed(m.clone())),
            Err(_) => None,
        };
        // Not a verdict on the archive (cancelled, the disk full): the error as it is.
        let Some(result) = result else {
            return r.map(|_| None);
        };
        let entry = catalogue::get(&self.store, &id).await?;
        let recorded = entry.is_some();
        if recorded {
            catalogue::set_verify(&self.store, &id, &result).await?;
        }
        let now = Utc::now();
        if result.is_ok() {
            // A drill that restored the object proves the copy, whether or not a copier
            // had recorded it yet (a pending or failed row), when its bytes are the
            // catalogue's.
            let same_bytes = entry
                .as_ref()
                .and_then(|e| e.sha256.as_deref())
                .is_none_or(|want| want == sha);
            if copy.as_ref().is_none_or(|c| !c.is_verified()) && same_bytes {
                copies::record_found(
                    &self.store,
                    &id,
                    &t.name,
                    &newest.object_key,
                    size,
                    &sha,
                    now,
                )
                .await?;
            }
        } else if copy.is_some() {
            // The copy on the target no longer restores: it is owed again.
            copies::failed(
                &self.store,
                &id,
                &t.name,
                &format!("the drill from the target failed: {}", result.what()),
                now,
                now,
            )
            .await?;
        }
        Ok(Some(OffsiteVerify {
            target: t.name.clone(),
            target_label: t.label(),
            backup_id: id,
            file: newest.file.clone(),
            created_at: newest.created_at.unwrap_or(newest.last_modified),
            bytes: size,
            sha256: sha,
            drill,
            result,
            recorded,
        }))
    }
}

/// What a verify of a target's newest archive found.
#[derive(Debug, Clone, Serialize)]
pub struct OffsiteVerify {
    pub target: String,
    #[serde(skip)]
    pub target_label: String,
    pub backup_id: String,
    pub file: String,
    pub created_at: DateTime<Utc>,
    pub bytes: u64,
    pub sha256: String,
    pub drill: bool,
    /// "ok" or "failed: <the check that failed>".
    pub result: VerifyResult,
    /// Whether the catalogue has an entry for the backup the result went on.
    pub recorded: bool,
}

/// A private folder for a downloaded archive beside the store (never in it): the store's
/// parent folder, else the system's temporary folder.
fn scratch_folder(store_dir: &Path) -> Result<tempfile::TempDir> {
    let parent: PathBuf = store_dir
        .parent()
        .filter(|p| p.is_dir())
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix(".somiti-offsite-")
        .tempdir_in(&parent)
        .map_err(|e| {
            Error::io(
                format!("creating a temporary folder in {}", parent.display()),
                e,
            )
        })
}

/// For `resolve`: an id the store does not have, fetched from the first target that has
/// it. None when no target has it.
pub(crate) async fn fetch_for(b: &Backups, what: &str) -> Result<Option<catalogue::Target>> {
    let Some((t, a)) = b.find_offsite(what).await? else {
        return Ok(None);
    };
    let e = b
        .fetch_offsite(&crate::backup::real_login(), &t, &a)
        .await?;
    Ok(Some(catalogue::Target {
        path: b.path_of(&e.file),
        entry: Some(e),
        upgraded: None,
    }))
}
