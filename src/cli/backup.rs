//! `somiti backup …`: create, list, verify, restore, download, delete, pin, unpin, prune.
//! The core does the work and every check; this face shows a progress bar on a terminal
//! (nothing on a pipe), asks for the restore confirmation, and formats the results.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::backup::offsite::{self, OffsiteCopy};
use crate::backup::ops::{ListReport, copy_word};
use crate::backup::restore::RestoreReport;
use crate::backup::{
    BackupEntry, BackupKind, Backups, Confirm, CreateOptions, Progress, RestoreOptions, Scope,
    no_progress,
};
use crate::cli::{Ctx, table};
use crate::error::{Error, Result};
use crate::ledger::org::Clock;
use crate::text::human_bytes;

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Take a backup now
    Create {
        /// `all`, or one organization's code
        #[arg(long, default_value = "all")]
        scope: String,
        /// Encrypt with the passphrase (SOMITI_BACKUP_PASSPHRASE or backup.passphrase_file)
        #[arg(long)]
        encrypt: bool,
    },
    /// List the backups in the store (the catalogue is rebuilt from the archives), or with
    /// --offsite NAME the archives on that off-site target
    List(ListArgs),
    /// Check an archive: entries, hashes, rows, totals, references; --drill restores it
    /// into a scratch database too
    Verify {
        /// Backup id (or its first characters) or an archive path
        target: String,
        /// Also restore it into a scratch in-memory database and compare counts and totals
        #[arg(long)]
        drill: bool,
    },
    /// Restore everything, some tables, or one organization from a backup (admin)
    Restore {
        /// Backup id (or its first characters) or an archive path
        target: String,
        /// Only these tables, e.g. members,collections
        #[arg(long, value_delimiter = ',')]
        tables: Option<Vec<String>>,
        /// Only this organization's rows (its code); without it the scope is everything
        /// or the chosen tables, never a default organization
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Show what would change, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Restore the console operators (users) too
        #[arg(long)]
        include_users: bool,
    },
    /// Copy a backup out of the store (SHA-256 checked) and show the scp line to fetch it
    Download {
        /// Backup id (or its first characters)
        id: String,
        /// File or folder to copy it to
        dest: PathBuf,
        /// Create the destination folder if it does not exist
        #[arg(long)]
        create_dir: bool,
    },
    /// Delete a backup (admin; unpin it first if pinned)
    Delete {
        /// Backup id (or its first characters)
        id: String,
    },
    /// Keep a backup: pruning and delete leave it alone
    Pin {
        /// Backup id (or its first characters)
        id: String,
    },
    /// Let a pinned backup be pruned or deleted again
    Unpin {
        /// Backup id (or its first characters)
        id: String,
    },
    /// Apply the retention policy (backup.keep_*) to scheduled backups (admin)
    Prune {
        /// Show what would go and why each survivor stays; delete nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy a backup to the off-site targets now (read back and checked), ignoring the
    /// retry backoff
    Push {
        /// Backup id (or its first characters)
        id: String,
        /// Only this [[offsite]] target
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// Fetch a backup's off-site copy back into the local store (SHA-256 checked against
    /// the catalogue), when the local file was lost
    Pull {
        /// Backup id (or its first characters)
        id: String,
        /// From this [[offsite]] target (default: one with a verified copy)
        #[arg(long, value_name = "NAME")]
        from: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the archives on this [[offsite]] target (read from their manifests) instead
    #[arg(long, value_name = "NAME")]
    pub offsite: Option<String>,
}

pub async fn run(ctx: &Ctx, cmd: BackupCmd) -> Result<()> {
    let store = ctx.store().await?;
    let b = Backups::new(store, &ctx.settings);
    // Operations that take the backup lock claim it before anything else, even the login
    // (which reads tables a running restore holds), so a second one is told busy at once.
    let claim = match &cmd {
        BackupCmd::Create { .. } => Some("backup"),
        BackupCmd::Restore { .. } => Some(crate::backup::lock::RESTORE),
        BackupCmd::Prune { .. } => Some("prune"),
        BackupCmd::Delete { .. } => Some("delete"),
        _ => None,
    };
    if let Some(operation) = claim {
        b.claim(operation).await?;
    }
    let op = crate::backup::operator(&b.store).await?;
    match cmd {
        BackupCmd::Create { scope, encrypt } => {
            let opts = CreateOptions {
                scope: Scope::parse(&scope)?,
                kind: BackupKind::Manual,
                encrypt,
            };
            let started = Instant::now();
            let e = with_progress(ctx, "backup", |p, c| {
                let (b, op) = (&b, &op);
                async move { b.create(op, &opts, &p, &c).await }
            })
            .await?;
            if !ctx.json {
                outln!(
                    "backup {} created: {} ({}, {} rows{}) in {:.1}s",
                    e.short_id(),
                    e.file,
                    human_bytes(e.size_bytes.unwrap_or(0)),
                    e.total_rows.unwrap_or(0),
                    if e.encrypted { ", encrypted" } else { "" },
                    started.elapsed().as_secs_f64()
                )?;
            }
            let copies = super::offsite::after_create(ctx, &b, &op, &e).await?;
            if ctx.json {
                let mut v = entry_json(&e);
                v["copies"] = serde_json::to_value(&copies).unwrap_or_default();
                return ctx.print_json(&v);
            }
            Ok(())
        }
        BackupCmd::Push { id, to } => super::offsite::push(ctx, &b, &op, &id, to.as_deref()).await,
        BackupCmd::Pull { id, from } => {
            super::offsite::pull(ctx, &b, &op, &id, from.as_deref()).await
        }
        BackupCmd::List(ListArgs {
            offsite: Some(name),
        }) => crate::cli::remote::list(ctx, &b, &op, &name).await,
        BackupCmd::List(_) => {
            let r = b.list(&op).await?;
            let clock = ctx.clock(&b.store, &op).await?;
            if ctx.json {
                // The warnings as one JSON document on stderr, the list on stdout.
                let mut warnings = r.problems.clone();
                warnings.extend(r.duplicates.iter().map(|d| d.warning()));
                if !warnings.is_empty() {
                    let w = serde_json::json!({ "warnings": warnings });
                    crate::cli::write_err(&w.to_string());
                }
                let mut v: Vec<_> = r.backups.iter().map(|e| list_json(&r, e)).collect();
                v.extend(r.duplicates.iter().map(|d| {
                    serde_json::json!({
                        "id": d.id, "file": d.file, "status": "duplicate", "duplicate_of": d.of_file,
                        "size": d.size_bytes, "sha256": d.sha256, "warning": d.warning(),
                    })
                }));
                return ctx.print_json(&v);
            }
            for p in &r.problems {
                crate::cli::write_err(&format!("somiti: warning: {p}"));
            }
            for d in &r.duplicates {
                crate::cli::write_err(&format!("somiti: warning: {}", d.warning()));
            }
            if r.backups.is_empty() {
                outln!("no backups in {}", r.dir.display())?;
                return Ok(());
            }
            let mut rows: Vec<Vec<String>> =
                r.backups.iter().map(|e| list_row(e, &r, &clock)).collect();
            for d in &r.duplicates {
                rows.push(duplicate_row(d, &r));
            }
            let heads = list_heads(&r, &clock);
            let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
            out!("{}", table(&heads, &rows, &[5, 6]))?;
            for line in copy_problems(&r, &clock) {
                outln!("{line}")?;
            }
            for e in &r.backups {
                if let Some(u) = e.undoes()
                    && e.status.is_completed()
                {
                    outln!("{} {}", e.short_id(), u.describe())?;
                }
            }
            Ok(())
        }
        BackupCmd::Verify { target, drill } => {
            let r = with_progress(ctx, "verify", |p, c| async move {
                b.verify(&op, &target, drill, &p, &c).await
            })
            .await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            let rows: u64 = r.tables.iter().map(|t| t.rows).sum();
            outln!(
                "ok: {} (backup {}, {} tables, {rows} rows){}",
                r.file,
                &r.backup_id[..8.min(r.backup_id.len())],
                r.tables.len(),
                if r.drill.is_some() {
                    "; drill restore ok"
                } else {
                    ""
                }
            )?;
            Ok(())
        }
        BackupCmd::Restore {
            target,
            tables,
            org,
            dry_run,
            yes,
            include_users,
        } => {
            let mut opts = RestoreOptions {
                tables,
                org,
                dry_run,
                include_users,
                confirm: if yes { Confirm::Yes } else { Confirm::No },
            };
            // Without a terminal the core refuses (and audits) an unconfirmed restore; so
            // does `--json`, whose stderr is for one JSON document only. On a terminal the
            // dry run's comparison (and every refusal) comes first, then the question.
            if !dry_run && !yes && !ctx.json && std::io::stdin().is_terminal() {
                let mut dry = opts.clone();
                dry.dry_run = true;
                let r = with_progress(ctx, "dry run", |p, c| {
                    let (b, op, target) = (&b, &op, &target);
                    async move { b.restore(op, target, &dry, &p, &c).await }
                })
                .await?;
                print_restore(ctx, &r)?;
                if !r.refusals.is_empty() {
                    return Err(Error::Refused(format!(
                        "{}; nothing was changed",
                        r.refusals.join("; ")
                    )));
                }
                // Hold the lock again while the operator reads and types.
                b.claim(crate::backup::lock::RESTORE).await?;
                let clock = ctx.clock(&b.store, &op).await?;
                opts.confirm = ask_confirmation(&r, &clock)?;
            }
            let r = with_progress(ctx, "restore", |p, c| async move {
                b.restore(&op, &target, &opts, &p, &c).await
            })
            .await?;
            print_restore(ctx, &r)?;
            if !r.refusals.is_empty() {
                return Err(Error::Refused(format!(
                    "{}; nothing was changed",
                    r.refusals.join("; ")
                )));
            }
            Ok(())
        }
        BackupCmd::Download {
            id,
            dest,
            create_dir,
        } => {
            let r = b.download_to(&op, &id, &dest, create_dir).await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            outln!(
                "copied {} to {} ({}, SHA-256 {} checked)",
                r.file,
                r.dest.display(),
                human_bytes(r.bytes),
                &r.sha256[..16]
            )?;
            outln!("fetch it to your machine with:\n  {}", r.scp)?;
            Ok(())
        }
        BackupCmd::Delete { id } => {
            let e = b.delete(&op, &id).await?;
            if ctx.json {
                return ctx.print_json(&entry_json(&e));
            }
            outln!("deleted backup {} ({})", e.short_id(), e.file)?;
            Ok(())
        }
        BackupCmd::Pin { id } => pin(ctx, &b, &op, &id, true).await,
        BackupCmd::Unpin { id } => pin(ctx, &b, &op, &id, false).await,
        BackupCmd::Prune { dry_run } => {
            let r = b.prune(&op, dry_run).await?;
            if ctx.json {
                ctx.print_json(&r)?;
                return crate::cli::remote::prune_failures(&r);
            }
            let clock = ctx.clock(&b.store, &op).await?;
            let rows: Vec<Vec<String>> = r
                .lines
                .iter()
                .map(|l| {
                    vec![
                        if l.keep {
                            "keep"
                        } else if dry_run {
                            "would remove"
                        } else {
                            "removed"
                        }
                        .into(),
                        l.id[..8].to_string(),
                        clock.minute(l.created_at),
                        l.kind.to_string(),
                        l.reasons.join("; "),
                    ]
                })
                .collect();
            if rows.is_empty() {
                outln!("no completed backups to consider")?;
            } else {
                let created = format!("CREATED ({})", clock.label().to_uppercase());
                out!(
                    "{}",
                    table(&["", "ID", &created, "KIND", "WHY"], &rows, &[])
                )?;
            }
            let gone = r.lines.iter().filter(|l| !l.keep).count();
            if dry_run {
                outln!("dry run: {gone} backup(s) would be removed; nothing was changed")?;
            } else {
                outln!("{} backup(s) removed", r.removed)?;
            }
            crate::cli::remote::print_prune(&r, &clock)
        }
    }
}

async fn pin(
    ctx: &Ctx,
    b: &Backups,
    op: &crate::access::Operator,
    id: &str,
    on: bool,
) -> Result<()> {
    let e = b.pin(op, id, on).await?;
    if ctx.json {
        return ctx.print_json(&entry_json(&e));
    }
    outln!(
        "backup {} {}",
        e.short_id(),
        if on {
            "pinned: prune and delete leave it alone"
        } else {
            "unpinned"
        }
    )?;
    Ok(())
}

/// Ask the operator to type the organization code (or RESTORE), after the dry run's
/// comparison was shown; refuse without a terminal.
fn ask_confirmation(dry: &RestoreReport, clock: &Clock) -> Result<Confirm> {
    let plan = &dry.plan;
    eprintln!(
        "This replaces {} with backup {} taken {} ({}) ({}); {}.\n\
         A pre-restore backup is taken first, so it can be undone.",
        plan.replaces_words(),
        &plan.backup_id[..8.min(plan.backup_id.len())],
        clock.minute(plan.created_at),
        clock.label(),
        plan.file,
        plan.kept_words()
    );
    eprint!(
        "Type {} to restore (exactly, capital letters as shown): ",
        plan.confirm_word
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("reading the confirmation", e))?;
    Ok(Confirm::Typed(line.trim().to_string()))
}

fn print_restore(ctx: &Ctx, r: &RestoreReport) -> Result<()> {
    if ctx.json {
        return ctx.print_json(r);
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for t in &r.tables {
        let money = t.money();
        let first = vec![
            t.name.clone(),
            t.rows_now.to_string(),
            t.rows_backup.to_string(),
        ];
        if money.is_empty() {
            rows.push(
                [
                    first.clone(),
                    vec![String::new(), String::new(), String::new()],
                ]
                .concat(),
            );
        }
        for (i, (label, now, backup)) in money.into_iter().enumerate() {
            let lead = if i == 0 {
                first.clone()
            } else {
                vec![String::new(); 3]
            };
            rows.push(
                [
                    lead,
                    vec![
                        label.to_string(),
                        crate::ledger::money::grouped(now),
                        crate::ledger::money::grouped(backup),
                    ],
                ]
                .concat(),
            );
        }
    }
    outln!("{}", r.headline())?;
    out!(
        "{}",
        table(
            &[
                "TABLE",
                "ROWS NOW",
                "ROWS IN BACKUP",
                "CONTROL TOTAL",
                "NOW (TAKA)",
                "IN BACKUP (TAKA)"
            ],
            &rows,
            &[1, 2, 4, 5]
        )
    )?;
    if r.dry_run {
        outln!("(\"now\" is before the restore; control totals in taka, net of reversals)")?;
    } else {
        outln!("(\"now\" was before the restore; control totals in taka, net of reversals)")?;
    }
    if let (Some(pre), Some(undo)) = (&r.pre_restore, r.undo_command()) {
        outln!(
            "pre-restore backup {} ({}); undo with: {undo}",
            pre.short_id(),
            pre.file
        )?;
    }
    Ok(())
}

/// Run long work with a progress bar on a terminal (stderr), nothing on a pipe; Ctrl-C
/// cancels it cleanly.
async fn with_progress<T, F, Fut>(ctx: &Ctx, what: &str, f: F) -> Result<T>
where
    F: FnOnce(crate::backup::ProgressTx, CancellationToken) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let tx = no_progress();
    let mut rx = tx.subscribe();
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    let bar = (std::io::stderr().is_terminal() && !ctx.json).then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{prefix} {msg:24} [{bar:30}] {pos}/{len} rows {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(what.to_string());
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let work = f(tx, cancel);
    tokio::pin!(work);
    let r = loop {
        tokio::select! {
            r = &mut work => break r,
            changed = rx.changed() => {
                if changed.is_err() {
                    break (&mut work).await;
                }
                if let Some(b) = &bar {
                    let p: Progress = rx.borrow_and_update().clone();
                    b.set_length(p.total);
                    b.set_position(p.done.min(p.total));
                    b.set_message(p.stage);
                }
            }
        }
    };
    ctrl_c.abort();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    r
}

fn list_row(e: &BackupEntry, r: &ListReport, clock: &Clock) -> Vec<String> {
    let status = if e.missing_since.is_some() {
        format!("{} (file missing)", e.status)
    } else {
        e.status.to_string()
    };
    let verified = match (&e.verified_at, &e.verify_result) {
        (Some(t), Some(r)) if r.is_ok() => format!("ok {}", &clock.minute(*t)[5..]),
        (_, Some(r)) if r.is_failed() => "FAILED".into(),
        (_, Some(r)) => r.to_string().chars().take(20).collect(),
        _ => "-".into(),
    };
    let mut row = vec![
        e.short_id().to_string(),
        clock.second(e.created_at),
        e.kind.to_string(),
        e.scope.clone(),
        status,
        e.size_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
        e.total_rows
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        verified,
        if e.pinned {
            "yes".into()
        } else {
            String::new()
        },
    ];
    if !r.targets.is_empty() {
        let p = r.places(e);
        row.push(p.local.to_string());
        for (_, c) in &p.targets {
            row.push(copy_cell(*c));
        }
        row.push(if p.offsite_verified { "yes" } else { "no" }.into());
    }
    row.push(e.file.clone());
    row
}

/// The headings of `backup list`: where each copy is (LOCAL, one column per off-site
/// target, OFF-SITE) only when off-site targets are configured or copies recorded.
fn list_heads(r: &ListReport, clock: &Clock) -> Vec<String> {
    let mut h: Vec<String> = [
        "ID",
        &format!("CREATED ({})", clock.label().to_uppercase()),
        "KIND",
        "SCOPE",
        "STATUS",
        "SIZE",
        "ROWS",
        "VERIFIED",
        "PIN",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !r.targets.is_empty() {
        h.push("LOCAL".into());
        h.extend(r.targets.iter().map(|t| t.to_uppercase()));
        h.push("OFF-SITE".into());
    }
    h.push("FILE".into());
    h
}

/// A target's cell: the copy's state, a failure cut short (the reason follows the table).
fn copy_cell(c: Option<&OffsiteCopy>) -> String {
    let w = copy_word(c);
    if w.chars().count() > 32 {
        format!("{}…", w.chars().take(31).collect::<String>())
    } else {
        w
    }
}

fn duplicate_row(d: &crate::backup::catalogue::Duplicate, r: &ListReport) -> Vec<String> {
    let mut row = vec![
        d.id[..8.min(d.id.len())].to_string(),
        String::new(),
        String::new(),
        String::new(),
        format!("duplicate of {}", d.of_file),
        human_bytes(d.size_bytes),
        String::new(),
        String::new(),
        String::new(),
    ];
    if !r.targets.is_empty() {
        row.extend(std::iter::repeat_n(String::new(), r.targets.len() + 2));
    }
    row.push(d.file.clone());
    row
}

/// Under the table: each failed copy with its whole reason, attempts and next try.
fn copy_problems(r: &ListReport, clock: &Clock) -> Vec<String> {
    let mut out = Vec::new();
    for e in &r.backups {
        for c in r.copies_of(&e.id) {
            if c.status != offsite::copies::FAILED {
                continue;
            }
            let next = c
                .next_try_at
                .map(|t| format!(", next try {}", clock.minute(t)))
                .unwrap_or_default();
            out.push(format!(
                "{} {}: failed ({} attempt{}{next}): {}",
                e.short_id(),
                c.target,
                c.attempts,
                if c.attempts == 1 { "" } else { "s" },
                c.error.as_deref().unwrap_or("no reason recorded")
            ));
        }
    }
    out
}

/// The `--json` shape of one listed backup: [`entry_json`] with where it is (`local`,
/// each target's copy, `offsite_verified`).
fn list_json(r: &ListReport, e: &BackupEntry) -> serde_json::Value {
    let p = r.places(e);
    let mut v = entry_json(e);
    v["local"] = p.local.into();
    v["offsite"] = p
        .targets
        .iter()
        .map(|(t, c)| {
            serde_json::json!({
                "target": t,
                "status": c.map_or("none", |c| c.status.as_str()),
                "size_bytes": c.and_then(|c| c.size_bytes),
                "sha256": c.and_then(|c| c.sha256.clone()),
                "verified_at": c.and_then(|c| c.verified_at),
                "error": c.and_then(|c| c.error.clone()),
                "attempts": c.map_or(0, |c| c.attempts),
                "next_try_at": c.and_then(|c| c.next_try_at),
            })
        })
        .collect::<Vec<_>>()
        .into();
    v["offsite_verified"] = p.offsite_verified.into();
    v
}

/// The `--json` shape of one backup.
fn entry_json(e: &BackupEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "file": e.file,
        "kind": e.kind,
        "scope": e.scope,
        "status": e.status,
        "error": e.error,
        "created_at": e.created_at,
        "created_by": e.created_by,
        "size": e.size_bytes,
        "rows": e.total_rows,
        "sha256": e.sha256,
        "encrypted": e.encrypted,
        "verified_at": e.verified_at,
        "verify_result": e.verify_result,
        "pinned": e.pinned,
        "missing": e.missing_since.is_some(),
        "undoes": e.undoes(),
    })
}
