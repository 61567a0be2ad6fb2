//! The one error type of the core. Every variant carries a sentence an operator can act on,
//! and maps to one exit code of the command-line contract (the README's "Exit codes" line).

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// Input that breaks a ledger rule: names the field and the reason.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },

    /// Several rejected inputs at once (imports): every one is listed.
    #[error("{} problem(s) found:\n{}", .0.len(), .0.join("\n"))]
    InvalidMany(Vec<String>),

    /// Not allowed: permission, a closed day, a missing confirmation.
    #[error("refused: {0}")]
    Refused(String),

    #[error("not found: {0}")]
    NotFound(String),

    /// An edit made from a stale copy: the row changed since the editor read it (optimistic
    /// concurrency). Names who changed it and when (organization's clock); nothing was written.
    #[error(
        "{what} was changed by {by} at {at} since you opened it; nothing was saved: reload it and make your change again"
    )]
    Stale {
        what: String,
        by: String,
        at: String,
    },

    /// A lock held by another backup, restore or prune.
    #[error("busy: {0}")]
    Busy(String),

    /// An archive failed verification.
    #[error("verification failed: {0}")]
    VerifyFailed(String),

    #[error("configuration: {0}")]
    Config(String),

    #[error("cancelled")]
    Cancelled,

    #[error("database: {0}")]
    Database(sqlx::Error),

    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The disk (or the quota) filled up. One sentence: what was being written, the space it
    /// needs when an estimate is at hand, and what to do.
    #[error("{context}: the disk is full{}; {remedy}", needed_text(.needed))]
    DiskFull {
        context: String,
        /// An estimate of the space needed, and where it comes from.
        needed: Option<String>,
        remedy: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Other(String),

    /// Standard output was closed by its reader (`somiti member list | head -1`): the
    /// command ends quietly with exit 0 (what ripgrep does), never with a panic.
    #[error("standard output was closed")]
    OutputClosed,
}

/// SQLite's "database is locked" (a writer kept it past the busy timeout) is the busy of
/// the contract, with a sentence that says what to do; every other database error as it is.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        if let sqlx::Error::Database(d) = &e
            && d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
            && d.code().is_some_and(|c| {
                c == "5" || c == "6" || c.parse::<u32>().is_ok_and(|n| n & 0xff == 5)
            })
        {
            return Error::Busy(
                "the database is held by another program's long write (a restore or an import?); nothing was written, try again when it has finished".into(),
            );
        }
        Error::Database(e)
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An I/O failure while doing `context` ("writing /path/file"). A full disk or quota
    /// becomes `DiskFull`, which says what to do; add the space needed with `needing`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if is_disk_full(&source) {
            return Error::DiskFull {
                context: context.into(),
                needed: None,
                remedy: DISK_FULL_REMEDY.into(),
                source,
            };
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A full disk while writing into the backup folder: the remedy names `backup.dir`.
    pub fn in_backup_dir(self) -> Self {
        match self {
            Error::DiskFull {
                context,
                needed,
                source,
                ..
            } => Error::DiskFull {
                context,
                needed,
                remedy: BACKUP_DISK_FULL_REMEDY.into(),
                source,
            },
            other => other,
        }
    }

    /// Add an estimate of the space needed to a `DiskFull` (`why`: where the estimate comes
    /// from, e.g. "the size of the last backup of this scope"); other errors are unchanged.
    pub fn needing(self, bytes: u64, why: &str) -> Self {
        self.with_needed(format!("about {}, {why}", crate::text::human_bytes(bytes)))
    }

    /// Add a lower bound of the space needed to a `DiskFull`: the write filled the `bytes`
    /// that were free; other errors are unchanged.
    pub fn needing_more_than(self, bytes: u64) -> Self {
        self.with_needed(format!(
            "more than the {} it filled",
            crate::text::human_bytes(bytes)
        ))
    }

    fn with_needed(self, text: String) -> Self {
        match self {
            Error::DiskFull {
                context,
                remedy,
                source,
                ..
            } => Error::DiskFull {
                context,
                needed: Some(text),
                remedy,
                source,
            },
            other => other,
        }
    }

    pub fn is_disk_full(&self) -> bool {
        matches!(self, Error::DiskFull { .. })
    }

    /// Exit code of the command-line contract: 1 error, 3 verify, 4 refused, 5 busy; 0
    /// for a closed standard output (nothing is wrong, the reader had enough).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::OutputClosed => 0,
            Error::VerifyFailed(_) => 3,
            Error::Refused(_) | Error::Stale { .. } => 4,
            Error::Busy(_) => 5,
            _ => 1,
        }
    }

    /// A short machine-readable name for `--json` errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid { .. } | Error::InvalidMany(_) => "invalid",
            Error::Refused(_) => "refused",
            Error::NotFound(_) => "not_found",
            Error::Stale { .. } => "stale",
            Error::Busy(_) => "busy",
            Error::VerifyFailed(_) => "verify_failed",
            Error::Config(_) => "config",
            Error::Cancelled => "cancelled",
            Error::Database(_) | Error::Migrate(_) => "database",
            Error::Io { .. } => "io",
            Error::DiskFull { .. } => "disk_full",
            Error::Other(_) => "error",
            Error::OutputClosed => "output_closed",
        }
    }

    /// True when the database reported a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

const DISK_FULL_REMEDY: &str = "free space on that disk and try again";
const BACKUP_DISK_FULL_REMEDY: &str = "free space on that disk, or set backup.dir in the config to a folder on a larger disk, and try again";

/// No space left on the device, or the user's quota is used up.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(n) if n == nix::libc::ENOSPC || n == nix::libc::EDQUOT)
}

fn needed_text(needed: &Option<String>) -> String {
    match needed {
        Some(n) => format!(" (it needs {n})"),
        None => String::new(),
    }
}

/// Open a file the operator named (an archive, a CSV file) for reading, refusing at once
/// anything that is not a regular file: a FIFO would block the open (and the read) until
/// some writer came, a directory or a device is never a backup or a spreadsheet. The open
/// itself is non-blocking, so a path swapped for a FIFO after a check cannot hang it
/// either; O_NONBLOCK means nothing for the regular file that is then read.
pub fn open_regular(path: &std::path::Path, what: &str) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    match special_kind(&meta.file_type()) {
        None => Ok(file),
        Some(kind) => Err(not_a_file(path, kind, what)),
    }
}

/// Refuse `path` if it exists and is not a regular file (a file about to be written: a
/// FIFO would block the open until some reader came). `stat` never blocks.
pub fn refuse_special(path: &std::path::Path, what: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) => match special_kind(&m.file_type()) {
            Some(kind) => Err(not_a_file(path, kind, what)),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

fn special_kind(t: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a special file"
    })
}

fn not_a_file(path: &std::path::Path, kind: &str, what: &str) -> Error {
    Error::invalid(
        what,
        format!(
            "{} is {kind}, not a file; give the path of {}",
            path.display(),
            article(what)
        ),
    )
}

fn article(what: &str) -> String {
    match what.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {what} file"),
        _ => format!("a {what} file"),
    }
}
