//! Alerts (DESIGN §9): `[[alert]]` channels (webhook, command, email) hear failed / cleared /
//! stale / restored events from whichever process saw them, once per event across processes
//! (claimed in `alert_state`), repeated at most every `repeat_hours`, each delivery audited.
//!
//! Alerts never fail the work that raised them: a channel that cannot be reached is audited
//! as a failed delivery and logged.

use chrono::{DateTime, Utc};

use crate::config::AlertConfig;
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

/// `o` failed: channels that hear "failed" are told, unless it is already firing and was
/// told less than `repeat_hours` ago.
pub async fn fire(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    let _ = (store, channels, o, now);
}

/// `o` succeeded: if it was firing, channels that hear "cleared" are told once.
pub async fn clear(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    let _ = (store, channels, o, now);
}

/// A restore was done (who, what): channels that hear "restored" are told.
pub async fn restored(store: &Store, channels: &[AlertConfig], o: &Occurrence, now: DateTime<Utc>) {
    let _ = (store, channels, o, now);
}
