//! A restore says exactly what it does, on both backends: the scope chosen (everything,
//! these tables, this organization) in the dry run and in the result; every refusal the dry
//! run can know (rows left without their member, another database's organization) is in
//! the dry run, in the cooperative's words, and the restore refuses on the same words;
//! control totals are worded and net of reversals; the typed word is case-sensitive.

// amounts are written taka_poisha: 100_00 is 100 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod backup_support;
mod common;

use backup_support::*;
use common::*;
use somiti::backup::{Confirm, CreateOptions, RestoreOptions};
use somiti::db::Store;
use somiti::ledger::collection::{self, CollectionInput};

on_both_backends!(
    the_dry_run_and_the_result_name_the_scope_chosen,
    rows_a_tables_restore_would_orphan_are_refused_in_the_dry_run_by_member_number,
    a_backup_of_another_database_is_refused_in_the_dry_run,
    control_totals_are_worded_and_net_of_reversals,
    a_confirmation_in_other_letters_is_refused_and_says_why,
);

fn tables(t: &[&str]) -> Option<Vec<String>> {
    Some(t.iter().map(|s| s.to_string()).collect())
}

fn dry(t: Option<Vec<String>>, org: Option<String>) -> RestoreOptions {
    RestoreOptions {
        tables: t,
        org,
        dry_run: true,
        ..Default::default()
    }
}

async fn pay(store: &Store, org: &somiti::ledger::org::Organization, no: &str, loan: i64) -> i64 {
    collection::add(
        store,
        &somiti::access::Operator::system(),
        org,
        &CollectionInput {
            member_no: no.into(),
            collected_on: Some(org.today()),
            loan_paisa: loan,
            savings_paisa: 0,
            note: String::new(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn the_dry_run_and_the_result_name_the_scope_chosen(store: &Store) {
    let op = seeded(store, 12, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let code = somiti::ledger::org::list(store).await.unwrap()[0]
        .code
        .clone();

    // Chosen tables: never "the whole ledger", never "everything".
    let r = b
        .restore(
            &op,
            &e.id,
            &dry(tables(&["members", "collections"]), None),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let h = r.headline();
    // Members and collections bring the members' accounts with them (a loan or a savings
    // account without its member, or entries without their loan, cannot stand), and the
    // words name every table that is replaced.
    const SET: &str = "members, loans, collections, withdrawals, savings_accounts, member_closures";
    assert!(
        h.contains(&format!("restoring tables {SET}"))
            && h.contains(&format!("would replace tables {SET} of every organization")),
        "{h}"
    );
    assert!(
        !h.contains("everything") && !h.contains("whole ledger"),
        "{h}"
    );
    assert!(r.refusals.is_empty(), "{:?}", r.refusals);
    let r = b
        .restore(
            &op,
            &e.id,
            &RestoreOptions {
                tables: tables(&["collections", "members"]),
                confirm: Confirm::Typed("RESTORE".into()),
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let h = r.headline();
    assert!(
        h.starts_with(&format!("restored tables {SET} from ")),
        "{h}"
    );
    assert!(
        h.contains("organizations, workers, day_closes kept as they were"),
        "{h}"
    );
    assert!(!h.contains("everything"), "{h}");
    let undo = r.undo_command().unwrap();
    assert!(
        undo.contains(
            "--tables members,loans,collections,withdrawals,savings_accounts,member_closures"
        ) && !undo.contains("--org"),
        "{undo}"
    );

    // One organization.
    let r = b
        .restore(
            &op,
            &e.id,
            &dry(None, Some(code.clone())),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let h = r.headline();
    assert!(
        h.contains(&format!("restoring organization {code} from"))
            && h.contains(&format!("organization {code}'s rows")),
        "{h}"
    );
    assert!(!h.contains("whole ledger"), "{h}");

    // Everything.
    let r = b
        .restore(&op, &e.id, &dry(None, None), &progress(), &never())
        .await
        .unwrap();
    let h = r.headline();
    assert!(
        h.contains("restoring everything from") && h.contains("the whole ledger"),
        "{h}"
    );
}

async fn rows_a_tables_restore_would_orphan_are_refused_in_the_dry_run_by_member_number(
    store: &Store,
) {
    let op = seeded(store, 12, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let older = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    add_member(store, &org, member_input("9001", today())).await;
    pay(store, &org, "9001", 100_00).await;
    pay(store, &org, "9001", 50_00).await;
    let newer = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();

    // Members only from the older backup: the two collections of member 9001, now in the
    // database, would be left without their member. Found by the dry run, by number.
    let r = b
        .restore(
            &op,
            &older.id,
            &dry(tables(&["members"]), None),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    assert_eq!(r.refusals.len(), 1, "{:?}", r.refusals);
    let why = &r.refusals[0];
    assert!(
        why.contains(
            "restoring only members, loans, withdrawals, savings_accounts, member_closures \
             would leave 2 collections now in this database"
        ) && why.contains(&format!("members 9001 (org {})", org.code))
            && why.contains("without their member")
            && why.contains("restore collections too, or everything"),
        "{why}"
    );
    assert!(!why.contains("member_id"), "no internal column: {why}");
    // The restore refuses on the same words, whatever was typed, and changes nothing.
    let before = dump(store).await;
    let files_before = files(&b.dir);
    let err = b
        .restore(
            &op,
            &older.id,
            &RestoreOptions {
                tables: tables(&["members"]),
                confirm: Confirm::Typed("RESTORE".into()),
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains(why.as_str()), "{err}");
    assert_same(&dump(store).await, &before, "nothing changed");
    assert_eq!(
        files(&b.dir).len(),
        files_before.len(),
        "no pre-restore file"
    );

    // Members and collections from the older backup go through; then collections only from
    // the newer one would bring back collections of a member this database no longer has.
    b.restore(
        &op,
        &older.id,
        &RestoreOptions {
            tables: tables(&["members", "collections"]),
            confirm: Confirm::Yes,
            ..Default::default()
        },
        &progress(),
        &never(),
    )
    .await
    .unwrap();
    let r = b
        .restore(
            &op,
            &newer.id,
            &dry(tables(&["collections"]), None),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    assert_eq!(r.refusals.len(), 1, "{:?}", r.refusals);
    let why = &r.refusals[0];
    assert!(
        why.contains(
            "restoring only loans, collections, withdrawals, savings_accounts, member_closures \
             would leave 1 loan, 2 collections and 1 savings account of members 9001"
        ) && why.contains(&format!("(org {})", org.code))
            && why.contains("this database does not have them")
            && why.contains("restore members too, or everything"),
        "{why}"
    );
    // A restore of everything from the newer backup has nothing to refuse.
    let r = b
        .restore(&op, &newer.id, &dry(None, None), &progress(), &never())
        .await
        .unwrap();
    assert!(r.refusals.is_empty(), "{:?}", r.refusals);
}

async fn a_backup_of_another_database_is_refused_in_the_dry_run(store: &Store) {
    // A backup of organization C from one database …
    let (src, sdir) = sqlite_store().await;
    let op_src = seeded(&src, 8, 3, 1).await;
    let sb = engine(&src, sdir.path());
    let code = somiti::ledger::org::list(&src)
        .await
        .unwrap()
        .remove(0)
        .code;
    let e = sb
        .create(&op_src, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    // … into another where that code is another record.
    let op = admin(store).await;
    make_org(store, "FIRST").await;
    make_org(store, &code).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let path = sb.path_of(&e.file);
    let r = b
        .restore(
            &op,
            path.to_str().unwrap(),
            &dry(None, Some(code.clone())),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    assert_eq!(r.refusals.len(), 1, "{:?}", r.refusals);
    assert!(
        r.refusals[0].contains(&format!("organization {code}"))
            && r.refusals[0].contains("another database"),
        "{:?}",
        r.refusals
    );
    src.close().await;
}

async fn control_totals_are_worded_and_net_of_reversals(store: &Store) {
    let op = seeded(store, 12, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    add_member(store, &org, member_input("9002", today())).await;
    let kept = pay(store, &org, "9002", 70_00).await;
    let wrong = pay(store, &org, "9002", 500_00).await;
    collection::reverse(
        store,
        &somiti::access::Operator::system(),
        &org,
        wrong,
        "typed twice",
    )
    .await
    .unwrap();
    assert_ne!(kept, wrong);
    let r = b
        .restore(&op, &e.id, &dry(None, None), &progress(), &never())
        .await
        .unwrap();
    let c = r.tables.iter().find(|t| t.name == "collections").unwrap();
    let labels: Vec<&str> = c.net_backup.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["loan collected", "savings collected"]);
    let money = c.money();
    let (label, now, backup) = money[0];
    assert_eq!(label, "loan collected");
    // Net: the reversed 500 taka count nothing; gross counts them twice.
    assert_eq!(now - backup, 70_00);
    assert_eq!(
        c.totals_now["loan_paisa"] - c.totals_backup["loan_paisa"],
        70_00 + 2 * 500_00
    );
    let l = r.tables.iter().find(|t| t.name == "loans").unwrap();
    assert_eq!(l.net_now[0].label, "loans disbursed");
    assert_eq!(l.net_now[0].poisha - l.net_backup[0].poisha, 10_000_00);
}

async fn a_confirmation_in_other_letters_is_refused_and_says_why(store: &Store) {
    let op = seeded(store, 8, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let code = somiti::ledger::org::list(store).await.unwrap()[0]
        .code
        .clone();
    let before = dump(store).await;
    let lower = code.to_lowercase();
    for (typed, org) in [
        ("restore", None),
        ("Restore", None),
        (lower.as_str(), Some(code.clone())),
    ] {
        let err = b
            .restore(
                &op,
                &e.id,
                &RestoreOptions {
                    org: org.clone(),
                    confirm: Confirm::Typed(typed.to_string()),
                    ..Default::default()
                },
                &progress(),
                &never(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        let word = org.unwrap_or_else(|| "RESTORE".into());
        let m = err.to_string();
        assert!(
            m.contains("case-sensitive") && m.contains(&format!("type {word} exactly")),
            "{m}"
        );
    }
    assert_same(&dump(store).await, &before, "nothing changed");
}
