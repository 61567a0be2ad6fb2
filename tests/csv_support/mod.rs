//! Helpers for the CSV tests on top of the shared harness (`tests/common`): an operator,
//! an organization with a Bengali name, members, and reading back the CSV we wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use somiti::access::{Operator, Role};
use somiti::db::Store;
use somiti::ledger::member::{self, MemberInput};
use somiti::ledger::org::{self, NewOrganization, Organization};

/// A SQLite store (from the shared harness) and a folder for the test's files.
pub struct CsvTest {
    pub t: crate::common::TestStore,
    pub dir: tempfile::TempDir,
}

impl CsvTest {
    pub async fn sqlite() -> CsvTest {
        CsvTest {
            t: crate::common::TestStore::sqlite().await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.t.store
    }
}

pub fn admin() -> Operator {
    Operator {
        username: "tester".into(),
        full_name: "Test Admin".into(),
        role: Role::Admin,
        org_id: None,
    }
}

pub fn with_role(role: Role) -> Operator {
    Operator {
        role,
        username: role.as_str().into(),
        ..admin()
    }
}

pub async fn org(store: &Store, code: &str) -> Organization {
    org::insert_unchecked(
        store,
        "tester",
        &NewOrganization {
            code: code.into(),
            name: format!("সোনালী সমিতি {code}"),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

pub async fn worker(store: &Store, o: &Organization, name: &str) -> org::Worker {
    org::add_worker(store, &admin(), o, name, "01811111111")
        .await
        .unwrap()
}

/// A valid member input: number `no`, NID and mobile derived from it.
pub fn input(no: u32, name: &str) -> MemberInput {
    MemberInput {
        member_no: no.to_string(),
        name: name.into(),
        nid: format!("{:010}", 1_000_000_000u64 + no as u64),
        mobile: format!("017{:08}", no),
        worker: String::new(),
        loan_amount: 1_000_000,
        daily_installment: 10_000,
        daily_savings: 2_000,
        status: None,
        joined_on: Some(NaiveDate::from_ymd_opt(2026, 1, 15).unwrap()),
    }
}

pub async fn add_member(store: &Store, o: &Organization, m: &MemberInput) -> member::Member {
    member::add(store, &admin(), o, m).await.unwrap()
}

pub async fn member_count(store: &Store) -> i64 {
    somiti::on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM members"
    )
    .fetch_one(p)
    .await
    .unwrap())
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Read a CSV we wrote: checks the BOM, returns the header and the rows.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .expect("starts with a UTF-8 BOM");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body);
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let header = rows.remove(0);
    (header, rows)
}

/// The value of `col` in `row`, by header name.
pub fn cell<'a>(header: &[String], row: &'a [String], col: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col} in {header:?}"));
    &row[i]
}
