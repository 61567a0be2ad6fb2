//! Backups: the archive format (docs/archive-format.md), create, catalogue, verify, restore, download,
//! delete, pin, prune, and the lock that keeps them one at a time.
//!
//! The core never prints: long work reports through a `watch` of [`Progress`] and stops on
//! a `CancellationToken`. Every permission check and validation is here; the faces only
//! ask the operator and show the results.

pub mod archive;
pub mod catalogue;
pub mod create;
mod drill;
mod load;
pub mod offsite;
pub mod ops;
pub mod prune;
mod refcheck;
mod replace;
pub mod restore;
mod rowparse;
mod rules;
pub mod schema;
mod snapshot;
mod store;
mod upgrade;
pub mod verify;
mod writer;

/// The lock that keeps backups, restores and prunes one at a time (it lives with the store:
/// ledger writes consult it too).
pub use crate::db::lock;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{self, Operator, Role};
use crate::config::Settings;
use crate::db::{Backend, Store};
use crate::error::{Error, Result};
use crate::on_store;

pub use catalogue::{BackupEntry, BackupStatus, VerifyResult};
pub use create::CreateOptions;
pub use prune::KeepPolicy;
pub use restore::{Confirm, RestoreOptions};

pub const FORMAT: &str = "somiti-backup";
/// 2: the ledger's accounts (loans, withdrawals, savings accounts, member closures;
/// collections name their loan). Version-1 archives are still read: `upgrade`.
pub const FORMAT_VERSION: u32 = 2;
pub const PASSPHRASE_ENV: &str = "SOMITI_BACKUP_PASSPHRASE";

/// How far long work has come: `done` of `total` rows in `stage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

pub type ProgressTx = tokio::sync::watch::Sender<Progress>;

/// A progress sender nobody listens to.
pub fn no_progress() -> ProgressTx {
    tokio::sync::watch::channel(Progress::default()).0
}

pub(crate) fn report(tx: &ProgressTx, stage: &str, done: u64, total: u64) {
    if tx.borrow().stage != stage {
        // the log, never the terminal: `SOMITI_LOG=somiti_core::backup=debug` times the stages
        tracing::debug!(stage, done, total, "backup stage");
    }
    tx.send_replace(Progress {
        stage: stage.to_string(),
        done,
        total,
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    Manual,
    Scheduled,
    PreRestore,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Manual => "manual",
            BackupKind::Scheduled => "scheduled",
            BackupKind::PreRestore => "pre-restore",
        }
    }

    pub fn parse(s: &str) -> Option<BackupKind> {
        match s {
            "manual" => Some(BackupKind::Manual),
            "scheduled" => Some(BackupKind::Scheduled),
            "pre-restore" => Some(BackupKind::PreRestore),
            _ => None,
        }
    }
}

/// Everything, or one organization (by code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Org(String),
}

impl Scope {
    /// `all` (any case) or an organization code (kept upper-case, as codes are stored).
    pub fn parse(s: &str) -> Result<Scope> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Scope::All);
        }
        let ok = !t.is_empty()
            && t.len() <= 16
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid(
                "scope",
                format!("must be `all` or an organization code (got {s:?})"),
            ));
        }
        Ok(Scope::Org(t.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Scope::All => "all",
            Scope::Org(c) => c,
        }
    }
}

/// One file of an archive, as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileManifest {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One table of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableManifest {
    pub name: String,
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub columns: Vec<String>,
    /// Control totals: Σ of each money column (`TableSpec::totals`: collections' loan_paisa
    /// and savings_paisa, loans' principal, service_charge, paid and written_off,
    /// withdrawals' amount, savings accounts' deposited and withdrawn).
    #[serde(default)]
    pub totals: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<FileManifest>,
}

/// `manifest.json`, written last into every archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub backup_id: String,
    pub created_at: DateTime<Utc>,
    pub kind: BackupKind,
    pub scope: String,
    pub app_version: String,
    pub schema_version: i64,
    pub source: Backend,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub encrypted: bool,
    /// The database the archive was taken of (`somiti_meta`); None in archives made before
    /// off-site copies. An off-site prune deletes only archives of this database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    /// Pre-restore backups: the restore whose replaced rows this archive holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<Undoes>,
    pub tables: Vec<TableManifest>,
}

/// What a pre-restore backup undoes: the restore that replaced the rows it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undoes {
    /// The backup that was restored, and its file.
    pub backup_id: String,
    pub file: String,
    /// What the restore replaced, in words ("everything", "tables members, collections",
    /// "organization SONALI").
    pub scope: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Undoes {
    /// "undoes the restore of 3f2a9c1b (tables members, collections) by rahim at …".
    pub fn describe(&self) -> String {
        format!(
            "undoes the restore of {} ({}) by {} on {}",
            &self.backup_id[..8.min(self.backup_id.len())],
            self.scope,
            self.by,
            self.at.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

impl Manifest {
    pub fn table(&self, name: &str) -> Option<&TableManifest> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or(Scope::Org(self.scope.clone()))
    }
}

/// The passphrase for encrypted archives. Never printed.
#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(s: impl Into<String>) -> Passphrase {
        Passphrase(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

/// The backup engine for one database and one store folder.
#[derive(Debug, Clone)]
pub struct Backups {
    pub store: Store,
    /// The folder the archives live in.
    pub dir: PathBuf,
    /// `backup.encrypt`: every backup is encrypted.
    pub encrypt: bool,
    pub include_csv: bool,
    /// `backup.passphrase_file` ("" for none).
    pub passphrase_file: String,
    pub policy: KeepPolicy,
    /// `backup.keep_pre_restore_days`: pre-restore backups older than this are pruned (the
    /// newest pre-restore backup always stays).
    pub keep_pre_restore_days: u32,
    /// Set by tests and faces that take the passphrase some other way; else the
    /// environment and the passphrase file are read when one is needed.
    pub passphrase: Option<Passphrase>,
    /// The lock taken ahead of time by [`Backups::claim`], for the next operation.
    pub claimed: Claimed,
    /// `[[offsite]]`: where completed backups are copied.
    pub offsite: Vec<crate::config::OffsiteConfig>,
    /// `[[alert]]`: who is told when something fails.
    pub alerts: Vec<crate::config::AlertConfig>,
}

/// A lock taken before the operator is even known (the command line claims it before it
/// logs in, so a running restore's table locks cannot make it wait): the next backup,
/// restore, prune or delete of this engine uses it instead of taking its own.
#[derive(Clone, Default)]
pub struct Claimed(std::sync::Arc<std::sync::Mutex<Option<lock::BackupLock>>>);

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map(|g| g.is_some()).unwrap_or(false);
        write!(f, "Claimed({held})")
    }
}

impl Backups {
    pub fn new(store: Store, settings: &Settings) -> Backups {
        let b = &settings.config.backup;
        Backups {
            store,
            dir: settings.backup_dir.clone(),
            encrypt: b.encrypt,
            include_csv: b.include_csv,
            passphrase_file: b.passphrase_file.trim().to_string(),
            policy: KeepPolicy {
                keep_last: b.keep_last,
                keep_daily: b.keep_daily,
                keep_weekly: b.keep_weekly,
                keep_monthly: b.keep_monthly,
            },
            keep_pre_restore_days: b.keep_pre_restore_days,
            passphrase: None,
            claimed: Claimed::default(),
            offsite: settings.config.offsite.clone(),
            alerts: settings.config.alert.clone(),
        }
    }

    /// A store folder with the defaults (no encryption, CSV included, default retention).
    pub fn with_dir(store: Store, dir: impl Into<PathBuf>) -> Backups {
        Backups {
            store,
            dir: dir.into(),
            encrypt: false,
            include_csv: true,
            passphrase_file: String::new(),
            policy: KeepPolicy {
                keep_last: 7,
                keep_daily: 14,
                keep_weekly: 8,
                keep_monthly: 12,
            },
            keep_pre_restore_days: 30,
            passphrase: None,
            claimed: Claimed::default(),
            offsite: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// Take the backup lock now, before anything else (in the OS login's name), for the
    /// next operation of this engine: a second caller is told busy at once.
    pub async fn claim(&self, operation: &str) -> Result<()> {
        let l = lock::acquire(&self.store, operation, &access::os_login()).await?;
        if let Ok(mut g) = self.claimed.0.lock() {
            *g = Some(l);
        }
        Ok(())
    }

    /// The lock for an operation: the claimed one, or taken now. Every operation that
    /// changes the store or the ledger calls this first, before it reads anything; a
    /// refusal (busy) is audited as the operation's failure (`action` on `target`).
    pub(crate) async fn take_lock(
        &self,
        operation: &str,
        op: &Operator,
        action: &str,
        target: &str,
    ) -> Result<lock::BackupLock> {
        let claimed = self.claimed.0.lock().ok().and_then(|mut g| g.take());
        let r = match claimed {
            Some(l) => Ok(l),
            None => lock::acquire(&self.store, operation, &op.username).await,
        };
        access::audit::record_if_failed(&self.store, &op.username, action, target, r).await
    }

    /// The passphrase: set explicitly, else `SOMITI_BACKUP_PASSPHRASE`, else the
    /// passphrase file (which must not be readable by group or others).
    pub fn passphrase(&self) -> Result<Option<Passphrase>> {
        if let Some(p) = &self.passphrase {
            return Ok(Some(p.clone()));
        }
        if let Ok(p) = std::env::var(PASSPHRASE_ENV)
            && !p.is_empty()
        {
            return Ok(Some(Passphrase(p)));
        }
        if self.passphrase_file.is_empty() {
            return Ok(None);
        }
        read_passphrase_file(Path::new(&self.passphrase_file)).map(Some)
    }

    /// The passphrase, or a refusal that says how to give one.
    pub fn require_passphrase(&self, why: &str) -> Result<Passphrase> {
        self.passphrase()?.ok_or_else(|| {
            Error::Refused(format!(
                "{why} needs a passphrase: set {PASSPHRASE_ENV} or backup.passphrase_file (mode 0600)"
            ))
        })
    }

    /// Create the store folder (mode 0700) if needed.
    pub fn ensure_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("creating backup folder {}", self.dir.display()), e))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io(
                format!("setting mode 0700 on backup folder {}", self.dir.display()),
                e,
            )
        })
    }

    pub fn path_of(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

fn read_passphrase_file(path: &Path) -> Result<Passphrase> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("reading passphrase file {}", path.display()), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Refused(format!(
            "passphrase file {} has mode {mode:04o}; it must be 0600 (chmod 600 {})",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading passphrase file {}", path.display()), e))?;
    let p = text.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(Error::Config(format!(
            "passphrase file {} is empty",
            path.display()
        )));
    }
    Ok(Passphrase(p))
}

/// The operator for a backup command. On a brand-new database (no users and no
/// organizations) there is nothing to protect yet, so the OS login may list the store and
/// restore into it as an admin; anywhere else the usual login applies.
pub async fn operator(store: &Store) -> Result<Operator> {
    match access::login(store).await {
        Ok(op) => Ok(op),
        Err(e) => {
            if database_is_empty(store).await? {
                Ok(Operator {
                    username: access::os_login(),
                    full_name: String::new(),
                    role: Role::Admin,
                    org_id: None,
                })
            } else {
                Err(e)
            }
        }
    }
}

/// No users and no organizations.
pub async fn database_is_empty(store: &Store) -> Result<bool> {
    let n: i64 = on_store!(store, |p| sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM organizations)"
    )
    .fetch_one(p)
    .await?);
    Ok(n == 0)
}

/// The organization id for a scope code, when the database has it.
pub(crate) async fn org_id_of(store: &Store, code: &str) -> Result<Option<i64>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM organizations WHERE code = $1"
    )
    .bind(code)
    .fetch_optional(p)
    .await?))
}

/// fsync a directory so a rename in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing folder {}", dir.display()), e))
}

pub(crate) use crate::db::lock::{hostname, real_login};
