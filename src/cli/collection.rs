//! `somiti collection add|reverse|review` and `somiti day close|reopen`.

use clap::Subcommand;

use crate::cli::{Ctx, amount_arg, parse_date, table};
use crate::error::{Error, Result};
use crate::ledger::collection::{self, CollectionInput};
use crate::ledger::review::{self, Flag, Review, TOTALS_LEGEND};
use crate::ledger::{day, money, org};

#[derive(Debug, Subcommand)]
pub enum CollectionCmd {
    /// Record a collection
    Add {
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Member number
        #[arg(long)]
        member: String,
        /// Date collected: YYYY-MM-DD, today or yesterday (default today)
        #[arg(long)]
        date: Option<String>,
        /// Loan installment in taka
        #[arg(long, value_name = "TAKA", default_value = "0", allow_hyphen_values = true, value_parser = amount_arg)]
        loan: String,
        /// Savings in taka
        #[arg(long, value_name = "TAKA", default_value = "0", allow_hyphen_values = true, value_parser = amount_arg)]
        savings: String,
        /// A note kept with the entry
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reverse a posted collection (a new row cancels it)
    Reverse {
        /// Collection id (unique across organizations)
        id: i64,
        /// Why it is reversed (kept in the entry and the audit log)
        #[arg(long)]
        reason: String,
        /// Not needed: the entry's own organization is used; when given, the entry must be in it
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// The daily review: due, collected, shortfall, flags, totals
    Review {
        /// Business date: YYYY-MM-DD, today or yesterday (default today)
        #[arg(long)]
        date: Option<String>,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Only this worker (id or name)
        #[arg(long)]
        worker: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DayCmd {
    /// Close a day: nothing is posted or reversed on or before it afterwards
    Close {
        /// The last day to close: YYYY-MM-DD, today or yesterday
        #[arg(long)]
        date: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// Reopen a closed day (admin)
    Reopen {
        /// Reopen from this day on: YYYY-MM-DD, today or yesterday
        #[arg(long)]
        date: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: CollectionCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        CollectionCmd::Add {
            org,
            member,
            date,
            loan,
            savings,
            note,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let input = CollectionInput {
                member_no: member,
                collected_on: Some(parse_date(date.as_deref(), &org)?),
                loan_paisa: money::parse_taka("loan", &loan)?,
                savings_paisa: money::parse_taka("savings", &savings)?,
                note,
            };
            let c = collection::add_with(&store, &op, &org, &input, &ctx.ledger_rules()).await?;
            if ctx.json {
                return ctx.print_json(&c);
            }
            outln!(
                "collection #{} recorded: {} loan {} savings {} on {}",
                c.id,
                input.member_no,
                money::taka(c.loan_paisa),
                money::taka(c.savings_paisa),
                c.collected_on
            )?;
        }
        CollectionCmd::Reverse { id, reason, org } => {
            // The id is unique across organizations: the entry says whose it is. An id
            // that matches nothing goes to the core anyway where an organization can be
            // chosen, so the failed attempt is audited like any other.
            let org = match collection::get(&store, id).await {
                Ok(entry) => ctx.org_by_id(&store, entry.org_id, org.as_deref()).await?,
                Err(Error::NotFound(what)) => match ctx.org(&store, &op, org.as_deref()).await {
                    Ok(o) => o,
                    Err(_) => return Err(Error::NotFound(what)),
                },
                Err(e) => return Err(e),
            };
            let r = collection::reverse(&store, &op, &org, id, &reason).await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            outln!("collection #{id} reversed by #{}", r.id)?;
        }
        CollectionCmd::Review { date, org, worker } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let date = parse_date(date.as_deref(), &org)?;
            let worker = match worker {
                Some(w) => Some(org::find_worker(&store, org.id, &w).await?),
                None => None,
            };
            let r = review::daily(&store, &op, &org, date, worker.as_ref().map(|w| w.id)).await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            out!(
                "{}",
                render_review(&r, worker.as_ref().map(|w| w.name.as_str()))
            )?;
        }
    }
    Ok(())
}

pub async fn day(ctx: &Ctx, cmd: DayCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        DayCmd::Close { date, org } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let date = parse_date(Some(&date), &org)?;
            day::close(&store, &op, &org, date).await?;
            if ctx.json {
                return ctx
                    .print_json(&serde_json::json!({ "org": org.code, "closed_through": date }));
            }
            outln!("{} closed through {date}", org.code)?;
        }
        DayCmd::Reopen { date, org } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let date = parse_date(Some(&date), &org)?;
            let n = day::reopen(&store, &op, &org, date).await?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "org": org.code, "reopened_from": date, "closes_removed": n }));
            }
            outln!(
                "{} reopened from {date} ({n} closed day(s) removed)",
                org.code
            )?;
        }
    }
    Ok(())
}

/// The review as text: one line per member grouped by worker, then totals (labelled with
/// the worker when the review is one worker's) and the legend of the totals and flags.
pub fn render_review(r: &Review, worker: Option<&str>) -> String {
    let mut out = format!(
        "Daily review {} {}{}{}\n",
        r.org,
        r.date,
        if r.collection_day { "" } else { " (day off)" },
        if r.closed { " [closed]" } else { "" }
    );
    let body: Vec<Vec<String>> = r
        .lines
        .iter()
        .map(|l| {
            vec![
                l.worker_name.clone(),
                l.member_no.clone(),
                l.name.clone(),
                l.carried_text(),
                money::grouped(l.due),
                money::grouped(l.collected),
                money::grouped(l.shortfall),
                Flag::codes(&l.flags),
            ]
        })
        .collect();
    out += &table(
        &[
            "Worker",
            "No",
            "Name",
            "Arrears",
            "Due",
            "Collected",
            "Short",
            "Flags",
        ],
        &body,
        &[3, 4, 5, 6],
    );
    out += "\n";
    let mut totals: Vec<Vec<String>> = r
        .workers
        .iter()
        .map(|w| {
            vec![
                w.worker_name.clone(),
                w.totals.members.to_string(),
                money::grouped(w.totals.expected),
                money::grouped(w.totals.collected),
                money::grouped(w.totals.shortfall),
                w.totals.rate_text(),
                w.totals.members_missed.to_string(),
            ]
        })
        .collect();
    totals.push(vec![
        r.totals_label(worker),
        r.totals.members.to_string(),
        money::grouped(r.totals.expected),
        money::grouped(r.totals.collected),
        money::grouped(r.totals.shortfall),
        r.totals.rate_text(),
        r.totals.members_missed.to_string(),
    ]);
    out += &table(
        &[
            "Worker",
            "Members",
            "Expected",
            "Collected",
            "Shortfall",
            "Rate",
            "Missed",
        ],
        &totals,
        &[1, 2, 3, 4, 5, 6],
    );
    out += &format!("{TOTALS_LEGEND}\nFlags: {}\n", Flag::legend());
    out
}

/// Today's review of the organization the console would open on (what `somiti` prints
/// without a terminal).
pub async fn print_today_review(ctx: &Ctx) -> Result<()> {
    let (store, op) = ctx.open().await?;
    let orgs = org::list(&store).await?;
    if orgs.is_empty() {
        outln!("No organization yet: run `somiti init --org-code CODE --org-name NAME`.")?;
        return Ok(());
    }
    let org = orgs[ctx.console_index(&op, &orgs)].clone();
    let r = review::daily(&store, &op, &org, org.today(), None).await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    out!("{}", render_review(&r, None))?;
    Ok(())
}
