//! Somiti Console's core: the ledger, access control, the database, backups, the scheduler,
//! alerts, configuration and the demo data. Every rule lives here; the faces (the command
//! line and the console, in the `somiti` crate) call it and format its results.
//!
//! The core never touches the terminal, and Cargo keeps it so: ratatui, crossterm and
//! indicatif are not among this crate's dependencies. See ARCHITECTURE.md at the root.

pub mod access;
pub mod alert;
pub mod backup;
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

pub use error::{Error, Result};
