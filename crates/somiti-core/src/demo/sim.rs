//! The simulator: collections generated day by day, following the ledger's rules of dues,
//! and handed to the loader in chunks.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::plan::OrgPlan;

/// One collections row.
pub(super) struct Entry<'a> {
    pub(super) id: i64,
    pub(super) org_id: i64,
    pub(super) member_id: i64,
    pub(super) collected_on: NaiveDate,
    pub(super) loan: i64,
    pub(super) savings: i64,
    pub(super) worker_id: Option<i64>,
    pub(super) note: &'static str,
    pub(super) entered_by: &'a str,
    pub(super) entered_at: DateTime<Utc>,
    pub(super) reversal_of: Option<i64>,
    /// The loan a loan part pays (the member's loan of the day).
    pub(super) loan_id: Option<i64>,
}

/// A loan after the first: the member repaid the last one and took the next cycle.
pub(super) struct NewLoan {
    pub(super) id: i64,
    pub(super) org_id: i64,
    pub(super) member_id: i64,
    pub(super) cycle: i64,
    pub(super) disbursed_on: NaiveDate,
    pub(super) first_due_on: NaiveDate,
    pub(super) principal: i64,
    pub(super) installment: i64,
    pub(super) by: String,
    pub(super) at: DateTime<Utc>,
}

/// Rows per chunk handed to the database.
pub(super) const CHUNK_ROWS: usize = 20_000;

/// The per-organization state of the simulation.
pub(super) struct OrgSim {
    pub(super) rng: ChaCha8Rng,
    /// The accounts' own choices (the next loan), apart from `rng`.
    pub(super) accounts_rng: ChaCha8Rng,
    /// Per member: the running loan (0: none), its installment, cycle, principal and first
    /// due day, and what is outstanding on it.
    pub(super) loan_id: Vec<i64>,
    pub(super) installment: Vec<i64>,
    pub(super) cycle: Vec<i64>,
    pub(super) principal: Vec<i64>,
    pub(super) first_due: Vec<NaiveDate>,
    pub(super) outstanding: Vec<i64>,
    /// What each member owes from earlier days (negative: paid ahead).
    pub(super) behind: Vec<i64>,
    pub(super) day: NaiveDate,
}

/// Walks organizations, then days, then members, producing collections rows with ids in
/// entry order.
pub(super) struct EntryStream<'a> {
    pub(super) plans: &'a [OrgPlan],
    pub(super) window_start: NaiveDate,
    pub(super) today: NaiveDate,
    /// Entries for today are not later than this instant when today is the real today.
    pub(super) now_cap: DateTime<Utc>,
    pub(super) next_id: i64,
    pub(super) org: usize,
    pub(super) sim: Option<OrgSim>,
    pub(super) written: u64,
    pub(super) reversals: u64,
    pub(super) next_loan_id: i64,
    /// Loans after the first, in the order given; and the loans repaid (with the day) that
    /// a next cycle followed.
    pub(super) new_loans: Vec<NewLoan>,
    pub(super) repaid: std::collections::HashMap<i64, NaiveDate>,
}

impl<'a> EntryStream<'a> {
    pub(super) fn new(
        plans: &'a [OrgPlan],
        window_start: NaiveDate,
        today: NaiveDate,
        now_cap: DateTime<Utc>,
        first_id: i64,
        first_loan_id: i64,
    ) -> Self {
        EntryStream {
            plans,
            window_start,
            today,
            now_cap,
            next_id: first_id,
            org: 0,
            sim: None,
            written: 0,
            reversals: 0,
            next_loan_id: first_loan_id,
            new_loans: Vec::new(),
            repaid: std::collections::HashMap::new(),
        }
    }

    /// Append rows to `out` until it holds at least `want` or the data runs out.
    /// False when nothing was added (the end).
    pub(super) fn fill(&mut self, out: &mut Vec<Entry<'a>>, want: usize) -> bool {
        let before = out.len();
        let plans = self.plans;
        while out.len() < want && self.org < plans.len() {
            let plan = &plans[self.org];
            let sim = self.sim.get_or_insert_with(|| OrgSim {
                rng: ChaCha8Rng::seed_from_u64(plan.seed),
                accounts_rng: ChaCha8Rng::seed_from_u64(plan.seed ^ super::plan::ACCOUNTS_SEED),
                loan_id: plan.members.iter().map(|m| m.loan_id).collect(),
                installment: plan.members.iter().map(|m| m.daily_installment).collect(),
                cycle: vec![1; plan.members.len()],
                principal: plan.members.iter().map(|m| m.loan_amount).collect(),
                first_due: plan.members.iter().map(|m| m.joined_on).collect(),
                outstanding: plan.members.iter().map(|m| m.loan_amount).collect(),
                behind: vec![0; plan.members.len()],
                day: self.window_start,
            });
            if sim.day > self.today {
                self.sim = None;
                self.org += 1;
                continue;
            }
            let d = sim.day;
            sim.day = d + Duration::days(1);
            if !plan.days.is_collection_day(d) {
                continue;
            }
            let mut sim = self.sim.take().expect("sim");
            self.day(plan, &mut sim, d, out);
            self.sim = Some(sim);
        }
        let added = out.len() - before;
        self.written += added as u64;
        added > 0
    }

    /// Member `i` repaid the loan on `d`: most take the next cycle the next day, a little
    /// larger, first due on the collection day after.
    fn next_cycle(&mut self, plan: &'a OrgPlan, sim: &mut OrgSim, i: usize, d: NaiveDate) {
        let on = d + Duration::days(1);
        if on >= self.today || !sim.accounts_rng.random_bool(0.8) {
            return;
        }
        let m = &plan.members[i];
        self.repaid.insert(sim.loan_id[i], d);
        let principal = (sim.principal[i] * 5 / 4 / 50_000 * 50_000).clamp(1_000_000, 20_000_000);
        let repay_days: i64 = sim.accounts_rng.random_range(60..=200);
        let installment = (principal / 100 + repay_days - 1) / repay_days * 100;
        let id = self.next_loan_id;
        self.next_loan_id += 1;
        let first_due = crate::ledger::loan::default_first_due(&plan.days, on);
        self.new_loans.push(NewLoan {
            id,
            org_id: m.org_id,
            member_id: m.id,
            cycle: sim.cycle[i] + 1,
            disbursed_on: on,
            first_due_on: first_due,
            principal,
            installment,
            by: plan.users[0].clone(),
            at: local_noon_utc(&plan.tz, on),
        });
        sim.loan_id[i] = id;
        sim.cycle[i] += 1;
        sim.principal[i] = principal;
        sim.installment[i] = installment;
        sim.first_due[i] = first_due;
        sim.outstanding[i] = principal;
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Every active member's entries for collection day `d`, then the next loans of those
    /// who repaid on it.
    fn day(&mut self, plan: &'a OrgPlan, sim: &mut OrgSim, d: NaiveDate, out: &mut Vec<Entry<'a>>) {
        let mut repaid_now = Vec::new();
        self.members_day(plan, sim, d, out, &mut repaid_now);
        for i in repaid_now {
            self.next_cycle(plan, sim, i, d);
        }
    }

    fn members_day(
        &mut self,
        plan: &'a OrgPlan,
        sim: &mut OrgSim,
        d: NaiveDate,
        out: &mut Vec<Entry<'a>>,
        repaid_now: &mut Vec<usize>,
    ) {
        let noon = local_noon_utc(&plan.tz, d);
        let next_noon = local_noon_utc(&plan.tz, d + Duration::days(1));
        let is_today = d == self.today;
        // Only when generating for the real business date can "now" cut today short.
        let cap = (plan.org.local_date(self.now_cap) == self.today).then_some(self.now_cap);
        let rng = &mut sim.rng;
        for (i, m) in plan.members.iter().enumerate() {
            if m.status != "active" || d < m.joined_on {
                continue;
            }
            let outstanding = sim.outstanding[i];
            let installment = if d < sim.first_due[i] {
                0
            } else {
                sim.installment[i]
            };
            let loan_due = installment.min(outstanding);
            let worker_user = plan.users[m.user].as_str();
            let cur_loan = sim.loan_id[i];
            let row = |id: i64, loan: i64, savings: i64, by: &'a str, at: DateTime<Utc>| Entry {
                id,
                org_id: m.org_id,
                member_id: m.id,
                collected_on: d,
                loan,
                savings,
                worker_id: m.worker_id,
                note: "",
                entered_by: by,
                entered_at: at,
                reversal_of: None,
                loan_id: (loan > 0 && cur_loan != 0).then_some(cur_loan),
            };

            if is_today {
                // About 60 % have paid by the time the office looks at today's review.
                if rng.random_bool(0.6) {
                    let mut at = noon + Duration::seconds(rng.random_range(-4 * 3600..2 * 3600));
                    if let Some(cap) = cap {
                        at = at.min(cap);
                    }
                    let (loan, savings) = if sim.behind[i] > 0 && rng.random_bool(0.35) {
                        catch_up(
                            sim.behind[i] + loan_due + m.daily_savings,
                            m.daily_savings,
                            outstanding,
                        )
                    } else {
                        (loan_due, m.daily_savings)
                    };
                    let id = self.take_id();
                    out.push(row(id, loan, savings, worker_user, at));
                    sim.outstanding[i] -= loan;
                }
                continue;
            }

            let r: f64 = rng.random();
            let due_today = loan_due + m.daily_savings;
            let (loan, savings) = if r < 0.80 {
                // Most pay the day's due; one who is behind often clears it too.
                if sim.behind[i] > 0 && rng.random_bool(0.35) {
                    catch_up(sim.behind[i] + due_today, m.daily_savings, outstanding)
                } else {
                    (loan_due, m.daily_savings)
                }
            } else if r < 0.88 {
                // Partial: a round share of the day's due, the loan first.
                let total = loan_due + m.daily_savings;
                let share = total * rng.random_range(30..=80) / 100;
                let pay = if share >= 1_000 {
                    share / 1_000 * 1_000
                } else {
                    share / 100 * 100
                };
                if pay == 0 || pay >= total {
                    sim.behind[i] += due_today;
                    continue;
                }
                let loan = pay.min(loan_due);
                (loan, pay - loan)
            } else if r < 0.96 {
                sim.behind[i] += due_today;
                continue; // missed
            } else if r < 0.99 {
                // Ahead: two (sometimes three) days at once.
                let k = if rng.random_bool(0.8) { 2 } else { 3 };
                ((k * installment).min(outstanding), k * m.daily_savings)
            } else {
                (loan_due, m.daily_savings)
            };
            sim.outstanding[i] -= loan;
            sim.behind[i] += due_today - loan - savings;
            if sim.outstanding[i] == 0 && loan > 0 {
                repaid_now.push(i);
            }

            // Who typed it and when: the worker that evening, sometimes the office; a few
            // reach the office the next morning.
            let by = if rng.random_bool(0.85) {
                worker_user
            } else {
                plan.users[0].as_str()
            };
            let late = d + Duration::days(2) <= self.today && rng.random_bool(0.02);
            let at = if late {
                next_noon - Duration::seconds(rng.random_range(0..3 * 3600))
            } else {
                noon + Duration::seconds(rng.random_range(5 * 3600..10 * 3600))
            };

            if !rng.random_bool(0.005) {
                let id = self.take_id();
                out.push(row(id, loan, savings, by, at));
                continue;
            }

            // A mistake, its reversal (by the office, with the reason) and the right entry.
            let reason_at = at + Duration::seconds(rng.random_range(10 * 60..120 * 60));
            let fixed_at = reason_at + Duration::seconds(rng.random_range(60..600));
            let office = plan.users[0].as_str();
            let swapped = (savings.min(outstanding), loan);
            let mistake = match rng.random_range(0..3) {
                0 if swapped != (loan, savings) && swapped != (0, 0) => {
                    Some((swapped, "loan and savings amounts swapped"))
                }
                1 if loan > 0 && loan * 10 <= outstanding => Some((
                    (loan * 10, savings),
                    "wrong amount typed: an extra zero on the loan",
                )),
                _ => None,
            };
            self.reversals += 1;
            match mistake {
                Some(((wrong_loan, wrong_savings), reason)) => {
                    let wrong_id = self.take_id();
                    out.push(row(wrong_id, wrong_loan, wrong_savings, by, at));
                    let rev_id = self.take_id();
                    out.push(Entry {
                        note: reason,
                        reversal_of: Some(wrong_id),
                        ..row(rev_id, wrong_loan, wrong_savings, office, reason_at)
                    });
                    let id = self.take_id();
                    out.push(Entry {
                        note: "corrected entry",
                        ..row(id, loan, savings, by, fixed_at)
                    });
                }
                None => {
                    // Posted twice: the first entry stands, the duplicate is reversed.
                    let id = self.take_id();
                    out.push(row(id, loan, savings, by, at));
                    let dup_id = self.take_id();
                    out.push(row(dup_id, loan, savings, by, at + Duration::seconds(40)));
                    let rev_id = self.take_id();
                    out.push(Entry {
                        note: "posted twice by mistake",
                        reversal_of: Some(dup_id),
                        ..row(rev_id, loan, savings, office, reason_at)
                    });
                }
            }
        }
    }
}

/// Pay everything owed (`owed`): the loan first up to what is outstanding, keeping the
/// day's savings, the rest as savings.
pub(super) fn catch_up(owed: i64, daily_savings: i64, outstanding: i64) -> (i64, i64) {
    let loan = (owed - daily_savings).clamp(0, outstanding);
    (loan, owed - loan)
}

/// Noon of `d` in `tz`, in UTC: the anchor for a day's entry times (clear of DST shifts).
pub(super) fn local_noon_utc(tz: &Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}
