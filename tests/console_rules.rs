//! Core rules behind the console's newer keys, on SQLite and PostgreSQL: the audit filter
//! of a business date (the organization's clock, not UTC) and the dates "go to a date" takes.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};

use common::*;
use somiti::access::audit::{self, AuditFilter};
use somiti::db::Store;
use somiti::ledger::review;

on_both_backends!(
    the_audit_filter_of_a_business_date_holds_that_local_day,
    a_review_date_in_the_future_or_before_the_first_member_is_refused,
);

async fn the_audit_filter_of_a_business_date_holds_that_local_day(store: &Store) {
    let at = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
    // Dhaka is UTC+6: 17:59 UTC on Nov 30 is still Nov 30 there, 23:30 UTC is 05:30 on
    // Dec 1, 17:59 UTC on Dec 1 is 23:59 on Dec 1, 18:00 UTC is midnight of Dec 2
    let rows = [
        (at(11, 30, 17, 59), "nov30-late"),
        (at(11, 30, 23, 30), "dec1-early"),
        (at(12, 1, 17, 59), "dec1-late"),
        (at(12, 1, 18, 0), "dec2-midnight"),
    ];
    for (when, target) in rows {
        somiti::on_store!(store, |p| sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail, outcome) \
             VALUES ($1, 'rahim', 'test.clock', $2, '{}', 'ok')"
        )
        .bind(when)
        .bind(target)
        .execute(p)
        .await
        .unwrap()
        .rows_affected());
    }
    let dec1 = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let found = audit::list(
        store,
        &AuditFilter {
            action: Some("test.clock".into()),
            on: Some(dec1),
            tz: Some(chrono_tz::Asia::Dhaka),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let targets: Vec<&str> = found.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["dec1-late", "dec1-early"], "newest first");
}

async fn a_review_date_in_the_future_or_before_the_first_member_is_refused(store: &Store) {
    let org = make_org(store, "DATES").await;
    let today = org.today();
    // without members every past day can be looked at
    review::check_date(store, &org, days_before(today, 400))
        .await
        .unwrap();
    let first = days_before(today, 30);
    add_member(store, &org, member_input("1", first)).await;
    add_member(store, &org, member_input("2", days_before(today, 3))).await;
    review::check_date(store, &org, first).await.unwrap();
    review::check_date(store, &org, today).await.unwrap();
    let e = review::check_date(store, &org, days_before(first, 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("first day") && e.contains(&first.to_string()),
        "{e}"
    );
    let e = review::check_date(store, &org, today.succ_opt().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("in the future") && e.contains(&today.to_string()),
        "{e}"
    );
}
