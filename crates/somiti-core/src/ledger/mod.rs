//! The cooperative's ledger: organizations and workers, members, collections, day close,
//! derived balances and the daily review. Money is `i64` poisha throughout.

pub mod accounts;
pub mod balance;
pub mod closure;
pub mod collection;
pub mod day;
pub mod loan;
pub mod member;
pub mod money;
pub mod org;
pub mod report;
pub mod review;
pub mod savings;
pub mod statement;
pub mod validate;

use crate::error::{Error, Result};

/// The ledger's amount rules that the configuration sets (`[ledger]` in config.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The most one payment or withdrawal may be, in poisha (`ledger.max_entry_taka`).
    pub max_entry: i64,
}

/// `ledger.max_entry_taka` when the configuration does not say.
pub const DEFAULT_MAX_ENTRY_TAKA: i64 = 100_000;

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            max_entry: DEFAULT_MAX_ENTRY_TAKA * 100,
        }
    }
}

impl Rules {
    /// Refuse one entry above the ceiling: a typo's extra zeros never reach a balance.
    pub fn check_entry(&self, field: &str, amount: i64) -> Result<()> {
        if amount > self.max_entry {
            return Err(Error::invalid(
                field,
                format!(
                    "{} is above the {} allowed for one entry (ledger.max_entry_taka in config.toml); check the amount, or raise the ceiling",
                    money::grouped(amount),
                    money::grouped(self.max_entry)
                ),
            ));
        }
        Ok(())
    }
}
