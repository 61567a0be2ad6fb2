//! Email channels: lettre over SMTP. `smtp://user@host:587` with STARTTLS required
//! (`smtp_tls = "starttls"`, the default), `smtps://` or `smtp_tls = "tls"` for TLS from
//! the first byte, and `smtp_tls = "none"` only for a mail server on this machine (a test
//! sink). The password comes from `password_file` (mode 0600) or SOMITI_SMTP_PASSWORD; with
//! neither, no AUTH is tried.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Event;
use crate::config::{AlertConfig, SmtpTls};

pub const PASSWORD_ENV: &str = "SOMITI_SMTP_PASSWORD";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to connect, from `smtp_url` and `smtp_tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub tls: SmtpTls,
}

fn is_loopback(host: &str) -> bool {
    matches!(
        host.trim_start_matches('[').trim_end_matches(']'),
        "127.0.0.1" | "localhost" | "::1"
    )
}

pub(crate) fn server(ch: &AlertConfig) -> std::result::Result<Server, String> {
    let name = &ch.name;
    let raw = ch.smtp_url.trim();
    let u = reqwest::Url::parse(raw).map_err(|e| {
        format!(
            "alert {name:?}: key smtp_url: {raw:?} is not a URL ({e}); use smtp://user@host:587"
        )
    })?;
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("alert {name:?}: key smtp_url: {raw:?} names no host"))?
        .to_string();
    let wrapper = u.scheme() == "smtps";
    let tls = match (wrapper, ch.smtp_tls) {
        (true, SmtpTls::None) => {
            return Err(format!(
                "alert {name:?}: smtps:// is TLS; smtp_tls = \"none\" contradicts it (use smtp:// for a local test sink)"
            ));
        }
        (true, _) => SmtpTls::Tls,
        (false, t) => t,
    };
    if tls == SmtpTls::None && !is_loopback(&host) {
        return Err(format!(
            "alert {name:?}: smtp_tls = \"none\" would send mail and password unencrypted to {host}; it is allowed only for a mail server on 127.0.0.1, localhost or ::1 — use smtp_tls = \"starttls\" or \"tls\""
        ));
    }
    let port = u.port().unwrap_or(match tls {
        SmtpTls::Tls => 465,
        SmtpTls::Starttls => 587,
        SmtpTls::None => 25,
    });
    Ok(Server {
        host,
        port,
        user: percent_decode(u.username()),
        tls,
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
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

/// The SMTP password: `password_file` (which must be mode 0600), else SOMITI_SMTP_PASSWORD,
/// else none.
pub(crate) fn password(ch: &AlertConfig) -> std::result::Result<Option<String>, String> {
    let file = ch.password_file.trim();
    if !file.is_empty() {
        let path = Path::new(file);
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("reading password file {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "password file {} has mode {mode:04o}; it must be 0600 (chmod 600 {})",
                path.display(),
                path.display()
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading password file {}: {e}", path.display()))?;
        let p = text.trim_end_matches(['\n', '\r']).to_string();
        if p.is_empty() {
            return Err(format!("password file {} is empty", path.display()));
        }
        return Ok(Some(p));
    }
    Ok(std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()))
}

/// "somiti: daily-backup failed on db1".
pub(crate) fn subject(ev: &Event) -> String {
    let what = ev.subject();
    let text = match ev.event.as_str() {
        "failed" | "fail" => format!("{what} failed"),
        "cleared" | "success" => format!("{what} works again"),
        "stale" => format!("{what} are late"),
        "restored" => "a restore was done".to_string(),
        "test" => "test alert".to_string(),
        "start" => format!("{what} started"),
        other => other.to_string(),
    };
    format!("somiti: {text} on {}", ev.host)
}

pub(crate) fn body(ev: &Event) -> String {
    let mut s = format!("{}\n\n", ev.message);
    if let Some(e) = &ev.error {
        s.push_str(&format!("Reason: {e}\n"));
    }
    if let Some(j) = &ev.job {
        s.push_str(&format!("Job: {j}\n"));
    }
    if let Some(b) = &ev.backup_id {
        s.push_str(&format!("Backup: {b}\n"));
    }
    s.push_str(&format!(
        "Database: {}\nHost: {}\nAt: {}\nEvent: {} ({})\n\nWhat to do: {}\n\n-- \nSomiti Console {}\n",
        ev.database,
        ev.host,
        ev.at,
        ev.event,
        ev.key,
        super::advice(ev),
        ev.app_version
    ));
    s
}

pub(crate) async fn send(ch: &AlertConfig, ev: &Event) -> std::result::Result<(), String> {
    let srv = server(ch)?;
    let pass = password(ch)?;
    let from = if !ch.email_from.trim().is_empty() {
        ch.email_from.trim().to_string()
    } else if srv.user.contains('@') {
        srv.user.clone()
    } else if !srv.user.is_empty() {
        format!("{}@{}", srv.user, srv.host)
    } else {
        format!("somiti@{}", srv.host)
    };
    send_with(ch, ev, &srv, pass, from).await
}

async fn send_with(
    ch: &AlertConfig,
    ev: &Event,
    srv: &Server,
    pass: Option<String>,
    from_text: String,
) -> std::result::Result<(), String> {
    let from: Mailbox = from_text.parse().map_err(|e| {
        format!("the sender {from_text:?} is not a mail address ({e}); set email_from")
    })?;
    let mut msg = Message::builder()
        .from(from)
        .subject(subject(ev))
        .header(ContentType::TEXT_PLAIN);
    for to in &ch.email_to {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| format!("email_to {to:?} is not a mail address ({e})"))?;
        msg = msg.to(mb);
    }
    let msg = msg
        .body(body(ev))
        .map_err(|e| format!("building the mail failed: {e}"))?;
    let tls = match srv.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls | SmtpTls::Tls => {
            let p = TlsParameters::new(srv.host.clone())
                .map_err(|e| format!("setting up TLS for {} failed: {e}", srv.host))?;
            if srv.tls == SmtpTls::Tls {
                Tls::Wrapper(p)
            } else {
                Tls::Required(p)
            }
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(srv.host.clone())
        .port(srv.port)
        .tls(tls)
        .timeout(Some(TIMEOUT));
    if let Some(p) = pass {
        b = b.credentials(Credentials::new(srv.user.clone(), p));
    }
    let transport = b.build();
    transport.send(msg).await.map(|_| ()).map_err(|e| {
        let mut s = format!("sending mail through {}:{} failed: {e}", srv.host, srv.port);
        let mut src = std::error::Error::source(&e);
        while let Some(c) = src {
            s.push_str(": ");
            s.push_str(&c.to_string());
            src = c.source();
        }
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(url: &str, tls: SmtpTls) -> AlertConfig {
        AlertConfig {
            name: "mail".into(),
            webhook: String::new(),
            ping_style: Default::default(),
            email_to: vec!["a@example.org".into()],
            email_from: String::new(),
            smtp_url: url.into(),
            smtp_tls: tls,
            password_file: String::new(),
            command: String::new(),
            events: None,
            repeat_hours: 24,
        }
    }

    #[test]
    fn plain_smtp_only_on_this_machine() {
        let s = server(&ch("smtp://alerts@mail.example.org:587", SmtpTls::Starttls)).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str()),
            ("mail.example.org", 587, "alerts")
        );
        assert_eq!(s.tls, SmtpTls::Starttls);
        assert_eq!(
            server(&ch("smtps://x@mail.example.org", SmtpTls::Starttls))
                .unwrap()
                .tls,
            SmtpTls::Tls
        );
        assert_eq!(
            server(&ch("smtps://x@mail.example.org", SmtpTls::Starttls))
                .unwrap()
                .port,
            465
        );
        let e = server(&ch("smtp://mail.example.org:25", SmtpTls::None)).unwrap_err();
        assert!(
            e.contains("allowed only for a mail server on 127.0.0.1"),
            "{e}"
        );
        for h in ["127.0.0.1", "localhost", "[::1]"] {
            let s = server(&ch(&format!("smtp://{h}:2525"), SmtpTls::None)).unwrap();
            assert_eq!(s.tls, SmtpTls::None);
        }
        assert_eq!(percent_decode("a%40b.org"), "a@b.org");
    }

    #[test]
    fn the_password_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("smtp-password");
        std::fs::write(&f, "s3cret\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = ch("smtp://alerts@mail.example.org:587", SmtpTls::Starttls);
        c.password_file = f.display().to_string();
        let e = password(&c).unwrap_err();
        assert!(e.contains("has mode 0644; it must be 0600"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(password(&c).unwrap().as_deref(), Some("s3cret"));
    }
}
