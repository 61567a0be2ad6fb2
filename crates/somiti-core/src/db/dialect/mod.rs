//! Everything that differs between SQLite and PostgreSQL, behind named functions: how a
//! snapshot begins, how an organization is serialised, how a restore holds other sessions
//! off and defers its checks, which indexes and constraints a bulk load drops and builds
//! again, how id sequences move forward, and the one bulk loader, [`insert_rows`] (multi-row
//! INSERTs through `sqlx::QueryBuilder::push_values` on SQLite, `COPY … FROM STDIN` on
//! PostgreSQL) that restore, the demo and the member import all use.
//!
//! The backend match lives here and in `db/` only: a module above picks no dialect. A query
//! that is the same SQL on both backends stays where it is used, with `on_store!`/`on_tx!`.
//! The SQLite half (and rusqlite) is in `sqlite.rs`, the PostgreSQL half in `postgres.rs`.

use std::path::Path;

use tokio::sync::mpsc;

use crate::backup::schema::{TableSpec, Val, Values};
use crate::db::lock::LockInfo;
use crate::db::{Store, Tx};
use crate::error::{Error, Result};

mod postgres;
mod sqlite;

pub(crate) use sqlite::{count_operators as sqlite_operators, load_scratch};

/// One read transaction, every table read from the same snapshot (PostgreSQL `REPEATABLE
/// READ READ ONLY`; SQLite's deferred read transaction).
pub(crate) async fn begin_snapshot(store: &Store) -> Result<Tx> {
    Ok(match store {
        Store::Sqlite(p, _) => Tx::Sqlite(p.begin().await?),
        Store::Postgres(p, _) => Tx::Postgres(
            p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?,
        ),
    })
}

/// What a snapshot's rows are handed to, table by table (the backup's archive writer):
/// the reader calls `begin`, then `row` for each row (and sends what `full` gives when a
/// batch is ready), then `end`; every message goes to the reader's channel.
pub(crate) trait SnapshotSink: Send + 'static {
    type Msg: Send + 'static;
    /// The rows of every table, counted inside the snapshot before the first is read.
    fn counted(&mut self, total: u64);
    /// A table begins: the message that opens it.
    fn begin(&mut self, spec: &'static TableSpec) -> Self::Msg;
    fn row(&mut self, spec: &'static TableSpec, vals: &[Val]) -> Result<()>;
    /// The rows gathered so far, when they make a full batch.
    fn full(&mut self, spec: &'static TableSpec) -> Option<Self::Msg>;
    /// The table ends: the message with its last rows.
    fn end(&mut self, spec: &'static TableSpec) -> Self::Msg;
    /// Every table was read.
    fn finishing(&mut self);
    fn cancelled(&self) -> bool;
}

/// The receiving end of a snapshot's channel stopped: its own error says why (the caller
/// asks it).
pub(crate) const SINK_STOPPED: &str = "archive writer stopped";

/// Read `specs` (one organization's rows with `org`) from the snapshot `tx` into `sink`:
/// on SQLite from the file `sqlite_file` on a blocking thread of its own (see `sqlite.rs`),
/// on PostgreSQL through COPY on `tx` itself.
pub(crate) async fn read_snapshot<S: SnapshotSink>(
    tx: &mut Tx,
    sqlite_file: Option<&Path>,
    specs: Vec<&'static TableSpec>,
    org: Option<i64>,
    sink: S,
    send: mpsc::Sender<S::Msg>,
) -> Result<S> {
    match tx {
        Tx::Sqlite(_) => {
            let Some(path) = sqlite_file.filter(|p| *p != Path::new(":memory:")) else {
                return Err(Error::Other(
                    "an in-memory SQLite database cannot be backed up".into(),
                ));
            };
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                sqlite::read_snapshot(&path, &specs, org, sink, &send)
            })
            .await
            .map_err(|e| Error::Other(format!("the database reader failed: {e}")))?
        }
        Tx::Postgres(t) => postgres::read_snapshot(t, &specs, org, sink, &send).await,
    }
}

/// The backup lock as held (see `db::lock`): an exclusive `flock` on `<db>.backup-lock`
/// beside the SQLite file, or `pg_try_advisory_lock` on a PostgreSQL connection of its own
/// plus the `backup_lock` row saying who; in-memory SQLite databases (drills) need none.
pub(crate) enum HeldLock {
    File(std::fs::File),
    Postgres(sqlx::PgConnection),
    None,
}

impl std::fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeldLock::File(_) => "BackupLock::File",
            HeldLock::Postgres(_) => "BackupLock::Postgres",
            HeldLock::None => "BackupLock::None",
        })
    }
}

/// Take the backup lock if it is free, leaving `info` as the holder's note.
pub(crate) async fn try_lock(store: &Store, info: &LockInfo) -> Result<Option<HeldLock>> {
    match store {
        Store::Sqlite(_, db) => match sqlite::lock_path(db) {
            None => Ok(Some(HeldLock::None)),
            Some(path) => Ok(sqlite::try_lock_file(&path, info)?.map(HeldLock::File)),
        },
        Store::Postgres(pool, _) => Ok(postgres::try_advisory_lock(pool, info)
            .await?
            .map(HeldLock::Postgres)),
    }
}

/// Who holds the backup lock, as far as they said.
pub(crate) async fn lock_holder(store: &Store) -> Option<LockInfo> {
    match store {
        Store::Sqlite(_, db) => sqlite::read_info(&sqlite::lock_path(db)?),
        Store::Postgres(pool, _) => postgres::lock_holder(pool).await,
    }
}

/// Who holds the backup lock right now: a held lock told apart from a stale holder note
/// (SQLite: the `flock` itself; PostgreSQL: the advisory lock in `pg_locks`).
pub(crate) async fn held_lock_holder(store: &Store) -> Result<Option<LockInfo>> {
    match store {
        Store::Sqlite(_, db) => match sqlite::lock_path(db) {
            None => Ok(None),
            Some(path) => sqlite::held_lock_holder(&path),
        },
        Store::Postgres(pool, _) => postgres::held_lock_holder(pool).await,
    }
}

/// Let go of the backup lock.
pub(crate) async fn unlock(l: HeldLock) {
    match l {
        HeldLock::File(f) => sqlite::unlock_file(f),
        HeldLock::Postgres(c) => postgres::advisory_unlock(c).await,
        HeldLock::None => {}
    }
}

/// Serialise posting against closing within one organization. SQLite's `BEGIN IMMEDIATE`
/// already does; on PostgreSQL the organization row is locked for the transaction
/// (`FOR UPDATE`).
pub(crate) async fn lock_org(tx: &mut Tx, org_id: i64) -> Result<()> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => postgres::lock_org(t, org_id).await,
    }
}

/// A restore's transaction: foreign keys are checked when it ends (SQLite
/// `defer_foreign_keys`, PostgreSQL deferred constraints), and PostgreSQL holds off other
/// sessions until it ends: writers of the replaced tables, and for whole tables (whose
/// indexes and foreign keys are rebuilt) readers too, of every table a foreign key of
/// theirs touches.
pub(crate) async fn prepare_restore(tx: &mut Tx, names: &[&str], whole: bool) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => sqlite::defer_foreign_keys(t).await,
        Tx::Postgres(t) => postgres::prepare_restore(t, names, whole).await,
    }
}

/// What the daily review of one day reads (`ledger::review::daily`), from one snapshot.
pub(crate) struct ReviewRows {
    /// Active members who had joined by the day.
    pub members: Vec<crate::ledger::member::Member>,
    /// Loans running on the day, with their running balances as stored.
    pub loans: Vec<crate::ledger::loan::Loan>,
    /// (member, deposited) of every savings account.
    pub savings: Vec<(i64, i64)>,
    /// (member, loan, loan paid, savings paid) by the entries dated on or after the day.
    pub since: Vec<(i64, Option<i64>, i64, i64)>,
    /// The day's entries, oldest first.
    pub entries: Vec<crate::ledger::collection::Collection>,
}

/// Read [`ReviewRows`]: on SQLite through a read connection of its own (rusqlite, see
/// `sqlite::review_rows`), on PostgreSQL in one repeatable-read transaction.
pub(crate) async fn review_rows(
    store: &Store,
    org_id: i64,
    date: chrono::NaiveDate,
) -> Result<ReviewRows> {
    match store {
        Store::Sqlite(_, path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || sqlite::review_rows(&path, org_id, date))
                .await
                .map_err(|e| Error::Other(format!("the review's read failed: {e}")))?
        }
        Store::Postgres(..) => {
            let mut tx = begin_snapshot(store).await?;
            let r = postgres_review_rows(&mut tx, org_id, date).await;
            let _ = tx.rollback().await;
            r
        }
    }
}

async fn postgres_review_rows(
    tx: &mut Tx,
    org_id: i64,
    date: chrono::NaiveDate,
) -> Result<ReviewRows> {
    use crate::ledger::collection::{COLLECTION_COLS, Collection, EFFECTIVE_SUMS};
    use crate::ledger::loan::{LOAN_COLS, Loan};
    use crate::ledger::member::{MEMBER_COLS, Member};
    let Tx::Postgres(t) = tx else {
        unreachable!("a PostgreSQL store's transaction")
    };
    let members = sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(format!(
        "SELECT {MEMBER_COLS} FROM members WHERE org_id = $1 AND status = 'active' AND joined_on <= $2"
    )))
    .bind(org_id)
    .bind(date)
    .fetch_all(&mut **t)
    .await?;
    let loans = sqlx::query_as::<_, Loan>(sqlx::AssertSqlSafe(format!(
        "SELECT {LOAN_COLS} FROM loans WHERE org_id = $1 AND disbursed_on <= $2 \
         AND (status = 'active' OR closed_on >= $2) ORDER BY member_id, cycle"
    )))
    .bind(org_id)
    .bind(date)
    .fetch_all(&mut **t)
    .await?;
    let savings = sqlx::query_as::<_, (i64, i64)>(
        "SELECT member_id, deposited FROM savings_accounts WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_all(&mut **t)
    .await?;
    let since = sqlx::query_as::<_, (i64, Option<i64>, i64, i64)>(sqlx::AssertSqlSafe(format!(
        "SELECT member_id, loan_id, {EFFECTIVE_SUMS} FROM collections \
         WHERE org_id = $1 AND collected_on >= $2 GROUP BY member_id, loan_id"
    )))
    .bind(org_id)
    .bind(date)
    .fetch_all(&mut **t)
    .await?;
    let entries = sqlx::query_as::<_, Collection>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLLECTION_COLS} FROM collections WHERE org_id = $1 AND collected_on = $2 ORDER BY id"
    )))
    .bind(org_id)
    .bind(date)
    .fetch_all(&mut **t)
    .await?;
    Ok(ReviewRows {
        members,
        loans,
        savings,
        since,
        entries,
    })
}

/// Check foreign keys when the transaction ends, not row by row (SQLite
/// `defer_foreign_keys`): rows that point at rows a later statement inserts. PostgreSQL
/// loads such tables with their foreign keys off ([`unchecked_load`]).
pub(crate) async fn defer_references(tx: &mut Tx) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => sqlite::defer_foreign_keys(t).await,
        Tx::Postgres(_) => Ok(()),
    }
}

/// Check the deferred constraints now (PostgreSQL), so a broken one is told apart from
/// the commit; SQLite checks its deferred foreign keys at commit.
pub(crate) async fn check_deferred_now(tx: &mut Tx) -> std::result::Result<(), sqlx::Error> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => postgres::check_deferred_now(t).await,
    }
}

/// What [`drop_for_load`] dropped, to put back.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    /// `CREATE INDEX` statements.
    indexes: Vec<String>,
    /// PostgreSQL foreign keys: (table, constraint, definition).
    foreign_keys: Vec<(String, String, String)>,
    /// PostgreSQL UNIQUE constraints, (table, constraint, definition): built again after
    /// the load, as `pg_restore` does, instead of an index insert per row.
    uniques: Vec<(String, String, String)>,
}

/// Whole-table restores load the way `pg_restore` and a replayed `sqlite3` dump do: the
/// secondary indexes of the replaced tables (and, on PostgreSQL, their UNIQUE constraints
/// and the foreign keys that touch them) are dropped inside the restore's transaction and
/// built again after the rows are in (one pass each instead of a check and an index update
/// per row). It is all one transaction: a failure or a kill rolls the schema back with the
/// data.
pub(crate) async fn drop_for_load(tx: &mut Tx, names: &[&str]) -> Result<Dropped> {
    match tx {
        Tx::Sqlite(t) => sqlite::drop_indexes(t, names).await,
        Tx::Postgres(t) => postgres::drop_for_load(t, names).await,
    }
}

/// Build the indexes again and put the constraints back (each checked over its whole
/// table in one query); a broken reference or uniqueness rule refuses the restore.
pub(crate) async fn restore_after_load(tx: &mut Tx, d: Dropped) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => sqlite::create_indexes(t, &d.indexes).await,
        Tx::Postgres(t) => postgres::restore_after_load(t, d).await,
    }
}

/// After a restore: each table's id sequence gives ids above both the highest it gave
/// before and the highest now in the table (PostgreSQL; SQLite's AUTOINCREMENT keeps that
/// in `sqlite_sequence` by itself).
pub(crate) async fn keep_ids_ahead(tx: &mut Tx, tables: &[&str]) -> Result<()> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => {
            for table in tables {
                postgres::keep_sequence_ahead(t, table).await?;
            }
            Ok(())
        }
    }
}

/// After rows were loaded with explicit ids: each table's id sequence continues after its
/// highest id (PostgreSQL; SQLite's AUTOINCREMENT follows the rows by itself).
pub(crate) async fn ids_after_max(tx: &mut Tx, tables: &[&str]) -> Result<()> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => postgres::sequences_to_max(t, tables).await,
    }
}

/// Before a load with explicit ids: keep other writers out of `written` and everyone out
/// of `rebuilt` (whose foreign keys are dropped and added again) until commit, all locks
/// taken up front so none has to be upgraded later (PostgreSQL; SQLite's `BEGIN
/// IMMEDIATE` already keeps every other writer out).
pub(crate) async fn lock_for_load(tx: &mut Tx, written: &[&str], rebuilt: &[&str]) -> Result<()> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => postgres::lock_for_load(t, written, rebuilt).await,
    }
}

/// Foreign keys taken off a table for a load (see [`unchecked_load`]).
#[derive(Debug, Default)]
pub(crate) struct Unchecked {
    table: String,
    /// (quoted name, definition)
    foreign_keys: Vec<(String, String)>,
}

/// Checking each row's foreign keys one by one costs more than the load itself; like
/// pg_restore, PostgreSQL loads `table` with its foreign keys dropped and checks them
/// afterwards with one pass each ([`checked_after_load`]). All inside the transaction: the
/// constraints are back (and hold) before anything commits. A role that may not alter the
/// table (not its owner) loads with the checks in place. SQLite: nothing to do.
pub(crate) async fn unchecked_load(tx: &mut Tx, table: &str) -> Result<Unchecked> {
    match tx {
        Tx::Sqlite(_) => Ok(Unchecked::default()),
        Tx::Postgres(t) => postgres::drop_foreign_keys(t, table).await,
    }
}

/// Put back what [`unchecked_load`] took off.
pub(crate) async fn checked_after_load(tx: &mut Tx, u: Unchecked) -> Result<()> {
    match tx {
        Tx::Sqlite(_) => Ok(()),
        Tx::Postgres(t) => postgres::add_foreign_keys(t, u).await,
    }
}

/// Settings a long bulk load changes on its connection, to put back afterwards.
#[derive(Debug)]
pub(crate) struct BulkSettings(Option<i64>);

/// Before a long bulk load whose rows arrive out of index order: SQLite gets a page cache
/// that holds the indexes (restored by [`end_bulk`]: the connection goes back to the pool).
pub(crate) async fn begin_bulk(tx: &mut Tx) -> Result<BulkSettings> {
    match tx {
        Tx::Sqlite(t) => Ok(BulkSettings(Some(sqlite::big_cache(t).await?))),
        Tx::Postgres(_) => Ok(BulkSettings(None)),
    }
}

/// Put back what [`begin_bulk`] changed.
pub(crate) async fn end_bulk(tx: &mut Tx, s: BulkSettings) -> Result<()> {
    match (tx, s.0) {
        (Tx::Sqlite(t), Some(cache)) => sqlite::set_cache(t, cache).await,
        _ => Ok(()),
    }
}

/// A table's columns without its identity `id`: for rows the database gives ids to.
pub(crate) fn without_id(spec: &'static TableSpec) -> TableSpec {
    assert!(spec.identity && spec.cols.first().is_some_and(|c| c.name == "id"));
    TableSpec {
        name: spec.name,
        cols: &spec.cols[1..],
        pk: &[],
        org_col: spec.org_col,
        identity: false,
        totals: &[],
        refs: &[],
        live: &[],
    }
}

/// Insert `rows` (each with a value for every column of `spec`, in its order) into
/// `spec`'s table: the one bulk loader (restore, demo, member import).
pub(crate) async fn insert_rows(tx: &mut Tx, spec: &TableSpec, rows: Vec<Values>) -> Result<()> {
    let mut l = RowLoader::begin(tx, spec).await?;
    match l.send(rows).await {
        Ok(()) => l.finish().await,
        Err(e) => {
            l.abort("the load failed").await;
            Err(e)
        }
    }
}

/// [`insert_rows`] in batches, for a stream of rows (a restore): one `COPY` for the whole
/// table on PostgreSQL, multi-row INSERTs of each batch on SQLite.
pub(crate) enum RowLoader<'t, 's> {
    Sqlite(sqlite::Inserts<'t, 's>),
    Postgres(postgres::CopyIn<'t, 's>),
}

impl<'t, 's> RowLoader<'t, 's> {
    pub(crate) async fn begin(tx: &'t mut Tx, spec: &'s TableSpec) -> Result<RowLoader<'t, 's>> {
        Ok(match tx {
            Tx::Sqlite(t) => RowLoader::Sqlite(sqlite::Inserts::new(t, spec)),
            Tx::Postgres(t) => RowLoader::Postgres(postgres::CopyIn::begin(t, spec).await?),
        })
    }

    pub(crate) async fn send(&mut self, rows: Vec<Values>) -> Result<()> {
        if let Some(r) = rows.iter().find(|r| r.len() != self.spec().cols.len()) {
            return Err(Error::Other(format!(
                "a row for {} has {} values for {} columns",
                self.spec().name,
                r.len(),
                self.spec().cols.len()
            )));
        }
        match self {
            RowLoader::Sqlite(i) => i.send(rows).await,
            RowLoader::Postgres(c) => c.send(&rows).await,
        }
    }

    fn spec(&self) -> &TableSpec {
        match self {
            RowLoader::Sqlite(i) => i.spec,
            RowLoader::Postgres(c) => c.spec,
        }
    }

    /// Every row is in.
    pub(crate) async fn finish(self) -> Result<()> {
        match self {
            RowLoader::Sqlite(_) => Ok(()),
            RowLoader::Postgres(c) => c.finish().await,
        }
    }

    /// Stop (PostgreSQL: the COPY is aborted; the transaction is to be rolled back).
    pub(crate) async fn abort(self, why: &str) {
        match self {
            RowLoader::Sqlite(_) => {}
            RowLoader::Postgres(c) => c.abort(why).await,
        }
    }
}
