//! Collections: posting an installment and reversing one. A posted row is never updated or
//! deleted; a correction is a reversal row that points at the entry it cancels.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::ledger::member::{self, Member};
use crate::ledger::money::grouped;
use crate::ledger::org::Organization;
use crate::ledger::{Rules, day, loan, savings};
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub org_id: i64,
    pub member_id: i64,
    pub collected_on: NaiveDate,
    pub loan_paisa: i64,
    pub savings_paisa: i64,
    pub worker_id: Option<i64>,
    pub note: String,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
    pub reversal_of: Option<i64>,
    /// The loan a loan payment belongs to (None when the entry pays no loan).
    pub loan_id: Option<i64>,
}

/// Every column of `collections`, from `backup::schema::TABLES`.
pub static COLLECTION_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("collections");

/// SQL for the effective sums over a `collections` row set, as two BIGINT columns (loan,
/// savings): a reversal row carries the amounts of the entry it cancels, so it subtracts.
pub const EFFECTIVE_SUMS: &str = "\
CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END), 0) AS BIGINT), \
CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN savings_paisa ELSE -savings_paisa END), 0) AS BIGINT)";

#[derive(Debug, Clone, Default)]
pub struct CollectionInput {
    pub member_no: String,
    pub collected_on: Option<NaiveDate>,
    pub loan_paisa: i64,
    pub savings_paisa: i64,
    pub note: String,
}

/// The amount rules of every entry (also applied to the rows of an archive).
pub fn check_amounts(loan: i64, savings: i64) -> Result<()> {
    if loan < 0 {
        return Err(Error::invalid("loan", "must not be negative"));
    }
    if savings < 0 {
        return Err(Error::invalid("savings", "must not be negative"));
    }
    if loan == 0 && savings == 0 {
        return Err(Error::invalid(
            "amount",
            "loan and savings are both zero; enter at least one amount",
        ));
    }
    Ok(())
}

/// The field rules for an entry that do not need the database.
pub fn check_entry(
    org: &Organization,
    m: &Member,
    date: NaiveDate,
    loan: i64,
    savings: i64,
) -> Result<()> {
    check_amounts(loan, savings)?;
    let today = org.today();
    if date > today {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is in the future (today is {today} in {})",
                org.timezone
            ),
        ));
    }
    if m.status != "active" {
        return Err(Error::invalid(
            "member",
            format!(
                "member {} is {}; only active members can pay",
                m.member_no, m.status
            ),
        ));
    }
    if date < m.joined_on {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is before member {} joined ({})",
                m.member_no, m.joined_on
            ),
        ));
    }
    Ok(())
}

/// Post an entry under the default [`Rules`] (faces pass their configuration's to
/// [`add_with`]).
pub async fn add(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &CollectionInput,
) -> Result<Collection> {
    add_with(store, op, org, input, &Rules::default()).await
}

/// Post an entry: a loan payment (on the member's active loan, never above what is
/// outstanding), a savings deposit, or both, within the ceiling for one entry. The loan's and
/// the savings account's running balances change in the same transaction.
pub async fn add_with(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &CollectionInput,
    rules: &Rules,
) -> Result<Collection> {
    let target = format!("{}/{}", org.code, input.member_no.trim());
    require(
        store,
        op,
        Permission::EnterCollection,
        Some(org.id),
        "collection.add",
        &target,
    )
    .await?;
    let r = add_checked(store, op, org, input, rules).await;
    audit::record_if_failed(store, &op.username, "collection.add", &target, r).await
}

async fn add_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &CollectionInput,
    rules: &Rules,
) -> Result<Collection> {
    let date = input.collected_on.unwrap_or_else(|| org.today());
    crate::ledger::validate::no_control("note", input.note.trim())?;
    // The member number is resolved inside the transaction, after the organization's lock:
    // a restore that committed meanwhile cannot leave the entry on another member.
    let mut tx = store.begin().await?;
    day::refuse_if_closed(&mut tx, org, date).await?;
    let m = member::find_by_no_tx(&mut tx, org, &input.member_no).await?;
    check_entry(org, &m, date, input.loan_paisa, input.savings_paisa)?;
    rules.check_entry(
        "amount",
        input.loan_paisa.saturating_add(input.savings_paisa),
    )?;
    let loan = if input.loan_paisa > 0 {
        let Some(l) = loan::active_for_tx(&mut tx, m.id).await? else {
            return Err(Error::invalid(
                "loan",
                format!(
                    "member {} has no active loan; enter savings only, or disburse a loan first (`somiti loan disburse`)",
                    m.member_no
                ),
            ));
        };
        check_loan_payment(&l, input.loan_paisa)?;
        Some(l)
    } else {
        None
    };
    let sql = format!(
        "INSERT INTO collections (org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, note, entered_by, entered_at, reversal_of, loan_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10) RETURNING {COLLECTION_COLS}"
    );
    let c = on_tx!(&mut tx, |c| sqlx::query_as::<_, Collection>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .bind(m.id)
    .bind(date)
    .bind(input.loan_paisa)
    .bind(input.savings_paisa)
    .bind(m.worker_id)
    .bind(input.note.trim())
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .bind(loan.as_ref().map(|l| l.id))
    .fetch_one(&mut *c)
    .await?);
    if let Some(l) = &loan {
        loan::apply_payment_tx(&mut tx, l.id, c.loan_paisa, date).await?;
    }
    savings::apply_tx(
        &mut tx,
        org.id,
        m.id,
        c.savings_paisa,
        0,
        savings::LastPaid::Paid(date),
    )
    .await?;
    audit::record_tx(
        &mut tx,
        &op.username,
        "collection.add",
        &format!("{}/{}", org.code, m.member_no),
        serde_json::json!({ "id": c.id, "date": date, "loan_paisa": c.loan_paisa, "savings_paisa": c.savings_paisa }),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// A loan payment must not take the loan below zero: the refusal names what is outstanding.
pub fn check_loan_payment(l: &loan::Loan, amount: i64) -> Result<()> {
    let outstanding = l.outstanding();
    if amount > outstanding {
        return Err(Error::invalid(
            "loan",
            format!(
                "{} is more than the {} outstanding on loan cycle {}; enter at most {} (the rest as savings)",
                grouped(amount),
                grouped(outstanding),
                l.cycle,
                grouped(outstanding)
            ),
        ));
    }
    Ok(())
}

/// The date of a member's latest standing payment (not reversed, not a reversal): of one
/// loan's payments when `loan_id` is given, of any payment otherwise. Read by the member's
/// index (a member has hundreds of entries, not millions).
pub(crate) async fn last_standing_payment_tx(
    tx: &mut Tx,
    member_id: i64,
    loan_id: Option<i64>,
) -> Result<Option<NaiveDate>> {
    let sql = format!(
        "SELECT MAX(c.collected_on) FROM collections c WHERE c.member_id = $1 AND c.reversal_of IS NULL \
         AND NOT EXISTS (SELECT 1 FROM collections r WHERE r.reversal_of = c.id){}",
        if loan_id.is_some() {
            " AND c.loan_id = $2 AND c.loan_paisa > 0"
        } else {
            ""
        }
    );
    Ok(on_tx!(tx, |c| {
        let mut q = sqlx::query_scalar::<_, Option<NaiveDate>>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(member_id);
        if let Some(l) = loan_id {
            q = q.bind(l);
        }
        q.fetch_one(&mut *c).await?
    }))
}

pub async fn get(store: &Store, id: i64) -> Result<Collection> {
    let sql = format!("SELECT {COLLECTION_COLS} FROM collections WHERE id = $1");
    on_store!(store, |p| sqlx::query_as::<_, Collection>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(id)
    .fetch_optional(p)
    .await?)
    .ok_or_else(|| Error::NotFound(format!("collection #{id}")))
}

/// Cancel a posted entry with a new reversal row. The reason is required.
pub async fn reverse(
    store: &Store,
    op: &Operator,
    org: &Organization,
    id: i64,
    reason: &str,
) -> Result<Collection> {
    let target = format!("{}/collection/{id}", org.code);
    require(
        store,
        op,
        Permission::ReverseCollection,
        Some(org.id),
        "collection.reverse",
        &target,
    )
    .await?;
    let r = reverse_checked(store, op, org, id, reason).await;
    audit::record_if_failed(store, &op.username, "collection.reverse", &target, r).await
}

async fn reverse_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    id: i64,
    reason: &str,
) -> Result<Collection> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required: say why the entry is reversed",
        ));
    }
    let orig = get(store, id).await?;
    if orig.org_id != org.id {
        return Err(Error::NotFound(format!("collection #{id} in {}", org.code)));
    }
    let mut tx = store.begin().await?;
    day::refuse_if_closed(&mut tx, org, orig.collected_on).await?;
    // Read again inside the transaction: what is reversed is the entry as it stands now.
    let sql = format!("SELECT {COLLECTION_COLS} FROM collections WHERE id = $1");
    let now: Option<Collection> = on_tx!(&mut tx, |c| sqlx::query_as::<_, Collection>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?);
    let orig = match now {
        Some(o) if o == orig => o,
        _ => {
            return Err(Error::Refused(format!(
                "collection #{id} changed while it was being reversed (a restore?); look at it again and retry"
            )));
        }
    };
    if orig.reversal_of.is_some() {
        return Err(Error::invalid(
            "collection",
            format!("#{id} is itself a reversal; post a new entry instead"),
        ));
    }
    let already: Option<i64> = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "SELECT id FROM collections WHERE reversal_of = $1"
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?);
    if let Some(r) = already {
        return Err(Error::invalid(
            "collection",
            format!("#{id} was already reversed by #{r}"),
        ));
    }
    let sql = format!(
        "INSERT INTO collections (org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, note, entered_by, entered_at, reversal_of, loan_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLLECTION_COLS}"
    );
    let rev = on_tx!(&mut tx, |c| sqlx::query_as::<_, Collection>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .bind(orig.member_id)
    .bind(orig.collected_on)
    .bind(orig.loan_paisa)
    .bind(orig.savings_paisa)
    .bind(orig.worker_id)
    .bind(reason)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .bind(id)
    .bind(orig.loan_id)
    .fetch_one(&mut *c)
    .await?);
    if let Some(l) = orig.loan_id {
        loan::apply_payment_tx(&mut tx, l, -orig.loan_paisa, orig.collected_on).await?;
    }
    savings::apply_tx(
        &mut tx,
        org.id,
        orig.member_id,
        -orig.savings_paisa,
        0,
        savings::LastPaid::Reread,
    )
    .await?;
    audit::record_tx(
        &mut tx,
        &op.username,
        "collection.reverse",
        &format!("{}/collection/{id}", org.code),
        serde_json::json!({ "reversal_id": rev.id, "reason": reason, "date": orig.collected_on }),
    )
    .await?;
    tx.commit().await?;
    Ok(rev)
}

/// A member's most recent entries, newest first.
pub async fn for_member(store: &Store, member_id: i64, limit: i64) -> Result<Vec<Collection>> {
    let sql = format!(
        "SELECT {COLLECTION_COLS} FROM collections WHERE member_id = $1 ORDER BY collected_on DESC, id DESC LIMIT {}",
        limit.max(1)
    );
    Ok(on_store!(store, |p| sqlx::query_as::<_, Collection>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(member_id)
    .fetch_all(p)
    .await?))
}
