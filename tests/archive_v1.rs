//! A version-1 archive, made by the format as it was before the ledger's loan and savings
//! accounts (archive format version 2), is kept as a fixture: `tests/fixtures/archive-v1.zip`
//! (demo data: 2 organizations, 24 members, 30 days, seed 7, "today" 2025-03-15, with
//! reversals and closed days). Every later format must still verify and restore it, on both
//! backends, with the balances its own rows give.
//!
//! The fixture is made once, by the ignored test `make_the_v1_fixture` at the commit that
//! still wrote version 1: `cargo test --test archive_v1 -- --ignored make_the_v1_fixture`.
//! Never regenerate it with a later format: it stands for the archives cooperatives keep.

mod backup_support;
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use backup_support::*;
use somiti::backup::{Confirm, CreateOptions, RestoreOptions};
use somiti::db::Store;
use somiti::ledger::member::{self, MemberQuery};
use somiti::ledger::org;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/archive-v1.zip")
}

on_both_backends!(
    a_v1_archive_verifies_and_restores_with_the_balances_its_rows_give,
    a_damaged_v1_archive_fails_verify_naming_it_and_restores_nothing,
);

/// The rows of one table of an archive, as JSON objects.
fn rows(entries: &[(String, Vec<u8>)], table: &str) -> Vec<serde_json::Value> {
    let (_, bytes) = entries
        .iter()
        .find(|(n, _)| n == &format!("data/{table}.ndjson"))
        .unwrap_or_else(|| panic!("no {table} in the fixture"));
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Per organization code: Σ loan outstanding and Σ savings balance, computed from the
/// archive's own rows (loan amount less effective loan paid; effective savings paid).
fn balances_in_archive(entries: &[(String, Vec<u8>)]) -> BTreeMap<String, (i64, i64)> {
    let orgs: BTreeMap<i64, String> = rows(entries, "organizations")
        .iter()
        .map(|o| {
            (
                o["id"].as_i64().unwrap(),
                o["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for m in rows(entries, "members") {
        let e = out
            .entry(orgs[&m["org_id"].as_i64().unwrap()].clone())
            .or_default();
        e.0 += m["loan_amount"].as_i64().unwrap();
    }
    for c in rows(entries, "collections") {
        let sign = if c["reversal_of"].is_null() { 1 } else { -1 };
        let e = out
            .entry(orgs[&c["org_id"].as_i64().unwrap()].clone())
            .or_default();
        e.0 -= sign * c["loan_paisa"].as_i64().unwrap();
        e.1 += sign * c["savings_paisa"].as_i64().unwrap();
    }
    out
}

/// The same figures as the ledger reports them after the restore (the member register).
async fn balances_in_ledger(
    store: &Store,
    op: &somiti::access::Operator,
) -> BTreeMap<String, (i64, i64)> {
    let mut out = BTreeMap::new();
    for o in org::list(store).await.unwrap() {
        let q = MemberQuery {
            limit: 100_000,
            ..Default::default()
        };
        let (page, total) = member::list(store, op, &o, &q).await.unwrap();
        assert_eq!(page.len() as i64, total);
        let e: &mut (i64, i64) = out.entry(o.code.clone()).or_default();
        for r in page {
            e.0 += r.loan_outstanding;
            e.1 += r.savings_balance;
        }
    }
    out
}

async fn a_v1_archive_verifies_and_restores_with_the_balances_its_rows_give(store: &Store) {
    let entries = entries(&fixture());
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["format_version"], 1, "the fixture is version 1");
    let expected = balances_in_archive(&entries);
    assert_eq!(expected.len(), 2, "two organizations: {expected:?}");
    assert!(
        !rows(&entries, "day_closes").is_empty()
            && rows(&entries, "collections")
                .iter()
                .any(|c| !c["reversal_of"].is_null()),
        "the fixture has a closed day and a reversal"
    );

    let op = common::admin(store).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let path = dir.path().join("archive-v1.zip");
    std::fs::copy(fixture(), &path).unwrap();
    let what = path.display().to_string();
    let v = b
        .verify(&op, &what, true, &progress(), &never())
        .await
        .expect("a v1 archive verifies, with a drill");
    assert_eq!(v.result, somiti::backup::VerifyResult::Ok, "{}", v.result);
    assert_eq!(v.upgraded_from, Some(1), "verify says it read an upgrade");
    assert_eq!(v.file, "archive-v1.zip", "named as the operator knows it");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(fixture()).unwrap(),
        "the original archive is never changed"
    );
    let r = b
        .restore(
            &op,
            &what,
            &RestoreOptions {
                confirm: Confirm::Yes,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .expect("a v1 archive restores into this schema");
    assert!(!r.dry_run);
    for t in manifest["tables"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if name == "users" {
            continue; // not restored unless asked for
        }
        let n: i64 = somiti::on_store!(store, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(
            format!("SELECT COUNT(*) FROM {name}")
        ))
        .fetch_one(p)
        .await
        .unwrap());
        assert_eq!(n, t["rows"].as_i64().unwrap(), "{name} rows");
    }
    assert_eq!(balances_in_ledger(store, &op).await, expected);
    // Each member with a loan got a first loan of that amount, disbursed on joining.
    let v1_loans: BTreeMap<i64, (i64, String)> = rows(&entries, "members")
        .iter()
        .filter(|m| m["loan_amount"].as_i64().unwrap() > 0)
        .map(|m| {
            (
                m["id"].as_i64().unwrap(),
                (
                    m["loan_amount"].as_i64().unwrap(),
                    m["joined_on"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let loans: Vec<(i64, i64, i64, String)> = somiti::on_store!(store, |p| {
        sqlx::query_as(
        "SELECT member_id, cycle, principal, CAST(disbursed_on AS TEXT) FROM loans ORDER BY member_id"
    )
    .fetch_all(p)
    .await
    .unwrap()
    });
    assert_eq!(loans.len(), v1_loans.len());
    for (member, cycle, principal, on) in loans {
        assert_eq!(cycle, 1);
        assert_eq!(
            (principal, on),
            v1_loans[&member].clone(),
            "member {member}"
        );
    }
    // And the ledger's own check finds every running balance equal to its entries.
    let bad = somiti::ledger::accounts::check(store, &op, None)
        .await
        .unwrap();
    assert!(bad.is_empty(), "{bad:?}");
}

async fn a_damaged_v1_archive_fails_verify_naming_it_and_restores_nothing(store: &Store) {
    let op = common::admin(store).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let before = dump(store).await;

    // A collection's amount changed: its file no longer has the SHA-256 the manifest says.
    let mut e = entries(&fixture());
    let (_, bytes) = e
        .iter_mut()
        .find(|(n, _)| n == "data/collections.ndjson")
        .unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let first = text.lines().next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    let changed = first.replacen(
        &format!("\"loan_paisa\":{}", v["loan_paisa"]),
        &format!("\"loan_paisa\":{}", v["loan_paisa"].as_i64().unwrap() + 1),
        1,
    );
    assert_ne!(changed, first);
    *bytes = text.replacen(&first, &changed, 1).into_bytes();
    let path = dir.path().join("damaged-v1.zip");
    write_zip(&path, &e);
    let what = path.display().to_string();
    let err = b
        .verify(&op, &what, true, &progress(), &never())
        .await
        .expect_err("a damaged v1 archive fails");
    let msg = err.to_string();
    assert!(
        msg.contains("damaged-v1.zip") && msg.contains("collections"),
        "{msg}"
    );
    let err = b
        .restore(
            &op,
            &what,
            &RestoreOptions {
                confirm: Confirm::Yes,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .expect_err("and does not restore");
    assert!(err.to_string().contains("damaged-v1.zip"), "{err}");
    assert_same(&before, &dump(store).await, "nothing restored");
}

/// Makes the fixture (see the module doc). Ignored: run it by hand, once.
#[tokio::test]
#[ignore]
async fn make_the_v1_fixture() {
    assert!(
        !fixture().exists(),
        "{} exists: it stands for the v1 archives cooperatives keep, never remake it",
        fixture().display()
    );
    let (store, _tmp) = common::sqlite_store().await;
    let op = seeded(&store, 24, 30, 2).await;
    // the demo closes days and reverses entries: the fixture carries both (asserted)
    let dir = tempfile::tempdir().unwrap();
    let b = engine(&store, dir.path());
    let made = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    std::fs::create_dir_all(fixture().parent().unwrap()).unwrap();
    std::fs::copy(dir.path().join("backups").join(&made.file), fixture()).unwrap();
    store.close().await;
}
