//! Helpers for the CSV tests: stores on both backends, an operator, an organization with
//! workers and members, and files written the way Excel writes them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use somiti::access::{Operator, Role};
use somiti::db::Store;
use somiti::ledger::member::{self, MemberInput};
use somiti::ledger::org::{self, NewOrganization, Organization};

pub struct TestStore {
    pub store: Store,
    pub dir: tempfile::TempDir,
    /// PostgreSQL: (server URL, schema) to drop when the test ends.
    pg_schema: Option<(String, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg_schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime: drop the schema from a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(p) = sqlx::PgPool::connect(&base).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&p).await;
                    p.close().await;
                }
            })
        })
        .join();
    }
}

pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("somiti.db"))
        .await
        .unwrap();
    TestStore {
        store,
        dir,
        pg_schema: None,
    }
}

/// A store in a fresh PostgreSQL schema (so tests do not see each other's members), or
/// `None` when no server answers (a panic under CI=true, where PostgreSQL must be there).
pub async fn pg_store() -> Option<TestStore> {
    let base = std::env::var("SOMITI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://somiti:somiti@localhost/somiti".into());
    let schema = format!("csv_{}", uuid::Uuid::new_v4().simple());
    let admin = match sqlx::PgPool::connect(&base).await {
        Ok(p) => p,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL at SOMITI_TEST_PG_URL is required under CI: {e}");
            }
            eprintln!("skipping the PostgreSQL half: {e}");
            return None;
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let store = Store::open(&url).await.unwrap();
    Some(TestStore {
        store,
        dir: tempfile::tempdir().unwrap(),
        pg_schema: Some((base, schema)),
    })
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
