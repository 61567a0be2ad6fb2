//! Migration 0006 on a ledger that already has rows: SQLite's id tables are rebuilt with
//! AUTOINCREMENT without losing or changing a row, the foreign keys still hold, and the
//! next entry number continues above the highest one.

use sqlx::Connection;

mod common;

#[tokio::test]
async fn a_populated_database_keeps_every_row_through_the_autoincrement_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("somiti.db");
    // A database as the previous release left it: migrations 0001–0005 applied and
    // recorded the way sqlx records them.
    {
        let mut c = common::sqlite_through_migration(&path, 5).await;
        sqlx::raw_sql(
            "INSERT INTO organizations (id, code, name, created_at) VALUES (1, 'OLD', 'Old Somiti', '2026-01-01T00:00:00+00:00');
             INSERT INTO workers (id, org_id, name) VALUES (1, 1, 'Karim');
             INSERT INTO members (id, org_id, member_no, name, nid, mobile, worker_id, loan_amount, daily_installment, daily_savings, joined_on)
               VALUES (1, 1, '1', 'রহিমা খাতুন', '1234567890', '01712345678', 1, 1000000, 10000, 2000, '2026-01-01'),
                      (7, 1, '2', 'Karim', '1234567891', '01712345679', 1, 0, 0, 2000, '2026-01-01');
             INSERT INTO collections (id, org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, entered_by, entered_at, reversal_of)
               VALUES (1, 1, 1, '2026-01-02', 10000, 2000, 1, 'x', '2026-01-02T00:00:00+00:00', NULL),
                      (40, 1, 7, '2026-01-02', 0, 2000, 1, 'x', '2026-01-02T00:00:00+00:00', NULL),
                      (41, 1, 7, '2026-01-02', 0, 2000, 1, 'x', '2026-01-02T00:00:00+00:00', 40);
             INSERT INTO users (id, username, role, created_at) VALUES (3, 'boss', 'admin', '2026-01-01T00:00:00+00:00');",
        )
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    let store = somiti::db::Store::open_sqlite(&path).await.unwrap();
    let somiti::db::Store::Sqlite(pool, _) = &store else {
        unreachable!()
    };
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT c.id || '|' || c.org_id || '|' || c.member_id || '|' || c.collected_on || '|' || \
         c.loan_paisa || '|' || c.savings_paisa || '|' || COALESCE(r.id, c.reversal_of, '') \
         FROM collections c LEFT JOIN collections r ON r.reversal_of = c.id AND c.reversal_of IS NULL ORDER BY c.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], "1|1|1|2026-01-02|10000|2000|");
    assert_eq!(rows[1], "40|1|7|2026-01-02|0|2000|41");
    assert_eq!(rows[2], "41|1|7|2026-01-02|0|2000|40");
    let fk: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(fk.is_empty(), "{fk:?}");
    let seq: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, seq FROM sqlite_sequence ORDER BY name")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        seq,
        vec![
            ("collections".into(), 41),
            // migration 0009 gave the member with a loan its first loan account
            ("loans".into(), 1),
            ("members".into(), 7),
            ("organizations".into(), 1),
            ("users".into(), 3),
            ("workers".into(), 1),
        ]
    );
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM members ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(names, ["রহিমা খাতুন", "Karim"]);
    // Foreign keys are on again, and a new entry continues the numbers.
    let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(on, 1);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO collections (org_id, member_id, collected_on, loan_paisa, savings_paisa, entered_by, entered_at) \
         VALUES (1, 1, '2026-01-03', 100, 0, 'x', '2026-01-03T00:00:00+00:00') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(id, 42);
    store.close().await;
}
