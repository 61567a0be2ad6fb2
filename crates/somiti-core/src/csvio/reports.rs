//! CSV of a member's statement and of the monthly report, written like the other exports
//! (UTF-8 with BOM, CRLF, money as `1234.50`, dates `YYYY-MM-DD`, a `.partial` file renamed
//! into place, mode 0600) so they open in Excel the same way. An export needs the Export
//! permission and is audited.
//!
//! Statement: an `opening` row (the balances as the range began), one row per statement
//! row, and a `total` row (the column totals and the closing balances).
//! Month: one `day` row per day, a `total` row for the month, and, in the organization's
//! report, one `worker` row per worker; the month-only columns are empty on day rows.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::csvio::{CsvOut, safe_text};
use crate::db::Store;
use crate::error::Result;
use crate::ledger::money::plain;
use crate::ledger::org::Organization;
use crate::ledger::report::{MonthReport, MonthTotals, Par};
use crate::ledger::statement::{EntryRef, Statement, StatementBalances};

pub const STATEMENT_HEADER: [&str; 16] = [
    "org_code",
    "member_no",
    "member_name",
    "date",
    "kind",
    "entry",
    "entry_id",
    "description",
    "loan_disbursed",
    "service_charge",
    "loan_paid",
    "written_off",
    "savings_in",
    "savings_out",
    "loan_outstanding",
    "savings_balance",
];

pub const MONTH_HEADER: [&str; 30] = [
    "org_code",
    "month",
    "row",
    "date",
    "worker",
    "collection_day",
    "members",
    "expected",
    "collected",
    "shortfall",
    "collection_rate_pct",
    "members_missed",
    "member_days_missed",
    "loan_collected",
    "savings_collected",
    "loans_disbursed",
    "principal_disbursed",
    "loans_repaid",
    "loans_written_off",
    "written_off",
    "savings_withdrawn",
    "par_as_of",
    "loans_running",
    "outstanding",
    "par1",
    "par30",
    "par90",
    "par1_pct",
    "par30_pct",
    "par90_pct",
];

/// What an export of a statement or a report wrote.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CsvWritten {
    pub path: PathBuf,
    /// Data rows (the header not counted).
    pub rows: u64,
    pub bytes: u64,
}

/// `statement_DHK_12_2026-11-01_2026-11-30.csv`
pub fn statement_file_name(st: &Statement) -> String {
    format!(
        "statement_{}_{}_{}_{}.csv",
        file_part(&st.org),
        file_part(&st.member.member_no),
        st.from,
        st.to
    )
}

/// `report_DHK_2026-11.csv`, or `report_DHK_2026-11_worker-3.csv` for one worker's.
pub fn month_file_name(r: &MonthReport) -> String {
    match &r.worker {
        Some(w) => format!(
            "report_{}_{}_worker-{}.csv",
            file_part(&r.org),
            r.month,
            w.id
        ),
        None => format!("report_{}_{}.csv", file_part(&r.org), r.month),
    }
}

/// Where an export goes: `out` a file, `out` a folder (`name` inside it), or, without
/// `out`, `name` in the export directory (created private when missing). An export never
/// overwrites another of the default name (`…_2.csv`).
pub fn out_path_named(out: Option<&Path>, export_dir: &Path, name: &str) -> Result<PathBuf> {
    match out {
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => {
            Ok(super::free_path(p, name))
        }
        Some(p) => {
            if p.parent() == Some(export_dir) {
                super::ensure_export_dir(export_dir)?;
            }
            Ok(p.to_path_buf())
        }
        None => {
            super::ensure_export_dir(export_dir)?;
            Ok(super::free_path(export_dir, name))
        }
    }
}

/// A name part without path separators or spaces.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Basis points as a plain percentage for a spreadsheet: 9523 → "95.23".
fn pct(bp: i64) -> String {
    format!("{}.{:02}", bp / 100, bp % 100)
}

/// The statement's CSV rows (header not included), as the file holds them.
pub fn statement_rows(st: &Statement) -> Vec<Vec<String>> {
    let m = &st.member;
    let head = |date: String, kind: &str, entry: &str, id: String, text: &str| {
        vec![
            safe_text(&st.org).into_owned(),
            safe_text(&m.member_no).into_owned(),
            safe_text(&m.name).into_owned(),
            date,
            kind.to_string(),
            entry.to_string(),
            id,
            safe_text(text).into_owned(),
        ]
    };
    let balances =
        |b: &StatementBalances| vec![plain(b.loan_outstanding), plain(b.savings_balance)];
    let mut rows = Vec::with_capacity(st.rows.len() + 2);
    let mut opening = head(
        st.from.to_string(),
        "opening",
        "",
        String::new(),
        "opening balance",
    );
    opening.extend(std::iter::repeat_n(String::new(), 6));
    opening.extend(balances(&st.opening));
    rows.push(opening);
    for r in &st.rows {
        let (entry, id) = match r.entry {
            EntryRef::Collection(id) => ("collection", id.to_string()),
            EntryRef::Withdrawal(id) => ("withdrawal", id.to_string()),
            EntryRef::Loan(id) => ("loan", id.to_string()),
            EntryRef::Closure => ("closure", String::new()),
        };
        let mut row = head(
            r.date.to_string(),
            r.kind.as_str(),
            entry,
            id,
            &r.description,
        );
        row.extend(
            [
                r.loan_disbursed,
                r.service_charge,
                r.loan_paid,
                r.written_off,
                r.savings_in,
                r.savings_out,
                r.loan_outstanding,
                r.savings_balance,
            ]
            .map(plain),
        );
        rows.push(row);
    }
    let t = &st.totals;
    let mut total = head(
        st.to.to_string(),
        "total",
        "",
        String::new(),
        "totals and closing balance",
    );
    total.extend(
        [
            t.loan_disbursed,
            t.service_charge,
            t.loan_paid,
            t.written_off,
            t.savings_in,
            t.savings_out,
        ]
        .map(plain),
    );
    total.extend(balances(&st.closing));
    rows.push(total);
    rows
}

/// The monthly report's CSV rows (header not included).
pub fn month_rows(r: &MonthReport) -> Vec<Vec<String>> {
    let head = |row: &str, date: String, worker: &str| {
        vec![
            safe_text(&r.org).into_owned(),
            r.month.to_string(),
            row.to_string(),
            date,
            safe_text(worker).into_owned(),
        ]
    };
    let month_cells = |t: &MonthTotals, p: &Par| {
        let mut v = vec![
            String::new(),
            t.members.to_string(),
            plain(t.expected),
            plain(t.collected),
            plain(t.shortfall),
            pct(t.collection_rate_bp),
            t.members_missed.to_string(),
            t.member_days_missed.to_string(),
            plain(t.loan_collected),
            plain(t.savings_collected),
            t.loans_disbursed.to_string(),
            plain(t.principal_disbursed),
            t.loans_repaid.to_string(),
            t.loans_written_off.to_string(),
            plain(t.written_off),
            plain(t.savings_withdrawn),
            p.as_of.map(|d| d.to_string()).unwrap_or_default(),
            p.loans.to_string(),
            plain(p.outstanding),
            plain(p.par1),
            plain(p.par30),
            plain(p.par90),
        ];
        v.extend([p.par1_bp, p.par30_bp, p.par90_bp].map(pct));
        v
    };
    let own_worker = r.worker.as_ref().map_or("", |w| w.name.as_str());
    let mut rows = Vec::with_capacity(r.days.len() + r.workers.len() + 1);
    for d in &r.days {
        let t = &d.totals;
        let mut row = head("day", d.date.to_string(), own_worker);
        row.extend([
            if d.collection_day { "yes" } else { "no" }.to_string(),
            t.members.to_string(),
            plain(t.expected),
            plain(t.collected),
            plain(t.shortfall),
            pct(t.collection_rate_bp),
            t.members_missed.to_string(),
        ]);
        row.extend(std::iter::repeat_n(
            String::new(),
            MONTH_HEADER.len() - row.len(),
        ));
        rows.push(row);
    }
    let mut total = head("total", r.through.to_string(), own_worker);
    total.extend(month_cells(&r.totals, &r.par));
    rows.push(total);
    for w in &r.workers {
        let mut row = head("worker", r.through.to_string(), &w.worker_name);
        row.extend(month_cells(&w.totals, &w.par));
        rows.push(row);
    }
    rows
}

/// Write a member's statement to `out` as CSV (Export permission; audited as
/// `export.statement`).
pub async fn export_statement(
    store: &Store,
    op: &Operator,
    org: &Organization,
    st: &Statement,
    out: &Path,
) -> Result<CsvWritten> {
    let target = format!("{}/{}", org.code, st.member.member_no);
    require(
        store,
        op,
        Permission::Export,
        Some(org.id),
        "export.statement",
        &target,
    )
    .await?;
    let r = write(out, &STATEMENT_HEADER, &statement_rows(st));
    audit_written(store, op, "export.statement", &target, out, &r).await?;
    r
}

/// Write a monthly report to `out` as CSV (Export permission; audited as `export.report`).
pub async fn export_month(
    store: &Store,
    op: &Operator,
    org: &Organization,
    rep: &MonthReport,
    out: &Path,
) -> Result<CsvWritten> {
    require(
        store,
        op,
        Permission::Export,
        Some(org.id),
        "export.report",
        &org.code,
    )
    .await?;
    let r = write(out, &MONTH_HEADER, &month_rows(rep));
    audit_written(store, op, "export.report", &org.code, out, &r).await?;
    r
}

fn write(out: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<CsvWritten> {
    crate::error::refuse_special(out, "export")?;
    let mut csv = CsvOut::create(out, header)?;
    for r in rows {
        csv.row(&r.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(CsvWritten {
        path: out.to_path_buf(),
        rows: rows.len() as u64,
        bytes: csv.finish()?,
    })
}

async fn audit_written(
    store: &Store,
    op: &Operator,
    action: &str,
    target: &str,
    out: &Path,
    r: &Result<CsvWritten>,
) -> Result<()> {
    let (detail, outcome) = match r {
        Ok(w) => (
            serde_json::json!({ "file": out, "rows": w.rows, "bytes": w.bytes }),
            audit::Outcome::Ok,
        ),
        Err(e) => (
            serde_json::json!({ "file": out, "error": e.to_string() }),
            audit::Outcome::Failed,
        ),
    };
    audit::record(store, &op.username, action, target, detail, outcome).await
}
