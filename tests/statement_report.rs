//! The member statement (passbook) and the monthly report, on SQLite and PostgreSQL: the
//! statement agrees with the member's running balances and runs its balances right through
//! a second loan cycle, a withdrawal, a reversal and a write-off; the report's days are the
//! daily reviews' totals and its month their sum; portfolio at risk on a constructed case;
//! and the command line's `--json` and `--csv` output.
//!
//! Dates are relative to the organization's today (the ledger's clock); nothing sleeps.

// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod common;

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;

use common::*;
use somiti::Error;
use somiti::access::{Operator, Role};
use somiti::csvio::reports::{MONTH_HEADER, STATEMENT_HEADER};
use somiti::db::Store;
use somiti::ledger::collection::{self, Collection, CollectionInput};
use somiti::ledger::loan::{self, Disbursement, LoanStatus};
use somiti::ledger::member;
use somiti::ledger::org::Organization;
use somiti::ledger::report::{self, MonthReport, YearMonth};
use somiti::ledger::review;
use somiti::ledger::savings::{self, WithdrawalInput};
use somiti::ledger::statement::{self, MemberRef, RowKind, Statement};
use somiti::ledger::{Rules, closure, org};

on_both_backends!(
    statement_totals_and_closing_balances_equal_the_members_balances,
    running_balances_through_a_second_cycle_a_withdrawal_a_reversal_a_write_off_and_a_close,
    a_statement_refuses_a_backward_or_future_range_naming_the_field,
    report_days_equal_the_daily_reviews_and_the_month_is_their_sum,
    portfolio_at_risk_on_loans_0_5_40_and_100_days_overdue,
    a_report_refuses_a_future_month_and_csv_needs_the_export_permission,
);

// ---- helpers --------------------------------------------------------------------------

struct World {
    org: Organization,
    admin: Operator,
    manager: Operator,
    viewer: Operator,
    today: NaiveDate,
}

async fn world(s: &Store) -> World {
    let org = make_org(s, "DHK").await;
    World {
        admin: admin(s).await,
        manager: manager(s, &org).await,
        viewer: viewer(s, &org).await,
        today: org.today(),
        org,
    }
}

fn entry(member_no: &str, on: NaiveDate, loan: i64, savings: i64) -> CollectionInput {
    CollectionInput {
        member_no: member_no.into(),
        collected_on: Some(on),
        loan_paisa: loan,
        savings_paisa: savings,
        note: String::new(),
    }
}

async fn post(
    s: &Store,
    w: &World,
    member_no: &str,
    on: NaiveDate,
    loan: i64,
    sav: i64,
) -> Collection {
    collection::add(s, &w.manager, &w.org, &entry(member_no, on, loan, sav))
        .await
        .unwrap_or_else(|e| panic!("post for {member_no} on {on}: {e}"))
}

async fn withdraw(s: &Store, w: &World, member_no: &str, on: NaiveDate, amount: i64) -> i64 {
    let input = WithdrawalInput {
        member_no: member_no.into(),
        withdrawn_on: Some(on),
        amount,
        reason: "school fees".into(),
    };
    savings::withdraw(s, &w.manager, &w.org, &input, &Rules::default())
        .await
        .unwrap_or_else(|e| panic!("withdraw for {member_no} on {on}: {e}"))
        .id
}

async fn full_statement(s: &Store, w: &World, member_no: &str) -> Statement {
    statement::statement(s, &w.manager, &w.org, &member_no.into(), None, None)
        .await
        .unwrap_or_else(|e| panic!("statement of {member_no}: {e}"))
}

/// The member's stored running balances: the register's (loan outstanding, savings).
async fn stored_balances(s: &Store, w: &World, member_no: &str) -> (i64, i64) {
    let d = member::show(s, &w.manager, &w.org, member_no)
        .await
        .unwrap();
    let loans = loan::for_member(s, d.row.member.id).await.unwrap();
    let acct = savings::account(s, w.org.id, d.row.member.id)
        .await
        .unwrap();
    assert_eq!(
        d.row.loan_outstanding,
        loans.iter().map(|l| l.outstanding()).sum::<i64>(),
        "the register's outstanding is its loans'"
    );
    assert_eq!(d.row.savings_balance, acct.balance());
    (d.row.loan_outstanding, d.row.savings_balance)
}

/// What every statement must hold: rows in date order, each row's balances follow from
/// the one before, the totals are the column sums, and the closing is the last row's.
fn check_arithmetic(st: &Statement) {
    let mut sav = st.opening.savings_balance;
    let mut prev = None;
    for r in &st.rows {
        assert!(
            r.date >= st.from && r.date <= st.to,
            "{} in range",
            r.description
        );
        if let Some(p) = prev {
            assert!(r.date >= p, "date order at {}", r.description);
        }
        prev = Some(r.date);
        sav += r.savings_in - r.savings_out;
        assert_eq!(r.savings_balance, sav, "savings after {}", r.description);
    }
    let sum = |f: fn(&statement::StatementRow) -> i64| st.rows.iter().map(f).sum::<i64>();
    assert_eq!(st.totals.loan_paid, sum(|r| r.loan_paid));
    assert_eq!(st.totals.savings_in, sum(|r| r.savings_in));
    assert_eq!(st.totals.savings_out, sum(|r| r.savings_out));
    assert_eq!(st.totals.loan_disbursed, sum(|r| r.loan_disbursed));
    assert_eq!(st.totals.written_off, sum(|r| r.written_off));
    assert_eq!(
        st.closing.savings_balance,
        st.opening.savings_balance + st.totals.savings_in - st.totals.savings_out
    );
    assert_eq!(
        st.closing.loan_outstanding,
        st.opening.loan_outstanding + st.totals.loan_disbursed + st.totals.service_charge
            - st.totals.loan_paid
            - st.totals.written_off,
        "loan: opening + given − paid − written off = closing"
    );
    if let Some(last) = st.rows.last() {
        assert_eq!(last.loan_outstanding, st.closing.loan_outstanding);
        assert_eq!(last.savings_balance, st.closing.savings_balance);
    }
}

fn invalid_field(e: &Error) -> String {
    match e {
        Error::Invalid { field, .. } => {
            assert!(
                e.to_string().starts_with(&format!("{field}:")),
                "message should name the field: {e}"
            );
            field.clone()
        }
        other => panic!("expected a rejected field, got {other:?}"),
    }
}

// ---- the statement ---------------------------------------------------------------------

async fn statement_totals_and_closing_balances_equal_the_members_balances(s: &Store) {
    let w = world(s).await;
    let joined = days_before(w.today, 20);
    add_member(s, &w.org, member_input("7", joined)).await;
    add_member(s, &w.org, member_input("8", joined)).await;
    for k in (1..=19).rev() {
        let d = days_before(w.today, k);
        match k % 4 {
            0 => {}
            1 => {
                post(s, &w, "7", d, 100_00, 20_00).await;
            }
            2 => {
                post(s, &w, "7", d, 0, 50_00).await;
            }
            _ => {
                post(s, &w, "7", d, 250_00, 0).await;
            }
        }
        post(s, &w, "8", d, 100_00, 20_00).await; // someone else's entries stay out
    }
    let wrong = post(s, &w, "7", days_before(w.today, 3), 40_00, 40_00).await;
    collection::reverse(s, &w.manager, &w.org, wrong.id, "wrong member")
        .await
        .unwrap();
    let wd = withdraw(s, &w, "7", days_before(w.today, 2), 60_00).await;
    savings::reverse_withdrawal(s, &w.manager, &w.org, wd, "paid twice")
        .await
        .unwrap();
    withdraw(s, &w, "7", w.today, 30_00).await;

    let st = full_statement(s, &w, "7").await;
    check_arithmetic(&st);
    assert_eq!((st.from, st.to), (joined, w.today));
    assert_eq!(st.opening, Default::default(), "nothing before joining");
    let (loan_out, sav) = stored_balances(s, &w, "7").await;
    assert_eq!(
        (st.closing.loan_outstanding, st.closing.savings_balance),
        (loan_out, sav),
        "closing on today = the member's running balances"
    );
    assert!(loan_out > 0 && sav > 0);
    // totals are the member's effective entries
    let m = member::find_by_no(s, &w.org, "7").await.unwrap();
    let (loan_sum, sav_sum): (i64, i64) = somiti::on_store!(s, |p| {
        sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN savings_paisa ELSE -savings_paisa END), 0) AS BIGINT) \
         FROM collections WHERE member_id = $1"
    )
    .bind(m.id)
    .fetch_one(p)
    .await
    .unwrap()
    });
    assert_eq!(
        (st.totals.loan_paid, st.totals.savings_in),
        (loan_sum, sav_sum)
    );
    assert_eq!(st.totals.savings_out, 30_00);
    assert_eq!(st.totals.loan_disbursed, 10_000_00);
    // every entry is a row: 1 disbursement, 15 collections + 1 and its reversal, 3 withdrawal rows
    let kinds = |k: RowKind| st.rows.iter().filter(|r| r.kind == k).count();
    assert_eq!(kinds(RowKind::Disbursement), 1);
    assert_eq!(kinds(RowKind::Reversal), 2);
    assert_eq!(kinds(RowKind::Withdrawal), 2);
    assert_eq!(
        kinds(RowKind::Payment) + kinds(RowKind::Deposit),
        15 + 1,
        "one row per collection, loan and savings together"
    );
    let both = st
        .rows
        .iter()
        .find(|r| r.loan_paid == 100_00 && r.savings_in == 20_00)
        .expect("a collection with both parts is one row");
    assert_eq!(both.kind, RowKind::Payment);
    assert!(
        st.rows
            .iter()
            .any(|r| r.description == format!("reversal of #{}: wrong member", wrong.id)),
        "{:?}",
        st.rows.iter().map(|r| &r.description).collect::<Vec<_>>()
    );
    assert!(st.rows.iter().any(|r| r.description
        == format!("reversal of withdrawal #{wd}: paid twice")
        && r.savings_out == -60_00));
    // by id, the same statement
    let by_id = statement::statement(s, &w.viewer, &w.org, &MemberRef::Id(m.id), None, None)
        .await
        .unwrap();
    assert_eq!(by_id.rows, st.rows);
    // a middle range: opening = the balances the full statement ran to the day before
    let from = days_before(w.today, 10);
    let to = days_before(w.today, 5);
    let part = statement::statement(s, &w.manager, &w.org, &"7".into(), Some(from), Some(to))
        .await
        .unwrap();
    check_arithmetic(&part);
    let before = st.rows.iter().rfind(|r| r.date < from).unwrap();
    assert_eq!(
        (part.opening.loan_outstanding, part.opening.savings_balance),
        (before.loan_outstanding, before.savings_balance)
    );
    let last = st.rows.iter().rfind(|r| r.date <= to).unwrap();
    assert_eq!(
        (part.closing.loan_outstanding, part.closing.savings_balance),
        (last.loan_outstanding, last.savings_balance)
    );
    assert_eq!(
        part.rows,
        st.rows
            .iter()
            .filter(|r| r.date >= from && r.date <= to)
            .cloned()
            .collect::<Vec<_>>()
    );
    // another organization's member is not found by id
    let other = make_org(s, "CTG").await;
    let e = statement::statement(s, &w.admin, &other, &MemberRef::Id(m.id), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn running_balances_through_a_second_cycle_a_withdrawal_a_reversal_a_write_off_and_a_close(
    s: &Store,
) {
    let w = world(s).await;
    let joined = days_before(w.today, 20);
    let mut m = member_input("1", joined);
    m.loan_amount = 300_00;
    m.daily_installment = 100_00;
    add_member(s, &w.org, m).await;
    let d = |k| days_before(w.today, k);
    post(s, &w, "1", d(15), 100_00, 50_00).await;
    post(s, &w, "1", d(14), 200_00, 0).await; // repays cycle 1
    let second = loan::disburse(
        s,
        &w.manager,
        &w.org,
        &Disbursement {
            member_no: "1".into(),
            disbursed_on: Some(d(12)),
            principal: 1_000_00,
            service_charge: 100_00,
            installment: 100_00,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let twice = post(s, &w, "1", d(10), 300_00, 100_00).await;
    let wd = withdraw(s, &w, "1", d(8), 30_00).await;
    collection::reverse(s, &w.manager, &w.org, twice.id, "entered twice")
        .await
        .unwrap();
    post(s, &w, "1", d(6), 200_00, 0).await;
    let off = loan::write_off(s, &w.admin, &w.org, "1", "moved away")
        .await
        .unwrap();
    assert_eq!(
        (off.status, off.written_off),
        (LoanStatus::WrittenOff, 900_00)
    );
    // then the member leaves: the savings are paid out by a final withdrawal
    let closed = closure::close(s, &w.admin, &w.org, "1", "moved away", &Rules::default())
        .await
        .unwrap();
    assert_eq!(closed.paid_out, 20_00);

    let st = full_statement(s, &w, "1").await;
    check_arithmetic(&st);
    let got: Vec<(NaiveDate, RowKind, i64, i64)> = st
        .rows
        .iter()
        .map(|r| (r.date, r.kind, r.loan_outstanding, r.savings_balance))
        .collect();
    assert_eq!(
        got,
        vec![
            (joined, RowKind::Disbursement, 300_00, 0),
            (d(15), RowKind::Payment, 200_00, 50_00),
            (d(14), RowKind::Payment, 0, 50_00),
            (d(12), RowKind::Disbursement, 1_100_00, 50_00),
            (d(10), RowKind::Payment, 800_00, 150_00),
            (d(10), RowKind::Reversal, 1_100_00, 50_00),
            (d(8), RowKind::Withdrawal, 1_100_00, 20_00),
            (d(6), RowKind::Payment, 900_00, 20_00),
            (w.today, RowKind::WriteOff, 0, 20_00),
            (w.today, RowKind::Withdrawal, 0, 0),
            (w.today, RowKind::Closed, 0, 0),
        ]
    );
    let r = &st.rows;
    assert_eq!(
        r[0].description,
        "loan 1 disbursed: 300.00, installment 100.00"
    );
    assert_eq!(r[1].description, "loan 1 payment and savings");
    assert_eq!(r[2].description, "loan 1 payment (repaid)");
    assert_eq!(
        r[3].description,
        "loan 2 disbursed: 1,000.00 + 100.00 service charge, installment 100.00"
    );
    assert_eq!(
        (r[3].loan_disbursed, r[3].service_charge, r[3].loan_id),
        (1_000_00, 100_00, Some(second.id))
    );
    assert_eq!(r[4].loan_id, Some(second.id));
    assert_eq!(
        (r[5].loan_paid, r[5].savings_in, r[5].description.as_str()),
        (
            -300_00,
            -100_00,
            format!("reversal of #{}: entered twice", twice.id).as_str()
        )
    );
    assert_eq!(r[6].entry, statement::EntryRef::Withdrawal(wd));
    assert_eq!(
        (r[8].written_off, r[8].description.as_str()),
        (900_00, "loan 2 written off: moved away")
    );
    assert_eq!(
        (r[9].savings_out, r[9].description.as_str()),
        (20_00, "savings withdrawal: closing: moved away")
    );
    assert_eq!(
        (r[10].entry, r[10].description.as_str()),
        (statement::EntryRef::Closure, "member closed: moved away")
    );
    assert_eq!(
        (st.closing.loan_outstanding, st.closing.savings_balance),
        stored_balances(s, &w, "1").await
    );
    assert_eq!(
        (
            st.totals.loan_disbursed,
            st.totals.service_charge,
            st.totals.loan_paid,
            st.totals.written_off,
            st.totals.savings_in,
            st.totals.savings_out
        ),
        (1_300_00, 100_00, 500_00, 900_00, 50_00, 50_00)
    );
    // the second cycle's days alone: it opens with the first loan repaid
    let part = statement::statement(s, &w.manager, &w.org, &"1".into(), Some(d(12)), Some(d(8)))
        .await
        .unwrap();
    check_arithmetic(&part);
    assert_eq!(
        (part.opening.loan_outstanding, part.opening.savings_balance),
        (0, 50_00)
    );
    assert_eq!(part.rows.len(), 4);
    assert_eq!(
        (part.closing.loan_outstanding, part.closing.savings_balance),
        (1_100_00, 20_00)
    );
    // a range with no rows: opening = closing
    let quiet = statement::statement(s, &w.manager, &w.org, &"1".into(), Some(d(5)), Some(d(1)))
        .await
        .unwrap();
    assert!(quiet.rows.is_empty());
    assert_eq!(quiet.opening, quiet.closing);
    assert_eq!(quiet.closing.loan_outstanding, 900_00);
}

async fn a_statement_refuses_a_backward_or_future_range_naming_the_field(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 5))).await;
    let tomorrow = w.today.succ_opt().unwrap();
    let one: MemberRef = "1".into();
    let ask = |from, to| statement::statement(s, &w.manager, &w.org, &one, from, to);
    let e = ask(Some(w.today), Some(days_before(w.today, 1)))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "from");
    assert!(e.to_string().contains("is after to"), "{e}");
    let e = ask(Some(tomorrow), None).await.unwrap_err();
    assert_eq!(invalid_field(&e), "from");
    assert!(e.to_string().contains("in the future"), "{e}");
    let e = ask(None, Some(tomorrow)).await.unwrap_err();
    assert_eq!(invalid_field(&e), "to");
    assert!(e.to_string().contains("in the future"), "{e}");
    // a `to` before joining: the range is that one day, with nothing in it
    let early = ask(None, Some(days_before(w.today, 9))).await.unwrap();
    assert!(early.rows.is_empty());
    assert_eq!(early.from, early.to);
    let e = statement::statement(s, &w.manager, &w.org, &"99".into(), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

// ---- the monthly report ----------------------------------------------------------------

/// A month of activity over two workers: entries every day in a pattern (paid, missed,
/// partial, paid ahead), a member joining mid-month, an inactive member, a loan repaid and
/// the next one disbursed, withdrawals and a reversal. From five weeks ago through today.
struct MonthScenario {
    karim: org::Worker,
    start: NaiveDate,
    /// Loans disbursed after `start` (date, principal) and loans repaid (date).
    disbursed: Vec<(NaiveDate, i64)>,
    repaid: Vec<NaiveDate>,
    withdrawn: Vec<(NaiveDate, i64)>,
}

async fn month_scenario(s: &Store, w: &World) -> MonthScenario {
    let karim = field_worker(s, &w.org, "Karim Uddin").await;
    let salma = field_worker(s, &w.org, "Salma Akter").await;
    let start = days_before(w.today, 40);
    for (no, worker, joined) in [
        ("1", &karim, days_before(start, 5)),
        ("2", &karim, days_before(start, 5)),
        ("3", &salma, days_before(start, 3)),
        ("4", &salma, days_before(w.today, 20)), // joins in the middle
        ("5", &karim, days_before(start, 5)),    // made inactive later
        ("6", &salma, days_before(start, 1)),
    ] {
        let mut m = member_input(no, joined);
        m.worker = worker.name.clone();
        if no == "6" {
            m.loan_amount = 500_00;
            m.daily_installment = 100_00;
        }
        add_member(s, &w.org, m).await;
    }
    // every member's first loan is disbursed on the day they join
    let mut disbursed = Vec::new();
    for no in ["1", "2", "3", "4", "5", "6"] {
        let m = member::find_by_no(s, &w.org, no).await.unwrap();
        let l = &loan::for_member(s, m.id).await.unwrap()[0];
        disbursed.push((l.disbursed_on, l.principal));
    }
    let mut repaid = Vec::new();
    let mut withdrawn = Vec::new();
    let mut k = 40;
    while k > 0 {
        let d = days_before(w.today, k);
        for (i, no) in ["1", "2", "3", "4", "5"].iter().enumerate() {
            let m = member::find_by_no(s, &w.org, no).await.unwrap();
            if d < m.joined_on {
                continue;
            }
            let (loan, sav) = match (i as i64 + k) % 5 {
                0 => continue,        // missed
                1 => (50_00, 0),      // partial
                2 => (300_00, 40_00), // ahead
                _ => (100_00, 20_00), // as due
            };
            post(s, w, no, d, loan, sav).await;
        }
        if k == 30 {
            // member 6 repays cycle 1 and gets cycle 2 the same day
            post(s, w, "6", d, 500_00, 0).await;
            repaid.push(d);
            loan::disburse(
                s,
                &w.manager,
                &w.org,
                &Disbursement {
                    member_no: "6".into(),
                    disbursed_on: Some(d),
                    principal: 2_000_00,
                    service_charge: 100_00,
                    installment: 150_00,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            disbursed.push((d, 2_000_00));
        }
        if k < 30 && k % 3 == 0 {
            post(s, w, "6", d, 150_00, 10_00).await;
        }
        if k == 25 || k == 3 {
            withdraw(s, w, "1", d, 70_00).await;
            withdrawn.push((d, 70_00));
        }
        if k == 12 {
            let c = post(s, w, "3", d, 25_00, 25_00).await;
            collection::reverse(s, &w.manager, &w.org, c.id, "wrong day")
                .await
                .unwrap();
        }
        k -= 1;
    }
    post(s, w, "2", w.today, 100_00, 20_00).await;
    // member 5 stops being reviewed (inactive now)
    let five = member::find_by_no(s, &w.org, "5").await.unwrap();
    let mut input = member_input("5", five.joined_on);
    input.nid = five.nid.clone();
    input.worker = karim.name.clone();
    input.loan_amount = 0;
    input.daily_installment = 0;
    input.status = Some("inactive".into());
    member::update(s, &w.admin, &w.org, five.id, five.version, &input)
        .await
        .unwrap();
    MonthScenario {
        karim,
        start,
        disbursed,
        repaid,
        withdrawn,
    }
}

/// Every day of `r` against `review::daily` of that day (the worker's when given), and the
/// month's totals against the days'.
async fn check_against_reviews(s: &Store, w: &World, r: &MonthReport, worker: Option<i64>) {
    let first = r.month.first_day();
    assert_eq!(r.first, first);
    assert_eq!(r.through, r.month.last_day().min(w.today));
    assert_eq!(
        r.days.len() as i64,
        (r.through - first).num_days() + 1,
        "one row per day up to today"
    );
    let mut missed = HashSet::new();
    let mut member_days_missed = 0;
    let mut members = HashSet::new();
    for day in &r.days {
        let rv = review::daily(s, &w.manager, &w.org, day.date, worker)
            .await
            .unwrap();
        assert_eq!(day.totals, rv.totals, "{} ({worker:?})", day.date);
        assert_eq!(day.collection_day, rv.collection_day, "{}", day.date);
        for l in &rv.lines {
            members.insert(l.member_id);
            if l.flags.contains(&review::Flag::Missed) {
                missed.insert(l.member_id);
                member_days_missed += 1;
            }
        }
    }
    let t = &r.totals;
    let sum = |f: fn(&review::Totals) -> i64| r.days.iter().map(|d| f(&d.totals)).sum::<i64>();
    assert_eq!(t.expected, sum(|t| t.expected));
    assert_eq!(t.collected, sum(|t| t.collected));
    assert_eq!(t.shortfall, sum(|t| t.shortfall));
    assert_eq!(t.member_days_missed, sum(|t| t.members_missed));
    assert_eq!(t.member_days_missed, member_days_missed);
    assert_eq!(t.members_missed, missed.len() as i64);
    assert_eq!(t.members, members.len() as i64);
    assert_eq!(t.loan_collected + t.savings_collected, t.collected);
    assert_eq!(
        t.collection_rate_bp,
        if t.expected > 0 {
            t.collected * 10_000 / t.expected
        } else {
            10_000
        }
    );
    assert_eq!(t.days, r.days.len() as i64);
    assert_eq!(
        t.collection_days,
        r.days.iter().filter(|d| d.collection_day).count() as i64
    );
}

async fn report_days_equal_the_daily_reviews_and_the_month_is_their_sum(s: &Store) {
    let w = world(s).await;
    let sc = month_scenario(s, &w).await;
    let current = YearMonth::of(w.today);
    let mut months = vec![current.prev(), current];
    if YearMonth::of(sc.start) < current.prev() {
        months.insert(0, current.prev().prev());
    }
    for month in months {
        let r = report::month(s, &w.viewer, &w.org, month, None)
            .await
            .unwrap();
        check_against_reviews(s, &w, &r, None).await;
        assert_eq!(r.current, month == current);
        assert!(r.totals.collected > 0 || month < YearMonth::of(sc.start));
        let (first, through) = (r.first, r.through);
        let in_month = |d: &NaiveDate| (first..=through).contains(d);
        let disbursed: Vec<_> = sc.disbursed.iter().filter(|(d, _)| in_month(d)).collect();
        assert_eq!(r.totals.loans_disbursed, disbursed.len() as i64, "{month}");
        assert_eq!(
            r.totals.principal_disbursed,
            disbursed.iter().map(|(_, p)| p).sum::<i64>()
        );
        assert_eq!(
            r.totals.loans_repaid,
            sc.repaid.iter().filter(|d| in_month(d)).count() as i64
        );
        assert_eq!(
            r.totals.savings_withdrawn,
            sc.withdrawn
                .iter()
                .filter(|(d, _)| in_month(d))
                .map(|(_, a)| a)
                .sum::<i64>()
        );
        // per worker: each is the worker's own report, and they add up to the month
        assert_eq!(r.workers.len(), 2, "{month}");
        for wm in &r.workers {
            let one = report::month(s, &w.manager, &w.org, month, wm.worker_id)
                .await
                .unwrap();
            assert_eq!(one.totals, wm.totals, "{month} {}", wm.worker_name);
            assert_eq!(one.par, wm.par);
            assert!(one.workers.is_empty());
            assert_eq!(one.worker.as_ref().map(|x| x.id), wm.worker_id);
            if wm.worker_id == Some(sc.karim.id) {
                check_against_reviews(s, &w, &one, wm.worker_id).await;
            }
        }
        let add = |f: fn(&report::MonthTotals) -> i64| {
            r.workers.iter().map(|x| f(&x.totals)).sum::<i64>()
        };
        assert_eq!(add(|t| t.expected), r.totals.expected);
        assert_eq!(add(|t| t.collected), r.totals.collected);
        assert_eq!(add(|t| t.members_missed), r.totals.members_missed);
        assert_eq!(add(|t| t.savings_withdrawn), r.totals.savings_withdrawn);
        assert_eq!(
            r.workers.iter().map(|x| x.par.outstanding).sum::<i64>(),
            r.par.outstanding
        );
    }
    // the statement and the report tell the same story of member 2's month
    let month = current.prev();
    let (first, last) = (month.first_day(), month.last_day());
    let st = statement::statement(s, &w.manager, &w.org, &"2".into(), Some(first), Some(last))
        .await
        .unwrap();
    let mut collected = 0;
    for d in first.iter_days().take_while(|d| *d <= last) {
        let rv = review::daily(s, &w.manager, &w.org, d, None).await.unwrap();
        collected += rv
            .lines
            .iter()
            .find(|l| l.member_no == "2")
            .map_or(0, |l| l.collected);
    }
    assert_eq!(st.totals.loan_paid + st.totals.savings_in, collected);
}

async fn portfolio_at_risk_on_loans_0_5_40_and_100_days_overdue(s: &Store) {
    let w = world(s).await;
    // A loan first due on the day its member joins, nothing paid: overdue since joining.
    // (A Friday is no collection day: the first installment is then due on Saturday.)
    let not_friday = |k: i64| {
        let d = days_before(w.today, k);
        if is_friday(d) { days_before(d, 1) } else { d }
    };
    let cases = [
        ("1", w.today, 1_000_00),
        ("2", not_friday(5), 2_000_00),
        ("3", not_friday(40), 3_000_00),
        ("4", not_friday(100), 4_000_00),
    ];
    for (no, joined, principal) in cases {
        let mut m = member_input(no, joined);
        m.loan_amount = principal;
        m.daily_installment = 10_00;
        add_member(s, &w.org, m).await;
    }
    // paid in full today: overdue at the end of last month, no longer at risk
    let mut m = member_input("5", days_before(w.today, 130));
    m.loan_amount = 5_000_00;
    m.daily_installment = 10_00;
    add_member(s, &w.org, m).await;
    post(s, &w, "5", w.today, 5_000_00, 0).await;

    let days = w.org.collection_days();
    for (no, _, _) in cases {
        let m = member::find_by_no(s, &w.org, no).await.unwrap();
        let l = &loan::for_member(s, m.id).await.unwrap()[0];
        let overdue = l.days_overdue(&days, w.today);
        match no {
            "1" => assert_eq!(overdue, 0),
            "2" => assert!((4..=6).contains(&overdue), "{overdue}"),
            "3" => assert!((39..=41).contains(&overdue), "{overdue}"),
            _ => assert!((99..=101).contains(&overdue), "{overdue}"),
        }
    }

    let r = report::month(s, &w.manager, &w.org, YearMonth::of(w.today), None)
        .await
        .unwrap();
    let p = &r.par;
    assert_eq!(p.as_of, Some(w.today));
    assert_eq!((p.loans, p.outstanding), (4, 10_000_00));
    assert_eq!((p.par1, p.loans_par1), (9_000_00, 3));
    assert_eq!((p.par30, p.loans_par30), (7_000_00, 2));
    assert_eq!((p.par90, p.loans_par90), (4_000_00, 1));
    assert_eq!((p.par1_bp, p.par30_bp, p.par90_bp), (9_000, 7_000, 4_000));
    assert_eq!(r.totals.loans_repaid, 1, "member 5's loan, repaid today");

    // At the end of last month: the loans running then, with what was paid by then.
    let prev = report::month(s, &w.manager, &w.org, YearMonth::of(w.today).prev(), None)
        .await
        .unwrap();
    let end = YearMonth::of(w.today).prev().last_day();
    assert_eq!(prev.par.as_of, Some(end));
    let mut expect_out = 5_000_00; // member 5: joined 130 days ago, paid nothing by then
    for (_, joined, principal) in cases {
        if joined <= end {
            expect_out += principal;
        }
    }
    assert_eq!(prev.par.outstanding, expect_out);
    assert!(prev.par.par90 >= 5_000_00, "{:?}", prev.par);
    // member 4's loan was overdue some 70 days or more by then
    assert!(prev.par.par30 >= 5_000_00 + 4_000_00, "{:?}", prev.par);
}

async fn a_report_refuses_a_future_month_and_csv_needs_the_export_permission(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 5))).await;
    post(s, &w, "1", w.today, 100_00, 20_00).await;
    let next = YearMonth::of(w.today).next();
    let e = report::month(s, &w.manager, &w.org, next, None)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "month");
    assert!(e.to_string().contains("in the future"), "{e}");
    let e = YearMonth::parse("2026-13").unwrap_err();
    assert_eq!(invalid_field(&e), "month");

    // a viewer reads both, but writing a CSV is an export (manager and up)
    let r = report::month(s, &w.viewer, &w.org, YearMonth::of(w.today), None)
        .await
        .unwrap();
    let st = statement::statement(s, &w.viewer, &w.org, &"1".into(), None, None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("st.csv");
    let e = somiti::csvio::reports::export_statement(s, &w.viewer, &w.org, &st, &out)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");
    assert!(!out.exists());
    let written = somiti::csvio::reports::export_statement(s, &w.manager, &w.org, &st, &out)
        .await
        .unwrap();
    assert_eq!(written.rows as usize, st.rows.len() + 2);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM for Excel");
    let out = dir.path().join("r.csv");
    let written = somiti::csvio::reports::export_month(s, &w.manager, &w.org, &r, &out)
        .await
        .unwrap();
    assert_eq!(written.rows as usize, r.days.len() + 1 + r.workers.len());
    // refusals are audited; so are the exports
    let count = |action: &'static str, outcome: &'static str| async move {
        somiti::on_store!(s, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = $2"
        )
        .bind(action)
        .bind(outcome)
        .fetch_one(p)
        .await
        .unwrap())
    };
    assert_eq!(count("export.statement", "refused").await, 1);
    assert_eq!(count("export.statement", "ok").await, 1);
    assert_eq!(count("export.report", "ok").await, 1);
    // an operator of another organization may not read this one's
    let other = make_org(s, "CTG").await;
    let stranger = make_operator(s, "ctg_manager", Role::Manager, Some(other.id)).await;
    let e = report::month(s, &stranger, &w.org, YearMonth::of(w.today), None)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4);
    let e = statement::statement(s, &stranger, &w.org, &"1".into(), None, None)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4);
}

// ---- the command line ------------------------------------------------------------------

fn somiti_bin(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("somiti").expect("binary");
    c.arg("--data-dir")
        .arg(dir)
        .env("SOMITI_OPERATOR", "boss")
        .env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_CONFIG");
    c
}

fn run_json(c: &mut assert_cmd::Command) -> serde_json::Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn run_text(c: &mut assert_cmd::Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails_with(c: &mut assert_cmd::Command, text: &str) {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(text), "stderr: {err}");
}

/// Rows of a CSV export: the BOM is there, and is taken off before parsing.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .expect("a UTF-8 BOM first");
    let mut r = csv::Reader::from_reader(body);
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Taka text from a CSV cell as poisha ("1234.50" → 123450).
fn poisha(cell: &str) -> i64 {
    somiti::ledger::money::parse_taka("cell", cell).unwrap_or_else(|_| {
        // negative amounts (a reversal) are written with a minus
        -somiti::ledger::money::parse_taka("cell", cell.trim_start_matches('-')).unwrap()
    })
}

#[tokio::test]
async fn statement_and_report_through_the_command_line_as_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let today;
    {
        let s = Store::open_sqlite(&dir.path().join("somiti.db"))
            .await
            .unwrap();
        make_operator(&s, "boss", Role::Admin, None).await;
        let o = make_org(&s, "DHK").await;
        let w = World {
            admin: Operator::system(),
            manager: Operator::system(),
            viewer: Operator::system(),
            today: o.today(),
            org: o,
        };
        today = w.today;
        month_scenario(&s, &w).await;
        s.close().await;
    }
    let d = dir.path();
    let month = YearMonth::of(today).prev().to_string();

    // the statement as JSON: its closing is the register's balances
    let st = run_json(somiti_bin(d).args(["member", "statement", "1", "--json"]));
    let show = run_json(somiti_bin(d).args(["member", "show", "1", "--json"]));
    assert_eq!(st["closing"]["loan_outstanding"], show["loan_outstanding"]);
    assert_eq!(st["closing"]["savings_balance"], show["savings_balance"]);
    let rows = st["rows"].as_array().unwrap();
    assert!(rows.len() > 20);
    assert_eq!(rows[0]["kind"], "disbursement");

    // as CSV: BOM, the header, opening, a row per statement row, totals
    let file = d.join("st.csv");
    let written = run_json(somiti_bin(d).args([
        "member",
        "statement",
        "1",
        "--csv",
        "--json",
        "--out",
        file.to_str().unwrap(),
    ]));
    assert_eq!(written["rows"].as_u64().unwrap() as usize, rows.len() + 2);
    let (header, body) = read_csv(&file);
    assert_eq!(header, STATEMENT_HEADER);
    assert_eq!(body.len(), rows.len() + 2);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(body[0][col("kind")], "opening");
    let total = body.last().unwrap();
    assert_eq!(total[col("kind")], "total");
    assert_eq!(
        poisha(&total[col("loan_outstanding")]),
        st["closing"]["loan_outstanding"].as_i64().unwrap()
    );
    assert_eq!(
        poisha(&total[col("savings_in")]),
        st["totals"]["savings_in"].as_i64().unwrap()
    );
    for (csv_row, json_row) in body[1..body.len() - 1].iter().zip(rows) {
        assert_eq!(csv_row[col("date")], json_row["date"].as_str().unwrap());
        assert_eq!(
            poisha(&csv_row[col("savings_balance")]),
            json_row["savings_balance"].as_i64().unwrap()
        );
    }
    // a range by flag, and the human table
    let text = run_text(somiti_bin(d).args([
        "member",
        "statement",
        "1",
        "--from",
        &YearMonth::of(today).prev().first_day().to_string(),
        "--to",
        &YearMonth::of(today).prev().last_day().to_string(),
    ]));
    assert!(text.contains("Opening  loan outstanding"), "{text}");
    assert!(text.contains("Closing  loan outstanding"), "{text}");
    let tomorrow = today.succ_opt().unwrap().to_string();
    fails_with(
        somiti_bin(d).args(["member", "statement", "1", "--from", &tomorrow]),
        "from: ",
    );
    fails_with(
        somiti_bin(d).args([
            "member",
            "statement",
            "1",
            "--from",
            "yesterday",
            "--to",
            "2020-01-01",
        ]),
        "from: ",
    );

    // the report as JSON: its days are the reviews'
    let rep = run_json(somiti_bin(d).args(["report", "month", &month, "--json"]));
    let days = rep["days"].as_array().unwrap();
    assert!(days.len() >= 28);
    for day in days.iter().step_by(6) {
        let date = day["date"].as_str().unwrap();
        let rv = run_json(somiti_bin(d).args(["collection", "review", "--date", date, "--json"]));
        for k in [
            "expected",
            "collected",
            "members_missed",
            "collection_rate_bp",
        ] {
            assert_eq!(day[k], rv["totals"][k], "{date} {k}");
        }
    }
    let one = run_json(somiti_bin(d).args([
        "report",
        "month",
        &month,
        "--worker",
        "Karim Uddin",
        "--json",
    ]));
    assert_eq!(one["worker"]["name"], "Karim Uddin");
    let karim = rep["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["worker_name"] == "Karim Uddin")
        .unwrap();
    assert_eq!(one["totals"], karim["totals"]);

    // as CSV: a row per day, the month's total, a row per worker
    let file = d.join("month.csv");
    run_text(somiti_bin(d).args([
        "report",
        "month",
        &month,
        "--csv",
        "--out",
        file.to_str().unwrap(),
    ]));
    let (header, body) = read_csv(&file);
    assert_eq!(header, MONTH_HEADER);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let day_rows: Vec<_> = body.iter().filter(|r| r[col("row")] == "day").collect();
    assert_eq!(day_rows.len(), days.len());
    let total = body.iter().find(|r| r[col("row")] == "total").unwrap();
    assert_eq!(
        poisha(&total[col("expected")]),
        rep["totals"]["expected"].as_i64().unwrap()
    );
    assert_eq!(
        poisha(&total[col("par30")]),
        rep["par"]["par30"].as_i64().unwrap()
    );
    assert_eq!(
        day_rows
            .iter()
            .map(|r| poisha(&r[col("collected")]))
            .sum::<i64>(),
        rep["totals"]["collected"].as_i64().unwrap()
    );
    assert_eq!(body.iter().filter(|r| r[col("row")] == "worker").count(), 2);
    // the default place: the export directory, named by what it covers
    let text = run_text(somiti_bin(d).args(["report", "month", &month, "--csv"]));
    assert!(text.contains(&format!("report_DHK_{month}.csv")), "{text}");

    // the human report has the PAR lines; bad months are refused naming the field
    let text = run_text(somiti_bin(d).args(["report", "month", &month]));
    assert!(text.contains("Portfolio at risk"), "{text}");
    assert!(text.contains("PAR 30"), "{text}");
    assert!(text.contains("Karim Uddin"), "{text}");
    fails_with(
        somiti_bin(d).args(["report", "month", "2026-13"]),
        "month: ",
    );
    let next = YearMonth::of(today).next().to_string();
    fails_with(
        somiti_bin(d).args(["report", "month", &next]),
        "in the future",
    );
}
