//! Console operators: add, list, change role. The first admin comes from `init`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, Role, audit, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub org_id: Option<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Every column of `users`, from `backup::schema::TABLES`.
static COLS: crate::backup::schema::ColumnList = crate::backup::schema::ColumnList::of("users");

pub async fn find(store: &Store, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLS} FROM users WHERE username = $1");
    Ok(on_store!(store, |p| sqlx::query_as::<_, User>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(username)
    .fetch_optional(p)
    .await?))
}

pub async fn count(store: &Store) -> Result<i64> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM users"
    )
    .fetch_one(p)
    .await?))
}

pub async fn list(store: &Store, op: &Operator) -> Result<Vec<User>> {
    require(store, op, Permission::Read, None, "user.list", "users").await?;
    let sql = format!("SELECT {COLS} FROM users ORDER BY username");
    Ok(on_store!(store, |p| sqlx::query_as::<_, User>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_all(p)
    .await?))
}

fn check_username(name: &str) -> Result<String> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(n.to_string())
    } else {
        Err(Error::invalid(
            "username",
            format!("must be an OS login name: letters, digits, '_', '-' or '.' (got {name:?})"),
        ))
    }
}

/// Insert a user without a permission check: only `init` (first admin) and the demo use it.
pub async fn insert_unchecked(
    store: &Store,
    actor: &str,
    username: &str,
    full_name: &str,
    role: Role,
    org_id: Option<i64>,
) -> Result<User> {
    let username = check_username(username)?;
    let mut tx = store.begin().await?;
    let sql = format!(
        "INSERT INTO users (username, full_name, role, org_id, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLS}"
    );
    let res = on_tx!(&mut tx, |c| sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(&username)
    .bind(full_name)
    .bind(role.as_str())
    .bind(org_id)
    .bind(true)
    .bind(crate::db::now_micros())
    .fetch_one(&mut *c)
    .await);
    let user = match res {
        Ok(u) => u,
        Err(e) => {
            let e = Error::from(e);
            if e.is_unique_violation() {
                return Err(Error::invalid(
                    "username",
                    format!("{username:?} is already a user; use `somiti user set-role`"),
                ));
            }
            return Err(e);
        }
    };
    audit::record_tx(
        &mut tx,
        actor,
        "user.add",
        &username,
        serde_json::json!({ "role": role.as_str(), "org_id": org_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn add(
    store: &Store,
    op: &Operator,
    username: &str,
    full_name: &str,
    role: Role,
    org_id: Option<i64>,
) -> Result<User> {
    require(
        store,
        op,
        Permission::ManageUsers,
        None,
        "user.add",
        username,
    )
    .await?;
    let r = insert_unchecked(store, &op.username, username, full_name, role, org_id).await;
    audit::record_if_failed(store, &op.username, "user.add", username, r).await
}

pub async fn set_role(store: &Store, op: &Operator, username: &str, role: Role) -> Result<User> {
    require(
        store,
        op,
        Permission::ManageUsers,
        None,
        "user.set-role",
        username,
    )
    .await?;
    let r = set_role_checked(store, op, username, role).await;
    audit::record_if_failed(store, &op.username, "user.set-role", username, r).await
}

async fn set_role_checked(
    store: &Store,
    op: &Operator,
    username: &str,
    role: Role,
) -> Result<User> {
    let existing = find(store, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {username:?}; see `somiti user list`")))?;
    if existing.role == "admin" && role != Role::Admin {
        let admins: i64 = on_store!(store, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = $1"
        )
        .bind(true)
        .fetch_one(p)
        .await?);
        if admins <= 1 {
            return Err(Error::Refused(format!(
                "{username} is the last admin; make another user admin first"
            )));
        }
    }
    let mut tx = store.begin().await?;
    let sql = format!("UPDATE users SET role = $1 WHERE username = $2 RETURNING {COLS}");
    let user = on_tx!(&mut tx, |c| sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(role.as_str())
    .bind(username)
    .fetch_one(&mut *c)
    .await?);
    audit::record_tx(
        &mut tx,
        &op.username,
        "user.set-role",
        username,
        serde_json::json!({ "from": existing.role, "to": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
