//! Demo data: lifelike organizations, field workers, members and months of daily
//! collections, made deterministically from a seed and a business date, and loaded in bulk
//! (multi-row INSERTs in one transaction on SQLite, `COPY` on PostgreSQL).
//!
//! The collections follow the ledger's rules of dues: from joining, every collection day
//! owes the daily installment (until the loan is repaid) plus the daily savings. Most
//! members pay in full, some pay part, some miss a day, a few pay ahead, and now and then an
//! entry is reversed with a reason and entered again. Days are closed through three days
//! ago; today is partly collected so the daily review shows work in progress.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sqlx::{PgConnection, SqliteConnection};

use crate::access::audit;
use crate::db::{Store, Tx};
use crate::error::{Error, Result};
use crate::ledger::org::{self, CollectionDays, NewOrganization, ORG_COLS, Organization, Worker};
use crate::{on_store, on_tx};

/// What to generate. `members` is the total, split evenly across `orgs` organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoOptions {
    pub members: u32,
    pub days: u32,
    pub orgs: u32,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            members: 300,
            days: 90,
            orgs: 1,
            seed: 42,
        }
    }
}

/// Upper bounds that keep a typo from filling the disk.
pub const MAX_MEMBERS: u32 = 1_000_000;
pub const MAX_DAYS: u32 = 3_660;
pub const MAX_ORGS: u32 = 100;

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    /// Codes of the organizations that received data, in order.
    pub organizations: Vec<String>,
    /// Active workers in those organizations (existing ones included).
    pub workers: u64,
    pub members: u64,
    /// Collection rows written, reversal rows included.
    pub collections: u64,
    /// Reversal rows among them.
    pub reversals: u64,
    pub days_closed_through: Option<NaiveDate>,
}

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

fn check_options(opts: &DemoOptions) -> Result<()> {
    if opts.orgs == 0 || opts.orgs > MAX_ORGS {
        return Err(Error::invalid(
            "orgs",
            format!("must be 1 to {MAX_ORGS} (got {})", opts.orgs),
        ));
    }
    if opts.days == 0 || opts.days > MAX_DAYS {
        return Err(Error::invalid(
            "days",
            format!("must be 1 to {MAX_DAYS} (got {})", opts.days),
        ));
    }
    if opts.members > MAX_MEMBERS {
        return Err(Error::invalid(
            "members",
            format!("must be at most {MAX_MEMBERS} (got {})", opts.members),
        ));
    }
    Ok(())
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
    if let Tx::Postgres(t) = tx {
        // Explicit ids below: keep other writers out of these tables until commit. The
        // collections' foreign keys are dropped and re-added around the bulk load (see
        // `load_postgres`), which needs collections exclusively; all locks are taken here,
        // up front, so none has to be upgraded later.
        sqlx::query("LOCK TABLE organizations, workers, members IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut **t)
            .await?;
        sqlx::query("LOCK TABLE collections IN ACCESS EXCLUSIVE MODE")
            .execute(&mut **t)
            .await?;
    }
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

    let now_cap = Utc::now();
    let mut stream = EntryStream::new(&plans, window_start, today, now_cap, ids.collection);
    match &mut *tx {
        Tx::Sqlite(t) => load_sqlite(t, &plans, &mut stream).await?,
        Tx::Postgres(t) => load_postgres(t, &plans, &mut stream).await?,
    }

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

async fn max_id(tx: &mut Tx, table: &str) -> Result<i64> {
    let sql = format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}");
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(&mut *c)
    .await?))
}

// ---------------------------------------------------------------------------------------
// Planning: organizations, workers and members, all in memory.

struct NextIds {
    worker: i64,
    member: i64,
    collection: i64,
}

/// NIDs (across the whole database) and mobiles already handed out.
struct Taken {
    nids: HashSet<String>,
    mobiles: HashSet<String>,
}

struct NewWorker {
    id: i64,
    org_id: i64,
    name: String,
    mobile: String,
}

struct NewMember {
    id: i64,
    org_id: i64,
    member_no: String,
    name: String,
    nid: String,
    mobile: String,
    worker_id: Option<i64>,
    loan_amount: i64,
    daily_installment: i64,
    daily_savings: i64,
    status: &'static str,
    joined_on: NaiveDate,
    /// Index into `OrgPlan::users` of the worker who collects from this member.
    user: usize,
}

/// One organization's share of the demo.
struct OrgPlan {
    org: Organization,
    tz: Tz,
    days: CollectionDays,
    /// The workers to insert.
    new_workers: Vec<NewWorker>,
    /// Every active worker of the organization (existing and new): (id, users index).
    workers: Vec<(i64, usize)>,
    members: Vec<NewMember>,
    /// Who enters entries: `users[0]` is the operator, then one username per worker.
    users: Vec<String>,
    seed: u64,
}

#[allow(clippy::too_many_arguments)]
fn plan_org(
    o: &Organization,
    existing: Vec<Worker>,
    members: u32,
    actor: &str,
    window_start: NaiveDate,
    today: NaiveDate,
    seed: u64,
    org_index: usize,
    ids: &mut NextIds,
    taken: &mut Taken,
) -> OrgPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut users = vec![actor.to_string()];
    let mut workers = Vec::new();
    for w in existing.iter().filter(|w| w.active) {
        users.push(username_for(&w.name, w.id));
        workers.push((w.id, users.len() - 1));
    }
    let want = rng.random_range(3..=8usize);
    let mut new_workers = Vec::new();
    // Different people in each organization: walk the list from a different place.
    let mut pick: Vec<usize> = (0..WORKER_NAMES.len()).collect();
    pick.shuffle(&mut rng);
    for k in 0..want.saturating_sub(workers.len()) {
        let slot = org_index * 8 + k;
        let (name, user) = WORKER_NAMES[pick[slot % WORKER_NAMES.len()]];
        let round = slot / WORKER_NAMES.len();
        let mut username = if round == 0 {
            user.to_string()
        } else {
            format!("{user}{}", round + 1)
        };
        if users.contains(&username) {
            username = format!("{username}{}", ids.worker);
        }
        let w = NewWorker {
            id: ids.worker,
            org_id: o.id,
            name: name.to_string(),
            mobile: mobile(&mut rng, taken),
        };
        ids.worker += 1;
        users.push(username);
        workers.push((w.id, users.len() - 1));
        new_workers.push(w);
    }

    // Members mostly live in the organization's district.
    let home = DISTRICTS[rng.random_range(0..DISTRICTS.len())];
    let late_span = i64::from(((today - window_start).num_days() as u32 / 3).max(1));
    let mut list = Vec::with_capacity(members as usize);
    for no in 1..=members {
        let (wid, user) = workers[rng.random_range(0..workers.len())];
        let loan_taka: i64 = rng.random_range(20..=200) * 500;
        let repay_days: i64 = rng.random_range(100..=300);
        let installment_taka = (loan_taka + repay_days - 1) / repay_days;
        let savings_taka: i64 = rng.random_range(2..=20) * 5;
        let joined_on = if rng.random_bool(0.65) {
            window_start
        } else {
            (window_start + Duration::days(rng.random_range(1..=late_span))).min(today)
        };
        let status = match rng.random::<f64>() {
            r if r < 0.025 => "inactive",
            r if r < 0.040 => "closed",
            _ => "active",
        };
        let district = if rng.random_bool(0.85) {
            home
        } else {
            DISTRICTS[rng.random_range(0..DISTRICTS.len())]
        };
        list.push(NewMember {
            id: ids.member,
            org_id: o.id,
            member_no: no.to_string(),
            name: member_name(&mut rng),
            nid: nid(&mut rng, district, taken),
            mobile: mobile(&mut rng, taken),
            worker_id: Some(wid),
            loan_amount: loan_taka * 100,
            daily_installment: installment_taka * 100,
            daily_savings: savings_taka * 100,
            status,
            joined_on,
            user,
        });
        ids.member += 1;
    }
    OrgPlan {
        tz: o.tz(),
        days: o.collection_days(),
        org: o.clone(),
        new_workers,
        workers,
        members: list,
        users,
        seed: rng.random(),
    }
}

/// A login-like name for an existing worker: the last word of the name, lowercased.
fn username_for(name: &str, id: i64) -> String {
    let word: String = name
        .split_whitespace()
        .next_back()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if word.is_empty() {
        format!("worker{id}")
    } else {
        word
    }
}

/// A valid, unused mobile: `01[3-9]` and eight digits (the big operators more often).
fn mobile(rng: &mut ChaCha8Rng, taken: &mut Taken) -> String {
    const PREFIXES: [&str; 10] = [
        "017", "017", "019", "018", "013", "016", "015", "014", "019", "017",
    ];
    loop {
        let m = format!(
            "{}{:08}",
            PREFIXES[rng.random_range(0..PREFIXES.len())],
            rng.random_range(0..100_000_000u32)
        );
        if taken.mobiles.insert(m.clone()) {
            return m;
        }
    }
}

/// A valid NID not used anywhere in the database: a 10-digit smart-card number, or the
/// older 13-digit form (district, upazila, serial), or 17 digits (birth year first).
fn nid(rng: &mut ChaCha8Rng, district: &str, taken: &mut Taken) -> String {
    loop {
        let r: f64 = rng.random();
        let n = if r < 0.5 {
            format!(
                "{}{:09}",
                rng.random_range(1..=9u32),
                rng.random_range(0..1_000_000_000u32)
            )
        } else {
            let old = format!(
                "{district}{:02}{:09}",
                rng.random_range(1..=40u32),
                rng.random_range(0..1_000_000_000u32)
            );
            if r < 0.7 {
                old
            } else {
                format!("{}{old}", rng.random_range(1955..=2003u32))
            }
        };
        if taken.nids.insert(n.clone()) {
            return n;
        }
    }
}

type NamePart = (&'static str, &'static str);

fn pick(rng: &mut ChaCha8Rng, list: &[NamePart]) -> NamePart {
    list[rng.random_range(0..list.len())]
}

/// A member's name: mostly women (as in most somitis), Muslim and Hindu names, about a
/// third written in Bengali script.
fn member_name(rng: &mut ChaCha8Rng) -> String {
    let bengali = rng.random_bool(0.35);
    let r: f64 = rng.random();
    let parts: Vec<NamePart> = if r < 0.72 {
        let mut v = Vec::new();
        if rng.random_bool(0.3) {
            v.push(("Mst.", "মোছাঃ"));
        }
        v.push(pick(rng, FEMALE_GIVEN));
        v.push(pick(rng, FEMALE_FAMILY));
        v
    } else if r < 0.90 {
        let mut v = Vec::new();
        if rng.random_bool(0.6) {
            v.push(("Md.", "মোঃ"));
        }
        v.push(pick(rng, MALE_GIVEN));
        v.push(pick(rng, MALE_FAMILY));
        v
    } else if r < 0.96 {
        vec![
            pick(rng, HINDU_FEMALE_GIVEN),
            ("Rani", "রাণী"),
            pick(rng, HINDU_FAMILY),
        ]
    } else {
        vec![
            pick(rng, HINDU_MALE_GIVEN),
            ("Chandra", "চন্দ্র"),
            pick(rng, HINDU_FAMILY),
        ]
    };
    parts
        .iter()
        .map(|(latin, bn)| if bengali { *bn } else { *latin })
        .collect::<Vec<_>>()
        .join(" ")
}

fn org_profile(index: usize, code: &str) -> NewOrganization {
    let (name, address, contact) = ORG_PROFILES[index % ORG_PROFILES.len()];
    let round = index / ORG_PROFILES.len();
    let name = if round == 0 {
        name.to_string()
    } else {
        format!("{name} ({})", round + 1)
    };
    // A fixed, valid contact number derived from the index keeps runs repeatable.
    let mobile = format!("0171{:07}", 1_234_567 + index * 1_111);
    NewOrganization {
        code: code.to_string(),
        name,
        address: address.to_string(),
        contact_person: contact.to_string(),
        mobile,
        email: format!("{}@somiti.example.org", code.to_ascii_lowercase()),
        timezone: None,
        collection_days: None,
    }
}

// ---------------------------------------------------------------------------------------
// Collections: generated day by day, streamed to the database in chunks.

/// One collections row.
struct Entry<'a> {
    id: i64,
    org_id: i64,
    member_id: i64,
    collected_on: NaiveDate,
    loan: i64,
    savings: i64,
    worker_id: Option<i64>,
    note: &'static str,
    entered_by: &'a str,
    entered_at: DateTime<Utc>,
    reversal_of: Option<i64>,
}

/// Rows per chunk handed to the database.
const CHUNK_ROWS: usize = 20_000;

/// The per-organization state of the simulation.
struct OrgSim {
    rng: ChaCha8Rng,
    outstanding: Vec<i64>,
    /// What each member owes from earlier days (negative: paid ahead).
    behind: Vec<i64>,
    day: NaiveDate,
}

/// Walks organizations, then days, then members, producing collections rows with ids in
/// entry order.
struct EntryStream<'a> {
    plans: &'a [OrgPlan],
    window_start: NaiveDate,
    today: NaiveDate,
    /// Entries for today are not later than this instant when today is the real today.
    now_cap: DateTime<Utc>,
    next_id: i64,
    org: usize,
    sim: Option<OrgSim>,
    written: u64,
    reversals: u64,
}

impl<'a> EntryStream<'a> {
    fn new(
        plans: &'a [OrgPlan],
        window_start: NaiveDate,
        today: NaiveDate,
        now_cap: DateTime<Utc>,
        first_id: i64,
    ) -> Self {
        EntryStream {
            plans,
            window_start,
            today,
            now_cap,
            next_id: first_id,
            org: 0,
            sim: None,
            written: 0,
            reversals: 0,
        }
    }

    /// Append rows to `out` until it holds at least `want` or the data runs out.
    /// False when nothing was added (the end).
    fn fill(&mut self, out: &mut Vec<Entry<'a>>, want: usize) -> bool {
        let before = out.len();
        let plans = self.plans;
        while out.len() < want && self.org < plans.len() {
            let plan = &plans[self.org];
            let sim = self.sim.get_or_insert_with(|| OrgSim {
                rng: ChaCha8Rng::seed_from_u64(plan.seed),
                outstanding: plan.members.iter().map(|m| m.loan_amount).collect(),
                behind: vec![0; plan.members.len()],
                day: self.window_start,
            });
            if sim.day > self.today {
                self.sim = None;
                self.org += 1;
                continue;
            }
            let d = sim.day;
            sim.day = d + Duration::days(1);
            if !plan.days.is_collection_day(d) {
                continue;
            }
            let mut sim = self.sim.take().expect("sim");
            self.day(plan, &mut sim, d, out);
            self.sim = Some(sim);
        }
        let added = out.len() - before;
        self.written += added as u64;
        added > 0
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Every active member's entries for collection day `d`.
    fn day(&mut self, plan: &'a OrgPlan, sim: &mut OrgSim, d: NaiveDate, out: &mut Vec<Entry<'a>>) {
        let noon = local_noon_utc(&plan.tz, d);
        let next_noon = local_noon_utc(&plan.tz, d + Duration::days(1));
        let is_today = d == self.today;
        // Only when generating for the real business date can "now" cut today short.
        let cap = (plan.org.local_date(self.now_cap) == self.today).then_some(self.now_cap);
        let rng = &mut sim.rng;
        for (i, m) in plan.members.iter().enumerate() {
            if m.status != "active" || d < m.joined_on {
                continue;
            }
            let outstanding = sim.outstanding[i];
            let loan_due = m.daily_installment.min(outstanding);
            let worker_user = plan.users[m.user].as_str();
            let row = |id: i64, loan: i64, savings: i64, by: &'a str, at: DateTime<Utc>| Entry {
                id,
                org_id: m.org_id,
                member_id: m.id,
                collected_on: d,
                loan,
                savings,
                worker_id: m.worker_id,
                note: "",
                entered_by: by,
                entered_at: at,
                reversal_of: None,
            };

            if is_today {
                // About 60 % have paid by the time the office looks at today's review.
                if rng.random_bool(0.6) {
                    let mut at = noon + Duration::seconds(rng.random_range(-4 * 3600..2 * 3600));
                    if let Some(cap) = cap {
                        at = at.min(cap);
                    }
                    let (loan, savings) = if sim.behind[i] > 0 && rng.random_bool(0.35) {
                        catch_up(
                            sim.behind[i] + loan_due + m.daily_savings,
                            m.daily_savings,
                            outstanding,
                        )
                    } else {
                        (loan_due, m.daily_savings)
                    };
                    let id = self.take_id();
                    out.push(row(id, loan, savings, worker_user, at));
                    sim.outstanding[i] -= loan;
                }
                continue;
            }

            let r: f64 = rng.random();
            let due_today = loan_due + m.daily_savings;
            let (loan, savings) = if r < 0.80 {
                // Most pay the day's due; one who is behind often clears it too.
                if sim.behind[i] > 0 && rng.random_bool(0.35) {
                    catch_up(sim.behind[i] + due_today, m.daily_savings, outstanding)
                } else {
                    (loan_due, m.daily_savings)
                }
            } else if r < 0.88 {
                // Partial: a round share of the day's due, the loan first.
                let total = loan_due + m.daily_savings;
                let share = total * rng.random_range(30..=80) / 100;
                let pay = if share >= 1_000 {
                    share / 1_000 * 1_000
                } else {
                    share / 100 * 100
                };
                if pay == 0 || pay >= total {
                    sim.behind[i] += due_today;
                    continue;
                }
                let loan = pay.min(loan_due);
                (loan, pay - loan)
            } else if r < 0.96 {
                sim.behind[i] += due_today;
                continue; // missed
            } else if r < 0.99 {
                // Ahead: two (sometimes three) days at once.
                let k = if rng.random_bool(0.8) { 2 } else { 3 };
                (
                    (k * m.daily_installment).min(outstanding),
                    k * m.daily_savings,
                )
            } else {
                (loan_due, m.daily_savings)
            };
            sim.outstanding[i] -= loan;
            sim.behind[i] += due_today - loan - savings;

            // Who typed it and when: the worker that evening, sometimes the office; a few
            // reach the office the next morning.
            let by = if rng.random_bool(0.85) {
                worker_user
            } else {
                plan.users[0].as_str()
            };
            let late = d + Duration::days(2) <= self.today && rng.random_bool(0.02);
            let at = if late {
                next_noon - Duration::seconds(rng.random_range(0..3 * 3600))
            } else {
                noon + Duration::seconds(rng.random_range(5 * 3600..10 * 3600))
            };

            if !rng.random_bool(0.005) {
                let id = self.take_id();
                out.push(row(id, loan, savings, by, at));
                continue;
            }

            // A mistake, its reversal (by the office, with the reason) and the right entry.
            let reason_at = at + Duration::seconds(rng.random_range(10 * 60..120 * 60));
            let fixed_at = reason_at + Duration::seconds(rng.random_range(60..600));
            let office = plan.users[0].as_str();
            let swapped = (savings.min(outstanding), loan);
            let mistake = match rng.random_range(0..3) {
                0 if swapped != (loan, savings) && swapped != (0, 0) => {
                    Some((swapped, "loan and savings amounts swapped"))
                }
                1 if loan > 0 && loan * 10 <= outstanding => Some((
                    (loan * 10, savings),
                    "wrong amount typed: an extra zero on the loan",
                )),
                _ => None,
            };
            self.reversals += 1;
            match mistake {
                Some(((wrong_loan, wrong_savings), reason)) => {
                    let wrong_id = self.take_id();
                    out.push(row(wrong_id, wrong_loan, wrong_savings, by, at));
                    let rev_id = self.take_id();
                    out.push(Entry {
                        note: reason,
                        reversal_of: Some(wrong_id),
                        ..row(rev_id, wrong_loan, wrong_savings, office, reason_at)
                    });
                    let id = self.take_id();
                    out.push(Entry {
                        note: "corrected entry",
                        ..row(id, loan, savings, by, fixed_at)
                    });
                }
                None => {
                    // Posted twice: the first entry stands, the duplicate is reversed.
                    let id = self.take_id();
                    out.push(row(id, loan, savings, by, at));
                    let dup_id = self.take_id();
                    out.push(row(dup_id, loan, savings, by, at + Duration::seconds(40)));
                    let rev_id = self.take_id();
                    out.push(Entry {
                        note: "posted twice by mistake",
                        reversal_of: Some(dup_id),
                        ..row(rev_id, loan, savings, office, reason_at)
                    });
                }
            }
        }
    }
}

/// Pay everything owed (`owed`): the loan first up to what is outstanding, keeping the
/// day's savings, the rest as savings.
fn catch_up(owed: i64, daily_savings: i64, outstanding: i64) -> (i64, i64) {
    let loan = (owed - daily_savings).clamp(0, outstanding);
    (loan, owed - loan)
}

/// Noon of `d` in `tz`, in UTC: the anchor for a day's entry times (clear of DST shifts).
fn local_noon_utc(tz: &Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon"));
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

// ---------------------------------------------------------------------------------------
// Loading: SQLite.

/// Rows per multi-row INSERT (12 columns × 500 stays far below SQLite's 32766 parameters).
const SQLITE_ROWS_PER_INSERT: usize = 500;

/// Page cache (KiB) of the SQLite connection during the load.
const SQLITE_LOAD_CACHE_KIB: i64 = 64 * 1024;

const WORKER_COLS: &[&str] = &["id", "org_id", "name", "mobile", "active"];
const MEMBER_COLS: &[&str] = &[
    "id",
    "org_id",
    "member_no",
    "name",
    "nid",
    "mobile",
    "worker_id",
    "loan_amount",
    "daily_installment",
    "daily_savings",
    "status",
    "joined_on",
];
const COLLECTION_COLS: &[&str] = &[
    "id",
    "org_id",
    "member_id",
    "collected_on",
    "loan_paisa",
    "savings_paisa",
    "worker_id",
    "note",
    "entered_by",
    "entered_at",
    "reversal_of",
];

fn insert_sql(table: &str, cols: &[&str], rows: usize) -> Arc<str> {
    let one = format!("({})", vec!["?"; cols.len()].join(","));
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        cols.join(", "),
        vec![one; rows].join(",")
    )
    .into()
}

/// Prepared multi-row INSERT statements for one table: the full-size one is reused.
struct Inserts {
    table: &'static str,
    cols: &'static [&'static str],
    full: Arc<str>,
}

impl Inserts {
    fn new(table: &'static str, cols: &'static [&'static str]) -> Self {
        Inserts {
            table,
            cols,
            full: insert_sql(table, cols, SQLITE_ROWS_PER_INSERT),
        }
    }

    fn sql(&self, rows: usize) -> Arc<str> {
        if rows == SQLITE_ROWS_PER_INSERT {
            self.full.clone()
        } else {
            insert_sql(self.table, self.cols, rows)
        }
    }
}

async fn load_sqlite<'a>(
    c: &mut SqliteConnection,
    plans: &'a [OrgPlan],
    stream: &mut EntryStream<'a>,
) -> Result<()> {
    // Rows arrive in date order, so the (member, date) index is written all over; a page
    // cache that holds it saves spilling and re-reading pages. Restored afterwards: the
    // connection goes back to the pool.
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
        .fetch_one(&mut *c)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}"
    )))
    .execute(&mut *c)
    .await?;
    let r = load_sqlite_rows(c, plans, stream).await;
    let restore = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))
        .execute(&mut *c)
        .await;
    r?;
    restore?;
    Ok(())
}

async fn load_sqlite_rows<'a>(
    c: &mut SqliteConnection,
    plans: &'a [OrgPlan],
    stream: &mut EntryStream<'a>,
) -> Result<()> {
    let ins = Inserts::new("workers", WORKER_COLS);
    let workers: Vec<&NewWorker> = plans.iter().flat_map(|p| &p.new_workers).collect();
    for chunk in workers.chunks(SQLITE_ROWS_PER_INSERT) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(ins.sql(chunk.len())));
        for w in chunk {
            q = q
                .bind(w.id)
                .bind(w.org_id)
                .bind(&w.name)
                .bind(&w.mobile)
                .bind(true);
        }
        q.execute(&mut *c).await?;
    }

    let ins = Inserts::new("members", MEMBER_COLS);
    let members: Vec<&NewMember> = plans.iter().flat_map(|p| &p.members).collect();
    for chunk in members.chunks(SQLITE_ROWS_PER_INSERT) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(ins.sql(chunk.len())));
        for m in chunk {
            q = q
                .bind(m.id)
                .bind(m.org_id)
                .bind(&m.member_no)
                .bind(&m.name)
                .bind(&m.nid)
                .bind(&m.mobile)
                .bind(m.worker_id)
                .bind(m.loan_amount)
                .bind(m.daily_installment)
                .bind(m.daily_savings)
                .bind(m.status)
                .bind(m.joined_on);
        }
        q.execute(&mut *c).await?;
    }

    let ins = Inserts::new("collections", COLLECTION_COLS);
    let mut buf = Vec::with_capacity(CHUNK_ROWS + 64);
    while stream.fill(&mut buf, CHUNK_ROWS) {
        for chunk in buf.chunks(SQLITE_ROWS_PER_INSERT) {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(ins.sql(chunk.len())));
            for e in chunk {
                q = q
                    .bind(e.id)
                    .bind(e.org_id)
                    .bind(e.member_id)
                    .bind(e.collected_on)
                    .bind(e.loan)
                    .bind(e.savings)
                    .bind(e.worker_id)
                    .bind(e.note)
                    .bind(e.entered_by)
                    .bind(e.entered_at)
                    .bind(e.reversal_of);
            }
            q.execute(&mut *c).await?;
        }
        buf.clear();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Loading: PostgreSQL, with COPY … FROM STDIN (CSV).

/// Bytes of CSV sent per COPY message.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// A CSV text field, always quoted (an unquoted empty field would be NULL).
fn csv_text(buf: &mut String, s: &str) {
    buf.push('"');
    for ch in s.chars() {
        if ch == '"' {
            buf.push('"');
        }
        buf.push(ch);
    }
    buf.push('"');
}

/// An optional number: empty (NULL) when absent.
fn csv_opt(buf: &mut String, v: Option<i64>) {
    if let Some(v) = v {
        let _ = write!(buf, "{v}");
    }
}

async fn copy_all(c: &mut PgConnection, statement: &str, data: &str) -> Result<()> {
    let mut copy = c.copy_in_raw(statement).await?;
    for chunk in data.as_bytes().chunks(COPY_CHUNK_BYTES) {
        if let Err(e) = copy.send(chunk).await {
            let _ = copy.abort("demo load failed").await;
            return Err(e.into());
        }
    }
    copy.finish().await?;
    Ok(())
}

async fn load_postgres<'a>(
    c: &mut PgConnection,
    plans: &'a [OrgPlan],
    stream: &mut EntryStream<'a>,
) -> Result<()> {
    let mut data = String::new();
    for w in plans.iter().flat_map(|p| &p.new_workers) {
        let _ = write!(data, "{},{},", w.id, w.org_id);
        csv_text(&mut data, &w.name);
        data.push(',');
        csv_text(&mut data, &w.mobile);
        data.push_str(",true\n");
    }
    copy_all(
        c,
        "COPY workers (id, org_id, name, mobile, active) FROM STDIN WITH (FORMAT csv)",
        &data,
    )
    .await?;

    data.clear();
    for m in plans.iter().flat_map(|p| &p.members) {
        let _ = write!(data, "{},{},", m.id, m.org_id);
        for s in [&m.member_no, &m.name, &m.nid, &m.mobile] {
            csv_text(&mut data, s);
            data.push(',');
        }
        csv_opt(&mut data, m.worker_id);
        let _ = writeln!(
            data,
            ",{},{},{},{},{}",
            m.loan_amount, m.daily_installment, m.daily_savings, m.status, m.joined_on
        );
    }
    copy_all(
        c,
        "COPY members (id, org_id, member_no, name, nid, mobile, worker_id, loan_amount, \
         daily_installment, daily_savings, status, joined_on) FROM STDIN WITH (FORMAT csv)",
        &data,
    )
    .await?;
    drop(data);

    // Checking each row's foreign keys one by one costs more than the load itself; like
    // pg_restore, load first and check the constraints afterwards with one pass each. All
    // inside the transaction: the constraints are back (and hold) before anything commits.
    // A role that may not alter the table (not its owner) loads with the checks in place.
    let fkeys: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = 'collections'::regclass AND contype = 'f' ORDER BY conname",
    )
    .fetch_all(&mut *c)
    .await?;
    sqlx::query("SAVEPOINT demo_fkeys").execute(&mut *c).await?;
    let mut dropped = Ok(());
    for (name, _) in &fkeys {
        let sql = format!("ALTER TABLE collections DROP CONSTRAINT {name}");
        dropped = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *c)
            .await
            .map(|_| ());
        if dropped.is_err() {
            break;
        }
    }
    let fkeys = match dropped {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT demo_fkeys")
                .execute(&mut *c)
                .await?;
            fkeys
        }
        Err(e) => {
            tracing::debug!("demo: keeping the foreign keys of collections during the load: {e}");
            sqlx::query("ROLLBACK TO SAVEPOINT demo_fkeys")
                .execute(&mut *c)
                .await?;
            Vec::new()
        }
    };

    let mut copy = c
        .copy_in_raw(
            "COPY collections (id, org_id, member_id, collected_on, loan_paisa, savings_paisa, \
             worker_id, note, entered_by, entered_at, reversal_of) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    let mut rows = Vec::with_capacity(CHUNK_ROWS + 64);
    let mut csv = String::with_capacity(COPY_CHUNK_BYTES + 4096);
    while stream.fill(&mut rows, CHUNK_ROWS) {
        for e in &rows {
            let _ = write!(
                csv,
                "{},{},{},{},{},{},",
                e.id, e.org_id, e.member_id, e.collected_on, e.loan, e.savings
            );
            csv_opt(&mut csv, e.worker_id);
            csv.push(',');
            csv_text(&mut csv, e.note);
            csv.push(',');
            csv_text(&mut csv, e.entered_by);
            csv.push(',');
            csv.push_str(&e.entered_at.to_rfc3339_opts(SecondsFormat::Secs, true));
            csv.push(',');
            csv_opt(&mut csv, e.reversal_of);
            csv.push('\n');
            if csv.len() >= COPY_CHUNK_BYTES {
                if let Err(err) = copy.send(csv.as_bytes()).await {
                    let _ = copy.abort("demo load failed").await;
                    return Err(err.into());
                }
                csv.clear();
            }
        }
        rows.clear();
    }
    if !csv.is_empty()
        && let Err(err) = copy.send(csv.as_bytes()).await
    {
        let _ = copy.abort("demo load failed").await;
        return Err(err.into());
    }
    copy.finish().await?;

    for (name, def) in &fkeys {
        let sql = format!("ALTER TABLE collections ADD CONSTRAINT {name} {def}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *c)
            .await?;
    }

    // The identity sequences continue after the ids given here.
    for table in ["workers", "members", "collections"] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Names and places.

const FEMALE_GIVEN: &[NamePart] = &[
    ("Rahima", "রহিমা"),
    ("Salma", "সালমা"),
    ("Nasima", "নাসিমা"),
    ("Fatema", "ফাতেমা"),
    ("Amena", "আমেনা"),
    ("Rokeya", "রোকেয়া"),
    ("Shirin", "শিরিন"),
    ("Morjina", "মর্জিনা"),
    ("Hasina", "হাসিনা"),
    ("Jahanara", "জাহানারা"),
    ("Kulsum", "কুলসুম"),
    ("Rina", "রিনা"),
    ("Shahana", "শাহানা"),
    ("Nurjahan", "নূরজাহান"),
    ("Halima", "হালিমা"),
    ("Monowara", "মনোয়ারা"),
    ("Laily", "লাইলী"),
    ("Sufia", "সুফিয়া"),
    ("Taslima", "তাসলিমা"),
    ("Ayesha", "আয়েশা"),
    ("Khadija", "খাদিজা"),
    ("Rupali", "রূপালী"),
    ("Sathi", "সাথী"),
    ("Mariam", "মরিয়ম"),
    ("Josna", "জোসনা"),
    ("Bilkis", "বিলকিস"),
    ("Rehana", "রেহানা"),
    ("Anowara", "আনোয়ারা"),
    ("Rashida", "রাশিদা"),
    ("Shapla", "শাপলা"),
    ("Momena", "মোমেনা"),
    ("Hajera", "হাজেরা"),
];

const FEMALE_FAMILY: &[NamePart] = &[
    ("Khatun", "খাতুন"),
    ("Begum", "বেগম"),
    ("Akter", "আক্তার"),
    ("Bibi", "বিবি"),
    ("Sultana", "সুলতানা"),
    ("Parvin", "পারভীন"),
    ("Nesa", "নেছা"),
    ("Yasmin", "ইয়াসমিন"),
];

const MALE_GIVEN: &[NamePart] = &[
    ("Karim", "করিম"),
    ("Abdur Rahim", "আব্দুর রহিম"),
    ("Abdul Jalil", "আব্দুল জলিল"),
    ("Rafiqul", "রফিকুল"),
    ("Shahidul", "শহিদুল"),
    ("Aminul", "আমিনুল"),
    ("Jamal", "জামাল"),
    ("Kamal", "কামাল"),
    ("Habibur", "হাবিবুর"),
    ("Mizanur", "মিজানুর"),
    ("Abul Kashem", "আবুল কাশেম"),
    ("Nurul", "নুরুল"),
    ("Anwar", "আনোয়ার"),
    ("Selim", "সেলিম"),
    ("Mokbul", "মকবুল"),
    ("Azizul", "আজিজুল"),
    ("Harun", "হারুন"),
    ("Motaleb", "মোতালেব"),
    ("Abdul Mannan", "আব্দুল মান্নান"),
    ("Delwar", "দেলোয়ার"),
];

const MALE_FAMILY: &[NamePart] = &[
    ("Uddin", "উদ্দিন"),
    ("Islam", "ইসলাম"),
    ("Hossain", "হোসেন"),
    ("Rahman", "রহমান"),
    ("Mia", "মিয়া"),
    ("Sheikh", "শেখ"),
    ("Ali", "আলী"),
    ("Haque", "হক"),
    ("Sarker", "সরকার"),
    ("Mollah", "মোল্লা"),
    ("Howlader", "হাওলাদার"),
    ("Bepari", "বেপারী"),
];

const HINDU_FEMALE_GIVEN: &[NamePart] = &[
    ("Anjali", "অঞ্জলি"),
    ("Kalpana", "কল্পনা"),
    ("Mala", "মালা"),
    ("Sabita", "সবিতা"),
    ("Shefali", "শেফালী"),
    ("Dipali", "দীপালি"),
    ("Lakshmi", "লক্ষ্মী"),
    ("Shila", "শীলা"),
];

const HINDU_MALE_GIVEN: &[NamePart] = &[
    ("Gopal", "গোপাল"),
    ("Nirmal", "নির্মল"),
    ("Haripada", "হরিপদ"),
    ("Shyamal", "শ্যামল"),
    ("Bimal", "বিমল"),
    ("Uttam", "উত্তম"),
];

const HINDU_FAMILY: &[NamePart] = &[
    ("Das", "দাস"),
    ("Pal", "পাল"),
    ("Saha", "সাহা"),
    ("Mondal", "মন্ডল"),
    ("Sarkar", "সরকার"),
    ("Ghosh", "ঘোষ"),
    ("Biswas", "বিশ্বাস"),
    ("Roy", "রায়"),
];

/// Field workers: (name, login-like username used as `entered_by`).
const WORKER_NAMES: &[(&str, &str)] = &[
    ("Md. Abdul Halim", "halim"),
    ("Shahnaz Parvin", "shahnaz"),
    ("Md. Rafiqul Islam", "rafiq"),
    ("Nasrin Sultana", "nasrin"),
    ("Jahangir Alam", "jahangir"),
    ("Ratna Rani Saha", "ratna"),
    ("Md. Shariful Islam", "sharif"),
    ("Farzana Akter", "farzana"),
    ("Abu Bakar Siddique", "abubakar"),
    ("Mahmuda Khatun", "mahmuda"),
    ("Tarikul Islam", "tarik"),
    ("Sumon Chandra Das", "sumon"),
    ("Lovely Begum", "lovely"),
    ("Md. Masud Rana", "masud"),
    ("Mousumi Akter", "mousumi"),
    ("Kamrul Hasan", "kamrul"),
    ("Rubina Yasmin", "rubina"),
    ("Md. Sohel Rana", "sohel"),
    ("Popy Rani Pal", "popy"),
    ("Md. Alamgir Hossain", "alamgir"),
    ("Shamima Nasrin", "shamima"),
    ("Delwar Hossain", "delwar"),
    ("Hasna Hena", "hasna"),
    ("Bappy Sarker", "bappy"),
];

/// Two-digit district codes as they appear in older NIDs.
const DISTRICTS: &[&str] = &[
    "26", "15", "19", "10", "47", "81", "91", "06", "09", "61", "85", "88", "54", "75", "41", "29",
    "93", "32", "50", "27",
];

/// (name, address, contact person) of the organizations the demo adds.
const ORG_PROFILES: &[(&str, &str, &str)] = &[
    (
        "Shapla Mohila Unnayan Somiti",
        "Char Kukri Mukri, Charfesson, Bhola",
        "Mst. Jahanara Begum",
    ),
    (
        "Padma Sanchay O Rin Dan Somiti",
        "Shibchar Bazar, Shibchar, Madaripur",
        "Md. Nurul Islam",
    ),
    (
        "Jamuna Polli Unnayan Samabay Samity",
        "Kazipur Road, Sirajganj Sadar, Sirajganj",
        "Rokeya Sultana",
    ),
    (
        "Meghna Krishi Samabay Somiti",
        "Gouripur Bazar, Daudkandi, Cumilla",
        "Md. Abul Kashem",
    ),
    (
        "Surma Nari Kallyan Somiti",
        "Gobindaganj, Chhatak, Sunamganj",
        "Hasina Akter",
    ),
    (
        "Teesta Doridro Unnayan Somiti",
        "Tepa Khribari, Dimla, Nilphamari",
        "Gopal Chandra Roy",
    ),
    (
        "Karatoa Sanchay Somiti",
        "Mokamtola, Shibganj, Bogura",
        "Morjina Khatun",
    ),
    (
        "Rupsha Mohila Samabay Samity",
        "Senhati, Dighalia, Khulna",
        "Anjali Rani Das",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::validate;

    #[test]
    fn generated_ids_are_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut taken = Taken {
            nids: HashSet::new(),
            mobiles: HashSet::new(),
        };
        for _ in 0..2_000 {
            let n = nid(&mut rng, "26", &mut taken);
            assert_eq!(validate::nid(&n).unwrap(), n);
            let m = mobile(&mut rng, &mut taken);
            assert_eq!(validate::mobile(&m).unwrap(), m);
        }
        assert_eq!(taken.nids.len(), 2_000);
    }

    #[test]
    fn names_mix_scripts() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let names: Vec<String> = (0..200).map(|_| member_name(&mut rng)).collect();
        let bengali = names
            .iter()
            .filter(|n| n.chars().any(|c| ('\u{0980}'..='\u{09FF}').contains(&c)))
            .count();
        assert!(bengali > 20 && bengali < 180, "{bengali} of 200 in Bengali");
    }

    #[test]
    fn usernames_from_names() {
        assert_eq!(username_for("Md. Abdul Halim", 3), "halim");
        assert_eq!(username_for("রহিম", 4), "worker4");
    }

    #[test]
    fn insert_sql_shape() {
        let s = insert_sql("workers", WORKER_COLS, 2);
        assert_eq!(
            &*s,
            "INSERT INTO workers (id, org_id, name, mobile, active) VALUES (?,?,?,?,?),(?,?,?,?,?)"
        );
        assert!(MEMBER_COLS.len() * SQLITE_ROWS_PER_INSERT < 32_766);
    }
}
