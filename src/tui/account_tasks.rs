//! A member's accounts, off the UI task: a new loan, a savings withdrawal, a write-off and
//! closing the member — the same core calls as `somiti loan …`, `savings withdraw` and
//! `member close`. The typed text is parsed here with the collection form's parsers; every
//! rule is the core's, and its refusals come back keyed by the form's fields.

use chrono::NaiveDate;

use crate::access::Operator;
use crate::db::Store;
use crate::ledger::Rules;
use crate::ledger::closure::{self, ClosePlan, Closed};
use crate::ledger::loan::{self, Disbursement, Loan};
use crate::ledger::org::Organization;
use crate::ledger::savings::{self, Withdrawal, WithdrawalInput};
use crate::ledger::validate;
use crate::tui::tasks::{FieldErrors, field_errors, money_field};

/// The new-loan form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoanText {
    pub principal: String,
    pub installment: String,
    pub service_charge: String,
    pub installments: String,
    pub date: String,
}

#[derive(Debug, Clone)]
pub enum AccountEffect {
    Disburse {
        org: Box<Organization>,
        member_no: String,
        text: LoanText,
    },
    Withdraw {
        org: Box<Organization>,
        member_no: String,
        amount: String,
        reason: String,
    },
    WriteOff {
        org: Box<Organization>,
        member_no: String,
        reason: String,
    },
    /// What closing the member takes (the walk-through's amounts).
    PlanClose {
        org: Box<Organization>,
        member_no: String,
    },
    Close {
        org: Box<Organization>,
        member_no: String,
        reason: String,
    },
}

#[derive(Debug)]
pub enum AccountOutcome {
    Disbursed(Result<Loan, FieldErrors>),
    Withdrawn(Result<Withdrawal, FieldErrors>),
    WrittenOff(Result<Loan, FieldErrors>),
    ClosePlan {
        member_no: String,
        result: Result<Box<ClosePlan>, String>,
    },
    Closed(Result<Closed, FieldErrors>),
}

/// Run one account action under the configuration's amount rules (`[ledger]`, the same
/// the collection form posts under).
pub async fn run(store: &Store, op: &Operator, rules: &Rules, e: AccountEffect) -> AccountOutcome {
    let fe = |e: crate::error::Error| field_errors(&e);
    match e {
        AccountEffect::Disburse {
            org,
            member_no,
            text,
        } => AccountOutcome::Disbursed(disburse(store, op, &org, member_no, &text).await),
        AccountEffect::Withdraw {
            org,
            member_no,
            amount,
            reason,
        } => {
            let mut problems = FieldErrors::new();
            let amount = money_field("amount", &amount, &mut problems);
            AccountOutcome::Withdrawn(if problems.is_empty() {
                let input = WithdrawalInput {
                    member_no,
                    withdrawn_on: None,
                    amount,
                    reason,
                };
                savings::withdraw(store, op, &org, &input, rules)
                    .await
                    .map_err(fe)
            } else {
                Err(problems)
            })
        }
        AccountEffect::WriteOff {
            org,
            member_no,
            reason,
        } => AccountOutcome::WrittenOff(
            loan::write_off(store, op, &org, &member_no, &reason)
                .await
                .map_err(fe),
        ),
        AccountEffect::PlanClose { org, member_no } => AccountOutcome::ClosePlan {
            result: closure::plan(store, op, &org, &member_no)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string()),
            member_no,
        },
        AccountEffect::Close {
            org,
            member_no,
            reason,
        } => AccountOutcome::Closed(
            closure::close(store, op, &org, &member_no, &reason, rules)
                .await
                .map_err(fe),
        ),
    }
}

/// Every problem with the typed text at once, then the core's `disburse`.
async fn disburse(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_no: String,
    t: &LoanText,
) -> Result<Loan, FieldErrors> {
    let mut problems = FieldErrors::new();
    let principal = money_field("principal", &t.principal, &mut problems);
    let installment = money_field("installment", &t.installment, &mut problems);
    let service_charge = money_field("service_charge", &t.service_charge, &mut problems);
    let installments = match t.installments.trim() {
        "" => None,
        n => match validate::normalize_digits(n).parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                problems.push((
                    "installments".into(),
                    format!("must be a whole number, or empty (got {n:?})"),
                ));
                None
            }
        },
    };
    let disbursed_on: Option<NaiveDate> = match t.date.trim() {
        "" => None,
        d => match validate::date("date", d) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.extend(field_errors(&e));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let d = Disbursement {
        member_no,
        disbursed_on,
        principal,
        service_charge,
        installment,
        installments,
        first_due_on: None,
    };
    loan::disburse(store, op, org, &d)
        .await
        .map_err(|e| field_errors(&e))
}
