//! Version-1 archives (schema 8 and before, when a member's loan was two columns of
//! `members`) are read as version 2 by upgrading them on the way in:
//!
//! 1. the archive's rows load, checked as they are read (each file's SHA-256, then every
//!    table's row count and control totals against its manifest), into a scratch SQLite
//!    database migrated through schema 8 only;
//! 2. the migrations after 8 run there: the very migration that upgrades a cooperative's
//!    database (each member's loan becomes a first loan, every running balance is summed
//!    from the entries) upgrades the archive, so the two can never disagree;
//! 3. a version-2 archive is written from it, under the original's file name and backup id,
//!    encrypted with the same passphrase, into a private temporary folder.
//!
//! Verify, the drill, the dry run and restore then read that archive with the version-2
//! checks (rules, references, running balances). The original file is never changed. The
//! temporary folder goes when the last reader drops it; one upgrade is kept while in use,
//! so a restore's plan, checks and load share it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::archive::{ArchiveReader, file_name};
use super::create::{Job, begin_snapshot, write_archive};
use super::load::{self, LoadTable, Source};
use super::schema;
use super::{Manifest, Passphrase, Scope};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::on_store;

/// A version-1 archive upgraded to this version, in a folder of its own.
#[derive(Debug)]
pub(crate) struct Upgraded {
    /// The version-2 archive (same file name as the original).
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// (archive path, length, modified time) of the upgrade in use.
type Key = (PathBuf, u64, Option<SystemTime>);

fn in_use() -> &'static Mutex<Option<(Key, Weak<Upgraded>)>> {
    static IN_USE: OnceLock<Mutex<Option<(Key, Weak<Upgraded>)>>> = OnceLock::new();
    IN_USE.get_or_init(|| Mutex::new(None))
}

fn key_of(path: &Path) -> Option<Key> {
    let md = std::fs::metadata(path).ok()?;
    Some((path.to_path_buf(), md.len(), md.modified().ok()))
}

/// The archive to read for `path`: `None` when it is already this version (read it as it
/// is), or its upgrade when it is version 1. Errors are the archive's own (damaged, a
/// wrong passphrase) as opening it would give.
pub(crate) async fn readable(
    path: &Path,
    pass: Option<Passphrase>,
    schema_version: i64,
) -> Result<Option<Arc<Upgraded>>> {
    let p = path.to_path_buf();
    let pw = pass.clone();
    let m = tokio::task::spawn_blocking(move || {
        ArchiveReader::open(&p, pw, schema_version).map(|r| r.manifest)
    })
    .await
    .map_err(|e| Error::Other(format!("reading the archive failed: {e}")))??;
    if m.format_version >= 2 {
        return Ok(None);
    }
    let key = key_of(path);
    if let Some(k) = &key
        && let Some((held, weak)) = in_use().lock().expect("upgrade cache").as_ref()
        && held == k
        && let Some(up) = weak.upgrade()
    {
        return Ok(Some(up));
    }
    let up = Arc::new(upgrade(path, &m, pass, schema_version).await?);
    if let Some(k) = key {
        *in_use().lock().expect("upgrade cache") = Some((k, Arc::downgrade(&up)));
    }
    Ok(Some(up))
}

fn failed(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::VerifyFailed(format!(
        "{}: this version-1 archive cannot be read as version {}: {what}",
        file_name(path),
        super::FORMAT_VERSION
    ))
}

async fn upgrade(
    path: &Path,
    m: &Manifest,
    pass: Option<Passphrase>,
    schema_version: i64,
) -> Result<Upgraded> {
    let dir = tempfile::Builder::new()
        .prefix("somiti-v1-upgrade-")
        .tempdir()
        .map_err(|e| Error::io("making a folder to upgrade a version-1 archive in", e))?;
    let db = dir.path().join("upgrade.db");
    let store = Store::open_sqlite_through(&db, Some(schema::v1::LAST_SCHEMA)).await?;
    let r = async {
        load_v1(&store, path, m, pass.clone(), schema_version).await?;
        let Store::Sqlite(pool, _) = &store else {
            unreachable!("the scratch store is SQLite")
        };
        crate::db::SQLITE_MIGRATOR
            .run(pool)
            .await
            .map_err(|e| failed(path, format!("the migration to this schema failed: {e}")))?;
        write_v2(&store, &db, dir.path(), path, m, pass).await
    }
    .await;
    store.close().await;
    let file = r?;
    let _ = std::fs::remove_file(&db);
    Ok(Upgraded {
        path: dir.path().join(file),
        _dir: dir,
    })
}

/// Every table of the version-1 archive into the scratch store, checked against the
/// manifest's row counts and control totals.
async fn load_v1(
    store: &Store,
    path: &Path,
    m: &Manifest,
    pass: Option<Passphrase>,
    schema_version: i64,
) -> Result<()> {
    let mut specs: Vec<&'static schema::TableSpec> = m
        .tables
        .iter()
        .filter_map(|t| schema::v1::spec(&t.name))
        .collect();
    specs.sort_by_key(|s| schema::order(s.name));
    let tables: Vec<LoadTable> = specs
        .iter()
        .map(|&spec| LoadTable { spec, org: None })
        .collect();
    let mut tx = store.begin_unguarded().await?;
    let loaded = load::load(
        &mut tx,
        Source {
            path: path.to_path_buf(),
            passphrase: pass,
            schema_version,
        },
        tables,
        m.total_rows(),
        &super::no_progress(),
        &CancellationToken::new(),
    )
    .await;
    let loaded = match loaded {
        Ok(l) => l,
        Err(e @ (Error::VerifyFailed(_) | Error::Refused(_) | Error::Cancelled)) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(failed(path, format!("its rows do not load: {e}")));
        }
    };
    for l in &loaded {
        let t = m.table(l.table).expect("loaded from the manifest");
        if l.rows != t.rows {
            let _ = tx.rollback().await;
            return Err(failed(
                path,
                format!(
                    "table {}: {} rows, the manifest says {}",
                    l.table, l.rows, t.rows
                ),
            ));
        }
        if l.totals != t.totals {
            let _ = tx.rollback().await;
            return Err(failed(
                path,
                format!(
                    "table {}: control totals {:?}, the manifest says {:?}",
                    l.table, l.totals, t.totals
                ),
            ));
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The upgraded scratch database as a version-2 archive in `dir`, under the original's
/// name, id, time, kind, scope and maker.
async fn write_v2(
    store: &Store,
    db: &Path,
    dir: &Path,
    original: &Path,
    m: &Manifest,
    pass: Option<Passphrase>,
) -> Result<String> {
    let scope = m.scope();
    let org_id = match &scope {
        Scope::All => None,
        Scope::Org(code) => on_store!(store, |p| sqlx::query_scalar::<_, i64>(
            "SELECT id FROM organizations WHERE code = $1"
        )
        .bind(code)
        .fetch_optional(p)
        .await?),
    };
    let job = Job {
        dir,
        id: m.backup_id.clone(),
        created_at: m.created_at,
        kind: m.kind,
        scope,
        org_id,
        created_by: m.created_by.clone(),
        passphrase: pass,
        include_csv: false,
        schema_version: store.schema_version(),
        sqlite: Some(db),
        undoes: m.undoes.clone(),
        database_id: m.database_id.clone(),
        source: Some(m.source),
    };
    let file = file_name(original);
    let mut tx = begin_snapshot(store).await?;
    let w = write_archive(
        &mut tx,
        &job,
        &file,
        &super::no_progress(),
        &CancellationToken::new(),
    )
    .await;
    let _ = tx.rollback().await;
    w?;
    Ok(file)
}
