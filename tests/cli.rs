//! The real `somiti` binary through its command line: output, exit codes, audit entries,
//! and the numbers checked against hand queries in the `sqlite3` and `psql` shells.

mod common;

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

fn somiti(data_dir: &Path) -> Command {
    let mut c = Command::cargo_bin("somiti").expect("binary");
    c.arg("--data-dir").arg(data_dir);
    c.env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_OPERATOR")
        .env_remove("SOMITI_CONFIG");
    c
}

fn on_db(data_dir: &Path, url: Option<&str>) -> Command {
    let mut c = somiti(data_dir);
    if let Some(u) = url {
        c.arg("--database").arg(u);
    }
    c
}

/// One value from a hand query in the sqlite3 shell, or in psql for a PostgreSQL URL.
fn shell_query(data_dir: &Path, url: Option<&str>, sql: &str) -> String {
    let out = match url {
        None => Process::new("sqlite3")
            .arg(data_dir.join("somiti.db"))
            .arg(sql)
            .output()
            .expect("sqlite3 runs"),
        Some(u) => Process::new("psql")
            .arg(u)
            .args(["-tAc", sql])
            .output()
            .expect("psql runs"),
    };
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
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

/// init + demo 300×90 seed 7, then the review of a date against a hand query.
fn demo_review_matches_hand_query(url: Option<&str>) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    on_db(d, url)
        .args(["init", "--org-code", "DEMO", "--org-name", "Demo Somiti"])
        .assert()
        .success();
    on_db(d, url)
        .args(["demo", "--members", "300", "--days", "90", "--seed", "7"])
        .assert()
        .success();
    assert_eq!(shell_query(d, url, "SELECT COUNT(*) FROM members"), "300");

    let info = json_of(on_db(d, url).args(["info", "--json"]));
    let today = info["organizations"][0]["today"]
        .as_str()
        .unwrap()
        .to_string();
    let date = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap();
    // a collection day a few days back (Friday is a day off)
    let mut day = date - chrono::Duration::days(5);
    if common::is_friday(day) {
        day -= chrono::Duration::days(1);
    }
    let review =
        json_of(on_db(d, url).args(["collection", "review", "--date", &day.to_string(), "--json"]));
    let collected = review["totals"]["collected"].as_i64().unwrap();
    let hand = shell_query(
        d,
        url,
        &format!(
            "SELECT COALESCE(SUM(CASE WHEN c.reversal_of IS NULL THEN c.loan_paisa + c.savings_paisa \
             ELSE -(c.loan_paisa + c.savings_paisa) END), 0) FROM collections c \
             JOIN members m ON m.id = c.member_id \
             WHERE c.collected_on = '{day}' AND m.status = 'active'"
        ),
    );
    assert_eq!(
        collected.to_string(),
        hand,
        "review total collected on {day}"
    );
    assert!(collected > 0, "demo data has collections on {day}");
    let members_reviewed = review["totals"]["members"].as_i64().unwrap();
    let hand_members = shell_query(
        d,
        url,
        &format!("SELECT COUNT(*) FROM members WHERE status = 'active' AND joined_on <= '{day}'"),
    );
    assert_eq!(members_reviewed.to_string(), hand_members);
    let lines = review["lines"].as_array().unwrap();
    let sum_due: i64 = lines.iter().map(|l| l["due"].as_i64().unwrap()).sum();
    let sum_short: i64 = lines.iter().map(|l| l["shortfall"].as_i64().unwrap()).sum();
    assert_eq!(review["totals"]["expected"].as_i64().unwrap(), sum_due);
    assert_eq!(review["totals"]["shortfall"].as_i64().unwrap(), sum_short);
    let per_worker: i64 = review["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["collected"].as_i64().unwrap())
        .sum();
    assert_eq!(
        per_worker, collected,
        "worker totals add up to the organization's"
    );
}

#[test]
fn demo_review_totals_equal_a_hand_query_in_sqlite3() {
    demo_review_matches_hand_query(None);
}

#[test]
fn demo_review_totals_equal_a_hand_query_in_psql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = rt.block_on(common::fresh_pg_url()) else {
        return;
    };
    demo_review_matches_hand_query(Some(&url));
}

/// A small ledger: org, worker, one member who joined ten days ago.
fn small_ledger(d: &Path, url: Option<&str>) {
    on_db(d, url)
        .args(["init", "--org-code", "SOM", "--org-name", "Sonali Somiti"])
        .assert()
        .success();
    on_db(d, url)
        .args(["worker", "add", "Abdul Karim", "--mobile", "01711111111"])
        .assert()
        .success();
    on_db(d, url)
        .args([
            "member",
            "add",
            "--no",
            "7",
            "--name",
            "রহিমা খাতুন",
            "--nid",
            "১২৩৪৫৬৭৮৯০",
            "--mobile",
            "01712345678",
            "--worker",
            "Abdul Karim",
            "--loan",
            "10000",
            "--installment",
            "100",
            "--savings",
            "20",
            "--joined",
            "2026-01-01",
        ])
        .assert()
        .success();
}

fn refusals_and_rejections(url: Option<&str>) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    small_ledger(d, url);
    let info = json_of(on_db(d, url).args(["info", "--json"]));
    let today = chrono::NaiveDate::parse_from_str(
        info["organizations"][0]["today"].as_str().unwrap(),
        "%Y-%m-%d",
    )
    .unwrap();
    let day = common::collection_day_on_or_before(today - chrono::Duration::days(2));

    // Close the day, then a collection on it exits 4 and changes no row.
    on_db(d, url)
        .args(["day", "close", "--date", &day.to_string()])
        .assert()
        .success();
    let before = shell_query(d, url, "SELECT COUNT(*) FROM collections");
    on_db(d, url)
        .args([
            "collection",
            "add",
            "--member",
            "7",
            "--loan",
            "100",
            "--date",
            &day.to_string(),
        ])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("closed"));
    assert_eq!(
        shell_query(d, url, "SELECT COUNT(*) FROM collections"),
        before
    );
    assert_eq!(
        shell_query(
            d,
            url,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'collection.add' AND outcome = 'refused'"
        ),
        "1"
    );

    // An invalid NID exits 1 and names the field.
    on_db(d, url)
        .args([
            "member",
            "add",
            "--no",
            "8",
            "--name",
            "Karim",
            "--nid",
            "12345",
            "--mobile",
            "01812345678",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "nid: must have 10, 13 or 17 digits (got 5)",
        ));
    assert_eq!(shell_query(d, url, "SELECT COUNT(*) FROM members"), "1");
    assert_eq!(
        shell_query(
            d,
            url,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'member.add' AND outcome = 'failed'"
        ),
        "1"
    );

    // A viewer's member add exits 4 and leaves an audit entry.
    on_db(d, url)
        .args(["user", "add", "bina", "--role", "viewer"])
        .assert()
        .success();
    on_db(d, url)
        .env("SOMITI_OPERATOR", "bina")
        .args([
            "member",
            "add",
            "--no",
            "9",
            "--name",
            "Bina",
            "--nid",
            "1234567890123",
            "--mobile",
            "01912345678",
        ])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("viewer"));
    assert_eq!(
        shell_query(
            d,
            url,
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'bina' AND action = 'member.add' AND outcome = 'refused'"
        ),
        "1"
    );
    assert_eq!(shell_query(d, url, "SELECT COUNT(*) FROM members"), "1");

    // A viewer may still read.
    on_db(d, url)
        .env("SOMITI_OPERATOR", "bina")
        .args(["member", "list"])
        .assert()
        .success();

    // Bengali digits were stored as ASCII.
    assert_eq!(
        shell_query(d, url, "SELECT nid FROM members WHERE member_no = '7'"),
        "1234567890"
    );
}

#[test]
fn closed_day_invalid_nid_and_viewer_are_refused_on_sqlite() {
    refusals_and_rejections(None);
}

#[test]
fn closed_day_invalid_nid_and_viewer_are_refused_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = rt.block_on(common::fresh_pg_url()) else {
        return;
    };
    refusals_and_rejections(Some(&url));
}

#[test]
fn an_unknown_login_is_told_how_to_be_added() {
    let t = tempfile::tempdir().unwrap();
    small_ledger(t.path(), None);
    somiti(t.path())
        .env("SOMITI_OPERATOR", "stranger")
        .args(["member", "list"])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("somiti user add stranger"));
}

#[test]
fn collection_add_then_reverse_through_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    small_ledger(d, None);
    let c = json_of(somiti(d).args([
        "collection",
        "add",
        "--member",
        "৭",
        "--loan",
        "100",
        "--savings",
        "20",
        "--json",
    ]));
    assert_eq!(c["loan_paisa"], 10_000);
    assert_eq!(c["savings_paisa"], 2_000);
    let id = c["id"].as_i64().unwrap().to_string();
    somiti(d)
        .args(["collection", "reverse", &id, "--reason", "entered twice"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "collection #{id} reversed"
        )));
    somiti(d)
        .args(["collection", "reverse", &id, "--reason", "again"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already reversed"));
    let m = json_of(somiti(d).args(["member", "show", "7", "--json"]));
    assert_eq!(
        m["loan_outstanding"], 1_000_000,
        "a reversed payment does not count"
    );
}

#[test]
fn a_member_paid_ahead_reads_advance_never_negative_arrears_and_the_review_has_a_legend() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    small_ledger(d, None);
    // far more than everything due since January: the member is ahead
    somiti(d)
        .args([
            "collection",
            "add",
            "--member",
            "7",
            "--date",
            "2026-06-01",
            "--loan",
            "10000",
            "--savings",
            "9000",
        ])
        .assert()
        .success();
    let show = somiti(d).args(["member", "show", "7"]).output().unwrap();
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(
        show.contains("advance ") && show.contains("(paid ahead)"),
        "{show}"
    );
    assert!(!show.contains(" -"), "no negative amount: {show}");
    let list = somiti(d).args(["member", "list"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains(" adv "), "{list}");
    let review = somiti(d)
        .args(["collection", "review", "--worker", "Abdul Karim"])
        .output()
        .unwrap();
    let review = String::from_utf8(review.stdout).unwrap();
    assert!(review.contains("advance "), "{review}");
    assert!(!review.contains(" -"), "no negative arrears: {review}");
    assert!(review.contains("Totals for Abdul Karim"), "{review}");
    assert!(
        review.contains(
            "Flags: M missed · P partial · A advance · D duplicate · R reversed · L late"
        ),
        "{review}"
    );
    assert!(
        review.contains("shortfall: each member's unpaid due"),
        "{review}"
    );
}

#[test]
fn json_errors_are_json_on_stderr() {
    let t = tempfile::tempdir().unwrap();
    small_ledger(t.path(), None);
    let out = somiti(t.path())
        .args(["--json", "member", "show", "999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stderr).expect("stderr is JSON");
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("999"));
}

#[test]
fn usage_errors_exit_2() {
    let t = tempfile::tempdir().unwrap();
    somiti(t.path())
        .args(["member", "frobnicate"])
        .assert()
        .code(2);
    somiti(t.path()).args(["--no-such-flag"]).assert().code(2);
}

#[test]
fn an_unknown_config_key_stops_with_file_and_key() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("config.toml");
    std::fs::write(&cfg, "databse_url = \"x\"\n").unwrap();
    somiti(t.path())
        .arg("info")
        .assert()
        .code(1)
        .stderr(predicates::str::contains(cfg.display().to_string()))
        .stderr(predicates::str::contains("databse_url"))
        .stderr(predicates::str::contains("database_url"));
}

#[test]
fn a_bad_config_value_stops_with_the_key() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("other.toml");
    std::fs::write(&cfg, "[backup]\nencrypt = \"yes\"\n").unwrap();
    somiti(t.path())
        .arg("--config")
        .arg(&cfg)
        .arg("info")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("other.toml"))
        .stderr(predicates::str::contains("encrypt"));
    let missing = t.path().join("missing.toml");
    somiti(t.path())
        .arg("--config")
        .arg(&missing)
        .arg("info")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no such config file"));
}

#[test]
fn environment_and_flags_override_the_config_file() {
    let t = tempfile::tempdir().unwrap();
    let other = t.path().join("elsewhere.db");
    std::fs::write(
        t.path().join("config.toml"),
        "database_url = \"sqlite:///nonexistent/dir/x.db\"\n",
    )
    .unwrap();
    // the flag wins over the file
    let info = json_of(
        somiti(t.path())
            .arg("--database")
            .arg(format!("sqlite://{}", other.display()))
            .args(["info", "--json"]),
    );
    assert!(info["database"].as_str().unwrap().contains("elsewhere.db"));
    // the environment wins over the file too
    let info = json_of(
        somiti(t.path())
            .env(
                "SOMITI_DATABASE_URL",
                format!("sqlite://{}", other.display()),
            )
            .args(["info", "--json"]),
    );
    assert!(info["database"].as_str().unwrap().contains("elsewhere.db"));
}

#[test]
fn demo_flag_uses_a_separate_database_and_never_the_real_one() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    small_ledger(d, None);
    let out = somiti(d)
        .args(["--demo", "collection", "review", "--org", "DEMO", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("demo.db").exists());
    // the real database still has its single member
    assert_eq!(shell_query(d, None, "SELECT COUNT(*) FROM members"), "1");
    // and plain --demo prints today's review
    somiti(d)
        .arg("--demo")
        .assert()
        .success()
        .stdout(predicates::str::contains("Daily review"));
}

/// `member edit`, `worker edit|deactivate|activate`: the flags given change, the rest stays,
/// every save bumps the version, a stale `--expect-version` is refused (exit 4) naming who
/// changed the row, and nothing is written.
fn edits_through_the_command_line(url: Option<&str>) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    small_ledger(d, url);
    let me = shell_query(d, url, "SELECT username FROM users");

    let m = json_of(on_db(d, url).args([
        "member",
        "edit",
        "7",
        "--mobile",
        "01812345678",
        "--savings",
        "30",
        "--json",
    ]));
    assert_eq!(m["version"], 2);
    assert_eq!(m["mobile"], "01812345678");
    assert_eq!(m["daily_savings"], 30_00);
    assert_eq!(m["name"], "রহিমা খাতুন", "what was not given stays");
    assert_eq!(m["updated_by"], me.as_str());
    let out = on_db(d, url)
        .args([
            "member",
            "edit",
            "7",
            "--name",
            "Rahima",
            "--expect-version",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was changed by") && err.contains(&me) && err.contains("reload"),
        "{err}"
    );
    assert_eq!(
        shell_query(
            d,
            url,
            "SELECT name || '|' || version FROM members WHERE member_no = '7'"
        ),
        "রহিমা খাতুন|2"
    );
    on_db(d, url)
        .args([
            "member",
            "edit",
            "7",
            "--status",
            "inactive",
            "--expect-version",
            "2",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("version 3"));
    // bad input is the ledger's message
    on_db(d, url)
        .args(["member", "edit", "7", "--savings", "-5"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("negative"));
    // and a loan is never edited: the next one is a disbursement
    on_db(d, url)
        .args(["member", "edit", "7", "--installment", "50"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("loan disburse"));

    let w = json_of(on_db(d, url).args([
        "worker",
        "edit",
        "Abdul Karim",
        "--name",
        "Abdul Karim Sarker",
        "--json",
    ]));
    assert_eq!(
        (w["name"].as_str(), w["version"].as_i64()),
        (Some("Abdul Karim Sarker"), Some(2))
    );
    on_db(d, url)
        .args([
            "worker",
            "deactivate",
            "Abdul Karim Sarker",
            "--expect-version",
            "1",
        ])
        .assert()
        .code(4);
    on_db(d, url)
        .args([
            "worker",
            "deactivate",
            "Abdul Karim Sarker",
            "--expect-version",
            "2",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("deactivated"));
    let listed = json_of(on_db(d, url).args(["worker", "list", "--json"]));
    assert_eq!(listed[0]["active"], false);
    // no new member for a deactivated worker; the member who has them keeps them
    on_db(d, url)
        .args([
            "member",
            "add",
            "--no",
            "8",
            "--name",
            "Karim",
            "--nid",
            "1234567899",
            "--mobile",
            "01712345670",
            "--worker",
            "Abdul Karim Sarker",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("deactivated"));
    on_db(d, url)
        .args(["member", "edit", "7", "--name", "Rahima K"])
        .assert()
        .success();
    on_db(d, url)
        .args(["worker", "activate", "Abdul Karim Sarker"])
        .assert()
        .success();
    let audited = shell_query(
        d,
        url,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('member.edit', 'worker.edit', 'worker.deactivate', 'worker.activate') AND outcome = 'ok'",
    );
    assert_eq!(audited, "6");
}

#[test]
fn member_and_worker_edits_through_the_command_line_on_sqlite() {
    edits_through_the_command_line(None);
}

#[test]
fn member_and_worker_edits_through_the_command_line_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = rt.block_on(common::fresh_pg_url()) else {
        return;
    };
    edits_through_the_command_line(Some(&url));
    rt.block_on(common::drop_pg_database(&url));
}
