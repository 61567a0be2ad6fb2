//! The off-site copier against a real S3-compatible server (moto): every completed backup
//! (manual, scheduled, pre-restore) is copied, read back and matched with the catalogue's
//! SHA-256; a target that refuses (wrong secret) marks the copy failed while the local
//! backup stays completed, and the copy is retried after its backoff (the clock is driven by
//! hand); `require_encrypted` refuses plaintext; the background worker copies a backup as
//! soon as it is woken; and the command line's create, push and pull.

mod backup_support;
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_support::*;
use chrono::Utc;
use common::s3::{Moto, creds_file};
use common::sqlite_store;
use serde_json::Value;
use somiti::access::Operator;
use somiti::access::audit::{self, AuditFilter};
use somiti::backup::offsite::copier::{self, copy_one};
use somiti::backup::offsite::copies::{self, OffsiteCopy};
use somiti::backup::{BackupKind, BackupStatus};
use somiti::backup::{Backups, Confirm, CreateOptions, Passphrase, RestoreOptions, catalogue};
use somiti::db::Store;
use somiti::scheduler::clock::{Clock, ManualClock, SharedClock};
use tokio_util::sync::CancellationToken;

const BUCKET: &str = "somiti-backups";

/// A clock set by hand, a little ahead of the wall clock: a copy queued by a backup (at
/// the wall clock's now) is due on it at once.
fn clock() -> Arc<ManualClock> {
    ManualClock::new(Utc::now() + chrono::Duration::minutes(5))
}

fn system() -> Operator {
    Operator::system()
}

async fn the_copy(store: &Store, id: &str, t: &str) -> OffsiteCopy {
    copies::get(store, id, t)
        .await
        .unwrap()
        .expect("a copy row")
}

async fn offsite_audit(store: &Store) -> Vec<(String, String, String)> {
    audit::list(
        store,
        &AuditFilter {
            action: Some("backup.offsite".into()),
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .map(|e| (e.target, e.outcome, e.detail))
    .collect()
}

/// Poll the database (bounded) until the copy reaches `status`.
async fn await_status(store: &Store, id: &str, t: &str, status: &str) -> OffsiteCopy {
    let start = Instant::now();
    loop {
        if let Some(c) = copies::get(store, id, t).await.unwrap()
            && c.status == status
        {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the copy of {id} to {t} did not become {status} within 60 s: {:?}",
            copies::get(store, id, t).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_copied_read_back_and_matches_the_catalogue() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 40, 10, 1).await;
    let mut b = engine(&store, tmp.path());
    b.offsite = vec![m.target(
        "bucket",
        &format!("{BUCKET}/sonali"),
        &m.creds_file(tmp.path()),
    )];
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    // The backup queued its copy.
    let queued = the_copy(&store, &e.id, "bucket").await;
    assert_eq!(queued.status, copies::PENDING);
    assert_eq!(queued.object_key, format!("sonali/{}", e.file));

    let clock = clock();
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::VERIFIED, "{:?}", c.error);
    assert_eq!(c.sha256, e.sha256);
    assert_eq!(c.size_bytes, e.size_bytes);
    assert_eq!(c.verified_at, Some(clock.now()));
    // It was verified before it went up.
    let after = catalogue::get(&store, &e.id).await.unwrap().unwrap();
    assert!(after.verified_ok(), "{:?}", after.verify_result);

    // A second client (boto3) reads the object and hashes it.
    let objs = m.objects(BUCKET, "sonali/");
    assert_eq!(objs.len(), 1, "{objs:?}");
    assert_eq!(objs[0].0, format!("sonali/{}", e.file));
    assert_eq!(objs[0].1 as i64, e.size_bytes.unwrap());
    assert_eq!(Some(&objs[0].2), e.sha256.as_ref());

    let a = offsite_audit(&store).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].0, e.id);
    assert_eq!(a[0].1, "ok");
    assert!(a[0].2.contains(e.sha256.as_deref().unwrap()), "{}", a[0].2);

    // A verified copy is not made again unless forced.
    let again = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(again.attempts, 1);
    assert_eq!(offsite_audit(&store).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_the_copy_not_the_backup_and_the_copy_is_retried_after_backoff() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 20, 5, 1).await;
    let creds = creds_file(tmp.path(), &m.key, "not-the-secret");
    let mut b = engine(&store, tmp.path());
    b.offsite = vec![m.target("bucket", &format!("{BUCKET}/sonali"), &creds)];
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .expect("the local backup does not depend on the target");
    assert_eq!(e.status, BackupStatus::Completed);

    let clock = clock();
    let t0 = clock.now();
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::FAILED);
    let why = c.error.clone().unwrap();
    assert!(why.contains("off-site target bucket"), "{why}");
    assert_eq!(c.attempts, 1);
    assert_eq!(c.next_try_at, Some(t0 + copies::backoff(1)));
    let local = catalogue::get(&store, &e.id).await.unwrap().unwrap();
    assert_eq!(local.status, BackupStatus::Completed);
    assert!(m.objects(BUCKET, "sonali/").is_empty());
    let a = offsite_audit(&store).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].1, "failed");
    assert!(a[0].2.contains("off-site target bucket"), "{}", a[0].2);

    // Within the backoff it is not tried again (nothing is claimed, nothing audited).
    clock.advance(chrono::Duration::seconds(10));
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!((c.status.as_str(), c.attempts), (copies::FAILED, 1));
    assert_eq!(offsite_audit(&store).await.len(), 1);
    let due = copies::due(&store, clock.now(), clock.now() - copier::stale_after())
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");

    // Past the backoff, still wrong: failed again, the backoff doubles.
    clock.set(t0 + copies::backoff(1) + chrono::Duration::seconds(1));
    let t1 = clock.now();
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!((c.status.as_str(), c.attempts), (copies::FAILED, 2));
    assert_eq!(c.next_try_at, Some(t1 + copies::backoff(2)));
    assert_eq!(copies::backoff(2), chrono::Duration::seconds(60));

    // The secret is fixed; past the backoff the copy is made.
    m.creds_file(tmp.path());
    clock.set(t1 + copies::backoff(2) + chrono::Duration::seconds(1));
    assert_eq!(
        copies::due(&store, clock.now(), clock.now() - copier::stale_after())
            .await
            .unwrap()
            .len(),
        1
    );
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::VERIFIED, "{:?}", c.error);
    assert_eq!(c.error, None);
    assert_eq!(c.attempts, 3);
    assert_eq!(m.objects(BUCKET, "sonali/")[0].2, e.sha256.clone().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_requires_encryption_refuses_plaintext_and_takes_an_encrypted_archive() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 20, 5, 1).await;
    let mut b = engine(&store, tmp.path());
    let mut t = m.target("vault", &format!("{BUCKET}/enc"), &m.creds_file(tmp.path()));
    t.require_encrypted = true;
    b.offsite = vec![t];
    b.passphrase = Some(Passphrase::new("a long pass phrase"));
    let clock = clock();

    let plain = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let c = copy_one(&b, &system(), &plain.id, "vault", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::FAILED);
    let why = c.error.clone().unwrap();
    assert!(
        why.contains("require_encrypted") && why.contains("not encrypted"),
        "{why}"
    );
    // A refusal no retry can change is not retried by the worker; it stays visible.
    assert!(c.next_try_at.unwrap() > clock.now() + chrono::Duration::days(365));
    assert!(m.objects(BUCKET, "enc/").is_empty());
    let a = offsite_audit(&store).await;
    assert_eq!(a[0].1, "refused");

    let enc = b
        .create(
            &op,
            &CreateOptions {
                encrypt: true,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    assert!(enc.encrypted);
    let c = copy_one(&b, &system(), &enc.id, "vault", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::VERIFIED, "{:?}", c.error);
    let objs = m.objects(BUCKET, "enc/");
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].0, format!("enc/{}", enc.file));
    assert_eq!(Some(&objs[0].2), enc.sha256.as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_restore_backup_is_copied_too() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 20, 5, 1).await;
    let mut b = engine(&store, tmp.path());
    b.offsite = vec![m.target(
        "bucket",
        &format!("{BUCKET}/sonali"),
        &m.creds_file(tmp.path()),
    )];
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let r = b
        .restore(
            &op,
            &e.id,
            &RestoreOptions {
                confirm: Confirm::Yes,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let pre = r.pre_restore.expect("a pre-restore backup");
    assert_eq!(pre.kind, BackupKind::PreRestore);
    // The restore queued its pre-restore backup's copy.
    assert_eq!(
        the_copy(&store, &pre.id, "bucket").await.status,
        copies::PENDING
    );
    let clock = clock();
    for id in [&e.id, &pre.id] {
        let c = copy_one(&b, &system(), id, "bucket", "t1", false, &*clock)
            .await
            .unwrap();
        assert_eq!(c.status, copies::VERIFIED, "{:?}", c.error);
    }
    let objs = m.objects(BUCKET, "sonali/");
    let keys: Vec<&str> = objs.iter().map(|o| o.0.as_str()).collect();
    assert!(
        keys.contains(&format!("sonali/{}", pre.file).as_str()),
        "{keys:?}"
    );
    let o = objs
        .iter()
        .find(|o| o.0.ends_with(&pre.file))
        .expect("the pre-restore object");
    assert_eq!(Some(&o.2), pre.sha256.as_ref());
}

/// The worker, on both backends: a backup completed while it runs is copied with nothing
/// but the wake the backup gives; a copy that fails is retried when the clock passes its
/// backoff.
async fn the_worker_copies_when_woken_and_retries_after_the_backoff(store: &Store) {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let tmp = tempfile::tempdir().unwrap();
    let op = seeded(store, 20, 5, 1).await;
    let mut b: Backups = engine(store, tmp.path());
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let bad_creds = creds_file(&bad, &m.key, "wrong");
    b.offsite = vec![
        m.target("bucket", &format!("{BUCKET}/sonali"), &m.creds_file(&good)),
        m.target("second", &format!("{BUCKET}/second"), &bad_creds),
    ];
    let clock = clock();
    let shared: SharedClock = clock.clone();
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(copier::run_copier(
        b.clone(),
        shared,
        shutdown.clone(),
        copier::waker(),
    ));

    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let c = await_status(store, &e.id, "bucket", copies::VERIFIED).await;
    assert_eq!(c.sha256, e.sha256);
    let f = await_status(store, &e.id, "second", copies::FAILED).await;
    assert!(
        f.error
            .as_deref()
            .unwrap()
            .contains("off-site target second"),
        "{f:?}"
    );
    assert_eq!(m.objects(BUCKET, "sonali/").len(), 1);
    assert!(m.objects(BUCKET, "second/").is_empty());

    // Fixed, and the clock passes the backoff: the worker, asleep on the clock, tries again.
    std::fs::copy(good.join("creds"), &bad_creds).unwrap();
    clock.advance(copies::backoff(1) + chrono::Duration::seconds(1));
    let f = await_status(store, &e.id, "second", copies::VERIFIED).await;
    assert_eq!(f.attempts, 2);
    assert_eq!(m.objects(BUCKET, "second/")[0].2, e.sha256.clone().unwrap());

    // The worker is idle now (asleep on a clock nobody moves): the next backup's wake alone
    // gets it copied to both.
    let e2 = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    for t in ["bucket", "second"] {
        let c = await_status(store, &e2.id, t, copies::VERIFIED).await;
        assert_eq!(c.sha256, e2.sha256);
    }
    assert_eq!(m.objects(BUCKET, "sonali/").len(), 2);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops at shutdown")
        .unwrap();
    drop(tmp);
}

on_both_backends!(the_worker_copies_when_woken_and_retries_after_the_backoff);

// ---- the command line -------------------------------------------------------------------

/// A data directory with a SQLite database holding demo data and the admin `boss`, and a
/// config with the target.
async fn data_dir(m: &Moto) -> tempfile::TempDir {
    let dir = common::demo_data_dir("boss", 20, 5, 1, today()).await;
    std::fs::write(
        dir.path().join("config.toml"),
        m.offsite_toml("bucket", BUCKET, "sonali"),
    )
    .unwrap();
    dir
}

fn cli(dir: &Path, m: &Moto) -> assert_cmd::Command {
    let mut c = somiti();
    c.arg("--data-dir")
        .arg(dir)
        .env("SOMITI_OPERATOR", "boss")
        .envs(m.env());
    c
}

fn run(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_copies_after_create_and_pushes_and_pulls() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let d = data_dir(&m).await;

    let (rc, out, err) = run(cli(d.path(), &m).args(["backup", "create"]));
    assert_eq!(rc, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].contains("created: somiti-all-"), "{out}");
    assert!(
        lines[1].starts_with(&format!("copied to bucket (s3://{BUCKET}/sonali): "))
            && lines[1].ends_with(", SHA-256 matches"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");

    // --json: the backup with its copies.
    let (rc, out, err) = run(cli(d.path(), &m).args(["--json", "backup", "create"]));
    assert_eq!(rc, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let file = v["file"].as_str().unwrap().to_string();
    let sha = v["sha256"].as_str().unwrap().to_string();
    assert_eq!(v["copies"][0]["target"], "bucket");
    assert_eq!(v["copies"][0]["status"], "verified");
    assert_eq!(v["copies"][0]["sha256"], sha.as_str());
    let objs = m.objects(BUCKET, "sonali/");
    assert_eq!(objs.len(), 2);
    let o = objs
        .iter()
        .find(|o| o.0 == format!("sonali/{file}"))
        .unwrap();
    assert_eq!(o.2, sha);

    // push: copied again now.
    let (rc, out, err) =
        run(cli(d.path(), &m).args(["backup", "push", &id[..8], "--to", "bucket"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with("copied to bucket ("), "{out}");
    let (rc, _, err) = run(cli(d.path(), &m).args(["backup", "push", &id[..8], "--to", "nowhere"]));
    assert_eq!(rc, 1);
    assert!(
        err.contains("\"nowhere\"") && err.contains("bucket"),
        "{err}"
    );

    // pull after the local file was lost: back byte for byte.
    let local = d.path().join("backups").join(&file);
    let bytes = std::fs::read(&local).unwrap();
    let (rc, _, err) = run(cli(d.path(), &m).args(["backup", "pull", &id[..8]]));
    assert_eq!(rc, 4, "a file that is there is not pulled again: {err}");
    assert!(err.contains("nothing to pull"), "{err}");
    std::fs::remove_file(&local).unwrap();
    let (rc, out, err) = run(cli(d.path(), &m).args(["backup", "pull", &id[..8]]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "pulled backup {} from bucket (s3://{BUCKET}/sonali): ",
            &id[..8]
        )) && out.trim_end().ends_with("SHA-256 matches the catalogue"),
        "{out}"
    );
    assert_eq!(std::fs::read(&local).unwrap(), bytes);
    let (rc, out, err) = run(cli(d.path(), &m).args(["--json", "backup", "list"]));
    assert_eq!(rc, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(e["status"], "completed");
    assert_eq!(e["missing"], false);
    let (rc, _, err) = run(cli(d.path(), &m).args(["backup", "verify", &id[..8]]));
    assert_eq!(rc, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_warns_when_a_copy_fails_and_push_exits_1() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let d = data_dir(&m).await;
    let creds = creds_file(d.path(), &m.key, "wrong-secret");
    std::fs::write(
        d.path().join("config.toml"),
        format!(
            "{}credentials_file = \"{}\"\n",
            m.offsite_toml("bucket", BUCKET, "sonali"),
            creds.display()
        ),
    )
    .unwrap();
    let (rc, out, err) = run(cli(d.path(), &m).args(["--json", "backup", "create"]));
    assert_eq!(rc, 0, "only the copy failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "completed");
    assert_eq!(v["copies"][0]["status"], "failed");
    assert!(
        v["copies"][0]["error"]
            .as_str()
            .unwrap()
            .contains("off-site target bucket"),
        "{v}"
    );
    let id = v["id"].as_str().unwrap().to_string();

    let (rc, out, err) = run(cli(d.path(), &m).args(["backup", "create"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("created: somiti-all-"), "{out}");
    let short = out.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        err.starts_with("somiti: warning: copy to bucket failed: off-site target bucket"),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with(&format!(
            "; it is retried by the scheduler (an open console or somiti daemon) or with `somiti backup push {short}`"
        )),
        "{err}"
    );

    let (rc, _, err) = run(cli(d.path(), &m).args(["backup", "push", &id[..8]]));
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("the copy to bucket failed: off-site target bucket"),
        "{err}"
    );
    assert!(m.objects(BUCKET, "sonali/").is_empty());
}

/// A scheduled backup through the real scheduler (as a console or `somiti daemon` runs it,
/// with the config's `[[offsite]]` target): the scheduler's own copier copies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_backup_is_copied_by_the_schedulers_copier() {
    use somiti::config::ScheduleAction;
    use somiti::scheduler::{Job, RunnerKind, Schedule, Scheduler, actions::CoreActions};
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let creds = m.creds_file(dir.path());
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "{}credentials_file = \"{}\"\n",
            m.offsite_toml("bucket", BUCKET, "daily"),
            creds.display()
        ),
    )
    .unwrap();
    let settings = somiti::config::load(&somiti::config::Overrides {
        config: None,
        database_url: Some("sqlite://unused-by-the-actions".into()),
        data_dir: Some(dir.path().to_path_buf()),
    })
    .unwrap();
    assert_eq!(settings.config.offsite.len(), 1);
    let store = Store::open_sqlite(&dir.path().join("somiti.db"))
        .await
        .unwrap();
    seeded(&store, 20, 5, 1).await;
    let job = Job {
        name: "backup".into(),
        schedule: Schedule::parse("backup", "0 0 2 * * *", "Asia/Dhaka").unwrap(),
        action: ScheduleAction::Backup,
        scope: None,
        drill: false,
        enabled: true,
    };
    let clock = clock();
    let h = Scheduler::new(
        store.clone(),
        vec![job],
        CoreActions::shared(store.clone(), settings.clone()),
        RunnerKind::Daemon,
    )
    .with_clock(clock.clone())
    .with_offsite(Backups::new(store.clone(), &settings))
    .spawn();
    h.queue()
        .run_now("backup", &Operator::system())
        .await
        .expect("the scheduled backup ran");
    let e = catalogue::all(&store)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == BackupKind::Scheduled)
        .expect("a scheduled backup");
    let c = await_status(&store, &e.id, "bucket", copies::VERIFIED).await;
    assert_eq!(c.sha256, e.sha256);
    let objs = m.objects(BUCKET, "daily/");
    assert_eq!(objs.len(), 1);
    assert_eq!(Some(&objs[0].2), e.sha256.as_ref());
    h.stop().await.unwrap();
    store.close().await;
}

/// A copy another live copier holds is left to it (not an error); one whose copier stopped
/// beating minutes ago is taken over and made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_copy_is_left_to_its_copier_until_it_stops_beating() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket(BUCKET);
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 20, 5, 1).await;
    let mut b = engine(&store, tmp.path());
    b.offsite = vec![m.target(
        "bucket",
        &format!("{BUCKET}/sonali"),
        &m.creds_file(tmp.path()),
    )];
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let clock = clock();
    let t0 = clock.now();
    assert!(
        copies::claim(&store, &e.id, "bucket", "elsewhere:42", t0, t0, false)
            .await
            .unwrap()
    );
    clock.advance(chrono::Duration::seconds(30));
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", true, &*clock)
        .await
        .expect("another copier holding it is not an error");
    assert_eq!(c.status, copies::COPYING);
    assert_eq!(c.runner.as_deref(), Some("elsewhere:42"));
    assert!(m.objects(BUCKET, "sonali/").is_empty());

    // That copier died: past the stale limit the copy is taken over.
    clock.set(t0 + copier::stale_after() + chrono::Duration::seconds(1));
    let due = copies::due(&store, clock.now(), clock.now() - copier::stale_after())
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let c = copy_one(&b, &system(), &e.id, "bucket", "t1", false, &*clock)
        .await
        .unwrap();
    assert_eq!(c.status, copies::VERIFIED, "{:?}", c.error);
    assert_eq!(m.objects(BUCKET, "sonali/").len(), 1);
}
