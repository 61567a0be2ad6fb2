//! The SQLite half of the dialect: deferred foreign keys, index drops, the page cache of a
//! long load, and multi-row INSERTs.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Dropped;
use crate::backup::schema::{TableSpec, Val, Values};
use crate::error::Result;

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
