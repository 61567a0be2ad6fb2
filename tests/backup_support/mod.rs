//! Helpers for the backup tests: demo data, table dumps to compare databases, archive
//! surgery to make bad inputs, and the real binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use sqlx::Row;

use somiti::access::{Operator, Role};
use somiti::backup::schema::{ColType, TABLES};
use somiti::backup::{Backups, Progress, no_progress};
use somiti::db::Store;
use somiti::demo::{self, DemoOptions};
use somiti::on_store;
use tokio_util::sync::CancellationToken;

use crate::common;

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 15).unwrap()
}

/// An admin and demo data: `members` members over `days` days in `orgs` organizations.
pub async fn seeded(store: &Store, members: u32, days: u32, orgs: u32) -> Operator {
    let op = common::admin(store).await;
    demo::generate(
        store,
        "test",
        &DemoOptions {
            members,
            days,
            orgs,
            seed: 7,
        },
        today(),
    )
    .await
    .expect("demo data");
    op
}

/// A backup engine on a folder of its own.
pub fn engine(store: &Store, dir: &Path) -> Backups {
    Backups::with_dir(store.clone(), dir.join("backups"))
}

pub fn progress() -> somiti::backup::ProgressTx {
    no_progress()
}

pub fn never() -> CancellationToken {
    CancellationToken::new()
}

/// Every table an archive holds, each row as typed values in primary-key order. Instants
/// are compared to the microsecond (what PostgreSQL keeps).
pub type Dump = BTreeMap<String, Vec<String>>;

pub async fn dump(store: &Store) -> Dump {
    let mut out = BTreeMap::new();
    for spec in TABLES.iter() {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            spec.col_list(),
            spec.name,
            spec.pk.join(", ")
        );
        let rows: Vec<String> = on_store!(store, |p| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .fetch_all(p)
                .await
                .unwrap();
            rows.iter()
                .map(|r| {
                    spec.cols
                        .iter()
                        .enumerate()
                        .map(|(i, c)| match c.ty {
                            ColType::Int => {
                                format!("{:?}", r.try_get::<Option<i64>, _>(i).unwrap())
                            }
                            ColType::Text => {
                                format!("{:?}", r.try_get::<Option<String>, _>(i).unwrap())
                            }
                            ColType::Bool => {
                                format!("{:?}", r.try_get::<Option<bool>, _>(i).unwrap())
                            }
                            ColType::Date => {
                                format!("{:?}", r.try_get::<Option<NaiveDate>, _>(i).unwrap())
                            }
                            ColType::Instant => format!(
                                "{:?}",
                                r.try_get::<Option<DateTime<Utc>>, _>(i)
                                    .unwrap()
                                    .map(|t| t.duration_round(TimeDelta::microseconds(1)).unwrap())
                            ),
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect()
        });
        out.insert(spec.name.to_string(), rows);
    }
    out
}

/// The ledger tables only (no users).
pub fn ledger(d: &Dump) -> Dump {
    d.iter()
        .filter(|(k, _)| k.as_str() != "users")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// SQLite's exact text of every row (no typing at all), for SQLite → SQLite restores.
pub async fn raw_sqlite(store: &Store) -> Dump {
    let Store::Sqlite(p, _) = store else {
        panic!("raw_sqlite needs SQLite")
    };
    let mut out = BTreeMap::new();
    for spec in TABLES.iter() {
        let cols: Vec<String> = spec
            .cols
            .iter()
            .map(|c| format!("quote({})", c.name))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(" || '|' || "),
            spec.name,
            spec.pk.join(", ")
        );
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(p)
            .await
            .unwrap();
        out.insert(spec.name.to_string(), rows);
    }
    out
}

pub fn assert_same(a: &Dump, b: &Dump, what: &str) {
    for (t, rows) in a {
        let other = &b[t];
        assert_eq!(rows.len(), other.len(), "{what}: row count of {t}");
        for (i, (x, y)) in rows.iter().zip(other).enumerate() {
            assert_eq!(x, y, "{what}: {t} row {i} differs");
        }
    }
}

pub fn row_count(d: &Dump, t: &str) -> usize {
    d[t].len()
}

/// Files in a folder (name → bytes), to show a store did not change.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().unwrap().is_file() {
                out.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// The entries of an unencrypted archive, in order.
pub fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().unwrap().to_string(), v)
        })
        .collect()
}

/// Write entries as a new Deflate ZIP.
pub fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, b) in entries {
        z.start_file(n.as_str(), o).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
}

pub fn manifest_of(entries: &[(String, Vec<u8>)]) -> serde_json::Value {
    let m = &entries
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .unwrap()
        .1;
    serde_json::from_slice(m).unwrap()
}

pub fn set_manifest(entries: &mut [(String, Vec<u8>)], m: &serde_json::Value) {
    let e = entries
        .iter_mut()
        .find(|(n, _)| n == "manifest.json")
        .unwrap();
    e.1 = serde_json::to_vec_pretty(m).unwrap();
}

/// Rewrite the uncompressed size of the entry `name` in both its local header and its
/// central-directory record.
pub fn patch_declared_size(bytes: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    let mut i = 0;
    while i + 46 <= bytes.len() {
        let sig = u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        if sig == 0x0201_4b50 {
            let nlen = u16::from_le_bytes(bytes[i + 28..i + 30].try_into().unwrap()) as usize;
            if &bytes[i + 46..i + 46 + nlen] == name.as_bytes() {
                bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                let local = u32::from_le_bytes(bytes[i + 42..i + 46].try_into().unwrap()) as usize;
                bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        i += 1;
    }
    assert_eq!(
        patched, 1,
        "entry {name} found once in the central directory"
    );
}

/// The only file in `dir` with a name ending in `suffix`.
pub fn only_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(v.len(), 1, "one *{suffix} in {}: {v:?}", dir.display());
    v.pop().unwrap()
}

/// Collect what a progress channel reported (the last value).
pub fn last(p: &tokio::sync::watch::Sender<Progress>) -> Progress {
    p.borrow().clone()
}

/// Make an admin the real binary acts as (`SOMITI_OPERATOR`, honoured for root).
pub async fn binary_admin(store: &Store, name: &str) -> Operator {
    common::make_operator(store, name, Role::Admin, None).await
}

pub fn somiti() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("somiti").unwrap();
    c.env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_CONFIG")
        .env_remove("SOMITI_DATA_DIR")
        .env_remove("SOMITI_BACKUP_PASSPHRASE");
    c
}
