//! The append-only audit log: one entry for every change and every refused or failed
//! attempt, with actor, action, target, detail (JSON) and outcome.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Store, Tx};
use crate::error::Result;
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Refused,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub outcome: String,
}

const INSERT: &str = "INSERT INTO audit_log (at, actor, action, target, detail, outcome) VALUES ($1, $2, $3, $4, $5, $6)";

/// Write an entry on its own (refusals, failures, read-side events).
pub async fn record(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    outcome: Outcome,
) -> Result<()> {
    let detail = detail.to_string();
    on_store!(store, |p| {
        sqlx::query(INSERT)
            .bind(crate::db::now_micros())
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(&detail)
            .bind(outcome.as_str())
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Write an entry inside the transaction that makes the change, so both land or neither.
pub async fn record_tx(
    tx: &mut Tx,
    actor: &str,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let detail = detail.to_string();
    on_tx!(tx, |c| {
        sqlx::query(INSERT)
            .bind(crate::db::now_micros())
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(&detail)
            .bind(Outcome::Ok.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Pass `r` on; when it is an error, first write a `refused` or `failed` entry for it, so
/// failed changes are audited like successful ones.
pub async fn record_if_failed<T>(
    store: &Store,
    actor: &str,
    action: &str,
    target: &str,
    r: Result<T>,
) -> Result<T> {
    if let Err(e) = &r {
        let outcome = if matches!(e, crate::error::Error::Refused(_)) {
            Outcome::Refused
        } else {
            Outcome::Failed
        };
        record(
            store,
            actor,
            action,
            target,
            serde_json::json!({ "error": e.to_string() }),
            outcome,
        )
        .await?;
    }
    r
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub on: Option<chrono::NaiveDate>,
    /// Entries at or after this instant (with `before`, a local day from [`local_day_range`]).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub before: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// The first instant of a local calendar day (the first that exists, when a DST change
/// skips midnight).
fn local_day_start(tz: chrono_tz::Tz, d: chrono::NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..48)
        .find_map(|q| {
            tz.from_local_datetime(&(midnight + chrono::Duration::minutes(15 * q)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The UTC instants `[start, end)` that hold the local business days `from..=to` in `tz`:
/// an entry at 23:30 UTC on Nov 30 belongs to Dec 1 in Asia/Dhaka (UTC+6).
pub fn local_day_range(
    tz: chrono_tz::Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let after = to.succ_opt().unwrap_or(to);
    (local_day_start(tz, from), local_day_start(tz, after))
}

/// Newest first, filtered by actor, action (prefix), UTC date (`on`) and instants
/// (`since`, `before`: a local business day through [`local_day_range`]).
pub async fn list(store: &Store, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let mut sql = String::from(
        "SELECT id, at, actor, action, target, detail, outcome FROM audit_log WHERE 1=1",
    );
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if f.actor.is_some() {
        sql += &format!(" AND actor = ${}", next());
    }
    if f.action.is_some() {
        sql += &format!(" AND action LIKE ${}", next());
    }
    let (from, to) = match f.on {
        Some(d) => {
            let from = d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            (Some(from), Some(from + chrono::Duration::days(1)))
        }
        None => (None, None),
    };
    if from.is_some() {
        sql += &format!(" AND at >= ${} AND at < ${}", next(), next());
    }
    if f.since.is_some() {
        sql += &format!(" AND at >= ${}", next());
    }
    if f.before.is_some() {
        sql += &format!(" AND at < ${}", next());
    }
    let limit = if f.limit <= 0 { 100 } else { f.limit };
    sql += &format!(" ORDER BY id DESC LIMIT {limit} OFFSET {}", f.offset.max(0));
    let rows = on_store!(store, |p| {
        let mut q = sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(a) = &f.actor {
            q = q.bind(a);
        }
        if let Some(a) = &f.action {
            q = q.bind(format!("{a}%"));
        }
        if let (Some(a), Some(b)) = (from, to) {
            q = q.bind(a).bind(b);
        }
        if let Some(a) = f.since {
            q = q.bind(a);
        }
        if let Some(b) = f.before {
            q = q.bind(b);
        }
        q.fetch_all(p).await?
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn a_local_day_is_the_utc_range_of_its_wall_clock() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let (start, end) = local_day_range(chrono_tz::Asia::Dhaka, d(12, 1), d(12, 1));
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 30, 18, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap());
        // 23:30 UTC on Nov 30 is 05:30 on Dec 1 in Dhaka: inside
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert!(start <= late && late < end);
        // a day whose midnight DST skips starts at the first minute that exists
        let (start, _) = local_day_range(chrono_tz::America::Santiago, d(9, 6), d(9, 6));
        assert_eq!(
            start
                .with_timezone(&chrono_tz::America::Santiago)
                .date_naive(),
            d(9, 6)
        );
    }
}
