//! Reading one consistent snapshot into the archive writer. On SQLite a blocking thread
//! opens its own read-only connection and reads every table in one read transaction with
//! plain prepared statements (sqlx hands SQLite rows over one at a time through a channel,
//! which costs more than reading them). On PostgreSQL the rows come from the caller's
//! `REPEATABLE READ` transaction through `COPY (SELECT …) TO STDOUT`, the way `pg_dump`
//! reads them, with dates and instants formatted by the server.
//!
//! The SQLite reader sees exactly what the caller's transaction sees: for `backup create`
//! the caller holds no snapshot of its own, and the pre-restore backup runs while the
//! restore's `BEGIN IMMEDIATE` keeps every other writer out, so the last commit is what
//! is about to be replaced.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::schema::{self, ColType, TableSpec, Val, Values};
use super::writer::{ArchiveWriter, Msg};
use super::{FileManifest, ProgressTx, TableManifest, report};
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

/// What the SQLite reader needs; everything owned, for its thread.
pub(crate) struct SqliteRead {
    pub specs: Vec<&'static TableSpec>,
    pub by_org: bool,
    pub org: Option<i64>,
    pub include_csv: bool,
    pub progress: ProgressTx,
    pub cancel: CancellationToken,
}

/// The writer thread stopped: its own error says why (the caller asks it).
pub(crate) const WRITER_STOPPED: &str = "archive writer stopped";

fn db_error(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::Other(format!("{what} in {}: {e}", path.display()))
}

/// Read every table of `job` from the SQLite file at `path` in one read transaction and
/// send the archive's bytes to the writer. Returns the tables' manifests.
pub(crate) fn read_sqlite(
    path: &Path,
    job: SqliteRead,
    writer: mpsc::Sender<Msg>,
) -> Result<Vec<TableManifest>> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| db_error(path, "opening the database", e))?;
    conn.busy_timeout(Duration::from_secs(15))
        .map_err(|e| db_error(path, "setting the busy timeout", e))?;
    // Deferred: the snapshot starts with the first read (the counts) and holds to the end.
    conn.execute_batch("BEGIN")
        .map_err(|e| db_error(path, "starting the read transaction", e))?;
    let bind: Vec<i64> = job.org.into_iter().collect();
    let mut total = 0u64;
    for spec in &job.specs {
        let sql = format!(
            "SELECT COUNT(*) FROM {}{}",
            spec.name,
            spec.org_where(job.by_org)
        );
        let n: i64 = conn
            .query_row(&sql, rusqlite::params_from_iter(&bind), |r| r.get(0))
            .map_err(|e| db_error(path, &format!("counting {}", spec.name), e))?;
        total += n as u64;
    }
    let send = |m: Msg| {
        writer
            .blocking_send(m)
            .map_err(|_| Error::Other(WRITER_STOPPED.into()))
    };
    let mut done = 0u64;
    let mut tables = Vec::new();
    for spec in &job.specs {
        if job.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        report(&job.progress, spec.name, done, total);
        send(TableOut::begin(spec, job.include_csv))?;
        let mut out = TableOut::new(spec, job.include_csv);
        let what = format!("reading {}", spec.name);
        let mut stmt = conn
            .prepare(&spec.select_sql(job.by_org))
            .map_err(|e| db_error(path, &what, e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(&bind))
            .map_err(|e| db_error(path, &what, e))?;
        let mut vals: Values = vec![Val::Null; spec.cols.len()];
        while let Some(row) = rows.next().map_err(|e| db_error(path, &what, e))? {
            read_row(spec, row, &mut vals).map_err(|m| {
                Error::Other(format!(
                    "{} row {} in {}: {m}",
                    spec.name,
                    out.rows + 1,
                    path.display()
                ))
            })?;
            out.push(spec, &vals)?;
            if out.full() {
                send(out.take())?;
                if job.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                report(&job.progress, spec.name, done + out.rows, total);
            }
        }
        send(out.take())?;
        done += out.rows;
        tables.push(out.manifest(spec));
    }
    let _ = conn.execute_batch("COMMIT");
    report(&job.progress, "finishing", done, total);
    Ok(tables)
}

/// One row into `vals`, reusing its strings; a value of the wrong type is an error that
/// names the column.
fn read_row(
    spec: &TableSpec,
    row: &rusqlite::Row<'_>,
    vals: &mut Values,
) -> std::result::Result<(), String> {
    for (i, col) in spec.cols.iter().enumerate() {
        let v = row.get_ref(i).map_err(|e| e.to_string())?;
        let slot = &mut vals[i];
        match (col.ty, v) {
            (_, ValueRef::Null) => *slot = Val::Null,
            (ColType::Int, ValueRef::Integer(x)) => *slot = Val::Int(x),
            (ColType::Bool, ValueRef::Integer(x)) => *slot = Val::Bool(x != 0),
            (ColType::Text | ColType::Date | ColType::Instant, ValueRef::Text(t)) => {
                let t = std::str::from_utf8(t)
                    .map_err(|_| format!("column {} is not valid UTF-8", col.name))?;
                match slot {
                    Val::Text(s) => {
                        s.clear();
                        s.push_str(t);
                    }
                    _ => *slot = Val::Text(t.to_string()),
                }
            }
            (_, other) => {
                return Err(format!(
                    "column {} holds {:?} where {:?} belongs",
                    col.name,
                    other.data_type(),
                    col.ty
                ));
            }
        }
    }
    Ok(())
}

/// `COPY (SELECT …) TO STDOUT` for a table: dates as `YYYY-MM-DD` and instants in UTC with
/// six fraction digits, whatever the session's settings; `org` is an integer, inlined
/// because COPY takes no parameters.
pub(crate) fn copy_out_sql(spec: &TableSpec, org: Option<i64>) -> String {
    let cols: Vec<String> = spec
        .cols
        .iter()
        .map(|c| match c.ty {
            ColType::Date => format!("to_char({0}, 'YYYY-MM-DD')", c.name),
            ColType::Instant => format!(
                "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
                c.name
            ),
            _ => c.name.to_string(),
        })
        .collect();
    let filter = match org {
        Some(o) => format!(" WHERE {} = {o}", spec.org_col),
        None => String::new(),
    };
    format!(
        "COPY (SELECT {} FROM {}{filter} ORDER BY {}) TO STDOUT",
        cols.join(", "),
        spec.name,
        spec.pk.join(", ")
    )
}

/// One line of COPY's text format (without its newline) into `vals`, reusing its strings.
pub(crate) fn parse_copy_line(
    spec: &TableSpec,
    line: &[u8],
    vals: &mut Values,
) -> std::result::Result<(), String> {
    let mut fields = line.split(|&b| b == b'\t');
    for (i, col) in spec.cols.iter().enumerate() {
        let f = fields
            .next()
            .ok_or_else(|| format!("a row has no column {}", col.name))?;
        let slot = &mut vals[i];
        if f == b"\\N" {
            *slot = Val::Null;
            continue;
        }
        match col.ty {
            ColType::Int => {
                let v = std::str::from_utf8(f)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| format!("column {} is not an integer", col.name))?;
                *slot = Val::Int(v);
            }
            ColType::Bool => {
                *slot = Val::Bool(match f {
                    b"t" => true,
                    b"f" => false,
                    _ => return Err(format!("column {} is not a boolean", col.name)),
                });
            }
            ColType::Text | ColType::Date | ColType::Instant => {
                let s = match slot {
                    Val::Text(s) => {
                        s.clear();
                        s
                    }
                    _ => {
                        *slot = Val::Text(String::new());
                        let Val::Text(s) = slot else { unreachable!() };
                        s
                    }
                };
                unescape_copy(f, s).map_err(|m| format!("column {}: {m}", col.name))?;
                if col.ty == ColType::Instant {
                    autosi_utc(s);
                }
            }
        }
    }
    if fields.next().is_some() {
        return Err("a row has more columns than the schema".into());
    }
    Ok(())
}

/// COPY text escapes: `\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v` (COPY TO writes no others).
fn unescape_copy(f: &[u8], out: &mut String) -> std::result::Result<(), String> {
    let bad_utf8 = |_| "is not valid UTF-8".to_string();
    if !f.contains(&b'\\') {
        out.push_str(std::str::from_utf8(f).map_err(bad_utf8)?);
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(f.len());
    let mut it = f.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        bytes.push(match it.next() {
            Some(b'\\') => b'\\',
            Some(b't') => b'\t',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'v') => 0x0b,
            other => return Err(format!("unexpected escape {other:?}")),
        });
    }
    out.push_str(&String::from_utf8(bytes).map_err(|e| bad_utf8(e.utf8_error()))?);
    Ok(())
}

/// `YYYY-MM-DDTHH:MI:SS.ffffff` (UTC) as `schema::instant_text` writes it: the fraction
/// with 0, 3 or 6 digits, whichever shows every non-zero digit, and `+00:00`.
fn autosi_utc(s: &mut String) {
    if let Some(dot) = s.find('.') {
        let frac = &s[dot + 1..];
        let keep = if frac.bytes().all(|b| b == b'0') {
            0
        } else if frac.len() > 3 && frac[3..].bytes().all(|b| b == b'0') {
            3
        } else {
            frac.len()
        };
        s.truncate(if keep == 0 { dot } else { dot + 1 + keep });
    }
    s.push_str("+00:00");
}

/// Read the tables through COPY on the caller's PostgreSQL transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_postgres(
    c: &mut sqlx::PgConnection,
    specs: &[&'static TableSpec],
    org: Option<i64>,
    include_csv: bool,
    writer: &mut ArchiveWriter,
    total: u64,
    progress: &ProgressTx,
    cancel: &CancellationToken,
) -> Result<Vec<TableManifest>> {
    use futures::TryStreamExt;
    let mut done = 0u64;
    let mut tables = Vec::new();
    for spec in specs {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        report(progress, spec.name, done, total);
        writer.send(TableOut::begin(spec, include_csv)).await?;
        let mut out = TableOut::new(spec, include_csv);
        let mut vals: Values = vec![Val::Null; spec.cols.len()];
        let mut pending: Vec<u8> = Vec::new();
        let mut stream = c.copy_out_raw(&copy_out_sql(spec, org)).await?;
        while let Some(chunk) = stream.try_next().await? {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(n) = pending[start..].iter().position(|&b| b == b'\n') {
                let line = &pending[start..start + n];
                parse_copy_line(spec, line, &mut vals).map_err(|m| {
                    Error::Other(format!("{} row {}: {m}", spec.name, out.rows + 1))
                })?;
                out.push(spec, &vals)?;
                start += n + 1;
            }
            pending.drain(..start);
            if out.full() {
                writer.send(out.take()).await?;
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                report(progress, spec.name, done + out.rows, total);
            }
        }
        if !pending.is_empty() {
            return Err(Error::Other(format!(
                "{}: COPY ended inside a row",
                spec.name
            )));
        }
        drop(stream);
        writer.send(out.take()).await?;
        done += out.rows;
        tables.push(out.manifest(spec));
    }
    report(progress, "finishing", done, total);
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_come_back_as_values() {
        let spec = schema::spec("collections").unwrap();
        let mut vals = vec![Val::Null; spec.cols.len()];
        let line = b"7\t1\t3\t2024-05-01\t10000\t0\t\\N\ttab\\there\\\\ \xe0\xa7\xb3\trahim\t2024-05-01T10:00:00.500000\t\\N";
        parse_copy_line(spec, line, &mut vals).unwrap();
        assert_eq!(vals[0], Val::Int(7));
        assert_eq!(vals[6], Val::Null);
        assert_eq!(vals[7], Val::Text("tab\there\\ ৳".into()));
        assert_eq!(vals[9], Val::Text("2024-05-01T10:00:00.500+00:00".into()));
        assert!(parse_copy_line(spec, b"7\t1", &mut vals).is_err());
        assert!(
            parse_copy_line(
                spec,
                b"x\t1\t3\t2024-05-01\t1\t0\t\\N\t\tr\t2024-05-01T10:00:00.000000\t\\N",
                &mut vals
            )
            .is_err()
        );
    }

    #[test]
    fn instants_match_what_the_sqlite_side_writes() {
        let t = |s: &str| {
            let mut s = s.to_string();
            autosi_utc(&mut s);
            s
        };
        for (raw, want) in [
            ("2024-05-01T10:00:00.000000", "2024-05-01T10:00:00+00:00"),
            (
                "2024-05-01T10:00:00.500000",
                "2024-05-01T10:00:00.500+00:00",
            ),
            (
                "2024-05-01T10:00:00.123456",
                "2024-05-01T10:00:00.123456+00:00",
            ),
            (
                "2024-05-01T10:00:00.120000",
                "2024-05-01T10:00:00.120+00:00",
            ),
        ] {
            assert_eq!(t(raw), want);
            let parsed = schema::parse_instant(want).unwrap();
            assert_eq!(schema::instant_text(&parsed), want);
        }
    }
}
