//! `somiti backup …` through the real binary: output, `--json`, exit codes, the progress
//! bar on a terminal only, the store shared by a fresh database, the lock across
//! processes, and SIGKILL in the middle of a backup and of a restore.

mod backup_support;
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use backup_support::*;
use serde_json::Value;
use somiti::db::Store;

/// A data directory with a SQLite database holding demo data (two organizations) and the
/// admin `boss`.
async fn data_dir(members: u32, days: u32) -> tempfile::TempDir {
    common::demo_data_dir("boss", members, days, 2, today()).await
}

fn cli(dir: &Path) -> assert_cmd::Command {
    let mut c = somiti();
    c.arg("--data-dir").arg(dir).env("SOMITI_OPERATOR", "boss");
    c
}

fn run_json(c: &mut assert_cmd::Command) -> Value {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn code(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn dump_at(db: &Path) -> Dump {
    let s = Store::open_sqlite(db).await.unwrap();
    let d = dump(&s).await;
    s.close().await;
    d
}

#[tokio::test]
async fn the_command_line_creates_lists_verifies_restores_and_deletes() {
    let d = data_dir(40, 10).await;
    let (rc, out, err) = code(cli(d.path()).args(["backup", "create"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("created: somiti-all-"), "{out}");
    assert!(err.is_empty(), "nothing on stderr through a pipe: {err:?}");

    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let b = &list[0];
    for k in [
        "id",
        "file",
        "kind",
        "scope",
        "status",
        "created_at",
        "size",
        "rows",
        "sha256",
        "verified_at",
        "verify_result",
        "pinned",
    ] {
        assert!(b.get(k).is_some(), "list --json has {k}: {b}");
    }
    assert_eq!(
        (b["kind"].as_str(), b["status"].as_str()),
        (Some("manual"), Some("completed"))
    );
    let id = b["id"].as_str().unwrap().to_string();
    let file = d.path().join("backups").join(b["file"].as_str().unwrap());
    assert!(
        std::process::Command::new("unzip")
            .arg("-tq")
            .arg(&file)
            .output()
            .unwrap()
            .status
            .success()
    );

    let (rc, out, err) = code(cli(d.path()).args(["backup", "verify", &id[..8], "--drill"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with("ok: ") && out.contains("drill restore ok"),
        "{out}"
    );

    // A restore without --yes and without a terminal is refused (exit 4).
    let before = dump_at(&d.path().join("somiti.db")).await;
    let (rc, _, err) = code(
        cli(d.path())
            .args(["backup", "restore", &id])
            .write_stdin(""),
    );
    assert_eq!(rc, 4, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let (rc, out, err) = code(cli(d.path()).args(["backup", "restore", &id, "--dry-run"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("dry run") && out.contains("collections"),
        "{out}"
    );
    let (rc, out, err) = code(cli(d.path()).args(["backup", "restore", &id, "--yes"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("pre-restore backup") && out.contains("undo with: somiti backup restore"),
        "{out}"
    );
    assert_same(
        &dump_at(&d.path().join("somiti.db")).await,
        &before,
        "same data",
    );

    // A damaged archive: verify exits 3 and names the entry.
    let bad = d.path().join("bad.zip");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len() / 3;
    bytes[n] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();
    let (rc, _, err) = code(cli(d.path()).args(["backup", "verify"]).arg(&bad));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("bad.zip") && err.contains("entry"), "{err}");
    let (rc, _, err) = code(
        cli(d.path())
            .args(["--json", "backup", "restore", "--yes"])
            .arg(&bad),
    );
    assert_eq!(rc, 3, "{err}");
    let e: Value = serde_json::from_str(err.trim()).expect("a JSON error");
    assert_eq!(e["error"]["kind"], "verify_failed");

    // Download, pin, delete.
    let out_dir = tempfile::tempdir().unwrap();
    let (rc, out, err) = code(
        cli(d.path())
            .args(["backup", "download", &id])
            .arg(out_dir.path()),
    );
    assert_eq!(rc, 0, "{err}");
    let dest = out_dir.path().join(file.file_name().unwrap());
    assert!(
        out.contains(&format!(":{} .", dest.display())) && out.contains("scp "),
        "{out}"
    );
    assert!(
        cli(d.path())
            .args(["backup", "pin", &id])
            .output()
            .unwrap()
            .status
            .success()
    );
    let (rc, _, err) = code(cli(d.path()).args(["backup", "delete", &id]));
    assert_eq!(rc, 4, "{err}");
    assert!(
        cli(d.path())
            .args(["backup", "unpin", &id])
            .output()
            .unwrap()
            .status
            .success()
    );
    let (rc, out, _) = code(cli(d.path()).args(["backup", "prune", "--dry-run"]));
    assert_eq!(rc, 0);
    assert!(out.contains("manual backups are never pruned"), "{out}");
    let (rc, _, err) = code(cli(d.path()).args(["backup", "delete", &id]));
    assert_eq!(rc, 0, "{err}");
    assert!(!file.exists());
    // Every step is in the audit log.
    let s = Store::open_sqlite(&d.path().join("somiti.db"))
        .await
        .unwrap();
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, outcome FROM audit_log WHERE action LIKE 'backup.%' ORDER BY id",
    )
    .fetch_all(match &s {
        Store::Sqlite(p, _) => p,
        _ => unreachable!(),
    })
    .await
    .unwrap();
    for want in [
        "backup.create",
        "backup.verify",
        "backup.restore",
        "backup.download",
        "backup.pin",
        "backup.unpin",
        "backup.delete",
        "backup.prune",
    ] {
        assert!(
            actions.iter().any(|(a, _)| a == want),
            "{want} audited: {actions:?}"
        );
    }
    assert!(actions.contains(&("backup.verify".into(), "failed".into())));
    assert!(actions.contains(&("backup.restore".into(), "refused".into())));
}

#[tokio::test]
async fn a_progress_bar_shows_on_a_terminal_and_not_on_a_pipe() {
    let d = data_dir(20, 5).await;
    let bin = assert_cmd::cargo::cargo_bin("somiti");
    let cmd = format!(
        "{} --data-dir {} backup create",
        bin.display(),
        d.path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("SOMITI_OPERATOR", "boss")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("created:"), "{text}");
    // Which stages are drawn depends on the bar's ticks; the bar itself always is.
    // The bar counts to the rows the backup says it holds.
    let rows = text
        .split(" rows) in ")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .expect("the created line names its rows")
        .to_string();
    assert!(
        text.contains(" rows ")
            && text.contains("[====")
            && text.contains(&format!("/{rows} rows")),
        "a progress bar to {rows}: {text}"
    );
    let (_, _, err) = code(cli(d.path()).args(["backup", "create"]));
    assert!(err.is_empty(), "{err:?}");
}

#[tokio::test]
async fn backup_list_works_on_a_fresh_database_pointed_at_an_existing_store() {
    let d = data_dir(10, 3).await;
    let store_dir = d.path().join("shared-store");
    std::fs::write(
        d.path().join("config.toml"),
        format!("[backup]\ndir = \"{}\"\n", store_dir.display()),
    )
    .unwrap();
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        cli(d.path())
            .args(["backup", "create", "--scope", "som1"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let original = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    // A new data directory, nothing in it but a config naming the store.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::write(
        fresh.path().join("config.toml"),
        format!("[backup]\ndir = \"{}\"\n", store_dir.display()),
    )
    .unwrap();
    let mut c = somiti();
    c.arg("--data-dir")
        .arg(fresh.path())
        .args(["--json", "backup", "list"]);
    let listed = run_json(&mut c);
    let ids = |v: &Value| {
        let mut x: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        x.sort();
        x
    };
    assert_eq!(ids(&listed), ids(&original));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    // The same with --database: a new database, the first data directory's store.
    let url = format!("sqlite://{}", fresh.path().join("other.db").display());
    let mut c = somiti();
    c.arg("--data-dir")
        .arg(d.path())
        .args(["--database", &url, "--json", "backup", "list"]);
    assert_eq!(ids(&run_json(&mut c)), ids(&original));
    // And a restore into that brand-new database from the store, by id.
    let id = original[0]["id"].as_str().unwrap();
    let mut c = somiti();
    c.arg("--data-dir")
        .arg(d.path())
        .args(["--database", &url, "backup", "restore", id, "--yes"]);
    let (rc, out, err) = code(&mut c);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("restored"), "{out}");
}

#[tokio::test]
async fn a_second_caller_is_busy_with_exit_5_and_told_who() {
    let d = data_dir(5, 2).await;
    let store = Store::open_sqlite(&d.path().join("somiti.db"))
        .await
        .unwrap();
    let held = somiti::backup::lock::acquire(&store, "restore", "rahim")
        .await
        .unwrap();
    for args in [vec!["backup", "create"], vec!["backup", "prune"]] {
        let (rc, _, err) = code(cli(d.path()).args(&args));
        assert_eq!(rc, 5, "{err}");
        assert!(err.contains("busy: restore by rahim since"), "{err}");
    }
    held.release().await;
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
}

/// Spawn the binary and SIGKILL it as soon as `ready` says so.
fn kill_when(dir: &Path, args: &[&str], ready: impl Fn() -> bool) -> std::process::ExitStatus {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("somiti"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("SOMITI_OPERATOR", "boss")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if ready() {
            child.kill().unwrap(); // SIGKILL
            break;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!(
                "{args:?} finished ({s}) before it could be killed; the demo database is too small"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never got ready"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
    status
}

/// Complete pre-restore archives (`…-pre-restore-<id8>.zip`).
fn pre_restore_archives(dir: &Path) -> Vec<PathBuf> {
    with_suffix(dir, ".zip")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("-pre-restore-"))
        .collect()
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
async fn a_backup_killed_mid_way_leaves_no_completed_entry_and_its_partial_is_removed() {
    let d = data_dir(3000, 30).await;
    let store_dir = d.path().join("backups");
    kill_when(d.path(), &["backup", "create"], || {
        with_suffix(&store_dir, ".zip.partial")
            .first()
            .is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 64 * 1024))
    });
    assert_eq!(
        with_suffix(&store_dir, ".zip.partial").len(),
        1,
        "the partial is left by the kill"
    );
    assert!(with_suffix(&store_dir, ".zip").is_empty());
    // Next start: partial removed, the entry failed, nothing completed.
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let all = list.as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(all[0]["status"], "failed");
    assert!(
        all[0]["error"].as_str().unwrap().contains("interrupted"),
        "{list}"
    );
    assert!(
        with_suffix(&store_dir, ".partial").is_empty(),
        "partial removed"
    );
    // And a backup runs fine afterwards.
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
}

#[tokio::test]
async fn a_restore_killed_mid_way_leaves_the_database_as_it_was() {
    let d = data_dir(3000, 30).await;
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Change the database after the backup, so a restore would change it back.
    let db = d.path().join("somiti.db");
    {
        let s = Store::open_sqlite(&db).await.unwrap();
        let org = somiti::ledger::org::list(&s).await.unwrap().remove(0);
        common::add_member(&s, &org, common::member_input("AFTER-1", today())).await;
        s.close().await;
    }
    let before = dump_at(&db).await;
    let store_dir = d.path().join("backups");
    // Killed once the pre-restore backup is written: it is deleting and loading rows.
    kill_when(d.path(), &["backup", "restore", &id, "--yes"], || {
        !pre_restore_archives(&store_dir).is_empty()
    });
    assert_same(&dump_at(&db).await, &before, "the database is as it was");
    // Next start: the complete pre-restore archive is catalogued, nothing is in progress.
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let kinds: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["kind"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("pre-restore", "completed")), "{kinds:?}");
    assert!(!kinds.iter().any(|(_, s)| *s == "in_progress"), "{kinds:?}");
}

#[tokio::test]
async fn the_command_line_works_on_postgresql_too() {
    let Some(url) = common::fresh_pg_url().await else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    {
        let s = Store::open(&url).await.unwrap();
        binary_admin(&s, "boss").await;
        somiti::demo::generate(
            &s,
            "test",
            &somiti::demo::DemoOptions {
                members: 30,
                days: 10,
                orgs: 2,
                seed: 5,
            },
            today(),
        )
        .await
        .unwrap();
        s.close().await;
    }
    let on = |c: &mut assert_cmd::Command| {
        c.args(["--database", &url]);
    };
    let mut c = cli(d.path());
    on(&mut c);
    assert!(
        c.args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut c = cli(d.path());
    on(&mut c);
    let list = run_json(c.args(["--json", "backup", "list"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let mut c = cli(d.path());
    on(&mut c);
    let (rc, _, err) = code(c.args(["backup", "verify", &id, "--drill"]));
    assert_eq!(rc, 0, "{err}");
    // Into a new PostgreSQL database, from the archive path.
    let Some(url2) = common::fresh_pg_url().await else {
        return;
    };
    let file = d
        .path()
        .join("backups")
        .join(list[0]["file"].as_str().unwrap());
    let mut c = cli(d.path());
    c.args([
        "--database",
        &url2,
        "backup",
        "restore",
        "--yes",
        "--include-users",
    ])
    .arg(&file);
    let (rc, _, err) = code(&mut c);
    assert_eq!(rc, 0, "{err}");
    let a = Store::open(&url).await.unwrap();
    let b = Store::open(&url2).await.unwrap();
    assert_same(
        &dump(&a).await,
        &dump(&b).await,
        "PostgreSQL → PostgreSQL through the CLI",
    );
    a.close().await;
    b.close().await;
    common::drop_pg_database(&url).await;
    common::drop_pg_database(&url2).await;
}

/// Run the binary on a terminal (`script` gives it a pty), typing `input` after a moment.
fn on_terminal(dir: &Path, args: &str, input: &str) -> (bool, String) {
    use std::io::Write;
    let bin = assert_cmd::cargo::cargo_bin("somiti");
    let cmd = format!("{} --data-dir {} {args}", bin.display(), dir.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("SOMITI_OPERATOR", "boss")
        .env_remove("SOMITI_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn on_a_terminal_a_restore_asks_for_the_word_and_refuses_any_other() {
    let d = data_dir(10, 3).await;
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let db = d.path().join("somiti.db");
    let before = dump_at(&db).await;
    let (ok, out) = on_terminal(d.path(), &format!("backup restore {id}"), "restore\n");
    assert!(!ok, "{out}");
    assert!(
        out.contains("Type RESTORE to restore") && out.contains("not confirmed"),
        "{out}"
    );
    let (ok, out) = on_terminal(
        d.path(),
        &format!("backup restore {id} --org SOM1"),
        "RESTORE\n",
    );
    assert!(!ok && out.contains("Type SOM1 to restore"), "{out}");
    assert_same(&dump_at(&db).await, &before, "nothing changed");
    // The word is case-sensitive: the code in other letters is refused, and says so.
    let (ok, out) = on_terminal(
        d.path(),
        &format!("backup restore {id} --org SOM1"),
        "som1\n",
    );
    assert!(!ok && out.contains("case-sensitive"), "{out}");
    assert_same(&dump_at(&db).await, &before, "nothing changed");
    let (ok, out) = on_terminal(
        d.path(),
        &format!("backup restore {id} --org SOM1"),
        "SOM1\n",
    );
    assert!(ok && out.contains("restored organization SOM1"), "{out}");
    let (ok, out) = on_terminal(d.path(), &format!("backup restore {id}"), "RESTORE\n");
    assert!(ok && out.contains("restored everything"), "{out}");
}

#[tokio::test]
async fn on_a_terminal_the_comparison_comes_before_the_question_and_lowercase_is_refused() {
    let d = data_dir(10, 3).await;
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let db = d.path().join("somiti.db");
    let before = dump_at(&db).await;
    let (ok, out) = on_terminal(
        d.path(),
        &format!("backup restore {id} --tables members,collections"),
        "restore\n",
    );
    assert!(!ok, "{out}");
    let table = out.find("ROWS IN BACKUP").expect("the comparison table");
    let prompt = out.find("Type RESTORE to restore").expect("the question");
    assert!(table < prompt, "the table comes first:\n{out}");
    assert!(
        out.contains("dry run: restoring tables members, loans, collections, withdrawals, savings_accounts, member_closures from")
            && out.contains("loan collected")
            && out.contains("savings collected")
            && out.contains("loans disbursed")
            && out.contains("net of reversals"),
        "{out}"
    );
    assert!(
        !out.contains("whole ledger") && !out.contains("loan_paisa"),
        "{out}"
    );
    assert!(
        out.contains("\"restore\" was typed, but the word is case-sensitive"),
        "{out}"
    );
    assert_same(&dump_at(&db).await, &before, "nothing changed");
}

#[tokio::test]
async fn a_download_into_a_missing_folder_names_it_or_creates_it() {
    let d = data_dir(5, 2).await;
    assert!(
        cli(d.path())
            .args(["backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let id = list[0]["id"].as_str().unwrap().to_string();
    let missing = d.path().join("not/yet");
    let (rc, _, err) = code(
        cli(d.path())
            .args(["backup", "download", &id])
            .arg(format!("{}/", missing.display())),
    );
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains(&format!("folder {} does not exist", missing.display()))
            && err.contains("--create-dir")
            && !err.contains("os error"),
        "{err}"
    );
    assert!(!missing.exists());
    let (rc, out, err) = code(
        cli(d.path())
            .args(["backup", "download", &id, "--create-dir"])
            .arg(format!("{}/", missing.display())),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("scp "), "{out}");
    assert_eq!(std::fs::read_dir(&missing).unwrap().count(), 1);
}

#[tokio::test]
async fn an_encrypted_backup_takes_its_passphrase_from_the_environment() {
    let d = data_dir(10, 3).await;
    let store_dir = d.path().join("backups");
    // Without a passphrase: refused (exit 4), nothing written.
    let (rc, _, err) = code(cli(d.path()).args(["backup", "create", "--encrypt"]));
    assert_eq!(rc, 4, "{err}");
    assert!(err.contains("SOMITI_BACKUP_PASSPHRASE"), "{err}");
    assert!(
        with_suffix(&store_dir, ".zip").is_empty()
            && with_suffix(&store_dir, ".partial").is_empty()
    );
    let (rc, _, err) = code(
        cli(d.path())
            .env("SOMITI_BACKUP_PASSPHRASE", "open sesame")
            .args(["backup", "create", "--encrypt"]),
    );
    assert_eq!(rc, 0, "{err}");
    let file = with_suffix(&store_dir, ".zip").pop().unwrap();
    let t = std::process::Command::new("7z")
        .args(["t", "-popen sesame"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(t.status.success(), "7z t with the passphrase");
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    assert_eq!(list[0]["encrypted"], true);
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Verify with the wrong passphrase: a clear refusal; the right one passes.
    let (rc, _, err) = code(
        cli(d.path())
            .env("SOMITI_BACKUP_PASSPHRASE", "wrong")
            .args(["backup", "verify", &id]),
    );
    assert_ne!(rc, 0);
    assert!(err.contains("wrong passphrase for"), "{err}");
    let (rc, _, err) = code(
        cli(d.path())
            .env("SOMITI_BACKUP_PASSPHRASE", "open sesame")
            .args(["backup", "verify", &id, "--drill"]),
    );
    assert_eq!(rc, 0, "{err}");
}

#[tokio::test]
async fn on_postgresql_a_killed_backup_and_a_killed_restore_leave_everything_as_it_was() {
    let Some(url) = common::fresh_pg_url().await else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&url).await.unwrap();
    binary_admin(&s, "boss").await;
    somiti::demo::generate(
        &s,
        "test",
        &somiti::demo::DemoOptions {
            members: 3000,
            days: 30,
            orgs: 2,
            seed: 9,
        },
        today(),
    )
    .await
    .unwrap();
    let store_dir = d.path().join("backups");
    // A backup killed half-way: no completed entry, partial gone at the next start.
    kill_when(d.path(), &["--database", &url, "backup", "create"], || {
        with_suffix(&store_dir, ".zip.partial")
            .first()
            .is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 64 * 1024))
    });
    let mut c = cli(d.path());
    c.args(["--database", &url, "--json", "backup", "list"]);
    let list = run_json(&mut c);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["status"], "failed", "{list}");
    assert!(with_suffix(&store_dir, ".partial").is_empty());
    // A restore killed half-way: the database is as it was.
    let mut c = cli(d.path());
    assert!(
        c.args(["--database", &url, "backup", "create"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut c = cli(d.path());
    c.args(["--database", &url, "--json", "backup", "list"]);
    let list = run_json(&mut c);
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["status"] == "completed")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let org = somiti::ledger::org::list(&s).await.unwrap().remove(0);
    common::add_member(&s, &org, common::member_input("AFTER-PG", today())).await;
    let before = dump(&s).await;
    kill_when(
        d.path(),
        &["--database", &url, "backup", "restore", &id, "--yes"],
        || !pre_restore_archives(&store_dir).is_empty(),
    );
    // The server notices the dead client and rolls its transaction back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_same(
        &dump(&s).await,
        &before,
        "the PostgreSQL database is as it was",
    );
    s.close().await;
    common::drop_pg_database(&url).await;
}
