//! Planning: organizations, workers and members, all in memory, with their ids given in
//! advance.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::names::{DISTRICTS, WORKER_NAMES, member_name, mobile, nid, username_for};
use crate::ledger::org::{CollectionDays, Organization, Worker};

pub(super) struct NextIds {
    pub(super) worker: i64,
    pub(super) member: i64,
    pub(super) loan: i64,
    pub(super) collection: i64,
}

/// NIDs (across the whole database) and mobiles already handed out.
pub(super) struct Taken {
    pub(super) nids: HashSet<String>,
    pub(super) mobiles: HashSet<String>,
}

pub(super) struct NewWorker {
    pub(super) id: i64,
    pub(super) org_id: i64,
    pub(super) name: String,
    pub(super) mobile: String,
}

pub(super) struct NewMember {
    pub(super) id: i64,
    pub(super) org_id: i64,
    pub(super) member_no: String,
    pub(super) name: String,
    pub(super) nid: String,
    pub(super) mobile: String,
    pub(super) worker_id: Option<i64>,
    /// The first loan's id (0: no loan), amount and installment.
    pub(super) loan_id: i64,
    pub(super) loan_amount: i64,
    pub(super) daily_installment: i64,
    pub(super) daily_savings: i64,
    pub(super) status: &'static str,
    pub(super) joined_on: NaiveDate,
    /// Index into `OrgPlan::users` of the worker who collects from this member.
    pub(super) user: usize,
}

/// One organization's share of the demo.
pub(super) struct OrgPlan {
    pub(super) org: Organization,
    pub(super) tz: Tz,
    pub(super) days: CollectionDays,
    /// The workers to insert.
    pub(super) new_workers: Vec<NewWorker>,
    /// Every active worker of the organization (existing and new): (id, users index).
    pub(super) workers: Vec<(i64, usize)>,
    pub(super) members: Vec<NewMember>,
    /// Who enters entries: `users[0]` is the operator, then one username per worker.
    pub(super) users: Vec<String>,
    pub(super) seed: u64,
}

/// Mixed into an organization's seed for the accounts' choices.
pub(super) const ACCOUNTS_SEED: u64 = 0x0ACC_0A7E;

#[allow(clippy::too_many_arguments)]
pub(super) fn plan_org(
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
    // The accounts' own choices (short first loans) draw from a second stream, so the
    // rest of the plan is what it was before loans were accounts.
    let mut accounts_rng = ChaCha8Rng::seed_from_u64(seed ^ ACCOUNTS_SEED);
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
        let mut repay_days: i64 = rng.random_range(100..=300);
        // Some repay fast, so a window of a few months has second loan cycles too.
        if accounts_rng.random_bool(0.15) {
            repay_days = accounts_rng.random_range(25..=60);
        }
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
            loan_id: {
                ids.loan += 1;
                ids.loan - 1
            },
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
