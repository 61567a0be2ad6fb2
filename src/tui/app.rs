//! The console's state and its one update path: an `Action` (from a key) or an `Outcome`
//! (from a task) changes the state and may ask for more work as `Effect`s. Nothing here
//! draws or touches the database, so every behaviour is testable as plain data.

use chrono::{DateTime, NaiveDate, Utc};

use crate::access::Operator;
use crate::ledger::org::{Organization, Worker};
use crate::tui::keymap::Action;
use crate::tui::pages::{AuditPage, BackupsPage, MembersPage, ReviewPage, SchedulerPage};
use crate::tui::report_tasks::ReportOutcome;
use crate::tui::tasks::{Effect, Outcome};
use crate::tui::theme::Theme;
use crate::tui::widgets::dialog::{Confirm, Confirmed, Message, PickFor, Picker, ProgressView};
use crate::tui::widgets::form::{Form, FormPurpose};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Members,
    Collections,
    Backups,
    Scheduler,
    Audit,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Members,
        Tab::Collections,
        Tab::Backups,
        Tab::Scheduler,
        Tab::Audit,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Tab::Members => "Members",
            Tab::Collections => "Collections",
            Tab::Backups => "Backups",
            Tab::Scheduler => "Scheduler",
            Tab::Audit => "Audit",
        }
    }
    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
    fn step(self, by: isize) -> Tab {
        let n = Tab::ALL.len() as isize;
        Tab::ALL[((self.index() as isize + by).rem_euclid(n)) as usize]
    }
}

/// What is drawn over the views, top of the stack first to get keys.
#[derive(Debug, Clone)]
pub enum Overlay {
    Help { scroll: u16 },
    Detail(Box<crate::tui::pages::DetailPage>),
    Closing(Box<crate::tui::pages::ClosingPage>),
    Statement(Box<crate::tui::pages::StatementPage>),
    Report(Box<crate::tui::pages::ReportPage>),
    Form(Box<Form>),
    Confirm(Confirm),
    Message(Message),
    Picker(Picker),
    Progress(ProgressView),
}

/// Facts for the header that come from outside the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFacts {
    pub database: String,
    pub scheduler: String,
    /// When the newest verified backup was taken; `None` when there is none.
    pub newest_verified: Option<DateTime<Utc>>,
    /// How old the newest backup may be before it is late (shown red), as the core
    /// computes it from the schedule (`scheduler::status::backup_allowance`); `None`: no
    /// enabled backup job, nothing is late. While the schedule cannot be read it is
    /// `scheduler::status::fallback_allowance`.
    pub backup_allowance: Option<chrono::Duration>,
    /// The enabled `[[offsite]]` targets (empty: the header says nothing of off-site).
    pub offsite_targets: Vec<String>,
    /// When the newest backup with a verified off-site copy was taken.
    pub newest_offsite: Option<DateTime<Utc>>,
    /// Whether the scheduler runs (status, run now, on/off): it can fail to start.
    pub scheduler_available: bool,
    /// Where downloads go unless the operator types another path (their home).
    pub download_dir: String,
    /// Where CSV exports go unless the operator types another path (`[export] dir`).
    pub export_dir: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

pub struct App {
    pub theme: Theme,
    pub operator: Operator,
    pub orgs: Vec<Organization>,
    pub org_index: usize,
    pub workers: Vec<Worker>,
    pub facts: HeaderFacts,
    /// The clock, injected (ticks in the console, fixed in tests).
    pub now: DateTime<Utc>,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub tab: Tab,
    pub overlays: Vec<Overlay>,
    pub members: MembersPage,
    pub review: ReviewPage,
    pub audit: AuditPage,
    pub backups: BackupsPage,
    pub scheduler: SchedulerPage,
    /// When the scheduler status was last asked for (it is refreshed every few seconds).
    pub scheduler_checked: DateTime<Utc>,
    pub flash: Option<Flash>,
    pub quit: bool,
    /// Quit once the running long work has stopped.
    pub quit_after_work: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    pub(crate) seq: u64,
}

pub struct AppInit {
    pub operator: Operator,
    pub orgs: Vec<Organization>,
    pub org_index: usize,
    pub facts: HeaderFacts,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub theme: Theme,
}

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

impl App {
    pub fn new(init: AppInit) -> App {
        let mut app = App {
            theme: init.theme,
            operator: init.operator,
            orgs: init.orgs,
            org_index: init.org_index,
            workers: Vec::new(),
            facts: init.facts,
            now: init.now,
            size: init.size,
            tab: Tab::Members,
            overlays: Vec::new(),
            members: MembersPage::default(),
            review: ReviewPage::default(),
            audit: AuditPage::default(),
            backups: BackupsPage::default(),
            scheduler: SchedulerPage::default(),
            scheduler_checked: init.now,
            flash: None,
            quit: false,
            quit_after_work: false,
            dirty: true,
            seq: 0,
        };
        app.review.date = app.today();
        app
    }

    pub fn org(&self) -> Option<&Organization> {
        self.orgs.get(self.org_index)
    }

    pub(crate) fn org_box(&self) -> Option<Box<Organization>> {
        self.org().cloned().map(Box::new)
    }

    /// The business date in the organization's timezone, by the injected clock.
    pub fn today(&self) -> NaiveDate {
        match self.org() {
            Some(o) => o.local_date(self.now),
            None => self.now.date_naive(),
        }
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    /// Rows a table body shows (the frame takes 7 lines, a table its header and border).
    pub fn visible_rows(&self) -> usize {
        (self.size.1.saturating_sub(10) as usize).max(1)
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    pub fn overlay_mode(&self) -> Option<crate::tui::keymap::Mode> {
        use crate::tui::keymap::Mode;
        self.overlays.last().map(|o| match o {
            Overlay::Help { .. } => Mode::Help,
            Overlay::Detail(_) => Mode::Detail,
            Overlay::Closing(_) => Mode::Closing,
            Overlay::Statement(_) => Mode::Statement,
            Overlay::Report(_) => Mode::Report,
            Overlay::Form(_) => Mode::Form,
            Overlay::Confirm(_) => Mode::Confirm,
            Overlay::Message(_) => Mode::Message,
            Overlay::Picker(_) => Mode::Picker,
            Overlay::Progress(_) => Mode::Progress,
        })
    }

    /// Whether a key's action makes sense for this operator and console (the footer hides
    /// the rest; the core still decides what is allowed).
    pub fn binding_available(&self, action: Action) -> bool {
        if !self.in_build(action) {
            return false;
        }
        match action.permission() {
            Some(p) => self.operator.role.allows(p),
            None => true,
        }
    }

    /// Whether the core behind an action runs (the scheduler can be off).
    pub fn in_build(&self, action: Action) -> bool {
        match action {
            Action::JobRunNow | Action::JobToggle => self.facts.scheduler_available,
            _ => true,
        }
    }

    /// What to load when the console opens.
    pub fn startup(&mut self) -> Vec<Effect> {
        let mut fx = self.reload_org();
        fx.extend(self.audit_reload());
        fx.extend(self.backups_reload());
        fx.extend(self.scheduler_reload());
        fx
    }

    /// Everything that depends on the organization.
    pub(crate) fn reload_org(&mut self) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        self.review.date = self.today();
        self.review.worker = None;
        let mut fx = vec![Effect::LoadWorkers { org }];
        fx.extend(self.members_reload());
        fx.extend(self.review_reload());
        fx
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        self.dirty = true;
        if action == Action::Quit {
            // A filled form is not lost to a stray quit: ask once; quit again (or y) quits.
            let asking = matches!(
                self.overlays.last(),
                Some(Overlay::Confirm(c)) if c.yes == Confirmed::QuitDiscardingForm
            );
            if !asking && let Some(title) = self.unsaved_form() {
                self.overlays.push(Overlay::Confirm(Confirm {
                    title: "Quit".into(),
                    lines: vec![
                        format!("\"{title}\" has values you typed."),
                        "Quit and discard the form? (Ctrl-C again quits too)".into(),
                    ],
                    yes: Confirmed::QuitDiscardingForm,
                }));
                return Vec::new();
            }
            // Long work is cancelled cleanly first (a second quit does not wait).
            if self.backups.running.is_some() && !self.quit_after_work {
                self.cancel_long();
                self.quit_after_work = true;
                self.flash(Level::Info, "cancelling the running work, then quitting…");
            } else {
                self.quit = true;
            }
            return Vec::new();
        }
        if !self.overlays.is_empty() {
            return self.overlay_update(action);
        }
        match action {
            Action::Help => {
                self.overlays.push(Overlay::Help { scroll: 0 });
                Vec::new()
            }
            Action::NextTab => self.go_tab(self.tab.step(1)),
            Action::PrevTab => self.go_tab(self.tab.step(-1)),
            Action::GoTab(t) => self.go_tab(t),
            Action::SwitchOrg => {
                if self.orgs.len() < 2 {
                    self.flash(Level::Info, "there is only one organization");
                } else {
                    self.overlays.push(Overlay::Picker(Picker {
                        title: "Organization".into(),
                        items: self
                            .orgs
                            .iter()
                            .map(|o| (format!("{}  {}", o.code, o.name), Some(o.id)))
                            .collect(),
                        selected: self.org_index,
                        purpose: PickFor::Organization,
                    }));
                }
                Vec::new()
            }
            Action::Refresh => match self.tab {
                Tab::Members => self.members_reload(),
                Tab::Collections => self.review_reload(),
                Tab::Audit => self.audit_reload(),
                Tab::Backups => self.backups_reload(),
                Tab::Scheduler => self.scheduler_reload(),
            },
            Action::MonthReport => self.open_report(),
            other => match self.tab {
                Tab::Members => self.members_key(other),
                Tab::Collections => self.review_key(other),
                Tab::Audit => self.audit_key(other),
                Tab::Backups => self.backups_key(other),
                Tab::Scheduler => self.scheduler_key(other),
            },
        }
    }

    fn go_tab(&mut self, t: Tab) -> Vec<Effect> {
        self.tab = t;
        match t {
            // The audit grows behind our back; show it fresh each visit.
            Tab::Audit => self.audit_reload(),
            Tab::Backups => self.backups_reload(),
            Tab::Scheduler => self.scheduler_reload(),
            _ => Vec::new(),
        }
    }

    fn overlay_update(&mut self, action: Action) -> Vec<Effect> {
        let Some(top) = self.overlays.last_mut() else {
            return Vec::new();
        };
        match top {
            Overlay::Help { scroll } => {
                match action {
                    Action::Up => *scroll = scroll.saturating_sub(1),
                    Action::Down => *scroll = scroll.saturating_add(1),
                    Action::Back | Action::Help => {
                        self.overlays.pop();
                    }
                    _ => {}
                }
                Vec::new()
            }
            Overlay::Message(m) => {
                match action {
                    Action::Up => m.scroll = m.scroll.saturating_sub(1),
                    Action::Down => m.scroll = m.scroll.saturating_add(1),
                    Action::Back | Action::Cancel | Action::Submit => {
                        self.overlays.pop();
                    }
                    _ => {}
                }
                Vec::new()
            }
            Overlay::Picker(p) => match action {
                Action::Up => {
                    p.selected = p.selected.saturating_sub(1);
                    Vec::new()
                }
                Action::Down => {
                    p.selected = (p.selected + 1).min(p.items.len().saturating_sub(1));
                    Vec::new()
                }
                Action::Cancel => {
                    self.overlays.pop();
                    Vec::new()
                }
                Action::Submit => {
                    let p = p.clone();
                    self.overlays.pop();
                    self.picked(&p)
                }
                _ => Vec::new(),
            },
            Overlay::Confirm(c) => match action {
                Action::Confirm => {
                    let yes = c.yes.clone();
                    self.overlays.pop();
                    self.confirmed(yes)
                }
                Action::Submit if c.yes.enter_confirms() => {
                    let yes = c.yes.clone();
                    self.overlays.pop();
                    self.confirmed(yes)
                }
                Action::Cancel => {
                    self.overlays.pop();
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Overlay::Form(f) => match action {
                Action::Input(ch) if !f.busy => {
                    f.input(ch);
                    self.form_typed()
                }
                Action::Backspace if !f.busy => {
                    f.backspace();
                    self.form_typed()
                }
                Action::ClearField if !f.busy => {
                    f.clear();
                    self.form_typed()
                }
                Action::NextField => {
                    f.next();
                    Vec::new()
                }
                Action::PrevField => {
                    f.prev();
                    Vec::new()
                }
                Action::Down => {
                    f.down();
                    Vec::new()
                }
                Action::Up => {
                    f.up();
                    Vec::new()
                }
                Action::ReloadForm if !f.busy => self.member_form_reload(),
                Action::Cancel => {
                    let filter = f.purpose == FormPurpose::MemberFilter;
                    if !filter && f.changed() && !f.busy {
                        // what was typed is not thrown away by a slip: ask first
                        let title = f.title.clone();
                        self.overlays.push(Overlay::Confirm(Confirm {
                            title: "Discard the form?".into(),
                            lines: vec![format!("\"{title}\" has values you typed. Discard them?")],
                            yes: Confirmed::DiscardForm,
                        }));
                        return Vec::new();
                    }
                    self.overlays.pop();
                    if filter {
                        self.member_filter_cancelled()
                    } else {
                        Vec::new()
                    }
                }
                Action::Submit if !f.busy => {
                    // in a field's list, Enter takes the marked choice; else it submits
                    if f.take_choice() {
                        return Vec::new();
                    }
                    let form = (**f).clone();
                    self.submit(form)
                }
                _ => Vec::new(),
            },
            Overlay::Detail(_) => match action {
                Action::Back => {
                    self.overlays.pop();
                    Vec::new()
                }
                Action::EditMember => self.edit_from_detail(),
                Action::DisburseLoan
                | Action::WithdrawSavings
                | Action::WriteOffLoan
                | Action::CloseMember => self.account_key(action),
                Action::Statement => self.open_statement(),
                _ => Vec::new(),
            },
            Overlay::Closing(_) => self.closing_key(action),
            Overlay::Statement(_) => self.statement_key(action),
            Overlay::Report(_) => self.report_key(action),
            Overlay::Progress(_) => {
                if action == Action::Cancel {
                    self.cancel_long();
                }
                Vec::new()
            }
        }
    }

    fn picked(&mut self, p: &Picker) -> Vec<Effect> {
        let value = p.items.get(p.selected).and_then(|(_, v)| *v);
        match p.purpose {
            PickFor::Organization => {
                if let Some(i) = self.orgs.iter().position(|o| Some(o.id) == value)
                    && i != self.org_index
                {
                    self.org_index = i;
                    self.members.reset();
                    return self.reload_org();
                }
                Vec::new()
            }
            PickFor::Worker => {
                let label = p.items.get(p.selected).map(|(l, _)| l.clone());
                self.review.worker = value.zip(label);
                self.review.selected = 0;
                self.review.top = 0;
                self.review_reload()
            }
            PickFor::RestoreScope => self.restore_scope_picked(value),
        }
    }

    /// The title of a form with typed values somewhere in the stack (a filter line is not
    /// a form to keep).
    fn unsaved_form(&self) -> Option<String> {
        self.overlays.iter().rev().find_map(|o| match o {
            Overlay::Form(f) if f.purpose != FormPurpose::MemberFilter && f.changed() => {
                Some(f.title.clone())
            }
            _ => None,
        })
    }

    fn confirmed(&mut self, yes: Confirmed) -> Vec<Effect> {
        match yes {
            Confirmed::DiscardForm => {
                self.close_form();
                Vec::new()
            }
            Confirmed::QuitDiscardingForm => {
                self.overlays
                    .retain(|o| !matches!(o, Overlay::Form(_) | Overlay::Confirm(_)));
                self.update(Action::Quit)
            }
            Confirmed::ReopenDay { date } => self.reopen_confirmed(date),
            Confirmed::CloseDay { date } => match self.org_box() {
                Some(org) => {
                    self.flash(Level::Info, format!("closing {date}…"));
                    vec![Effect::CloseDay { org, date }]
                }
                None => Vec::new(),
            },
            Confirmed::DeleteBackup { id } => vec![Effect::Backup(
                crate::tui::backup_tasks::BackupEffect::Delete { id },
            )],
            Confirmed::ImportMembers { path } => self.import_confirmed(path),
            Confirmed::RunJob { job } => self.scheduler_run_confirmed(job),
            Confirmed::Backup(c) => self.backup_confirmed(c),
            Confirmed::Account(c) => self.account_confirmed(c),
        }
    }

    /// A form was submitted: ask the core.
    fn submit(&mut self, form: Form) -> Vec<Effect> {
        use crate::tui::widgets::form::FormPurpose as P;
        let fx = match &form.purpose {
            P::AddMember | P::EditMember { .. } => self.member_form_effect(&form),
            P::RecordCollection => self.record_form_effect(&form),
            P::Reverse => self.reverse_form_effect(&form),
            P::JumpToDate => return self.jump_submitted(&form),
            P::AuditFilter => return self.audit_filter_submitted(&form),
            P::MemberFilter => {
                self.members.filter_before = None;
                self.close_form();
                return Vec::new();
            }
            P::Download { id } => self.download_submitted(id.clone(), &form),
            P::ExportMembers => self.export_submitted(&form),
            P::ImportMembers => self.import_submitted(&form),
            P::RestoreTables { id } => return self.restore_tables_submitted(id.clone(), &form),
            P::RestoreConfirm { id, scope } => {
                return self.restore_confirmed(id.clone(), scope.clone(), &form);
            }
            P::Account(a) => return self.account_submitted(a.clone(), &form),
        };
        if !fx.is_empty()
            && let Some(Overlay::Form(f)) = self.overlays.last_mut()
        {
            f.busy = true;
        }
        fx
    }

    /// Typing in a form: the members filter filters as it is typed.
    fn form_typed(&mut self) -> Vec<Effect> {
        match self.overlays.last() {
            Some(Overlay::Form(f)) if f.purpose == FormPurpose::MemberFilter => {
                let text = f.value("filter");
                self.member_filter_typed(text)
            }
            _ => Vec::new(),
        }
    }

    /// The top form, when one is open (answers land there).
    pub(crate) fn form_mut(&mut self) -> Option<&mut Form> {
        match self.overlays.last_mut() {
            Some(Overlay::Form(f)) => Some(f),
            _ => None,
        }
    }

    pub(crate) fn close_form(&mut self) {
        if matches!(self.overlays.last(), Some(Overlay::Form(_))) {
            self.overlays.pop();
        }
    }

    pub fn apply(&mut self, outcome: Outcome) -> Vec<Effect> {
        self.dirty = true;
        match outcome {
            Outcome::Members {
                seq,
                offset,
                result,
            } => self.members_loaded(seq, offset, result),
            Outcome::Member(r) => self.detail_loaded(r),
            Outcome::Workers { org_id, result } => {
                if self.org().map(|o| o.id) == Some(org_id) {
                    match result {
                        Ok(w) => self.workers = w,
                        Err(e) => self.flash(Level::Error, e),
                    }
                }
                Vec::new()
            }
            Outcome::MemberSaved { added, result } => self.member_saved(added, result),
            Outcome::MemberReloaded(r) => {
                self.member_form_reloaded(r);
                Vec::new()
            }
            Outcome::Review { seq, result } => self.review_loaded(seq, result),
            Outcome::CollectionRecorded(r) => self.collection_recorded(r),
            Outcome::Reversed(r) => self.reversed(r),
            Outcome::DayClosed { date, result } => self.day_closed(date, result),
            Outcome::DayReopened { date, result } => self.day_reopened(date, result),
            Outcome::ReviewJump { seq, date, result } => self.review_jumped(seq, date, result),
            Outcome::Audit {
                seq,
                offset,
                result,
            } => self.audit_loaded(seq, offset, result),
            Outcome::Exported(r) => self.members_exported(r),
            Outcome::Imported {
                dry_run,
                path,
                result,
            } => self.members_imported(dry_run, path, result),
            Outcome::Backup(o) => self.backup_outcome(*o),
            Outcome::Sched(o) => self.sched_outcome(o),
            Outcome::Account(o) => self.account_outcome(o),
            Outcome::LedgerChecked(r) => {
                self.ledger_checked(r);
                Vec::new()
            }
            Outcome::Report(o) => match o {
                ReportOutcome::Statement { seq, result } => self.statement_loaded(seq, result),
                ReportOutcome::Month { seq, result } => self.report_loaded(seq, result),
            },
            Outcome::Crashed(e) => {
                if let Some(f) = self.form_mut() {
                    f.busy = false;
                }
                self.overlays
                    .push(Overlay::Message(Message::error("Internal error", e)));
                Vec::new()
            }
        }
    }

    /// The scheduler did something: show it and refresh what it changes.
    pub fn scheduler_event(&mut self, e: crate::scheduler::engine::SchedulerEvent) -> Vec<Effect> {
        use crate::scheduler::engine::SchedulerEvent as E;
        match &e {
            // the loop's own bookkeeping: nothing on screen changes
            E::Queued { .. } | E::Passed { .. } | E::Waiting { .. } => return Vec::new(),
            _ => self.dirty = true,
        }
        match &e {
            E::Queued { .. } | E::Passed { .. } | E::Waiting { .. } => {}
            E::Started { job, .. } => self.flash(Level::Info, format!("scheduler: {job} started")),
            E::Finished {
                job, ok, message, ..
            } => self.flash(
                if *ok { Level::Ok } else { Level::Error },
                format!(
                    "scheduler: {job} {}: {message}",
                    if *ok { "done" } else { "failed" }
                ),
            ),
            E::Skipped { job, reason, .. } => {
                self.flash(Level::Info, format!("scheduler: {job} skipped: {reason}"))
            }
        }
        let mut fx = self.scheduler_reload();
        if matches!(e, E::Finished { .. }) {
            fx.extend(self.backups_reload());
        }
        fx
    }

    /// The clock moved on: flashes fade after a few seconds; the scheduler's status is
    /// asked for again every ten.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        let today_before = self.today();
        self.now = now;
        if let Some(f) = &self.flash
            && (now - f.at).num_seconds() >= 6
        {
            self.flash = None;
            self.dirty = true;
        }
        if self.today() != today_before {
            self.dirty = true;
        }
        if (now - self.scheduler_checked).num_seconds() >= 10 && !self.scheduler.loading {
            return self.scheduler_reload();
        }
        Vec::new()
    }

    pub fn resize(&mut self, w: u16, h: u16) {
        self.size = (w, h);
        self.members.keep_visible(self.visible_rows());
        self.dirty = true;
    }
}

/// Move `selected` by `delta` within `0..len`.
pub(crate) fn step(selected: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (selected as isize + delta).clamp(0, len as isize - 1) as usize
}

/// Scroll `top` so that `selected` is among the `height` rows shown from it.
pub(crate) fn scroll_to(top: usize, selected: usize, height: usize) -> usize {
    let height = height.max(1);
    if selected < top {
        selected
    } else if selected >= top + height {
        selected + 1 - height
    } else {
        top
    }
}

/// The move an action asks for in a list of `page` visible rows (`None`: not a move).
pub(crate) fn movement(action: Action, page: usize) -> Option<isize> {
    let page = page.max(1) as isize;
    match action {
        Action::Up => Some(-1),
        Action::Down => Some(1),
        Action::PageUp => Some(-page),
        Action::PageDown => Some(page),
        Action::Top => Some(isize::MIN / 2),
        Action::Bottom => Some(isize::MAX / 2),
        _ => None,
    }
}
