//! One `[[offsite]]` target through `object_store`: an S3-compatible bucket (AWS, Supabase
//! Storage, R2, B2, MinIO, Wasabi, moto) or a folder on a mounted disk. Uploads are streamed
//! in parts (memory stays flat whatever the archive's size), every copy is read back and
//! hashed, and a remote archive's manifest is read with ranged reads (the ZIP's central
//! directory and the manifest entry only), never by fetching the whole archive.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::backup::{Manifest, Passphrase};
use crate::config::OffsiteConfig;
use crate::error::{Error, Result};

/// Parts of this size are uploaded (S3's minimum is 5 MiB); at most `UPLOAD_CONCURRENCY`
/// parts are in flight, so an upload holds about 2 × 8 MiB whatever the archive's size.
pub const PART_BYTES: usize = 8 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 2;
/// Ranged reads of a remote archive's tail and manifest go in blocks of this size.
const RANGE_BLOCK: u64 = 256 * 1024;

/// An object under the target's prefix.
#[derive(Debug, Clone)]
pub struct RemoteObject {
    /// The file name (the key below the prefix), e.g. `somiti-all-…-manual-3f2a9c1b.zip`.
    pub file: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// An opened target.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub cfg: OffsiteConfig,
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    /// `s3://bucket/prefix` or `file:///folder`, for messages.
    pub url: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({} {})", self.name, self.url)
    }
}

/// The enabled targets of the config, opened (nothing is contacted yet).
pub fn targets(cfg: &[OffsiteConfig]) -> Result<Vec<Target>> {
    cfg.iter().filter(|c| c.enabled).map(Target::open).collect()
}

/// The named target, or a clear error listing the names there are.
pub fn target_named(cfg: &[OffsiteConfig], name: &str) -> Result<Target> {
    match cfg.iter().find(|c| c.name == name) {
        Some(c) => Target::open(c),
        None => {
            let names: Vec<&str> = cfg.iter().map(|c| c.name.as_str()).collect();
            Err(Error::NotFound(if names.is_empty() {
                format!("off-site target {name:?}: the config has no [[offsite]] targets")
            } else {
                format!(
                    "off-site target {name:?}; the config has {}",
                    names.join(", ")
                )
            }))
        }
    }
}

impl Target {
    pub fn open(cfg: &OffsiteConfig) -> Result<Target> {
        let url = cfg.url.trim().to_string();
        let bad = |why: String| Error::Config(format!("offsite {:?}: {why}", cfg.name));
        let (store, prefix): (Arc<dyn ObjectStore>, String) = if let Some(rest) =
            url.strip_prefix("s3://")
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(if cfg.region.trim().is_empty() {
                    "us-east-1"
                } else {
                    cfg.region.trim()
                })
                .with_allow_http(cfg.allow_http)
                .with_client_options(
                    ClientOptions::new()
                        .with_allow_http(cfg.allow_http)
                        .with_connect_timeout(Duration::from_secs(10))
                        .with_timeout(Duration::from_secs(120)),
                )
                .with_retry(RetryConfig {
                    max_retries: 2,
                    retry_timeout: Duration::from_secs(30),
                    ..RetryConfig::default()
                });
            if !cfg.endpoint.trim().is_empty() {
                b = b.with_endpoint(cfg.endpoint.trim().trim_end_matches('/'));
            }
            let (key, secret) = credentials(cfg)?;
            b = b.with_access_key_id(key).with_secret_access_key(secret);
            if let Ok(t) = std::env::var("AWS_SESSION_TOKEN")
                && !t.is_empty()
                && cfg.credentials_file.trim().is_empty()
            {
                b = b.with_token(t);
            }
            let s = b.build().map_err(|e| bad(e.to_string()))?;
            (Arc::new(s), prefix.trim_matches('/').to_string())
        } else if let Some(dir) = url.strip_prefix("file://") {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(Error::NotFound(format!(
                    "off-site target {:?}: folder {} does not exist (is the disk mounted? create the folder once with mode 0700)",
                    cfg.name,
                    dir.display()
                )));
            }
            let s = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?;
            (Arc::new(s), String::new())
        } else {
            return Err(bad(format!(
                "url {url:?} is not s3://BUCKET/PREFIX or file:///FOLDER"
            )));
        };
        Ok(Target {
            name: cfg.name.clone(),
            cfg: cfg.clone(),
            store,
            prefix: ObjPath::from(prefix.as_str()),
            url,
        })
    }

    /// The object key of an archive file.
    pub fn key_of(&self, file: &str) -> ObjPath {
        if self.prefix.as_ref().is_empty() {
            ObjPath::from(file)
        } else {
            self.prefix.clone().join(file)
        }
    }

    /// "off-site target bucket (s3://somiti-backups/sonali)": how messages name it.
    pub fn label(&self) -> String {
        format!("off-site target {} ({})", self.name, self.url)
    }

    fn fail(&self, doing: &str, e: object_store::Error) -> Error {
        Error::Other(format!("{}: {doing}: {}", self.label(), words(&e)))
    }

    /// Stream `local` up as `file`, in parts; returns the bytes sent and their SHA-256.
    /// `sent` is told how many bytes have gone so far.
    pub async fn upload(
        &self,
        local: &Path,
        file: &str,
        sent: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(u64, String)> {
        let key = self.key_of(file);
        let mut f = tokio::fs::File::open(local)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        let upload = self
            .store
            .put_multipart(&key)
            .await
            .map_err(|e| self.fail(&format!("starting the upload of {file}"), e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut sha = Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = match f.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(Error::io(format!("reading {}", local.display()), e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = w.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                return Err(self.fail(&format!("uploading {file}"), e));
            }
            sha.update(&buf[..n]);
            w.write(&buf[..n]);
            total += n as u64;
            sent(total);
        }
        w.finish()
            .await
            .map_err(|e| self.fail(&format!("finishing the upload of {file}"), e))?;
        Ok((total, hex::encode(sha.finalize())))
    }

    /// Read the object back, streamed, and hash it: its size and SHA-256 as stored.
    pub async fn read_back(&self, file: &str) -> Result<(u64, String)> {
        let key = self.key_of(file);
        let r = self
            .store
            .get(&key)
            .await
            .map_err(|e| self.fail(&format!("reading back {file}"), e))?;
        let mut s = r.into_stream();
        let mut sha = Sha256::new();
        let mut total = 0u64;
        while let Some(chunk) = s.next().await {
            let chunk = chunk.map_err(|e| self.fail(&format!("reading back {file}"), e))?;
            sha.update(&chunk);
            total += chunk.len() as u64;
        }
        Ok((total, hex::encode(sha.finalize())))
    }

    /// Fetch `file` into `dest` (through `dest.partial`, fsynced, then renamed; mode 0600);
    /// returns its size and SHA-256.
    pub async fn download(&self, file: &str, dest: &Path) -> Result<(u64, String)> {
        use std::os::unix::fs::OpenOptionsExt;
        use tokio::io::AsyncWriteExt;
        let key = self.key_of(file);
        let partial = dest.with_extension("zip.partial");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true).mode(0o600);
        let out = opts
            .open(&partial)
            .map_err(|e| Error::io(format!("creating {}", partial.display()), e))?;
        let mut out = tokio::fs::File::from_std(out);
        let r = async {
            let got = self
                .store
                .get(&key)
                .await
                .map_err(|e| self.fail(&format!("fetching {file}"), e))?;
            let mut s = got.into_stream();
            let mut sha = Sha256::new();
            let mut total = 0u64;
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(|e| self.fail(&format!("fetching {file}"), e))?;
                sha.update(&chunk);
                total += chunk.len() as u64;
                out.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
            }
            out.sync_all()
                .await
                .map_err(|e| Error::io(format!("syncing {}", partial.display()), e))?;
            Ok::<_, Error>((total, hex::encode(sha.finalize())))
        }
        .await;
        match r {
            Ok(v) => {
                std::fs::rename(&partial, dest)
                    .map_err(|e| Error::io(format!("renaming to {}", dest.display()), e))?;
                if let Some(dir) = dest.parent() {
                    crate::backup::sync_dir(dir)?;
                }
                Ok(v)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// The `.zip` objects directly under the prefix, oldest first by name.
    pub async fn list(&self) -> Result<Vec<RemoteObject>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listing = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|e| self.fail("listing", e))?;
        let mut v: Vec<RemoteObject> = listing
            .objects
            .into_iter()
            .filter_map(|m| {
                let file = m.location.filename()?.to_string();
                file.ends_with(".zip").then_some(RemoteObject {
                    file,
                    size: m.size,
                    last_modified: m.last_modified,
                })
            })
            .collect();
        v.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(v)
    }

    /// Size of `file`, or None when the target does not have it.
    pub async fn size_of(&self, file: &str) -> Result<Option<u64>> {
        match self.store.head(&self.key_of(file)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(&format!("looking up {file}"), e)),
        }
    }

    pub async fn delete(&self, file: &str) -> Result<()> {
        match self.store.delete(&self.key_of(file)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail(&format!("deleting {file}"), e)),
        }
    }

    /// The manifest of a remote archive, read with ranged reads (the passphrase opens an
    /// encrypted one). `schema_version` is this binary's: a newer archive is refused as it
    /// would be locally.
    pub async fn read_manifest(
        &self,
        file: &str,
        size: u64,
        passphrase: Option<Passphrase>,
        schema_version: i64,
    ) -> Result<Manifest> {
        let reader = RangeReader {
            store: self.store.clone(),
            key: self.key_of(file),
            size,
            pos: 0,
            block: None,
            handle: tokio::runtime::Handle::current(),
        };
        let shown = PathBuf::from(format!("{}/{file}", self.url.trim_end_matches('/')));
        let label = self.label();
        tokio::task::spawn_blocking(move || {
            read_remote_manifest(reader, &shown, passphrase, schema_version)
        })
        .await
        .map_err(|e| Error::Other(format!("{label}: reading the manifest of {file}: {e}")))?
    }
}

fn read_remote_manifest(
    reader: RangeReader,
    shown: &Path,
    passphrase: Option<Passphrase>,
    schema_version: i64,
) -> Result<Manifest> {
    let bad = |m: String| Error::VerifyFailed(format!("{}: {m}", shown.display()));
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| bad(format!("not a readable ZIP archive: {e}")))?;
    let idx = zip
        .index_for_name("manifest.json")
        .ok_or_else(|| bad("manifest.json is missing: not a somiti backup".into()))?;
    let encrypted = zip
        .by_index_data(idx)
        .map(|e| e.encrypted())
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    if encrypted && passphrase.is_none() {
        return Err(Error::Refused(format!(
            "{} is encrypted: set {} or backup.passphrase_file to read its manifest",
            shown.display(),
            crate::backup::PASSPHRASE_ENV
        )));
    }
    let pass = passphrase.as_ref().map(|p| p.expose().as_bytes());
    let mut f = zip
        .by_name_with_options(
            "manifest.json",
            zip::read::ZipReadOptions::new().password(if encrypted { pass } else { None }),
        )
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    if f.size() > 16 * 1024 * 1024 {
        return Err(bad("manifest.json is too large".into()));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    drop(f);
    crate::backup::archive::parse_manifest(shown, &bytes, schema_version)
}

/// A blocking `Read + Seek` over an object, fetching one block at a time with ranged GETs
/// (run on a blocking thread; it waits on the runtime for each block).
struct RangeReader {
    store: Arc<dyn ObjectStore>,
    key: ObjPath,
    size: u64,
    pos: u64,
    block: Option<(u64, bytes::Bytes)>,
    handle: tokio::runtime::Handle,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let have = matches!(&self.block, Some((start, b))
            if self.pos >= *start && self.pos < *start + b.len() as u64);
        if !have {
            let start = self.pos - self.pos % RANGE_BLOCK;
            let end = (start + RANGE_BLOCK).min(self.size);
            let got = self
                .handle
                .block_on(self.store.get_range(&self.key, start..end))
                .map_err(std::io::Error::other)?;
            if got.is_empty() {
                return Ok(0);
            }
            self.block = Some((start, got));
        }
        let (start, b) = self.block.as_ref().expect("fetched above");
        let off = (self.pos - start) as usize;
        let n = buf.len().min(b.len() - off);
        buf[..n].copy_from_slice(&b[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.size as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if p < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = p as u64;
        Ok(self.pos)
    }
}

/// The access key and secret: the target's credentials file (which must be 0600), else
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
fn credentials(cfg: &OffsiteConfig) -> Result<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let file = cfg.credentials_file.trim();
    if file.is_empty() {
        let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
        if key.is_empty() || secret.is_empty() {
            return Err(Error::Config(format!(
                "offsite {:?}: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or credentials_file (mode 0600)",
                cfg.name
            )));
        }
        return Ok((key, secret));
    }
    let path = Path::new(file);
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("reading credentials file {file}"), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Refused(format!(
            "credentials file {file} has mode {mode:04o}; it must be 0600 (chmod 600 {file})"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading credentials file {file}"), e))?;
    let (mut key, mut secret) = (String::new(), String::new());
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "aws_access_key_id" => key = v,
            "aws_secret_access_key" => secret = v,
            _ => {}
        }
    }
    if key.is_empty() || secret.is_empty() {
        return Err(Error::Config(format!(
            "credentials file {file}: needs aws_access_key_id = … and aws_secret_access_key = … lines"
        )));
    }
    Ok((key, secret))
}

/// An object-store failure in an operator's words: what the store said, without the crate's
/// debug noise.
fn words(e: &object_store::Error) -> String {
    match e {
        object_store::Error::NotFound { path, .. } => format!("{path} is not there"),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("refused (check the credentials and the bucket's policy): {e}")
        }
        _ => e.to_string(),
    }
}
