//! Key handling without drawing: a key and the state give an action; the action changes
//! the state and asks for core work as effects.

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use somiti::access::Role;
use somiti::backup::BackupStatus;
use somiti::csvio::{AlreadyPresent, ExportReport, ImportProblem, ImportReport, Table};
use somiti::tui::app::{Overlay, Tab};
use somiti::tui::backup_tasks::BackupEffect;
use somiti::tui::keymap::{Action, BINDINGS, Mode, action_for, help_sections};
use somiti::tui::tasks::{Effect, Exported, Outcome};
use somiti::tui::widgets::form::FormPurpose;
use tui_support::*;

#[test]
fn number_keys_and_tab_switch_views() {
    let mut app = full_app((80, 24));
    assert_eq!(
        action_for(ch('2'), &app),
        Some(Action::GoTab(Tab::Collections))
    );
    press(&mut app, ch('2'));
    assert_eq!(app.tab, Tab::Collections);
    press(&mut app, key(KeyCode::Tab));
    assert_eq!(app.tab, Tab::Backups);
    press(&mut app, key(KeyCode::BackTab));
    press(&mut app, key(KeyCode::BackTab));
    assert_eq!(app.tab, Tab::Members);
    press(&mut app, key(KeyCode::BackTab));
    assert_eq!(app.tab, Tab::Audit, "Shift-Tab wraps around");
}

#[test]
fn q_and_ctrl_c_quit_even_from_a_form() {
    let mut app = full_app((80, 24));
    assert_eq!(action_for(ch('q'), &app), Some(Action::Quit));
    press(&mut app, ch('n'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Form(_))));
    assert_eq!(
        action_for(ch('q'), &app),
        Some(Action::Input('q')),
        "q is text in a form"
    );
    assert_eq!(action_for(ctrl('c'), &app), Some(Action::Quit));
    press(&mut app, ctrl('c'));
    assert!(app.quit);
}

#[test]
fn key_releases_and_alt_chords_do_nothing_in_forms() {
    let mut app = full_app((80, 24));
    let mut release = ch('q');
    release.kind = KeyEventKind::Release;
    assert_eq!(action_for(release, &app), None);
    press(&mut app, ch('n'));
    let alt = KeyEvent::new(KeyCode::Char('5'), KeyModifiers::ALT);
    assert_eq!(action_for(alt, &app), None);
}

#[test]
fn moving_down_past_the_window_loads_the_next_page_once() {
    let mut app = full_app((80, 24));
    app.members.rows = member_rows(120);
    app.members.total = 10_000;
    let mut asked = Vec::new();
    for _ in 0..15 {
        asked.extend(press(&mut app, key(KeyCode::PageDown)));
    }
    assert_eq!(app.members.selected, 15 * app.visible_rows());
    let (seq, offset) = match asked.as_slice() {
        [Effect::LoadMembers { seq, query, .. }] => {
            assert!(query.offset > 0 && query.limit <= 120, "{query:?}");
            (*seq, query.offset)
        }
        other => panic!("expected one page load, got {other:?}"),
    };
    // jumping to the end while that page loads asks again only once it has arrived
    assert!(press(&mut app, ch('G')).is_empty());
    assert_eq!(app.members.selected, 9_999);
    let fx = app.apply(Outcome::Members {
        seq,
        offset,
        result: Ok((member_rows(120), 10_000)),
    });
    assert!(
        matches!(fx.as_slice(), [Effect::LoadMembers { query, .. }] if query.offset > 9_000),
        "{fx:?}"
    );
    press(&mut app, ch('g'));
    assert_eq!(app.members.selected, 0);
}

#[test]
fn typing_a_filter_reloads_from_the_first_row_and_esc_restores() {
    let mut app = full_app((80, 24));
    app.members.selected = 5;
    press(&mut app, ch('/'));
    let fx = press(&mut app, ch('r'));
    assert_eq!(app.members.filter, "r");
    assert_eq!(app.members.selected, 0);
    match fx.as_slice() {
        [Effect::LoadMembers { query, .. }] => {
            assert_eq!(query.filter.as_deref(), Some("r"));
            assert_eq!(query.offset, 0);
        }
        other => panic!("{other:?}"),
    }
    press(&mut app, key(KeyCode::Esc));
    assert_eq!(
        app.members.filter, "",
        "Esc in the filter line restores the old filter"
    );
    press(&mut app, ch('/'));
    press(&mut app, ch('4'));
    press(&mut app, key(KeyCode::Enter));
    assert!(app.overlays.is_empty());
    assert_eq!(app.members.filter, "4");
    press(&mut app, key(KeyCode::Esc));
    assert_eq!(app.members.filter, "", "Esc on the list clears the filter");
}

#[test]
fn stale_answers_are_ignored() {
    let mut app = full_app((80, 24));
    let first = press(&mut app, ch('s'));
    let second = press(&mut app, ch('s'));
    let seq_of = |fx: &[Effect]| match fx.first() {
        Some(Effect::LoadMembers { seq, .. }) => *seq,
        other => panic!("{other:?}"),
    };
    let (old, new) = (seq_of(&first), seq_of(&second));
    app.apply(Outcome::Members {
        seq: old,
        offset: 0,
        result: Ok((member_rows(1), 1)),
    });
    assert_eq!(
        app.members.total, 9,
        "an answer to an older question changes nothing"
    );
    app.apply(Outcome::Members {
        seq: new,
        offset: 0,
        result: Ok((member_rows(2), 2)),
    });
    assert_eq!(app.members.total, 2);
}

#[test]
fn record_is_prefilled_with_what_is_due_and_sent_to_the_core() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    press(&mut app, ch('j')); // Karim's second member: 4, missed, due 440
    press(&mut app, ch('a'));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("no form")
    };
    assert_eq!(f.value("member"), "4");
    assert_eq!(f.value("savings"), "20.00");
    assert_eq!(f.value("loan"), "420.00");
    assert_eq!(f.value("date"), "2026-11-22");
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::RecordCollection { text, .. }] if text.loan == "420.00")
    );
    // the core refuses: the message stays in the form
    app.apply(Outcome::CollectionRecorded(Err(vec![(
        String::new(),
        "refused: 2026-11-22 is closed for DEMO".into(),
    )])));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("form closed on a refusal")
    };
    assert!(f.note.as_deref().unwrap().contains("closed"));
    assert!(!f.busy);
}

#[test]
fn reverse_offers_the_latest_standing_entry_and_needs_a_reason_from_the_core() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    press(&mut app, ch('x'));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("no form")
    };
    assert_eq!(f.value("collection"), "102");
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::Reverse { id, reason, .. }] if id == "102" && reason.is_empty())
    );
    app.apply(Outcome::Reversed(Err(vec![(
        "reason".into(),
        "is required: say why the entry is reversed".into(),
    )])));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!()
    };
    assert!(f.fields[1].error.as_deref().unwrap().contains("required"));
}

#[test]
fn reverse_on_a_member_with_no_entry_says_so() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    press(&mut app, ch('j'));
    press(&mut app, ch('x'));
    assert!(app.overlays.is_empty());
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("no standing entry")
    );
}

#[test]
fn closing_the_day_needs_a_yes() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    press(&mut app, ch('c'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Confirm(_))));
    assert!(press(&mut app, ch('n')).is_empty());
    assert!(app.overlays.is_empty());
    press(&mut app, ch('c'));
    let fx = press(&mut app, ch('y'));
    assert!(matches!(fx.as_slice(), [Effect::CloseDay { date, .. }] if *date == today()));
}

#[test]
fn days_move_with_brackets_but_not_past_today() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    let fx = press(&mut app, ch('['));
    assert!(
        matches!(fx.as_slice(), [Effect::LoadReview { date, .. }] if *date == today().pred_opt().unwrap())
    );
    press(&mut app, ch(']'));
    assert_eq!(app.review.date, today());
    assert!(press(&mut app, ch(']')).is_empty());
    press(&mut app, ch('['));
    press(&mut app, ch('['));
    press(&mut app, ch('t'));
    assert_eq!(app.review.date, today());
}

#[test]
fn worker_filter_picks_from_the_workers() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    press(&mut app, ch('w'));
    press(&mut app, ch('j'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::LoadReview {
            worker: Some(1),
            ..
        }]
    ));
    assert_eq!(app.review.worker.as_ref().unwrap().1, "Karim Uddin");
}

#[test]
fn member_form_puts_every_core_problem_on_its_field() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('n'));
    for c in "12".chars() {
        press(&mut app, ch(c));
    }
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::SaveMember { id: None, .. }]
    ));
    app.apply(Outcome::MemberSaved {
        added: true,
        result: Err(vec![
            ("name".into(), "is required".into()),
            ("nid".into(), "must have 10, 13 or 17 digits (got 0)".into()),
            ("mobile".into(), "must be 01[3-9] and 8 digits".into()),
        ]),
    });
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!()
    };
    let with_errors: Vec<&str> = f
        .fields
        .iter()
        .filter(|x| x.error.is_some())
        .map(|x| x.key)
        .collect();
    assert_eq!(with_errors, ["name", "nid", "mobile"]);
    assert_eq!(f.fields[f.focus].key, "name");
}

#[test]
fn edit_opens_the_selected_member_with_its_values() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('j'));
    press(&mut app, ch('e'));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!()
    };
    assert_eq!(f.value("member_no"), "2");
    assert_eq!(f.value("daily_savings"), "20.00");
    assert_eq!(f.value("worker"), "Karim Uddin");
    // an edit never changes money: the form has no loan fields (adding offers a first loan)
    assert!(
        f.fields
            .iter()
            .all(|x| x.key != "loan_amount" && x.key != "daily_installment")
    );
}

#[test]
fn backup_create_shows_progress_and_esc_cancels_it() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    let fx = press(&mut app, ch('b'));
    let cancel = match fx.as_slice() {
        [Effect::Backup(BackupEffect::Create { cancel })] => cancel.clone(),
        other => panic!("{other:?}"),
    };
    assert!(matches!(app.overlays.last(), Some(Overlay::Progress(_))));
    app.progress(somiti::backup::Progress {
        stage: "collections".into(),
        done: 500,
        total: 1000,
    });
    assert_eq!(action_for(key(KeyCode::Esc), &app), Some(Action::Cancel));
    press(&mut app, key(KeyCode::Esc));
    assert!(cancel.is_cancelled());
    app.apply(Outcome::Backup(Box::new(
        somiti::tui::backup_tasks::BackupOutcome::Created(Err("cancelled".into())),
    )));
    assert!(app.overlays.is_empty());
    assert!(app.flash.as_ref().unwrap().text.contains("cancelled"));
}

#[test]
fn quitting_during_a_backup_cancels_it_first() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    let fx = press(&mut app, ch('b'));
    let [Effect::Backup(BackupEffect::Create { cancel })] = fx.as_slice() else {
        panic!()
    };
    press(&mut app, ctrl('c'));
    assert!(cancel.is_cancelled());
    assert!(!app.quit);
    app.apply(Outcome::Backup(Box::new(
        somiti::tui::backup_tasks::BackupOutcome::Created(Err("cancelled".into())),
    )));
    assert!(app.quit);
}

#[test]
fn delete_asks_first_and_restore_starts_the_wizard() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    press(&mut app, ch('D'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Confirm(_))));
    let fx = press(&mut app, ch('y'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Backup(BackupEffect::Delete { .. })]
    ));
    press(&mut app, ch('r'));
    press(&mut app, ch('j')); // only organization DEMO
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Backup(BackupEffect::RestorePreview { scope: somiti::tui::backup_tasks::RestoreScope::Org(c), .. })] if c == "DEMO"
    ));
}

#[test]
fn viewers_are_not_offered_changes_but_the_core_decides() {
    let mut app = full_app((80, 24));
    app.operator = operator(Role::Viewer);
    let footer: Vec<&str> = somiti::tui::keymap::footer(&app)
        .iter()
        .map(|(_, h)| *h)
        .collect();
    assert!(!footer.contains(&"new"), "{footer:?}");
    // the key still works: the core refuses with its own message
    press(&mut app, ch('n'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Form(_))));
}

#[test]
fn help_lists_every_binding_of_the_view_from_the_keymap() {
    let sections = help_sections(&[Mode::Collections]);
    let keys: Vec<&str> = sections[0].1.iter().map(|(_, h)| *h).collect();
    for b in BINDINGS.iter().filter(|b| b.mode == Mode::Collections) {
        assert!(keys.contains(&b.help), "{} missing", b.help);
    }
    let mut app = full_app((80, 24));
    press(&mut app, ch('?'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Help { .. })));
    press(&mut app, key(KeyCode::Esc));
    assert!(app.overlays.is_empty());
}

#[test]
fn every_binding_is_reachable_and_not_shadowed() {
    for (i, a) in BINDINGS.iter().enumerate() {
        for b in &BINDINGS[..i] {
            assert!(
                !(a.mode == b.mode && a.code == b.code && a.ctrl == b.ctrl),
                "{:?} {:?} bound twice",
                a.mode,
                a.code
            );
        }
    }
}

fn export_form_path(app: &somiti::tui::app::App) -> String {
    match app.overlays.last() {
        Some(Overlay::Form(f)) if f.purpose == FormPurpose::ExportMembers => f.value("path"),
        other => panic!("expected the export form, got {other:?}"),
    }
}

fn import_report(problems: Vec<ImportProblem>, present: u64, would: u64) -> ImportReport {
    ImportReport {
        org: "DEMO".into(),
        file: "/home/rahim/members.csv".into(),
        dry_run: true,
        separator: ",".into(),
        had_bom: true,
        rows: present + would,
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

#[test]
fn export_offers_a_new_file_in_the_export_dir_and_sends_the_current_filter() {
    let mut app = full_app((80, 24));
    app.members.filter = "Rahima".into();
    assert_eq!(action_for(ch('E'), &app), Some(Action::ExportCsv));
    assert!(
        press(&mut app, ch('E')).is_empty(),
        "nothing runs before Enter"
    );
    assert_eq!(
        export_form_path(&app),
        "/var/lib/somiti/exports/members_2026-11-22_12-00.csv",
        "the default name is in the organization's local time, by the console's clock"
    );
    let fx = press(&mut app, key(KeyCode::Enter));
    match fx.as_slice() {
        [
            Effect::ExportMembers {
                org,
                filter,
                out,
                export_dir,
            },
        ] => {
            assert_eq!(org.code, "DEMO");
            assert_eq!(filter.as_deref(), Some("Rahima"));
            assert_eq!(out, "/var/lib/somiti/exports/members_2026-11-22_12-00.csv");
            assert_eq!(export_dir, "/var/lib/somiti/exports");
        }
        other => panic!("expected one export, got {other:?}"),
    }
    assert!(matches!(app.overlays.last(), Some(Overlay::Form(f)) if f.busy));
    // the core's refusal lands in the form, which stays open
    app.apply(Outcome::Exported(Err(vec![(
        String::new(),
        "rahim is a viewer and may not export data".into(),
    )])));
    match app.overlays.last() {
        Some(Overlay::Form(f)) => {
            assert!(!f.busy);
            assert_eq!(
                f.note.as_deref(),
                Some("rahim is a viewer and may not export data")
            );
        }
        other => panic!("expected the form with the refusal, got {other:?}"),
    }
    // without a filter the whole register goes; an answer shows rows, path and scp line
    app.overlays.clear();
    app.members.filter.clear();
    press(&mut app, ch('E'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::ExportMembers { filter: None, .. }]
    ));
    app.apply(Outcome::Exported(Ok(Exported {
        report: ExportReport {
            table: Table::Members,
            org: "DEMO".into(),
            path: "/var/lib/somiti/exports/members_2026-11-22_12-00.csv".into(),
            rows: 9,
            bytes: 2048,
            loan_total: 13_500_000,
            savings_total: 450_000,
        },
        fetch: "scp rahim@db1:/var/lib/somiti/exports/members_2026-11-22_12-00.csv .".into(),
    })));
    assert_eq!(app.overlays.len(), 1, "the form closed");
    match app.overlays.last() {
        Some(Overlay::Message(m)) => {
            let text = m.lines.join("\n");
            assert!(text.contains("wrote 9 members of DEMO"), "{text}");
            assert!(
                text.contains(
                    "scp rahim@db1:/var/lib/somiti/exports/members_2026-11-22_12-00.csv ."
                ),
                "{text}"
            );
        }
        other => panic!("expected the export report, got {other:?}"),
    }
}

#[test]
fn import_checks_first_then_imports_on_y_or_enter_and_reloads_the_register() {
    let mut app = full_app((80, 24));
    assert!(press(&mut app, ch('I')).is_empty());
    for c in "members.csv".chars() {
        press(&mut app, ch(c));
    }
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::ImportMembers { path, dry_run: true, .. }] if path == "/home/rahim/members.csv"),
        "{fx:?}"
    );
    app.apply(Outcome::Imported {
        dry_run: true,
        path: "/home/rahim/members.csv".into(),
        result: Ok(Box::new(import_report(vec![], 2, 3))),
    });
    match app.overlays.as_slice() {
        [Overlay::Confirm(c)] => {
            let text = c.lines.join("\n");
            assert!(
                text.contains("3 members would be imported, 2 already present (skipped)"),
                "{text}"
            );
        }
        other => panic!("expected only the confirmation, got {other:?}"),
    }
    // n cancels; nothing is imported
    assert!(press(&mut app, ch('n')).is_empty());
    assert!(app.overlays.is_empty());
    // Enter says yes here (and only where the dialog offers it)
    app.apply(Outcome::Imported {
        dry_run: true,
        path: "/home/rahim/members.csv".into(),
        result: Ok(Box::new(import_report(vec![], 2, 3))),
    });
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::ImportMembers { path, dry_run: false, .. }] if path == "/home/rahim/members.csv"),
        "{fx:?}"
    );
    let mut done = import_report(vec![], 2, 3);
    done.dry_run = false;
    done.imported = 3;
    let fx = app.apply(Outcome::Imported {
        dry_run: false,
        path: "/home/rahim/members.csv".into(),
        result: Ok(Box::new(done)),
    });
    assert!(
        matches!(fx.as_slice(), [Effect::LoadMembers { .. }]),
        "the register reloads: {fx:?}"
    );
    match app.overlays.last() {
        Some(Overlay::Message(m)) => assert!(
            m.lines[0].contains("imported 3 members into DEMO (2 already present, skipped)"),
            "{:?}",
            m.lines
        ),
        other => panic!("expected the import report, got {other:?}"),
    }
}

#[test]
fn import_problems_are_listed_every_one_and_nothing_is_offered() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('I'));
    press(&mut app, key(KeyCode::Enter));
    let problems: Vec<ImportProblem> = (2..=30)
        .map(|row| ImportProblem {
            row,
            column: "E".into(),
            header: "nid".into(),
            reason: "must have 10, 13 or 17 digits (got 9)".into(),
        })
        .collect();
    app.apply(Outcome::Imported {
        dry_run: true,
        path: "/home/rahim/".into(),
        result: Ok(Box::new(import_report(problems, 0, 0))),
    });
    let Some(Overlay::Message(m)) = app.overlays.last() else {
        panic!("expected the problems, got {:?}", app.overlays);
    };
    assert_eq!(app.overlays.len(), 1, "the form closed, no confirmation");
    assert!(m.error);
    let text = m.lines.join("\n");
    assert!(text.contains("nothing was imported"), "{text}");
    for row in 2..=30 {
        assert!(
            text.contains(&format!(
                "row {row}, column E (nid): must have 10, 13 or 17 digits (got 9)"
            )),
            "row {row} missing:\n{text}"
        );
    }
    // the list scrolls, and Enter closes it without doing anything
    press(&mut app, key(KeyCode::Down));
    assert!(matches!(app.overlays.last(), Some(Overlay::Message(m)) if m.scroll == 1));
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(app.overlays.is_empty());
}

#[test]
fn a_file_that_cannot_be_read_is_reported_in_the_import_form() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('I'));
    press(&mut app, key(KeyCode::Enter));
    app.apply(Outcome::Imported {
        dry_run: true,
        path: "/home/rahim/".into(),
        result: Err(vec![(
            String::new(),
            "reading /home/rahim/: Is a directory (os error 21)".into(),
        )]),
    });
    match app.overlays.last() {
        Some(Overlay::Form(f)) => {
            assert!(!f.busy);
            assert!(f.note.as_deref().unwrap_or("").contains("Is a directory"));
        }
        other => panic!("expected the form with the error, got {other:?}"),
    }
}

#[test]
fn enter_does_not_confirm_a_delete_or_a_day_close() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    press(&mut app, ch('D'));
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(matches!(app.overlays.last(), Some(Overlay::Confirm(_))));
}

#[test]
fn csv_keys_are_in_the_help_and_viewers_get_the_core_refusal() {
    let mut app = full_app((80, 24));
    assert!(app.in_build(Action::ExportCsv) && app.in_build(Action::ImportCsv));
    app.operator = operator(Role::Viewer);
    assert!(!app.binding_available(Action::ExportCsv));
    // the keys still work: the core refuses with its own message
    press(&mut app, ch('E'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(fx.as_slice(), [Effect::ExportMembers { .. }]));
    app.overlays.clear();
    press(&mut app, ch('I'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(matches!(
        fx.as_slice(),
        [Effect::ImportMembers { dry_run: true, .. }]
    ));
}

#[test]
fn enter_on_prune_asks_first_and_a_backup_runs_at_once() {
    use somiti::tui::sched_tasks::SchedEffect;
    let mut app = full_app((80, 24));
    press(&mut app, ch('4'));
    assert_eq!(app.tab, Tab::Scheduler);
    // daily-backup deletes nothing: Enter runs it
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::Sched(SchedEffect::RunNow { job }) if job == "daily-backup")
        ),
        "{fx:?}"
    );
    // weekly-prune deletes backups: Enter asks, y runs it, as the operator
    press(&mut app, key(KeyCode::Down));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Sched(SchedEffect::RunNow { .. }))),
        "{fx:?}"
    );
    match app.overlays.last() {
        Some(Overlay::Confirm(c)) => {
            assert!(c.title.contains("weekly-prune"), "{c:?}");
            assert!(c.lines.iter().any(|l| l.contains("deletes")), "{c:?}");
            assert!(
                c.lines.iter().any(|l| l.contains(&app.operator.username)),
                "{c:?}"
            );
        }
        other => panic!("no confirmation: {other:?}"),
    }
    let fx = press(&mut app, ch('y'));
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::Sched(SchedEffect::RunNow { job }) if job == "weekly-prune")
        ),
        "{fx:?}"
    );
    // Esc on the question runs nothing
    app.scheduler.running.clear();
    press(&mut app, key(KeyCode::Enter));
    let fx = press(&mut app, key(KeyCode::Esc));
    assert!(fx.is_empty(), "{fx:?}");
    assert!(app.overlays.is_empty());
}

fn type_text(app: &mut somiti::tui::app::App, text: &str) {
    for c in text.chars() {
        press(app, ch(c));
    }
}

fn backspaces(app: &mut somiti::tui::app::App, n: usize) {
    for _ in 0..n {
        press(app, key(KeyCode::Backspace));
    }
}

#[test]
fn g_in_the_review_goes_to_a_typed_date_and_says_what_is_wrong_with_a_bad_one() {
    use somiti::tui::widgets::form::FormPurpose;
    let mut app = full_app((80, 24));
    press(&mut app, ch('2'));
    assert_eq!(action_for(ch('g'), &app), Some(Action::JumpToDate));
    assert_eq!(action_for(ch(':'), &app), Some(Action::JumpToDate));
    assert!(
        press(&mut app, ch('g')).is_empty(),
        "nothing runs before Enter"
    );
    let form_error = |app: &somiti::tui::app::App| match app.overlays.last() {
        Some(Overlay::Form(f)) if f.purpose == FormPurpose::JumpToDate => {
            f.fields[0].error.clone().unwrap_or_default()
        }
        other => panic!("expected the date prompt, got {other:?}"),
    };
    // not a date: the prompt says so and stays
    type_text(&mut app, "2026-13-01");
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(
        form_error(&app).contains("YYYY-MM-DD"),
        "{}",
        form_error(&app)
    );
    // the future: refused in the prompt, naming today
    backspaces(&mut app, 10);
    type_text(&mut app, "2026-11-30");
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    let e = form_error(&app);
    assert!(
        e.contains("in the future") && e.contains("2026-11-22"),
        "{e}"
    );
    // a past date: the core checks it and builds its review
    backspaces(&mut app, 10);
    type_text(&mut app, "২০২৬-১১-১০");
    let fx = press(&mut app, key(KeyCode::Enter));
    let seq = match fx.as_slice() {
        [Effect::JumpReview { seq, date, .. }] => {
            assert_eq!(date.to_string(), "2026-11-10");
            *seq
        }
        other => panic!("expected the jump, got {other:?}"),
    };
    // before the organization's first day: the core's message lands in the prompt
    app.apply(Outcome::ReviewJump {
        seq,
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
        result: Err(vec![(
            "date".into(),
            "2026-11-10 is before DEMO's first day, 2026-11-12 (when its first member joined)"
                .into(),
        )]),
    });
    assert!(form_error(&app).contains("first day"));
    assert_eq!(app.review.date, today(), "the review stays where it was");
    let fx = press(&mut app, key(KeyCode::Enter));
    let [Effect::JumpReview { seq, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let mut r = review(false);
    r.date = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    app.apply(Outcome::ReviewJump {
        seq: *seq,
        date: r.date,
        result: Ok(r),
    });
    assert!(app.overlays.is_empty(), "the prompt closed");
    assert_eq!(app.review.date.to_string(), "2026-11-10");
    // Home still goes to the first row
    press(&mut app, ch('j'));
    press(&mut app, key(KeyCode::Home));
    assert_eq!(app.review.selected, 0);
}

#[test]
fn an_admin_reopens_a_closed_day_after_a_yes_naming_the_date() {
    let mut app = full_app((80, 24));
    app.review.review = Some(review(true));
    press(&mut app, ch('2'));
    assert!(press(&mut app, ch('r')).is_empty());
    match app.overlays.last() {
        Some(Overlay::Confirm(c)) => {
            let text = c.lines.join("\n");
            assert!(text.contains("Reopen 2026-11-22 for DEMO?"), "{text}");
            assert!(text.contains("audit"), "{text}");
        }
        other => panic!("expected the confirmation, got {other:?}"),
    }
    // Enter is no yes here
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    let fx = press(&mut app, ch('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::ReopenDay { date, org }] if *date == today() && org.code == "DEMO"),
        "{fx:?}"
    );
    let fx = app.apply(Outcome::DayReopened {
        date: today(),
        result: Ok(1),
    });
    assert!(
        matches!(fx.as_slice(), [Effect::LoadReview { .. }]),
        "{fx:?}"
    );
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("2026-11-22 reopened")
    );
    // an open day has nothing to reopen
    app.review.review = Some(review(false));
    press(&mut app, ch('r'));
    assert!(app.overlays.is_empty());
    assert!(app.flash.as_ref().unwrap().text.contains("no closed days"));
}

#[test]
fn a_manager_is_not_offered_reopen_and_gets_the_cores_permission_message() {
    let mut app = full_app((80, 24));
    app.operator = operator(Role::Manager);
    app.review.review = Some(review(true));
    press(&mut app, ch('2'));
    let footer: Vec<&str> = somiti::tui::keymap::footer(&app)
        .iter()
        .map(|(_, h)| *h)
        .collect();
    assert!(!footer.iter().any(|h| h.contains("reopen")), "{footer:?}");
    assert!(footer.contains(&"go to date"), "{footer:?}");
    press(&mut app, ch('r'));
    let fx = press(&mut app, ch('y'));
    assert!(matches!(fx.as_slice(), [Effect::ReopenDay { .. }]));
    let why = "rahim is a manager and may not reopen a closed day; ask an admin (somiti user set-role rahim ROLE)";
    app.apply(Outcome::DayReopened {
        date: today(),
        result: Err(format!("refused: {why}")),
    });
    match app.overlays.last() {
        Some(Overlay::Message(m)) => {
            assert!(m.error);
            assert!(m.lines.join(" ").contains(why), "{:?}", m.lines);
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}

#[test]
fn leaving_a_filled_form_asks_first_and_an_untouched_one_closes_at_once() {
    let mut app = full_app((80, 24));
    // untouched: Esc closes
    press(&mut app, ch('n'));
    press(&mut app, key(KeyCode::Esc));
    assert!(app.overlays.is_empty());
    // typed: Esc asks; n goes back to the form with what was typed
    press(&mut app, ch('n'));
    press(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "Rahima q");
    press(&mut app, key(KeyCode::Esc));
    match app.overlays.last() {
        Some(Overlay::Confirm(c)) => assert!(c.title.contains("Discard"), "{c:?}"),
        other => panic!("expected the question, got {other:?}"),
    }
    press(&mut app, ch('n'));
    match app.overlays.last() {
        Some(Overlay::Form(f)) => assert_eq!(f.value("name"), "Rahima q", "q is text"),
        other => panic!("expected the form back, got {other:?}"),
    }
    // quitting with the form filled asks too; a second Ctrl-C quits
    press(&mut app, ctrl('c'));
    assert!(!app.quit, "a filled form is not lost to one Ctrl-C");
    assert!(matches!(app.overlays.last(), Some(Overlay::Confirm(_))));
    press(&mut app, key(KeyCode::Esc));
    assert!(matches!(app.overlays.last(), Some(Overlay::Form(_))));
    // y on the discard question closes the form
    press(&mut app, key(KeyCode::Esc));
    press(&mut app, ch('y'));
    assert!(app.overlays.is_empty());
    assert!(!app.quit);
    // and at the top level q quits as before
    press(&mut app, ch('n'));
    type_text(&mut app, "5");
    press(&mut app, ctrl('c'));
    press(&mut app, ctrl('c'));
    assert!(app.quit);
}

#[test]
fn the_member_form_picks_an_active_worker_by_typing_to_narrow() {
    let mut app = full_app((80, 24));
    app.workers.push(somiti::ledger::org::Worker {
        id: 3,
        org_id: 1,
        name: "Salim Reza".into(),
        mobile: String::new(),
        active: false,
        version: 1,
        updated_by: None,
        updated_at: None,
    });
    app.workers.push(somiti::ledger::org::Worker {
        id: 4,
        org_id: 1,
        name: "Salma Khatun".into(),
        mobile: String::new(),
        active: true,
        version: 1,
        updated_by: None,
        updated_at: None,
    });
    press(&mut app, ch('n'));
    for _ in 0..4 {
        press(&mut app, key(KeyCode::Tab));
    }
    let worker = |app: &somiti::tui::app::App| match app.overlays.last() {
        Some(Overlay::Form(f)) => (f.fields[f.focus].clone(), f.focus),
        other => panic!("{other:?}"),
    };
    let (f, _) = worker(&app);
    assert_eq!(f.key, "worker");
    assert_eq!(
        f.matches(),
        ["Karim Uddin", "Salma Begum", "Salma Khatun"],
        "active workers only, by name"
    );
    type_text(&mut app, "SAL");
    assert_eq!(worker(&app).0.matches(), ["Salma Begum", "Salma Khatun"]);
    press(&mut app, key(KeyCode::Down));
    let (f, focus) = worker(&app);
    assert_eq!((f.pick, focus), (1, 4), "↓ moves in the list");
    assert!(
        press(&mut app, key(KeyCode::Enter)).is_empty(),
        "Enter takes the choice, it does not save"
    );
    match app.overlays.last() {
        Some(Overlay::Form(f)) => {
            assert_eq!(f.value("worker"), "Salma Khatun");
            assert_eq!(f.fields[f.focus].key, "loan_amount");
        }
        other => panic!("{other:?}"),
    }
    // with the worker chosen, Enter saves and sends the name to the core
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::SaveMember { text, .. }] if text.worker == "Salma Khatun"),
        "{fx:?}"
    );
}

/// The Backups tab with `list` in place of the fixture's backups, answered as a reload.
fn relist(app: &mut somiti::tui::app::App, backups: Vec<somiti::backup::BackupEntry>) {
    let fx = press(app, ch('R'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Backup(BackupEffect::List { .. })]
    ));
    let mut list = tui_support::backups();
    list.backups = backups;
    app.apply(Outcome::Backup(Box::new(
        somiti::tui::backup_tasks::BackupOutcome::Listed {
            seq: app.backups.seq,
            result: Ok(list),
        },
    )));
}

fn deleted(i: i64) -> somiti::backup::BackupEntry {
    let mut e = backup(i, "manual", false, false);
    e.status = BackupStatus::Deleted;
    e
}

fn selected_id(app: &somiti::tui::app::App) -> String {
    app.backups.selected_entry().unwrap().id.clone()
}

#[test]
fn deleted_backups_are_hidden_until_x_and_then_shown() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    let mut all = tui_support::backups().backups;
    all.insert(1, deleted(5));
    relist(&mut app, all);
    assert_eq!(app.backups.entries().len(), 4, "the deleted one is hidden");
    assert!(app.backups.entries().iter().all(|e| !e.is_deleted()));
    let s = somiti::tui::pages::stats(&app.backups.list.as_ref().unwrap().backups);
    assert_eq!(
        (s.total, s.manual, s.deleted),
        (4, 1, 1),
        "and not in the totals"
    );
    assert_eq!(action_for(ch('x'), &app), Some(Action::BackupShowDeleted));
    press(&mut app, ch('x'));
    assert_eq!(app.backups.entries().len(), 5);
    assert!(app.flash.as_ref().unwrap().text.contains("x hides them"));
    // The highlight stayed on its backup, though a row was added above it.
    press(&mut app, ch('x'));
    press(&mut app, ch('j'));
    let on = selected_id(&app);
    press(&mut app, ch('x'));
    assert_eq!(selected_id(&app), on);
    // Nothing but a note for a deleted backup.
    press(&mut app, ch('k'));
    press(&mut app, ch('k'));
    press(&mut app, ch('j'));
    assert!(app.backups.selected_entry().unwrap().is_deleted());
    assert!(press(&mut app, ch('v')).is_empty());
    assert!(app.flash.as_ref().unwrap().text.contains("was deleted"));
    let help = help_sections(&[Mode::Backups]);
    assert!(
        help[0]
            .1
            .iter()
            .any(|(k, h)| k == "x" && h.contains("deleted")),
        "{help:?}"
    );
}

#[test]
fn delete_on_a_pinned_backup_offers_to_unpin_it_first() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    press(&mut app, ch('j')); // 1a1b2c3d is pinned
    assert!(app.backups.selected_entry().unwrap().pinned);
    press(&mut app, ch('D'));
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("{:?}", app.overlays.last())
    };
    assert!(
        c.lines.join(" ").contains("is pinned")
            && c.lines.join(" ").contains("Unpin it and delete it?"),
        "{:?}",
        c.lines
    );
    let fx = press(&mut app, ch('y'));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Backup(BackupEffect::UnpinAndDelete { id })] if id.starts_with("1a1b2c3d")
        ),
        "{fx:?}"
    );
    // n keeps it: nothing asked of the core.
    press(&mut app, ch('D'));
    assert!(press(&mut app, ch('n')).is_empty());
}

#[test]
fn the_highlight_follows_the_backup_through_reloads() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    press(&mut app, ch('j'));
    press(&mut app, ch('j'));
    let on = selected_id(&app);
    assert!(on.starts_with("2a1b2c3d"));
    // A restore adds a pre-restore backup above: the highlight stays on the restored one.
    let mut more = tui_support::backups().backups;
    more.insert(0, backup(6, "pre-restore", false, false));
    more.insert(0, backup(7, "manual", false, false));
    relist(&mut app, more.clone());
    assert_eq!(selected_id(&app), on);
    assert_eq!(app.backups.selected, 4);
    // It is deleted (and hidden): the highlight goes to the row below it, not onto it.
    let below = more[5].id.clone();
    more[4].status = BackupStatus::Deleted;
    relist(&mut app, more.clone());
    assert_eq!(selected_id(&app), below);
    // The last row goes: the one above it.
    more.pop();
    relist(&mut app, more.clone());
    assert_eq!(selected_id(&app), more[3].id);
}

#[test]
fn a_download_into_a_missing_folder_asks_to_create_it() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('3'));
    press(&mut app, ch('d'));
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("{}/new/folder/x.zip", dir.path().display());
    if let Some(Overlay::Form(f)) = app.overlays.last_mut() {
        f.fields[0].value = dest.clone();
    }
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(fx.is_empty(), "{fx:?}");
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("{:?}", app.overlays.last())
    };
    assert!(
        c.lines[0].contains(&format!(
            "{}/new/folder does not exist",
            dir.path().display()
        )),
        "{:?}",
        c.lines
    );
    let fx = press(&mut app, ch('y'));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Backup(BackupEffect::Download { create_dir: true, dest: d, .. })] if *d == dest
        ),
        "{fx:?}"
    );
}

#[test]
fn enter_on_a_backup_shows_where_each_copy_is_and_esc_closes_it() {
    let mut app = full_app((80, 24));
    app.tab = Tab::Backups;
    app.backups.list = Some(backups_offsite(&["bucket", "usb"]));
    assert_eq!(action_for(key(KeyCode::Enter), &app), Some(Action::Open));
    press(&mut app, ch('j'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(fx.is_empty(), "the detail needs no core work: {fx:?}");
    let Some(Overlay::Message(m)) = app.overlays.last() else {
        panic!("{:?}", app.overlays.last())
    };
    assert_eq!(m.title, "Backup 1a1b2c3d");
    let text = m.lines.join("\n");
    assert!(text.contains("verified on 1 of 2 target(s): usb"), "{text}");
    let bucket = m
        .lines
        .iter()
        .find(|l| l.trim_start().starts_with("bucket"))
        .unwrap();
    assert!(
        bucket.contains("failed 2026-11-21 08:03 · attempt 3 · next try 2026-11-21 08:05"),
        "{bucket}"
    );
    assert!(
        bucket.ends_with("uploading: connection refused"),
        "{bucket}"
    );
    let usb = m
        .lines
        .iter()
        .find(|l| l.trim_start().starts_with("usb"))
        .unwrap();
    assert!(
        usb.contains("verified 2026-11-21 08:03 · 1.2 MiB · SHA-256 abababababab…"),
        "{usb}"
    );
    assert!(
        text.contains("local     present in /var/lib/somiti/backups"),
        "{text}"
    );
    press(&mut app, key(KeyCode::Esc));
    assert!(app.overlays.is_empty());
    // Without targets the detail says none is configured.
    app.backups.list = Some(backups());
    press(&mut app, key(KeyCode::Enter));
    let Some(Overlay::Message(m)) = app.overlays.last() else {
        panic!()
    };
    assert!(
        m.lines
            .iter()
            .any(|l| l.contains("no [[offsite]] target is configured")),
        "{:?}",
        m.lines
    );
}

fn top_form(app: &somiti::tui::app::App) -> &somiti::tui::widgets::form::Form {
    match app.overlays.last() {
        Some(Overlay::Form(f)) => f,
        other => panic!("no form on top: {other:?}"),
    }
}

#[test]
fn the_details_keys_open_a_new_loan_a_withdrawal_a_write_off_and_the_close_walk_through() {
    use somiti::tui::account_tasks::AccountEffect;
    use somiti::tui::pages::AccountForm;
    let mut app = detail_app((80, 24), 0);
    assert_eq!(action_for(ch('l'), &app), Some(Action::DisburseLoan));
    assert_eq!(action_for(ch('w'), &app), Some(Action::WithdrawSavings));
    assert_eq!(action_for(ch('X'), &app), Some(Action::WriteOffLoan));
    assert_eq!(action_for(ch('C'), &app), Some(Action::CloseMember));

    // l: principal, installment, service charge 0, installments (optional), today
    press(&mut app, ch('l'));
    let f = top_form(&app);
    assert_eq!(
        f.purpose,
        FormPurpose::Account(AccountForm::Disburse {
            member_no: "1".into()
        })
    );
    let keys: Vec<&str> = f.fields.iter().map(|x| x.key).collect();
    assert_eq!(
        keys,
        [
            "principal",
            "installment",
            "service_charge",
            "installments",
            "date"
        ]
    );
    assert_eq!(f.value("service_charge"), "0");
    assert_eq!(f.value("date"), "2026-11-22", "today by the injected clock");
    assert!(
        f.intro[0].contains("cycle 1") && f.intro[0].contains("19,000.00 outstanding"),
        "{:?}",
        f.intro
    );
    for c in "15000".chars() {
        press(&mut app, ch(c));
    }
    press(&mut app, key(KeyCode::Tab));
    for c in "300".chars() {
        press(&mut app, ch(c));
    }
    let fx = press(&mut app, key(KeyCode::Enter));
    match fx.as_slice() {
        [
            Effect::Account(AccountEffect::Disburse {
                member_no, text, ..
            }),
        ] => {
            assert_eq!(member_no, "1");
            assert_eq!(
                (text.principal.as_str(), text.installment.as_str()),
                ("15000", "300")
            );
            assert_eq!(text.date, "2026-11-22");
        }
        other => panic!("{other:?}"),
    }
    assert!(top_form(&app).busy);
    app.apply(Outcome::Account(
        somiti::tui::account_tasks::AccountOutcome::Disbursed(Err(vec![(
            String::new(),
            "member 1 still has loan cycle 1 with 19,000.00 outstanding".into(),
        )])),
    ));
    let f = top_form(&app);
    assert!(!f.busy && f.note.as_deref().unwrap().contains("19,000.00"));
    app.overlays.pop();

    // w: amount and reason, the balance above them
    press(&mut app, ch('w'));
    let f = top_form(&app);
    assert!(
        f.intro[0].contains("Savings balance 100.00"),
        "{:?}",
        f.intro
    );
    assert_eq!(f.fields.len(), 2);
    app.overlays.pop();

    // X: the amount still owed, a reason, then a dialog; nothing goes before the yes
    press(&mut app, ch('X'));
    assert!(top_form(&app).intro[0].contains("19,000.00 still owed"));
    for c in "died".chars() {
        press(&mut app, ch(c));
    }
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    let Some(Overlay::Confirm(c)) = app.overlays.last() else {
        panic!("no dialog")
    };
    assert!(c.lines[0].contains("19,000.00"), "{:?}", c.lines);
    assert!(
        press(&mut app, key(KeyCode::Enter)).is_empty(),
        "Enter is no yes"
    );
    let fx = press(&mut app, ch('y'));
    assert!(
        matches!(fx.as_slice(), [Effect::Account(AccountEffect::WriteOff { member_no, reason, .. })] if member_no == "1" && reason == "died"),
        "{fx:?}"
    );
    assert!(
        top_form(&app).busy,
        "the answer lands in the write-off form"
    );
    app.overlays.pop();

    // C: the walk-through, which asks the core for the plan
    let fx = press(&mut app, ch('C'));
    assert!(
        matches!(fx.as_slice(), [Effect::Account(AccountEffect::PlanClose { member_no, .. })] if member_no == "1"),
        "{fx:?}"
    );
    assert!(matches!(app.overlays.last(), Some(Overlay::Closing(_))));
    assert_eq!(action_for(key(KeyCode::Enter), &app), Some(Action::Submit));
    press(&mut app, key(KeyCode::Esc));
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));
}

#[test]
fn the_walk_through_goes_on_only_when_nothing_is_in_the_way_and_needs_the_number_typed() {
    use somiti::tui::account_tasks::{AccountEffect, AccountOutcome};
    let mut app = detail_app((80, 24), 0);
    press(&mut app, ch('C'));
    app.apply(Outcome::Account(AccountOutcome::ClosePlan {
        member_no: "1".into(),
        result: Ok(Box::new(close_plan(1, false))),
    }));
    assert!(press(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(matches!(app.overlays.last(), Some(Overlay::Closing(_))));
    assert!(
        app.flash
            .as_ref()
            .unwrap()
            .text
            .contains("the loan comes first")
    );
    // written off meanwhile: planned again, and now Enter asks for the reason and the number
    let fx = app.apply(Outcome::Account(AccountOutcome::ClosePlan {
        member_no: "1".into(),
        result: Ok(Box::new(close_plan(1, true))),
    }));
    assert!(fx.is_empty());
    press(&mut app, key(KeyCode::Enter));
    let f = top_form(&app);
    assert!(
        f.intro[0].contains("100.00 of savings is paid out"),
        "{:?}",
        f.intro
    );
    for c in "moved".chars() {
        press(&mut app, ch(c));
    }
    press(&mut app, key(KeyCode::Tab));
    press(&mut app, ch('2'));
    assert!(
        press(&mut app, key(KeyCode::Enter)).is_empty(),
        "2 is not 1"
    );
    assert!(top_form(&app).fields[1].error.is_some());
    press(&mut app, key(KeyCode::Backspace));
    press(&mut app, ch('1'));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::Account(AccountEffect::Close { member_no, reason, .. })] if member_no == "1" && reason == "moved"),
        "{fx:?}"
    );
    // closed: the form and the walk-through go; the register and the details reload
    let fx = app.apply(Outcome::Account(AccountOutcome::Closed(Ok(
        somiti::ledger::closure::Closed {
            member_no: "1".into(),
            closed_on: today(),
            paid_out: 10_000, // 100 taka
            withdrawal_id: Some(7),
        },
    ))));
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadMembers { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadReview { .. })));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LoadMember { member_no, .. } if member_no == "1"))
    );
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "member 1 closed on 2026-11-22: 100.00 of savings paid out (withdrawal #7)"
    );
}

#[test]
fn no_form_of_the_console_offers_closed_as_a_status() {
    let mut app = full_app((80, 24));
    for k in ['n', 'e'] {
        press(&mut app, ch(k));
        let f = top_form(&app);
        let status = f.fields.iter().find(|x| x.key == "status").unwrap();
        assert_eq!(status.choices, ["active", "inactive"], "{}", f.title);
        app.overlays.pop();
    }
    let mut app = detail_app((80, 24), 0);
    press(&mut app, ch('e'));
    let status = top_form(&app)
        .fields
        .iter()
        .find(|x| x.key == "status")
        .unwrap()
        .clone();
    assert!(!status.choices.iter().any(|c| c == "closed"));
}

#[test]
fn viewers_and_workers_are_offered_none_of_the_account_keys() {
    for role in [Role::Viewer, Role::Worker] {
        let mut app = detail_app((80, 24), 0);
        app.operator = operator(role);
        let offered: Vec<&str> = somiti::tui::keymap::footer(&app)
            .iter()
            .map(|(_, h)| *h)
            .collect();
        // reading the statement is for everyone; no key that changes an account
        assert_eq!(offered, ["back", "statement"], "{role:?}");
    }
}

#[test]
fn the_statement_and_the_report_take_only_their_own_answers_and_list_their_keys_in_help() {
    use somiti::tui::report_tasks::{ReportEffect, ReportOutcome};
    let mut app = statement_app((80, 24));
    // ] on this month asks for nothing; [ asks for the month before, and an answer to
    // the first request no longer lands
    assert!(press(&mut app, ch(']')).is_empty());
    let fx = press(&mut app, ch('['));
    let [Effect::Report(ReportEffect::Statement { seq, month, .. })] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert_eq!(month.to_string(), "2026-10");
    app.apply(Outcome::Report(ReportOutcome::Statement {
        seq: seq - 1,
        result: Ok(Box::new(statement(1))),
    }));
    match app.overlays.last() {
        Some(Overlay::Statement(p)) => assert!(p.statement.is_none(), "stale answer taken"),
        other => panic!("{other:?}"),
    }
    // ? opens the help over the statement, listing the statement's and the report's keys
    press(&mut app, ch('?'));
    assert!(matches!(app.overlays.last(), Some(Overlay::Help { .. })));
    let sections = help_sections(&[Mode::Statement, Mode::Report, Mode::Detail]);
    for (mode, keys) in &sections {
        let helps: Vec<&str> = keys.iter().map(|(_, h)| *h).collect();
        match mode {
            Mode::Detail => assert!(helps.contains(&"statement"), "{helps:?}"),
            _ => assert!(
                helps.contains(&"previous month") && helps.contains(&"next month"),
                "{mode:?}: {helps:?}"
            ),
        }
    }
    press(&mut app, key(KeyCode::Esc));
    press(&mut app, key(KeyCode::Esc));
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));

    let mut app = report_app((80, 24));
    assert!(press(&mut app, ch(']')).is_empty());
    let fx = press(&mut app, ch('['));
    assert!(
        matches!(fx.as_slice(), [Effect::Report(ReportEffect::Month { month, .. })] if month.to_string() == "2026-10"),
        "{fx:?}"
    );
    press(&mut app, key(KeyCode::Esc));
    assert!(app.overlays.is_empty());
}
