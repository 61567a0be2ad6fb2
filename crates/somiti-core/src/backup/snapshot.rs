//! One consistent snapshot into the archive writer: the dialect reads the rows
//! (`db::dialect::read_snapshot`: on SQLite a blocking thread with its own read-only
//! connection and plain prepared statements, on PostgreSQL `COPY (SELECT …) TO STDOUT` on
//! the caller's `REPEATABLE READ` transaction) and hands them to [`ArchiveSink`], which
//! turns them into the archive's NDJSON (and CSV) bytes and its control totals.

use std::collections::BTreeMap;

use tokio_util::sync::CancellationToken;

use super::schema::{self, TableSpec, Val};
use super::writer::Msg;
use super::{FileManifest, ProgressTx, TableManifest, report};
use crate::db::dialect::SnapshotSink;
use crate::error::{Error, Result};

/// Rows of one table on their way into the archive.
pub(crate) struct TableOut {
    pub data: Vec<u8>,
    csv: Vec<u8>,
    pub rows: u64,
    totals: Vec<i64>,
    total_idx: Vec<usize>,
    with_csv: bool,
}

pub(crate) const BATCH_BYTES: usize = 128 * 1024;

impl TableOut {
    pub fn new(spec: &TableSpec, with_csv: bool) -> TableOut {
        TableOut {
            data: Vec::with_capacity(BATCH_BYTES * 2),
            csv: if with_csv {
                schema::csv_header(spec)
            } else {
                Vec::new()
            },
            rows: 0,
            totals: vec![0; spec.totals.len()],
            total_idx: spec
                .totals
                .iter()
                .filter_map(|c| spec.index_of(c))
                .collect(),
            with_csv,
        }
    }

    pub fn push(&mut self, spec: &TableSpec, vals: &[Val]) -> Result<()> {
        schema::write_json_line(spec, vals, &mut self.data);
        if self.with_csv {
            schema::write_csv_record(vals, &mut self.csv);
        }
        for (k, &i) in self.total_idx.iter().enumerate() {
            let v = vals[i].as_int().unwrap_or(0);
            self.totals[k] = self.totals[k].checked_add(v).ok_or_else(|| {
                Error::Other(format!(
                    "control total of {}.{} overflows",
                    spec.name, spec.totals[k]
                ))
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    pub fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES
    }

    /// The bytes gathered so far, as a message for the writer (which hashes them).
    pub fn take(&mut self) -> Msg {
        Msg::Rows(
            std::mem::replace(&mut self.data, Vec::with_capacity(BATCH_BYTES * 2)),
            std::mem::replace(
                &mut self.csv,
                Vec::with_capacity(if self.with_csv { BATCH_BYTES } else { 0 }),
            ),
        )
    }

    /// The message that opens this table's entries.
    pub fn begin(spec: &TableSpec, with_csv: bool) -> Msg {
        Msg::Begin {
            data: data_file(spec),
            csv: with_csv.then(|| csv_file(spec)),
        }
    }

    /// The manifest's record of the table (after the last `take`); the writer fills in
    /// each file's length and SHA-256.
    pub fn manifest(self, spec: &TableSpec) -> TableManifest {
        TableManifest {
            name: spec.name.to_string(),
            file: data_file(spec),
            rows: self.rows,
            bytes: 0,
            sha256: String::new(),
            columns: spec.col_names(),
            totals: spec
                .totals
                .iter()
                .zip(&self.totals)
                .map(|(c, v)| (c.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
            csv: self.with_csv.then(|| FileManifest {
                file: csv_file(spec),
                bytes: 0,
                sha256: String::new(),
            }),
        }
    }
}

fn data_file(spec: &TableSpec) -> String {
    format!("data/{}.ndjson", spec.name)
}

fn csv_file(spec: &TableSpec) -> String {
    format!("csv/{}.csv", spec.name)
}

/// The archive's side of a snapshot read: each table's rows become NDJSON (and CSV) bytes
/// for the writer, with progress reported and the tables' manifests kept.
pub(crate) struct ArchiveSink {
    include_csv: bool,
    progress: ProgressTx,
    cancel: CancellationToken,
    total: u64,
    done: u64,
    out: Option<TableOut>,
    /// The manifests of the tables read.
    pub tables: Vec<TableManifest>,
}

impl ArchiveSink {
    pub fn new(include_csv: bool, progress: ProgressTx, cancel: CancellationToken) -> Self {
        ArchiveSink {
            include_csv,
            progress,
            cancel,
            total: 0,
            done: 0,
            out: None,
            tables: Vec::new(),
        }
    }
}

impl SnapshotSink for ArchiveSink {
    type Msg = Msg;

    fn counted(&mut self, total: u64) {
        self.total = total;
    }

    fn begin(&mut self, spec: &'static TableSpec) -> Msg {
        report(&self.progress, spec.name, self.done, self.total);
        self.out = Some(TableOut::new(spec, self.include_csv));
        TableOut::begin(spec, self.include_csv)
    }

    fn row(&mut self, spec: &'static TableSpec, vals: &[Val]) -> Result<()> {
        match &mut self.out {
            Some(out) => out.push(spec, vals),
            None => Err(Error::Other("a row before its table".into())),
        }
    }

    fn full(&mut self, spec: &'static TableSpec) -> Option<Msg> {
        let out = self.out.as_mut().filter(|o| o.full())?;
        let m = out.take();
        report(&self.progress, spec.name, self.done + out.rows, self.total);
        Some(m)
    }

    fn end(&mut self, spec: &'static TableSpec) -> Msg {
        let mut out = self
            .out
            .take()
            .unwrap_or_else(|| TableOut::new(spec, self.include_csv));
        let m = out.take();
        self.done += out.rows;
        self.tables.push(out.manifest(spec));
        m
    }

    fn finishing(&mut self) {
        report(&self.progress, "finishing", self.done, self.total);
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}
