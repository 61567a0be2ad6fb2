//! `somiti member list|add|show|edit`.

use clap::{Args, Subcommand};

use crate::access::Operator;
use crate::cli::{Ctx, amount_arg, parse_date, table};
use crate::db::Store;
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
    /// Change a member's details (what the console's edit form changes); fields not given
    /// stay as they are
    Edit(EditArgs),
    /// A member's statement (passbook): every entry with the running loan and savings balances
    Statement(crate::cli::report::StatementArgs),
    /// Close a member: needs the loan repaid or written off; pays the savings out by a
    /// final withdrawal. Without --yes, says what it would take and changes nothing
    Close {
        /// Member number
        member_no: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Why the member leaves (kept with the closure)
        #[arg(long, default_value = "")]
        reason: String,
        /// Close now (without it: a dry run)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Member number of the member to change
    pub member_no: String,
    /// Organization code (default: default_org, your own, or the only one)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// New member number (unique in the organization)
    #[arg(long = "new-no")]
    pub new_no: Option<String>,
    /// New name
    #[arg(long)]
    pub name: Option<String>,
    /// New national ID: 10, 13 or 17 digits
    #[arg(long)]
    pub nid: Option<String>,
    /// New mobile: 01[3-9] and 8 digits
    #[arg(long)]
    pub mobile: Option<String>,
    /// New worker, by id or name (an active worker); "" for none
    #[arg(long)]
    pub worker: Option<String>,
    /// Refused: a loan is never edited (`somiti loan disburse` gives the next one)
    #[arg(long, value_name = "TAKA", allow_hyphen_values = true, hide = true)]
    pub loan: Option<String>,
    /// Refused, like --loan
    #[arg(long, value_name = "TAKA", allow_hyphen_values = true, hide = true)]
    pub installment: Option<String>,
    /// New daily savings in taka
    #[arg(long, value_name = "TAKA", allow_hyphen_values = true, value_parser = amount_arg)]
    pub savings: Option<String>,
    /// New status: active, inactive or closed
    #[arg(long)]
    pub status: Option<String>,
    /// New date joined (YYYY-MM-DD)
    #[arg(long)]
    pub joined: Option<String>,
    /// Refuse the edit unless the member is still at this version (`member show --json`
    /// shows it), so a script cannot overwrite a change made since it looked
    #[arg(long, value_name = "N")]
    pub expect_version: Option<i64>,
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

/// `member edit`: the member as stored, with the flags given laid over it, written back
/// guarded by the version read (or the one the script expects).
async fn edit(ctx: &Ctx, store: &Store, op: &Operator, a: EditArgs) -> Result<()> {
    let org = ctx.org(store, op, a.org.as_deref()).await?;
    let m = member::find_by_no(store, &org, &a.member_no).await?;
    let worker = match (&a.worker, m.worker_id) {
        (Some(w), _) => w.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => String::new(),
    };
    let taka = |field: &str, given: &Option<String>, now: i64| -> Result<i64> {
        match given {
            Some(t) => money::parse_taka(field, t),
            None => Ok(now),
        }
    };
    if a.loan.is_some() || a.installment.is_some() {
        return Err(crate::Error::invalid(
            "loan",
            "a loan's amount and installment are never edited; repay or write off the loan, then `somiti loan disburse` gives the next one",
        ));
    }
    let input = MemberInput {
        member_no: a.new_no.unwrap_or_else(|| m.member_no.clone()),
        name: a.name.unwrap_or_else(|| m.name.clone()),
        nid: a.nid.unwrap_or_else(|| m.nid.clone()),
        mobile: a.mobile.unwrap_or_else(|| m.mobile.clone()),
        worker,
        loan_amount: 0,
        daily_installment: 0,
        daily_savings: taka("savings", &a.savings, m.daily_savings)?,
        status: Some(a.status.unwrap_or_else(|| m.status.clone())),
        joined_on: match a.joined.as_deref() {
            Some(d) => Some(parse_date(Some(d), &org)?),
            None => Some(m.joined_on),
        },
    };
    let version = a.expect_version.unwrap_or(m.version);
    let after = member::update(store, op, &org, m.id, version, &input).await?;
    if ctx.json {
        return ctx.print_json(&after);
    }
    outln!(
        "member {}/{} {} saved (version {})",
        org.code,
        after.member_no,
        after.name,
        after.version
    )?;
    Ok(())
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
        MemberCmd::Edit(a) => edit(ctx, &store, &op, a).await?,
        MemberCmd::Statement(a) => crate::cli::report::statement(ctx, &store, &op, a).await?,
        MemberCmd::Close {
            member_no,
            org,
            reason,
            yes,
        } => {
            return super::ledger::close_member(ctx, (&store, &op), member_no, org, reason, yes)
                .await;
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
            let loan = match &d.row.accounts.loan {
                Some(l) => format!(
                    "loan cycle {} {} ({}) · installment {}",
                    l.cycle,
                    money::taka(l.principal),
                    l.status.label(),
                    money::taka(l.installment)
                ),
                None => "no loan".to_string(),
            };
            outln!(
                "joined {}   {}   savings {}/day",
                m.joined_on,
                loan,
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
