//! One backup, restore or prune at a time per database, across processes and machines.
//! SQLite: an exclusive `flock` on `<db>.backup-lock` beside the database file, holding who
//! has it. PostgreSQL: `pg_try_advisory_lock` on a connection of its own, kept for the
//! duration, plus a `backup_lock` row saying who. A process that dies lets go of both.
//!
//! The lock is taken before anything else an operation does (before it reads a table that a
//! running restore may hold) and held until its transaction has committed or rolled back,
//! so a second caller is told "busy" at once instead of waiting behind the first. Ledger
//! writes ask [`restore_in_progress`] before they begin, and are refused while another
//! process restores. The two halves (the file lock, the advisory lock) are in `db::dialect`;
//! here is what they share: who holds it, how long to wait, and when a write is refused.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, dialect};
use crate::error::{Error, Result};

/// What `catalogue::startup` calls its short hold of the lock.
pub const STARTUP: &str = "startup";

/// The operation name of a restore (ledger writes are refused while one runs).
pub const RESTORE: &str = "restore";

/// How long a caller waits for a holder that is only tidying the store at its start.
const STARTUP_WAIT: Duration = Duration::from_secs(10);
/// How long a caller waits for a holder that has not yet said who it is (it has just taken
/// the lock), or for a ledger write's momentary look at the lock.
const UNKNOWN_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    pub operation: String,
    pub operator: String,
    pub pid: u32,
    pub host: String,
    pub since: DateTime<Utc>,
}

impl LockInfo {
    pub(crate) fn now(operation: &str, operator: &str) -> LockInfo {
        LockInfo {
            operation: operation.into(),
            operator: operator.into(),
            pid: std::process::id(),
            host: hostname(),
            since: Utc::now(),
        }
    }

    /// This process holds it.
    pub fn is_mine(&self) -> bool {
        self.pid == std::process::id() && self.host == hostname()
    }

    /// "restore by rahim since 14:02 (pid 4242 on server1)".
    pub fn describe(&self) -> String {
        let local = self.since.with_timezone(&Local);
        let when = if local.date_naive() == Local::now().date_naive() {
            local.format("%H:%M").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M").to_string()
        };
        format!(
            "{} by {} since {when} (pid {} on {}); try again when it has finished",
            self.operation, self.operator, self.pid, self.host
        )
    }
}

/// The held lock (SQLite: the `flock`ed file; PostgreSQL: the advisory lock's own
/// connection; see `db::dialect`). Dropping it lets go too, less tidily than `release`.
pub struct BackupLock(dialect::HeldLock);

impl std::fmt::Debug for BackupLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Take the lock, or `Busy` naming who holds it, at once. Only a holder that is tidying the
/// store at the start of a command (or has not yet said who it is) is waited for, briefly.
pub async fn acquire(store: &Store, operation: &str, operator: &str) -> Result<BackupLock> {
    let start = Instant::now();
    loop {
        if let Some(l) = try_acquire(store, operation, operator).await? {
            return Ok(l);
        }
        let who = holder(store).await;
        let wait = match &who {
            Some(i) if i.operation == STARTUP => STARTUP_WAIT,
            Some(_) => Duration::ZERO,
            None => UNKNOWN_WAIT,
        };
        if start.elapsed() >= wait {
            return Err(busy(who));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn busy(who: Option<LockInfo>) -> Error {
    Error::Busy(who.map_or_else(
        || "another backup, restore or prune is running on this database".to_string(),
        |i| i.describe(),
    ))
}

/// Take the lock if it is free.
pub async fn try_acquire(
    store: &Store,
    operation: &str,
    operator: &str,
) -> Result<Option<BackupLock>> {
    let info = LockInfo::now(operation, operator);
    Ok(dialect::try_lock(store, &info).await?.map(BackupLock))
}

/// Who holds the lock, as far as they said.
pub async fn holder(store: &Store) -> Option<LockInfo> {
    dialect::lock_holder(store).await
}

/// A restore run by another process holds the lock right now (who, since when). Ledger
/// writes ask this before they begin; a held lock is told apart from a stale holder note
/// (SQLite: the `flock` itself; PostgreSQL: the advisory lock in `pg_locks`).
pub async fn restore_in_progress(store: &Store) -> Result<Option<LockInfo>> {
    let info = dialect::held_lock_holder(store).await?;
    Ok(info.filter(|i| i.operation == RESTORE && !i.is_mine()))
}

/// Refuse a ledger write while another process restores the database: the write would
/// otherwise wait behind the restore and land on rows that the restore replaced.
pub async fn refuse_during_restore(store: &Store) -> Result<()> {
    match restore_in_progress(store).await? {
        Some(i) => Err(Error::Busy(format!(
            "a restore is in progress ({}); nothing was written",
            i.describe()
        ))),
        None => Ok(()),
    }
}

impl BackupLock {
    /// Let go (dropping the lock does the same, less tidily).
    pub async fn release(self) {
        dialect::unlock(self.0).await
    }
}

/// The OS login, for lock holders and the `scp` line.
pub(crate) fn real_login() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid{}", uid.as_raw()))
}

pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}
