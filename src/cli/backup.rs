//! `somiti backup …`.

use clap::Subcommand;

use crate::cli::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// List backups
    List,
}

pub async fn run(_ctx: &Ctx, _cmd: BackupCmd) -> Result<()> {
    Err(Error::Other("backups are not built yet".into()))
}
