//! Day close: once an organization's day is closed nothing is posted or reversed on or
//! before it. Reopening is an admin's correction and is audited like any change.

use chrono::NaiveDate;

use crate::access::{Operator, Permission, audit, require};
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::ledger::org::Organization;
use crate::{on_store, on_tx};

/// The latest closed date of an organization, if any.
pub async fn closed_through(store: &Store, org_id: i64) -> Result<Option<NaiveDate>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<
        _,
        Option<NaiveDate>,
    >(
        "SELECT MAX(closed_on) FROM day_closes WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_one(p)
    .await?))
}

pub async fn closed_through_tx(tx: &mut Tx, org_id: i64) -> Result<Option<NaiveDate>> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, Option<NaiveDate>>(
        "SELECT MAX(closed_on) FROM day_closes WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_one(&mut *c)
    .await?))
}

/// Serialise posting against closing within one organization. SQLite's `BEGIN IMMEDIATE`
/// already does; on PostgreSQL the organization row is locked for the transaction.
pub async fn lock_org(tx: &mut Tx, org_id: i64) -> Result<()> {
    crate::db::dialect::lock_org(tx, org_id).await
}

/// Refuse a change on or before the organization's closed date (checked inside `tx`).
pub(crate) async fn refuse_if_closed(
    tx: &mut Tx,
    org: &Organization,
    date: NaiveDate,
) -> Result<()> {
    lock_org(tx, org.id).await?;
    if let Some(closed) = closed_through_tx(tx, org.id).await?
        && date <= closed
    {
        return Err(Error::Refused(format!(
            "{date} is closed for {} (closed through {closed}); an admin can reopen it with `somiti day reopen --date {date} --org {}`",
            org.code, org.code
        )));
    }
    Ok(())
}

pub async fn close(
    store: &Store,
    op: &Operator,
    org: &Organization,
    date: NaiveDate,
) -> Result<()> {
    let target = format!("{}/{date}", org.code);
    require(
        store,
        op,
        Permission::CloseDay,
        Some(org.id),
        "day.close",
        &target,
    )
    .await?;
    let r = close_checked(store, op, org, date, &target).await;
    audit::record_if_failed(store, &op.username, "day.close", &target, r).await
}

async fn close_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    date: NaiveDate,
    target: &str,
) -> Result<()> {
    let today = org.today();
    if date > today {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is in the future (today is {today}); only past days or today can be closed"
            ),
        ));
    }
    let mut tx = store.begin().await?;
    lock_org(&mut tx, org.id).await?;
    let previous = closed_through_tx(&mut tx, org.id).await?;
    if let Some(closed) = previous
        && date <= closed
    {
        return Err(Error::invalid(
            "date",
            format!("{} is already closed through {closed}", org.code),
        ));
    }
    on_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO day_closes (org_id, closed_on, closed_by, closed_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(org.id)
    .bind(date)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .execute(&mut *c)
    .await?
    .rows_affected());
    audit::record_tx(
        &mut tx,
        &op.username,
        "day.close",
        target,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reopen `date` (and every later closed day) so corrections can be posted again.
pub async fn reopen(
    store: &Store,
    op: &Operator,
    org: &Organization,
    date: NaiveDate,
) -> Result<u64> {
    let target = format!("{}/{date}", org.code);
    require(
        store,
        op,
        Permission::ReopenDay,
        Some(org.id),
        "day.reopen",
        &target,
    )
    .await?;
    let r = reopen_checked(store, op, org, date, &target).await;
    audit::record_if_failed(store, &op.username, "day.reopen", &target, r).await
}

async fn reopen_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    date: NaiveDate,
    target: &str,
) -> Result<u64> {
    let mut tx = store.begin().await?;
    lock_org(&mut tx, org.id).await?;
    match closed_through_tx(&mut tx, org.id).await? {
        Some(closed) if date <= closed => {}
        Some(closed) => {
            return Err(Error::invalid(
                "date",
                format!(
                    "{date} is not closed ({} is closed through {closed})",
                    org.code
                ),
            ));
        }
        None => {
            return Err(Error::invalid(
                "date",
                format!("{} has no closed days", org.code),
            ));
        }
    }
    let n = on_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM day_closes WHERE org_id = $1 AND closed_on >= $2"
    )
    .bind(org.id)
    .bind(date)
    .execute(&mut *c)
    .await?
    .rows_affected());
    audit::record_tx(
        &mut tx,
        &op.username,
        "day.reopen",
        target,
        serde_json::json!({ "closes_removed": n }),
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}
