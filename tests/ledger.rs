//! Every ledger rule, run from the same code against SQLite and PostgreSQL: reversals, day
//! close, entry rules, member fields, collection days, derived balances, the daily review,
//! permissions and the audit log.

// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod common;

use chrono::NaiveDate;

use common::*;
use somiti::Error;
use somiti::access::{self, Operator, Role, users};
use somiti::db::Store;
use somiti::ledger::collection::{self, Collection, CollectionInput};
use somiti::ledger::loan::{self, Disbursement, LoanStatus};
use somiti::ledger::member::{self, MemberQuery, MemberRow};
use somiti::ledger::org::{CollectionDays, DEFAULT_COLLECTION_DAYS, Organization};
use somiti::ledger::review::{self, Flag, Review, ReviewLine, Totals};
use somiti::ledger::savings::{self, WithdrawalInput};
use somiti::ledger::{Rules, day, org};

on_both_backends!(
    a_correction_is_a_reversal_that_leaves_the_original_row_unchanged,
    a_collection_cannot_be_reversed_twice_and_a_reversal_cannot_be_reversed,
    a_reversal_needs_a_reason,
    nothing_is_posted_or_reversed_on_or_before_a_closed_day,
    an_admin_reopen_lets_corrections_through_again,
    a_manager_can_close_a_day_but_cannot_reopen_it,
    closing_a_future_day_or_an_already_closed_day_is_rejected,
    collections_in_the_future_are_rejected,
    inactive_members_cannot_pay,
    amounts_are_non_negative_and_not_both_zero,
    collections_before_the_member_joined_are_rejected,
    an_nid_has_10_13_or_17_digits,
    a_mobile_is_01_then_3_to_9_then_8_digits,
    bengali_digits_are_accepted_and_stored_as_ascii,
    member_numbers_are_unique_within_an_organization_only,
    an_nid_belongs_to_one_member_across_all_organizations,
    installments_fall_due_every_day_but_friday,
    nothing_falls_due_on_a_friday_in_the_daily_review,
    balances_are_derived_from_the_collections,
    loan_dues_stop_at_the_loan_amount,
    the_daily_review_shows_due_collected_shortfall_and_flags,
    review_totals_equal_sql_sums_over_the_collections_table,
    an_entry_made_on_its_own_day_is_not_late,
    a_viewer_cannot_add_members_or_collections,
    a_worker_can_enter_collections_but_not_reverse_them_or_add_members,
    an_operator_bound_to_one_organization_cannot_act_on_another,
    every_change_refusal_and_failure_is_audited,
    the_audit_log_cannot_be_updated_or_deleted,
    an_unknown_login_is_told_how_to_be_added,
    the_last_admin_cannot_be_demoted,
    a_loan_payment_above_what_is_outstanding_is_refused_naming_it,
    an_entry_above_the_ceiling_is_refused,
    a_member_without_an_active_loan_pays_savings_only,
    a_repaid_loan_makes_way_for_the_next_cycle,
    only_an_admin_writes_a_loan_off_and_it_owes_nothing_after,
    a_withdrawal_never_takes_savings_below_zero_and_is_reversed_by_an_entry,
    closing_a_member_needs_the_loan_settled_and_pays_the_savings_out,
    running_balances_equal_the_entries_after_every_kind_of_entry,
);

// ---- helpers --------------------------------------------------------------------------

/// One `i64` from a literal SQL query with binds, on whichever backend.
macro_rules! sql_i64 {
    ($store:expr, $sql:literal $(, $bind:expr)* $(,)?) => {
        somiti::on_store!($store, |p| sqlx::query_scalar::<_, i64>($sql)
            $(.bind($bind))*
            .fetch_one(p)
            .await
            .expect($sql))
    };
}

struct World {
    org: Organization,
    admin: Operator,
    manager: Operator,
    worker: Operator,
    viewer: Operator,
    today: NaiveDate,
}

async fn world(s: &Store) -> World {
    let org = make_org(s, "DHK").await;
    World {
        admin: admin(s).await,
        manager: manager(s, &org).await,
        worker: worker_op(s, &org).await,
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

async fn collection_rows(s: &Store) -> i64 {
    sql_i64!(s, "SELECT COUNT(*) FROM collections")
}

async fn audit_rows(s: &Store, action: &str, outcome: &str) -> i64 {
    sql_i64!(
        s,
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND outcome = $2",
        action,
        outcome
    )
}

/// The field an `Invalid` error names; its message starts with that field.
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

fn assert_refused(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(e @ Error::Refused(_)) => {
            assert_eq!(e.exit_code(), 4);
            e.to_string()
        }
        other => panic!("expected a refusal (exit 4), got {other:?}"),
    }
}

async fn row(s: &Store, op: &Operator, o: &Organization, member_no: &str) -> MemberRow {
    let (rows, _) = member::list(
        s,
        op,
        o,
        &MemberQuery {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .expect("member list");
    rows.into_iter()
        .find(|r| r.member.member_no == member_no)
        .unwrap_or_else(|| panic!("member {member_no} is in the list"))
}

fn line<'a>(r: &'a Review, member_no: &str) -> &'a ReviewLine {
    r.lines
        .iter()
        .find(|l| l.member_no == member_no)
        .unwrap_or_else(|| panic!("member {member_no} is in the review of {}", r.date))
}

/// Flags without `Late`: entries back-dated to an earlier day are always late.
fn flags(l: &ReviewLine) -> Vec<Flag> {
    l.flags
        .iter()
        .copied()
        .filter(|f| *f != Flag::Late)
        .collect()
}

// ---- corrections are reversals ---------------------------------------------------------

async fn a_correction_is_a_reversal_that_leaves_the_original_row_unchanged(s: &Store) {
    let w = world(s).await;
    let joined = days_before(w.today, 10);
    add_member(s, &w.org, member_input("1", joined)).await;
    let d = collection_day_on_or_before(days_before(w.today, 1));

    let orig = post(s, &w, "1", d, 100_00, 20_00).await;
    let rev = collection::reverse(
        s,
        &w.manager,
        &w.org,
        orig.id,
        "entered for the wrong member",
    )
    .await
    .expect("reverse");

    assert_eq!(
        collection::get(s, orig.id).await.unwrap(),
        orig,
        "original row unchanged"
    );
    assert_eq!(rev.reversal_of, Some(orig.id));
    assert_eq!(rev.member_id, orig.member_id);
    assert_eq!(rev.collected_on, orig.collected_on);
    assert_eq!((rev.loan_paisa, rev.savings_paisa), (100_00, 20_00));
    assert_eq!(rev.note, "entered for the wrong member");
    assert_eq!(collection_rows(s).await, 2);

    // balances and the review no longer count it
    let shown = member::show(s, &w.manager, &w.org, "1").await.unwrap();
    assert_eq!(shown.row.loan_outstanding, 10_000_00);
    assert_eq!(shown.row.savings_balance, 0);
    assert_eq!(shown.recent.len(), 2);
    let r = review::daily(s, &w.manager, &w.org, d, None).await.unwrap();
    let l = line(&r, "1");
    assert_eq!(l.collected, 0);
    assert_eq!(l.entries.len(), 2);
    assert!(l.flags.contains(&Flag::Reversed), "{:?}", l.flags);
    assert!(l.flags.contains(&Flag::Missed), "{:?}", l.flags);
    assert!(!l.flags.contains(&Flag::Duplicate), "{:?}", l.flags);

    // the correct entry is a new row
    post(s, &w, "1", d, 50_00, 20_00).await;
    let shown = member::show(s, &w.manager, &w.org, "1").await.unwrap();
    assert_eq!(shown.row.loan_outstanding, 10_000_00 - 50_00);
    assert_eq!(shown.row.savings_balance, 20_00);
    let r = review::daily(s, &w.manager, &w.org, d, None).await.unwrap();
    assert_eq!(line(&r, "1").collected, 70_00);

    assert_eq!(audit_rows(s, "collection.add", "ok").await, 2);
    assert_eq!(audit_rows(s, "collection.reverse", "ok").await, 1);
}

async fn a_collection_cannot_be_reversed_twice_and_a_reversal_cannot_be_reversed(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 10))).await;
    let d = collection_day_on_or_before(days_before(w.today, 1));
    let orig = post(s, &w, "1", d, 100_00, 20_00).await;
    let rev = collection::reverse(s, &w.manager, &w.org, orig.id, "typo")
        .await
        .unwrap();

    let twice = collection::reverse(s, &w.manager, &w.org, orig.id, "again")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&twice), "collection");
    assert!(twice.to_string().contains("already reversed"), "{twice}");

    let of_reversal = collection::reverse(s, &w.manager, &w.org, rev.id, "undo the undo")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&of_reversal), "collection");
    assert!(
        of_reversal.to_string().contains("itself a reversal"),
        "{of_reversal}"
    );

    assert_eq!(
        collection_rows(s).await,
        2,
        "no row added by a refused reversal"
    );
    assert_eq!(audit_rows(s, "collection.reverse", "failed").await, 2);
}

async fn a_reversal_needs_a_reason(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    let orig = post(s, &w, "1", w.today, 100_00, 0).await;
    let e = collection::reverse(s, &w.manager, &w.org, orig.id, "   ")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "reason");
    assert_eq!(collection_rows(s).await, 1);
}

// ---- day close -------------------------------------------------------------------------

async fn nothing_is_posted_or_reversed_on_or_before_a_closed_day(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 10))).await;
    let closed = days_before(w.today, 2);
    let earlier = collection_day_on_or_before(days_before(w.today, 3));
    let posted = post(s, &w, "1", earlier, 100_00, 20_00).await;
    day::close(s, &w.manager, &w.org, closed)
        .await
        .expect("close");
    assert_eq!(
        day::closed_through(s, w.org.id).await.unwrap(),
        Some(closed)
    );

    let before = collection_rows(s).await;
    for on in [closed, earlier] {
        let msg = assert_refused(
            collection::add(s, &w.manager, &w.org, &entry("1", on, 100_00, 20_00)).await,
        );
        assert!(msg.contains("closed"), "{msg}");
        assert!(
            msg.contains("somiti day reopen"),
            "says how to reopen: {msg}"
        );
    }
    assert_refused(collection::reverse(s, &w.admin, &w.org, posted.id, "late fix").await);
    assert_eq!(collection_rows(s).await, before, "no row changed");
    assert_eq!(collection::get(s, posted.id).await.unwrap(), posted);
    assert_eq!(audit_rows(s, "collection.add", "refused").await, 2);
    assert_eq!(audit_rows(s, "collection.reverse", "refused").await, 1);

    // the day after the closed date is open
    post(s, &w, "1", days_before(w.today, 1), 100_00, 20_00).await;
    assert_eq!(collection_rows(s).await, before + 1);
}

async fn an_admin_reopen_lets_corrections_through_again(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 10))).await;
    let first = days_before(w.today, 5);
    let second = days_before(w.today, 2);
    let posted = post(s, &w, "1", collection_day_on_or_before(second), 100_00, 0).await;
    day::close(s, &w.manager, &w.org, first).await.unwrap();
    day::close(s, &w.manager, &w.org, second).await.unwrap();
    assert_refused(collection::add(s, &w.manager, &w.org, &entry("1", second, 10_00, 0)).await);

    let removed = day::reopen(s, &w.admin, &w.org, second)
        .await
        .expect("reopen");
    assert_eq!(removed, 1);
    assert_eq!(day::closed_through(s, w.org.id).await.unwrap(), Some(first));
    post(s, &w, "1", second, 10_00, 0).await;
    collection::reverse(s, &w.manager, &w.org, posted.id, "wrong amount")
        .await
        .expect("reverse after reopen");
    // the earlier close still holds
    assert_refused(collection::add(s, &w.manager, &w.org, &entry("1", first, 10_00, 0)).await);

    // reopening an earlier day reopens every later close too
    day::close(s, &w.manager, &w.org, second).await.unwrap();
    assert_eq!(day::reopen(s, &w.admin, &w.org, first).await.unwrap(), 2);
    assert_eq!(day::closed_through(s, w.org.id).await.unwrap(), None);
    post(s, &w, "1", first, 10_00, 0).await;
    assert_eq!(audit_rows(s, "day.reopen", "ok").await, 2);
}

async fn a_manager_can_close_a_day_but_cannot_reopen_it(s: &Store) {
    let w = world(s).await;
    let d = days_before(w.today, 1);
    day::close(s, &w.manager, &w.org, d)
        .await
        .expect("manager closes");
    let msg = assert_refused(day::reopen(s, &w.manager, &w.org, d).await);
    assert!(msg.contains("reopen"), "{msg}");
    assert_eq!(day::closed_through(s, w.org.id).await.unwrap(), Some(d));
    assert_refused(day::close(s, &w.worker, &w.org, w.today).await);
    assert_refused(day::close(s, &w.viewer, &w.org, w.today).await);
    assert_eq!(audit_rows(s, "day.close", "ok").await, 1);
    assert_eq!(audit_rows(s, "day.close", "refused").await, 2);
    assert_eq!(audit_rows(s, "day.reopen", "refused").await, 1);
}

async fn closing_a_future_day_or_an_already_closed_day_is_rejected(s: &Store) {
    let w = world(s).await;
    let tomorrow = w.today + chrono::Duration::days(1);
    let e = day::close(s, &w.manager, &w.org, tomorrow)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "date");
    assert!(e.to_string().contains("future"), "{e}");
    assert_eq!(day::closed_through(s, w.org.id).await.unwrap(), None);

    let d = days_before(w.today, 1);
    day::close(s, &w.manager, &w.org, d).await.unwrap();
    for again in [d, days_before(d, 3)] {
        let e = day::close(s, &w.manager, &w.org, again).await.unwrap_err();
        assert_eq!(invalid_field(&e), "date");
        assert!(e.to_string().contains("already closed"), "{e}");
    }
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM day_closes"), 1);
    // today itself may be closed
    day::close(s, &w.manager, &w.org, w.today)
        .await
        .expect("close today");
    assert_eq!(audit_rows(s, "day.close", "failed").await, 3);
    assert_eq!(audit_rows(s, "day.close", "ok").await, 2);

    // reopening a day that is not closed is rejected too, and audited
    let e = day::reopen(s, &w.admin, &w.org, tomorrow)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "date");
    assert_eq!(audit_rows(s, "day.reopen", "failed").await, 1);
}

// ---- entry rules -----------------------------------------------------------------------

async fn collections_in_the_future_are_rejected(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    let tomorrow = w.today + chrono::Duration::days(1);
    let e = collection::add(s, &w.manager, &w.org, &entry("1", tomorrow, 100_00, 0))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "date");
    assert!(e.to_string().contains("future"), "{e}");
    assert_eq!(collection_rows(s).await, 0);
    assert_eq!(audit_rows(s, "collection.add", "failed").await, 1);
    post(s, &w, "1", w.today, 100_00, 0).await;
}

async fn inactive_members_cannot_pay(s: &Store) {
    let w = world(s).await;
    let mut m = member_input("1", days_before(w.today, 3));
    m.status = Some("inactive".into());
    add_member(s, &w.org, m).await;
    let e = collection::add(s, &w.manager, &w.org, &entry("1", w.today, 100_00, 0))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "member");
    assert!(e.to_string().contains("inactive"), "{e}");
    // "closed" is not a status a form or an import sets: closing is its own procedure
    let mut m = member_input("2", days_before(w.today, 3));
    m.status = Some("closed".into());
    let e = member::add(s, &w.manager, &w.org, &m).await.unwrap_err();
    assert_eq!(invalid_field(&e), "status");
    assert!(e.to_string().contains("member close"), "{e}");
    assert_eq!(collection_rows(s).await, 0);

    // a member made inactive later cannot pay either
    add_member(s, &w.org, member_input("3", days_before(w.today, 3))).await;
    post(s, &w, "3", w.today, 100_00, 0).await;
    let m = member::find_by_no(s, &w.org, "3").await.unwrap();
    let mut edit = member_input("3", m.joined_on);
    edit.nid = m.nid.clone();
    edit.status = Some("inactive".into());
    member::update(s, &w.manager, &w.org, m.id, m.version, &edit)
        .await
        .unwrap();
    let e = collection::add(s, &w.manager, &w.org, &entry("3", w.today, 100_00, 0))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "member");
    assert_eq!(collection_rows(s).await, 1);
}

async fn amounts_are_non_negative_and_not_both_zero(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    for (loan, sav, field) in [
        (-1, 20_00, "loan"),
        (100_00, -5, "savings"),
        (0, 0, "amount"),
    ] {
        let e = collection::add(s, &w.manager, &w.org, &entry("1", w.today, loan, sav))
            .await
            .unwrap_err();
        assert_eq!(invalid_field(&e), field, "{loan}/{sav}");
    }
    assert_eq!(collection_rows(s).await, 0);
    assert_eq!(audit_rows(s, "collection.add", "failed").await, 3);
    // one amount alone is enough
    post(s, &w, "1", w.today, 0, 20_00).await;
    post(s, &w, "1", w.today, 100_00, 0).await;
}

async fn collections_before_the_member_joined_are_rejected(s: &Store) {
    let w = world(s).await;
    let joined = days_before(w.today, 3);
    add_member(s, &w.org, member_input("1", joined)).await;
    let e = collection::add(
        s,
        &w.manager,
        &w.org,
        &entry("1", days_before(joined, 1), 100_00, 0),
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(&e), "date");
    assert!(e.to_string().contains("joined"), "{e}");
    assert_eq!(collection_rows(s).await, 0);
    post(s, &w, "1", joined, 100_00, 0).await;
}

// ---- member fields ---------------------------------------------------------------------

async fn an_nid_has_10_13_or_17_digits(s: &Store) {
    let w = world(s).await;
    for (i, nid) in ["1234567890", "1234567890123", "12345678901234567"]
        .into_iter()
        .enumerate()
    {
        let mut m = member_input(&format!("{}", i + 1), w.today);
        m.nid = nid.into();
        let added = member::add(s, &w.manager, &w.org, &m).await.expect(nid);
        assert_eq!(added.nid, nid);
    }
    for nid in [
        "123456789",
        "12345678901",
        "123456789012",
        "1234567890123456",
        "123456789012345678",
        "12345abc90",
        "",
    ] {
        let mut m = member_input("99", w.today);
        m.nid = nid.into();
        let e = member::add(s, &w.manager, &w.org, &m).await.unwrap_err();
        assert_eq!(invalid_field(&e), "nid", "{nid:?}");
    }
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM members"), 3);
    assert_eq!(audit_rows(s, "member.add", "failed").await, 7);
    assert_eq!(audit_rows(s, "member.add", "ok").await, 3);
}

async fn a_mobile_is_01_then_3_to_9_then_8_digits(s: &Store) {
    let w = world(s).await;
    for (i, mobile) in ["01312345678", "01712345678", "01912345678"]
        .into_iter()
        .enumerate()
    {
        let mut m = member_input(&format!("{}", i + 1), w.today);
        m.mobile = mobile.into();
        let added = member::add(s, &w.manager, &w.org, &m).await.expect(mobile);
        assert_eq!(added.mobile, mobile);
    }
    for mobile in [
        "01212345678",
        "01012345678",
        "0171234567",
        "017123456789",
        "02712345678",
        "0171234567x",
        "",
    ] {
        let mut m = member_input("99", w.today);
        m.mobile = mobile.into();
        let e = member::add(s, &w.manager, &w.org, &m).await.unwrap_err();
        assert_eq!(invalid_field(&e), "mobile", "{mobile:?}");
    }
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM members"), 3);
}

async fn bengali_digits_are_accepted_and_stored_as_ascii(s: &Store) {
    let w = world(s).await;
    let mut m = member_input("১২", w.today);
    m.nid = "১২৩৪৫৬৭৮৯০".into();
    m.mobile = "০১৮১২৩৪৫৬৭৮".into();
    let added = member::add(s, &w.manager, &w.org, &m)
        .await
        .expect("Bengali digits");
    assert_eq!(added.member_no, "12");
    assert_eq!(added.nid, "1234567890");
    assert_eq!(added.mobile, "01812345678");
    let stored = sql_i64!(
        s,
        "SELECT COUNT(*) FROM members WHERE member_no = '12' AND nid = '1234567890' AND mobile = '01812345678'"
    );
    assert_eq!(stored, 1);
    // and the member is found by either spelling
    assert_eq!(
        member::find_by_no(s, &w.org, "১২").await.unwrap().id,
        added.id
    );
    post(s, &w, "১২", w.today, 100_00, 0).await;
}

async fn member_numbers_are_unique_within_an_organization_only(s: &Store) {
    let w = world(s).await;
    let other = make_org(s, "CTG").await;
    add_member(s, &w.org, member_input("7", w.today)).await;
    let e = member::add(s, &w.manager, &w.org, &member_input("7", w.today))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "member_no");
    assert!(e.to_string().contains("already used"), "{e}");
    let in_other = member::add(s, &w.admin, &other, &member_input("7", w.today))
        .await
        .expect("same number in another organization");
    assert_eq!(in_other.member_no, "7");
    assert_eq!(
        sql_i64!(s, "SELECT COUNT(*) FROM members WHERE member_no = '7'"),
        2
    );
}

async fn an_nid_belongs_to_one_member_across_all_organizations(s: &Store) {
    let w = world(s).await;
    let other = make_org(s, "CTG").await;
    let first = add_member(s, &w.org, member_input("1", w.today)).await;
    for o in [&w.org, &other] {
        let mut m = member_input("2", w.today);
        m.nid = first.nid.clone();
        let e = member::add(s, &w.admin, o, &m).await.unwrap_err();
        assert_eq!(invalid_field(&e), "nid");
        assert!(e.to_string().contains("DHK/1"), "names the owner: {e}");
    }
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM members"), 1);
}

// ---- collection days -------------------------------------------------------------------

async fn installments_fall_due_every_day_but_friday(s: &Store) {
    let w = world(s).await;
    assert_eq!(w.org.collection_days, DEFAULT_COLLECTION_DAYS);
    let days = w.org.collection_days();
    assert_eq!(
        days,
        CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap()
    );
    let week: Vec<NaiveDate> = (0..7).map(|i| days_before(w.today, i)).collect();
    for d in &week {
        assert_eq!(days.is_collection_day(*d), !is_friday(*d), "{d}");
    }
    assert_eq!(days.count_between(week[6], week[0]), 6);
}

async fn nothing_falls_due_on_a_friday_in_the_daily_review(s: &Store) {
    let w = world(s).await;
    let friday = friday_on_or_before(w.today);
    let joined = days_before(friday, 14);
    // one member behind on payments, one paid up through Thursday
    add_member(s, &w.org, member_input("1", joined)).await;
    add_member(s, &w.org, member_input("2", joined)).await;
    let n = collection_days_between(joined, days_before(friday, 1));
    post(s, &w, "2", days_before(friday, 1), n * 100_00, n * 20_00).await;

    let r = review::daily(s, &w.manager, &w.org, friday, None)
        .await
        .unwrap();
    assert!(!r.collection_day);
    assert_eq!(r.lines.len(), 2);
    for l in &r.lines {
        assert_eq!(
            (l.installment_due, l.savings_due),
            (0, 0),
            "{}",
            l.member_no
        );
        assert!(
            !l.flags.contains(&Flag::Missed),
            "{}: {:?}",
            l.member_no,
            l.flags
        );
        assert!(
            !l.flags.contains(&Flag::Partial),
            "{}: {:?}",
            l.member_no,
            l.flags
        );
    }
    assert!(
        line(&r, "1").arrears_in > 0,
        "arrears are carried, not due, on a day off"
    );
    assert_eq!(line(&r, "1").due, 0);
    assert_eq!(r.totals.members_missed, 0);
    assert_eq!((r.totals.expected, r.totals.shortfall), (0, 0));

    // paying part of the arrears on a Friday is accepted, and is neither partial nor advance
    post(s, &w, "1", friday, 100_00, 0).await;
    let r = review::daily(s, &w.manager, &w.org, friday, None)
        .await
        .unwrap();
    let one = line(&r, "1");
    assert_eq!((one.due, one.collected, one.shortfall), (0, 100_00, 0));
    assert_eq!(flags(one), []);

    // the Thursday before did fall due
    let thu = review::daily(s, &w.manager, &w.org, days_before(friday, 1), None)
        .await
        .unwrap();
    assert!(thu.collection_day);
    assert_eq!(line(&thu, "1").installment_due, 100_00);
    assert_eq!(line(&thu, "1").savings_due, 20_00);
    assert!(line(&thu, "1").flags.contains(&Flag::Missed));
}

// ---- derived balances ------------------------------------------------------------------

async fn balances_are_derived_from_the_collections(s: &Store) {
    let w = world(s).await;
    let joined = days_before(w.today, 14);
    let yesterday = days_before(w.today, 1);
    let n = collection_days_between(joined, yesterday);
    for no in ["1", "2", "4"] {
        add_member(s, &w.org, member_input(no, joined)).await;
    }
    add_member(s, &w.org, member_input("3", w.today)).await;

    let paydays: Vec<NaiveDate> = joined
        .iter_days()
        .filter(|d| !is_friday(*d))
        .take(3)
        .collect();
    post(s, &w, "1", paydays[0], 100_00, 20_00).await;
    post(s, &w, "1", paydays[1], 200_00, 40_00).await;
    let wrong = post(s, &w, "1", paydays[2], 100_00, 20_00).await;
    collection::reverse(s, &w.manager, &w.org, wrong.id, "not paid")
        .await
        .unwrap();
    post(s, &w, "4", paydays[0], 5_000_00, 0).await;

    // 1: paid 300 + 60 of n days' dues
    let r1 = row(s, &w.viewer, &w.org, "1").await;
    assert_eq!(r1.loan_outstanding, 10_000_00 - 300_00);
    assert_eq!(r1.savings_balance, 60_00);
    let arrears = n * 120_00 - 360_00;
    assert_eq!(r1.arrears, arrears);
    assert_eq!(r1.days_in_arrears, (arrears + 120_00 - 1) / 120_00);
    // 2: paid nothing
    let r2 = row(s, &w.viewer, &w.org, "2").await;
    assert_eq!(
        (
            r2.loan_outstanding,
            r2.savings_balance,
            r2.arrears,
            r2.days_in_arrears
        ),
        (10_000_00, 0, n * 120_00, n)
    );
    // 3: joined today, nothing past due yet
    let r3 = row(s, &w.viewer, &w.org, "3").await;
    assert_eq!((r3.arrears, r3.days_in_arrears), (0, 0));
    // 4: paid far ahead
    let r4 = row(s, &w.viewer, &w.org, "4").await;
    assert_eq!(
        (
            r4.loan_outstanding,
            r4.savings_balance,
            r4.arrears,
            r4.days_in_arrears
        ),
        (5_000_00, 0, 0, 0)
    );

    // show agrees with list and lists the entries newest first
    let shown = member::show(s, &w.viewer, &w.org, "1").await.unwrap();
    assert_eq!(shown.row, r1);
    assert_eq!(shown.recent.len(), 4);
    assert!(
        shown
            .recent
            .windows(2)
            .all(|p| p[0].collected_on >= p[1].collected_on)
    );

    // the same numbers straight from SQL
    let m1 = member::find_by_no(s, &w.org, "1").await.unwrap();
    let loan_paid = sql_i64!(
        s,
        "SELECT CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END), 0) AS BIGINT) \
         FROM collections WHERE member_id = $1",
        m1.id
    );
    let principal = sql_i64!(
        s,
        "SELECT principal FROM loans WHERE member_id = $1 AND status = 'active'",
        m1.id
    );
    assert_eq!(r1.loan_outstanding, principal - loan_paid);
}

async fn loan_dues_stop_at_the_loan_amount(s: &Store) {
    let w = world(s).await;
    let joined = days_before(w.today, 14);
    let mut m = member_input("1", joined);
    m.loan_amount = 300_00;
    m.daily_installment = 100_00;
    m.daily_savings = 0;
    add_member(s, &w.org, m).await;
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(
        (r.loan_outstanding, r.arrears, r.days_in_arrears),
        (300_00, 300_00, 3)
    );
    post(s, &w, "1", w.today, 300_00, 0).await;
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(
        (r.loan_outstanding, r.arrears, r.days_in_arrears),
        (0, 0, 0)
    );
}

// ---- the daily review ------------------------------------------------------------------

struct ReviewScenario {
    w: World,
    day: NaiveDate,
    /// Collection days member 7 and 8 owed before `day`.
    k: i64,
}

/// A day of collections covering every flag, on a collection day before today.
async fn review_scenario(s: &Store) -> ReviewScenario {
    let w = world(s).await;
    let day = collection_day_on_or_before(days_before(w.today, 1));
    let alam = field_worker(s, &w.org, "Alam").await;
    let begum = field_worker(s, &w.org, "Begum").await;
    let early = days_before(day, 7);
    let k = collection_days_between(early, days_before(day, 1));
    for (no, worker, joined) in [
        ("1", Some(&alam), day),
        ("2", Some(&alam), day),
        ("3", Some(&alam), day),
        ("4", Some(&begum), day),
        ("5", Some(&begum), day),
        ("6", Some(&begum), day),
        ("7", None, early),
        ("8", None, early),
        ("9", None, early),
        ("10", Some(&alam), w.today),
    ] {
        let mut m = member_input(no, joined);
        m.worker = worker.map(|x| x.name.clone()).unwrap_or_default();
        if no == "9" {
            m.status = Some("inactive".into());
        }
        add_member(s, &w.org, m).await;
    }
    post(s, &w, "1", day, 100_00, 20_00).await; // exact
    // 2 pays nothing: missed
    post(s, &w, "3", day, 50_00, 0).await; // partial
    post(s, &w, "4", day, 200_00, 20_00).await; // advance
    post(s, &w, "5", day, 100_00, 20_00).await; // duplicate
    post(s, &w, "5", day, 100_00, 20_00).await;
    let wrong = post(s, &w, "6", day, 100_00, 20_00).await; // reversed, re-entered
    collection::reverse(s, &w.manager, &w.org, wrong.id, "wrong amount")
        .await
        .unwrap();
    post(s, &w, "6", day, 80_00, 20_00).await;
    post(s, &w, "7", day, 100_00, 20_00).await; // behind since `early`
    post(s, &w, "8", early, 3_000_00, 0).await; // paid ahead
    ReviewScenario { w, day, k }
}

async fn the_daily_review_shows_due_collected_shortfall_and_flags(s: &Store) {
    let ReviewScenario { w, day, k } = review_scenario(s).await;
    let r = review::daily(s, &w.viewer, &w.org, day, None)
        .await
        .unwrap();
    assert_eq!(r.date, day);
    assert!(r.collection_day);
    assert!(!r.closed);
    let nos: Vec<&str> = r.lines.iter().map(|l| l.member_no.as_str()).collect();
    assert_eq!(
        nos,
        ["7", "8", "1", "2", "3", "4", "5", "6"],
        "active members who had joined, by worker"
    );

    type Expect = (i64, i64, i64, i64, &'static [Flag]);
    let expect: [(&str, Expect); 8] = [
        // member: (arrears_in, due, collected, shortfall, flags)
        ("1", (0, 120_00, 120_00, 0, &[])),
        ("2", (0, 120_00, 0, 120_00, &[Flag::Missed])),
        ("3", (0, 120_00, 50_00, 70_00, &[Flag::Partial])),
        ("4", (0, 120_00, 220_00, 0, &[Flag::Advance])),
        (
            "5",
            (0, 120_00, 240_00, 0, &[Flag::Advance, Flag::Duplicate]),
        ),
        (
            "6",
            (0, 120_00, 100_00, 20_00, &[Flag::Partial, Flag::Reversed]),
        ),
        (
            "7",
            (
                k * 120_00,
                120_00 + k * 120_00,
                120_00,
                k * 120_00,
                &[Flag::Partial],
            ),
        ),
        ("8", (0, 0, 0, 0, &[])),
    ];
    for (no, (arrears_in, due, collected, shortfall, fl)) in expect {
        let l = line(&r, no);
        assert_eq!(
            (
                l.arrears_in,
                l.due,
                l.collected,
                l.shortfall,
                flags(l).as_slice()
            ),
            (arrears_in, due, collected, shortfall, fl),
            "member {no}"
        );
        assert_eq!(
            l.collected,
            l.collected_loan + l.collected_savings,
            "member {no}"
        );
        assert_eq!(l.installment_due + l.savings_due, 120_00, "member {no}");
        assert_eq!(
            l.flags.contains(&Flag::Late),
            !l.entries.is_empty(),
            "back-dated entries are late: {no}"
        );
    }
    let eight = line(&r, "8");
    assert_eq!(eight.advance_in, 3_000_00 - k * 120_00);

    // per worker, in worker order
    let by_worker: Vec<(&str, &Totals)> = r
        .workers
        .iter()
        .map(|x| (x.worker_name.as_str(), &x.totals))
        .collect();
    let none = Totals {
        members: 2,
        expected: 120_00 + k * 120_00,
        collected: 120_00,
        shortfall: k * 120_00,
        collection_rate_bp: 120_00 * 10_000 / (120_00 + k * 120_00),
        members_missed: 0,
    };
    let alam = Totals {
        members: 3,
        expected: 360_00,
        collected: 170_00,
        shortfall: 190_00,
        collection_rate_bp: 170_00 * 10_000 / 360_00,
        members_missed: 1,
    };
    let begum = Totals {
        members: 3,
        expected: 360_00,
        collected: 560_00,
        shortfall: 20_00,
        collection_rate_bp: 560_00 * 10_000 / 360_00,
        members_missed: 0,
    };
    assert_eq!(
        by_worker,
        [("(no worker)", &none), ("Alam", &alam), ("Begum", &begum)]
    );
    let expected = none.expected + alam.expected + begum.expected;
    let collected = none.collected + alam.collected + begum.collected;
    assert_eq!(
        r.totals,
        Totals {
            members: 8,
            expected,
            collected,
            shortfall: none.shortfall + alam.shortfall + begum.shortfall,
            collection_rate_bp: collected * 10_000 / expected,
            members_missed: 1,
        }
    );

    // one worker's review has only that worker's members
    let begum_id = org::find_worker(s, w.org.id, "Begum").await.unwrap().id;
    let only = review::daily(s, &w.viewer, &w.org, day, Some(begum_id))
        .await
        .unwrap();
    assert_eq!(only.lines.len(), 3);
    assert_eq!(only.totals, begum);
}

async fn review_totals_equal_sql_sums_over_the_collections_table(s: &Store) {
    let ReviewScenario { w, day, .. } = review_scenario(s).await;
    let r = review::daily(s, &w.manager, &w.org, day, None)
        .await
        .unwrap();
    let org_id = w.org.id;

    let collected = sql_i64!(
        s,
        "SELECT CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa + savings_paisa \
         ELSE -(loan_paisa + savings_paisa) END), 0) AS BIGINT) FROM collections \
         WHERE org_id = $1 AND collected_on = $2",
        org_id,
        day
    );
    assert_eq!(r.totals.collected, collected);
    let members = sql_i64!(
        s,
        "SELECT COUNT(*) FROM members WHERE org_id = $1 AND status = 'active' AND joined_on <= $2",
        org_id,
        day
    );
    assert_eq!(r.totals.members, members);
    assert_eq!(
        r.totals.expected,
        r.lines.iter().map(|l| l.due).sum::<i64>()
    );
    assert_eq!(
        r.totals.shortfall,
        r.lines.iter().map(|l| l.shortfall).sum::<i64>()
    );
    assert_eq!(
        r.totals.members_missed,
        r.lines
            .iter()
            .filter(|l| l.flags.contains(&Flag::Missed))
            .count() as i64
    );
    assert_eq!(
        r.totals.collection_rate_bp,
        r.totals.collected * 10_000 / r.totals.expected
    );

    // each member and each worker against SQL too
    for l in &r.lines {
        let sql = sql_i64!(
            s,
            "SELECT CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa + savings_paisa \
             ELSE -(loan_paisa + savings_paisa) END), 0) AS BIGINT) FROM collections \
             WHERE member_id = $1 AND collected_on = $2",
            l.member_id,
            day
        );
        assert_eq!(l.collected, sql, "member {}", l.member_no);
        let rows = sql_i64!(
            s,
            "SELECT COUNT(*) FROM collections WHERE member_id = $1 AND collected_on = $2",
            l.member_id,
            day
        );
        assert_eq!(l.entries.len() as i64, rows, "member {}", l.member_no);
    }
    for wt in &r.workers {
        let sql = sql_i64!(
            s,
            "SELECT CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa + savings_paisa \
             ELSE -(loan_paisa + savings_paisa) END), 0) AS BIGINT) FROM collections \
             WHERE org_id = $1 AND collected_on = $2 AND COALESCE(worker_id, -1) = $3",
            org_id,
            day,
            wt.worker_id.unwrap_or(-1)
        );
        assert_eq!(wt.totals.collected, sql, "worker {}", wt.worker_name);
    }
}

async fn an_entry_made_on_its_own_day_is_not_late(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    post(s, &w, "1", w.today, 100_00, 20_00).await;
    let r = review::daily(s, &w.manager, &w.org, w.today, None)
        .await
        .unwrap();
    let l = line(&r, "1");
    assert_eq!(l.collected, 120_00);
    assert!(!l.flags.contains(&Flag::Late), "{:?}", l.flags);
}

// ---- permissions -----------------------------------------------------------------------

async fn a_viewer_cannot_add_members_or_collections(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    let msg = assert_refused(member::add(s, &w.viewer, &w.org, &member_input("2", w.today)).await);
    assert!(
        msg.contains("viewer") && msg.contains("somiti user set-role"),
        "{msg}"
    );
    assert_refused(collection::add(s, &w.viewer, &w.org, &entry("1", w.today, 100_00, 0)).await);
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM members"), 1);
    assert_eq!(collection_rows(s).await, 0);
    assert_eq!(audit_rows(s, "member.add", "refused").await, 1);
    assert_eq!(audit_rows(s, "collection.add", "refused").await, 1);
    // reading is allowed
    member::list(s, &w.viewer, &w.org, &MemberQuery::default())
        .await
        .unwrap();
    review::daily(s, &w.viewer, &w.org, w.today, None)
        .await
        .unwrap();
}

async fn a_worker_can_enter_collections_but_not_reverse_them_or_add_members(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    let c = collection::add(s, &w.worker, &w.org, &entry("1", w.today, 100_00, 20_00))
        .await
        .expect("worker enters a collection");
    assert_eq!(c.entered_by, w.worker.username);
    assert_refused(collection::reverse(s, &w.worker, &w.org, c.id, "oops").await);
    assert_refused(member::add(s, &w.worker, &w.org, &member_input("2", w.today)).await);
    assert_refused(day::close(s, &w.worker, &w.org, w.today).await);
    assert_eq!(collection_rows(s).await, 1);
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM members"), 1);
    // a manager may reverse it
    collection::reverse(s, &w.manager, &w.org, c.id, "oops")
        .await
        .unwrap();
}

async fn an_operator_bound_to_one_organization_cannot_act_on_another(s: &Store) {
    let w = world(s).await;
    let b = make_org(s, "CTG").await;
    add_member(s, &b, member_input("1", days_before(w.today, 3))).await;
    let in_b = post_as_admin(s, &w.admin, &b, "1", w.today).await;

    for op in [&w.manager, &w.worker, &w.viewer] {
        assert_refused(member::list(s, op, &b, &MemberQuery::default()).await);
        assert_refused(review::daily(s, op, &b, w.today, None).await);
        assert_refused(member::add(s, op, &b, &member_input("2", w.today)).await);
        assert_refused(collection::add(s, op, &b, &entry("1", w.today, 100_00, 0)).await);
    }
    assert_refused(collection::reverse(s, &w.manager, &b, in_b.id, "not mine").await);
    assert_refused(day::close(s, &w.manager, &b, w.today).await);
    let msg = assert_refused(member::show(s, &w.manager, &b, "1").await);
    assert!(msg.contains("in this organization"), "{msg}");
    assert_eq!(collection_rows(s).await, 1);
    assert_eq!(day::closed_through(s, b.id).await.unwrap(), None);

    // an operator for every organization (none bound) may act on both
    member::add(s, &w.admin, &b, &member_input("2", w.today))
        .await
        .unwrap();
    member::add(s, &w.manager, &w.org, &member_input("1", w.today))
        .await
        .unwrap();
    // a collection of B cannot be reached through A
    let e = collection::reverse(s, &w.admin, &w.org, in_b.id, "wrong org")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
}

async fn post_as_admin(
    s: &Store,
    admin: &Operator,
    o: &Organization,
    no: &str,
    on: NaiveDate,
) -> Collection {
    collection::add(s, admin, o, &entry(no, on, 100_00, 0))
        .await
        .unwrap()
}

// ---- audit -----------------------------------------------------------------------------

async fn every_change_refusal_and_failure_is_audited(s: &Store) {
    let w = world(s).await;
    let mark = sql_i64!(
        s,
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM audit_log"
    );
    let since = async |action: &str, outcome: &str| {
        sql_i64!(
            s,
            "SELECT COUNT(*) FROM audit_log WHERE id > $1 AND action = $2 AND outcome = $3",
            mark,
            action,
            outcome
        )
    };
    let joined = days_before(w.today, 3);

    // changes: one 'ok' row each
    let alam = org::add_worker(s, &w.manager, &w.org, "Alam", "01712345678")
        .await
        .unwrap();
    let mut input = member_input("1", joined);
    input.worker = alam.name.clone();
    let m = member::add(s, &w.manager, &w.org, &input).await.unwrap();
    input.name = "Rahima Khatun".into();
    member::update(s, &w.manager, &w.org, m.id, m.version, &input)
        .await
        .unwrap();
    let c = post(s, &w, "1", w.today, 100_00, 20_00).await;
    collection::reverse(s, &w.manager, &w.org, c.id, "typo")
        .await
        .unwrap();
    day::close(s, &w.manager, &w.org, days_before(w.today, 1))
        .await
        .unwrap();
    day::reopen(s, &w.admin, &w.org, days_before(w.today, 1))
        .await
        .unwrap();
    users::add(s, &w.admin, "clerk", "Clerk", Role::Viewer, Some(w.org.id))
        .await
        .unwrap();
    users::set_role(s, &w.admin, "clerk", Role::Worker)
        .await
        .unwrap();
    for action in [
        "worker.add",
        "member.add",
        "member.edit",
        "collection.add",
        "collection.reverse",
        "day.close",
        "day.reopen",
        "user.add",
        "user.set-role",
    ] {
        assert_eq!(since(action, "ok").await, 1, "{action}");
    }
    let rows = sql_i64!(s, "SELECT COUNT(*) FROM audit_log WHERE id > $1", mark);
    assert_eq!(rows, 9);
    let (actor, target) = somiti::on_store!(s, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT actor, target FROM audit_log WHERE action = 'collection.reverse'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(actor, w.manager.username);
    assert!(target.contains(&c.id.to_string()), "{target}");

    // refusals
    assert_refused(users::add(s, &w.manager, "sneaky", "", Role::Admin, None).await);
    assert_refused(org::add_worker(s, &w.viewer, &w.org, "Karim", "").await);
    assert_refused(member::update(s, &w.worker, &w.org, m.id, m.version + 1, &input).await);
    for action in ["user.add", "worker.add", "member.edit"] {
        assert_eq!(since(action, "refused").await, 1, "{action}");
    }

    // failures
    let mut bad = input.clone();
    bad.mobile = "12345".into();
    member::update(s, &w.manager, &w.org, m.id, m.version + 1, &bad)
        .await
        .unwrap_err();
    org::add_worker(s, &w.manager, &w.org, "  ", "")
        .await
        .unwrap_err();
    users::add(s, &w.admin, "clerk", "Clerk", Role::Viewer, None)
        .await
        .unwrap_err();
    users::set_role(s, &w.admin, "nobody", Role::Viewer)
        .await
        .unwrap_err();
    for action in ["member.edit", "worker.add", "user.add", "user.set-role"] {
        assert_eq!(since(action, "failed").await, 1, "{action}");
    }
    let refused_rows = sql_i64!(
        s,
        "SELECT COUNT(*) FROM audit_log WHERE outcome = 'refused'"
    );
    let failed_rows = sql_i64!(s, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'failed'");
    assert_eq!((refused_rows, failed_rows), (3, 4));
    // and a failed change changed nothing
    assert_eq!(member::get(s, m.id).await.unwrap().mobile, "01712345678");
    assert_eq!(org::workers(s, w.org.id).await.unwrap().len(), 1);
}

async fn the_audit_log_cannot_be_updated_or_deleted(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", w.today)).await;
    let rows = sql_i64!(s, "SELECT COUNT(*) FROM audit_log");
    assert!(rows > 0);
    let update = somiti::on_store!(s, |p| sqlx::query(
        "UPDATE audit_log SET outcome = 'ok', actor = 'nobody'"
    )
    .execute(p)
    .await
    .map(|r| r.rows_affected()));
    let e = update.expect_err("UPDATE of audit_log must fail");
    assert!(e.to_string().contains("append-only"), "{e}");
    let delete = somiti::on_store!(s, |p| sqlx::query("DELETE FROM audit_log")
        .execute(p)
        .await
        .map(|r| r.rows_affected()));
    let e = delete.expect_err("DELETE from audit_log must fail");
    assert!(e.to_string().contains("append-only"), "{e}");
    assert_eq!(sql_i64!(s, "SELECT COUNT(*) FROM audit_log"), rows);
    assert_eq!(
        sql_i64!(s, "SELECT COUNT(*) FROM audit_log WHERE actor = 'nobody'"),
        0
    );
}

// ---- login and users -------------------------------------------------------------------

async fn an_unknown_login_is_told_how_to_be_added(s: &Store) {
    let me = access::os_login();
    let e = access::login(s).await.unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert!(e.to_string().contains("somiti init"), "{e}");

    let other = if me == "someone_else" {
        "another_one"
    } else {
        "someone_else"
    };
    make_operator(s, other, Role::Admin, None).await;
    let e = access::login(s).await.unwrap_err();
    assert_eq!(e.exit_code(), 4);
    let msg = e.to_string();
    assert!(msg.contains("somiti user add"), "{msg}");
    assert!(msg.contains(&me), "names the login: {msg}");

    make_operator(s, &me, Role::Manager, None).await;
    let op = access::login(s).await.expect("a known login");
    assert_eq!(
        (op.username.as_str(), op.role),
        (me.as_str(), Role::Manager)
    );
}

async fn the_last_admin_cannot_be_demoted(s: &Store) {
    let w = world(s).await;
    let msg = assert_refused(users::set_role(s, &w.admin, &w.admin.username, Role::Manager).await);
    assert!(msg.contains("last admin"), "{msg}");
    assert_eq!(
        users::find(s, &w.admin.username)
            .await
            .unwrap()
            .unwrap()
            .role,
        "admin"
    );
    assert_eq!(audit_rows(s, "user.set-role", "refused").await, 1);

    // with a second admin, the first may step down
    users::set_role(s, &w.admin, &w.manager.username, Role::Admin)
        .await
        .unwrap();
    users::set_role(s, &w.admin, &w.admin.username, Role::Manager)
        .await
        .unwrap();
    assert_eq!(
        users::find(s, &w.admin.username)
            .await
            .unwrap()
            .unwrap()
            .role,
        "manager"
    );
    // a worker may not change roles at all
    assert_refused(users::set_role(s, &w.worker, &w.viewer.username, Role::Admin).await);
}

// ---- loan and savings accounts (migration 0009) ---------------------------------------

fn loan_of(paid_for: &str) -> String {
    format!("loan outstanding for {paid_for}")
}

async fn a_loan_payment_above_what_is_outstanding_is_refused_naming_it(s: &Store) {
    let w = world(s).await;
    let mut m = member_input("1", days_before(w.today, 3));
    m.loan_amount = 500_00;
    m.daily_installment = 100_00;
    add_member(s, &w.org, m).await;
    post(s, &w, "1", w.today, 200_00, 0).await;
    // 300 is outstanding: 99,999,999 taka (the typo of the report) and 300.01 are refused
    for too_much in [99_999_999_00, 300_01] {
        let e = collection::add(s, &w.manager, &w.org, &entry("1", w.today, too_much, 0))
            .await
            .unwrap_err();
        assert_eq!(
            invalid_field(&e),
            if too_much > 300_01 { "amount" } else { "loan" }
        );
        if too_much == 300_01 {
            assert!(e.to_string().contains("300.00 outstanding"), "{e}");
        }
    }
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(r.loan_outstanding, 300_00, "{}", loan_of("member 1"));
    // exactly what is outstanding repays the loan
    post(s, &w, "1", w.today, 300_00, 0).await;
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(r.loan_outstanding, 0);
    let l = r.accounts.loan.expect("the loan");
    assert_eq!(l.status, LoanStatus::Repaid);
    assert_eq!(l.closed_on, Some(w.today));
    // reversing the last payment makes it active again with 300 outstanding
    let last = collection::for_member(s, r.member.id, 1).await.unwrap();
    collection::reverse(s, &w.manager, &w.org, last[0].id, "entered twice")
        .await
        .unwrap();
    let r = row(s, &w.manager, &w.org, "1").await;
    let l = r.accounts.loan.expect("the loan");
    assert_eq!(
        (l.status, l.closed_on, r.loan_outstanding),
        (LoanStatus::Active, None, 300_00)
    );
}

async fn an_entry_above_the_ceiling_is_refused(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    let rules = Rules {
        max_entry: 1_000_00,
    };
    let e = collection::add_with(
        s,
        &w.manager,
        &w.org,
        &entry("1", w.today, 0, 1_000_01),
        &rules,
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(&e), "amount");
    assert!(e.to_string().contains("ledger.max_entry_taka"), "{e}");
    assert!(e.to_string().contains("1,000.00"), "{e}");
    collection::add_with(
        s,
        &w.manager,
        &w.org,
        &entry("1", w.today, 0, 1_000_00),
        &rules,
    )
    .await
    .unwrap();
    // the default ceiling is 100,000 taka
    assert_eq!(Rules::default().max_entry, 100_000_00);
    assert_eq!(collection_rows(s).await, 1);
}

async fn a_member_without_an_active_loan_pays_savings_only(s: &Store) {
    let w = world(s).await;
    let mut m = member_input("1", days_before(w.today, 3));
    m.loan_amount = 0;
    m.daily_installment = 0;
    add_member(s, &w.org, m).await;
    let e = collection::add(s, &w.manager, &w.org, &entry("1", w.today, 100_00, 20_00))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "loan");
    assert!(e.to_string().contains("no active loan"), "{e}");
    let c = post(s, &w, "1", w.today, 0, 20_00).await;
    assert_eq!(c.loan_id, None);
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!((r.loan_outstanding, r.savings_balance), (0, 20_00));
    assert!(r.accounts.loan.is_none());
}

async fn a_repaid_loan_makes_way_for_the_next_cycle(s: &Store) {
    let w = world(s).await;
    let mut m = member_input("1", days_before(w.today, 10));
    m.loan_amount = 300_00;
    m.daily_installment = 100_00;
    add_member(s, &w.org, m).await;
    let next = Disbursement {
        member_no: "1".into(),
        principal: 5_000_00,
        service_charge: 250_00,
        installment: 100_00,
        ..Default::default()
    };
    // not while the first loan runs
    let e = loan::disburse(s, &w.manager, &w.org, &next)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("still has loan cycle 1"), "{e}");
    post(s, &w, "1", days_before(w.today, 1), 300_00, 0).await;
    let before = row(s, &w.manager, &w.org, "1").await;
    let l = loan::disburse(s, &w.manager, &w.org, &next).await.unwrap();
    assert_eq!(
        (l.cycle, l.status, l.owed()),
        (2, LoanStatus::Active, 5_250_00)
    );
    assert!(
        l.first_due_on > w.today,
        "first due on a later collection day"
    );
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(r.loan_outstanding, 5_250_00);
    assert_eq!(
        r.arrears, before.arrears,
        "nothing of the new loan is due yet (the arrears are the unpaid savings)"
    );
    // a payment now belongs to cycle 2
    let c = post(s, &w, "1", w.today, 100_00, 0).await;
    assert_eq!(c.loan_id, Some(l.id));
    let loans = loan::for_member(s, r.member.id).await.unwrap();
    assert_eq!(
        loans
            .iter()
            .map(|l| (l.cycle, l.status, l.paid))
            .collect::<Vec<_>>(),
        vec![
            (1, LoanStatus::Repaid, 300_00),
            (2, LoanStatus::Active, 100_00)
        ]
    );
    assert_eq!(audit_rows(s, "loan.disburse", "ok").await, 1);
    // a worker may not disburse
    assert_refused(loan::disburse(s, &w.worker, &w.org, &next).await);
}

async fn only_an_admin_writes_a_loan_off_and_it_owes_nothing_after(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    post(s, &w, "1", w.today, 100_00, 0).await;
    let msg = assert_refused(loan::write_off(s, &w.manager, &w.org, "1", "moved away").await);
    assert!(msg.contains("may not write off loans"), "{msg}");
    let e = loan::write_off(s, &w.admin, &w.org, "1", "  ")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "reason");
    let l = loan::write_off(s, &w.admin, &w.org, "1", "moved away")
        .await
        .unwrap();
    assert_eq!(
        (l.status, l.written_off),
        (LoanStatus::WrittenOff, 9_900_00)
    );
    let r = row(s, &w.manager, &w.org, "1").await;
    assert_eq!(r.loan_outstanding, 0);
    let e = collection::add(s, &w.manager, &w.org, &entry("1", w.today, 100_00, 0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no active loan"), "{e}");
    assert_eq!(audit_rows(s, "loan.write_off", "ok").await, 1);
}

async fn a_withdrawal_never_takes_savings_below_zero_and_is_reversed_by_an_entry(s: &Store) {
    let w = world(s).await;
    add_member(s, &w.org, member_input("1", days_before(w.today, 3))).await;
    post(s, &w, "1", w.today, 0, 500_00).await;
    let ask = |amount| WithdrawalInput {
        member_no: "1".into(),
        amount,
        reason: "school fees".into(),
        ..Default::default()
    };
    let e = savings::withdraw(s, &w.manager, &w.org, &ask(500_01), &Rules::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), "amount");
    assert!(e.to_string().contains("savings balance of 500.00"), "{e}");
    let wd = savings::withdraw(s, &w.manager, &w.org, &ask(200_00), &Rules::default())
        .await
        .unwrap();
    assert_eq!(
        row(s, &w.manager, &w.org, "1").await.savings_balance,
        300_00
    );
    assert_refused(savings::withdraw(s, &w.worker, &w.org, &ask(1_00), &Rules::default()).await);
    savings::reverse_withdrawal(s, &w.manager, &w.org, wd.id, "paid twice")
        .await
        .unwrap();
    assert_eq!(
        row(s, &w.manager, &w.org, "1").await.savings_balance,
        500_00
    );
    let e = savings::reverse_withdrawal(s, &w.manager, &w.org, wd.id, "again")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already reversed"), "{e}");
    // withdrawing does not count as paying: arrears are unchanged by it
    assert_eq!(
        sql_i64!(
            s,
            "SELECT COUNT(*) FROM withdrawals WHERE member_id = $1",
            wd.member_id
        ),
        2
    );
}

async fn closing_a_member_needs_the_loan_settled_and_pays_the_savings_out(s: &Store) {
    use somiti::ledger::closure;
    let w = world(s).await;
    let joined = days_before(w.today, 3);
    add_member(s, &w.org, member_input("1", joined)).await;
    post(s, &w, "1", w.today, 1_000_00, 300_00).await;
    // The plan shows the amounts; the close is refused while the loan runs.
    let p = closure::plan(s, &w.manager, &w.org, "1").await.unwrap();
    assert_eq!(p.loan_outstanding, 9_000_00);
    assert_eq!(p.savings_balance, 300_00);
    assert!(!p.can_close());
    assert!(
        p.blockers[0].contains("still owes 9,000.00"),
        "{:?}",
        p.blockers
    );
    let e = closure::close(s, &w.manager, &w.org, "1", "left", &Rules::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    assert_eq!(audit_rows(s, "member.close", "refused").await, 1);
    // A worker may not close; a manager may not write off; an admin writes off.
    assert_refused(closure::close(s, &w.worker, &w.org, "1", "x", &Rules::default()).await);
    assert_refused(loan::write_off(s, &w.manager, &w.org, "1", "gone").await);
    loan::write_off(s, &w.admin, &w.org, "1", "gone abroad")
        .await
        .unwrap();
    let c = closure::close(s, &w.manager, &w.org, "1", "gone abroad", &Rules::default())
        .await
        .unwrap();
    assert_eq!(c.paid_out, 300_00);
    assert!(c.withdrawal_id.is_some());
    let m = member::find_by_no(s, &w.org, "1").await.unwrap();
    assert_eq!(m.status, "closed");
    assert_eq!(
        savings::account(s, w.org.id, m.id).await.unwrap().balance(),
        0
    );
    assert_eq!(
        sql_i64!(
            s,
            "SELECT COUNT(*) FROM member_closures WHERE member_id = $1",
            m.id
        ),
        1
    );
    // Closed: out of the review, cannot pay, cannot be closed again.
    let r = review::daily(s, &w.manager, &w.org, w.today, None)
        .await
        .unwrap();
    assert!(r.lines.iter().all(|l| l.member_no != "1"));
    assert!(
        collection::add(s, &w.manager, &w.org, &entry("1", w.today, 0, 20_00))
            .await
            .is_err()
    );
    let e = closure::close(s, &w.manager, &w.org, "1", "", &Rules::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already closed"), "{e}");
    // On a closed day nothing closes.
    add_member(s, &w.org, member_input("2", joined)).await;
    day::close(s, &w.manager, &w.org, w.today).await.unwrap();
    let e = closure::close(s, &w.manager, &w.org, "2", "", &Rules::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    let m2 = member::find_by_no(s, &w.org, "2").await.unwrap();
    assert_eq!(m2.status, "active", "nothing half-written");
    assert!(
        somiti::ledger::accounts::check(s, &w.admin, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn running_balances_equal_the_entries_after_every_kind_of_entry(s: &Store) {
    use somiti::ledger::accounts;
    let w = world(s).await;
    let joined = days_before(w.today, 10);
    add_member(s, &w.org, member_input("1", joined)).await;
    add_member(s, &w.org, member_input("2", joined)).await;
    // payments on several days, a reversal of the latest, a repaid loan and its next cycle
    post(s, &w, "1", days_before(w.today, 2), 4_000_00, 100_00).await;
    let last = post(s, &w, "1", days_before(w.today, 1), 6_000_00, 100_00).await;
    collection::reverse(s, &w.manager, &w.org, last.id, "wrong member")
        .await
        .unwrap();
    post(s, &w, "1", w.today, 6_000_00, 0).await;
    loan::disburse(
        s,
        &w.manager,
        &w.org,
        &Disbursement {
            member_no: "1".into(),
            principal: 20_000_00,
            installment: 500_00,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // a withdrawal and its reversal, a write-off
    let wd = savings::withdraw(
        s,
        &w.manager,
        &w.org,
        &WithdrawalInput {
            member_no: "1".into(),
            amount: 50_00,
            ..Default::default()
        },
        &Rules::default(),
    )
    .await
    .unwrap();
    savings::reverse_withdrawal(s, &w.manager, &w.org, wd.id, "not paid")
        .await
        .unwrap();
    post(s, &w, "2", w.today, 100_00, 20_00).await;
    loan::write_off(s, &w.admin, &w.org, "2", "died")
        .await
        .unwrap();
    let bad = accounts::check(s, &w.viewer, Some(&w.org)).await.unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    // The last paid day follows the reversal: the reversed day no longer counts.
    let m = member::find_by_no(s, &w.org, "1").await.unwrap();
    assert_eq!(
        savings::account(s, w.org.id, m.id)
            .await
            .unwrap()
            .last_paid_on,
        Some(w.today)
    );
    // A balance changed behind the ledger's back is found, naming the member.
    somiti::on_store!(s, |p| sqlx::query(
        "UPDATE savings_accounts SET deposited = deposited + 1 WHERE member_id = $1"
    )
    .bind(m.id)
    .execute(p)
    .await
    .unwrap()
    .rows_affected());
    let bad = accounts::check(s, &w.viewer, None).await.unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].member_no, "1");
    assert_eq!(bad[0].field, "deposited");
    assert_eq!(bad[0].stored, "100.01");
    assert_eq!(bad[0].from_entries, "100.00");
}
