//! The member import: every row is checked with the ledger's own rules (field rules,
//! uniqueness in the database and inside the file) before anything is written; one wrong
//! row and nothing is imported. A clean file goes in as one transaction, one audit entry.
//!
//! A row whose NID is already a member is never a second member: when the row says exactly
//! what the ledger holds (re-importing the office's whole list) it is skipped and reported
//! as already present; when it differs in anything it is a problem, because an import adds
//! members and never changes one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::{Operator, Permission, audit, require};
use crate::csvio::columns::{Field, map_header};
use crate::csvio::rows::{Candidate, RowCtx, p_field};
use crate::csvio::sheet::{self, Problem};
use crate::csvio::unique;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::member::{self, ValidMember};
use crate::ledger::org::{self, Organization};

/// A row skipped because the ledger already holds exactly this member.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlreadyPresent {
    pub row: u64,
    pub member_no: String,
    pub nid: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub org: String,
    pub file: PathBuf,
    pub dry_run: bool,
    /// The separator found in the header line: `,`, `;` or a tab.
    pub separator: String,
    pub had_bom: bool,
    /// Member rows read (rows of empty cells are not counted).
    pub rows: u64,
    /// Everything wrong, in row order; not empty means nothing was imported.
    pub problems: Vec<Problem>,
    pub already_present: Vec<AlreadyPresent>,
    /// Rows that pass every check (imported unless there are problems or it is a dry run).
    pub would_import: u64,
    pub imported: u64,
}

impl ImportReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Import the members in the CSV at `path` into `org`. `Ok` with problems in the report
/// when rows are wrong (nothing written); `Err` only when the import could not run.
pub async fn import_members(
    store: &Store,
    op: &Operator,
    org: &Organization,
    path: &Path,
    dry_run: bool,
) -> Result<ImportReport> {
    require(
        store,
        op,
        Permission::Import,
        Some(org.id),
        "member.import",
        &org.code,
    )
    .await?;
    let r = run(store, op, org, path, dry_run).await;
    let failure = match &r {
        Err(e) => Some(serde_json::json!({ "file": path, "error": e.to_string() })),
        Ok(rep) if !rep.is_ok() && !dry_run => Some(serde_json::json!({
            "file": path,
            "rows": rep.rows,
            "problems": rep.problems.len(),
            "first": rep.problems.first().map(|p| p.to_string()),
        })),
        Ok(_) => None,
    };
    if let Some(detail) = failure {
        let outcome = audit::Outcome::Failed;
        audit::record(
            store,
            &op.username,
            "member.import",
            &org.code,
            detail,
            outcome,
        )
        .await?;
    }
    r
}

async fn run(
    store: &Store,
    op: &Operator,
    org: &Organization,
    path: &Path,
    dry_run: bool,
) -> Result<ImportReport> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut crate::error::open_regular(path, "CSV")?, &mut bytes)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let sheet = sheet::read(&bytes);
    let mut rep = ImportReport {
        org: org.code.clone(),
        file: path.to_path_buf(),
        dry_run,
        separator: sheet.separator.to_string(),
        had_bom: sheet.had_bom,
        rows: 0,
        problems: sheet.problems.clone(),
        already_present: Vec::new(),
        would_import: 0,
        imported: 0,
    };
    if sheet.header.is_empty() {
        return Ok(rep);
    }
    // rows the sheet could not read count as rows too
    let unreadable = sheet.problems.iter().filter(|p| p.row > sheet.header_row);
    rep.rows = (sheet.rows.len() + unreadable.count()) as u64;
    let map = map_header(&sheet.header, sheet.header_row);
    rep.problems.extend(map.problems.iter().cloned());
    if map.fatal {
        return Ok(finish_problems(rep));
    }
    if rep.rows == 0 {
        rep.problems.push(Problem {
            row: sheet.header_row + 1,
            column: String::new(),
            header: String::new(),
            reason: "the file has a header but no member rows".into(),
        });
        return Ok(finish_problems(rep));
    }
    let workers = org::workers(store, org.id).await?;
    let ctx = RowCtx {
        map: &map,
        header: &sheet.header,
        org,
        workers: &workers,
    };
    let mut cands = Vec::with_capacity(sheet.rows.len());
    for r in &sheet.rows {
        cands.push(ctx.check(r, &mut rep.problems));
    }
    duplicates_in_file(&ctx, &cands, &mut rep.problems);
    let existing = unique::existing(store, org, &cands_keys(&cands)).await?;
    let mut ready = Vec::with_capacity(cands.len());
    for c in cands {
        let hit = existing.hit(c.member_no.as_deref(), c.nid.as_deref());
        if hit {
            let same = ctx.same_as_ledger(&c, &existing);
            if let (Some(v), true) = (&c.valid, same.is_none()) {
                rep.already_present.push(AlreadyPresent {
                    row: c.row,
                    member_no: v.member_no.clone(),
                    nid: v.nid.clone(),
                });
                continue;
            }
            let no = c.member_no.as_deref().unwrap_or("");
            let nid = c.nid.as_deref().unwrap_or("");
            for e in member::uniqueness_problems(store, org.id, no, nid, None).await? {
                let mut p = ctx.problem_from(c.row, &e);
                if let (Some(diff), "nid") = (&same, p_field(&e)) {
                    p.reason += &format!(
                        " and differs in {diff}; an import adds members and never changes one: change the member in the console or take the row out"
                    );
                }
                rep.problems.push(p);
            }
        }
        if let Some(v) = c.valid {
            ready.push((c.row, v));
        }
    }
    // a row with any problem (a duplicate inside the file, say) is not ready
    let wrong: std::collections::HashSet<u64> = rep.problems.iter().map(|p| p.row).collect();
    let ready: Vec<ValidMember> = ready
        .into_iter()
        .filter(|(row, _)| !wrong.contains(row))
        .map(|(_, v)| v)
        .collect();
    rep.would_import = ready.len() as u64;
    if !rep.problems.is_empty() {
        return Ok(finish_problems(rep));
    }
    if dry_run || ready.is_empty() {
        return Ok(rep);
    }
    let mut tx = store.begin().await?;
    rep.imported = member::insert_many_tx(&mut tx, org.id, &ready, &op.username).await?;
    let sha = hex::encode(Sha256::digest(&bytes));
    audit::record_tx(
        &mut tx,
        &op.username,
        "member.import",
        &org.code,
        serde_json::json!({
            "file": path, "sha256": sha, "rows": rep.rows,
            "imported": rep.imported, "already_present": rep.already_present.len(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(rep)
}

fn finish_problems(mut rep: ImportReport) -> ImportReport {
    rep.problems.sort_by(|a, b| {
        (a.row, a.column.len(), &a.column).cmp(&(b.row, b.column.len(), &b.column))
    });
    rep.imported = 0;
    rep
}

fn cands_keys(cands: &[Candidate]) -> (Vec<String>, Vec<String>) {
    let nos = cands.iter().filter_map(|c| c.member_no.clone()).collect();
    let nids = cands.iter().filter_map(|c| c.nid.clone()).collect();
    (nos, nids)
}

/// A member number or NID twice in the file: the later row is the problem.
fn duplicates_in_file(ctx: &RowCtx, cands: &[Candidate], problems: &mut Vec<Problem>) {
    let mut seen_no: HashMap<&str, u64> = HashMap::new();
    let mut seen_nid: HashMap<&str, u64> = HashMap::new();
    for c in cands {
        for (field, key, seen) in [
            (Field::MemberNo, &c.member_no, &mut seen_no),
            (Field::Nid, &c.nid, &mut seen_nid),
        ] {
            let Some(k) = key.as_deref() else { continue };
            match seen.get(k) {
                Some(first) => problems.push(ctx.problem(
                    c.row,
                    field,
                    format!("{k} is also on row {first}; each member once"),
                )),
                None => {
                    seen.insert(k, c.row);
                }
            }
        }
    }
}
