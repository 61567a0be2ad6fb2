//! Balances, read from the accounts' running balances (migration 0009): a loan's `paid`
//! and a savings account's `deposited`/`withdrawn` change in the transaction of every entry,
//! so nothing here sums the history. What fell due comes from the loan's schedule
//! (`ledger::loan`) and the member's savings plan over the collection calendar.
//!
//! Arrears combine the two: past loan installments and savings dues, less what was paid
//! towards them (a member's extra savings count against a late installment, as they always
//! did here).

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::db::Store;
use crate::error::Result;
use crate::ledger::loan::{LOAN_COLS, Loan, LoanStatus};
use crate::ledger::member::Member;
use crate::ledger::org::CollectionDays;
use crate::ledger::savings::SavingsAccount;
use crate::on_store;

/// What a member's savings plan made due from joining through `through` (inclusive).
pub fn savings_due_through(m: &Member, days: &CollectionDays, through: NaiveDate) -> i64 {
    days.count_between(m.joined_on, through)
        .saturating_mul(m.daily_savings)
}

/// The savings due on `date` alone (zero on a day off or before joining).
pub fn savings_due_on(m: &Member, days: &CollectionDays, date: NaiveDate) -> i64 {
    if date < m.joined_on || !days.is_collection_day(date) {
        0
    } else {
        m.daily_savings
    }
}

/// Arrears and advance are one balance seen from two sides: unpaid past dues, or payments
/// made ahead of them. A member has at most one of the two, and neither is ever negative;
/// this is how every face writes it: `440.00`, or `advance 340.00` for a payment ahead.
pub fn carried_text(arrears: i64, advance: i64) -> String {
    if advance > 0 {
        format!("advance {}", crate::ledger::money::grouped(advance))
    } else {
        crate::ledger::money::grouped(arrears.max(0))
    }
}

/// The register's short arrears cell: days in arrears, or `adv` for a member paid ahead.
pub fn arrears_days_cell(days_in_arrears: i64, advance: i64) -> String {
    if advance > 0 {
        "adv".into()
    } else {
        days_in_arrears.to_string()
    }
}

/// A member's standing in words: "arrears 440.00 (2 days)", "advance 340.00 (paid ahead)"
/// or "arrears 0.00 (0 days)".
pub fn standing_text(arrears: i64, days_in_arrears: i64, advance: i64) -> String {
    if advance > 0 {
        format!(
            "advance {} (paid ahead)",
            crate::ledger::money::grouped(advance)
        )
    } else {
        format!(
            "arrears {} ({} day{})",
            crate::ledger::money::grouped(arrears),
            days_in_arrears,
            if days_in_arrears == 1 { "" } else { "s" }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Balances {
    pub loan_outstanding: i64,
    pub savings_balance: i64,
    /// Past dues not yet paid (today's installment is not yet past due).
    pub arrears: i64,
    pub days_in_arrears: i64,
    /// Paid ahead of the past dues (zero when in arrears).
    pub advance: i64,
}

/// A member's accounts as the faces read them: the loan that counts (the active one, or
/// else the latest) and the savings account.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Accounts {
    pub loan: Option<Loan>,
    pub savings: SavingsAccount,
}

impl Accounts {
    /// The loan still being paid, if any.
    pub fn active_loan(&self) -> Option<&Loan> {
        self.loan
            .as_ref()
            .filter(|l| l.status == LoanStatus::Active)
    }
}

impl Balances {
    /// Balances on `today` from the running balances.
    pub fn of(m: &Member, a: &Accounts, days: &CollectionDays, today: NaiveDate) -> Balances {
        let yesterday = today.pred_opt().unwrap_or(today);
        let (loan_due, loan_paid, installment) = match a.active_loan() {
            Some(l) => (l.due_through(days, yesterday), l.paid, l.installment),
            None => (0, 0, 0),
        };
        let sav_due = savings_due_through(m, days, yesterday);
        let carried = loan_due + sav_due - loan_paid - a.savings.deposited;
        let (arrears, advance) = (carried.max(0), (-carried).max(0));
        let daily = installment + m.daily_savings;
        let days_in_arrears = if daily > 0 {
            (arrears + daily - 1) / daily
        } else {
            0
        };
        Balances {
            loan_outstanding: a.active_loan().map_or(0, Loan::outstanding),
            savings_balance: a.savings.balance(),
            arrears,
            days_in_arrears,
            advance,
        }
    }
}

/// The accounts of the given members (a register page): two reads, whatever the history.
pub async fn accounts_of(store: &Store, member_ids: &[i64]) -> Result<HashMap<i64, Accounts>> {
    if member_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = member_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    accounts_where(store, &format!("member_id IN ({ids})"), None).await
}

/// The accounts of every member of an organization (an export).
pub async fn org_accounts(store: &Store, org_id: i64) -> Result<HashMap<i64, Accounts>> {
    accounts_where(store, "org_id = $1", Some(org_id)).await
}

async fn accounts_where(
    store: &Store,
    cond: &str,
    org_id: Option<i64>,
) -> Result<HashMap<i64, Accounts>> {
    // The latest cycle of each member is the active loan when there is one.
    let loans_sql = format!(
        "SELECT {LOAN_COLS} FROM loans l WHERE l.{cond} \
         AND l.cycle = (SELECT MAX(x.cycle) FROM loans x WHERE x.member_id = l.member_id)"
    );
    let savings_sql = format!(
        "SELECT member_id, org_id, deposited, withdrawn, last_paid_on FROM savings_accounts WHERE {cond}"
    );
    let (loans, savings) = on_store!(store, |p| {
        let mut lq = sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(loans_sql.as_str()));
        let mut sq = sqlx::query_as::<_, SavingsAccount>(sqlx::AssertSqlSafe(savings_sql.as_str()));
        if let Some(o) = org_id {
            lq = lq.bind(o);
            sq = sq.bind(o);
        }
        (lq.fetch_all(p).await?, sq.fetch_all(p).await?)
    });
    let mut out: HashMap<i64, Accounts> = HashMap::new();
    for l in loans {
        let member = l.member_id;
        out.entry(member).or_default().loan = Some(l);
    }
    for s in savings {
        out.entry(s.member_id).or_default().savings = s;
    }
    Ok(out)
}

/// What an organization's members stood at when the day `date` began, for the review of
/// that day: each member's loans that were running on it and the savings deposited before
/// it. The running balances less the entries dated on or after `date` (a handful for a
/// recent day), so the review reads no history.
pub async fn accounts_at(
    store: &Store,
    org_id: i64,
    date: NaiveDate,
) -> Result<HashMap<i64, (Vec<Loan>, i64)>> {
    // The review's own read (one snapshot), so this and the review cannot differ.
    let r = crate::db::dialect::review_rows(store, org_id, date).await?;
    let (loans, savings, since) = (r.loans, r.savings, r.since);
    Ok(accounts_from(loans, savings, since))
}

/// [`accounts_at`] from its rows: the loans running on the day, (member, deposited) of
/// the savings accounts, and (member, loan, loan paid, savings paid) since the day began.
pub fn accounts_from(
    loans: Vec<Loan>,
    savings: Vec<(i64, i64)>,
    since: Vec<(i64, Option<i64>, i64, i64)>,
) -> HashMap<i64, (Vec<Loan>, i64)> {
    let mut out: HashMap<i64, (Vec<Loan>, i64)> = HashMap::with_capacity(savings.len());
    for (member, deposited) in savings {
        out.entry(member).or_default().1 = deposited;
    }
    let mut later_loan: HashMap<i64, i64> = HashMap::new();
    for (member, loan, l, s) in since {
        out.entry(member).or_default().1 -= s;
        if let Some(loan) = loan {
            *later_loan.entry(loan).or_default() += l;
        }
    }
    for mut loan in loans {
        loan.paid -= later_loan.get(&loan.id).copied().unwrap_or(0);
        out.entry(loan.member_id).or_default().0.push(loan);
    }
    out
}

#[cfg(test)]
// amounts are written taka_poisha: 1_000_00 is 1,000 taka
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::ledger::org::DEFAULT_COLLECTION_DAYS;

    fn member() -> Member {
        Member {
            id: 1,
            org_id: 1,
            member_no: "1".into(),
            name: "Rahima".into(),
            nid: "1234567890".into(),
            mobile: "01712345678".into(),
            worker_id: None,
            daily_savings: 20_00,
            status: "active".into(),
            joined_on: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), // Monday
            version: 1,
            updated_by: None,
            updated_at: None,
        }
    }

    fn accounts(m: &Member, loan_paid: i64, deposited: i64) -> Accounts {
        Accounts {
            loan: Some(Loan {
                id: 1,
                org_id: 1,
                member_id: m.id,
                cycle: 1,
                disbursed_on: m.joined_on,
                principal: 1_000_00,
                service_charge: 0,
                first_due_on: m.joined_on,
                installment: 300_00,
                installments: None,
                status: LoanStatus::Active,
                closed_on: None,
                written_off: 0,
                close_reason: String::new(),
                entered_by: "t".into(),
                entered_at: chrono::Utc::now(),
                paid: loan_paid,
                last_paid_on: None,
            }),
            savings: SavingsAccount {
                member_id: m.id,
                org_id: 1,
                deposited,
                withdrawn: 0,
                last_paid_on: None,
            },
        }
    }

    #[test]
    fn savings_fall_due_on_collection_days_from_joining() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let thu = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        assert_eq!(savings_due_through(&m, &days, thu), 80_00);
        assert_eq!(savings_due_on(&m, &days, thu), 20_00);
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(savings_due_on(&m, &days, fri), 0);
    }

    #[test]
    fn arrears_and_days_in_arrears() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let wed = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        // due Mon+Tue = 640; paid 320 -> arrears 320 = 1 day
        let b = Balances::of(&m, &accounts(&m, 300_00, 20_00), &days, wed);
        assert_eq!(b.arrears, 320_00);
        assert_eq!(b.days_in_arrears, 1);
        assert_eq!(b.loan_outstanding, 700_00);
        assert_eq!(b.savings_balance, 20_00);
        assert_eq!(b.advance, 0);
        assert_eq!(
            standing_text(b.arrears, b.days_in_arrears, b.advance),
            "arrears 320.00 (1 day)"
        );
    }

    #[test]
    fn paying_ahead_is_an_advance_never_a_negative_arrears() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let wed = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        // due Mon+Tue = 640; paid 980 -> 340 ahead
        let b = Balances::of(&m, &accounts(&m, 900_00, 80_00), &days, wed);
        assert_eq!((b.arrears, b.advance, b.days_in_arrears), (0, 340_00, 0));
        assert_eq!(carried_text(b.arrears, b.advance), "advance 340.00");
        assert_eq!(carried_text(440_00, 0), "440.00");
        assert_eq!(arrears_days_cell(b.days_in_arrears, b.advance), "adv");
        assert_eq!(
            standing_text(b.arrears, b.days_in_arrears, b.advance),
            "advance 340.00 (paid ahead)"
        );
    }

    #[test]
    fn a_repaid_or_written_off_loan_owes_nothing_and_only_savings_fall_due() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let wed = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        let mut a = accounts(&m, 200_00, 0);
        a.loan.as_mut().unwrap().status = LoanStatus::WrittenOff;
        let b = Balances::of(&m, &a, &days, wed);
        assert_eq!(b.loan_outstanding, 0);
        assert_eq!(b.arrears, 40_00, "two days of savings");
        assert_eq!(b.days_in_arrears, 2);
    }
}
