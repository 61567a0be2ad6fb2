//! `backup restore`: verify first, take a pre-restore backup of what will be replaced, then
//! replace it in ONE transaction — foreign keys checked at its end, counts and control
//! totals compared with the archive before it commits. Everything, chosen tables, or one
//! organization's rows; users only when asked for; audit log, catalogue and scheduler
//! runs are never touched.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::archive::{ArchiveReader, file_name};
use super::catalogue::{self, BackupEntry, Target};
use super::create::{Job, Written, write_archive};
use super::load::{self, LoadTable, Loaded};
use super::schema::{self, TableSpec};
use super::{BackupKind, Backups, Manifest, ProgressTx, Scope, lock, report};
use crate::access::{Operator, Permission, audit, require};
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::on_tx;

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
    archive_org: Option<i64>,
    #[serde(skip)]
    manifest: Option<Manifest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub name: String,
    pub rows_now: u64,
    pub rows_backup: u64,
    pub totals_now: BTreeMap<String, i64>,
    pub totals_backup: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub plan: RestorePlan,
    pub dry_run: bool,
    pub tables: Vec<TableReport>,
    pub pre_restore: Option<BackupEntry>,
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

    /// Restore (or with `dry_run`, only report). Admins only.
    pub async fn restore(
        &self,
        op: &Operator,
        what: &str,
        opts: &RestoreOptions,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<RestoreReport> {
        let target = async {
            catalogue::startup(self).await?;
            catalogue::resolve(self, what).await
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
        if !opts.dry_run {
            let ok = match (&opts.confirm, &plan.org) {
                (Confirm::Yes, _) => true,
                (Confirm::No, _) => false,
                (Confirm::Typed(t), Some(code)) => t.trim().eq_ignore_ascii_case(code),
                (Confirm::Typed(t), None) => t.trim() == "RESTORE",
            };
            if !ok {
                return Err(Error::Refused(format!(
                    "restore not confirmed: type {} when asked on a terminal, or pass --yes (--dry-run shows what would change)",
                    plan.confirm_word
                )));
            }
        }
        let pass = self.passphrase()?;
        let pre_pass = if self.encrypt {
            Some(self.require_passphrase("the encrypted pre-restore backup")?)
        } else {
            None
        };
        let lock = lock::acquire(&self.store, "restore", &op.username).await?;
        let r = async {
            self.ensure_dir()?;
            catalogue::cleanup(self).await?;
            // Verify first: a failing archive is refused before anything changes.
            report(progress, "verifying", 0, 0);
            let v = super::verify::verify_archive(
                &target.path,
                pass.clone(),
                self.store.schema_version(),
                false,
                progress,
                cancel,
            )
            .await;
            if let Some(e) = &target.entry {
                match &v {
                    Ok(_) => catalogue::set_verify(&self.store, &e.id, "ok").await?,
                    Err(Error::VerifyFailed(m)) => {
                        catalogue::set_verify(&self.store, &e.id, &format!("failed: {m}")).await?
                    }
                    Err(_) => {}
                }
            }
            v?;
            let specs: Vec<&'static TableSpec> =
                plan.tables.iter().filter_map(|t| schema::spec(t)).collect();
            if let (Some(code), Some(db), Some(ar)) = (&plan.org, db_org, plan.archive_org)
                && db != ar
            {
                return Err(Error::Refused(format!(
                    "organization {code} has id {db} in this database but {ar} in the backup; \
                     its rows cannot be restored on their own (restore the whole database instead)"
                )));
            }
            if opts.dry_run {
                let tables = self.dry_run(target, &plan, &specs, db_org, pass.clone(), cancel).await?;
                return Ok(RestoreReport { plan, dry_run: true, tables, pre_restore: None });
            }
            let mut written: Option<Written> = None;
            let r = self
                .replace(op, target, &plan, &specs, db_org, pass, pre_pass, &mut written, progress, cancel)
                .await;
            // The pre-restore archive is complete whatever happened after it: catalogue it.
            let pre = match &written {
                Some(w) => {
                    let e = catalogue::record_written(&self.store, w).await?;
                    audit::record(
                        &self.store,
                        &op.username,
                        "backup.create",
                        &e.id,
                        serde_json::json!({ "file": e.file, "kind": "pre-restore", "scope": e.scope }),
                        audit::Outcome::Ok,
                    )
                    .await?;
                    Some(e)
                }
                None => None,
            };
            let tables = r?;
            Ok(RestoreReport { plan, dry_run: false, tables, pre_restore: pre })
        }
        .await;
        lock.release().await;
        r
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
        let from_archive: Vec<Loaded> = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut r = ArchiveReader::open(&path, pass, schema)?;
            tables
                .iter()
                .map(|t| load::scan_rows(&mut r, t, &c, |_| Ok(())))
                .collect()
        })
        .await
        .map_err(|e| Error::Other(format!("reading the archive failed: {e}")))??;
        let mut tx = super::create::begin_snapshot(&self.store).await?;
        let mut out = Vec::new();
        for (spec, b) in specs.iter().zip(from_archive) {
            let (rows_now, totals_now) = count_in(&mut tx, spec, scope_org(plan, db_org)).await?;
            out.push(TableReport {
                name: spec.name.into(),
                rows_now,
                rows_backup: b.rows,
                totals_now,
                totals_backup: b.totals,
            });
        }
        let _ = tx.rollback().await;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn replace(
        &self,
        op: &Operator,
        target: &Target,
        plan: &RestorePlan,
        specs: &[&'static TableSpec],
        db_org: Option<i64>,
        pass: Option<super::Passphrase>,
        pre_pass: Option<super::Passphrase>,
        written: &mut Option<Written>,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<Vec<TableReport>> {
        let mut tx = self.store.begin().await?;
        let r = async {
            let whole = plan.org.is_none();
            prepare_tx(&mut tx, specs, whole).await?;
            // The pre-restore backup reads through the restore's own transaction: exactly
            // what is about to be replaced, with no writer in between.
            let scope = match &plan.org {
                Some(code) => Scope::Org(code.clone()),
                None => Scope::All,
            };
            let job = Job {
                dir: &self.dir,
                id: uuid::Uuid::new_v4().to_string(),
                created_at: super::create::now_micros(),
                kind: BackupKind::PreRestore,
                scope: scope.clone(),
                org_id: db_org,
                created_by: op.username.clone(),
                passphrase: pre_pass,
                include_csv: false,
                schema_version: self.store.schema_version(),
            };
            let file = super::create::archive_name(&self.dir, &scope, job.created_at, job.kind);
            report(progress, "pre-restore backup", 0, 0);
            *written = Some(write_archive(&mut tx, &job, &file, progress, cancel).await?);
            let before: Vec<(u64, BTreeMap<String, i64>)> = {
                let mut v = Vec::new();
                for s in specs {
                    v.push(count_in(&mut tx, s, scope_org(plan, db_org)).await?);
                }
                v
            };
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            let dropped = if whole {
                Some(super::bulk::drop_for_load(&mut tx, &names).await?)
            } else {
                None
            };
            report(progress, "deleting", 0, 0);
            for spec in specs.iter().rev() {
                delete_rows(&mut tx, spec, plan.org.is_some().then_some(db_org)).await?;
            }
            // The review's cached sums through the closed day describe the rows going away.
            crate::ledger::balance::forget_close_balances(&mut tx, None).await?;
            let total = plan
                .manifest
                .as_ref()
                .map(|m| specs.iter().filter_map(|s| m.table(s.name)).map(|t| t.rows).sum())
                .unwrap_or(0);
            let loaded = load::load(
                &mut tx,
                load::Source {
                    path: target.path.clone(),
                    passphrase: pass,
                    schema_version: self.store.schema_version(),
                },
                load_tables(specs, plan),
                total,
                progress,
                cancel,
            )
            .await?;
            // References first (a message that names the row), then the rebuilt foreign
            // keys check everything once more.
            let org_after = plan.archive_org.or(db_org);
            check_references(&mut tx, specs, plan, org_after).await?;
            report(progress, "indexing", 0, 0);
            if let Some(d) = dropped {
                super::bulk::restore_after_load(&mut tx, d).await?;
            }
            report(progress, "checking", 0, 0);
            if let Tx::Postgres(t) = &mut tx {
                for s in specs.iter().filter(|s| s.identity) {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                        s.name
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).execute(&mut **t).await?;
                }
            }
            // Whole tables: what was loaded is what verify checked against the manifest
            // (the file cannot have been swapped in between).
            if plan.org.is_none()
                && let Some(m) = &plan.manifest
            {
                for l in &loaded {
                    let same = m
                        .table(l.table)
                        .is_some_and(|t| t.rows == l.rows && t.totals == l.totals);
                    if !same {
                        return Err(Error::VerifyFailed(format!(
                            "{}: {} changed while it was being restored; nothing was changed",
                            plan.file, l.table
                        )));
                    }
                }
            }
            let mut reports = Vec::new();
            for ((spec, l), (rows_now, totals_now)) in specs.iter().zip(&loaded).zip(before) {
                let (rows, totals) = count_in(&mut tx, spec, scope_org(plan, org_after)).await?;
                if rows != l.rows || totals != l.totals {
                    return Err(Error::VerifyFailed(format!(
                        "after the restore {} holds {rows} rows {totals:?} but the backup has {} {:?}; rolled back, nothing was changed",
                        spec.name, l.rows, l.totals
                    )));
                }
                reports.push(TableReport {
                    name: spec.name.into(),
                    rows_now,
                    rows_backup: l.rows,
                    totals_now,
                    totals_backup: l.totals.clone(),
                });
            }
            if specs.iter().any(|s| s.name == "users") {
                let admins: i64 = on_tx!(&mut tx, |c| sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = $1"
                )
                .bind(true)
                .fetch_one(&mut *c)
                .await?);
                if admins == 0 {
                    return Err(Error::Refused(
                        "the restored users include no active admin; nothing was changed".into(),
                    ));
                }
            }
            audit::record_tx(
                &mut tx,
                &op.username,
                "backup.restore",
                &plan.backup_id,
                serde_json::json!({
                    "file": plan.file, "tables": plan.tables, "org": plan.org,
                    "pre_restore": written.as_ref().map(|w| w.manifest.backup_id.clone()),
                    "rows": loaded.iter().map(|l| (l.table, l.rows)).collect::<BTreeMap<_, _>>(),
                }),
            )
            .await?;
            Ok(reports)
        }
        .await;
        match r {
            Ok(v) => {
                tx.commit().await.map_err(|e| match e {
                    Error::Database(d) if d.to_string().contains("FOREIGN KEY") => Error::Refused(
                        "the restore would leave rows pointing at missing rows; nothing was changed".into(),
                    ),
                    e => e,
                })?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

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
    names.sort_by_key(|n| schema::order(n));
    names.dedup();
    for n in &names {
        if schema::spec(n).is_none() {
            return Err(Error::invalid(
                "tables",
                format!(
                    "{n:?} is not restored; choose from organizations, workers, members, collections, day_closes, users"
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

fn load_tables(specs: &[&'static TableSpec], plan: &RestorePlan) -> Vec<LoadTable> {
    specs
        .iter()
        .map(|&spec| LoadTable {
            spec,
            // An organization absent from the archive: take nothing.
            org: plan
                .org
                .as_ref()
                .map(|_| plan.archive_org.unwrap_or(i64::MIN)),
        })
        .collect()
}

/// The org filter for counting: none for everything; the id (or nothing matches) for one.
fn scope_org(plan: &RestorePlan, id: Option<i64>) -> Option<i64> {
    plan.org.as_ref().map(|_| id.unwrap_or(i64::MIN))
}

/// Row count and control totals of a table (one organization's rows with `org`).
pub(crate) async fn count_in(
    tx: &mut Tx,
    spec: &TableSpec,
    org: Option<i64>,
) -> Result<(u64, BTreeMap<String, i64>)> {
    let sql = spec.count_sql(org.is_some());
    let vals: Vec<i64> = on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(o) = org {
            q = q.bind(o);
        }
        let row = q.fetch_one(&mut *c).await?;
        let mut v = Vec::new();
        for i in 0..=spec.totals.len() {
            v.push(sqlx::Row::try_get::<i64, _>(&row, i)?);
        }
        v
    });
    let totals = spec
        .totals
        .iter()
        .zip(&vals[1..])
        .map(|(c, v)| (c.to_string(), *v))
        .collect();
    Ok((vals[0] as u64, totals))
}

/// Foreign keys are checked when the transaction ends (SQLite `defer_foreign_keys`,
/// PostgreSQL deferrable constraints). PostgreSQL also holds off other sessions until the
/// restore ends: writers of the replaced tables, and for whole tables (whose indexes and
/// foreign keys are rebuilt) readers too.
pub(crate) async fn prepare_tx(tx: &mut Tx, specs: &[&TableSpec], whole: bool) -> Result<()> {
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    let locked = super::bulk::fk_tables(tx, &names).await?;
    match tx {
        Tx::Sqlite(t) => {
            sqlx::query("PRAGMA defer_foreign_keys = ON")
                .execute(&mut **t)
                .await?;
        }
        Tx::Postgres(t) => {
            sqlx::query("SET CONSTRAINTS ALL DEFERRED")
                .execute(&mut **t)
                .await?;
            let sql = if whole {
                format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", locked.join(", "))
            } else {
                format!(
                    "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                    names.join(", ")
                )
            };
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .execute(&mut **t)
                .await?;
        }
    }
    Ok(())
}

/// Delete a table's rows in scope: all of them, or one organization's (`Some(None)`: an
/// organization this database does not have, so nothing).
async fn delete_rows(tx: &mut Tx, spec: &TableSpec, org: Option<Option<i64>>) -> Result<()> {
    let (sql, bind) = match org {
        None => (format!("DELETE FROM {}", spec.name), None),
        Some(None) => return Ok(()),
        Some(Some(id)) => (
            format!("DELETE FROM {}{}", spec.name, spec.org_where(true)),
            Some(id),
        ),
    };
    on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(id) = bind {
            q = q.bind(id);
        }
        q.execute(&mut *c).await?.rows_affected()
    });
    Ok(())
}

/// References that the restore could have broken: from untouched tables into replaced
/// ones, from replaced rows into untouched tables, and within one organization's rows.
/// (References inside a whole-table restore were checked by verify.)
async fn check_references(
    tx: &mut Tx,
    specs: &[&TableSpec],
    plan: &RestorePlan,
    org: Option<i64>,
) -> Result<()> {
    let touched = |n: &str| specs.iter().any(|s| s.name == n);
    for child in schema::TABLES.iter() {
        for (col, parent) in child.refs {
            let (c, p) = (touched(child.name), touched(parent));
            let filter = match (c, p) {
                (false, false) => continue,
                (true, true) if plan.org.is_none() => continue,
                (true, _) if plan.org.is_some() => Some(org.unwrap_or(i64::MIN)),
                _ => None,
            };
            let sql = format!(
                "SELECT c.{col} FROM {ct} c WHERE c.{col} IS NOT NULL{f} AND NOT EXISTS \
                 (SELECT 1 FROM {parent} p WHERE p.id = c.{col}) LIMIT 1",
                ct = child.name,
                f = if filter.is_some() {
                    format!(" AND c.{} = $1", child.org_col)
                } else {
                    String::new()
                },
            );
            let bad: Option<i64> = on_tx!(&mut *tx, |cn| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
                if let Some(o) = filter {
                    q = q.bind(o);
                }
                q.fetch_optional(&mut *cn).await?
            });
            if let Some(v) = bad {
                return Err(Error::Refused(format!(
                    "the restore would leave {}.{col} = {v} pointing at a missing row of {parent}; \
                     nothing was changed (restore {parent} too, or the whole organization)",
                    child.name
                )));
            }
        }
    }
    if let Tx::Postgres(t) = tx {
        sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
            .execute(&mut **t)
            .await
            .map_err(|e| {
                Error::Refused(format!(
                    "the restore would leave rows pointing at missing rows ({e}); nothing was changed"
                ))
            })?;
    }
    Ok(())
}

/// A store's table counts, for reports (`Store` level).
pub async fn counts(store: &Store) -> Result<Vec<(String, u64, BTreeMap<String, i64>)>> {
    let mut tx = super::create::begin_snapshot(store).await?;
    let mut out = Vec::new();
    for spec in schema::TABLES.iter() {
        let (n, t) = count_in(&mut tx, spec, None).await?;
        out.push((spec.name.to_string(), n, t));
    }
    let _ = tx.rollback().await;
    Ok(out)
}
