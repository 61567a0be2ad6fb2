//! Command channels: the configured command line (split like a shell would, but run
//! without one) with the event in SOMITI_EVENT_* variables, killed after 30 s.

use std::process::Stdio;
use std::time::Duration;

use super::Event;
use crate::config::AlertConfig;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// The event as environment variables.
pub(crate) fn env_of(ev: &Event) -> Vec<(&'static str, String)> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        ("SOMITI_EVENT_KIND", ev.event.clone()),
        ("SOMITI_EVENT_KEY", ev.key.clone()),
        ("SOMITI_EVENT_JOB", o(&ev.job)),
        ("SOMITI_EVENT_BACKUP_ID", o(&ev.backup_id)),
        ("SOMITI_EVENT_ERROR", o(&ev.error)),
        ("SOMITI_EVENT_MESSAGE", ev.message.clone()),
        ("SOMITI_EVENT_HOST", ev.host.clone()),
        ("SOMITI_EVENT_DATABASE", ev.database.clone()),
        ("SOMITI_EVENT_AT", ev.at.clone()),
        ("SOMITI_EVENT_APP_VERSION", ev.app_version.clone()),
    ]
}

pub(crate) async fn run(ch: &AlertConfig, ev: &Event) -> std::result::Result<(), String> {
    let words = shlex::split(ch.command.trim())
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            format!(
                "command {:?} cannot be split into words (an unclosed quote?); fix key command",
                ch.command
            )
        })?;
    let mut cmd = tokio::process::Command::new(&words[0]);
    cmd.args(&words[1..])
        .envs(env_of(ev))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {} failed: {e}", words[0]))?;
    match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(format!(
            "{} did not finish within {} s and was killed",
            words[0],
            TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("waiting for {} failed: {e}", words[0])),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let status = match out.status.code() {
                Some(c) => format!("exit status {c}"),
                None => "a signal".to_string(),
            };
            if last.is_empty() {
                Err(format!("{} ended with {status}", words[0]))
            } else {
                Err(format!("{} ended with {status}: {}", words[0], last.trim()))
            }
        }
    }
}
