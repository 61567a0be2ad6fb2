//! Somiti Console: the two faces, the command line (`cli`) and the console (`tui`), over
//! the core crate `somiti_core` (ledger, access, backup, scheduler), re-exported here so
//! `somiti::ledger` and `crate::ledger` name the core's modules. The core never touches
//! the terminal; Cargo enforces it (see ARCHITECTURE.md).

pub use somiti_core::{
    Error, Result, access, alert, backup, config, csvio, db, demo, error, ledger, logging,
    on_store, on_tx, scheduler, session, text,
};

pub mod cli;
pub mod tui;
