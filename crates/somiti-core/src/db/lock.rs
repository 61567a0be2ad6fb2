//! One backup, restore or prune at a time per database, across processes and machines.
//! SQLite: an exclusive `flock` on `<db>.backup-lock` beside the database file, holding who
//! has it. PostgreSQL: `pg_try_advisory_lock` on a connection of its own, kept for the
//! duration, plus a `backup_lock` row saying who. A process that dies lets go of both.
//!
//! The lock is taken before anything else an operation does (before it reads a table that a
//! running restore may hold) and held until its transaction has committed or rolled back,
//! so a second caller is told "busy" at once instead of waiting behind the first. Ledger
//! writes ask [`restore_in_progress`] before they begin, and are refused while another
//! process restores.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Connection;

use super::Store;
use crate::error::{Error, Result};

/// What `catalogue::startup` calls its short hold of the lock.
pub const STARTUP: &str = "startup";

/// The operation name of a restore (ledger writes are refused while one runs).
pub const RESTORE: &str = "restore";

/// The advisory lock key: "somiti" in ASCII.
const PG_KEY: i64 = 0x736f_6d69_7469;

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
    fn now(operation: &str, operator: &str) -> LockInfo {
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

pub enum BackupLock {
    File(File),
    Postgres(sqlx::PgConnection),
    /// In-memory databases (drills) need no lock.
    None,
}

impl std::fmt::Debug for BackupLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackupLock::File(_) => "BackupLock::File",
            BackupLock::Postgres(_) => "BackupLock::Postgres",
            BackupLock::None => "BackupLock::None",
        })
    }
}

fn lock_path(store: &Store) -> Option<PathBuf> {
    let p = store.sqlite_path()?;
    let s = p.to_string_lossy();
    if s.is_empty() || s.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{}.backup-lock", p.display())))
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
    match store {
        Store::Sqlite(..) => {
            let Some(path) = lock_path(store) else {
                return Ok(Some(BackupLock::None));
            };
            let mut f = open_lock_file(&path)?;
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e));
                }
            }
            let text = serde_json::to_string(&info).unwrap_or_default();
            let _ = f
                .set_len(0)
                .and_then(|_| f.seek(SeekFrom::Start(0)))
                .and_then(|_| f.write_all(text.as_bytes()))
                .and_then(|_| f.flush());
            Ok(Some(BackupLock::File(f)))
        }
        Store::Postgres(pool, _) => {
            let mut conn = pool.acquire().await?.detach();
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(PG_KEY)
                .fetch_one(&mut conn)
                .await?;
            if !got {
                let _ = conn.close().await;
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO backup_lock (id, operation, operator, pid, host, since) \
                 VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
                 operation = EXCLUDED.operation, operator = EXCLUDED.operator, pid = EXCLUDED.pid, \
                 host = EXCLUDED.host, since = EXCLUDED.since",
            )
            .bind(&info.operation)
            .bind(&info.operator)
            .bind(i64::from(info.pid))
            .bind(&info.host)
            .bind(info.since)
            .execute(&mut conn)
            .await?;
            Ok(Some(BackupLock::Postgres(conn)))
        }
    }
}

fn open_lock_file(path: &std::path::Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))
}

fn read_info(path: &std::path::Path) -> Option<LockInfo> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

/// Who holds the lock, as far as they said.
pub async fn holder(store: &Store) -> Option<LockInfo> {
    match store {
        Store::Sqlite(..) => read_info(&lock_path(store)?),
        Store::Postgres(pool, _) => {
            let row: (String, String, i64, String, DateTime<Utc>) = sqlx::query_as(
                "SELECT operation, operator, pid, host, since FROM backup_lock WHERE id = 1",
            )
            .fetch_optional(pool)
            .await
            .ok()??;
            Some(LockInfo {
                operation: row.0,
                operator: row.1,
                pid: row.2 as u32,
                host: row.3,
                since: row.4,
            })
        }
    }
}

/// A restore run by another process holds the lock right now (who, since when). Ledger
/// writes ask this before they begin; a held lock is told apart from a stale holder note
/// (SQLite: the `flock` itself; PostgreSQL: the advisory lock in `pg_locks`).
pub async fn restore_in_progress(store: &Store) -> Result<Option<LockInfo>> {
    let info = match store {
        Store::Sqlite(..) => {
            let Some(path) = lock_path(store) else {
                return Ok(None);
            };
            if !path.exists() {
                return Ok(None);
            }
            let f = open_lock_file(&path)?;
            // A shared lock never keeps out another shared one; only a holder's exclusive
            // lock refuses it.
            match f.try_lock_shared() {
                Ok(()) => {
                    let _ = f.unlock();
                    return Ok(None);
                }
                Err(std::fs::TryLockError::WouldBlock) => read_info(&path),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(format!("locking {}", path.display()), e));
                }
            }
        }
        Store::Postgres(pool, _) => {
            let row: Option<(String, String, i64, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT operation, operator, pid, host, since FROM backup_lock WHERE id = 1 \
                 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)",
            )
            .bind(PG_KEY >> 32)
            .bind(PG_KEY & 0xffff_ffff)
            .fetch_optional(pool)
            .await?;
            row.map(|r| LockInfo {
                operation: r.0,
                operator: r.1,
                pid: r.2 as u32,
                host: r.3,
                since: r.4,
            })
        }
    };
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
        match self {
            BackupLock::File(f) => {
                let _ = f.set_len(0);
                let _ = f.unlock();
            }
            BackupLock::Postgres(mut c) => {
                let _ = sqlx::query("DELETE FROM backup_lock WHERE id = 1")
                    .execute(&mut c)
                    .await;
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PG_KEY)
                    .execute(&mut c)
                    .await;
                let _ = c.close().await;
            }
            BackupLock::None => {}
        }
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
