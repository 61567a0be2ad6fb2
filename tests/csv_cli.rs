//! `somiti export csv` and `somiti import members|template` through the real binary:
//! exit codes, messages, files.

mod common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn somiti(data: &Path) -> Command {
    let mut c = Command::cargo_bin("somiti").unwrap();
    for v in [
        "SOMITI_DATABASE_URL",
        "SOMITI_CONFIG",
        "SOMITI_DATA_DIR",
        "SOMITI_OPERATOR",
    ] {
        c.env_remove(v);
    }
    c.arg("--data-dir").arg(data);
    c
}

fn initialised() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    somiti(d.path())
        .args(["init", "--org-code", "DEMO", "--org-name", "X"])
        .assert()
        .success();
    d
}

const GOOD: &str = "\u{feff}member_no,name,nid,mobile,loan,installment,savings\r\n\
1,রহিমা খাতুন,1990123456,01712345678,10000,100,20\r\n\
2,\"Begum, Salma\",1990123457,01812345678,0,0,5\r\n";

const BAD: &str = "member_no,name,nid,mobile\n1,A,12345,01712345678\n2,B,1990123457,0171\n";

#[test]
fn importing_a_clean_file_exits_0_and_says_how_many_members_came_in() {
    let d = initialised();
    let f = d.path().join("m.csv");
    std::fs::write(&f, GOOD).unwrap();
    somiti(d.path())
        .args(["import", "members"])
        .arg(&f)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(predicate::str::contains("2 would be imported into DEMO"));
    somiti(d.path())
        .args(["import", "members"])
        .arg(&f)
        .assert()
        .success()
        .stdout(predicate::str::contains("imported 2 members into DEMO"));
    somiti(d.path())
        .args(["member", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("রহিমা খাতুন"));
}

#[test]
fn importing_a_file_with_bad_rows_exits_1_names_every_row_and_imports_nothing() {
    let d = initialised();
    let f = d.path().join("bad.csv");
    std::fs::write(&f, BAD).unwrap();
    somiti(d.path())
        .args(["import", "members"])
        .arg(&f)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "2 rows read, 2 problem(s) in 2 row(s); nothing was imported",
        ))
        .stderr(predicate::str::contains(
            "row 2, column C (nid): must have 10, 13 or 17 digits (got 5)",
        ))
        .stderr(predicate::str::contains("row 3, column D (mobile)"));
    somiti(d.path())
        .args(["--json", "member", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"total\": 0"));
}

#[test]
fn json_import_prints_the_report_and_a_json_error() {
    let d = initialised();
    let f = d.path().join("bad.csv");
    std::fs::write(&f, BAD).unwrap();
    let out = somiti(d.path())
        .args(["--json", "import", "members"])
        .arg(&f)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["problems"][0]["row"], 2);
    assert_eq!(rep["problems"][0]["column"], "C");
    assert_eq!(rep["imported"], 0);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "invalid");
}

#[test]
fn importing_a_missing_file_exits_1_and_names_it() {
    let d = initialised();
    somiti(d.path())
        .args(["import", "members", "nowhere.csv"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("reading nowhere.csv"));
}

#[test]
fn the_template_command_writes_a_file_that_imports() {
    let d = initialised();
    let t = d.path().join("t.csv");
    somiti(d.path())
        .args(["import", "template", "--out"])
        .arg(&t)
        .assert()
        .success();
    assert!(std::fs::read(&t).unwrap().starts_with(b"\xEF\xBB\xBF"));
    somiti(d.path())
        .args(["import", "members"])
        .arg(&t)
        .assert()
        .success();
}

#[test]
fn exporting_members_writes_a_bom_csv_into_the_export_directory_by_default() {
    let d = initialised();
    let f = d.path().join("m.csv");
    std::fs::write(&f, GOOD).unwrap();
    somiti(d.path())
        .args(["import", "members"])
        .arg(&f)
        .assert()
        .success();
    let out = somiti(d.path())
        .args(["export", "csv", "--table", "members"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 members of DEMO to"))
        .stdout(predicate::str::contains("scp "))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let exports = d.path().join("exports");
    let files: Vec<_> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("members_") && name.ends_with(".csv"),
        "{name}"
    );
    assert!(text.contains(&name), "{text}");
    let bytes = std::fs::read(&files[0]).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBForg_code,"));
    assert!(String::from_utf8_lossy(&bytes).contains("রহিমা খাতুন"));
}

#[test]
fn exporting_collections_to_a_named_file_reports_rows_as_json() {
    let d = initialised();
    let out = d.path().join("c.csv");
    let o = somiti(d.path())
        .args(["--json", "export", "csv", "--table", "collections"])
        .args(["--from", "2026-01-01", "--to", "2026-01-31", "--out"])
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rep: serde_json::Value = serde_json::from_slice(&o).unwrap();
    assert_eq!(rep["rows"], 0);
    assert_eq!(rep["table"], "collections");
    assert!(out.exists());
}

#[test]
fn export_options_that_do_not_fit_the_table_are_refused() {
    let d = initialised();
    somiti(d.path())
        .args([
            "export",
            "csv",
            "--table",
            "members",
            "--from",
            "2026-01-01",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("collections only"));
    somiti(d.path())
        .args(["export", "csv", "--table", "loans"])
        .assert()
        .code(2);
}

#[tokio::test]
async fn import_and_export_work_the_same_on_postgresql() {
    let Some(url) = common::fresh_pg_url().await else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let pg = |d: &Path| {
        let mut c = somiti(d);
        c.arg("--database").arg(&url);
        c
    };
    pg(d.path())
        .args(["init", "--org-code", "DEMO", "--org-name", "X"])
        .assert()
        .success();
    let bad = d.path().join("bad.csv");
    std::fs::write(&bad, BAD).unwrap();
    pg(d.path())
        .args(["import", "members"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("row 2, column C (nid)"));
    let good = d.path().join("m.csv");
    std::fs::write(&good, GOOD).unwrap();
    pg(d.path())
        .args(["import", "members"])
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains("imported 2 members into DEMO"));
    let out = d.path().join("m-out.csv");
    pg(d.path())
        .args(["export", "csv", "--table", "members", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote 2 members of DEMO"));
    assert!(std::fs::read_to_string(&out).unwrap().contains("রহিমা খাতুন"));
    common::drop_pg_database(&url).await;
}
