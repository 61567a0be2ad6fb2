//! The PostgreSQL half of the dialect: row locks, table locks, deferred constraints,
//! constraint and index drops, sequences, `COPY … FROM STDIN` for bulk loads, and the
//! snapshot reader: the rows come from the caller's `REPEATABLE READ` transaction through
//! `COPY (SELECT …) TO STDOUT`, the way `pg_dump` reads them, with dates and instants
//! formatted by the server.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgCopyIn, PgPool};
use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;

use super::{Dropped, SINK_STOPPED, SnapshotSink, Unchecked};
use crate::backup::schema::{self, ColType, TableSpec, Val, Values};
use crate::db::lock::LockInfo;
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

/// `COPY (SELECT …) TO STDOUT` for a table: dates as `YYYY-MM-DD` and instants in UTC with
/// six fraction digits, whatever the session's settings; `org` is an integer, inlined
/// because COPY takes no parameters.
fn copy_out_sql(spec: &TableSpec, org: Option<i64>) -> String {
    let cols: Vec<String> = spec
        .cols
        .iter()
        .map(|c| match c.ty {
            ColType::Date => format!("to_char({0}, 'YYYY-MM-DD')", c.name),
            ColType::Instant => format!(
                "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
                c.name
            ),
            _ => c.name.to_string(),
        })
        .collect();
    let filter = match org {
        Some(o) => format!(" WHERE {} = {o}", spec.org_col),
        None => String::new(),
    };
    format!(
        "COPY (SELECT {} FROM {}{filter} ORDER BY {}) TO STDOUT",
        cols.join(", "),
        spec.name,
        spec.pk.join(", ")
    )
}

/// One line of COPY's text format (without its newline) into `vals`, reusing its strings.
fn parse_copy_line(
    spec: &TableSpec,
    line: &[u8],
    vals: &mut Values,
) -> std::result::Result<(), String> {
    let mut fields = line.split(|&b| b == b'\t');
    for (i, col) in spec.cols.iter().enumerate() {
        let f = fields
            .next()
            .ok_or_else(|| format!("a row has no column {}", col.name))?;
        let slot = &mut vals[i];
        if f == b"\\N" {
            *slot = Val::Null;
            continue;
        }
        match col.ty {
            ColType::Int => {
                let v = std::str::from_utf8(f)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| format!("column {} is not an integer", col.name))?;
                *slot = Val::Int(v);
            }
            ColType::Bool => {
                *slot = Val::Bool(match f {
                    b"t" => true,
                    b"f" => false,
                    _ => return Err(format!("column {} is not a boolean", col.name)),
                });
            }
            ColType::Text | ColType::Date | ColType::Instant => {
                let s = match slot {
                    Val::Text(s) => {
                        s.clear();
                        s
                    }
                    _ => {
                        *slot = Val::Text(String::new());
                        let Val::Text(s) = slot else { unreachable!() };
                        s
                    }
                };
                unescape_copy(f, s).map_err(|m| format!("column {}: {m}", col.name))?;
                if col.ty == ColType::Instant {
                    autosi_utc(s);
                }
            }
        }
    }
    if fields.next().is_some() {
        return Err("a row has more columns than the schema".into());
    }
    Ok(())
}

/// COPY text escapes: `\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v` (COPY TO writes no others).
fn unescape_copy(f: &[u8], out: &mut String) -> std::result::Result<(), String> {
    let bad_utf8 = |_| "is not valid UTF-8".to_string();
    if !f.contains(&b'\\') {
        out.push_str(std::str::from_utf8(f).map_err(bad_utf8)?);
        return Ok(());
    }
    let mut bytes = Vec::with_capacity(f.len());
    let mut it = f.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        bytes.push(match it.next() {
            Some(b'\\') => b'\\',
            Some(b't') => b'\t',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'v') => 0x0b,
            other => return Err(format!("unexpected escape {other:?}")),
        });
    }
    out.push_str(&String::from_utf8(bytes).map_err(|e| bad_utf8(e.utf8_error()))?);
    Ok(())
}

/// `YYYY-MM-DDTHH:MI:SS.ffffff` (UTC) as `schema::instant_text` writes it: the fraction
/// with 0, 3 or 6 digits, whichever shows every non-zero digit, and `+00:00`.
fn autosi_utc(s: &mut String) {
    if let Some(dot) = s.find('.') {
        let frac = &s[dot + 1..];
        let keep = if frac.bytes().all(|b| b == b'0') {
            0
        } else if frac.len() > 3 && frac[3..].bytes().all(|b| b == b'0') {
            3
        } else {
            frac.len()
        };
        s.truncate(if keep == 0 { dot } else { dot + 1 + keep });
    }
    s.push_str("+00:00");
}

/// Read every table of `specs` (one organization's rows with `org`) through COPY on the
/// caller's transaction, handing the rows to `sink` and its messages to `send`.
pub(super) async fn read_snapshot<S: SnapshotSink>(
    t: &mut Conn,
    specs: &[&'static TableSpec],
    org: Option<i64>,
    mut sink: S,
    send: &mpsc::Sender<S::Msg>,
) -> Result<S> {
    use futures::TryStreamExt;
    let mut total = 0u64;
    for spec in specs {
        let sql = format!(
            "SELECT COUNT(*) FROM {}{}",
            spec.name,
            spec.org_where(org.is_some())
        );
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(o) = org {
            q = q.bind(o);
        }
        total += q.fetch_one(&mut *t).await? as u64;
    }
    sink.counted(total);
    let stopped = |_| Error::Other(SINK_STOPPED.into());
    for spec in specs {
        if sink.cancelled() {
            return Err(Error::Cancelled);
        }
        send.send(sink.begin(spec)).await.map_err(stopped)?;
        let mut vals: Values = vec![Val::Null; spec.cols.len()];
        let mut n = 0u64;
        let mut pending: Vec<u8> = Vec::new();
        let mut stream = t.copy_out_raw(&copy_out_sql(spec, org)).await?;
        while let Some(chunk) = stream.try_next().await? {
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(k) = pending[start..].iter().position(|&b| b == b'\n') {
                let line = &pending[start..start + k];
                parse_copy_line(spec, line, &mut vals)
                    .map_err(|m| Error::Other(format!("{} row {}: {m}", spec.name, n + 1)))?;
                sink.row(spec, &vals)?;
                n += 1;
                start += k + 1;
            }
            pending.drain(..start);
            if let Some(m) = sink.full(spec) {
                send.send(m).await.map_err(stopped)?;
                if sink.cancelled() {
                    return Err(Error::Cancelled);
                }
            }
        }
        if !pending.is_empty() {
            return Err(Error::Other(format!(
                "{}: COPY ended inside a row",
                spec.name
            )));
        }
        drop(stream);
        send.send(sink.end(spec)).await.map_err(stopped)?;
    }
    sink.finishing();
    Ok(sink)
}

// The backup lock: `pg_try_advisory_lock` on a connection of its own, kept for the
// duration, plus a `backup_lock` row saying who. A process that dies lets go of both.

/// The advisory lock key: "somiti" in ASCII.
const PG_KEY: i64 = 0x736f_6d69_7469;

type HolderRow = (String, String, i64, String, DateTime<Utc>);

fn info_of(r: HolderRow) -> LockInfo {
    LockInfo {
        operation: r.0,
        operator: r.1,
        pid: r.2 as u32,
        host: r.3,
        since: r.4,
    }
}

pub(super) async fn try_advisory_lock(pool: &PgPool, info: &LockInfo) -> Result<Option<Conn>> {
    let mut conn = pool.acquire().await?.detach();
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(PG_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !got {
        let _ = conn.close().await;
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO backup_lock (id, operation, operator, pid, host, since) \
         VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
         operation = EXCLUDED.operation, operator = EXCLUDED.operator, pid = EXCLUDED.pid, \
         host = EXCLUDED.host, since = EXCLUDED.since",
    )
    .bind(&info.operation)
    .bind(&info.operator)
    .bind(i64::from(info.pid))
    .bind(&info.host)
    .bind(info.since)
    .execute(&mut conn)
    .await?;
    Ok(Some(conn))
}

pub(super) async fn lock_holder(pool: &PgPool) -> Option<LockInfo> {
    let row: HolderRow = sqlx::query_as(
        "SELECT operation, operator, pid, host, since FROM backup_lock WHERE id = 1",
    )
    .fetch_optional(pool)
    .await
    .ok()??;
    Some(info_of(row))
}

pub(super) async fn held_lock_holder(pool: &PgPool) -> Result<Option<LockInfo>> {
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT operation, operator, pid, host, since FROM backup_lock WHERE id = 1 \
         AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)",
    )
    .bind(PG_KEY >> 32)
    .bind(PG_KEY & 0xffff_ffff)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(info_of))
}

pub(super) async fn advisory_unlock(mut c: Conn) {
    let _ = sqlx::query("DELETE FROM backup_lock WHERE id = 1")
        .execute(&mut c)
        .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(PG_KEY)
        .execute(&mut c)
        .await;
    let _ = c.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_come_back_as_values() {
        let spec = schema::spec("collections").unwrap();
        let mut vals = vec![Val::Null; spec.cols.len()];
        let line = b"7\t1\t3\t2024-05-01\t10000\t0\t\\N\ttab\\there\\\\ \xe0\xa7\xb3\trahim\t2024-05-01T10:00:00.500000\t\\N\t4";
        parse_copy_line(spec, line, &mut vals).unwrap();
        assert_eq!(vals[0], Val::Int(7));
        assert_eq!(vals[6], Val::Null);
        assert_eq!(vals[7], Val::Text("tab\there\\ ৳".into()));
        assert_eq!(vals[9], Val::Text("2024-05-01T10:00:00.500+00:00".into()));
        assert!(parse_copy_line(spec, b"7\t1", &mut vals).is_err());
        assert!(
            parse_copy_line(
                spec,
                b"x\t1\t3\t2024-05-01\t1\t0\t\\N\t\tr\t2024-05-01T10:00:00.000000\t\\N",
                &mut vals
            )
            .is_err()
        );
    }

    #[test]
    fn instants_match_what_the_sqlite_side_writes() {
        let t = |s: &str| {
            let mut s = s.to_string();
            autosi_utc(&mut s);
            s
        };
        for (raw, want) in [
            ("2024-05-01T10:00:00.000000", "2024-05-01T10:00:00+00:00"),
            (
                "2024-05-01T10:00:00.500000",
                "2024-05-01T10:00:00.500+00:00",
            ),
            (
                "2024-05-01T10:00:00.123456",
                "2024-05-01T10:00:00.123456+00:00",
            ),
            (
                "2024-05-01T10:00:00.120000",
                "2024-05-01T10:00:00.120+00:00",
            ),
        ] {
            assert_eq!(t(raw), want);
            let parsed = schema::parse_instant(want).unwrap();
            assert_eq!(schema::instant_text(&parsed), want);
        }
    }
}
