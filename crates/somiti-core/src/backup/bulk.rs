//! Whole-table restores load the way `pg_restore` and a replayed `sqlite3` dump do: the
//! secondary indexes of the replaced tables (and, on PostgreSQL, their UNIQUE constraints
//! and the foreign keys that touch them) are dropped inside the restore's transaction and
//! built again after the rows are in — one pass each instead of a check and an index
//! update per row. It is all
//! one transaction: a failure or a kill rolls the schema back with the data.

use crate::db::Tx;
use crate::error::{Error, Result};

/// What was dropped, to put back.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    indexes: Vec<String>,
    /// (table, constraint, definition)
    foreign_keys: Vec<(String, String, String)>,
    /// PostgreSQL UNIQUE constraints, (table, constraint, definition): built again after
    /// the load, as `pg_restore` does, instead of an index insert per row.
    uniques: Vec<(String, String, String)>,
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// PostgreSQL: every table a foreign key of `names` touches (as child or parent).
pub(crate) async fn fk_tables(tx: &mut Tx, names: &[&str]) -> Result<Vec<String>> {
    let Tx::Postgres(t) = tx else {
        return Ok(list(names));
    };
    let mut v: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT x FROM (SELECT conrelid::regclass::text AS x, confrelid::regclass::text AS y \
         FROM pg_constraint WHERE contype = 'f') f WHERE x = ANY($1) OR y = ANY($1) \
         UNION SELECT unnest($1::text[])",
    )
    .bind(list(names))
    .fetch_all(&mut **t)
    .await?;
    v.sort();
    Ok(v)
}

/// Drop the secondary indexes of `names` and (PostgreSQL) the foreign keys touching them.
pub(crate) async fn drop_for_load(tx: &mut Tx, names: &[&str]) -> Result<Dropped> {
    let mut d = Dropped::default();
    match tx {
        Tx::Sqlite(t) => {
            let mut rows: Vec<(String, String)> = Vec::new();
            for n in names {
                let mut r: Vec<(String, String)> = sqlx::query_as(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = $1",
                )
                .bind(*n)
                .fetch_all(&mut **t)
                .await?;
                rows.append(&mut r);
            }
            for (name, sql) in rows {
                let drop = format!("DROP INDEX \"{name}\"");
                sqlx::query(sqlx::AssertSqlSafe(drop.as_str()))
                    .execute(&mut **t)
                    .await?;
                d.indexes.push(sql);
            }
        }
        Tx::Postgres(t) => {
            d.foreign_keys = sqlx::query_as(
                "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1)) \
                 ORDER BY conname",
            )
            .bind(list(names))
            .fetch_all(&mut **t)
            .await?;
            d.uniques = sqlx::query_as(
                "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE contype = 'u' AND conrelid::regclass::text = ANY($1) ORDER BY conname",
            )
            .bind(list(names))
            .fetch_all(&mut **t)
            .await?;
            for (table, name, _) in d.foreign_keys.iter().chain(&d.uniques) {
                let sql = format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\"");
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .execute(&mut **t)
                    .await?;
            }
            let idx: Vec<(String, String)> = sqlx::query_as(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
                 WHERE i.indrelid::regclass::text = ANY($1) AND NOT i.indisprimary \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            )
            .bind(list(names))
            .fetch_all(&mut **t)
            .await?;
            for (name, def) in idx {
                let sql = format!("DROP INDEX {name}");
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .execute(&mut **t)
                    .await?;
                d.indexes.push(def);
            }
        }
    }
    Ok(d)
}

/// Build the indexes again and put the foreign keys back (each checked over its whole
/// table in one query); a broken reference refuses the restore.
pub(crate) async fn restore_after_load(tx: &mut Tx, d: Dropped) -> Result<()> {
    for sql in &d.indexes {
        match tx {
            Tx::Sqlite(t) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .execute(&mut **t)
                .await?
                .rows_affected(),
        };
    }
    if let Tx::Postgres(t) = tx {
        let checks = [
            (&d.uniques, "would break a uniqueness rule"),
            (&d.foreign_keys, "would leave rows pointing at missing rows"),
        ];
        for (list, broken) in checks {
            for (table, name, def) in list {
                let sql = format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}");
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .execute(&mut **t)
                    .await
                    .map_err(|e| {
                        Error::Refused(format!("the restore {broken} ({e}); nothing was changed"))
                    })?;
            }
        }
    }
    Ok(())
}
