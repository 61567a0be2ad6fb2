//! Audit: the log newest first, loaded a page at a time as the selection goes down, and
//! filtered by actor, action (prefix) and business date (the organization's clock).

use crate::access::audit::{AuditEntry, AuditFilter};
use crate::ledger::validate;
use crate::tui::app::{App, Overlay, movement, scroll_to, step};
use crate::tui::keymap::Action;
use crate::tui::tasks::Effect;
use crate::tui::widgets::form::{Field, Form, FormPurpose};

pub const AUDIT_PAGE: i64 = 200;

#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub selected: usize,
    pub top: usize,
    pub filter: AuditFilter,
    /// The business date filtered on, in the organization's timezone (the filter holds
    /// its UTC range).
    pub day: Option<chrono::NaiveDate>,
    /// The last page came back short: there is nothing older.
    pub exhausted: bool,
    pub loading: bool,
    pub seq: u64,
    pub error: Option<String>,
}

impl AuditPage {
    pub fn filter_text(&self) -> String {
        let f = &self.filter;
        let mut parts = Vec::new();
        if let Some(a) = &f.actor {
            parts.push(format!("actor {a}"));
        }
        if let Some(a) = &f.action {
            parts.push(format!("action {a}*"));
        }
        if let Some(d) = self.day {
            parts.push(format!("on {d}"));
        }
        parts.join(", ")
    }
}

impl App {
    /// The clock every time on screen is shown on: the organization's (`Dhaka`).
    pub fn clock(&self) -> crate::ledger::org::Clock {
        crate::ledger::org::Clock::of(self.org())
    }

    fn audit_load(&mut self, offset: i64) -> Vec<Effect> {
        let seq = self.next_seq();
        self.audit.seq = seq;
        self.audit.loading = true;
        let mut filter = self.audit.filter.clone();
        filter.limit = AUDIT_PAGE;
        filter.offset = offset;
        vec![Effect::LoadAudit { seq, filter }]
    }

    pub(crate) fn audit_reload(&mut self) -> Vec<Effect> {
        self.audit.exhausted = false;
        self.audit_load(0)
    }

    pub(crate) fn audit_loaded(
        &mut self,
        seq: u64,
        offset: i64,
        result: Result<Vec<AuditEntry>, String>,
    ) -> Vec<Effect> {
        if seq != self.audit.seq {
            return Vec::new();
        }
        let p = &mut self.audit;
        p.loading = false;
        match result {
            Ok(rows) => {
                p.exhausted = (rows.len() as i64) < AUDIT_PAGE;
                if offset == 0 {
                    p.entries = rows;
                } else {
                    p.entries.truncate(offset as usize);
                    p.entries.extend(rows);
                }
                p.selected = p.selected.min(p.entries.len().saturating_sub(1));
                p.error = None;
            }
            Err(e) => p.error = Some(e),
        }
        Vec::new()
    }

    pub(crate) fn audit_key(&mut self, action: Action) -> Vec<Effect> {
        let h = self.visible_rows();
        if let Some(d) = movement(action, h) {
            let p = &mut self.audit;
            p.selected = step(p.selected, d, p.entries.len());
            p.top = scroll_to(p.top, p.selected, h);
            if p.selected + h >= p.entries.len() && !p.exhausted && !p.loading {
                let offset = p.entries.len() as i64;
                return self.audit_load(offset);
            }
            return Vec::new();
        }
        match action {
            Action::Filter => {
                let f = &self.audit.filter;
                let form = Form::new(
                    "Filter the audit log",
                    FormPurpose::AuditFilter,
                    vec![
                        Field::new("actor", "Actor", f.actor.clone().unwrap_or_default())
                            .hint("login, e.g. rahim"),
                        Field::new("action", "Action", f.action.clone().unwrap_or_default())
                            .hint("prefix, e.g. collection. or backup"),
                        Field::new(
                            "date",
                            "Date",
                            self.audit.day.map(|d| d.to_string()).unwrap_or_default(),
                        )
                        .hint(format!(
                            "YYYY-MM-DD, business date ({})",
                            self.clock().label()
                        )),
                    ],
                );
                self.overlays.push(Overlay::Form(Box::new(form)));
                Vec::new()
            }
            Action::Back if !self.audit.filter_text().is_empty() => {
                self.audit.filter = AuditFilter::default();
                self.audit.day = None;
                self.audit.selected = 0;
                self.audit.top = 0;
                self.audit_reload()
            }
            _ => Vec::new(),
        }
    }

    /// The filter form was submitted: a bad date stays in the form with its message.
    pub(crate) fn audit_filter_submitted(&mut self, form: &Form) -> Vec<Effect> {
        let text = |k: &str| Some(form.value(k)).filter(|s| !s.is_empty());
        let on = match text("date") {
            None => None,
            Some(d) => match validate::date("date", &d) {
                Ok(d) => Some(d),
                Err(e) => {
                    if let Some(f) = self.form_mut() {
                        f.set_errors(&crate::tui::tasks::field_errors(&e), &[]);
                    }
                    return Vec::new();
                }
            },
        };
        self.close_form();
        // the date is the organization's business date, read on its clock
        let tz = self.org().map_or(chrono_tz::Asia::Dhaka, |o| o.tz());
        self.audit.day = on;
        self.audit.filter = AuditFilter {
            actor: text("actor"),
            action: text("action"),
            on,
            tz: Some(tz),
            limit: AUDIT_PAGE,
            offset: 0,
        };
        self.audit.selected = 0;
        self.audit.top = 0;
        self.audit_reload()
    }
}
