//! Organizations (each somiti) and their field workers, plus the calendar rules that hang
//! off an organization: its timezone, business date and collection days.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::validate;
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organization {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub address: String,
    pub contact_person: String,
    pub mobile: String,
    pub email: String,
    pub timezone: String,
    pub collection_days: String,
    pub created_at: DateTime<Utc>,
}

/// Every column of `organizations`, from `backup::schema::TABLES`.
pub static ORG_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("organizations");

/// Every day but Friday, as most somitis collect.
pub const DEFAULT_COLLECTION_DAYS: &str = "sat,sun,mon,tue,wed,thu";

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// Which weekdays installments fall due on, indexed by `Weekday::num_days_from_monday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionDays([bool; 7]);

impl CollectionDays {
    pub fn parse(s: &str) -> Result<CollectionDays> {
        let mut days = [false; 7];
        for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            if part.is_empty() {
                continue;
            }
            let wd = WEEKDAYS
                .iter()
                .find(|(n, _)| part.starts_with(n))
                .map(|(_, w)| *w)
                .ok_or_else(|| {
                    Error::invalid(
                        "collection_days",
                        format!("{part:?} is not a weekday; use mon,tue,wed,thu,fri,sat,sun"),
                    )
                })?;
            days[wd.num_days_from_monday() as usize] = true;
        }
        if !days.contains(&true) {
            return Err(Error::invalid(
                "collection_days",
                "must name at least one weekday",
            ));
        }
        Ok(CollectionDays(days))
    }

    pub fn is_collection_day(&self, d: NaiveDate) -> bool {
        self.0[d.weekday().num_days_from_monday() as usize]
    }

    /// Number of collection days in `from..=to` (0 when `to < from`), in O(1).
    pub fn count_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return 0;
        }
        let total = (to - from).num_days() + 1;
        let per_week = self.0.iter().filter(|d| **d).count() as i64;
        let mut n = (total / 7) * per_week;
        let start = from.weekday().num_days_from_monday() as i64;
        for i in 0..(total % 7) {
            if self.0[((start + i) % 7) as usize] {
                n += 1;
            }
        }
        n
    }

    /// The `n`-th collection day (1-based) on or after `from`, in O(1): the inverse of
    /// [`count_between`](Self::count_between) (`count_between(from, nth_from(from, n)) == n`).
    pub fn nth_from(&self, from: NaiveDate, n: i64) -> NaiveDate {
        let per_week = self.0.iter().filter(|d| **d).count() as i64;
        let n = n.max(1);
        let weeks = (n - 1) / per_week;
        let mut left = n - weeks * per_week;
        let mut d = from + chrono::Days::new((weeks * 7) as u64);
        loop {
            if self.is_collection_day(d) {
                left -= 1;
                if left == 0 {
                    return d;
                }
            }
            d = d.succ_opt().unwrap_or(d);
        }
    }
}

impl Organization {
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Dhaka)
    }

    /// Today's business date in the organization's timezone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.tz()).date_naive()
    }

    /// The business date an instant falls on, in the organization's timezone.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz()).date_naive()
    }

    /// An instant on the organization's wall clock. Every time the console or the command
    /// line shows is this one; the column says which clock once, with [`Self::tz_label`].
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.tz())
    }

    /// The clock this organization's times are shown on.
    pub fn clock(&self) -> Clock {
        Clock(self.tz())
    }

    /// An instant as `2026-12-01 18:30` on the organization's clock.
    pub fn local_minute(&self, at: DateTime<Utc>) -> String {
        self.clock().minute(at)
    }

    /// An instant as `2026-12-01 18:30:05` on the organization's clock.
    pub fn local_second(&self, at: DateTime<Utc>) -> String {
        self.clock().second(at)
    }

    /// The clock's short name for a column heading: `Dhaka` for `Asia/Dhaka`, `UTC` for `UTC`.
    pub fn tz_label(&self) -> String {
        tz_label(self.tz())
    }

    pub fn collection_days(&self) -> CollectionDays {
        CollectionDays::parse(&self.collection_days)
            .unwrap_or_else(|_| CollectionDays::parse(DEFAULT_COLLECTION_DAYS).expect("default"))
    }
}

/// The clock every time on screen is shown on: an organization's timezone, or UTC where no
/// organization is chosen. The console and the command line both show times through it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock(pub Tz);

impl Clock {
    /// The organization's clock, or UTC without one.
    pub fn of(org: Option<&Organization>) -> Clock {
        org.map_or(Clock(chrono_tz::UTC), Organization::clock)
    }

    /// `2026-12-01 18:30` on this clock.
    pub fn minute(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// `2026-12-01 18:30:05` on this clock.
    pub fn second(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// `Dhaka` (for a heading such as `Created (Dhaka)`).
    pub fn label(&self) -> String {
        tz_label(self.0)
    }
}

/// A zone's short name for a column heading: the last part of its name, underscores as
/// spaces (`America/New_York` → `New York`).
pub fn tz_label(tz: Tz) -> String {
    let name = tz.name();
    name.rsplit('/').next().unwrap_or(name).replace('_', " ")
}

#[derive(Debug, Clone, Default)]
pub struct NewOrganization {
    pub code: String,
    pub name: String,
    pub address: String,
    pub contact_person: String,
    pub mobile: String,
    pub email: String,
    pub timezone: Option<String>,
    pub collection_days: Option<String>,
}

/// Check and normalise an organization's fields.
pub fn validate_org(o: &NewOrganization) -> Result<NewOrganization> {
    let code = o.code.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > 16
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid(
            "org_code",
            format!(
                "must be 1-16 letters, digits, '-' or '_' (got {:?})",
                o.code
            ),
        ));
    }
    let name = validate::required("org_name", &o.name)?;
    let tz = o.timezone.clone().unwrap_or_else(|| "Asia/Dhaka".into());
    if tz.parse::<Tz>().is_err() {
        return Err(Error::invalid(
            "timezone",
            format!("{tz:?} is not an IANA timezone such as Asia/Dhaka"),
        ));
    }
    let days = o
        .collection_days
        .clone()
        .unwrap_or_else(|| DEFAULT_COLLECTION_DAYS.into());
    CollectionDays::parse(&days)?;
    let mobile = if o.mobile.trim().is_empty() {
        String::new()
    } else {
        validate::mobile(&o.mobile)?
    };
    Ok(NewOrganization {
        code,
        name,
        address: o.address.trim().into(),
        contact_person: o.contact_person.trim().into(),
        mobile,
        email: o.email.trim().into(),
        timezone: Some(tz),
        collection_days: Some(days),
    })
}

/// Create an organization without a permission check (init and demo only).
pub async fn insert_unchecked(
    store: &Store,
    actor: &str,
    o: &NewOrganization,
) -> Result<Organization> {
    let o = validate_org(o)?;
    if find_by_code(store, &o.code).await?.is_some() {
        return Err(Error::invalid(
            "org_code",
            format!("{} already exists", o.code),
        ));
    }
    let mut tx = store.begin().await?;
    let sql = format!(
        "INSERT INTO organizations (code, name, address, contact_person, mobile, email, timezone, collection_days, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {ORG_COLS}"
    );
    let org = on_tx!(&mut tx, |c| sqlx::query_as::<_, Organization>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(&o.code)
    .bind(&o.name)
    .bind(&o.address)
    .bind(&o.contact_person)
    .bind(&o.mobile)
    .bind(&o.email)
    .bind(o.timezone.as_deref().unwrap_or("Asia/Dhaka"))
    .bind(
        o.collection_days
            .as_deref()
            .unwrap_or(DEFAULT_COLLECTION_DAYS)
    )
    .bind(crate::db::now_micros())
    .fetch_one(&mut *c)
    .await?);
    audit::record_tx(
        &mut tx,
        actor,
        "org.add",
        &org.code,
        serde_json::json!({ "name": org.name }),
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

pub async fn add(store: &Store, op: &Operator, o: &NewOrganization) -> Result<Organization> {
    require(
        store,
        op,
        Permission::ManageOrganizations,
        None,
        "org.add",
        &o.code,
    )
    .await?;
    let r = insert_unchecked(store, &op.username, o).await;
    audit::record_if_failed(store, &op.username, "org.add", &o.code, r).await
}

pub async fn find_by_code(store: &Store, code: &str) -> Result<Option<Organization>> {
    let sql = format!("SELECT {ORG_COLS} FROM organizations WHERE code = $1");
    let code = code.trim().to_ascii_uppercase();
    Ok(on_store!(store, |p| sqlx::query_as::<_, Organization>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(&code)
    .fetch_optional(p)
    .await?))
}

pub async fn get(store: &Store, id: i64) -> Result<Organization> {
    let sql = format!("SELECT {ORG_COLS} FROM organizations WHERE id = $1");
    on_store!(store, |p| sqlx::query_as::<_, Organization>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(id)
    .fetch_optional(p)
    .await?)
    .ok_or_else(|| Error::NotFound(format!("organization #{id}")))
}

pub async fn list(store: &Store) -> Result<Vec<Organization>> {
    let sql = format!("SELECT {ORG_COLS} FROM organizations ORDER BY code");
    Ok(on_store!(store, |p| sqlx::query_as::<_, Organization>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_all(p)
    .await?))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Worker {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub mobile: String,
    /// A deactivated worker keeps the members they have but gets no new ones.
    pub active: bool,
    /// Bumped by every change (edits name the version they started from).
    #[sqlx(default)]
    pub version: i64,
    #[sqlx(default)]
    pub updated_by: Option<String>,
    #[sqlx(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every column of `workers`, from `backup::schema::TABLES`.
pub static WORKER_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("workers");

pub async fn workers(store: &Store, org_id: i64) -> Result<Vec<Worker>> {
    let sql = format!("SELECT {WORKER_COLS} FROM workers WHERE org_id = $1 ORDER BY id");
    Ok(on_store!(store, |p| sqlx::query_as::<_, Worker>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org_id)
    .fetch_all(p)
    .await?))
}

pub async fn add_worker(
    store: &Store,
    op: &Operator,
    org: &Organization,
    name: &str,
    mobile: &str,
) -> Result<Worker> {
    require(
        store,
        op,
        Permission::ManageMembers,
        Some(org.id),
        "worker.add",
        name,
    )
    .await?;
    let r = add_worker_checked(store, op, org, name, mobile).await;
    audit::record_if_failed(store, &op.username, "worker.add", name, r).await
}

async fn add_worker_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    name: &str,
    mobile: &str,
) -> Result<Worker> {
    let name = validate::required("worker name", name)?;
    let mobile = if mobile.trim().is_empty() {
        String::new()
    } else {
        validate::mobile(mobile)?
    };
    let mut tx = store.begin().await?;
    let sql = format!(
        "INSERT INTO workers (org_id, name, mobile, active) VALUES ($1, $2, $3, $4) RETURNING {WORKER_COLS}"
    );
    let w = on_tx!(&mut tx, |c| sqlx::query_as::<_, Worker>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .bind(&name)
    .bind(&mobile)
    .bind(true)
    .fetch_one(&mut *c)
    .await?);
    audit::record_tx(
        &mut tx,
        &op.username,
        "worker.add",
        &format!("{}/{}", org.code, w.id),
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

/// Find a worker of the organization by id or (case-insensitive) name.
pub async fn find_worker(store: &Store, org_id: i64, key: &str) -> Result<Worker> {
    let all = workers(store, org_id).await?;
    let key = key.trim();
    all.into_iter()
        .find(|w| w.id.to_string() == key || w.name.eq_ignore_ascii_case(key))
        .ok_or_else(|| Error::invalid("worker", format!("no worker {key:?} in this organization")))
}

/// What `edit_worker` changes: `None` keeps the field as it is.
#[derive(Debug, Clone, Default)]
pub struct WorkerEdit {
    pub name: Option<String>,
    pub mobile: Option<String>,
}

/// Change a worker's name or mobile. The worker is read and written in one transaction;
/// `expect_version` (a script's guard, or the version a form showed) refuses the edit with
/// `Error::Stale` when the row changed since.
pub async fn edit_worker(
    store: &Store,
    op: &Operator,
    org: &Organization,
    key: &str,
    edit: &WorkerEdit,
    expect_version: Option<i64>,
) -> Result<Worker> {
    let target = format!("{}/{}", org.code, key.trim());
    require(
        store,
        op,
        Permission::ManageMembers,
        Some(org.id),
        "worker.edit",
        &target,
    )
    .await?;
    let r = change_worker(
        store,
        op,
        org,
        key,
        expect_version,
        "worker.edit",
        |w, all| {
            if let Some(name) = &edit.name {
                let name = validate::required("name", name)?;
                if let Some(other) = all
                    .iter()
                    .find(|o| o.id != w.id && o.name.eq_ignore_ascii_case(&name))
                {
                    return Err(Error::invalid(
                        "name",
                        format!(
                            "worker {} in {} is already called {:?}; choose another name",
                            other.id, org.code, other.name
                        ),
                    ));
                }
                w.name = name;
            }
            if let Some(mobile) = &edit.mobile {
                w.mobile = if mobile.trim().is_empty() {
                    String::new()
                } else {
                    validate::mobile(mobile)?
                };
            }
            Ok(())
        },
    )
    .await;
    audit::record_if_failed(store, &op.username, "worker.edit", &target, r).await
}

/// Deactivate a worker (`active = false`) or take them back (`true`). A deactivated worker
/// keeps the members they have; no member can be given to them until they are active again.
pub async fn set_worker_active(
    store: &Store,
    op: &Operator,
    org: &Organization,
    key: &str,
    active: bool,
    expect_version: Option<i64>,
) -> Result<Worker> {
    let action = if active {
        "worker.activate"
    } else {
        "worker.deactivate"
    };
    let target = format!("{}/{}", org.code, key.trim());
    require(
        store,
        op,
        Permission::ManageMembers,
        Some(org.id),
        action,
        &target,
    )
    .await?;
    let r = change_worker(store, op, org, key, expect_version, action, |w, _| {
        if w.active == active {
            return Err(Error::invalid(
                "worker",
                format!(
                    "{} ({}) is already {}",
                    w.name,
                    w.id,
                    if active { "active" } else { "deactivated" }
                ),
            ));
        }
        w.active = active;
        Ok(())
    })
    .await;
    audit::record_if_failed(store, &op.username, action, &target, r).await
}

/// Read the worker in a write transaction, let `apply` change it, write it back with the
/// version bumped, guarded by the version read (or the one expected).
async fn change_worker(
    store: &Store,
    op: &Operator,
    org: &Organization,
    key: &str,
    expect_version: Option<i64>,
    action: &str,
    apply: impl FnOnce(&mut Worker, &[Worker]) -> Result<()>,
) -> Result<Worker> {
    let mut tx = store.begin().await?;
    let sql = format!("SELECT {WORKER_COLS} FROM workers WHERE org_id = $1 ORDER BY id");
    let all: Vec<Worker> = on_tx!(&mut tx, |c| sqlx::query_as::<_, Worker>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .fetch_all(&mut *c)
    .await?);
    let k = key.trim();
    let before = all
        .iter()
        .find(|w| w.id.to_string() == k || w.name.eq_ignore_ascii_case(k))
        .cloned()
        .ok_or_else(|| {
            Error::NotFound(format!(
                "worker {k:?} in {}; `somiti worker list` shows the workers",
                org.code
            ))
        })?;
    let stale = |w: &Worker| {
        crate::ledger::member::stale(
            org,
            format!("worker {} ({})", w.name, w.id),
            w.updated_by.as_deref(),
            w.updated_at,
        )
    };
    if let Some(v) = expect_version
        && v != before.version
    {
        return Err(stale(&before));
    }
    let mut after = before.clone();
    apply(&mut after, &all)?;
    let sql = format!(
        "UPDATE workers SET name = $1, mobile = $2, active = $3, version = version + 1, \
         updated_by = $4, updated_at = $5 WHERE id = $6 AND version = $7 RETURNING {WORKER_COLS}"
    );
    let saved = on_tx!(&mut tx, |c| sqlx::query_as::<_, Worker>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(&after.name)
    .bind(&after.mobile)
    .bind(after.active)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .bind(before.id)
    .bind(before.version)
    .fetch_optional(&mut *c)
    .await?);
    let Some(saved) = saved else {
        return Err(stale(&before));
    };
    audit::record_tx(
        &mut tx,
        &op.username,
        action,
        &format!("{}/{}", org.code, saved.id),
        serde_json::json!({
            "before": { "name": before.name, "mobile": before.mobile, "active": before.active },
            "after": { "name": saved.name, "mobile": saved.mobile, "active": saved.active },
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_labels_and_local_times() {
        assert_eq!(tz_label(chrono_tz::Asia::Dhaka), "Dhaka");
        assert_eq!(tz_label(chrono_tz::America::New_York), "New York");
        assert_eq!(tz_label(chrono_tz::UTC), "UTC");
        let at = DateTime::parse_from_rfc3339("2026-12-01T18:30:05Z")
            .unwrap()
            .to_utc();
        let dhaka = chrono_tz::Asia::Dhaka;
        assert_eq!(
            at.with_timezone(&dhaka).format("%H:%M").to_string(),
            "00:30"
        );
    }

    #[test]
    fn counts_collection_days_without_fridays() {
        let days = CollectionDays::parse(DEFAULT_COLLECTION_DAYS).unwrap();
        // 2026-11-20 is a Friday.
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert!(!days.is_collection_day(fri));
        let from = NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(); // Monday
        let to = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(); // Sunday, two weeks
        assert_eq!(days.count_between(from, to), 12);
        assert_eq!(days.count_between(to, from), 0);
        assert_eq!(days.count_between(fri, fri), 0);
        // brute force agrees on an odd span
        let (a, b) = (from, NaiveDate::from_ymd_opt(2027, 2, 3).unwrap());
        let brute = a
            .iter_days()
            .take_while(|d| *d <= b)
            .filter(|d| days.is_collection_day(*d))
            .count() as i64;
        assert_eq!(days.count_between(a, b), brute);
    }

    #[test]
    fn bad_weekday_is_named() {
        let e = CollectionDays::parse("mon,funday").unwrap_err().to_string();
        assert!(e.contains("funday"), "{e}");
    }
}
