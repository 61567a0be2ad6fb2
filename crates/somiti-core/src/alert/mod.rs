//! Alerts (README "Alerts"): `[[alert]]` channels (webhook, command, email) hear failed / cleared /
//! stale / restored events from whichever process saw them, once per event across processes
//! (claimed in `alert_state`), repeated at most every `repeat_hours`, each delivery audited.
//!
//! Alerts never fail the work that raised them: a channel that cannot be reached is audited
//! as a failed delivery and logged.
//!
//! A webhook with `ping_style = "healthchecks"` is also pinged per job run by whoever runs
//! it: `URL/start` when the run starts, `URL` when it succeeds, `URL/fail` when it fails, so a
//! dead-man's-switch service notices when the pings stop. Its job failures and recoveries
//! are those pings; the other events (off-site, stale, restored) are POSTed as for a plain
//! webhook (failed and stale to `URL/fail`, the rest to `URL`).

mod command;
mod email;
pub mod state;
mod webhook;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::access::audit::{self, Outcome};
use crate::config::{AlertConfig, AlertEventKind, PingStyle};
use crate::db::Store;

/// Something that fires and clears: a job, an off-site target, the age of the newest
/// verified backup.
#[derive(Debug, Clone, Default)]
pub struct Occurrence {
    /// What fires: "job:daily-backup", "offsite:bucket", "stale:backup".
    pub key: String,
    pub job: Option<String>,
    pub backup_id: Option<String>,
    /// The reason of a failure, or what happened, in one sentence.
    pub message: String,
}

/// The document a channel is given (the webhook's JSON body, the command's SOMITI_EVENT_*
/// variables, the mail's text).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// failed, cleared, stale, restored, test; for healthchecks run pings also start,
    /// success.
    pub event: String,
    pub key: String,
    pub job: Option<String>,
    pub backup_id: Option<String>,
    /// The reason, for failed and stale.
    pub error: Option<String>,
    /// What happened, in one sentence.
    pub message: String,
    pub host: String,
    /// Which database (a label without any password).
    pub database: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub app_version: String,
}

/// Where a healthchecks-style webhook is pinged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ping {
    Start,
    Success,
    Fail,
}

impl Event {
    fn new(store: &Store, event: &str, o: &Occurrence, error: bool, now: DateTime<Utc>) -> Event {
        let mut ev = Event {
            event: event.to_string(),
            key: o.key.clone(),
            job: o.job.clone(),
            backup_id: o.backup_id.clone(),
            error: error.then(|| o.message.clone()),
            message: o.message.clone(),
            host: crate::db::lock::hostname(),
            database: store.describe(),
            at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            app_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        if event == "failed" {
            ev.message = format!("{} failed: {}", ev.subject(), o.message);
        }
        ev
    }

    /// What the event is about, in a few words: "daily-backup", "off-site copy to bucket".
    pub fn subject(&self) -> String {
        if let Some(j) = &self.job {
            return j.clone();
        }
        match self.key.split_once(':') {
            Some(("job", j)) => j.to_string(),
            Some(("offsite", t)) => format!("the off-site copy to {t}"),
            Some(("stale", "offsite")) => "the off-site backups".into(),
            Some(("stale", _)) => "the backups".into(),
            _ => self.key.clone(),
        }
    }

    /// The ping a healthchecks-style webhook gets for this event.
    fn ping(&self) -> Ping {
        match self.event.as_str() {
            "failed" | "stale" | "fail" => Ping::Fail,
            "start" => Ping::Start,
            _ => Ping::Success,
        }
    }
}

/// Whether `ch` hears events of `kind` (`events` unset: all).
pub fn hears(ch: &AlertConfig, kind: AlertEventKind) -> bool {
    ch.events.as_ref().is_none_or(|e| e.contains(&kind))
}

fn healthchecks(ch: &AlertConfig) -> bool {
    !ch.webhook.trim().is_empty() && ch.ping_style == PingStyle::Healthchecks
}

/// A healthchecks channel hears a job's failures and recoveries through its run pings.
fn by_run_pings(ch: &AlertConfig, key: &str) -> bool {
    healthchecks(ch) && key.starts_with("job:")
}

/// `o` failed: channels that hear "failed" are told, unless it is already firing and was
/// told less than `repeat_hours` ago. A key `stale:*` is a "stale" event.
pub async fn fire(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    let kind = if o.key.starts_with("stale:") {
        AlertEventKind::Stale
    } else {
        AlertEventKind::Failed
    };
    for ch in channels {
        // a recovery is told only to channels that were told of the failure
        if by_run_pings(ch, &o.key) || !hears(ch, kind) {
            continue;
        }
        let won = match state::claim_fire(store, &ch.name, &o.key, &o.message, ch.repeat_hours, now)
            .await
        {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(channel = %ch.name, key = %o.key, "claiming an alert: {e}");
                continue;
            }
        };
        let Some(claimed_at) = won else { continue };
        let ev = Event::new(store, kind.as_str(), o, true, now);
        if send(store, ch, &ev, "system").await.is_err() {
            // not told: the next occurrence tries again
            if let Err(e) = state::unclaim(store, &ch.name, &o.key, claimed_at).await {
                tracing::warn!(channel = %ch.name, key = %o.key, "releasing an alert claim: {e}");
            }
        }
    }
}

/// `o` succeeded: if it was firing, channels that hear "cleared" are told once.
pub async fn clear(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    for ch in channels {
        if by_run_pings(ch, &o.key) {
            continue;
        }
        match state::claim_clear(store, &ch.name, &o.key, &o.message, now).await {
            Ok(true) if hears(ch, AlertEventKind::Cleared) => {
                let ev = Event::new(store, AlertEventKind::Cleared.as_str(), o, false, now);
                let _ = send(store, ch, &ev, "system").await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(channel = %ch.name, key = %o.key, "clearing an alert: {e}"),
        }
    }
}

/// A restore was done (who, what): channels that hear "restored" are told.
pub async fn restored(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    for ch in channels {
        if hears(ch, AlertEventKind::Restored) {
            let ev = Event::new(store, AlertEventKind::Restored.as_str(), o, false, now);
            let _ = send(store, ch, &ev, "system").await;
        }
    }
}

/// A restore finished (not a dry run): "restored" with who restored what.
pub async fn after_restore(
    store: &Store,
    channels: &[AlertConfig],
    who: &str,
    r: &crate::backup::restore::RestoreReport,
) {
    if r.dry_run || channels.is_empty() {
        return;
    }
    let p = &r.plan;
    let o = Occurrence {
        key: "restore".into(),
        job: None,
        backup_id: Some(p.backup_id.clone()),
        message: format!(
            "{who} restored {} from backup {} ({}, taken {})",
            p.scope,
            &p.backup_id[..8.min(p.backup_id.len())],
            p.file,
            p.created_at.format("%Y-%m-%d %H:%M UTC")
        ),
    };
    restored(store, channels, &o, Utc::now()).await;
}

/// A job run started: healthchecks-style webhooks that hear "failed" get `URL/start`.
pub async fn run_started(store: &Store, channels: &[AlertConfig], job: &str, now: DateTime<Utc>) {
    let o = Occurrence {
        key: format!("job:{job}"),
        job: Some(job.to_string()),
        backup_id: None,
        message: format!("{job} started"),
    };
    run_ping(store, channels, &o, "start", now).await;
}

/// A job run ended: healthchecks-style webhooks get `URL` (`result` Ok) or `URL/fail`.
pub async fn run_finished(
    store: &Store,
    channels: &[AlertConfig],
    job: &str,
    result: std::result::Result<&str, &str>,
    now: DateTime<Utc>,
) {
    let (event, message) = match result {
        Ok(m) => ("success", format!("{job} succeeded: {m}")),
        Err(e) => ("fail", format!("{job} failed: {e}")),
    };
    let o = Occurrence {
        key: format!("job:{job}"),
        job: Some(job.to_string()),
        backup_id: None,
        message,
    };
    run_ping(store, channels, &o, event, now).await;
}

async fn run_ping(
    store: &Store,
    channels: &[AlertConfig],
    o: &Occurrence,
    event: &str,
    now: DateTime<Utc>,
) {
    for ch in channels {
        if healthchecks(ch) && hears(ch, AlertEventKind::Failed) {
            let ev = Event::new(store, event, o, event == "fail", now);
            let _ = send(store, ch, &ev, "system").await;
        }
    }
}

/// One channel's answer to `somiti alert test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub channel: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// `somiti alert test [NAME]`: a test event to the channel `name`, or to every channel,
/// as `actor`; each delivery is audited.
pub async fn test(
    store: &Store,
    channels: &[AlertConfig],
    name: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> crate::error::Result<Vec<TestResult>> {
    let chosen: Vec<&AlertConfig> = match name {
        Some(n) => {
            let ch = channels.iter().find(|c| c.name == n).ok_or_else(|| {
                crate::error::Error::NotFound(if channels.is_empty() {
                    format!("alert channel {n:?}; no [[alert]] channel is configured")
                } else {
                    format!(
                        "alert channel {n:?}; the channels are {}",
                        channels
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })?;
            vec![ch]
        }
        None => channels.iter().collect(),
    };
    let o = Occurrence {
        key: "test".into(),
        job: None,
        backup_id: None,
        message: format!("a test alert sent by {actor} with `somiti alert test`"),
    };
    let mut out = Vec::with_capacity(chosen.len());
    for ch in chosen {
        let ev = Event::new(store, AlertEventKind::Test.as_str(), &o, false, now);
        let r = send(store, ch, &ev, actor).await;
        out.push(TestResult {
            channel: ch.name.clone(),
            ok: r.is_ok(),
            error: r.err(),
        });
    }
    Ok(out)
}

/// Deliver `ev` to `ch`, log and audit the result.
async fn send(
    store: &Store,
    ch: &AlertConfig,
    ev: &Event,
    actor: &str,
) -> std::result::Result<(), String> {
    let r = if !ch.webhook.trim().is_empty() {
        let ping = (ch.ping_style == PingStyle::Healthchecks).then(|| ev.ping());
        webhook::post(ch, ev, ping).await
    } else if !ch.command.trim().is_empty() {
        command::run(ch, ev).await
    } else {
        email::send(ch, ev).await
    };
    let mut detail = serde_json::json!({ "event": ev.event, "key": ev.key });
    match &r {
        Ok(()) => {
            tracing::info!(channel = %ch.name, event = %ev.event, key = %ev.key, "alert sent")
        }
        Err(e) => {
            tracing::warn!(channel = %ch.name, event = %ev.event, key = %ev.key, "alert not delivered: {e}");
            detail["error"] = serde_json::Value::String(e.clone());
        }
    }
    let outcome = if r.is_ok() {
        Outcome::Ok
    } else {
        Outcome::Failed
    };
    if let Err(e) = audit::record(store, actor, "alert.send", &ch.name, detail, outcome).await {
        tracing::warn!(channel = %ch.name, "auditing an alert delivery: {e}");
    }
    r
}

/// What the reader of an alert should do about it, in one or two sentences.
pub(crate) fn advice(ev: &Event) -> String {
    let subject = ev.subject();
    match (ev.event.as_str(), ev.key.split_once(':')) {
        ("failed" | "fail", Some(("job", job))) => format!(
            "Read the reason above and fix it, then run `somiti scheduler run {job}` and check \
             `somiti scheduler status`; the daemon's log is in the data directory's logs folder."
        ),
        ("failed" | "fail", Some(("offsite", t))) => format!(
            "Check target {t}: its URL, credentials and free space. The copy is retried on its \
             own; `somiti backup list` shows each copy, `somiti backup push ID --to {t}` copies one now."
        ),
        ("stale", _) => "Check that a daemon or a console runs the scheduler \
             (`somiti scheduler status`) and that the scheduled backups succeed; \
             `somiti backup create` takes one now."
            .into(),
        ("cleared" | "success", _) => format!("Nothing: {subject} works again."),
        ("restored", _) => "If you did not expect this restore, its pre-restore backup undoes \
             it: see `somiti backup list` and `somiti audit`."
            .into(),
        ("test", _) => "Nothing: this is a test sent by `somiti alert test`.".into(),
        _ => "See `somiti scheduler status` and `somiti audit`.".into(),
    }
}
