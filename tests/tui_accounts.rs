//! A member's accounts through the console's keys, against a real SQLite store: the keys go
//! through the keymap and `App::update`, every effect runs through `tasks::run` (the core
//! calls the console makes), and the answers go back into the app, until nothing is asked
//! for. The app's clock is set to the core's (`Organization::today` reads the real clock).
//! What the console did is then read back with the core's API. Each runs on SQLite and
//! on PostgreSQL.

// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod common;
mod tui_support;

use std::collections::VecDeque;

use chrono::Utc;
use crossterm::event::KeyCode;
use somiti::access::Operator;
use somiti::db::Store;
use somiti::ledger::collection::{self, CollectionInput};
use somiti::ledger::loan::{self, LoanStatus};
use somiti::ledger::member::{self, Member};
use somiti::ledger::org::Organization;
use somiti::ledger::savings;
use somiti::tui::app::{App, Overlay};
use somiti::tui::keymap::{Action, footer};
use somiti::tui::tasks::{self, Effect};
use somiti::tui::widgets::form::Form;
use tui_support::{ch, key, press, render};

on_both_backends!(
    l_disburses_a_loan_and_a_second_one_while_it_is_active_is_refused_in_the_form,
    a_bad_amount_and_a_closed_day_are_shown_on_the_disburse_form,
    w_withdraws_savings_and_refuses_more_than_the_balance_naming_it,
    closing_waits_for_the_loan_then_an_admin_writes_it_off_and_closes_the_member,
    a_manager_is_not_offered_the_write_off_and_gets_the_cores_refusal,
    k_checks_every_running_balance_and_lists_one_that_disagrees,
);

/// The console on `o` as `op`, at the core's clock, with the register loaded.
async fn console(store: &Store, op: &Operator, o: &Organization) -> App {
    let mut app = tui_support::bare_app((80, 24));
    app.operator = op.clone();
    app.orgs = vec![o.clone()];
    app.org_index = 0;
    app.workers = Vec::new();
    app.now = Utc::now();
    let fx = app.update(Action::Refresh);
    drive(&mut app, store, op, fx).await;
    app
}

/// Run every effect (and those its answer asks for) against the store, in order.
async fn drive(app: &mut App, store: &Store, op: &Operator, fx: Vec<Effect>) {
    let mut queue: VecDeque<Effect> = fx.into();
    let mut ran = 0;
    while let Some(e) = queue.pop_front() {
        ran += 1;
        assert!(ran < 100, "the console keeps asking: {e:?}");
        let out = tasks::run(store, op, e).await;
        queue.extend(app.apply(out));
    }
}

async fn keys(app: &mut App, store: &Store, op: &Operator, ks: &[crossterm::event::KeyEvent]) {
    for k in ks {
        let fx = press(app, *k);
        drive(app, store, op, fx).await;
    }
}

async fn type_text(app: &mut App, store: &Store, op: &Operator, text: &str) {
    let ks: Vec<_> = text.chars().map(ch).collect();
    keys(app, store, op, &ks).await;
}

fn top_form(app: &App) -> &Form {
    match app.overlays.last() {
        Some(Overlay::Form(f)) => f,
        other => panic!("no form on top: {other:?}"),
    }
}

fn screen(app: &App) -> String {
    format!("{}", render(app).backend())
}

/// Open member `no`'s details from the register (Enter on their row).
async fn open_member(app: &mut App, store: &Store, op: &Operator, no: &str) {
    let i = app
        .members
        .rows
        .iter()
        .position(|r| r.member.member_no == no)
        .unwrap_or_else(|| panic!("member {no} is not in the register"));
    app.members.selected = i;
    keys(app, store, op, &[key(KeyCode::Enter)]).await;
    match app.overlays.last() {
        Some(Overlay::Detail(d)) => assert!(d.detail.is_some(), "details not loaded: {d:?}"),
        other => panic!("no details: {other:?}"),
    }
}

/// Member `no`, joined 40 days ago, with a first loan of `loan` taka (0: none) at 100 a
/// day, and `savings` paid in today.
async fn member_with(store: &Store, o: &Organization, no: &str, loan: i64, savings: i64) -> Member {
    let today = o.today();
    let mut input = common::member_input(no, today - chrono::Duration::days(40));
    input.loan_amount = loan;
    input.daily_installment = if loan > 0 { 100_00 } else { 0 };
    let m = common::add_member(store, o, input).await;
    if savings > 0 {
        collection::add(
            store,
            &Operator::system(),
            o,
            &CollectionInput {
                member_no: no.into(),
                collected_on: Some(common::collection_day_on_or_before(today)),
                loan_paisa: 0,
                savings_paisa: savings,
                note: String::new(),
            },
        )
        .await
        .expect("deposit");
    }
    m
}

async fn withdrawals_of(store: &Store, member_id: i64) -> i64 {
    somiti::on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM withdrawals WHERE member_id = $1"
    )
    .bind(member_id)
    .fetch_one(p)
    .await
    .unwrap())
}

async fn l_disburses_a_loan_and_a_second_one_while_it_is_active_is_refused_in_the_form(
    store: &Store,
) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::admin(store).await;
    let m = member_with(store, &o, "2", 0, 0).await;
    let mut app = console(store, &op, &o).await;
    open_member(&mut app, store, &op, "2").await;

    keys(&mut app, store, &op, &[ch('l')]).await;
    let f = top_form(&app);
    assert!(f.title.starts_with("New loan — 2"), "{}", f.title);
    assert_eq!(f.value("service_charge"), "0");
    assert_eq!(f.value("date"), app.today().to_string());
    assert!(f.intro[0].contains("No loan yet"), "{:?}", f.intro);
    type_text(&mut app, store, &op, "10000").await; // principal
    keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    type_text(&mut app, store, &op, "500").await; // installment
    keys(
        &mut app,
        store,
        &op,
        &[key(KeyCode::Tab), key(KeyCode::Tab)],
    )
    .await;
    type_text(&mut app, store, &op, "20").await; // installments
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;

    assert!(
        matches!(app.overlays.last(), Some(Overlay::Detail(_))),
        "the form closes on success: {:?}",
        app.overlays.last()
    );
    let flash = app.flash.as_ref().expect("a status line").text.clone();
    assert!(
        flash.contains("loan cycle 1 disbursed: 10,000.00"),
        "{flash}"
    );
    let loans = loan::for_member(store, m.id).await.unwrap();
    assert_eq!(loans.len(), 1, "{loans:?}");
    let l = &loans[0];
    assert_eq!(l.status, LoanStatus::Active);
    assert_eq!(
        (l.principal, l.installment, l.service_charge, l.installments),
        (10_000_00, 500_00, 0, Some(20))
    );
    assert_eq!(l.disbursed_on, o.today());
    assert_eq!(l.entered_by, "admin1");
    // the details were read again: they show the new loan
    let Some(Overlay::Detail(d)) = app.overlays.last() else {
        unreachable!()
    };
    let row = &d.detail.as_ref().unwrap().row;
    assert_eq!(row.loan_outstanding, 10_000_00);
    assert!(screen(&app).contains("10,000.00 · installment 500.00"));

    // a second loan while this one is active: the core's refusal, in the form
    keys(&mut app, store, &op, &[ch('l')]).await;
    assert!(top_form(&app).intro[0].contains("10,000.00 outstanding"));
    type_text(&mut app, store, &op, "5000").await;
    keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    type_text(&mut app, store, &op, "100").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let f = top_form(&app);
    assert!(!f.busy);
    let note = f.note.as_deref().expect("the refusal");
    assert!(
        note.contains("still has loan cycle 1 with 10,000.00 outstanding"),
        "{note}"
    );
    assert!(screen(&app).contains("still has loan cycle 1"));
    assert_eq!(loan::for_member(store, m.id).await.unwrap().len(), 1);
}

async fn a_bad_amount_and_a_closed_day_are_shown_on_the_disburse_form(store: &Store) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::admin(store).await;
    member_with(store, &o, "3", 0, 0).await;
    let mut app = console(store, &op, &o).await;
    open_member(&mut app, store, &op, "3").await;
    keys(&mut app, store, &op, &[ch('l')]).await;
    type_text(&mut app, store, &op, "ten").await;
    keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    type_text(&mut app, store, &op, "500").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let f = top_form(&app);
    assert!(
        f.fields[0]
            .error
            .as_deref()
            .unwrap()
            .contains("amount in taka"),
        "{:?}",
        f.fields[0]
    );
    assert_eq!(f.focus, 0, "the focus is on the bad field");

    // yesterday's day closed: a loan dated on it is refused
    let yesterday = o.today() - chrono::Duration::days(1);
    somiti::ledger::day::close(store, &op, &o, yesterday)
        .await
        .unwrap();
    keys(&mut app, store, &op, &[key(KeyCode::Backspace); 3]).await;
    type_text(&mut app, store, &op, "10000").await;
    for _ in 0..4 {
        keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    }
    let f = top_form(&app);
    assert_eq!(f.fields[f.focus].key, "date");
    let mut date = f.fields[f.focus].value.clone();
    for _ in 0..date.len() {
        keys(&mut app, store, &op, &[key(KeyCode::Backspace)]).await;
    }
    date = yesterday.to_string();
    type_text(&mut app, store, &op, &date).await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let f = top_form(&app);
    let note = f.note.as_deref().expect("the closed-day refusal");
    assert!(note.contains("closed"), "{note}");
}

async fn w_withdraws_savings_and_refuses_more_than_the_balance_naming_it(store: &Store) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::admin(store).await;
    let m = member_with(store, &o, "4", 0, 500_00).await;
    let mut app = console(store, &op, &o).await;
    open_member(&mut app, store, &op, "4").await;

    keys(&mut app, store, &op, &[ch('w')]).await;
    assert!(top_form(&app).intro[0].contains("Savings balance 500.00"));
    type_text(&mut app, store, &op, "600").await;
    keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    type_text(&mut app, store, &op, "school fees").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let f = top_form(&app);
    let e = f.fields[0].error.as_deref().expect("the amount's problem");
    assert!(
        e.contains("600.00 is more than member 4's savings balance of 500.00"),
        "{e}"
    );
    assert_eq!(withdrawals_of(store, m.id).await, 0);
    // a typo's extra zeros: above the ceiling for one entry
    assert_eq!(top_form(&app).focus, 0, "the focus is on the amount");
    type_text(&mut app, store, &op, "000").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let e = top_form(&app).fields[0].error.clone().expect("the ceiling");
    assert!(e.contains("ledger.max_entry_taka"), "{e}");
    keys(&mut app, store, &op, &[key(KeyCode::Backspace); 3]).await;

    // 200 of it: paid out, and the details show the new balance
    keys(&mut app, store, &op, &[key(KeyCode::Backspace); 3]).await;
    type_text(&mut app, store, &op, "200").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));
    let flash = &app.flash.as_ref().unwrap().text;
    assert!(flash.contains("of 200.00 paid out"), "{flash}");
    let acct = savings::account(store, o.id, m.id).await.unwrap();
    assert_eq!(acct.balance(), 300_00);
    assert_eq!(withdrawals_of(store, m.id).await, 1);
    assert!(screen(&app).contains("savings 300.00"), "{}", screen(&app));
}

async fn closing_waits_for_the_loan_then_an_admin_writes_it_off_and_closes_the_member(
    store: &Store,
) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::admin(store).await;
    let m = member_with(store, &o, "1", 10_000_00, 500_00).await;
    collection::add(
        store,
        &Operator::system(),
        &o,
        &CollectionInput {
            member_no: "1".into(),
            collected_on: Some(common::collection_day_on_or_before(o.today())),
            loan_paisa: 1_000_00,
            savings_paisa: 0,
            note: String::new(),
        },
    )
    .await
    .unwrap();
    let mut app = console(store, &op, &o).await;
    open_member(&mut app, store, &op, "1").await;

    // C: the walk-through shows what is in the way, with the amount
    keys(&mut app, store, &op, &[ch('C')]).await;
    let Some(Overlay::Closing(c)) = app.overlays.last() else {
        panic!("no walk-through: {:?}", app.overlays.last())
    };
    let p = c.plan.as_ref().expect("the plan");
    assert_eq!((p.loan_outstanding, p.savings_balance), (9_000_00, 500_00));
    let s = screen(&app);
    assert!(s.contains("9,000.00 still owed on loan cycle 1"), "{s}");
    assert!(s.contains("500.00 paid out by a final withdrawal"), "{s}");
    assert!(s.contains("or write it off now: X"), "{s}");
    assert!(
        s.contains("X write off the loan (admin)"),
        "the footer offers it: {s}"
    );
    // Enter does not go on while the loan is active
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    assert!(matches!(app.overlays.last(), Some(Overlay::Closing(_))));
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("cannot be closed yet")
    );
    // and the core refuses the close itself too
    assert!(
        somiti::ledger::closure::close(store, &op, &o, "1", "x", &Default::default())
            .await
            .is_err()
    );

    // X: the write-off form names what is still owed, and a dialog asks once more
    keys(&mut app, store, &op, &[ch('X')]).await;
    let f = top_form(&app);
    assert!(f.intro[0].contains("9,000.00 still owed"), "{:?}", f.intro);
    type_text(&mut app, store, &op, "moved to Dhaka").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("no confirmation: {:?}", app.overlays.last())
    };
    assert!(c.lines[0].contains("Write off 9,000.00"), "{:?}", c.lines);
    assert_eq!(
        loan::for_member(store, m.id).await.unwrap()[0].status,
        LoanStatus::Active,
        "nothing happens before the yes"
    );
    keys(&mut app, store, &op, &[ch('y')]).await;
    let flash = &app.flash.as_ref().unwrap().text;
    assert!(flash.contains("written off: 9,000.00"), "{flash}");
    let l = &loan::for_member(store, m.id).await.unwrap()[0];
    assert_eq!(
        (l.status, l.written_off),
        (LoanStatus::WrittenOff, 9_000_00)
    );
    assert_eq!(l.close_reason, "moved to Dhaka");

    // back in the walk-through, planned again: nothing in the way
    let Some(Overlay::Closing(c)) = app.overlays.last() else {
        panic!("not back in the walk-through: {:?}", app.overlays.last())
    };
    let p = c.plan.as_ref().expect("planned again");
    assert!(p.can_close(), "{:?}", p.blockers);
    assert!(screen(&app).contains("Ready: Enter"));

    // Enter: a reason and the member's number typed; a wrong number is not a yes
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    assert!(top_form(&app).title.starts_with("Close member 1"));
    type_text(&mut app, store, &op, "left the somiti").await;
    keys(&mut app, store, &op, &[key(KeyCode::Tab)]).await;
    type_text(&mut app, store, &op, "7").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;
    let f = top_form(&app);
    assert!(f.fields[1].error.as_deref().unwrap().contains("type 1"));
    assert_eq!(member::get(store, m.id).await.unwrap().status, "active");
    keys(&mut app, store, &op, &[key(KeyCode::Backspace)]).await;
    type_text(&mut app, store, &op, "১").await; // Bengali digit one
    keys(&mut app, store, &op, &[key(KeyCode::Enter)]).await;

    // closed: the walk-through is gone, the details show it, the core agrees
    let flash = &app.flash.as_ref().unwrap().text;
    assert!(
        flash.contains("member 1 closed") && flash.contains("500.00 of savings paid out"),
        "{flash}"
    );
    let Some(Overlay::Detail(d)) = app.overlays.last() else {
        panic!("not back in the details: {:?}", app.overlays.last())
    };
    assert_eq!(d.detail.as_ref().unwrap().row.member.status, "closed");
    assert!(screen(&app).contains("· closed ·"), "{}", screen(&app));
    assert_eq!(member::get(store, m.id).await.unwrap().status, "closed");
    let acct = savings::account(store, o.id, m.id).await.unwrap();
    assert_eq!(acct.balance(), 0);
    assert_eq!(withdrawals_of(store, m.id).await, 1);
    let row = app
        .members
        .rows
        .iter()
        .find(|r| r.member.member_no == "1")
        .unwrap();
    assert_eq!(row.member.status, "closed", "the register was read again");
}

async fn a_manager_is_not_offered_the_write_off_and_gets_the_cores_refusal(store: &Store) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::manager(store, &o).await;
    let m = member_with(store, &o, "5", 10_000_00, 0).await;
    let mut app = console(store, &op, &o).await;
    open_member(&mut app, store, &op, "5").await;
    let offered: Vec<&str> = footer(&app).iter().map(|(_, h)| *h).collect();
    assert!(offered.contains(&"new loan") && offered.contains(&"close member"));
    assert!(!offered.contains(&"write off (admin)"), "{offered:?}");

    keys(&mut app, store, &op, &[ch('C')]).await;
    let s = screen(&app);
    assert!(s.contains("or ask an admin to write"), "{s}");
    assert!(!s.contains("X write off"), "{s}");
    // the key still works; the core says no
    keys(&mut app, store, &op, &[ch('X')]).await;
    type_text(&mut app, store, &op, "gone").await;
    keys(&mut app, store, &op, &[key(KeyCode::Enter), ch('y')]).await;
    let note = top_form(&app).note.clone().expect("the refusal");
    assert!(note.contains("write off loans"), "{note}");
    assert_eq!(
        loan::for_member(store, m.id).await.unwrap()[0].status,
        LoanStatus::Active
    );
}

async fn k_checks_every_running_balance_and_lists_one_that_disagrees(store: &Store) {
    let o = common::make_org(store, "KCHK").await;
    let op = common::admin(store).await;
    member_with(store, &o, "1", 1_000_00, 50_00).await;
    let mut app = console(store, &op, &o).await;
    keys(&mut app, store, &op, &[ch('K')]).await;
    let flash = app.flash.as_ref().expect("a note").text.clone();
    assert_eq!(
        flash,
        "ledger check: every running balance equals its entries"
    );
    // A balance changed behind the ledger's back: listed, naming the member.
    somiti::on_store!(store, |p| sqlx::query(
        "UPDATE savings_accounts SET deposited = deposited + 1"
    )
    .execute(p)
    .await
    .unwrap()
    .rows_affected());
    keys(&mut app, store, &op, &[ch('K')]).await;
    match app.overlays.last() {
        Some(Overlay::Message(m)) => {
            assert!(
                m.title.contains("1 running balance disagree"),
                "{}",
                m.title
            );
            assert!(
                m.lines[0].contains("member 1") && m.lines[0].contains("deposited is 50.01"),
                "{:?}",
                m.lines
            );
        }
        other => panic!("no list: {other:?}"),
    }
}
