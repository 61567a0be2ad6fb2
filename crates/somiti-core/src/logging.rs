//! Logs go to a daily file under `<data dir>/logs` (never to the console's screen); the
//! daemon also logs to stderr.

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::{Error, Result};

/// Keep the guard alive for as long as logs should be written.
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

pub fn init(log_dir: &Path, file_prefix: &str, also_stderr: bool) -> Result<LogGuard> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| Error::io(format!("creating {}", log_dir.display()), e))?;
    let appender = tracing_appender::rolling::daily(log_dir, format!("{file_prefix}.log"));
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_from_env("SOMITI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    let stderr_layer = also_stderr.then(|| {
        use std::io::IsTerminal;
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    });
    // A second init in one process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(LogGuard(guard))
}
