//! Every view at 80×24 and 120×40 from fixed data and a fixed clock (TestBackend + insta):
//! filled and empty states, dialogs, and the "terminal too small" screen.

// amounts are written taka_poisha: 200_00 is 200 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod tui_support;

use crossterm::event::KeyCode;
use somiti::backup::BackupStatus;
use somiti::csvio::{AlreadyPresent, ImportProblem, ImportReport};
use somiti::tui::app::{App, Overlay, Tab};
use somiti::tui::tasks::Outcome;
use somiti::tui::widgets::dialog::Message;
use tui_support::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn snap(name: &str, make: impl Fn((u16, u16)) -> App) {
    for size in SIZES {
        let app = make(size);
        let t = render(&app);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), t.backend());
    }
}

fn on_tab(tab: Tab) -> impl Fn((u16, u16)) -> App {
    move |size| {
        let mut app = full_app(size);
        app.tab = tab;
        app
    }
}

#[test]
fn members() {
    snap("members", on_tab(Tab::Members));
}

#[test]
fn members_loading_and_empty() {
    snap("members_loading", bare_app);
    snap("members_empty", |s| {
        let mut app = bare_app(s);
        app.members.loaded = true;
        app
    });
    snap("members_no_match", |s| {
        let mut app = bare_app(s);
        app.members.loaded = true;
        app.members.filter = "zzz".into();
        app
    });
}

#[test]
fn members_filter_line() {
    snap("members_filter", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('/'));
        press(&mut app, ch('k'));
        app
    });
}

#[test]
fn member_detail() {
    snap("member_detail", |s| {
        let mut app = full_app(s);
        press(&mut app, key(KeyCode::Enter));
        let row = app.members.rows[0].clone();
        app.apply(somiti::tui::tasks::Outcome::Member(Ok(Box::new(
            somiti::ledger::member::MemberDetail {
                row,
                recent: vec![
                    collection(12, 1, 200_00, 20_00),
                    collection(11, 1, 180_00, 20_00),
                ],
            },
        ))));
        app
    });
}

#[test]
fn member_statement() {
    snap("member_statement", statement_app);
    // G: the last rows, the totals and the closing balances stay in view
    snap("member_statement_end", |s| {
        let mut app = statement_app(s);
        press(&mut app, ch('G'));
        app
    });
}

#[test]
fn month_report_with_its_bar_chart() {
    snap("month_report", report_app);
}

#[test]
fn member_detail_of_a_member_paid_ahead() {
    snap("member_detail_advance", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('j'));
        press(&mut app, ch('j'));
        press(&mut app, ch('j'));
        press(&mut app, key(KeyCode::Enter));
        let row = app.members.rows[3].clone();
        app.apply(somiti::tui::tasks::Outcome::Member(Ok(Box::new(
            somiti::ledger::member::MemberDetail {
                row,
                recent: vec![collection(14, 4, 1_000_00, 20_00)],
            },
        ))));
        app
    });
}

#[test]
fn member_form_with_errors() {
    snap("member_form_errors", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('n'));
        press(&mut app, ch('9'));
        press(&mut app, key(KeyCode::Enter));
        app.apply(somiti::tui::tasks::Outcome::MemberSaved {
            added: true,
            result: Err(vec![
                ("name".into(), "is required".into()),
                ("nid".into(), "must have 10, 13 or 17 digits (got 0)".into()),
                (
                    "mobile".into(),
                    "must be 01[3-9] and 8 digits (got \"\")".into(),
                ),
            ]),
        });
        app
    });
}

#[test]
fn review() {
    snap("review", on_tab(Tab::Collections));
    snap("review_closed_worker", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        let mut r = tui_support::review(true);
        r.lines.retain(|l| l.worker_id == Some(1));
        r.workers.retain(|w| w.worker_id == Some(1));
        r.totals = r.workers[0].totals.clone();
        app.review.review = Some(r);
        app.review.worker = Some((1, "Karim Uddin".into()));
        app
    });
    snap("review_empty", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        let mut r = tui_support::review(false);
        r.lines.clear();
        r.workers.clear();
        r.totals = Default::default();
        r.collection_day = false;
        app.review.review = Some(r);
        app
    });
}

#[test]
fn review_with_an_advance_reads_advance_and_the_legend_explains_the_totals() {
    snap("review_advance", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        let mut r = tui_support::review(false);
        // member 3 paid 1,340.00 ahead on earlier days: nothing is due today
        if let Some(l) = r.lines.iter_mut().find(|l| l.member_no == "3") {
            l.arrears_in = 0;
            l.advance_in = 1_340_00;
            l.due = 0;
            l.shortfall = 0;
            l.flags = vec![somiti::ledger::review::Flag::Advance];
        }
        app.review.review = Some(r);
        app
    });
}

#[test]
fn review_go_to_a_date_and_reopen() {
    snap("review_jump_bad_date", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('g'));
        for c in "2026-12-24".chars() {
            press(&mut app, ch(c));
        }
        press(&mut app, key(KeyCode::Enter));
        app
    });
    snap("review_reopen_day", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        app.review.review = Some(tui_support::review(true));
        press(&mut app, ch('r'));
        app
    });
}

#[test]
fn member_form_worker_list_long_error_and_discard_question() {
    snap("member_form_worker_list", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('n'));
        for _ in 0..4 {
            press(&mut app, key(KeyCode::Tab));
        }
        press(&mut app, ch('a'));
        app
    });
    snap("member_form_long_error", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('n'));
        press(&mut app, ch('9'));
        press(&mut app, key(KeyCode::Enter));
        app.apply(somiti::tui::tasks::Outcome::MemberSaved {
            added: true,
            result: Err(vec![
                (
                    "mobile".into(),
                    "must be 01[3-9] followed by 8 digits, as 01712345678; Bengali digits \
                     (০১৭১২৩৪৫৬৭৮) are accepted too (got \"+88 01712-34\")"
                        .into(),
                ),
                (
                    String::new(),
                    "member 9 is already in DEMO (NID 1234567009); choose another member \
                     number or edit member 9 from the list instead"
                        .into(),
                ),
            ]),
        });
        app
    });
    snap("member_form_discard", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('n'));
        press(&mut app, ch('9'));
        press(&mut app, key(KeyCode::Esc));
        app
    });
}

#[test]
fn review_record_and_confirm_dialogs() {
    snap("review_record", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('a'));
        app
    });
    snap("review_reverse", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('x'));
        app
    });
    snap("review_close_day", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('c'));
        app
    });
    snap("review_worker_picker", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('w'));
        app
    });
}

#[test]
fn backups() {
    snap("backups", on_tab(Tab::Backups));
    snap("backups_empty", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        if let Some(l) = app.backups.list.as_mut() {
            l.backups.clear();
        }
        app.facts.newest_verified = None;
        app
    });
}

/// The Backups tab and the header with off-site targets: the off-site column (Rows gives
/// way at 80 columns), the header's off-site age, and the detail of every copy.
#[test]
fn backups_with_offsite_copies() {
    let with = |targets: &'static [&'static str]| {
        move |s| {
            let mut app = on_tab(Tab::Backups)(s);
            let l = backups_offsite(targets);
            app.facts.offsite_targets = targets.iter().map(|t| t.to_string()).collect();
            app.facts.newest_offsite = l.newest_offsite();
            app.backups.list = Some(l);
            app
        }
    };
    snap("backups_offsite", with(&["bucket"]));
    snap("backups_offsite_two_targets", with(&["bucket", "usb"]));
    snap("backup_offsite_detail", move |s| {
        let mut app = with(&["bucket", "usb"])(s);
        press(&mut app, ch('j'));
        press(&mut app, key(KeyCode::Enter));
        app
    });
    // Targets configured, nothing verified off-site yet: the header says so.
    snap("backups_offsite_none_verified", move |s| {
        let mut app = with(&["bucket"])(s);
        if let Some(l) = app.backups.list.as_mut() {
            l.copies.retain(|c| c.status != "verified");
            app.facts.newest_offsite = l.newest_offsite();
        }
        app
    });
    // The off-site copy older than the schedule allows: late, like the local age.
    snap("members_offsite_late", |s| {
        let mut app = full_app(s);
        app.facts.offsite_targets = vec!["bucket".into()];
        app.facts.newest_offsite = Some(now() - chrono::Duration::hours(30));
        app
    });
}

#[test]
fn backup_progress_and_reports() {
    snap("backup_progress", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        press(&mut app, ch('b'));
        app.progress(somiti::backup::Progress {
            stage: "collections".into(),
            done: 1_200_000,
            total: 3_000_000,
        });
        app
    });
    snap("backup_message", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        app.overlays.push(Overlay::Message(Message::error(
            "Not deleted",
            "refused: backup 0a1b2c3d is pinned; unpin it first (p)",
        )));
        app
    });
    snap("backup_download", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        press(&mut app, ch('d'));
        app
    });
    snap("backup_restore_picker", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        press(&mut app, ch('r'));
        app
    });
}

#[test]
fn backups_deleted_and_pinned() {
    // A deleted backup: hidden, counted apart; after x, greyed in its place.
    let with_deleted = |s| {
        let mut app = on_tab(Tab::Backups)(s);
        if let Some(l) = app.backups.list.as_mut() {
            let mut gone = backup(5, "manual", false, false);
            gone.status = BackupStatus::Deleted;
            gone.created_at = l.backups[1].created_at + chrono::Duration::hours(1);
            l.backups.insert(1, gone);
        }
        app
    };
    snap("backups_deleted_hidden", with_deleted);
    snap("backups_deleted_shown", move |s| {
        let mut app = with_deleted(s);
        press(&mut app, ch('x'));
        app.flash = None;
        app
    });
    snap("backup_delete_pinned", |s| {
        let mut app = on_tab(Tab::Backups)(s);
        press(&mut app, ch('j'));
        press(&mut app, ch('D'));
        app
    });
}

#[test]
fn scheduler() {
    snap("scheduler", on_tab(Tab::Scheduler));
}

#[test]
fn audit() {
    snap("audit", on_tab(Tab::Audit));
    snap("audit_empty", |s| {
        let mut app = on_tab(Tab::Audit)(s);
        app.audit.entries.clear();
        app
    });
    snap("audit_filter_form", |s| {
        let mut app = on_tab(Tab::Audit)(s);
        press(&mut app, ch('/'));
        app
    });
}

#[test]
fn help() {
    snap("help_members", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('?'));
        app
    });
    snap("help_review", |s| {
        let mut app = on_tab(Tab::Collections)(s);
        press(&mut app, ch('?'));
        app
    });
}

#[test]
fn too_small() {
    for size in [(79, 24), (80, 23), (40, 10), (10, 3), (1, 1)] {
        let app = full_app(size);
        let t = render(&app);
        if size == (40, 10) {
            insta::assert_snapshot!("too_small_40x10", t.backend());
        }
        let text = format!("{}", t.backend());
        if size.1 >= 3 && size.0 >= 20 {
            assert!(text.contains("terminal too small"), "{size:?}:\n{text}");
        }
    }
}

#[test]
fn no_size_panics_in_any_view_or_dialog() {
    for w in [0u16, 1, 5, 20, 79, 80, 81, 100, 200] {
        for h in [0u16, 1, 2, 5, 23, 24, 25, 60] {
            for tab in Tab::ALL {
                let mut app = full_app((w, h));
                app.tab = tab;
                render(&app);
                press(&mut app, ch('?'));
                render(&app);
            }
            let mut app = full_app((w.max(80), h.max(24)));
            press(&mut app, ch('n'));
            app.size = (w, h);
            render(&app);
            for make in [statement_app, report_app] {
                let mut app = make((w.max(80), h.max(24)));
                press(&mut app, ch('G'));
                app.size = (w, h);
                render(&app);
            }
        }
    }
}

fn csv_report(problems: Vec<ImportProblem>, present: u64, would: u64) -> ImportReport {
    ImportReport {
        org: "DEMO".into(),
        file: "/home/rahim/members.csv".into(),
        dry_run: true,
        separator: ",".into(),
        had_bom: true,
        rows: present + would + problems.len() as u64,
        problems,
        already_present: (1..=present)
            .map(|i| AlreadyPresent {
                row: i + 1,
                member_no: i.to_string(),
                nid: format!("{}", 1_234_567_000 + i),
            })
            .collect(),
        would_import: would,
        imported: 0,
    }
}

fn csv_problem(row: u64, column: &str, header: &str, reason: &str) -> ImportProblem {
    ImportProblem {
        row,
        column: column.into(),
        header: header.into(),
        reason: reason.into(),
    }
}

#[test]
fn members_csv_dialogs() {
    snap("members_export_form", |s| {
        let mut app = full_app(s);
        app.members.filter = "Rahima".into();
        press(&mut app, ch('E'));
        app
    });
    snap("members_import_problems", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('I'));
        press(&mut app, key(KeyCode::Enter));
        let mut problems = vec![
            csv_problem(3, "E", "nid", "must have 10, 13 or 17 digits (got 9)"),
            csv_problem(
                4,
                "F",
                "mobile",
                "must be 01[3-9] and 8 digits (got \"0171234\")",
            ),
            csv_problem(
                5,
                "C",
                "member_no",
                "member 2 is already in DEMO (NID 1234567002)",
            ),
            csv_problem(7, "", "", "has 19 cells; the header has 16"),
        ];
        problems.extend(
            (8..=20).map(|row| {
                csv_problem(row, "H", "loan_amount", "\"abc\" is not an amount in taka")
            }),
        );
        app.apply(Outcome::Imported {
            dry_run: true,
            path: "/home/rahim/members.csv".into(),
            result: Ok(Box::new(csv_report(problems, 1, 0))),
        });
        app
    });
    snap("members_import_confirm", |s| {
        let mut app = full_app(s);
        press(&mut app, ch('I'));
        press(&mut app, key(KeyCode::Enter));
        app.apply(Outcome::Imported {
            dry_run: true,
            path: "/home/rahim/members.csv".into(),
            result: Ok(Box::new(csv_report(vec![], 9, 42))),
        });
        app
    });
}

#[test]
fn help_on_the_review_explains_it_and_g_keeps_only_its_review_meaning() {
    let mut app = on_tab(Tab::Collections)((120, 80));
    press(&mut app, ch('?'));
    let text = format!("{}", render(&app).backend());
    assert!(text.contains("Reading the review"), "{text}");
    assert!(text.contains("M missed · P partial"), "{text}");
    let line = |what: &str| {
        text.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in\n{text}"))
            .to_string()
    };
    assert!(line("go to date").contains("g :"), "{}", line("go to date"));
    let first_row = line("first row");
    assert!(
        first_row.contains("Home") && !first_row.contains(" g "),
        "{first_row}"
    );
}

/// The header's off-site age in the late style (red) when older than the schedule allows,
/// green when fresh, red for "off-site: none"; nothing of off-site without a target.
#[test]
fn the_header_off_site_age_turns_late_like_the_local_one() {
    use ratatui::style::Color;
    let colour_of = |app: &App, word: &str| {
        let t = render(app);
        let buf = t.backend().buffer();
        let row: String = (0..buf.area.width)
            .map(|x| buf[(x, 1)].symbol().to_string())
            .collect();
        let at = row
            .find(word)
            .unwrap_or_else(|| panic!("{word:?} not in {row:?}"));
        let x = row[..at].chars().count() as u16;
        buf[(x, 1)].fg
    };
    let mut app = full_app((120, 40));
    app.theme = somiti::tui::theme::Theme::default();
    let t = render(&app);
    let line: String = (0..120)
        .map(|x| t.backend().buffer()[(x, 1)].symbol().to_string())
        .collect();
    assert!(!line.contains("off-site"), "no target, no off-site: {line}");
    app.facts.offsite_targets = vec!["bucket".into()];
    app.facts.newest_offsite = Some(now() - chrono::Duration::hours(3));
    assert_eq!(colour_of(&app, "off-site 3 h"), Color::Green);
    app.facts.newest_offsite = Some(now() - chrono::Duration::hours(30));
    assert_eq!(colour_of(&app, "off-site 30 h"), Color::Red);
    app.facts.newest_offsite = None;
    assert_eq!(colour_of(&app, "off-site: none"), Color::Red);
}

#[test]
fn loan_disburse_form_and_the_close_walk_through() {
    snap("loan_disburse_form", |s| {
        let mut app = detail_app(s, 0);
        press(&mut app, ch('l'));
        for c in "15000".chars() {
            press(&mut app, ch(c));
        }
        press(&mut app, key(KeyCode::Tab));
        app
    });
    snap("close_walkthrough_loan_active", |s| {
        let mut app = detail_app(s, 0);
        press(&mut app, ch('C'));
        app.apply(Outcome::Account(
            somiti::tui::account_tasks::AccountOutcome::ClosePlan {
                member_no: "1".into(),
                result: Ok(Box::new(close_plan(1, false))),
            },
        ));
        app
    });
    snap("close_walkthrough_ready", |s| {
        let mut app = detail_app(s, 0);
        press(&mut app, ch('C'));
        app.apply(Outcome::Account(
            somiti::tui::account_tasks::AccountOutcome::ClosePlan {
                member_no: "1".into(),
                result: Ok(Box::new(close_plan(1, true))),
            },
        ));
        app
    });
}

#[test]
fn the_account_dialogs_never_panic_at_any_size() {
    for (w, h) in [(0u16, 0u16), (1, 1), (20, 5), (80, 24), (81, 25), (200, 60)] {
        for k in ['l', 'w', 'X', 'C'] {
            let mut app = detail_app((80, 24), 0);
            press(&mut app, ch(k));
            if k == 'C' {
                app.apply(Outcome::Account(
                    somiti::tui::account_tasks::AccountOutcome::ClosePlan {
                        member_no: "1".into(),
                        result: Ok(Box::new(close_plan(1, false))),
                    },
                ));
            }
            app.size = (w, h);
            render(&app);
        }
    }
}
