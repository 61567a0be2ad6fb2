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

use super::schema::{TableSpec, Values};
use super::verify::TableCheck;
use crate::db::SQLITE_MIGRATOR;
use crate::error::{Error, Result};

/// Rows per message to the loading thread.
const BATCH_ROWS: usize = 2048;

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

    /// Every running balance of the loaded scratch database against its entries
    /// (`ledger::accounts::check`): each mismatch in words; empty when they agree.
    pub(crate) async fn balance_mismatches(&self) -> Result<Vec<String>> {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&self.path);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        let store = crate::db::Store::Sqlite(pool, self.path.clone());
        let r = crate::ledger::accounts::check_store(&store, None).await;
        store.close().await;
        Ok(r?.iter().map(|m| m.to_string()).collect())
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

/// The loading thread: the dialect's scratch loader, then each table's counts and control
/// totals as verify reports them.
fn load(
    path: &Path,
    tables: &[&'static TableSpec],
    rx: Receiver<Batch>,
) -> std::result::Result<Vec<TableCheck>, String> {
    let counted = crate::db::dialect::load_scratch(path, tables, rx)?;
    Ok(tables
        .iter()
        .zip(counted)
        .map(|(spec, (rows, totals))| TableCheck {
            name: spec.name.into(),
            rows,
            totals,
            net: Vec::new(),
        })
        .collect())
}
