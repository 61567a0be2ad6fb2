//! The cooperative's ledger: organizations and workers, members, collections, day close,
//! derived balances and the daily review. Money is `i64` poisha throughout.

pub mod balance;
pub mod collection;
pub mod day;
pub mod loan;
pub mod member;
pub mod money;
pub mod org;
pub mod review;
pub mod validate;
