//! What the demo makes: its options, their bounds, and the summary of what was made.

use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{Error, Result};

/// What to generate. `members` is the total, split evenly across `orgs` organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoOptions {
    pub members: u32,
    pub days: u32,
    pub orgs: u32,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            members: 300,
            days: 90,
            orgs: 1,
            seed: 42,
        }
    }
}

/// Upper bounds that keep a typo from filling the disk.
pub const MAX_MEMBERS: u32 = 1_000_000;
pub const MAX_DAYS: u32 = 3_660;
pub const MAX_ORGS: u32 = 100;

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    /// Codes of the organizations that received data, in order.
    pub organizations: Vec<String>,
    /// Active workers in those organizations (existing ones included).
    pub workers: u64,
    pub members: u64,
    /// Collection rows written, reversal rows included.
    pub collections: u64,
    /// Reversal rows among them.
    pub reversals: u64,
    pub days_closed_through: Option<NaiveDate>,
}

pub(super) fn check_options(opts: &DemoOptions) -> Result<()> {
    if opts.orgs == 0 || opts.orgs > MAX_ORGS {
        return Err(Error::invalid(
            "orgs",
            format!("must be 1 to {MAX_ORGS} (got {})", opts.orgs),
        ));
    }
    if opts.days == 0 || opts.days > MAX_DAYS {
        return Err(Error::invalid(
            "days",
            format!("must be 1 to {MAX_DAYS} (got {})", opts.days),
        ));
    }
    if opts.members > MAX_MEMBERS {
        return Err(Error::invalid(
            "members",
            format!("must be at most {MAX_MEMBERS} (got {})", opts.members),
        ));
    }
    Ok(())
}
