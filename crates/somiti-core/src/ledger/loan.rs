//! Loan accounts (migration 0009): a member's loan is an account with a disbursement, a
//! status and the payments that belong to it (`collections.loan_id`). The row keeps its
//! running balance (`paid`, `last_paid_on`), updated in the transaction of every payment and
//! reversal; `ledger check` and `verify` compare it with the entries.
//!
//! What falls due: the installment on every collection day from `first_due_on`, until the
//! principal and the flat service charge are fully due.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::ledger::money::grouped;
use crate::ledger::org::{CollectionDays, Organization};
use crate::ledger::{day, member};
use crate::{on_store, on_tx};

/// How a loan stands: paying, paid in full, or written off by an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanStatus {
    Active,
    Repaid,
    WrittenOff,
}

impl LoanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LoanStatus::Active => "active",
            LoanStatus::Repaid => "repaid",
            LoanStatus::WrittenOff => "written_off",
        }
    }

    pub fn parse(s: &str) -> Option<LoanStatus> {
        [
            LoanStatus::Active,
            LoanStatus::Repaid,
            LoanStatus::WrittenOff,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// As the faces write it: "active", "repaid", "written off".
    pub fn label(self) -> &'static str {
        match self {
            LoanStatus::WrittenOff => "written off",
            s => s.as_str(),
        }
    }
}

/// The stored text (`written_off`); faces show [`LoanStatus::label`].
impl std::fmt::Display for LoanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

crate::db::text_column!(LoanStatus, |s| LoanStatus::parse(s));

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Loan {
    pub id: i64,
    pub org_id: i64,
    pub member_id: i64,
    pub cycle: i64,
    pub disbursed_on: NaiveDate,
    pub principal: i64,
    pub service_charge: i64,
    pub first_due_on: NaiveDate,
    pub installment: i64,
    pub installments: Option<i64>,
    pub status: LoanStatus,
    pub closed_on: Option<NaiveDate>,
    pub written_off: i64,
    pub close_reason: String,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
    pub paid: i64,
    pub last_paid_on: Option<NaiveDate>,
}

impl Loan {
    /// Principal and service charge: what the member owes over the loan's life.
    pub fn owed(&self) -> i64 {
        self.principal.saturating_add(self.service_charge)
    }

    /// What is still to be paid (0 once repaid; a written-off loan keeps no claim).
    pub fn outstanding(&self) -> i64 {
        match self.status {
            LoanStatus::WrittenOff => 0,
            _ => (self.owed() - self.paid).max(0),
        }
    }

    /// What fell due from `first_due_on` through `through` (inclusive).
    pub fn due_through(&self, days: &CollectionDays, through: NaiveDate) -> i64 {
        days.count_between(self.first_due_on, through)
            .saturating_mul(self.installment)
            .min(self.owed())
    }

    /// What falls due on `date` alone (0 on a day off, before the first due day, or once
    /// the loan is fully due).
    pub fn due_on(&self, days: &CollectionDays, date: NaiveDate) -> i64 {
        if date < self.first_due_on || !days.is_collection_day(date) {
            return 0;
        }
        let before = self.due_through(days, date.pred_opt().unwrap_or(date));
        self.installment.min((self.owed() - before).max(0))
    }

    /// The day the oldest installment not yet covered by payments fell due, if it has
    /// (None for a loan that is not active, paid up to date, or has no installment).
    pub fn oldest_unpaid_due(&self, days: &CollectionDays, today: NaiveDate) -> Option<NaiveDate> {
        if self.status != LoanStatus::Active || self.installment <= 0 {
            return None;
        }
        if self.paid >= self.owed() {
            return None;
        }
        // Installments fully covered: the next one is the oldest unpaid.
        let covered = self.paid.max(0) / self.installment;
        let due = days.nth_from(self.first_due_on, covered + 1);
        (due < today).then_some(due)
    }

    /// Days the loan is overdue on `today`: since the oldest unpaid installment fell due
    /// (0 when none is overdue). Portfolio at risk over n days counts the outstanding of
    /// loans overdue more than n days.
    pub fn days_overdue(&self, days: &CollectionDays, today: NaiveDate) -> i64 {
        self.oldest_unpaid_due(days, today)
            .map_or(0, |d| (today - d).num_days())
    }
}

/// The first collection day after `disbursed_on`: when a new loan's first installment falls
/// due unless the disbursement says otherwise.
pub fn default_first_due(days: &CollectionDays, disbursed_on: NaiveDate) -> NaiveDate {
    days.nth_from(disbursed_on.succ_opt().unwrap_or(disbursed_on), 1)
}

/// Every column of `loans`, from `backup::schema::TABLES`.
pub static LOAN_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("loans");

/// A loan as an operator asks for it. Money in poisha.
#[derive(Debug, Clone, Default)]
pub struct Disbursement {
    pub member_no: String,
    /// The day the money is handed over (today when not given).
    pub disbursed_on: Option<NaiveDate>,
    pub principal: i64,
    pub service_charge: i64,
    pub installment: i64,
    pub installments: Option<i64>,
    /// The first day an installment falls due (the next collection day when not given).
    pub first_due_on: Option<NaiveDate>,
}

/// The field rules of a disbursement that need no database.
pub fn check_disbursement(d: &Disbursement) -> Result<()> {
    if d.principal <= 0 {
        return Err(Error::invalid("principal", "must be more than zero"));
    }
    if d.service_charge < 0 {
        return Err(Error::invalid("service_charge", "must not be negative"));
    }
    if d.installment <= 0 {
        return Err(Error::invalid("installment", "must be more than zero"));
    }
    if d.installment > d.principal.saturating_add(d.service_charge) {
        return Err(Error::invalid(
            "installment",
            format!(
                "{} is more than the whole loan ({} with the service charge)",
                grouped(d.installment),
                grouped(d.principal.saturating_add(d.service_charge))
            ),
        ));
    }
    if let Some(n) = d.installments
        && n <= 0
    {
        return Err(Error::invalid("installments", "must be more than zero"));
    }
    Ok(())
}

/// The member's active loan, read inside `tx`.
pub async fn active_for_tx(tx: &mut Tx, member_id: i64) -> Result<Option<Loan>> {
    let sql = format!("SELECT {LOAN_COLS} FROM loans WHERE member_id = $1 AND status = 'active'");
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, Loan>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(member_id)
    .fetch_optional(&mut *c)
    .await?))
}

/// Every loan of a member, oldest cycle first.
pub async fn for_member(store: &Store, member_id: i64) -> Result<Vec<Loan>> {
    let sql = format!("SELECT {LOAN_COLS} FROM loans WHERE member_id = $1 ORDER BY cycle");
    Ok(on_store!(store, |p| sqlx::query_as::<_, Loan>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(member_id)
    .fetch_all(p)
    .await?))
}

/// Hand a member a new loan: an entry (audited; refused on a closed day), at most one active
/// loan per member, the next cycle number.
pub async fn disburse(
    store: &Store,
    op: &Operator,
    org: &Organization,
    d: &Disbursement,
) -> Result<Loan> {
    let target = format!("{}/{}", org.code, d.member_no.trim());
    require(
        store,
        op,
        Permission::DisburseLoan,
        Some(org.id),
        "loan.disburse",
        &target,
    )
    .await?;
    let r = disburse_checked(store, op, org, d).await;
    audit::record_if_failed(store, &op.username, "loan.disburse", &target, r).await
}

async fn disburse_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    d: &Disbursement,
) -> Result<Loan> {
    check_disbursement(d)?;
    let today = org.today();
    let date = d.disbursed_on.unwrap_or(today);
    if date > today {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is in the future (today is {today} in {})",
                org.timezone
            ),
        ));
    }
    let days = org.collection_days();
    let first_due = d
        .first_due_on
        .unwrap_or_else(|| default_first_due(&days, date));
    if first_due < date {
        return Err(Error::invalid(
            "first_due_on",
            format!("{first_due} is before the disbursement ({date})"),
        ));
    }
    let mut tx = store.begin().await?;
    day::refuse_if_closed(&mut tx, org, date).await?;
    let m = member::find_by_no_tx(&mut tx, org, &d.member_no).await?;
    if m.status != "active" {
        return Err(Error::invalid(
            "member",
            format!(
                "member {} is {}; only an active member can get a loan",
                m.member_no, m.status
            ),
        ));
    }
    if date < m.joined_on {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is before member {} joined ({})",
                m.member_no, m.joined_on
            ),
        ));
    }
    if let Some(l) = active_for_tx(&mut tx, m.id).await? {
        return Err(Error::Refused(format!(
            "member {} still has loan cycle {} with {} outstanding; it must be repaid (or written off by an admin) before a new loan",
            m.member_no,
            l.cycle,
            grouped(l.outstanding())
        )));
    }
    let cycle: i64 = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(cycle), 0) + 1 AS BIGINT) FROM loans WHERE member_id = $1"
    )
    .bind(m.id)
    .fetch_one(&mut *c)
    .await?);
    let sql = format!(
        "INSERT INTO loans (org_id, member_id, cycle, disbursed_on, principal, service_charge, first_due_on, installment, installments, status, entered_by, entered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11) RETURNING {LOAN_COLS}"
    );
    let loan = on_tx!(&mut tx, |c| sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(org.id)
    .bind(m.id)
    .bind(cycle)
    .bind(date)
    .bind(d.principal)
    .bind(d.service_charge)
    .bind(first_due)
    .bind(d.installment)
    .bind(d.installments)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .fetch_one(&mut *c)
    .await?);
    audit::record_tx(
        &mut tx,
        &op.username,
        "loan.disburse",
        &format!("{}/{}", org.code, m.member_no),
        serde_json::json!({
            "loan_id": loan.id, "cycle": cycle, "date": date, "principal": loan.principal,
            "service_charge": loan.service_charge, "installment": loan.installment,
            "first_due_on": first_due,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(loan)
}

/// A new member's first loan, disbursed on the day they join and first due that day (as a
/// member's loan always was before loans were accounts), inside the caller's transaction.
/// `by` is who enters it. (To do: refuse a joining day that is closed, as disburse does.)
pub(crate) async fn insert_first_tx(
    tx: &mut Tx,
    org_id: i64,
    member_id: i64,
    joined_on: NaiveDate,
    principal: i64,
    installment: i64,
    by: &str,
) -> Result<Loan> {
    let sql = format!(
        "INSERT INTO loans (org_id, member_id, cycle, disbursed_on, principal, service_charge, first_due_on, installment, installments, status, entered_by, entered_at) \
         VALUES ($1, $2, 1, $3, $4, 0, $3, $5, NULL, 'active', $6, $7) RETURNING {LOAN_COLS}"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, Loan>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org_id)
    .bind(member_id)
    .bind(joined_on)
    .bind(principal)
    .bind(installment)
    .bind(by)
    .bind(crate::db::now_micros())
    .fetch_one(&mut *c)
    .await?))
}

/// Write off what is still owed on a member's active loan (an admin, with a reason): the
/// loan closes today with `written_off` = its outstanding amount.
pub async fn write_off(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
    reason: &str,
) -> Result<Loan> {
    let target = format!("{}/{}", org.code, member_no.trim());
    require(
        store,
        op,
        Permission::WriteOffLoan,
        Some(org.id),
        "loan.write_off",
        &target,
    )
    .await?;
    let r = write_off_checked(store, op, org, member_no, reason).await;
    audit::record_if_failed(store, &op.username, "loan.write_off", &target, r).await
}

async fn write_off_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
    reason: &str,
) -> Result<Loan> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required: say why the loan is written off",
        ));
    }
    crate::ledger::validate::no_control("reason", reason)?;
    let today = org.today();
    let mut tx = store.begin().await?;
    day::refuse_if_closed(&mut tx, org, today).await?;
    let m = member::find_by_no_tx(&mut tx, org, member_no).await?;
    let Some(l) = active_for_tx(&mut tx, m.id).await? else {
        return Err(Error::invalid(
            "member",
            format!("member {} has no active loan to write off", m.member_no),
        ));
    };
    let amount = l.outstanding();
    let sql = format!(
        "UPDATE loans SET status = 'written_off', closed_on = $1, written_off = $2, close_reason = $3 \
         WHERE id = $4 AND status = 'active' RETURNING {LOAN_COLS}"
    );
    let loan = on_tx!(&mut tx, |c| sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(today)
    .bind(amount)
    .bind(reason)
    .bind(l.id)
    .fetch_one(&mut *c)
    .await?);
    audit::record_tx(
        &mut tx,
        &op.username,
        "loan.write_off",
        &format!("{}/{}", org.code, m.member_no),
        serde_json::json!({ "loan_id": l.id, "cycle": l.cycle, "written_off": amount, "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(loan)
}

/// Apply a change of `delta` poisha (a payment, or minus a reversed one) to a loan's running
/// balance inside `tx`: the loan is repaid when its payments reach what is owed, and active
/// again when a reversal takes it below (refused when the member has a newer active loan).
/// `last_paid_on` is the latest standing payment's date.
pub(crate) async fn apply_payment_tx(
    tx: &mut Tx,
    loan_id: i64,
    delta: i64,
    on: NaiveDate,
) -> Result<Loan> {
    let sql = format!("SELECT {LOAN_COLS} FROM loans WHERE id = $1");
    let l = on_tx!(tx, |c| sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(loan_id)
    .fetch_one(&mut *c)
    .await?);
    let paid = l.paid + delta;
    let (status, closed_on) = match l.status {
        LoanStatus::WrittenOff => (LoanStatus::WrittenOff, l.closed_on),
        _ if paid >= l.owed() => (LoanStatus::Repaid, Some(l.closed_on.unwrap_or(on).max(on))),
        _ => (LoanStatus::Active, None),
    };
    if status == LoanStatus::Active
        && l.status == LoanStatus::Repaid
        && let Some(newer) = active_for_tx(tx, l.member_id).await?
    {
        return Err(Error::Refused(format!(
            "this takes loan cycle {} below repaid, but the member already has loan cycle {} active; reverse that loan's entries first",
            l.cycle, newer.cycle
        )));
    }
    let last = if delta >= 0 {
        l.last_paid_on.max(Some(on))
    } else {
        crate::ledger::collection::last_standing_payment_tx(tx, l.member_id, Some(loan_id)).await?
    };
    let sql = format!(
        "UPDATE loans SET paid = $1, status = $2, closed_on = $3, last_paid_on = $4 WHERE id = $5 RETURNING {LOAN_COLS}"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, Loan>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(paid)
    .bind(status)
    .bind(closed_on)
    .bind(last)
    .bind(loan_id)
    .fetch_one(&mut *c)
    .await?))
}

#[cfg(test)]
// amounts are written taka_poisha: 1_000_00 is 1,000 taka
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::ledger::org::DEFAULT_COLLECTION_DAYS;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn loan() -> Loan {
        Loan {
            id: 1,
            org_id: 1,
            member_id: 1,
            cycle: 1,
            disbursed_on: date("2026-11-14"), // Saturday
            principal: 1_000_00,
            service_charge: 100_00,
            first_due_on: date("2026-11-16"), // Monday
            installment: 300_00,
            installments: Some(4),
            status: LoanStatus::Active,
            closed_on: None,
            written_off: 0,
            close_reason: String::new(),
            entered_by: "t".into(),
            entered_at: Utc::now(),
            paid: 0,
            last_paid_on: None,
        }
    }

    fn days() -> CollectionDays {
        CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap() // sat..thu, Friday off
    }

    #[test]
    fn nth_collection_day_is_the_inverse_of_counting() {
        let d = days();
        let from = date("2026-11-14");
        for n in 1..40 {
            let nth = d.nth_from(from, n);
            assert!(d.is_collection_day(nth), "{n}: {nth}");
            assert_eq!(d.count_between(from, nth), n, "{n}: {nth}");
        }
        // Friday is off: the 7th collection day from Saturday the 14th is Saturday the 21st.
        assert_eq!(d.nth_from(from, 7), date("2026-11-21"));
        assert_eq!(d.nth_from(date("2026-11-20"), 1), date("2026-11-21"));
    }

    #[test]
    fn dues_run_from_the_first_due_day_and_stop_at_principal_and_charge() {
        let l = loan();
        let d = days();
        assert_eq!(l.owed(), 1_100_00);
        assert_eq!(
            l.due_through(&d, date("2026-11-15")),
            0,
            "before the first due day"
        );
        assert_eq!(l.due_on(&d, date("2026-11-16")), 300_00);
        // Mon..Thu: 4 × 300 = 1,200 capped at 1,100; Thursday owes the last 200.
        assert_eq!(l.due_through(&d, date("2026-11-19")), 1_100_00);
        assert_eq!(l.due_on(&d, date("2026-11-19")), 200_00);
        assert_eq!(l.due_on(&d, date("2026-11-21")), 0, "fully due");
        assert_eq!(l.due_on(&d, date("2026-11-20")), 0, "Friday is off");
    }

    #[test]
    fn the_first_installment_of_a_new_loan_is_the_next_collection_day() {
        let d = days();
        assert_eq!(
            default_first_due(&d, date("2026-11-14")),
            date("2026-11-15")
        );
        // disbursed on Thursday: Friday is off, so Saturday
        assert_eq!(
            default_first_due(&d, date("2026-11-19")),
            date("2026-11-21")
        );
    }

    #[test]
    fn overdue_days_count_from_the_oldest_unpaid_installment() {
        let d = days();
        let mut l = loan();
        // Nothing paid: Monday's installment is the oldest unpaid.
        assert_eq!(
            l.days_overdue(&d, date("2026-11-16")),
            0,
            "due today is not overdue"
        );
        assert_eq!(l.days_overdue(&d, date("2026-11-17")), 1);
        assert_eq!(l.days_overdue(&d, date("2026-11-26")), 10);
        // One and a half installments paid: Tuesday's is the oldest unpaid.
        l.paid = 450_00;
        assert_eq!(
            l.oldest_unpaid_due(&d, date("2026-11-26")),
            Some(date("2026-11-17"))
        );
        assert_eq!(l.days_overdue(&d, date("2026-11-26")), 9);
        assert_eq!(l.outstanding(), 650_00);
        // Paid in full, or written off: never overdue, nothing outstanding.
        l.paid = 1_100_00;
        assert_eq!(l.days_overdue(&d, date("2026-12-26")), 0);
        assert_eq!(l.outstanding(), 0);
        l.paid = 200_00;
        l.status = LoanStatus::WrittenOff;
        assert_eq!(l.days_overdue(&d, date("2026-12-26")), 0);
        assert_eq!(l.outstanding(), 0);
    }
}
