//! Key handling without drawing: a key and the state give an action; the action changes
//! the state and asks for core work as effects.

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use somiti::access::Role;
use somiti::tui::app::{Overlay, Tab};
use somiti::tui::backup_tasks::BackupEffect;
use somiti::tui::keymap::{Action, BINDINGS, Mode, action_for, help_sections};
use somiti::tui::tasks::{Effect, Outcome};
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
    assert_eq!(f.value("loan_amount"), "20000.00");
    assert_eq!(f.value("worker"), "Karim Uddin");
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
