//! Demo data: lifelike organizations, field workers, members and months of daily
//! collections, made deterministically from a seed and a business date, and loaded in bulk
//! in one transaction through the dialect's bulk loader (multi-row INSERTs on SQLite,
//! `COPY` on PostgreSQL).
//!
//! The collections follow the ledger's rules of dues: from joining, every collection day
//! owes the daily installment (until the loan is repaid) plus the daily savings. Most
//! members pay in full, some pay part, some miss a day, a few pay ahead, and now and then an
//! entry is reversed with a reason and entered again. Days are closed through three days
//! ago; today is partly collected so the daily review shows work in progress.
//!
//! By concern: `options` (what to make), `names` (name tables, NIDs, mobiles), `plan`
//! (organizations, workers and members in memory), `sim` (the collections, day by day) and
//! `load` (into the database); this module runs them in one transaction.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, SubsecRound as _, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::access::audit;
use crate::db::{Store, Tx, dialect};
use crate::error::{Error, Result};
use crate::ledger::org::{self, ORG_COLS, Organization, Worker};
use crate::{on_store, on_tx};

mod load;
mod names;
mod options;
mod plan;
mod sim;

pub use options::{DemoOptions, DemoSummary, MAX_DAYS, MAX_MEMBERS, MAX_ORGS};

use names::org_profile;
use options::check_options;
use plan::{NextIds, OrgPlan, Taken, plan_org};
use sim::{EntryStream, local_noon_utc};

/// Fill the ledger with demo data for `opts.days` days ending `today` (the business date).
///
/// Uses the existing organizations first (oldest first) and creates more when fewer than
/// `opts.orgs` exist. Refuses when any of those organizations already has members: demo
/// data goes into an empty ledger. The same seed and `today` give the same data (when
/// `today` is the real business date, today's entries are not stamped later than now).
pub async fn generate(
    store: &Store,
    actor: &str,
    opts: &DemoOptions,
    today: NaiveDate,
) -> Result<DemoSummary> {
    let r = generate_checked(store, actor, opts, today).await;
    if let Err(e) = &r {
        let outcome = if matches!(e, Error::Refused(_)) {
            audit::Outcome::Refused
        } else {
            audit::Outcome::Failed
        };
        // Best effort: the audit write must not hide the reason itself.
        let _ = audit::record(
            store,
            actor,
            "demo.generate",
            "",
            serde_json::json!({ "options": opts, "today": today, "error": e.to_string() }),
            outcome,
        )
        .await;
    }
    r
}

async fn generate_checked(
    store: &Store,
    actor: &str,
    opts: &DemoOptions,
    today: NaiveDate,
) -> Result<DemoSummary> {
    check_options(opts)?;
    let orgs_sql = format!("SELECT {ORG_COLS} FROM organizations ORDER BY id");
    let existing: Vec<Organization> = on_store!(store, |p| sqlx::query_as::<_, Organization>(
        sqlx::AssertSqlSafe(orgs_sql.as_str())
    )
    .fetch_all(p)
    .await?);
    let mut targets: Vec<Organization> = existing.into_iter().take(opts.orgs as usize).collect();
    for o in &targets {
        refuse_if_members(member_count(store, o.id).await?, o)?;
    }

    // More organizations when needed: SOM2, SOM3, … (skipping codes in use).
    let mut n = targets.len() + 1;
    while targets.len() < opts.orgs as usize {
        let code = format!("SOM{n}");
        n += 1;
        if org::find_by_code(store, &code).await?.is_some() {
            continue;
        }
        let profile = org_profile(targets.len(), &code);
        targets.push(org::insert_unchecked(store, actor, &profile).await?);
    }

    let mut tx = store.begin().await?;
    let result = fill(&mut tx, actor, opts, today, &targets).await;
    match result {
        Ok(summary) => {
            tx.commit().await?;
            Ok(summary)
        }
        Err(e) => {
            // The rollback's own error would hide the cause.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn member_count(store: &Store, org_id: i64) -> Result<i64> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM members WHERE org_id = $1"
    )
    .bind(org_id)
    .fetch_one(p)
    .await?))
}

fn refuse_if_members(count: i64, o: &Organization) -> Result<()> {
    if count > 0 {
        return Err(Error::Refused(format!(
            "{} already has {count} member(s); demo data goes into an empty ledger \
             (use a fresh database, e.g. `somiti --demo`, or another --data-dir)",
            o.code
        )));
    }
    Ok(())
}

/// Everything inside the one transaction: re-check, plan, load, close days, audit.
async fn fill(
    tx: &mut Tx,
    actor: &str,
    opts: &DemoOptions,
    today: NaiveDate,
    targets: &[Organization],
) -> Result<DemoSummary> {
    // Explicit ids below: keep other writers out of these tables until commit. The
    // collections' foreign keys are dropped and re-added around the bulk load (see
    // `load`), which needs collections exclusively; all locks are taken here, up front, so
    // none has to be upgraded later.
    dialect::lock_for_load(
        tx,
        &["organizations", "workers", "members"],
        &["collections"],
    )
    .await?;
    let mut existing_workers = Vec::with_capacity(targets.len());
    for o in targets {
        let count: i64 = on_tx!(&mut *tx, |c| sqlx::query_scalar(
            "SELECT COUNT(*) FROM members WHERE org_id = $1"
        )
        .bind(o.id)
        .fetch_one(&mut *c)
        .await?);
        refuse_if_members(count, o)?;
        let ws: Vec<Worker> = on_tx!(&mut *tx, |c| sqlx::query_as::<_, Worker>(
            "SELECT id, org_id, name, mobile, active FROM workers WHERE org_id = $1 ORDER BY id"
        )
        .bind(o.id)
        .fetch_all(&mut *c)
        .await?);
        existing_workers.push(ws);
    }
    let nids: Vec<String> = on_tx!(&mut *tx, |c| sqlx::query_scalar("SELECT nid FROM members")
        .fetch_all(&mut *c)
        .await?);
    let mut ids = NextIds {
        worker: max_id(tx, "workers").await? + 1,
        member: max_id(tx, "members").await? + 1,
        loan: max_id(tx, "loans").await? + 1,
        collection: max_id(tx, "collections").await? + 1,
    };

    let window_start = today - Duration::days(i64::from(opts.days) - 1);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut taken = Taken {
        nids: nids.into_iter().collect(),
        mobiles: HashSet::new(),
    };
    let per_org = opts.members / opts.orgs;
    let extra = opts.members % opts.orgs;
    let mut plans = Vec::with_capacity(targets.len());
    for (i, (o, ws)) in targets.iter().zip(existing_workers).enumerate() {
        let n = per_org + u32::from((i as u32) < extra);
        let org_seed: u64 = rng.random();
        plans.push(plan_org(
            o,
            ws,
            n,
            actor,
            window_start,
            today,
            org_seed,
            i,
            &mut ids,
            &mut taken,
        ));
    }

    // Whole seconds, like every other entry time: the same text on both backends.
    let now_cap = Utc::now().trunc_subsecs(0);
    let mut stream = EntryStream::new(
        &plans,
        window_start,
        today,
        now_cap,
        ids.collection,
        ids.loan,
    );
    load::load(tx, &plans, &mut stream).await?;

    // Close every day through three days ago (one row: a close covers all earlier days).
    let close_on = today - Duration::days(3);
    let days_closed_through = (close_on >= window_start).then_some(close_on);
    if let Some(d) = days_closed_through {
        for p in &plans {
            // Closed the next day after lunch, once the late entries are in.
            let closed_at = local_noon_utc(&p.tz, d + Duration::days(1)) + Duration::hours(1);
            on_tx!(&mut *tx, |c| {
                sqlx::query(
                "INSERT INTO day_closes (org_id, closed_on, closed_by, closed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING"
            )
            .bind(p.org.id)
            .bind(d)
            .bind(actor)
            .bind(closed_at)
            .execute(&mut *c)
            .await?
            .rows_affected()
            });
        }
    }

    // A few savings paid out today and one loan written off in each organization, so the
    // demo shows every kind of entry (second loan cycles come from the simulation).
    for p in &plans {
        account_events(tx, p, today, actor).await?;
    }

    let summary = DemoSummary {
        organizations: plans.iter().map(|p| p.org.code.clone()).collect(),
        workers: plans.iter().map(|p| p.workers.len() as u64).sum(),
        members: plans.iter().map(|p| p.members.len() as u64).sum(),
        collections: stream.written,
        reversals: stream.reversals,
        days_closed_through,
    };
    audit::record_tx(
        tx,
        actor,
        "demo.generate",
        &summary.organizations.join(","),
        serde_json::json!({
            "options": opts,
            "today": today,
            "from": window_start,
            "summary": &summary,
        }),
    )
    .await?;
    Ok(summary)
}

/// Withdrawals (a quarter of the savings of every 20th active member with at least 1,000
/// taka saved) and the write-off of the first inactive member's loan, on `today`.
async fn account_events(tx: &mut Tx, p: &OrgPlan, today: NaiveDate, actor: &str) -> Result<()> {
    let now = crate::db::now_micros();
    for m in p
        .members
        .iter()
        .filter(|m| m.status == "active" && m.joined_on < today)
        .step_by(20)
    {
        let balance: i64 = on_tx!(&mut *tx, |c| sqlx::query_scalar::<_, i64>(
            "SELECT deposited - withdrawn FROM savings_accounts WHERE member_id = $1"
        )
        .bind(m.id)
        .fetch_one(&mut *c)
        .await?);
        if balance < 100_000 {
            continue;
        }
        let amount = balance / 4 / 10_000 * 10_000;
        on_tx!(&mut *tx, |c| {
            sqlx::query(
            "INSERT INTO withdrawals (org_id, member_id, withdrawn_on, amount, reason, entered_by, entered_at, reversal_of) \
             VALUES ($1, $2, $3, $4, 'school fees', $5, $6, NULL)"
        )
        .bind(p.org.id)
        .bind(m.id)
        .bind(today)
        .bind(amount)
        .bind(actor)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
        });
        on_tx!(&mut *tx, |c| sqlx::query(
            "UPDATE savings_accounts SET withdrawn = withdrawn + $1 WHERE member_id = $2"
        )
        .bind(amount)
        .bind(m.id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    }
    if let Some(m) = p.members.iter().find(|m| m.status == "inactive") {
        on_tx!(&mut *tx, |c| sqlx::query(
            "UPDATE loans SET status = 'written_off', closed_on = $1, \
             written_off = principal + service_charge - paid, \
             close_reason = 'stopped paying; written off by the board' \
             WHERE member_id = $2 AND status = 'active'"
        )
        .bind(today)
        .bind(m.id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    }
    Ok(())
}

async fn max_id(tx: &mut Tx, table: &str) -> Result<i64> {
    let sql = format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}");
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(&mut *c)
    .await?))
}
