//! The daily review: for one organization and date, what each active member owed (the day's
//! installment and savings plus arrears carried in), what was collected, the shortfall and
//! flags; totals per worker and for the organization.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::access::{Operator, Permission, require};
use crate::db::Store;
use crate::error::Result;
use crate::ledger::balance;
use crate::ledger::collection::Collection;
use crate::ledger::day;
use crate::ledger::loan::Loan;
use crate::ledger::member::Member;
use crate::ledger::org::{self, CollectionDays, Organization};
use crate::on_store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// Something was due and nothing was collected.
    Missed,
    /// Less than what was due was collected.
    Partial,
    /// More than what was due was collected.
    Advance,
    /// Two or more standing entries on the same day.
    Duplicate,
    /// An entry of this day was reversed.
    Reversed,
    /// Entered on a later business date than the day it is for.
    Late,
}

impl Flag {
    /// Every flag, in the order the legend lists them.
    pub const ALL: [Flag; 6] = [
        Flag::Missed,
        Flag::Partial,
        Flag::Advance,
        Flag::Duplicate,
        Flag::Reversed,
        Flag::Late,
    ];

    /// One letter for narrow columns; [`Flag::legend`] says what each means.
    pub fn code(self) -> char {
        match self {
            Flag::Missed => 'M',
            Flag::Partial => 'P',
            Flag::Advance => 'A',
            Flag::Duplicate => 'D',
            Flag::Reversed => 'R',
            Flag::Late => 'L',
        }
    }

    /// The flags of a line as their codes, in order: `"PL"`.
    pub fn codes(flags: &[Flag]) -> String {
        flags.iter().map(|f| f.code()).collect()
    }

    /// "M missed · P partial · A advance · D duplicate · R reversed · L late"
    pub fn legend() -> String {
        Flag::ALL
            .iter()
            .map(|f| format!("{} {}", f.code(), f.as_str()))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Missed => "missed",
            Flag::Partial => "partial",
            Flag::Advance => "advance",
            Flag::Duplicate => "duplicate",
            Flag::Reversed => "reversed",
            Flag::Late => "late",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewLine {
    pub member_id: i64,
    pub member_no: String,
    pub name: String,
    pub worker_id: Option<i64>,
    pub worker_name: String,
    /// The day's own installment and savings (zero on a day off).
    pub installment_due: i64,
    pub savings_due: i64,
    /// Unpaid dues from earlier days.
    pub arrears_in: i64,
    /// Paid ahead on earlier days; reduces today's due.
    pub advance_in: i64,
    /// installment + savings + arrears − advance, never below zero; zero on a day off
    /// (nothing falls due then: arrears carry on to the next collection day).
    pub due: i64,
    pub collected_loan: i64,
    pub collected_savings: i64,
    pub collected: i64,
    /// What is still owed on the member's running loans after the day's entries: a loan
    /// part of the due is never more than this.
    pub loan_outstanding: i64,
    pub shortfall: i64,
    pub flags: Vec<Flag>,
    /// The day's entries (reversals included), oldest first.
    pub entries: Vec<Collection>,
}

impl ReviewLine {
    /// What the member carries into the day, in words: arrears as an amount, a payment
    /// ahead as "advance 340.00" (never as a negative arrears).
    pub fn carried_text(&self) -> String {
        balance::carried_text(self.arrears_in, self.advance_in)
    }

    /// The entry a reversal of this line cancels: the member's latest entry of the day that
    /// still stands (not itself a reversal, not reversed already); `None` when nothing
    /// stands. Posting the reversal still refuses a closed day.
    pub fn reversible_entry(&self) -> Option<&Collection> {
        let reversed: Vec<i64> = self.entries.iter().filter_map(|c| c.reversal_of).collect();
        self.entries
            .iter()
            .rev()
            .find(|c| c.reversal_of.is_none() && !reversed.contains(&c.id))
    }

    /// The day's due split into (loan, savings): savings first, up to the day's savings
    /// due, then the loan up to what is still outstanding on it, and the rest to savings
    /// (what an entry of the whole due posts; the core refuses a loan part above the
    /// outstanding, so the split never offers one).
    pub fn due_split(&self) -> (i64, i64) {
        let savings = self.savings_due.min(self.due);
        let loan = (self.due - savings).min(self.loan_outstanding.max(0));
        (loan, self.due - loan)
    }
}

/// What the review's totals mean, for a legend under them (console and command line).
/// Shortfall is summed member by member, so one member's advance does not cover another's
/// missed day: it is not expected − collected when some members paid ahead.
pub const TOTALS_LEGEND: &str = "expected: due today with arrears, less advances · \
collected: taken today · shortfall: each member's unpaid due, added up (one member's advance \
does not cover another's, so it is not expected − collected)";

/// The same in few words, for narrow screens.
pub const TOTALS_LEGEND_SHORT: &str =
    "exp due with arrears · got collected · short unpaid per member (not exp − got)";

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub members: i64,
    pub expected: i64,
    pub collected: i64,
    pub shortfall: i64,
    /// collected / expected in basis points (9500 = 95.00 %); 10000 when nothing was due.
    pub collection_rate_bp: i64,
    pub members_missed: i64,
}

impl Totals {
    fn add(&mut self, l: &ReviewLine) {
        self.count(l.due, l.collected, l.flags.contains(&Flag::Missed));
    }

    /// Count one member's line: what was due, what was collected, whether it was missed.
    pub(crate) fn count(&mut self, due: i64, collected: i64, missed: bool) {
        self.members += 1;
        self.expected += due;
        self.collected += collected;
        self.shortfall += (due - collected).max(0);
        if missed {
            self.members_missed += 1;
        }
    }

    /// Work out the collection rate once every line is counted.
    pub(crate) fn finish(&mut self) {
        self.collection_rate_bp = if self.expected > 0 {
            self.collected * 10_000 / self.expected
        } else {
            10_000
        };
    }

    /// "95.23 %"
    pub fn rate_text(&self) -> String {
        format!(
            "{}.{:02} %",
            self.collection_rate_bp / 100,
            self.collection_rate_bp % 100
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerTotals {
    pub worker_id: Option<i64>,
    pub worker_name: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub org: String,
    pub date: NaiveDate,
    pub collection_day: bool,
    pub closed: bool,
    pub closed_through: Option<NaiveDate>,
    pub lines: Vec<ReviewLine>,
    pub workers: Vec<WorkerTotals>,
    pub totals: Totals,
}

impl Review {
    /// The totals line's label: the organization's, or the one worker's the review was
    /// built for ("Totals for Karim Uddin").
    pub fn totals_label(&self, worker: Option<&str>) -> String {
        match worker {
            Some(w) => format!("Totals for {w}"),
            None => format!("{} total", self.org),
        }
    }
}

/// What one member owed on a day, before anything was collected on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dues {
    /// The day's own installment and savings (zero on a day off).
    pub installment_due: i64,
    pub savings_due: i64,
    /// Unpaid dues from earlier days, or what was paid ahead of them (one of the two is 0).
    pub arrears_in: i64,
    pub advance_in: i64,
    /// installment + savings + arrears − advance, never below zero.
    pub owed: i64,
    /// `owed` on a collection day, zero on a day off (arrears carry on to the next one).
    pub due: i64,
}

/// A member's dues on `date` from the loans running on it (`paid` as the day began) and the
/// savings deposited before it: the daily review's line, and the monthly report's days.
pub fn dues<'a>(
    m: &Member,
    loans: impl IntoIterator<Item = &'a Loan>,
    savings_before: i64,
    days: &CollectionDays,
    date: NaiveDate,
) -> Dues {
    let yesterday = date.pred_opt().unwrap_or(date);
    let (mut loan_before, mut loan_due_before, mut installment_due) = (0, 0, 0);
    for l in loans {
        loan_before += l.paid;
        loan_due_before += l.due_through(days, yesterday);
        installment_due += l.due_on(days, date);
    }
    let sav_due_before = balance::savings_due_through(m, days, yesterday);
    let carried = loan_due_before + sav_due_before - loan_before - savings_before;
    let (arrears_in, advance_in) = (carried.max(0), (-carried).max(0));
    let savings_due = balance::savings_due_on(m, days, date);
    let owed = (installment_due + savings_due + arrears_in - advance_in).max(0);
    let due = if days.is_collection_day(date) {
        owed
    } else {
        0
    };
    Dues {
        installment_due,
        savings_due,
        arrears_in,
        advance_in,
        owed,
        due,
    }
}

/// A line is missed when something was due and nothing (net) was collected.
pub fn is_missed(due: i64, collected: i64) -> bool {
    due > 0 && collected <= 0
}

/// The organization's first business day: the day its first member joined (`None` with
/// no members yet). No review before it has anything to show.
pub async fn first_day(store: &Store, org_id: i64) -> Result<Option<NaiveDate>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<
        _,
        Option<NaiveDate>,
    >(
        "SELECT MIN(joined_on) FROM members WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_one(p)
    .await?))
}

/// Whether `date` is a day to review: not after the organization's today, not before its
/// first day. The error names the field `date` and says which days there are.
pub async fn check_date(store: &Store, org: &Organization, date: NaiveDate) -> Result<()> {
    let today = org.today();
    if date > today {
        return Err(crate::error::Error::invalid(
            "date",
            format!(
                "{date} is in the future; {} is on {today} ({})",
                org.code,
                org.tz_label()
            ),
        ));
    }
    if let Some(first) = first_day(store, org.id).await?
        && date < first
    {
        return Err(crate::error::Error::invalid(
            "date",
            format!(
                "{date} is before {}'s first day, {first} (when its first member joined)",
                org.code
            ),
        ));
    }
    Ok(())
}

/// Build the review of `date` for `org`, optionally for one worker only.
pub async fn daily(
    store: &Store,
    op: &Operator,
    org: &Organization,
    date: NaiveDate,
    worker: Option<i64>,
) -> Result<Review> {
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "collection.review",
        &org.code,
    )
    .await?;
    let days = org.collection_days();
    let workers: HashMap<i64, String> = org::workers(store, org.id)
        .await?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect();
    // The members, their accounts as the day began and the day's entries: one snapshot.
    let rows = crate::db::dialect::review_rows(store, org.id, date).await?;
    let (members, entries) = (rows.members, rows.entries);
    let mut at = balance::accounts_from(rows.loans, rows.savings, rows.since);
    let reversed_ids: std::collections::HashSet<i64> =
        entries.iter().filter_map(|c| c.reversal_of).collect();
    let mut by_member: HashMap<i64, Vec<Collection>> = HashMap::new();
    for c in entries {
        by_member.entry(c.member_id).or_default().push(c);
    }

    let collection_day = days.is_collection_day(date);
    let mut lines: Vec<ReviewLine> = members
        .into_iter()
        .filter(|m| worker.is_none() || m.worker_id == worker)
        .map(|m| {
            // The loans running on the day, paid as the day began, and the savings before it.
            let (loans, sav_before) = at.remove(&m.id).unwrap_or_default();
            let owed_before: i64 = loans.iter().map(|l| l.owed() - l.paid).sum();
            let Dues {
                installment_due,
                savings_due,
                arrears_in,
                advance_in,
                owed,
                due,
            } = dues(&m, &loans, sav_before, &days, date);
            let entries = by_member.remove(&m.id).unwrap_or_default();
            let mut collected_loan = 0;
            let mut collected_savings = 0;
            for c in &entries {
                let sign = if c.reversal_of.is_some() { -1 } else { 1 };
                collected_loan += sign * c.loan_paisa;
                collected_savings += sign * c.savings_paisa;
            }
            let collected = collected_loan + collected_savings;
            let standing = entries
                .iter()
                .filter(|c| c.reversal_of.is_none() && !reversed_ids.contains(&c.id))
                .count();
            let mut flags = Vec::new();
            if is_missed(due, collected) {
                flags.push(Flag::Missed);
            } else if collected > 0 && collected < due {
                flags.push(Flag::Partial);
            } else if collected > owed {
                flags.push(Flag::Advance);
            }
            if standing >= 2 {
                flags.push(Flag::Duplicate);
            }
            if entries.iter().any(|c| reversed_ids.contains(&c.id)) {
                flags.push(Flag::Reversed);
            }
            if entries
                .iter()
                .any(|c| c.reversal_of.is_none() && org.local_date(c.entered_at) > c.collected_on)
            {
                flags.push(Flag::Late);
            }
            ReviewLine {
                member_id: m.id,
                worker_name: m
                    .worker_id
                    .and_then(|w| workers.get(&w).cloned())
                    .unwrap_or_else(|| "(no worker)".into()),
                member_no: m.member_no,
                name: m.name,
                worker_id: m.worker_id,
                installment_due,
                savings_due,
                arrears_in,
                advance_in,
                due,
                collected_loan,
                collected_savings,
                collected,
                loan_outstanding: (owed_before - collected_loan).max(0),
                shortfall: (due - collected).max(0),
                flags,
                entries,
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        (
            a.worker_name.as_str(),
            a.member_no.len(),
            a.member_no.as_str(),
        )
            .cmp(&(
                b.worker_name.as_str(),
                b.member_no.len(),
                b.member_no.as_str(),
            ))
    });

    let mut totals = Totals::default();
    let mut per_worker: Vec<WorkerTotals> = Vec::new();
    for l in &lines {
        totals.add(l);
        match per_worker.last_mut() {
            Some(w) if w.worker_id == l.worker_id => w.totals.add(l),
            _ => {
                let mut t = Totals::default();
                t.add(l);
                per_worker.push(WorkerTotals {
                    worker_id: l.worker_id,
                    worker_name: l.worker_name.clone(),
                    totals: t,
                });
            }
        }
    }
    totals.finish();
    for w in &mut per_worker {
        w.totals.finish();
    }
    let closed_through = day::closed_through(store, org.id).await?;
    Ok(Review {
        org: org.code.clone(),
        date,
        collection_day,
        closed: closed_through.is_some_and(|c| date <= c),
        closed_through,
        lines,
        workers: per_worker,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, reversal_of: Option<i64>) -> Collection {
        Collection {
            id,
            org_id: 1,
            member_id: 1,
            collected_on: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            loan_paisa: 40_000,
            savings_paisa: 2_000,
            worker_id: None,
            note: String::new(),
            entered_by: "rahim".into(),
            entered_at: chrono::DateTime::UNIX_EPOCH,
            reversal_of,
            loan_id: Some(1),
        }
    }

    fn line(due: i64, savings_due: i64, entries: Vec<Collection>) -> ReviewLine {
        ReviewLine {
            member_id: 1,
            member_no: "1".into(),
            name: "Amina".into(),
            worker_id: None,
            worker_name: String::new(),
            installment_due: due - savings_due,
            savings_due,
            arrears_in: 0,
            advance_in: 0,
            due,
            collected_loan: 0,
            collected_savings: 0,
            collected: 0,
            loan_outstanding: i64::MAX,
            shortfall: 0,
            flags: vec![],
            entries,
        }
    }

    #[test]
    fn the_reversible_entry_is_the_latest_that_still_stands() {
        assert!(line(0, 0, vec![]).reversible_entry().is_none());
        let one = line(0, 0, vec![entry(1, None), entry(2, None)]);
        assert_eq!(one.reversible_entry().map(|c| c.id), Some(2));
        // #2 reversed by #3: #1 is what stands; a reversal is never offered
        let l = line(
            0,
            0,
            vec![entry(1, None), entry(2, None), entry(3, Some(2))],
        );
        assert_eq!(l.reversible_entry().map(|c| c.id), Some(1));
        let none = line(0, 0, vec![entry(1, None), entry(2, Some(1))]);
        assert!(none.reversible_entry().is_none());
    }

    #[test]
    fn a_due_is_split_savings_first_then_loan() {
        assert_eq!(line(44_000, 2_000, vec![]).due_split(), (42_000, 2_000));
        // less due than the savings (paid ahead): all of it is savings
        assert_eq!(line(1_500, 2_000, vec![]).due_split(), (0, 1_500));
        assert_eq!(line(0, 2_000, vec![]).due_split(), (0, 0));
        // savings arrears beyond what the loan still owes go to savings, never to the loan
        let mut l = line(1_576_000, 2_000, vec![]);
        l.loan_outstanding = 1_000_000;
        assert_eq!(l.due_split(), (1_000_000, 576_000));
        l.loan_outstanding = 0;
        assert_eq!(l.due_split(), (0, 1_576_000));
    }
}
