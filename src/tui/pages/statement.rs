//! A member's statement (passbook) over the details: one calendar month of their rows with
//! the running balances, `[` `]` to the month before or after (from the month they joined
//! to this month). The rows and balances are the core's (`ledger::statement`).

use chrono::NaiveDate;

use crate::ledger::report::{MonthStep, YearMonth, step_month};
use crate::ledger::statement::Statement;
use crate::tui::app::{App, Level, Overlay, movement, step};
use crate::tui::keymap::Action;
use crate::tui::report_tasks::ReportEffect;
use crate::tui::tasks::Effect;

#[derive(Debug, Clone)]
pub struct StatementPage {
    pub member_id: i64,
    pub member_no: String,
    pub name: String,
    pub joined_on: NaiveDate,
    pub month: YearMonth,
    pub statement: Option<Statement>,
    pub error: Option<String>,
    pub seq: u64,
    /// The first row on screen.
    pub top: usize,
}

/// Rows of the statement's table on a terminal `height` rows high: the frame takes 5, the
/// box 2, the opening, header, totals and closing lines 4.
pub fn statement_rows(height: u16) -> usize {
    (height.saturating_sub(11) as usize).max(1)
}

impl App {
    /// `s` (or Enter) in the details: this month's statement of the member shown.
    pub(crate) fn open_statement(&mut self) -> Vec<Effect> {
        let Some(Overlay::Detail(d)) = self.overlays.last() else {
            return Vec::new();
        };
        let Some(m) = d.detail.as_ref().map(|x| x.row.member.clone()) else {
            let no = d.member_no.clone();
            self.flash(Level::Info, format!("member {no} is still loading"));
            return Vec::new();
        };
        self.overlays
            .push(Overlay::Statement(Box::new(StatementPage {
                member_id: m.id,
                member_no: m.member_no,
                name: m.name,
                joined_on: m.joined_on,
                month: YearMonth::of(self.today()),
                statement: None,
                error: None,
                seq: 0,
                top: 0,
            })));
        self.statement_reload()
    }

    fn statement_reload(&mut self) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let seq = self.next_seq();
        let Some(Overlay::Statement(p)) = self.overlays.last_mut() else {
            return Vec::new();
        };
        p.seq = seq;
        p.statement = None;
        p.error = None;
        p.top = 0;
        vec![Effect::Report(ReportEffect::Statement {
            seq,
            org,
            member_id: p.member_id,
            month: p.month,
        })]
    }

    pub(crate) fn statement_key(&mut self, action: Action) -> Vec<Effect> {
        let today = self.today();
        let page = statement_rows(self.size.1);
        let Some(Overlay::Statement(p)) = self.overlays.last_mut() else {
            return Vec::new();
        };
        if let Some(delta) = movement(action, page) {
            let rows = p.statement.as_ref().map_or(0, |s| s.rows.len());
            let last_top = rows.saturating_sub(page);
            p.top = step(p.top, delta, last_top + 1);
            return Vec::new();
        }
        match action {
            Action::Back => {
                self.overlays.pop();
                Vec::new()
            }
            Action::Help => {
                self.overlays.push(Overlay::Help { scroll: 0 });
                Vec::new()
            }
            Action::PrevMonth | Action::NextMonth => {
                let forward = action == Action::NextMonth;
                match step_month(p.month, forward, Some(YearMonth::of(p.joined_on)), today) {
                    MonthStep::To(m) => {
                        p.month = m;
                        self.statement_reload()
                    }
                    MonthStep::NoEarlier(_) => {
                        let text = format!(
                            "member {} joined on {}; no earlier statement",
                            p.member_no, p.joined_on
                        );
                        self.flash(Level::Info, text);
                        Vec::new()
                    }
                    MonthStep::NoLater(m) => {
                        self.flash(
                            Level::Info,
                            format!("{m} is this month; no later statement yet"),
                        );
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn statement_loaded(
        &mut self,
        seq: u64,
        result: Result<Box<Statement>, String>,
    ) -> Vec<Effect> {
        for o in self.overlays.iter_mut().rev() {
            if let Overlay::Statement(p) = o {
                if p.seq == seq {
                    match result {
                        Ok(s) => p.statement = Some(*s),
                        Err(e) => p.error = Some(e),
                    }
                }
                break;
            }
        }
        Vec::new()
    }
}
