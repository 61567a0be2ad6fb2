//! Fixed data for the console's tests: one organization, two workers, members, a review,
//! audit entries and backups, at a fixed clock, so every frame is the same on every run.

#![allow(dead_code)]
#![allow(clippy::inconsistent_digit_grouping)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use somiti::access::audit::AuditEntry;
use somiti::access::{Operator, Role};
use somiti::backup::BackupEntry;
use somiti::backup::ops::ListReport;
use somiti::backup::{BackupKind, BackupStatus, VerifyResult};
use somiti::ledger::collection::Collection;
use somiti::ledger::member::{Member, MemberRow};
use somiti::ledger::org::{Organization, Worker};
use somiti::ledger::review::{Flag, Review, ReviewLine, Totals, WorkerTotals};
use somiti::tui::app::{App, AppInit, HeaderFacts};
use somiti::tui::theme::Theme;

/// 2026-11-22 12:00 in Dhaka.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap()
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

pub fn org(id: i64, code: &str, name: &str) -> Organization {
    Organization {
        id,
        code: code.into(),
        name: name.into(),
        address: "Mirpur 10, Dhaka".into(),
        contact_person: String::new(),
        mobile: String::new(),
        email: String::new(),
        timezone: "Asia/Dhaka".into(),
        collection_days: "sat,sun,mon,tue,wed,thu".into(),
        created_at: now(),
    }
}

pub fn operator(role: Role) -> Operator {
    Operator {
        username: "rahim".into(),
        full_name: "Rahim Mia".into(),
        role,
        org_id: None,
    }
}

pub fn workers() -> Vec<Worker> {
    vec![
        Worker {
            id: 1,
            org_id: 1,
            name: "Karim Uddin".into(),
            mobile: String::new(),
            active: true,
            version: 1,
            updated_by: None,
            updated_at: None,
        },
        Worker {
            id: 2,
            org_id: 1,
            name: "Salma Begum".into(),
            mobile: String::new(),
            active: true,
            version: 1,
            updated_by: None,
            updated_at: None,
        },
    ]
}

const NAMES: [&str; 8] = [
    "Rahima Khatun",
    "Abdul Karim",
    "Fatema Begum",
    "Nasrin Akter",
    "Mohammad Ali",
    "Shirin Sultana",
    "Jahanara Parvin",
    "Kamrul Hasan",
];

pub fn member(i: i64) -> Member {
    Member {
        id: i,
        org_id: 1,
        member_no: i.to_string(),
        name: NAMES[(i as usize - 1) % NAMES.len()].into(),
        nid: format!("{}", 1_234_567_000 + i),
        mobile: format!("0171234{i:04}"),
        worker_id: Some(if i % 2 == 0 { 1 } else { 2 }),
        daily_savings: 20_00,
        status: if i == 7 {
            "inactive".into()
        } else {
            "active".into()
        },
        joined_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        version: 1,
        updated_by: None,
        updated_at: None,
    }
}

/// Member `i`'s first loan: 20,000 at 200 a day from joining.
pub fn loan(i: i64) -> somiti::ledger::loan::Loan {
    let m = member(i);
    somiti::ledger::loan::Loan {
        id: i,
        org_id: 1,
        member_id: i,
        cycle: 1,
        disbursed_on: m.joined_on,
        principal: 20_000_00,
        service_charge: 0,
        first_due_on: m.joined_on,
        installment: 200_00,
        installments: None,
        status: somiti::ledger::loan::LoanStatus::Active,
        closed_on: None,
        written_off: 0,
        close_reason: String::new(),
        entered_by: "rahim".into(),
        entered_at: now(),
        paid: i * 1_000_00,
        last_paid_on: Some(today()),
    }
}

pub fn member_rows(n: i64) -> Vec<MemberRow> {
    (1..=n)
        .map(|i| MemberRow {
            member: member(i),
            accounts: somiti::ledger::balance::Accounts {
                loan: Some(loan(i)),
                savings: somiti::ledger::savings::SavingsAccount {
                    member_id: i,
                    org_id: 1,
                    deposited: i * 100_00,
                    withdrawn: 0,
                    last_paid_on: Some(today()),
                },
            },
            worker_name: Some(
                if i % 2 == 0 {
                    "Karim Uddin"
                } else {
                    "Salma Begum"
                }
                .into(),
            ),
            loan_outstanding: 20_000_00 - i * 1_000_00,
            savings_balance: i * 100_00,
            arrears: (i % 4) * 220_00,
            days_in_arrears: i % 4,
            // member 4 paid ahead: an advance, never a negative arrears
            advance: if i == 4 { 340_00 } else { 0 },
        })
        .collect()
}

pub fn collection(id: i64, member_id: i64, loan: i64, savings: i64) -> Collection {
    Collection {
        id,
        org_id: 1,
        member_id,
        collected_on: today(),
        loan_paisa: loan,
        savings_paisa: savings,
        worker_id: Some(1),
        note: String::new(),
        entered_by: "rahim".into(),
        entered_at: now(),
        loan_id: (loan > 0).then_some(member_id),
        reversal_of: None,
    }
}

fn line(i: i64, collected: i64, flags: Vec<Flag>) -> ReviewLine {
    let m = member(i);
    let due = 220_00 + (i % 3) * 220_00;
    ReviewLine {
        member_id: i,
        member_no: m.member_no.clone(),
        name: m.name.clone(),
        worker_id: m.worker_id,
        worker_name: if i % 2 == 0 {
            "Karim Uddin"
        } else {
            "Salma Begum"
        }
        .into(),
        installment_due: 200_00,
        savings_due: 20_00,
        arrears_in: due - 220_00,
        advance_in: 0,
        due,
        collected_loan: collected - collected.min(20_00),
        collected_savings: collected.min(20_00),
        collected,
        loan_outstanding: 10_000_00,
        shortfall: (due - collected).max(0),
        flags,
        entries: if collected > 0 {
            vec![collection(100 + i, i, collected - 20_00, 20_00)]
        } else {
            vec![]
        },
    }
}

pub fn review(closed: bool) -> Review {
    let mut lines = vec![
        line(2, 220_00, vec![]),
        line(4, 0, vec![Flag::Missed]),
        line(6, 220_00, vec![Flag::Partial, Flag::Late]),
        line(1, 440_00, vec![Flag::Advance, Flag::Duplicate]),
        line(3, 220_00, vec![]),
        line(5, 0, vec![Flag::Missed]),
    ];
    lines.sort_by(|a, b| a.worker_name.cmp(&b.worker_name));
    let mut workers: Vec<WorkerTotals> = Vec::new();
    let mut totals = Totals::default();
    for l in &lines {
        if workers.last().map(|w| w.worker_id) != Some(l.worker_id) {
            workers.push(WorkerTotals {
                worker_id: l.worker_id,
                worker_name: l.worker_name.clone(),
                totals: Totals::default(),
            });
        }
        for t in [&mut totals, &mut workers.last_mut().unwrap().totals] {
            t.members += 1;
            t.expected += l.due;
            t.collected += l.collected;
            t.shortfall += l.shortfall;
            t.members_missed += l.flags.contains(&Flag::Missed) as i64;
        }
    }
    for t in std::iter::once(&mut totals).chain(workers.iter_mut().map(|w| &mut w.totals)) {
        t.collection_rate_bp = if t.expected > 0 {
            t.collected * 10_000 / t.expected
        } else {
            10_000
        };
    }
    Review {
        org: "DEMO".into(),
        date: today(),
        collection_day: true,
        closed,
        closed_through: closed.then(today),
        lines,
        workers,
        totals,
    }
}

pub fn audit_entries() -> Vec<AuditEntry> {
    let rows = [
        (
            "rahim",
            "collection.add",
            "DEMO/2",
            r#"{"id":102,"loan_paisa":20000}"#,
            "ok",
        ),
        (
            "rahim",
            "member.add",
            "DEMO/9",
            r#"{"name":"Kamrul Hasan"}"#,
            "ok",
        ),
        (
            "karim",
            "collection.reverse",
            "DEMO/collection/88",
            r#"{"reason":"typed twice"}"#,
            "ok",
        ),
        (
            "salma",
            "day.close",
            "DEMO/2026-11-21",
            r#"{"reason":"salma is a worker and may not close a day"}"#,
            "refused",
        ),
        (
            "system",
            "backup.create",
            "all",
            r#"{"file":"somiti-all-2026-11-22_02-00-00-scheduled.zip"}"#,
            "ok",
        ),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (actor, action, target, detail, outcome))| AuditEntry {
            id: 50 - i as i64,
            at: now() - chrono::Duration::minutes(17 * i as i64),
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
            outcome: outcome.to_string(),
        })
        .collect()
}

pub fn backup(i: i64, kind: &str, verified: bool, pinned: bool) -> BackupEntry {
    let at = now() - chrono::Duration::hours(4 + 24 * i);
    BackupEntry {
        id: format!("{i:x}a1b2c3d-0000-4000-8000-00000000000{i}"),
        file: format!("somiti-all-{}-{kind}.zip", at.format("%Y-%m-%d_%H-%M-%S")),
        kind: BackupKind::parse(kind).expect("a backup kind"),
        scope: "all".into(),
        status: BackupStatus::Completed,
        error: None,
        created_at: at,
        created_by: if kind == "scheduled" {
            "system"
        } else {
            "rahim"
        }
        .into(),
        finished_at: Some(at),
        size_bytes: Some(1_250_000 + i * 1000),
        total_rows: Some(24_310 + i),
        sha256: Some("ab".repeat(32)),
        encrypted: false,
        verified_at: verified.then_some(at + chrono::Duration::minutes(120)),
        verify_result: verified.then_some(VerifyResult::Ok),
        pinned,
        missing_since: None,
        undoes_json: None,
    }
}

pub fn backups() -> ListReport {
    ListReport {
        dir: "/var/lib/somiti/backups".into(),
        backups: vec![
            backup(0, "scheduled", true, false),
            backup(1, "manual", false, true),
            backup(2, "pre-restore", false, false),
            backup(3, "scheduled", true, false),
        ],
        problems: vec![],
        duplicates: vec![],
        targets: vec![],
        copies: vec![],
    }
}

/// A recorded off-site copy of `e` on `target`, made a few minutes after the backup.
pub fn copy(
    e: &BackupEntry,
    target: &str,
    status: &str,
    error: Option<&str>,
) -> somiti::backup::offsite::OffsiteCopy {
    let at = e.created_at + chrono::Duration::minutes(3);
    let verified = status == "verified";
    somiti::backup::offsite::OffsiteCopy {
        backup_id: e.id.clone(),
        target: target.into(),
        object_key: format!("sonali/{}", e.file),
        status: status.into(),
        size_bytes: verified.then_some(e.size_bytes.unwrap_or(0)),
        sha256: verified.then(|| e.sha256.clone().unwrap_or_default()),
        attempts: if status == "failed" { 3 } else { 1 },
        error: error.map(str::to_string),
        next_try_at: (status == "failed").then_some(at + chrono::Duration::minutes(2)),
        runner: (status == "copying").then(|| "db1:4242".into()),
        beat_at: (status == "copying").then_some(at),
        verified_at: verified.then_some(at),
        updated_at: at,
    }
}

/// [`backups`] with off-site targets configured and copies recorded: the newest backup
/// verified on every target, the next failed on the first, the third being copied, the
/// oldest with no copy.
pub fn backups_offsite(targets: &[&str]) -> ListReport {
    let mut l = backups();
    l.targets = targets.iter().map(|t| t.to_string()).collect();
    let b = l.backups.clone();
    for (i, t) in targets.iter().enumerate() {
        l.copies.push(copy(&b[0], t, "verified", None));
        if i == 0 {
            l.copies.push(copy(
                &b[1],
                t,
                "failed",
                Some("off-site target bucket (s3://somiti-backups/sonali): uploading: connection refused"),
            ));
            l.copies.push(copy(&b[2], t, "copying", None));
        } else {
            l.copies.push(copy(&b[1], t, "verified", None));
            l.copies.push(copy(&b[2], t, "pending", None));
        }
    }
    l
}

pub fn scheduler_status() -> somiti::scheduler::status::SchedulerStatus {
    use somiti::scheduler::runs::Run;
    use somiti::scheduler::status::*;
    let run = |id: i64, job: &str, h: i64, status: &str, result: &str, error: &str| Run {
        id,
        job: job.into(),
        slot: now() - chrono::Duration::hours(h),
        trigger: "schedule".into(),
        status: status.into(),
        runner: "db1:4242".into(),
        started_at: now() - chrono::Duration::hours(h),
        finished_at: Some(now() - chrono::Duration::hours(h)),
        result: result.into(),
        error: error.into(),
        heartbeat_at: None,
        requested_by: "system".into(),
    };
    let job = |name: &str,
               action: &'static str,
               cron: &str,
               words: &str,
               next_h: i64,
               last: Option<Run>,
               enabled: bool| JobStatus {
        name: name.into(),
        action,
        cron: cron.into(),
        timezone: "Asia/Dhaka".into(),
        schedule: words.into(),
        enabled,
        deletes: (action == "prune").then(|| {
            "Prune deletes the scheduled backups that the retention policy no longer keeps.".into()
        }),
        next_run_utc: Some(now() + chrono::Duration::hours(next_h)),
        next_run_local: Some(
            (now() + chrono::Duration::hours(next_h))
                .with_timezone(&chrono_tz::Asia::Dhaka)
                .to_rfc3339(),
        ),
        running: false,
        last_result: last
            .as_ref()
            .filter(|r| r.error.is_empty())
            .map(|r| r.result.clone()),
        last_error: last
            .as_ref()
            .filter(|r| !r.error.is_empty())
            .map(|r| r.error.clone()),
        last_run: last,
    };
    SchedulerStatus {
        now: now(),
        runner: RunnerStatus {
            kind: "console".into(),
            host: Some("db1".into()),
            pid: Some(4242),
            heartbeat_at: Some(now()),
            description: "this console".into(),
        },
        runners: vec![],
        jobs: vec![
            job(
                "daily-backup",
                "backup",
                "0 2 * * *",
                "daily at 02:00 Asia/Dhaka",
                14,
                // 02:00 in Dhaka is 20:00 UTC the day before (the file name's clock).
                Some(run(
                    3,
                    "daily-backup",
                    10,
                    "ok",
                    "somiti-all-2026-11-21_20-00-00-scheduled.zip (24310 rows)",
                    "",
                )),
                true,
            ),
            job(
                "weekly-prune",
                "prune",
                "0 3 * * SUN",
                "Sundays at 03:00 Asia/Dhaka",
                159,
                None,
                true,
            ),
            job(
                "daily-drill",
                "verify-latest",
                "0 4 * * *",
                "daily at 04:00 Asia/Dhaka",
                16,
                Some(run(
                    2,
                    "daily-drill",
                    8,
                    "failed",
                    "",
                    "verification failed: collections.ndjson sha256 differs",
                )),
                false,
            ),
        ],
        newest_backup: None,
        newest_verified_backup: None,
        newest_verified_offsite: None,
        backup_allowance: Some(DAILY_ALLOWANCE),
        warnings: vec![],
    }
}

/// What a daily backup job allows (a day and the grace), as the core computes it.
pub const DAILY_ALLOWANCE: chrono::Duration = chrono::Duration::minutes(24 * 60 + 30);

/// An app at the fixed clock with nothing loaded yet.
pub fn bare_app(size: (u16, u16)) -> App {
    let mut app = App::new(AppInit {
        operator: operator(Role::Admin),
        orgs: vec![
            org(1, "DEMO", "Demo Sonali Somiti"),
            org(2, "GRAM", "Gram Unnayan Somiti"),
        ],
        org_index: 0,
        facts: HeaderFacts {
            database: "sqlite /var/lib/somiti/somiti.db".into(),
            scheduler: "this console".into(),
            newest_verified: None,
            backup_allowance: Some(DAILY_ALLOWANCE),
            offsite_targets: vec![],
            newest_offsite: None,
            scheduler_available: true,
            download_dir: "/home/rahim".into(),
            export_dir: "/var/lib/somiti/exports".into(),
        },
        now: now(),
        size,
        theme: Theme::plain(),
    });
    app.workers = workers();
    app
}

/// An app with every view's data in place.
pub fn full_app(size: (u16, u16)) -> App {
    let mut app = bare_app(size);
    let rows = member_rows(9);
    app.members.total = rows.len() as i64;
    app.members.rows = rows;
    app.members.loaded = true;
    app.review.review = Some(review(false));
    app.audit.entries = audit_entries();
    app.audit.exhausted = true;
    app.scheduler.status = Some(scheduler_status());
    app.scheduler.history = scheduler_status().jobs[0]
        .last_run
        .iter()
        .cloned()
        .collect();
    app.scheduler.history_job = "daily-backup".into();
    let list = backups();
    app.facts.newest_verified = Some(list.backups[0].created_at);
    app.backups.list = Some(list);
    app.dirty = false;
    app
}

pub fn render(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    t.draw(|f| somiti::tui::views::draw(f, app)).unwrap();
    t
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ch(c: char) -> KeyEvent {
    let m = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), m)
}

pub fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Press a key: the keymap's action goes through `update`; returns the effects asked for.
pub fn press(app: &mut App, k: KeyEvent) -> Vec<somiti::tui::tasks::Effect> {
    match somiti::tui::keymap::action_for(k, app) {
        Some(a) => app.update(a),
        None => Vec::new(),
    }
}

/// [`full_app`] with member `i`'s details open and loaded (two recent collections).
pub fn detail_app(size: (u16, u16), i: usize) -> App {
    let mut app = full_app(size);
    app.members.selected = i;
    press(&mut app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let row = app.members.rows[i].clone();
    let id = row.member.id;
    app.apply(somiti::tui::tasks::Outcome::Member(Ok(Box::new(
        somiti::ledger::member::MemberDetail {
            row,
            recent: vec![
                collection(12, id, 200_00, 20_00),
                collection(11, id, 180_00, 20_00),
            ],
        },
    ))));
    app
}

/// What closing member `i` takes: blocked by their active loan (as the fixtures have
/// one), or, with `loan_settled`, ready to close with their savings paid out.
pub fn close_plan(i: i64, loan_settled: bool) -> somiti::ledger::closure::ClosePlan {
    let m = member(i);
    let l = loan(i);
    let (active_loan, blockers) = if loan_settled {
        (None, vec![])
    } else {
        let owed = l.outstanding();
        (
            Some(l),
            vec![format!(
                "member {i} still owes {} on loan cycle 1: collect it, or have an admin write it off (somiti loan write-off --member {i} --reason TEXT) first",
                somiti::ledger::money::grouped(owed)
            )],
        )
    };
    somiti::ledger::closure::ClosePlan {
        member_no: m.member_no,
        name: m.name,
        status: m.status,
        loan_outstanding: active_loan.as_ref().map_or(0, |l| l.outstanding()),
        active_loan,
        savings_balance: i * 100_00,
        blockers,
    }
}

/// Member `i`'s statement of November 2026 through today: a payment of 200 + 20 savings on
/// each collection day, a withdrawal on the 10th and a reversal of the 15th's payment.
pub fn statement(i: i64) -> somiti::ledger::statement::Statement {
    use somiti::ledger::statement::{
        EntryRef, RowKind, Statement, StatementBalances, StatementRow, StatementTotals,
    };
    let m = member(i);
    let o = org(1, "DEMO", "Demo Sonali Somiti");
    let days = o.collection_days();
    let opening = StatementBalances {
        loan_outstanding: 17_000_00,
        savings_balance: 1_000_00,
    };
    let (mut loan, mut sav) = (opening.loan_outstanding, opening.savings_balance);
    let mut rows = Vec::new();
    let mut totals = StatementTotals::default();
    let blank = |date, kind, entry, description: String| StatementRow {
        date,
        kind,
        entry,
        loan_id: Some(i),
        description,
        loan_disbursed: 0,
        service_charge: 0,
        loan_paid: 0,
        written_off: 0,
        savings_in: 0,
        savings_out: 0,
        loan_outstanding: 0,
        savings_balance: 0,
    };
    for d in 1..=22 {
        let date = NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        if !days.is_collection_day(date) {
            continue;
        }
        let id = 100 + d as i64;
        let mut r = blank(
            date,
            RowKind::Payment,
            EntryRef::Collection(id),
            "loan 1 payment and savings".into(),
        );
        r.loan_paid = 200_00;
        r.savings_in = 20_00;
        loan -= 200_00;
        sav += 20_00;
        (r.loan_outstanding, r.savings_balance) = (loan, sav);
        totals.loan_paid += r.loan_paid;
        totals.savings_in += r.savings_in;
        rows.push(r);
        if d == 10 {
            let mut w = blank(
                date,
                RowKind::Withdrawal,
                EntryRef::Withdrawal(7),
                "savings withdrawal: school fees".into(),
            );
            w.loan_id = None;
            w.savings_out = 300_00;
            sav -= 300_00;
            (w.loan_outstanding, w.savings_balance) = (loan, sav);
            totals.savings_out += w.savings_out;
            rows.push(w);
        }
        if d == 16 {
            let mut x = blank(
                date,
                RowKind::Reversal,
                EntryRef::Collection(200),
                "reversal of #115: entered twice".into(),
            );
            x.loan_paid = -200_00;
            x.savings_in = -20_00;
            loan += 200_00;
            sav -= 20_00;
            (x.loan_outstanding, x.savings_balance) = (loan, sav);
            totals.loan_paid += x.loan_paid;
            totals.savings_in += x.savings_in;
            rows.push(x);
        }
    }
    Statement {
        org: "DEMO".into(),
        member: m,
        worker_name: Some("Salma Begum".into()),
        from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        to: today(),
        opening,
        rows,
        totals,
        closing: StatementBalances {
            loan_outstanding: loan,
            savings_balance: sav,
        },
    }
}

/// [`detail_app`] of member 1 with their statement of this month open and loaded.
pub fn statement_app(size: (u16, u16)) -> App {
    let mut app = detail_app(size, 0);
    let fx = press(
        &mut app,
        KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE),
    );
    let seq = match fx.as_slice() {
        [
            somiti::tui::tasks::Effect::Report(
                somiti::tui::report_tasks::ReportEffect::Statement { seq, .. },
            ),
        ] => *seq,
        other => panic!("s did not ask for the statement: {other:?}"),
    };
    app.apply(somiti::tui::tasks::Outcome::Report(
        somiti::tui::report_tasks::ReportOutcome::Statement {
            seq,
            result: Ok(Box::new(statement(1))),
        },
    ));
    app
}

/// November 2026 through today: six members a day, each collection day's rate between 60
/// and 100 %, two workers (one named in Bengali) and the members without one.
pub fn month_report() -> somiti::ledger::report::MonthReport {
    use somiti::ledger::report::{
        MonthReport, MonthTotals, Par, ReportDay, WorkerMonth, YearMonth,
    };
    let o = org(1, "DEMO", "Demo Sonali Somiti");
    let cd = o.collection_days();
    let mut days = Vec::new();
    let mut t = MonthTotals::default();
    for d in 1..=22 {
        let date = NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let collection_day = cd.is_collection_day(date);
        let mut totals = Totals {
            members: 6,
            ..Totals::default()
        };
        if collection_day {
            totals.expected = 1_320_00;
            totals.collected = 1_320_00 - ((d as i64 * 7) % 5) * 110_00;
            totals.shortfall = totals.expected - totals.collected;
            totals.members_missed = (d as i64 * 7) % 5 / 2;
            t.collection_days += 1;
        }
        totals.collection_rate_bp = if totals.expected > 0 {
            totals.collected * 10_000 / totals.expected
        } else {
            10_000
        };
        t.expected += totals.expected;
        t.collected += totals.collected;
        t.shortfall += totals.shortfall;
        t.member_days_missed += totals.members_missed;
        days.push(ReportDay {
            date,
            collection_day,
            totals,
        });
    }
    t.days = days.len() as i64;
    t.members = 6;
    t.members_missed = 3;
    t.loan_collected = t.collected * 10 / 11;
    t.savings_collected = t.collected - t.loan_collected;
    t.collection_rate_bp = t.collected * 10_000 / t.expected;
    t.loans_disbursed = 2;
    t.principal_disbursed = 40_000_00;
    t.loans_repaid = 1;
    t.savings_withdrawn = 1_500_00;
    let par = Par {
        as_of: Some(today()),
        loans: 6,
        outstanding: 96_000_00,
        par1: 30_000_00,
        par30: 12_000_00,
        par90: 0,
        loans_par1: 2,
        loans_par30: 1,
        loans_par90: 0,
        par1_bp: 3125,
        par30_bp: 1250,
        par90_bp: 0,
    };
    let worker = |id: Option<i64>, name: &str, share: i64| {
        let mut w = t.clone();
        for v in [
            &mut w.expected,
            &mut w.collected,
            &mut w.shortfall,
            &mut w.principal_disbursed,
            &mut w.savings_withdrawn,
        ] {
            *v = *v * share / 6;
        }
        w.members = share;
        WorkerMonth {
            worker_id: id,
            worker_name: name.into(),
            totals: w,
            par: par.clone(),
        }
    };
    MonthReport {
        org: "DEMO".into(),
        month: YearMonth::of(today()),
        first: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        through: today(),
        current: true,
        worker: None,
        days,
        totals: t.clone(),
        par: par.clone(),
        workers: vec![
            worker(Some(1), "Karim Uddin", 3),
            worker(Some(3), "মোছাঃ তাসলিমা সুলতানা", 2),
            worker(None, "(no worker)", 1),
        ],
    }
}

/// [`full_app`] on the daily review with this month's report open and loaded.
pub fn report_app(size: (u16, u16)) -> App {
    let mut app = full_app(size);
    press(
        &mut app,
        KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE),
    );
    let fx = press(
        &mut app,
        KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE),
    );
    let seq = match fx.as_slice() {
        [
            somiti::tui::tasks::Effect::Report(somiti::tui::report_tasks::ReportEffect::Month {
                seq,
                ..
            }),
        ] => *seq,
        other => panic!("m did not ask for the report: {other:?}"),
    };
    app.apply(somiti::tui::tasks::Outcome::Report(
        somiti::tui::report_tasks::ReportOutcome::Month {
            seq,
            result: Ok(Box::new(month_report())),
        },
    ));
    app
}
