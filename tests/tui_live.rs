//! Live data in the console, without drawing: another process's changes reload the views
//! they touch and are named in the status line; an edit form refused as stale keeps what
//! was typed, says who changed the member and when, and Ctrl-R reloads it as saved.

mod tui_support;

use std::collections::BTreeMap;

use chrono::Utc;
use crossterm::event::KeyCode;
use somiti::db::changes::Change;
use somiti::tui::app::Overlay;
use somiti::tui::backup_tasks::BackupEffect;
use somiti::tui::keymap::{Action, action_for};
use somiti::tui::tasks::{Effect, Outcome, STALE};
use somiti::tui::widgets::form::FormPurpose;
use tui_support::*;

fn change(actor: &str, action: &str, tables: &[(&str, i64)], own: bool) -> Change {
    Change {
        id: 1,
        at: Utc::now(),
        actor: actor.into(),
        action: action.into(),
        org_code: Some("DEMO".into()),
        tables: tables
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect::<BTreeMap<_, _>>(),
        own,
    }
}

#[test]
fn another_processes_collections_reload_the_lists_and_are_named() {
    let mut app = full_app((80, 24));
    let fx = app.changes_seen(vec![
        change("rahim", "collection.add", &[("collections", 2)], false),
        change("rahim", "collection.add", &[("collections", 1)], false),
    ]);
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadMembers { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadReview { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadAudit { .. })));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::LoadWorkers { .. })),
        "workers did not change: {fx:?}"
    );
    let flash = app.flash.as_ref().expect("status line");
    assert_eq!(flash.text, "refreshed: 3 collections by rahim");
}

#[test]
fn own_changes_are_not_announced() {
    let mut app = full_app((80, 24));
    let fx = app.changes_seen(vec![change("me", "member.edit", &[("members", 1)], true)]);
    assert!(fx.is_empty(), "{fx:?}");
    assert!(app.flash.is_none());
}

#[test]
fn a_restore_elsewhere_reloads_every_view_and_the_open_member() {
    let mut app = full_app((80, 24));
    press(&mut app, key(KeyCode::Enter)); // member details open
    assert!(matches!(app.overlays.last(), Some(Overlay::Detail(_))));
    let fx = app.changes_seen(vec![change(
        "admin",
        "backup.restore",
        &[("members", 9), ("collections", 300)],
        false,
    )]);
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadMembers { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadReview { .. })));
    assert!(fx.iter().any(|e| matches!(e, Effect::LoadMember { .. })));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Backup(BackupEffect::List { .. })))
    );
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "refreshed: restore by admin"
    );
}

#[test]
fn a_stale_save_keeps_the_typing_and_ctrl_r_reloads_the_member_as_saved() {
    let mut app = full_app((80, 24));
    press(&mut app, ch('e'));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("no edit form")
    };
    assert_eq!(f.purpose, FormPurpose::EditMember { id: 1, version: 1 });
    // a savings change typed in the form (the sixth field: an edit has no loan fields)
    for _ in 0..5 {
        press(&mut app, key(KeyCode::Tab));
    }
    for _ in 0.."20.00".len() {
        press(&mut app, key(KeyCode::Backspace));
    }
    for c in "50".chars() {
        press(&mut app, ch(c));
    }
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::SaveMember { id: Some(1), version: 1, text, .. }] if text.daily_savings == "50"),
        "{fx:?}"
    );
    // another console changed the member meanwhile: the core refuses
    let refusal = "member DEMO/1 was changed by karim at 2026-11-22 10:15 (Dhaka) since you opened it; nothing was saved: reload it and make your change again";
    app.apply(Outcome::MemberSaved {
        added: false,
        result: Err(vec![(STALE.into(), refusal.into())]),
    });
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("the form closed on a stale refusal")
    };
    assert!(!f.busy);
    assert_eq!(f.value("daily_savings"), "50", "the typing stays");
    let note = f.note.as_deref().unwrap();
    assert!(
        note.contains("karim") && note.contains("10:15 (Dhaka)"),
        "{note}"
    );
    assert!(note.contains("Ctrl-R"), "{note}");

    // Ctrl-R asks for the member as saved, and the form shows them with the new version
    assert_eq!(action_for(ctrl('r'), &app), Some(Action::ReloadForm));
    let fx = press(&mut app, ctrl('r'));
    assert!(
        matches!(fx.as_slice(), [Effect::ReloadMember { id: 1, .. }]),
        "{fx:?}"
    );
    let mut now = member(1);
    now.version = 2;
    now.mobile = "01812345678".into();
    now.updated_by = Some("karim".into());
    now.updated_at = Some(Utc::now());
    app.apply(Outcome::MemberReloaded(Ok((now, "Salma Begum".into()))));
    let Some(Overlay::Form(f)) = app.overlays.last() else {
        panic!("no form")
    };
    assert_eq!(f.purpose, FormPurpose::EditMember { id: 1, version: 2 });
    assert_eq!(f.value("mobile"), "01812345678");
    assert_eq!(f.value("daily_savings"), "20.00", "as saved");
    assert!(f.note.as_deref().unwrap().contains("karim"));
    let fx = press(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::SaveMember { version: 2, .. }]),
        "{fx:?}"
    );
}
