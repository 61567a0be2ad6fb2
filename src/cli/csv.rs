//! `somiti export csv …` and `somiti import members|template …`: parse the arguments,
//! call `crate::csvio`, format its reports. Exports go to the export directory unless
//! `--out` names a file or a folder.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::cli::{Ctx, parse_date};
use crate::csvio::{self, ImportReport, Table};
use crate::error::{Error, Result};
use crate::ledger::money;

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Members or collections as CSV for Excel (UTF-8 with BOM, money as 1234.50)
    Csv(ExportCsvArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TableArg {
    /// The member register with balances
    Members,
    /// Posted collections and reversals
    Collections,
}

#[derive(Debug, Args)]
pub struct ExportCsvArgs {
    /// Which table to export
    #[arg(long, value_enum)]
    pub table: TableArg,
    /// Organization code (default: default_org, your own, or the only one)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// Members only: match name, number, mobile or NID (as `member list --filter`)
    #[arg(long)]
    pub filter: Option<String>,
    /// Collections only: first day (YYYY-MM-DD)
    #[arg(long)]
    pub from: Option<String>,
    /// Collections only: last day (YYYY-MM-DD)
    #[arg(long)]
    pub to: Option<String>,
    /// File to write, or a folder for the default name (default: the export directory)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Add members from a CSV file; every row is checked first and one bad row imports nothing
    Members {
        /// The CSV file (comma or semicolon, with or without BOM)
        file: PathBuf,
        /// Organization to import into (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
        /// Check the file and report, writing nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the members template (the columns and a sample row) to start a spreadsheet
    Template {
        /// Where to write it
        #[arg(long, value_name = "PATH", default_value = "members-template.csv")]
        out: PathBuf,
    },
}

pub async fn export(ctx: &Ctx, cmd: ExportCmd) -> Result<()> {
    let ExportCmd::Csv(a) = cmd;
    let table = match a.table {
        TableArg::Members => Table::Members,
        TableArg::Collections => Table::Collections,
    };
    if table == Table::Members && (a.from.is_some() || a.to.is_some()) {
        return Err(Error::invalid(
            "from/to",
            "apply to --table collections only; members are exported as of today",
        ));
    }
    if table == Table::Collections && a.filter.is_some() {
        return Err(Error::invalid("filter", "applies to --table members only"));
    }
    let (store, op) = ctx.open().await?;
    let org = ctx.org(&store, &op, a.org.as_deref()).await?;
    let out = csvio::out_path(a.out.as_deref(), &ctx.settings.export_dir, table, &org)?;
    let rep = match table {
        Table::Members => {
            csvio::export_members(&store, &op, &org, a.filter.as_deref(), &out).await?
        }
        Table::Collections => {
            let from = a
                .from
                .as_deref()
                .map(|d| parse_date(Some(d), &org))
                .transpose()?;
            let to =
                a.to.as_deref()
                    .map(|d| parse_date(Some(d), &org))
                    .transpose()?;
            csvio::export_collections(&store, &op, &org, from, to, &out).await?
        }
    };
    if ctx.json {
        return ctx.print_json(&rep);
    }
    let (loan, savings) = match table {
        Table::Members => ("loan outstanding", "savings balance"),
        Table::Collections => ("net loan", "net savings"),
    };
    outln!(
        "wrote {} {} of {} to {}",
        rep.rows,
        table.as_str(),
        rep.org,
        rep.path.display()
    )?;
    outln!(
        "{loan} {}, {savings} {}",
        money::taka(rep.loan_total),
        money::taka(rep.savings_total)
    )?;
    outln!(
        "to fetch it to your machine: {}",
        csvio::fetch_command(&rep.path)
    )?;
    Ok(())
}

pub async fn import(ctx: &Ctx, cmd: ImportCmd) -> Result<()> {
    match cmd {
        ImportCmd::Template { out } => {
            csvio::write_template(&out)?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "template": out }));
            }
            outln!(
                "wrote {}: fill it in Excel, save as \"CSV UTF-8\", then `somiti import members {}`",
                out.display(),
                out.display()
            )?;
            Ok(())
        }
        ImportCmd::Members { file, org, dry_run } => {
            let (store, op) = ctx.open().await?;
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let rep = csvio::import_members(&store, &op, &org, &file, dry_run).await?;
            if ctx.json {
                ctx.print_json(&rep)?;
            } else {
                print_import(&rep)?;
            }
            if rep.is_ok() {
                Ok(())
            } else {
                Err(Error::InvalidMany(
                    rep.problems.iter().map(|p| p.to_string()).collect(),
                ))
            }
        }
    }
}

fn print_import(rep: &ImportReport) -> Result<()> {
    let file = rep.file.display();
    for a in &rep.already_present {
        outln!(
            "row {}: member {} (NID {}) is already in the ledger as written; skipped",
            a.row,
            a.member_no,
            a.nid
        )?;
    }
    if !rep.is_ok() {
        let rows: std::collections::BTreeSet<u64> = rep.problems.iter().map(|p| p.row).collect();
        outln!(
            "{file}: {} rows read, {} problem(s) in {} row(s); nothing was imported. Fix them and run again.",
            rep.rows,
            rep.problems.len(),
            rows.len()
        )?;
    } else if rep.dry_run {
        outln!(
            "{file}: {} rows read; {} would be imported into {}, {} already present (dry run: nothing written)",
            rep.rows,
            rep.would_import,
            rep.org,
            rep.already_present.len()
        )?;
    } else {
        outln!(
            "{file}: imported {} members into {} ({} already present)",
            rep.imported,
            rep.org,
            rep.already_present.len()
        )?;
    }
    Ok(())
}
