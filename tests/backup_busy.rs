//! Busy means busy, from a second process, on both backends (issue 11): while a long
//! restore runs, another restore, a backup and a prune exit 5 at once naming who holds the
//! lock; a collection entered meanwhile is refused with "restore in progress" or, where it
//! waited for the restore, lands on the member whose number was typed. And a backup killed
//! half-way, followed at once by another that is pinned: deleting the failed entry leaves
//! the pinned archive in place.

mod backup_support;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use backup_support::*;
use serde_json::Value;
use somiti::db::Store;

/// A data directory with a config pointing at `url` (or the SQLite default), the test's
/// admin `boss`, and demo data of `members` × `days`.
async fn data_dir(url: Option<&str>, members: u32, days: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = match url {
        Some(u) => u.to_string(),
        None => format!("sqlite://{}", dir.path().join("somiti.db").display()),
    };
    std::fs::write(
        dir.path().join("config.toml"),
        format!("database_url = \"{db}\"\n"),
    )
    .unwrap();
    let store = Store::open(&db).await.unwrap();
    binary_admin(&store, "boss").await;
    somiti::demo::generate(
        &store,
        "test",
        &somiti::demo::DemoOptions {
            members,
            days,
            orgs: 1,
            seed: 3,
        },
        today(),
    )
    .await
    .unwrap();
    store.close().await;
    dir
}

fn cli(dir: &Path) -> assert_cmd::Command {
    let mut c = somiti();
    c.arg("--data-dir").arg(dir).env("SOMITI_OPERATOR", "boss");
    c
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("somiti"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("SOMITI_OPERATOR", "boss")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn create(dir: &Path) -> Value {
    let (code, out, err) = run(cli(dir).args(["--json", "backup", "create"]));
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Wait (observing, bounded) until `ready`, while `child` still runs.
fn wait_until(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("the restore ended ({s}) before {what}; the demo data is too small");
        }
        assert!(start.elapsed() < Duration::from_secs(120), "never {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn restore_holds_lock(store: &Store) -> bool {
    somiti::backup::lock::holder(store)
        .await
        .is_some_and(|h| h.operation == "restore")
}

/// What a second process gets while a restore runs.
async fn busy_while_restoring(url: Option<String>) {
    let d = data_dir(url.as_deref(), 3000, 150).await;
    let db = url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", d.path().join("somiti.db").display()));
    let probe = Store::open(&db).await.unwrap();
    let id = create(d.path())["id"].as_str().unwrap().to_string();
    let member_no: String = somiti::on_store!(&probe, |p| sqlx::query_scalar(
        "SELECT member_no FROM members WHERE status = 'active' ORDER BY id DESC LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap());
    let mut restore = spawn(d.path(), &["backup", "restore", &id, "--yes"]);
    let rt = tokio::runtime::Handle::current();
    wait_until(&mut restore, "it held the lock", || {
        tokio::task::block_in_place(|| rt.block_on(restore_holds_lock(&probe)))
    });
    for args in [
        vec!["backup", "restore", id.as_str(), "--yes"],
        vec!["backup", "create"],
        vec!["backup", "prune"],
        vec!["backup", "delete", id.as_str()],
    ] {
        let start = Instant::now();
        let (code, _, err) = run(cli(d.path()).args(&args));
        let took = start.elapsed();
        assert_eq!(code, 5, "{args:?}: {err}");
        assert!(
            err.contains("busy: restore by boss since"),
            "{args:?}: {err}"
        );
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        assert!(
            restore.try_wait().unwrap().is_none(),
            "the restore still runs"
        );
    }
    // A collection entered during the restore: refused at once, or (PostgreSQL, whose
    // login waits for the restore's table locks) written after it, on the typed member.
    let (code, out, err) = run(cli(d.path()).args([
        "--json",
        "collection",
        "add",
        "--member",
        &member_no,
        "--savings",
        "7.25",
    ]));
    match code {
        5 => assert!(err.contains("a restore is in progress"), "{err}"),
        0 => {
            let v: Value = serde_json::from_str(&out).unwrap();
            let entry_member: String = somiti::on_store!(&probe, |p| {
                sqlx::query_scalar(
                "SELECT m.member_no FROM collections c JOIN members m ON m.id = c.member_id WHERE c.id = $1"
            )
            .bind(v["id"].as_i64().unwrap())
            .fetch_one(p)
            .await
            .unwrap()
            });
            assert_eq!(entry_member, member_no, "the entry is on the member typed");
            assert!(
                url.is_some(),
                "on SQLite the write is refused, not queued: {out}"
            );
        }
        c => panic!("collection add during a restore exited {c}: {err}"),
    }
    let status = restore.wait().unwrap();
    assert!(status.success(), "the restore itself finished");
    probe.close().await;
    if let Some(u) = url {
        common::drop_pg_database(&u).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_restore_runs_a_second_operation_is_busy_at_once_on_sqlite() {
    busy_while_restoring(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_restore_runs_a_second_operation_is_busy_at_once_on_postgresql() {
    let Some(url) = common::fresh_pg_url().await else {
        return;
    };
    busy_while_restoring(Some(url)).await;
}

fn with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_killed_create_then_a_pinned_one_survives_deleting_the_failed_entry() {
    let d = data_dir(None, 3000, 40).await;
    let store_dir = d.path().join("backups");
    let mut child = spawn(d.path(), &["backup", "create"]);
    let start = Instant::now();
    loop {
        let big = with_suffix(&store_dir, ".zip.partial")
            .first()
            .is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 64 * 1024));
        if big {
            child.kill().unwrap(); // SIGKILL
            break;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("the backup finished ({s}) before it could be killed");
        }
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
    // At once: another backup, pinned.
    let good = create(d.path());
    let good_id = good["id"].as_str().unwrap().to_string();
    let (code, _, err) = run(cli(d.path()).args(["backup", "pin", &good_id]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(cli(d.path()).args(["--json", "backup", "list"]));
    let list: Value = serde_json::from_str(&out).unwrap();
    let failed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "failed")
        .unwrap_or_else(|| panic!("a failed entry: {list}"))
        .clone();
    assert_ne!(failed["file"], good["file"], "two runs, two file names");
    let (code, _, err) =
        run(cli(d.path()).args(["backup", "delete", failed["id"].as_str().unwrap()]));
    assert_eq!(code, 0, "the failed entry can be deleted: {err}");
    let (_, out, _) = run(cli(d.path()).args(["--json", "backup", "list"]));
    let list: Value = serde_json::from_str(&out).unwrap();
    let g = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == good["id"])
        .unwrap();
    assert_eq!(g["status"], "completed", "{list}");
    assert_eq!(g["pinned"], true);
    assert_eq!(g["missing"], false, "{list}");
    assert!(store_dir.join(good["file"].as_str().unwrap()).is_file());
    let (code, _, err) = run(cli(d.path()).args(["backup", "verify", &good_id]));
    assert_eq!(code, 0, "the pinned archive verifies: {err}");
}
