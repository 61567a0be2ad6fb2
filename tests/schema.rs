//! The schema in one place: `backup::schema::TABLES` (what an archive holds, and the column
//! lists the ledger reads) is the migrated database, on SQLite and on PostgreSQL. Every
//! table the migrations make is archived (in `TABLES`, with exactly its columns in order,
//! their types, nullability, primary key and foreign keys) or listed in `NOT_ARCHIVED` with
//! its reason; so a migration that adds a table or a column fails here until the schema
//! says whether an archive holds it.

mod common;

use std::collections::BTreeMap;

use somiti::backup::schema::{ColType, NOT_ARCHIVED, ONE_BACKEND_ONLY, TABLES, TableSpec};
use somiti::db::{Backend, Store};
use somiti::on_store;

/// One column as the database has it: name, declared type (lower case), nullable.
#[derive(Debug, PartialEq, Eq)]
struct DbCol {
    name: String,
    ty: String,
    nullable: bool,
}

async fn rows<T>(store: &Store, sql: &str, table: Option<&str>) -> Vec<T>
where
    T: Send + Unpin,
    for<'r> T:
        sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    on_store!(store, |p| {
        let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
        if let Some(t) = table {
            q = q.bind(t);
        }
        q.fetch_all(p)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

async fn tables(store: &Store) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    rows::<(String,)>(store, sql, None)
        .await
        .into_iter()
        .map(|(t,)| t)
        .collect()
}

async fn columns(store: &Store, table: &str) -> Vec<DbCol> {
    let sql = match store.backend() {
        // An INTEGER PRIMARY KEY is the rowid: never null although not declared NOT NULL.
        Backend::Sqlite => {
            "SELECT name, lower(type), CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END \
             FROM pragma_table_info($1) ORDER BY cid"
        }
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), \
             CAST(CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS BIGINT) \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    rows::<(String, String, i64)>(store, sql, Some(table))
        .await
        .into_iter()
        .map(|(name, ty, nullable)| DbCol {
            name,
            ty,
            nullable: nullable != 0,
        })
        .collect()
}

async fn primary_key(store: &Store, table: &str) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
        Backend::Postgres => {
            "SELECT CAST(a.attname AS TEXT) FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = CAST(CAST($1 AS TEXT) AS regclass) AND i.indisprimary \
             ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)"
        }
    };
    rows::<(String,)>(store, sql, Some(table))
        .await
        .into_iter()
        .map(|(c,)| c)
        .collect()
}

/// (column, parent table), by column.
async fn foreign_keys(store: &Store, table: &str) -> Vec<(String, String)> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT \"from\", \"table\" FROM pragma_foreign_key_list($1) ORDER BY \"from\""
        }
        Backend::Postgres => {
            "SELECT CAST(a.attname AS TEXT), CAST(p.relname AS TEXT) FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             JOIN pg_class p ON p.oid = c.confrelid \
             WHERE c.contype = 'f' AND c.conrelid = CAST(CAST($1 AS TEXT) AS regclass) ORDER BY 1"
        }
    };
    rows::<(String, String)>(store, sql, Some(table)).await
}

/// The columns of identity tables that the database numbers itself (PostgreSQL).
async fn identity_columns(store: &Store, table: &str) -> Vec<String> {
    let sql = "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
               WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES' \
               ORDER BY ordinal_position";
    rows::<(String,)>(store, sql, Some(table))
        .await
        .into_iter()
        .map(|(c,)| c)
        .collect()
}

/// The declared types a column of this kind may have on this backend.
fn types_for(backend: Backend, ty: ColType) -> &'static [&'static str] {
    match (backend, ty) {
        (Backend::Sqlite, ColType::Int) => &["integer"],
        (Backend::Sqlite, ColType::Bool) => &["boolean"],
        // Dates and instants are text in SQLite.
        (Backend::Sqlite, ColType::Text | ColType::Date | ColType::Instant) => &["text"],
        (Backend::Postgres, ColType::Int) => &["bigint", "integer"],
        (Backend::Postgres, ColType::Bool) => &["boolean"],
        (Backend::Postgres, ColType::Text) => &["text"],
        (Backend::Postgres, ColType::Date) => &["date"],
        (Backend::Postgres, ColType::Instant) => &["timestamp with time zone"],
    }
}

async fn check_table(store: &Store, spec: &TableSpec) {
    let backend = store.backend().as_str();
    let db = columns(store, spec.name).await;
    let names: Vec<&str> = db.iter().map(|c| c.name.as_str()).collect();
    let want: Vec<&str> = spec.all_cols().map(|c| c.name).collect();
    assert_eq!(
        names, want,
        "{backend}: the columns of {} (left: the migrated database) are not TABLES' `cols` then \
         `live` (right), in order. A column a migration adds goes in `cols` if an archive holds \
         it, or in `live` if not",
        spec.name
    );
    for (col, got) in spec.all_cols().zip(&db) {
        assert!(
            types_for(store.backend(), col.ty).contains(&got.ty.as_str()),
            "{backend}: {}.{} is {:?} in the database but {:?} in TABLES",
            spec.name,
            col.name,
            got.ty,
            col.ty
        );
        assert_eq!(
            got.nullable, col.nullable,
            "{backend}: {}.{}: nullable in the database (left) and in TABLES (right)",
            spec.name, col.name
        );
    }
    assert_eq!(
        primary_key(store, spec.name).await,
        spec.pk,
        "{backend}: the primary key of {}",
        spec.name
    );
    let mut refs: Vec<(String, String)> = spec
        .refs
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    refs.sort();
    let mut got = foreign_keys(store, spec.name).await;
    got.sort();
    assert_eq!(got, refs, "{backend}: the foreign keys of {}", spec.name);
    if store.backend() == Backend::Postgres {
        let identity = identity_columns(store, spec.name).await;
        let want: &[&str] = if spec.identity { &["id"] } else { &[] };
        assert_eq!(
            identity, want,
            "postgres: the identity column of {}",
            spec.name
        );
    }
}

async fn tables_are_the_migrated_schema(store: &Store) {
    let backend = store.backend().as_str();
    let in_db = tables(store).await;
    let archived: BTreeMap<&str, &TableSpec> = TABLES.iter().map(|t| (t.name, t)).collect();
    let not_archived: BTreeMap<&str, &str> = NOT_ARCHIVED.iter().copied().collect();
    assert_eq!(archived.len(), TABLES.len(), "a table twice in TABLES");
    assert_eq!(
        not_archived.len(),
        NOT_ARCHIVED.len(),
        "a table twice in NOT_ARCHIVED"
    );

    for t in &in_db {
        assert!(
            archived.contains_key(t.as_str()) || not_archived.contains_key(t.as_str()),
            "{backend}: the migrations make table {t}, which is neither archived \
             (backup::schema::TABLES) nor listed with its reason in backup::schema::NOT_ARCHIVED"
        );
    }
    for t in archived.keys() {
        assert!(
            in_db.iter().any(|d| d == t),
            "{backend}: TABLES has {t}, which the migrations do not make"
        );
        assert!(
            !not_archived.contains_key(t),
            "{t} is both archived and listed as not archived"
        );
    }
    for (t, why) in &not_archived {
        assert!(!why.is_empty(), "NOT_ARCHIVED gives no reason for {t}");
        assert!(
            in_db.iter().any(|d| d == t) || ONE_BACKEND_ONLY.contains(t),
            "{backend}: NOT_ARCHIVED lists {t}, which the migrations do not make"
        );
    }
    for spec in &TABLES {
        check_table(store, spec).await;
    }
}

on_both_backends!(tables_are_the_migrated_schema);
