//! `somiti alert test [NAME]`: a test event to one `[[alert]]` channel or to all of them.

use clap::Subcommand;

use crate::access::{self, Permission};
use crate::cli::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum AlertCmd {
    /// Send a test event to the channel NAME, or to every [[alert]] channel; exit 1 if any fails
    Test {
        /// The channel's name in the config ([[alert]] name = …); all channels without it
        name: Option<String>,
    },
}

pub async fn run(ctx: &Ctx, cmd: AlertCmd) -> Result<()> {
    match cmd {
        AlertCmd::Test { name } => test(ctx, name.as_deref()).await,
    }
}

async fn test(ctx: &Ctx, name: Option<&str>) -> Result<()> {
    let (store, op) = ctx.open().await?;
    access::require(
        &store,
        &op,
        Permission::RunScheduledJob,
        None,
        "alert.test",
        name.unwrap_or("all"),
    )
    .await?;
    let channels = &ctx.settings.config.alert;
    if channels.is_empty() {
        return Err(Error::Config(format!(
            "no [[alert]] channel is configured; add one to {} (config/example.toml shows webhook, email and command channels)",
            ctx.settings.config_path.display()
        )));
    }
    let results =
        crate::alert::test(&store, channels, name, &op.username, chrono::Utc::now()).await?;
    let failed = results.iter().filter(|r| !r.ok).count();
    if ctx.json {
        ctx.print_json(&results)?;
    } else {
        for r in &results {
            match &r.error {
                None => outln!("{}: ok", r.channel)?,
                Some(e) => outln!("{}: failed: {e}", r.channel)?,
            }
        }
    }
    if failed > 0 {
        return Err(Error::Other(format!(
            "{failed} of {} alert channels could not be reached; fix the channel named above and run `somiti alert test` again",
            results.len()
        )));
    }
    Ok(())
}
