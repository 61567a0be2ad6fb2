//! The append-only audit log: one entry for every change and every refused or failed
//! attempt, with actor, action, target, detail (JSON) and outcome.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::db::{Store, Tx};
use crate::error::{Error, Result};
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

impl AuditEntry {
    /// The attempt was refused or failed (an outcome other than `ok`).
    pub fn went_wrong(&self) -> bool {
        self.outcome == Outcome::Refused.as_str() || self.outcome == Outcome::Failed.as_str()
    }
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
    /// One business date, on the clock `tz`.
    pub on: Option<chrono::NaiveDate>,
    /// The clock `on` is read on (an organization's `tz()`); `None` is UTC.
    pub tz: Option<Tz>,
    pub limit: i64,
    pub offset: i64,
}

/// Newest first, filtered by actor, action (prefix) and one business date on the clock
/// `f.tz` (the console's audit filter); [`query`] takes a range of days.
pub async fn list(store: &Store, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    query(
        store,
        &AuditQuery {
            actor: f.actor.clone(),
            action: f.action.clone(),
            from: f.on,
            to: f.on,
            tz: f.tz.unwrap_or(chrono_tz::UTC),
            limit: f.limit,
            offset: f.offset,
        },
    )
    .await
}

/// What to list from the audit log: an actor (exact login), an action (prefix, e.g.
/// `collection.` or `backup`), and business days `from ..= to` on the clock `tz` (an
/// organization's timezone: `Organization::tz()`). `limit` 0 means 100.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub tz: Tz,
    pub limit: i64,
    pub offset: i64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            actor: None,
            action: None,
            from: None,
            to: None,
            tz: chrono_tz::Asia::Dhaka,
            limit: 0,
            offset: 0,
        }
    }
}

/// The first instant of a local day (midnight, or the first minute after it when a
/// daylight-saving change skips midnight).
fn start_of_day(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(NaiveTime::MIN);
    (0..=180)
        .step_by(15)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The instants `[start, end)` that the local business days `from ..= to` cover on the
/// clock `tz`: Dec 1 in Dhaka is Nov 30 18:00 UTC up to Dec 1 18:00 UTC. Either end may be
/// open. (The console's audit filter and `somiti audit` both use this.)
pub fn local_days_utc(
    tz: Tz,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let start = from.map(|d| start_of_day(tz, d));
    let end = to
        .and_then(|d| d.succ_opt())
        .map(|next| start_of_day(tz, next));
    (start, end)
}

/// `text` as a LIKE pattern that matches it literally, as a prefix (`\` escapes).
fn like_prefix(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Newest first, filtered by actor, action prefix and local business days (see
/// [`AuditQuery`]). A `from` after `to` is refused, naming both.
pub async fn query(store: &Store, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(Error::invalid(
            "from",
            format!("{from} is after --to {to}; give the earlier date first"),
        ));
    }
    let mut sql = String::from(
        "SELECT id, at, actor, action, target, detail, outcome FROM audit_log WHERE 1=1",
    );
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if q.actor.is_some() {
        sql += &format!(" AND actor = ${}", next());
    }
    if q.action.is_some() {
        sql += &format!(" AND action LIKE ${} ESCAPE '\\'", next());
    }
    let (start, end) = local_days_utc(q.tz, q.from, q.to);
    if start.is_some() {
        sql += &format!(" AND at >= ${}", next());
    }
    if end.is_some() {
        sql += &format!(" AND at < ${}", next());
    }
    let limit = if q.limit <= 0 { 100 } else { q.limit };
    sql += &format!(" ORDER BY id DESC LIMIT {limit} OFFSET {}", q.offset.max(0));
    let rows = on_store!(store, |p| {
        let mut s = sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(sql.as_str()));
        if let Some(a) = &q.actor {
            s = s.bind(a.trim());
        }
        if let Some(a) = &q.action {
            s = s.bind(like_prefix(a.trim()));
        }
        if let Some(t) = start {
            s = s.bind(t);
        }
        if let Some(t) = end {
            s = s.bind(t);
        }
        s.fetch_all(p).await?
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dhaka_day_starts_at_18_utc_the_day_before() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (a, b) = local_days_utc(
            chrono_tz::Asia::Dhaka,
            Some(d("2026-12-01")),
            Some(d("2026-12-01")),
        );
        assert_eq!(a.unwrap().to_rfc3339(), "2026-11-30T18:00:00+00:00");
        assert_eq!(b.unwrap().to_rfc3339(), "2026-12-01T18:00:00+00:00");
        // A spring-forward at midnight (Havana, 2026-03-08): the day starts at 01:00.
        let (a, _) = local_days_utc(chrono_tz::America::Havana, Some(d("2026-03-08")), None);
        assert_eq!(a.unwrap().to_rfc3339(), "2026-03-08T05:00:00+00:00");
    }

    #[test]
    fn an_action_prefix_matches_underscores_and_percents_literally() {
        assert_eq!(like_prefix("a_b%"), "a\\_b\\%%");
    }
}
