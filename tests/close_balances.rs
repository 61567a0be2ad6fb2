//! The daily review reads the accounts' running balances less the entries dated on or
//! after the day (`balance::accounts_at`); whatever the closes, reopens and restores in
//! between, what it finds paid before each day equals sums taken from scratch.
// amounts are written taka_poisha: 100_00 is 100 taka
#![allow(clippy::inconsistent_digit_grouping)]

#[macro_use]
mod common;

use chrono::{Duration, NaiveDate};
use somiti::access::Operator;
use somiti::backup::{Backups, Confirm, RestoreOptions, no_progress};
use somiti::db::Store;
use somiti::ledger::collection::{self, CollectionInput};
use somiti::ledger::org::Organization;
use somiti::ledger::{balance, day};
use somiti::on_store;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// Σ effective amounts per member before `date`, straight from `collections`.
async fn from_scratch(
    store: &Store,
    org: &Organization,
    date: NaiveDate,
) -> HashMap<i64, (i64, i64)> {
    let rows: Vec<(i64, i64, i64)> = on_store!(store, |p| {
        sqlx::query_as(
        "SELECT member_id, \
         CAST(SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END) AS BIGINT), \
         CAST(SUM(CASE WHEN reversal_of IS NULL THEN savings_paisa ELSE -savings_paisa END) AS BIGINT) \
         FROM collections WHERE org_id = $1 AND collected_on < $2 GROUP BY member_id"
    )
    .bind(org.id)
    .bind(date)
    .fetch_all(p)
    .await
    .unwrap()
    });
    rows.into_iter().map(|(m, l, s)| (m, (l, s))).collect()
}

async fn agree(store: &Store, org: &Organization, first: NaiveDate, last: NaiveDate, when: &str) {
    let mut d = first;
    while d <= last {
        let mut cached: HashMap<i64, (i64, i64)> = balance::accounts_at(store, org.id, d)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, (loans, savings))| (m, (loans.iter().map(|l| l.paid).sum(), savings)))
            .collect();
        cached.retain(|_, v| *v != (0, 0));
        let mut plain = from_scratch(store, org, d).await;
        plain.retain(|_, v| *v != (0, 0));
        assert_eq!(cached, plain, "{when}: sums before {d}");
        d += Duration::days(1);
    }
}

async fn pay(store: &Store, org: &Organization, no: &str, d: NaiveDate, loan: i64) -> i64 {
    let input = CollectionInput {
        member_no: no.into(),
        collected_on: Some(d),
        loan_paisa: loan,
        savings_paisa: 20_00,
        note: String::new(),
    };
    collection::add(store, &Operator::system(), org, &input)
        .await
        .unwrap()
        .id
}

async fn review_sums_survive_closes_reopens_and_restores(store: &Store) {
    let org = common::make_org(store, "CB").await;
    let today = org.today();
    let start = today - Duration::days(12);
    for no in ["1", "2", "3"] {
        common::add_member(store, &org, common::member_input(no, start)).await;
    }
    let op = Operator::system();
    let days: Vec<NaiveDate> = (0..11)
        .map(|i| start + Duration::days(i))
        .filter(|d| !common::is_friday(*d))
        .collect();
    for (i, d) in days.iter().enumerate() {
        for no in ["1", "2", "3"] {
            if (i + no.len()) % 4 != 0 {
                let id = pay(store, &org, no, *d, 100_00 + i as i64).await;
                if i % 5 == 0 && no == "2" {
                    collection::reverse(store, &op, &org, id, "typed twice")
                        .await
                        .unwrap();
                }
            }
        }
    }
    agree(store, &org, start, today, "no close yet").await;

    // close, read (builds the cache), close again (adds to it), read
    day::close(store, &op, &org, days[4]).await.unwrap();
    agree(store, &org, start, today, "after the first close").await;
    day::close(store, &op, &org, days[7]).await.unwrap();
    agree(store, &org, start, today, "after a second close").await;

    // reopen, correct a closed day, close again
    day::reopen(store, &op, &org, days[3]).await.unwrap();
    pay(store, &org, "1", days[3], 999_00).await;
    day::close(store, &op, &org, days[6]).await.unwrap();
    agree(
        store,
        &org,
        start,
        today,
        "after reopen, correction and close",
    )
    .await;

    // a backup, more payments after the close, then the backup restored
    let dir = tempfile::tempdir().unwrap();
    let backups = Backups::with_dir(store.clone(), dir.path());
    let cancel = CancellationToken::new();
    let b = backups
        .create(&op, &Default::default(), &no_progress(), &cancel)
        .await
        .unwrap();
    pay(store, &org, "3", days[days.len() - 1], 5_00).await;
    agree(store, &org, start, today, "after a payment past the close").await;
    // change a closed day and close it again: the cache now holds that change …
    day::reopen(store, &op, &org, days[5]).await.unwrap();
    pay(store, &org, "2", days[5], 777_00).await;
    day::close(store, &op, &org, days[6]).await.unwrap();
    agree(store, &org, start, today, "after a second correction").await;
    // … and the restore brings back the rows before it, closed through the same day.
    let opts = RestoreOptions {
        confirm: Confirm::Yes,
        ..Default::default()
    };
    backups
        .restore(&op, &b.id, &opts, &no_progress(), &cancel)
        .await
        .unwrap();
    agree(store, &org, start, today, "after a restore").await;
}

on_both_backends!(review_sums_survive_closes_reopens_and_restores);
