//! The one event type of the main loop: key presses and resizes, the clock, and answers
//! from tasks all arrive as `Event`s; the loop owns the state and is the only writer.

use crate::tui::tasks::Outcome;

#[derive(Debug)]
pub enum Event {
    Input(crossterm::event::Event),
    Tick,
    Task(Box<Outcome>),
    /// Long work moved on (sampled, at most ten times a second).
    Progress(crate::backup::Progress),
    /// The scheduler hosted by this console started, finished or skipped a job.
    Scheduler(crate::scheduler::engine::SchedulerEvent),
    /// Another process committed changes (the watcher in `tui::watch`).
    Changes(Vec<crate::db::changes::Change>),
    /// SIGTERM or SIGHUP (the SSH link went away): leave cleanly.
    Terminate,
}
