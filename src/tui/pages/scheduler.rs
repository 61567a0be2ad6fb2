//! Scheduler: the jobs with their schedule as written and in words, next and last run,
//! who runs the scheduler; Enter runs the selected job now (after a confirmation for a job
//! that deletes, such as prune), Space switches it on or off.

use crate::scheduler::runs::Run;
use crate::scheduler::status::SchedulerStatus;
use crate::tui::app::{App, Level, Overlay, movement, step};
use crate::tui::keymap::Action;
use crate::tui::sched_tasks::{SchedEffect, SchedOutcome};
use crate::tui::tasks::Effect;
use crate::tui::widgets::dialog::{Confirm, Confirmed};

#[derive(Debug, Clone, Default)]
pub struct SchedulerPage {
    pub status: Option<SchedulerStatus>,
    pub selected: usize,
    /// Run history of the selected job (newest first).
    pub history: Vec<Run>,
    pub history_job: String,
    pub seq: u64,
    pub loading: bool,
    pub error: Option<String>,
    /// Jobs started from here and not finished yet.
    pub running: Vec<String>,
}

fn fx(e: SchedEffect) -> Vec<Effect> {
    vec![Effect::Sched(e)]
}

impl App {
    pub(crate) fn scheduler_reload(&mut self) -> Vec<Effect> {
        if !self.facts.scheduler_available {
            return Vec::new();
        }
        let seq = self.next_seq();
        self.scheduler.seq = seq;
        self.scheduler.loading = true;
        self.scheduler_checked = self.now;
        fx(SchedEffect::Status { seq })
    }

    fn selected_job(&self) -> Option<String> {
        self.scheduler
            .status
            .as_ref()
            .and_then(|s| s.jobs.get(self.scheduler.selected))
            .map(|j| j.name.clone())
    }

    fn scheduler_history(&mut self) -> Vec<Effect> {
        match self.selected_job() {
            Some(job) if job != self.scheduler.history_job => fx(SchedEffect::History { job }),
            _ => Vec::new(),
        }
    }

    pub(crate) fn scheduler_key(&mut self, action: Action) -> Vec<Effect> {
        if let Some(d) = movement(action, 5) {
            let len = self.scheduler.status.as_ref().map_or(0, |s| s.jobs.len());
            self.scheduler.selected = step(self.scheduler.selected, d, len);
            return self.scheduler_history();
        }
        let Some(job) = self.selected_job() else {
            return Vec::new();
        };
        match action {
            Action::JobRunNow => {
                if self.scheduler.running.contains(&job) {
                    self.flash(Level::Info, format!("{job} is already running"));
                    return Vec::new();
                }
                let deletes = self
                    .scheduler
                    .status
                    .as_ref()
                    .and_then(|s| s.jobs.iter().find(|j| j.name == job))
                    .and_then(|j| j.deletes.clone());
                if let Some(why) = deletes {
                    self.overlays.push(Overlay::Confirm(Confirm {
                        title: format!("Run {job} now?"),
                        lines: vec![why, format!("It runs as {}.", self.operator.username)],
                        yes: Confirmed::RunJob { job },
                    }));
                    return Vec::new();
                }
                self.scheduler_run_confirmed(job)
            }
            Action::JobToggle => {
                let on = !self
                    .scheduler
                    .status
                    .as_ref()
                    .and_then(|s| s.jobs.iter().find(|j| j.name == job))
                    .is_some_and(|j| j.enabled);
                fx(SchedEffect::Toggle { job, on })
            }
            _ => Vec::new(),
        }
    }

    /// Run a job now, as the operator (a job that deletes has been confirmed).
    pub(crate) fn scheduler_run_confirmed(&mut self, job: String) -> Vec<Effect> {
        if self.scheduler.running.contains(&job) {
            self.flash(Level::Info, format!("{job} is already running"));
            return Vec::new();
        }
        self.scheduler.running.push(job.clone());
        self.flash(Level::Info, format!("{job}: running now…"));
        fx(SchedEffect::RunNow { job })
    }

    pub(crate) fn sched_outcome(&mut self, o: SchedOutcome) -> Vec<Effect> {
        match o {
            SchedOutcome::Status { seq, result } => {
                if seq != self.scheduler.seq {
                    return Vec::new();
                }
                self.scheduler.loading = false;
                match result {
                    Ok(s) => {
                        // "nobody: no console or daemon runs…" → "nobody" (the tab has the rest)
                        self.facts.scheduler = s
                            .runner
                            .description
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        self.facts.backup_allowance = s.backup_allowance;
                        if let Some(b) = &s.newest_verified_backup {
                            self.facts.newest_verified = Some(b.created_at);
                        }
                        if let Some(o) = &s.newest_verified_offsite {
                            self.facts.newest_offsite = Some(o.created_at);
                        }
                        self.scheduler.selected =
                            self.scheduler.selected.min(s.jobs.len().saturating_sub(1));
                        self.scheduler.status = Some(*s);
                        self.scheduler.error = None;
                        self.scheduler.history_job.clear();
                        return self.scheduler_history();
                    }
                    Err(e) => self.scheduler.error = Some(e),
                }
                Vec::new()
            }
            SchedOutcome::History { job, result } => {
                if Some(&job) == self.selected_job().as_ref() {
                    match result {
                        Ok(h) => self.scheduler.history = h,
                        Err(e) => self.flash(Level::Error, e),
                    }
                    self.scheduler.history_job = job;
                }
                Vec::new()
            }
            SchedOutcome::Ran { job, result } => {
                self.scheduler.running.retain(|j| *j != job);
                match result {
                    Ok(m) => self.flash(Level::Ok, format!("{job}: {m}")),
                    Err(e) => self.flash(Level::Error, format!("{job}: {e}")),
                }
                let mut v = self.scheduler_reload();
                v.extend(self.backups_reload());
                v
            }
            SchedOutcome::Toggled { job, on, result } => {
                match result {
                    Ok(()) => self.flash(
                        Level::Ok,
                        format!("{job} {}", if on { "enabled" } else { "disabled" }),
                    ),
                    Err(e) => self.flash(Level::Error, e),
                }
                self.scheduler_reload()
            }
        }
    }
}
