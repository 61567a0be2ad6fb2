//! Alerts against real servers on 127.0.0.1: a small HTTP receiver written here (records
//! method, path and body of every request) and an SMTP sink (aiosmtpd from PyPI, writing a
//! maildir). Scheduled backups run for real through a `Scheduler` driven by a `ManualClock`;
//! they fail because encryption is configured and the passphrase file is readable by others
//! (a clear reason), and succeed once it is mode 0600.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use somiti::config::{AlertConfig, ScheduleAction};
use somiti::db::Store;
use somiti::on_store;
use somiti::scheduler::clock::ManualClock;
use somiti::scheduler::engine::SchedulerEvent;
use somiti::scheduler::{Job, RunnerKind, Schedule, Scheduler, SharedActions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

const PATIENCE: Duration = Duration::from_secs(120);

// ---- an HTTP receiver ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    body: String,
}

impl Req {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Accepts HTTP/1.1 requests on 127.0.0.1, records them, answers `status`.
struct Receiver {
    port: u16,
    reqs: Arc<Mutex<Vec<Req>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(status: u16) -> Receiver {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (r2, a2) = (reqs.clone(), arrived.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = l.accept().await else {
                    return;
                };
                let (r3, a3) = (r2.clone(), a2.clone());
                tokio::spawn(async move {
                    if let Some(req) = read_request(&mut sock).await {
                        r3.lock().unwrap().push(req);
                        a3.notify_waiters();
                        let reason = if status == 200 { "OK" } else { "Error" };
                        let resp = format!(
                            "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                });
            }
        });
        Receiver {
            port,
            reqs,
            arrived,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn all(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }

    /// Wait until at least `n` requests came (a bounded wait for an event, not a sleep).
    async fn wait_for(&self, n: usize) -> Vec<Req> {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                let wake = self.arrived.notified();
                if self.all().len() >= n {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), wake).await;
            }
        })
        .await;
        assert!(r.is_ok(), "expected {n} requests, got {:#?}", self.all());
        self.all()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let len: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + len).min(buf.len())]).to_string();
    Some(Req { method, path, body })
}

// ---- an SMTP sink ----------------------------------------------------------------------

/// aiosmtpd writing every mail into a maildir.
struct SmtpSink {
    port: u16,
    maildir: PathBuf,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// None (with a note) when aiosmtpd is not installed; under CI=true that is a failure.
    async fn start() -> Option<SmtpSink> {
        let have = std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !have {
            let why = "aiosmtpd is not installed (pip install aiosmtpd)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the SMTP sink cannot start: {why}; .ci/run installs it");
            }
            eprintln!("note: skipping the mail half of this test: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let ready = tokio::time::timeout(PATIENCE, async {
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "aiosmtpd did not listen on port {port}");
        Some(SmtpSink {
            port,
            maildir,
            child,
            _dir: dir,
        })
    }

    /// Every mail received, as text (quoted-printable undone), oldest first.
    fn mails(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> =
            std::fs::read_dir(self.maildir.join("new"))
                .map(|d| {
                    d.flatten()
                        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
                        .collect()
                })
                .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| unquote(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Quoted-printable undone (soft line breaks and =XX), as a mail reader shows the text.
fn unquote(mail: &str) -> String {
    let s = mail.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Subject line of a mail.
fn subject(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_string()
}

// ---- channels, jobs, settings ----------------------------------------------------------

fn channel(name: &str) -> AlertConfig {
    AlertConfig {
        name: name.into(),
        webhook: String::new(),
        ping_style: Default::default(),
        email_to: Vec::new(),
        email_from: String::new(),
        smtp_url: String::new(),
        smtp_tls: Default::default(),
        password_file: String::new(),
        command: String::new(),
        events: None,
        repeat_hours: 24,
    }
}

fn webhook(name: &str, url: &str) -> AlertConfig {
    AlertConfig {
        webhook: url.into(),
        ..channel(name)
    }
}

fn mail(name: &str, port: u16) -> AlertConfig {
    AlertConfig {
        email_to: vec!["admin@example.org".into()],
        email_from: "somiti@example.org".into(),
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        smtp_tls: somiti::config::SmtpTls::None,
        ..channel(name)
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn hourly_backup() -> Job {
    Job {
        name: "hourly-backup".into(),
        schedule: Schedule::parse("hourly-backup", "0 * * * *", "UTC").unwrap(),
        action: ScheduleAction::Backup,
        scope: None,
        drill: false,
        enabled: true,
    }
}

/// A data directory whose config encrypts backups with a passphrase file; the file starts
/// readable by others (every backup fails) until `fix` makes it 0600.
struct Setup {
    dir: tempfile::TempDir,
    passfile: PathBuf,
    settings: somiti::config::Settings,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let passfile = dir.path().join("passphrase");
        std::fs::write(&passfile, "correct horse battery staple\n").unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "[backup]\nencrypt = true\npassphrase_file = {:?}\n",
                passfile.display().to_string()
            ),
        )
        .unwrap();
        let settings = somiti::config::load(&somiti::config::Overrides {
            config: Some(cfg),
            database_url: Some("sqlite://unused-by-the-actions".into()),
            data_dir: Some(dir.path().to_path_buf()),
        })
        .unwrap();
        Setup {
            dir,
            passfile,
            settings,
        }
    }

    fn actions(&self, store: &Store) -> SharedActions {
        somiti::scheduler::actions::CoreActions::shared(store.clone(), self.settings.clone())
    }

    fn fix(&self) {
        std::fs::set_permissions(&self.passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// A scheduler's events, read until the one a test waits for.
struct Events {
    rx: mpsc::UnboundedReceiver<SchedulerEvent>,
    seen: Vec<SchedulerEvent>,
}

impl Events {
    /// This scheduler is done with `slot` of `job`: ran it, skipped it, or another had it.
    async fn settled(&mut self, job: &str, slot: DateTime<Utc>) -> SchedulerEvent {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                match self.rx.recv().await {
                    Some(e) => {
                        self.seen.push(e.clone());
                        let hit = match &e {
                            SchedulerEvent::Finished {
                                job: j, slot: s, ..
                            }
                            | SchedulerEvent::Skipped {
                                job: j, slot: s, ..
                            }
                            | SchedulerEvent::Passed { job: j, slot: s } => j == job && *s == slot,
                            _ => false,
                        };
                        if hit {
                            return Some(e);
                        }
                    }
                    None => return None,
                }
            }
        })
        .await;
        match r {
            Ok(Some(e)) => e,
            _ => panic!("{job} at {slot} never settled; events {:#?}", self.seen),
        }
    }

    /// The loop has made its start-up decisions and sleeps.
    async fn waiting(&mut self) {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                match self.rx.recv().await {
                    Some(SchedulerEvent::Waiting { .. }) => return true,
                    Some(e) => self.seen.push(e),
                    None => return false,
                }
            }
        })
        .await;
        assert_eq!(
            r.ok(),
            Some(true),
            "the scheduler never waited: {:#?}",
            self.seen
        );
    }
}

fn scheduler(
    store: &Store,
    name: &str,
    jobs: Vec<Job>,
    act: SharedActions,
    clock: &Arc<ManualClock>,
    alerts: Vec<AlertConfig>,
) -> (Scheduler, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    let s = Scheduler::new(store.clone(), jobs, act, RunnerKind::Daemon)
        .with_runner_name(name)
        .with_events(tx)
        .with_clock(clock.clone())
        .with_alerts(alerts);
    (
        s,
        Events {
            rx,
            seen: Vec::new(),
        },
    )
}

async fn audit_rows(store: &Store) -> Vec<(String, String, String, String)> {
    on_store!(store, |p| {
        sqlx::query_as::<_, (String, String, String, String)>(
        "SELECT actor, target, detail, outcome FROM audit_log WHERE action = 'alert.send' ORDER BY id"
    )
    .fetch_all(p)
    .await
    .unwrap()
    })
}

// ---- a failing scheduled backup: one alert, one repeat, one recovery ---------------------

/// Hourly slots from 10:00 (first known at 09:50): 10, 11, 12 fail, 13 and 14 succeed.
/// With repeat_hours = 2: failed at 10, nothing at 11, the repeat at 12, cleared at 13,
/// nothing at 14. `schedulers` run side by side on the same database and clock.
async fn failing_backup_alerts_once(store: &Store, schedulers: usize) {
    let Some(smtp) = SmtpSink::start().await else {
        return;
    };
    let http = Receiver::start(200).await;
    let setup = Setup::new();
    let mut hook = webhook("ops", &http.url("/hook"));
    hook.repeat_hours = 2;
    let mut mailbox = mail("mail", smtp.port);
    mailbox.repeat_hours = 2;
    // stale is tested on its own below
    let events = Some(vec![
        somiti::config::AlertEventKind::Failed,
        somiti::config::AlertEventKind::Cleared,
    ]);
    hook.events = events.clone();
    mailbox.events = events;
    let alerts = vec![hook, mailbox];

    let clock = ManualClock::new(utc(2026, 5, 10, 9, 50, 0));
    let mut running = Vec::new();
    for i in 0..schedulers {
        let (s, mut ev) = scheduler(
            store,
            &format!("sched-{i}"),
            vec![hourly_backup()],
            setup.actions(store),
            &clock,
            alerts.clone(),
        );
        let h = s.spawn();
        ev.waiting().await;
        running.push((h, ev));
    }
    let mut slot_results = Vec::new();
    for (hour, fixed) in [
        (10, false),
        (11, false),
        (12, false),
        (13, true),
        (14, true),
    ] {
        if fixed {
            setup.fix();
        }
        let slot = utc(2026, 5, 10, hour, 0, 0);
        clock.set(slot);
        let mut ran = Vec::new();
        for (_, ev) in running.iter_mut() {
            if let SchedulerEvent::Finished { ok, message, .. } =
                ev.settled("hourly-backup", slot).await
            {
                ran.push((ok, message));
            }
        }
        assert_eq!(
            ran.len(),
            1,
            "one scheduler ran the {hour}:00 slot: {ran:?}"
        );
        slot_results.push(ran.remove(0));
    }
    for (h, _) in running {
        h.stop().await.unwrap();
    }
    let oks: Vec<bool> = slot_results.iter().map(|(ok, _)| *ok).collect();
    assert_eq!(oks, [false, false, false, true, true], "{slot_results:?}");
    assert!(
        slot_results[0].1.contains("must be 0600"),
        "the backup fails for the passphrase file's mode: {}",
        slot_results[0].1
    );

    let posts = http.all();
    let kinds: Vec<String> = posts
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(kinds, ["failed", "failed", "cleared"], "{posts:#?}");
    for r in &posts {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
    }
    let first = posts[0].json();
    assert_eq!(first["job"], "hourly-backup");
    assert_eq!(first["key"], "job:hourly-backup");
    assert!(
        first["error"].as_str().unwrap().contains("must be 0600"),
        "{first}"
    );
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .starts_with("hourly-backup failed: ")
    );
    for k in ["host", "database", "at", "app_version"] {
        assert!(
            first[k].as_str().is_some_and(|v| !v.is_empty()),
            "{k} in {first}"
        );
    }
    assert!(
        DateTime::parse_from_rfc3339(first["at"].as_str().unwrap()).is_ok(),
        "{first}"
    );
    assert!(
        !first["database"]
            .as_str()
            .unwrap()
            .contains("somiti:somiti@"),
        "no password in the database label: {first}"
    );
    assert_eq!(posts[2].json()["key"], "job:hourly-backup");

    let mails = smtp.mails();
    let subjects: Vec<String> = mails.iter().map(|m| subject(m)).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        subjects[0].starts_with("somiti: hourly-backup failed on "),
        "{subjects:?}"
    );
    assert!(
        subjects[1].starts_with("somiti: hourly-backup failed on "),
        "{subjects:?}"
    );
    assert!(
        subjects[2].starts_with("somiti: hourly-backup works again on "),
        "{subjects:?}"
    );
    assert!(
        mails[0].contains("must be 0600"),
        "the reason is in the mail: {}",
        mails[0]
    );
    assert!(mails[0].contains("What to do:"), "{}", mails[0]);
    assert!(
        mails[0].contains("somiti scheduler run hourly-backup"),
        "{}",
        mails[0]
    );

    let audit = audit_rows(store).await;
    assert_eq!(audit.len(), 6, "every delivery is audited: {audit:#?}");
    assert!(
        audit
            .iter()
            .all(|(actor, _, _, outcome)| actor == "system" && outcome == "ok")
    );
    assert_eq!(audit.iter().filter(|a| a.1 == "ops").count(), 3);
    assert_eq!(audit.iter().filter(|a| a.1 == "mail").count(), 3);
    let d: serde_json::Value = serde_json::from_str(&audit[0].2).unwrap();
    assert_eq!(d["key"], "job:hourly-backup");
    assert_eq!(d["event"], "failed");
    drop(setup.dir);
}

async fn one_scheduler(store: &Store) {
    failing_backup_alerts_once(store, 1).await;
}

async fn two_schedulers(store: &Store) {
    failing_backup_alerts_once(store, 2).await;
}

// ---- claims across processes -------------------------------------------------------------

/// Two processes noticing one failure at once (here two tasks on separate pools of the
/// same database): one delivery; the recovery: one delivery.
async fn concurrent_fires_send_once(store: &Store) {
    let http = Receiver::start(200).await;
    let chans = vec![webhook("ops", &http.url("/hook"))];
    let other = match store {
        Store::Sqlite(_, p) => Store::open_sqlite(p).await.unwrap(),
        Store::Postgres(..) => {
            // a second pool on the same database
            let url = std::env::var("SOMITI_TEST_PG_URL").unwrap();
            let name: String =
                on_store!(store, |p| sqlx::query_scalar("SELECT current_database()")
                    .fetch_one(p)
                    .await
                    .unwrap());
            Store::open(&common::with_database(&url, &name))
                .await
                .unwrap()
        }
    };
    let o = somiti::alert::Occurrence {
        key: "offsite:bucket".into(),
        job: None,
        backup_id: Some("3f2a9c1b".into()),
        message: "the bucket refused the upload: access denied".into(),
    };
    let now = utc(2026, 5, 10, 10, 0, 0);
    for _ in 0..3 {
        tokio::join!(
            somiti::alert::fire(store, &chans, &o, now),
            somiti::alert::fire(&other, &chans, &o, now),
        );
    }
    let cleared = somiti::alert::Occurrence {
        message: "the copy to bucket verified".into(),
        ..o.clone()
    };
    for _ in 0..2 {
        tokio::join!(
            somiti::alert::clear(store, &chans, &cleared, now),
            somiti::alert::clear(&other, &chans, &cleared, now),
        );
    }
    let kinds: Vec<String> = http
        .all()
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["failed", "cleared"]);
    let first = http.all()[0].json();
    assert_eq!(first["backup_id"], "3f2a9c1b");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("the off-site copy to bucket failed")
    );
    other.close().await;
}

/// A channel that cannot be reached is a failed delivery, audited with its reason, never
/// an error of the caller; the next occurrence tries again.
async fn failed_deliveries_are_audited_and_retried(store: &Store) {
    let down = Receiver::start(500).await;
    let chans = vec![webhook("ops", &down.url("/hook"))];
    let o = somiti::alert::Occurrence {
        key: "job:daily-backup".into(),
        job: Some("daily-backup".into()),
        backup_id: None,
        message: "disk full".into(),
    };
    let now = utc(2026, 5, 10, 10, 0, 0);
    somiti::alert::fire(store, &chans, &o, now).await;
    somiti::alert::fire(store, &chans, &o, now + chrono::Duration::minutes(1)).await;
    assert_eq!(down.all().len(), 2, "an undelivered alert is tried again");
    let audit = audit_rows(store).await;
    assert_eq!(audit.len(), 2);
    for (_, target, detail, outcome) in &audit {
        assert_eq!((target.as_str(), outcome.as_str()), ("ops", "failed"));
        let d: serde_json::Value = serde_json::from_str(detail).unwrap();
        assert!(d["error"].as_str().unwrap().contains("500"), "{d}");
        assert_eq!(d["key"], "job:daily-backup");
    }
    let st = somiti::alert::state::all(store).await.unwrap();
    assert!(st[0].firing, "still firing, so its recovery is told");
}

/// Two schedulers observe at their own pace: a failure seen before another scheduler saw
/// the recovery (and told it) is out of date and never re-fires; a success seen before
/// the failure began never clears it. Found by CI: a scheduler that read the database at
/// 10:30:10 claimed its "stale" after the other had cleared it at 11:18.
async fn out_of_date_observations_are_not_told(store: &Store) {
    let http = Receiver::start(200).await;
    let chans = vec![webhook("ops", &http.url("/hook"))];
    let o = somiti::alert::Occurrence {
        key: "stale:offsite".into(),
        job: None,
        backup_id: None,
        message: "the newest verified off-site copy is 3 days old".into(),
    };
    let ok = somiti::alert::Occurrence {
        message: "recent enough again".into(),
        ..o.clone()
    };
    let t = |m: i64| utc(2026, 5, 10, 10, 30, 0) + chrono::Duration::minutes(m);
    somiti::alert::fire(store, &chans, &o, t(0)).await;
    somiti::alert::clear(store, &chans, &ok, t(48)).await;
    // the other scheduler's observation from 10:31 arrives late
    somiti::alert::fire(store, &chans, &o, t(1)).await;
    let kinds = |g: &[Req]| -> Vec<String> {
        g.iter()
            .map(|r| r.json()["event"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&http.all()), ["stale", "cleared"]);
    let st = somiti::alert::state::all(store).await.unwrap();
    assert!(
        !st[0].firing,
        "the late observation left it cleared: {st:?}"
    );
    // a newer observation does fire again
    somiti::alert::fire(store, &chans, &o, t(60)).await;
    // a success observed at 11:20 (before the firing of 11:30) does not clear it
    somiti::alert::clear(store, &chans, &ok, t(50)).await;
    assert_eq!(kinds(&http.all()), ["stale", "cleared", "stale"]);
    let st = somiti::alert::state::all(store).await.unwrap();
    assert!(st[0].firing, "{st:?}");
    assert_eq!(st[0].since, Some(t(60)));
    somiti::alert::clear(store, &chans, &ok, t(61)).await;
    assert_eq!(kinds(&http.all()), ["stale", "cleared", "stale", "cleared"]);
}

on_both_backends!(
    one_scheduler,
    out_of_date_observations_are_not_told,
    two_schedulers,
    concurrent_fires_send_once,
    failed_deliveries_are_audited_and_retried,
    healthchecks_pings,
    stale_fires_and_clears_once,
    a_late_offsite_copy_fires_stale_offsite_once,
    command_gets_the_event_in_its_environment,
    a_restore_is_told,
);

// ---- healthchecks pings ------------------------------------------------------------------

/// Per run: /start, then /fail or the bare URL; other events POST to the URL (failed to
/// /fail).
async fn healthchecks_pings(store: &Store) {
    let http = Receiver::start(200).await;
    let setup = Setup::new();
    let mut hc = webhook("hc", &http.url("/ping/abc"));
    hc.ping_style = somiti::config::PingStyle::Healthchecks;
    let alerts = vec![hc];
    let clock = ManualClock::new(utc(2026, 5, 10, 9, 50, 0));
    let (s, mut ev) = scheduler(
        store,
        "sched-hc",
        vec![hourly_backup()],
        setup.actions(store),
        &clock,
        alerts.clone(),
    );
    let h = s.spawn();
    ev.waiting().await;
    for (hour, fixed) in [(10, false), (11, false), (12, true)] {
        if fixed {
            setup.fix();
        }
        let slot = utc(2026, 5, 10, hour, 0, 0);
        clock.set(slot);
        ev.settled("hourly-backup", slot).await;
    }
    h.stop().await.unwrap();
    let o = somiti::alert::Occurrence {
        key: "offsite:bucket".into(),
        job: None,
        backup_id: None,
        message: "access denied".into(),
    };
    let now = utc(2026, 5, 10, 12, 30, 0);
    somiti::alert::fire(store, &alerts, &o, now).await;
    somiti::alert::clear(store, &alerts, &o, now).await;
    let paths: Vec<(String, String, String)> = http
        .all()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.json()["event"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("/ping/abc/start", "start"),
        ("/ping/abc/fail", "fail"),
        ("/ping/abc/start", "start"),
        ("/ping/abc/fail", "fail"),
        ("/ping/abc/start", "start"),
        ("/ping/abc", "success"),
        ("/ping/abc/fail", "failed"),
        ("/ping/abc", "cleared"),
    ]
    .iter()
    .map(|(p, e)| ("POST".to_string(), p.to_string(), e.to_string()))
    .collect();
    assert_eq!(paths, want);
    let fail = http.all()[1].json();
    assert!(
        fail["error"].as_str().unwrap().contains("must be 0600"),
        "{fail}"
    );
}

// ---- stale -------------------------------------------------------------------------------

async fn set_backup_time(store: &Store, at: DateTime<Utc>) {
    on_store!(store, |p| sqlx::query("UPDATE backups SET created_at = $1")
        .bind(at)
        .execute(p)
        .await
        .unwrap()
        .rows_affected());
}

/// The newest backup older than its schedule allows fires "stale" once (two schedulers
/// look, again and again), and clears once when the newest backup is recent again.
async fn stale_fires_and_clears_once(store: &Store) {
    let http = Receiver::start(200).await;
    let setup = Setup::new();
    let mut hook = webhook("ops", &http.url("/hook"));
    hook.events = Some(vec![
        somiti::config::AlertEventKind::Stale,
        somiti::config::AlertEventKind::Cleared,
    ]);
    let alerts = vec![hook];
    let daily = Job {
        name: "daily-backup".into(),
        schedule: Schedule::parse("daily-backup", "0 2 * * *", "UTC").unwrap(),
        action: ScheduleAction::Backup,
        scope: None,
        drill: false,
        enabled: true,
    };
    let mut b = somiti::backup::Backups::new(store.clone(), &setup.settings);
    b.passphrase = Some(somiti::backup::Passphrase::new("a passphrase"));
    let admin = common::admin(store).await;
    b.create(
        &admin,
        &somiti::backup::CreateOptions {
            scope: somiti::backup::Scope::All,
            kind: somiti::backup::BackupKind::Scheduled,
            encrypt: false,
        },
        &somiti::backup::no_progress(),
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    // backups are stamped by the wall clock; the scheduler's clock is this test's
    let t0 = utc(2026, 5, 10, 10, 30, 0);
    set_backup_time(store, t0 - chrono::Duration::days(3)).await;
    let clock = ManualClock::new(t0);
    let mut running = Vec::new();
    for i in 0..2 {
        let (s, mut ev) = scheduler(
            store,
            &format!("stale-{i}"),
            vec![daily.clone()],
            setup.actions(store),
            &clock,
            alerts.clone(),
        );
        let h = s.spawn();
        ev.waiting().await;
        running.push(h);
    }
    // the loops look at their first wake, then every few minutes of their clock
    clock.set(t0 + chrono::Duration::seconds(10));
    let got = http.wait_for(1).await;
    let stale = got[0].json();
    assert_eq!(stale["event"], "stale");
    assert_eq!(stale["key"], "stale:backup");
    assert!(
        stale["error"]
            .as_str()
            .unwrap()
            .contains("the newest backup is 3 days old; job daily-backup expects one"),
        "{stale}"
    );
    for m in 1..=4 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    // a backup of now: fresh again
    set_backup_time(store, t0 + chrono::Duration::minutes(25)).await;
    for m in 5..=8 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    http.wait_for(2).await;
    for m in 9..=12 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    for h in running {
        h.stop().await.unwrap();
    }
    let kinds: Vec<String> = http
        .all()
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["stale", "cleared"], "{:#?}", http.all());
    assert_eq!(http.all()[1].json()["key"], "stale:backup");
}

/// With an off-site target configured, the newest verified off-site copy older than the
/// backup schedule allows fires `stale:offsite` once across two schedulers (while the local
/// backup is fresh), and clears once when a newer copy is verified.
async fn a_late_offsite_copy_fires_stale_offsite_once(store: &Store) {
    use somiti::backup::offsite::copies;
    let http = Receiver::start(200).await;
    let setup = Setup::new();
    let mut hook = webhook("ops", &http.url("/hook"));
    hook.events = Some(vec![
        somiti::config::AlertEventKind::Stale,
        somiti::config::AlertEventKind::Cleared,
    ]);
    let alerts = vec![hook];
    let daily = Job {
        name: "daily-backup".into(),
        schedule: Schedule::parse("daily-backup", "0 2 * * *", "UTC").unwrap(),
        action: ScheduleAction::Backup,
        scope: None,
        drill: false,
        enabled: true,
    };
    let mut b = somiti::backup::Backups::new(store.clone(), &setup.settings);
    b.passphrase = Some(somiti::backup::Passphrase::new("a passphrase"));
    let admin = common::admin(store).await;
    let opts = somiti::backup::CreateOptions {
        scope: somiti::backup::Scope::All,
        kind: somiti::backup::BackupKind::Scheduled,
        encrypt: false,
    };
    let old = b
        .create(
            &admin,
            &opts,
            &somiti::backup::no_progress(),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    let t0 = utc(2026, 5, 10, 10, 30, 0);
    set_backup_time(store, t0 - chrono::Duration::days(3)).await;
    let fresh = b
        .create(
            &admin,
            &opts,
            &somiti::backup::no_progress(),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    // the local backup is fresh; only the three-day-old one has a verified off-site copy
    on_store!(store, |p| sqlx::query(
        "UPDATE backups SET created_at = $1 WHERE id = $2"
    )
    .bind(t0 - chrono::Duration::minutes(30))
    .bind(&fresh.id)
    .execute(p)
    .await
    .unwrap()
    .rows_affected());
    let disk = setup.dir.path().join("usb");
    std::fs::create_dir(&disk).unwrap();
    b.offsite = vec![common::folder_target("usb", &disk)];
    copies::record_found(store, &old.id, "usb", &old.file, 1, "x", t0)
        .await
        .unwrap();
    let clock = ManualClock::new(t0);
    let mut running = Vec::new();
    for i in 0..2 {
        let (s, mut ev) = scheduler(
            store,
            &format!("stale-off-{i}"),
            vec![daily.clone()],
            setup.actions(store),
            &clock,
            alerts.clone(),
        );
        // the copier would copy the fresh backup if it were queued; it is not
        let h = s.with_offsite(b.clone()).spawn();
        ev.waiting().await;
        running.push(h);
    }
    clock.set(t0 + chrono::Duration::seconds(10));
    let got = http.wait_for(1).await;
    let stale = got[0].json();
    assert_eq!(stale["event"], "stale");
    assert_eq!(
        stale["key"], "stale:offsite",
        "the local backup is fresh: {stale}"
    );
    assert!(
        stale["error"]
            .as_str()
            .unwrap()
            .contains("the newest verified off-site copy (on usb) is 3 days old"),
        "{stale}"
    );
    for m in 1..=4 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    // the fresh backup's copy is verified: recent again
    copies::record_found(store, &fresh.id, "usb", &fresh.file, 1, "y", t0)
        .await
        .unwrap();
    for m in 5..=8 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    http.wait_for(2).await;
    for m in 9..=12 {
        clock.set(t0 + chrono::Duration::minutes(6 * m));
    }
    for h in running {
        h.stop().await.unwrap();
    }
    let all = http.all();
    let seen: Vec<(String, String)> = all
        .iter()
        .map(|r| {
            let j = r.json();
            (
                j["event"].as_str().unwrap().to_string(),
                j["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("stale".to_string(), "stale:offsite".to_string()),
            ("cleared".to_string(), "stale:offsite".to_string())
        ],
        "{all:#?}"
    );
}

// ---- command channels --------------------------------------------------------------------

async fn command_gets_the_event_in_its_environment(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nenv | grep '^SOMITI_EVENT_' | sort > \"$1\"\nif [ \"$2\" != 0 ]; then echo \"no route to the pager\" >&2; fi\nexit \"$2\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("env one.txt");
    let bad_out = dir.path().join("env-two.txt");
    let good = AlertConfig {
        command: format!("{} '{}' 0", script.display(), out.display()),
        ..channel("script")
    };
    let bad = AlertConfig {
        command: format!("{} {} 3", script.display(), bad_out.display()),
        ..channel("broken")
    };
    let o = somiti::alert::Occurrence {
        key: "job:daily-backup".into(),
        job: Some("daily-backup".into()),
        backup_id: None,
        message: "the disk is full".into(),
    };
    somiti::alert::fire(store, &[good, bad], &o, utc(2026, 5, 10, 10, 0, 0)).await;
    let env = std::fs::read_to_string(&out).expect("the command ran");
    let vars: std::collections::BTreeMap<&str, &str> =
        env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(vars["SOMITI_EVENT_KIND"], "failed");
    assert_eq!(vars["SOMITI_EVENT_JOB"], "daily-backup");
    assert_eq!(vars["SOMITI_EVENT_ERROR"], "the disk is full");
    assert_eq!(
        vars["SOMITI_EVENT_MESSAGE"],
        "daily-backup failed: the disk is full"
    );
    assert_eq!(vars["SOMITI_EVENT_AT"], "2026-05-10T10:00:00Z");
    assert_eq!(vars.get("SOMITI_EVENT_BACKUP_ID"), Some(&""));
    assert!(!vars["SOMITI_EVENT_HOST"].is_empty());
    assert!(!vars["SOMITI_EVENT_DATABASE"].is_empty());
    assert!(bad_out.exists(), "the broken command ran too");
    let audit = audit_rows(store).await;
    assert_eq!(audit.len(), 2, "{audit:#?}");
    let (_, t, d, outcome) = &audit[0];
    assert_eq!((t.as_str(), outcome.as_str()), ("script", "ok"));
    assert!(!d.contains("error"), "{d}");
    let (_, t, d, outcome) = &audit[1];
    assert_eq!((t.as_str(), outcome.as_str()), ("broken", "failed"));
    assert!(
        d.contains("exit status 3: no route to the pager"),
        "the failed delivery names the status and the command's last words: {d}"
    );
}

// ---- restored ------------------------------------------------------------------------------

async fn a_restore_is_told(store: &Store) {
    let http = Receiver::start(200).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = somiti::backup::Backups::with_dir(store.clone(), dir.path());
    b.alerts = vec![webhook("ops", &http.url("/hook"))];
    let admin = common::admin(store).await;
    common::make_org(store, "SONALI").await;
    let e = b
        .create(
            &admin,
            &somiti::backup::CreateOptions {
                scope: somiti::backup::Scope::All,
                kind: somiti::backup::BackupKind::Manual,
                encrypt: false,
            },
            &somiti::backup::no_progress(),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    let dry = somiti::backup::RestoreOptions {
        dry_run: true,
        ..Default::default()
    };
    let never = tokio_util::sync::CancellationToken::new();
    b.restore(&admin, &e.id, &dry, &somiti::backup::no_progress(), &never)
        .await
        .unwrap();
    assert!(http.all().is_empty(), "a dry run is not a restore");
    let yes = somiti::backup::RestoreOptions {
        confirm: somiti::backup::Confirm::Yes,
        ..Default::default()
    };
    b.restore(&admin, &e.id, &yes, &somiti::backup::no_progress(), &never)
        .await
        .unwrap();
    let got = http.all();
    assert_eq!(got.len(), 1, "{got:#?}");
    let ev = got[0].json();
    assert_eq!(ev["event"], "restored");
    assert_eq!(ev["backup_id"], e.id.as_str());
    let m = ev["message"].as_str().unwrap();
    assert!(m.starts_with("admin1 restored "), "who and what: {m}");
    assert!(m.contains(&e.file), "{m}");
}

// ---- `somiti alert test` through the binary --------------------------------------------------

// multi-threaded: the receiver answers while the test waits for the binary
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_test_through_the_binary() {
    let http = Receiver::start(200).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("somiti.db"))
        .await
        .unwrap();
    common::make_operator(&store, "boss", somiti::access::Role::Admin, None).await;
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[[alert]]\nname = \"ops\"\nwebhook = \"{}\"\n\n[[alert]]\nname = \"down\"\nwebhook = \"http://127.0.0.1:{closed}/hook\"\n",
            http.url("/hook")
        ),
    )
    .unwrap();
    let cli = || {
        let mut c = assert_cmd::Command::cargo_bin("somiti").unwrap();
        c.env_remove("SOMITI_DATABASE_URL")
            .env_remove("SOMITI_CONFIG")
            .env_remove("SOMITI_DATA_DIR")
            .env("SOMITI_OPERATOR", "boss")
            .arg("--data-dir")
            .arg(dir.path());
        c
    };
    let out = cli().args(["alert", "test", "ops"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ops: ok\n");
    let got = http.all();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["event"], "test");

    let out = cli().args(["alert", "test"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "ops: ok");
    assert!(
        lines[1].starts_with("down: failed: POST to http://127.0.0.1:"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 2 alert channels could not be reached"),
        "{stderr}"
    );
    assert_eq!(http.all().len(), 2);

    let out = cli().args(["alert", "test", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the channels are ops, down"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let audit = audit_rows(&store).await;
    let outcomes: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|(a, t, _, o)| (a.as_str(), t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("boss", "ops", "ok"),
            ("boss", "ops", "ok"),
            ("boss", "down", "failed")
        ]
    );
    store.close().await;
}
