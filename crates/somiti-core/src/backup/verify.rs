//! `backup verify`: (1) the archive — every entry read in full (CRC, or AES authentication),
//! every file's SHA-256 and length against the manifest; (2) the content — every row parses
//! with the schema's columns and types, keys in order, row counts and control totals match
//! the manifest, references close, and every rule the ledger or the schema enforces holds
//! (`rules`: the ledger's validators, CHECK and UNIQUE), so verify ok means the restore
//! succeeds; (3) with `--drill`, a restore into a scratch SQLite
//! database (see `drill`) whose references, counts and totals are checked.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::archive::{ArchiveReader, file_name};
use super::catalogue::{self, Target, VerifyResult};
use super::drill::{LOADER_STOPPED, Loader, Scratch};
use super::schema::{self, Val, Values};
use super::{Backups, Manifest, Passphrase, ProgressTx, Scope, report};
use crate::access::{Operator, Permission, audit, require};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub name: String,
    pub rows: u64,
    /// The manifest's control totals (gross column sums).
    pub totals: BTreeMap<String, i64>,
    /// The same money worded and net of reversals (empty after a drill).
    pub net: Vec<super::restore::ControlTotal>,
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
    pub result: VerifyResult,
    /// The archive's own format version when it was older and read through an upgrade
    /// (`backup::upgrade`): the checks ran on the upgraded rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgraded_from: Option<u32>,
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
        let r = async {
            if drill {
                self.ensure_dir()?;
            }
            verify_archive(
                &target.path,
                pass,
                self.store.schema_version(),
                drill.then_some(self.dir.as_path()),
                progress,
                cancel,
            )
            .await
        }
        .await;
        // Not a verdict on the archive (cancelled, unreadable): nothing recorded.
        let result = match &r {
            Ok(_) => Some(VerifyResult::Ok),
            Err(Error::VerifyFailed(m)) => Some(VerifyResult::Failed(m.clone())),
            Err(_) => None,
        };
        if let Some(e) = &target.entry
            && let Some(result) = &result
        {
            catalogue::set_verify(&self.store, &e.id, result).await?;
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
        r.result = result.unwrap_or(VerifyResult::Ok);
        Ok(r)
    }
}

pub(crate) fn target_label(t: &Target) -> String {
    match &t.entry {
        Some(e) => e.id.clone(),
        None => t.path.display().to_string(),
    }
}

/// Checks (1) and (2), and (3) when asked (`drill`: the folder for the scratch
/// database); no database but the scratch one is touched. The drill loads the rows as
/// verify reads them: one pass over the archive.
pub(crate) async fn verify_archive(
    path: &Path,
    pass: Option<Passphrase>,
    schema_version: i64,
    drill: Option<&Path>,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<VerifyReport> {
    // A version-1 archive is checked as its version-2 upgrade (same file name, so every
    // message names the archive as the operator knows it).
    let up = super::upgrade::readable(path, pass.clone(), schema_version).await?;
    let read = up.as_ref().map_or(path, |u| u.path.as_path());
    let scratch = match drill {
        Some(dir) => Some(Scratch::create(dir).await?),
        None => None,
    };
    let p = read.to_path_buf();
    let c = cancel.clone();
    let pr = progress.clone();
    let loader = scratch.as_ref().map(|s| {
        s.start(
            schema::TABLES
                .iter()
                .collect::<Vec<&'static schema::TableSpec>>(),
        )
    });
    let (manifest, encrypted, tables, drilled) = tokio::task::spawn_blocking(move || {
        let mut loader = loader;
        let r = check_content(&p, pass, schema_version, &pr, &c, loader.as_mut());
        let fail = |what: String| Error::VerifyFailed(format!("{}: drill: {what}", file_name(&p)));
        match (r, loader) {
            (Ok((m, enc, t)), Some(l)) => {
                report(
                    &pr,
                    "drill: indexing and counting",
                    m.total_rows(),
                    m.total_rows(),
                );
                let d = l.finish().map_err(|m| {
                    fail(format!("the restore into a scratch database failed: {m}"))
                })?;
                Ok((m, enc, t, Some(d)))
            }
            (Ok((m, enc, t)), None) => Ok((m, enc, t, None)),
            (Err(Error::VerifyFailed(msg)), Some(l)) if msg.contains(LOADER_STOPPED) => {
                // The scratch database refused a row: its reason is the one to give.
                Err(match l.finish() {
                    Err(m) => fail(format!("the restore into a scratch database failed: {m}")),
                    Ok(_) => Error::VerifyFailed(msg),
                })
            }
            (Err(e), l) => {
                if let Some(l) = l {
                    l.abandon();
                }
                Err(e)
            }
        }
    })
    .await
    .map_err(|e| Error::Other(format!("verify failed to run: {e}")))??;
    if drilled.is_some()
        && let Some(s) = &scratch
    {
        let bad = s.balance_mismatches().await?;
        if !bad.is_empty() {
            return Err(Error::VerifyFailed(format!(
                "{}: drill: {} running balance{} disagree{} with the entries: {}{}",
                file_name(path),
                bad.len(),
                if bad.len() == 1 { "" } else { "s" },
                if bad.len() == 1 { "s" } else { "" },
                bad.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
                if bad.len() > 5 { "; …" } else { "" }
            )));
        }
    }
    drop(scratch);
    let drill = match drilled {
        Some(found) => Some(compare_drill(path, &manifest, found)?),
        None => None,
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
        result: VerifyResult::Ok,
        upgraded_from: up.map(|_| 1),
    })
}

/// A verify running beside a restore's load. The load stops when verify fails, and the
/// restore commits only after `wait` said the archive passed.
pub(crate) struct Verifying {
    handle: Option<tokio::task::JoinHandle<Result<VerifyReport>>>,
    /// Cancelled when verify fails (or the operator cancels): the load's token.
    pub stop: CancellationToken,
    /// The verdict, once known: Ok, or why the archive failed.
    pub outcome: Option<std::result::Result<(), String>>,
}

impl Verifying {
    pub(crate) fn start(
        path: &Path,
        pass: Option<Passphrase>,
        schema_version: i64,
        cancel: &CancellationToken,
    ) -> Verifying {
        let stop = cancel.child_token();
        let (path, cancel2, stop2) = (path.to_path_buf(), cancel.clone(), stop.clone());
        let handle = tokio::spawn(async move {
            let quiet = super::no_progress();
            let r = verify_archive(&path, pass, schema_version, None, &quiet, &cancel2).await;
            if r.is_err() {
                stop2.cancel();
            }
            r
        });
        Verifying {
            handle: Some(handle),
            stop,
            outcome: None,
        }
    }

    /// Wait for the verdict: the archive's failure is `VerifyFailed`.
    pub(crate) async fn wait(&mut self) -> Result<()> {
        let Some(h) = self.handle.take() else {
            return match &self.outcome {
                Some(Ok(())) => Ok(()),
                Some(Err(m)) => Err(Error::VerifyFailed(m.clone())),
                None => Err(Error::Other("verify did not run".into())),
            };
        };
        let r = h
            .await
            .map_err(|e| Error::Other(format!("verify failed to run: {e}")))?;
        match r {
            Ok(_) => {
                self.outcome = Some(Ok(()));
                Ok(())
            }
            Err(Error::VerifyFailed(m)) => {
                self.outcome = Some(Err(m.clone()));
                Err(Error::VerifyFailed(m))
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Verifying {
    fn drop(&mut self) {
        // A restore that stopped before asking: verify has nothing left to say.
        self.stop.cancel();
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// The scratch database's counts and totals against the manifest, table by table.
fn compare_drill(path: &Path, m: &Manifest, found: Vec<TableCheck>) -> Result<Vec<TableCheck>> {
    let mut out = Vec::new();
    for t in &m.tables {
        let Some(f) = found.iter().find(|f| f.name == t.name) else {
            continue;
        };
        if f.rows != t.rows || f.totals != t.totals {
            return Err(Error::VerifyFailed(format!(
                "{}: drill: {} holds {} rows {:?} after the restore; the manifest says {} {:?}",
                file_name(path),
                t.name,
                f.rows,
                f.totals,
                t.rows,
                t.totals
            )));
        }
        out.push(f.clone());
    }
    out.sort_by_key(|t| schema::order(&t.name));
    Ok(out)
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
    mut drill: Option<&mut Loader>,
) -> Result<(Manifest, bool, Vec<TableCheck>)> {
    let mut reader = ArchiveReader::open(path, pass, schema_version)?;
    reader.read_ahead = drill.is_none();
    let m = reader.manifest.clone();
    let fail = |what: String| Error::VerifyFailed(format!("{}: {what}", file_name(path)));
    let scope = m.scope();
    let total = m.total_rows();
    let mut done = 0u64;
    // Ids seen per table, for references; the scope's organization id.
    let mut ids: HashMap<&'static str, IdRanges> = HashMap::new();
    let mut scope_org: Option<i64> = None;
    // The ledger's rules and the schema's CHECK and UNIQUE rules, row by row.
    let mut rules = super::rules::Rules::default();
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
        let mut net = vec![0i64; schema::worded_totals(spec.name).len()];
        let mut last: Option<Values> = None;
        let mut mine = IdRanges::default();
        let mut self_refs: Vec<(u64, i64)> = Vec::new();
        report(progress, &format!("verifying {}", spec.name), done, total);
        let org_code = match &scope {
            Scope::Org(c) => Some(c.clone()),
            Scope::All => None,
        };
        // (column index, column, parent table, the parent's ids)
        let refs: Vec<(usize, &str, &str, Option<&IdRanges>)> = spec
            .refs
            .iter()
            .filter_map(|&(col, parent)| Some((spec.index_of(col)?, col, parent, ids.get(parent))))
            .collect();
        reader.for_each_line(spec.name, Some(cancel), |row, line| {
            let vals = schema::parse_json_line(spec, line)?;
            let key: Values = pk_idx.iter().map(|&i| vals[i].clone()).collect();
            if let Some(prev) = &last
                && cmp_key(prev, &key) != Ordering::Less
            {
                return Err("rows are not in primary-key order (or a key repeats)".into());
            }
            last = Some(key);
            rules.check(spec, &vals)?;
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
            for (n, p) in net.iter_mut().zip(spec.net_parts(&vals)) {
                *n = n.checked_add(p).ok_or("control total overflows")?;
            }
            for &(i, col, parent, known) in &refs {
                let Some(v) = vals[i].as_int() else {
                    continue;
                };
                if parent == spec.name {
                    self_refs.push((row, v));
                } else if !known.is_some_and(|s| s.contains(v)) {
                    return Err(format!("{col} {v} is not in {parent} of the archive"));
                }
            }
            if spec.pk == ["id"]
                && let Some(id) = vals[0].as_int()
            {
                mine.push(id);
            }
            if let Some(d) = drill.as_deref_mut() {
                d.push(spec, vals)?;
            }
            Ok(())
        })?;
        for (row, v) in self_refs {
            if !mine.contains(v) {
                return Err(fail(format!(
                    "entry {}: row {row}: reversal_of {v} is not in {} of the archive",
                    tm.file, spec.name
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
            net: super::restore::worded(spec.name, &net),
        });
        if let Some(csv) = &tm.csv {
            reader.check_file(csv)?;
        }
    }
    // Every running balance equals its entries (read above, parents first).
    rules.finish().map_err(fail)?;
    report(progress, "verified", done, total);
    Ok((m, reader.encrypted, out))
}

/// The ids of a table, which come in increasing order (checked): kept as runs of
/// consecutive ids, so a ledger's million collections take a few runs, not a million
/// entries.
#[derive(Debug, Default)]
pub(crate) struct IdRanges(Vec<(i64, i64)>);

impl IdRanges {
    /// Add an id larger than every id so far.
    pub(crate) fn push(&mut self, id: i64) {
        match self.0.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(id) => *end = id,
            _ => self.0.push((id, id)),
        }
    }

    pub(crate) fn contains(&self, id: i64) -> bool {
        let i = self.0.partition_point(|&(_, end)| end < id);
        self.0.get(i).is_some_and(|&(start, _)| start <= id)
    }
}

#[cfg(test)]
mod tests {
    use super::IdRanges;

    #[test]
    fn id_runs_answer_membership() {
        let mut r = IdRanges::default();
        for id in [1, 2, 3, 7, 8, 10] {
            r.push(id);
        }
        assert_eq!(r.0, vec![(1, 3), (7, 8), (10, 10)]);
        for id in [1, 2, 3, 7, 8, 10] {
            assert!(r.contains(id), "{id}");
        }
        for id in [0, 4, 6, 9, 11, -5] {
            assert!(!r.contains(id), "{id}");
        }
        assert!(!IdRanges::default().contains(1));
    }
}
