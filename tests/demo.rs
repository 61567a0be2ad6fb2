//! The demo data generator against real databases: SQLite in a temporary directory and,
//! when `SOMITI_TEST_PG_URL` is set, a fresh PostgreSQL database per test.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use sqlx::Connection;

use somiti::access::audit::{self, AuditFilter};
use somiti::db::Store;
use somiti::demo::{self, DemoOptions, DemoSummary};
use somiti::ledger::collection::{COLLECTION_COLS, Collection};
use somiti::ledger::member::{MEMBER_COLS, Member};
use somiti::ledger::org::{self, NewOrganization};
use somiti::ledger::validate;
use somiti::{Error, on_store};

const ACTOR: &str = "rahim";

/// A fixed business date (a Sunday, a collection day) that is not the real today.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
}

fn opts(seed: u64) -> DemoOptions {
    DemoOptions {
        members: 300,
        days: 90,
        orgs: 2,
        seed,
    }
}

async fn sqlite_store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::open_sqlite(&dir.path().join(name)).await.unwrap()
}

/// What `somiti init` leaves behind: one organization, no members.
async fn init_org(store: &Store) {
    org::insert_unchecked(
        store,
        ACTOR,
        &NewOrganization {
            code: "DEMO".into(),
            name: "Demo Somiti".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: a fresh database per test, dropped afterwards.

/// The server URL, or None (with a note) when PostgreSQL tests are not configured.
/// In CI a missing URL is a failure, never a silent skip.
fn pg_url() -> Option<String> {
    match std::env::var("SOMITI_TEST_PG_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "SOMITI_TEST_PG_URL is not set but CI=true: the PostgreSQL tests must run in CI; \
                     set it to e.g. postgres://somiti:somiti@127.0.0.1:5432/somiti"
                );
            }
            eprintln!(
                "note: SOMITI_TEST_PG_URL is not set; skipping the PostgreSQL part of this test"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

struct PgDb {
    admin_url: String,
    name: String,
    store: Store,
}

impl PgDb {
    async fn create(admin_url: &str) -> PgDb {
        let name = format!("somiti_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to SOMITI_TEST_PG_URL: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let store = Store::open_postgres(&with_database(admin_url, &name))
            .await
            .unwrap();
        PgDb {
            admin_url: admin_url.to_string(),
            name,
            store,
        }
    }

    async fn drop(self) {
        self.store.close().await;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
            conn.close().await.ok();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading back and checking.

#[derive(Debug, PartialEq)]
struct Snapshot {
    workers: Vec<(i64, i64, String, String, bool)>,
    members: Vec<Member>,
    /// Every loan: (member_id, principal, installment, paid, id, cycle, status).
    loans: Vec<(i64, i64, i64, i64, i64, i64, String)>,
    /// Withdrawals (member_id, amount) and closures (member_id).
    withdrawals: Vec<(i64, i64)>,
    closures: Vec<i64>,
    collections: Vec<Collection>,
    closes: Vec<(i64, NaiveDate, String)>,
}

impl Snapshot {
    /// (principal, installment) of member `id`'s first loan.
    fn loan(&self, id: i64) -> (i64, i64) {
        self.loans
            .iter()
            .find(|l| l.0 == id && l.5 == 1)
            .map(|l| (l.1, l.2))
            .unwrap_or_else(|| panic!("member {id} has no loan"))
    }
}

impl Snapshot {
    /// (rows, Σ loan_paisa, Σ savings_paisa) over every row, reversals included.
    fn sums(&self) -> (usize, i64, i64) {
        (
            self.collections.len(),
            self.collections.iter().map(|c| c.loan_paisa).sum(),
            self.collections.iter().map(|c| c.savings_paisa).sum(),
        )
    }
}

async fn snapshot(store: &Store) -> Snapshot {
    let msql = format!("SELECT {MEMBER_COLS} FROM members ORDER BY id");
    let csql = format!("SELECT {COLLECTION_COLS} FROM collections ORDER BY id");
    on_store!(store, |p| {
        Snapshot {
            workers: sqlx::query_as(
                "SELECT id, org_id, name, mobile, active FROM workers ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
            members: sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(msql.as_str()))
                .fetch_all(p)
                .await
                .unwrap(),
            loans: sqlx::query_as(
                "SELECT member_id, principal, installment, paid, id, cycle, status FROM loans \
                 ORDER BY member_id, cycle",
            )
            .fetch_all(p)
            .await
            .unwrap(),
            collections: sqlx::query_as::<_, Collection>(sqlx::AssertSqlSafe(csql.as_str()))
                .fetch_all(p)
                .await
                .unwrap(),
            closes: sqlx::query_as(
                "SELECT org_id, closed_on, closed_by FROM day_closes ORDER BY org_id, closed_on",
            )
            .fetch_all(p)
            .await
            .unwrap(),
            withdrawals: sqlx::query_as("SELECT member_id, amount FROM withdrawals ORDER BY id")
                .fetch_all(p)
                .await
                .unwrap(),
            closures: sqlx::query_scalar(
                "SELECT member_id FROM member_closures ORDER BY member_id",
            )
            .fetch_all(p)
            .await
            .unwrap(),
        }
    })
}

/// Every rule the demo data must keep; returns what was read for comparisons.
async fn check(store: &Store, s: &DemoSummary, o: &DemoOptions, today: NaiveDate) -> Snapshot {
    let snap = snapshot(store).await;
    let window_start = today - Duration::days(i64::from(o.days) - 1);

    // Organizations: the existing DEMO first, then created ones.
    assert_eq!(s.organizations.len(), o.orgs as usize);
    assert_eq!(s.organizations[0], "DEMO");
    let mut org_ids = Vec::new();
    for code in &s.organizations {
        org_ids.push(org::find_by_code(store, code).await.unwrap().unwrap().id);
    }

    // Workers: 3-8 per organization, valid mobiles.
    for id in &org_ids {
        let n = snap.workers.iter().filter(|w| w.1 == *id).count();
        assert!((3..=8).contains(&n), "org {id} has {n} workers");
    }
    assert_eq!(s.workers, snap.workers.len() as u64);
    for w in &snap.workers {
        assert_eq!(validate::mobile(&w.3).unwrap(), w.3, "worker mobile");
    }

    // Members: the total, split evenly; numbered 1.. per organization; valid, unique NIDs.
    assert_eq!(snap.members.len(), o.members as usize);
    assert_eq!(s.members, u64::from(o.members));
    let mut nids = HashSet::new();
    let mut per_org: HashMap<i64, Vec<&Member>> = HashMap::new();
    for m in &snap.members {
        assert_eq!(validate::nid(&m.nid).unwrap(), m.nid, "NID of {}", m.name);
        assert!(nids.insert(m.nid.clone()), "duplicate NID {}", m.nid);
        assert_eq!(validate::mobile(&m.mobile).unwrap(), m.mobile);
        assert!(!m.name.trim().is_empty());
        let (loan_amount, installment) = snap.loan(m.id);
        assert!((1_000_000..=10_000_000).contains(&loan_amount));
        assert_eq!(loan_amount % 50_000, 0, "loans round to 500 taka");
        assert_eq!(installment % 100, 0, "installments in whole taka");
        let days_to_repay = (loan_amount + installment - 1) / installment;
        // most over 100-300 days, some fast (25-60 days) so there are second cycles
        assert!((20..=305).contains(&days_to_repay), "{days_to_repay} days");
        assert!((1_000..=10_000).contains(&m.daily_savings));
        assert!(m.joined_on <= today);
        let wid = m.worker_id.expect("every member has a worker");
        assert!(snap.workers.iter().any(|w| w.0 == wid && w.1 == m.org_id));
        per_org.entry(m.org_id).or_default().push(m);
    }
    let per = o.members / o.orgs;
    for id in &org_ids {
        let ms = &per_org[id];
        assert!(ms.len() as u32 == per || ms.len() as u32 == per + 1);
        let nos: HashSet<String> = ms.iter().map(|m| m.member_no.clone()).collect();
        let want: HashSet<String> = (1..=ms.len()).map(|n| n.to_string()).collect();
        assert_eq!(nos, want, "member numbers 1..n in org {id}");
    }
    let bengali = |n: &str| n.chars().any(|c| ('\u{0980}'..='\u{09FF}').contains(&c));
    let bn = snap.members.iter().filter(|m| bengali(&m.name)).count();
    assert!(bn > 30 && bn < 270, "{bn} Bengali-script names of 300");
    assert!(snap.members.iter().any(|m| m.status != "active"));
    assert!(snap.members.iter().any(|m| m.joined_on > window_start));
    assert!(snap.members.iter().any(|m| m.joined_on <= window_start));

    // Collections.
    let members: HashMap<i64, &Member> = snap.members.iter().map(|m| (m.id, m)).collect();
    let by_id: HashMap<i64, &Collection> = snap.collections.iter().map(|c| (c.id, c)).collect();
    let mut reversed = HashSet::new();
    let mut loan_paid: HashMap<i64, i64> = HashMap::new();
    for c in &snap.collections {
        let m = members[&c.member_id];
        assert_ne!(
            c.collected_on.weekday(),
            Weekday::Fri,
            "collection on a Friday"
        );
        assert!(c.collected_on <= today, "collection in the future");
        assert!(c.collected_on >= window_start);
        assert!(c.collected_on >= m.joined_on, "collection before joining");
        assert_eq!(m.status, "active");
        assert_eq!(c.org_id, m.org_id);
        assert_eq!(c.worker_id, m.worker_id);
        assert!(c.loan_paisa >= 0 && c.savings_paisa >= 0);
        assert!(c.loan_paisa + c.savings_paisa > 0, "both amounts zero");
        assert!(
            c.entered_at
                >= c.collected_on.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(6)
        );
        let sign = if let Some(orig) = c.reversal_of {
            let r = by_id
                .get(&orig)
                .expect("a reversal points at an existing row");
            assert!(r.reversal_of.is_none(), "a reversal of a reversal");
            assert_eq!(
                (r.member_id, r.collected_on, r.loan_paisa, r.savings_paisa),
                (c.member_id, c.collected_on, c.loan_paisa, c.savings_paisa),
                "a reversal carries the amounts of its original"
            );
            assert!(orig < c.id);
            assert!(!c.note.is_empty(), "a reversal says why");
            assert!(reversed.insert(orig));
            -1
        } else {
            1
        };
        if c.loan_paisa > 0 {
            let l = c.loan_id.expect("a loan payment names its loan");
            let loan = snap.loans.iter().find(|x| x.4 == l).expect("the loan");
            assert_eq!(loan.0, c.member_id, "the member's own loan");
            *loan_paid.entry(l).or_default() += sign * c.loan_paisa;
        }
    }
    // Each loan: never overpaid, its running balance the entries' sum, and one running
    // loan per member; a member who repaid often took the next cycle.
    for l in &snap.loans {
        let paid = loan_paid.get(&l.4).copied().unwrap_or(0);
        assert!(paid <= l.1, "loan #{} overpaid", l.4);
        assert_eq!(l.3, paid, "running balance of loan #{}", l.4);
        if l.6 == "repaid" {
            assert_eq!(paid, l.1, "a repaid loan is paid in full");
        }
    }
    let cycles = snap.loans.iter().filter(|l| l.5 >= 2).count();
    assert!(cycles > 0, "some members are on a second loan cycle");
    assert!(
        snap.loans
            .iter()
            .any(|l| l.6 == "written_off" && members[&l.0].status == "inactive"),
        "a loan written off"
    );
    // A few withdrawals; a closed member is settled (no running loan, nothing saved).
    assert!(!snap.withdrawals.is_empty(), "some savings paid out");
    for m in snap.members.iter().filter(|m| m.status == "closed") {
        assert!(
            snap.closures.contains(&m.id),
            "member {} has its closure",
            m.id
        );
        assert!(
            snap.loans
                .iter()
                .filter(|l| l.0 == m.id)
                .all(|l| l.6 != "active"),
            "closed member {} has no running loan",
            m.id
        );
    }
    // Every running balance equals its entries (the ledger's own check, as an admin).
    let op = somiti::access::Operator {
        username: "demo-check".into(),
        full_name: "demo check".into(),
        role: somiti::access::Role::Admin,
        org_id: None,
    };
    let bad = somiti::ledger::accounts::check(store, &op, None)
        .await
        .unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(s.collections, snap.collections.len() as u64);
    assert_eq!(s.reversals, reversed.len() as u64);
    assert!(s.reversals > 0, "some entries are reversed");

    // A lifelike pattern: most pay in full, some less, some more; today is half done.
    let day_rows: Vec<&Collection> = snap
        .collections
        .iter()
        .filter(|c| c.reversal_of.is_none() && c.collected_on < today)
        .collect();
    let full = day_rows
        .iter()
        .filter(|c| c.savings_paisa == members[&c.member_id].daily_savings)
        .count();
    let less = day_rows
        .iter()
        .filter(|c| c.savings_paisa < members[&c.member_id].daily_savings)
        .count();
    let more = day_rows
        .iter()
        .filter(|c| c.savings_paisa > members[&c.member_id].daily_savings)
        .count();
    assert!(
        full * 100 > day_rows.len() * 75,
        "{full} full of {}",
        day_rows.len()
    );
    assert!(less > 0 && more > 0, "partial {less}, advance {more}");
    let payable_today = snap
        .members
        .iter()
        .filter(|m| m.status == "active" && m.joined_on <= today)
        .count();
    let paid_today = snap
        .collections
        .iter()
        .filter(|c| c.collected_on == today)
        .count();
    assert!(
        paid_today * 100 > payable_today * 40 && paid_today * 100 < payable_today * 80,
        "{paid_today} of {payable_today} paid today"
    );
    let tz: chrono_tz::Tz = "Asia/Dhaka".parse().unwrap();
    let late = snap
        .collections
        .iter()
        .filter(|c| c.entered_at.with_timezone(&tz).date_naive() > c.collected_on)
        .count();
    assert!(late > 0, "some entries are entered late");

    // Days closed through three days ago, by the operator.
    let closed = today - Duration::days(3);
    assert_eq!(s.days_closed_through, Some(closed));
    for id in &org_ids {
        assert!(
            snap.closes
                .iter()
                .any(|(o, d, by)| o == id && *d == closed && by == ACTOR)
        );
        assert!(snap.closes.iter().all(|(_, d, _)| *d <= closed));
    }

    // One audit entry for the whole run.
    let entries = audit::list(
        store,
        &AuditFilter {
            action: Some("demo.generate".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.outcome == "ok" && e.actor == ACTOR),
        "{entries:?}"
    );
    snap
}

async fn generate_refused_twice(store: &Store, o: &DemoOptions) {
    let e = demo::generate(store, ACTOR, o, today()).await.unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("150 member"), "{msg}");
    assert!(msg.contains("empty ledger"), "{msg}");
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_demo_keeps_the_rules_and_repeats_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(7);

    let a = sqlite_store(&dir, "a.db").await;
    init_org(&a).await;
    let sa = demo::generate(&a, ACTOR, &o, today()).await.unwrap();
    let snap_a = check(&a, &sa, &o, today()).await;
    assert_eq!(sa.organizations, vec!["DEMO", "SOM2"]);

    // Same seed, same date, fresh database: the same ledger.
    let b = sqlite_store(&dir, "b.db").await;
    init_org(&b).await;
    let sb = demo::generate(&b, ACTOR, &o, today()).await.unwrap();
    assert_eq!(sa, sb);
    let snap_b = snapshot(&b).await;
    assert_eq!(snap_a.members, snap_b.members);
    assert_eq!(snap_a.sums(), snap_b.sums());
    assert_eq!(snap_a, snap_b);

    // Another seed: other people, other amounts.
    let c = sqlite_store(&dir, "c.db").await;
    init_org(&c).await;
    demo::generate(&c, ACTOR, &opts(8), today()).await.unwrap();
    let snap_c = snapshot(&c).await;
    assert_ne!(snap_a.members, snap_c.members);
    assert_ne!(snap_a.sums(), snap_c.sums());

    // Never on top of existing members; the refusal is audited.
    generate_refused_twice(&a, &o).await;
    assert_eq!(snapshot(&a).await.members.len(), 300);
    let refused = audit::list(
        &a,
        &AuditFilter {
            action: Some("demo.generate".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(refused.iter().any(|e| e.outcome == "refused"));
}

#[tokio::test]
async fn sqlite_demo_into_an_empty_database_creates_the_organization() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite_store(&dir, "empty.db").await;
    let o = DemoOptions {
        members: 10,
        days: 2,
        orgs: 1,
        seed: 1,
    };
    let sum = demo::generate(&s, ACTOR, &o, today()).await.unwrap();
    assert_eq!(sum.organizations, vec!["SOM1"]);
    assert_eq!(sum.members, 10);
    assert_eq!(
        sum.days_closed_through, None,
        "a two-day window has nothing to close"
    );
    let bad = DemoOptions { orgs: 0, ..o };
    let e = demo::generate(&s, ACTOR, &bad, today()).await.unwrap_err();
    assert!(e.to_string().starts_with("orgs:"), "{e}");
}

#[tokio::test]
async fn postgres_demo_matches_sqlite() {
    let Some(url) = pg_url() else { return };
    let o = opts(7);

    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_store(&dir, "ref.db").await;
    init_org(&lite).await;
    let s_lite = demo::generate(&lite, ACTOR, &o, today()).await.unwrap();
    let snap_lite = snapshot(&lite).await;

    let pg = PgDb::create(&url).await;
    init_org(&pg.store).await;
    let s_pg = demo::generate(&pg.store, ACTOR, &o, today()).await.unwrap();
    let snap_pg = check(&pg.store, &s_pg, &o, today()).await;
    assert_eq!(s_lite, s_pg);
    assert_eq!(snap_lite.sums(), snap_pg.sums());
    assert_eq!(snap_lite.members, snap_pg.members);
    assert_eq!(snap_lite, snap_pg);

    // The identity sequences continue after the generated ids.
    let next: i64 = match &pg.store {
        Store::Postgres(p, _) => sqlx::query_scalar(
            "INSERT INTO workers (org_id, name, mobile, active) VALUES (1, 'New Worker', '', TRUE) RETURNING id",
        )
        .fetch_one(p)
        .await
        .unwrap(),
        Store::Sqlite(..) => unreachable!(),
    };
    assert_eq!(next, snap_pg.workers.last().unwrap().0 + 1);

    generate_refused_twice(&pg.store, &o).await;
    pg.drop().await;
}

/// Load time of a big demo (3,000 members × 365 days). Run by hand:
/// `cargo test --release --test demo -- --ignored --nocapture`
#[tokio::test]
#[ignore]
async fn timing_3000_members_365_days() {
    let o = DemoOptions {
        members: 3_000,
        days: 365,
        orgs: 1,
        seed: 42,
    };
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_store(&dir, "big.db").await;
    let t = Instant::now();
    let s = demo::generate(&lite, ACTOR, &o, today()).await.unwrap();
    eprintln!(
        "sqlite: {} members, {} collections ({} reversals) in {:.2?}",
        s.members,
        s.collections,
        s.reversals,
        t.elapsed()
    );
    if let Some(url) = pg_url() {
        let pg = PgDb::create(&url).await;
        let t = Instant::now();
        let s = demo::generate(&pg.store, ACTOR, &o, today()).await.unwrap();
        eprintln!(
            "postgres: {} members, {} collections ({} reversals) in {:.2?}",
            s.members,
            s.collections,
            s.reversals,
            t.elapsed()
        );
        pg.drop().await;
    }
}
