//! A member's statement and the monthly report, off the UI task: the same core calls as
//! `somiti member statement` and `somiti report month`, for one calendar month.

use crate::access::Operator;
use crate::db::Store;
use crate::ledger::org::Organization;
use crate::ledger::report::{self, MonthReport, YearMonth};
use crate::ledger::statement::{self, MemberRef, Statement};

#[derive(Debug, Clone)]
pub enum ReportEffect {
    /// Member `member_id`'s statement over `month` (through today while it runs).
    Statement {
        seq: u64,
        org: Box<Organization>,
        member_id: i64,
        month: YearMonth,
    },
    /// The organization's report of `month`.
    Month {
        seq: u64,
        org: Box<Organization>,
        month: YearMonth,
    },
}

#[derive(Debug)]
pub enum ReportOutcome {
    Statement {
        seq: u64,
        result: Result<Box<Statement>, String>,
    },
    Month {
        seq: u64,
        result: Result<Box<MonthReport>, String>,
    },
}

pub async fn run(store: &Store, op: &Operator, e: ReportEffect) -> ReportOutcome {
    match e {
        ReportEffect::Statement {
            seq,
            org,
            member_id,
            month,
        } => ReportOutcome::Statement {
            seq,
            result: month_statement(store, op, &org, member_id, month)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string()),
        },
        ReportEffect::Month { seq, org, month } => ReportOutcome::Month {
            seq,
            result: report::month(store, op, &org, month, None)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string()),
        },
    }
}

/// The statement over the days of `month` the report of that month covers (a future month
/// is refused by the core, naming it).
async fn month_statement(
    store: &Store,
    op: &Operator,
    org: &Organization,
    member_id: i64,
    month: YearMonth,
) -> crate::error::Result<Statement> {
    let (first, through) = report::month_range(org, month, org.today())?;
    statement::statement(
        store,
        op,
        org,
        &MemberRef::Id(member_id),
        Some(first),
        Some(through),
    )
    .await
}
