//! The monthly report over the daily review: each collection day's rate as a bar chart, the
//! month's totals, portfolio at risk and a line per worker, `[` `]` to the month before or
//! after (not past this month). The figures are the core's (`ledger::report::month`).

use crate::ledger::report::{MonthReport, MonthStep, YearMonth, step_month};
use crate::tui::app::{App, Level, Overlay};
use crate::tui::keymap::Action;
use crate::tui::report_tasks::ReportEffect;
use crate::tui::tasks::Effect;

#[derive(Debug, Clone)]
pub struct ReportPage {
    pub month: YearMonth,
    pub report: Option<MonthReport>,
    pub error: Option<String>,
    pub seq: u64,
    /// Lines scrolled off the top of the text under the chart.
    pub scroll: u16,
}

impl App {
    /// `m` in the daily review: the report of the month of the day it shows.
    pub(crate) fn open_report(&mut self) -> Vec<Effect> {
        self.overlays.push(Overlay::Report(Box::new(ReportPage {
            month: YearMonth::of(self.review.date),
            report: None,
            error: None,
            seq: 0,
            scroll: 0,
        })));
        self.report_reload()
    }

    fn report_reload(&mut self) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let seq = self.next_seq();
        let Some(Overlay::Report(p)) = self.overlays.last_mut() else {
            return Vec::new();
        };
        p.seq = seq;
        p.report = None;
        p.error = None;
        p.scroll = 0;
        vec![Effect::Report(ReportEffect::Month {
            seq,
            org,
            month: p.month,
        })]
    }

    pub(crate) fn report_key(&mut self, action: Action) -> Vec<Effect> {
        let today = self.today();
        let Some(Overlay::Report(p)) = self.overlays.last_mut() else {
            return Vec::new();
        };
        match action {
            Action::Back => {
                self.overlays.pop();
                Vec::new()
            }
            Action::Help => {
                self.overlays.push(Overlay::Help { scroll: 0 });
                Vec::new()
            }
            Action::Up => {
                p.scroll = p.scroll.saturating_sub(1);
                Vec::new()
            }
            Action::Down => {
                p.scroll = p.scroll.saturating_add(1).min(200);
                Vec::new()
            }
            Action::PrevMonth | Action::NextMonth => {
                let forward = action == Action::NextMonth;
                match step_month(p.month, forward, None, today) {
                    MonthStep::To(m) => {
                        p.month = m;
                        self.report_reload()
                    }
                    MonthStep::NoLater(m) => {
                        self.flash(
                            Level::Info,
                            format!("{m} is this month; no later report yet"),
                        );
                        Vec::new()
                    }
                    // a report has no earliest month
                    MonthStep::NoEarlier(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn report_loaded(
        &mut self,
        seq: u64,
        result: Result<Box<MonthReport>, String>,
    ) -> Vec<Effect> {
        for o in self.overlays.iter_mut().rev() {
            if let Overlay::Report(p) = o {
                if p.seq == seq {
                    match result {
                        Ok(r) => p.report = Some(*r),
                        Err(e) => p.error = Some(e),
                    }
                }
                break;
            }
        }
        Vec::new()
    }
}
