//! Derived balances. Nothing here is stored: loan outstanding, savings balance and arrears
//! are computed from the member's terms, the collection calendar and the collections.
//!
//! Dues: from the day a member joins, every collection day falls due with the daily
//! installment (until the loan is fully due) plus the daily savings. A reversal row carries
//! the amounts of the entry it cancels, so "effective" sums subtract reversal rows.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::db::{Store, Tx};
use crate::error::Result;
use crate::ledger::member::Member;
use crate::ledger::org::CollectionDays;
use crate::{on_store, on_tx};

/// Effective amounts paid by `m` (all time), as two columns `loan_paid`, `savings_paid`.
pub const PAID_SUBQUERIES: &str = "\
CAST(COALESCE((SELECT SUM(CASE WHEN c.reversal_of IS NULL THEN c.loan_paisa ELSE -c.loan_paisa END) \
FROM collections c WHERE c.member_id = m.id), 0) AS BIGINT) AS loan_paid, \
CAST(COALESCE((SELECT SUM(CASE WHEN c.reversal_of IS NULL THEN c.savings_paisa ELSE -c.savings_paisa END) \
FROM collections c WHERE c.member_id = m.id), 0) AS BIGINT) AS savings_paid";

/// SQL expressions for effective sums over a `collections` row set.
pub const EFFECTIVE_LOAN: &str = "CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END), 0) AS BIGINT)";
pub const EFFECTIVE_SAVINGS: &str = "CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN savings_paisa ELSE -savings_paisa END), 0) AS BIGINT)";

/// What fell due from joining through `through` (inclusive): (loan, savings).
pub fn due_through(m: &Member, days: &CollectionDays, through: NaiveDate) -> (i64, i64) {
    let n = days.count_between(m.joined_on, through);
    let loan = n.saturating_mul(m.daily_installment).min(m.loan_amount);
    let savings = n.saturating_mul(m.daily_savings);
    (loan, savings)
}

/// What falls due on `date` alone: (loan, savings); zero on a day off or before joining.
pub fn due_on(m: &Member, days: &CollectionDays, date: NaiveDate) -> (i64, i64) {
    if date < m.joined_on || !days.is_collection_day(date) {
        return (0, 0);
    }
    let (loan_before, _) = due_through(m, days, date.pred_opt().unwrap_or(date));
    let loan = m
        .daily_installment
        .min((m.loan_amount - loan_before).max(0));
    (loan, m.daily_savings)
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

impl Balances {
    /// Balances on `today`, given everything paid so far.
    pub fn as_of(
        m: &Member,
        days: &CollectionDays,
        today: NaiveDate,
        loan_paid: i64,
        savings_paid: i64,
    ) -> Balances {
        let yesterday = today.pred_opt().unwrap_or(today);
        let (loan_due, sav_due) = due_through(m, days, yesterday);
        let carried = loan_due + sav_due - loan_paid - savings_paid;
        let (arrears, advance) = (carried.max(0), (-carried).max(0));
        let daily = m.daily_installment + m.daily_savings;
        let days_in_arrears = if daily > 0 {
            (arrears + daily - 1) / daily
        } else {
            0
        };
        Balances {
            loan_outstanding: m.loan_amount - loan_paid,
            savings_balance: savings_paid,
            arrears,
            days_in_arrears,
            advance,
        }
    }
}

/// Effective (loan, savings) paid by a member, optionally only before a date.
pub async fn paid_through(
    store: &Store,
    member_id: i64,
    before: Option<NaiveDate>,
) -> Result<(i64, i64)> {
    let sql = format!(
        "SELECT {EFFECTIVE_LOAN}, {EFFECTIVE_SAVINGS} FROM collections WHERE member_id = $1{}",
        if before.is_some() {
            " AND collected_on < $2"
        } else {
            ""
        }
    );
    Ok(on_store!(store, |p| {
        let mut q =
            sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.as_str())).bind(member_id);
        if let Some(d) = before {
            q = q.bind(d);
        }
        q.fetch_one(p).await?
    }))
}

/// Effective (loan, savings) paid by each member of an organization on days before `date`.
///
/// Summing every collection before a date grows with the ledger's age; instead the sums
/// through the latest closed day come from `close_balances` (see migration 0004), and only
/// the days between that close and `date` are read.
pub async fn paid_before(
    store: &Store,
    org_id: i64,
    date: NaiveDate,
) -> Result<HashMap<i64, (i64, i64)>> {
    let Some(closed) = crate::ledger::day::closed_through(store, org_id).await? else {
        return sums(store, org_id, None, Some(date)).await;
    };
    let mut paid = close_balances(store, org_id, closed).await?;
    if date > closed {
        // add what came after the close and before the date
        let after = closed.succ_opt().unwrap_or(closed);
        for (m, (l, s)) in sums(store, org_id, Some(after), Some(date)).await? {
            let e = paid.entry(m).or_insert((0, 0));
            e.0 += l;
            e.1 += s;
        }
    } else {
        // take back what came on or after the date, up to the close
        let through = closed.succ_opt().unwrap_or(closed);
        for (m, (l, s)) in sums(store, org_id, Some(date), Some(through)).await? {
            let e = paid.entry(m).or_insert((0, 0));
            e.0 -= l;
            e.1 -= s;
        }
    }
    Ok(paid)
}

/// Effective sums per member over `from <= collected_on < until` (either bound optional).
async fn sums(
    store: &Store,
    org_id: i64,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<HashMap<i64, (i64, i64)>> {
    let mut sql = format!(
        "SELECT member_id, {EFFECTIVE_LOAN}, {EFFECTIVE_SAVINGS} FROM collections WHERE org_id = $1"
    );
    let mut n = 1;
    if from.is_some() {
        n += 1;
        sql += &format!(" AND collected_on >= ${n}");
    }
    if until.is_some() {
        n += 1;
        sql += &format!(" AND collected_on < ${n}");
    }
    sql += " GROUP BY member_id";
    let rows = on_store!(store, |p| {
        let mut q =
            sqlx::query_as::<_, (i64, i64, i64)>(sqlx::AssertSqlSafe(sql.as_str())).bind(org_id);
        if let Some(f) = from {
            q = q.bind(f);
        }
        if let Some(u) = until {
            q = q.bind(u);
        }
        q.fetch_all(p).await?
    });
    Ok(rows.into_iter().map(|(m, l, s)| (m, (l, s))).collect())
}

/// The sums through `closed`, rebuilt first when the cache was built for another day.
async fn close_balances(
    store: &Store,
    org_id: i64,
    closed: NaiveDate,
) -> Result<HashMap<i64, (i64, i64)>> {
    let mark: Option<NaiveDate> = on_store!(store, |p| sqlx::query_scalar(
        "SELECT closed_on FROM close_balance_marks WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_optional(p)
    .await?);
    if mark != Some(closed) {
        rebuild_close_balances(store, org_id).await?;
    }
    let rows: Vec<(i64, i64, i64)> = on_store!(store, |p| sqlx::query_as(
        "SELECT member_id, loan_paid, savings_paid FROM close_balances WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_all(p)
    .await?);
    Ok(rows.into_iter().map(|(m, l, s)| (m, (l, s))).collect())
}

/// Rebuild an organization's close balances for its current closed day, in one write
/// transaction that also holds off closes and reopens.
pub async fn rebuild_close_balances(store: &Store, org_id: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    crate::ledger::day::lock_org(&mut tx, org_id).await?;
    let closed = crate::ledger::day::closed_through_tx(&mut tx, org_id).await?;
    forget_close_balances(&mut tx, Some(org_id)).await?;
    if let Some(closed) = closed {
        let insert = format!(
            "INSERT INTO close_balances (org_id, member_id, loan_paid, savings_paid) \
             SELECT org_id, member_id, {EFFECTIVE_LOAN}, {EFFECTIVE_SAVINGS} FROM collections \
             WHERE org_id = $1 AND collected_on <= $2 GROUP BY org_id, member_id"
        );
        on_tx!(&mut tx, |c| {
            sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                .bind(org_id)
                .bind(closed)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "INSERT INTO close_balance_marks (org_id, closed_on, built_at) VALUES ($1, $2, $3)",
            )
            .bind(org_id)
            .bind(closed)
            .bind(chrono::Utc::now())
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
    }
    tx.commit().await
}

/// Drop the close balances (one organization, or all): the next review rebuilds them.
/// Close, reopen and restore call this inside their own transaction.
pub async fn forget_close_balances(tx: &mut Tx, org_id: Option<i64>) -> Result<()> {
    let (marks, rows) = match org_id {
        Some(_) => (
            "DELETE FROM close_balance_marks WHERE org_id = $1",
            "DELETE FROM close_balances WHERE org_id = $1",
        ),
        None => (
            "DELETE FROM close_balance_marks",
            "DELETE FROM close_balances",
        ),
    };
    on_tx!(tx, |c| {
        let mut a = sqlx::query(marks);
        let mut b = sqlx::query(rows);
        if let Some(o) = org_id {
            a = a.bind(o);
            b = b.bind(o);
        }
        a.execute(&mut *c).await?;
        b.execute(&mut *c).await?.rows_affected()
    });
    Ok(())
}

/// A day is being closed (`previous` → `closed`): when the cache was built for `previous`,
/// add the collections in between; otherwise drop it for a rebuild.
pub async fn advance_close_balances(
    tx: &mut Tx,
    org_id: i64,
    previous: Option<NaiveDate>,
    closed: NaiveDate,
) -> Result<()> {
    let mark: Option<NaiveDate> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT closed_on FROM close_balance_marks WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_optional(&mut *c)
    .await?);
    let Some(prev) = previous.filter(|p| mark == Some(*p)) else {
        return forget_close_balances(tx, Some(org_id)).await;
    };
    let upsert = format!(
        "INSERT INTO close_balances (org_id, member_id, loan_paid, savings_paid) \
         SELECT org_id, member_id, {EFFECTIVE_LOAN}, {EFFECTIVE_SAVINGS} FROM collections \
         WHERE org_id = $1 AND collected_on > $2 AND collected_on <= $3 GROUP BY org_id, member_id \
         ON CONFLICT (org_id, member_id) DO UPDATE SET \
         loan_paid = close_balances.loan_paid + excluded.loan_paid, \
         savings_paid = close_balances.savings_paid + excluded.savings_paid"
    );
    on_tx!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(upsert.as_str()))
            .bind(org_id)
            .bind(prev)
            .bind(closed)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "UPDATE close_balance_marks SET closed_on = $1, built_at = $2 WHERE org_id = $3",
        )
        .bind(closed)
        .bind(chrono::Utc::now())
        .bind(org_id)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(())
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
            loan_amount: 1_000_00,
            daily_installment: 300_00,
            daily_savings: 20_00,
            status: "active".into(),
            joined_on: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), // Monday
            version: 1,
            updated_by: None,
            updated_at: None,
        }
    }

    #[test]
    fn loan_due_stops_at_the_loan_amount() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let thu = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        // Mon..Thu = 4 collection days; loan 1000 due in 300s caps at 1000
        assert_eq!(due_through(&m, &days, thu), (1_000_00, 80_00));
        assert_eq!(due_on(&m, &days, thu), (100_00, 20_00));
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(due_on(&m, &days, fri), (0, 0));
    }

    #[test]
    fn arrears_and_days_in_arrears() {
        let m = member();
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        let wed = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
        // due Mon+Tue = 640; paid 320 -> arrears 320 = 1 day
        let b = Balances::as_of(&m, &days, wed, 300_00, 20_00);
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
        let b = Balances::as_of(&m, &days, wed, 900_00, 80_00);
        assert_eq!((b.arrears, b.advance, b.days_in_arrears), (0, 340_00, 0));
        assert_eq!(carried_text(b.arrears, b.advance), "advance 340.00");
        assert_eq!(carried_text(440_00, 0), "440.00");
        assert_eq!(arrears_days_cell(b.days_in_arrears, b.advance), "adv");
        assert_eq!(
            standing_text(b.arrears, b.days_in_arrears, b.advance),
            "advance 340.00 (paid ahead)"
        );
    }
}
