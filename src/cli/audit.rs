//! `somiti audit`: the audit log newest first, filtered by actor, action and business
//! dates, with every time on the organization's clock (the console's Audit tab, on the
//! command line).

use clap::Args;
use serde::Serialize;

use crate::access::audit::{self, AuditEntry, AuditQuery};
use crate::access::{self, Permission};
use crate::cli::{Ctx, parse_date, table};
use crate::error::Result;
use crate::ledger::org::Organization;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries by this operator (their login, e.g. rahim)
    #[arg(long, value_name = "LOGIN")]
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `collection.` or `backup`
    #[arg(long, value_name = "PREFIX")]
    pub action: Option<String>,
    /// First business day, YYYY-MM-DD, `today` or `yesterday` (on the organization's clock)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last business day, YYYY-MM-DD, `today` or `yesterday` (on the organization's clock)
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// The organization whose clock dates and times are in (default: the usual choice;
    /// with several in one timezone, that timezone)
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// At most this many entries, newest first
    #[arg(long, default_value_t = 100, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Skip this many of the newest entries first (for paging)
    #[arg(long, default_value_t = 0, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub offset: i64,
}

/// One entry for `--json`: the instant in UTC (RFC 3339), and on the organization's clock.
#[derive(Serialize)]
struct EntryJson<'a> {
    id: i64,
    at: String,
    at_local: String,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    detail: serde_json::Value,
}

#[derive(Serialize)]
struct AuditJson<'a> {
    timezone: String,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    entries: Vec<EntryJson<'a>>,
}

fn entry_json<'a>(org: &Organization, e: &'a AuditEntry) -> EntryJson<'a> {
    EntryJson {
        id: e.id,
        at: e.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        at_local: org
            .local(e.at)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        actor: &e.actor,
        action: &e.action,
        target: &e.target,
        outcome: &e.outcome,
        detail: serde_json::from_str(&e.detail)
            .unwrap_or_else(|_| serde_json::Value::String(e.detail.clone())),
    }
}

pub async fn run(ctx: &Ctx, a: AuditArgs) -> Result<()> {
    let (store, op) = ctx.open().await?;
    // The console shows the log to every operator who may read; the same here.
    access::require(&store, &op, Permission::Read, None, "audit.list", "audit").await?;
    let org = ctx.clock_org(&store, &op, a.org.as_deref()).await?;
    let q = AuditQuery {
        actor: a.actor.filter(|s| !s.trim().is_empty()),
        action: a.action.filter(|s| !s.trim().is_empty()),
        from: match a.from.as_deref() {
            Some(d) => Some(parse_date(Some(d), &org)?),
            None => None,
        },
        to: match a.to.as_deref() {
            Some(d) => Some(parse_date(Some(d), &org)?),
            None => None,
        },
        tz: org.tz(),
        limit: a.limit,
        offset: a.offset,
    };
    let rows = audit::query(&store, &q).await?;
    if ctx.json {
        return ctx.print_json(&AuditJson {
            timezone: org.timezone.clone(),
            from: q.from,
            to: q.to,
            entries: rows.iter().map(|e| entry_json(&org, e)).collect(),
        });
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|e| {
            vec![
                org.local_second(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.outcome.clone(),
                e.detail.clone(),
            ]
        })
        .collect();
    let at = format!("At ({})", org.tz_label());
    out!(
        "{}",
        table(
            &[&at, "Actor", "Action", "Target", "Outcome", "Detail"],
            &body,
            &[]
        )
    )?;
    let more = if rows.len() as i64 >= a.limit {
        format!(
            " (there may be more: --offset {} for the next ones)",
            a.offset + a.limit
        )
    } else {
        String::new()
    };
    outln!(
        "{} entr{} shown, newest first{more}; dates and times are {} ({})",
        rows.len(),
        if rows.len() == 1 { "y" } else { "ies" },
        org.tz_label(),
        org.timezone
    )?;
    Ok(())
}
