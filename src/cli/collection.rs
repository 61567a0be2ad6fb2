//! `somiti collection add|reverse|review` and `somiti day close|reopen`.

use clap::Subcommand;

use crate::cli::{Ctx, parse_date, table};
use crate::error::Result;
use crate::ledger::collection::{self, CollectionInput};
use crate::ledger::review::{self, Flag, Review, TOTALS_LEGEND};
use crate::ledger::{day, money, org};

#[derive(Debug, Subcommand)]
pub enum CollectionCmd {
    /// Record a collection
    Add {
        #[arg(long)]
        org: Option<String>,
        /// Member number
        #[arg(long)]
        member: String,
        /// Date collected (default today)
        #[arg(long)]
        date: Option<String>,
        /// Loan installment in taka
        #[arg(long, default_value = "0")]
        loan: String,
        /// Savings in taka
        #[arg(long, default_value = "0")]
        savings: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reverse a posted collection (a new row cancels it)
    Reverse {
        /// Collection id
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// The daily review: due, collected, shortfall, flags, totals
    Review {
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
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
        #[arg(long)]
        date: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Reopen a closed day (admin)
    Reopen {
        #[arg(long)]
        date: String,
        #[arg(long)]
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
            let c = collection::add(&store, &op, &org, &input).await?;
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
            let org = ctx.org(&store, &op, org.as_deref()).await?;
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

/// Today's review of the first organization (what `somiti --demo` shows for now).
pub async fn print_today_review(ctx: &Ctx) -> Result<()> {
    let (store, op) = ctx.open().await?;
    let orgs = org::list(&store).await?;
    let Some(first) = orgs.first() else {
        outln!("No organization yet: run `somiti init --org-code CODE --org-name NAME`.")?;
        return Ok(());
    };
    let org = ctx.org(&store, &op, Some(&first.code)).await?;
    let r = review::daily(&store, &op, &org, org.today(), None).await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    out!("{}", render_review(&r, None))?;
    Ok(())
}
