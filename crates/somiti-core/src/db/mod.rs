//! The store: one enum over the SQLite and PostgreSQL pools, migrations run on open, and
//! transactions that write (SQLite `BEGIN IMMEDIATE`). Queries are runtime strings written
//! once for both dialects (`$1` placeholders work in both); `on_store!`/`on_tx!` run the
//! same body against whichever pool or transaction is in hand.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};

pub mod changes;
pub mod dialect;
pub mod lock;
pub mod meta;

pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Now, to the microsecond: the precision PostgreSQL keeps, so an instant written on
/// either backend reads back the same on the other (and round-trips through archives).
pub fn now_micros() -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    let now = chrono::Utc::now();
    now.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Which database a store (or an archive) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool, PathBuf),
    Postgres(PgPool, String),
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Run `$body` with `$p` bound to the pool of whichever backend `$store` is.
#[macro_export]
macro_rules! on_store {
    ($store:expr, |$p:ident| $body:expr) => {
        match $store {
            $crate::db::Store::Sqlite($p, _) => $body,
            $crate::db::Store::Postgres($p, _) => $body,
        }
    };
}

/// Run `$body` with `$c` bound to the connection of whichever backend `$tx` is.
/// Use `&mut *$c` for each query in the body.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

impl Store {
    /// Open a store by URL: `sqlite://PATH` (or a bare path) or `postgres://…`.
    /// Creates the SQLite file if missing and runs the migrations.
    pub async fn open(url: &str) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self::open_sqlite(Path::new(path)).await
        }
    }

    /// Open a database that `somiti init` made, and create nothing: a missing SQLite file
    /// (or directory), a database without Somiti's tables, or one with no operator yet is
    /// refused with what to do. The daemon opens its database this way, so a unit started
    /// before `init` does not make an empty ledger and back it up.
    pub async fn open_existing(url: &str) -> Result<Store> {
        let missing = |at: &str| {
            Error::Other(format!(
                "no Somiti database at {at}; run `somiti init` first (as the unit's user)"
            ))
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            use sqlx::Connection;
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| Error::Config(format!("database URL is not valid: {e}")))?;
            let label = format!(
                "{}:{}/{}",
                opts.get_host(),
                opts.get_port(),
                opts.get_database().unwrap_or("")
            );
            let mut c = sqlx::PgConnection::connect_with(&opts).await.map_err(|e| {
                Error::Other(format!(
                    "cannot connect to PostgreSQL at {label}: {e}; check the URL and that the server runs"
                ))
            })?;
            let has_users: bool = sqlx::query_scalar("SELECT to_regclass('users') IS NOT NULL")
                .fetch_one(&mut c)
                .await?;
            let operators: i64 = if has_users {
                sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut c)
                    .await?
            } else {
                0
            };
            let _ = c.close().await;
            if operators == 0 {
                return Err(missing(&format!("PostgreSQL {label}")));
            }
            return Self::open_postgres(url).await;
        }
        let path = Path::new(
            url.strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url),
        )
        .to_path_buf();
        if !path.is_file() {
            return Err(missing(&path.display().to_string()));
        }
        let operators = dialect::sqlite_operators(&path).await?;
        if operators == 0 {
            return Err(missing(&path.display().to_string()));
        }
        Self::open_sqlite(&path).await
    }

    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        Self::open_sqlite_through(path, None).await
    }

    /// An SQLite store migrated through `through` only (every migration with `None`): the
    /// scratch database a version-1 archive loads into at its own schema (`backup::upgrade`).
    pub(crate) async fn open_sqlite_through(path: &Path, through: Option<i64>) -> Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed collection survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(15));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // every connection counts what its write transactions change (db::changes)
            .after_connect(|conn, _| Box::pin(changes::install_sqlite(conn)))
            .connect_with(opts)
            .await
            .map_err(|e| {
                Error::Other(format!(
                    "cannot open SQLite database {}: {e}",
                    path.display()
                ))
            })?;
        match through {
            Some(v) => SQLITE_MIGRATOR.run_to(v, &pool).await?,
            None => SQLITE_MIGRATOR.run(&pool).await?,
        }
        Ok(Store::Sqlite(pool, path.to_path_buf()))
    }

    pub async fn open_postgres(url: &str) -> Result<Store> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("database URL is not valid: {e}")))?;
        let label = format!(
            "{}:{}/{}",
            opts.get_host(),
            opts.get_port(),
            opts.get_database().unwrap_or("")
        );
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(|e| {
                Error::Other(format!(
                    "cannot connect to PostgreSQL at {label}: {e}; check the URL and that the server runs"
                ))
            })?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Store::Postgres(pool, label))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(..) => Backend::Sqlite,
            Store::Postgres(..) => Backend::Postgres,
        }
    }

    /// "sqlite /path/somiti.db" or "postgres host:5432/db" (never the password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(_, p) => format!("sqlite {}", p.display()),
            Store::Postgres(_, l) => format!("postgres {l}"),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Store::Sqlite(_, p) => Some(p),
            Store::Postgres(..) => None,
        }
    }

    /// The newest migration applied by this binary: the archive's schema_version.
    pub fn schema_version(&self) -> i64 {
        let m = match self {
            Store::Sqlite(..) => &SQLITE_MIGRATOR,
            Store::Postgres(..) => &POSTGRES_MIGRATOR,
        };
        m.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Begin a ledger write transaction (SQLite: `BEGIN IMMEDIATE`, so writers queue on the
    /// busy timeout instead of failing half-way). Refused with `Busy` while another process
    /// restores the database: a write queued behind a restore would land on replaced rows.
    pub async fn begin(&self) -> Result<Tx> {
        lock::refuse_during_restore(self).await?;
        self.begin_unguarded().await
    }

    /// Begin a write transaction without asking about restores (the restore's own).
    pub async fn begin_unguarded(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p, _) => {
                let mut t = p.begin_with("BEGIN IMMEDIATE").await?;
                changes::reset_sqlite(&mut t).await?;
                Tx::Sqlite(t)
            }
            Store::Postgres(p, _) => {
                let mut t = p.begin().await?;
                changes::begin_postgres(&mut t).await?;
                Tx::Postgres(t)
            }
        })
    }

    pub async fn close(&self) {
        on_store!(self, |p| p.close().await)
    }
}

impl Tx {
    /// Commit. A transaction that changed ledger rows first leaves its `change_log` row
    /// (and its NOTIFY on PostgreSQL), so every writer is announced (db::changes).
    pub async fn commit(mut self) -> Result<()> {
        changes::record_on_commit(&mut self).await?;
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A column held as text on both backends (an enum such as a backup's or a loan's status): encoded as its text, decoded from
/// it (a text the type does not know is an error, as a CHECK constraint would be).
macro_rules! text_column {
    ($t:ty, |$s:ident| $parse:expr) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                let $s = <&str as sqlx::Decode<DB>>::decode(value)?;
                $parse.ok_or_else(|| format!("{:?} is not a {}", $s, stringify!($t)).into())
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $t
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.to_string(), buf)
            }
        }
    };
}
pub(crate) use text_column;
