//! The monthly report of an organization (or of one field worker): for each day of the
//! month up to today, what was expected and collected, the collection rate and the members
//! who missed, exactly as the daily review of that day totals them; for the month, those
//! added up, the members who missed at least one day, loans disbursed, repaid and written
//! off, savings withdrawn, and the portfolio at risk at the month's end (today while the
//! month runs).
//!
//! The days are not built by running the review 31 times (each would read the whole
//! organization again): the accounts are read once as the month began, and rolled forward
//! day by day with that day's entries, the same way `balance::accounts_at` takes them back
//! from the running balances. Each member's dues come from the review's own
//! [`review::dues`], so the two cannot disagree (`tests/statement_report.rs` checks every
//! day against `review::daily`).
//!
//! Portfolio at risk (PAR): the outstanding of the loans running at the end of the day that
//! have an installment overdue more than 1, 30 or 90 days (`Loan::days_overdue`), and that
//! outstanding over the whole portfolio's in basis points. Every running loan counts,
//! whatever its member's status now.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::access::{Operator, Permission, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::collection::EFFECTIVE_SUMS;
use crate::ledger::loan::{LOAN_COLS, Loan, LoanStatus};
use crate::ledger::member::{MEMBER_COLS, Member};
use crate::ledger::org::{self, Organization};
use crate::ledger::review::{self, Totals};
use crate::on_store;

/// A calendar month, written `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    /// `YYYY-MM` (Bengali digits accepted). The error names the field `month`.
    pub fn parse(input: &str) -> Result<YearMonth> {
        let s = crate::ledger::validate::normalize_digits(input.trim());
        let bad = || {
            Error::invalid(
                "month",
                format!(
                    "{:?} is not a month; write it as YYYY-MM, e.g. 2026-11",
                    input.trim()
                ),
            )
        };
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.chars().chain(m.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let (year, month) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(1..=12).contains(&month) || NaiveDate::from_ymd_opt(year, month, 1).is_none() {
            return Err(bad());
        }
        Ok(YearMonth { year, month })
    }

    /// The month a day falls in.
    pub fn of(d: NaiveDate) -> YearMonth {
        YearMonth {
            year: d.year(),
            month: d.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("a day before")
    }

    pub fn next(self) -> YearMonth {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> YearMonth {
        if self.month == 1 {
            YearMonth {
                year: self.year - 1,
                month: 12,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One day of the month: the daily review's totals for it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReportDay {
    pub date: NaiveDate,
    pub collection_day: bool,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A month's figures (of the organization, or of one worker's members).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MonthTotals {
    /// Days reported (the month up to today) and how many of them were collection days.
    pub days: i64,
    pub collection_days: i64,
    /// Members in at least one day's review.
    pub members: i64,
    /// The days' expected, collected and shortfall added up.
    pub expected: i64,
    pub collected: i64,
    /// `collected` split into its loan and savings parts.
    pub loan_collected: i64,
    pub savings_collected: i64,
    pub shortfall: i64,
    /// collected / expected in basis points; 10000 when nothing was due.
    pub collection_rate_bp: i64,
    /// Members who missed at least one day, and the missed member-days added up.
    pub members_missed: i64,
    pub member_days_missed: i64,
    /// Loans disbursed in the month: how many and their principal.
    pub loans_disbursed: i64,
    pub principal_disbursed: i64,
    /// Loans repaid in full in the month (still repaid now).
    pub loans_repaid: i64,
    /// Loans written off in the month and what was written off.
    pub loans_written_off: i64,
    pub written_off: i64,
    /// Savings paid out in the month (reversed withdrawals subtracted).
    pub savings_withdrawn: i64,
}

impl MonthTotals {
    /// "95.23 %"
    pub fn rate_text(&self) -> String {
        bp_text(self.collection_rate_bp)
    }
}

/// Basis points as a percentage: 9523 → "95.23 %".
/// Where a month-by-month view (the statement, the report) goes from `month`: never past
/// the month of `today`, never before `earliest` (a statement's member joining).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthStep {
    To(YearMonth),
    /// Already at this month: nothing later yet.
    NoLater(YearMonth),
    /// Already at the earliest month.
    NoEarlier(YearMonth),
}

pub fn step_month(
    month: YearMonth,
    forward: bool,
    earliest: Option<YearMonth>,
    today: NaiveDate,
) -> MonthStep {
    let this_month = YearMonth::of(today);
    match (forward, earliest) {
        (true, _) if month >= this_month => MonthStep::NoLater(this_month),
        (true, _) => MonthStep::To(month.next()),
        (false, Some(first)) if month <= first => MonthStep::NoEarlier(first),
        (false, _) => MonthStep::To(month.prev()),
    }
}

pub fn bp_text(bp: i64) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

/// Portfolio at risk at the end of `as_of`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Par {
    pub as_of: Option<NaiveDate>,
    /// Loans running at the end of the day, and what is outstanding on them.
    pub loans: i64,
    pub outstanding: i64,
    /// Outstanding of the loans overdue more than 1, 30 and 90 days, and how many they are.
    pub par1: i64,
    pub par30: i64,
    pub par90: i64,
    pub loans_par1: i64,
    pub loans_par30: i64,
    pub loans_par90: i64,
    /// par / outstanding in basis points (0 with nothing outstanding).
    pub par1_bp: i64,
    pub par30_bp: i64,
    pub par90_bp: i64,
}

impl Par {
    fn add(&mut self, outstanding: i64, days_overdue: i64) {
        self.loans += 1;
        self.outstanding += outstanding;
        for (limit, amount, count) in [
            (1, &mut self.par1, &mut self.loans_par1),
            (30, &mut self.par30, &mut self.loans_par30),
            (90, &mut self.par90, &mut self.loans_par90),
        ] {
            if days_overdue > limit {
                *amount += outstanding;
                *count += 1;
            }
        }
    }

    fn finish(&mut self, as_of: NaiveDate) {
        self.as_of = Some(as_of);
        let ratio = |p: i64| {
            if self.outstanding > 0 {
                p * 10_000 / self.outstanding
            } else {
                0
            }
        };
        self.par1_bp = ratio(self.par1);
        self.par30_bp = ratio(self.par30);
        self.par90_bp = ratio(self.par90);
    }
}

/// One worker's month (members grouped by the worker they are assigned to).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkerMonth {
    pub worker_id: Option<i64>,
    pub worker_name: String,
    pub totals: MonthTotals,
    pub par: Par,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReportWorker {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthReport {
    pub org: String,
    pub month: YearMonth,
    /// The month's first day and the last day reported (its last, or today).
    pub first: NaiveDate,
    pub through: NaiveDate,
    /// Whether the month is still running (the report goes up to today).
    pub current: bool,
    /// The worker the report is for (None: the whole organization).
    pub worker: Option<ReportWorker>,
    pub days: Vec<ReportDay>,
    pub totals: MonthTotals,
    pub par: Par,
    /// Per worker, when the report is the organization's (empty for one worker's).
    pub workers: Vec<WorkerMonth>,
}

impl MonthReport {
    /// The totals line's label: "DHK 2026-11" or "Karim Uddin 2026-11".
    pub fn label(&self) -> String {
        match &self.worker {
            Some(w) => format!("{} {}", w.name, self.month),
            None => format!("{} {}", self.org, self.month),
        }
    }
}

/// The days a report of `month` covers on `today`: from its first day through its last or
/// today, whichever is first. A month after today's is refused, naming the field `month`.
pub fn month_range(
    org: &Organization,
    month: YearMonth,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate)> {
    let first = month.first_day();
    if first > today {
        return Err(Error::invalid(
            "month",
            format!(
                "{month} is in the future; {} is on {today} ({})",
                org.code,
                org.tz_label()
            ),
        ));
    }
    Ok((first, month.last_day().min(today)))
}

/// What a month's accumulation keeps for one group (the organization, or one worker).
#[derive(Default)]
struct Acc {
    totals: MonthTotals,
    members: HashSet<i64>,
    missed: HashSet<i64>,
    par: Par,
}

impl Acc {
    fn line(&mut self, member: i64, due: i64, loan: i64, savings: i64, missed: bool) {
        let t = &mut self.totals;
        let collected = loan + savings;
        t.expected += due;
        t.collected += collected;
        t.loan_collected += loan;
        t.savings_collected += savings;
        t.shortfall += (due - collected).max(0);
        self.members.insert(member);
        if missed {
            t.member_days_missed += 1;
            self.missed.insert(member);
        }
    }

    fn finish(mut self, days: i64, collection_days: i64, as_of: NaiveDate) -> (MonthTotals, Par) {
        let t = &mut self.totals;
        t.days = days;
        t.collection_days = collection_days;
        t.members = self.members.len() as i64;
        t.members_missed = self.missed.len() as i64;
        t.collection_rate_bp = if t.expected > 0 {
            t.collected * 10_000 / t.expected
        } else {
            10_000
        };
        self.par.finish(as_of);
        (self.totals, self.par)
    }
}

/// The report of `month` for `org`, or for the members of one worker (`worker`: its id).
pub async fn month(
    store: &Store,
    op: &Operator,
    org: &Organization,
    month: YearMonth,
    worker: Option<i64>,
) -> Result<MonthReport> {
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "report.month",
        &org.code,
    )
    .await?;
    let today = org.today();
    let (first, through) = month_range(org, month, today)?;
    let days = org.collection_days();
    let worker_names: HashMap<i64, String> = org::workers(store, org.id)
        .await?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect();
    let report_worker = match worker {
        Some(id) => Some(ReportWorker {
            id,
            name: worker_names
                .get(&id)
                .cloned()
                .ok_or_else(|| Error::NotFound(format!("worker #{id} in {}", org.code)))?,
        }),
        None => None,
    };

    let member_sql = format!("SELECT {MEMBER_COLS} FROM members WHERE org_id = $1");
    // Every loan that ran on some day of the month (its status is today's: a loan closed
    // since still ran then).
    let loans_sql = format!(
        "SELECT {LOAN_COLS} FROM loans WHERE org_id = $1 AND disbursed_on <= $2 \
         AND (status = 'active' OR closed_on >= $3) ORDER BY member_id, cycle"
    );
    let since_sql = format!(
        "SELECT +member_id, loan_id, {EFFECTIVE_SUMS} FROM collections \
         WHERE org_id = $1 AND collected_on >= $2 GROUP BY +member_id, loan_id"
    );
    let days_sql = format!(
        "SELECT collected_on, member_id, loan_id, {EFFECTIVE_SUMS} FROM collections \
         WHERE org_id = $1 AND collected_on >= $2 AND collected_on <= $3 \
         GROUP BY collected_on, member_id, loan_id"
    );
    let (members, loans, savings, since, day_sums, withdrawn) = on_store!(store, |p| {
        let m = sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(member_sql.as_str()))
            .bind(org.id)
            .fetch_all(p)
            .await?;
        let l = sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(loans_sql.as_str()))
            .bind(org.id)
            .bind(through)
            .bind(first)
            .fetch_all(p)
            .await?;
        let s = sqlx::query_as::<_, (i64, i64)>(
            "SELECT member_id, deposited FROM savings_accounts WHERE org_id = $1",
        )
        .bind(org.id)
        .fetch_all(p)
        .await?;
        let a = sqlx::query_as::<_, (i64, Option<i64>, i64, i64)>(sqlx::AssertSqlSafe(
            since_sql.as_str(),
        ))
        .bind(org.id)
        .bind(first)
        .fetch_all(p)
        .await?;
        let d = sqlx::query_as::<_, (NaiveDate, i64, Option<i64>, i64, i64)>(sqlx::AssertSqlSafe(
            days_sql.as_str(),
        ))
        .bind(org.id)
        .bind(first)
        .bind(through)
        .fetch_all(p)
        .await?;
        let w = sqlx::query_as::<_, (i64, i64)>(
            "SELECT member_id, CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN amount ELSE -amount END), 0) AS BIGINT) \
             FROM withdrawals WHERE org_id = $1 AND withdrawn_on >= $2 AND withdrawn_on <= $3 \
             GROUP BY member_id",
        )
        .bind(org.id)
        .bind(first)
        .bind(through)
        .fetch_all(p)
        .await?;
        (m, l, s, a, d, w)
    });

    // The members in the report, and the worker each is counted under.
    let members: Vec<Member> = members
        .into_iter()
        .filter(|m| worker.is_none() || m.worker_id == worker)
        .collect();
    let worker_of: HashMap<i64, Option<i64>> =
        members.iter().map(|m| (m.id, m.worker_id)).collect();
    let mut reviewed: Vec<&Member> = members.iter().filter(|m| m.status == "active").collect();
    reviewed.sort_by_key(|m| m.joined_on);

    // As the month began: the running balances less every entry dated on or after its
    // first day (what `balance::accounts_at` does), then forward one day at a time.
    let mut savings_before: HashMap<i64, i64> = savings.into_iter().collect();
    let mut loan_later: HashMap<i64, i64> = HashMap::new();
    for (member, loan, l, s) in since {
        *savings_before.entry(member).or_default() -= s;
        if let Some(loan) = loan {
            *loan_later.entry(loan).or_default() += l;
        }
    }
    let mut member_loans: HashMap<i64, Vec<(Loan, i64)>> = HashMap::new();
    let mut disbursed = Vec::new();
    for l in loans {
        if !worker_of.contains_key(&l.member_id) {
            continue;
        }
        if l.disbursed_on >= first {
            disbursed.push((l.member_id, l.principal));
        }
        let stored_paid = l.paid;
        member_loans
            .entry(l.member_id)
            .or_default()
            .push((l, stored_paid));
    }
    let mut by_day: BTreeMap<NaiveDate, Vec<DaySum>> = BTreeMap::new();
    for (d, member, loan, l, s) in day_sums {
        if worker_of.contains_key(&member) {
            by_day.entry(d).or_default().push((member, loan, l, s));
        }
    }

    let mut org_acc = Acc::default();
    let mut worker_acc: BTreeMap<Option<i64>, Acc> = BTreeMap::new();
    let mut report_days = Vec::new();
    let mut collection_days = 0;
    let mut date = first;
    let empty = Vec::new();
    while date <= through {
        let entries = by_day.get(&date).unwrap_or(&empty);
        let mut collected: HashMap<i64, (i64, i64)> = HashMap::new();
        for (member, _, l, s) in entries {
            let c = collected.entry(*member).or_default();
            c.0 += l;
            c.1 += s;
        }
        let mut totals = Totals::default();
        for m in reviewed.iter().take_while(|m| m.joined_on <= date) {
            let loans = member_loans.get_mut(&m.id);
            let running: Vec<&Loan> = match loans {
                Some(ls) => {
                    for (l, stored) in ls.iter_mut() {
                        l.paid = *stored - loan_later.get(&l.id).copied().unwrap_or(0);
                    }
                    ls.iter()
                        .map(|(l, _)| l)
                        .filter(|l| runs_on(l, date))
                        .collect()
                }
                None => Vec::new(),
            };
            let sav = savings_before.get(&m.id).copied().unwrap_or(0);
            let d = review::dues(m, running, sav, &days, date);
            let (l, s) = collected.get(&m.id).copied().unwrap_or_default();
            let missed = review::is_missed(d.due, l + s);
            totals.count(d.due, l + s, missed);
            org_acc.line(m.id, d.due, l, s, missed);
            worker_acc
                .entry(m.worker_id)
                .or_default()
                .line(m.id, d.due, l, s, missed);
        }
        totals.finish();
        let collection_day = days.is_collection_day(date);
        if collection_day {
            collection_days += 1;
        }
        report_days.push(ReportDay {
            date,
            collection_day,
            totals,
        });
        // The next day begins with this day's entries counted.
        for (member, loan, l, s) in entries {
            *savings_before.entry(*member).or_default() += s;
            if let Some(loan) = loan {
                *loan_later.entry(*loan).or_default() -= l;
            }
        }
        date = match date.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }

    // The month's loans and withdrawals, and the portfolio as the last day ended: each
    // counted for the organization and for the member's worker.
    let group = |member: i64| worker_of.get(&member).copied().flatten();
    let mut both = |member: i64, f: &dyn Fn(&mut Acc)| {
        f(&mut org_acc);
        f(worker_acc.entry(group(member)).or_default());
    };
    for (member, principal) in disbursed {
        both(member, &|a| {
            a.totals.loans_disbursed += 1;
            a.totals.principal_disbursed += principal;
        });
    }
    for (member, amount) in withdrawn {
        if worker_of.contains_key(&member) {
            both(member, &|a| a.totals.savings_withdrawn += amount);
        }
    }
    for (member, ls) in &member_loans {
        for (l, stored) in ls {
            if l.closed_on.is_some_and(|d| (first..=through).contains(&d)) {
                match l.status {
                    LoanStatus::Repaid => both(*member, &|a| a.totals.loans_repaid += 1),
                    LoanStatus::WrittenOff => both(*member, &|a| {
                        a.totals.loans_written_off += 1;
                        a.totals.written_off += l.written_off;
                    }),
                    LoanStatus::Active => {}
                }
            }
            // Running as the last day ended: its payments through that day, its standing
            // then (active, whatever became of it since).
            if l.disbursed_on <= through
                && (l.status == LoanStatus::Active || l.closed_on.is_some_and(|d| d > through))
            {
                let mut at = l.clone();
                at.status = LoanStatus::Active;
                at.paid = *stored - loan_later.get(&l.id).copied().unwrap_or(0);
                let (outstanding, overdue) = (at.outstanding(), at.days_overdue(&days, through));
                both(*member, &|a| a.par.add(outstanding, overdue));
            }
        }
    }

    let n_days = report_days.len() as i64;
    let workers = if worker.is_some() {
        Vec::new()
    } else {
        let mut ws: Vec<WorkerMonth> = worker_acc
            .into_iter()
            .map(|(id, acc)| {
                let (totals, par) = acc.finish(n_days, collection_days, through);
                WorkerMonth {
                    worker_id: id,
                    worker_name: id
                        .and_then(|w| worker_names.get(&w).cloned())
                        .unwrap_or_else(|| "(no worker)".into()),
                    totals,
                    par,
                }
            })
            .collect();
        ws.sort_by(|a, b| (&a.worker_name, a.worker_id).cmp(&(&b.worker_name, b.worker_id)));
        ws
    };
    let (totals, par) = org_acc.finish(n_days, collection_days, through);
    Ok(MonthReport {
        org: org.code.clone(),
        month,
        first,
        through,
        current: YearMonth::of(today) == month,
        worker: report_worker,
        days: report_days,
        totals,
        par,
        workers,
    })
}

/// One member's entries of one day for one loan (or none): (member, loan, loan, savings).
type DaySum = (i64, Option<i64>, i64, i64);

/// Whether a loan was running on `date`, as `balance::accounts_at` reads it: disbursed by
/// then, and active now or closed on or after it.
fn runs_on(l: &Loan, date: NaiveDate) -> bool {
    l.disbursed_on <= date && (l.status == LoanStatus::Active || l.closed_on >= Some(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_steps_stop_at_this_month_and_at_the_earliest() {
        let ym = |s: &str| YearMonth::parse(s).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let joined = Some(ym("2026-10"));
        assert_eq!(
            step_month(ym("2026-11"), true, joined, today),
            MonthStep::To(ym("2026-12"))
        );
        assert_eq!(
            step_month(ym("2026-12"), true, joined, today),
            MonthStep::NoLater(ym("2026-12"))
        );
        assert_eq!(
            step_month(ym("2026-11"), false, joined, today),
            MonthStep::To(ym("2026-10"))
        );
        assert_eq!(
            step_month(ym("2026-10"), false, joined, today),
            MonthStep::NoEarlier(ym("2026-10"))
        );
        assert_eq!(
            step_month(ym("2026-01"), false, None, today),
            MonthStep::To(ym("2025-12"))
        );
    }

    #[test]
    fn a_month_is_yyyy_mm() {
        let m = YearMonth::parse("2026-11").unwrap();
        assert_eq!((m.year, m.month), (2026, 11));
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.first_day(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(YearMonth::parse("২০২৬-০২").unwrap().last_day().day(), 28);
        assert_eq!(m.next().to_string(), "2026-12");
        assert_eq!(m.next().next().to_string(), "2027-01");
        assert_eq!(YearMonth::parse("2027-01").unwrap().prev(), m.next());
        for bad in [
            "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "november", "",
        ] {
            let e = YearMonth::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("month: "), "{bad}: {e}");
            assert!(e.to_string().contains("YYYY-MM"), "{bad}: {e}");
        }
    }

    #[test]
    fn par_counts_loans_overdue_more_than_each_limit() {
        let mut p = Par::default();
        p.add(100, 0);
        p.add(200, 1);
        p.add(300, 31);
        p.add(400, 91);
        p.finish(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!((p.loans, p.outstanding), (4, 1000));
        assert_eq!((p.par1, p.par30, p.par90), (700, 700, 400));
        assert_eq!((p.loans_par1, p.loans_par30, p.loans_par90), (2, 2, 1));
        assert_eq!((p.par1_bp, p.par30_bp, p.par90_bp), (7000, 7000, 4000));
        assert_eq!(bp_text(p.par90_bp), "40.00 %");
    }
}
