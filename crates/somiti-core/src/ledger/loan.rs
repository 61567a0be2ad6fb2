//! Loan accounts (migration 0009): a member's loan is an account with a disbursement, a
//! status and the payments that belong to it (`collections.loan_id`). The row keeps its
//! running balance (`paid`, `last_paid_on`), updated in the transaction of every payment and
//! reversal; `ledger check` and `verify` compare it with the entries.
//!
//! What falls due: the installment on every collection day from `first_due_on`, until the
//! principal and the flat service charge are fully due.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ledger::org::CollectionDays;

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
        [LoanStatus::Active, LoanStatus::Repaid, LoanStatus::WrittenOff]
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
        assert_eq!(l.due_through(&d, date("2026-11-15")), 0, "before the first due day");
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
        assert_eq!(default_first_due(&d, date("2026-11-14")), date("2026-11-15"));
        // disbursed on Thursday: Friday is off, so Saturday
        assert_eq!(default_first_due(&d, date("2026-11-19")), date("2026-11-21"));
    }

    #[test]
    fn overdue_days_count_from_the_oldest_unpaid_installment() {
        let d = days();
        let mut l = loan();
        // Nothing paid: Monday's installment is the oldest unpaid.
        assert_eq!(l.days_overdue(&d, date("2026-11-16")), 0, "due today is not overdue");
        assert_eq!(l.days_overdue(&d, date("2026-11-17")), 1);
        assert_eq!(l.days_overdue(&d, date("2026-11-26")), 10);
        // One and a half installments paid: Tuesday's is the oldest unpaid.
        l.paid = 450_00;
        assert_eq!(l.oldest_unpaid_due(&d, date("2026-11-26")), Some(date("2026-11-17")));
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
