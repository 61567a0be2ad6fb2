//! `somiti member list|add|show`.

use clap::{Args, Subcommand};

use crate::cli::{Ctx, amount_arg, parse_date, table};
use crate::error::Result;
use crate::ledger::balance;
use crate::ledger::member::{self, MemberInput, MemberQuery, MemberSort};
use crate::ledger::money;

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// The member register with balances
    List {
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Match name, number, mobile or NID
        #[arg(long)]
        filter: Option<String>,
        /// number, name, worker or status
        #[arg(long, default_value = "number")]
        sort: String,
        /// At most this many members
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Skip this many first (for paging)
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Add a member
    Add(AddArgs),
    /// One member with balances and recent collections
    Show {
        /// Member number
        member_no: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Organization code (default: default_org, your own, or the only one)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// Member number (unique in the organization)
    #[arg(long = "no")]
    pub member_no: String,
    /// Full name (Bengali or Latin letters)
    #[arg(long)]
    pub name: String,
    /// National ID: 10, 13 or 17 digits
    #[arg(long)]
    pub nid: String,
    /// Mobile: 01[3-9] and 8 digits
    #[arg(long)]
    pub mobile: String,
    /// Worker id or name
    #[arg(long, default_value = "")]
    pub worker: String,
    /// Loan amount in taka
    #[arg(long, value_name = "TAKA", default_value = "0", allow_hyphen_values = true, value_parser = amount_arg)]
    pub loan: String,
    /// Daily installment in taka
    #[arg(long, value_name = "TAKA", default_value = "0", allow_hyphen_values = true, value_parser = amount_arg)]
    pub installment: String,
    /// Daily savings in taka
    #[arg(long, value_name = "TAKA", default_value = "0", allow_hyphen_values = true, value_parser = amount_arg)]
    pub savings: String,
    /// Date joined: YYYY-MM-DD, today or yesterday (default today)
    #[arg(long)]
    pub joined: Option<String>,
}

fn parse_sort(s: &str) -> MemberSort {
    match s {
        "name" => MemberSort::Name,
        "worker" => MemberSort::Worker,
        "status" => MemberSort::Status,
        _ => MemberSort::Number,
    }
}

pub async fn run(ctx: &Ctx, cmd: MemberCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        MemberCmd::List {
            org,
            filter,
            sort,
            limit,
            offset,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let q = MemberQuery {
                filter,
                sort: parse_sort(&sort),
                limit,
                offset,
            };
            let (rows, total) = member::list(&store, &op, &org, &q).await?;
            if ctx.json {
                return ctx.print_json(
                    &serde_json::json!({ "org": org.code, "total": total, "members": rows }),
                );
            }
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.member.member_no.clone(),
                        r.member.name.clone(),
                        r.member.mobile.clone(),
                        r.worker_name.clone().unwrap_or_default(),
                        money::grouped(r.loan_outstanding),
                        money::grouped(r.savings_balance),
                        balance::arrears_days_cell(r.days_in_arrears, r.advance),
                        r.member.status.clone(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &[
                        "No",
                        "Name",
                        "Mobile",
                        "Worker",
                        "Loan due",
                        "Savings",
                        "Arrears d",
                        "Status"
                    ],
                    &body,
                    &[4, 5, 6]
                )
            )?;
            outln!("{} of {total} members in {}", rows.len(), org.code)?;
        }
        MemberCmd::Add(a) => {
            let org = ctx.org(&store, &op, a.org.as_deref()).await?;
            let input = MemberInput {
                member_no: a.member_no,
                name: a.name,
                nid: a.nid,
                mobile: a.mobile,
                worker: a.worker,
                loan_amount: money::parse_taka("loan", &a.loan)?,
                daily_installment: money::parse_taka("installment", &a.installment)?,
                daily_savings: money::parse_taka("savings", &a.savings)?,
                status: None,
                joined_on: match a.joined.as_deref() {
                    Some(d) => Some(parse_date(Some(d), &org)?),
                    None => None,
                },
            };
            let m = member::add(&store, &op, &org, &input).await?;
            if ctx.json {
                return ctx.print_json(&m);
            }
            outln!("member {}/{} {} added", org.code, m.member_no, m.name)?;
        }
        MemberCmd::Show { member_no, org } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let d = member::show(&store, &op, &org, &member_no).await?;
            if ctx.json {
                return ctx.print_json(&d);
            }
            let m = &d.row.member;
            outln!("{}/{}  {}  ({})", org.code, m.member_no, m.name, m.status)?;
            outln!(
                "NID {}   mobile {}   worker {}",
                m.nid,
                m.mobile,
                d.row.worker_name.as_deref().unwrap_or("-")
            )?;
            outln!(
                "joined {}   loan {}   daily {} + savings {}",
                m.joined_on,
                money::taka(m.loan_amount),
                money::taka(m.daily_installment),
                money::taka(m.daily_savings)
            )?;
            outln!(
                "loan outstanding {}   savings {}   {}",
                money::taka(d.row.loan_outstanding),
                money::taka(d.row.savings_balance),
                balance::standing_text(d.row.arrears, d.row.days_in_arrears, d.row.advance)
            )?;
            let body: Vec<Vec<String>> = d
                .recent
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.collected_on.to_string(),
                        money::grouped(c.loan_paisa),
                        money::grouped(c.savings_paisa),
                        c.reversal_of
                            .map(|r| format!("reverses #{r}"))
                            .unwrap_or_default(),
                        c.note.clone(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &["Id", "Date", "Loan", "Savings", "", "Note"],
                    &body,
                    &[2, 3]
                )
            )?;
        }
    }
    Ok(())
}
