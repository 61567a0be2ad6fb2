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

#[test]
fn scheduled_csv_export_writes_every_org_and_keeps_only_the_newest_runs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(
        d.join("config.toml"),
        "[export]\nkeep = 2\n\n[[schedule]]\nname = \"csv\"\ncron = \"0 5 * * *\"\naction = \"export-csv\"\n",
    )
    .unwrap();
    ok(somiti(d).args(["init", "--org-code", "DEMO", "--org-name", "Demo Somiti"]));
    ok(somiti(d).args([
        "demo",
        "--members",
        "40",
        "--days",
        "10",
        "--orgs",
        "2",
        "--seed",
        "3",
    ]));
    for _ in 0..3 {
        ok(somiti(d).args(["scheduler", "run", "csv"]));
        std::thread::sleep(Duration::from_millis(1_100)); // run folders are named by the second
    }
    let root = d.join("exports").join("scheduled");
    let mut runs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "export.keep = 2 keeps the two newest runs");
    let files: Vec<String> = std::fs::read_dir(&runs[1])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        4,
        "members and collections for each of two organizations: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(runs[1].join(f)).unwrap();
        assert!(
            bytes.starts_with("\u{feff}".as_bytes()),
            "{f} has a BOM for Excel"
        );
    }
    assert_eq!(
        sql(
            d,
            "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'csv' AND trigger = 'manual' AND status = 'ok'"
        ),
        "3"
    );
}

#[test]
fn the_default_jobs_back_up_and_a_drill_records_its_result() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(somiti(d).args(["init", "--org-code", "DEMO", "--org-name", "Demo Somiti"]));
    ok(somiti(d).args(["demo", "--members", "40", "--days", "15", "--seed", "5"]));
    // the embedded defaults: daily-backup, weekly-prune, daily-drill
    let out = ok(somiti(d).args(["scheduler", "run", "daily-backup"]));
    assert!(out.contains("-scheduled.zip"), "{out}");
    let out = ok(somiti(d).args(["scheduler", "run", "daily-drill"]));
    assert!(out.contains("verified with a restore drill"), "{out}");
    let all = backups(d);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["kind"], "scheduled");
    assert_eq!(
        all[0]["verify_result"], "ok",
        "the drill's result is in the catalogue"
    );
    assert!(all[0]["verified_at"].is_string());
    let st: Value =
        serde_json::from_str(&ok(somiti(d).args(["scheduler", "status", "--json"]))).unwrap();
    let drill = st["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "daily-drill")
        .unwrap();
    assert_eq!(drill["last_run"]["status"], "ok");
    assert_eq!(drill["last_run"]["trigger"], "manual");
    assert!(
        st["newest_verified_backup"]["file"]
            .as_str()
            .unwrap()
            .ends_with("-scheduled.zip")
    );
    assert_eq!(
        sql(
            d,
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'system' AND action = 'backup.verify' AND outcome = 'ok'"
        ),
        "1"
    );
}
