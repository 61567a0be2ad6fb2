//! The signals that end a console or a daemon, as one stream: each of them means "stop
//! cleanly" (finish or cancel the running job, tidy up, sign off, exit 0).

use crate::error::{Error, Result};

/// SIGTERM (systemd, `kill`), SIGHUP (the SSH link or terminal went away) and SIGINT
/// (Ctrl-C) all mean the same here: stop cleanly.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let on = |k: SignalKind| signal(k).map_err(|e| Error::io("listening for signals", e));
        Ok(Signals {
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
            int: on(SignalKind::interrupt())?,
        })
    }

    /// The name of the next signal that comes.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
