//! CSV export: what Excel and other CSV readers get back, on both backends.

mod common;
mod csv_support;

use chrono::NaiveDate;
use csv_support::*;
use somiti::access::Role;
use somiti::csvio::{self, Table};
use somiti::db::Store;
use somiti::ledger::collection::{self, CollectionInput};
use somiti::ledger::member::{self, MemberQuery};
use somiti::ledger::money;

/// Names that break naive CSV: Bengali, a comma, quotes, a newline, a formula.
const HARD_NAMES: [&str; 5] = [
    "রহিমা খাতুন",
    "Begum, Salma",
    "Nur \"Nuri\" Jahan",
    "আমেনা\nবেগম",
    "=1+2 মরিয়ম",
];

on_both_backends!(
    exported_members_survive_a_round_trip_through_the_csv_crate,
    collections_export_links_reversals_so_totals_reconcile,
);

fn day(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
}

async fn ledger_with_hard_names(store: &Store) -> somiti::ledger::org::Organization {
    let o = org(store, "DEMO").await;
    worker(store, &o, "করিম").await;
    for (i, name) in HARD_NAMES.iter().enumerate() {
        let mut m = input(i as u32 + 1, name);
        m.worker = "করিম".into();
        add_member(store, &o, &m).await;
    }
    for (no, date, loan, sav) in [
        ("1", "2026-02-01", 30_000, 2_000),
        ("1", "2026-02-02", 10_050, 0),
        ("2", "2026-02-01", 0, 5_000),
    ] {
        let c = CollectionInput {
            member_no: no.into(),
            collected_on: Some(day(date)),
            loan_paisa: loan,
            savings_paisa: sav,
            note: "ok, \"paid\"".into(),
        };
        collection::add(store, &admin(), &o, &c).await.unwrap();
    }
    o
}

async fn exported_members_survive_a_round_trip_through_the_csv_crate(store: &Store) {
    let o = ledger_with_hard_names(store).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.csv");
    let rep = csvio::export_members(store, &admin(), &o, None, &out)
        .await
        .unwrap();
    assert_eq!(rep.rows, 5);
    let (header, rows) = read_csv(&out);
    assert_eq!(
        header[..4],
        ["org_code", "organization", "member_no", "name"]
    );
    let names: Vec<&str> = rows.iter().map(|r| cell(&header, r, "name")).collect();
    let expected: Vec<String> = HARD_NAMES
        .iter()
        .map(|n| {
            if n.starts_with('=') {
                format!("'{n}")
            } else {
                n.to_string()
            }
        })
        .collect();
    assert_eq!(names, expected);
    assert_eq!(cell(&header, &rows[0], "organization"), "সোনালী সমিতি DEMO");
    assert_eq!(cell(&header, &rows[0], "worker"), "করিম");
    assert_eq!(cell(&header, &rows[0], "loan_amount"), "10000.00");
    assert_eq!(cell(&header, &rows[0], "joined_on"), "2026-01-15");
    // balances are the ledger's own, as the register shows them
    let q = MemberQuery {
        limit: 100,
        ..Default::default()
    };
    let (list, _) = member::list(store, &admin(), &o, &q).await.unwrap();
    for (r, m) in rows.iter().zip(&list) {
        assert_eq!(cell(&header, r, "member_no"), m.member.member_no);
        assert_eq!(
            cell(&header, r, "loan_outstanding"),
            money::plain(m.loan_outstanding)
        );
        assert_eq!(
            cell(&header, r, "savings_balance"),
            money::plain(m.savings_balance)
        );
        assert_eq!(
            cell(&header, r, "days_in_arrears"),
            m.days_in_arrears.to_string()
        );
    }
    assert_eq!(cell(&header, &rows[0], "loan_outstanding"), "9599.50");
    let outstanding: i64 = list.iter().map(|m| m.loan_outstanding).sum();
    assert_eq!(rep.loan_total, outstanding);
    // the filter is the register's: Bengali text and digits match
    let out2 = dir.path().join("f.csv");
    let rep = csvio::export_members(store, &admin(), &o, Some("রহিমা"), &out2)
        .await
        .unwrap();
    assert_eq!(rep.rows, 1);
}

#[tokio::test]
async fn python_reads_the_export_with_utf8_sig_and_gets_every_name_back() {
    let t = CsvTest::sqlite().await;
    let o = ledger_with_hard_names(t.store()).await;
    let out = t.dir.path().join("m.csv");
    csvio::export_members(t.store(), &admin(), &o, None, &out)
        .await
        .unwrap();
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:\n\
                  \x20   rows = list(csv.DictReader(f))\n\
                  print(json.dumps([[r['name'], r['loan_amount']] for r in rows]))\n";
    let run = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&out)
        .output();
    let Ok(run) = run else {
        eprintln!("python3 is not installed; skipping");
        return;
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got: Vec<(String, String)> = serde_json::from_slice(&run.stdout).unwrap();
    let names: Vec<&str> = got
        .iter()
        .map(|(n, _)| n.trim_start_matches('\''))
        .collect();
    assert_eq!(names, HARD_NAMES);
    assert!(got.iter().all(|(_, loan)| loan == "10000.00"));
}

async fn collections_export_links_reversals_so_totals_reconcile(store: &Store) {
    let o = ledger_with_hard_names(store).await;
    // reverse the first entry: the export shows both rows, linked both ways
    collection::reverse(store, &admin(), &o, 1, "wrong member")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let rep = csvio::export_collections(store, &admin(), &o, None, None, &out)
        .await
        .unwrap();
    let (h, rows) = read_csv(&out);
    assert_eq!(rep.rows, 4);
    let by_id = |id: &str| rows.iter().find(|r| cell(&h, r, "id") == id).unwrap();
    let (orig, rev) = (by_id("1"), by_id("4"));
    assert_eq!(cell(&h, orig, "reversed_by"), "4");
    assert_eq!(cell(&h, rev, "reversal_of"), "1");
    assert_eq!(cell(&h, rev, "loan"), "300.00");
    assert_eq!(cell(&h, rev, "loan_net"), "-300.00");
    assert_eq!(cell(&h, orig, "member_name"), "রহিমা খাতুন");
    assert_eq!(cell(&h, orig, "worker"), "করিম");
    assert_eq!(cell(&h, orig, "note"), "ok, \"paid\"");
    assert_eq!(cell(&h, orig, "collected_on"), "2026-02-01");
    assert!(cell(&h, orig, "entered_at").ends_with("+06:00"));
    // Σ loan_net over the file is what the ledger counts as paid
    let net: i64 = rows
        .iter()
        .map(|r| {
            money::parse_taka("x", cell(&h, r, "loan_net").trim_start_matches('-')).unwrap()
                * if cell(&h, r, "loan_net").starts_with('-') {
                    -1
                } else {
                    1
                }
        })
        .sum();
    assert_eq!(net, 10_050);
    assert_eq!(rep.loan_total, 10_050);
    assert_eq!(rep.savings_total, 5_000);
    // a date range keeps only its days
    let rep = csvio::export_collections(
        store,
        &admin(),
        &o,
        Some(day("2026-02-02")),
        Some(day("2026-02-02")),
        &dir.path().join("d.csv"),
    )
    .await
    .unwrap();
    assert_eq!(rep.rows, 1);
}

#[tokio::test]
async fn export_all_writes_members_and_collections_for_every_org() {
    let t = CsvTest::sqlite().await;
    ledger_with_hard_names(t.store()).await;
    let b = org(t.store(), "BOGRA").await;
    add_member(t.store(), &b, &input(77, "Jamila")).await;
    let dir = t.dir.path().join("exports");
    let files = csvio::export_all(t.store(), &dir).await.unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].starts_with("members_BOGRA_"), "{names:?}");
    assert!(names[1].starts_with("collections_BOGRA_"), "{names:?}");
    assert!(names[2].starts_with("members_DEMO_"), "{names:?}");
    let (_, rows) = read_csv(&files[0]);
    assert_eq!(rows.len(), 1);
    // no partial file is left behind, and exports are private
    use std::os::unix::fs::PermissionsExt;
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        assert!(!f.file_name().to_string_lossy().ends_with(".partial"));
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn default_names_use_the_organizations_local_minute() {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:30:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        csvio::default_file_name(Table::Members, &o, at),
        "members_2026-03-01_18-30.csv"
    );
}

#[tokio::test]
async fn a_worker_may_not_export_and_the_refusal_is_audited() {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let out = t.dir.path().join("m.csv");
    let e = csvio::export_members(t.store(), &with_role(Role::Worker), &o, None, &out)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4, "{e}");
    assert!(!out.exists());
    let f = somiti::access::audit::AuditFilter {
        action: Some("export.members".into()),
        ..Default::default()
    };
    let log = somiti::access::audit::list(t.store(), &f).await.unwrap();
    assert_eq!(log[0].outcome, "refused");
}
