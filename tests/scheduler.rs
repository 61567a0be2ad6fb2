//! The scheduler on real databases (SQLite file and PostgreSQL): exactly once across
//! several schedulers, no overlap, catch-up in dependency order and only after a job was
//! first seen, dead runners noticed, the lock of another process waited for, graceful
//! shutdown, contained panics, and the slots across daylight-saving changes against a table
//! from croniter and the `cron` crate. Time is a `ManualClock` the tests move; they wait for
//! the scheduler's events, never for a fixed time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::future::BoxFuture;
use somiti::access::Operator;
use somiti::config::ScheduleAction;
use somiti::db::Store;
use somiti::error::{Error, Result};
use somiti::on_store;
use somiti::scheduler::clock::ManualClock;
use somiti::scheduler::engine::{self, SchedulerEvent};
use somiti::scheduler::runs::{self, Claim, Trigger};
use somiti::scheduler::{
    Actions, Job, JobOutcome, RunnerKind, Schedule, Scheduler, SharedActions, status,
};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Long enough for a slow machine, short enough to fail a test that waits for nothing.
const PATIENCE: Duration = Duration::from_secs(120);

/// An action that counts its runs and how many run at once; each run takes a permit from
/// `gate` (tests open it when they want the run to end), then panics if asked to.
struct Gated {
    runs: AtomicUsize,
    now_running: AtomicI64,
    max_running: AtomicI64,
    gate: Semaphore,
    panic: bool,
}

impl Gated {
    fn open() -> Arc<Gated> {
        Self::with_permits(Semaphore::MAX_PERMITS, false)
    }

    fn closed() -> Arc<Gated> {
        Self::with_permits(0, false)
    }

    fn with_permits(n: usize, panic: bool) -> Arc<Gated> {
        Arc::new(Gated {
            runs: AtomicUsize::new(0),
            now_running: AtomicI64::new(0),
            max_running: AtomicI64::new(0),
            gate: Semaphore::new(n),
            panic,
        })
    }
}

impl Actions for Gated {
    fn run<'a>(
        &'a self,
        _job: &'a Job,
        _who: &'a Operator,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<JobOutcome>> {
        Box::pin(async move {
            let n = self.now_running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(n, Ordering::SeqCst);
            self.runs.fetch_add(1, Ordering::SeqCst);
            let r = tokio::select! {
                p = self.gate.acquire() => {
                    p.expect("gate").forget();
                    Ok(JobOutcome::Ran("done".to_string()))
                }
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

fn job_in(name: &str, cron: &str, tz: &str, action: ScheduleAction) -> Job {
    Job {
        name: name.into(),
        schedule: Schedule::parse(name, cron, tz).unwrap(),
        action,
        scope: None,
        drill: action == ScheduleAction::VerifyLatest,
        enabled: true,
    }
}

fn job(name: &str, cron: &str) -> Job {
    job_in(name, cron, "Asia/Dhaka", ScheduleAction::Backup)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// A Sunday morning, 10:30 UTC (16:30 in Dhaka).
fn t0() -> DateTime<Utc> {
    utc(2026, 5, 10, 10, 30, 0)
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    on_store!(store, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await
        .unwrap())
}

async fn text(store: &Store, sql: &'static str) -> String {
    on_store!(store, |p| sqlx::query_scalar::<_, String>(sql)
        .fetch_one(p)
        .await
        .unwrap())
}

/// A scheduler's events, read until the one a test waits for.
struct Events {
    rx: mpsc::UnboundedReceiver<SchedulerEvent>,
    seen: Vec<SchedulerEvent>,
}

impl Events {
    fn new() -> (mpsc::UnboundedSender<SchedulerEvent>, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            tx,
            Events {
                rx,
                seen: Vec::new(),
            },
        )
    }

    /// The next event that `want` accepts (the ones before it are kept in `seen`).
    async fn until(
        &mut self,
        what: &str,
        want: impl Fn(&SchedulerEvent) -> bool,
    ) -> SchedulerEvent {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                match self.rx.recv().await {
                    Some(e) if want(&e) => return Some(e),
                    Some(e) => self.seen.push(e),
                    None => return None,
                }
            }
        })
        .await;
        match r {
            Ok(Some(e)) => {
                self.seen.push(e.clone());
                e
            }
            _ => panic!("no event {what}; the scheduler said {:#?}", self.seen),
        }
    }

    /// This scheduler is done with `slot` of `job`: it ran it, skipped it, or another had it.
    async fn settled(&mut self, job: &str, slot: DateTime<Utc>) -> SchedulerEvent {
        self.until(&format!("settling {job} at {slot}"), |e| match e {
            SchedulerEvent::Finished {
                job: j, slot: s, ..
            }
            | SchedulerEvent::Skipped {
                job: j, slot: s, ..
            }
            | SchedulerEvent::Passed { job: j, slot: s } => j == job && *s == slot,
            _ => false,
        })
        .await
    }

    /// The loop has made its start-up decisions (catch-up) and sleeps.
    async fn waiting(&mut self) {
        self.until("waiting", |e| matches!(e, SchedulerEvent::Waiting { .. }))
            .await;
    }

    fn queued(&self) -> Vec<(String, DateTime<Utc>, Trigger)> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                SchedulerEvent::Queued { job, slot, trigger } => {
                    Some((job.clone(), *slot, *trigger))
                }
                _ => None,
            })
            .collect()
    }

    fn started(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                SchedulerEvent::Started { job, .. } => Some(job.clone()),
                _ => None,
            })
            .collect()
    }
}

fn scheduler(
    store: &Store,
    jobs: Vec<Job>,
    act: SharedActions,
    clock: &Arc<ManualClock>,
) -> (Scheduler, Events) {
    let (tx, ev) = Events::new();
    let s = Scheduler::new(store.clone(), jobs, act, RunnerKind::Daemon)
        .with_clock(clock.clone())
        .with_events(tx);
    (s, ev)
}

/// Make a job known to the database since `at`, as if a scheduler had started then.
async fn known_since(store: &Store, job: &str, at: DateTime<Utc>) {
    runs::first_seen(store, &[job], at).await.unwrap();
}

async fn exactly_once(store: &Store) {
    let clock = ManualClock::new(t0());
    let act = Gated::open();
    let mut all: Vec<(somiti::scheduler::SchedulerHandle, Events)> = Vec::new();
    for name in ["daemon-a", "daemon-b", "console"] {
        let (s, ev) = scheduler(
            store,
            vec![job("every-second", "* * * * * *")],
            act.clone(),
            &clock,
        );
        all.push((s.with_runner_name(name).spawn(), ev));
    }
    // the start-up: whoever queued the catch-up of t0 has settled it
    for (_, ev) in all.iter_mut() {
        ev.waiting().await;
        if ev.queued().iter().any(|(_, s, _)| *s == t0()) {
            ev.settled("every-second", t0()).await;
        }
    }
    for k in 1..=5 {
        let slot = t0() + secs(k);
        clock.set(slot);
        for (_, ev) in all.iter_mut() {
            ev.settled("every-second", slot).await;
        }
    }
    for (h, _) in all {
        h.stop().await.unwrap();
    }
    let runs = act.runs.load(Ordering::SeqCst) as i64;
    let ok = count(
        store,
        "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'every-second' AND status = 'ok'",
    )
    .await;
    let slots = count(
        store,
        "SELECT COUNT(DISTINCT slot) FROM scheduler_runs WHERE job = 'every-second'",
    )
    .await;
    let rows = count(store, "SELECT COUNT(*) FROM scheduler_runs").await;
    assert_eq!(runs, ok, "every run was recorded once");
    assert_eq!(rows, slots, "one row per slot");
    assert_eq!(
        ok, 6,
        "the catch-up of t0 and the five slots after it, each once"
    );
    assert_eq!(act.max_running.load(Ordering::SeqCst), 1);
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM scheduler_runners").await,
        0,
        "all three signed off"
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
    let clock = ManualClock::new(t0());
    let act = Gated::closed();
    let (s, mut ev) = scheduler(store, vec![job("slow", "* * * * * *")], act.clone(), &clock);
    let h = s.spawn();
    ev.until("the catch-up starting", |e| {
        matches!(e, SchedulerEvent::Started { .. })
    })
    .await;
    for k in 1..=2 {
        clock.set(t0() + secs(k));
        let e = ev.settled("slow", t0() + secs(k)).await;
        assert!(matches!(e, SchedulerEvent::Skipped { .. }), "{e:?}");
    }
    act.gate.add_permits(2);
    ev.settled("slow", t0()).await;
    clock.set(t0() + secs(3));
    let e = ev.settled("slow", t0() + secs(3)).await;
    assert!(
        matches!(e, SchedulerEvent::Finished { ok: true, .. }),
        "{e:?}"
    );
    h.stop().await.unwrap();
    assert_eq!(
        act.max_running.load(Ordering::SeqCst),
        1,
        "never two runs of one job at once"
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE job = 'slow' AND status = 'skipped'",
        )
        .await,
        2,
        "the two slots that came while the job ran are recorded as skipped"
    );
    let reason = text(
        store,
        "SELECT error FROM scheduler_runs WHERE status = 'skipped' ORDER BY slot LIMIT 1",
    )
    .await;
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
    // Hourly; first seen three hours ago: 08:00, 09:00 and 10:00 were missed, and only the
    // latest (10:00) runs, once, as a catch-up.
    let clock = ManualClock::new(t0());
    known_since(store, "hourly", t0() - chrono::Duration::hours(3)).await;
    let act = Gated::open();
    let (s, mut ev) = scheduler(
        store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.spawn();
    let e = ev.settled("hourly", utc(2026, 5, 10, 10, 0, 0)).await;
    assert!(
        matches!(e, SchedulerEvent::Finished { ok: true, .. }),
        "{e:?}"
    );
    h.stop().await.unwrap();
    assert_eq!(
        ev.queued(),
        vec![(
            "hourly".to_string(),
            utc(2026, 5, 10, 10, 0, 0),
            Trigger::CatchUp
        )]
    );

    // A second start at the same time has nothing to catch up.
    let (s, mut ev) = scheduler(
        store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.spawn();
    ev.waiting().await;
    assert!(ev.queued().is_empty(), "{:?}", ev.seen);
    h.stop().await.unwrap();
    assert_eq!(act.runs.load(Ordering::SeqCst), 1);
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

async fn no_catch_up_on_a_new_database(store: &Store) {
    let clock = ManualClock::new(t0());
    let act = Gated::open();
    let (s, mut ev) = scheduler(
        store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.spawn();
    ev.waiting().await;
    assert!(
        ev.queued().is_empty(),
        "a new database has no catch-up: {:?}",
        ev.seen
    );
    let first: DateTime<Utc> = on_store!(store, |p| sqlx::query_scalar(
        "SELECT first_seen FROM scheduler_jobs WHERE job = 'hourly'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(first, t0(), "the job's first sighting is recorded");
    // the next slot runs as scheduled
    clock.set(utc(2026, 5, 10, 11, 0, 0));
    let e = ev.settled("hourly", utc(2026, 5, 10, 11, 0, 0)).await;
    assert!(
        matches!(e, SchedulerEvent::Finished { ok: true, .. }),
        "{e:?}"
    );
    h.stop().await.unwrap();
    assert_eq!(count(store, "SELECT COUNT(*) FROM scheduler_runs").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_has_no_catch_up_and_then_runs_on_schedule() {
    for t in common::backends().await {
        no_catch_up_on_a_new_database(&t.store).await;
        t.finish().await;
    }
}

/// Real actions on a real ledger, in a temporary data directory.
async fn core_actions(store: &Store, dir: &std::path::Path) -> SharedActions {
    let settings = somiti::config::load(&somiti::config::Overrides {
        config: None,
        database_url: Some("sqlite://unused-by-the-actions".into()),
        data_dir: Some(dir.to_path_buf()),
    })
    .unwrap();
    somiti::scheduler::actions::CoreActions::shared(store.clone(), settings)
}

async fn default_jobs_catch_up_in_order(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    somiti::demo::generate(
        store,
        "test",
        &somiti::demo::DemoOptions {
            members: 40,
            days: 10,
            orgs: 1,
            seed: 7,
        },
        chrono::Utc::now().date_naive(),
    )
    .await
    .unwrap();
    let act = core_actions(store, dir.path()).await;
    // In the config the other way round; catch-up runs backups, then prune, then drills.
    let jobs = vec![
        job_in(
            "daily-drill",
            "0 4 * * *",
            "Asia/Dhaka",
            ScheduleAction::VerifyLatest,
        ),
        job_in(
            "weekly-prune",
            "0 3 * * SUN",
            "Asia/Dhaka",
            ScheduleAction::Prune,
        ),
        job_in(
            "daily-backup",
            "0 2 * * *",
            "Asia/Dhaka",
            ScheduleAction::Backup,
        ),
    ];
    for j in &jobs {
        known_since(store, &j.name, t0() - chrono::Duration::days(7)).await;
    }
    let clock = ManualClock::new(t0());
    let (s, mut ev) = scheduler(store, jobs, act, &clock);
    let h = s.spawn();
    for (name, slot) in [
        ("daily-backup", utc(2026, 5, 9, 20, 0, 0)),
        ("weekly-prune", utc(2026, 5, 9, 21, 0, 0)),
        ("daily-drill", utc(2026, 5, 9, 22, 0, 0)),
    ] {
        let e = ev.settled(name, slot).await;
        assert!(
            matches!(&e, SchedulerEvent::Finished { ok: true, .. }),
            "{name} at {slot}: {e:?}"
        );
    }
    h.stop().await.unwrap();
    assert_eq!(
        ev.started(),
        ["daily-backup", "weekly-prune", "daily-drill"]
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status <> 'ok'"
        )
        .await,
        0,
        "no job failed because another job of the same scheduler held the lock"
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM backups WHERE status = 'completed' AND verify_result = 'ok'"
        )
        .await,
        1,
        "the drill verified the backup taken just before it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_runs_backup_then_prune_then_drill_one_after_another() {
    for t in common::backends().await {
        default_jobs_catch_up_in_order(&t.store).await;
        t.finish().await;
    }
}

async fn drill_without_backup(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let act = core_actions(store, dir.path()).await;
    known_since(store, "daily-drill", t0() - chrono::Duration::days(1)).await;
    let clock = ManualClock::new(t0());
    let (s, mut ev) = scheduler(
        store,
        vec![job_in(
            "daily-drill",
            "0 4 * * *",
            "Asia/Dhaka",
            ScheduleAction::VerifyLatest,
        )],
        act,
        &clock,
    );
    let h = s.spawn();
    let e = ev.settled("daily-drill", utc(2026, 5, 9, 22, 0, 0)).await;
    h.stop().await.unwrap();
    assert_eq!(
        e,
        SchedulerEvent::Skipped {
            job: "daily-drill".into(),
            slot: utc(2026, 5, 9, 22, 0, 0),
            reason: "no backup yet".into()
        }
    );
    assert_eq!(
        text(store, "SELECT status || ': ' || error FROM scheduler_runs").await,
        "skipped: no backup yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_with_no_backup_yet_is_skipped_not_failed() {
    for t in common::backends().await {
        drill_without_backup(&t.store).await;
        t.finish().await;
    }
}

async fn ghosts(store: &Store) {
    let clock = ManualClock::new(t0());
    let op = Operator::system();
    let stale = t0() - chrono::Duration::minutes(1);
    let claim = |job: &'static str, runner: &'static str| Claim {
        job,
        slot: stale,
        trigger: Trigger::Scheduled,
        runner,
        requested_by: "system",
    };
    // a run whose process stopped beating a minute ago (on another host)
    runs::claim(store, &claim("daily-backup", "db2:4242"), stale)
        .await
        .unwrap()
        .unwrap();
    // a run on this host by a pid that is gone, beating a moment ago
    let (_, host, _) = somiti::scheduler::runner_id();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let here: &'static str = Box::leak(format!("{host}:{dead}").into_boxed_str());
    runs::claim(store, &claim("weekly-prune", here), t0())
        .await
        .unwrap()
        .unwrap();
    // a live run elsewhere (fresh beat)
    runs::claim(store, &claim("daily-drill", "db2:4343"), t0() - secs(2))
        .await
        .unwrap()
        .unwrap();

    let st = status::status_at(store, &[job("daily-backup", "0 2 * * *")], None, t0())
        .await
        .unwrap();
    assert!(
        !st.jobs[0].running,
        "status fails the ghost instead of showing it running"
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'failed'"
        )
        .await,
        2
    );
    assert_eq!(
        text(
            store,
            "SELECT DISTINCT error FROM scheduler_runs WHERE status = 'failed'"
        )
        .await,
        runs::RUNNER_STOPPED
    );

    let act = Gated::open();
    for name in ["daily-backup", "weekly-prune"] {
        let r = engine::run_now(
            store,
            act.clone(),
            &job(name, "0 2 * * *"),
            &op,
            clock.clone(),
            CancellationToken::new(),
            &[],
        )
        .await;
        assert_eq!(
            r.unwrap(),
            JobOutcome::Ran("done".into()),
            "{name} is not busy because of a dead process"
        );
    }
    let e = engine::run_now(
        store,
        act.clone(),
        &job("daily-drill", "0 4 * * *"),
        &op,
        clock.clone(),
        CancellationToken::new(),
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Busy(_)),
        "a live run still makes the job busy: {e}"
    );
    assert!(e.to_string().contains("db2:4343"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_process_stopped_is_failed_and_never_makes_the_job_busy() {
    for t in common::backends().await {
        ghosts(&t.store).await;
        t.finish().await;
    }
}

/// Busy (the lock of another process) for the first `busy` attempts, then done.
struct BusyFirst {
    busy: usize,
    attempts: tokio::sync::watch::Sender<usize>,
}

impl Actions for BusyFirst {
    fn run<'a>(
        &'a self,
        _job: &'a Job,
        _who: &'a Operator,
        _cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<JobOutcome>> {
        Box::pin(async move {
            let mut n = 0;
            self.attempts.send_modify(|a| {
                *a += 1;
                n = *a;
            });
            if n <= self.busy {
                Err(Error::Busy(
                    "restore by rahim since 14:02 (pid 4242 on db1)".into(),
                ))
            } else {
                Ok(JobOutcome::Ran("done".into()))
            }
        })
    }
}

async fn wait_for_note(store: &Store) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let r = text(
            store,
            "SELECT COALESCE(MAX(result), '') FROM scheduler_runs WHERE status = 'running'",
        )
        .await;
        if r.contains("waiting for the lock: restore by rahim") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no waiting note: {r:?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_job_waits_for_the_lock_of_another_process_then_gives_up() {
    let (store, _dir) = common::sqlite_store().await;
    let clock = ManualClock::new(t0());
    known_since(&store, "hourly", t0() - chrono::Duration::hours(1)).await;
    let act = Arc::new(BusyFirst {
        busy: 2,
        attempts: tokio::sync::watch::Sender::new(0),
    });
    let (s, mut ev) = scheduler(
        &store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.with_busy_wait(Duration::from_secs(60)).spawn();
    for _ in 0..2 {
        wait_for_note(&store).await;
        let before = *act.attempts.borrow();
        clock.advance(secs(5));
        act.attempts
            .subscribe()
            .wait_for(|a| *a > before)
            .await
            .unwrap();
    }
    let e = ev.settled("hourly", utc(2026, 5, 10, 10, 0, 0)).await;
    assert!(
        matches!(e, SchedulerEvent::Finished { ok: true, .. }),
        "{e:?}"
    );
    h.stop().await.unwrap();

    // Busy for longer than the wait: it fails, saying how long it waited.
    let (store, _dir) = common::sqlite_store().await;
    known_since(&store, "hourly", t0() - chrono::Duration::hours(1)).await;
    let act = Arc::new(BusyFirst {
        busy: usize::MAX,
        attempts: tokio::sync::watch::Sender::new(0),
    });
    let (s, mut ev) = scheduler(
        &store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.with_busy_wait(Duration::from_secs(10)).spawn();
    for _ in 0..2 {
        wait_for_note(&store).await;
        let before = *act.attempts.borrow();
        clock.advance(secs(5));
        act.attempts
            .subscribe()
            .wait_for(|a| *a > before)
            .await
            .unwrap();
    }
    let e = ev.settled("hourly", utc(2026, 5, 10, 10, 0, 0)).await;
    h.stop().await.unwrap();
    match e {
        SchedulerEvent::Finished {
            ok: false, message, ..
        } => {
            assert!(message.starts_with("busy: restore by rahim"), "{message}");
            assert!(message.contains("waited"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

async fn manual_run_queues(store: &Store) {
    let clock = ManualClock::new(t0());
    known_since(store, "backup", t0() - chrono::Duration::hours(1)).await;
    let act = Gated::closed();
    let jobs = vec![
        job("backup", "0 0 * * * *"),
        job_in("prune", "0 3 * * SUN", "Asia/Dhaka", ScheduleAction::Prune),
    ];
    let (s, mut ev) = scheduler(store, jobs, act.clone(), &clock);
    let h = s.spawn();
    ev.until("the catch-up starting", |e| {
        matches!(e, SchedulerEvent::Started { .. })
    })
    .await;
    let rahim = Operator {
        username: "rahim".into(),
        full_name: "Rahim Uddin".into(),
        role: somiti::access::Role::Admin,
        org_id: None,
    };
    let queue = h.queue();
    let manual = tokio::spawn(async move { queue.run_now("prune", &rahim).await });
    ev.until("the manual run queued", |e| {
        matches!(
            e,
            SchedulerEvent::Queued {
                trigger: Trigger::Manual,
                ..
            }
        )
    })
    .await;
    assert!(
        !manual.is_finished(),
        "the manual run waits for the running job"
    );
    act.gate.add_permits(2);
    assert_eq!(
        manual.await.unwrap().unwrap(),
        JobOutcome::Ran("done".into())
    );
    ev.settled("prune", t0()).await;
    h.stop().await.unwrap();
    assert_eq!(
        act.max_running.load(Ordering::SeqCst),
        1,
        "one job at a time"
    );
    assert_eq!(ev.started(), ["backup", "prune"]);
    assert_eq!(
        text(store, "SELECT trigger || ' ' || requested_by || ' ' || status FROM scheduler_runs WHERE job = 'prune'").await,
        "manual rahim ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_run_waits_in_the_queue_and_acts_for_the_operator() {
    for t in common::backends().await {
        manual_run_queues(&t.store).await;
        t.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_prune_is_audited_under_the_operator() {
    let (store, dir) = common::sqlite_store().await;
    let rahim = common::make_operator(&store, "rahim", somiti::access::Role::Admin, None).await;
    let act = core_actions(&store, dir.path()).await;
    let prune = job_in(
        "weekly-prune",
        "0 3 * * SUN",
        "Asia/Dhaka",
        ScheduleAction::Prune,
    );
    let clock = ManualClock::new(Utc::now());
    let r = engine::run_now(
        &store,
        act,
        &prune,
        &rahim,
        clock,
        CancellationToken::new(),
        &[],
    )
    .await
    .unwrap();
    assert!(matches!(r, JobOutcome::Ran(_)), "{r:?}");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'rahim' AND action LIKE 'backup.prune%'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'system'"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_job_finish() {
    let (store, _dir) = common::sqlite_store().await;
    let clock = ManualClock::new(t0());
    known_since(&store, "hourly", t0() - chrono::Duration::hours(1)).await;
    let act = Gated::closed();
    let (s, mut ev) = scheduler(
        &store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.spawn();
    ev.until("the catch-up starting", |e| {
        matches!(e, SchedulerEvent::Started { .. })
    })
    .await;
    let stop = tokio::spawn(h.stop());
    assert!(!stop.is_finished());
    act.gate.add_permits(1);
    stop.await.unwrap().unwrap();
    assert_eq!(
        text(&store, "SELECT status FROM scheduler_runs").await,
        "ok",
        "the job finished within the grace period"
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
    let clock = ManualClock::new(t0());
    known_since(&store, "hourly", t0() - chrono::Duration::hours(1)).await;
    let act = Gated::closed();
    let (s, mut ev) = scheduler(
        &store,
        vec![job("hourly", "0 0 * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.with_grace(Duration::from_millis(200)).spawn();
    ev.until("the catch-up starting", |e| {
        matches!(e, SchedulerEvent::Started { .. })
    })
    .await;
    let t = std::time::Instant::now();
    h.stop().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(
        text(&store, "SELECT status || ': ' || error FROM scheduler_runs").await,
        "failed: cancelled"
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM scheduler_runners").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_is_recorded_and_the_scheduler_keeps_going() {
    let (store, _dir) = common::sqlite_store().await;
    let clock = ManualClock::new(t0());
    let act = Gated::with_permits(Semaphore::MAX_PERMITS, true);
    let (s, mut ev) = scheduler(
        &store,
        vec![job("fragile", "* * * * * *")],
        act.clone(),
        &clock,
    );
    let h = s.spawn();
    for k in 0..3 {
        clock.set(t0() + secs(k));
        let e = ev.settled("fragile", t0() + secs(k)).await;
        assert_eq!(
            e,
            SchedulerEvent::Finished {
                job: "fragile".into(),
                slot: t0() + secs(k),
                ok: false,
                message: "the job panicked: boom".into()
            }
        );
    }
    h.stop().await.unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM scheduler_runs WHERE status = 'failed'"
        )
        .await,
        3,
        "later slots still ran after a panic"
    );
}

#[tokio::test]
async fn status_shows_next_runs_that_an_independent_cron_agrees_with() {
    use std::str::FromStr;
    let (store, _dir) = common::sqlite_store().await;
    let jobs = vec![
        job("daily-backup", "0 2 * * *"),
        job_in(
            "weekly-prune",
            "0 3 * * SUN",
            "Asia/Dhaka",
            ScheduleAction::Prune,
        ),
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
    assert!(
        st.jobs[1].deletes.is_some(),
        "prune deletes: faces confirm it"
    );
    assert_eq!(st.runner.kind, "nobody");
    assert!(
        st.warnings.iter().any(|w| w.contains("no backup yet")),
        "{:?}",
        st.warnings
    );
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&s.replace('Z', ":00Z"))
        .unwrap()
        .with_timezone(&Utc)
}

/// (zone, cron, from, every slot from then on for five hours of local time, in UTC).
///
/// From croniter 6 (`croniter(expr, local midnight).get_next()`), on both change nights of
/// 2026 and 2027 in each zone, with one difference: in a repeated (fall-back) hour croniter
/// runs a fixed-time job twice (Berlin 02:30 at 00:30Z and 01:30Z; New York 01:30 at 05:30Z
/// and 06:30Z; Lord Howe 01:30 at 14:30Z and 15:00Z); cronie, the README and this table run
/// it once, at the first. Asia/Dhaka has no daylight saving: its nights are plain ones.
#[rustfmt::skip]
const DST_TABLE: &[(&str, &str, &str, &str)] = &[
    ("Europe/Berlin", "30 1 * * *", "2026-03-28T23:00Z", "2026-03-29T00:30Z"),
    ("Europe/Berlin", "30 2 * * *", "2026-03-28T23:00Z", "2026-03-29T01:00Z"),
    ("Europe/Berlin", "15 2 * * *", "2026-03-28T23:00Z", "2026-03-29T01:00Z"),
    ("Europe/Berlin", "0 3 * * *", "2026-03-28T23:00Z", "2026-03-29T01:00Z"),
    ("Europe/Berlin", "*/15 * * * *", "2026-03-28T23:00Z", "2026-03-28T23:15Z 2026-03-28T23:30Z 2026-03-28T23:45Z 2026-03-29T00:00Z 2026-03-29T00:15Z 2026-03-29T00:30Z 2026-03-29T00:45Z 2026-03-29T01:00Z 2026-03-29T01:15Z 2026-03-29T01:30Z 2026-03-29T01:45Z 2026-03-29T02:00Z 2026-03-29T02:15Z 2026-03-29T02:30Z 2026-03-29T02:45Z"),
    ("Europe/Berlin", "0 * * * *", "2026-03-28T23:00Z", "2026-03-29T00:00Z 2026-03-29T01:00Z 2026-03-29T02:00Z"),
    ("Europe/Berlin", "30 1 * * *", "2026-10-24T22:00Z", "2026-10-24T23:30Z"),
    ("Europe/Berlin", "30 2 * * *", "2026-10-24T22:00Z", "2026-10-25T00:30Z"),
    ("Europe/Berlin", "15 2 * * *", "2026-10-24T22:00Z", "2026-10-25T00:15Z"),
    ("Europe/Berlin", "0 3 * * *", "2026-10-24T22:00Z", "2026-10-25T02:00Z"),
    ("Europe/Berlin", "*/15 * * * *", "2026-10-24T22:00Z", "2026-10-24T22:15Z 2026-10-24T22:30Z 2026-10-24T22:45Z 2026-10-24T23:00Z 2026-10-24T23:15Z 2026-10-24T23:30Z 2026-10-24T23:45Z 2026-10-25T00:00Z 2026-10-25T00:15Z 2026-10-25T00:30Z 2026-10-25T00:45Z 2026-10-25T01:00Z 2026-10-25T01:15Z 2026-10-25T01:30Z 2026-10-25T01:45Z 2026-10-25T02:00Z 2026-10-25T02:15Z 2026-10-25T02:30Z 2026-10-25T02:45Z 2026-10-25T03:00Z 2026-10-25T03:15Z 2026-10-25T03:30Z 2026-10-25T03:45Z"),
    ("Europe/Berlin", "0 * * * *", "2026-10-24T22:00Z", "2026-10-24T23:00Z 2026-10-25T00:00Z 2026-10-25T01:00Z 2026-10-25T02:00Z 2026-10-25T03:00Z"),
    ("Europe/Berlin", "30 1 * * *", "2027-03-27T23:00Z", "2027-03-28T00:30Z"),
    ("Europe/Berlin", "30 2 * * *", "2027-03-27T23:00Z", "2027-03-28T01:00Z"),
    ("Europe/Berlin", "15 2 * * *", "2027-03-27T23:00Z", "2027-03-28T01:00Z"),
    ("Europe/Berlin", "0 3 * * *", "2027-03-27T23:00Z", "2027-03-28T01:00Z"),
    ("Europe/Berlin", "*/15 * * * *", "2027-03-27T23:00Z", "2027-03-27T23:15Z 2027-03-27T23:30Z 2027-03-27T23:45Z 2027-03-28T00:00Z 2027-03-28T00:15Z 2027-03-28T00:30Z 2027-03-28T00:45Z 2027-03-28T01:00Z 2027-03-28T01:15Z 2027-03-28T01:30Z 2027-03-28T01:45Z 2027-03-28T02:00Z 2027-03-28T02:15Z 2027-03-28T02:30Z 2027-03-28T02:45Z"),
    ("Europe/Berlin", "0 * * * *", "2027-03-27T23:00Z", "2027-03-28T00:00Z 2027-03-28T01:00Z 2027-03-28T02:00Z"),
    ("Europe/Berlin", "30 1 * * *", "2027-10-30T22:00Z", "2027-10-30T23:30Z"),
    ("Europe/Berlin", "30 2 * * *", "2027-10-30T22:00Z", "2027-10-31T00:30Z"),
    ("Europe/Berlin", "15 2 * * *", "2027-10-30T22:00Z", "2027-10-31T00:15Z"),
    ("Europe/Berlin", "0 3 * * *", "2027-10-30T22:00Z", "2027-10-31T02:00Z"),
    ("Europe/Berlin", "*/15 * * * *", "2027-10-30T22:00Z", "2027-10-30T22:15Z 2027-10-30T22:30Z 2027-10-30T22:45Z 2027-10-30T23:00Z 2027-10-30T23:15Z 2027-10-30T23:30Z 2027-10-30T23:45Z 2027-10-31T00:00Z 2027-10-31T00:15Z 2027-10-31T00:30Z 2027-10-31T00:45Z 2027-10-31T01:00Z 2027-10-31T01:15Z 2027-10-31T01:30Z 2027-10-31T01:45Z 2027-10-31T02:00Z 2027-10-31T02:15Z 2027-10-31T02:30Z 2027-10-31T02:45Z 2027-10-31T03:00Z 2027-10-31T03:15Z 2027-10-31T03:30Z 2027-10-31T03:45Z"),
    ("Europe/Berlin", "0 * * * *", "2027-10-30T22:00Z", "2027-10-30T23:00Z 2027-10-31T00:00Z 2027-10-31T01:00Z 2027-10-31T02:00Z 2027-10-31T03:00Z"),
    ("America/New_York", "30 1 * * *", "2026-03-08T05:00Z", "2026-03-08T06:30Z"),
    ("America/New_York", "30 2 * * *", "2026-03-08T05:00Z", "2026-03-08T07:00Z"),
    ("America/New_York", "15 2 * * *", "2026-03-08T05:00Z", "2026-03-08T07:00Z"),
    ("America/New_York", "0 3 * * *", "2026-03-08T05:00Z", "2026-03-08T07:00Z"),
    ("America/New_York", "*/15 * * * *", "2026-03-08T05:00Z", "2026-03-08T05:15Z 2026-03-08T05:30Z 2026-03-08T05:45Z 2026-03-08T06:00Z 2026-03-08T06:15Z 2026-03-08T06:30Z 2026-03-08T06:45Z 2026-03-08T07:00Z 2026-03-08T07:15Z 2026-03-08T07:30Z 2026-03-08T07:45Z 2026-03-08T08:00Z 2026-03-08T08:15Z 2026-03-08T08:30Z 2026-03-08T08:45Z"),
    ("America/New_York", "0 * * * *", "2026-03-08T05:00Z", "2026-03-08T06:00Z 2026-03-08T07:00Z 2026-03-08T08:00Z"),
    ("America/New_York", "30 1 * * *", "2026-11-01T04:00Z", "2026-11-01T05:30Z"),
    ("America/New_York", "30 2 * * *", "2026-11-01T04:00Z", "2026-11-01T07:30Z"),
    ("America/New_York", "15 2 * * *", "2026-11-01T04:00Z", "2026-11-01T07:15Z"),
    ("America/New_York", "0 3 * * *", "2026-11-01T04:00Z", "2026-11-01T08:00Z"),
    ("America/New_York", "*/15 * * * *", "2026-11-01T04:00Z", "2026-11-01T04:15Z 2026-11-01T04:30Z 2026-11-01T04:45Z 2026-11-01T05:00Z 2026-11-01T05:15Z 2026-11-01T05:30Z 2026-11-01T05:45Z 2026-11-01T06:00Z 2026-11-01T06:15Z 2026-11-01T06:30Z 2026-11-01T06:45Z 2026-11-01T07:00Z 2026-11-01T07:15Z 2026-11-01T07:30Z 2026-11-01T07:45Z 2026-11-01T08:00Z 2026-11-01T08:15Z 2026-11-01T08:30Z 2026-11-01T08:45Z 2026-11-01T09:00Z 2026-11-01T09:15Z 2026-11-01T09:30Z 2026-11-01T09:45Z"),
    ("America/New_York", "0 * * * *", "2026-11-01T04:00Z", "2026-11-01T05:00Z 2026-11-01T06:00Z 2026-11-01T07:00Z 2026-11-01T08:00Z 2026-11-01T09:00Z"),
    ("America/New_York", "30 1 * * *", "2027-03-14T05:00Z", "2027-03-14T06:30Z"),
    ("America/New_York", "30 2 * * *", "2027-03-14T05:00Z", "2027-03-14T07:00Z"),
    ("America/New_York", "15 2 * * *", "2027-03-14T05:00Z", "2027-03-14T07:00Z"),
    ("America/New_York", "0 3 * * *", "2027-03-14T05:00Z", "2027-03-14T07:00Z"),
    ("America/New_York", "*/15 * * * *", "2027-03-14T05:00Z", "2027-03-14T05:15Z 2027-03-14T05:30Z 2027-03-14T05:45Z 2027-03-14T06:00Z 2027-03-14T06:15Z 2027-03-14T06:30Z 2027-03-14T06:45Z 2027-03-14T07:00Z 2027-03-14T07:15Z 2027-03-14T07:30Z 2027-03-14T07:45Z 2027-03-14T08:00Z 2027-03-14T08:15Z 2027-03-14T08:30Z 2027-03-14T08:45Z"),
    ("America/New_York", "0 * * * *", "2027-03-14T05:00Z", "2027-03-14T06:00Z 2027-03-14T07:00Z 2027-03-14T08:00Z"),
    ("America/New_York", "30 1 * * *", "2027-11-07T04:00Z", "2027-11-07T05:30Z"),
    ("America/New_York", "30 2 * * *", "2027-11-07T04:00Z", "2027-11-07T07:30Z"),
    ("America/New_York", "15 2 * * *", "2027-11-07T04:00Z", "2027-11-07T07:15Z"),
    ("America/New_York", "0 3 * * *", "2027-11-07T04:00Z", "2027-11-07T08:00Z"),
    ("America/New_York", "*/15 * * * *", "2027-11-07T04:00Z", "2027-11-07T04:15Z 2027-11-07T04:30Z 2027-11-07T04:45Z 2027-11-07T05:00Z 2027-11-07T05:15Z 2027-11-07T05:30Z 2027-11-07T05:45Z 2027-11-07T06:00Z 2027-11-07T06:15Z 2027-11-07T06:30Z 2027-11-07T06:45Z 2027-11-07T07:00Z 2027-11-07T07:15Z 2027-11-07T07:30Z 2027-11-07T07:45Z 2027-11-07T08:00Z 2027-11-07T08:15Z 2027-11-07T08:30Z 2027-11-07T08:45Z 2027-11-07T09:00Z 2027-11-07T09:15Z 2027-11-07T09:30Z 2027-11-07T09:45Z"),
    ("America/New_York", "0 * * * *", "2027-11-07T04:00Z", "2027-11-07T05:00Z 2027-11-07T06:00Z 2027-11-07T07:00Z 2027-11-07T08:00Z 2027-11-07T09:00Z"),
    ("Australia/Lord_Howe", "30 1 * * *", "2026-04-04T13:00Z", "2026-04-04T14:30Z"),
    ("Australia/Lord_Howe", "30 2 * * *", "2026-04-04T13:00Z", "2026-04-04T16:00Z"),
    ("Australia/Lord_Howe", "15 2 * * *", "2026-04-04T13:00Z", "2026-04-04T15:45Z"),
    ("Australia/Lord_Howe", "0 3 * * *", "2026-04-04T13:00Z", "2026-04-04T16:30Z"),
    ("Australia/Lord_Howe", "*/15 * * * *", "2026-04-04T13:00Z", "2026-04-04T13:15Z 2026-04-04T13:30Z 2026-04-04T13:45Z 2026-04-04T14:00Z 2026-04-04T14:15Z 2026-04-04T14:30Z 2026-04-04T14:45Z 2026-04-04T15:00Z 2026-04-04T15:15Z 2026-04-04T15:30Z 2026-04-04T15:45Z 2026-04-04T16:00Z 2026-04-04T16:15Z 2026-04-04T16:30Z 2026-04-04T16:45Z 2026-04-04T17:00Z 2026-04-04T17:15Z 2026-04-04T17:30Z 2026-04-04T17:45Z 2026-04-04T18:00Z 2026-04-04T18:15Z"),
    ("Australia/Lord_Howe", "0 * * * *", "2026-04-04T13:00Z", "2026-04-04T14:00Z 2026-04-04T15:30Z 2026-04-04T16:30Z 2026-04-04T17:30Z"),
    ("Australia/Lord_Howe", "30 1 * * *", "2026-10-03T13:30Z", "2026-10-03T15:00Z"),
    ("Australia/Lord_Howe", "30 2 * * *", "2026-10-03T13:30Z", "2026-10-03T15:30Z"),
    ("Australia/Lord_Howe", "15 2 * * *", "2026-10-03T13:30Z", "2026-10-03T15:30Z"),
    ("Australia/Lord_Howe", "0 3 * * *", "2026-10-03T13:30Z", "2026-10-03T16:00Z"),
    ("Australia/Lord_Howe", "*/15 * * * *", "2026-10-03T13:30Z", "2026-10-03T13:45Z 2026-10-03T14:00Z 2026-10-03T14:15Z 2026-10-03T14:30Z 2026-10-03T14:45Z 2026-10-03T15:00Z 2026-10-03T15:15Z 2026-10-03T15:30Z 2026-10-03T15:45Z 2026-10-03T16:00Z 2026-10-03T16:15Z 2026-10-03T16:30Z 2026-10-03T16:45Z 2026-10-03T17:00Z 2026-10-03T17:15Z 2026-10-03T17:30Z 2026-10-03T17:45Z"),
    ("Australia/Lord_Howe", "0 * * * *", "2026-10-03T13:30Z", "2026-10-03T14:30Z 2026-10-03T16:00Z 2026-10-03T17:00Z"),
    ("Australia/Lord_Howe", "30 1 * * *", "2027-04-03T13:00Z", "2027-04-03T14:30Z"),
    ("Australia/Lord_Howe", "30 2 * * *", "2027-04-03T13:00Z", "2027-04-03T16:00Z"),
    ("Australia/Lord_Howe", "15 2 * * *", "2027-04-03T13:00Z", "2027-04-03T15:45Z"),
    ("Australia/Lord_Howe", "0 3 * * *", "2027-04-03T13:00Z", "2027-04-03T16:30Z"),
    ("Australia/Lord_Howe", "*/15 * * * *", "2027-04-03T13:00Z", "2027-04-03T13:15Z 2027-04-03T13:30Z 2027-04-03T13:45Z 2027-04-03T14:00Z 2027-04-03T14:15Z 2027-04-03T14:30Z 2027-04-03T14:45Z 2027-04-03T15:00Z 2027-04-03T15:15Z 2027-04-03T15:30Z 2027-04-03T15:45Z 2027-04-03T16:00Z 2027-04-03T16:15Z 2027-04-03T16:30Z 2027-04-03T16:45Z 2027-04-03T17:00Z 2027-04-03T17:15Z 2027-04-03T17:30Z 2027-04-03T17:45Z 2027-04-03T18:00Z 2027-04-03T18:15Z"),
    ("Australia/Lord_Howe", "0 * * * *", "2027-04-03T13:00Z", "2027-04-03T14:00Z 2027-04-03T15:30Z 2027-04-03T16:30Z 2027-04-03T17:30Z"),
    ("Australia/Lord_Howe", "30 1 * * *", "2027-10-02T13:30Z", "2027-10-02T15:00Z"),
    ("Australia/Lord_Howe", "30 2 * * *", "2027-10-02T13:30Z", "2027-10-02T15:30Z"),
    ("Australia/Lord_Howe", "15 2 * * *", "2027-10-02T13:30Z", "2027-10-02T15:30Z"),
    ("Australia/Lord_Howe", "0 3 * * *", "2027-10-02T13:30Z", "2027-10-02T16:00Z"),
    ("Australia/Lord_Howe", "*/15 * * * *", "2027-10-02T13:30Z", "2027-10-02T13:45Z 2027-10-02T14:00Z 2027-10-02T14:15Z 2027-10-02T14:30Z 2027-10-02T14:45Z 2027-10-02T15:00Z 2027-10-02T15:15Z 2027-10-02T15:30Z 2027-10-02T15:45Z 2027-10-02T16:00Z 2027-10-02T16:15Z 2027-10-02T16:30Z 2027-10-02T16:45Z 2027-10-02T17:00Z 2027-10-02T17:15Z 2027-10-02T17:30Z 2027-10-02T17:45Z"),
    ("Australia/Lord_Howe", "0 * * * *", "2027-10-02T13:30Z", "2027-10-02T14:30Z 2027-10-02T16:00Z 2027-10-02T17:00Z"),
    ("Asia/Dhaka", "30 1 * * *", "2026-03-28T18:00Z", "2026-03-28T19:30Z"),
    ("Asia/Dhaka", "30 2 * * *", "2026-03-28T18:00Z", "2026-03-28T20:30Z"),
    ("Asia/Dhaka", "15 2 * * *", "2026-03-28T18:00Z", "2026-03-28T20:15Z"),
    ("Asia/Dhaka", "0 3 * * *", "2026-03-28T18:00Z", "2026-03-28T21:00Z"),
    ("Asia/Dhaka", "*/15 * * * *", "2026-03-28T18:00Z", "2026-03-28T18:15Z 2026-03-28T18:30Z 2026-03-28T18:45Z 2026-03-28T19:00Z 2026-03-28T19:15Z 2026-03-28T19:30Z 2026-03-28T19:45Z 2026-03-28T20:00Z 2026-03-28T20:15Z 2026-03-28T20:30Z 2026-03-28T20:45Z 2026-03-28T21:00Z 2026-03-28T21:15Z 2026-03-28T21:30Z 2026-03-28T21:45Z 2026-03-28T22:00Z 2026-03-28T22:15Z 2026-03-28T22:30Z 2026-03-28T22:45Z"),
    ("Asia/Dhaka", "0 * * * *", "2026-03-28T18:00Z", "2026-03-28T19:00Z 2026-03-28T20:00Z 2026-03-28T21:00Z 2026-03-28T22:00Z"),
    ("Asia/Dhaka", "30 1 * * *", "2026-10-24T18:00Z", "2026-10-24T19:30Z"),
    ("Asia/Dhaka", "30 2 * * *", "2026-10-24T18:00Z", "2026-10-24T20:30Z"),
    ("Asia/Dhaka", "15 2 * * *", "2026-10-24T18:00Z", "2026-10-24T20:15Z"),
    ("Asia/Dhaka", "0 3 * * *", "2026-10-24T18:00Z", "2026-10-24T21:00Z"),
    ("Asia/Dhaka", "*/15 * * * *", "2026-10-24T18:00Z", "2026-10-24T18:15Z 2026-10-24T18:30Z 2026-10-24T18:45Z 2026-10-24T19:00Z 2026-10-24T19:15Z 2026-10-24T19:30Z 2026-10-24T19:45Z 2026-10-24T20:00Z 2026-10-24T20:15Z 2026-10-24T20:30Z 2026-10-24T20:45Z 2026-10-24T21:00Z 2026-10-24T21:15Z 2026-10-24T21:30Z 2026-10-24T21:45Z 2026-10-24T22:00Z 2026-10-24T22:15Z 2026-10-24T22:30Z 2026-10-24T22:45Z"),
    ("Asia/Dhaka", "0 * * * *", "2026-10-24T18:00Z", "2026-10-24T19:00Z 2026-10-24T20:00Z 2026-10-24T21:00Z 2026-10-24T22:00Z"),
    ("Asia/Dhaka", "30 1 * * *", "2027-03-27T18:00Z", "2027-03-27T19:30Z"),
    ("Asia/Dhaka", "30 2 * * *", "2027-03-27T18:00Z", "2027-03-27T20:30Z"),
    ("Asia/Dhaka", "15 2 * * *", "2027-03-27T18:00Z", "2027-03-27T20:15Z"),
    ("Asia/Dhaka", "0 3 * * *", "2027-03-27T18:00Z", "2027-03-27T21:00Z"),
    ("Asia/Dhaka", "*/15 * * * *", "2027-03-27T18:00Z", "2027-03-27T18:15Z 2027-03-27T18:30Z 2027-03-27T18:45Z 2027-03-27T19:00Z 2027-03-27T19:15Z 2027-03-27T19:30Z 2027-03-27T19:45Z 2027-03-27T20:00Z 2027-03-27T20:15Z 2027-03-27T20:30Z 2027-03-27T20:45Z 2027-03-27T21:00Z 2027-03-27T21:15Z 2027-03-27T21:30Z 2027-03-27T21:45Z 2027-03-27T22:00Z 2027-03-27T22:15Z 2027-03-27T22:30Z 2027-03-27T22:45Z"),
    ("Asia/Dhaka", "0 * * * *", "2027-03-27T18:00Z", "2027-03-27T19:00Z 2027-03-27T20:00Z 2027-03-27T21:00Z 2027-03-27T22:00Z"),
    ("Asia/Dhaka", "30 1 * * *", "2027-10-30T18:00Z", "2027-10-30T19:30Z"),
    ("Asia/Dhaka", "30 2 * * *", "2027-10-30T18:00Z", "2027-10-30T20:30Z"),
    ("Asia/Dhaka", "15 2 * * *", "2027-10-30T18:00Z", "2027-10-30T20:15Z"),
    ("Asia/Dhaka", "0 3 * * *", "2027-10-30T18:00Z", "2027-10-30T21:00Z"),
    ("Asia/Dhaka", "*/15 * * * *", "2027-10-30T18:00Z", "2027-10-30T18:15Z 2027-10-30T18:30Z 2027-10-30T18:45Z 2027-10-30T19:00Z 2027-10-30T19:15Z 2027-10-30T19:30Z 2027-10-30T19:45Z 2027-10-30T20:00Z 2027-10-30T20:15Z 2027-10-30T20:30Z 2027-10-30T20:45Z 2027-10-30T21:00Z 2027-10-30T21:15Z 2027-10-30T21:30Z 2027-10-30T21:45Z 2027-10-30T22:00Z 2027-10-30T22:15Z 2027-10-30T22:30Z 2027-10-30T22:45Z"),
    ("Asia/Dhaka", "0 * * * *", "2027-10-30T18:00Z", "2027-10-30T19:00Z 2027-10-30T20:00Z 2027-10-30T21:00Z 2027-10-30T22:00Z"),
    // From inside a change: the second pass of a repeated hour never repeats a fixed time.
    ("Europe/Berlin", "30 2 * * *", "2026-10-25T01:00Z", "2026-10-26T01:30Z"),
    ("Europe/Berlin", "0 * * * *", "2026-10-25T00:30Z", "2026-10-25T01:00Z 2026-10-25T02:00Z"),
    ("America/New_York", "30 1 * * *", "2026-11-01T06:00Z", "2026-11-02T06:30Z"),
    ("Australia/Lord_Howe", "30 1 * * *", "2026-04-04T14:45Z", "2026-04-05T15:00Z"),
    ("Australia/Lord_Howe", "*/15 * * * *", "2026-04-04T14:50Z", "2026-04-04T15:00Z 2026-04-04T15:15Z 2026-04-04T15:30Z"),
];

#[test]
fn next_runs_across_daylight_saving_changes_follow_cronie() {
    for (tz, expr, from, want) in DST_TABLE {
        let s = Schedule::parse("t", expr, tz).unwrap();
        let from = at(from);
        let want: Vec<DateTime<Utc>> = want.split_whitespace().map(at).collect();
        let got = s.upcoming(from, want.len());
        assert_eq!(got, want, "{tz} {expr:?} after {from}");
        // and each of them is the latest slot at or before itself
        for w in &want {
            assert_eq!(s.latest_at_or_before(*w), Some(*w), "{tz} {expr:?} at {w}");
            assert!(s.latest_at_or_before(*w - secs(1)) < Some(*w));
        }
    }
}

#[test]
fn a_next_run_is_never_earlier_than_now_on_any_change_night() {
    let nights = [
        (
            "Europe/Berlin",
            [
                "2026-03-28T20:00Z",
                "2026-10-24T20:00Z",
                "2027-03-27T20:00Z",
                "2027-10-30T20:00Z",
            ],
        ),
        (
            "America/New_York",
            [
                "2026-03-08T02:00Z",
                "2026-11-01T02:00Z",
                "2027-03-14T02:00Z",
                "2027-11-07T02:00Z",
            ],
        ),
        (
            "Australia/Lord_Howe",
            [
                "2026-04-04T11:00Z",
                "2026-10-03T12:00Z",
                "2027-04-03T11:00Z",
                "2027-10-02T12:00Z",
            ],
        ),
        (
            "Asia/Dhaka",
            [
                "2026-03-28T16:00Z",
                "2026-10-24T16:00Z",
                "2027-03-27T16:00Z",
                "2027-10-30T16:00Z",
            ],
        ),
    ];
    for (tz, starts) in nights {
        for expr in [
            "30 1 * * *",
            "30 2 * * *",
            "0 3 * * *",
            "*/15 * * * *",
            "0 * * * *",
            "*/20 * * * * *",
        ] {
            let s = Schedule::parse("t", expr, tz).unwrap();
            for start in starts {
                let mut t = at(start);
                let end = t + chrono::Duration::hours(10);
                while t < end {
                    let next = s.next_after(t).unwrap();
                    assert!(next > t, "{tz} {expr:?}: next after {t} is {next}");
                    let latest = s.latest_at_or_before(t).unwrap();
                    assert!(latest <= t, "{tz} {expr:?}: latest at {t} is {latest}");
                    assert_eq!(s.next_after(latest), Some(next), "{tz} {expr:?} at {t}");
                    t += secs(7 * 60 + 13);
                }
            }
        }
    }
}

#[tokio::test]
async fn status_on_the_fall_back_night_shows_the_repeated_hour() {
    let (store, _dir) = common::sqlite_store().await;
    let jobs = vec![
        job_in(
            "quarter",
            "*/15 * * * *",
            "Europe/Berlin",
            ScheduleAction::Backup,
        ),
        job_in(
            "hourly",
            "0 * * * *",
            "America/New_York",
            ScheduleAction::Backup,
        ),
    ];
    // 02:50 CEST, ten minutes before the clocks go back to 02:00 CET
    let now = at("2026-10-25T00:50Z");
    let st = status::status_at(&store, &jobs, None, now).await.unwrap();
    assert_eq!(st.jobs[0].next_run_utc, Some(at("2026-10-25T01:00Z")));
    assert_eq!(
        st.jobs[0].next_run_local.as_deref(),
        Some("2026-10-25T02:00:00+01:00")
    );
    // 01:30 EDT in New York on its night: the next hour is 01:00 EST, an hour later in UTC
    let now = at("2026-11-01T05:30Z");
    let st = status::status_at(&store, &jobs, None, now).await.unwrap();
    assert_eq!(st.jobs[1].next_run_utc, Some(at("2026-11-01T06:00Z")));
    assert_eq!(
        st.jobs[1].next_run_local.as_deref(),
        Some("2026-11-01T01:00:00-05:00")
    );
    for j in &st.jobs {
        assert!(j.next_run_utc.unwrap() > now);
    }
}
