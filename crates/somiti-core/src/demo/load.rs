//! Loading the demo's rows in one transaction: workers, members, then the collections as
//! the simulator makes them, all through the dialect's one bulk loader
//! (`db::dialect::insert_rows`: multi-row INSERTs on SQLite, `COPY` on PostgreSQL), each
//! row in the columns of `backup::schema::TABLES`.

use crate::backup::schema::{self, TableSpec, Val, Values};
use crate::db::{Tx, dialect};
use crate::error::Result;

use super::plan::{NewMember, NewWorker, OrgPlan};
use super::sim::{CHUNK_ROWS, Entry, EntryStream, NewLoan};

fn spec(name: &str) -> &'static TableSpec {
    schema::spec(name).expect("a backup table")
}

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

fn opt(v: Option<i64>) -> Val {
    v.map_or(Val::Null, Val::Int)
}

/// A `workers` row, in the columns of `TABLES`.
pub(super) fn worker_values(w: &NewWorker) -> Values {
    vec![
        Val::Int(w.id),
        Val::Int(w.org_id),
        text(&w.name),
        text(&w.mobile),
        Val::Bool(true),
    ]
}

/// A `members` row, in the columns of `TABLES`.
pub(super) fn member_values(m: &NewMember) -> Values {
    vec![
        Val::Int(m.id),
        Val::Int(m.org_id),
        text(&m.member_no),
        text(&m.name),
        text(&m.nid),
        text(&m.mobile),
        opt(m.worker_id),
        Val::Int(m.daily_savings),
        text(m.status),
        Val::Text(m.joined_on.format("%Y-%m-%d").to_string()),
    ]
}

fn day(d: chrono::NaiveDate) -> Val {
    Val::Text(d.format("%Y-%m-%d").to_string())
}

/// A member's first loan as a `loans` row, disbursed and first due on joining; `paid` is
/// written after the collections. A closed member left before paying: the loan was written
/// off on joining (and the member settled, see `closure_values`).
pub(super) fn loan_values(m: &NewMember) -> Option<Values> {
    (m.loan_amount > 0).then(|| {
        let closed = m.status == "closed";
        vec![
            Val::Int(m.loan_id),
            Val::Int(m.org_id),
            Val::Int(m.id),
            Val::Int(1),
            day(m.joined_on),
            Val::Int(m.loan_amount),
            Val::Int(0),
            day(m.joined_on),
            Val::Int(m.daily_installment),
            Val::Null,
            text(if closed { "written_off" } else { "active" }),
            if closed { day(m.joined_on) } else { Val::Null },
            Val::Int(if closed { m.loan_amount } else { 0 }),
            text(if closed {
                "left the somiti before paying"
            } else {
                ""
            }),
            text("demo"),
            Val::Text(schema::instant_text(&chrono::Utc::now())),
            Val::Int(0),
            Val::Null,
        ]
    })
}

/// A closed member's `member_closures` row: closed on joining, nothing left to pay out.
pub(super) fn closure_values(m: &NewMember) -> Option<Values> {
    (m.status == "closed").then(|| {
        vec![
            Val::Int(m.id),
            Val::Int(m.org_id),
            day(m.joined_on),
            text("left the somiti"),
            text("demo"),
            Val::Text(schema::instant_text(&chrono::Utc::now())),
        ]
    })
}

/// A later cycle's `loans` row: repaid (on the day the next followed) or running.
pub(super) fn new_loan_values(l: &NewLoan, repaid_on: Option<chrono::NaiveDate>) -> Values {
    vec![
        Val::Int(l.id),
        Val::Int(l.org_id),
        Val::Int(l.member_id),
        Val::Int(l.cycle),
        day(l.disbursed_on),
        Val::Int(l.principal),
        Val::Int(0),
        day(l.first_due_on),
        Val::Int(l.installment),
        Val::Null,
        text(if repaid_on.is_some() {
            "repaid"
        } else {
            "active"
        }),
        repaid_on.map_or(Val::Null, day),
        Val::Int(0),
        text(""),
        text(&l.by),
        Val::Text(schema::instant_text(&l.at)),
        Val::Int(0),
        Val::Null,
    ]
}

/// A `collections` row, in the columns of `TABLES`.
pub(super) fn entry_values(e: &Entry<'_>) -> Values {
    vec![
        Val::Int(e.id),
        Val::Int(e.org_id),
        Val::Int(e.member_id),
        Val::Text(e.collected_on.format("%Y-%m-%d").to_string()),
        Val::Int(e.loan),
        Val::Int(e.savings),
        opt(e.worker_id),
        text(e.note),
        text(e.entered_by),
        Val::Text(schema::instant_text(&e.entered_at)),
        opt(e.reversal_of),
        opt(e.loan_id),
    ]
}

/// Load every row of `plans` and of the stream (explicit ids, given by the plan).
pub(super) async fn load<'a>(
    tx: &mut Tx,
    plans: &'a [OrgPlan],
    stream: &mut EntryStream<'a>,
) -> Result<()> {
    let settings = dialect::begin_bulk(tx).await?;
    let r = load_rows(tx, plans, stream).await;
    let restore = dialect::end_bulk(tx, settings).await;
    r?;
    restore?;
    Ok(())
}

async fn load_rows<'a>(
    tx: &mut Tx,
    plans: &'a [OrgPlan],
    stream: &mut EntryStream<'a>,
) -> Result<()> {
    let workers = plans.iter().flat_map(|p| &p.new_workers).map(worker_values);
    insert_chunked(tx, spec("workers"), workers).await?;
    let members = plans.iter().flat_map(|p| &p.members).map(member_values);
    insert_chunked(tx, spec("members"), members).await?;
    let loans = plans
        .iter()
        .flat_map(|p| &p.members)
        .filter_map(loan_values);
    insert_chunked(tx, spec("loans"), loans).await?;
    let closures = plans
        .iter()
        .flat_map(|p| &p.members)
        .filter_map(closure_values);
    insert_chunked(tx, spec("member_closures"), closures).await?;

    // Entries of a later cycle come before its loan row (found as the simulation runs):
    // references are checked at the end of the transaction.
    dialect::defer_references(tx).await?;
    let unchecked = dialect::unchecked_load(tx, "collections").await?;
    let mut rows_in = dialect::RowLoader::begin(tx, spec("collections")).await?;
    let mut buf = Vec::with_capacity(CHUNK_ROWS + 64);
    while stream.fill(&mut buf, CHUNK_ROWS) {
        let rows = buf.iter().map(entry_values).collect();
        buf.clear();
        if let Err(e) = rows_in.send(rows).await {
            rows_in.abort("demo load failed").await;
            return Err(e);
        }
    }
    rows_in.finish().await?;
    // The first loans repaid in full become repaid; then the later cycles, each repaid or
    // running as the simulation left it (one running loan per member at every step).
    for p in plans {
        crate::ledger::accounts::rebuild_tx(tx, Some(p.org.id)).await?;
    }
    let later = std::mem::take(&mut stream.new_loans);
    let rows = later
        .iter()
        .map(|l| new_loan_values(l, stream.repaid.get(&l.id).copied()))
        .collect::<Vec<_>>()
        .into_iter();
    insert_chunked(tx, spec("loans"), rows).await?;
    dialect::checked_after_load(tx, unchecked).await?;
    // The running balances of the accounts, from the entries just loaded.
    for p in plans {
        crate::ledger::accounts::rebuild_tx(tx, Some(p.org.id)).await?;
    }

    // The identity sequences continue after the ids given here.
    dialect::ids_after_max(tx, &["workers", "members", "loans", "collections"]).await
}

/// Rows from `rows`, `CHUNK_ROWS` at a time (a million members are not all held as
/// values at once).
async fn insert_chunked(
    tx: &mut Tx,
    spec: &TableSpec,
    rows: impl Iterator<Item = Values>,
) -> Result<()> {
    let mut rows_in = dialect::RowLoader::begin(tx, spec).await?;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk = rows.by_ref().take(CHUNK_ROWS).collect();
        if let Err(e) = rows_in.send(chunk).await {
            rows_in.abort("demo load failed").await;
            return Err(e);
        }
    }
    rows_in.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::schema::ColType;

    /// Each row has a value of the right kind for every column of its table in `TABLES`.
    fn fits(table: &str, row: &Values) {
        let s = spec(table);
        assert_eq!(row.len(), s.cols.len(), "{table}: one value per column");
        for (c, v) in s.cols.iter().zip(row) {
            let ok = match (c.ty, v) {
                (_, Val::Null) => c.nullable,
                (ColType::Int, Val::Int(_)) | (ColType::Bool, Val::Bool(_)) => true,
                (ColType::Text, Val::Text(_)) => true,
                (ColType::Date, Val::Text(t)) => schema::parse_date(t).is_some(),
                (ColType::Instant, Val::Text(t)) => schema::parse_instant(t).is_some(),
                _ => false,
            };
            assert!(ok, "{table}.{}: {v:?}", c.name);
        }
    }

    #[test]
    fn rows_follow_the_backup_tables() {
        let w = NewWorker {
            id: 1,
            org_id: 1,
            name: "Rahim".into(),
            mobile: "01712345678".into(),
        };
        fits("workers", &worker_values(&w));
        let m = NewMember {
            id: 2,
            org_id: 1,
            member_no: "1".into(),
            name: "Rahima".into(),
            nid: "1234567890".into(),
            mobile: "01812345678".into(),
            worker_id: None,
            loan_id: 4,
            loan_amount: 1,
            daily_installment: 1,
            daily_savings: 1,
            status: "active",
            joined_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            user: 0,
        };
        fits("members", &member_values(&m));
        fits("loans", &loan_values(&m).expect("a member with a loan"));
        let e = Entry {
            id: 3,
            org_id: 1,
            member_id: 2,
            collected_on: m.joined_on,
            loan: 1,
            savings: 1,
            worker_id: Some(1),
            note: "",
            entered_by: "rahim",
            entered_at: chrono::Utc::now(),
            reversal_of: None,
            loan_id: Some(4),
        };
        fits("collections", &entry_values(&e));
        let closed = NewMember {
            status: "closed",
            ..m
        };
        fits("loans", &loan_values(&closed).expect("a loan"));
        fits("member_closures", &closure_values(&closed).expect("closed"));
        let l = NewLoan {
            id: 5,
            org_id: 1,
            member_id: 2,
            cycle: 2,
            disbursed_on: closed.joined_on,
            first_due_on: closed.joined_on,
            principal: 10,
            installment: 1,
            by: "demo".into(),
            at: chrono::Utc::now(),
        };
        fits("loans", &new_loan_values(&l, None));
        fits("loans", &new_loan_values(&l, Some(closed.joined_on)));
    }
}
