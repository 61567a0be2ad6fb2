//! Members of an organization: validation, add, edit, the paged register with derived
//! balances (loan outstanding, savings balance, arrears), and one member's detail.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::org::{self, Organization};
use crate::ledger::{balance, validate};
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub org_id: i64,
    pub member_no: String,
    pub name: String,
    pub nid: String,
    pub mobile: String,
    pub worker_id: Option<i64>,
    /// The savings plan: what falls due on each collection day (money itself is in the
    /// member's accounts: `ledger::loan`, `ledger::savings`).
    pub daily_savings: i64,
    pub status: String,
    pub joined_on: NaiveDate,
    /// Bumped by every change; an edit names the version it started from (`update`).
    #[sqlx(default)]
    pub version: i64,
    /// Who made the last change, and when (none until the first edit).
    #[sqlx(default)]
    pub updated_by: Option<String>,
    #[sqlx(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every column of `members`, from `backup::schema::TABLES`.
pub static MEMBER_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("members");

/// A member as typed or imported, before validation. Money in poisha.
#[derive(Debug, Clone, Default)]
pub struct MemberInput {
    pub member_no: String,
    pub name: String,
    pub nid: String,
    pub mobile: String,
    /// Worker id or name; empty for none.
    pub worker: String,
    /// A first loan, disbursed on the day the member joins (adding and importing only; an
    /// edit never changes money: `loan::disburse` gives the next loan).
    pub loan_amount: i64,
    pub daily_installment: i64,
    pub daily_savings: i64,
    pub status: Option<String>,
    pub joined_on: Option<NaiveDate>,
}

/// A member that passed every field rule (uniqueness is checked against the database).
#[derive(Debug, Clone)]
pub struct ValidMember {
    pub member_no: String,
    pub name: String,
    pub nid: String,
    pub mobile: String,
    pub worker_id: Option<i64>,
    pub loan_amount: i64,
    pub daily_installment: i64,
    pub daily_savings: i64,
    pub status: String,
    pub joined_on: NaiveDate,
}

/// The statuses a form or an import may set. `closed` is not one of them: a member is
/// closed by [`close`], which settles the loan and pays the savings out first.
pub const SETTABLE_STATUSES: [&str; 2] = ["active", "inactive"];

/// A status as the database may hold it (`closed` only by the close procedure).
pub fn is_stored_status(s: &str) -> bool {
    matches!(s, "active" | "inactive" | "closed")
}

pub fn check_status(s: &str) -> Result<String> {
    let s = s.trim().to_ascii_lowercase();
    match s.as_str() {
        "active" | "inactive" => Ok(s),
        "closed" => Err(Error::invalid(
            "status",
            "a member is closed by `somiti member close NO` (or Close in the console), which settles the loan and pays the savings out first",
        )),
        _ => Err(Error::invalid(
            "status",
            format!("must be active or inactive (got {s:?})"),
        )),
    }
}

/// Check every field; return all problems, not only the first.
pub fn validate_fields(
    input: &MemberInput,
    org: &Organization,
    workers: &[org::Worker],
) -> std::result::Result<ValidMember, Vec<Error>> {
    let mut errs = Vec::new();
    let mut keep = |r: Result<String>| match r {
        Ok(v) => v,
        Err(e) => {
            errs.push(e);
            String::new()
        }
    };
    let member_no = keep(validate::required(
        "member_no",
        &validate::normalize_digits(&input.member_no),
    ));
    let name = keep(validate::required("name", &input.name));
    let nid = keep(validate::nid(&input.nid));
    let mobile = keep(validate::mobile(&input.mobile));
    let status = keep(check_status(input.status.as_deref().unwrap_or("active")));
    let worker_key = input.worker.trim();
    let worker_id = if worker_key.is_empty() {
        None
    } else {
        match workers
            .iter()
            .find(|w| w.id.to_string() == worker_key || w.name.eq_ignore_ascii_case(worker_key))
        {
            Some(w) if !w.active => {
                errs.push(Error::invalid(
                    "worker",
                    format!(
                        "{} ({}) is deactivated and takes no new members; choose an active worker",
                        w.name, w.id
                    ),
                ));
                None
            }
            Some(w) => Some(w.id),
            None => {
                errs.push(Error::invalid(
                    "worker",
                    format!("no worker {worker_key:?} in {}", org.code),
                ));
                None
            }
        }
    };
    for (field, v) in [
        ("loan_amount", input.loan_amount),
        ("daily_installment", input.daily_installment),
        ("daily_savings", input.daily_savings),
    ] {
        if v < 0 {
            errs.push(Error::invalid(field, "must not be negative"));
        }
    }
    if input.loan_amount > 0 && input.daily_installment == 0 {
        errs.push(Error::invalid(
            "daily_installment",
            "must be more than zero when there is a loan",
        ));
    }
    let today = org.today();
    let joined_on = input.joined_on.unwrap_or(today);
    if joined_on > today {
        errs.push(Error::invalid(
            "joined_on",
            format!("{joined_on} is in the future (today is {today})"),
        ));
    }
    if errs.is_empty() {
        Ok(ValidMember {
            member_no,
            name,
            nid,
            mobile,
            worker_id,
            loan_amount: input.loan_amount,
            daily_installment: input.daily_installment,
            daily_savings: input.daily_savings,
            status,
            joined_on,
        })
    } else {
        Err(errs)
    }
}

fn first_error(mut errs: Vec<Error>) -> Error {
    if errs.len() == 1 {
        errs.remove(0)
    } else {
        Error::InvalidMany(errs.into_iter().map(|e| e.to_string()).collect())
    }
}

/// Uniqueness problems for a member: member_no in the organization, NID anywhere.
/// `except_id` skips the member being edited.
pub async fn uniqueness_problems(
    store: &Store,
    org_id: i64,
    member_no: &str,
    nid: &str,
    except_id: Option<i64>,
) -> Result<Vec<Error>> {
    let except = except_id.unwrap_or(-1);
    let (no_taken, nid_owner): (i64, Option<String>) = on_store!(store, |p| {
        let a = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM members WHERE org_id = $1 AND member_no = $2 AND id <> $3",
        )
        .bind(org_id)
        .bind(member_no)
        .bind(except)
        .fetch_one(p)
        .await?;
        let b = sqlx::query_scalar::<_, String>(
            "SELECT o.code || '/' || m.member_no FROM members m JOIN organizations o ON o.id = m.org_id \
             WHERE m.nid = $1 AND m.id <> $2",
        )
        .bind(nid)
        .bind(except)
        .fetch_optional(p)
        .await?;
        (a, b)
    });
    let mut errs = Vec::new();
    if no_taken > 0 {
        errs.push(Error::invalid(
            "member_no",
            format!("{member_no} is already used in this organization"),
        ));
    }
    if let Some(owner) = nid_owner {
        errs.push(Error::invalid(
            "nid",
            format!("{nid} already belongs to member {owner}"),
        ));
    }
    Ok(errs)
}

pub async fn add(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &MemberInput,
) -> Result<Member> {
    let target = format!("{}/{}", org.code, input.member_no.trim());
    require(
        store,
        op,
        Permission::ManageMembers,
        Some(org.id),
        "member.add",
        &target,
    )
    .await?;
    let result = add_checked(store, op, org, input).await;
    if let Err(e) = &result {
        audit::record(
            store,
            &op.username,
            "member.add",
            &target,
            serde_json::json!({ "error": e.to_string() }),
            audit::Outcome::Failed,
        )
        .await?;
    }
    result
}

async fn add_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &MemberInput,
) -> Result<Member> {
    let workers = org::workers(store, org.id).await?;
    let m = validate_fields(input, org, &workers).map_err(first_error)?;
    let dup = uniqueness_problems(store, org.id, &m.member_no, &m.nid, None).await?;
    if !dup.is_empty() {
        return Err(first_error(dup));
    }
    let mut tx = store.begin().await?;
    // A first loan is a disbursement on the joining day: refused on a closed day.
    if m.loan_amount > 0 {
        crate::ledger::day::refuse_if_closed(&mut tx, org, m.joined_on).await?;
    }
    let member = insert_tx(&mut tx, org.id, &m, &op.username).await?;
    audit::record_tx(
        &mut tx,
        &op.username,
        "member.add",
        &format!("{}/{}", org.code, member.member_no),
        serde_json::json!({ "name": member.name, "nid": member.nid }),
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// Insert one validated member inside a transaction (imports reuse this), with an empty
/// savings account and, when the input has one, a first loan disbursed on joining.
pub async fn insert_tx(
    tx: &mut crate::db::Tx,
    org_id: i64,
    m: &ValidMember,
    by: &str,
) -> Result<Member> {
    let sql = format!(
        "INSERT INTO members (org_id, member_no, name, nid, mobile, worker_id, daily_savings, status, joined_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MEMBER_COLS}"
    );
    let res = on_tx!(tx, |c| sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(org_id)
    .bind(&m.member_no)
    .bind(&m.name)
    .bind(&m.nid)
    .bind(&m.mobile)
    .bind(m.worker_id)
    .bind(m.daily_savings)
    .bind(&m.status)
    .bind(m.joined_on)
    .fetch_one(&mut *c)
    .await);
    let member = res.map_err(|e| {
        let e = Error::from(e);
        if e.is_unique_violation() {
            Error::invalid(
                "member_no/nid",
                format!("member {} or NID {} already exists", m.member_no, m.nid),
            )
        } else {
            e
        }
    })?;
    crate::ledger::savings::apply_tx(
        tx,
        org_id,
        member.id,
        0,
        0,
        crate::ledger::savings::LastPaid::Unchanged,
    )
    .await?;
    if m.loan_amount > 0 {
        crate::ledger::loan::insert_first_tx(
            tx,
            org_id,
            member.id,
            m.joined_on,
            m.loan_amount,
            m.daily_installment,
            by,
        )
        .await?;
    }
    Ok(member)
}

/// Insert many validated members inside a transaction through the one bulk loader
/// (`db::dialect::insert_rows`: multi-row INSERTs on SQLite, `COPY` on PostgreSQL), so an
/// import of 10,000 members is one transaction without 10,000 round trips.
pub async fn insert_many_tx(
    tx: &mut crate::db::Tx,
    org_id: i64,
    members: &[ValidMember],
    by: &str,
) -> Result<u64> {
    use crate::backup::schema::{self, Val};
    use crate::db::dialect;
    // The members table's columns after `id` (the database gives the ids), in its order.
    let spec = dialect::without_id(schema::spec("members").expect("members is a backup table"));
    let text = |s: &str| Val::Text(s.to_string());
    let rows = members
        .iter()
        .map(|m| {
            vec![
                Val::Int(org_id),
                text(&m.member_no),
                text(&m.name),
                text(&m.nid),
                text(&m.mobile),
                m.worker_id.map_or(Val::Null, Val::Int),
                Val::Int(m.daily_savings),
                text(&m.status),
                Val::Text(m.joined_on.format("%Y-%m-%d").to_string()),
            ]
        })
        .collect();
    dialect::insert_rows(tx, &spec, rows).await.map_err(|e| {
        if e.is_unique_violation() {
            Error::invalid(
                "member_no/nid",
                "a member number or NID was taken while the import ran; nothing was imported, run it again",
            )
        } else {
            e
        }
    })?;
    // Each new member's savings account, and the first loans, by the same loader.
    let numbers: std::collections::HashMap<&str, &ValidMember> =
        members.iter().map(|m| (m.member_no.as_str(), m)).collect();
    let ids: Vec<(i64, String)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT id, member_no FROM members WHERE org_id = $1 AND id NOT IN (SELECT member_id FROM savings_accounts)"
    )
    .bind(org_id)
    .fetch_all(&mut *c)
    .await?
    });
    let mut accounts = Vec::new();
    let mut first_loans = Vec::new();
    for (id, no) in ids {
        let Some(m) = numbers.get(no.as_str()) else {
            continue;
        };
        accounts.push(vec![
            Val::Int(id),
            Val::Int(org_id),
            Val::Int(0),
            Val::Int(0),
            Val::Null,
        ]);
        if m.loan_amount > 0 {
            first_loans.push((id, m.joined_on, m.loan_amount, m.daily_installment));
        }
    }
    let spec_accounts = schema::spec("savings_accounts").expect("an archived table");
    dialect::insert_rows(tx, spec_accounts, accounts).await?;
    for (id, joined_on, amount, installment) in first_loans {
        crate::ledger::loan::insert_first_tx(tx, org_id, id, joined_on, amount, installment, by)
            .await?;
    }
    Ok(members.len() as u64)
}

/// Change a member's details (not their collections). Every field is checked again.
/// `version` is the member's version the editor started from: when the row changed since,
/// the edit is refused with `Error::Stale` naming who changed it and when, and nothing is
/// written (optimistic concurrency: two consoles cannot overwrite each other silently).
pub async fn update(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_id: i64,
    version: i64,
    input: &MemberInput,
) -> Result<Member> {
    let before = get(store, member_id).await?;
    let target = format!("{}/{}", org.code, before.member_no);
    require(
        store,
        op,
        Permission::ManageMembers,
        Some(org.id),
        "member.edit",
        &target,
    )
    .await?;
    let r = update_checked(store, op, org, &before, version, input, &target).await;
    audit::record_if_failed(store, &op.username, "member.edit", &target, r).await
}

/// The workers a member may be given: the active ones, and the one they have already
/// (a member keeps a worker who was deactivated after they were assigned).
pub fn assignable_workers(mut workers: Vec<org::Worker>, current: Option<i64>) -> Vec<org::Worker> {
    for w in &mut workers {
        if Some(w.id) == current {
            w.active = true;
        }
    }
    workers
}

/// The refusal for an edit made from a copy of a row that has changed since: who made the
/// last change and when, on the organization's clock.
pub fn stale(
    org: &Organization,
    what: String,
    updated_by: Option<&str>,
    updated_at: Option<DateTime<Utc>>,
) -> Error {
    Error::Stale {
        what,
        by: updated_by.unwrap_or("another operator").to_string(),
        at: match updated_at {
            Some(t) => format!("{} ({})", org.local_minute(t), org.tz_label()),
            None => "an unknown time".into(),
        },
    }
}

async fn update_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    before: &Member,
    version: i64,
    input: &MemberInput,
    target: &str,
) -> Result<Member> {
    let member_id = before.id;
    let stale_error = |m: &Member| {
        stale(
            org,
            format!("member {target}"),
            m.updated_by.as_deref(),
            m.updated_at,
        )
    };
    if before.version != version {
        return Err(stale_error(before));
    }
    let workers = assignable_workers(org::workers(store, org.id).await?, before.worker_id);
    let mut input = input.clone();
    input.joined_on = input.joined_on.or(Some(before.joined_on));
    // A closed member stays closed (only the close procedure closes, nothing reopens):
    // their other details may still be corrected.
    let closed = before.status == "closed";
    if closed {
        match input.status.as_deref().map(str::trim) {
            None | Some("closed") => input.status = None,
            Some(other) => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "member {} is closed and stays closed (got {other:?}); a member who comes back joins again under a new number",
                        before.member_no
                    ),
                ));
            }
        }
    }
    let mut m = validate_fields(&input, org, &workers).map_err(first_error)?;
    if closed {
        m.status = "closed".into();
    }
    let dup = uniqueness_problems(store, org.id, &m.member_no, &m.nid, Some(member_id)).await?;
    if !dup.is_empty() {
        return Err(first_error(dup));
    }
    let mut tx = store.begin().await?;
    // The version is checked by the UPDATE itself, so a change that lands between the
    // check above and this statement is caught too.
    let sql = format!(
        "UPDATE members SET member_no = $1, name = $2, nid = $3, mobile = $4, worker_id = $5, \
         daily_savings = $6, status = $7, joined_on = $8, \
         version = version + 1, updated_by = $10, updated_at = $11 \
         WHERE id = $9 AND version = $12 RETURNING {MEMBER_COLS}"
    );
    let after = on_tx!(&mut tx, |c| sqlx::query_as::<_, Member>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(&m.member_no)
    .bind(&m.name)
    .bind(&m.nid)
    .bind(&m.mobile)
    .bind(m.worker_id)
    .bind(m.daily_savings)
    .bind(&m.status)
    .bind(m.joined_on)
    .bind(member_id)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .bind(version)
    .fetch_optional(&mut *c)
    .await?);
    let Some(after) = after else {
        let now = get_tx(&mut tx, member_id).await?;
        tx.rollback().await?;
        return Err(stale_error(&now));
    };
    audit::record_tx(
        &mut tx,
        &op.username,
        "member.edit",
        target,
        serde_json::json!({ "before": before, "after": after }),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The member by id, read inside a write transaction.
pub async fn get_tx(tx: &mut crate::db::Tx, id: i64) -> Result<Member> {
    let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE id = $1");
    on_tx!(tx, |c| sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?)
    .ok_or_else(|| Error::NotFound(format!("member #{id}")))
}

pub async fn get(store: &Store, id: i64) -> Result<Member> {
    let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE id = $1");
    on_store!(store, |p| sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(id)
    .fetch_optional(p)
    .await?)
    .ok_or_else(|| Error::NotFound(format!("member #{id}")))
}

pub async fn find_by_no(store: &Store, org: &Organization, member_no: &str) -> Result<Member> {
    let no = validate::normalize_digits(member_no);
    let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE org_id = $1 AND member_no = $2");
    on_store!(store, |p| sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(org.id)
    .bind(&no)
    .fetch_optional(p)
    .await?)
    .ok_or_else(|| {
        Error::NotFound(format!(
            "member {no} in {}; `somiti member list` shows the members",
            org.code
        ))
    })
}

/// The member by number, read inside a write transaction.
pub async fn find_by_no_tx(
    tx: &mut crate::db::Tx,
    org: &Organization,
    member_no: &str,
) -> Result<Member> {
    let no = validate::normalize_digits(member_no);
    let sql = format!("SELECT {MEMBER_COLS} FROM members WHERE org_id = $1 AND member_no = $2");
    on_tx!(tx, |c| sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .bind(org.id)
    .bind(&no)
    .fetch_optional(&mut *c)
    .await?)
    .ok_or_else(|| {
        Error::NotFound(format!(
            "member {no} in {}; `somiti member list` shows the members",
            org.code
        ))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberSort {
    #[default]
    Number,
    Name,
    Worker,
    Status,
}

impl MemberSort {
    pub fn next(self) -> Self {
        match self {
            MemberSort::Number => MemberSort::Name,
            MemberSort::Name => MemberSort::Worker,
            MemberSort::Worker => MemberSort::Status,
            MemberSort::Status => MemberSort::Number,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            MemberSort::Number => "number",
            MemberSort::Name => "name",
            MemberSort::Worker => "worker",
            MemberSort::Status => "status",
        }
    }
    fn order_by(self) -> &'static str {
        // member_no sorts numerically when it is a number, then as text
        match self {
            MemberSort::Number => "LENGTH(m.member_no), m.member_no",
            MemberSort::Name => "m.name, m.id",
            MemberSort::Worker => "w.name, LENGTH(m.member_no), m.member_no",
            MemberSort::Status => "m.status, LENGTH(m.member_no), m.member_no",
        }
    }
}

/// The register's filter as SQL: `m` is members, `$2` the pattern from `filter_pattern`.
pub const FILTER_SQL: &str =
    " AND (LOWER(m.name) LIKE $2 OR m.member_no LIKE $2 OR m.mobile LIKE $2 OR m.nid LIKE $2)";

/// The LIKE pattern for a register filter (name, number, mobile or NID; Bengali digits
/// accepted), or `None` when there is nothing to filter on.
pub fn filter_pattern(filter: Option<&str>) -> Option<String> {
    filter
        .map(|f| validate::normalize_digits(f).to_lowercase())
        .filter(|f| !f.is_empty())
        .map(|f| format!("%{f}%"))
}

#[derive(Debug, Clone, Default)]
pub struct MemberQuery {
    /// Matches name, member number, mobile or NID (substring, case-insensitive).
    pub filter: Option<String>,
    pub sort: MemberSort,
    pub limit: i64,
    pub offset: i64,
}

/// One row of the register, with balances derived from the collections.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberRow {
    #[serde(flatten)]
    pub member: Member,
    pub worker_name: Option<String>,
    /// The member's loan (the active one, or the latest) and savings account.
    pub accounts: balance::Accounts,
    pub loan_outstanding: i64,
    pub savings_balance: i64,
    pub arrears: i64,
    pub days_in_arrears: i64,
    /// Paid ahead of the past dues (zero when in arrears); never shown as negative arrears.
    pub advance: i64,
}

#[derive(sqlx::FromRow)]
struct RegisterRow {
    #[sqlx(flatten)]
    member: Member,
    worker_name: Option<String>,
}

/// A page of the member register, in the database's order; never loads every row.
pub async fn list(
    store: &Store,
    op: &Operator,
    org: &Organization,
    q: &MemberQuery,
) -> Result<(Vec<MemberRow>, i64)> {
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "member.list",
        &org.code,
    )
    .await?;
    let pattern = filter_pattern(q.filter.as_deref());
    let where_filter = if pattern.is_some() { FILTER_SQL } else { "" };
    let limit = if q.limit <= 0 { 50 } else { q.limit };
    let cols = MEMBER_COLS.qualified("m");
    // The page is chosen first; its members' accounts are read after (running balances,
    // no sums over the history).
    let sql = format!(
        "SELECT {cols}, w.name AS worker_name FROM (\
         SELECT m.* FROM members m LEFT JOIN workers w ON w.id = m.worker_id \
         WHERE m.org_id = $1{where_filter} ORDER BY {order} LIMIT {limit} OFFSET {}) m \
         LEFT JOIN workers w ON w.id = m.worker_id ORDER BY {order}",
        q.offset.max(0),
        order = q.sort.order_by(),
    );
    let count_sql = format!("SELECT COUNT(*) FROM members m WHERE m.org_id = $1{where_filter}");
    let (rows, total) = on_store!(store, |p| {
        let mut rq =
            sqlx::query_as::<_, RegisterRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(org.id);
        let mut cq =
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str())).bind(org.id);
        if let Some(pat) = &pattern {
            rq = rq.bind(pat);
            cq = cq.bind(pat);
        }
        (rq.fetch_all(p).await?, cq.fetch_one(p).await?)
    });
    let today = org.today();
    let days = org.collection_days();
    let ids: Vec<i64> = rows.iter().map(|r| r.member.id).collect();
    let mut accounts = balance::accounts_of(store, &ids).await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let a = accounts.remove(&r.member.id).unwrap_or_default();
            let b = balance::Balances::of(&r.member, &a, &days, today);
            MemberRow {
                worker_name: r.worker_name,
                accounts: a,
                loan_outstanding: b.loan_outstanding,
                savings_balance: b.savings_balance,
                arrears: b.arrears,
                days_in_arrears: b.days_in_arrears,
                advance: b.advance,
                member: r.member,
            }
        })
        .collect();
    Ok((rows, total))
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberDetail {
    #[serde(flatten)]
    pub row: MemberRow,
    pub recent: Vec<crate::ledger::collection::Collection>,
}

/// One member with balances and the most recent collections (newest first).
pub async fn show(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
) -> Result<MemberDetail> {
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "member.show",
        &org.code,
    )
    .await?;
    let m = find_by_no(store, org, member_no).await?;
    let a = balance::accounts_of(store, &[m.id])
        .await?
        .remove(&m.id)
        .unwrap_or_default();
    let worker_name = match m.worker_id {
        Some(w) => org::workers(store, org.id)
            .await?
            .into_iter()
            .find(|x| x.id == w)
            .map(|x| x.name),
        None => None,
    };
    let b = balance::Balances::of(&m, &a, &org.collection_days(), org.today());
    let recent = crate::ledger::collection::for_member(store, m.id, 20).await?;
    Ok(MemberDetail {
        row: MemberRow {
            worker_name,
            accounts: a,
            loan_outstanding: b.loan_outstanding,
            savings_balance: b.savings_balance,
            arrears: b.arrears,
            days_in_arrears: b.days_in_arrears,
            advance: b.advance,
            member: m,
        },
        recent,
    })
}
