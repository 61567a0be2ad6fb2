//! Configuration and paths. Layers, later wins: the embedded `config/default.toml`, the
//! user's file, the environment, the command-line flags. Unknown keys and bad values stop
//! the program with the file, the key and what is allowed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");
pub const EXAMPLE_TOML: &str = include_str!("../../../config/example.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub data_dir: String,
    pub default_org: String,
    pub backup: BackupConfig,
    pub export: ExportConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    #[serde(default)]
    pub ledger: LedgerConfig,
    #[serde(default)]
    pub schedule: Vec<ScheduleConfig>,
    /// `[[offsite]]`: where every completed backup is copied (README "Off-site copies").
    #[serde(default)]
    pub offsite: Vec<OffsiteConfig>,
    /// `[[alert]]`: who is told when a backup, prune, drill or copy fails (README "Alerts").
    #[serde(default)]
    pub alert: Vec<AlertConfig>,
}

/// One `[[offsite]]` target: an S3-compatible bucket (`s3://bucket/prefix`) or a folder
/// (`file:///mnt/disk/somiti`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OffsiteConfig {
    pub name: String,
    pub url: String,
    /// Any S3-compatible endpoint (Supabase Storage, R2, B2, MinIO, Wasabi); "" = AWS.
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub region: String,
    /// Plain http to the endpoint: only for a test server on 127.0.0.1.
    #[serde(default)]
    pub allow_http: bool,
    /// A file (mode 0600) with `aws_access_key_id = …` and `aws_secret_access_key = …` lines
    /// (the AWS credentials format); "" = AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[serde(default)]
    pub credentials_file: String,
    /// Refuse to copy an archive that is not encrypted.
    #[serde(default)]
    pub require_encrypted: bool,
    /// This target's own retention; unset keys take `[backup]`'s.
    #[serde(default)]
    pub keep_last: Option<u32>,
    #[serde(default)]
    pub keep_daily: Option<u32>,
    #[serde(default)]
    pub keep_weekly: Option<u32>,
    #[serde(default)]
    pub keep_monthly: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for OffsiteConfig {
    /// An enabled target with nothing else set (what a `[[offsite]]` block with only its
    /// `name` and `url` means).
    fn default() -> OffsiteConfig {
        OffsiteConfig {
            name: String::new(),
            url: String::new(),
            endpoint: String::new(),
            region: String::new(),
            allow_http: false,
            credentials_file: String::new(),
            require_encrypted: false,
            keep_last: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            enabled: true,
        }
    }
}

/// One `[[alert]]` channel: exactly one of `webhook`, `email_to` (with `smtp_url`) or
/// `command`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    pub name: String,
    /// POST of a JSON document per event.
    #[serde(default)]
    pub webhook: String,
    #[serde(default)]
    pub ping_style: PingStyle,
    #[serde(default)]
    pub email_to: Vec<String>,
    /// The sender; "" = the user of smtp_url at its host.
    #[serde(default)]
    pub email_from: String,
    /// `smtp://user@host:587` (STARTTLS), `smtps://user@host:465` (TLS).
    #[serde(default)]
    pub smtp_url: String,
    /// STARTTLS is required unless `smtp_tls = "none"`, which is allowed only for a mail
    /// server on 127.0.0.1 (a test sink).
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    /// The SMTP password (mode 0600); else SOMITI_SMTP_PASSWORD.
    #[serde(default)]
    pub password_file: String,
    /// Run with the event in SOMITI_EVENT_* variables.
    #[serde(default)]
    pub command: String,
    /// The events this channel hears; unset = all.
    #[serde(default)]
    pub events: Option<Vec<AlertEventKind>>,
    /// A failure that keeps firing is repeated at most this often.
    #[serde(default = "day_hours")]
    pub repeat_hours: u32,
}

fn day_hours() -> u32 {
    24
}

/// How a webhook is called: one POST per event to the URL (`plain`), or healthchecks.io
/// pings: `URL/start` when a job starts, `URL` when it succeeds, `URL/fail` when it fails.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PingStyle {
    #[default]
    Plain,
    Healthchecks,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AlertEventKind {
    /// A backup, prune, drill or off-site copy failed.
    Failed,
    /// A failure cleared by the next success.
    Cleared,
    /// The newest verified backup (local or off-site) is older than its schedule allows.
    Stale,
    /// A restore was done.
    Restored,
    /// `somiti alert test`.
    Test,
}

impl AlertEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEventKind::Failed => "failed",
            AlertEventKind::Cleared => "cleared",
            AlertEventKind::Stale => "stale",
            AlertEventKind::Restored => "restored",
            AlertEventKind::Test => "test",
        }
    }
}

/// `[ledger]`: the amount rules every face obeys (`ledger::Rules`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The most one payment or withdrawal may be, in whole taka.
    pub max_entry_taka: u32,
}

impl Default for LedgerConfig {
    fn default() -> LedgerConfig {
        LedgerConfig {
            max_entry_taka: crate::ledger::DEFAULT_MAX_ENTRY_TAKA as u32,
        }
    }
}

impl LedgerConfig {
    pub fn rules(&self) -> crate::ledger::Rules {
        crate::ledger::Rules {
            max_entry: i64::from(self.max_entry_taka) * 100,
        }
    }
}

/// `[console]`: how the full-screen console draws.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    #[serde(default)]
    pub text_width: TextWidthSetting,
}

/// How wide the terminal draws text such as Bengali vowel signs: measured at start-up
/// (`auto`), one column per codepoint as glibc's wcwidth says (tmux, screen, xterm, VTE), or
/// one width per grapheme cluster (terminals that shape clusters).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TextWidthSetting {
    #[default]
    Auto,
    Wcwidth,
    Grapheme,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub dir: String,
    pub encrypt: bool,
    pub passphrase_file: String,
    pub include_csv: bool,
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    /// Pre-restore backups older than this many days are pruned (the newest always stays).
    pub keep_pre_restore_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    pub dir: String,
    pub keep: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    pub cron: String,
    #[serde(default)]
    pub timezone: Option<String>,
    pub action: ScheduleAction,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub drill: bool,
    /// `verify-latest`: where the archive comes from: "local" (default) or an `[[offsite]]`
    /// name, so the drill proves the off-site copy restores.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleAction {
    Backup,
    Prune,
    VerifyLatest,
    ExportCsv,
}

/// What the command line (or the environment through it) says.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// The resolved configuration and every path the program uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    /// The user's config file, when one was read.
    pub config_file: Option<PathBuf>,
    /// Where `init` writes a config file when none exists.
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub backup_dir: PathBuf,
    pub export_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl Settings {
    pub fn demo_database_url(&self) -> String {
        format!("sqlite://{}", self.data_dir.join("demo.db").display())
    }

    pub fn is_sqlite(&self) -> bool {
        !self.database_url.starts_with("postgres")
    }
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "somiti")
}

/// Merge `over` into `base`: tables key by key, everything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Parse a config text (defaults merged under it) and check its values.
pub fn parse(text: &str, origin: &Path) -> Result<Config> {
    let mut base: toml::Table = DEFAULT_TOML.parse().expect("embedded default.toml parses");
    let user: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::Config(format!("{}: {e}", origin.display())))?;
    merge(&mut base, user);
    // The path of a bad value ("backup.keep_last") is kept so the message names the key.
    let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(base)).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let msg = e.into_inner().message().to_string();
            if key.is_empty() || key == "." {
                Error::Config(format!("{}: {msg}", origin.display()))
            } else {
                Error::Config(format!("{}: key {key}: {msg}", origin.display()))
            }
        },
    )?;
    check(&cfg).map_err(|m| Error::Config(format!("{}: {m}", origin.display())))?;
    Ok(cfg)
}

fn check(cfg: &Config) -> std::result::Result<(), String> {
    let url = cfg.database_url.trim();
    if !url.is_empty()
        && !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| url.starts_with(p))
    {
        return Err(format!(
            "key database_url: {url:?} is not allowed; use \"\" (embedded SQLite), sqlite://PATH or postgres://…"
        ));
    }
    if cfg.ledger.max_entry_taka == 0 {
        return Err(
            "key ledger.max_entry_taka: must be at least 1 (the most one payment or withdrawal may be, in taka)"
                .into(),
        );
    }
    let mut names = std::collections::HashSet::new();
    for job in &cfg.schedule {
        if job.name.trim().is_empty() {
            return Err("key schedule.name: every [[schedule]] needs a name".into());
        }
        if !names.insert(job.name.as_str()) {
            return Err(format!("key schedule.name: {:?} is used twice", job.name));
        }
        if let Some(tz) = &job.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(format!(
                "schedule {:?}: key timezone: {tz:?} is not an IANA timezone such as Asia/Dhaka",
                job.name
            ));
        }
    }
    check_offsite(cfg)?;
    check_alerts(cfg)?;
    for job in &cfg.schedule {
        if let Some(src) = job.source.as_deref().map(str::trim)
            && !src.is_empty()
            && src != "local"
        {
            if job.action != ScheduleAction::VerifyLatest {
                return Err(format!(
                    "schedule {:?}: key source: only a verify-latest job takes its archive from a target",
                    job.name
                ));
            }
            if !cfg.offsite.iter().any(|o| o.name == src) {
                return Err(format!(
                    "schedule {:?}: key source: {src:?} is not an [[offsite]] name (or \"local\")",
                    job.name
                ));
            }
        }
    }
    Ok(())
}

fn check_offsite(cfg: &Config) -> std::result::Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for o in &cfg.offsite {
        let name = o.name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "key offsite.name: {:?}: every [[offsite]] needs a name of letters, digits, '-', '_' or '.'",
                o.name
            ));
        }
        if name == "local" {
            return Err(
                "key offsite.name: \"local\" is the backup folder itself; choose another name"
                    .into(),
            );
        }
        if !names.insert(name) {
            return Err(format!("key offsite.name: {name:?} is used twice"));
        }
        let url = o.url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            if rest.split('/').next().unwrap_or("").is_empty() {
                return Err(format!(
                    "offsite {name:?}: key url: {url:?} names no bucket; write s3://BUCKET/PREFIX"
                ));
            }
        } else if let Some(rest) = url.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(format!(
                    "offsite {name:?}: key url: {url:?} is not an absolute folder; write file:///mnt/disk/somiti"
                ));
            }
        } else {
            return Err(format!(
                "offsite {name:?}: key url: {url:?} is not allowed; use s3://BUCKET/PREFIX or file:///FOLDER"
            ));
        }
        let ep = o.endpoint.trim();
        if ep.starts_with("http://") && !o.allow_http {
            return Err(format!(
                "offsite {name:?}: key endpoint: {ep:?} is plain http; use https, or allow_http = true for a test server on 127.0.0.1"
            ));
        }
    }
    Ok(())
}

fn check_alerts(cfg: &Config) -> std::result::Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for a in &cfg.alert {
        let name = a.name.trim();
        if name.is_empty() {
            return Err("key alert.name: every [[alert]] needs a name".into());
        }
        if !names.insert(name) {
            return Err(format!("key alert.name: {name:?} is used twice"));
        }
        let kinds = [
            !a.webhook.trim().is_empty(),
            !a.email_to.is_empty() || !a.smtp_url.trim().is_empty(),
            !a.command.trim().is_empty(),
        ];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => {
                return Err(format!(
                    "alert {name:?}: give one of webhook, email_to (with smtp_url) or command"
                ));
            }
            _ => {
                return Err(format!(
                    "alert {name:?}: give only one of webhook, email_to (with smtp_url) or command; make a second [[alert]] for another channel"
                ));
            }
        }
        if kinds[1] && (a.email_to.is_empty() || a.smtp_url.trim().is_empty()) {
            return Err(format!(
                "alert {name:?}: an email channel needs both email_to and smtp_url"
            ));
        }
        if kinds[1] {
            let u = a.smtp_url.trim();
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return Err(format!(
                    "alert {name:?}: key smtp_url: {u:?} is not allowed; use smtp://user@host:587 (STARTTLS) or smtps://user@host:465"
                ));
            }
        }
        if kinds[0] {
            let u = a.webhook.trim();
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(format!(
                    "alert {name:?}: key webhook: {u:?} is not an http(s) URL"
                ));
            }
        }
        if a.repeat_hours == 0 {
            return Err(format!(
                "alert {name:?}: key repeat_hours: must be at least 1"
            ));
        }
    }
    Ok(())
}

/// Resolve the configuration for this run.
pub fn load(over: &Overrides) -> Result<Settings> {
    let data_dir_explicit = over.data_dir.clone();
    let platform_config = project_dirs().map(|d| d.config_dir().join("config.toml"));

    let config_path = if let Some(p) = &over.config {
        p.clone()
    } else if let Some(d) = &data_dir_explicit {
        d.join("config.toml")
    } else {
        platform_config.clone().ok_or_else(|| {
            Error::Config("no home directory: set SOMITI_DATA_DIR or pass --data-dir".into())
        })?
    };
    let (config, config_file) = if config_path.exists() {
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| Error::io(format!("reading {}", config_path.display()), e))?;
        (parse(&text, &config_path)?, Some(config_path.clone()))
    } else if over.config.is_some() {
        return Err(Error::Config(format!(
            "{}: no such config file; check the path given with --config",
            config_path.display()
        )));
    } else {
        (parse("", Path::new("config/default.toml"))?, None)
    };

    let data_dir = match (&data_dir_explicit, config.data_dir.trim()) {
        (Some(d), _) => d.clone(),
        (None, d) if !d.is_empty() => PathBuf::from(d),
        (None, _) => project_dirs()
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| {
                Error::Config("no home directory: set SOMITI_DATA_DIR or pass --data-dir".into())
            })?,
    };
    let database_url = match (&over.database_url, config.database_url.trim()) {
        (Some(u), _) if !u.trim().is_empty() => u.trim().to_string(),
        (_, u) if !u.is_empty() => u.to_string(),
        _ => format!("sqlite://{}", data_dir.join("somiti.db").display()),
    };
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| database_url.starts_with(p))
    {
        return Err(Error::Config(format!(
            "database URL {database_url:?} is not allowed; use sqlite://PATH or postgres://user:pass@host/db"
        )));
    }
    let dir_or = |s: &str, default: &str| {
        if s.trim().is_empty() {
            data_dir.join(default)
        } else {
            PathBuf::from(s.trim())
        }
    };
    let backup_dir = dir_or(&config.backup.dir, "backups");
    let export_dir = dir_or(&config.export.dir, "exports");
    let log_dir = data_dir.join("logs");
    Ok(Settings {
        config,
        config_file,
        config_path,
        data_dir,
        database_url,
        backup_dir,
        export_dir,
        log_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offsite_block_with_a_name_and_url_is_the_default_target() {
        let c = parse(
            "[[offsite]]\nname = \"usb\"\nurl = \"file:///mnt/usb\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let want = OffsiteConfig {
            name: "usb".into(),
            url: "file:///mnt/usb".into(),
            ..Default::default()
        };
        assert_eq!(c.offsite, vec![want]);
    }

    #[test]
    fn defaults_parse_with_three_jobs() {
        let c = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.schedule.len(), 3);
        assert_eq!(c.backup.keep_last, 7);
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = parse("colour = true\n", Path::new("/etc/s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/etc/s.toml"), "{e}");
        assert!(e.contains("colour"), "{e}");
        assert!(e.contains("database_url"), "lists what is allowed: {e}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let e = parse("[backup]\nkeep_last = -1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("key backup.keep_last"), "{e}");
        let e = parse("database_url = \"mysql://x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("database_url"), "{e}");
    }

    #[test]
    fn console_text_width_is_auto_unless_set() {
        let c = parse("", Path::new("c.toml")).unwrap();
        assert_eq!(c.console.text_width, TextWidthSetting::Auto);
        let c = parse(
            "[console]\ntext_width = \"grapheme\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.console.text_width, TextWidthSetting::Grapheme);
        let e = parse("[console]\ntext_width = \"wide\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("key console.text_width"), "{e}");
        assert!(e.contains("wcwidth"), "lists what is allowed: {e}");
    }

    #[test]
    fn user_schedule_replaces_defaults() {
        let c = parse(
            "[[schedule]]\nname = \"b\"\ncron = \"*/5 * * * * *\"\naction = \"backup\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.schedule.len(), 1);
        assert!(c.schedule[0].enabled);
    }
}
