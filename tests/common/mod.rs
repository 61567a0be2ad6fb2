//! Shared harness for the integration tests: a fresh store per test on SQLite and on
//! PostgreSQL, and short ways to make organizations, workers, operators and members.
//!
//! PostgreSQL comes from `SOMITI_TEST_PG_URL` (e.g.
//! `postgres://somiti:somiti@127.0.0.1:5432/somiti`); every call makes a new database
//! `somiti_t_<uuid>` on that server. Without the variable or a reachable server the
//! PostgreSQL half is skipped with a note, except under `CI=true`, where it is a failure.

#![allow(dead_code)]
// amounts are written taka_poisha: 10_000_00 is 10,000 taka
#![allow(clippy::inconsistent_digit_grouping)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Weekday};
use sqlx::Connection;
use tempfile::TempDir;

use somiti::access::{Operator, Role, users};
use somiti::db::Store;
use somiti::ledger::member::{self, Member, MemberInput};
use somiti::ledger::org::{self, NewOrganization, Organization, Worker};

pub mod s3;

pub const PG_ENV: &str = "SOMITI_TEST_PG_URL";

/// A data directory for the real binary: `somiti.db` (SQLite) with the admin `admin` (the
/// binary acts as it through `SOMITI_OPERATOR`) and demo data: `members` members over `days`
/// days up to `today` in `orgs` organizations (seed 3).
pub async fn demo_data_dir(
    admin: &str,
    members: u32,
    days: u32,
    orgs: u32,
    today: NaiveDate,
) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("somiti.db"))
        .await
        .unwrap();
    make_operator(&store, admin, Role::Admin, None).await;
    somiti::demo::generate(
        &store,
        "test",
        &somiti::demo::DemoOptions {
            members,
            days,
            orgs,
            seed: 3,
        },
        today,
    )
    .await
    .unwrap();
    store.close().await;
    dir
}

/// A folder target (`file://{dir}`), everything else as `[[offsite]]` defaults it.
pub fn folder_target(name: &str, dir: &std::path::Path) -> somiti::config::OffsiteConfig {
    somiti::config::OffsiteConfig {
        name: name.into(),
        url: format!("file://{}", dir.display()),
        ..Default::default()
    }
}

/// A fresh SQLite database in its own temporary directory (kept alive by the `TempDir`).
pub async fn sqlite_store() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::open_sqlite(&dir.path().join("somiti.db"))
        .await
        .expect("open SQLite store");
    (store, dir)
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// No PostgreSQL to test against: a failure under CI, a note elsewhere.
fn pg_unavailable<T>(why: &str) -> Option<T> {
    if under_ci() {
        panic!(
            "PostgreSQL tests cannot run: {why}. Under CI=true a missing server is a failure; \
             start PostgreSQL and set {PG_ENV}=postgres://USER:PASS@HOST:PORT/DB (.ci/run does)"
        );
    }
    eprintln!("note: skipping the PostgreSQL half of this test: {why} (set {PG_ENV} to run it)");
    None
}

/// `url` with its database name replaced by `db` (query parameters are kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

/// The server URL from the environment, or `None` (a panic under CI).
fn pg_base_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => pg_unavailable(&format!("{PG_ENV} is not set")),
    }
}

async fn admin_connection(base: &str) -> Option<sqlx::PgConnection> {
    match tokio::time::timeout(Duration::from_secs(20), sqlx::PgConnection::connect(base)).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => pg_unavailable(&format!("cannot connect to {PG_ENV}: {e}")),
        Err(_) => pg_unavailable(&format!("connecting to {PG_ENV} timed out")),
    }
}

/// A new, empty PostgreSQL database on the test server; returns its URL. The database is
/// left behind (CLI tests open it from other processes); `drop_pg_database` removes one.
pub async fn fresh_pg_url() -> Option<String> {
    let base = pg_base_url()?;
    let mut admin = admin_connection(&base).await?;
    let name = format!("somiti_t_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name}");
    // Concurrent CREATE DATABASE can trip over the template being copied; try again.
    let mut attempt = 0;
    loop {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 5 => {
                attempt += 1;
                eprintln!("note: CREATE DATABASE {name} failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => panic!("CREATE DATABASE {name} on the test server failed: {e}"),
        }
    }
    let _ = admin.close().await;
    Some(with_database(&base, &name))
}

/// Remove a database made by `fresh_pg_url` (connections to it are ended first).
pub async fn drop_pg_database(url: &str) {
    let Some(base) = pg_base_url() else { return };
    let name = url
        .split_once("://")
        .map_or(url, |(_, r)| r)
        .split('?')
        .next()
        .and_then(|r| r.split_once('/'))
        .map(|(_, db)| db.to_string())
        .unwrap_or_default();
    assert!(
        name.starts_with("somiti_t_"),
        "refusing to drop {name:?}: not a test database"
    );
    let Some(mut admin) = admin_connection(&base).await else {
        return;
    };
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
        .execute(&mut admin)
        .await
    {
        eprintln!("note: could not drop test database {name}: {e}");
    }
    let _ = admin.close().await;
}

/// A store on a fresh PostgreSQL database, or `None` when there is no server (outside CI).
pub async fn pg_store() -> Option<Store> {
    let url = fresh_pg_url().await?;
    Some(
        Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open PostgreSQL store on a fresh database: {e}")),
    )
}

/// One backend under test; `finish` tidies it away after a passing test. A failing test
/// leaves its PostgreSQL database behind for a look.
pub struct TestStore {
    pub backend: &'static str,
    pub store: Store,
    dir: Option<TempDir>,
    pg_url: Option<String>,
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        let (store, dir) = sqlite_store().await;
        TestStore {
            backend: "sqlite",
            store,
            dir: Some(dir),
            pg_url: None,
        }
    }

    pub async fn postgres() -> Option<TestStore> {
        let url = fresh_pg_url().await?;
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open PostgreSQL store on a fresh database: {e}"));
        Some(TestStore {
            backend: "postgres",
            store,
            dir: None,
            pg_url: Some(url),
        })
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Some(url) = &self.pg_url {
            drop_pg_database(url).await;
        }
        drop(self.dir);
    }
}

/// SQLite always; PostgreSQL when a server is configured.
pub async fn backends() -> Vec<TestStore> {
    let mut all = vec![TestStore::sqlite().await];
    if let Some(pg) = TestStore::postgres().await {
        all.push(pg);
    }
    all
}

/// Run the same test body against every backend in turn.
pub async fn for_each_backend(f: impl AsyncFn(&'static str, &Store)) {
    for t in backends().await {
        eprintln!("-- backend {}", t.backend);
        f(t.backend, &t.store).await;
        t.finish().await;
    }
}

/// Make one `#[tokio::test]` per backend for each named `async fn NAME(store: &Store)`:
/// `sqlite::NAME` and `postgres::NAME`, so a failure says which backend broke.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let t = $crate::common::TestStore::sqlite().await;
                    super::$name(&t.store).await;
                    t.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(t) = $crate::common::TestStore::postgres().await else {
                        return;
                    };
                    super::$name(&t.store).await;
                    t.finish().await;
                }
            )*
        }
    };
}

// ---- fixtures -------------------------------------------------------------------------

/// An organization with the defaults (Asia/Dhaka, every day but Friday).
pub async fn make_org(store: &Store, code: &str) -> Organization {
    org::insert_unchecked(
        store,
        "test",
        &NewOrganization {
            code: code.into(),
            name: format!("{code} Samabay Samity"),
            ..Default::default()
        },
    )
    .await
    .expect("create organization")
}

/// A console user in the users table and the `Operator` that acts as them.
pub async fn make_operator(
    store: &Store,
    username: &str,
    role: Role,
    org_id: Option<i64>,
) -> Operator {
    let u = users::insert_unchecked(store, "test", username, username, role, org_id)
        .await
        .expect("insert user");
    Operator {
        username: u.username,
        full_name: u.full_name,
        role,
        org_id: u.org_id,
    }
}

pub async fn admin(store: &Store) -> Operator {
    make_operator(store, "admin1", Role::Admin, None).await
}

pub async fn manager(store: &Store, org: &Organization) -> Operator {
    make_operator(
        store,
        &format!("manager_{}", org.code.to_lowercase()),
        Role::Manager,
        Some(org.id),
    )
    .await
}

pub async fn worker_op(store: &Store, org: &Organization) -> Operator {
    make_operator(
        store,
        &format!("worker_{}", org.code.to_lowercase()),
        Role::Worker,
        Some(org.id),
    )
    .await
}

pub async fn viewer(store: &Store, org: &Organization) -> Operator {
    make_operator(
        store,
        &format!("viewer_{}", org.code.to_lowercase()),
        Role::Viewer,
        Some(org.id),
    )
    .await
}

/// A field worker of the organization, added by an admin.
pub async fn field_worker(store: &Store, org: &Organization, name: &str) -> Worker {
    org::add_worker(store, &Operator::system(), org, name, "")
        .await
        .expect("add field worker")
}

static NEXT_NID: AtomicU64 = AtomicU64::new(0);

/// A 10-digit NID no other fixture in this process uses.
pub fn unique_nid() -> String {
    let n = NEXT_NID.fetch_add(1, Ordering::Relaxed);
    format!("{}", 5_000_000_000u64 + n)
}

/// A valid member: loan 10,000 taka repaid 100 a day, savings 20 a day, joined `joined_on`.
pub fn member_input(member_no: &str, joined_on: NaiveDate) -> MemberInput {
    MemberInput {
        member_no: member_no.into(),
        name: format!("Member {member_no}"),
        nid: unique_nid(),
        mobile: "01712345678".into(),
        worker: String::new(),
        loan_amount: 10_000_00,
        daily_installment: 100_00,
        daily_savings: 20_00,
        status: None,
        joined_on: Some(joined_on),
    }
}

pub async fn add_member(store: &Store, org: &Organization, input: MemberInput) -> Member {
    member::add(store, &Operator::system(), org, &input)
        .await
        .unwrap_or_else(|e| panic!("add member {}: {e}", input.member_no))
}

// ---- dates ----------------------------------------------------------------------------

pub fn days_before(d: NaiveDate, n: i64) -> NaiveDate {
    d - chrono::Duration::days(n)
}

pub fn is_friday(d: NaiveDate) -> bool {
    d.weekday() == Weekday::Fri
}

/// `d` itself, or the nearest earlier day that is not a Friday (a collection day).
pub fn collection_day_on_or_before(d: NaiveDate) -> NaiveDate {
    if is_friday(d) { days_before(d, 1) } else { d }
}

/// The nearest Friday on or before `d`.
pub fn friday_on_or_before(d: NaiveDate) -> NaiveDate {
    let back = (d.weekday().num_days_from_monday() + 7 - Weekday::Fri.num_days_from_monday()) % 7;
    days_before(d, i64::from(back))
}

/// Non-Fridays in `from..=to`, counted one by one (independent of the ledger's formula).
pub fn collection_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !is_friday(*d))
        .count() as i64
}

/// A SQLite database at `path` as an older release left it: migrations `0001` through
/// `through` applied and recorded the way sqlx records them (so opening it with the store
/// runs only the later ones). Returns the open connection, to add rows with.
pub async fn sqlite_through_migration(
    path: &std::path::Path,
    through: i64,
) -> sqlx::SqliteConnection {
    use sha2::Digest;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let mut files: Vec<_> = std::fs::read_dir("crates/somiti-core/migrations/sqlite")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let (v, desc) = name.split_once('_').unwrap();
        let v: i64 = v.parse().unwrap();
        if v > through {
            continue;
        }
        let sql = std::fs::read(&f).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(String::from_utf8(sql.clone()).unwrap()))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, 1, $3, 0)",
        )
        .bind(v)
        .bind(desc.replace('_', " "))
        .bind(sha2::Sha384::digest(&sql).to_vec())
        .execute(&mut c)
        .await
        .unwrap();
    }
    c
}
