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
