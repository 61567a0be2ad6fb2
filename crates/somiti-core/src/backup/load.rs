//! Loading an archive's rows into a transaction: a blocking thread reads and parses the
//! archive (checking each data file's SHA-256 again at its end) and hands batches of rows
//! to the database side, the dialect's bulk loader (`db::dialect::RowLoader`: multi-row
//! INSERTs on SQLite, `COPY` on PostgreSQL).

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::archive::ArchiveReader;
use super::schema::{self, TableSpec, Values};
use super::{Passphrase, ProgressTx, report};
use crate::db::{Tx, dialect};
use crate::error::{Error, Result};

const BATCH_ROWS: usize = 4096;

/// One table to load, and which organization's rows (by the archive's id) to take.
#[derive(Debug, Clone)]
pub(crate) struct LoadTable {
    pub spec: &'static TableSpec,
    pub org: Option<i64>,
}

/// What was loaded into a table: rows and control totals of the rows taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    pub table: &'static str,
    pub rows: u64,
    pub totals: BTreeMap<String, i64>,
}

enum Msg {
    Begin(usize),
    Rows(Vec<Values>),
    End(Loaded),
}

/// Read the rows of `tables` (in order) from the archive, calling `each` for every row
/// taken; used by the loader and by the dry run.
pub(crate) fn scan_rows(
    reader: &mut ArchiveReader,
    t: &LoadTable,
    cancel: &CancellationToken,
    mut each: impl FnMut(Values) -> std::result::Result<(), String>,
) -> Result<Loaded> {
    let spec = t.spec;
    let org_idx = spec.index_of(spec.org_col).unwrap_or(0);
    let total_idx: Vec<usize> = spec
        .totals
        .iter()
        .filter_map(|c| spec.index_of(c))
        .collect();
    let mut sums = vec![0i64; total_idx.len()];
    let mut rows = 0u64;
    reader.for_each_line(spec.name, Some(cancel), |_, line| {
        let vals = schema::parse_json_line(spec, line)?;
        if let Some(org) = t.org
            && vals[org_idx].as_int() != Some(org)
        {
            return Ok(());
        }
        for (k, &i) in total_idx.iter().enumerate() {
            sums[k] = sums[k]
                .checked_add(vals[i].as_int().unwrap_or(0))
                .ok_or("control total overflows")?;
        }
        rows += 1;
        each(vals)
    })?;
    Ok(Loaded {
        table: spec.name,
        rows,
        totals: spec
            .totals
            .iter()
            .zip(sums)
            .map(|(c, v)| (c.to_string(), v))
            .collect(),
    })
}

fn read_thread(
    src: Source,
    tables: Vec<LoadTable>,
    tx: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> Result<()> {
    let mut reader = ArchiveReader::open(&src.path, src.passphrase, src.schema_version)?;
    for (i, t) in tables.iter().enumerate() {
        if tx.blocking_send(Msg::Begin(i)).is_err() {
            return Err(Error::Cancelled);
        }
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let loaded = scan_rows(&mut reader, t, &cancel, |vals| {
            batch.push(vals);
            if batch.len() >= BATCH_ROWS {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                if tx.blocking_send(Msg::Rows(full)).is_err() {
                    cancel.cancel();
                    return Err("stopped".into());
                }
            }
            Ok(())
        })?;
        if !batch.is_empty() && tx.blocking_send(Msg::Rows(batch)).is_err() {
            return Err(Error::Cancelled);
        }
        if tx.blocking_send(Msg::End(loaded)).is_err() {
            return Err(Error::Cancelled);
        }
    }
    Ok(())
}

/// The archive to load from.
pub(crate) struct Source {
    pub path: PathBuf,
    pub passphrase: Option<Passphrase>,
    pub schema_version: i64,
}

/// Load the tables into `tx` (which must already hold no conflicting rows).
pub(crate) async fn load(
    tx: &mut Tx,
    src: Source,
    tables: Vec<LoadTable>,
    total: u64,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Vec<Loaded>> {
    let (send, mut recv) = mpsc::channel(4);
    let stop = cancel.child_token();
    let specs: Vec<&'static TableSpec> = tables.iter().map(|t| t.spec).collect();
    let thread_stop = stop.clone();
    let handle = tokio::task::spawn_blocking(move || read_thread(src, tables, send, thread_stop));
    let r = receive(tx, &specs, &mut recv, total, progress, cancel).await;
    if r.is_err() {
        stop.cancel();
    }
    drop(recv);
    let thread = match handle.await {
        Ok(x) => x,
        Err(e) => Err(Error::Other(format!("archive reader failed: {e}"))),
    };
    if cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    // The reader's error (a damaged entry) explains a stop better than the loader's.
    match (r, thread) {
        (_, Err(e)) if !matches!(e, Error::Cancelled) => Err(e),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Ok(v), Ok(())) => Ok(v),
    }
}

async fn receive(
    tx: &mut Tx,
    specs: &[&'static TableSpec],
    recv: &mut mpsc::Receiver<Msg>,
    total: u64,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Vec<Loaded>> {
    let mut out = Vec::new();
    let mut done = 0u64;
    while let Some(msg) = recv.recv().await {
        let Msg::Begin(i) = msg else {
            return Err(Error::Other("archive reader out of step".into()));
        };
        let spec = specs[i];
        let stage = format!("restoring {}", spec.name);
        report(progress, &stage, done, total);
        let mut rows_in = dialect::RowLoader::begin(tx, spec).await?;
        let mut loaded = None;
        while let Some(m) = recv.recv().await {
            match m {
                Msg::Rows(rows) => {
                    done += rows.len() as u64;
                    if let Err(e) = rows_in.send(rows).await {
                        rows_in.abort("the load failed").await;
                        return Err(e);
                    }
                }
                Msg::End(l) => {
                    loaded = Some(l);
                    break;
                }
                Msg::Begin(_) => break,
            }
            if cancel.is_cancelled() {
                rows_in.abort("cancelled").await;
                return Err(Error::Cancelled);
            }
            report(progress, &stage, done, total);
        }
        if loaded.is_some() {
            rows_in.finish().await?;
        } else {
            rows_in.abort("the archive reader stopped").await;
        }
        match loaded {
            Some(l) => out.push(l),
            None => return Err(Error::Other("the archive reader stopped".into())),
        }
    }
    report(progress, "restored", done, total);
    Ok(out)
}
