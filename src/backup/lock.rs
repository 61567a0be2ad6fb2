//! One backup, restore or prune at a time per database, across processes and machines.
//! SQLite: an exclusive lock on `<db>.backup-lock` beside the database file, holding who
//! has it. PostgreSQL: `pg_try_advisory_lock` on a connection of its own, kept for the
//! duration, plus a `backup_lock` row saying who. A process that dies lets go of both.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Connection;

use crate::db::Store;
use crate::error::{Error, Result};

/// What `catalogue::startup` calls its short hold of the lock.
pub const STARTUP: &str = "startup";

/// The advisory lock key: "somiti" in ASCII.
const PG_KEY: i64 = 0x736f_6d69_7469;

#[derive(Debug, Clone, Serialize, Deserialize)]
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
            host: super::hostname(),
            since: Utc::now(),
        }
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

fn lock_path(store: &Store) -> Option<PathBuf> {
    let p = store.sqlite_path()?;
    let s = p.to_string_lossy();
    if s.is_empty() || s.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{}.backup-lock", p.display())))
}

/// Take the lock, or `Busy` naming who holds it. A holder that is only tidying the store
/// at the start of a command (or is still writing who it is) is waited for, briefly.
pub async fn acquire(store: &Store, operation: &str, operator: &str) -> Result<BackupLock> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(l) = try_acquire(store, operation, operator).await? {
            return Ok(l);
        }
        let who = holder(store).await;
        let brief = who.as_ref().is_none_or(|i| i.operation == STARTUP);
        if !brief || std::time::Instant::now() >= deadline {
            return Err(Error::Busy(who.map_or_else(
                || "another backup, restore or prune is running on this database".to_string(),
                |i| i.describe(),
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))?;
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

/// Who holds the lock, as far as they said.
pub async fn holder(store: &Store) -> Option<LockInfo> {
    match store {
        Store::Sqlite(..) => {
            let mut s = String::new();
            File::open(lock_path(store)?)
                .ok()?
                .read_to_string(&mut s)
                .ok()?;
            serde_json::from_str(&s).ok()
        }
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
