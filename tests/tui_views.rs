//! The member statement and the monthly report through the console's keys, against a real
//! store on SQLite and on PostgreSQL: keys go through the keymap and `App::update`, every
//! effect runs through `tasks::run`, answers go back into the app. What the views hold is
//! compared with the core's own answers (`statement::statement`, `report::month`, the
//! member's running balances). The app's clock is the core's (`Organization::today`).

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
use somiti::ledger::member::{self, Member};
use somiti::ledger::org::Organization;
use somiti::ledger::report::{self, YearMonth};
use somiti::ledger::savings::{self, WithdrawalInput};
use somiti::ledger::statement::{self, MemberRef};
use somiti::ledger::{Rules, loan};
use somiti::tui::app::{App, Overlay};
use somiti::tui::keymap::Action;
use somiti::tui::pages::{ReportPage, StatementPage};
use somiti::tui::tasks::{self, Effect};
use tui_support::{ch, key, press, render};

on_both_backends!(
    s_in_the_details_opens_this_months_statement_ending_on_the_members_balances,
    brackets_move_the_statement_by_month_from_joining_to_this_month,
    m_in_the_review_opens_the_monthly_report_with_the_cores_totals,
);

async fn console(store: &Store, op: &Operator, o: &Organization) -> App {
    let mut app = tui_support::bare_app((120, 40));
    app.operator = op.clone();
    app.orgs = vec![o.clone()];
    app.org_index = 0;
    app.workers = Vec::new();
    app.now = Utc::now();
    let fx = app.update(Action::Refresh);
    drive(&mut app, store, op, fx).await;
    app
}

/// Run every effect (and those its answer asks for) against the store; how many ran.
async fn drive(app: &mut App, store: &Store, op: &Operator, fx: Vec<Effect>) -> usize {
    let mut queue: VecDeque<Effect> = fx.into();
    let mut ran = 0;
    while let Some(e) = queue.pop_front() {
        ran += 1;
        assert!(ran < 100, "the console keeps asking: {e:?}");
        let out = tasks::run(store, op, e).await;
        queue.extend(app.apply(out));
    }
    ran
}

/// Press one key and run what it asks for; how many effects ran.
async fn press_run(
    app: &mut App,
    store: &Store,
    op: &Operator,
    k: crossterm::event::KeyEvent,
) -> usize {
    let fx = press(app, k);
    drive(app, store, op, fx).await
}

fn screen(app: &App) -> String {
    format!("{}", render(app).backend())
}

fn statement_page(app: &App) -> &StatementPage {
    match app.overlays.last() {
        Some(Overlay::Statement(p)) => p,
        other => panic!("no statement on top: {other:?}"),
    }
}

fn report_page(app: &App) -> &ReportPage {
    match app.overlays.last() {
        Some(Overlay::Report(p)) => p,
        other => panic!("no report on top: {other:?}"),
    }
}

/// Member `no`, joined 75 days ago with a 10,000 loan at 100 a day, who paid 100 + 20 on
/// every third collection day since, and took 50 out of savings 20 days ago.
async fn paying_member(store: &Store, o: &Organization, no: &str) -> Member {
    let today = o.today();
    let joined = common::days_before(today, 75);
    let m = common::add_member(store, o, common::member_input(no, joined)).await;
    let days = o.collection_days();
    let mut n = 0;
    for d in joined.iter_days().take_while(|d| *d <= today) {
        if !days.is_collection_day(d) {
            continue;
        }
        n += 1;
        if n % 3 != 0 && d != today {
            continue;
        }
        collection::add(
            store,
            &Operator::system(),
            o,
            &CollectionInput {
                member_no: no.into(),
                collected_on: Some(d),
                loan_paisa: 100_00,
                savings_paisa: 20_00,
                note: String::new(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("collection on {d}: {e}"));
    }
    savings::withdraw(
        store,
        &Operator::system(),
        o,
        &WithdrawalInput {
            member_no: no.into(),
            withdrawn_on: Some(common::collection_day_on_or_before(common::days_before(
                today, 20,
            ))),
            amount: 50_00,
            reason: "medicine".into(),
        },
        &Rules::default(),
    )
    .await
    .expect("withdrawal");
    m
}

/// Open member `no`'s details from the register, then their statement with `k`.
async fn open_statement(
    app: &mut App,
    store: &Store,
    op: &Operator,
    no: &str,
    k: crossterm::event::KeyEvent,
) {
    let i = app
        .members
        .rows
        .iter()
        .position(|r| r.member.member_no == no)
        .unwrap_or_else(|| panic!("member {no} is not in the register"));
    app.members.selected = i;
    press_run(app, store, op, key(KeyCode::Enter)).await;
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(d)) if d.detail.is_some()));
    assert_eq!(press_run(app, store, op, k).await, 1, "one load");
    assert!(
        statement_page(app).statement.is_some(),
        "{:?}",
        statement_page(app)
    );
}

async fn s_in_the_details_opens_this_months_statement_ending_on_the_members_balances(
    store: &Store,
) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::manager(store, &o).await;
    let m = paying_member(store, &o, "7").await;
    paying_member(store, &o, "8").await;
    let mut app = console(store, &op, &o).await;
    open_statement(&mut app, store, &op, "7", ch('s')).await;

    let p = statement_page(&app);
    let month = YearMonth::of(o.today());
    assert_eq!(p.month, month);
    let st = p.statement.as_ref().unwrap();
    assert_eq!((st.from, st.to), (month.first_day(), o.today()));
    // the rows and totals are the core's statement of the same days
    let core = statement::statement(
        store,
        &op,
        &o,
        &MemberRef::No("7".into()),
        Some(month.first_day()),
        Some(o.today()),
    )
    .await
    .unwrap();
    assert_eq!(st.rows, core.rows);
    assert_eq!(st.totals, core.totals);
    assert_eq!(st.opening, core.opening);
    assert!(st.rows.iter().all(|r| r.date >= month.first_day()));
    assert!(!st.rows.is_empty(), "today's payment is on the statement");
    // the closing balances are the member's running balances
    let d = member::show(store, &op, &o, "7").await.unwrap();
    assert_eq!(st.closing.loan_outstanding, d.row.loan_outstanding);
    assert_eq!(st.closing.savings_balance, d.row.savings_balance);
    let loans = loan::for_member(store, m.id).await.unwrap();
    assert_eq!(
        st.closing.loan_outstanding,
        loans.iter().map(|l| l.outstanding()).sum::<i64>()
    );
    let acct = savings::account(store, o.id, m.id).await.unwrap();
    assert_eq!(st.closing.savings_balance, acct.balance());

    let text = screen(&app);
    assert!(text.contains("Statement 7 · Member 7"), "{text}");
    assert!(
        text.contains(&format!(
            "Closing {}  loan outstanding {}",
            o.today(),
            somiti::ledger::money::grouped(d.row.loan_outstanding)
        )),
        "{text}"
    );

    // Esc goes back to the details; Enter there opens the statement too
    press_run(&mut app, store, &op, key(KeyCode::Esc)).await;
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));
    assert_eq!(
        press_run(&mut app, store, &op, key(KeyCode::Enter)).await,
        1
    );
    assert_eq!(statement_page(&app).member_no, "7");
}

async fn brackets_move_the_statement_by_month_from_joining_to_this_month(store: &Store) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::viewer(store, &o).await;
    let m = paying_member(store, &o, "3").await;
    let mut app = console(store, &op, &o).await;
    open_statement(&mut app, store, &op, "3", ch('s')).await;
    let this_month = YearMonth::of(o.today());
    let joined = YearMonth::of(m.joined_on);
    assert!(joined < this_month, "joined 75 days ago");

    // not past this month
    assert_eq!(press_run(&mut app, store, &op, ch(']')).await, 0);
    assert_eq!(statement_page(&app).month, this_month);
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(flash.contains("no later statement"), "{flash}");

    // back one month at a time: each month ends where the next began
    let mut opening_after = statement_page(&app).statement.as_ref().unwrap().opening;
    let mut month = this_month;
    while month > joined {
        assert_eq!(press_run(&mut app, store, &op, ch('[')).await, 1);
        month = month.prev();
        let p = statement_page(&app);
        assert_eq!(p.month, month);
        let st = p.statement.as_ref().expect("loaded");
        assert_eq!((st.from, st.to), (month.first_day(), month.last_day()));
        assert_eq!(
            st.closing, opening_after,
            "{month} closes where the next opens"
        );
        opening_after = st.opening;
    }
    // the joining month begins with nothing, and there is no month before it
    assert_eq!(opening_after.loan_outstanding, 0);
    assert_eq!(opening_after.savings_balance, 0);
    assert_eq!(press_run(&mut app, store, &op, ch('[')).await, 0);
    assert_eq!(statement_page(&app).month, joined);
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(
        flash.contains(&format!("joined on {}", m.joined_on)),
        "{flash}"
    );

    // and forward again to this month
    while statement_page(&app).month < this_month {
        assert_eq!(press_run(&mut app, store, &op, ch(']')).await, 1);
    }
    assert_eq!(statement_page(&app).month, this_month);
    assert_eq!(press_run(&mut app, store, &op, ch(']')).await, 0);
    // scrolling stays within the rows
    for _ in 0..50 {
        press(&mut app, key(KeyCode::Down));
    }
    let p = statement_page(&app);
    let rows = p.statement.as_ref().unwrap().rows.len();
    assert!(p.top < rows.max(1), "top {} of {rows}", p.top);
    press(&mut app, ch('g'));
    assert_eq!(statement_page(&app).top, 0);
}

async fn m_in_the_review_opens_the_monthly_report_with_the_cores_totals(store: &Store) {
    let o = common::make_org(store, "DEMO").await;
    let op = common::manager(store, &o).await;
    for no in ["1", "2", "3"] {
        paying_member(store, &o, no).await;
    }
    let mut app = console(store, &op, &o).await;
    // the review on today (the fixture app began on its own clock's day)
    press_run(&mut app, store, &op, ch('2')).await;
    press_run(&mut app, store, &op, ch('t')).await;
    assert_eq!(app.review.date, o.today());
    assert_eq!(
        press_run(&mut app, store, &op, ch('m')).await,
        1,
        "one load"
    );
    let this_month = YearMonth::of(o.today());

    let check = async |app: &App, month: YearMonth| {
        let p = report_page(app);
        assert_eq!(p.month, month);
        let shown = p.report.as_ref().expect("loaded");
        let core = report::month(store, &op, &o, month, None).await.unwrap();
        assert_eq!(shown.month, month);
        assert_eq!(shown.totals, core.totals);
        assert_eq!(shown.par, core.par);
        assert_eq!(shown.days.len(), core.days.len());
        for (a, b) in shown.days.iter().zip(&core.days) {
            assert_eq!((a.date, &a.totals), (b.date, &b.totals));
        }
        assert_eq!(shown.workers.len(), core.workers.len());
        for (a, b) in shown.workers.iter().zip(&core.workers) {
            assert_eq!((&a.worker_name, &a.totals), (&b.worker_name, &b.totals));
        }
        shown.totals.clone()
    };
    let totals = check(&app, this_month).await;
    assert!(totals.collected > 0, "{totals:?}");
    let text = screen(&app);
    assert!(
        text.contains(&format!("Monthly report DEMO · {this_month}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "collected {}",
            somiti::ledger::money::grouped(totals.collected)
        )),
        "{text}"
    );
    let rated = report_page(&app)
        .report
        .as_ref()
        .unwrap()
        .days
        .iter()
        .any(|d| d.collection_day && d.totals.collection_rate_bp >= 100);
    if rated {
        assert!(
            text.contains(|c| ('▁'..='█').contains(&c)),
            "a bar per collection day: {text}"
        );
    }

    // not past this month; back one and forward again
    assert_eq!(press_run(&mut app, store, &op, ch(']')).await, 0);
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(flash.contains("no later report"), "{flash}");
    assert_eq!(press_run(&mut app, store, &op, ch('[')).await, 1);
    let before = check(&app, this_month.prev()).await;
    assert_eq!(
        before.days as u32,
        this_month
            .prev()
            .last_day()
            .format("%d")
            .to_string()
            .parse::<u32>()
            .unwrap()
    );
    assert_eq!(press_run(&mut app, store, &op, ch(']')).await, 1);
    check(&app, this_month).await;

    // Esc goes back to the review
    press_run(&mut app, store, &op, key(KeyCode::Esc)).await;
    assert!(app.overlays.is_empty());
}
