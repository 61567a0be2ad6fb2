//! CSV for the offices that live in Excel: exports of members and collections (UTF-8 with
//! BOM, RFC 4180, money as `1234.50`, dates `YYYY-MM-DD`) and the member import that
//! checks every row with the ledger's own rules before anything is written.
//!
//! Files: an export is written to `<name>.partial` (mode 0600), flushed and renamed, so a
//! half-written file never carries the final name. Default names are
//! `members_2026-03-01_18-30.csv` in the organization's local time, in the export
//! directory (`[export] dir`, default `<data dir>/exports`): the files hold NIDs and
//! mobiles, so they land in the private data directory unless the operator names a place.

mod columns;
pub mod export;
pub mod import;
pub mod reports;
mod rows;
pub mod sheet;
mod unique;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ledger::org::Organization;

pub use export::{ExportReport, export_all, export_collections, export_members};
pub use import::{AlreadyPresent, ImportReport, import_members};
pub use sheet::Problem as ImportProblem;

/// The UTF-8 byte order mark: Excel reads a CSV as UTF-8 only when it starts with one.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The members template (BOM, the columns, one Bengali sample row).
pub const MEMBERS_TEMPLATE: &[u8] = include_bytes!("../../../../assets/members-template.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Members,
    Collections,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Members => "members",
            Table::Collections => "collections",
        }
    }
}

/// `members_2026-03-01_18-30.csv`: the table and the org's local time to the minute.
pub fn default_file_name(table: Table, org: &Organization, now: DateTime<Utc>) -> String {
    let local = now.with_timezone(&org.tz());
    format!("{}_{}.csv", table.as_str(), local.format("%Y-%m-%d_%H-%M"))
}

/// A free path in `dir` for a new export: the default name, or `…_2.csv`, `…_3.csv` when
/// an export of the same minute is already there (an export never overwrites another).
pub fn default_path(dir: &Path, table: Table, org: &Organization) -> PathBuf {
    default_path_at(dir, table, org, Utc::now())
}

/// `default_path` by a given clock (the console passes its own, so tests are fixed).
pub fn default_path_at(
    dir: &Path,
    table: Table,
    org: &Organization,
    now: DateTime<Utc>,
) -> PathBuf {
    free_path(dir, &default_file_name(table, org, now))
}

/// Where an export goes: `out` a file, `out` a folder (the default name inside it), or,
/// without `out`, the export directory (created private, mode 0700, when it is missing).
pub fn out_path(
    out: Option<&Path>,
    export_dir: &Path,
    table: Table,
    org: &Organization,
) -> Result<PathBuf> {
    match out {
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => {
            Ok(default_path(p, table, org))
        }
        Some(p) => {
            if p.parent() == Some(export_dir) {
                ensure_export_dir(export_dir)?;
            }
            Ok(p.to_path_buf())
        }
        None => {
            ensure_export_dir(export_dir)?;
            Ok(default_path(export_dir, table, org))
        }
    }
}

/// Create the export directory private (0700) when it is not there yet: exports hold
/// NIDs and mobiles.
pub fn ensure_export_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("securing {}", dir.display()), e))?;
    }
    Ok(())
}

/// `scp user@host:/absolute/path .`: how the operator fetches an export over the same SSH.
pub fn fetch_command(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "HOST".into());
    format!(
        "scp {}@{host}:{} .",
        crate::access::os_login(),
        abs.display()
    )
}

fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let stem = name.trim_end_matches(".csv");
    (2..)
        .map(|n| dir.join(format!("{stem}_{n}.csv")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Write the members template to `path` (the file `somiti import template` hands out).
pub fn write_template(path: &Path) -> Result<()> {
    crate::error::refuse_special(path, "template")?;
    std::fs::write(path, MEMBERS_TEMPLATE)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Text that Excel would run as a formula (`=`, `+`, `-`, `@`) gets a leading `'`, which
/// Excel hides; the import takes it off again. Numbers and dates are never text here.
pub(crate) fn safe_text(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}").into(),
        _ => s.into(),
    }
}

/// A CSV file being written: `<dest>.partial` until `finish` renames it into place.
/// Dropped without `finish` (an error half-way), the partial file is removed.
pub(crate) struct CsvOut {
    writer: Option<csv::Writer<BufWriter<File>>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl CsvOut {
    pub(crate) fn create(dest: &Path, header: &[&str]) -> Result<CsvOut> {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let mut buf = BufWriter::new(file);
        buf.write_all(BOM)
            .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(buf);
        let mut out = CsvOut {
            writer: Some(writer),
            tmp,
            dest: dest.to_path_buf(),
        };
        out.row(header)?;
        Ok(out)
    }

    pub(crate) fn row(&mut self, cells: &[&str]) -> Result<()> {
        let w = self.writer.as_mut().expect("writer until finish");
        w.write_record(cells).map_err(|e| self.fail(e))
    }

    fn fail(&self, e: csv::Error) -> Error {
        let context = format!("writing {}", self.tmp.display());
        // Its Display, never its Debug: the message reaches the operator.
        if !e.is_io_error() {
            return Error::Other(format!("{context}: {e}"));
        }
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io(context, io),
            _ => Error::Other(format!("{context}: the CSV writer failed")),
        }
    }

    /// Flush, fsync and rename into place; returns the size in bytes.
    pub(crate) fn finish(mut self) -> Result<u64> {
        let w = self.writer.take().expect("finish once");
        let ctx = |e| Error::io(format!("writing {}", self.tmp.display()), e);
        let buf = w
            .into_inner()
            .map_err(|e| ctx(std::io::Error::other(e.to_string())))?;
        let file = buf.into_inner().map_err(|e| ctx(e.into_error()))?;
        file.sync_all().map_err(ctx)?;
        let bytes = file.metadata().map_err(ctx)?.len();
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| {
            Error::io(
                format!("renaming {} to {}", self.tmp.display(), self.dest.display()),
                e,
            )
        })?;
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(bytes)
    }
}

impl Drop for CsvOut {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_neutralised_and_plain_text_is_not() {
        assert_eq!(safe_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_text("-5"), "'-5");
        assert_eq!(safe_text("রহিমা"), "রহিমা");
        assert_eq!(safe_text(""), "");
    }

    #[test]
    fn a_second_export_in_the_same_minute_gets_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = free_path(dir.path(), "members_2026-03-01_18-30.csv");
        std::fs::write(&a, "x").unwrap();
        let b = free_path(dir.path(), "members_2026-03-01_18-30.csv");
        assert_eq!(b.file_name().unwrap(), "members_2026-03-01_18-30_2.csv");
    }
}
