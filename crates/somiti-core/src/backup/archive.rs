//! Reading an archive safely. Opening checks the container (a ZIP, no duplicate or unsafe
//! entry names, every entry listed in the manifest, sizes within limits) and the manifest
//! (format, versions, tables and columns of this schema). Entries are read through a cap
//! at their declared size, so a ZIP bomb stops at the first byte too many, and each data
//! file's SHA-256 and length are checked against the manifest when its end is reached.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use zip::ZipArchive;
use zip::read::ZipReadOptions;
use zip::result::ZipError;

use super::schema::{self, TableSpec};
use super::{FORMAT, FORMAT_VERSION, FileManifest, Manifest, Passphrase, Scope};
use crate::error::{Error, Result};

/// No archive of ours has more entries than this (6 tables, their CSV, the manifest).
pub const MAX_ENTRIES: usize = 64;
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// One NDJSON line (one row) at most.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// All entries together, inflated.
pub const MAX_TOTAL_BYTES: u64 = 256 << 30;

pub struct ArchiveReader {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub encrypted: bool,
    zip: ZipArchive<BufReader<File>>,
    passphrase: Option<Passphrase>,
    /// Inflate on a second thread while rows are parsed (off when another thread, the
    /// drill's, already keeps the second core busy).
    pub read_ahead: bool,
}

fn failed(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::VerifyFailed(format!("{}: {what}", file_name(path)))
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// `data/` and `csv/` folders, the manifest, and files directly in those folders; never
/// an absolute path, a backslash, a drive or a `..`.
fn check_name(name: &str) -> std::result::Result<(), String> {
    let unsafe_name = name.starts_with('/')
        || name.contains('\\')
        || name.contains(':')
        || name.contains('\0')
        || name.split('/').any(|c| c == ".." || c == ".");
    if unsafe_name {
        return Err(format!(
            "entry name {name:?} is unsafe (absolute or with ..)"
        ));
    }
    let ok = name == "manifest.json"
        || name == "data/"
        || name == "csv/"
        || (name.starts_with("data/")
            && name.ends_with(".ndjson")
            && name.matches('/').count() == 1)
        || (name.starts_with("csv/") && name.ends_with(".csv") && name.matches('/').count() == 1);
    if !ok {
        return Err(format!("entry {name:?} does not belong in a somiti backup"));
    }
    Ok(())
}

fn zip_error(path: &Path, entry: &str, e: ZipError) -> Error {
    match e {
        ZipError::InvalidPassword => {
            Error::Refused(format!("wrong passphrase for {}", file_name(path)))
        }
        ZipError::UnsupportedArchive(m) if m == ZipError::PASSWORD_REQUIRED => {
            Error::Refused(format!(
                "{} is encrypted: set {} or backup.passphrase_file to read it",
                file_name(path),
                super::PASSPHRASE_ENV
            ))
        }
        other => failed(path, format!("entry {entry}: {other}")),
    }
}

/// zip's size limit: the entry inflated past its declared uncompressed size. Whether
/// that is a ZIP bomb or damage is decided by `ArchiveReader::overflowed`.
fn is_overflow(e: &std::io::Error) -> bool {
    e.to_string().contains("larger than its declared")
}

/// The entry's compressed data is not a valid Deflate stream (flate2's "corrupt deflate
/// stream", or a stream that stops before its end).
fn is_corrupt_deflate(e: &std::io::Error) -> bool {
    let m = e.to_string();
    m.contains("corrupt deflate stream") || m.contains("incomplete deflate stream")
}

/// zip's CRC-32 check at the end of an entry.
fn is_bad_crc(e: &std::io::Error) -> bool {
    e.to_string().contains("checksum")
}

const DAMAGED: &str = "the archive is damaged; verify or restore another backup (`somiti backup list`), or a copy of this one from elsewhere";

fn corrupt(path: &Path, entry: &str) -> Error {
    failed(
        path,
        format!("entry {entry} is corrupt (its compressed data does not inflate): {DAMAGED}"),
    )
}

fn bomb(path: &Path, entry: &str) -> Error {
    failed(
        path,
        format!("entry {entry} inflates beyond its declared size (a ZIP bomb?)"),
    )
}

/// How far past the declared size `overflowed` inflates (into nothing) before it calls
/// the entry a bomb: 1 GiB, about a second of work.
const OVERFLOW_PROBE_BYTES: u64 = 1 << 30;

fn io_error(path: &Path, entry: &str, e: std::io::Error) -> Error {
    let m = e.to_string();
    if is_corrupt_deflate(&e) {
        return corrupt(path, entry);
    }
    let what = if is_bad_crc(&e) {
        "CRC check failed: the data is damaged".to_string()
    } else if is_overflow(&e) {
        // Callers ask `overflowed`; this is the answer when they cannot.
        "inflates beyond its declared size".to_string()
    } else if m.contains("authentication code") {
        "failed its authentication check: the data is damaged (or the passphrase is wrong)"
            .to_string()
    } else {
        format!("cannot be read: {m}")
    };
    failed(path, format!("entry {entry}: {what}"))
}

impl ArchiveReader {
    /// Open and check an archive. Problems with the archive are `VerifyFailed`; a newer
    /// format or schema, a missing or wrong passphrase are `Refused`.
    pub fn open(
        path: &Path,
        passphrase: Option<Passphrase>,
        schema_version: i64,
    ) -> Result<ArchiveReader> {
        let file = crate::error::open_regular(path, "archive")?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        if len == 0 {
            return Err(failed(path, "the file is empty, not a somiti backup"));
        }
        let zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
            failed(
                path,
                format!("not a readable ZIP archive (truncated, damaged or not a ZIP): {e}"),
            )
        })?;
        if zip.len() > MAX_ENTRIES {
            return Err(failed(path, format!("{} entries is too many", zip.len())));
        }
        if zip.has_duplicate_names() {
            return Err(failed(path, "the archive holds duplicate entries"));
        }
        let mut encrypted = None;
        for i in 0..zip.len() {
            let e = zip.by_index_data(i).map_err(|e| zip_error(path, "?", e))?;
            let name = std::str::from_utf8(e.name_raw())
                .map_err(|_| failed(path, "an entry name is not UTF-8"))?
                .to_string();
            check_name(&name).map_err(|m| failed(path, m))?;
            if e.enclosed_name().is_none() {
                return Err(failed(path, format!("entry name {name:?} is unsafe")));
            }
            if !e.is_dir() {
                match encrypted {
                    None => encrypted = Some(e.encrypted()),
                    Some(x) if x != e.encrypted() => {
                        return Err(failed(path, "some entries are encrypted and some are not"));
                    }
                    _ => {}
                }
            }
        }
        let encrypted = encrypted.unwrap_or(false);
        if encrypted && passphrase.is_none() {
            return Err(Error::Refused(format!(
                "{} is encrypted: set {} or backup.passphrase_file to read it",
                file_name(path),
                super::PASSPHRASE_ENV
            )));
        }
        let mut r = ArchiveReader {
            path: path.to_path_buf(),
            manifest: placeholder_manifest(),
            encrypted,
            zip,
            passphrase: if encrypted { passphrase } else { None },
            read_ahead: true,
        };
        r.manifest = r.read_manifest(schema_version)?;
        r.check_entries()?;
        Ok(r)
    }

    fn open_entry(&mut self, name: &str) -> Result<zip::read::ZipFile<'_, BufReader<File>>> {
        let pass = self.passphrase.as_ref().map(|p| p.expose().as_bytes());
        let path = self.path.clone();
        self.zip
            .by_name_with_options(name, ZipReadOptions::new().password(pass))
            .map_err(|e| match e {
                ZipError::FileNotFound => failed(&path, format!("{name} is missing")),
                e => zip_error(&path, name, e),
            })
    }

    fn read_manifest(&mut self, schema_version: i64) -> Result<Manifest> {
        let path = self.path.clone();
        let mut f = self.open_entry("manifest.json")?;
        if f.size() > MAX_MANIFEST_BYTES {
            return Err(failed(&path, "manifest.json is too large"));
        }
        let cap = f.size();
        let mut bytes = Vec::new();
        let r = (&mut f).take(cap + 1).read_to_end(&mut bytes);
        drop(f);
        match r {
            Err(e) if is_overflow(&e) => return Err(self.overflowed("manifest.json")),
            Err(e) => return Err(io_error(&path, "manifest.json", e)),
            Ok(_) if bytes.len() as u64 > cap => return Err(self.overflowed("manifest.json")),
            Ok(_) => {}
        }
        parse_manifest(&path, &bytes, schema_version)
    }

    /// Every entry is the manifest or a file it lists, with the size it declares.
    fn check_entries(&mut self) -> Result<()> {
        let path = self.path.clone();
        let m = &self.manifest;
        let mut listed: HashSet<String> = HashSet::from(["manifest.json".to_string()]);
        let mut total: u64 = 0;
        let mut files: Vec<(String, u64)> = Vec::new();
        for t in &m.tables {
            files.push((t.file.clone(), t.bytes));
            if let Some(c) = &t.csv {
                files.push((c.file.clone(), c.bytes));
            }
        }
        for (file, bytes) in &files {
            listed.insert(file.clone());
            total = total.saturating_add(*bytes);
            let idx = self.zip.index_for_name(file).ok_or_else(|| {
                failed(
                    &path,
                    format!("{file} is listed in the manifest but missing"),
                )
            })?;
            let e = self
                .zip
                .by_index_data(idx)
                .map_err(|e| zip_error(&path, file, e))?;
            if e.size() != *bytes {
                return Err(failed(
                    &path,
                    format!(
                        "entry {file}: declares {} bytes but the manifest says {bytes}",
                        e.size()
                    ),
                ));
            }
        }
        if total > MAX_TOTAL_BYTES {
            return Err(failed(&path, "the archive inflates beyond the size limit"));
        }
        for i in 0..self.zip.len() {
            let e = self
                .zip
                .by_index_data(i)
                .map_err(|e| zip_error(&path, "?", e))?;
            let name = String::from_utf8_lossy(e.name_raw()).into_owned();
            if !e.is_dir() && !listed.contains(&name) {
                return Err(failed(
                    &path,
                    format!("entry {name} is not listed in the manifest"),
                ));
            }
        }
        Ok(())
    }

    /// Read a whole entry the manifest lists (CSV files), checking length and SHA-256.
    pub fn check_file(&mut self, f: &FileManifest) -> Result<()> {
        let path = self.path.clone();
        let mut entry = self.open_entry(&f.file)?;
        let mut h = Hashing::new((&mut entry).take(f.bytes + 1));
        let mut buf = vec![0u8; 64 * 1024];
        let err = loop {
            match h.read(&mut buf) {
                Ok(0) => break None,
                Ok(_) => {}
                Err(e) => break Some(e),
            }
        };
        if h.bytes > f.bytes || err.as_ref().is_some_and(is_overflow) {
            drop(entry);
            return Err(self.overflowed(&f.file));
        }
        if let Some(e) = err {
            return Err(io_error(&path, &f.file, e));
        }
        h.finish(&path, &f.file, f.bytes, &f.sha256)
    }

    /// An entry inflated past its declared size: a ZIP bomb (a sound entry, Deflate stream
    /// and CRC, that simply declares a small size), or damage? A flipped byte often makes
    /// the inflater turn out more than the real data. So the entry is inflated again from
    /// its local header, into nothing and without the size limit: if the inflater fails on
    /// the way, or what comes out does not match the entry's CRC, the data is corrupt; if
    /// the stream ends cleanly with its CRC, or still runs `OVERFLOW_PROBE_BYTES` past its
    /// declared size, it is a bomb.
    fn overflowed(&mut self, name: &str) -> Error {
        let path = self.path.clone();
        let mut probe = || -> std::io::Result<()> {
            let (start, compressed, declared) = {
                let e = self
                    .zip
                    .by_name_raw(name.as_bytes())
                    .map_err(std::io::Error::other)?;
                (e.header_start(), e.compressed_size(), e.size())
            };
            let mut file = crate::error::open_regular(&path, "archive")
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            file.seek(SeekFrom::Start(start))?;
            let mut r = BufReader::new(file);
            let pass = self.passphrase.as_ref().map(|p| p.expose().as_bytes());
            let opts = ZipReadOptions::new()
                .password(pass)
                .override_compressed_size(compressed)
                .override_uncompressed_size(u64::MAX);
            let mut entry = zip::read::read_zipfile_from_stream_with_options(&mut r, opts)
                .map_err(std::io::Error::other)?
                .ok_or_else(|| std::io::Error::other("no entry at its header"))?;
            let cap = declared.saturating_add(OVERFLOW_PROBE_BYTES);
            std::io::copy(&mut (&mut entry).take(cap), &mut std::io::sink())?;
            Ok(())
        };
        match probe() {
            Ok(()) => bomb(&path, name),
            Err(e) if is_overflow(&e) => bomb(&path, name),
            Err(e) if is_bad_crc(&e) => failed(
                &path,
                format!(
                    "entry {name} is corrupt (its compressed data does not inflate to what its header declares): {DAMAGED}"
                ),
            ),
            Err(e) => io_error(&path, name, e),
        }
    }

    /// Stream the rows of a table: `each(row_no, line)` for every line; a line error stops
    /// the reading of rows but not of bytes, so damage to the entry (CRC, SHA-256, length)
    /// is reported before what it did to the rows.
    pub fn for_each_line(
        &mut self,
        table: &str,
        cancel: Option<&CancellationToken>,
        mut each: impl FnMut(u64, &str) -> std::result::Result<(), String>,
    ) -> Result<u64> {
        let path = self.path.clone();
        let t = self
            .manifest
            .table(table)
            .ok_or_else(|| failed(&path, format!("the manifest lists no table {table}")))?
            .clone();
        let threaded = self.read_ahead;
        let mut entry = self.open_entry(&t.file)?;
        // Inflating and hashing run on a second thread, a few chunks ahead of the rows.
        let hashing = Hashing::new((&mut entry).take(t.bytes + 1));
        // Past the declared size: the reading stops and `overflowed` says what it was.
        let mut overflow = false;
        let (lines, hashing) = read_ahead(threaded, hashing, |ahead| -> Result<_> {
            let mut reader = BufReader::with_capacity(256 * 1024, ahead);
            let mut line = Vec::new();
            let mut row: u64 = 0;
            let mut first_err: Option<String> = None;
            loop {
                line.clear();
                let n = match (&mut reader)
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', &mut line)
                {
                    Ok(n) => n,
                    Err(e) if is_overflow(&e) => {
                        overflow = true;
                        break;
                    }
                    Err(e) => return Err(io_error(&path, &t.file, e)),
                };
                if n == 0 {
                    break;
                }
                if row.is_multiple_of(1024) && cancel.is_some_and(|c| c.is_cancelled()) {
                    return Err(Error::Cancelled);
                }
                if first_err.is_some() {
                    continue;
                }
                row += 1;
                if line.last() != Some(&b'\n') {
                    first_err = Some(if line.len() > MAX_LINE_BYTES {
                        format!("row {row} is longer than {MAX_LINE_BYTES} bytes")
                    } else {
                        format!("row {row} does not end with a newline")
                    });
                    continue;
                }
                let text = match std::str::from_utf8(&line[..line.len() - 1]) {
                    Ok(s) => s,
                    Err(_) => {
                        first_err = Some(format!("row {row} is not UTF-8"));
                        continue;
                    }
                };
                if let Err(m) = each(row, text) {
                    first_err = Some(format!("row {row}: {m}"));
                }
            }
            Ok((row, first_err))
        });
        if overflow || hashing.bytes > t.bytes {
            drop(entry);
            return Err(self.overflowed(&t.file));
        }
        let (row, first_err) = lines?;
        hashing.finish(&path, &t.file, t.bytes, &t.sha256)?;
        if let Some(m) = first_err {
            return Err(failed(&path, format!("entry {}: {m}", t.file)));
        }
        if row != t.rows {
            return Err(failed(
                &path,
                format!(
                    "entry {}: holds {row} rows but the manifest says {}",
                    t.file, t.rows
                ),
            ));
        }
        Ok(row)
    }
}

/// Run `f` on a reader of `inner` whose reading happens on a second thread (`threaded`),
/// up to four chunks ahead; hand `inner` back when `f` is done (the thread stops when `f`
/// stops).
fn read_ahead<R: Read + Send, T>(
    threaded: bool,
    mut inner: R,
    f: impl FnOnce(&mut Ahead<'_>) -> T,
) -> (T, R) {
    const CHUNK: usize = 256 * 1024;
    if !threaded {
        let out = f(&mut Ahead::Direct(&mut inner));
        return (out, inner);
    }
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(4);
        let reading = s.spawn(move || {
            let mut inner = inner;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let mut n = 0;
                let r = loop {
                    match inner.read(&mut buf[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == CHUNK {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(n);
                let last = n < CHUNK || r.is_err();
                let sent = match r {
                    Ok(()) if n > 0 => tx.send(Ok(buf)),
                    Ok(()) => Ok(()),
                    Err(e) => tx.send(Err(e)),
                };
                if last || sent.is_err() {
                    return inner;
                }
            }
        });
        let mut ahead = Ahead::Channel {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        let out = f(&mut ahead);
        drop(ahead);
        let inner = match reading.join() {
            Ok(i) => i,
            Err(p) => std::panic::resume_unwind(p),
        };
        (out, inner)
    })
}

/// The reading side of `read_ahead`.
enum Ahead<'r> {
    Channel {
        rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
        cur: Vec<u8>,
        pos: usize,
    },
    Direct(&'r mut dyn Read),
}

impl Read for Ahead<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let (rx, cur, pos) = match self {
            Ahead::Direct(r) => return r.read(out),
            Ahead::Channel { rx, cur, pos } => (rx, cur, pos),
        };
        if *pos == cur.len() {
            match rx.recv() {
                Ok(Ok(buf)) => {
                    *cur = buf;
                    *pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(cur.len() - *pos);
        out[..n].copy_from_slice(&cur[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }
}

/// Counts and hashes what passes through; reading past the cap is a failure at `finish`.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    fn finish(self, path: &Path, entry: &str, bytes: u64, sha: &str) -> Result<()> {
        if self.bytes > bytes {
            return Err(failed(
                path,
                format!("entry {entry} inflates beyond its declared size ({bytes} bytes)"),
            ));
        }
        if self.bytes < bytes {
            return Err(failed(
                path,
                format!(
                    "entry {entry} holds {} bytes but the manifest says {bytes}",
                    self.bytes
                ),
            ));
        }
        if hex::encode(self.sha.finalize()) != sha {
            return Err(failed(
                path,
                format!("entry {entry}: SHA-256 does not match the manifest"),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn placeholder_manifest() -> Manifest {
    Manifest {
        format: String::new(),
        format_version: 0,
        backup_id: String::new(),
        created_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        kind: super::BackupKind::Manual,
        scope: String::new(),
        app_version: String::new(),
        schema_version: 0,
        source: crate::db::Backend::Sqlite,
        created_by: String::new(),
        encrypted: false,
        database_id: None,
        undoes: None,
        tables: Vec::new(),
    }
}

/// Parse and check `manifest.json` against this binary's format and schema.
pub fn parse_manifest(path: &Path, bytes: &[u8], schema_version: i64) -> Result<Manifest> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| failed(path, format!("manifest.json is malformed: {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(failed(
            path,
            "manifest.json is not a somiti-backup manifest",
        ));
    }
    let fv = v
        .get("format_version")
        .and_then(|f| f.as_u64())
        .unwrap_or(0);
    if fv > u64::from(FORMAT_VERSION) {
        return Err(Error::Refused(format!(
            "{} has archive format_version {fv}, newer than this somiti {} reads ({FORMAT_VERSION}); upgrade somiti to use it",
            file_name(path),
            env!("CARGO_PKG_VERSION")
        )));
    }
    let sv = v
        .get("schema_version")
        .and_then(|f| f.as_i64())
        .unwrap_or(0);
    if sv > schema_version {
        return Err(Error::Refused(format!(
            "{} has schema_version {sv}, newer than this somiti {} knows ({schema_version}); upgrade somiti to use it",
            file_name(path),
            env!("CARGO_PKG_VERSION")
        )));
    }
    let m: Manifest = serde_json::from_value(v)
        .map_err(|e| failed(path, format!("manifest.json is malformed: {e}")))?;
    check_manifest(&m).map_err(|e| failed(path, format!("manifest.json: {e}")))?;
    Ok(m)
}

fn check_manifest(m: &Manifest) -> std::result::Result<(), String> {
    if m.format_version == 0 {
        return Err(format!("format_version must be 1 to {FORMAT_VERSION}"));
    }
    uuid::Uuid::parse_str(&m.backup_id).map_err(|_| "backup_id is not a UUID".to_string())?;
    let scope = Scope::parse(&m.scope).map_err(|e| e.to_string())?;
    let mut seen = HashSet::new();
    for t in &m.tables {
        let spec: &TableSpec = schema::spec_in(m.format_version, &t.name).ok_or_else(|| {
            format!(
                "unknown table {:?} for format_version {}",
                t.name, m.format_version
            )
        })?;
        if !seen.insert(t.name.as_str()) {
            return Err(format!("table {} is listed twice", t.name));
        }
        if t.file != format!("data/{}.ndjson", t.name) {
            return Err(format!("table {} has file {:?}", t.name, t.file));
        }
        if t.columns != spec.col_names() {
            return Err(format!(
                "table {}: columns {:?} do not match schema version {} ({:?})",
                t.name,
                t.columns,
                m.schema_version,
                spec.col_names()
            ));
        }
        if let Some(c) = &t.csv
            && c.file != format!("csv/{}.csv", t.name)
        {
            return Err(format!("table {} has CSV file {:?}", t.name, c.file));
        }
        let want: Vec<&str> = spec.totals.to_vec();
        let have: Vec<&str> = t.totals.keys().map(String::as_str).collect();
        let mut want_sorted = want.clone();
        want_sorted.sort_unstable();
        if have != want_sorted {
            return Err(format!(
                "table {}: control totals {have:?}, expected {want:?}",
                t.name
            ));
        }
        if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("table {}: sha256 is not a SHA-256", t.name));
        }
    }
    let mut need: Vec<&str> = schema::ledger_tables_in(m.format_version).to_vec();
    if scope == Scope::All {
        need.push("users");
    }
    for n in need {
        if !seen.contains(n) {
            return Err(format!("the table {n} is missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn unsafe_and_foreign_entry_names_are_refused() {
        for bad in [
            "../x",
            "/etc/passwd",
            "data/../../x.ndjson",
            "data\\x.ndjson",
            "C:/x",
            "data/a/b.ndjson",
            "evil.sh",
            "./manifest.json",
        ] {
            assert!(check_name(bad).is_err(), "{bad} must be refused");
        }
        for good in [
            "manifest.json",
            "data/members.ndjson",
            "csv/members.csv",
            "data/",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
    }
}
