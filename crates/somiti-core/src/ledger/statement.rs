//! A member's statement (passbook): every disbursement, payment, deposit, withdrawal,
//! reversal and write-off of one member over a date range, in date order, with the running
//! loan outstanding and savings balance after each row, the balances as the range began and
//! as it ended, and a total per column.
//!
//! Everything is read from the member's own entries (a member has hundreds of rows, not
//! millions), so the statement is also a check on the running balances the accounts keep:
//! its closing balances on the organization's today are the member's stored ones.
//!
//! Order within a day: the entry order (when each was entered), except that a loan's
//! disbursement comes before the payments made to it that day, a write-off after the
//! written-off loan's own entries of that day, and a member's closure last.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::collection::{COLLECTION_COLS, Collection};
use crate::ledger::loan::{self, Loan, LoanStatus};
use crate::ledger::member::{self, Member};
use crate::ledger::money::grouped;
use crate::ledger::org::Organization;
use crate::ledger::savings::{WITHDRAWAL_COLS, Withdrawal};
use crate::on_store;

/// Which member a statement is for: by member number (as typed) or by id (as a list row
/// holds it). An id of another organization is not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    No(String),
    Id(i64),
}

impl From<&str> for MemberRef {
    fn from(no: &str) -> MemberRef {
        MemberRef::No(no.to_string())
    }
}

impl From<i64> for MemberRef {
    fn from(id: i64) -> MemberRef {
        MemberRef::Id(id)
    }
}

/// What a statement row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A loan handed over (principal, with its service charge owed).
    Disbursement,
    /// A collection with a loan part (and perhaps a savings part too).
    Payment,
    /// A collection with a savings part only.
    Deposit,
    /// Savings paid out.
    Withdrawal,
    /// A reversal row: of a collection or of a withdrawal (the amounts count negative).
    Reversal,
    /// What was still owed on a loan, written off by an admin.
    WriteOff,
    /// The member was closed (no amounts).
    Closed,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Disbursement => "disbursement",
            RowKind::Payment => "payment",
            RowKind::Deposit => "deposit",
            RowKind::Withdrawal => "withdrawal",
            RowKind::Reversal => "reversal",
            RowKind::WriteOff => "write_off",
            RowKind::Closed => "closed",
        }
    }

    /// As the faces write it: "write-off" rather than "write_off".
    pub fn label(self) -> &'static str {
        match self {
            RowKind::WriteOff => "write-off",
            k => k.as_str(),
        }
    }
}

/// The entry a row comes from, so a face can open or reverse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "table", content = "id", rename_all = "snake_case")]
pub enum EntryRef {
    /// `collections.id` (a collection or its reversal).
    Collection(i64),
    /// `withdrawals.id` (a withdrawal or its reversal).
    Withdrawal(i64),
    /// `loans.id` (its disbursement or its write-off).
    Loan(i64),
    /// The member's closure.
    Closure,
}

/// One row. Amounts in poisha; a reversal's amounts are negative (it takes back what the
/// entry it cancels put in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRow {
    pub date: NaiveDate,
    pub kind: RowKind,
    pub entry: EntryRef,
    /// The loan the row belongs to (a disbursement, a payment, its reversal, a write-off).
    pub loan_id: Option<i64>,
    /// "loan 2 disbursed: 5,000.00 + 250.00 service charge", "reversal of #123: entered twice"
    pub description: String,
    /// Principal handed over.
    pub loan_disbursed: i64,
    /// The flat service charge owed with it.
    pub service_charge: i64,
    pub loan_paid: i64,
    pub written_off: i64,
    pub savings_in: i64,
    pub savings_out: i64,
    /// After the row: what is still owed on the member's loans.
    pub loan_outstanding: i64,
    /// After the row.
    pub savings_balance: i64,
}

/// Balances at a point of the statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatementBalances {
    pub loan_outstanding: i64,
    pub savings_balance: i64,
}

/// The sum of each amount column over the rows of the range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatementTotals {
    pub loan_disbursed: i64,
    pub service_charge: i64,
    pub loan_paid: i64,
    pub written_off: i64,
    pub savings_in: i64,
    pub savings_out: i64,
}

impl StatementTotals {
    fn add(&mut self, r: &StatementRow) {
        self.loan_disbursed += r.loan_disbursed;
        self.service_charge += r.service_charge;
        self.loan_paid += r.loan_paid;
        self.written_off += r.written_off;
        self.savings_in += r.savings_in;
        self.savings_out += r.savings_out;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub org: String,
    pub member: Member,
    pub worker_name: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// As the day `from` began.
    pub opening: StatementBalances,
    pub rows: Vec<StatementRow>,
    pub totals: StatementTotals,
    /// As the day `to` ended (on today: the member's running balances).
    pub closing: StatementBalances,
}

/// Check a statement's range against the organization's today: neither end in the future,
/// `from` not after `to`. The error names the field.
pub fn check_range(org: &Organization, from: NaiveDate, to: NaiveDate) -> Result<()> {
    let today = org.today();
    for (field, d) in [("from", from), ("to", to)] {
        if d > today {
            return Err(Error::invalid(
                field,
                format!(
                    "{d} is in the future; {} is on {today} ({})",
                    org.code,
                    org.tz_label()
                ),
            ));
        }
    }
    if from > to {
        return Err(Error::invalid(
            "from",
            format!("{from} is after to ({to}); give the earlier date first"),
        ));
    }
    Ok(())
}

/// The statement of one member from `from` (default: the day the member joined) through
/// `to` (default: the organization's today).
pub async fn statement(
    store: &Store,
    op: &Operator,
    org: &Organization,
    who: &MemberRef,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Statement> {
    let target = match who {
        MemberRef::No(no) => format!("{}/{}", org.code, no.trim()),
        MemberRef::Id(id) => format!("{}/member/{id}", org.code),
    };
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "member.statement",
        &target,
    )
    .await?;
    let m = match who {
        MemberRef::No(no) => member::find_by_no(store, org, no).await?,
        MemberRef::Id(id) => match member::get(store, *id).await {
            Ok(m) if m.org_id == org.id => m,
            Ok(_) | Err(Error::NotFound(_)) => {
                return Err(Error::NotFound(format!("member #{id} in {}", org.code)));
            }
            Err(e) => return Err(e),
        },
    };
    let to = to.unwrap_or_else(|| org.today());
    let from = from.unwrap_or_else(|| m.joined_on.min(to));
    check_range(org, from, to)?;

    let loans = loan::for_member(store, m.id).await?;
    let coll_sql = format!(
        "SELECT {COLLECTION_COLS} FROM collections WHERE member_id = $1 AND collected_on <= $2 \
         ORDER BY collected_on, id"
    );
    let wd_sql = format!(
        "SELECT {WITHDRAWAL_COLS} FROM withdrawals WHERE member_id = $1 AND withdrawn_on <= $2 \
         ORDER BY withdrawn_on, id"
    );
    let (collections, withdrawals, closure, worker_name) = on_store!(store, |p| {
        let c = sqlx::query_as::<_, Collection>(sqlx::AssertSqlSafe(coll_sql.as_str()))
            .bind(m.id)
            .bind(to)
            .fetch_all(p)
            .await?;
        let w = sqlx::query_as::<_, Withdrawal>(sqlx::AssertSqlSafe(wd_sql.as_str()))
            .bind(m.id)
            .bind(to)
            .fetch_all(p)
            .await?;
        let k = sqlx::query_as::<_, (NaiveDate, String)>(
            "SELECT closed_on, reason FROM member_closures WHERE member_id = $1 AND closed_on <= $2",
        )
        .bind(m.id)
        .bind(to)
        .fetch_optional(p)
        .await?;
        let n = sqlx::query_scalar::<_, String>("SELECT name FROM workers WHERE id = $1")
            .bind(m.worker_id)
            .fetch_optional(p)
            .await?;
        (c, w, k, n)
    });

    let events = order_events(&loans, &collections, &withdrawals, closure.as_ref(), to);
    let mut run = Running::new(&loans);
    let mut opening = None;
    let mut rows = Vec::new();
    let mut totals = StatementTotals::default();
    for e in events {
        if e.date() >= from && opening.is_none() {
            opening = Some(run.balances());
        }
        let row = run.apply(&e);
        if row.date >= from {
            totals.add(&row);
            rows.push(row);
        }
    }
    let closing = run.balances();
    Ok(Statement {
        org: org.code.clone(),
        member: m,
        worker_name,
        from,
        to,
        opening: opening.unwrap_or(closing),
        rows,
        totals,
        closing,
    })
}

/// One thing that happened to the member's accounts.
enum Event<'a> {
    Disbursed(&'a Loan),
    Collected(&'a Collection),
    Withdrew(&'a Withdrawal),
    WrittenOff(&'a Loan),
    Closed(NaiveDate, &'a str),
}

impl Event<'_> {
    fn date(&self) -> NaiveDate {
        match self {
            Event::Disbursed(l) => l.disbursed_on,
            Event::Collected(c) => c.collected_on,
            Event::Withdrew(w) => w.withdrawn_on,
            Event::WrittenOff(l) => l.closed_on.unwrap_or(l.disbursed_on),
            Event::Closed(d, _) => *d,
        }
    }
}

/// Every event dated on or before `to`, in statement order: by date, then by when it was
/// entered (see the module doc for disbursements, write-offs and the closure).
fn order_events<'a>(
    loans: &'a [Loan],
    collections: &'a [Collection],
    withdrawals: &'a [Withdrawal],
    closure: Option<&'a (NaiveDate, String)>,
    to: NaiveDate,
) -> Vec<Event<'a>> {
    // The earliest and latest entry instants of each loan's payments, per day.
    let mut first_on: HashMap<(i64, NaiveDate), DateTime<Utc>> = HashMap::new();
    let mut last_on: HashMap<(i64, NaiveDate), DateTime<Utc>> = HashMap::new();
    for c in collections {
        if let Some(l) = c.loan_id {
            let k = (l, c.collected_on);
            first_on
                .entry(k)
                .and_modify(|t| *t = (*t).min(c.entered_at))
                .or_insert(c.entered_at);
            last_on
                .entry(k)
                .and_modify(|t| *t = (*t).max(c.entered_at))
                .or_insert(c.entered_at);
        }
    }
    // (date, instant, rank, id): rank orders events entered at the same instant.
    let mut keyed: Vec<(OrderKey, Event<'a>)> = Vec::new();
    let mut disbursed_at: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for l in loans.iter().filter(|l| l.disbursed_on <= to) {
        let at = first_on
            .get(&(l.id, l.disbursed_on))
            .map_or(l.entered_at, |t| (*t).min(l.entered_at));
        disbursed_at.insert(l.id, at);
        keyed.push(((l.disbursed_on, at, 0, l.id), Event::Disbursed(l)));
    }
    for c in collections {
        keyed.push(((c.collected_on, c.entered_at, 1, c.id), Event::Collected(c)));
    }
    for w in withdrawals {
        keyed.push(((w.withdrawn_on, w.entered_at, 1, w.id), Event::Withdrew(w)));
    }
    for l in loans {
        if l.status != LoanStatus::WrittenOff {
            continue;
        }
        let Some(on) = l.closed_on.filter(|d| *d <= to) else {
            continue;
        };
        // After the loan's own entries of that day (none can follow a write-off), before
        // anything else entered later (a next loan).
        let own = [
            last_on.get(&(l.id, on)).copied(),
            disbursed_at
                .get(&l.id)
                .copied()
                .filter(|_| l.disbursed_on == on),
        ];
        let at = own
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        keyed.push(((on, at, 2, l.id), Event::WrittenOff(l)));
    }
    if let Some((on, reason)) = closure {
        keyed.push((
            (*on, DateTime::<Utc>::MAX_UTC, 3, 0),
            Event::Closed(*on, reason),
        ));
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, e)| e).collect()
}

/// Where an event sorts: (date, instant entered, rank for the same instant, id).
type OrderKey = (NaiveDate, DateTime<Utc>, u8, i64);

/// One loan as the statement has run it so far.
struct LoanRun {
    cycle: i64,
    owed: i64,
    paid: i64,
    disbursed: bool,
    written_off: bool,
}

impl LoanRun {
    fn outstanding(&self) -> i64 {
        if self.disbursed && !self.written_off {
            (self.owed - self.paid).max(0)
        } else {
            0
        }
    }
}

/// The running balances: each loan's payments and standing (so the outstanding is what
/// `Loan::outstanding` says of each), and the savings balance.
struct Running {
    loans: HashMap<i64, LoanRun>,
    savings: i64,
}

impl Running {
    fn new(loans: &[Loan]) -> Running {
        Running {
            loans: loans
                .iter()
                .map(|l| {
                    (
                        l.id,
                        LoanRun {
                            cycle: l.cycle,
                            owed: l.owed(),
                            paid: 0,
                            disbursed: false,
                            written_off: false,
                        },
                    )
                })
                .collect(),
            savings: 0,
        }
    }

    fn outstanding(&self) -> i64 {
        self.loans.values().map(LoanRun::outstanding).sum()
    }

    fn balances(&self) -> StatementBalances {
        StatementBalances {
            loan_outstanding: self.outstanding(),
            savings_balance: self.savings,
        }
    }

    fn cycle(&self, loan_id: Option<i64>) -> String {
        loan_id
            .and_then(|l| self.loans.get(&l))
            .map_or_else(|| "loan".into(), |l| format!("loan {}", l.cycle))
    }

    /// Apply one event and return its row (balances after it).
    fn apply(&mut self, e: &Event<'_>) -> StatementRow {
        let mut row = StatementRow {
            date: e.date(),
            kind: RowKind::Closed,
            entry: EntryRef::Closure,
            loan_id: None,
            description: String::new(),
            loan_disbursed: 0,
            service_charge: 0,
            loan_paid: 0,
            written_off: 0,
            savings_in: 0,
            savings_out: 0,
            loan_outstanding: 0,
            savings_balance: 0,
        };
        match e {
            Event::Disbursed(l) => {
                if let Some(r) = self.loans.get_mut(&l.id) {
                    r.disbursed = true;
                }
                row.kind = RowKind::Disbursement;
                row.entry = EntryRef::Loan(l.id);
                row.loan_id = Some(l.id);
                row.loan_disbursed = l.principal;
                row.service_charge = l.service_charge;
                row.description = if l.service_charge > 0 {
                    format!(
                        "loan {} disbursed: {} + {} service charge, installment {}",
                        l.cycle,
                        grouped(l.principal),
                        grouped(l.service_charge),
                        grouped(l.installment)
                    )
                } else {
                    format!(
                        "loan {} disbursed: {}, installment {}",
                        l.cycle,
                        grouped(l.principal),
                        grouped(l.installment)
                    )
                };
            }
            Event::Collected(c) => {
                let sign = if c.reversal_of.is_some() { -1 } else { 1 };
                let before = c
                    .loan_id
                    .and_then(|l| self.loans.get(&l))
                    .map(LoanRun::outstanding);
                if let Some(r) = c.loan_id.and_then(|l| self.loans.get_mut(&l)) {
                    r.paid += sign * c.loan_paisa;
                }
                let after = c
                    .loan_id
                    .and_then(|l| self.loans.get(&l))
                    .map(LoanRun::outstanding);
                self.savings += sign * c.savings_paisa;
                row.entry = EntryRef::Collection(c.id);
                row.loan_id = c.loan_id.filter(|_| c.loan_paisa != 0);
                row.loan_paid = sign * c.loan_paisa;
                row.savings_in = sign * c.savings_paisa;
                let note = c.note.trim();
                if let Some(orig) = c.reversal_of {
                    row.kind = RowKind::Reversal;
                    row.description = if note.is_empty() {
                        format!("reversal of #{orig}")
                    } else {
                        format!("reversal of #{orig}: {note}")
                    };
                } else {
                    let mut d = match (c.loan_paisa > 0, c.savings_paisa > 0) {
                        (true, true) => format!("{} payment and savings", self.cycle(c.loan_id)),
                        (true, false) => format!("{} payment", self.cycle(c.loan_id)),
                        _ => "savings deposit".to_string(),
                    };
                    row.kind = if c.loan_paisa > 0 {
                        RowKind::Payment
                    } else {
                        RowKind::Deposit
                    };
                    if matches!((before, after), (Some(b), Some(0)) if b > 0) {
                        d.push_str(" (repaid)");
                    }
                    if !note.is_empty() {
                        d = format!("{d}: {note}");
                    }
                    row.description = d;
                }
            }
            Event::Withdrew(w) => {
                let sign = if w.reversal_of.is_some() { -1 } else { 1 };
                self.savings -= sign * w.amount;
                row.entry = EntryRef::Withdrawal(w.id);
                row.savings_out = sign * w.amount;
                let reason = w.reason.trim();
                let (kind, what) = match w.reversal_of {
                    Some(orig) => (RowKind::Reversal, format!("reversal of withdrawal #{orig}")),
                    None => (RowKind::Withdrawal, "savings withdrawal".to_string()),
                };
                row.kind = kind;
                row.description = if reason.is_empty() {
                    what
                } else {
                    format!("{what}: {reason}")
                };
            }
            Event::WrittenOff(l) => {
                if let Some(r) = self.loans.get_mut(&l.id) {
                    r.written_off = true;
                }
                row.kind = RowKind::WriteOff;
                row.entry = EntryRef::Loan(l.id);
                row.loan_id = Some(l.id);
                row.written_off = l.written_off;
                row.description = if l.close_reason.trim().is_empty() {
                    format!("loan {} written off", l.cycle)
                } else {
                    format!("loan {} written off: {}", l.cycle, l.close_reason.trim())
                };
            }
            Event::Closed(_, reason) => {
                row.description = if reason.trim().is_empty() {
                    "member closed".to_string()
                } else {
                    format!("member closed: {}", reason.trim())
                };
            }
        }
        row.loan_outstanding = self.outstanding();
        row.savings_balance = self.savings;
        row
    }
}

#[cfg(test)]
// amounts are written taka_poisha: 1_000_00 is 1,000 taka
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn loan(id: i64, cycle: i64, on: &str, entered: &str) -> Loan {
        Loan {
            id,
            org_id: 1,
            member_id: 1,
            cycle,
            disbursed_on: date(on),
            principal: 1_000_00,
            service_charge: 100_00,
            first_due_on: date(on),
            installment: 100_00,
            installments: None,
            status: LoanStatus::Active,
            closed_on: None,
            written_off: 0,
            close_reason: String::new(),
            entered_by: "t".into(),
            entered_at: at(entered),
            paid: 0,
            last_paid_on: None,
        }
    }

    fn coll(id: i64, on: &str, entered: &str, loan: i64, sav: i64, loan_id: i64) -> Collection {
        Collection {
            id,
            org_id: 1,
            member_id: 1,
            collected_on: date(on),
            loan_paisa: loan,
            savings_paisa: sav,
            worker_id: None,
            note: String::new(),
            entered_by: "t".into(),
            entered_at: at(entered),
            reversal_of: None,
            loan_id: (loan > 0).then_some(loan_id),
        }
    }

    #[test]
    fn a_disbursement_comes_before_the_payments_to_it_even_when_entered_later() {
        // A migrated loan: entered long after the payments of its first day.
        let loans = [loan(1, 1, "2026-11-01", "2026-12-01T00:00:00Z")];
        let c = [coll(7, "2026-11-01", "2026-11-01T05:00:00Z", 100_00, 0, 1)];
        let ev = order_events(&loans, &c, &[], None, date("2026-11-30"));
        assert!(matches!(ev[0], Event::Disbursed(_)));
        assert!(matches!(ev[1], Event::Collected(_)));
    }

    #[test]
    fn a_write_off_follows_its_loans_entries_and_precedes_the_next_loan() {
        let mut first = loan(1, 1, "2026-11-01", "2026-11-01T01:00:00Z");
        first.status = LoanStatus::WrittenOff;
        first.closed_on = Some(date("2026-11-10"));
        first.written_off = 1_000_00;
        let second = loan(2, 2, "2026-11-10", "2026-11-10T09:00:00Z");
        let c = [
            coll(1, "2026-11-10", "2026-11-10T04:00:00Z", 100_00, 0, 1),
            coll(2, "2026-11-10", "2026-11-10T10:00:00Z", 100_00, 0, 2),
        ];
        let loans = [first, second];
        let ev = order_events(&loans, &c, &[], None, date("2026-11-30"));
        let order: Vec<&str> = ev
            .iter()
            .map(|e| match e {
                Event::Disbursed(l) if l.id == 1 => "disburse 1",
                Event::Disbursed(_) => "disburse 2",
                Event::Collected(c) if c.id == 1 => "pay 1",
                Event::Collected(_) => "pay 2",
                Event::WrittenOff(_) => "write off 1",
                _ => "other",
            })
            .collect();
        assert_eq!(
            order,
            ["disburse 1", "pay 1", "write off 1", "disburse 2", "pay 2"]
        );
        let mut run = Running::new(&loans);
        let rows: Vec<StatementRow> = ev.iter().map(|e| run.apply(e)).collect();
        assert_eq!(
            rows.iter().map(|r| r.loan_outstanding).collect::<Vec<_>>(),
            [1_100_00, 1_000_00, 0, 1_100_00, 1_000_00]
        );
    }
}
