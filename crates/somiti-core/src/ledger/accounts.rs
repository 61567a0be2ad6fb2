//! The accounts' running balances computed again from the entries: what a bulk load (the
//! demo, a version-1 archive) writes after its rows, and what `ledger check` and `verify`
//! compare the stored balances with. Sums by grouping, never a subquery per row: this runs
//! over millions of collections.

use crate::db::Tx;
use crate::error::Result;
use crate::on_tx;

/// Effective loan payments per loan, and the latest standing payment's day.
const LOAN_SUMS: &str = "SELECT c.loan_id, \
    SUM(CASE WHEN c.reversal_of IS NULL THEN c.loan_paisa ELSE -c.loan_paisa END) AS paid, \
    MAX(CASE WHEN c.reversal_of IS NULL AND r.id IS NULL THEN c.collected_on END) AS last_paid_on \
    FROM collections c LEFT JOIN collections r ON r.reversal_of = c.id \
    WHERE c.loan_id IS NOT NULL AND c.loan_paisa > 0{org} GROUP BY c.loan_id";

/// Effective savings deposits per member, and the latest standing payment's day (any part).
const SAVINGS_SUMS: &str = "SELECT c.member_id, \
    SUM(CASE WHEN c.reversal_of IS NULL THEN c.savings_paisa ELSE -c.savings_paisa END) AS deposited, \
    MAX(CASE WHEN c.reversal_of IS NULL AND r.id IS NULL THEN c.collected_on END) AS last_paid_on \
    FROM collections c LEFT JOIN collections r ON r.reversal_of = c.id \
    WHERE 1 = 1{org} GROUP BY c.member_id";

/// Effective withdrawals per member.
const WITHDRAWAL_SUMS: &str = "SELECT w.member_id, \
    SUM(CASE WHEN w.reversal_of IS NULL THEN w.amount ELSE -w.amount END) AS withdrawn \
    FROM withdrawals w WHERE 1 = 1{org} GROUP BY w.member_id";

fn with_org(sql: &str, alias: &str, org: Option<i64>) -> String {
    sql.replace(
        "{org}",
        &org.map_or(String::new(), |o| format!(" AND {alias}.org_id = {o}")),
    )
}

/// Write every running balance (of one organization, or all) from the entries: loans'
/// `paid` and `last_paid_on`, an active loan paid in full becomes repaid (closed on its last
/// payment), and each member's savings account. For rows just loaded in bulk.
pub async fn rebuild_tx(tx: &mut Tx, org: Option<i64>) -> Result<()> {
    let org_where = org.map_or(String::new(), |o| format!(" WHERE org_id = {o}"));
    let statements = [
        format!("UPDATE loans SET paid = 0, last_paid_on = NULL{org_where}"),
        format!(
            "UPDATE loans SET paid = s.paid, last_paid_on = s.last_paid_on FROM ({}) AS s \
             WHERE s.loan_id = loans.id",
            with_org(LOAN_SUMS, "c", org)
        ),
        format!(
            "UPDATE loans SET status = 'repaid', closed_on = COALESCE(last_paid_on, disbursed_on) \
             WHERE status = 'active' AND paid >= principal + service_charge{}",
            org.map_or(String::new(), |o| format!(" AND org_id = {o}"))
        ),
        format!("DELETE FROM savings_accounts{org_where}"),
        format!(
            "INSERT INTO savings_accounts (member_id, org_id, deposited, withdrawn, last_paid_on) \
             SELECT m.id, m.org_id, COALESCE(s.deposited, 0), COALESCE(w.withdrawn, 0), s.last_paid_on \
             FROM members m LEFT JOIN ({}) AS s ON s.member_id = m.id \
             LEFT JOIN ({}) AS w ON w.member_id = m.id{} ORDER BY m.id",
            with_org(SAVINGS_SUMS, "c", org),
            with_org(WITHDRAWAL_SUMS, "w", org),
            org.map_or(String::new(), |o| format!(" WHERE m.org_id = {o}"))
        ),
    ];
    for sql in statements {
        on_tx!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

/// A running balance that is not what the entries give.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub org: String,
    pub member_no: String,
    /// "loan cycle 2" or "savings".
    pub account: String,
    pub field: &'static str,
    pub stored: String,
    pub from_entries: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} member {}: {} {} is {}, the entries give {}",
            self.org, self.member_no, self.account, self.field, self.stored, self.from_entries
        )
    }
}

/// `somiti ledger check`: every running balance (of one organization, or all) against its
/// entries; empty when all agree. Reads only.
pub async fn check(
    store: &crate::db::Store,
    op: &crate::access::Operator,
    org: Option<&crate::ledger::org::Organization>,
) -> Result<Vec<Mismatch>> {
    crate::access::require(
        store,
        op,
        crate::access::Permission::Read,
        org.map(|o| o.id),
        "ledger.check",
        org.map_or("all", |o| o.code.as_str()),
    )
    .await?;
    check_store(store, org.map(|o| o.id)).await
}

/// [`check`] without an operator: the drill's scratch database and a restore's load.
pub(crate) async fn check_store(
    store: &crate::db::Store,
    org: Option<i64>,
) -> Result<Vec<Mismatch>> {
    // A read snapshot, never a write transaction: a check of millions of entries must not
    // hold other writers off.
    let mut tx = crate::db::dialect::begin_snapshot(store).await?;
    let r = check_tx(&mut tx, org).await;
    let _ = tx.rollback().await;
    r
}

fn money(v: i64) -> String {
    crate::ledger::money::grouped(v)
}

fn day(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none".into())
}

/// [`check`] inside a transaction.
pub(crate) async fn check_tx(tx: &mut Tx, org: Option<i64>) -> Result<Vec<Mismatch>> {
    use std::collections::HashMap;
    let and_org = |alias: &str| org.map_or(String::new(), |o| format!(" AND {alias}.org_id = {o}"));
    // (loan id) → (org, member_no, cycle, status, owed, paid, last_paid_on)
    type Stored = (i64, String, String, i64, String, i64, i64, Option<String>);
    let loans_sql = format!(
        "SELECT l.id, o.code, m.member_no, l.cycle, l.status, l.principal + l.service_charge, \
         l.paid, CAST(l.last_paid_on AS TEXT) FROM loans l JOIN members m ON m.id = l.member_id \
         JOIN organizations o ON o.id = l.org_id WHERE 1 = 1{} ORDER BY o.code, l.member_id, l.cycle",
        and_org("l")
    );
    let loans: Vec<Stored> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        loans_sql.as_str()
    ))
    .fetch_all(&mut *c)
    .await?);
    let sums_sql = format!(
        "SELECT s.loan_id, CAST(s.paid AS BIGINT), CAST(s.last_paid_on AS TEXT) FROM ({}) AS s",
        with_org(LOAN_SUMS, "c", org)
    );
    let sums: HashMap<i64, (i64, Option<String>)> =
        on_tx!(tx, |c| sqlx::query_as::<_, (i64, i64, Option<String>)>(
            sqlx::AssertSqlSafe(sums_sql.as_str())
        )
        .fetch_all(&mut *c)
        .await?)
        .into_iter()
        .map(|(id, p, d)| (id, (p, d)))
        .collect();
    let mut out = Vec::new();
    for (id, code, no, cycle, status, owed, paid, last) in loans {
        let (want_paid, want_last) = sums.get(&id).cloned().unwrap_or((0, None));
        let mk = |field: &'static str, stored: String, from: String| Mismatch {
            org: code.clone(),
            member_no: no.clone(),
            account: format!("loan cycle {cycle}"),
            field,
            stored,
            from_entries: from,
        };
        if paid != want_paid {
            out.push(mk("paid", money(paid), money(want_paid)));
        }
        if last != want_last {
            out.push(mk("last paid on", day(&last), day(&want_last)));
        }
        if status == "active" && want_paid >= owed {
            out.push(mk(
                "status",
                "active".into(),
                format!("repaid ({} paid of {} owed)", money(want_paid), money(owed)),
            ));
        }
        if status == "repaid" && want_paid < owed {
            out.push(mk(
                "status",
                "repaid".into(),
                format!("active ({} paid of {} owed)", money(want_paid), money(owed)),
            ));
        }
    }
    type Acct = (
        i64,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let accts_sql = format!(
        "SELECT m.id, o.code, m.member_no, s.deposited, s.withdrawn, CAST(s.last_paid_on AS TEXT) \
         FROM members m JOIN organizations o ON o.id = m.org_id \
         LEFT JOIN savings_accounts s ON s.member_id = m.id WHERE 1 = 1{} ORDER BY o.code, m.id",
        and_org("m")
    );
    let accts: Vec<Acct> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(
        accts_sql.as_str()
    ))
    .fetch_all(&mut *c)
    .await?);
    let dep_sql = format!(
        "SELECT s.member_id, CAST(s.deposited AS BIGINT), CAST(s.last_paid_on AS TEXT) FROM ({}) AS s",
        with_org(SAVINGS_SUMS, "c", org)
    );
    let deposits: HashMap<i64, (i64, Option<String>)> =
        on_tx!(tx, |c| sqlx::query_as::<_, (i64, i64, Option<String>)>(
            sqlx::AssertSqlSafe(dep_sql.as_str())
        )
        .fetch_all(&mut *c)
        .await?)
        .into_iter()
        .map(|(id, p, d)| (id, (p, d)))
        .collect();
    let wd_sql = format!(
        "SELECT s.member_id, CAST(s.withdrawn AS BIGINT) FROM ({}) AS s",
        with_org(WITHDRAWAL_SUMS, "w", org)
    );
    let withdrawn: HashMap<i64, i64> = on_tx!(tx, |c| sqlx::query_as::<_, (i64, i64)>(
        sqlx::AssertSqlSafe(wd_sql.as_str())
    )
    .fetch_all(&mut *c)
    .await?)
    .into_iter()
    .collect();
    for (id, code, no, dep, wd, last) in accts {
        let (want_dep, want_last) = deposits.get(&id).cloned().unwrap_or((0, None));
        let want_wd = withdrawn.get(&id).copied().unwrap_or(0);
        let mk = |field: &'static str, stored: String, from: String| Mismatch {
            org: code.clone(),
            member_no: no.clone(),
            account: "savings".into(),
            field,
            stored,
            from_entries: from,
        };
        let (Some(dep), Some(wd)) = (dep, wd) else {
            out.push(mk(
                "account",
                "missing".into(),
                format!(
                    "deposited {}, withdrawn {}",
                    money(want_dep),
                    money(want_wd)
                ),
            ));
            continue;
        };
        if dep != want_dep {
            out.push(mk("deposited", money(dep), money(want_dep)));
        }
        if wd != want_wd {
            out.push(mk("withdrawn", money(wd), money(want_wd)));
        }
        if last != want_last {
            out.push(mk("last paid on", day(&last), day(&want_last)));
        }
        if want_wd > want_dep {
            out.push(mk(
                "balance",
                money(dep - wd),
                format!("{} (below zero)", money(want_dep - want_wd)),
            ));
        }
    }
    Ok(out)
}
