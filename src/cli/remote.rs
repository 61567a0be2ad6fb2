//! `somiti backup list --offsite NAME` and the off-site half of `backup prune`: the archives
//! a target holds as their manifests describe them, and what the prune did on each target.

use crate::access::Operator;
use crate::backup::Backups;
use crate::backup::offsite::remote::RemoteArchive;
use crate::backup::prune::PruneReport;
use crate::cli::{Ctx, table};
use crate::error::{Error, Result};
use crate::ledger::org::Clock;
use crate::text::human_bytes;

/// The archives on the target `name`, newest first, with the objects that are not usable
/// archives and why.
pub async fn list(ctx: &Ctx, b: &Backups, op: &Operator, name: &str) -> Result<()> {
    let r = b.list_offsite(op, name).await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    let (good, bad): (Vec<&RemoteArchive>, Vec<&RemoteArchive>) =
        r.archives.iter().partition(|a| a.manifest.is_some());
    if r.archives.is_empty() {
        outln!("no archives on off-site target {} ({})", r.target, r.url)?;
        return Ok(());
    }
    let utc = Clock(chrono_tz::UTC);
    let rows: Vec<Vec<String>> = good
        .iter()
        .map(|a| {
            vec![
                a.short_id().to_string(),
                a.created_at.map(|t| utc.second(t)).unwrap_or_default(),
                a.kind.clone().unwrap_or_default(),
                a.scope.clone().unwrap_or_default(),
                human_bytes(a.size),
                a.rows.map(|n| n.to_string()).unwrap_or_default(),
                if a.encrypted { "yes" } else { "no" }.into(),
                a.database.clone().unwrap_or_default(),
                a.file.clone(),
            ]
        })
        .collect();
    outln!("off-site target {} ({}):", r.target, r.url)?;
    if !rows.is_empty() {
        out!(
            "{}",
            table(
                &[
                    "ID",
                    "CREATED (UTC)",
                    "KIND",
                    "SCOPE",
                    "SIZE",
                    "ROWS",
                    "ENCRYPTED",
                    "DATABASE",
                    "FILE"
                ],
                &rows,
                &[4, 5]
            )
        )?;
    }
    for a in bad {
        outln!(
            "{} ({}, {}): {}",
            a.file,
            human_bytes(a.size),
            a.status,
            a.problem.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// What the prune did on each off-site target (after the store's table); a target that
/// failed makes the command fail with its reason, the store's prune standing.
pub fn print_prune(r: &PruneReport, clock: &Clock) -> Result<()> {
    for t in &r.offsite {
        outln!()?;
        outln!("off-site target {} ({}):", t.target, t.url)?;
        let rows: Vec<Vec<String>> = t
            .lines
            .iter()
            .map(|l| {
                vec![
                    if l.keep {
                        "keep"
                    } else if r.dry_run {
                        "would remove"
                    } else {
                        "removed"
                    }
                    .into(),
                    l.id.as_deref()
                        .map(|i| i[..8.min(i.len())].to_string())
                        .unwrap_or_else(|| "-".into()),
                    l.created_at.map(|c| clock.minute(c)).unwrap_or_default(),
                    l.kind.clone().unwrap_or_default(),
                    l.file.clone(),
                    l.reasons.join("; "),
                ]
            })
            .collect();
        if rows.is_empty() {
            outln!("no archives there")?;
        } else {
            let created = format!("CREATED ({})", clock.label().to_uppercase());
            out!(
                "{}",
                table(&["", "ID", &created, "KIND", "FILE", "WHY"], &rows, &[])
            )?;
        }
        let gone = t.lines.iter().filter(|l| !l.keep).count();
        if let Some(e) = &t.error {
            outln!("failed: {e}")?;
        } else if r.dry_run {
            outln!(
                "dry run: {gone} archive(s) would be removed from {}; nothing was changed",
                t.target
            )?;
        } else {
            outln!("{} archive(s) removed from {}", t.removed, t.target)?;
        }
    }
    prune_failures(r)
}

/// An error naming every target the prune could not finish (the store's prune stands).
pub fn prune_failures(r: &PruneReport) -> Result<()> {
    let failed: Vec<&str> = r
        .offsite
        .iter()
        .filter_map(|t| t.error.as_deref())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::Other(format!(
        "the store was pruned, but {}; run `somiti backup prune` again once the target answers",
        failed.join("; ")
    )))
}
