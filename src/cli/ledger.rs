//! `somiti loan …`, `somiti savings …`, `somiti member close` and `somiti ledger check`:
//! the accounts' entries. Every rule is the core's (`ledger::{loan, savings, closure,
//! accounts}`); this face parses, asks and prints.

use clap::Subcommand;

use crate::access::Operator;
use crate::cli::{Ctx, amount_arg, parse_date, table};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::loan::{self, Disbursement};
use crate::ledger::savings::{self, WithdrawalInput};
use crate::ledger::{accounts, closure, money};

#[derive(Debug, Subcommand)]
pub enum LoanCmd {
    /// Hand a member a new loan (one active loan at a time; a member who repaid may take
    /// the next cycle)
    Disburse {
        /// Member number
        #[arg(long)]
        member: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// The amount handed over, in taka
        #[arg(long, value_name = "TAKA", value_parser = amount_arg, allow_hyphen_values = true)]
        principal: String,
        /// Each collection day's installment, in taka
        #[arg(long, value_name = "TAKA", value_parser = amount_arg, allow_hyphen_values = true)]
        installment: String,
        /// The flat service charge, in taka (0 when none)
        #[arg(long = "service-charge", value_name = "TAKA", default_value = "0",
              value_parser = amount_arg, allow_hyphen_values = true)]
        service_charge: String,
        /// The number of installments (for the record; dues stop at what is owed)
        #[arg(long)]
        installments: Option<i64>,
        /// The day it is handed over: YYYY-MM-DD, today or yesterday (default today)
        #[arg(long)]
        date: Option<String>,
    },
    /// Write off what a member still owes on the active loan (admins only; a reason is
    /// required)
    WriteOff {
        /// Member number
        #[arg(long)]
        member: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Why the loan is written off (kept with the loan and in the audit log)
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SavingsCmd {
    /// Pay out savings (never below a zero balance)
    Withdraw {
        /// Member number
        #[arg(long)]
        member: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// The amount paid out, in taka
        #[arg(long, value_name = "TAKA", value_parser = amount_arg, allow_hyphen_values = true)]
        amount: String,
        /// Why (kept with the withdrawal)
        #[arg(long, default_value = "")]
        reason: String,
        /// YYYY-MM-DD, today or yesterday (default today)
        #[arg(long)]
        date: Option<String>,
    },
    /// Cancel a withdrawal with a reversal entry (the amount is back in the balance)
    Reverse {
        /// The withdrawal's number (#id)
        id: i64,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Why it is reversed (required)
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCmd {
    /// Every running balance (loan outstanding, savings, last paid day) against its
    /// entries; exit 1 when one disagrees
    Check {
        /// Only this organization (default: all)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
}

pub async fn loan(ctx: &Ctx, cmd: LoanCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        LoanCmd::Disburse {
            member,
            org,
            principal,
            installment,
            service_charge,
            installments,
            date,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let d = Disbursement {
                member_no: member,
                disbursed_on: Some(parse_date(date.as_deref(), &org)?),
                principal: money::parse_taka("principal", &principal)?,
                service_charge: money::parse_taka("service_charge", &service_charge)?,
                installment: money::parse_taka("installment", &installment)?,
                installments,
                first_due_on: None,
            };
            let l = loan::disburse(&store, &op, &org, &d).await?;
            if ctx.json {
                return ctx.print_json(&l);
            }
            outln!(
                "loan cycle {} disbursed to {}/{}: {} (service charge {}), installment {} from {}",
                l.cycle,
                org.code,
                d.member_no,
                money::taka(l.principal),
                money::taka(l.service_charge),
                money::taka(l.installment),
                l.first_due_on
            )?;
        }
        LoanCmd::WriteOff {
            member,
            org,
            reason,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let l = loan::write_off(&store, &op, &org, &member, &reason).await?;
            if ctx.json {
                return ctx.print_json(&l);
            }
            outln!(
                "loan cycle {} of {}/{} written off: {} was still owed ({})",
                l.cycle,
                org.code,
                member,
                money::taka(l.written_off),
                l.close_reason
            )?;
        }
    }
    Ok(())
}

pub async fn savings(ctx: &Ctx, cmd: SavingsCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        SavingsCmd::Withdraw {
            member,
            org,
            amount,
            reason,
            date,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let input = WithdrawalInput {
                member_no: member,
                withdrawn_on: Some(parse_date(date.as_deref(), &org)?),
                amount: money::parse_taka("amount", &amount)?,
                reason,
            };
            let w = savings::withdraw(&store, &op, &org, &input, &ctx.ledger_rules()).await?;
            if ctx.json {
                return ctx.print_json(&w);
            }
            let acct = savings::account(&store, org.id, w.member_id).await?;
            outln!(
                "withdrawal #{} of {}/{}: {} paid out on {}; savings balance now {}",
                w.id,
                org.code,
                input.member_no,
                money::taka(w.amount),
                w.withdrawn_on,
                money::taka(acct.balance())
            )?;
        }
        SavingsCmd::Reverse { id, org, reason } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let w = savings::reverse_withdrawal(&store, &op, &org, id, &reason).await?;
            if ctx.json {
                return ctx.print_json(&w);
            }
            outln!(
                "withdrawal #{id} reversed by #{}: {} is back in the savings",
                w.id,
                money::taka(w.amount)
            )?;
        }
    }
    Ok(())
}

/// `somiti member close NO [--reason TEXT] [--yes]`: without `--yes`, what closing takes
/// (nothing is changed); with it, the close.
pub async fn close_member(
    ctx: &Ctx,
    (store, op): (&Store, &Operator),
    member_no: String,
    org: Option<String>,
    reason: String,
    yes: bool,
) -> Result<()> {
    let org = ctx.org(store, op, org.as_deref()).await?;
    let plan = closure::plan(store, op, &org, &member_no).await?;
    if let Some(e) = plan.refusal() {
        return Err(e);
    }
    if !yes {
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "dry_run": true, "plan": plan }));
        }
        outln!(
            "closing {}/{} {} pays out the savings balance of {} (a final withdrawal) and \
             closes the member; nothing was changed: run again with --yes to close",
            org.code,
            plan.member_no,
            plan.name,
            money::taka(plan.savings_balance)
        )?;
        return Ok(());
    }
    let c = closure::close(store, op, &org, &member_no, &reason, &ctx.ledger_rules()).await?;
    if ctx.json {
        return ctx.print_json(&c);
    }
    outln!(
        "member {}/{} closed on {}: {} paid out{}",
        org.code,
        c.member_no,
        c.closed_on,
        money::taka(c.paid_out),
        c.withdrawal_id
            .map(|id| format!(" (withdrawal #{id})"))
            .unwrap_or_default()
    )?;
    Ok(())
}

pub async fn ledger(ctx: &Ctx, cmd: LedgerCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        LedgerCmd::Check { org } => {
            let org = match org {
                Some(code) => Some(ctx.org(&store, &op, Some(&code)).await?),
                None => None,
            };
            let bad = accounts::check(&store, &op, org.as_ref()).await?;
            if ctx.json {
                ctx.print_json(&serde_json::json!({ "ok": bad.is_empty(), "mismatches": bad }))?;
            } else if bad.is_empty() {
                outln!("ledger check: every running balance equals its entries")?;
            } else {
                let rows: Vec<Vec<String>> = bad
                    .iter()
                    .map(|m| {
                        vec![
                            m.org.clone(),
                            m.member_no.clone(),
                            m.account.clone(),
                            m.field.to_string(),
                            m.stored.clone(),
                            m.from_entries.clone(),
                        ]
                    })
                    .collect();
                outln!(
                    "{}",
                    table(
                        &[
                            "ORG",
                            "MEMBER",
                            "ACCOUNT",
                            "FIELD",
                            "STORED",
                            "FROM ENTRIES"
                        ],
                        &rows,
                        &[]
                    )
                )?;
            }
            if !bad.is_empty() {
                return Err(Error::Other(format!(
                    "ledger check: {} running balance{} disagree with the entries; restore the \
                     latest verified backup, or report it (nothing was changed)",
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" }
                )));
            }
        }
    }
    Ok(())
}
