//! Every answer of the backup engine is true (issue 11): archives are known by the id their
//! manifest carries, never by a file name; the lock makes a second operation busy at once;
//! entry numbers never go back after a restore; a pre-restore archive says which restore it
//! undoes, ages out, and is gone when its restore did not commit; instants round-trip
//! between the backends exactly.

mod backup_support;
mod common;

use std::time::{Duration, Instant};

use backup_support::*;
use chrono::Utc;
use somiti::backup::{BackupKind, Confirm, CreateOptions, RestoreOptions, catalogue, lock};
use somiti::backup::{BackupStatus, VerifyResult};
use somiti::db::Store;
use somiti::ledger::collection::{self, CollectionInput};
use somiti::ledger::org;
use somiti::on_store;

on_both_backends!(
    archive_names_carry_the_backup_id,
    a_failed_entry_that_shares_a_file_name_never_deletes_the_good_archive,
    a_failed_entry_without_a_file_can_be_deleted,
    a_copy_under_a_second_name_is_listed_beside_the_original_with_a_warning,
    a_held_lock_makes_every_backup_operation_busy_at_once,
    entry_numbers_move_forward_after_a_restore,
    a_pre_restore_archive_says_which_restore_it_undoes,
    a_restore_that_fails_before_its_commit_leaves_no_pre_restore_archive,
    old_pre_restore_archives_age_out_but_the_newest_stays,
);

async fn archive_names_carry_the_backup_id(store: &Store) {
    let op = seeded(store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let mut names = Vec::new();
    for _ in 0..3 {
        let e = b
            .create(&op, &CreateOptions::default(), &progress(), &never())
            .await
            .unwrap();
        assert!(
            e.file.ends_with(&format!("-manual-{}.zip", e.short_id())),
            "{}",
            e.file
        );
        names.push(e.file);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "three backups in one second, three files");
}

/// A value for `set_catalogue`: text, or an instant (a real timestamp on PostgreSQL).
enum B<'a> {
    T(&'a str),
    At(chrono::DateTime<Utc>),
}

async fn set_catalogue(store: &Store, sql: &str, binds: &[B<'_>]) {
    on_store!(store, |p| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                B::T(s) => q.bind(*s),
                B::At(t) => q.bind(*t),
            };
        }
        q.execute(p).await.unwrap();
    });
}

/// A run that died left its file name in the catalogue, and a completed, pinned backup
/// has that very name (as names were before they carried the id): deleting the failed
/// entry leaves the good archive where it is.
async fn a_failed_entry_that_shares_a_file_name_never_deletes_the_good_archive(store: &Store) {
    let op = seeded(store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let good = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    b.pin(&op, &good.id, true).await.unwrap();
    let ghost = uuid::Uuid::new_v4().to_string();
    set_catalogue(
        store,
        "INSERT INTO backups (id, file, kind, scope, status, error, created_at, created_by, encrypted, pinned) \
         VALUES ($1, $2, 'manual', 'all', 'failed', 'interrupted: the process ended before the backup was complete', $3, 'boss', false, false)",
        &[B::T(&ghost), B::T(&good.file), B::At(Utc::now())],
    )
    .await;
    let listed = b.list(&op).await.unwrap();
    let g = listed.backups.iter().find(|e| e.id == good.id).unwrap();
    assert_eq!(g.status, BackupStatus::Completed);
    assert!(g.missing_since.is_none());
    let d = b.delete(&op, &ghost[..8]).await.unwrap();
    assert_eq!(d.status, BackupStatus::Deleted);
    assert!(
        b.path_of(&good.file).is_file(),
        "the pinned archive is still there"
    );
    let listed = b.list(&op).await.unwrap();
    let g = listed.backups.iter().find(|e| e.id == good.id).unwrap();
    assert_eq!(g.status, BackupStatus::Completed);
    assert!(g.pinned && g.missing_since.is_none(), "{g:?}");
    let r = b
        .verify(&op, &good.id, false, &progress(), &never())
        .await
        .unwrap();
    assert_eq!(r.result, VerifyResult::Ok);
}

async fn a_failed_entry_without_a_file_can_be_deleted(store: &Store) {
    let op = seeded(store, 4, 2, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    b.ensure_dir().unwrap();
    let ghost = uuid::Uuid::new_v4().to_string();
    set_catalogue(
        store,
        "INSERT INTO backups (id, file, kind, scope, status, error, created_at, created_by, encrypted, pinned) \
         VALUES ($1, 'somiti-all-2026-01-01_00-00-00-manual.zip', 'manual', 'all', 'failed', 'disk full', $2, 'boss', false, false)",
        &[B::T(&ghost), B::At(Utc::now())],
    )
    .await;
    let d = b.delete(&op, &ghost).await.unwrap();
    assert_eq!(d.status, BackupStatus::Deleted);
    let e = b.delete(&op, &ghost).await.unwrap_err();
    assert!(e.to_string().contains("no backup"), "{e}");
}

async fn a_copy_under_a_second_name_is_listed_beside_the_original_with_a_warning(store: &Store) {
    let op = seeded(store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    std::fs::copy(b.path_of(&e.file), b.path_of("copy-of-it.zip")).unwrap();
    for _ in 0..2 {
        let r = b.list(&op).await.unwrap();
        let original = r.backups.iter().find(|x| x.id == e.id).unwrap();
        assert_eq!(original.file, e.file, "the original stays listed");
        assert_eq!(original.status, BackupStatus::Completed);
        assert_eq!(r.duplicates.len(), 1, "{:?}", r.duplicates);
        let d = &r.duplicates[0];
        assert_eq!(
            (d.id.as_str(), d.file.as_str()),
            (e.id.as_str(), "copy-of-it.zip")
        );
        assert!(d.warning().contains(&e.file), "{}", d.warning());
    }
    // Deleting the backup removes the file the catalogue knows; the copy then takes over.
    b.delete(&op, &e.id).await.unwrap();
    assert!(!b.path_of(&e.file).exists());
    assert!(b.path_of("copy-of-it.zip").exists());
}

async fn a_held_lock_makes_every_backup_operation_busy_at_once(store: &Store) {
    let op = seeded(store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let held = lock::acquire(store, lock::RESTORE, "rahim").await.unwrap();
    let yes = RestoreOptions {
        confirm: Confirm::Yes,
        ..Default::default()
    };
    let start = Instant::now();
    let errs = [
        b.create(&op, &CreateOptions::default(), &progress(), &never())
            .await
            .map(|_| ())
            .unwrap_err(),
        b.restore(&op, &e.id, &yes, &progress(), &never())
            .await
            .map(|_| ())
            .unwrap_err(),
        b.prune(&op, false).await.map(|_| ()).unwrap_err(),
        b.delete(&op, &e.id).await.map(|_| ()).unwrap_err(),
    ];
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    for x in errs {
        assert_eq!(x.exit_code(), 5, "{x}");
        assert!(x.to_string().contains("restore by rahim since"), "{x}");
    }
    held.release().await;
    b.delete(&op, &e.id).await.unwrap();
}

/// Savings of `poisha` for member `no` on `date`.
async fn pay(
    store: &Store,
    op: &somiti::access::Operator,
    o: &org::Organization,
    no: &str,
    date: chrono::NaiveDate,
    poisha: i64,
) -> collection::Collection {
    collection::add(
        store,
        op,
        o,
        &CollectionInput {
            member_no: no.to_string(),
            collected_on: Some(date),
            loan_paisa: 0,
            savings_paisa: poisha,
            note: String::new(),
        },
    )
    .await
    .unwrap()
}

async fn max_id(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(p)
    .await
    .unwrap())
}

/// Collections and members added after a backup, then the backup restored: new entries
/// get numbers above every number handed out before, so a receipt never points at another
/// payment.
async fn entry_numbers_move_forward_after_a_restore(store: &Store) {
    let op = seeded(store, 8, 4, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let o = org::list(store).await.unwrap().remove(0);
    let today = o.today();
    let mut input = common::member_input("900", today);
    input.worker = String::new();
    let m = common::add_member(store, &o, input).await;
    for k in 0..3 {
        pay(store, &op, &o, &m.member_no, today, 100 + k).await;
    }
    let (top_c, top_m) = (
        max_id(store, "collections").await,
        max_id(store, "members").await,
    );
    b.restore(
        &op,
        &e.id,
        &RestoreOptions {
            confirm: Confirm::Yes,
            ..Default::default()
        },
        &progress(),
        &never(),
    )
    .await
    .unwrap();
    assert!(
        max_id(store, "collections").await < top_c,
        "the restore went back"
    );
    let mut input = common::member_input("901", today);
    input.worker = String::new();
    let m2 = common::add_member(store, &o, input).await;
    assert!(m2.id > top_m, "member id {} after {top_m}", m2.id);
    let c = pay(store, &op, &o, &m2.member_no, today, 500).await;
    assert!(c.id > top_c, "entry #{} after #{top_c}", c.id);
}

async fn a_pre_restore_archive_says_which_restore_it_undoes(store: &Store) {
    let op = seeded(store, 8, 4, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let r = b
        .restore(
            &op,
            &e.id,
            &RestoreOptions {
                tables: Some(vec!["members".into(), "collections".into()]),
                confirm: Confirm::Yes,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let pre = r.pre_restore.expect("a pre-restore backup");
    assert_eq!(pre.kind, BackupKind::PreRestore);
    let u = pre.undoes().expect("it says what it undoes");
    assert_eq!(u.backup_id, e.id);
    assert_eq!(u.file, e.file);
    // the members' accounts travel with them
    assert_eq!(
        u.scope,
        "tables members, loans, collections, withdrawals, savings_accounts, member_closures"
    );
    assert_eq!(u.by, op.username);
    assert!(u.describe().contains(e.short_id()), "{}", u.describe());
    // The catalogue rebuilt from the store alone knows it too (it is in the manifest).
    set_catalogue(store, "DELETE FROM backups", &[]).await;
    let listed = b.list(&op).await.unwrap();
    let again = listed.backups.iter().find(|x| x.id == pre.id).unwrap();
    assert_eq!(again.undoes(), Some(u));
}

/// A tables restore that would orphan rows is refused after the pre-restore archive was
/// written: that archive goes too (it would undo a restore that never happened).
async fn a_restore_that_fails_before_its_commit_leaves_no_pre_restore_archive(store: &Store) {
    let op = seeded(store, 8, 4, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let o = org::list(store).await.unwrap().remove(0);
    let mut input = common::member_input("777", o.today());
    input.worker = String::new();
    let m = common::add_member(store, &o, input).await;
    pay(store, &op, &o, &m.member_no, o.today(), 100).await;
    let files_before = files(&b.dir);
    let err = b
        .restore(
            &op,
            &e.id,
            &RestoreOptions {
                tables: Some(vec!["members".into()]),
                confirm: Confirm::Yes,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert_eq!(
        files(&b.dir),
        files_before,
        "no pre-restore archive is left"
    );
    let pre: Vec<_> = catalogue::all(store)
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.kind == BackupKind::PreRestore)
        .collect();
    assert!(pre.is_empty(), "{pre:?}");
}

async fn old_pre_restore_archives_age_out_but_the_newest_stays(store: &Store) {
    let op = seeded(store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    b.keep_pre_restore_days = 30;
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let yes = RestoreOptions {
        confirm: Confirm::Yes,
        ..Default::default()
    };
    let mut pre = Vec::new();
    for _ in 0..3 {
        let r = b
            .restore(&op, &e.id, &yes, &progress(), &never())
            .await
            .unwrap();
        pre.push(r.pre_restore.unwrap());
    }
    // All three older than the 30 days; pre[2] the newest of them.
    for (p, days) in pre.iter().zip([40, 40, 35]) {
        let at = Utc::now() - chrono::TimeDelta::days(days);
        set_catalogue(
            store,
            "UPDATE backups SET created_at = $1 WHERE id = $2",
            &[B::At(at), B::T(&p.id)],
        )
        .await;
    }
    let dry = b.prune(&op, true).await.unwrap();
    let line = |id: &str| dry.lines.iter().find(|l| l.id == id).unwrap().clone();
    assert!(!line(&pre[0].id).keep, "{:?}", line(&pre[0].id));
    assert!(line(&pre[0].id).reasons[0].contains("older than keep_pre_restore_days 30"));
    assert!(line(&pre[2].id).keep);
    assert!(
        line(&pre[2].id)
            .reasons
            .iter()
            .any(|r| r == "newest pre-restore backup")
    );
    let r = b.prune(&op, false).await.unwrap();
    assert_eq!(r.removed, 2);
    assert!(!b.path_of(&pre[0].file).exists() && !b.path_of(&pre[1].file).exists());
    assert!(b.path_of(&pre[2].file).exists());
    assert!(b.path_of(&e.file).exists(), "the manual backup stays");
}

/// PostgreSQL → SQLite → PostgreSQL: every row, instants included, comes back exactly as
/// it was (both backends keep microseconds).
#[tokio::test]
async fn instants_round_trip_postgres_sqlite_postgres_exactly() {
    let Some(pg) = common::TestStore::postgres().await else {
        return;
    };
    let op = seeded(&pg.store, 6, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(&pg.store, dir.path());
    let first = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let lite = common::TestStore::sqlite().await;
    let bl = engine(&lite.store, dir.path());
    let yes = RestoreOptions {
        confirm: Confirm::Yes,
        include_users: true,
        ..Default::default()
    };
    let admin = somiti::access::Operator {
        username: op.username.clone(),
        full_name: String::new(),
        role: somiti::access::Role::Admin,
        org_id: None,
    };
    bl.restore(&admin, &first.id, &yes, &progress(), &never())
        .await
        .unwrap();
    let second = bl
        .create(&admin, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let pg2 = common::TestStore::postgres().await.unwrap();
    let b2 = engine(&pg2.store, dir.path());
    b2.restore(&admin, &second.id, &yes, &progress(), &never())
        .await
        .unwrap();
    let third = b2
        .create(&admin, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let data = |file: &str| -> Vec<(String, Vec<u8>)> {
        entries(&b.path_of(file))
            .into_iter()
            .filter(|(n, _)| n.starts_with("data/") && !n.contains("users"))
            .collect()
    };
    let (a, c) = (data(&first.file), data(&third.file));
    for ((n1, d1), (n3, d3)) in a.iter().zip(&c) {
        assert_eq!(n1, n3);
        assert_eq!(
            String::from_utf8_lossy(d1),
            String::from_utf8_lossy(d3),
            "{n1} differs after PostgreSQL → SQLite → PostgreSQL"
        );
    }
    lite.finish().await;
    pg2.finish().await;
    pg.finish().await;
}
