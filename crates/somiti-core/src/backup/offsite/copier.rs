//! The copier (README "Off-site copies"): every completed backup (manual, scheduled, pre-restore) is owed a
//! copy on every enabled `[[offsite]]` target (`queue_copies`, called where the backup is
//! catalogued). A copy is claimed in `offsite_copies` first (two processes never upload the
//! same copy), made only after the archive verifies, streamed up, read back, and counts only
//! when the size and SHA-256 read back equal the catalogue's. A failure marks the copy
//! failed with its reason, alerts, and is tried again after a backoff; it never fails the
//! local backup. `run_copier` is the background worker the scheduler runs (console and
//! daemon); the command line copies in the foreground with the same `copy_one`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::copies::{self, OffsiteCopy};
use super::target::Target;
use crate::access::{Operator, Permission, audit, require};
use crate::alert::{self, Occurrence};
use crate::backup::catalogue::{self, BackupEntry};
use crate::backup::{Backups, no_progress};
use crate::config::OffsiteConfig;
use crate::error::{Error, Result};
use crate::on_store;
use crate::scheduler::clock::{Clock, SharedClock};

/// How often a copier says it is still uploading.
pub const BEAT: Duration = Duration::from_secs(20);

/// A `copying` row whose copier has not beaten for this long is taken over by another.
pub fn stale_after() -> chrono::Duration {
    chrono::Duration::minutes(3)
}

/// The worker looks at the catalogue at least this often, so copies queued by another
/// process (which cannot wake it) start within a minute, and stale claims are reclaimed.
pub fn idle_check() -> chrono::Duration {
    chrono::Duration::seconds(30)
}

/// A refusal that no retry can change (a plaintext archive for a target that demands
/// encryption, a backup that is gone) is not tried again by the worker: it stays failed,
/// visible, until `backup push` is asked after the cause was fixed.
fn never_again() -> chrono::Duration {
    chrono::Duration::days(36500)
}

/// The process-wide wake-up: a backup catalogued in this process wakes the copier running
/// in it at once.
pub fn waker() -> Arc<Notify> {
    static WAKE: LazyLock<Arc<Notify>> = LazyLock::new(|| Arc::new(Notify::new()));
    WAKE.clone()
}

/// The enabled targets of the config.
fn enabled(b: &Backups) -> impl Iterator<Item = &OffsiteConfig> {
    b.offsite.iter().filter(|c| c.enabled)
}

/// The object key of `file` on a target, from its URL alone (nothing is opened, so queueing
/// never fails for a target's credentials): the prefix of `s3://bucket/prefix`, then the
/// file name.
pub fn object_key(cfg: &OffsiteConfig, file: &str) -> String {
    let prefix = cfg
        .url
        .trim()
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, p)| p.trim_matches('/'))
        .unwrap_or("");
    if prefix.is_empty() {
        file.to_string()
    } else {
        format!("{prefix}/{file}")
    }
}

/// A completed backup is owed a copy on every enabled target: one `pending` row each (a
/// row that exists is left as it is), then the copier of this process is woken. Returns
/// how many targets the backup is owed to.
pub async fn queue_copies(b: &Backups, e: &BackupEntry, now: DateTime<Utc>) -> Result<usize> {
    if !e.status.is_completed() {
        return Ok(0);
    }
    let mut n = 0;
    for cfg in enabled(b) {
        copies::queue(&b.store, &e.id, &cfg.name, &object_key(cfg, &e.file), now).await?;
        n += 1;
    }
    if n > 0 {
        waker().notify_waiters();
    }
    Ok(n)
}

/// The hooks' form: queueing never fails a backup; a failure is logged (the copy is owed
/// again by `backup push`).
pub async fn queue_after_backup(b: &Backups, e: &BackupEntry) {
    if let Err(err) = queue_copies(b, e, Utc::now()).await {
        tracing::warn!(backup = %e.id, "queueing the off-site copies: {err}");
    }
}

/// A failed or verified copy is made owed again (a push asked for it explicitly).
async fn requeue(b: &Backups, backup_id: &str, target: &str, now: DateTime<Utc>) -> Result<()> {
    on_store!(&b.store, |p| sqlx::query(
        "UPDATE offsite_copies SET status = 'pending', next_try_at = $1, updated_at = $1 \
         WHERE backup_id = $2 AND target = $3 AND status IN ('verified', 'deleted')"
    )
    .bind(now)
    .bind(backup_id)
    .bind(target)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

/// Why a copy was not made, and whether trying again can help.
struct Failure {
    reason: String,
    permanent: bool,
    outcome: audit::Outcome,
}

impl Failure {
    fn retry(reason: String) -> Failure {
        Failure {
            reason,
            permanent: false,
            outcome: audit::Outcome::Failed,
        }
    }

    fn refused(reason: String) -> Failure {
        Failure {
            reason,
            permanent: true,
            outcome: audit::Outcome::Refused,
        }
    }
}

/// Copy one backup to one target, now: claim the row (a row claimed by another live copier
/// is returned as it is: that process is copying it), refuse a plaintext archive for a
/// target with `require_encrypted`, verify the archive unless the catalogue already has it
/// verified ok, stream it up (beating), read it back and compare size and SHA-256 with the
/// catalogue. The row after the attempt is returned: `verified`, or `failed` with the reason
/// (retried from `next_try_at`), or `copying` by someone else. `force` ignores the backoff.
/// An `Err` is only for what is not a copy at all (no such backup or target) or a database
/// that cannot be written.
pub async fn copy_one(
    b: &Backups,
    op: &Operator,
    backup_id: &str,
    target_name: &str,
    runner: &str,
    force: bool,
    clock: &dyn Clock,
) -> Result<OffsiteCopy> {
    let store = &b.store;
    let cfg = b
        .offsite
        .iter()
        .find(|c| c.name == target_name)
        .cloned()
        .ok_or_else(|| no_such_target(b, target_name))?;
    let entry = catalogue::get(store, backup_id).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "no backup {backup_id:?} in the catalogue; `somiti backup list` shows the ids"
        ))
    })?;
    let now = clock.now();
    if copies::get(store, backup_id, target_name).await?.is_none() {
        copies::queue(
            store,
            backup_id,
            target_name,
            &object_key(&cfg, &entry.file),
            now,
        )
        .await?;
    }
    if force {
        requeue(b, backup_id, target_name, now).await?;
    }
    let won = copies::claim(
        store,
        backup_id,
        target_name,
        runner,
        now,
        now - stale_after(),
        force,
    )
    .await?;
    if !won {
        return current(b, backup_id, target_name).await;
    }
    let r = attempt(b, &entry, &cfg, clock).await;
    let now = clock.now();
    let o = Occurrence {
        key: format!("offsite:{target_name}"),
        job: None,
        backup_id: Some(entry.id.clone()),
        message: String::new(),
    };
    match r {
        Ok((bytes, sha)) => {
            copies::verified(store, backup_id, target_name, bytes, &sha, now).await?;
            let _ = audit::record(
                store,
                &op.username,
                "backup.offsite",
                backup_id,
                serde_json::json!({ "target": target_name, "bytes": bytes, "sha256": sha }),
                audit::Outcome::Ok,
            )
            .await;
            alert::clear(
                store,
                &b.alerts,
                &Occurrence {
                    message: format!(
                        "backup {} was copied to off-site target {target_name} and read back",
                        entry.short_id()
                    ),
                    ..o
                },
                now,
            )
            .await;
        }
        Err(f) => {
            let row = copies::get(store, backup_id, target_name).await?;
            let attempts = row.map(|r| r.attempts).unwrap_or(1);
            let next = if f.permanent {
                now + never_again()
            } else {
                now + copies::backoff(attempts)
            };
            copies::failed(store, backup_id, target_name, &f.reason, next, now).await?;
            let _ = audit::record(
                store,
                &op.username,
                "backup.offsite",
                backup_id,
                serde_json::json!({ "target": target_name, "error": f.reason }),
                f.outcome,
            )
            .await;
            alert::fire(
                store,
                &b.alerts,
                &Occurrence {
                    message: format!(
                        "the off-site copy of backup {} to {target_name} failed: {}",
                        entry.short_id(),
                        f.reason
                    ),
                    ..o
                },
                now,
            )
            .await;
        }
    }
    current(b, backup_id, target_name).await
}

/// The error for a target name the config does not have (it lists the names there are).
fn no_such_target(b: &Backups, name: &str) -> Error {
    super::target::target_named(&b.offsite, name)
        .err()
        .unwrap_or_else(|| Error::NotFound(format!("off-site target {name:?}")))
}

async fn current(b: &Backups, backup_id: &str, target: &str) -> Result<OffsiteCopy> {
    copies::get(&b.store, backup_id, target)
        .await?
        .ok_or_else(|| Error::NotFound(format!("the off-site copy of {backup_id} to {target}")))
}

/// The copy itself, with the row claimed: (bytes, SHA-256) as read back, or why not.
async fn attempt(
    b: &Backups,
    e: &BackupEntry,
    cfg: &OffsiteConfig,
    clock: &dyn Clock,
) -> std::result::Result<(u64, String), Failure> {
    let label = format!("off-site target {} ({})", cfg.name, cfg.url.trim());
    if !e.status.is_completed() {
        return Err(Failure::refused(format!(
            "backup {} is {}, not completed: there is nothing to copy",
            e.short_id(),
            e.status
        )));
    }
    if cfg.require_encrypted && !e.encrypted {
        return Err(Failure::refused(format!(
            "{label} requires encrypted archives (require_encrypted = true) and backup {} is not encrypted; \
             set backup.encrypt = true (with a passphrase) so backups are encrypted",
            e.short_id()
        )));
    }
    let (Some(want_size), Some(want_sha)) = (e.size_bytes, e.sha256.clone()) else {
        return Err(Failure::refused(format!(
            "backup {} has no size or SHA-256 in the catalogue to check a copy against",
            e.short_id()
        )));
    };
    if !e.verified_ok() {
        let v = b
            .verify(
                &Operator::system(),
                &e.id,
                false,
                &no_progress(),
                &CancellationToken::new(),
            )
            .await;
        match v {
            Ok(_) => {}
            Err(Error::VerifyFailed(m)) => {
                return Err(Failure::refused(format!(
                    "backup {} did not verify, so it was not copied: {m}",
                    e.short_id()
                )));
            }
            Err(err) => {
                return Err(Failure::retry(format!(
                    "backup {} could not be verified before the copy: {err}",
                    e.short_id()
                )));
            }
        }
    }
    let target = Target::open(cfg).map_err(|err| Failure::retry(err.to_string()))?;
    let local = b.path_of(&e.file);
    let quiet = |_: u64| {};
    let upload = target.upload(&local, &e.file, &quiet);
    tokio::pin!(upload);
    let mut next_beat = clock.now() + chrono::Duration::from_std(BEAT).unwrap_or_default();
    let sent = loop {
        tokio::select! {
            r = &mut upload => break r,
            _ = clock.sleep_until(next_beat) => {
                let now = clock.now();
                if now >= next_beat {
                    let _ = copies::beat(&b.store, &e.id, &cfg.name, now).await;
                    next_beat = now + chrono::Duration::from_std(BEAT).unwrap_or_default();
                }
            }
        }
    };
    sent.map_err(|err| Failure::retry(err.to_string()))?;
    let (size, sha) = target
        .read_back(&e.file)
        .await
        .map_err(|err| Failure::retry(err.to_string()))?;
    if size as i64 != want_size || sha != want_sha {
        return Err(Failure::retry(format!(
            "{label}: the copy of {} read back as {size} bytes with SHA-256 {}…, but the catalogue has {want_size} bytes with SHA-256 {}…; it is copied again",
            e.file,
            &sha[..16.min(sha.len())],
            &want_sha[..16.min(want_sha.len())]
        )));
    }
    Ok((size, sha))
}

/// The copies of one backup to the chosen target (or every enabled one), now, ignoring
/// the backoff: `backup push`. Needs `CreateBackup` (in the backup's organization).
pub async fn push(
    b: &Backups,
    op: &Operator,
    what: &str,
    to: Option<&str>,
    clock: &dyn Clock,
) -> Result<Vec<OffsiteCopy>> {
    let e = catalogue::find(&b.store, what).await;
    let e = audit::record_if_failed(&b.store, &op.username, "backup.offsite", what, e).await?;
    let org = match e.scope.as_str() {
        "all" => None,
        code => crate::backup::org_id_of(&b.store, code).await?,
    };
    require(
        &b.store,
        op,
        Permission::CreateBackup,
        org,
        "backup.offsite",
        &e.id,
    )
    .await?;
    let names: Vec<String> = match to {
        Some(n) if b.offsite.iter().any(|c| c.name == n) => vec![n.to_string()],
        Some(n) => return Err(no_such_target(b, n)),
        None => enabled(b).map(|c| c.name.clone()).collect(),
    };
    if names.is_empty() {
        return Err(Error::Config(
            "the config has no enabled [[offsite]] targets to copy to; add one (see config/example.toml)"
                .into(),
        ));
    }
    let runner = crate::scheduler::runner_id().0;
    let mut out = Vec::new();
    for n in names {
        out.push(copy_one(b, op, &e.id, &n, &runner, true, clock).await?);
    }
    Ok(out)
}

/// The copies owed after a backup, made now in the foreground (`backup create`): one row
/// per enabled target, not forced (a copier elsewhere that already has one is left to it).
pub async fn copy_now(
    b: &Backups,
    op: &Operator,
    e: &BackupEntry,
    clock: &dyn Clock,
) -> Result<Vec<OffsiteCopy>> {
    let runner = crate::scheduler::runner_id().0;
    let names: Vec<String> = enabled(b).map(|c| c.name.clone()).collect();
    let mut out = Vec::new();
    for n in names {
        out.push(copy_one(b, op, &e.id, &n, &runner, false, clock).await?);
    }
    Ok(out)
}

/// `s3://…` or `file://…` of a configured target (for messages), or "".
pub fn target_url(b: &Backups, name: &str) -> String {
    b.offsite
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.url.trim().to_string())
        .unwrap_or_default()
}

/// What `backup pull` fetched.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    pub backup_id: String,
    pub file: String,
    pub path: PathBuf,
    pub target: String,
    pub url: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Fetch a backup's copy from a target back into the local store (when the local file was
/// lost): from `from`, else the target with a verified copy (else any enabled target that
/// has the object). The download's SHA-256 must equal the catalogue's before the file is put
/// in place; the entry is then completed again (file present). Needs `CreateBackup`.
pub async fn pull(b: &Backups, op: &Operator, what: &str, from: Option<&str>) -> Result<Pulled> {
    let r = pull_checked(b, op, what, from).await;
    let r = audit::record_if_failed(&b.store, &op.username, "backup.pull", what, r).await?;
    audit::record(
        &b.store,
        &op.username,
        "backup.pull",
        &r.backup_id,
        serde_json::json!({ "target": r.target, "file": r.file, "bytes": r.bytes, "sha256": r.sha256 }),
        audit::Outcome::Ok,
    )
    .await?;
    Ok(r)
}

async fn pull_checked(
    b: &Backups,
    op: &Operator,
    what: &str,
    from: Option<&str>,
) -> Result<Pulled> {
    let what = what.trim();
    let hits: Vec<BackupEntry> = if what.len() >= 4 {
        catalogue::all(&b.store)
            .await?
            .into_iter()
            .filter(|e| e.id.starts_with(what))
            .collect()
    } else {
        Vec::new()
    };
    let e = match hits.len() {
        1 => hits.into_iter().next().expect("one"),
        0 => {
            return Err(Error::NotFound(format!(
                "no backup {what:?} in the catalogue; `somiti backup list` shows the ids"
            )));
        }
        n => {
            return Err(Error::invalid(
                "backup",
                format!("{what:?} matches {n} backups; give more of the id"),
            ));
        }
    };
    let org = match e.scope.as_str() {
        "all" => None,
        code => crate::backup::org_id_of(&b.store, code).await?,
    };
    require(
        &b.store,
        op,
        Permission::CreateBackup,
        org,
        "backup.pull",
        &e.id,
    )
    .await?;
    let Some(want_sha) = e.sha256.clone() else {
        return Err(Error::Refused(format!(
            "backup {} has no SHA-256 in the catalogue to check a download against",
            e.short_id()
        )));
    };
    let rows = copies::of_backup(&b.store, &e.id).await?;
    let target = match from {
        Some(n) => super::target::target_named(&b.offsite, n)?,
        None => {
            let verified = rows
                .iter()
                .filter(|r| r.is_verified())
                .find_map(|r| b.offsite.iter().find(|c| c.name == r.target && c.enabled));
            match verified {
                Some(c) => Target::open(c)?,
                None => {
                    let mut found = None;
                    for c in enabled(b) {
                        let t = Target::open(c)?;
                        if t.size_of(&e.file).await?.is_some() {
                            found = Some(t);
                            break;
                        }
                    }
                    found.ok_or_else(|| {
                        Error::NotFound(format!(
                            "backup {} has no copy on any off-site target ({} is on none of them)",
                            e.short_id(),
                            e.file
                        ))
                    })?
                }
            }
        }
    };
    let dest = b.path_of(&e.file);
    if dest.is_file() {
        let (_, sha) = catalogue::hash_file(&dest)?;
        if sha == want_sha {
            return Err(Error::Refused(format!(
                "backup {} is in the store already ({}, SHA-256 matches the catalogue); nothing to pull",
                e.short_id(),
                dest.display()
            )));
        }
    }
    b.ensure_dir()?;
    let scratch = b.dir.join(".pulling");
    std::fs::create_dir_all(&scratch)
        .map_err(|err| Error::io(format!("creating {}", scratch.display()), err))?;
    let tmp = scratch.join(&e.file);
    let r = target.download(&e.file, &tmp).await;
    let (bytes, sha) = match r {
        Ok(v) => v,
        Err(err) => {
            remove_scratch(&tmp, &scratch);
            return Err(err);
        }
    };
    if sha != want_sha {
        remove_scratch(&tmp, &scratch);
        return Err(Error::VerifyFailed(format!(
            "the copy of {} on {} has SHA-256 {}…, not the catalogue's {}…; it was not put in the store",
            e.file,
            target.label(),
            &sha[..16],
            &want_sha[..16.min(want_sha.len())]
        )));
    }
    std::fs::rename(&tmp, &dest)
        .map_err(|err| Error::io(format!("moving the download to {}", dest.display()), err))?;
    remove_scratch(&tmp, &scratch);
    crate::backup::sync_dir(&b.dir)?;
    catalogue::exec(
        &b.store,
        "UPDATE backups SET status = 'completed', missing_since = NULL WHERE id = $1",
        vec![Some(e.id.clone())],
    )
    .await?;
    Ok(Pulled {
        backup_id: e.id.clone(),
        file: e.file.clone(),
        path: dest,
        target: target.name.clone(),
        url: target.url.clone(),
        bytes,
        sha256: sha,
    })
}

fn remove_scratch(tmp: &Path, scratch: &Path) {
    let _ = std::fs::remove_file(tmp);
    let _ = std::fs::remove_dir(scratch);
}

/// The background copier: copies every due row (pending, failed whose backoff is over, or
/// claimed by a copier that stopped beating), then sleeps on `clock` until the earliest
/// retry, a wake (a backup catalogued in this process), at most `idle_check()`, or
/// `shutdown`. A copy under way at shutdown is stopped and left due again at once.
pub async fn run_copier(
    b: Backups,
    clock: SharedClock,
    shutdown: CancellationToken,
    wake: Arc<Notify>,
) {
    let runner = crate::scheduler::runner_id().0;
    let op = Operator::system();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        // Listen before looking, so a wake between the look and the sleep is not lost.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = clock.now();
        let mut trouble = false;
        match copies::due(&b.store, now, now - stale_after()).await {
            Ok(rows) => {
                for row in rows {
                    if !enabled(&b).any(|c| c.name == row.target) {
                        continue;
                    }
                    tokio::select! {
                        r = copy_one(&b, &op, &row.backup_id, &row.target, &runner, false, &*clock) => {
                            match r {
                                Ok(c) if c.status == copies::FAILED => tracing::warn!(
                                    backup = %c.backup_id, target = %c.target,
                                    "off-site copy failed: {}", c.error.as_deref().unwrap_or("")
                                ),
                                Ok(c) => tracing::info!(
                                    backup = %c.backup_id, target = %c.target, "off-site copy {}", c.status
                                ),
                                Err(e) => {
                                    trouble = true;
                                    tracing::warn!(backup = %row.backup_id, target = %row.target, "off-site copy: {e}");
                                }
                            }
                        }
                        _ = shutdown.cancelled() => {
                            let now = clock.now();
                            let _ = copies::failed(
                                &b.store, &row.backup_id, &row.target,
                                "interrupted: the process stopped while copying; it is copied again",
                                now, now,
                            ).await;
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                trouble = true;
                tracing::warn!("looking for off-site copies to make: {e}");
            }
        }
        let now = clock.now();
        let cap = now + idle_check();
        let until = match copies::next_due(&b.store).await {
            Ok(Some(t)) if t > now && !trouble => t.min(cap),
            _ => cap,
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = &mut notified => break,
                _ = clock.sleep_until(until) => {
                    if clock.now() >= until {
                        break;
                    }
                }
            }
        }
    }
}
