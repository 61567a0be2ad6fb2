//! `somiti member statement NO` and `somiti report month YYYY-MM`: the core's statement and
//! monthly report as a table, one JSON document (`--json`), or a CSV file for Excel
//! (`--csv`, written like `export csv`).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::access::Operator;
use crate::cli::{Ctx, table};
use crate::csvio::{self, reports::CsvWritten};
use crate::db::Store;
use crate::error::Result;
use crate::ledger::org::{self, Organization};
use crate::ledger::report::{self, MonthReport, MonthTotals, Par, YearMonth, bp_text};
use crate::ledger::statement::{self, EntryRef, MemberRef, Statement};
use crate::ledger::{money, validate};

#[derive(Debug, Args)]
pub struct StatementArgs {
    /// Member number
    pub member_no: String,
    /// Organization code (default: default_org, your own, or the only one)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// First day: YYYY-MM-DD, today or yesterday (default: the day the member joined)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day: YYYY-MM-DD, today or yesterday (default: today)
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Write the statement as CSV for Excel, to the export directory unless --out says where
    #[arg(long)]
    pub csv: bool,
    /// With --csv: the file to write, or a folder for the default name
    #[arg(long, value_name = "PATH", requires = "csv")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// One month: each day's expected and collected, the month's totals, loans disbursed
    /// and repaid, savings withdrawn, portfolio at risk
    Month(MonthArgs),
}

#[derive(Debug, Args)]
pub struct MonthArgs {
    /// The month: YYYY-MM
    pub month: String,
    /// Organization code (default: default_org, your own, or the only one)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// Only this worker's members (id or name)
    #[arg(long)]
    pub worker: Option<String>,
    /// Write the report as CSV for Excel, to the export directory unless --out says where
    #[arg(long)]
    pub csv: bool,
    /// With --csv: the file to write, or a folder for the default name
    #[arg(long, value_name = "PATH", requires = "csv")]
    pub out: Option<PathBuf>,
}

/// `--from`/`--to`: `YYYY-MM-DD`, `today` or `yesterday`; a bad date names its flag.
fn range_date(field: &str, input: Option<&str>, org: &Organization) -> Result<Option<NaiveDate>> {
    Ok(match input.map(str::trim) {
        None => None,
        Some("today") => Some(org.today()),
        Some("yesterday") => Some(org.today().pred_opt().unwrap_or(org.today())),
        Some(s) => Some(validate::date(field, s)?),
    })
}

pub async fn statement(ctx: &Ctx, store: &Store, op: &Operator, a: StatementArgs) -> Result<()> {
    let org = ctx.org(store, op, a.org.as_deref()).await?;
    let from = range_date("from", a.from.as_deref(), &org)?;
    let to = range_date("to", a.to.as_deref(), &org)?;
    let who = MemberRef::No(a.member_no);
    let st = statement::statement(store, op, &org, &who, from, to).await?;
    if a.csv {
        let name = csvio::reports::statement_file_name(&st);
        let out =
            csvio::reports::out_path_named(a.out.as_deref(), &ctx.settings.export_dir, &name)?;
        let w = csvio::reports::export_statement(store, op, &org, &st, &out).await?;
        return print_written(
            ctx,
            &w,
            &format!("statement of member {}", st.member.member_no),
        );
    }
    if ctx.json {
        return ctx.print_json(&st);
    }
    out!("{}", render_statement(&st))
}

pub async fn run(ctx: &Ctx, cmd: ReportCmd) -> Result<()> {
    let ReportCmd::Month(a) = cmd;
    let (store, op) = ctx.open().await?;
    let org = ctx.org(&store, &op, a.org.as_deref()).await?;
    let month = YearMonth::parse(&a.month)?;
    let worker = match &a.worker {
        Some(w) => Some(org::find_worker(&store, org.id, w).await?),
        None => None,
    };
    let rep = report::month(&store, &op, &org, month, worker.as_ref().map(|w| w.id)).await?;
    if a.csv {
        let name = csvio::reports::month_file_name(&rep);
        let out =
            csvio::reports::out_path_named(a.out.as_deref(), &ctx.settings.export_dir, &name)?;
        let w = csvio::reports::export_month(&store, &op, &org, &rep, &out).await?;
        return print_written(ctx, &w, &format!("report of {}", rep.label()));
    }
    if ctx.json {
        return ctx.print_json(&rep);
    }
    out!("{}", render_month(&rep))
}

fn print_written(ctx: &Ctx, w: &CsvWritten, what: &str) -> Result<()> {
    if ctx.json {
        return ctx.print_json(w);
    }
    outln!("wrote the {what} ({} rows) to {}", w.rows, w.path.display())?;
    outln!(
        "to fetch it to your machine: {}",
        csvio::fetch_command(&w.path)
    )?;
    Ok(())
}

/// An amount cell that stays empty at zero (a statement row has one or two amounts).
fn cell(poisha: i64) -> String {
    if poisha == 0 {
        String::new()
    } else {
        money::grouped(poisha)
    }
}

/// The statement as text: who and which days, the opening balances, one line per row with
/// the running balances, the totals and the closing balances.
pub fn render_statement(st: &Statement) -> String {
    let m = &st.member;
    let mut out = format!(
        "Statement {}/{}  {}  ({}{})\n{} to {}\nOpening  loan outstanding {}   savings {}\n",
        st.org,
        m.member_no,
        m.name,
        m.status,
        st.worker_name
            .as_deref()
            .map(|w| format!(", worker {w}"))
            .unwrap_or_default(),
        st.from,
        st.to,
        money::grouped(st.opening.loan_outstanding),
        money::grouped(st.opening.savings_balance),
    );
    let mut body: Vec<Vec<String>> = st
        .rows
        .iter()
        .map(|r| {
            vec![
                r.date.to_string(),
                match r.entry {
                    EntryRef::Collection(id) => format!("#{id}"),
                    EntryRef::Withdrawal(id) => format!("w{id}"),
                    EntryRef::Loan(_) | EntryRef::Closure => String::new(),
                },
                r.kind.label().to_string(),
                r.description.clone(),
                cell(r.loan_disbursed + r.service_charge),
                cell(r.loan_paid),
                cell(r.written_off),
                cell(r.savings_in),
                cell(r.savings_out),
                money::grouped(r.loan_outstanding),
                money::grouped(r.savings_balance),
            ]
        })
        .collect();
    let t = &st.totals;
    body.push(vec![
        String::new(),
        String::new(),
        "total".into(),
        format!("{} rows", st.rows.len()),
        money::grouped(t.loan_disbursed + t.service_charge),
        money::grouped(t.loan_paid),
        money::grouped(t.written_off),
        money::grouped(t.savings_in),
        money::grouped(t.savings_out),
        money::grouped(st.closing.loan_outstanding),
        money::grouped(st.closing.savings_balance),
    ]);
    out += &table(
        &[
            "Date",
            "Entry",
            "Kind",
            "Description",
            "Loan given",
            "Loan paid",
            "Written off",
            "Savings in",
            "Savings out",
            "Loan due",
            "Savings",
        ],
        &body,
        &[4, 5, 6, 7, 8, 9, 10],
    );
    out += &format!(
        "Closing  loan outstanding {}   savings {}\n\
         Loan given: principal with its service charge · Loan due: outstanding after the row · \
         Entry: #collection id, w withdrawal id\n",
        money::grouped(st.closing.loan_outstanding),
        money::grouped(st.closing.savings_balance),
    );
    out
}

fn totals_row(label: String, t: &MonthTotals) -> Vec<String> {
    vec![
        label,
        t.members.to_string(),
        money::grouped(t.expected),
        money::grouped(t.collected),
        money::grouped(t.shortfall),
        t.rate_text(),
        t.members_missed.to_string(),
        t.member_days_missed.to_string(),
        t.loans_disbursed.to_string(),
        money::grouped(t.principal_disbursed),
        t.loans_repaid.to_string(),
        money::grouped(t.savings_withdrawn),
    ]
}

fn par_lines(p: &Par) -> String {
    let mut out = format!(
        "Portfolio at risk at the end of {}: {} outstanding on {} running loan(s)\n",
        p.as_of.map(|d| d.to_string()).unwrap_or_default(),
        money::grouped(p.outstanding),
        p.loans
    );
    let rows = [
        ("PAR 1", p.par1, p.par1_bp, p.loans_par1),
        ("PAR 30", p.par30, p.par30_bp, p.loans_par30),
        ("PAR 90", p.par90, p.par90_bp, p.loans_par90),
    ]
    .map(|(label, amount, bp, n)| {
        vec![
            label.to_string(),
            money::grouped(amount),
            bp_text(bp),
            format!("{n} loan(s)"),
        ]
    });
    out += &table(&["", "Outstanding", "Share", "Loans"], &rows, &[1, 2, 3]);
    out += "PAR n: outstanding of loans with an installment overdue more than n days\n";
    out
}

/// The monthly report as text: a line per day, the month's totals (per worker for the
/// organization's report), the loans and withdrawals, and the PAR lines.
pub fn render_month(r: &MonthReport) -> String {
    let mut out = format!(
        "Monthly report {}{}, {} to {}{}\n",
        r.org,
        r.worker
            .as_ref()
            .map(|w| format!(" for {}", w.name))
            .unwrap_or_default(),
        r.first,
        r.through,
        if r.current { " (month to date)" } else { "" }
    );
    let days: Vec<Vec<String>> = r
        .days
        .iter()
        .map(|d| {
            let t = &d.totals;
            vec![
                d.date.to_string(),
                format!(
                    "{}{}",
                    d.date.format("%a"),
                    if d.collection_day { "" } else { " off" }
                ),
                t.members.to_string(),
                money::grouped(t.expected),
                money::grouped(t.collected),
                money::grouped(t.shortfall),
                t.rate_text(),
                t.members_missed.to_string(),
            ]
        })
        .collect();
    out += &table(
        &[
            "Date",
            "Day",
            "Members",
            "Expected",
            "Collected",
            "Shortfall",
            "Rate",
            "Missed",
        ],
        &days,
        &[2, 3, 4, 5, 6, 7],
    );
    out += "\n";
    let mut totals: Vec<Vec<String>> = r
        .workers
        .iter()
        .map(|w| totals_row(w.worker_name.clone(), &w.totals))
        .collect();
    totals.push(totals_row(format!("{} total", r.label()), &r.totals));
    out += &table(
        &[
            "Worker",
            "Members",
            "Expected",
            "Collected",
            "Shortfall",
            "Rate",
            "Missed",
            "Missed days",
            "Loans",
            "Disbursed",
            "Repaid",
            "Withdrawn",
        ],
        &totals,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    let t = &r.totals;
    out += &format!(
        "Collected {} = loan {} + savings {} · {} of {} days were collection days\n\
         Missed: members who missed at least one day · Missed days: member-days missed · \
         Loans: disbursed in the month · Repaid: loans repaid in full in the month\n",
        money::grouped(t.collected),
        money::grouped(t.loan_collected),
        money::grouped(t.savings_collected),
        t.collection_days,
        t.days,
    );
    if t.loans_written_off > 0 {
        out += &format!(
            "Written off in the month: {} loan(s), {}\n",
            t.loans_written_off,
            money::grouped(t.written_off)
        );
    }
    out += "\n";
    out += &par_lines(&r.par);
    out
}
