//! The SQLite half of the dialect: deferred foreign keys, index drops, the page cache of a
//! long load, multi-row INSERTs, and the snapshot reader, the one place rusqlite is used
//! beside sqlx (`db::open_existing`'s probe is here too).
//!
//! The snapshot reader opens its own read-only connection on a blocking thread and reads
//! every table in one read transaction with plain prepared statements (sqlx hands SQLite
//! rows over one at a time through a channel, which costs more than reading them). It sees
//! exactly what the caller's transaction sees: for `backup create` the caller holds no
//! snapshot of its own, and the pre-restore backup runs while the restore's `BEGIN
//! IMMEDIATE` keeps every other writer out, so the last commit is what is about to be
//! replaced.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use tokio::sync::mpsc;

use super::{Dropped, SINK_STOPPED, SnapshotSink};
use crate::backup::schema::{ColType, TableSpec, Val, Values};
use crate::db::lock::LockInfo;
use crate::error::{Error, Result};

type Conn = SqliteConnection;

/// SQLite's limit on bound parameters in one statement.
const MAX_PARAMS: usize = 32766;

/// Page cache (KiB) of the connection during a long bulk load.
const LOAD_CACHE_KIB: i64 = 64 * 1024;

async fn run(t: &mut Conn, sql: &str) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *t)
        .await?;
    Ok(())
}

pub(super) async fn defer_foreign_keys(t: &mut Conn) -> Result<()> {
    run(t, "PRAGMA defer_foreign_keys = ON").await
}

pub(super) async fn drop_indexes(t: &mut Conn, names: &[&str]) -> Result<Dropped> {
    let mut rows: Vec<(String, String)> = Vec::new();
    for n in names {
        let mut r: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = $1",
        )
        .bind(*n)
        .fetch_all(&mut *t)
        .await?;
        rows.append(&mut r);
    }
    let mut d = Dropped::default();
    for (name, sql) in rows {
        run(t, &format!("DROP INDEX \"{name}\"")).await?;
        d.indexes.push(sql);
    }
    Ok(d)
}

pub(super) async fn create_indexes(t: &mut Conn, indexes: &[String]) -> Result<()> {
    for sql in indexes {
        run(t, sql).await?;
    }
    Ok(())
}

/// Rows arrive in date order, so an index such as (member, date) is written all over; a
/// page cache that holds it saves spilling and re-reading pages. Returns the cache size
/// to put back.
pub(super) async fn big_cache(t: &mut Conn) -> Result<i64> {
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *t)
        .await?;
    run(t, &format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}")).await?;
    Ok(cache)
}

pub(super) async fn set_cache(t: &mut Conn, cache: i64) -> Result<()> {
    run(t, &format!("PRAGMA cache_size = {cache}")).await
}

/// Multi-row INSERTs into one table, as many rows a statement as SQLite's parameter limit
/// allows (with `?` placeholders: SQLite looks `$N` up by name, which grows faster than
/// the statement). Statements of the same size share one prepared statement.
pub(crate) struct Inserts<'t, 's> {
    c: &'t mut Conn,
    pub(super) spec: &'s TableSpec,
}

impl<'t, 's> Inserts<'t, 's> {
    pub(super) fn new(c: &'t mut Conn, spec: &'s TableSpec) -> Inserts<'t, 's> {
        Inserts { c, spec }
    }

    pub(super) async fn send(&mut self, rows: Vec<Values>) -> Result<()> {
        let per = (MAX_PARAMS / self.spec.cols.len().max(1)).max(1);
        let head = format!("INSERT INTO {} ({}) ", self.spec.name, self.spec.col_list());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut q = QueryBuilder::<Sqlite>::new(&head);
            q.push_values(rows.by_ref().take(per), |mut b, row| {
                for v in row {
                    match v {
                        Val::Null => b.push_bind(None::<i64>),
                        Val::Int(i) => b.push_bind(i),
                        Val::Text(s) => b.push_bind(s),
                        Val::Bool(x) => b.push_bind(x),
                    };
                }
            });
            q.build().execute(&mut *self.c).await?;
        }
        Ok(())
    }
}

fn db_error(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::Other(format!("{what} in {}: {e}", path.display()))
}

/// Read every table of `specs` (one organization's rows with `org`) from the SQLite file at
/// `path` in one read transaction, handing the rows to `sink` and its messages to `send`.
pub(super) fn read_snapshot<S: SnapshotSink>(
    path: &Path,
    specs: &[&'static TableSpec],
    org: Option<i64>,
    mut sink: S,
    send: &mpsc::Sender<S::Msg>,
) -> Result<S> {
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
    let by_org = org.is_some();
    let bind: Vec<i64> = org.into_iter().collect();
    let mut total = 0u64;
    for spec in specs {
        let sql = format!(
            "SELECT COUNT(*) FROM {}{}",
            spec.name,
            spec.org_where(by_org)
        );
        let n: i64 = conn
            .query_row(&sql, rusqlite::params_from_iter(&bind), |r| r.get(0))
            .map_err(|e| db_error(path, &format!("counting {}", spec.name), e))?;
        total += n as u64;
    }
    sink.counted(total);
    let send = |m: S::Msg| {
        send.blocking_send(m)
            .map_err(|_| Error::Other(SINK_STOPPED.into()))
    };
    for spec in specs {
        if sink.cancelled() {
            return Err(Error::Cancelled);
        }
        send(sink.begin(spec))?;
        let what = format!("reading {}", spec.name);
        let mut stmt = conn
            .prepare(&spec.select_sql(by_org))
            .map_err(|e| db_error(path, &what, e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(&bind))
            .map_err(|e| db_error(path, &what, e))?;
        let mut vals: Values = vec![Val::Null; spec.cols.len()];
        let mut n = 0u64;
        while let Some(row) = rows.next().map_err(|e| db_error(path, &what, e))? {
            read_row(spec, row, &mut vals).map_err(|m| {
                Error::Other(format!(
                    "{} row {} in {}: {m}",
                    spec.name,
                    n + 1,
                    path.display()
                ))
            })?;
            sink.row(spec, &vals)?;
            n += 1;
            if let Some(m) = sink.full(spec) {
                send(m)?;
                if sink.cancelled() {
                    return Err(Error::Cancelled);
                }
            }
        }
        send(sink.end(spec))?;
    }
    let _ = conn.execute_batch("COMMIT");
    sink.finishing();
    Ok(sink)
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

/// Somiti's operators in the SQLite file at `path`, read without creating anything: 0 when
/// the file has no `users` table (or cannot be read).
pub(crate) async fn count_operators(path: &Path) -> Result<i64> {
    let probe = path.to_path_buf();
    let n = tokio::task::spawn_blocking(move || -> rusqlite::Result<i64> {
        let c = rusqlite::Connection::open_with_flags(
            &probe,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let tables: i64 = c.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'",
            [],
            |r| r.get(0),
        )?;
        if tables == 0 {
            return Ok(0);
        }
        c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
    })
    .await
    .map_err(|e| Error::Other(format!("reading {}: {e}", path.display())))?
    .unwrap_or(0);
    Ok(n)
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Bool(b) => ValueRef::Integer(*b as i64),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn insert_sql(spec: &TableSpec) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        spec.name,
        spec.col_list(),
        vec!["?"; spec.cols.len()].join(", ")
    )
}

/// A table's row count and control totals.
pub(crate) type Counted = (u64, BTreeMap<String, i64>);

/// The drill's scratch database (`backup::drill`): the rows from `rx` go in through
/// prepared INSERTs with the schema's constraints in force, the plain secondary indexes
/// dropped first (nobody queries it), references checked once at the end; then each
/// table's row count and control totals, in the order of `tables`.
pub(crate) fn load_scratch(
    path: &Path,
    tables: &[&'static TableSpec],
    rx: Receiver<(&'static TableSpec, Vec<Values>)>,
) -> std::result::Result<Vec<Counted>, String> {
    let e = |what: &str, x: rusqlite::Error| format!("{what}: {x}");
    let conn = rusqlite::Connection::open(path).map_err(|x| e("opening", x))?;
    // Scratch: no journal, no sync; the page cache small (the rows live in the file).
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; \
         PRAGMA cache_size = -8192; PRAGMA temp_store = FILE;",
    )
    .map_err(|x| e("setting up", x))?;
    let indexes: Vec<(String, String)> = {
        // (name, definition)
        let mut st = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                 AND upper(sql) NOT LIKE 'CREATE UNIQUE%'",
            )
            .map_err(|x| e("listing indexes", x))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|x| e("listing indexes", x))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|x| e("listing indexes", x))?
    };
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX \"{name}\""))
            .map_err(|x| e("dropping an index", x))?;
    }
    conn.execute_batch("BEGIN").map_err(|x| e("beginning", x))?;
    while let Ok((spec, rows)) = rx.recv() {
        let what = format!("inserting into {}", spec.name);
        let mut st = conn.prepare(&insert_sql(spec)).map_err(|x| e(&what, x))?;
        for r in &rows {
            st.execute(rusqlite::params_from_iter(r.iter()))
                .map_err(|x| e(&what, x))?;
        }
    }
    conn.execute_batch("COMMIT")
        .map_err(|x| e("committing", x))?;
    let bad: Option<(String, i64)> = conn
        .query_row(
            "SELECT \"table\", rowid FROM pragma_foreign_key_check LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|x| match x {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            x => Err(e("checking references", x)),
        })?;
    if let Some((table, rowid)) = bad {
        return Err(format!("{table} row {rowid} points at a missing row"));
    }
    let mut out = Vec::new();
    for spec in tables {
        let (rows, totals) = conn
            .query_row(&spec.count_sql(false), [], |r| {
                let n: i64 = r.get(0)?;
                let mut t = BTreeMap::new();
                for (i, c) in spec.totals.iter().enumerate() {
                    t.insert(c.to_string(), r.get::<_, i64>(i + 1)?);
                }
                Ok((n as u64, t))
            })
            .map_err(|x| e(&format!("counting {}", spec.name), x))?;
        out.push((rows, totals));
    }
    Ok(out)
}

// The backup lock: an exclusive `flock` on `<db>.backup-lock`, holding who has it.

/// The lock file beside the database; none for an in-memory database.
pub(super) fn lock_path(db: &Path) -> Option<PathBuf> {
    let s = db.to_string_lossy();
    if s.is_empty() || s.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{}.backup-lock", db.display())))
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))
}

pub(super) fn read_info(path: &Path) -> Option<LockInfo> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

pub(super) fn try_lock_file(path: &Path, info: &LockInfo) -> Result<Option<File>> {
    let mut f = open_lock_file(path)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io(format!("locking {}", path.display()), e));
        }
    }
    let text = serde_json::to_string(info).unwrap_or_default();
    let _ = f
        .set_len(0)
        .and_then(|_| f.seek(SeekFrom::Start(0)))
        .and_then(|_| f.write_all(text.as_bytes()))
        .and_then(|_| f.flush());
    Ok(Some(f))
}

pub(super) fn held_lock_holder(path: &Path) -> Result<Option<LockInfo>> {
    if !path.exists() {
        return Ok(None);
    }
    let f = open_lock_file(path)?;
    // A shared lock never keeps out another shared one; only a holder's exclusive lock
    // refuses it.
    match f.try_lock_shared() {
        Ok(()) => {
            let _ = f.unlock();
            Ok(None)
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(read_info(path)),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("locking {}", path.display()), e))
        }
    }
}

pub(super) fn unlock_file(f: File) {
    let _ = f.set_len(0);
    let _ = f.unlock();
}

/// The rows the daily review of `date` reads for one organization (`ledger::review`), in
/// one read transaction on a connection of its own: the active members who had joined, the
/// loans running on the day, the savings accounts, the effective sums of the entries dated
/// on or after it, and the day's entries. rusqlite, not sqlx: the review reads a row per
/// member three times over, and sqlx's SQLite driver hands each row across a thread (10,000
/// members took 150 ms that way, a twentieth of it here).
pub(crate) fn review_rows(
    path: &Path,
    org_id: i64,
    date: chrono::NaiveDate,
) -> Result<super::ReviewRows> {
    use crate::backup::schema::{parse_date, parse_instant};
    use crate::ledger::collection::{COLLECTION_COLS, Collection};
    use crate::ledger::loan::{LOAN_COLS, Loan, LoanStatus};
    use crate::ledger::member::{MEMBER_COLS, Member};
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| db_error(path, "opening the database", e))?;
    conn.busy_timeout(Duration::from_secs(15))
        .map_err(|e| db_error(path, "setting the busy timeout", e))?;
    conn.execute_batch("BEGIN")
        .map_err(|e| db_error(path, "starting the read transaction", e))?;
    let day = date.format("%Y-%m-%d").to_string();
    let bad = |what: &str| rusqlite::Error::InvalidColumnName(what.to_string());
    let d = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<chrono::NaiveDate> {
        let s: String = r.get(i)?;
        parse_date(&s).ok_or_else(|| bad(&format!("date {s:?}")))
    };
    let od = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<Option<chrono::NaiveDate>> {
        let s: Option<String> = r.get(i)?;
        s.map(|s| parse_date(&s).ok_or_else(|| bad(&format!("date {s:?}"))))
            .transpose()
    };
    let at = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
        let s: String = r.get(i)?;
        parse_instant(&s).ok_or_else(|| bad(&format!("instant {s:?}")))
    };
    let oat = |r: &rusqlite::Row<'_>,
               i: usize|
     -> rusqlite::Result<Option<chrono::DateTime<chrono::Utc>>> {
        let s: Option<String> = r.get(i)?;
        s.map(|s| parse_instant(&s).ok_or_else(|| bad(&format!("instant {s:?}"))))
            .transpose()
    };
    let read = |what: &str, e: rusqlite::Error| db_error(path, what, e);

    let sql = format!(
        "SELECT {MEMBER_COLS} FROM members WHERE org_id = ?1 AND status = 'active' AND joined_on <= ?2"
    );
    let mut st = conn.prepare(&sql).map_err(|e| read("reading members", e))?;
    let members = st
        .query_map(rusqlite::params![org_id, day], |r| {
            Ok(Member {
                id: r.get(0)?,
                org_id: r.get(1)?,
                member_no: r.get(2)?,
                name: r.get(3)?,
                nid: r.get(4)?,
                mobile: r.get(5)?,
                worker_id: r.get(6)?,
                daily_savings: r.get(7)?,
                status: r.get(8)?,
                joined_on: d(r, 9)?,
                version: r.get(10)?,
                updated_by: r.get(11)?,
                updated_at: oat(r, 12)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| read("reading members", e))?;

    let sql = format!(
        "SELECT {LOAN_COLS} FROM loans WHERE org_id = ?1 AND disbursed_on <= ?2 \
         AND (status = 'active' OR closed_on >= ?2) ORDER BY member_id, cycle"
    );
    let mut st = conn.prepare(&sql).map_err(|e| read("reading loans", e))?;
    let loans = st
        .query_map(rusqlite::params![org_id, day], |r| {
            let status: String = r.get(10)?;
            Ok(Loan {
                id: r.get(0)?,
                org_id: r.get(1)?,
                member_id: r.get(2)?,
                cycle: r.get(3)?,
                disbursed_on: d(r, 4)?,
                principal: r.get(5)?,
                service_charge: r.get(6)?,
                first_due_on: d(r, 7)?,
                installment: r.get(8)?,
                installments: r.get(9)?,
                status: LoanStatus::parse(&status)
                    .ok_or_else(|| bad(&format!("loan status {status:?}")))?,
                closed_on: od(r, 11)?,
                written_off: r.get(12)?,
                close_reason: r.get(13)?,
                entered_by: r.get(14)?,
                entered_at: at(r, 15)?,
                paid: r.get(16)?,
                last_paid_on: od(r, 17)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| read("reading loans", e))?;

    let mut st = conn
        .prepare("SELECT member_id, deposited FROM savings_accounts WHERE org_id = ?1")
        .map_err(|e| read("reading savings accounts", e))?;
    let savings = st
        .query_map(rusqlite::params![org_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(i64, i64)>>>())
        .map_err(|e| read("reading savings accounts", e))?;

    let sql = format!(
        "SELECT member_id, loan_id, {} FROM collections \
         WHERE org_id = ?1 AND collected_on >= ?2 GROUP BY +member_id, loan_id",
        crate::ledger::collection::EFFECTIVE_SUMS
    );
    let mut st = conn.prepare(&sql).map_err(|e| read("reading entries", e))?;
    let since = st
        .query_map(rusqlite::params![org_id, day], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| read("reading entries", e))?;

    let sql = format!(
        "SELECT {COLLECTION_COLS} FROM collections WHERE org_id = ?1 AND collected_on = ?2 ORDER BY id"
    );
    let mut st = conn.prepare(&sql).map_err(|e| read("reading the day", e))?;
    let entries = st
        .query_map(rusqlite::params![org_id, day], |r| {
            Ok(Collection {
                id: r.get(0)?,
                org_id: r.get(1)?,
                member_id: r.get(2)?,
                collected_on: d(r, 3)?,
                loan_paisa: r.get(4)?,
                savings_paisa: r.get(5)?,
                worker_id: r.get(6)?,
                note: r.get(7)?,
                entered_by: r.get(8)?,
                entered_at: at(r, 9)?,
                reversal_of: r.get(10)?,
                loan_id: r.get(11)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| read("reading the day", e))?;
    let _ = conn.execute_batch("COMMIT");
    Ok(super::ReviewRows {
        members,
        loans,
        savings,
        since,
        entries,
    })
}
