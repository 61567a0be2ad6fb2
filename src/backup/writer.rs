//! Writing an archive: a blocking thread owns the ZIP file and takes its entries through a
//! bounded channel, so rows stream from the database into Deflate with bounded memory.
//! The file is `<name>.partial` (mode 0600) until it is complete, fsynced and renamed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

use super::Passphrase;
use crate::error::{Error, Result};

/// What the thread is told to do, in order.
pub(crate) enum Msg {
    /// Start the NDJSON entry of a table (and empty the CSV spool).
    Begin(String),
    /// NDJSON bytes for the open entry, and CSV bytes for the spool.
    Rows(Vec<u8>, Vec<u8>),
    /// Close the table's entry; with a name, add the spooled CSV as that entry.
    End(Option<String>),
    /// Write `manifest.json` (last), the archive comment, finish and fsync.
    Finish { manifest: Vec<u8>, comment: String },
}

pub(crate) struct ArchiveWriter {
    tx: mpsc::Sender<Msg>,
    handle: tokio::task::JoinHandle<Result<()>>,
}

/// Create `path` for writing, mode 0600, failing if it exists.
pub(crate) fn create_private(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

impl ArchiveWriter {
    /// Start writing the archive into `partial` (created here).
    pub(crate) fn start(
        partial: &Path,
        passphrase: Option<Passphrase>,
        mtime: DateTime<Utc>,
    ) -> Result<ArchiveWriter> {
        let file = create_private(partial)?;
        let spool_path = PathBuf::from(format!("{}.spool.partial", partial.display()));
        let spool = create_private(&spool_path)?;
        // Unlinked at once: the spool vanishes with the process, whatever happens.
        let _ = std::fs::remove_file(&spool_path);
        let (tx, rx) = mpsc::channel(8);
        let ctx = partial.display().to_string();
        let handle = tokio::task::spawn_blocking(move || {
            run(file, spool, passphrase, mtime, rx)
                .map_err(|e| Error::Other(format!("writing {ctx}: {e}")))
        });
        Ok(ArchiveWriter { tx, handle })
    }

    pub(crate) async fn send(&mut self, msg: Msg) -> Result<()> {
        if self.tx.send(msg).await.is_err() {
            // The thread stopped: its own error says why.
            return Err(self.fail().await);
        }
        Ok(())
    }

    async fn fail(&mut self) -> Error {
        match (&mut self.handle).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => Error::Other("archive writer stopped early".into()),
            Err(e) => Error::Other(format!("archive writer failed: {e}")),
        }
    }

    /// Write the manifest last and wait until the file is complete and on disk.
    pub(crate) async fn finish(mut self, manifest: Vec<u8>, comment: String) -> Result<()> {
        self.send(Msg::Finish { manifest, comment }).await?;
        drop(self.tx);
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(Error::Other(format!("archive writer failed: {e}"))),
        }
    }
}

fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    zip::DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or_default()
}

fn run(
    file: File,
    mut spool: File,
    passphrase: Option<Passphrase>,
    mtime: DateTime<Utc>,
    mut rx: mpsc::Receiver<Msg>,
) -> std::result::Result<(), String> {
    let mut zip = ZipWriter::new(BufWriter::with_capacity(256 * 1024, file)).set_auto_large_file();
    let mut opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip_time(mtime))
        .unix_permissions(0o600);
    if let Some(p) = &passphrase {
        opts = opts.with_aes_encryption(AesMode::Aes256, p.expose());
    }
    let mut spool_out = BufWriter::new(&mut spool);
    let e = |e: &dyn std::fmt::Display| e.to_string();
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Begin(name) => {
                zip.start_file(name, opts).map_err(|x| e(&x))?;
                spool_out.flush().map_err(|x| e(&x))?;
                let s = spool_out.get_mut();
                s.set_len(0).map_err(|x| e(&x))?;
                s.seek(SeekFrom::Start(0)).map_err(|x| e(&x))?;
            }
            Msg::Rows(data, csv) => {
                zip.write_all(&data).map_err(|x| e(&x))?;
                if !csv.is_empty() {
                    spool_out.write_all(&csv).map_err(|x| e(&x))?;
                }
            }
            Msg::End(csv_name) => {
                if let Some(name) = csv_name {
                    spool_out.flush().map_err(|x| e(&x))?;
                    let s = spool_out.get_mut();
                    s.seek(SeekFrom::Start(0)).map_err(|x| e(&x))?;
                    zip.start_file(name, opts).map_err(|x| e(&x))?;
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        let n = s.read(&mut buf).map_err(|x| e(&x))?;
                        if n == 0 {
                            break;
                        }
                        zip.write_all(&buf[..n]).map_err(|x| e(&x))?;
                    }
                }
            }
            Msg::Finish { manifest, comment } => {
                zip.start_file("manifest.json", opts).map_err(|x| e(&x))?;
                zip.write_all(&manifest).map_err(|x| e(&x))?;
                zip.set_comment(comment).map_err(|x| e(&x))?;
                let out = zip.finish().map_err(|x| e(&x))?;
                let file = out.into_inner().map_err(|x| e(&x.error()))?;
                file.sync_all().map_err(|x| e(&x))?;
                return Ok(());
            }
        }
    }
    Err("cancelled before the archive was complete".into())
}
