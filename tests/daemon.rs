//! `somiti daemon`, the real binary: a backup every 5 seconds from two daemons at once
//! leaves one verified archive per slot, and SIGTERM never leaves a broken archive behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_somiti");

fn somiti(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(dir);
    c.env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_OPERATOR")
        .env_remove("SOMITI_CONFIG");
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ledger_with_schedule(dir: &Path, members: &str, days: &str) {
    std::fs::write(
        dir.join("config.toml"),
        "[[schedule]]\nname = \"every-5s\"\ncron = \"*/5 * * * * *\"\naction = \"backup\"\nscope = \"all\"\n",
    )
    .unwrap();
    ok(somiti(dir).args(["init", "--org-code", "DEMO", "--org-name", "Demo Somiti"]));
    ok(somiti(dir).args(["demo", "--members", members, "--days", days, "--seed", "3"]));
}

fn daemon(dir: &Path) -> Child {
    somiti(dir)
        .arg("daemon")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn sigterm_and_wait(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "the daemon exits 0 on SIGTERM, got {status}"
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn backups(dir: &Path) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&ok(somiti(dir).args(["backup", "list", "--json"]))).unwrap();
    v.as_array()
        .cloned()
        .expect("backup list --json is an array")
}

fn sql(dir: &Path, q: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(dir.join("somiti.db"))
        .arg(q)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn two_daemons_take_one_verified_backup_per_five_second_slot() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ledger_with_schedule(d, "60", "20");
    let (a, b) = (daemon(d), daemon(d));
    std::thread::sleep(Duration::from_secs(17));
    sigterm_and_wait(a);
    sigterm_and_wait(b);

    let completed: Vec<Value> = backups(d)
        .into_iter()
        .filter(|e| e["status"] == "completed")
        .collect();
    let runs: i64 = sql(
        d,
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'every-5s' AND status = 'ok'",
    )
    .parse()
    .unwrap();
    let slots: i64 = sql(
        d,
        "SELECT COUNT(DISTINCT slot) FROM scheduler_runs WHERE job = 'every-5s' AND status = 'ok'",
    )
    .parse()
    .unwrap();
    assert_eq!(completed.len() as i64, runs, "one archive per run");
    assert_eq!(runs, slots, "one run per slot, not one per daemon");
    assert!(
        (3..=5).contains(&runs),
        "about one backup per 5 s over 17 s (catch-up included), got {runs}"
    );
    for e in &completed {
        assert_eq!(e["kind"], "scheduled");
        ok(somiti(d).args(["backup", "verify", e["id"].as_str().unwrap()]));
    }
    assert_eq!(
        sql(d, "SELECT COUNT(*) FROM scheduler_runners"),
        "0",
        "both daemons signed off"
    );
}

#[test]
fn sigterm_during_a_backup_leaves_no_broken_archive() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ledger_with_schedule(d, "600", "120");
    let child = daemon(d);
    // wait until a backup is running, then stop the daemon in the middle of it
    let started = Instant::now();
    while sql(
        d,
        "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'running'",
    ) != "1"
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no backup started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sigterm_and_wait(child);
    assert_eq!(
        sql(
            d,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'running'"
        ),
        "0"
    );
    let partials = std::fs::read_dir(d.join("backups"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial")
        })
        .count();
    assert_eq!(partials, 0, "no partial file left");
    let all = backups(d);
    assert!(!all.iter().any(|e| e["status"] == "in_progress"));
    for e in all.iter().filter(|e| e["status"] == "completed") {
        ok(somiti(d).args(["backup", "verify", e["id"].as_str().unwrap()]));
    }
}
