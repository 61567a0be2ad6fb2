//! The scheduler on real databases (SQLite file and PostgreSQL): exactly once across
//! several schedulers, no overlap, catch-up, graceful shutdown, contained panics, and the
//! next runs against an independent cron implementation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use somiti::config::ScheduleAction;
use somiti::db::Store;
use somiti::error::{Error, Result};
use somiti::on_store;
use somiti::scheduler::{Actions, Job, RunnerKind, Schedule, Scheduler, SharedActions, status};
use tokio_util::sync::CancellationToken;

/// An action that counts its runs, tracks how many run at once, and takes `work` to finish.
#[derive(Default)]
struct Counting {
    runs: AtomicUsize,
    now_running: AtomicI64,
    max_running: AtomicI64,
    work: Duration,
    panic: bool,
}

impl Actions for Counting {
    fn run<'a>(
        &'a self,
        _job: &'a Job,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let n = self.now_running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(n, Ordering::SeqCst);
            self.runs.fetch_add(1, Ordering::SeqCst);
            let r = tokio::select! {
                _ = tokio::time::sleep(self.work) => Ok("done".to_string()),
                _ = cancel.cancelled() => Err(Error::Cancelled),
            };
            self.now_running.fetch_sub(1, Ordering::SeqCst);
            if self.panic {
                panic!("boom");
            }
            r
        })
    }
}

fn job(name: &str, cron: &str) -> Job {
    Job {
        name: name.into(),
        schedule: Schedule::parse(name, cron, "Asia/Dhaka").unwrap(),
        action: ScheduleAction::Backup,
        scope: None,
        drill: false,
        enabled: true,
    }
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    on_store!(store, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await
        .unwrap())
}

async fn exactly_once(store: &Store) {
    let act = Arc::new(Counting {
        work: Duration::from_millis(50),
        ..Default::default()
    });
    let shared: SharedActions = act.clone();
    let handles: Vec<_> = ["daemon-a", "daemon-b", "console"]
        .iter()
        .map(|name| {
            Scheduler::new(
                store.clone(),
                vec![job("every-second", "* * * * * *")],
                shared.clone(),
                RunnerKind::Daemon,
            )
            .with_runner_name(name)
            .spawn()
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    for h in handles {
        h.stop().await.unwrap();
    }
    let runs = act.runs.load(Ordering::SeqCst) as i64;
    let rows = count(
        store,
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'every-second' AND status = 'ok'",
    )
    .await;
    let slots = count(
        store,
        "SELECT COUNT(DISTINCT slot) FROM scheduler_runs WHERE job = 'every-second'",
    )
    .await;
    assert_eq!(runs, rows, "every run was recorded once");
    assert_eq!(rows, slots, "one row per slot");
    assert!(
        (4..=7).contains(&runs),
        "about one run per second for 4.5 s with three schedulers, got {runs}"
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'running'"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_schedulers_on_one_database_run_each_slot_exactly_once() {
    for t in common::backends().await {
        exactly_once(&t.store).await;
        t.finish().await;
    }
}

async fn no_overlap(store: &Store) {
    let act = Arc::new(Counting {
        work: Duration::from_millis(2_300),
        ..Default::default()
    });
    let h = Scheduler::new(
        store.clone(),
        vec![job("slow", "* * * * * *")],
        act.clone(),
        RunnerKind::Daemon,
    )
    .spawn();
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    h.stop().await.unwrap();
    assert_eq!(
        act.max_running.load(Ordering::SeqCst),
        1,
        "never two runs of one job at once"
    );
    let skipped = count(
        store,
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'slow' AND status = 'skipped'",
    )
    .await;
    assert!(
        skipped >= 2,
        "slots that came while the job ran are recorded as skipped ({skipped})"
    );
    let reason: String = on_store!(store, |p| sqlx::query_scalar(
        "SELECT error FROM scheduler_runs WHERE status = 'skipped' LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert!(reason.contains("still running"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_that_comes_while_the_job_runs_is_skipped() {
    for t in common::backends().await {
        no_overlap(&t.store).await;
        t.finish().await;
    }
}

async fn catch_up(store: &Store) {
    // Hourly: the latest slot (the top of this hour) was missed; no other slot comes soon.
    let act = Arc::new(Counting::default());
    for _ in 0..2 {
        let h = Scheduler::new(
            store.clone(),
            vec![job("hourly", "0 0 * * * *")],
            act.clone(),
            RunnerKind::Daemon,
        )
        .spawn();
        tokio::time::sleep(Duration::from_millis(700)).await;
        h.stop().await.unwrap();
    }
    assert_eq!(
        act.runs.load(Ordering::SeqCst),
        1,
        "a missed slot runs once, not at every start"
    );
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'hourly' AND trigger = 'catch-up' AND status = 'ok'").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_slot_runs_once_at_start_as_a_catch_up() {
    for t in common::backends().await {
        catch_up(&t.store).await;
        t.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_job_finish() {
    let (store, _dir) = common::sqlite_store().await;
    let act = Arc::new(Counting {
        work: Duration::from_millis(1_500),
        ..Default::default()
    });
    let h = Scheduler::new(
        store.clone(),
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        RunnerKind::Daemon,
    )
    .spawn();
    tokio::time::sleep(Duration::from_millis(300)).await; // the catch-up run is going
    h.stop().await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'ok'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'running'"
        )
        .await,
        0
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM scheduler_runners").await,
        0,
        "the runner signed off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_a_job_that_outlasts_the_grace_period() {
    let (store, _dir) = common::sqlite_store().await;
    let act = Arc::new(Counting {
        work: Duration::from_secs(30),
        ..Default::default()
    });
    let h = Scheduler::new(
        store.clone(),
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        RunnerKind::Daemon,
    )
    .with_grace(Duration::from_millis(200))
    .spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = std::time::Instant::now();
    h.stop().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    let err: String = on_store!(&store, |p| sqlx::query_scalar(
        "SELECT error FROM scheduler_runs WHERE status = 'failed'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(err, "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_is_recorded_and_the_scheduler_keeps_going() {
    let (store, _dir) = common::sqlite_store().await;
    let act = Arc::new(Counting {
        panic: true,
        ..Default::default()
    });
    let h = Scheduler::new(
        store.clone(),
        vec![job("fragile", "* * * * * *")],
        act.clone(),
        RunnerKind::Daemon,
    )
    .spawn();
    tokio::time::sleep(Duration::from_millis(3_300)).await;
    h.stop().await.unwrap();
    let failed = count(
        &store,
        "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'failed'",
    )
    .await;
    assert!(
        failed >= 2,
        "later slots still ran after a panic ({failed})"
    );
    let err: String = on_store!(&store, |p| sqlx::query_scalar(
        "SELECT error FROM scheduler_runs WHERE status = 'failed' LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(err, "the job panicked: boom");
}

#[tokio::test]
async fn status_shows_next_runs_that_an_independent_cron_agrees_with() {
    use std::str::FromStr;
    let (store, _dir) = common::sqlite_store().await;
    let jobs = vec![
        job("daily-backup", "0 2 * * *"),
        job("weekly-prune", "0 3 * * SUN"),
    ];
    let st = status::status(&store, &jobs, None).await.unwrap();
    let dhaka: chrono_tz::Tz = "Asia/Dhaka".parse().unwrap();
    // the `cron` crate wants seconds first and names weekdays
    for (j, other) in st.jobs.iter().zip(["0 0 2 * * *", "0 0 3 * * Sun"]) {
        let theirs = cron::Schedule::from_str(other).unwrap();
        let expect = theirs.after(&st.now.with_timezone(&dhaka)).next().unwrap();
        assert_eq!(
            j.next_run_utc.unwrap(),
            expect.with_timezone(&chrono::Utc),
            "{}",
            j.name
        );
        assert!(j.next_run_local.as_ref().unwrap().ends_with("+06:00"));
    }
    assert_eq!(st.runner.kind, "nobody");
    assert!(
        st.warnings.iter().any(|w| w.contains("no backup yet")),
        "{:?}",
        st.warnings
    );
}
