//! Somiti Console: the core (ledger, access, backup, scheduler) and its faces (CLI, TUI).
//! The core never touches the terminal; the faces call the core and format its results.

pub mod access;
pub mod alert;
pub mod backup;
pub mod cli;
pub mod config;
pub mod csvio;
pub mod db;
pub mod demo;
pub mod error;
pub mod ledger;
pub mod logging;
pub mod scheduler;
pub mod session;
pub mod text;
pub mod tui;

pub use error::{Error, Result};
