//! `offsite_copies`: the catalogue's record of where each backup's off-site copies are. One
//! row per backup and target; a copier claims a row before it copies (so two processes never
//! upload the same copy), and a copy counts only once it was read back and matched.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::Store;
use crate::error::Result;
use crate::on_store;

pub const PENDING: &str = "pending";
pub const COPYING: &str = "copying";
pub const VERIFIED: &str = "verified";
pub const FAILED: &str = "failed";
pub const DELETED: &str = "deleted";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OffsiteCopy {
    pub backup_id: String,
    pub target: String,
    pub object_key: String,
    pub status: String,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub attempts: i64,
    pub error: Option<String>,
    pub next_try_at: Option<DateTime<Utc>>,
    pub runner: Option<String>,
    pub beat_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl OffsiteCopy {
    pub fn is_verified(&self) -> bool {
        self.status == VERIFIED
    }
}

const COLS: &str = "backup_id, target, object_key, status, size_bytes, sha256, attempts, error, \
    next_try_at, runner, beat_at, verified_at, updated_at";

/// Every row, for every backup and target.
pub async fn all(store: &Store) -> Result<Vec<OffsiteCopy>> {
    let sql = format!("SELECT {COLS} FROM offsite_copies ORDER BY backup_id, target");
    Ok(on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .fetch_all(p)
    .await?))
}

/// The rows of one backup.
pub async fn of_backup(store: &Store, backup_id: &str) -> Result<Vec<OffsiteCopy>> {
    let sql = format!("SELECT {COLS} FROM offsite_copies WHERE backup_id = $1 ORDER BY target");
    Ok(on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(backup_id)
    .fetch_all(p)
    .await?))
}

pub async fn get(store: &Store, backup_id: &str, target: &str) -> Result<Option<OffsiteCopy>> {
    let sql = format!("SELECT {COLS} FROM offsite_copies WHERE backup_id = $1 AND target = $2");
    Ok(on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(backup_id)
    .bind(target)
    .fetch_optional(p)
    .await?))
}

/// A copy is owed: `pending` (a row that exists already is left as it is).
pub async fn queue(
    store: &Store,
    backup_id: &str,
    target: &str,
    object_key: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query(
        "INSERT INTO offsite_copies (backup_id, target, object_key, status, attempts, next_try_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (backup_id, target) DO NOTHING"
    )
    .bind(backup_id)
    .bind(target)
    .bind(object_key)
    .bind(now)
    .execute(p)
    .await?
    .rows_affected()
    });
    Ok(())
}

/// Claim a copy for `runner`: it is pending or failed and due (`force` ignores the backoff),
/// or its copier stopped beating before `stale_before`. True when this caller won it.
pub async fn claim(
    store: &Store,
    backup_id: &str,
    target: &str,
    runner: &str,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
    force: bool,
) -> Result<bool> {
    let n = on_store!(store, |p| {
        sqlx::query(
        "UPDATE offsite_copies SET status = 'copying', runner = $1, beat_at = $2, updated_at = $2, \
         attempts = attempts + 1 \
         WHERE backup_id = $3 AND target = $4 AND ( \
           (status IN ('pending', 'failed') AND ($5 OR next_try_at IS NULL OR next_try_at <= $2)) \
           OR (status = 'copying' AND (beat_at IS NULL OR beat_at < $6)))"
    )
    .bind(runner)
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .bind(force)
    .bind(stale_before)
    .execute(p)
    .await?
    .rows_affected()
    });
    Ok(n == 1)
}

/// The copier is alive.
pub async fn beat(store: &Store, backup_id: &str, target: &str, now: DateTime<Utc>) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query(
        "UPDATE offsite_copies SET beat_at = $1 WHERE backup_id = $2 AND target = $3 AND status = 'copying'"
    )
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .execute(p)
    .await?
    .rows_affected()
    });
    Ok(())
}

/// The copy was read back and matched the archive.
pub async fn verified(
    store: &Store,
    backup_id: &str,
    target: &str,
    size: u64,
    sha256: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query(
        "UPDATE offsite_copies SET status = 'verified', size_bytes = $1, sha256 = $2, error = NULL, \
         next_try_at = NULL, runner = NULL, verified_at = $3, updated_at = $3 \
         WHERE backup_id = $4 AND target = $5"
    )
    .bind(size as i64)
    .bind(sha256)
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .execute(p)
    .await?
    .rows_affected()
    });
    announce(store).await;
    Ok(())
}

/// The copy failed; it is tried again from `next_try_at`.
pub async fn failed(
    store: &Store,
    backup_id: &str,
    target: &str,
    error: &str,
    next_try_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE offsite_copies SET status = 'failed', error = $1, next_try_at = $2, runner = NULL, \
         updated_at = $3 WHERE backup_id = $4 AND target = $5"
    )
    .bind(error)
    .bind(next_try_at)
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .execute(p)
    .await?
    .rows_affected());
    announce(store).await;
    Ok(())
}

/// The copy was removed from the target (prune, delete).
pub async fn deleted(
    store: &Store,
    backup_id: &str,
    target: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE offsite_copies SET status = 'deleted', runner = NULL, updated_at = $1 \
         WHERE backup_id = $2 AND target = $3"
    )
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .execute(p)
    .await?
    .rows_affected());
    announce(store).await;
    Ok(())
}

/// A verified copy found on the target (a catalogue rebuilt from the bucket, a pull).
pub async fn record_found(
    store: &Store,
    backup_id: &str,
    target: &str,
    object_key: &str,
    size: u64,
    sha256: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    on_store!(store, |p| {
        sqlx::query(
        "INSERT INTO offsite_copies (backup_id, target, object_key, status, size_bytes, sha256, attempts, \
         verified_at, updated_at) VALUES ($1, $2, $3, 'verified', $4, $5, 0, $6, $6) \
         ON CONFLICT (backup_id, target) DO UPDATE SET status = 'verified', object_key = excluded.object_key, \
         size_bytes = excluded.size_bytes, sha256 = excluded.sha256, error = NULL, next_try_at = NULL, \
         verified_at = excluded.verified_at, updated_at = excluded.updated_at"
    )
    .bind(backup_id)
    .bind(target)
    .bind(object_key)
    .bind(size as i64)
    .bind(sha256)
    .bind(now)
    .execute(p)
    .await?
    .rows_affected()
    });
    Ok(())
}

/// Copies owed now: pending or failed and due, or claimed by a copier that stopped beating.
pub async fn due(
    store: &Store,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<OffsiteCopy>> {
    let sql = format!(
        "SELECT {COLS} FROM offsite_copies WHERE \
         (status IN ('pending', 'failed') AND (next_try_at IS NULL OR next_try_at <= $1)) \
         OR (status = 'copying' AND (beat_at IS NULL OR beat_at < $2)) ORDER BY updated_at"
    );
    Ok(on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(now)
    .bind(stale_before)
    .fetch_all(p)
    .await?))
}

/// The earliest time a failed copy is due again (the copier sleeps until then).
pub async fn next_due(store: &Store) -> Result<Option<DateTime<Utc>>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<
        _,
        Option<DateTime<Utc>>,
    >(
        "SELECT MIN(next_try_at) FROM offsite_copies WHERE status IN ('pending', 'failed')"
    )
    .fetch_one(p)
    .await?))
}

/// The newest backup with a verified copy on any target: (its creation time, backup id,
/// target).
pub async fn newest_verified(store: &Store) -> Result<Option<(DateTime<Utc>, String, String)>> {
    Ok(on_store!(store, |p| {
        sqlx::query_as::<_, (DateTime<Utc>, String, String)>(
        "SELECT b.created_at, b.id, c.target FROM offsite_copies c JOIN backups b ON b.id = c.backup_id \
         WHERE c.status = 'verified' ORDER BY b.created_at DESC LIMIT 1"
    )
    .fetch_optional(p)
    .await?
    }))
}

async fn announce(store: &Store) {
    crate::db::changes::announce(store, "", "backup.offsite", "offsite_copies").await;
}

/// How long until a failed copy is tried again: 30 s, doubling per attempt, at most 1 h.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let n = attempts.clamp(1, 8) as u32 - 1;
    chrono::Duration::seconds((30i64 << n).min(3600))
}
