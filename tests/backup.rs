//! Backups on SQLite and PostgreSQL: create, the archive format, restore (whole, per table,
//! per organization, across backends), the pre-restore undo, verify and its drill, the
//! catalogue rebuilt from the store, lock, download, delete, pin and prune.

// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod backup_support;
mod common;

use std::os::unix::fs::PermissionsExt;

use backup_support::*;
use common::*;
use somiti::Error;
use somiti::access::audit::{self, AuditFilter};
use somiti::backup::{BackupKind, BackupStatus, VerifyResult};
use somiti::backup::{Confirm, CreateOptions, RestoreOptions, Scope, catalogue, lock};
use somiti::db::Store;

on_both_backends!(
    a_backup_is_a_zip_of_every_table_with_the_manifest_last,
    restoring_into_an_empty_database_gives_back_every_table,
    the_pre_restore_backup_undoes_a_restore_exactly,
    an_organization_restore_leaves_other_organizations_untouched,
    a_table_restore_that_would_orphan_rows_changes_nothing,
    a_dry_run_reports_rows_and_totals_and_changes_nothing,
    verify_with_drill_passes_and_is_recorded_in_catalogue_and_audit,
    a_second_backup_while_one_runs_is_busy_and_says_who,
    an_organization_backup_holds_only_that_organization,
    a_cancelled_backup_leaves_no_file_and_a_failed_entry,
    restore_is_for_admins_and_needs_confirmation,
    a_restore_into_an_organization_with_another_id_is_refused,
);

// The writer must really run alongside the backup: a runtime with two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_backup_taken_while_members_and_collections_are_added_is_one_snapshot() {
    let t = TestStore::sqlite().await;
    a_backup_taken_while_members_and_collections_are_added_is_one_snapshot(&t.store).await;
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_backup_taken_while_members_and_collections_are_added_is_one_snapshot() {
    let Some(t) = TestStore::postgres().await else {
        return;
    };
    a_backup_taken_while_members_and_collections_are_added_is_one_snapshot(&t.store).await;
    t.finish().await;
}

fn all_yes() -> RestoreOptions {
    RestoreOptions {
        confirm: Confirm::Yes,
        ..Default::default()
    }
}

async fn a_backup_is_a_zip_of_every_table_with_the_manifest_last(store: &Store) {
    let op = seeded(store, 40, 20, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let p = progress();
    let e = b
        .create(&op, &CreateOptions::default(), &p, &never())
        .await
        .unwrap();
    assert_eq!(e.status, BackupStatus::Completed);
    let path = b.path_of(&e.file);
    let re = regex_like(&e.file, e.short_id());
    assert!(
        re,
        "name somiti-all-YYYY-MM-DD_HH-MM-SS-manual-<id8>.zip: {}",
        e.file
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&b.dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let done = last(&p);
    assert_eq!(
        done.done, done.total,
        "progress ends at the total: {done:?}"
    );
    assert_eq!(done.total as i64, e.total_rows.unwrap());

    let ents = entries(&path);
    let names: Vec<&str> = ents.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"manifest.json"), "{names:?}");
    for t in [
        "organizations",
        "workers",
        "members",
        "collections",
        "day_closes",
        "users",
    ] {
        assert!(
            names.contains(&format!("data/{t}.ndjson").as_str()),
            "{t}: {names:?}"
        );
        assert!(
            names.contains(&format!("csv/{t}.csv").as_str()),
            "{t}: {names:?}"
        );
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains("audit") || n.contains("backups"))
    );
    let m = manifest_of(&ents);
    assert_eq!(m["format"], "somiti-backup");
    assert_eq!(m["format_version"], 2);
    assert_eq!(m["kind"], "manual");
    assert_eq!(m["scope"], "all");
    assert_eq!(m["schema_version"], store.schema_version());
    assert_eq!(m["source"], store.backend().as_str());
    assert_eq!(m["backup_id"], e.id.as_str());
    // Rows, hashes and totals agree with the data files and with the database.
    let d = dump(store).await;
    for t in m["tables"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let data = &ents
            .iter()
            .find(|(n, _)| n == t["file"].as_str().unwrap())
            .unwrap()
            .1;
        assert_eq!(t["bytes"], data.len());
        assert_eq!(t["sha256"], sha(data));
        assert_eq!(t["rows"], d[name].len(), "{name}");
        assert_eq!(data.iter().filter(|&&c| c == b'\n').count(), d[name].len());
        let csv = &ents
            .iter()
            .find(|(n, _)| n == &format!("csv/{name}.csv"))
            .unwrap()
            .1;
        assert!(
            csv.starts_with("\u{feff}".as_bytes()),
            "CSV starts with a BOM"
        );
        // A CSV reader finds the manifest's columns and one record per row.
        let mut r = csv::Reader::from_reader(&csv[3..]);
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(serde_json::json!(header), t["columns"], "{name}");
        let records = r.records().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(records.len(), d[name].len(), "{name}: a CSV record per row");
    }
    let sums = sums(store).await;
    let c = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "collections")
        .unwrap();
    assert_eq!(c["totals"]["loan_paisa"], sums.0);
    assert_eq!(c["totals"]["savings_paisa"], sums.1);
    let loans = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "loans")
        .unwrap();
    assert_eq!(loans["totals"]["principal"], sums.2);
    assert!(sums.0 > 0 && sums.1 > 0 && sums.2 > 0);
    // Rows in primary-key order.
    let ids: Vec<i64> = String::from_utf8(
        ents.iter()
            .find(|(n, _)| n == "data/collections.ndjson")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap()
    .lines()
    .map(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
            .as_i64()
            .unwrap()
    })
    .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Standard tools read it.
    let out = std::process::Command::new("unzip")
        .arg("-t")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mf = dir.path().join("manifest.json");
    std::fs::write(&mf, &ents.last().unwrap().1).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "json.tool"])
        .arg(&mf)
        .output()
        .unwrap();
    assert!(out.status.success(), "python3 -m json.tool");

    let listed = catalogue::all(store).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].sha256.as_deref(),
        Some(catalogue::hash_file(&path).unwrap().1.as_str())
    );
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.create".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].target, e.id);
    assert_eq!(a[0].outcome, "ok");
}

fn regex_like(name: &str, id8: &str) -> bool {
    let rest = name
        .strip_prefix("somiti-all-")
        .and_then(|r| r.strip_suffix(&format!("-manual-{id8}.zip")));
    rest.is_some_and(|r| {
        r.len() == 19 && chrono::NaiveDateTime::parse_from_str(r, "%Y-%m-%d_%H-%M-%S").is_ok()
    })
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

async fn sums(store: &Store) -> (i64, i64, i64) {
    somiti::on_store!(store, |p| sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT CAST((SELECT COALESCE(SUM(loan_paisa),0) FROM collections) AS BIGINT), \
         CAST((SELECT COALESCE(SUM(savings_paisa),0) FROM collections) AS BIGINT), \
         CAST((SELECT COALESCE(SUM(principal),0) FROM loans) AS BIGINT)"
    )
    .fetch_one(p)
    .await
    .unwrap())
}

/// A fresh, empty store of the other backend and this one: SQLite, and PostgreSQL when
/// a server is configured.
async fn targets() -> Vec<TestStore> {
    backends().await
}

async fn restoring_into_an_empty_database_gives_back_every_table(store: &Store) {
    let op = seeded(store, 60, 30, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let archive = b.path_of(&e.file);
    let source = dump(store).await;
    for t in targets().await {
        eprintln!("-- {} → {}", store.backend().as_str(), t.backend);
        let tdir = tempfile::tempdir().unwrap();
        let tb = engine(&t.store, tdir.path());
        // A brand-new database: no users, no organizations; the OS login may restore.
        let who = somiti::backup::operator(&t.store).await.unwrap();
        let opts = RestoreOptions {
            include_users: true,
            ..all_yes()
        };
        let r = tb
            .restore(
                &who,
                archive.to_str().unwrap(),
                &opts,
                &progress(),
                &never(),
            )
            .await
            .unwrap();
        assert!(!r.dry_run);
        let got = dump(&t.store).await;
        assert_same(
            &source,
            &got,
            &format!("{} → {}", store.backend().as_str(), t.backend),
        );
        if let (Store::Sqlite(..), Store::Sqlite(..)) = (store, &t.store) {
            assert_same(
                &raw_sqlite(store).await,
                &raw_sqlite(&t.store).await,
                "exact SQLite text",
            );
        }
        // The restored database works on: a new member gets a fresh id.
        let org = somiti::ledger::org::find_by_code(&t.store, "SOM1")
            .await
            .unwrap();
        let org = match org {
            Some(o) => o,
            None => somiti::ledger::org::list(&t.store).await.unwrap().remove(0),
        };
        add_member(&t.store, &org, member_input("NEW-1", today())).await;
        // The restore was audited; the audit log was not replaced.
        let a = audit::list(
            &t.store,
            &AuditFilter {
                action: Some("backup.restore".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].outcome, "ok");
        t.finish().await;
    }
}

async fn the_pre_restore_backup_undoes_a_restore_exactly(store: &Store) {
    let op = seeded(store, 30, 20, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let old = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let before_old = dump(store).await;
    // Change things after the backup.
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    add_member(store, &org, member_input("LATE-1", today())).await;
    let changed = dump(store).await;
    assert_ne!(ledger(&changed), ledger(&before_old));

    let r = b
        .restore(&op, &old.id, &all_yes(), &progress(), &never())
        .await
        .unwrap();
    assert_same(
        &ledger(&dump(store).await),
        &ledger(&before_old),
        "restored the old backup",
    );
    let pre = r.pre_restore.expect("a pre-restore backup");
    assert_eq!(pre.kind, BackupKind::PreRestore);
    assert_eq!(pre.status, BackupStatus::Completed);
    let members = r.tables.iter().find(|t| t.name == "members").unwrap();
    assert_eq!(members.rows_now, members.rows_backup + 1);

    // Undo: restore the pre-restore backup.
    b.restore(&op, &pre.id, &all_yes(), &progress(), &never())
        .await
        .unwrap();
    assert_same(&dump(store).await, &changed, "undone");
    // Two restores, two pre-restore backups, all catalogued.
    let all = catalogue::all(store).await.unwrap();
    assert_eq!(
        all.iter()
            .filter(|e| e.kind == BackupKind::PreRestore)
            .count(),
        2
    );
}

async fn an_organization_restore_leaves_other_organizations_untouched(store: &Store) {
    let op = seeded(store, 40, 20, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let full = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let orgs = somiti::ledger::org::list(store).await.unwrap();
    let (a, z) = (&orgs[0], &orgs[1]);
    let before = dump(store).await;
    // Both organizations change after the backup.
    add_member(store, a, member_input("A-LATE", today())).await;
    add_member(store, z, member_input("Z-LATE", today())).await;
    let after_changes = dump(store).await;

    let opts = RestoreOptions {
        org: Some(a.code.clone()),
        // The code exactly as shown (the word is case-sensitive).
        confirm: Confirm::Typed(a.code.clone()),
        ..Default::default()
    };
    let r = b
        .restore(&op, &full.id, &opts, &progress(), &never())
        .await
        .unwrap();
    assert_eq!(r.plan.org.as_deref(), Some(a.code.as_str()));
    let now = dump(store).await;
    // A is as in the backup; Z keeps its late member.
    let members_of = |d: &Dump, org: i64| -> Vec<String> {
        d["members"]
            .iter()
            .filter(|r| r.split('|').nth(1) == Some(&format!("Some({org})")))
            .cloned()
            .collect()
    };
    assert_eq!(members_of(&now, a.id), members_of(&before, a.id));
    assert_eq!(members_of(&now, z.id), members_of(&after_changes, z.id));
    assert!(members_of(&now, z.id).iter().any(|r| r.contains("Z-LATE")));
    assert_eq!(
        now["collections"], after_changes["collections"],
        "no collection changed"
    );
    // The pre-restore backup holds organization A only, and undoes it.
    let pre = r.pre_restore.unwrap();
    assert_eq!(pre.scope, a.code);
    let undo = RestoreOptions {
        org: Some(a.code.clone()),
        ..all_yes()
    };
    b.restore(&op, &pre.id, &undo, &progress(), &never())
        .await
        .unwrap();
    assert_same(
        &dump(store).await,
        &after_changes,
        "organization restore undone",
    );
}

async fn a_table_restore_that_would_orphan_rows_changes_nothing(store: &Store) {
    let op = seeded(store, 20, 10, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let old = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    let m = add_member(store, &org, member_input("NEWER", today())).await;
    somiti::ledger::collection::add(
        store,
        &somiti::access::Operator::system(),
        &org,
        &somiti::ledger::collection::CollectionInput {
            member_no: m.member_no.clone(),
            collected_on: Some(org.today()),
            loan_paisa: 100_00,
            savings_paisa: 0,
            note: String::new(),
        },
    )
    .await
    .unwrap();
    let before = dump(store).await;
    let files_before = files(&b.dir);
    // Restoring only members would leave the new member's collection pointing nowhere:
    // refused, rolled back, nothing changed.
    let opts = RestoreOptions {
        tables: Some(vec!["members".into()]),
        ..all_yes()
    };
    let e = b
        .restore(&op, &old.id, &opts, &progress(), &never())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("restoring only members, loans, withdrawals, savings_accounts, member_closures would leave 1 collection now in this database")
            && e.to_string().contains("members NEWER"),
        "{e}"
    );
    assert_same(&dump(store).await, &before, "nothing changed");
    // The restore did not commit: its pre-restore archive is gone too.
    let files_after = files(&b.dir);
    assert_eq!(files_after.len(), files_before.len());
    // Members and collections together go through.
    let opts = RestoreOptions {
        tables: Some(vec!["collections".into(), "members".into()]),
        ..all_yes()
    };
    b.restore(&op, &old.id, &opts, &progress(), &never())
        .await
        .unwrap();
    let now = dump(store).await;
    assert_eq!(now["members"].len(), before["members"].len() - 1);
    assert_eq!(now["workers"], before["workers"], "workers untouched");
    // `users` needs --include-users; unknown tables are named.
    let e = b
        .restore(
            &op,
            &old.id,
            &RestoreOptions {
                tables: Some(vec!["users".into()]),
                ..all_yes()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--include-users"), "{e}");
    let e = b
        .restore(
            &op,
            &old.id,
            &RestoreOptions {
                tables: Some(vec!["audit_log".into()]),
                ..all_yes()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("audit_log"), "{e}");
}

async fn a_dry_run_reports_rows_and_totals_and_changes_nothing(store: &Store) {
    let op = seeded(store, 20, 10, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let old = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    add_member(store, &org, member_input("DRY", today())).await;
    let before = dump(store).await;
    let files_before = files(&b.dir);
    let opts = RestoreOptions {
        dry_run: true,
        ..Default::default()
    };
    let r = b
        .restore(&op, &old.id, &opts, &progress(), &never())
        .await
        .unwrap();
    assert!(r.dry_run);
    assert!(r.pre_restore.is_none());
    let m = r.tables.iter().find(|t| t.name == "members").unwrap();
    assert_eq!(m.rows_now, m.rows_backup + 1);
    let l = r.tables.iter().find(|t| t.name == "loans").unwrap();
    assert_eq!(l.rows_now, l.rows_backup + 1, "the new member's first loan");
    assert_eq!(
        l.totals_now["principal"] - l.totals_backup["principal"],
        10_000_00
    );
    let c = r.tables.iter().find(|t| t.name == "collections").unwrap();
    assert!(
        c.totals_backup.contains_key("loan_paisa") && c.totals_backup.contains_key("savings_paisa")
    );
    assert_same(&dump(store).await, &before, "a dry run changes nothing");
    assert_eq!(
        files(&b.dir),
        files_before,
        "and writes nothing to the store"
    );
}

async fn verify_with_drill_passes_and_is_recorded_in_catalogue_and_audit(store: &Store) {
    let op = seeded(store, 30, 15, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let r = b
        .verify(&op, &e.id[..8], true, &progress(), &never())
        .await
        .unwrap();
    assert_eq!(r.result, VerifyResult::Ok);
    let drill = r.drill.expect("drill ran");
    assert_eq!(
        drill.len(),
        somiti::backup::schema::TABLES.len(),
        "every table drilled"
    );
    for (t, d) in r.tables.iter().zip(&drill) {
        assert_eq!((t.rows, &t.totals), (d.rows, &d.totals), "{}", t.name);
    }
    let now = catalogue::get(store, &e.id).await.unwrap().unwrap();
    assert_eq!(now.verify_result, Some(VerifyResult::Ok));
    assert!(now.verified_at.is_some());
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.verify".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].target.as_str(), a[0].outcome.as_str()),
        (e.id.as_str(), "ok")
    );
    // A viewer may not verify; the refusal is audited.
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    let v = viewer(store, &org).await;
    let err = b
        .verify(&v, &e.id, false, &progress(), &never())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
}

async fn a_second_backup_while_one_runs_is_busy_and_says_who(store: &Store) {
    let op = seeded(store, 10, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let held = lock::acquire(store, "restore", "rahim").await.unwrap();
    let files_before = files(&b.dir);
    for r in [
        b.create(&op, &CreateOptions::default(), &progress(), &never())
            .await
            .map(|_| ()),
        b.prune(&op, false).await.map(|_| ()),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Busy(_)), "{e}");
        assert_eq!(e.exit_code(), 5);
        let m = e.to_string();
        assert!(
            m.contains("restore by rahim since") && m.contains("pid"),
            "{m}"
        );
    }
    assert_eq!(files(&b.dir), files_before);
    held.release().await;
    b.create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
}

async fn an_organization_backup_holds_only_that_organization(store: &Store) {
    let op = seeded(store, 30, 10, 2).await;
    let orgs = somiti::ledger::org::list(store).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let opts = CreateOptions {
        scope: Scope::parse(&orgs[1].code.to_lowercase()).unwrap(),
        ..Default::default()
    };
    let e = b.create(&op, &opts, &progress(), &never()).await.unwrap();
    assert_eq!(e.scope, orgs[1].code);
    assert!(
        e.file.starts_with(&format!("somiti-{}-", orgs[1].code)),
        "{}",
        e.file
    );
    let ents = entries(&b.path_of(&e.file));
    assert!(
        !ents.iter().any(|(n, _)| n.contains("users")),
        "no users in an organization backup"
    );
    for (n, data) in &ents {
        if n.starts_with("data/") {
            for line in String::from_utf8(data.clone()).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let org = if n == "data/organizations.ndjson" {
                    &v["id"]
                } else {
                    &v["org_id"]
                };
                assert_eq!(org.as_i64(), Some(orgs[1].id), "{n}: {line}");
            }
        }
    }
    // A manager of that organization may back it up, not everything.
    let m = manager(store, &orgs[1]).await;
    b.create(&m, &opts, &progress(), &never()).await.unwrap();
    let err = b
        .create(&m, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    let err = b
        .create(
            &op,
            &CreateOptions {
                scope: Scope::parse("NOPE").unwrap(),
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NOPE"), "{err}");
}

async fn a_cancelled_backup_leaves_no_file_and_a_failed_entry(store: &Store) {
    let op = seeded(store, 10, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let cancel = never();
    cancel.cancel();
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &cancel)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert!(
        files(&b.dir).is_empty(),
        "no file left: {:?}",
        files(&b.dir).keys()
    );
    let all = catalogue::all(store).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].status.as_str(), all[0].error.as_deref()),
        ("failed", Some("cancelled"))
    );
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.create".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(a[0].outcome, "failed");
}

async fn restore_is_for_admins_and_needs_confirmation(store: &Store) {
    let op = seeded(store, 10, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let before = dump(store).await;
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    let m = manager(store, &org).await;
    let err = b
        .restore(&m, &e.id, &all_yes(), &progress(), &never())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    for confirm in [
        Confirm::No,
        Confirm::Typed("restore".into()),
        Confirm::Typed(org.code.clone()),
    ] {
        let opts = RestoreOptions {
            confirm,
            ..Default::default()
        };
        let err = b
            .restore(&op, &e.id, &opts, &progress(), &never())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("type RESTORE"), "{err}");
        assert_eq!(err.exit_code(), 4);
    }
    let opts = RestoreOptions {
        confirm: Confirm::Typed("RESTORE".into()),
        ..Default::default()
    };
    b.restore(&op, &e.id, &opts, &progress(), &never())
        .await
        .unwrap();
    let after = dump(store).await;
    assert_same(&ledger(&after), &ledger(&before), "same data back");
    let refused = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.restore".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(refused.iter().filter(|a| a.outcome == "refused").count(), 4);
    assert_eq!(refused.iter().filter(|a| a.outcome == "ok").count(), 1);
}

async fn a_restore_into_an_organization_with_another_id_is_refused(store: &Store) {
    // A backup of organization SOM1 from one database …
    let (src, sdir) = sqlite_store().await;
    let op_src = seeded(&src, 10, 5, 1).await;
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
    // … into another where that code has a different id.
    let op = admin(store).await;
    make_org(store, "FIRST").await;
    make_org(store, &code).await;
    let before = dump(store).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let opts = RestoreOptions {
        org: Some(code.clone()),
        ..all_yes()
    };
    let err = b
        .restore(
            &op,
            sb.path_of(&e.file).to_str().unwrap(),
            &opts,
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another database"), "{err}");
    assert_same(&dump(store).await, &before, "nothing changed");
    src.close().await;
}

async fn a_backup_taken_while_members_and_collections_are_added_is_one_snapshot(store: &Store) {
    let op = seeded(store, 20_000, 2, 1).await;
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A writer adds a member and then a collection for it, over and over.
    let writer = {
        let (store, org, stop) = (store.clone(), org.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let m = add_member(&store, &org, member_input(&format!("W{n}"), today())).await;
                somiti::ledger::collection::add(
                    &store,
                    &somiti::access::Operator::system(),
                    &org,
                    &somiti::ledger::collection::CollectionInput {
                        member_no: m.member_no,
                        collected_on: Some(org.today()),
                        loan_paisa: 0,
                        savings_paisa: 5_00,
                        note: String::new(),
                    },
                )
                .await
                .unwrap();
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    eprintln!("{written} members and collections written during the backup");
    assert!(written > 0, "the writer ran during the backup");
    // One snapshot: every collection's member is in the archive (verify checks it), and
    // the totals agree with the rows.
    b.verify(&op, &e.id, false, &progress(), &never())
        .await
        .unwrap();
    let ents = entries(&b.path_of(&e.file));
    let members: std::collections::HashSet<i64> = String::from_utf8(
        ents.iter()
            .find(|(n, _)| n == "data/members.ndjson")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap()
    .lines()
    .map(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
            .as_i64()
            .unwrap()
    })
    .collect();
    let text = String::from_utf8(
        ents.iter()
            .find(|(n, _)| n == "data/collections.ndjson")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(members.contains(&v["member_id"].as_i64().unwrap()), "{l}");
    }
}
