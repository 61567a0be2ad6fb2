//! `backup verify`: (1) the archive — every entry read in full (CRC, or AES authentication),
//! every file's SHA-256 and length against the manifest; (2) the content — every row parses
//! with the schema's columns and types, keys in order, row counts and control totals match
//! the manifest, references close; (3) with `--drill`, a restore into a scratch in-memory
//! SQLite whose counts and totals are compared with the manifest.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::archive::{ArchiveReader, file_name};
use super::catalogue::{self, Target};
use super::load::{self, LoadTable};
use super::schema::{self, Val, Values};
use super::{Backups, Manifest, Passphrase, ProgressTx, Scope, report};
use crate::access::{Operator, Permission, audit, require};
use crate::db::{SQLITE_MIGRATOR, Store, Tx};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub name: String,
    pub rows: u64,
    pub totals: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub backup_id: String,
    pub file: String,
    pub path: PathBuf,
    pub encrypted: bool,
    pub scope: String,
    pub source: String,
    pub tables: Vec<TableCheck>,
    /// Counts and totals found after the drill restore (same shape as `tables`).
    pub drill: Option<Vec<TableCheck>>,
    pub result: String,
}

impl Backups {
    /// Verify a catalogued backup (id) or any archive (path). The result goes into the
    /// catalogue (for catalogued archives) and the audit log; a failure is `VerifyFailed`.
    pub async fn verify(
        &self,
        op: &Operator,
        what: &str,
        drill: bool,
        progress: &ProgressTx,
        cancel: &CancellationToken,
    ) -> Result<VerifyReport> {
        let target = async {
            catalogue::startup(self).await?;
            catalogue::resolve(self, what).await
        }
        .await;
        let target =
            audit::record_if_failed(&self.store, &op.username, "backup.verify", what, target)
                .await?;
        let label = target_label(&target);
        let org_id = match &target.entry {
            Some(e) if e.scope != "all" => super::org_id_of(&self.store, &e.scope).await?,
            _ => None,
        };
        require(
            &self.store,
            op,
            Permission::VerifyBackup,
            org_id,
            "backup.verify",
            &label,
        )
        .await?;
        let pass = self.passphrase()?;
        let r = verify_archive(
            &target.path,
            pass,
            self.store.schema_version(),
            drill,
            progress,
            cancel,
        )
        .await;
        let result = match &r {
            Ok(_) => "ok".to_string(),
            Err(Error::VerifyFailed(m)) => format!("failed: {m}"),
            Err(_) => String::new(),
        };
        if let Some(e) = &target.entry
            && !result.is_empty()
        {
            catalogue::set_verify(&self.store, &e.id, &result).await?;
        }
        let mut r =
            audit::record_if_failed(&self.store, &op.username, "backup.verify", &label, r).await?;
        audit::record(
            &self.store,
            &op.username,
            "backup.verify",
            &label,
            serde_json::json!({ "file": r.file, "drill": drill, "result": "ok" }),
            audit::Outcome::Ok,
        )
        .await?;
        r.result = result;
        Ok(r)
    }
}

pub(crate) fn target_label(t: &Target) -> String {
    match &t.entry {
        Some(e) => e.id.clone(),
        None => t.path.display().to_string(),
    }
}

/// Checks (1) and (2), and (3) when asked; no database but the scratch one is touched.
pub(crate) async fn verify_archive(
    path: &Path,
    pass: Option<Passphrase>,
    schema_version: i64,
    drill: bool,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<VerifyReport> {
    let p = path.to_path_buf();
    let c = cancel.clone();
    let pr = progress.clone();
    let pass2 = pass.clone();
    let (manifest, encrypted, tables) =
        tokio::task::spawn_blocking(move || check_content(&p, pass2, schema_version, &pr, &c))
            .await
            .map_err(|e| Error::Other(format!("verify failed to run: {e}")))??;
    let drill = if drill {
        Some(run_drill(path, pass, schema_version, &manifest, progress, cancel).await?)
    } else {
        None
    };
    Ok(VerifyReport {
        backup_id: manifest.backup_id.clone(),
        file: file_name(path),
        path: path.to_path_buf(),
        encrypted,
        scope: manifest.scope.clone(),
        source: manifest.source.as_str().into(),
        tables,
        drill,
        result: "ok".into(),
    })
}

/// A key in primary-key order: integers by value, text (dates) by bytes.
fn cmp_key(a: &[Val], b: &[Val]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Val::Int(p), Val::Int(q)) => p.cmp(q),
            (Val::Text(p), Val::Text(q)) => p.cmp(q),
            _ => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn check_content(
    path: &Path,
    pass: Option<Passphrase>,
    schema_version: i64,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<(Manifest, bool, Vec<TableCheck>)> {
    let mut reader = ArchiveReader::open(path, pass, schema_version)?;
    let m = reader.manifest.clone();
    let fail = |what: String| Error::VerifyFailed(format!("{}: {what}", file_name(path)));
    let scope = m.scope();
    let total = m.total_rows();
    let mut done = 0u64;
    // Ids seen per table, for references; the scope's organization id.
    let mut ids: HashMap<&'static str, HashSet<i64>> = HashMap::new();
    let mut scope_org: Option<i64> = None;
    let mut out = Vec::new();
    let mut order: Vec<&'static schema::TableSpec> = m
        .tables
        .iter()
        .filter_map(|t| schema::spec(&t.name))
        .collect();
    order.sort_by_key(|s| schema::order(s.name));
    for spec in order {
        let tm = m.table(spec.name).cloned().expect("listed");
        let pk_idx: Vec<usize> = spec.pk.iter().filter_map(|c| spec.index_of(c)).collect();
        let org_idx = spec.index_of(spec.org_col);
        let total_idx: Vec<usize> = spec
            .totals
            .iter()
            .filter_map(|c| spec.index_of(c))
            .collect();
        let mut sums = vec![0i64; total_idx.len()];
        let mut last: Option<Values> = None;
        let mut mine: HashSet<i64> = HashSet::new();
        let mut self_refs: Vec<(u64, i64)> = Vec::new();
        report(progress, &format!("verifying {}", spec.name), done, total);
        let org_code = match &scope {
            Scope::Org(c) => Some(c.clone()),
            Scope::All => None,
        };
        reader.for_each_line(spec.name, Some(cancel), |row, line| {
            let vals = schema::parse_json_line(spec, line)?;
            let key: Values = pk_idx.iter().map(|&i| vals[i].clone()).collect();
            if let Some(prev) = &last
                && cmp_key(prev, &key) != Ordering::Less
            {
                return Err("rows are not in primary-key order (or a key repeats)".into());
            }
            last = Some(key);
            if spec.name == "organizations" {
                if let Some(code) = &org_code {
                    if vals[1].as_text() != Some(code.as_str()) {
                        return Err(format!("organization is not the archive's scope {code}"));
                    }
                    scope_org = vals[0].as_int();
                }
            } else if org_code.is_some()
                && spec.name != "users"
                && org_idx.and_then(|i| vals[i].as_int()) != scope_org
            {
                return Err(format!(
                    "belongs to another organization than the archive's scope {}",
                    m.scope
                ));
            }
            for (k, &i) in total_idx.iter().enumerate() {
                sums[k] = sums[k]
                    .checked_add(vals[i].as_int().unwrap_or(0))
                    .ok_or("control total overflows")?;
            }
            for (col, parent) in spec.refs {
                let Some(v) = spec.index_of(col).and_then(|i| vals[i].as_int()) else {
                    continue;
                };
                if *parent == spec.name {
                    self_refs.push((row, v));
                } else if !ids.get(parent).is_some_and(|s| s.contains(&v)) {
                    return Err(format!("{col} {v} is not in {parent} of the archive"));
                }
            }
            if spec.pk == ["id"]
                && let Some(id) = vals[0].as_int()
            {
                mine.insert(id);
            }
            Ok(())
        })?;
        for (row, v) in self_refs {
            if !mine.contains(&v) {
                return Err(fail(format!(
                    "entry {}: row {row}: reversal_of {v} is not in collections of the archive",
                    tm.file
                )));
            }
        }
        let totals: BTreeMap<String, i64> = spec
            .totals
            .iter()
            .zip(&sums)
            .map(|(c, v)| (c.to_string(), *v))
            .collect();
        if totals != tm.totals {
            return Err(fail(format!(
                "entry {}: control totals {totals:?} do not match the manifest {:?}",
                tm.file, tm.totals
            )));
        }
        done += tm.rows;
        ids.insert(spec.name, mine);
        out.push(TableCheck {
            name: spec.name.into(),
            rows: tm.rows,
            totals,
        });
        if let Some(csv) = &tm.csv {
            reader.check_file(csv)?;
        }
    }
    report(progress, "verified", done, total);
    Ok((m, reader.encrypted, out))
}

/// A scratch in-memory SQLite with this binary's schema.
pub(crate) async fn scratch_store() -> Result<Store> {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(opts)
        .await?;
    SQLITE_MIGRATOR.run(&pool).await?;
    Ok(Store::Sqlite(pool, PathBuf::from(":memory:")))
}

async fn run_drill(
    path: &Path,
    pass: Option<Passphrase>,
    schema_version: i64,
    m: &Manifest,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Vec<TableCheck>> {
    let scratch = scratch_store().await?;
    let mut tables: Vec<LoadTable> = m
        .tables
        .iter()
        .filter_map(|t| schema::spec(&t.name))
        .map(|spec| LoadTable { spec, org: None })
        .collect();
    tables.sort_by_key(|t| schema::order(t.spec.name));
    let mut tx = scratch.begin().await?;
    let fail = |what: String| Error::VerifyFailed(format!("{}: drill: {what}", file_name(path)));
    let specs: Vec<&schema::TableSpec> = tables.iter().map(|t| t.spec).collect();
    super::replace::prepare_tx(&mut tx, &specs, true).await?;
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    let dropped = super::bulk::drop_for_load(&mut tx, &names).await?;
    load::load(
        &mut tx,
        load::Source {
            path: path.to_path_buf(),
            passphrase: pass,
            schema_version,
        },
        tables.clone(),
        m.total_rows(),
        progress,
        cancel,
    )
    .await
    .map_err(|e| match e {
        Error::Database(d) => fail(format!("the restore into a scratch database failed: {d}")),
        e => e,
    })?;
    super::bulk::restore_after_load(&mut tx, dropped)
        .await
        .map_err(|e| fail(format!("rebuilding the scratch database failed: {e}")))?;
    let mut out = Vec::new();
    for t in &tables {
        let (rows, totals) = super::replace::count_in(&mut tx, t.spec, None).await?;
        let tm = m.table(t.spec.name).expect("listed");
        if rows != tm.rows || totals != tm.totals {
            return Err(fail(format!(
                "{} holds {rows} rows {totals:?} after the restore; the manifest says {} {:?}",
                t.spec.name, tm.rows, tm.totals
            )));
        }
        out.push(TableCheck {
            name: t.spec.name.into(),
            rows,
            totals,
        });
    }
    if let Tx::Sqlite(t) = &mut tx {
        let bad: Vec<(String, i64)> =
            sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check")
                .fetch_all(&mut **t)
                .await
                .unwrap_or_default();
        if let Some((table, rowid)) = bad.first() {
            return Err(fail(format!("{table} row {rowid} points at a missing row")));
        }
    }
    let _ = tx.rollback().await;
    scratch.close().await;
    Ok(out)
}
