//! Change notification: every write transaction that changed ledger rows leaves one
//! `change_log` row (which tables, how many rows, who, which organization, which process)
//! written by `Tx::commit` in the same transaction, so no writer can forget it; PostgreSQL
//! also gets a NOTIFY, delivered on commit. A [`Watcher`] yields what was committed since it
//! started: PostgreSQL by LISTEN (with a cheap poll when the listener is down), SQLite by
//! `PRAGMA data_version` on a connection of its own, which costs nothing while idle.
//!
//! What changed is counted by the database, not by the writers: SQLite's update hook counts
//! the rows each statement touches; PostgreSQL's `pg_stat_xact_user_tables` has the counts
//! of the running transaction. Who is the actor of the transaction's (last) audit entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::on_store;

/// The tables whose changes are announced (ledger data and operators). The audit log,
/// the backup catalogue, the scheduler's tables and caches are not.
pub const WATCHED: [&str; 10] = [
    "organizations",
    "workers",
    "members",
    "loans",
    "collections",
    "withdrawals",
    "savings_accounts",
    "member_closures",
    "day_closes",
    "users",
];

/// A table whose rows change with another's entries, and is not named beside them: a
/// payment changes its loan's running balance, every entry a savings account.
fn implied(table: &str, tables: &BTreeMap<String, i64>) -> bool {
    table == "savings_accounts" || (table == "loans" && tables.contains_key("collections"))
}

/// Tables changed outside ledger transactions (the backup catalogue, scheduler runs): their
/// writers call [`announce`] themselves.
pub const ANNOUNCED: [&str; 2] = ["backups", "scheduler_runs"];

/// The PostgreSQL channel the core notifies on; the payload is the `change_log` id.
pub const CHANNEL: &str = "somiti_changes";

/// How often a watcher looks when nothing woke it (SQLite, or PostgreSQL without LISTEN).
pub const POLL: Duration = Duration::from_millis(400);

/// change_log keeps about this many of its newest rows.
const KEEP: i64 = 5000;

/// What one committed transaction changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The audit action of the transaction (`collection.add`, `backup.restore`, …).
    pub action: String,
    pub org_code: Option<String>,
    /// Table → rows inserted, updated or deleted.
    pub tables: BTreeMap<String, i64>,
    /// Committed by this process (a console need not announce its own changes).
    pub own: bool,
}

impl Change {
    pub fn is_restore(&self) -> bool {
        self.action == "backup.restore"
    }

    pub fn touches(&self, table: &str) -> bool {
        self.is_restore() || self.tables.contains_key(table)
    }
}

/// One line for people: `3 collections by rahim`, `restore by admin`,
/// `1 member, 2 collections by rahim; 1 day close by karim`.
pub fn summary(changes: &[Change]) -> String {
    let mut by: Vec<(String, bool, BTreeMap<String, i64>)> = Vec::new();
    for c in changes {
        let i = match by.iter().position(|(a, _, _)| *a == c.actor) {
            Some(i) => i,
            None => {
                by.push((c.actor.clone(), false, BTreeMap::new()));
                by.len() - 1
            }
        };
        let entry = &mut by[i];
        entry.1 |= c.is_restore();
        for (t, n) in &c.tables {
            *entry.2.entry(t.clone()).or_default() += n;
        }
    }
    by.into_iter()
        .map(|(actor, restore, tables)| {
            let what = if restore {
                "restore".to_string()
            } else {
                // in the order of WATCHED (parents first), not alphabetical
                WATCHED
                    .iter()
                    .chain(ANNOUNCED.iter())
                    .filter(|t| !implied(t, &tables))
                    .filter_map(|t| tables.get(*t).map(|n| noun(t, *n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if actor.is_empty() {
                what
            } else {
                format!("{what} by {actor}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `1 member`, `3 collections`, `1 day close`.
fn noun(table: &str, n: i64) -> String {
    let (one, many) = match table {
        "organizations" => ("organization", "organizations"),
        "workers" => ("worker", "workers"),
        "members" => ("member", "members"),
        "collections" => ("collection", "collections"),
        "loans" => ("loan", "loans"),
        "withdrawals" => ("withdrawal", "withdrawals"),
        "savings_accounts" => ("savings account", "savings accounts"),
        "member_closures" => ("member closed", "members closed"),
        "day_closes" => ("day close", "day closes"),
        "users" => ("operator", "operators"),
        "backups" => ("backup", "backups"),
        "scheduler_runs" => ("scheduler run", "scheduler runs"),
        other => (other, other),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// This process, as change_log's `origin` column names it.
pub fn origin() -> &'static str {
    static ORIGIN: LazyLock<String> = LazyLock::new(|| {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        format!(
            "{host}:{}:{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        )
    });
    &ORIGIN
}

// ---- counting what a transaction changes -------------------------------------------------

/// Rows changed on one SQLite connection since its transaction began, and the rowid of the
/// last audit entry written (0: none). Written by the update hook, read by `Tx::commit`.
#[derive(Default)]
struct Counts {
    rows: [AtomicI64; WATCHED.len()],
    audit: AtomicI64,
}

impl Counts {
    fn note(&self, table: &str, rowid: i64) {
        if table == "audit_log" {
            self.audit.store(rowid, Ordering::Relaxed);
        } else if let Some(i) = WATCHED.iter().position(|t| *t == table) {
            self.rows[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn take(&self) -> (BTreeMap<String, i64>, i64) {
        let mut tables = BTreeMap::new();
        for (i, t) in WATCHED.iter().enumerate() {
            let n = self.rows[i].swap(0, Ordering::Relaxed);
            if n > 0 {
                tables.insert(t.to_string(), n);
            }
        }
        (tables, self.audit.swap(0, Ordering::Relaxed))
    }
}

/// Each pooled SQLite connection's counts, by the address of its `sqlite3` handle.
static SQLITE_COUNTS: LazyLock<Mutex<HashMap<usize, Arc<Counts>>>> = LazyLock::new(Mutex::default);

fn counts_for(key: usize) -> Option<Arc<Counts>> {
    SQLITE_COUNTS.lock().ok()?.get(&key).cloned()
}

/// Install the counting hooks on a new pooled SQLite connection (`after_connect`).
pub(crate) async fn install_sqlite(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    let mut h = conn.lock_handle().await?;
    let key = h.as_raw_handle().as_ptr() as usize;
    let counts = Arc::new(Counts::default());
    if let Ok(mut all) = SQLITE_COUNTS.lock() {
        all.insert(key, counts.clone());
    }
    let on_update = counts.clone();
    h.set_update_hook(move |r| on_update.note(r.table, r.rowid));
    // A transaction rolled back (also one dropped unfinished) leaves nothing counted.
    h.set_rollback_hook(move || {
        let _ = counts.take();
    });
    Ok(())
}

/// Start counting afresh (a write transaction began on this connection).
pub(crate) async fn reset_sqlite(conn: &mut SqliteConnection) -> Result<()> {
    let key = conn.lock_handle().await?.as_raw_handle().as_ptr() as usize;
    if let Some(c) = counts_for(key) {
        let _ = c.take();
    }
    Ok(())
}

/// PostgreSQL keeps a backend's counts of finished transactions until it reports them
/// (at most once a second, between transactions), and `pg_stat_xact_*` shows those too: a
/// transaction's own counts are the difference from what they were when it began. By
/// backend pid, since `Tx` is the bare sqlx transaction.
static PG_BASELINES: LazyLock<Mutex<HashMap<i32, Baseline>>> = LazyLock::new(Mutex::default);

/// A transaction's id and the counts its backend showed when it began.
type Baseline = (i64, BTreeMap<String, i64>);

/// pid, transaction id, table, rows.
type CountRow = (i32, Option<i64>, Option<String>, Option<i64>);

/// The backend's pid, the transaction's id (`begin`: assigned now; else only if it has one)
/// and the backend's counts so far.
async fn pg_counts(
    c: &mut sqlx::PgConnection,
    begin: bool,
) -> Result<(i32, Option<i64>, BTreeMap<String, i64>)> {
    let xid = if begin {
        "pg_current_xact_id()"
    } else {
        "pg_current_xact_id_if_assigned()"
    };
    let sql = format!(
        "SELECT p.pid, p.xid, s.relname::text, s.n FROM \
         (SELECT pg_backend_pid() AS pid, ({xid})::text::bigint AS xid) p LEFT JOIN \
         (SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::bigint AS n FROM pg_stat_xact_user_tables \
          WHERE schemaname = current_schema() AND n_tup_ins + n_tup_upd + n_tup_del > 0) s ON true"
    );
    let rows: Vec<CountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(&mut *c)
        .await?;
    let (pid, xid) = rows.first().map_or((0, None), |r| (r.0, r.1));
    let counts = rows
        .into_iter()
        .filter_map(|(_, _, t, n)| Some((t?, n?)))
        .collect();
    Ok((pid, xid, counts))
}

/// A write transaction began on PostgreSQL: remember where its backend's counts stand.
pub(crate) async fn begin_postgres(c: &mut sqlx::PgConnection) -> Result<()> {
    let (pid, xid, counts) = pg_counts(c, true).await?;
    if let (Ok(mut b), Some(xid)) = (PG_BASELINES.lock(), xid) {
        b.insert(pid, (xid, counts));
    }
    Ok(())
}

/// The audit entry that names who made the transaction's change.
#[derive(sqlx::FromRow)]
struct Actor {
    actor: String,
    action: String,
    target: String,
}

/// Write a commit's `change_log` row on the connection `$c` (either backend) and, now and
/// then, trim the log to its newest [`KEEP`] rows; gives the row's id.
macro_rules! write_row {
    ($c:ident, $who:ident, $org:ident, $tables:ident) => {{
        let id: i64 = sqlx::query_scalar(INSERT)
            .bind(crate::db::now_micros())
            .bind($who.as_ref().map_or("unknown", |w| w.actor.as_str()))
            .bind($who.as_ref().map_or("", |w| w.action.as_str()))
            .bind($org)
            .bind(serde_json::to_string(&$tables).unwrap_or_default())
            .bind(origin())
            .fetch_one(&mut *$c)
            .await?;
        if id % 500 == 0 {
            sqlx::query("DELETE FROM change_log WHERE id <= $1")
                .bind(id - KEEP)
                .execute(&mut *$c)
                .await?;
        }
        id
    }};
}

/// Called by `Tx::commit` just before COMMIT: when the transaction changed watched rows,
/// write its `change_log` row (and NOTIFY on PostgreSQL, delivered with the commit).
pub(crate) async fn record_on_commit(tx: &mut Tx) -> Result<()> {
    match tx {
        Tx::Sqlite(t) => {
            let c: &mut SqliteConnection = t;
            let key = c.lock_handle().await?.as_raw_handle().as_ptr() as usize;
            let Some(counts) = counts_for(key) else {
                return Ok(());
            };
            let (tables, audit_id) = counts.take();
            if tables.is_empty() {
                return Ok(());
            }
            let who: Option<Actor> = if audit_id > 0 {
                sqlx::query_as("SELECT actor, action, target FROM audit_log WHERE id = $1")
                    .bind(audit_id)
                    .fetch_optional(&mut *c)
                    .await?
            } else {
                None
            };
            let org = org_of(tx, who.as_ref()).await?;
            let Tx::Sqlite(t) = tx else { return Ok(()) };
            let c: &mut SqliteConnection = t;
            write_row!(c, who, org, tables);
            // The hook counted the change_log row itself; it is not the caller's.
            let _ = counts.take();
        }
        Tx::Postgres(t) => {
            let c: &mut sqlx::PgConnection = t;
            let (pid, xid, now) = pg_counts(c, false).await?;
            // no baseline of this very transaction: not one that Store::begin made (a read
            // snapshot), or the baseline is left from one dropped unfinished
            let base = PG_BASELINES.lock().ok().and_then(|mut b| b.remove(&pid));
            let Some((base_xid, before)) = base else {
                return Ok(());
            };
            if xid != Some(base_xid) {
                return Ok(());
            }
            let rows: Vec<(String, i64)> = now
                .into_iter()
                .map(|(t, n)| {
                    let was = before.get(&t).copied().unwrap_or(0);
                    (t, n - was)
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            let tables: BTreeMap<String, i64> = rows
                .iter()
                .filter(|(t, _)| WATCHED.contains(&t.as_str()))
                .cloned()
                .collect();
            if tables.is_empty() {
                return Ok(());
            }
            // currval: the last audit id this session drew, drawn in this transaction
            // because the counts say it inserted into the audit log.
            let who: Option<Actor> = if rows.iter().any(|(t, _)| t == "audit_log") {
                sqlx::query_as(
                    "SELECT actor, action, target FROM audit_log \
                     WHERE id = currval(pg_get_serial_sequence('audit_log', 'id'))",
                )
                .fetch_optional(&mut *c)
                .await?
            } else {
                None
            };
            let org = org_of(tx, who.as_ref()).await?;
            let Tx::Postgres(t) = tx else { return Ok(()) };
            let c: &mut sqlx::PgConnection = t;
            let id = write_row!(c, who, org, tables);
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(id.to_string())
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

/// A change written outside a ledger transaction (one of [`ANNOUNCED`]: a catalogue entry
/// created, finished, verified, pinned or deleted; a scheduler run started or finished): one
/// `change_log` row, announced like a commit's, so open consoles reload the Backups and
/// Scheduler tabs. `actor` may be empty (the catalogue does not always know who). Announcing
/// never fails the change it announces: a failure is logged.
pub async fn announce(store: &Store, actor: &str, action: &str, table: &str) {
    let tables = serde_json::json!({ table: 1 }).to_string();
    let r: Result<()> = async {
        let id: i64 = on_store!(store, |p| sqlx::query_scalar(INSERT)
            .bind(crate::db::now_micros())
            .bind(actor)
            .bind(action)
            .bind(None::<String>)
            .bind(&tables)
            .bind(origin())
            .fetch_one(p)
            .await?);
        if let Store::Postgres(p, _) = store {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(id.to_string())
                .execute(p)
                .await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = r {
        tracing::warn!("could not announce a change of {table}: {e}");
    }
}

const INSERT: &str = "INSERT INTO change_log (at, actor, action, org_code, tables, origin) \
                      VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

/// The organization an audit target names (`DHK/0042`, `DHK/collection/7`, `DHK`).
async fn org_of(tx: &mut Tx, who: Option<&Actor>) -> Result<Option<String>> {
    let Some(w) = who else { return Ok(None) };
    let code = w.target.split('/').next().unwrap_or("").trim();
    if code.is_empty() {
        return Ok(None);
    }
    Ok(crate::on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT code FROM organizations WHERE code = $1"
    )
    .bind(code)
    .fetch_optional(&mut *c)
    .await?))
}

// ---- restores and row versions ---------------------------------------------------------

/// The tables whose rows carry a version (migration 0007).
pub const VERSIONED: [&str; 2] = ["workers", "members"];

/// Before a restore replaces `tables`: the highest version each versioned one holds.
pub(crate) async fn versions_before(
    tx: &mut Tx,
    tables: &[&str],
) -> Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for t in VERSIONED.iter().filter(|t| tables.contains(t)) {
        let sql = format!("SELECT COALESCE(MAX(version), 0) FROM {t}");
        let max: i64 = crate::on_tx!(tx, |c| sqlx::query_scalar(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .fetch_one(&mut *c)
        .await?);
        out.push((*t, max));
    }
    Ok(out)
}

/// After a restore loaded rows (an archive holds no versions: they start at 1): move the
/// restored rows' versions past every version the table had before, so an edit form or a
/// script that read a row before the restore is refused as stale, never saved over it.
pub(crate) async fn versions_forward(
    tx: &mut Tx,
    before: &[(&'static str, i64)],
    org: Option<i64>,
) -> Result<()> {
    for (t, max) in before {
        let sql = match org {
            Some(_) => format!("UPDATE {t} SET version = version + $2 WHERE org_id = $1"),
            None => format!("UPDATE {t} SET version = version + $1"),
        };
        crate::on_tx!(tx, |c| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            let q = match org {
                Some(o) => q.bind(o).bind(*max),
                None => q.bind(*max),
            };
            q.execute(&mut *c).await?.rows_affected()
        });
    }
    Ok(())
}

// ---- reading what changed -----------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct LogRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    org_code: Option<String>,
    tables: String,
    origin: String,
}

impl LogRow {
    fn into_change(self) -> Change {
        Change {
            own: self.origin == origin(),
            tables: serde_json::from_str(&self.tables).unwrap_or_default(),
            id: self.id,
            at: self.at,
            actor: self.actor,
            action: self.action,
            org_code: self.org_code,
        }
    }
}

/// The newest change's id (0 when there is none): where a watcher starts.
pub async fn position(store: &Store) -> Result<i64> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COALESCE(MAX(id), 0) FROM change_log"
    )
    .fetch_one(p)
    .await?))
}

/// Changes with an id above `after`, oldest first (at most 1000).
pub async fn since(store: &Store, after: i64) -> Result<Vec<Change>> {
    let rows: Vec<LogRow> = on_store!(store, |p| sqlx::query_as(
        "SELECT id, at, actor, action, org_code, tables, origin FROM change_log \
         WHERE id > $1 ORDER BY id LIMIT 1000"
    )
    .bind(after)
    .fetch_all(p)
    .await?);
    Ok(rows.into_iter().map(LogRow::into_change).collect())
}

/// PostgreSQL hands out ids before commit, so a change with a lower id can commit after one
/// with a higher id: a watcher looks back this far and skips what it has seen.
const LOOK_BACK: i64 = 64;

/// Follows the change log of one store from where it was when the watcher was made.
pub struct Watcher {
    store: Store,
    /// Ids seen at or above `floor`.
    seen: BTreeSet<i64>,
    floor: i64,
    wake: Wake,
}

enum Wake {
    /// `PRAGMA data_version` on a connection of the watcher's own: it changes when any
    /// other connection (this process's pool too) commits.
    Sqlite {
        conn: Box<SqliteConnection>,
        data_version: i64,
    },
    Postgres {
        listener: Option<Box<sqlx::postgres::PgListener>>,
    },
}

impl Store {
    /// Watch for committed changes from now on (see [`Watcher::next`]).
    pub async fn watch(&self) -> Result<Watcher> {
        let wake = match self {
            Store::Sqlite(_, path) => {
                use sqlx::ConnectOptions;
                let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(Duration::from_secs(5))
                    .connect()
                    .await
                    .map_err(|e| {
                        Error::Other(format!("watching {} for changes: {e}", path.display()))
                    })?;
                let data_version = data_version(&mut conn).await?;
                Wake::Sqlite {
                    conn: Box::new(conn),
                    data_version,
                }
            }
            Store::Postgres(pool, _) => Wake::Postgres {
                listener: listen(pool).await.map(Box::new),
            },
        };
        let top = position(self).await?;
        let mut w = Watcher {
            store: self.clone(),
            seen: BTreeSet::new(),
            floor: top - LOOK_BACK,
            wake,
        };
        // what is there already is not news
        for c in since(self, w.floor).await? {
            w.seen.insert(c.id);
        }
        w.seen.insert(top);
        Ok(w)
    }
}

async fn data_version(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await?)
}

async fn listen(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    // A pool of its own (as `PgListener::connect` makes): the listener keeps its connection
    // for as long as it lives, which must not hold up the store's pool or its close.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with((*pool.connect_options()).clone())
        .await;
    let listener = match own {
        Ok(own) => sqlx::postgres::PgListener::connect_with(&own).await,
        Err(e) => Err(e),
    };
    let mut l = match listener {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("LISTEN is not available ({e}); polling for changes instead");
            return None;
        }
    };
    match l.listen(CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!("LISTEN {CHANNEL} failed ({e}); polling for changes instead");
            None
        }
    }
}

impl Watcher {
    /// What was committed since the last call and not seen yet, oldest first; never waits
    /// (SQLite: nothing is read unless `data_version` moved).
    pub async fn poll(&mut self) -> Result<Vec<Change>> {
        if let Wake::Sqlite { conn, data_version } = &mut self.wake {
            let now = self::data_version(conn).await?;
            if now == *data_version {
                return Ok(Vec::new());
            }
            *data_version = now;
        }
        let mut fresh = Vec::new();
        for c in since(&self.store, self.floor).await? {
            if self.seen.insert(c.id) {
                fresh.push(c);
            }
        }
        if let Some(&top) = self.seen.last() {
            self.floor = self.floor.max(top - LOOK_BACK);
            let floor = self.floor;
            self.seen.retain(|id| *id > floor);
        }
        Ok(fresh)
    }

    /// Wait for the next changes (at least one), oldest first. Cancel-safe: dropping the
    /// future loses nothing (the next call finds it in the log).
    pub async fn next(&mut self) -> Result<Vec<Change>> {
        loop {
            let fresh = self.poll().await?;
            if !fresh.is_empty() {
                return Ok(fresh);
            }
            self.wait().await;
        }
    }

    /// Until a notification or the poll interval, whichever comes first.
    async fn wait(&mut self) {
        match &mut self.wake {
            Wake::Sqlite { .. } | Wake::Postgres { listener: None } => {
                tokio::time::sleep(POLL).await
            }
            Wake::Postgres { listener: Some(l) } => {
                // the poll runs anyway every few intervals, should a notification be lost
                match tokio::time::timeout(POLL * 2, l.recv()).await {
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(e)) => {
                        tracing::warn!("LISTEN {CHANNEL} stopped ({e}); polling instead");
                        self.wake = Wake::Postgres { listener: None };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(actor: &str, action: &str, tables: &[(&str, i64)]) -> Change {
        Change {
            id: 1,
            at: Utc::now(),
            actor: actor.into(),
            action: action.into(),
            org_code: None,
            tables: tables.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
            own: false,
        }
    }

    #[test]
    fn summaries_name_counts_tables_and_actors() {
        let a = change("rahim", "collection.add", &[("collections", 2)]);
        let b = change("rahim", "collection.add", &[("collections", 1)]);
        assert_eq!(summary(&[a.clone(), b]), "3 collections by rahim");
        let m = change("karim", "member.edit", &[("members", 1)]);
        assert_eq!(
            summary(&[a, m]),
            "2 collections by rahim; 1 member by karim"
        );
        let r = change(
            "admin",
            "backup.restore",
            &[("members", 300), ("collections", 9000)],
        );
        assert_eq!(summary(&[r]), "restore by admin");
        let d = change("rahim", "day.close", &[("day_closes", 1)]);
        assert_eq!(summary(&[d]), "1 day close by rahim");
    }
}
