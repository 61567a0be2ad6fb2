//! Member import: every problem reported with row, column and reason, nothing written
//! when any row is wrong, everything in one transaction otherwise. Both backends.

mod common;
mod csv_support;

use std::time::Instant;

use csv_support::*;
use somiti::access::audit::{self, AuditFilter};
use somiti::csvio::{self, ImportReport};
use somiti::db::Store;
use somiti::ledger::org::Organization;

const HEADER: &str =
    "member_no,name,nid,mobile,worker,loan_amount,daily_installment,daily_savings,joined_on,status";

on_both_backends!(
    errors_in_several_rows_are_all_reported_and_nothing_is_written,
    three_bad_rows_of_500_are_exactly_what_is_reported_and_fixed_all_500_import,
    ten_thousand_rows_land_in_one_transaction,
);

/// A good row for member `no` (NID and mobile derived from the number).
fn good_row(no: u32) -> String {
    format!(
        "{no},সদস্য {no},{},017{no:08},,5000.00,50.00,10.00,2026-01-10,active",
        1_000_000_000u64 + no as u64
    )
}

fn file_of(rows: &[String]) -> Vec<u8> {
    let mut s = String::from("\u{feff}");
    s += HEADER;
    s += "\r\n";
    for r in rows {
        s += r;
        s += "\r\n";
    }
    s.into_bytes()
}

/// (row, column, header) of every problem, in order.
fn places(rep: &ImportReport) -> Vec<(u64, &str, &str)> {
    rep.problems
        .iter()
        .map(|p| (p.row, p.column.as_str(), p.header.as_str()))
        .collect()
}

async fn import_log(store: &Store) -> Vec<audit::AuditEntry> {
    let f = AuditFilter {
        action: Some("member.import".into()),
        ..Default::default()
    };
    audit::list(store, &f).await.unwrap()
}

async fn errors_in_several_rows_are_all_reported_and_nothing_is_written(store: &Store) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = org(store, "DEMO").await;
    worker(store, &o, "করিম").await;
    add_member(store, &o, &input(99, "Old Member")).await;
    let rows = [
        "1,রহিমা খাতুন,1000000001,01700000001,করিম,5000,50,10,2026-01-10,active".to_string(),
        "2,সালমা,12345,01700000002,,0,0,0,,".into(),
        "3,,1000000003,0171234,,abc,0,0,,".into(),
        "1,Dup No,1000000004,01700000004,,0,0,0,,".into(),
        "5,Dup NID,1000000001,01700000005,,0,0,0,,".into(),
        "6,Someone Else,1000000099,01700000006,,0,0,0,,".into(),
        "7,Unknown worker,1000000007,01700000007,রহিম,0,0,0,2099-01-01,sleeping".into(),
        "8,Loan without installment,1000000008,01700000008,,1000,0,0,,".into(),
    ];
    let path = write(dir, "bad.csv", file_of(&rows));
    let rep = csvio::import_members(store, &admin(), &o, &path, false)
        .await
        .unwrap();
    assert_eq!(
        places(&rep),
        [
            (3, "C", "nid"),
            (4, "B", "name"),
            (4, "D", "mobile"),
            (4, "F", "loan_amount"),
            (5, "A", "member_no"),
            (6, "C", "nid"),
            (7, "C", "nid"),
            (8, "E", "worker"),
            (8, "I", "joined_on"),
            (8, "J", "status"),
            (9, "G", "daily_installment"),
        ],
        "{:#?}",
        rep.problems
    );
    let text: Vec<String> = rep.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        text[0],
        "row 3, column C (nid): must have 10, 13 or 17 digits (got 5)"
    );
    assert!(text[4].contains("1 is also on row 2"), "{}", text[4]);
    assert!(
        text[5].contains("1000000001 is also on row 2"),
        "{}",
        text[5]
    );
    assert!(
        text[6].contains("already belongs to member DEMO/99") && text[6].contains("differs in"),
        "{}",
        text[6]
    );
    assert!(text[8].contains("in the future"), "{}", text[8]);
    assert_eq!(rep.rows, 8);
    assert_eq!(rep.imported, 0);
    assert_eq!(member_count(store).await, 1, "nothing was written");
    let log = import_log(store).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, "failed");
}

async fn three_bad_rows_of_500_are_exactly_what_is_reported_and_fixed_all_500_import(
    store: &Store,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = org(store, "DEMO").await;
    let mut rows: Vec<String> = (1..=500).map(good_row).collect();
    // spreadsheet rows 58, 251 and 501 (data rows 57, 250, 500)
    rows[56] = rows[56].replace("0170000005", "0120000005");
    rows[249] = rows[249].replace(",50.00,", ",fifty,");
    rows[499] = rows[499].replace("1000000500", "1000000499");
    let path = write(dir, "members.csv", file_of(&rows));
    let rep = csvio::import_members(store, &admin(), &o, &path, false)
        .await
        .unwrap();
    assert_eq!(
        places(&rep),
        [
            (58, "D", "mobile"),
            (251, "G", "daily_installment"),
            (501, "C", "nid")
        ],
        "{:#?}",
        rep.problems
    );
    assert_eq!(rep.would_import, 497);
    assert_eq!(member_count(store).await, 0);
    // fixed, all 500 go in
    let rows: Vec<String> = (1..=500).map(good_row).collect();
    let path = write(dir, "members.csv", file_of(&rows));
    let rep = csvio::import_members(store, &admin(), &o, &path, false)
        .await
        .unwrap();
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    assert_eq!(rep.imported, 500);
    assert_eq!(member_count(store).await, 500);
}

async fn ten_thousand_rows_land_in_one_transaction(store: &Store) {
    let backend = store.backend().as_str();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = org(store, "DEMO").await;
    let rows: Vec<String> = (1..=10_000).map(good_row).collect();
    let path = write(dir, "big.csv", file_of(&rows));
    let started = Instant::now();
    let rep = csvio::import_members(store, &admin(), &o, &path, false)
        .await
        .unwrap();
    let took = started.elapsed();
    println!("imported 10,000 members on {backend} in {took:.2?}");
    assert!(
        rep.is_ok(),
        "{:#?}",
        &rep.problems[..3.min(rep.problems.len())]
    );
    assert_eq!(rep.imported, 10_000);
    assert_eq!(member_count(store).await, 10_000);
    let log = import_log(store).await;
    assert_eq!(log.len(), 1, "one audit entry for the whole import");
    assert!(
        log[0].detail.contains("\"imported\":10000"),
        "{}",
        log[0].detail
    );
}

async fn present(store: &Store, dir: &std::path::Path) -> Organization {
    let o = org(store, "DEMO").await;
    let rows: Vec<String> = (1..=3).map(good_row).collect();
    let path = write(dir, "first.csv", file_of(&rows));
    let rep = csvio::import_members(store, &admin(), &o, &path, false)
        .await
        .unwrap();
    assert_eq!(rep.imported, 3);
    o
}

#[tokio::test]
async fn re_importing_the_same_list_with_new_members_skips_the_identical_ones() {
    let t = CsvTest::sqlite().await;
    let o = present(t.store(), t.dir.path()).await;
    let rows: Vec<String> = (1..=5).map(good_row).collect();
    let path = write(t.dir.path(), "again.csv", file_of(&rows));
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    let skipped: Vec<u64> = rep.already_present.iter().map(|a| a.row).collect();
    assert_eq!(skipped, [2, 3, 4]);
    assert_eq!(rep.imported, 2);
    assert_eq!(member_count(t.store()).await, 5);
}

#[tokio::test]
async fn a_list_with_fewer_columns_still_recognises_members_already_present() {
    let t = CsvTest::sqlite().await;
    let o = present(t.store(), t.dir.path()).await;
    let text = "member_no,name,nid,mobile\n1,সদস্য 1,1000000001,01700000001\n";
    let path = write(t.dir.path(), "short.csv", text);
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    assert_eq!(rep.already_present.len(), 1);
    assert_eq!(rep.imported, 0);
}

#[tokio::test]
async fn a_member_already_present_with_different_details_stops_the_import() {
    let t = CsvTest::sqlite().await;
    let o = present(t.store(), t.dir.path()).await;
    let mut rows: Vec<String> = (1..=4).map(good_row).collect();
    rows[1] = rows[1].replace("5000.00", "9000.00");
    let path = write(t.dir.path(), "changed.csv", file_of(&rows));
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    assert_eq!(places(&rep), [(3, "A", "member_no"), (3, "C", "nid")]);
    assert!(
        rep.problems[1].reason.contains("differs in loan_amount"),
        "{}",
        rep.problems[1]
    );
    assert_eq!(
        member_count(t.store()).await,
        3,
        "member 4 was not imported"
    );
}

#[tokio::test]
async fn dry_run_reports_what_would_happen_and_writes_nothing() {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let rows: Vec<String> = (1..=20).map(good_row).collect();
    let path = write(t.dir.path(), "m.csv", file_of(&rows));
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, true)
        .await
        .unwrap();
    assert!(rep.is_ok());
    assert!(rep.dry_run);
    assert_eq!((rep.would_import, rep.imported), (20, 0));
    assert_eq!(member_count(t.store()).await, 0);
    assert!(import_log(t.store()).await.is_empty());
}

#[tokio::test]
async fn the_template_imports_cleanly() {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let path = t.dir.path().join("template.csv");
    csvio::write_template(&path).unwrap();
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    assert!(rep.had_bom);
    assert_eq!(rep.imported, 1);
}

#[tokio::test]
async fn a_viewer_may_not_import() {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let path = write(t.dir.path(), "m.csv", file_of(&[good_row(1)]));
    let viewer = with_role(somiti::access::Role::Viewer);
    let e = csvio::import_members(t.store(), &viewer, &o, &path, false)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 4);
    assert_eq!(member_count(t.store()).await, 0);
}
