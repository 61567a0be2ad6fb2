//! The command line with several organizations: the one rule that chooses the organization
//! (`--org`, the operator's own, `default_org`, the only one), ids that carry their own
//! organization, help on every flag, negative amounts refused by the ledger, and
//! `somiti audit` on the organization's clock. The real binary on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::{DateTime, NaiveDate, Utc};
use predicates::str::contains;
use serde_json::Value;

use somiti::access::audit::{self, AuditQuery};
use somiti::db::Store;
use somiti::on_store;

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

fn write_config(d: &Path, body: &str) -> PathBuf {
    let p = d.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Two organizations (SOM and KHU, both Asia/Dhaka), a worker and member 1 in each.
fn two_orgs(d: &Path, url: Option<&str>) {
    somiti(d, url)
        .args(["init", "--org-code", "SOM", "--org-name", "Sonali Somiti"])
        .assert()
        .success();
    somiti(d, url)
        .args(["org", "add", "--code", "KHU", "--name", "Khulna Somiti"])
        .assert()
        .success();
    for (org, worker, name) in [
        ("SOM", "Abdul Karim", "রহিমা খাতুন"),
        ("KHU", "Jamal Uddin", "তাসলিমা সুলতানা"),
    ] {
        somiti(d, url)
            .args(["worker", "add", worker, "--org", org])
            .assert()
            .success();
        let nid = if org == "SOM" {
            "1234567890"
        } else {
            "1234567891"
        };
        somiti(d, url)
            .args([
                "member",
                "add",
                "--org",
                org,
                "--no",
                "1",
                "--name",
                name,
                "--nid",
                nid,
                "--mobile",
                "01712345678",
                "--worker",
                worker,
                "--loan",
                "10000",
                "--installment",
                "100",
                "--joined",
                "2026-01-01",
            ])
            .assert()
            .success();
    }
}

fn on_sqlite(f: impl FnOnce(&Path, Option<&str>)) {
    let t = tempfile::tempdir().unwrap();
    f(t.path(), None);
}

fn on_postgres(f: impl FnOnce(&Path, Option<&str>)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(url) = rt.block_on(common::fresh_pg_url()) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    f(t.path(), Some(&url));
    rt.block_on(common::drop_pg_database(&url));
}

/// The same store the binary uses, for writing what the binary cannot (old audit entries).
fn with_store(d: &Path, url: Option<&str>, f: impl AsyncFnOnce(&Store)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = match url {
            Some(u) => Store::open(u).await.unwrap(),
            None => Store::open_sqlite(&d.join("somiti.db")).await.unwrap(),
        };
        f(&store).await;
        store.close().await;
    });
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn audit_at(store: &Store, when: &str, actor: &str, action: &str, target: &str) {
    on_store!(store, |p| sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, detail, outcome) \
         VALUES ($1, $2, $3, $4, $5, 'ok')"
    )
    .bind(at(when))
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(r#"{"note":"test"}"#)
    .execute(p)
    .await
    .unwrap()
    .rows_affected());
}

// ---- choosing the organization ------------------------------------------------------

fn org_of_member_list(
    d: &Path,
    url: Option<&str>,
    operator: Option<&str>,
    extra: &[&str],
) -> Value {
    let mut c = somiti(d, url);
    if let Some(o) = operator {
        c.env("SOMITI_OPERATOR", o);
    }
    let v = json_of(c.args(["member", "list", "--json"]).args(extra));
    v["org"].clone()
}

fn without_org_default_org_then_the_operators_own(d: &Path, url: Option<&str>) {
    two_orgs(d, url);
    // Several organizations, no default: stop, list the codes, say how to choose.
    somiti(d, url)
        .args(["member", "list"])
        .assert()
        .code(1)
        .stderr(contains("several organizations (KHU, SOM)"))
        .stderr(contains("--org CODE"))
        .stderr(contains("default_org"));

    write_config(d, "default_org = \"KHU\"\n");
    assert_eq!(org_of_member_list(d, url, None, &[]), "KHU");
    assert_eq!(
        json_of(somiti(d, url).args(["info", "--json"]))["default_org"],
        "KHU"
    );
    assert_eq!(org_of_member_list(d, url, None, &["--org", "som"]), "SOM");
    let review = json_of(somiti(d, url).args(["collection", "review", "--json"]));
    assert_eq!(
        review["org"], "KHU",
        "every org-scoped command uses the rule"
    );

    // An operator limited to SOM acts in SOM, whatever default_org says.
    somiti(d, url)
        .args(["user", "add", "rahim", "--role", "manager", "--org", "SOM"])
        .assert()
        .success();
    assert_eq!(org_of_member_list(d, url, Some("rahim"), &[]), "SOM");
    // And without a default, still their own.
    write_config(d, "");
    assert_eq!(org_of_member_list(d, url, Some("rahim"), &[]), "SOM");
}

#[test]
fn without_org_commands_use_default_org_then_the_operators_own_on_sqlite() {
    on_sqlite(without_org_default_org_then_the_operators_own);
}

#[test]
fn without_org_commands_use_default_org_then_the_operators_own_on_postgres() {
    on_postgres(without_org_default_org_then_the_operators_own);
}

fn unknown_default_org(d: &Path, url: Option<&str>) {
    two_orgs(d, url);
    let file = write_config(d, "default_org = \"NOPE\"\n");
    somiti(d, url)
        .args(["member", "list"])
        .assert()
        .code(1)
        .stderr(contains("default_org = \"NOPE\""))
        .stderr(contains(file.display().to_string()))
        .stderr(contains("KHU, SOM"));
    // An unknown --org names the codes too.
    somiti(d, url)
        .args(["member", "list", "--org", "XYZ"])
        .assert()
        .code(1)
        .stderr(contains("organization \"XYZ\""))
        .stderr(contains("KHU, SOM"));
}

#[test]
fn an_unknown_default_org_is_a_clear_error_on_sqlite() {
    on_sqlite(unknown_default_org);
}

#[test]
fn an_unknown_default_org_is_a_clear_error_on_postgres() {
    on_postgres(unknown_default_org);
}

fn reverse_by_id(d: &Path, url: Option<&str>) {
    two_orgs(d, url);
    let c = json_of(somiti(d, url).args([
        "collection",
        "add",
        "--org",
        "KHU",
        "--member",
        "1",
        "--loan",
        "100",
        "--json",
    ]));
    let id = c["id"].as_i64().unwrap().to_string();
    // The entry is in KHU; asking for it in SOM finds nothing and changes nothing.
    somiti(d, url)
        .args([
            "collection",
            "reverse",
            &id,
            "--reason",
            "x",
            "--org",
            "SOM",
        ])
        .assert()
        .code(1)
        .stderr(contains(format!("collection #{id} in SOM")));
    // No --org, two organizations, no default: the id says whose it is.
    somiti(d, url)
        .args(["collection", "reverse", &id, "--reason", "entered twice"])
        .assert()
        .success()
        .stdout(contains(format!("collection #{id} reversed")));
    let m = json_of(somiti(d, url).args(["member", "show", "1", "--org", "KHU", "--json"]));
    assert_eq!(m["loan_outstanding"], 1_000_000, "the payment is reversed");
    // An id that matches nothing says so (not "several organizations").
    somiti(d, url)
        .args(["collection", "reverse", "999999", "--reason", "x"])
        .assert()
        .code(1)
        .stderr(contains("collection #999999"));
    // The reversal is audited against its organization.
    let log = json_of(somiti(d, url).args(["audit", "--action", "collection.reverse", "--json"]));
    let targets: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&format!("KHU/collection/{id}").as_str()),
        "{targets:?}"
    );
}

#[test]
fn collection_reverse_by_id_needs_no_org_with_two_organizations_on_sqlite() {
    on_sqlite(reverse_by_id);
}

#[test]
fn collection_reverse_by_id_needs_no_org_with_two_organizations_on_postgres() {
    on_postgres(reverse_by_id);
}

// ---- help and negative amounts ------------------------------------------------------

/// Every argument and subcommand of every command, with the ones that have no help line.
fn missing_help(cmd: &clap::Command, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        *seen += 1;
        let help = a.get_help().or(a.get_long_help()).map(|h| h.to_string());
        if help.is_none_or(|h| h.trim().is_empty()) {
            missing.push(format!("{path} {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let here = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() {
            missing.push(format!("{here} (the command itself)"));
        }
        missing_help(sub, &here, missing, seen);
    }
}

#[test]
fn every_flag_and_argument_of_every_command_has_a_help_line() {
    use clap::CommandFactory;
    let cmd = somiti::cli::Cli::command();
    let (mut missing, mut seen) = (Vec::new(), 0);
    missing_help(&cmd, "somiti", &mut missing, &mut seen);
    assert!(seen > 80, "the walk saw only {seen} arguments");
    assert!(missing.is_empty(), "no help line: {}", missing.join("; "));
    // And `--org` says what it defaults to, in the help people read.
    let mut c = somiti(Path::new("/nonexistent"), None);
    c.args(["member", "list", "--help"])
        .assert()
        .success()
        .stdout(contains("--org <CODE>"))
        .stdout(contains("default_org"));
}

fn negative_amounts(d: &Path, url: Option<&str>) {
    two_orgs(d, url);
    let count = || {
        json_of(somiti(d, url).args(["audit", "--action", "collection.add", "--json"]))["entries"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    for (flag, field) in [("--loan", "loan"), ("--savings", "savings")] {
        for v in ["-100", "-0.50", "-১০০"] {
            somiti(d, url)
                .args([
                    "collection",
                    "add",
                    "--org",
                    "SOM",
                    "--member",
                    "1",
                    flag,
                    v,
                ])
                .assert()
                .code(1)
                .stderr(contains(format!("{field}: must not be negative")));
        }
    }
    for (flag, field) in [
        ("--loan", "loan"),
        ("--installment", "installment"),
        ("--savings", "savings"),
    ] {
        somiti(d, url)
            .args([
                "member",
                "add",
                "--org",
                "SOM",
                "--no",
                "2",
                "--name",
                "Karim",
                "--nid",
                "1234567899",
                "--mobile",
                "01712345679",
                flag,
                "-100",
            ])
            .assert()
            .code(1)
            .stderr(contains(format!("{field}: must not be negative")));
    }
    // A flag where the amount should be is a usage error, not an amount.
    somiti(d, url)
        .args([
            "collection",
            "add",
            "--org",
            "SOM",
            "--member",
            "1",
            "--loan",
            "--json",
        ])
        .assert()
        .code(2)
        .stderr(contains("not an amount"));
    assert_eq!(count(), before, "nothing was recorded");
    let m = json_of(somiti(d, url).args(["member", "list", "--org", "SOM", "--json"]));
    assert_eq!(m["total"], 1, "no member was added");
}

#[test]
fn negative_amounts_are_refused_by_the_ledger_on_sqlite() {
    on_sqlite(negative_amounts);
}

#[test]
fn negative_amounts_are_refused_by_the_ledger_on_postgres() {
    on_postgres(negative_amounts);
}

// ---- somiti audit ---------------------------------------------------------------------

fn audit_on_the_local_clock(d: &Path, url: Option<&str>) {
    two_orgs(d, url);
    with_store(d, url, async |s: &Store| {
        // 23:30 UTC on Nov 30 is 05:30 on Dec 1 in Dhaka; 17:00 UTC is 23:00 on Nov 30.
        audit_at(
            s,
            "2026-11-30T23:30:00Z",
            "rahim",
            "collection.add",
            "SOM/collection/1",
        )
        .await;
        audit_at(
            s,
            "2026-11-30T17:00:00Z",
            "rahim",
            "collection.add",
            "SOM/collection/2",
        )
        .await;
        audit_at(s, "2026-12-01T10:00:00Z", "karim", "backup.create", "all").await;
        audit_at(
            s,
            "2026-12-01T19:00:00Z",
            "rahim",
            "collection.add",
            "SOM/collection/3",
        )
        .await;
    });
    let entries = |args: &[&str]| -> Vec<Value> {
        let v = json_of(somiti(d, url).arg("audit").args(args).arg("--json"));
        assert_eq!(v["timezone"], "Asia/Dhaka");
        v["entries"].as_array().unwrap().clone()
    };
    let dec1 = entries(&[
        "--actor",
        "rahim",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
    ]);
    assert_eq!(dec1.len(), 1, "{dec1:?}");
    let e = &dec1[0];
    assert_eq!(e["at"], "2026-11-30T23:30:00Z");
    assert_eq!(e["at_local"], "2026-12-01T05:30:00+06:00");
    assert_eq!(e["actor"], "rahim");
    assert_eq!(e["action"], "collection.add");
    assert_eq!(e["target"], "SOM/collection/1");
    assert_eq!(e["outcome"], "ok");
    assert_eq!(e["detail"]["note"], "test", "detail is JSON, not a string");
    assert!(e["id"].is_i64());

    let nov30 = entries(&[
        "--actor",
        "rahim",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
    ]);
    let targets: Vec<&str> = nov30
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["SOM/collection/2"]);
    // Dec 1 19:00 UTC is Dec 2 in Dhaka: an open-ended --from finds it, newest first.
    let from = entries(&["--actor", "rahim", "--from", "2026-12-01"]);
    let targets: Vec<&str> = from.iter().map(|e| e["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["SOM/collection/3", "SOM/collection/1"]);
    let backups = entries(&["--action", "backup", "--to", "2026-12-01"]);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(backups[0]["actor"], "karim");
    // The action is a literal prefix: `_` matches only an underscore.
    assert!(entries(&["--action", "collection_add"]).is_empty());
    let limited = entries(&["--actor", "rahim", "--limit", "2"]);
    assert_eq!(limited.len(), 2);

    // The table names its clock once and shows local seconds.
    somiti(d, url)
        .args([
            "audit",
            "--actor",
            "rahim",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
        ])
        .assert()
        .success()
        .stdout(contains("At (Dhaka)"))
        .stdout(contains("2026-12-01 05:30:00"))
        .stdout(contains("1 entry shown"));
    // A backwards range is refused, naming both dates.
    somiti(d, url)
        .args(["audit", "--from", "2026-12-02", "--to", "2026-12-01"])
        .assert()
        .code(1)
        .stderr(contains("2026-12-02 is after --to 2026-12-01"));

    // An organization on another clock: without --org the clock is ambiguous.
    somiti(d, url)
        .args([
            "org",
            "add",
            "--code",
            "NYC",
            "--name",
            "Queens Somiti",
            "--timezone",
            "America/New_York",
        ])
        .assert()
        .success();
    somiti(d, url)
        .args(["audit"])
        .assert()
        .code(1)
        .stderr(contains("several organizations (KHU, NYC, SOM)"));
    let v = json_of(somiti(d, url).args([
        "audit",
        "--org",
        "NYC",
        "--actor",
        "rahim",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
        "--json",
    ]));
    assert_eq!(v["timezone"], "America/New_York");
    let local: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at_local"].as_str().unwrap())
        .collect();
    // On New York's clock, Nov 30 holds the two entries that were Nov 30 and Dec 1 in
    // Dhaka; the one that was Dec 2 in Dhaka is Dec 1 there (newest entry first).
    assert_eq!(
        local,
        ["2026-11-30T12:00:00-05:00", "2026-11-30T18:30:00-05:00"]
    );
}

#[test]
fn somiti_audit_filters_by_actor_action_and_local_dates_on_sqlite() {
    on_sqlite(audit_on_the_local_clock);
}

#[test]
fn somiti_audit_filters_by_actor_action_and_local_dates_on_postgres() {
    on_postgres(audit_on_the_local_clock);
}

// ---- the core query, both backends ----------------------------------------------------

async fn audit_query_uses_local_business_days(store: &Store) {
    audit_at(
        store,
        "2026-11-30T23:30:00Z",
        "rahim",
        "collection.add",
        "a",
    )
    .await;
    audit_at(
        store,
        "2026-11-30T17:59:59Z",
        "rahim",
        "collection.add",
        "b",
    )
    .await;
    audit_at(
        store,
        "2026-12-01T18:00:00Z",
        "rahim",
        "collection.add",
        "c",
    )
    .await;
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let q = AuditQuery {
        actor: Some("rahim".into()),
        from: Some(d("2026-12-01")),
        to: Some(d("2026-12-01")),
        tz: chrono_tz::Asia::Dhaka,
        ..Default::default()
    };
    let found: Vec<String> = audit::query(store, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(
        found,
        ["a"],
        "Dec 1 in Dhaka is [Nov 30 18:00, Dec 1 18:00) UTC"
    );
    let utc = AuditQuery {
        tz: chrono_tz::UTC,
        ..q.clone()
    };
    let found: Vec<String> = audit::query(store, &utc)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(found, ["c"], "the same day in UTC");
}

on_both_backends!(audit_query_uses_local_business_days);

// ---- structure --------------------------------------------------------------------------

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Where `needle` is used in the files under `dir` (comments count too: a face that
/// mentions the other is a face that will soon import it).
fn uses(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|w| line.contains(w)) {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn the_console_and_the_command_line_do_not_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tui = uses(
        &src.join("tui"),
        &["crate::cli", "somiti::cli", "super::cli"],
    );
    assert!(
        tui.is_empty(),
        "the console uses the command line:\n{}",
        tui.join("\n")
    );
    let cli = uses(
        &src.join("cli"),
        &["crate::tui", "somiti::tui", "super::tui"],
    );
    assert!(
        cli.is_empty(),
        "the command line uses the console:\n{}",
        cli.join("\n")
    );
    // The core (everything but the two faces and main.rs) uses neither.
    let mut core = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if ["cli", "tui", "main.rs", "lib.rs"].contains(&name.as_str()) {
            continue;
        }
        if p.is_dir() {
            core.extend(uses(&p, &["crate::cli", "crate::tui"]));
        } else {
            let text = std::fs::read_to_string(&p).unwrap();
            if text.contains("crate::cli") || text.contains("crate::tui") {
                core.push(p.display().to_string());
            }
        }
    }
    assert!(
        core.is_empty(),
        "the core uses a face:\n{}",
        core.join("\n")
    );
}
