//! The accounts through the real binary: `loan disburse`, `loan write-off`, `savings
//! withdraw`, `member close`, `ledger check` and the `[ledger]` ceiling, with their exit
//! codes and words, and the rows checked in the sqlite3 shell.

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

fn sql(d: &Path, q: &str) -> String {
    let out = Process::new("sqlite3")
        .arg(d.join("somiti.db"))
        .arg(q)
        .output()
        .expect("sqlite3 runs");
    assert!(out.status.success(), "{q}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// (exit code, stdout, stderr)
fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(c: &mut Command) -> Value {
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

/// A fresh database with member 1: a first loan of 1,000 taka at 100 a day, 20 a day savings.
fn setup() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    somiti(d)
        .args(["init", "--org-code", "ACC", "--org-name", "Accounts Somiti"])
        .assert()
        .success();
    somiti(d)
        .args([
            "member",
            "add",
            "--no",
            "1",
            "--name",
            "Rahima Khatun",
            "--nid",
            "1234567890",
            "--mobile",
            "01712345678",
            "--loan",
            "1000",
            "--installment",
            "100",
            "--savings",
            "20",
        ])
        .assert()
        .success();
    t
}

#[test]
fn a_loan_is_repaid_then_the_next_cycle_is_disbursed_and_a_typo_is_refused() {
    let t = setup();
    let d = t.path();
    // A typo's extra zeros: refused by the ceiling, or by the outstanding, naming each.
    let (code, _, err) =
        run(somiti(d).args(["collection", "add", "--member", "1", "--loan", "99999999"]));
    assert_ne!(code, 0);
    assert!(err.contains("above the 100,000.00 allowed"), "{err}");
    let (code, _, err) =
        run(somiti(d).args(["collection", "add", "--member", "1", "--loan", "5000"]));
    assert_ne!(code, 0);
    assert!(err.contains("1,000.00 outstanding"), "{err}");
    assert_eq!(sql(d, "SELECT COUNT(*) FROM collections"), "0");
    // A second loan while the first runs: refused.
    let (code, _, err) = run(somiti(d).args([
        "loan",
        "disburse",
        "--member",
        "1",
        "--principal",
        "5000",
        "--installment",
        "250",
    ]));
    assert_ne!(code, 0);
    assert!(
        err.contains("still has loan cycle 1 with 1,000.00 outstanding"),
        "{err}"
    );
    // Repay in full: the loan is repaid, and the next cycle goes out.
    somiti(d)
        .args(["collection", "add", "--member", "1", "--loan", "1000"])
        .assert()
        .success();
    assert_eq!(sql(d, "SELECT status FROM loans WHERE cycle = 1"), "repaid");
    let l = json(somiti(d).args([
        "--json",
        "loan",
        "disburse",
        "--member",
        "1",
        "--principal",
        "5000",
        "--installment",
        "250",
        "--service-charge",
        "500",
    ]));
    assert_eq!(l["cycle"], 2);
    assert_eq!(l["principal"], 5000_00);
    assert_eq!(l["service_charge"], 500_00);
    assert_eq!(
        sql(
            d,
            "SELECT outcome FROM audit_log WHERE action = 'loan.disburse' ORDER BY id"
        ),
        "refused\nok",
        "the refusal and the disbursement are both in the audit log"
    );
    let (code, out, _) = run(somiti(d).args(["ledger", "check"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("every running balance equals its entries"),
        "{out}"
    );
}

#[test]
fn the_ceiling_comes_from_the_configuration() {
    let t = setup();
    let d = t.path();
    let cfg = d.join("ceiling.toml");
    std::fs::write(&cfg, "[ledger]\nmax_entry_taka = 500\n").unwrap();
    let (code, _, err) = run(somiti(d).arg("--config").arg(&cfg).args([
        "collection",
        "add",
        "--member",
        "1",
        "--savings",
        "600",
    ]));
    assert_ne!(code, 0);
    assert!(
        err.contains("above the 500.00 allowed for one entry")
            && err.contains("ledger.max_entry_taka"),
        "{err}"
    );
    somiti(d)
        .arg("--config")
        .arg(&cfg)
        .args(["collection", "add", "--member", "1", "--savings", "500"])
        .assert()
        .success();
    std::fs::write(&cfg, "[ledger]\nmax_entry_taka = 0\n").unwrap();
    let (code, _, err) = run(somiti(d).arg("--config").arg(&cfg).args(["member", "list"]));
    assert_ne!(code, 0);
    assert!(err.contains("ledger.max_entry_taka"), "{err}");
}

#[test]
fn closing_a_member_needs_the_loan_settled_and_pays_the_savings_out() {
    let t = setup();
    let d = t.path();
    somiti(d)
        .args([
            "collection",
            "add",
            "--member",
            "1",
            "--loan",
            "100",
            "--savings",
            "300",
        ])
        .assert()
        .success();
    // More than the balance: refused, naming it.
    let (code, _, err) =
        run(somiti(d).args(["savings", "withdraw", "--member", "1", "--amount", "301"]));
    assert_ne!(code, 0);
    assert!(err.contains("savings balance of 300.00"), "{err}");
    let w = json(somiti(d).args([
        "--json",
        "savings",
        "withdraw",
        "--member",
        "1",
        "--amount",
        "50",
        "--reason",
        "school fees",
    ]));
    assert_eq!(w["amount"], 50_00);
    // The loan still runs: closing is refused, with the amount and what to do.
    let (code, _, err) = run(somiti(d).args(["member", "close", "1", "--yes"]));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("still owes 900.00") && err.contains("loan write-off"),
        "{err}"
    );
    let (code, _, err) =
        run(somiti(d).args(["loan", "write-off", "--member", "1", "--reason", ""]));
    assert_ne!(code, 0);
    assert!(err.contains("reason"), "{err}");
    somiti(d)
        .args([
            "loan",
            "write-off",
            "--member",
            "1",
            "--reason",
            "moved away",
        ])
        .assert()
        .success();
    assert_eq!(
        sql(d, "SELECT status || ' ' || written_off FROM loans"),
        "written_off 90000"
    );
    // The dry run names the payout and changes nothing.
    let (code, out, _) = run(somiti(d).args(["member", "close", "1"]));
    assert_eq!(code, 0);
    assert!(out.contains("250.00") && out.contains("--yes"), "{out}");
    assert_eq!(sql(d, "SELECT status FROM members"), "active");
    let c = json(somiti(d).args([
        "--json",
        "member",
        "close",
        "1",
        "--yes",
        "--reason",
        "moved away",
    ]));
    assert_eq!(c["paid_out"], 250_00);
    assert_eq!(sql(d, "SELECT status FROM members"), "closed");
    assert_eq!(
        sql(d, "SELECT deposited - withdrawn FROM savings_accounts"),
        "0"
    );
    assert_eq!(sql(d, "SELECT COUNT(*) FROM withdrawals"), "2");
    assert_eq!(sql(d, "SELECT reason FROM member_closures"), "moved away");
    // A closed member cannot pay.
    let (code, _, _) =
        run(somiti(d).args(["collection", "add", "--member", "1", "--savings", "20"]));
    assert_ne!(code, 0);
    somiti(d).args(["ledger", "check"]).assert().success();
}

#[test]
fn ledger_check_names_a_balance_that_disagrees_and_exits_1() {
    let t = setup();
    let d = t.path();
    somiti(d)
        .args(["collection", "add", "--member", "1", "--loan", "100"])
        .assert()
        .success();
    sql(d, "UPDATE loans SET paid = paid + 1");
    let (code, out, err) = run(somiti(d).args(["ledger", "check"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("loan cycle 1") && out.contains("100.01") && out.contains("100.00"),
        "{out}"
    );
    assert!(err.contains("1 running balance disagree"), "{err}");
    let (_, out, _) = run(somiti(d).args(["--json", "ledger", "check"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["mismatches"][0]["field"], "paid");
}
