//! The one error type of the core. Every variant carries a sentence an operator can act on,
//! and maps to one exit code of the command-line contract (DESIGN §7).

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
    Database(#[from] sqlx::Error),

    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{context}: {source}")]
    Io {
        context: String,
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

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Exit code of the command-line contract: 1 error, 3 verify, 4 refused, 5 busy; 0
    /// for a closed standard output (nothing is wrong, the reader had enough).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::OutputClosed => 0,
            Error::VerifyFailed(_) => 3,
            Error::Refused(_) => 4,
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
            Error::Busy(_) => "busy",
            Error::VerifyFailed(_) => "verify_failed",
            Error::Config(_) => "config",
            Error::Cancelled => "cancelled",
            Error::Database(_) | Error::Migrate(_) => "database",
            Error::Io { .. } => "io",
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
