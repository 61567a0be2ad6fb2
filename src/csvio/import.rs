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
use crate::csvio::columns::{Field, Mapping, map_header};
use crate::csvio::sheet::{self, Problem, SheetRow, column_letter};
use crate::csvio::unique::{self, Existing};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::member::{self, MemberInput, ValidMember};
use crate::ledger::org::{self, Organization};
use crate::ledger::{money, validate};

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

/// A row on its way in: its normalised keys (for duplicates) and, when every field
/// passed, the member the ledger would insert.
struct Candidate {
    row: u64,
    member_no: Option<String>,
    nid: Option<String>,
    valid: Option<ValidMember>,
}

async fn run(
    store: &Store,
    op: &Operator,
    org: &Organization,
    path: &Path,
    dry_run: bool,
) -> Result<ImportReport> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
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
    rep.imported = member::insert_many_tx(&mut tx, org.id, &ready).await?;
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

fn p_field(e: &Error) -> &str {
    match e {
        Error::Invalid { field, .. } => field,
        _ => "",
    }
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

struct RowCtx<'a> {
    map: &'a Mapping,
    header: &'a [String],
    org: &'a Organization,
    workers: &'a [org::Worker],
}

impl RowCtx<'_> {
    fn problem(&self, row: u64, f: Field, reason: String) -> Problem {
        let col = self.map.column_of(f);
        Problem {
            row,
            column: col.map(column_letter).unwrap_or_default(),
            header: col
                .and_then(|i| self.header.get(i).cloned())
                .unwrap_or_else(|| f.ledger_name().into()),
            reason,
        }
    }

    /// A ledger error as a problem on the column of the field it names.
    fn problem_from(&self, row: u64, e: &Error) -> Problem {
        match e {
            Error::Invalid { field, reason } => match field_named(field) {
                Some(f) => self.problem(row, f, reason.clone()),
                None => Problem {
                    row,
                    column: String::new(),
                    header: field.clone(),
                    reason: reason.clone(),
                },
            },
            other => Problem {
                row,
                column: String::new(),
                header: String::new(),
                reason: other.to_string(),
            },
        }
    }

    fn cell<'r>(&self, r: &'r SheetRow, f: Field) -> &'r str {
        self.map
            .column_of(f)
            .and_then(|i| r.cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Read one row into a `MemberInput` and run the ledger's field rules on it.
    fn check(&self, r: &SheetRow, problems: &mut Vec<Problem>) -> Candidate {
        for (i, h) in self.header.iter().enumerate() {
            if h.trim().is_empty() && !r.cells[i].is_empty() {
                problems.push(Problem {
                    row: r.row,
                    column: column_letter(i),
                    header: String::new(),
                    reason: "holds a value but its column has no header".into(),
                });
            }
        }
        let mut bad: Vec<Field> = Vec::new();
        let mut push = |f: Field, reason: String, bad: &mut Vec<Field>| {
            bad.push(f);
            problems.push(self.problem(r.row, f, reason));
        };
        let code = self.cell(r, Field::OrgCode);
        if !code.is_empty() && !code.eq_ignore_ascii_case(&self.org.code) {
            push(
                Field::OrgCode,
                format!(
                    "the row is for {code} but the import is into {}; import with --org {code} or delete the column",
                    self.org.code
                ),
                &mut bad,
            );
        }
        let mut money = |f: Field, bad: &mut Vec<Field>| {
            let v = self.cell(r, f);
            if v.is_empty() {
                return 0;
            }
            money::parse_taka(f.ledger_name(), &decimal_comma(v)).unwrap_or_else(|e| {
                push(f, reason_of(&e), bad);
                0
            })
        };
        let loan_amount = money(Field::LoanAmount, &mut bad);
        let daily_installment = money(Field::DailyInstallment, &mut bad);
        let daily_savings = money(Field::DailySavings, &mut bad);
        let joined = self.cell(r, Field::JoinedOn);
        let joined_on = if joined.is_empty() {
            None
        } else {
            joined_date(joined)
                .map_err(|reason| push(Field::JoinedOn, reason, &mut bad))
                .ok()
        };
        let status = Some(self.cell(r, Field::Status))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let input = MemberInput {
            member_no: self.cell(r, Field::MemberNo).to_string(),
            name: self.cell(r, Field::Name).to_string(),
            nid: self.cell(r, Field::Nid).to_string(),
            mobile: self.cell(r, Field::Mobile).to_string(),
            worker: self.cell(r, Field::Worker).to_string(),
            loan_amount,
            daily_installment,
            daily_savings,
            status,
            joined_on,
        };
        let valid = match member::validate_fields(&input, self.org, self.workers) {
            Ok(v) => Some(v),
            Err(errs) => {
                for e in errs {
                    let mut p = self.problem_from(r.row, &e);
                    match field_named(p_field(&e)) {
                        Some(f) if bad.contains(&f) => continue,
                        Some(Field::Nid) => p.reason += excel_hint_nid(&input.nid),
                        Some(Field::Mobile) => p.reason += excel_hint_mobile(&input.mobile),
                        _ => {}
                    }
                    problems.push(p);
                }
                None
            }
        };
        let valid = valid.filter(|_| bad.is_empty());
        let member_no =
            Some(validate::normalize_digits(&input.member_no)).filter(|s| !s.is_empty());
        Candidate {
            row: r.row,
            member_no,
            nid: validate::nid(&input.nid).ok(),
            valid,
        }
    }

    /// `None` when the ledger's member with this row's NID is in this organization and
    /// agrees on every column the file has; else the fields that differ.
    fn same_as_ledger(&self, c: &Candidate, existing: &Existing) -> Option<String> {
        let (Some(v), Some(m)) = (&c.valid, c.nid.as_deref().and_then(|n| existing.by_nid(n)))
        else {
            return Some("its organization or member number".into());
        };
        let has = |f: Field| self.map.column_of(f).is_some();
        let checks = [
            ("organization", m.org_id != self.org.id),
            ("member_no", m.member_no != v.member_no),
            ("name", m.name != v.name),
            ("mobile", m.mobile != v.mobile),
            ("loan_amount", m.loan_amount != v.loan_amount),
            (
                "daily_installment",
                m.daily_installment != v.daily_installment,
            ),
            ("daily_savings", m.daily_savings != v.daily_savings),
            ("worker", has(Field::Worker) && m.worker_id != v.worker_id),
            ("status", has(Field::Status) && m.status != v.status),
            (
                "joined_on",
                has(Field::JoinedOn) && m.joined_on != v.joined_on,
            ),
        ];
        let diff: Vec<&str> = checks.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
        (!diff.is_empty()).then(|| diff.join(", "))
    }
}

fn field_named(name: &str) -> Option<Field> {
    crate::csvio::columns::ALIASES
        .iter()
        .map(|(f, _)| *f)
        .find(|f| *f != Field::Derived && f.ledger_name() == name)
}

fn reason_of(e: &Error) -> String {
    match e {
        Error::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `YYYY-MM-DD` (Bengali digits too), with a midnight time Excel may add; day/month
/// orders are refused because `01/03/2026` is the 1st of March or the 3rd of January.
fn joined_date(cell: &str) -> std::result::Result<chrono::NaiveDate, String> {
    let s = validate::normalize_digits(cell);
    let s = ["T00:00:00", " 00:00:00", " 00:00"]
        .iter()
        .find_map(|t| s.strip_suffix(t))
        .unwrap_or(&s);
    validate::date("joined_on", s).map_err(|e| {
        let mut r = reason_of(&e);
        if s.contains(['/', '.']) {
            r += "; day/month dates are ambiguous, format the column as yyyy-mm-dd";
        }
        r
    })
}

/// `1234,50` is a decimal comma (semicolon Excel in many locales), never grouping: a
/// thousands group always has three digits. Anything else goes to the ledger as written.
fn decimal_comma(v: &str) -> std::borrow::Cow<'_, str> {
    let d = validate::normalize_digits(v);
    match d.split_once(',') {
        Some((whole, frac))
            if !whole.is_empty()
                && (1..=2).contains(&frac.len())
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{whole}.{frac}").into()
        }
        _ => v.into(),
    }
}

fn excel_hint_nid(raw: &str) -> &'static str {
    if raw.contains(['E', 'e']) && raw.contains('+') {
        "; Excel turned it into a number (1.23E+16): format the column as Text and type the NIDs again"
    } else {
        ""
    }
}

fn excel_hint_mobile(raw: &str) -> &'static str {
    let d = validate::normalize_digits(raw);
    if d.len() == 10 && d.starts_with('1') && d.bytes().all(|b| b.is_ascii_digit()) {
        "; Excel dropped the leading 0: format the column as Text"
    } else {
        ""
    }
}
