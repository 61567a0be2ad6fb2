//! The acceptance check at full size, run by hand in release:
//! `cargo test --release --test backup_big -- --ignored --nocapture`
//! 3,000 members over 365 days: the archive passes `unzip -t` and `python3 -m json.tool`,
//! restores into an empty SQLite and PostgreSQL database equal to the source, the other
//! way round too, and the pre-restore backup brings the database back exactly.

mod backup_support;
mod common;

use std::time::Instant;

use backup_support::*;
use somiti::backup::{Confirm, CreateOptions, Passphrase, RestoreOptions};
use somiti::db::Store;

fn everything() -> RestoreOptions {
    RestoreOptions {
        include_users: true,
        confirm: Confirm::Yes,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "full size; run by hand in release"]
async fn a_3000_member_365_day_database_round_trips_through_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let src = Store::open_sqlite(&dir.path().join("src.db"))
        .await
        .unwrap();
    let op = common::admin(&src).await;
    let t = Instant::now();
    somiti::demo::generate(
        &src,
        "test",
        &somiti::demo::DemoOptions {
            members: 3000,
            days: 365,
            orgs: 3,
            seed: 11,
        },
        today(),
    )
    .await
    .unwrap();
    eprintln!("demo data: {:.1}s", t.elapsed().as_secs_f64());
    let source = dump(&src).await;
    for (k, v) in &source {
        eprintln!("  {k}: {} rows", v.len());
    }

    let b = engine(&src, dir.path());
    let t = Instant::now();
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    eprintln!(
        "backup: {} bytes, {} rows in {:.2}s ({})",
        e.size_bytes.unwrap(),
        e.total_rows.unwrap(),
        t.elapsed().as_secs_f64(),
        e.file
    );
    let path = b.path_of(&e.file);
    let out = std::process::Command::new("unzip")
        .arg("-t")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    eprintln!(
        "unzip -t: {}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
    );
    let m = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&path)
        .arg("manifest.json")
        .arg("-d")
        .arg(m.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let j = std::process::Command::new("python3")
        .args(["-m", "json.tool"])
        .arg(m.path().join("manifest.json"))
        .output()
        .unwrap();
    assert!(j.status.success(), "python3 -m json.tool");
    eprintln!("python3 -m json.tool: ok");

    let t = Instant::now();
    b.verify(&op, &e.id, true, &progress(), &never())
        .await
        .unwrap();
    eprintln!("verify --drill: {:.2}s", t.elapsed().as_secs_f64());

    // SQLite → empty SQLite.
    let (empty, edir) = common::sqlite_store().await;
    let eb = engine(&empty, edir.path());
    let who = somiti::backup::operator(&empty).await.unwrap();
    let t = Instant::now();
    eb.restore(
        &who,
        path.to_str().unwrap(),
        &everything(),
        &progress(),
        &never(),
    )
    .await
    .unwrap();
    eprintln!(
        "restore SQLite → empty SQLite: {:.2}s",
        t.elapsed().as_secs_f64()
    );
    assert_same(&source, &dump(&empty).await, "SQLite → SQLite");
    assert_same(
        &raw_sqlite(&src).await,
        &raw_sqlite(&empty).await,
        "SQLite → SQLite, exact text",
    );

    // SQLite → empty PostgreSQL, and back from a PostgreSQL backup.
    if let Some(pg) = common::TestStore::postgres().await {
        let pb = engine(&pg.store, dir.path().join("pg").as_path());
        let who = somiti::backup::operator(&pg.store).await.unwrap();
        let t = Instant::now();
        pb.restore(
            &who,
            path.to_str().unwrap(),
            &everything(),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
        eprintln!(
            "restore SQLite → empty PostgreSQL: {:.2}s",
            t.elapsed().as_secs_f64()
        );
        assert_same(&source, &dump(&pg.store).await, "SQLite → PostgreSQL");
        let t = Instant::now();
        let pe = pb
            .create(&op, &CreateOptions::default(), &progress(), &never())
            .await
            .unwrap();
        eprintln!(
            "backup of PostgreSQL: {} bytes in {:.2}s",
            pe.size_bytes.unwrap(),
            t.elapsed().as_secs_f64()
        );
        let (back, bdir) = common::sqlite_store().await;
        let bb = engine(&back, bdir.path());
        let who = somiti::backup::operator(&back).await.unwrap();
        let t = Instant::now();
        bb.restore(
            &who,
            pb.path_of(&pe.file).to_str().unwrap(),
            &everything(),
            &progress(),
            &never(),
        )
        .await
        .unwrap();
        eprintln!(
            "restore PostgreSQL → empty SQLite: {:.2}s",
            t.elapsed().as_secs_f64()
        );
        assert_same(&source, &dump(&back).await, "PostgreSQL → SQLite");
        back.close().await;
        pg.finish().await;
    }

    // Restore over the data, then undo with the pre-restore backup.
    let org = somiti::ledger::org::list(&src).await.unwrap().remove(0);
    common::add_member(&src, &org, common::member_input("AFTER", today())).await;
    let changed = dump(&src).await;
    let t = Instant::now();
    let r = b
        .restore(&op, &e.id, &everything(), &progress(), &never())
        .await
        .unwrap();
    eprintln!(
        "restore over the data (verify + pre-restore backup + load): {:.2}s",
        t.elapsed().as_secs_f64()
    );
    assert_same(&source, &dump(&src).await, "restored");
    let pre = r.pre_restore.unwrap();
    b.restore(&op, &pre.id, &everything(), &progress(), &never())
        .await
        .unwrap();
    assert_same(
        &changed,
        &dump(&src).await,
        "undone by the pre-restore backup",
    );
    eprintln!("pre-restore undo: ok");

    // Encrypted, opened by 7-Zip.
    let mut b = b;
    b.passphrase = Some(Passphrase::new("big secret"));
    let t = Instant::now();
    let enc = b
        .create(
            &op,
            &CreateOptions {
                encrypt: true,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    eprintln!(
        "encrypted backup: {} bytes in {:.2}s",
        enc.size_bytes.unwrap(),
        t.elapsed().as_secs_f64()
    );
    let out = std::process::Command::new("7z")
        .args(["t", "-pbig secret"])
        .arg(b.path_of(&enc.file))
        .output()
        .unwrap();
    assert!(out.status.success(), "7z t");
    eprintln!(
        "7z t -p…: {}",
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("Ok") || l.contains("Files"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    src.close().await;
    empty.close().await;
}
