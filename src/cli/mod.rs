//! The command-line face: one module per command group. Each command calls the core and
//! formats its result (a table for people, JSON with `--json`); no rule lives here.
//! Everything for stdout goes through `out!`/`outln!`: a closed pipe ends the command
//! quietly instead of panicking.

/// `print!` for the command-line face: returns `Result<()>`, so use it with `?`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

/// `println!` for the command-line face: returns `Result<()>`, so use it with `?`.
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod alert;
pub mod audit;
pub mod backup;
pub mod collection;
pub mod csv;
pub mod init;
pub mod ledger;
pub mod member;
pub mod offsite;
pub mod people;
pub mod remote;
pub mod report;
pub mod scheduler;

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::config::Overrides;
use crate::error::{Error, Result};
use crate::ledger::org::Organization;
use crate::ledger::validate;
use crate::session::Session;

#[derive(Debug, Parser)]
#[command(
    name = "somiti",
    version,
    about = "Somiti Console: members, daily collections and safe backups for savings-and-loan cooperatives",
    after_help = "With no command, opens the console. `somiti --demo` opens it on a demo database."
)]
pub struct Cli {
    /// Config file (default: <data dir>/config.toml with --data-dir, else ~/.config/somiti/config.toml)
    #[arg(long, global = true, env = "SOMITI_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://user:pass@host/db
    #[arg(long, global = true, env = "SOMITI_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// Data directory (SQLite database, backups, exports, logs)
    #[arg(long, global = true, env = "SOMITI_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable output (and errors) as JSON
    #[arg(long, global = true)]
    pub json: bool,
    /// Use the separate demo database in the data directory (created and filled on first use)
    #[arg(long, global = true)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database and config, and make you (the OS login) the first admin
    Init(init::InitArgs),
    /// Fill the database with realistic demo data
    Demo(init::DemoArgs),
    /// Paths, database, version, organizations and scheduler
    Info,
    /// Organizations (somitis)
    #[command(subcommand)]
    Org(people::OrgCmd),
    /// Field workers
    #[command(subcommand)]
    Worker(people::WorkerCmd),
    /// Members: list, add, show
    #[command(subcommand)]
    Member(member::MemberCmd),
    /// Collections: add, reverse, daily review
    #[command(subcommand)]
    Collection(collection::CollectionCmd),
    /// Close or reopen a business day
    #[command(subcommand)]
    Day(collection::DayCmd),
    /// Reports: the monthly report (collections, loans, portfolio at risk)
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Loans: disburse the next one, write one off
    #[command(subcommand)]
    Loan(ledger::LoanCmd),
    /// Savings: withdraw, reverse a withdrawal
    #[command(subcommand)]
    Savings(ledger::SavingsCmd),
    /// The ledger's own checks: every running balance against its entries
    #[command(subcommand)]
    Ledger(ledger::LedgerCmd),
    /// Console operators and their roles
    #[command(subcommand)]
    User(people::UserCmd),
    /// Backups: create, list, verify, restore, download, delete, pin, prune
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    /// Export members or collections as CSV for Excel
    #[command(subcommand)]
    Export(csv::ExportCmd),
    /// Import members from a CSV file (or write the template)
    #[command(subcommand)]
    Import(csv::ImportCmd),
    /// Scheduled jobs: status, run now, enable, disable, history
    #[command(subcommand)]
    Scheduler(scheduler::SchedulerCmd),
    /// Run the scheduler headless (systemd: assets/somiti-daemon.service)
    Daemon,
    /// The audit log, newest first: who did what, when (on the organization's clock)
    Audit(audit::AuditArgs),
    /// Alert channels ([[alert]]): send a test event
    #[command(subcommand)]
    Alert(alert::AlertCmd),
}

/// What every command needs: the shared [`Session`] (settings, demo flag, store, operator
/// and the organization rule, from the core) and this face's output mode. It dereferences
/// to the session, so `ctx.open()`, `ctx.org(..)` and `ctx.settings` are the session's.
pub struct Ctx {
    pub session: Session,
    pub json: bool,
}

impl std::ops::Deref for Ctx {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Ctx {
    pub fn new(cli: &Cli) -> Result<Ctx> {
        let session = Session::load(
            &Overrides {
                config: cli.config.clone(),
                database_url: cli.database.clone(),
                data_dir: cli.data_dir.clone(),
            },
            cli.demo,
        )?;
        Ok(Ctx {
            session,
            json: cli.json,
        })
    }

    pub fn print_json<T: serde::Serialize>(&self, v: &T) -> Result<()> {
        outln!(
            "{}",
            serde_json::to_string_pretty(v).map_err(|e| Error::Other(e.to_string()))?
        )?;
        Ok(())
    }
}

/// An amount flag's value as typed, for the ledger to judge: a leading minus is let
/// through (`--loan -100` is refused by the ledger, "loan: must not be negative"), but a
/// flag where the amount should be (`--loan --json`) is a usage error.
pub fn amount_arg(s: &str) -> std::result::Result<String, String> {
    let mut chars = s.chars();
    if chars.next() == Some('-')
        && !chars
            .next()
            .is_some_and(|c| c.is_ascii_digit() || ('০'..='৯').contains(&c) || c == '.')
    {
        return Err(format!(
            "{s:?} is not an amount (it looks like a flag); give the amount in taka, e.g. 200"
        ));
    }
    Ok(s.to_string())
}

/// `YYYY-MM-DD`, `today` or `yesterday` (in the organization's timezone).
pub fn parse_date(input: Option<&str>, org: &Organization) -> Result<NaiveDate> {
    match input.map(str::trim) {
        None | Some("today") => Ok(org.today()),
        Some("yesterday") => Ok(org.today().pred_opt().unwrap_or(org.today())),
        Some(s) => validate::date("date", s),
    }
}

/// Format rows as an aligned table; widths count terminal columns as tmux, screen, xterm
/// and VTE do (glibc's wcwidth: a Bengali vowel sign such as া takes a column).
pub fn table(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    use crate::text::terminal_width;
    let mut widths: Vec<usize> = headers.iter().map(|h| terminal_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(terminal_width(c));
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = " ".repeat(widths[i].saturating_sub(terminal_width(c)));
            if i > 0 {
                s.push_str("  ");
            }
            if right.contains(&i) {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&pad);
                }
            }
        }
        s
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Run one parsed command line (with no command: see `init::wants_console`; the binary
/// opens the console itself).
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx::new(&cli)?;
    match cli.command {
        None => init::no_console(&ctx).await,
        Some(Command::Init(a)) => init::init(&ctx, a).await,
        Some(Command::Demo(a)) => init::demo(&ctx, a).await,
        Some(Command::Info) => init::info(&ctx).await,
        Some(Command::Org(c)) => people::org(&ctx, c).await,
        Some(Command::Worker(c)) => people::worker(&ctx, c).await,
        Some(Command::Member(c)) => member::run(&ctx, c).await,
        Some(Command::Collection(c)) => collection::run(&ctx, c).await,
        Some(Command::Day(c)) => collection::day(&ctx, c).await,
        Some(Command::Report(c)) => report::run(&ctx, c).await,
        Some(Command::Loan(c)) => ledger::loan(&ctx, c).await,
        Some(Command::Savings(c)) => ledger::savings(&ctx, c).await,
        Some(Command::Ledger(c)) => ledger::ledger(&ctx, c).await,
        Some(Command::User(c)) => people::user(&ctx, c).await,
        Some(Command::Backup(c)) => backup::run(&ctx, c).await,
        Some(Command::Export(c)) => csv::export(&ctx, c).await,
        Some(Command::Import(c)) => csv::import(&ctx, c).await,
        Some(Command::Scheduler(c)) => scheduler::run(&ctx, c).await,
        Some(Command::Daemon) => scheduler::daemon(&ctx).await,
        Some(Command::Audit(a)) => audit::run(&ctx, a).await,
        Some(Command::Alert(c)) => alert::run(&ctx, c).await,
    }
}

/// Write to stdout. A reader that went away (`somiti member list | head -1`: EPIPE, the
/// process ignores SIGPIPE as every Rust program does) is `Error::OutputClosed`, which
/// `main` turns into a quiet exit 0; any other failure is an error naming stdout.
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_fmt(args) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::OutputClosed),
        Err(e) => Err(Error::io("writing to standard output", e)),
    }
}

/// Print an error the way the contract says: one sentence on stderr, or with `--json`
/// exactly one JSON document (and nothing else: see `write_err`).
pub fn report_error(e: &Error, json: bool) {
    if json {
        let v = serde_json::json!({
            "error": { "kind": e.kind(), "message": e.to_string(), "exit_code": e.exit_code() }
        });
        write_err(&v.to_string());
    } else {
        write_err(&format!("somiti: {e}"));
    }
}

/// One line on stderr. A closed stderr is ignored (`eprintln!` would panic).
pub fn write_err(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
