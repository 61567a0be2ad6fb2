//! Savings accounts (migration 0009): deposits come with collections, withdrawals are
//! entries of their own (corrected by a reversal row, never edited), and each member's
//! `savings_accounts` row keeps the running balance, updated in the transaction of every
//! entry. A withdrawal never takes the balance below zero.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::ledger::money::grouped;
use crate::ledger::org::Organization;
use crate::ledger::{Rules, day, member};
use crate::{on_store, on_tx};

#[derive(Debug, Clone, Copy, Serialize, sqlx::FromRow, PartialEq, Eq, Default)]
pub struct SavingsAccount {
    pub member_id: i64,
    pub org_id: i64,
    /// Effective deposits (reversals subtracted).
    pub deposited: i64,
    /// Effective withdrawals (reversals subtracted).
    pub withdrawn: i64,
    /// The latest day the member paid anything that still stands.
    pub last_paid_on: Option<NaiveDate>,
}

impl SavingsAccount {
    pub fn balance(&self) -> i64 {
        self.deposited - self.withdrawn
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: i64,
    pub org_id: i64,
    pub member_id: i64,
    pub withdrawn_on: NaiveDate,
    pub amount: i64,
    pub reason: String,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
    pub reversal_of: Option<i64>,
}

/// Every column of `withdrawals`, from `backup::schema::TABLES`.
pub static WITHDRAWAL_COLS: crate::backup::schema::ColumnList =
    crate::backup::schema::ColumnList::of("withdrawals");

const ACCOUNT_COLS: &str = "member_id, org_id, deposited, withdrawn, last_paid_on";

/// A member's savings account (a member with no entries yet has an empty one).
pub async fn account(store: &Store, org_id: i64, member_id: i64) -> Result<SavingsAccount> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM savings_accounts WHERE member_id = $1");
    let a: Option<SavingsAccount> =
        on_store!(store, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(member_id)
            .fetch_optional(p)
            .await?);
    Ok(a.unwrap_or(SavingsAccount {
        member_id,
        org_id,
        ..Default::default()
    }))
}

pub(crate) async fn account_tx(tx: &mut Tx, org_id: i64, member_id: i64) -> Result<SavingsAccount> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM savings_accounts WHERE member_id = $1");
    let a: Option<SavingsAccount> =
        on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(member_id)
            .fetch_optional(&mut *c)
            .await?);
    Ok(a.unwrap_or(SavingsAccount {
        member_id,
        org_id,
        ..Default::default()
    }))
}

/// What an entry does to a member's last paid date.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LastPaid {
    /// A payment on this day.
    Paid(NaiveDate),
    /// A payment was reversed: read the latest standing one again.
    Reread,
    /// Not a payment (a withdrawal or its reversal).
    Unchanged,
}

/// Change a member's running savings balance inside `tx`: `deposited` and `withdrawn` by the
/// deltas (negative for a reversal), and the last paid date as `last` says.
pub(crate) async fn apply_tx(
    tx: &mut Tx,
    org_id: i64,
    member_id: i64,
    deposited: i64,
    withdrawn: i64,
    last: LastPaid,
) -> Result<SavingsAccount> {
    let before = account_tx(tx, org_id, member_id).await?;
    let last = match last {
        LastPaid::Paid(d) => before.last_paid_on.max(Some(d)),
        LastPaid::Reread => {
            crate::ledger::collection::last_standing_payment_tx(tx, member_id, None).await?
        }
        LastPaid::Unchanged => before.last_paid_on,
    };
    let sql = format!(
        "INSERT INTO savings_accounts ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (member_id) DO UPDATE SET deposited = excluded.deposited, \
         withdrawn = excluded.withdrawn, last_paid_on = excluded.last_paid_on \
         RETURNING {ACCOUNT_COLS}"
    );
    Ok(on_tx!(tx, |c| sqlx::query_as::<_, SavingsAccount>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(member_id)
    .bind(org_id)
    .bind(before.deposited + deposited)
    .bind(before.withdrawn + withdrawn)
    .bind(last)
    .fetch_one(&mut *c)
    .await?))
}

/// A withdrawal as an operator asks for it. Money in poisha.
#[derive(Debug, Clone, Default)]
pub struct WithdrawalInput {
    pub member_no: String,
    pub withdrawn_on: Option<NaiveDate>,
    pub amount: i64,
    pub reason: String,
}

/// Pay out savings: refused above the balance, above the ceiling for one entry, on a closed
/// day, or for a member who is not active.
pub async fn withdraw(
    store: &Store,
    op: &Operator,
    org: &Organization,
    input: &WithdrawalInput,
    rules: &Rules,
) -> Result<Withdrawal> {
    let target = format!("{}/{}", org.code, input.member_no.trim());
    require(
        store,
        op,
        Permission::WithdrawSavings,
        Some(org.id),
        "savings.withdraw",
        &target,
    )
    .await?;
    let r = async {
        let mut tx = store.begin().await?;
        let w = withdraw_tx(&mut tx, op, org, input, rules, false).await?;
        tx.commit().await?;
        Ok(w)
    }
    .await;
    audit::record_if_failed(store, &op.username, "savings.withdraw", &target, r).await
}

/// The withdrawal inside a transaction the caller commits (closing a member pays the whole
/// balance out with it). `closing` lets the member be any status.
pub(crate) async fn withdraw_tx(
    tx: &mut Tx,
    op: &Operator,
    org: &Organization,
    input: &WithdrawalInput,
    rules: &Rules,
    closing: bool,
) -> Result<Withdrawal> {
    let today = org.today();
    let date = input.withdrawn_on.unwrap_or(today);
    if date > today {
        return Err(Error::invalid(
            "date",
            format!(
                "{date} is in the future (today is {today} in {})",
                org.timezone
            ),
        ));
    }
    if input.amount <= 0 {
        return Err(Error::invalid("amount", "must be more than zero"));
    }
    let reason = input.reason.trim();
    crate::ledger::validate::no_control("reason", reason)?;
    if !closing {
        rules.check_entry("amount", input.amount)?;
    }
    day::refuse_if_closed(tx, org, date).await?;
    let m = member::find_by_no_tx(tx, org, &input.member_no).await?;
    if !closing && m.status != "active" {
        return Err(Error::invalid(
            "member",
            format!(
                "member {} is {}; only an active member withdraws (closing pays the balance out)",
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
    let acct = account_tx(tx, org.id, m.id).await?;
    if input.amount > acct.balance() {
        return Err(Error::invalid(
            "amount",
            format!(
                "{} is more than member {}'s savings balance of {}",
                grouped(input.amount),
                m.member_no,
                grouped(acct.balance())
            ),
        ));
    }
    let sql = format!(
        "INSERT INTO withdrawals (org_id, member_id, withdrawn_on, amount, reason, entered_by, entered_at, reversal_of) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) RETURNING {WITHDRAWAL_COLS}"
    );
    let w = on_tx!(tx, |c| sqlx::query_as::<_, Withdrawal>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .bind(m.id)
    .bind(date)
    .bind(input.amount)
    .bind(reason)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .fetch_one(&mut *c)
    .await?);
    apply_tx(tx, org.id, m.id, 0, w.amount, LastPaid::Unchanged).await?;
    audit::record_tx(
        tx,
        &op.username,
        "savings.withdraw",
        &format!("{}/{}", org.code, m.member_no),
        serde_json::json!({ "id": w.id, "date": date, "amount": w.amount, "reason": reason }),
    )
    .await?;
    Ok(w)
}

/// Cancel a withdrawal with a reversal row (the reason is required): the amount is back in
/// the savings balance.
pub async fn reverse_withdrawal(
    store: &Store,
    op: &Operator,
    org: &Organization,
    id: i64,
    reason: &str,
) -> Result<Withdrawal> {
    let target = format!("{}/withdrawal/{id}", org.code);
    require(
        store,
        op,
        Permission::WithdrawSavings,
        Some(org.id),
        "savings.reverse",
        &target,
    )
    .await?;
    let r = reverse_checked(store, op, org, id, reason).await;
    audit::record_if_failed(store, &op.username, "savings.reverse", &target, r).await
}

async fn reverse_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    id: i64,
    reason: &str,
) -> Result<Withdrawal> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required: say why the withdrawal is reversed",
        ));
    }
    crate::ledger::validate::no_control("reason", reason)?;
    let mut tx = store.begin().await?;
    let sql = format!("SELECT {WITHDRAWAL_COLS} FROM withdrawals WHERE id = $1 AND org_id = $2");
    let orig: Withdrawal = on_tx!(&mut tx, |c| sqlx::query_as::<_, Withdrawal>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(id)
    .bind(org.id)
    .fetch_optional(&mut *c)
    .await?)
    .ok_or_else(|| Error::NotFound(format!("withdrawal #{id} in {}", org.code)))?;
    day::refuse_if_closed(&mut tx, org, orig.withdrawn_on).await?;
    if orig.reversal_of.is_some() {
        return Err(Error::invalid(
            "withdrawal",
            format!("#{id} is itself a reversal; enter a new withdrawal instead"),
        ));
    }
    let already: Option<i64> = on_tx!(&mut tx, |c| sqlx::query_scalar(
        "SELECT id FROM withdrawals WHERE reversal_of = $1"
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?);
    if let Some(r) = already {
        return Err(Error::invalid(
            "withdrawal",
            format!("#{id} was already reversed by #{r}"),
        ));
    }
    let sql = format!(
        "INSERT INTO withdrawals (org_id, member_id, withdrawn_on, amount, reason, entered_by, entered_at, reversal_of) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {WITHDRAWAL_COLS}"
    );
    let rev = on_tx!(&mut tx, |c| sqlx::query_as::<_, Withdrawal>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(org.id)
    .bind(orig.member_id)
    .bind(orig.withdrawn_on)
    .bind(orig.amount)
    .bind(reason)
    .bind(&op.username)
    .bind(crate::db::now_micros())
    .bind(id)
    .fetch_one(&mut *c)
    .await?);
    apply_tx(
        &mut tx,
        org.id,
        orig.member_id,
        0,
        -orig.amount,
        LastPaid::Unchanged,
    )
    .await?;
    audit::record_tx(
        &mut tx,
        &op.username,
        "savings.reverse",
        &format!("{}/withdrawal/{id}", org.code),
        serde_json::json!({ "reversal_id": rev.id, "reason": reason, "date": orig.withdrawn_on }),
    )
    .await?;
    tx.commit().await?;
    Ok(rev)
}
