//! Closing a member: a procedure, never a field. The loan must be repaid or written off
//! (an admin, with a reason); the savings are paid out by a final withdrawal in the same
//! transaction as the close; then the member's status is `closed` and a `member_closures`
//! row says when, why and by whom. A closed member is out of the review and cannot pay.

use chrono::NaiveDate;
use serde::Serialize;

use crate::access::{Operator, Permission, audit, require};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::loan::{self, Loan};
use crate::ledger::money::grouped;
use crate::ledger::org::Organization;
use crate::ledger::savings::{self, WithdrawalInput};
use crate::ledger::{Rules, day, member};
use crate::on_tx;

/// What closing a member takes, for the console's walk-through and `member close`'s
/// refusal: the loan still owed, the savings that will be paid out.
#[derive(Debug, Clone, Serialize)]
pub struct ClosePlan {
    pub member_no: String,
    pub name: String,
    pub status: String,
    /// The active loan, if any: it must be repaid or written off first.
    pub active_loan: Option<Loan>,
    pub loan_outstanding: i64,
    /// Paid out by the final withdrawal.
    pub savings_balance: i64,
    /// Why it cannot be closed yet, in words (empty: it can).
    pub blockers: Vec<String>,
}

impl ClosePlan {
    pub fn can_close(&self) -> bool {
        self.blockers.is_empty()
    }

    /// Why the close is refused, as every face says it (`None`: it can be closed).
    pub fn refusal(&self) -> Option<Error> {
        (!self.can_close()).then(|| {
            Error::Refused(format!(
                "member {} cannot be closed: {}",
                self.member_no,
                self.blockers.join("; ")
            ))
        })
    }
}

/// A member closed: the final withdrawal (none when the savings were already zero).
#[derive(Debug, Clone, Serialize)]
pub struct Closed {
    pub member_no: String,
    pub closed_on: NaiveDate,
    pub paid_out: i64,
    pub withdrawal_id: Option<i64>,
}

/// What closing `member_no` would take (reads only).
pub async fn plan(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
) -> Result<ClosePlan> {
    require(
        store,
        op,
        Permission::Read,
        Some(org.id),
        "member.close",
        &format!("{}/{}", org.code, member_no.trim()),
    )
    .await?;
    let mut tx = crate::db::dialect::begin_snapshot(store).await?;
    let p = plan_tx(&mut tx, org, member_no).await;
    let _ = tx.rollback().await;
    p
}

async fn plan_tx(tx: &mut crate::db::Tx, org: &Organization, member_no: &str) -> Result<ClosePlan> {
    let m = member::find_by_no_tx(tx, org, member_no).await?;
    let active = loan::active_for_tx(tx, m.id).await?;
    let acct = savings::account_tx(tx, org.id, m.id).await?;
    let mut blockers = Vec::new();
    if m.status == "closed" {
        blockers.push(format!("member {} is already closed", m.member_no));
    }
    if let Some(l) = &active {
        blockers.push(format!(
            "member {} still owes {} on loan cycle {}: collect it, or have an admin write it off \
             (somiti loan write-off --member {} --reason TEXT) first",
            m.member_no,
            grouped(l.outstanding()),
            l.cycle,
            m.member_no
        ));
    }
    Ok(ClosePlan {
        member_no: m.member_no,
        name: m.name,
        status: m.status,
        loan_outstanding: active.as_ref().map_or(0, Loan::outstanding),
        active_loan: active,
        savings_balance: acct.balance(),
        blockers,
    })
}

/// Close a member today: refused while a loan is active, on a closed day, or for a closed
/// member; the savings balance is paid out by a final withdrawal in the same transaction.
pub async fn close(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
    reason: &str,
    rules: &Rules,
) -> Result<Closed> {
    let target = format!("{}/{}", org.code, member_no.trim());
    require(
        store,
        op,
        Permission::CloseMember,
        Some(org.id),
        "member.close",
        &target,
    )
    .await?;
    let r = close_checked(store, op, org, member_no, reason, rules).await;
    audit::record_if_failed(store, &op.username, "member.close", &target, r).await
}

async fn close_checked(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: &str,
    reason: &str,
    rules: &Rules,
) -> Result<Closed> {
    let reason = reason.trim();
    crate::ledger::validate::no_control("reason", reason)?;
    let reason = if reason.is_empty() {
        "member closed"
    } else {
        reason
    };
    let today = org.today();
    let mut tx = store.begin().await?;
    day::lock_org(&mut tx, org.id).await?;
    day::refuse_if_closed(&mut tx, org, today).await?;
    let p = plan_tx(&mut tx, org, member_no).await?;
    if let Some(e) = p.refusal() {
        return Err(e);
    }
    let m = member::find_by_no_tx(&mut tx, org, member_no).await?;
    let withdrawal = if p.savings_balance > 0 {
        Some(
            savings::withdraw_tx(
                &mut tx,
                op,
                org,
                &WithdrawalInput {
                    member_no: m.member_no.clone(),
                    withdrawn_on: Some(today),
                    amount: p.savings_balance,
                    reason: format!("closing: {reason}"),
                },
                rules,
                true,
            )
            .await?,
        )
    } else {
        None
    };
    let now = crate::db::now_micros();
    on_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO member_closures (member_id, org_id, closed_on, reason, closed_by, closed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(m.id)
    .bind(org.id)
    .bind(today)
    .bind(reason)
    .bind(&op.username)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected());
    on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE members SET status = 'closed', version = version + 1, updated_by = $1, \
         updated_at = $2 WHERE id = $3"
    )
    .bind(&op.username)
    .bind(now)
    .bind(m.id)
    .execute(&mut *c)
    .await?
    .rows_affected());
    audit::record_tx(
        &mut tx,
        &op.username,
        "member.close",
        &format!("{}/{}", org.code, m.member_no),
        serde_json::json!({
            "closed_on": today,
            "reason": reason,
            "paid_out": p.savings_balance,
            "withdrawal_id": withdrawal.as_ref().map(|w| w.id),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Closed {
        member_no: m.member_no,
        closed_on: today,
        paid_out: p.savings_balance,
        withdrawal_id: withdrawal.map(|w| w.id),
    })
}
