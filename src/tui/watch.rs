//! Live data: a background task follows the store's change log (`db::changes::Watcher`) and
//! hands what other processes committed to the main loop, which reloads the views those
//! changes touch and says so in the status line ("refreshed: 3 collections by rahim").

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::db::Store;
use crate::db::changes::{self, Change};
use crate::tui::app::{App, Level, Overlay};
use crate::tui::event::Event;
use crate::tui::tasks::Effect;

/// Follow the store until the console ends (the handle is aborted) or the loop is gone.
/// A watcher that fails (the database went away) is made again after a pause.
pub fn spawn(store: Store, tx: UnboundedSender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut watcher = match store.watch().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!("cannot watch for changes: {e}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            loop {
                match watcher.next().await {
                    Ok(list) => {
                        let others: Vec<Change> = list.into_iter().filter(|c| !c.own).collect();
                        if !others.is_empty() && tx.send(Event::Changes(others)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("watching for changes failed: {e}");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        break;
                    }
                }
            }
        }
    })
}

impl App {
    /// Other processes committed `changes`: reload what they touch, and say so.
    pub fn changes_seen(&mut self, changes: Vec<Change>) -> Vec<Effect> {
        let changes: Vec<Change> = changes.into_iter().filter(|c| !c.own).collect();
        if changes.is_empty() {
            return Vec::new();
        }
        self.dirty = true;
        let touches = |t: &str| changes.iter().any(|c| c.touches(t));
        let restore = changes.iter().any(Change::is_restore);
        let mut fx = Vec::new();
        if touches("workers")
            && let Some(org) = self.org_box()
        {
            fx.push(Effect::LoadWorkers { org });
        }
        let ledger = [
            "organizations",
            "workers",
            "members",
            "collections",
            "day_closes",
        ];
        if ledger.iter().any(|t| touches(t)) {
            fx.extend(self.members_reload());
            fx.extend(self.review_reload());
            let open_detail = self.overlays.iter().rev().find_map(|o| match o {
                Overlay::Detail(d) => Some(d.member_no.clone()),
                _ => None,
            });
            if let (Some(member_no), Some(org)) = (open_detail, self.org_box()) {
                fx.push(Effect::LoadMember { org, member_no });
            }
        }
        // every change is audited; a restore also adds its pre-restore backup
        fx.extend(self.audit_reload());
        if restore || touches("backups") || touches("offsite_copies") {
            fx.extend(self.backups_reload());
        }
        if restore || touches("scheduler_runs") {
            fx.extend(self.scheduler_reload());
        }
        self.flash(
            Level::Info,
            format!("refreshed: {}", changes::summary(&changes)),
        );
        fx
    }
}
