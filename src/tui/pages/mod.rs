//! The state of each view and how keys and answers change it (`impl App` per view); the
//! views in `tui::views` only draw it.

mod accounts;
mod audit;
mod backups;
mod members;
mod members_csv;
mod report;
mod review;
mod scheduler;
mod statement;

pub use accounts::{AccountConfirm, AccountForm, ClosingPage};
pub use audit::AuditPage;
pub use backups::{BackupConfirm, BackupStats, BackupsPage, restore_table, stats};
pub use members::{DetailPage, MembersPage};
pub use report::ReportPage;
pub use review::{ReviewPage, ReviewRow, review_rows};
pub use scheduler::SchedulerPage;
pub use statement::{StatementPage, statement_rows};
