//! Exports: members (with the ledger's derived balances) and collections (with reversal
//! links), streamed row by row from one query into the CSV writer.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, SecondsFormat, Utc};
use futures::TryStreamExt;
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::csvio::{CsvOut, Table, safe_text};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::balance::{self, Balances};
use crate::ledger::member::{self, MEMBER_COLS, Member};
use crate::ledger::money::plain;
use crate::ledger::org::{self, Organization};
use crate::on_store;

pub const MEMBER_HEADER: [&str; 16] = [
    "org_code",
    "organization",
    "member_no",
    "name",
    "nid",
    "mobile",
    "worker",
    "loan_amount",
    "daily_installment",
    "daily_savings",
    "status",
    "joined_on",
    "loan_outstanding",
    "savings_balance",
    "arrears",
    "days_in_arrears",
];

pub const COLLECTION_HEADER: [&str; 16] = [
    "org_code",
    "organization",
    "id",
    "collected_on",
    "member_no",
    "member_name",
    "worker",
    "loan",
    "savings",
    "loan_net",
    "savings_net",
    "reversal_of",
    "reversed_by",
    "note",
    "entered_by",
    "entered_at",
];

/// What an export wrote, with control totals (poisha) to reconcile against the console:
/// members: Σ loan outstanding and Σ savings balance; collections: Σ net loan and Σ net
/// savings (reversal rows count negative, as in `loan_net`/`savings_net`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportReport {
    pub table: Table,
    pub org: String,
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub loan_total: i64,
    pub savings_total: i64,
}

/// Export the member register of `org` (optionally only the rows matching the register's
/// filter: name, number, mobile or NID) to `out`, with balances as of today.
pub async fn export_members(
    store: &Store,
    op: &Operator,
    org: &Organization,
    filter: Option<&str>,
    out: &Path,
) -> Result<ExportReport> {
    require(
        store,
        op,
        Permission::Export,
        Some(org.id),
        "export.members",
        &org.code,
    )
    .await?;
    let r = write_members(store, org, filter, out).await;
    audit_export(store, op, "export.members", org, out, &r).await?;
    r
}

/// Export the collections of `org` collected between `from` and `to` (inclusive, either
/// open), reversals included, to `out`.
pub async fn export_collections(
    store: &Store,
    op: &Operator,
    org: &Organization,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    out: &Path,
) -> Result<ExportReport> {
    require(
        store,
        op,
        Permission::Export,
        Some(org.id),
        "export.collections",
        &org.code,
    )
    .await?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(Error::invalid(
            "from",
            format!("{f} is after --to {t}; give the earlier date first"),
        ));
    }
    let r = write_collections(store, org, from, to, out).await;
    audit_export(store, op, "export.collections", org, out, &r).await?;
    r
}

/// The scheduled export: a members and a collections CSV for every organization, named
/// `members_<ORG>_<YYYY-MM-DD_HH-MM>.csv` (org local time) in `dir`, as the system operator.
pub async fn export_all(store: &Store, dir: &Path) -> Result<Vec<PathBuf>> {
    let op = Operator::system();
    let mut written = Vec::new();
    for o in org::list(store).await? {
        for table in [Table::Members, Table::Collections] {
            let name = super::default_file_name(table, &o, Utc::now()).replacen(
                '_',
                &format!("_{}_", o.code),
                1,
            );
            let path = super::free_path(dir, &name);
            match table {
                Table::Members => export_members(store, &op, &o, None, &path).await?,
                Table::Collections => export_collections(store, &op, &o, None, None, &path).await?,
            };
            written.push(path);
        }
    }
    Ok(written)
}

async fn audit_export(
    store: &Store,
    op: &Operator,
    action: &str,
    org: &Organization,
    out: &Path,
    r: &Result<ExportReport>,
) -> Result<()> {
    let (detail, outcome) = match r {
        Ok(rep) => (
            serde_json::json!({ "file": out, "rows": rep.rows, "bytes": rep.bytes }),
            audit::Outcome::Ok,
        ),
        Err(e) => (
            serde_json::json!({ "file": out, "error": e.to_string() }),
            audit::Outcome::Failed,
        ),
    };
    audit::record(store, &op.username, action, &org.code, detail, outcome).await
}

#[derive(sqlx::FromRow)]
struct MemberLine {
    #[sqlx(flatten)]
    member: Member,
    worker_name: Option<String>,
}

async fn write_members(
    store: &Store,
    org: &Organization,
    filter: Option<&str>,
    out: &Path,
) -> Result<ExportReport> {
    let pattern = member::filter_pattern(filter);
    let cols = MEMBER_COLS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, w.name AS worker_name FROM members m LEFT JOIN workers w ON w.id = m.worker_id \
         WHERE m.org_id = $1{filter} ORDER BY LENGTH(m.member_no), m.member_no",
        filter = if pattern.is_some() {
            member::FILTER_SQL
        } else {
            ""
        },
    );
    let (today, days) = (org.today(), org.collection_days());
    let mut accounts = balance::org_accounts(store, org.id).await?;
    let mut csv = CsvOut::create(out, &MEMBER_HEADER)?;
    let mut rep = report(Table::Members, org, out);
    let mut write = |r: MemberLine| -> Result<()> {
        let a = accounts.remove(&r.member.id).unwrap_or_default();
        let b = Balances::of(&r.member, &a, &days, today);
        let m = &r.member;
        // loan_amount and daily_installment: the terms of the member's current (or latest)
        // loan, so an exported file still reads as it always did.
        let (loan_amount, installment) = a
            .loan
            .as_ref()
            .map_or((0, 0), |l| (l.principal, l.installment));
        rep.rows += 1;
        rep.loan_total += b.loan_outstanding;
        rep.savings_total += b.savings_balance;
        csv.row(&[
            &safe_text(&org.code),
            &safe_text(&org.name),
            &safe_text(&m.member_no),
            &safe_text(&m.name),
            &m.nid,
            &m.mobile,
            &safe_text(r.worker_name.as_deref().unwrap_or("")),
            &plain(loan_amount),
            &plain(installment),
            &plain(m.daily_savings),
            &m.status,
            &m.joined_on.to_string(),
            &plain(b.loan_outstanding),
            &plain(b.savings_balance),
            &plain(b.arrears),
            &b.days_in_arrears.to_string(),
        ])
    };
    on_store!(store, |p| {
        let mut q = sqlx::query_as::<_, MemberLine>(sqlx::AssertSqlSafe(sql.as_str())).bind(org.id);
        if let Some(pat) = &pattern {
            q = q.bind(pat);
        }
        let mut rows = q.fetch(p);
        while let Some(r) = rows.try_next().await? {
            write(r)?;
        }
    });
    rep.bytes = csv.finish()?;
    Ok(rep)
}

#[derive(sqlx::FromRow)]
struct CollectionLine {
    id: i64,
    collected_on: NaiveDate,
    loan_paisa: i64,
    savings_paisa: i64,
    note: String,
    entered_by: String,
    entered_at: chrono::DateTime<Utc>,
    reversal_of: Option<i64>,
    reversed_by: Option<i64>,
    member_no: String,
    member_name: String,
    worker_name: Option<String>,
}

async fn write_collections(
    store: &Store,
    org: &Organization,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    out: &Path,
) -> Result<ExportReport> {
    let mut sql = String::from(
        "SELECT c.id, c.collected_on, c.loan_paisa, c.savings_paisa, c.note, c.entered_by, c.entered_at, \
         c.reversal_of, r.id AS reversed_by, m.member_no, m.name AS member_name, w.name AS worker_name \
         FROM collections c JOIN members m ON m.id = c.member_id \
         LEFT JOIN workers w ON w.id = c.worker_id \
         LEFT JOIN collections r ON r.reversal_of = c.id \
         WHERE c.org_id = $1",
    );
    let mut n = 1;
    for (d, op) in [(from, ">="), (to, "<=")] {
        if d.is_some() {
            n += 1;
            sql += &format!(" AND c.collected_on {op} ${n}");
        }
    }
    sql += " ORDER BY c.collected_on, c.id";
    let tz = org.tz();
    let mut csv = CsvOut::create(out, &COLLECTION_HEADER)?;
    let mut rep = report(Table::Collections, org, out);
    let mut write = |c: CollectionLine| -> Result<()> {
        let sign = if c.reversal_of.is_some() { -1 } else { 1 };
        rep.rows += 1;
        rep.loan_total += sign * c.loan_paisa;
        rep.savings_total += sign * c.savings_paisa;
        let id_text = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        csv.row(&[
            &safe_text(&org.code),
            &safe_text(&org.name),
            &c.id.to_string(),
            &c.collected_on.to_string(),
            &safe_text(&c.member_no),
            &safe_text(&c.member_name),
            &safe_text(c.worker_name.as_deref().unwrap_or("")),
            &plain(c.loan_paisa),
            &plain(c.savings_paisa),
            &plain(sign * c.loan_paisa),
            &plain(sign * c.savings_paisa),
            &id_text(c.reversal_of),
            &id_text(c.reversed_by),
            &safe_text(&c.note),
            &safe_text(&c.entered_by),
            &c.entered_at
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        ])
    };
    on_store!(store, |p| {
        let mut q =
            sqlx::query_as::<_, CollectionLine>(sqlx::AssertSqlSafe(sql.as_str())).bind(org.id);
        for d in [from, to].into_iter().flatten() {
            q = q.bind(d);
        }
        let mut rows = q.fetch(p);
        while let Some(r) = rows.try_next().await? {
            write(r)?;
        }
    });
    rep.bytes = csv.finish()?;
    Ok(rep)
}

fn report(table: Table, org: &Organization, out: &Path) -> ExportReport {
    ExportReport {
        table,
        org: org.code.clone(),
        path: out.to_path_buf(),
        rows: 0,
        bytes: 0,
        loan_total: 0,
        savings_total: 0,
    }
}
