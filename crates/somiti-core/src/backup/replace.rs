//! The replacing half of a restore: inside one transaction, the pre-restore backup, the
//! delete, the load, the checks (references, counts, control totals) and the audit entry;
//! and the SQL helpers it shares with the dry run and the drill.

use std::collections::BTreeMap;

use super::catalogue::Target;
use super::create::{Job, Written, write_archive};
use super::load::{self, LoadTable};
use super::restore::{ControlTotal, RestorePlan, TableReport};
use super::schema::{self, TableSpec};
use super::verify::Verifying;
use super::{BackupKind, Backups, ProgressTx, Scope, report};
use crate::access::{Operator, audit};
use crate::db::{Tx, dialect};
use crate::error::{Error, Result};
use crate::on_tx;

impl Backups {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn replace(
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
        verifying: &mut Verifying,
    ) -> Result<Vec<TableReport>> {
        // Everything stops when verify fails (or the operator cancels).
        let cancel = &verifying.stop.clone();
        // Read (or made) before the transaction: SQLite has one writer.
        let database_id = Some(crate::db::meta::database_id(&self.store).await?);
        let mut tx = self.store.begin_unguarded().await?;
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
                sqlite: self.store.sqlite_path(),
                database_id: database_id.clone(),
                source: None,
                undoes: Some(super::Undoes {
                    backup_id: plan.backup_id.clone(),
                    file: plan.file.clone(),
                    scope: plan.scope_words(),
                    by: op.username.clone(),
                    at: super::create::now_micros(),
                }),
            };
            let file = super::create::archive_name(&self.dir, &job);
            report(progress, "pre-restore backup", 0, 0);
            *written = Some(write_archive(&mut tx, &job, &file, progress, cancel).await?);
            let before: Vec<(u64, BTreeMap<String, i64>, Vec<ControlTotal>)> = {
                let mut v = Vec::new();
                for s in specs {
                    let (rows, totals) = count_in(&mut tx, s, scope_org(plan, db_org)).await?;
                    let net = net_in(&mut tx, s, scope_org(plan, db_org)).await?;
                    v.push((rows, totals, net));
                }
                v
            };
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            let dropped = if whole {
                Some(dialect::drop_for_load(&mut tx, &names).await?)
            } else {
                None
            };
            let versions = crate::db::changes::versions_before(&mut tx, &names).await?;
            report(progress, "deleting", 0, 0);
            for spec in specs.iter().rev() {
                delete_rows(&mut tx, spec, plan.org.is_some().then_some(db_org)).await?;
            }
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
            .await;
            // Verify's verdict first: a damaged archive explains a stopped load.
            verifying.wait().await?;
            // The archive passed verify, so a uniqueness rule can only break against rows
            // the restore keeps (another organization's, in a one-organization restore).
            let loaded = loaded.map_err(|e| {
                let m = e.to_string();
                if m.contains("UNIQUE constraint failed") || m.contains("duplicate key value") {
                    Error::Refused(format!(
                        "the restore would repeat a value that must be unique, against rows it does not replace ({m}); \
                         nothing was changed (restore the whole database, or fix the other organization's row first)"
                    ))
                } else {
                    e
                }
            })?;
            // References first (a message that names the row), then the rebuilt foreign
            // keys check everything once more.
            let org_after = plan.archive_org.or(db_org);
            check_references(&mut tx, specs, plan, org_after).await?;
            report(progress, "indexing", 0, 0);
            if let Some(d) = dropped {
                dialect::restore_after_load(&mut tx, d).await?;
            }
            crate::db::changes::versions_forward(&mut tx, &versions, scope_org(plan, org_after))
                .await?;
            report(progress, "checking", 0, 0);
            // Entry numbers move forward: never below the highest id this database gave
            // before the restore (SQLite's AUTOINCREMENT keeps that in sqlite_sequence).
            let identities: Vec<&str> =
                specs.iter().filter(|s| s.identity).map(|s| s.name).collect();
            dialect::keep_ids_ahead(&mut tx, &identities).await?;
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
            for ((spec, l), (rows_now, totals_now, net_now)) in
                specs.iter().zip(&loaded).zip(before)
            {
                let (rows, totals) = count_in(&mut tx, spec, scope_org(plan, org_after)).await?;
                if rows != l.rows || totals != l.totals {
                    return Err(Error::VerifyFailed(format!(
                        "after the restore {} holds {rows} rows {totals:?} but the backup has {} {:?}; rolled back, nothing was changed",
                        spec.name, l.rows, l.totals
                    )));
                }
                let net_backup = net_in(&mut tx, spec, scope_org(plan, org_after)).await?;
                reports.push(TableReport {
                    name: spec.name.into(),
                    rows_now,
                    rows_backup: l.rows,
                    totals_now,
                    totals_backup: l.totals.clone(),
                    net_now,
                    net_backup,
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

pub(super) fn load_tables(specs: &[&'static TableSpec], plan: &RestorePlan) -> Vec<LoadTable> {
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
pub(super) fn scope_org(plan: &RestorePlan, id: Option<i64>) -> Option<i64> {
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

/// The worded control totals of a table, net of reversals (one organization's rows with
/// `org`).
pub(crate) async fn net_in(
    tx: &mut Tx,
    spec: &TableSpec,
    org: Option<i64>,
) -> Result<Vec<super::restore::ControlTotal>> {
    let Some(sql) = spec.net_sql(org.is_some()) else {
        return Ok(Vec::new());
    };
    let n = schema::worded_totals(spec.name).len();
    let vals: Vec<i64> = on_tx!(tx, |c| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(o) = org {
            q = q.bind(o);
        }
        let row = q.fetch_one(&mut *c).await?;
        let mut v = Vec::new();
        for i in 0..n {
            v.push(sqlx::Row::try_get::<i64, _>(&row, i)?);
        }
        v
    });
    Ok(super::restore::worded(spec.name, &vals))
}

/// Foreign keys are checked when the transaction ends, and other sessions are held off
/// until the restore ends (see `dialect::prepare_restore`).
pub(crate) async fn prepare_tx(tx: &mut Tx, specs: &[&TableSpec], whole: bool) -> Result<()> {
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    dialect::prepare_restore(tx, &names, whole).await
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
    dialect::check_deferred_now(tx).await.map_err(|e| {
        Error::Refused(format!(
            "the restore would leave rows pointing at missing rows ({e}); nothing was changed"
        ))
    })?;
    Ok(())
}
