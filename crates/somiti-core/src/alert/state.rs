//! `alert_state`: one row per channel and thing that fires. A process sends an alert only
//! after its update of the row took effect, so two schedulers (a console and a daemon)
//! never send one event twice.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::db::Store;
use crate::error::Result;
use crate::on_store;

/// Claim the sending of a failure of `key` on `channel`: won when the row was not firing,
/// or was firing and last sent at least `repeat_hours` ago (or never delivered). Returns
/// the claim's time (to release it when the delivery fails), or None when another process
/// or an earlier occurrence has it.
///
/// `since` is when the row's present state began (firing or cleared). An observation made
/// before that (`now < since`: a scheduler that read the database, then waited while
/// another one saw the recovery and cleared it) is out of date and never re-fires the row.
pub async fn claim_fire(
    store: &Store,
    channel: &str,
    key: &str,
    detail: &str,
    repeat_hours: u32,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    // whole seconds: SQLite compares the stored text
    let now = now.trunc_subsecs(0);
    let repeat_before = now - chrono::Duration::hours(i64::from(repeat_hours.max(1)));
    let n = on_store!(store, |p| sqlx::query(
        "INSERT INTO alert_state (channel, key, firing, since, last_sent_at, sends, detail) \
         VALUES ($1, $2, TRUE, $3, $3, 1, $4) \
         ON CONFLICT (channel, key) DO UPDATE SET \
           firing = TRUE, \
           since = CASE WHEN alert_state.firing THEN alert_state.since ELSE excluded.since END, \
           last_sent_at = excluded.last_sent_at, \
           sends = alert_state.sends + 1, \
           detail = excluded.detail \
         WHERE (alert_state.firing = FALSE \
                AND (alert_state.since IS NULL OR alert_state.since <= $3)) \
            OR (alert_state.firing = TRUE \
                AND (alert_state.last_sent_at IS NULL OR alert_state.last_sent_at <= $5))"
    )
    .bind(channel)
    .bind(key)
    .bind(now)
    .bind(detail)
    .bind(repeat_before)
    .execute(p)
    .await?
    .rows_affected());
    Ok((n == 1).then_some(now))
}

/// A claimed failure could not be delivered: forget that it was sent, so the next
/// occurrence tries again (it stays firing, so its recovery is still told).
pub async fn unclaim(store: &Store, channel: &str, key: &str, at: DateTime<Utc>) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "UPDATE alert_state SET last_sent_at = NULL, sends = sends - 1 \
         WHERE channel = $1 AND key = $2 AND last_sent_at = $3"
    )
    .bind(channel)
    .bind(key)
    .bind(at)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

/// Claim the "cleared" of `key` on `channel`: won by the one process whose update turned
/// the row from firing to not firing, with an observation made no earlier than the firing
/// began (an older success does not clear a newer failure).
pub async fn claim_clear(
    store: &Store,
    channel: &str,
    key: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let now = now.trunc_subsecs(0);
    let n = on_store!(store, |p| sqlx::query(
        "UPDATE alert_state SET firing = FALSE, detail = $3, since = $4 \
         WHERE channel = $1 AND key = $2 AND firing = TRUE \
           AND (since IS NULL OR since <= $4)"
    )
    .bind(channel)
    .bind(key)
    .bind(detail)
    .bind(now)
    .execute(p)
    .await?
    .rows_affected());
    Ok(n == 1)
}

/// One row of `alert_state`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AlertState {
    pub channel: String,
    pub key: String,
    pub firing: bool,
    /// When the present state began: the first failure of a firing row, the clear of a
    /// cleared one (claims older than it are out of date).
    pub since: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub sends: i64,
    pub detail: Option<String>,
}

/// Every row, by channel and key.
pub async fn all(store: &Store) -> Result<Vec<AlertState>> {
    Ok(on_store!(store, |p| sqlx::query_as::<_, AlertState>(
        "SELECT channel, key, firing, since, last_sent_at, sends, detail FROM alert_state \
         ORDER BY channel, key"
    )
    .fetch_all(p)
    .await?))
}
