//! `backup restore`: verify first, take a pre-restore backup of what will be replaced, then
//! replace it in ONE transaction — foreign keys checked at its end, counts and control
//! totals compared with the archive before it commits. Everything, chosen tables, or one
//! organization's rows; users only when asked for; audit log, catalogue and scheduler
//! runs are never touched.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::archive::{ArchiveReader, file_name};
use super::catalogue::{self, BackupEntry, Target, VerifyResult};
use super::create::Written;
use super::load::{self, Loaded};
use super::replace::{count_in, load_tables, net_in, scope_org};
use super::schema::{self, TableSpec};
use super::verify::Verifying;
use super::{Backups, Manifest, ProgressTx, Scope, lock, report};
use crate::access::{Operator, Permission, audit, require};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Only these tables (default: every ledger table, and users with `include_users`).
    pub tables: Option<Vec<String>>,
    /// Only this organization's rows (by code).
    pub org: Option<String>,
    pub dry_run: bool,
    pub include_users: bool,
    pub confirm: Confirm,
}

/// How the operator confirmed a restore that changes data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Confirm {
    /// Not confirmed: refused (a dry run needs nothing).
    #[default]
    No,
    /// What the operator typed: must be the organization code, or `RESTORE` for everything.
    Typed(String),
    /// Confirmed up front (`--yes`).
    Yes,
}

/// What a restore will do, before it does it (for the confirmation prompt).
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub backup_id: String,
    pub file: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub scope: String,
    /// The organization restored, or none for everything.
    pub org: Option<String>,
    pub tables: Vec<String>,
    /// The word the operator types to confirm.
    pub confirm_word: String,
    #[serde(skip)]
    pub archive_org: Option<i64>,
    #[serde(skip)]
    pub manifest: Option<Manifest>,
}

/// One control total in the cooperative's words ("loan collected"), in poisha, net of
/// reversals.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ControlTotal {
    pub label: String,
    pub poisha: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub name: String,
    pub rows_now: u64,
    pub rows_backup: u64,
    /// The manifest's control totals: gross column sums, by column name.
    pub totals_now: BTreeMap<String, i64>,
    pub totals_backup: BTreeMap<String, i64>,
    /// The same money as a person reads it: worded, net of reversals.
    pub net_now: Vec<ControlTotal>,
    pub net_backup: Vec<ControlTotal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub plan: RestorePlan,
    pub dry_run: bool,
    pub tables: Vec<TableReport>,
    pub pre_restore: Option<BackupEntry>,
    /// Why this restore cannot be done, each in the cooperative's words (orphaned rows,
    /// another database's rows). A dry run lists them; a restore with any is refused.
    pub refusals: Vec<String>,
}

/// The worded totals of `table` from their values (in [`schema::worded_totals`] order).
pub(crate) fn worded(table: &str, values: &[i64]) -> Vec<ControlTotal> {
    schema::worded_totals(table)
        .iter()
        .zip(values)
        .map(|((label, _), v)| ControlTotal {
            label: (*label).to_string(),
            poisha: *v,
        })
        .collect()
}

impl TableReport {
    /// Each worded control total with its value now and in the backup (poisha).
    pub fn money(&self) -> Vec<(&str, i64, i64)> {
        self.net_backup
            .iter()
            .map(|b| {
                let now = self
                    .net_now
                    .iter()
                    .find(|n| n.label == b.label)
                    .map_or(0, |n| n.poisha);
                (b.label.as_str(), now, b.poisha)
            })
            .collect()
    }
}

impl RestoreReport {
    /// The first sentence of a dry run or a result, derived from the plan's scope:
    /// "dry run: restoring tables members, collections from FILE would replace …",
    /// "restored organization SONALI from FILE (backup 1a2b3c4d)".
    pub fn headline(&self) -> String {
        let p = &self.plan;
        if self.dry_run {
            format!(
                "dry run: restoring {} from {} would replace {}; nothing was changed",
                p.scope_words(),
                p.file,
                p.replaces_words()
            )
        } else {
            format!(
                "restored {} from {} (backup {}); {}",
                p.scope_words(),
                p.file,
                &p.backup_id[..8.min(p.backup_id.len())],
                p.kept_words()
            )
        }
    }

    /// The command that undoes this restore from its pre-restore backup, in the same scope.
    pub fn undo_command(&self) -> Option<String> {
        let pre = self.pre_restore.as_ref()?;
        let mut cmd = format!("somiti backup restore {}", pre.short_id());
        if let Some(c) = &self.plan.org {
            cmd.push_str(&format!(" --org {c}"));
        }
        if !self.plan.all_tables() {
            cmd.push_str(&format!(" --tables {}", self.plan.tables.join(",")));
        }
        if self.plan.tables.iter().any(|t| t == "users") {
            cmd.push_str(" --include-users");
        }
        cmd.push_str(" --yes");
        Some(cmd)
    }
}

impl RestorePlan {
    /// Every ledger table (a plain restore), not chosen ones.
    pub fn all_tables(&self) -> bool {
        schema::LEDGER_TABLES
            .iter()
            .all(|t| self.tables.iter().any(|n| n == t))
    }

    /// What the rows replaced are, for "would replace …" / "This replaces …":
    /// "the whole ledger of every organization", "tables members, collections of every
    /// organization", "organization SONALI's rows".
    pub fn replaces_words(&self) -> String {
        let tables = self.tables.join(", ");
        let users = self.tables.iter().any(|t| t == "users");
        match (&self.org, self.all_tables()) {
            (None, true) if users => "the whole ledger and the users, of every organization".into(),
            (None, true) => "the whole ledger of every organization".into(),
            (None, false) => format!("tables {tables} of every organization"),
            (Some(o), true) => format!("organization {o}'s rows"),
            (Some(o), false) => format!("organization {o}'s rows of tables {tables}"),
        }
    }

    /// What a restore leaves as it is, in words ("other tables are kept as they are").
    pub fn kept_words(&self) -> String {
        let others: Vec<&str> = schema::LEDGER_TABLES
            .iter()
            .copied()
            .filter(|t| !self.tables.iter().any(|n| n == t))
            .collect();
        match (&self.org, others.is_empty()) {
            (None, true) => "the audit log and the backup catalogue are kept".into(),
            (None, false) => format!("{} kept as they were", others.join(", ")),
            (Some(_), true) => "other organizations are kept as they were".into(),
            (Some(_), false) => format!(
                "other organizations, and {}, kept as they were",
                others.join(", ")
            ),
        }
    }

    /// What the restore replaces, in words: "everything", "tables members, collections",
    /// "organization SONALI" (with its tables when not all of them).
    pub fn scope_words(&self) -> String {
        let all_tables = self.all_tables();
        let tables = self.tables.join(", ");
        match (&self.org, all_tables) {
            (None, true) if self.tables.iter().any(|t| t == "users") => {
                "everything, users included".into()
            }
            (None, true) => "everything".into(),
            (None, false) => format!("tables {tables}"),
            (Some(o), true) => format!("organization {o}"),
            (Some(o), false) => format!("organization {o}, tables {tables}"),
        }
    }
}

impl Backups {
    /// Read the archive's manifest and work out what a restore would replace (to ask the
    /// operator before `restore`). Failures are audited as failed restores.
    pub async fn restore_plan(
        &self,
        op: &Operator,
        what: &str,
        opts: &RestoreOptions,
    ) -> Result<RestorePlan> {
        let r = async {
            catalogue::startup(self).await?;
            let target = catalogue::resolve(self, what).await?;
            let target = self.readable(target).await?;
            self.plan_for(&target, opts).await
        }
        .await;
        audit::record_if_failed(&self.store, &op.username, "backup.restore", what, r).await
    }

    async fn plan_for(&self, target: &Target, opts: &RestoreOptions) -> Result<RestorePlan> {
        let path = target.path.clone();
        let pass = self.passphrase()?;
        let schema = self.store.schema_version();
        let org_want = opts.org.as_deref().map(Scope::parse).transpose()?;
        let (m, archive_org) = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut r = ArchiveReader::open(&path, pass, schema)?;
            let m = r.manifest.clone();
            let code = match (&m.scope(), &org_want) {
                (Scope::Org(a), Some(Scope::Org(b))) if a != b => {
                    return Err(Error::invalid(
                        "org",
                        format!("this backup holds organization {a} only, not {b}"),
                    ));
                }
                (Scope::Org(a), _) => Some(a.clone()),
                (Scope::All, Some(Scope::Org(b))) => Some(b.clone()),
                (Scope::All, _) => None,
            };
            let mut id = None;
            if let Some(code) = &code {
                r.for_each_line("organizations", None, |_, line| {
                    let v = schema::parse_json_line(schema::spec("organizations").unwrap(), line)?;
                    if v[1].as_text() == Some(code.as_str()) {
                        id = v[0].as_int();
                    }
                    Ok(())
                })?;
                if id.is_none() && m.scope() == Scope::All {
                    return Err(Error::NotFound(format!(
                        "organization {code} in this backup"
                    )));
                }
            }
            Ok((m, code.map(|c| (c, id))))
        })
        .await
        .map_err(|e| Error::Other(format!("reading the archive failed: {e}")))??;
        let tables = choose_tables(&m, opts)?;
        let org = archive_org.as_ref().map(|(c, _)| c.clone());
        Ok(RestorePlan {
            backup_id: m.backup_id.clone(),
            file: file_name(&target.path),
            created_at: m.created_at,
            scope: m.scope.clone(),
            confirm_word: org.clone().unwrap_or_else(|| "RESTORE".into()),
            org,
            tables,
            archive_org: archive_org.and_then(|(_, id)| id),
            manifest: Some(m),
        })
    }

    /// Restore (or with `dry_run`, only report). Admins only. The lock comes first and is
    /// held until the restore's transaction has committed or rolled back.
    pub async fn restore(
        &self,
        op: &Operator,
        what: &str,
        opts: &RestoreOptions,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<RestoreReport> {
        let lock = self
            .take_lock(lock::RESTORE, op, "backup.restore", what)
            .await?;
        let r = self.restore_locked(op, what, opts, progress, cancel).await;
        lock.release().await;
        r
    }

    async fn restore_locked(
        &self,
        op: &Operator,
        what: &str,
        opts: &RestoreOptions,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<RestoreReport> {
        let target = async {
            self.ensure_dir()?;
            catalogue::cleanup(self).await?;
            let target = catalogue::resolve(self, what).await?;
            self.readable(target).await
        }
        .await;
        let target =
            audit::record_if_failed(&self.store, &op.username, "backup.restore", what, target)
                .await?;
        let label = super::verify::target_label(&target);
        let plan = match self.plan_for(&target, opts).await {
            Ok(p) => p,
            Err(e) => {
                return audit::record_if_failed(
                    &self.store,
                    &op.username,
                    "backup.restore",
                    &label,
                    Err(e),
                )
                .await;
            }
        };
        let db_org = match &plan.org {
            Some(code) => super::org_id_of(&self.store, code).await?,
            None => None,
        };
        // One organization: the permission is checked in it (an organization-bound admin
        // may restore their own); everything, or an organization the database does not
        // have yet, needs an admin of every organization.
        let perm_org = if plan.org.is_some() { db_org } else { None };
        require(
            &self.store,
            op,
            Permission::RestoreBackup,
            perm_org,
            "backup.restore",
            &label,
        )
        .await?;
        let r = self
            .restore_checked(op, &target, plan, db_org, opts, progress, cancel)
            .await;
        let r =
            audit::record_if_failed(&self.store, &op.username, "backup.restore", &label, r).await?;
        // Everything restored: this database is now the one the archive was taken of, so
        // that database's off-site archives are ours (listed and pruned as this database's).
        if !r.dry_run
            && r.plan.org.is_none()
            && r.plan.all_tables()
            && let Some(id) = r
                .plan
                .manifest
                .as_ref()
                .and_then(|m| m.database_id.as_ref())
        {
            crate::db::meta::set_database_id(&self.store, id).await?;
        }
        if r.dry_run {
            audit::record(
                &self.store,
                &op.username,
                "backup.restore",
                &label,
                serde_json::json!({ "dry_run": true, "tables": r.plan.tables, "org": r.plan.org }),
                audit::Outcome::Ok,
            )
            .await?;
        }
        crate::alert::after_restore(&self.store, &self.alerts, &op.username, &r).await;
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    async fn restore_checked(
        &self,
        op: &Operator,
        target: &Target,
        plan: RestorePlan,
        db_org: Option<i64>,
        opts: &RestoreOptions,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<RestoreReport> {
        let pass = self.passphrase()?;
        if !opts.dry_run {
            // The same refusals the dry run lists, before the confirmation counts. An
            // archive too damaged to read them is left to verify, whose message names the
            // damage (the references are checked again inside the restore's transaction).
            let refusals = self
                .refusals(target.path.clone(), &plan, db_org, pass.clone())
                .await
                .unwrap_or_default();
            if !refusals.is_empty() {
                return Err(Error::Refused(format!(
                    "{}; nothing was changed",
                    refusals.join("; ")
                )));
            }
            check_confirmation(&opts.confirm, &plan.confirm_word)?;
        }
        let pre_pass = if self.encrypt {
            Some(self.require_passphrase("the encrypted pre-restore backup")?)
        } else {
            None
        };
        async {
            // Verify runs beside the restore: the load stops as soon as it fails, and the
            // restore commits only after it passed, so a failing archive changes nothing.
            report(progress, "verifying", 0, 0);
            let mut verifying = Verifying::start(
                &target.path,
                pass.clone(),
                self.store.schema_version(),
                cancel,
            );
            let specs: Vec<&'static TableSpec> =
                plan.tables.iter().filter_map(|t| schema::spec(t)).collect();
            if opts.dry_run {
                let v = verifying.wait().await;
                self.record_verdict(target, &verifying).await?;
                v?;
                let tables = self
                    .dry_run(target, &plan, &specs, db_org, pass.clone(), cancel)
                    .await?;
                let refusals = self
                    .refusals(target.path.clone(), &plan, db_org, pass.clone())
                    .await?;
                return Ok(RestoreReport {
                    plan,
                    dry_run: true,
                    tables,
                    pre_restore: None,
                    refusals,
                });
            }
            let mut written: Option<Written> = None;
            let r = self
                .replace(
                    op,
                    target,
                    &plan,
                    &specs,
                    db_org,
                    pass,
                    pre_pass,
                    &mut written,
                    progress,
                    &mut verifying,
                )
                .await;
            // Stopped because verify failed: verify's reason is the one to give.
            let r = match r {
                Err(Error::Cancelled) if !cancel.is_cancelled() => match verifying.wait().await {
                    Err(e) => Err(e),
                    Ok(()) => Err(Error::Cancelled),
                },
                r => r,
            };
            self.record_verdict(target, &verifying).await?;
            // A restore that did not commit changed nothing: not even the store keeps the
            // pre-restore archive it took (it would undo a restore that never happened).
            if r.is_err()
                && let Some(w) = written.take()
            {
                let _ = std::fs::remove_file(&w.path);
                super::sync_dir(&self.dir)?;
            }
            // The pre-restore archive is complete whatever happened after it: catalogue it.
            let pre = match &written {
                Some(w) => {
                    let e = catalogue::record_written(&self.store, w).await?;
                    audit::record(
                        &self.store,
                        &op.username,
                        "backup.create",
                        &e.id,
                        serde_json::json!({ "file": e.file, "kind": "pre-restore", "scope": e.scope,
                            "undoes": w.manifest.undoes }),
                        audit::Outcome::Ok,
                    )
                    .await?;
                    super::offsite::copier::queue_after_backup(self, &e).await;
                    Some(e)
                }
                None => None,
            };
            let tables = r?;
            Ok(RestoreReport {
                plan,
                dry_run: false,
                tables,
                pre_restore: pre,
                refusals: Vec::new(),
            })
        }
        .await
    }

    /// Verify's verdict into the catalogue (for catalogued archives).
    async fn record_verdict(&self, target: &Target, v: &Verifying) -> Result<()> {
        if let Some(e) = &target.entry {
            match &v.outcome {
                Some(Ok(())) => {
                    catalogue::set_verify(&self.store, &e.id, &VerifyResult::Ok).await?
                }
                Some(Err(m)) => {
                    catalogue::set_verify(&self.store, &e.id, &VerifyResult::Failed(m.clone()))
                        .await?
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn dry_run(
        &self,
        target: &Target,
        plan: &RestorePlan,
        specs: &[&'static TableSpec],
        db_org: Option<i64>,
        pass: Option<super::Passphrase>,
        cancel: &CancellationToken,
    ) -> Result<Vec<TableReport>> {
        let path = target.path.clone();
        let schema = self.store.schema_version();
        let tables = load_tables(specs, plan);
        let c = cancel.clone();
        let from_archive: Vec<(Loaded, Vec<i64>)> =
            tokio::task::spawn_blocking(move || -> Result<_> {
                let mut r = ArchiveReader::open(&path, pass, schema)?;
                tables
                    .iter()
                    .map(|t| {
                        let mut net = vec![0i64; schema::worded_totals(t.spec.name).len()];
                        let l = load::scan_rows(&mut r, t, &c, |v| {
                            for (n, p) in net.iter_mut().zip(t.spec.net_parts(&v)) {
                                *n = n.checked_add(p).ok_or("control total overflows")?;
                            }
                            Ok(())
                        })?;
                        Ok((l, net))
                    })
                    .collect()
            })
            .await
            .map_err(|e| Error::Other(format!("reading the archive failed: {e}")))??;
        let mut tx = super::create::begin_snapshot(&self.store).await?;
        let mut out = Vec::new();
        for (spec, (b, net)) in specs.iter().zip(from_archive) {
            let (rows_now, totals_now) = count_in(&mut tx, spec, scope_org(plan, db_org)).await?;
            let net_now = net_in(&mut tx, spec, scope_org(plan, db_org)).await?;
            out.push(TableReport {
                name: spec.name.into(),
                rows_now,
                rows_backup: b.rows,
                totals_now,
                totals_backup: b.totals,
                net_now,
                net_backup: worded(spec.name, &net),
            });
        }
        let _ = tx.rollback().await;
        Ok(out)
    }
}

/// The typed word must be the plan's, exactly: `restore` is not `RESTORE`.
fn check_confirmation(confirm: &Confirm, word: &str) -> Result<()> {
    let typed = match confirm {
        Confirm::Yes => return Ok(()),
        Confirm::No => {
            return Err(Error::Refused(format!(
                "restore not confirmed: type {word} when asked on a terminal, or pass --yes (--dry-run shows what would change)"
            )));
        }
        Confirm::Typed(t) => t.trim(),
    };
    if typed == word {
        return Ok(());
    }
    let why = if typed.is_empty() {
        "nothing was typed".to_string()
    } else if typed.eq_ignore_ascii_case(word) {
        format!("{typed:?} was typed, but the word is case-sensitive")
    } else {
        format!("{typed:?} was typed")
    };
    Err(Error::Refused(format!(
        "restore not confirmed: {why}; type {word} exactly as shown (nothing was changed)"
    )))
}

/// The tables that hold the members' accounts (migration 0009).
const ACCOUNT_TABLES: [&str; 4] = [
    "loans",
    "withdrawals",
    "savings_accounts",
    "member_closures",
];

fn choose_tables(m: &Manifest, opts: &RestoreOptions) -> Result<Vec<String>> {
    let mut names: Vec<String> = match &opts.tables {
        Some(t) if !t.is_empty() => t.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        _ => {
            let mut v: Vec<String> = schema::LEDGER_TABLES
                .iter()
                .map(|s| s.to_string())
                .collect();
            if opts.include_users {
                v.push("users".into());
            }
            v
        }
    };
    // A member's accounts travel with the members and their entries: restoring either
    // without them would leave balances that no longer match (or rows without their parent).
    if names.iter().any(|n| n == "members" || n == "collections") {
        for a in ACCOUNT_TABLES {
            if m.table(a).is_some() && !names.iter().any(|n| n == a) {
                names.push(a.to_string());
            }
        }
    }
    names.sort_by_key(|n| schema::order(n));
    names.dedup();
    for n in &names {
        if schema::spec(n).is_none() {
            return Err(Error::invalid(
                "tables",
                format!(
                    "{n:?} is not restored; choose from {}, users",
                    schema::LEDGER_TABLES.join(", ")
                ),
            ));
        }
        if n == "users" && !opts.include_users {
            return Err(Error::Refused(
                "users are restored only when asked for: add --include-users".into(),
            ));
        }
        if m.table(n).is_none() {
            return Err(Error::invalid(
                "tables",
                format!("this backup (scope {}) holds no table {n}", m.scope),
            ));
        }
    }
    Ok(names)
}
