//! The PostgreSQL half of the dialect: row locks, table locks, deferred constraints,
//! constraint and index drops, sequences, and `COPY … FROM STDIN`.

use sqlx::PgConnection;
use sqlx::postgres::PgCopyIn;

use super::{Dropped, Unchecked};
use crate::backup::schema::{self, TableSpec, Values};
use crate::error::{Error, Result};

type Conn = PgConnection;

pub(super) async fn lock_org(t: &mut Conn, org_id: i64) -> Result<()> {
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(org_id)
        .execute(&mut *t)
        .await?;
    Ok(())
}

async fn run(t: &mut Conn, sql: &str) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *t)
        .await?;
    Ok(())
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Every table a foreign key of `names` touches (as child or parent), and `names`.
async fn fk_tables(t: &mut Conn, names: &[&str]) -> Result<Vec<String>> {
    let mut v: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT x FROM (SELECT conrelid::regclass::text AS x, confrelid::regclass::text AS y \
         FROM pg_constraint WHERE contype = 'f') f WHERE x = ANY($1) OR y = ANY($1) \
         UNION SELECT unnest($1::text[])",
    )
    .bind(list(names))
    .fetch_all(&mut *t)
    .await?;
    v.sort();
    Ok(v)
}

pub(super) async fn prepare_restore(t: &mut Conn, names: &[&str], whole: bool) -> Result<()> {
    let locked = fk_tables(t, names).await?;
    run(t, "SET CONSTRAINTS ALL DEFERRED").await?;
    let sql = if whole {
        format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", locked.join(", "))
    } else {
        format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            names.join(", ")
        )
    };
    run(t, &sql).await
}

pub(super) async fn check_deferred_now(t: &mut Conn) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
        .execute(&mut *t)
        .await
        .map(|_| ())
}

pub(super) async fn drop_for_load(t: &mut Conn, names: &[&str]) -> Result<Dropped> {
    let mut d = Dropped {
        foreign_keys: sqlx::query_as(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'f' AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1)) \
             ORDER BY conname",
        )
        .bind(list(names))
        .fetch_all(&mut *t)
        .await?,
        uniques: sqlx::query_as(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'u' AND conrelid::regclass::text = ANY($1) ORDER BY conname",
        )
        .bind(list(names))
        .fetch_all(&mut *t)
        .await?,
        ..Dropped::default()
    };
    for (table, name, _) in d.foreign_keys.iter().chain(&d.uniques) {
        run(
            t,
            &format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""),
        )
        .await?;
    }
    let idx: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
         WHERE i.indrelid::regclass::text = ANY($1) AND NOT i.indisprimary \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
    )
    .bind(list(names))
    .fetch_all(&mut *t)
    .await?;
    for (name, def) in idx {
        run(t, &format!("DROP INDEX {name}")).await?;
        d.indexes.push(def);
    }
    Ok(d)
}

pub(super) async fn restore_after_load(t: &mut Conn, d: Dropped) -> Result<()> {
    for sql in &d.indexes {
        run(t, sql).await?;
    }
    let checks = [
        (&d.uniques, "would break a uniqueness rule"),
        (&d.foreign_keys, "would leave rows pointing at missing rows"),
    ];
    for (list, broken) in checks {
        for (table, name, def) in list {
            let sql = format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}");
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .execute(&mut *t)
                .await
                .map_err(|e| {
                    Error::Refused(format!("the restore {broken} ({e}); nothing was changed"))
                })?;
        }
    }
    Ok(())
}

/// Set a table's id sequence to the larger of its highest id given so far and the highest
/// id now in the table.
pub(super) async fn keep_sequence_ahead(t: &mut Conn, table: &str) -> Result<()> {
    let seq: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, 'id')")
        .bind(table)
        .fetch_one(&mut *t)
        .await?;
    let Some(seq) = seq else {
        return Ok(());
    };
    let sql = format!("SELECT last_value, is_called FROM {seq}");
    let (last, called): (i64, bool) = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_one(&mut *t)
        .await?;
    let given = if called { last } else { last - 1 };
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    let max: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_one(&mut *t)
        .await?;
    let high = given.max(max);
    let (value, called) = if high >= 1 { (high, true) } else { (1, false) };
    sqlx::query("SELECT setval($1::regclass, $2, $3)")
        .bind(&seq)
        .bind(value)
        .bind(called)
        .execute(&mut *t)
        .await?;
    Ok(())
}

/// The identity sequences continue after the ids in the tables.
pub(super) async fn sequences_to_max(t: &mut Conn, tables: &[&str]) -> Result<()> {
    for table in tables {
        run(
            t,
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn lock_for_load(t: &mut Conn, written: &[&str], rebuilt: &[&str]) -> Result<()> {
    if !written.is_empty() {
        let sql = format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            written.join(", ")
        );
        run(t, &sql).await?;
    }
    if !rebuilt.is_empty() {
        let sql = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", rebuilt.join(", "));
        run(t, &sql).await?;
    }
    Ok(())
}

pub(super) async fn drop_foreign_keys(t: &mut Conn, table: &str) -> Result<Unchecked> {
    let fkeys: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname",
    )
    .bind(table)
    .fetch_all(&mut *t)
    .await?;
    run(t, "SAVEPOINT load_fkeys").await?;
    let mut dropped = Ok(());
    for (name, _) in &fkeys {
        let sql = format!("ALTER TABLE {table} DROP CONSTRAINT {name}");
        dropped = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *t)
            .await
            .map(|_| ());
        if dropped.is_err() {
            break;
        }
    }
    let foreign_keys = match dropped {
        Ok(()) => {
            run(t, "RELEASE SAVEPOINT load_fkeys").await?;
            fkeys
        }
        Err(e) => {
            tracing::debug!("keeping the foreign keys of {table} during the load: {e}");
            run(t, "ROLLBACK TO SAVEPOINT load_fkeys").await?;
            Vec::new()
        }
    };
    Ok(Unchecked {
        table: table.to_string(),
        foreign_keys,
    })
}

pub(super) async fn add_foreign_keys(t: &mut Conn, u: Unchecked) -> Result<()> {
    for (name, def) in &u.foreign_keys {
        run(
            t,
            &format!("ALTER TABLE {} ADD CONSTRAINT {name} {def}", u.table),
        )
        .await?;
    }
    Ok(())
}

/// Bytes of COPY text sent per message.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// One table's `COPY … FROM STDIN` (text format), open until `finish` or `abort`.
pub(crate) struct CopyIn<'t, 's> {
    copy: PgCopyIn<&'t mut Conn>,
    pub(super) spec: &'s TableSpec,
    buf: Vec<u8>,
}

impl<'t, 's> CopyIn<'t, 's> {
    pub(super) async fn begin(t: &'t mut Conn, spec: &'s TableSpec) -> Result<CopyIn<'t, 's>> {
        let sql = format!("COPY {} ({}) FROM STDIN", spec.name, spec.col_list());
        Ok(CopyIn {
            copy: t.copy_in_raw(&sql).await?,
            spec,
            buf: Vec::with_capacity(COPY_CHUNK_BYTES + 4096),
        })
    }

    pub(super) async fn send(&mut self, rows: &[Values]) -> Result<()> {
        for r in rows {
            schema::write_copy_line(self.spec, r, &mut self.buf);
            if self.buf.len() >= COPY_CHUNK_BYTES {
                self.flush().await?;
            }
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.copy.send(self.buf.as_slice()).await?;
            self.buf.clear();
        }
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<()> {
        self.flush().await?;
        self.copy.finish().await?;
        Ok(())
    }

    pub(super) async fn abort(self, why: &str) {
        let _ = self.copy.abort(why).await;
    }
}
