//! Live data across processes, on both backends: a watcher on one store handle sees what
//! another handle (or the real `somiti` binary, a second process) commits within 2 s, with
//! table, row count and actor; an edit made from a stale copy is refused naming who changed
//! the row and when, and writes nothing; a restore is announced as a restore. Also: a
//! database at migration 0006 with rows gets row versions (0007) without losing a row.

// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

mod common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use common::*;
use serde_json::Value;
use somiti::access::Operator;
use somiti::db::Store;
use somiti::db::changes::{Change, Watcher};
use somiti::error::Error;
use somiti::ledger::collection::{self, CollectionInput};
use somiti::ledger::member;
use somiti::ledger::org;

/// What a console must see within: the "within 2 seconds".
const WITHIN: Duration = Duration::from_secs(2);

/// A second handle on the same database, as another console would have.
async fn second_handle(store: &Store) -> Store {
    match store {
        Store::Sqlite(_, path) => Store::open_sqlite(path).await.unwrap(),
        Store::Postgres(pool, label) => {
            let opts = (*pool.connect_options()).clone();
            let p = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect_with(opts)
                .await
                .unwrap();
            Store::Postgres(p, label.clone())
        }
    }
}

/// Changes from `w` until `done` holds for all seen so far; fails after `WITHIN`.
async fn seen_within(w: &mut Watcher, done: impl Fn(&[Change]) -> bool) -> Vec<Change> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    let mut all = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(r) => {
                all.extend(r.expect("watching"));
                if done(&all) {
                    return all;
                }
            }
            Err(_) => panic!("not seen within {WITHIN:?}; seen: {all:?}"),
        }
    }
}

fn rows_of(all: &[Change], table: &str) -> i64 {
    all.iter().filter_map(|c| c.tables.get(table)).sum()
}

fn entry(no: &str, loan: i64) -> CollectionInput {
    CollectionInput {
        member_no: no.into(),
        collected_on: None,
        loan_paisa: loan,
        savings_paisa: 0,
        note: String::new(),
    }
}

async fn a_watcher_sees_what_another_handle_commits(a: &Store) {
    let o = make_org(a, "DHK").await;
    let boss = manager(a, &o).await;
    let joined = days_before(o.today(), 10);
    add_member(a, &o, member_input("1", joined)).await;
    let b = second_handle(a).await;
    let mut w = a.watch().await.unwrap();
    assert!(w.poll().await.unwrap().is_empty(), "nothing new yet");
    for _ in 0..3 {
        collection::add(&b, &boss, &o, &entry("1", 100_00))
            .await
            .unwrap();
    }
    let all = seen_within(&mut w, |all| rows_of(all, "collections") >= 3).await;
    assert_eq!(rows_of(&all, "collections"), 3, "{all:?}");
    assert!(all.iter().all(|c| c.actor == boss.username), "{all:?}");
    assert!(all.iter().all(|c| c.action == "collection.add"), "{all:?}");
    assert_eq!(all[0].org_code.as_deref(), Some("DHK"));
    assert_eq!(
        somiti::db::changes::summary(&all),
        format!("3 collections by {}", boss.username)
    );
    // seen once only
    assert!(w.poll().await.unwrap().is_empty());
    // a refused write leaves nothing to announce
    let bad = collection::add(&b, &boss, &o, &entry("nobody", 100_00)).await;
    assert!(bad.is_err());
    assert!(w.poll().await.unwrap().is_empty());
    drop(w);
    b.close().await;
}

async fn a_stale_member_edit_is_refused_naming_who_and_when(a: &Store) {
    let o = make_org(a, "DHK").await;
    let rahim = manager(a, &o).await;
    let karim = make_operator(a, "karim", somiti::access::Role::Manager, Some(o.id)).await;
    let m = add_member(a, &o, member_input("1", days_before(o.today(), 5))).await;
    assert_eq!(m.version, 1);
    let b = second_handle(a).await;
    // console A opens the edit form (reads version 1); console B changes the mobile
    let opened = member::get(a, m.id).await.unwrap();
    let mut on_b = member_input("1", m.joined_on);
    on_b.nid = m.nid.clone();
    on_b.mobile = "01812345678".into();
    let after_b = member::update(&b, &karim, &o, m.id, opened.version, &on_b)
        .await
        .unwrap();
    assert_eq!(after_b.version, 2);
    assert_eq!(after_b.updated_by.as_deref(), Some("karim"));
    // A saves a savings change from its stale form: refused, names karim and when
    let mut on_a = member_input("1", m.joined_on);
    on_a.nid = m.nid.clone();
    on_a.daily_savings = 50_00;
    let e = member::update(a, &rahim, &o, m.id, opened.version, &on_a)
        .await
        .unwrap_err();
    let Error::Stale { by, at, .. } = &e else {
        panic!("expected a stale refusal, got {e}")
    };
    assert_eq!(by, "karim");
    let when = o.local_minute(after_b.updated_at.unwrap());
    assert_eq!(at, &format!("{when} (Dhaka)"));
    let text = e.to_string();
    assert!(
        text.contains("karim") && text.contains("reload") && text.contains("1"),
        "{text}"
    );
    assert_eq!(e.exit_code(), 4);
    // nothing written: B's mobile stays, A's savings did not land, the version is B's
    let now = member::get(a, m.id).await.unwrap();
    assert_eq!(now.mobile, "01812345678");
    assert_eq!(now.daily_savings, m.daily_savings);
    assert_eq!(now.version, 2);
    // with the version reloaded, the same change saves
    let saved = member::update(a, &rahim, &o, m.id, now.version, &{
        let mut i = on_a.clone();
        i.mobile = now.mobile.clone();
        i
    })
    .await
    .unwrap();
    assert_eq!(saved.version, 3);
    assert_eq!(saved.mobile, "01812345678");
    assert_eq!(saved.daily_savings, 50_00);
    b.close().await;
}

async fn workers_are_edited_and_deactivated_guarded_by_version(s: &Store) {
    let o = make_org(s, "DHK").await;
    let boss = manager(s, &o).await;
    let karim = field_worker(s, &o, "Karim").await;
    assert!(karim.active && karim.version == 1);
    let edit = org::WorkerEdit {
        name: Some("Karim Uddin".into()),
        mobile: Some("01712345678".into()),
    };
    let w = org::edit_worker(s, &boss, &o, "karim", &edit, Some(1))
        .await
        .unwrap();
    assert_eq!((w.name.as_str(), w.version), ("Karim Uddin", 2));
    // a script that looked at version 1 is refused, and nothing changes
    let e = org::set_worker_active(s, &boss, &o, &w.id.to_string(), false, Some(1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Stale { .. }), "{e}");
    assert!(
        org::find_worker(s, o.id, "Karim Uddin")
            .await
            .unwrap()
            .active
    );
    let off = org::set_worker_active(s, &boss, &o, "Karim Uddin", false, None)
        .await
        .unwrap();
    assert!(!off.active);
    assert_eq!(off.version, 3);
    // a deactivated worker gets no new member; one who had them keeps them
    let mut input = member_input("2", days_before(o.today(), 1));
    input.worker = "Karim Uddin".into();
    let e = member::add(s, &Operator::system(), &o, &input)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("deactivated"), "{e}");
    org::set_worker_active(s, &boss, &o, "Karim Uddin", true, None)
        .await
        .unwrap();
    let m = member::add(s, &Operator::system(), &o, &input)
        .await
        .unwrap();
    org::set_worker_active(s, &boss, &o, "Karim Uddin", false, None)
        .await
        .unwrap();
    let mut again = input.clone();
    again.name = "Still Karim's".into();
    let kept = member::update(s, &boss, &o, m.id, m.version, &again)
        .await
        .unwrap();
    assert_eq!(kept.worker_id, Some(w.id));
    // another worker's name is not taken twice
    field_worker(s, &o, "Salma").await;
    let e = org::edit_worker(
        s,
        &boss,
        &o,
        "salma",
        &org::WorkerEdit {
            name: Some("karim uddin".into()),
            mobile: None,
        },
        None,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("already called"), "{e}");
}

on_both_backends!(
    a_watcher_sees_what_another_handle_commits,
    a_stale_member_edit_is_refused_naming_who_and_when,
    workers_are_edited_and_deactivated_guarded_by_version,
);

// ---- the real binary as the second process ------------------------------------------------

fn somiti(data_dir: &Path, url: Option<&str>) -> Command {
    let mut c = Command::cargo_bin("somiti").expect("binary");
    c.arg("--data-dir").arg(data_dir);
    c.env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_OPERATOR")
        .env_remove("SOMITI_CONFIG");
    if let Some(u) = url {
        c.arg("--database").arg(u);
    }
    c
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The binary changes, edits stale, and restores; a watcher in this process sees each
/// within 2 s, as not its own, by the binary's operator.
async fn the_binary_is_seen_by_a_watcher(url: Option<String>) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let url = url.as_deref();
    somiti(d, url)
        .args(["init", "--org-code", "DHK", "--org-name", "Dhaka Somiti"])
        .assert()
        .success();
    let store = match url {
        Some(u) => Store::open(u).await.unwrap(),
        None => Store::open_sqlite(&d.join("somiti.db")).await.unwrap(),
    };
    let me: String =
        somiti::on_store!(&store, |p| sqlx::query_scalar("SELECT username FROM users")
            .fetch_one(p)
            .await
            .unwrap());
    let mut w = store.watch().await.unwrap();

    somiti(d, url)
        .args(["worker", "add", "Karim"])
        .assert()
        .success();
    somiti(d, url)
        .args([
            "member",
            "add",
            "--no",
            "1",
            "--name",
            "রহিমা খাতুন",
            "--nid",
            "1234567890",
            "--mobile",
            "01712345678",
            "--worker",
            "Karim",
        ])
        .assert()
        .success();
    let all = seen_within(&mut w, |all| {
        rows_of(all, "members") >= 1 && rows_of(all, "workers") >= 1
    })
    .await;
    assert!(all.iter().all(|c| !c.own && c.actor == me), "{all:?}");

    // the binary edits with the version it read; a stale --expect-version is refused
    let edited = json_of(somiti(d, url).args([
        "member",
        "edit",
        "1",
        "--mobile",
        "01812345678",
        "--expect-version",
        "1",
        "--json",
    ]));
    assert_eq!(edited["version"], 2);
    seen_within(&mut w, |all| rows_of(all, "members") >= 1).await;
    let out = somiti(d, url)
        .args([
            "member",
            "edit",
            "1",
            "--savings",
            "50",
            "--expect-version",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&me) && err.contains("(Dhaka)"), "{err}");
    let o = org::find_by_code(&store, "DHK").await.unwrap().unwrap();
    let m = member::find_by_no(&store, &o, "1").await.unwrap();
    assert_eq!(
        (m.version, m.daily_savings, m.mobile.as_str()),
        (2, 0, "01812345678")
    );
    assert!(
        w.poll().await.unwrap().is_empty(),
        "the refusal changed nothing"
    );

    // a restore from the command line is announced as one
    let b = json_of(somiti(d, url).args(["backup", "create", "--json"]));
    let id = b["id"].as_str().expect("backup id").to_string();
    // the catalogue is announced too, so an open Backups tab reloads
    let all = seen_within(&mut w, |all| rows_of(all, "backups") >= 1).await;
    assert!(all.iter().all(|c| !c.own), "{all:?}");
    somiti(d, url)
        .args(["backup", "pin", &id])
        .assert()
        .success();
    let all = seen_within(&mut w, |all| rows_of(all, "backups") >= 1).await;
    assert!(
        somiti::db::changes::summary(&all).contains("backup"),
        "{}",
        somiti::db::changes::summary(&all)
    );
    somiti(d, url)
        .args(["backup", "unpin", &id])
        .assert()
        .success();
    somiti(d, url)
        .args(["member", "edit", "1", "--name", "Rahima"])
        .assert()
        .success();
    somiti(d, url)
        .args(["backup", "restore", &id, "--yes"])
        .assert()
        .success();
    let all = seen_within(&mut w, |all| all.iter().any(Change::is_restore)).await;
    let r = all.iter().find(|c| c.is_restore()).unwrap();
    assert_eq!(r.actor, me);
    assert!(r.tables.get("members").is_some_and(|n| *n >= 1), "{r:?}");
    assert_eq!(
        somiti::db::changes::summary(std::slice::from_ref(r)),
        format!("restore by {me}")
    );
    let m = member::find_by_no(&store, &o, "1").await.unwrap();
    assert_eq!(m.name, "রহিমা খাতুন", "the restored name");
    // versions moved past every one before the restore: a copy read before it is stale
    assert_eq!(m.version, 4, "restored at 1, moved past 3");
    somiti(d, url)
        .args([
            "member",
            "edit",
            "1",
            "--savings",
            "40",
            "--expect-version",
            "3",
        ])
        .assert()
        .code(4);
    drop(w);
    store.close().await;
    if let Some(u) = url {
        drop_pg_database(u).await;
    }
}

#[tokio::test]
async fn sqlite_the_binary_is_seen_by_a_watcher() {
    the_binary_is_seen_by_a_watcher(None).await;
}

#[tokio::test]
async fn postgres_the_binary_is_seen_by_a_watcher() {
    if let Some(url) = fresh_pg_url().await {
        the_binary_is_seen_by_a_watcher(Some(url)).await;
    }
}

// ---- migration 0007 on a populated database -----------------------------------------------

#[tokio::test]
async fn a_database_at_0006_with_rows_gets_row_versions_keeping_every_row() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("somiti.db");
    {
        let mut c = common::sqlite_through_migration(&path, 6).await;
        sqlx::raw_sql(
            "INSERT INTO organizations (id, code, name, created_at) VALUES (1, 'OLD', 'Old Somiti', '2026-01-01T00:00:00+00:00');
             INSERT INTO workers (id, org_id, name) VALUES (1, 1, 'Karim');
             INSERT INTO members (id, org_id, member_no, name, nid, mobile, worker_id, loan_amount, daily_installment, daily_savings, joined_on)
               VALUES (1, 1, '1', 'রহিমা খাতুন', '1234567890', '01712345678', 1, 1000000, 10000, 2000, '2026-01-01'),
                      (7, 1, '2', 'Karim', '1234567891', '01712345679', 1, 0, 0, 2000, '2026-01-01');
             INSERT INTO users (id, username, role, created_at) VALUES (3, 'boss', 'admin', '2026-01-01T00:00:00+00:00');",
        )
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    let store = Store::open_sqlite(&path).await.unwrap();
    let o = org::find_by_code(&store, "OLD").await.unwrap().unwrap();
    let m = member::find_by_no(&store, &o, "1").await.unwrap();
    assert_eq!(m.name, "রহিমা খাতুন");
    assert_eq!((m.version, m.updated_by.as_deref()), (1, None));
    let karim = member::find_by_no(&store, &o, "2").await.unwrap();
    assert_eq!((karim.id, karim.version), (7, 1));
    let w = org::find_worker(&store, o.id, "Karim").await.unwrap();
    assert_eq!((w.version, w.active), (1, true));
    let boss = Operator {
        username: "boss".into(),
        full_name: String::new(),
        role: somiti::access::Role::Admin,
        org_id: None,
    };
    let mut edit = member_input("1", m.joined_on);
    edit.nid = m.nid.clone();
    edit.name = m.name.clone();
    edit.worker = "Karim".into();
    let after = member::update(&store, &boss, &o, m.id, 1, &edit)
        .await
        .unwrap();
    assert_eq!(
        (after.version, after.updated_by.as_deref()),
        (2, Some("boss"))
    );
    let logged: i64 = somiti::on_store!(&store, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM change_log WHERE actor = 'boss' AND action = 'member.edit'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(logged, 1);
    store.close().await;
}
