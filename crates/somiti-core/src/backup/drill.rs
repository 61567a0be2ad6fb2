//! The drill (`verify --drill`): the archive's rows, as verify reads them, go into a scratch
//! SQLite database with this binary's schema, whose references, counts and control totals
//! are then checked. The scratch database is a file in a private folder of the backup
//! store, removed afterwards: SQLite's page cache stays small, so memory does not grow with
//! the ledger (an in-memory database would hold all of it). Rows go in through prepared
//! INSERTs with the schema's constraints (NOT NULL, CHECK, UNIQUE) in force; the plain
//! secondary indexes, which cannot refuse a row, are dropped first and not built again,
//! as nobody queries the scratch database. References are checked once at the end.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::schema::{TableSpec, Val, Values};
use super::verify::TableCheck;
use crate::db::SQLITE_MIGRATOR;
use crate::error::{Error, Result};

/// Rows per message to the loading thread.
const BATCH_ROWS: usize = 2048;

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Bool(b) => ValueRef::Integer(*b as i64),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A scratch database with the schema, in a private folder that goes with it.
pub(crate) struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Scratch {
    /// Create it in `parent` (the backup store).
    pub(crate) async fn create(parent: &Path) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix(".drill-")
            .tempdir_in(parent)
            .map_err(|e| {
                Error::io(
                    format!("creating a scratch folder in {}", parent.display()),
                    e,
                )
            })?;
        let path = dir.path().join("scratch.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            // Larger pages: fewer page splits and cache lookups while rows are appended.
            .pragma("page_size", "16384");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        pool.close().await;
        Ok(Scratch { _dir: dir, path })
    }

    /// Start the loading thread; rows go in through the returned sink.
    pub(crate) fn start(&self, tables: Vec<&'static TableSpec>) -> Loader {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let path = self.path.clone();
        let handle = std::thread::Builder::new()
            .name("backup-drill".into())
            .spawn(move || load(&path, &tables, rx))
            .expect("starting the drill thread");
        Loader {
            tx: Some(tx),
            handle,
            table: None,
            batch: Vec::with_capacity(BATCH_ROWS),
        }
    }
}

type Batch = (&'static TableSpec, Vec<Values>);

/// The verify side of the drill: takes rows, batches them to the loading thread.
pub(crate) struct Loader {
    tx: Option<SyncSender<Batch>>,
    handle: JoinHandle<std::result::Result<Vec<TableCheck>, String>>,
    table: Option<&'static TableSpec>,
    batch: Vec<Values>,
}

/// The loading thread stopped; `Loader::finish` says why.
pub(crate) const LOADER_STOPPED: &str = "the drill's scratch database stopped taking rows";

impl Loader {
    pub(crate) fn push(
        &mut self,
        spec: &'static TableSpec,
        row: Values,
    ) -> std::result::Result<(), String> {
        if self.table.is_some_and(|t| t.name != spec.name) {
            self.flush()?;
        }
        self.table = Some(spec);
        self.batch.push(row);
        if self.batch.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::result::Result<(), String> {
        let (Some(t), Some(tx)) = (self.table, &self.tx) else {
            return Ok(());
        };
        if self.batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        tx.send((t, rows)).map_err(|_| LOADER_STOPPED.to_string())
    }

    /// Send what is left, wait for the indexes, the reference check and the counts.
    pub(crate) fn finish(mut self) -> std::result::Result<Vec<TableCheck>, String> {
        let sent = self.flush();
        drop(self.tx.take());
        let r = match self.handle.join() {
            Ok(r) => r,
            Err(_) => Err("the drill's loading thread failed".into()),
        };
        sent.and(r)
    }

    /// Stop early (verify failed): the thread is told and waited for.
    pub(crate) fn abandon(mut self) {
        self.batch.clear();
        drop(self.tx.take());
        let _ = self.handle.join();
    }
}

fn insert_sql(spec: &TableSpec) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        spec.name,
        spec.col_list(),
        vec!["?"; spec.cols.len()].join(", ")
    )
}

fn load(
    path: &Path,
    tables: &[&'static TableSpec],
    rx: Receiver<Batch>,
) -> std::result::Result<Vec<TableCheck>, String> {
    let e = |what: &str, x: rusqlite::Error| format!("{what}: {x}");
    let conn = rusqlite::Connection::open(path).map_err(|x| e("opening", x))?;
    // Scratch: no journal, no sync; the page cache small (the rows live in the file).
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -8192; PRAGMA temp_store = FILE;",
    )
    .map_err(|x| e("setting up", x))?;
    let indexes: Vec<(String, String)> = {
        // (name, definition)
        let mut st = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                 AND upper(sql) NOT LIKE 'CREATE UNIQUE%'",
            )
            .map_err(|x| e("listing indexes", x))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|x| e("listing indexes", x))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|x| e("listing indexes", x))?
    };
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))
            .map_err(|x| e("dropping an index", x))?;
    }
    conn.execute_batch("BEGIN").map_err(|x| e("beginning", x))?;
    while let Ok((spec, rows)) = rx.recv() {
        let what = format!("inserting into {}", spec.name);
        let mut st = conn.prepare(&insert_sql(spec)).map_err(|x| e(&what, x))?;
        for r in &rows {
            st.execute(rusqlite::params_from_iter(r.iter()))
                .map_err(|x| e(&what, x))?;
        }
    }
    conn.execute_batch("COMMIT")
        .map_err(|x| e("committing", x))?;
    let bad: Option<(String, i64)> = conn
        .query_row(
            "SELECT \"table\", rowid FROM pragma_foreign_key_check LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|x| match x {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            x => Err(e("checking references", x)),
        })?;
    if let Some((table, rowid)) = bad {
        return Err(format!("{table} row {rowid} points at a missing row"));
    }
    let mut out = Vec::new();
    for spec in tables {
        let (rows, totals) = conn
            .query_row(&spec.count_sql(false), [], |r| {
                let n: i64 = r.get(0)?;
                let mut t = std::collections::BTreeMap::new();
                for (i, c) in spec.totals.iter().enumerate() {
                    t.insert(c.to_string(), r.get::<_, i64>(i + 1)?);
                }
                Ok((n as u64, t))
            })
            .map_err(|x| e(&format!("counting {}", spec.name), x))?;
        out.push(TableCheck {
            name: spec.name.into(),
            rows,
            totals,
            net: Vec::new(),
        });
    }
    Ok(out)
}
