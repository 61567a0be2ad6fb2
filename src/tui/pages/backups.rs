//! Backups: the catalogue with statistics, and every backup operation — create, verify
//! (with drill), download, pin, delete, the restore wizard and the prune preview. Long work
//! runs with a progress dialog that Esc cancels.

use tokio_util::sync::CancellationToken;

use crate::backup::ops::ListReport;
use crate::backup::restore::RestoreReport;
use crate::backup::{BackupEntry, BackupKind, Progress};
use crate::tui::app::{App, Level, Overlay, movement, scroll_to, step};
use crate::tui::backup_tasks::{BackupEffect, BackupOutcome, RestoreScope};
use crate::tui::keymap::Action;
use crate::tui::tasks::Effect;
use crate::tui::widgets::dialog::{Confirm, Confirmed, Message, PickFor, Picker, ProgressView};
use crate::tui::widgets::form::{Field, Form, FormPurpose};

#[derive(Debug, Clone, Default)]
pub struct BackupsPage {
    pub list: Option<ListReport>,
    pub selected: usize,
    pub top: usize,
    pub loading: bool,
    pub seq: u64,
    pub error: Option<String>,
    /// The long work running now, with the token that cancels it.
    pub running: Option<CancellationToken>,
    /// The backup the restore wizard is about.
    pub restore_id: Option<String>,
    /// The highlighted backup: the highlight follows it through every reload.
    pub selected_id: Option<String>,
    /// Deleted backups are listed too (greyed), after `x`.
    pub show_deleted: bool,
}

/// What a confirmation dialog of this tab answers yes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupConfirm {
    /// `D` on a pinned backup: unpin it, then delete it.
    UnpinAndDelete { id: String },
    /// Download into a folder that does not exist yet: create it first.
    CreateFolderAndDownload { id: String, dest: String },
}

/// The statistics line's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupStats {
    pub total: usize,
    pub manual: usize,
    pub scheduled: usize,
    pub pre_restore: usize,
    pub bytes: i64,
    pub newest: Option<chrono::DateTime<chrono::Utc>>,
    pub last_verified: Option<chrono::DateTime<chrono::Utc>>,
    /// Creation time of the newest backup that verified ok.
    pub newest_verified: Option<chrono::DateTime<chrono::Utc>>,
    /// Deleted backups: counted here only, never in the totals above.
    pub deleted: usize,
}

pub fn stats(list: &[BackupEntry]) -> BackupStats {
    let mut s = BackupStats::default();
    for e in list {
        if e.is_deleted() {
            s.deleted += 1;
            continue;
        }
        s.total += 1;
        match e.kind {
            BackupKind::Manual => s.manual += 1,
            BackupKind::Scheduled => s.scheduled += 1,
            BackupKind::PreRestore => s.pre_restore += 1,
        }
        s.bytes += e.size_bytes.unwrap_or(0);
        if e.status.is_completed() {
            s.newest = s.newest.max(Some(e.created_at));
        }
        s.last_verified = s.last_verified.max(e.verified_at);
        if e.verified_ok() {
            s.newest_verified = s.newest_verified.max(Some(e.created_at));
        }
    }
    s
}

impl BackupsPage {
    /// The rows the list shows, newest first: deleted backups only after `x`.
    pub fn entries(&self) -> Vec<&BackupEntry> {
        self.list.as_ref().map_or_else(Vec::new, |l| {
            l.backups
                .iter()
                .filter(|e| self.show_deleted || !e.is_deleted())
                .collect()
        })
    }

    pub fn selected_entry(&self) -> Option<&BackupEntry> {
        self.entries().get(self.selected).copied()
    }

    /// Highlight row `i` (clamped) and remember its backup.
    fn select_row(&mut self, i: usize) {
        let ids: Vec<String> = self.entries().iter().map(|e| e.id.clone()).collect();
        self.selected = i.min(ids.len().saturating_sub(1));
        self.selected_id = ids.get(self.selected).cloned();
    }

    /// After the rows changed (a reload, `x`): the highlight goes back to its backup; if
    /// that one is no longer shown, to the nearest row of the old order that still is (the
    /// one below it first), else the first row. `before` is the old order of ids.
    fn follow(&mut self, before: &[String], visible_rows: usize) {
        let now: Vec<String> = self.entries().iter().map(|e| e.id.clone()).collect();
        let at = |id: &String| now.iter().position(|x| x == id);
        let found = self.selected_id.as_ref().and_then(|id| {
            at(id).or_else(|| {
                let old = before.iter().position(|x| x == id)?;
                let below = before[old + 1..].iter().find_map(at);
                below.or_else(|| before[..old].iter().rev().find_map(at))
            })
        });
        self.select_row(found.unwrap_or(0));
        if self.selected < self.top || self.selected >= self.top + visible_rows.max(1) {
            self.top = self.selected.saturating_sub(visible_rows.max(1) / 2);
        }
        self.top = self.top.min(now.len().saturating_sub(1));
    }

    fn order(&self) -> Vec<String> {
        self.entries().iter().map(|e| e.id.clone()).collect()
    }
}

fn fx(e: BackupEffect) -> Vec<Effect> {
    vec![Effect::Backup(e)]
}

impl App {
    pub(crate) fn backups_reload(&mut self) -> Vec<Effect> {
        let seq = self.next_seq();
        self.backups.seq = seq;
        self.backups.loading = true;
        fx(BackupEffect::List { seq })
    }

    /// Start long work: a progress dialog that Esc cancels.
    fn start_long(&mut self, title: &str) -> CancellationToken {
        let cancel = CancellationToken::new();
        self.backups.running = Some(cancel.clone());
        self.overlays.push(Overlay::Progress(ProgressView {
            title: title.to_string(),
            stage: "starting".into(),
            done: 0,
            total: 0,
            cancelling: false,
        }));
        cancel
    }

    fn end_long(&mut self) {
        self.backups.running = None;
        if self.quit_after_work {
            self.quit = true;
        }
        if matches!(self.overlays.last(), Some(Overlay::Progress(_))) {
            self.overlays.pop();
        }
    }

    pub fn progress(&mut self, p: Progress) {
        if let Some(Overlay::Progress(v)) = self.overlays.last_mut() {
            v.stage = p.stage;
            v.done = p.done;
            v.total = p.total;
            self.dirty = true;
        }
    }

    /// Esc in the progress dialog.
    pub fn cancel_long(&mut self) {
        if let Some(c) = &self.backups.running {
            c.cancel();
        }
        if let Some(Overlay::Progress(v)) = self.overlays.last_mut() {
            v.cancelling = true;
        }
    }

    pub(crate) fn backups_key(&mut self, action: Action) -> Vec<Effect> {
        let h = self.visible_rows().saturating_sub(4);
        if let Some(d) = movement(action, h) {
            let len = self.backups.entries().len();
            let p = &mut self.backups;
            let i = step(p.selected, d, len);
            p.select_row(i);
            p.top = scroll_to(p.top, p.selected, h);
            return Vec::new();
        }
        if action == Action::BackupShowDeleted {
            let before = self.backups.order();
            self.backups.show_deleted = !self.backups.show_deleted;
            self.backups.follow(&before, h);
            let n = self
                .backups
                .list
                .as_ref()
                .map_or(0, |l| stats(&l.backups).deleted);
            self.flash(
                Level::Info,
                if self.backups.show_deleted {
                    format!("showing {n} deleted backup(s), greyed; x hides them")
                } else {
                    format!("{n} deleted backup(s) hidden; x shows them")
                },
            );
            return Vec::new();
        }
        if action == Action::BackupCreate {
            let cancel = self.start_long("Creating a backup");
            return fx(BackupEffect::Create { cancel });
        }
        if action == Action::BackupPrune {
            self.flash(Level::Info, "working out what prune would remove…");
            return fx(BackupEffect::PrunePreview);
        }
        let Some(e) = self.backups.selected_entry().cloned() else {
            if matches!(
                action,
                Action::BackupVerify
                    | Action::BackupDrill
                    | Action::BackupDownload
                    | Action::BackupPin
                    | Action::BackupDelete
                    | Action::BackupRestore
            ) {
                self.flash(Level::Info, "no backup selected; b creates one");
            }
            return Vec::new();
        };
        match action {
            Action::Open => {
                let lines = self.backup_details(&e);
                self.overlays.push(Overlay::Message(Message::info(
                    format!("Backup {}", e.short_id()),
                    lines,
                )));
                Vec::new()
            }
            _ if e.is_deleted() => {
                self.flash(
                    Level::Info,
                    format!(
                        "backup {} was deleted; its archive is no longer in the store",
                        e.short_id()
                    ),
                );
                Vec::new()
            }
            Action::BackupVerify | Action::BackupDrill => {
                let drill = action == Action::BackupDrill;
                let cancel = self.start_long(if drill {
                    "Verifying with a drill restore"
                } else {
                    "Verifying"
                });
                fx(BackupEffect::Verify {
                    id: e.id.clone(),
                    drill,
                    cancel,
                })
            }
            Action::BackupDownload => {
                let default = format!(
                    "{}/{}",
                    self.facts.download_dir.trim_end_matches('/'),
                    e.file
                );
                let mut form = Form::new(
                    format!("Download backup {}", e.short_id()),
                    FormPurpose::Download { id: e.id.clone() },
                    vec![Field::new("dest", "Copy to", default)],
                );
                form.intro = vec![
                    "The archive is copied (SHA-256 checked) to this path on the server;".into(),
                    "then the scp line to fetch it to your machine is shown.".into(),
                ];
                self.overlays.push(Overlay::Form(Box::new(form)));
                Vec::new()
            }
            Action::BackupPin => fx(BackupEffect::Pin {
                id: e.id.clone(),
                pinned: !e.pinned,
            }),
            Action::BackupDelete if e.pinned => {
                self.overlays.push(Overlay::Confirm(Confirm {
                    title: "Delete a pinned backup".into(),
                    lines: vec![
                        format!("Backup {} is pinned. Unpin it and delete it?", e.short_id()),
                        "The archive file is removed from the store.".into(),
                        "(n keeps it; p alone only unpins.)".into(),
                    ],
                    yes: Confirmed::Backup(BackupConfirm::UnpinAndDelete { id: e.id.clone() }),
                }));
                Vec::new()
            }
            Action::BackupDelete => {
                self.overlays.push(Overlay::Confirm(Confirm {
                    title: "Delete a backup".into(),
                    lines: vec![
                        format!("Delete backup {} ({})?", e.short_id(), e.file),
                        "The archive file is removed from the store.".into(),
                    ],
                    yes: Confirmed::DeleteBackup { id: e.id.clone() },
                }));
                Vec::new()
            }
            Action::BackupRestore => {
                self.backups.restore_id = Some(e.id.clone());
                let mut items = vec![("Everything (all organizations)".to_string(), None)];
                if e.scope == "all" {
                    items.extend(
                        self.orgs
                            .iter()
                            .map(|o| (format!("Only organization {}", o.code), Some(o.id))),
                    );
                } else if let Some(o) = self.orgs.iter().find(|o| o.code == e.scope) {
                    items = vec![(format!("Only organization {}", o.code), Some(o.id))];
                }
                items.push(("Chosen tables…".to_string(), Some(0)));
                self.overlays.push(Overlay::Picker(Picker {
                    title: format!("Restore from {}", e.short_id()),
                    items,
                    selected: 0,
                    purpose: PickFor::RestoreScope,
                }));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The detail of one backup: what it is, and where each copy is — the local archive and
    /// each off-site target's copy with its state, time (the header's clock), size and the
    /// reason a copy failed.
    pub(crate) fn backup_details(&self, e: &BackupEntry) -> Vec<String> {
        use crate::backup::offsite::copies;
        use crate::text::human_bytes;
        let clock = self.clock();
        let kv = |k: &str, v: String| format!("{k:<9} {v}");
        let mut lines = vec![
            kv("file", e.file.clone()),
            kv(
                "taken",
                format!(
                    "{} ({}) by {} · {} · scope {}",
                    clock.minute(e.created_at),
                    clock.label(),
                    e.created_by,
                    e.kind,
                    e.scope
                ),
            ),
            kv(
                "size",
                format!(
                    "{} · {} rows · {}",
                    e.size_bytes.map_or("-".into(), human_bytes),
                    e.total_rows.map_or("-".into(), |n| n.to_string()),
                    if e.encrypted {
                        "encrypted"
                    } else {
                        "not encrypted"
                    }
                ),
            ),
            kv(
                "verified",
                match (&e.verify_result, e.verified_at) {
                    (Some(r), Some(at)) => format!("{r} {}", clock.minute(at)),
                    (Some(r), None) => r.to_string(),
                    _ => "not yet".into(),
                },
            ),
        ];
        if let Some(err) = &e.error {
            lines.push(kv("error", err.clone()));
        }
        let Some(list) = &self.backups.list else {
            return lines;
        };
        let p = list.places(e);
        lines.push(kv(
            "local",
            match p.local {
                "present" => format!("present in {}", list.dir.display()),
                "missing" => format!(
                    "missing from {} since {}",
                    list.dir.display(),
                    e.missing_since.map_or(String::new(), |t| clock.minute(t))
                ),
                w => w.to_string(),
            },
        ));
        if p.targets.is_empty() {
            lines.push(kv("off-site", "no [[offsite]] target is configured".into()));
            return lines;
        }
        let ok = p.verified_on();
        lines.push(kv(
            "off-site",
            if ok.is_empty() {
                format!("no verified copy ({} target(s))", p.targets.len())
            } else {
                format!(
                    "verified on {} of {} target(s): {}",
                    ok.len(),
                    p.targets.len(),
                    ok.join(", ")
                )
            },
        ));
        let name_w = p
            .targets
            .iter()
            .map(|(t, _)| t.chars().count())
            .max()
            .unwrap_or(0);
        for (t, c) in &p.targets {
            let what = match c {
                None => "no copy recorded".to_string(),
                Some(c) => {
                    let size = c
                        .size_bytes
                        .map(|b| format!(" · {}", human_bytes(b)))
                        .unwrap_or_default();
                    match c.status.as_str() {
                        copies::VERIFIED => format!(
                            "verified {}{size}{}",
                            c.verified_at.map_or(String::new(), |t| clock.minute(t)),
                            c.sha256
                                .as_deref()
                                .map(|h| format!(" · SHA-256 {}…", &h[..12.min(h.len())]))
                                .unwrap_or_default()
                        ),
                        copies::FAILED => format!(
                            "failed {} · attempt {}{}: {}",
                            clock.minute(c.updated_at),
                            c.attempts,
                            c.next_try_at
                                .map(|t| format!(" · next try {}", clock.minute(t)))
                                .unwrap_or_default(),
                            c.error.as_deref().unwrap_or("no reason recorded")
                        ),
                        copies::COPYING => format!(
                            "copying since {} (attempt {})",
                            clock.minute(c.updated_at),
                            c.attempts
                        ),
                        copies::PENDING => {
                            format!("pending since {}", clock.minute(c.updated_at))
                        }
                        other => format!("{other} {}{size}", clock.minute(c.updated_at)),
                    }
                }
            };
            lines.push(format!("  {t:<name_w$}  {what}"));
        }
        lines
    }

    /// The restore wizard's first step was answered.
    pub(crate) fn restore_scope_picked(&mut self, value: Option<i64>) -> Vec<Effect> {
        let Some(id) = self.backups.restore_id.clone() else {
            return Vec::new();
        };
        let scope = match value {
            None => RestoreScope::Everything,
            Some(0) => {
                let mut form = Form::new(
                    "Restore chosen tables",
                    FormPurpose::RestoreTables { id },
                    vec![
                        Field::new("tables", "Tables", "members,collections")
                            .hint("organizations, workers, members, collections, day_closes"),
                    ],
                );
                form.intro = vec!["Comma-separated; the next step shows what would change.".into()];
                self.overlays.push(Overlay::Form(Box::new(form)));
                return Vec::new();
            }
            Some(org_id) => match self.orgs.iter().find(|o| o.id == org_id) {
                Some(o) => RestoreScope::Org(o.code.clone()),
                None => return Vec::new(),
            },
        };
        self.flash(
            Level::Info,
            "comparing the backup with the database (dry run)…",
        );
        fx(BackupEffect::RestorePreview { id, scope })
    }

    pub(crate) fn restore_tables_submitted(&mut self, id: String, f: &Form) -> Vec<Effect> {
        let tables: Vec<String> = f
            .value("tables")
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        self.close_form();
        self.flash(
            Level::Info,
            "comparing the backup with the database (dry run)…",
        );
        fx(BackupEffect::RestorePreview {
            id,
            scope: RestoreScope::Tables(tables),
        })
    }

    pub(crate) fn download_submitted(&mut self, id: String, f: &Form) -> Vec<Effect> {
        let dest = f.value("dest");
        let path = std::path::PathBuf::from(crate::tui::backup_tasks::expand_home(dest.trim()));
        if let Some(folder) = crate::backup::ops::missing_folder(&path) {
            if let Some(f) = self.form_mut() {
                f.busy = false;
            }
            self.overlays.push(Overlay::Confirm(Confirm {
                title: "Create the folder?".into(),
                lines: vec![
                    format!("Folder {} does not exist.", folder.display()),
                    "Create it (private to you) and copy the backup there? y/n".into(),
                ],
                yes: Confirmed::Backup(BackupConfirm::CreateFolderAndDownload { id, dest }),
            }));
            return Vec::new();
        }
        fx(BackupEffect::Download {
            id,
            dest,
            create_dir: false,
        })
    }

    /// A confirmation of this tab was answered yes.
    pub(crate) fn backup_confirmed(&mut self, c: BackupConfirm) -> Vec<Effect> {
        match c {
            BackupConfirm::UnpinAndDelete { id } => fx(BackupEffect::UnpinAndDelete { id }),
            BackupConfirm::CreateFolderAndDownload { id, dest } => {
                if let Some(f) = self.form_mut() {
                    f.busy = true;
                }
                fx(BackupEffect::Download {
                    id,
                    dest,
                    create_dir: true,
                })
            }
        }
    }

    pub(crate) fn restore_confirmed(
        &mut self,
        id: String,
        scope: RestoreScope,
        f: &Form,
    ) -> Vec<Effect> {
        let typed = f.value("confirm");
        self.close_form();
        let cancel = self.start_long("Restoring (a pre-restore backup is taken first)");
        fx(BackupEffect::Restore {
            id,
            scope,
            typed,
            cancel,
        })
    }

    pub(crate) fn backup_outcome(&mut self, o: BackupOutcome) -> Vec<Effect> {
        match o {
            BackupOutcome::Listed { seq, result } => {
                if seq != self.backups.seq {
                    return Vec::new();
                }
                self.backups.loading = false;
                match result {
                    Ok(l) => {
                        let st = stats(&l.backups);
                        self.facts.newest_verified = st.newest_verified;
                        self.facts.newest_offsite = l.newest_offsite();
                        let before = self.backups.order();
                        if self.backups.selected_id.is_none() {
                            self.backups.selected_id = before.get(self.backups.selected).cloned();
                        }
                        self.backups.list = Some(l);
                        self.backups.error = None;
                        let h = self.visible_rows().saturating_sub(4);
                        self.backups.follow(&before, h);
                    }
                    Err(e) => self.backups.error = Some(e),
                }
                Vec::new()
            }
            BackupOutcome::Created(r) => {
                self.end_long();
                match r {
                    Ok(e) => {
                        self.flash(
                            Level::Ok,
                            format!(
                                "backup {} created: {} ({} rows)",
                                e.short_id(),
                                e.file,
                                e.total_rows.unwrap_or(0)
                            ),
                        );
                        // The new backup is the one to see: the highlight goes to it.
                        self.backups.selected_id = Some(e.id.clone());
                    }
                    Err(e) => self.long_failed("Backup not created", e),
                }
                self.backups_reload()
            }
            BackupOutcome::Verified { drill, result } => {
                self.end_long();
                match result {
                    Ok(r) => {
                        let mut lines = vec![
                            format!(
                                "ok: {} (backup {})",
                                r.file,
                                &r.backup_id[..8.min(r.backup_id.len())]
                            ),
                            format!(
                                "scope {} · from {} · {}",
                                r.scope,
                                r.source,
                                if r.encrypted {
                                    "encrypted"
                                } else {
                                    "not encrypted"
                                }
                            ),
                            String::new(),
                            format!(
                                "{:<14} {:>9}  control totals (taka, net of reversals)",
                                "table", "rows"
                            ),
                        ];
                        for t in &r.tables {
                            let totals = t
                                .net
                                .iter()
                                .map(|c| {
                                    format!(
                                        "{} {}",
                                        c.label,
                                        crate::ledger::money::grouped(c.poisha)
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            lines.push(format!("{:<14} {:>9}  {totals}", t.name, t.rows));
                        }
                        if let Some(d) = &r.drill {
                            lines.push(String::new());
                            lines.push(format!(
                                "drill: restored into a scratch database; {} tables match",
                                d.len()
                            ));
                        } else if !drill {
                            lines.push(String::new());
                            lines.push("V verifies with a drill restore as well.".into());
                        }
                        self.overlays
                            .push(Overlay::Message(Message::info("Verified", lines)));
                    }
                    Err(e) => self.long_failed("Verification failed", e),
                }
                self.backups_reload()
            }
            BackupOutcome::Downloaded(r) => match r {
                Ok(d) => {
                    self.close_form();
                    self.overlays.push(Overlay::Message(Message::info(
                        "Downloaded",
                        vec![
                            format!("copied {} to", d.file),
                            format!("  {}", d.dest.display()),
                            format!("SHA-256 {} checked", &d.sha256[..16.min(d.sha256.len())]),
                            String::new(),
                            "Fetch it to your own machine with:".into(),
                            format!("  {}", d.scp),
                        ],
                    )));
                    Vec::new()
                }
                Err(e) => {
                    if let Some(f) = self.form_mut() {
                        f.busy = false;
                        f.set_errors(&e, &[]);
                    }
                    Vec::new()
                }
            },
            BackupOutcome::Pinned(r) => {
                match r {
                    Ok(e) => self.flash(
                        Level::Ok,
                        format!(
                            "backup {} {}",
                            e.short_id(),
                            if e.pinned {
                                "pinned: prune and delete leave it alone"
                            } else {
                                "unpinned"
                            }
                        ),
                    ),
                    Err(e) => self.flash(Level::Error, e),
                }
                self.backups_reload()
            }
            BackupOutcome::Deleted(r) => {
                match r {
                    Ok(e) => self.flash(Level::Ok, format!("backup {} deleted", e.short_id())),
                    Err(e) => self
                        .overlays
                        .push(Overlay::Message(Message::error("Not deleted", e))),
                }
                self.backups_reload()
            }
            BackupOutcome::PrunePlan(r) => {
                self.flash = None;
                match r {
                    Ok(p) => {
                        let clock = self.clock();
                        let mut lines = vec![format!(
                            "policy: keep last {}, daily {}, weekly {}, monthly {} (scheduled backups only; times in {})",
                            p.policy.keep_last,
                            p.policy.keep_daily,
                            p.policy.keep_weekly,
                            p.policy.keep_monthly,
                            clock.label()
                        )];
                        lines.push(String::new());
                        if p.lines.is_empty() {
                            lines.push("no completed backups to consider".into());
                        }
                        for l in &p.lines {
                            lines.push(format!(
                                "{:<12} {} {} {:<11} {}",
                                if l.keep { "keep" } else { "would remove" },
                                &l.id[..8.min(l.id.len())],
                                clock.minute(l.created_at),
                                l.kind,
                                l.reasons.join("; ")
                            ));
                        }
                        let gone = p.lines.iter().filter(|l| !l.keep).count();
                        lines.push(String::new());
                        lines.push(format!(
                            "{gone} backup(s) would be removed; nothing was changed. `somiti backup prune` applies it."
                        ));
                        self.overlays.push(Overlay::Message(Message::info(
                            "What prune would do",
                            lines,
                        )));
                    }
                    Err(e) => self
                        .overlays
                        .push(Overlay::Message(Message::error("Prune preview failed", e))),
                }
                Vec::new()
            }
            BackupOutcome::RestorePreview { id, scope, result } => {
                self.flash = None;
                match result {
                    Ok(r) => self.open_restore_confirm(id, scope, &r),
                    Err(e) => self
                        .overlays
                        .push(Overlay::Message(Message::error("Restore not possible", e))),
                }
                Vec::new()
            }
            BackupOutcome::Restored(r) => {
                self.end_long();
                match r {
                    Ok(r) => {
                        let mut lines = restore_table(&r);
                        lines.insert(0, r.headline());
                        if let (Some(pre), Some(undo)) = (&r.pre_restore, r.undo_command()) {
                            lines.push(String::new());
                            lines.push(format!(
                                "pre-restore backup {} ({})",
                                pre.short_id(),
                                pre.file
                            ));
                            lines.push(format!(
                                "to undo: r on that backup in this tab ({}), or",
                                r.plan.scope_words()
                            ));
                            lines.push(format!("  {undo}"));
                        }
                        self.overlays
                            .push(Overlay::Message(Message::info("Restored", lines)));
                        let mut fx = self.backups_reload();
                        fx.extend(self.reload_org());
                        fx.extend(self.audit_reload());
                        return fx;
                    }
                    Err(e) => {
                        let text = e
                            .iter()
                            .map(|(f, r)| {
                                if f.is_empty() {
                                    r.clone()
                                } else {
                                    format!("{f}: {r}")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("\n");
                        self.long_failed("Restore failed; nothing was changed", text);
                    }
                }
                self.backups_reload()
            }
        }
    }

    fn long_failed(&mut self, title: &str, e: String) {
        if e == "cancelled" {
            self.flash(
                Level::Info,
                format!(
                    "{} — cancelled cleanly",
                    title.split(';').next().unwrap_or(title)
                ),
            );
        } else {
            self.overlays
                .push(Overlay::Message(Message::error(title, e)));
        }
    }

    fn open_restore_confirm(&mut self, id: String, scope: RestoreScope, r: &RestoreReport) {
        let word = r.plan.confirm_word.clone();
        let taken = match self.org() {
            Some(o) => format!("{} ({})", o.local_minute(r.plan.created_at), o.tz_label()),
            None => format!("{} (UTC)", r.plan.created_at.format("%Y-%m-%d %H:%M")),
        };
        let mut intro = vec![
            format!(
                "Backup {} taken {taken}.",
                &r.plan.backup_id[..8.min(r.plan.backup_id.len())]
            ),
            format!("Restoring {}:", r.plan.scope_words()),
            format!(
                "replaces {}; {}.",
                r.plan.replaces_words(),
                r.plan.kept_words()
            ),
        ];
        intro.extend(restore_table(r));
        // A refusal the dry run found: nothing to type, nothing to confirm.
        if !r.refusals.is_empty() {
            intro.push(String::new());
            intro.push("This restore cannot be done:".into());
            for why in &r.refusals {
                intro.push(format!("• {why}"));
            }
            intro.push("Nothing was changed.".into());
            self.overlays.push(Overlay::Message(Message {
                error: true,
                ..Message::info("Restore not possible", intro)
            }));
            return;
        }
        intro.push("A pre-restore backup is taken first, so this can be undone.".into());
        let mut form = Form::new(
            "Restore — dry run",
            FormPurpose::RestoreConfirm { id, scope },
            vec![
                Field::new("confirm", "Type to confirm", "")
                    .hint(format!("type {word} exactly (case-sensitive)")),
            ],
        );
        form.intro = intro;
        self.overlays.push(Overlay::Form(Box::new(form)));
    }
}

/// Rows now vs in the backup, and the control totals (taka, net of reversals) in words,
/// one line per total.
pub fn restore_table(r: &RestoreReport) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<13} {:>9} {:>9}  {}",
        "table", "rows now", "in backup", "taka, net of reversals: now → in backup"
    )];
    for t in &r.tables {
        let money = t.money();
        let rows = format!("{:<13} {:>9} {:>9}", t.name, t.rows_now, t.rows_backup);
        if money.is_empty() {
            lines.push(rows.clone());
        }
        for (i, (label, now, backup)) in money.into_iter().enumerate() {
            let lead = if i == 0 { rows.clone() } else { " ".repeat(33) };
            lines.push(format!(
                "{lead}  {label} {} → {}",
                crate::ledger::money::grouped(now),
                crate::ledger::money::grouped(backup)
            ));
        }
    }
    lines
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // taka_poisha
mod tests {
    use super::*;
    use crate::backup::restore::{ControlTotal, RestorePlan, TableReport};
    use crate::tui::app::{AppInit, HeaderFacts};
    use chrono::TimeZone;

    fn app() -> App {
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).unwrap();
        App::new(AppInit {
            operator: crate::access::Operator::system(),
            orgs: vec![crate::ledger::org::Organization {
                id: 1,
                code: "DEMO".into(),
                name: "Demo".into(),
                address: String::new(),
                contact_person: String::new(),
                mobile: String::new(),
                email: String::new(),
                timezone: "Asia/Dhaka".into(),
                collection_days: "sat,sun,mon,tue,wed,thu".into(),
                created_at: at,
            }],
            org_index: 0,
            facts: HeaderFacts {
                database: String::new(),
                scheduler: String::new(),
                newest_verified: None,
                backup_allowance: Some(chrono::Duration::minutes(24 * 60 + 30)),
                offsite_targets: vec![],
                newest_offsite: None,
                scheduler_available: true,
                download_dir: "/tmp".into(),
                export_dir: "/tmp".into(),
            },
            now: at,
            size: (80, 24),
            theme: crate::tui::theme::Theme::plain(),
        })
    }

    fn report(tables: &[&str], refusals: Vec<String>) -> RestoreReport {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 20, 0, 0)
            .unwrap();
        let money = |v: i64| {
            vec![
                ControlTotal {
                    label: "loan collected".into(),
                    poisha: v,
                },
                ControlTotal {
                    label: "savings collected".into(),
                    poisha: v / 10,
                },
            ]
        };
        RestoreReport {
            plan: RestorePlan {
                backup_id: "0a1b2c3d-0000".into(),
                file: "somiti-all.zip".into(),
                created_at: at,
                scope: "all".into(),
                org: None,
                tables: tables.iter().map(|t| t.to_string()).collect(),
                confirm_word: "RESTORE".into(),
                archive_org: None,
                manifest: None,
            },
            dry_run: true,
            tables: vec![TableReport {
                name: "collections".into(),
                rows_now: 10,
                rows_backup: 9,
                totals_now: Default::default(),
                totals_backup: Default::default(),
                net_now: money(1_284_750_00),
                net_backup: money(1_200_000_00),
            }],
            pre_restore: None,
            refusals,
        }
    }

    fn text(app: &App) -> String {
        match app.overlays.last() {
            Some(Overlay::Form(f)) => f.intro.join("\n"),
            Some(Overlay::Message(m)) => m.lines.join("\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_dry_run_names_the_tables_chosen_in_taka_and_the_local_clock() {
        let mut a = app();
        let r = report(&["members", "collections"], vec![]);
        a.open_restore_confirm("id".into(), RestoreScope::Tables(r.plan.tables.clone()), &r);
        let t = text(&a);
        assert!(matches!(a.overlays.last(), Some(Overlay::Form(_))));
        assert!(t.contains("Restoring tables members, collections:"), "{t}");
        assert!(
            !t.contains("whole ledger") && !t.contains("everything"),
            "{t}"
        );
        assert!(t.contains("taken 2026-11-22 02:00 (Dhaka)"), "{t}");
        assert!(
            t.contains("loan collected 1,284,750.00 → 1,200,000.00"),
            "{t}"
        );
        assert!(!t.contains("loan_paisa") && !t.contains("128475000"), "{t}");
    }

    #[test]
    fn a_dry_run_with_refusals_offers_no_confirmation() {
        let mut a = app();
        let why = "restoring only collections would leave 12 collections of members 17, 42 (org DEMO) without their member".to_string();
        let r = report(&["collections"], vec![why.clone()]);
        a.open_restore_confirm("id".into(), RestoreScope::Tables(r.plan.tables.clone()), &r);
        let Some(Overlay::Message(m)) = a.overlays.last() else {
            panic!("{:?}", a.overlays.last())
        };
        assert!(m.error && m.title == "Restore not possible");
        assert!(m.lines.iter().any(|l| l.contains(&why)), "{:?}", m.lines);
        assert!(!a.overlays.iter().any(|o| matches!(o, Overlay::Form(_))));
    }
}
