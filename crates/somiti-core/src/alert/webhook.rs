//! Webhook channels: a POST of the event as JSON (reqwest, 10 s timeouts). A
//! healthchecks-style webhook gets `URL/start`, `URL` or `URL/fail` per the event.

use std::time::Duration;

use super::{Event, Ping};
use crate::config::AlertConfig;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The URL an event goes to: the webhook itself, or with `/start` or `/fail` appended.
pub(crate) fn url_for(base: &str, ping: Option<Ping>) -> String {
    let base = base.trim();
    match ping {
        None | Some(Ping::Success) => base.to_string(),
        Some(p) => {
            let (path, query) = match base.split_once('?') {
                Some((a, q)) => (a, Some(q)),
                None => (base, None),
            };
            let suffix = if p == Ping::Start { "start" } else { "fail" };
            let mut u = format!("{}/{suffix}", path.trim_end_matches('/'));
            if let Some(q) = query {
                u.push('?');
                u.push_str(q);
            }
            u
        }
    }
}

pub(crate) async fn post(
    ch: &AlertConfig,
    ev: &Event,
    ping: Option<Ping>,
) -> std::result::Result<(), String> {
    let url = url_for(&ch.webhook, ping);
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("somiti/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("setting up the HTTP client failed: {e}"))?;
    let resp = client
        .post(&url)
        .json(ev)
        .send()
        .await
        .map_err(|e| format!("POST to {} failed: {}", redact(&url), plain(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "POST to {} answered {status}; check the webhook URL",
            redact(&url)
        ))
    }
}

/// The URL without any user or password in it.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// A reqwest error with its causes, in one line.
fn plain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    if e.is_timeout() {
        s.push_str(" (timed out)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthchecks_urls() {
        let b = "https://hc-ping.com/abc/";
        assert_eq!(url_for(b, None), b);
        assert_eq!(url_for(b, Some(Ping::Success)), b);
        assert_eq!(
            url_for(b, Some(Ping::Start)),
            "https://hc-ping.com/abc/start"
        );
        assert_eq!(
            url_for("http://h/p?rid=1", Some(Ping::Fail)),
            "http://h/p/fail?rid=1"
        );
    }
}
