//! Which of an import's member numbers and NIDs the ledger already holds, found with a few
//! batched queries instead of two per row. Rows that hit something are then checked with
//! the ledger's own `member::uniqueness_problems`, so its rule and its words decide.

use std::collections::{HashMap, HashSet};

use crate::db::Store;
use crate::error::Result;
use crate::ledger::member::{MEMBER_COLS, Member};
use crate::ledger::org::Organization;
use crate::on_store;

/// Keys per query: well under the bind-parameter limits of SQLite and PostgreSQL.
const CHUNK: usize = 500;

/// Members already in the ledger that share an NID (any organization) or a member number
/// (this organization) with the file.
#[derive(Debug, Default)]
pub struct Existing {
    by_nid: HashMap<String, Member>,
    numbers: HashSet<String>,
    /// The terms (principal, installment) of each found member's current or latest loan.
    loans: HashMap<i64, (i64, i64)>,
}

impl Existing {
    pub fn hit(&self, member_no: Option<&str>, nid: Option<&str>) -> bool {
        member_no.is_some_and(|n| self.numbers.contains(n))
            || nid.is_some_and(|n| self.by_nid.contains_key(n))
    }

    pub fn by_nid(&self, nid: &str) -> Option<&Member> {
        self.by_nid.get(nid)
    }

    /// (principal, installment) of the member's current or latest loan; (0, 0) for none.
    pub fn loan_terms(&self, member_id: i64) -> (i64, i64) {
        self.loans.get(&member_id).copied().unwrap_or((0, 0))
    }
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn existing(
    store: &Store,
    org: &Organization,
    (numbers, nids): &(Vec<String>, Vec<String>),
) -> Result<Existing> {
    let mut found = Existing::default();
    for chunk in nids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {MEMBER_COLS} FROM members WHERE nid IN ({})",
            placeholders(1, chunk.len())
        );
        let rows = on_store!(store, |p| {
            let mut q = sqlx::query_as::<_, Member>(sqlx::AssertSqlSafe(sql.as_str()));
            for n in chunk {
                q = q.bind(n);
            }
            q.fetch_all(p).await?
        });
        found
            .by_nid
            .extend(rows.into_iter().map(|m| (m.nid.clone(), m)));
    }
    for chunk in numbers.chunks(CHUNK) {
        let sql = format!(
            "SELECT member_no FROM members WHERE org_id = $1 AND member_no IN ({})",
            placeholders(2, chunk.len())
        );
        let rows: Vec<String> = on_store!(store, |p| {
            let mut q =
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str())).bind(org.id);
            for n in chunk {
                q = q.bind(n);
            }
            q.fetch_all(p).await?
        });
        found.numbers.extend(rows);
    }
    let ids: Vec<i64> = found.by_nid.values().map(|m| m.id).collect();
    for chunk in ids.chunks(CHUNK) {
        let accounts = crate::ledger::balance::accounts_of(store, chunk).await?;
        found.loans.extend(
            accounts
                .into_iter()
                .filter_map(|(id, a)| a.loan.map(|l| (id, (l.principal, l.installment)))),
        );
    }
    Ok(found)
}
