//! Off-site copies on the command line: the foreground copy after `backup create`, `backup
//! push ID [--to NAME]` and `backup pull ID [--from NAME]`. The core copies, checks and
//! records; this face prints one line per target.

use crate::access::Operator;
use crate::backup::offsite::copier;
use crate::backup::offsite::copies::{self, OffsiteCopy};
use crate::backup::{BackupEntry, Backups};
use crate::cli::Ctx;
use crate::error::{Error, Result};
use crate::scheduler::clock::SystemClock;
use crate::text::human_bytes;

/// After a local backup: copy it to every enabled target now, one line per target. A copy
/// that fails is a warning (the backup itself succeeded; the scheduler retries the copy).
pub async fn after_create(
    ctx: &Ctx,
    b: &Backups,
    op: &Operator,
    e: &BackupEntry,
) -> Result<Vec<OffsiteCopy>> {
    let copies = match copier::copy_now(b, op, e, &SystemClock).await {
        Ok(c) => c,
        Err(err) => {
            if !ctx.json {
                crate::cli::write_err(&format!(
                    "somiti: warning: the off-site copies were not made: {err}; they are retried by the scheduler (an open console or somiti daemon) or with `somiti backup push {}`",
                    e.short_id()
                ));
            }
            return Ok(copies::of_backup(&b.store, &e.id).await.unwrap_or_default());
        }
    };
    if !ctx.json {
        for c in &copies {
            print_line(b, c, e.short_id(), false)?;
        }
    }
    Ok(copies)
}

/// `backup push ID [--to NAME]`: copy now, ignoring the backoff; exit 1 when a copy failed.
pub async fn push(ctx: &Ctx, b: &Backups, op: &Operator, id: &str, to: Option<&str>) -> Result<()> {
    let copies = copier::push(b, op, id, to, &SystemClock).await?;
    if ctx.json {
        ctx.print_json(&copies)?;
    } else {
        for c in &copies {
            print_line(b, c, &c.backup_id[..8.min(c.backup_id.len())], true)?;
        }
    }
    let failed: Vec<String> = copies
        .iter()
        .filter(|c| c.status == copies::FAILED)
        .map(|c| {
            format!(
                "the copy to {} failed: {}",
                c.target,
                c.error.as_deref().unwrap_or("no reason recorded")
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(Error::Other(failed.join("; ")));
    }
    if let Some(c) = copies.iter().find(|c| c.status == copies::COPYING) {
        return Err(Error::Busy(format!(
            "the copy of backup {} to {} is under way in another process ({}); `somiti backup list` shows when it is verified",
            &c.backup_id[..8.min(c.backup_id.len())],
            c.target,
            c.runner.as_deref().unwrap_or("?")
        )));
    }
    Ok(())
}

/// `backup pull ID [--from NAME]`: fetch a verified copy back into the local store.
pub async fn pull(
    ctx: &Ctx,
    b: &Backups,
    op: &Operator,
    id: &str,
    from: Option<&str>,
) -> Result<()> {
    let p = copier::pull(b, op, id, from).await?;
    if ctx.json {
        return ctx.print_json(&p);
    }
    outln!(
        "pulled backup {} from {} ({}): {}, {}, SHA-256 matches the catalogue",
        &p.backup_id[..8.min(p.backup_id.len())],
        p.target,
        p.url,
        p.path.display(),
        human_bytes(p.bytes)
    )?;
    Ok(())
}

/// One line per copy: "copied to bucket (s3://…): 1.2 MiB, SHA-256 matches", or a warning
/// on stderr naming the reason and how the copy is retried.
fn print_line(b: &Backups, c: &OffsiteCopy, short: &str, push: bool) -> Result<()> {
    let url = copier::target_url(b, &c.target);
    match c.status.as_str() {
        copies::VERIFIED => outln!(
            "copied to {} ({url}): {}, SHA-256 matches",
            c.target,
            human_bytes(c.size_bytes.unwrap_or(0))
        ),
        copies::COPYING => {
            crate::cli::write_err(&format!(
                "somiti: copy to {} is under way in another process; `somiti backup list` shows when it is verified",
                c.target
            ));
            Ok(())
        }
        _ if push => Ok(()),
        _ => {
            crate::cli::write_err(&format!(
                "somiti: warning: copy to {} failed: {}; it is retried by the scheduler (an open console or somiti daemon) or with `somiti backup push {short}`",
                c.target,
                c.error.as_deref().unwrap_or("no reason recorded")
            ));
            Ok(())
        }
    }
}
