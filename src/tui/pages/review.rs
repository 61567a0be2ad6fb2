//! Collections: the daily review of one date, grouped by worker, and what an operator does
//! from it — record what was due, reverse an entry, filter by worker, go to a date, close
//! and reopen the day.

use chrono::{Duration, NaiveDate};

use crate::ledger::collection::Collection;
use crate::ledger::review::{Review, ReviewLine};
use crate::ledger::{money, validate};
use crate::tui::app::{App, Level, Overlay, movement, scroll_to, step};
use crate::tui::keymap::Action;
use crate::tui::tasks::{CollectionText, Effect, FieldErrors};
use crate::tui::widgets::dialog::{Confirm, Confirmed, PickFor, Picker};
use crate::tui::widgets::form::{Field, Form, FormPurpose};

#[derive(Debug, Clone, Default)]
pub struct ReviewPage {
    pub date: NaiveDate,
    pub review: Option<Review>,
    /// Index into `review.lines`.
    pub selected: usize,
    /// First display row shown (worker headings count as rows).
    pub top: usize,
    pub worker: Option<(i64, String)>,
    pub loading: bool,
    pub seq: u64,
    pub error: Option<String>,
}

/// A row of the review table: a worker's heading with its totals, or a member's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewRow {
    Worker(usize),
    Line(usize),
}

/// The table's rows: each worker's heading followed by its members.
pub fn review_rows(r: &Review) -> Vec<ReviewRow> {
    let mut out = Vec::with_capacity(r.lines.len() + r.workers.len());
    let mut w = 0;
    for (i, l) in r.lines.iter().enumerate() {
        let new_group = i == 0 || r.lines[i - 1].worker_id != l.worker_id;
        if new_group {
            out.push(ReviewRow::Worker(w.min(r.workers.len().saturating_sub(1))));
            w += 1;
        }
        out.push(ReviewRow::Line(i));
    }
    out
}

/// The display row of line `line` (headings before it included).
fn display_index(r: &Review, line: usize) -> usize {
    let mut groups = 0;
    for i in 0..=line.min(r.lines.len().saturating_sub(1)) {
        if i == 0 || r.lines[i - 1].worker_id != r.lines[i].worker_id {
            groups += 1;
        }
    }
    line + groups
}

impl App {
    pub(crate) fn review_reload(&mut self) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let seq = self.next_seq();
        self.review.seq = seq;
        self.review.loading = true;
        vec![Effect::LoadReview {
            seq,
            org,
            date: self.review.date,
            worker: self.review.worker.as_ref().map(|w| w.0),
        }]
    }

    pub(crate) fn review_loaded(
        &mut self,
        seq: u64,
        result: Result<Review, String>,
    ) -> Vec<Effect> {
        if seq != self.review.seq {
            return Vec::new();
        }
        self.review.loading = false;
        match result {
            Ok(r) => {
                self.review.selected = self.review.selected.min(r.lines.len().saturating_sub(1));
                self.review.review = Some(r);
                self.review.error = None;
                self.review_keep_visible();
            }
            Err(e) => self.review.error = Some(e),
        }
        Vec::new()
    }

    fn review_keep_visible(&mut self) {
        let h = self.visible_rows().saturating_sub(2);
        if let Some(r) = &self.review.review {
            let d = display_index(r, self.review.selected);
            // keep the worker's heading in view when the first member is selected
            let top = scroll_to(self.review.top, d, h);
            self.review.top = if d >= 1 && top == d { d - 1 } else { top };
        }
    }

    pub fn selected_line(&self) -> Option<&ReviewLine> {
        self.review
            .review
            .as_ref()
            .and_then(|r| r.lines.get(self.review.selected))
    }

    fn set_date(&mut self, date: NaiveDate) -> Vec<Effect> {
        self.review.date = date;
        self.review_reload()
    }

    pub(crate) fn review_key(&mut self, action: Action) -> Vec<Effect> {
        let h = self.visible_rows().saturating_sub(2);
        if let Some(d) = movement(action, h) {
            let len = self.review.review.as_ref().map_or(0, |r| r.lines.len());
            self.review.selected = step(self.review.selected, d, len);
            self.review_keep_visible();
            return Vec::new();
        }
        match action {
            Action::PrevDay => {
                let d = self.review.date - Duration::days(1);
                self.set_date(d)
            }
            Action::NextDay => {
                let today = self.today();
                if self.review.date >= today {
                    self.flash(Level::Info, format!("{today} is today; no later day yet"));
                    return Vec::new();
                }
                let d = self.review.date + Duration::days(1);
                self.set_date(d)
            }
            Action::Today => {
                let d = self.today();
                self.set_date(d)
            }
            Action::Open => match self.selected_line() {
                Some(l) => {
                    let no = l.member_no.clone();
                    self.open_detail(no)
                }
                None => Vec::new(),
            },
            Action::RecordCollection => {
                if let Some(l) = self.selected_line().cloned() {
                    let (loan, savings) = l.due_split();
                    let mut form = Form::new(
                        format!("Record a collection — {} {}", l.member_no, l.name),
                        FormPurpose::RecordCollection,
                        vec![
                            Field::new("member", "Member no", l.member_no.clone()),
                            Field::new("date", "Date", self.review.date.to_string()),
                            Field::new("loan", "Loan (taka)", money::plain(loan)),
                            Field::new("savings", "Savings (taka)", money::plain(savings)),
                            Field::new("note", "Note", ""),
                        ],
                    );
                    form.intro = vec![format!(
                        "Due {}: installment {}, savings {}, arrears {}{}",
                        money::grouped(l.due),
                        money::grouped(l.installment_due),
                        money::grouped(l.savings_due),
                        money::grouped(l.arrears_in),
                        if l.advance_in > 0 {
                            format!(", paid ahead {}", money::grouped(l.advance_in))
                        } else {
                            String::new()
                        }
                    )];
                    form.focus = 2;
                    self.overlays.push(Overlay::Form(Box::new(form)));
                }
                Vec::new()
            }
            Action::ReverseEntry => {
                let Some(l) = self.selected_line().cloned() else {
                    return Vec::new();
                };
                match l.reversible_entry() {
                    Some(c) => {
                        let mut form = Form::new(
                            format!("Reverse an entry — {} {}", l.member_no, l.name),
                            FormPurpose::Reverse,
                            vec![
                                Field::new("collection", "Entry #", c.id.to_string()),
                                Field::new("reason", "Reason", "").hint("required"),
                            ],
                        );
                        // the entry's time on the organization's clock, named
                        form.intro = vec![format!(
                            "#{} on {}: loan {}, savings {}, entered by {} at {} ({}). A reversal cancels it; the entry stays in the ledger.",
                            c.id,
                            c.collected_on,
                            money::grouped(c.loan_paisa),
                            money::grouped(c.savings_paisa),
                            c.entered_by,
                            self.clock().minute(c.entered_at),
                            self.clock().label()
                        )];
                        form.focus = 1;
                        self.overlays.push(Overlay::Form(Box::new(form)));
                    }
                    None => self.flash(
                        Level::Info,
                        format!(
                            "{} has no standing entry on {} to reverse",
                            l.member_no, self.review.date
                        ),
                    ),
                }
                Vec::new()
            }
            Action::WorkerFilter => {
                let mut items = vec![("All workers".to_string(), None)];
                items.extend(self.workers.iter().map(|w| (w.name.clone(), Some(w.id))));
                let selected = self
                    .review
                    .worker
                    .as_ref()
                    .and_then(|(id, _)| items.iter().position(|(_, v)| *v == Some(*id)))
                    .unwrap_or(0);
                self.overlays.push(Overlay::Picker(Picker {
                    title: "Worker".into(),
                    items,
                    selected,
                    purpose: PickFor::Worker,
                }));
                Vec::new()
            }
            Action::JumpToDate => {
                let mut form = Form::new(
                    "Go to a date",
                    FormPurpose::JumpToDate,
                    vec![
                        Field::new("date", "Date", "")
                            .hint(format!("YYYY-MM-DD, on or before {}", self.today())),
                    ],
                );
                form.intro = vec![format!(
                    "Showing {}. Which business date ({}) to review?",
                    self.review.date,
                    self.clock().label()
                )];
                self.overlays.push(Overlay::Form(Box::new(form)));
                Vec::new()
            }
            Action::ReopenDay => {
                let date = self.review.date;
                let code = self.org().map(|o| o.code.clone()).unwrap_or_default();
                let closed = self.review.review.as_ref().and_then(|r| r.closed_through);
                match closed {
                    Some(through) if date <= through => {
                        let later = if through > date {
                            format!("Every closed day after it, through {through}, opens too.")
                        } else {
                            "It is the last closed day.".to_string()
                        };
                        self.overlays.push(Overlay::Confirm(Confirm {
                            title: "Reopen the day".into(),
                            lines: vec![
                                format!("Reopen {date} for {code}?"),
                                later,
                                "Entries can then be posted and reversed on it again;".into(),
                                "the reopening is written to the audit log (admins only).".into(),
                            ],
                            yes: Confirmed::ReopenDay { date },
                        }));
                    }
                    Some(through) => self.flash(
                        Level::Info,
                        format!("{date} is not closed ({code} is closed through {through})"),
                    ),
                    None => self.flash(Level::Info, format!("{code} has no closed days")),
                }
                Vec::new()
            }
            Action::CloseDay => {
                let date = self.review.date;
                let code = self.org().map(|o| o.code.clone()).unwrap_or_default();
                self.overlays.push(Overlay::Confirm(Confirm {
                    title: "Close the day".into(),
                    lines: vec![
                        format!("Close {date} for {code}?"),
                        "Nothing can be posted or reversed on or before it afterwards;".into(),
                        "only an admin can reopen it.".into(),
                    ],
                    yes: Confirmed::CloseDay { date },
                }));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn record_form_effect(&mut self, f: &Form) -> Vec<Effect> {
        match self.org_box() {
            Some(org) => vec![Effect::RecordCollection {
                org,
                text: CollectionText {
                    member_no: f.value("member"),
                    date: f.value("date"),
                    loan: f.value("loan"),
                    savings: f.value("savings"),
                    note: f.value("note"),
                },
            }],
            None => Vec::new(),
        }
    }

    pub(crate) fn reverse_form_effect(&mut self, f: &Form) -> Vec<Effect> {
        match self.org_box() {
            Some(org) => vec![Effect::Reverse {
                org,
                id: f.value("collection"),
                reason: f.value("reason"),
            }],
            None => Vec::new(),
        }
    }

    fn after_ledger_change(&mut self) -> Vec<Effect> {
        let mut fx = self.review_reload();
        fx.extend(self.members_reload());
        fx
    }

    pub(crate) fn collection_recorded(
        &mut self,
        r: Result<Collection, FieldErrors>,
    ) -> Vec<Effect> {
        match r {
            Ok(c) => {
                self.close_form();
                self.flash(
                    Level::Ok,
                    format!(
                        "collection #{} recorded: loan {}, savings {} on {}",
                        c.id,
                        money::grouped(c.loan_paisa),
                        money::grouped(c.savings_paisa),
                        c.collected_on
                    ),
                );
                self.after_ledger_change()
            }
            Err(e) => {
                if let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&e, &[("amount", "loan")]);
                }
                Vec::new()
            }
        }
    }

    pub(crate) fn reversed(&mut self, r: Result<Collection, FieldErrors>) -> Vec<Effect> {
        match r {
            Ok(c) => {
                self.close_form();
                self.flash(
                    Level::Ok,
                    format!(
                        "entry #{} reversed by #{}",
                        c.reversal_of.unwrap_or_default(),
                        c.id
                    ),
                );
                self.after_ledger_change()
            }
            Err(e) => {
                if let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&e, &[]);
                }
                Vec::new()
            }
        }
    }

    /// "Go to a date" was submitted: a date that does not parse or lies in the future stays
    /// in the prompt with its message; otherwise the core checks it and builds its review.
    pub(crate) fn jump_submitted(&mut self, form: &Form) -> Vec<Effect> {
        let today = self.today();
        let problem = match validate::date("date", &form.value("date")) {
            Ok(d) if d > today => Err(format!(
                "{d} is in the future; today is {today} ({})",
                self.clock().label()
            )),
            Ok(d) => Ok(d),
            Err(e) => Err(match e {
                crate::error::Error::Invalid { reason, .. } => reason,
                other => other.to_string(),
            }),
        };
        let date = match problem {
            Ok(d) => d,
            Err(reason) => {
                if let Some(f) = self.form_mut() {
                    f.set_errors(&[("date".into(), reason)], &[]);
                }
                return Vec::new();
            }
        };
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let seq = self.next_seq();
        self.review.seq = seq;
        self.review.loading = true;
        if let Some(f) = self.form_mut() {
            f.busy = true;
        }
        vec![Effect::JumpReview {
            seq,
            org,
            date,
            worker: self.review.worker.as_ref().map(|w| w.0),
        }]
    }

    pub(crate) fn review_jumped(
        &mut self,
        seq: u64,
        date: NaiveDate,
        result: Result<Review, FieldErrors>,
    ) -> Vec<Effect> {
        let open = matches!(
            self.overlays.last(),
            Some(Overlay::Form(f)) if f.purpose == FormPurpose::JumpToDate
        );
        match result {
            Ok(r) => {
                if open {
                    self.close_form();
                }
                if seq != self.review.seq {
                    return Vec::new(); // another day was asked for since
                }
                self.review.date = date;
                self.review.selected = 0;
                self.review.top = 0;
                self.review_loaded(seq, Ok(r))
            }
            Err(e) => {
                if seq == self.review.seq {
                    self.review.loading = false;
                }
                if open && let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&e, &[]);
                } else {
                    let text: Vec<String> = e.into_iter().map(|(_, r)| r).collect();
                    self.flash(Level::Error, text.join("; "));
                }
                Vec::new()
            }
        }
    }

    pub(crate) fn reopen_confirmed(&mut self, date: NaiveDate) -> Vec<Effect> {
        match self.org_box() {
            Some(org) => {
                self.flash(Level::Info, format!("reopening {date}…"));
                vec![Effect::ReopenDay { org, date }]
            }
            None => Vec::new(),
        }
    }

    pub(crate) fn day_reopened(&mut self, date: NaiveDate, r: Result<u64, String>) -> Vec<Effect> {
        match r {
            Ok(n) => {
                self.flash(
                    Level::Ok,
                    format!(
                        "{date} reopened ({n} closed day{} opened again)",
                        if n == 1 { "" } else { "s" }
                    ),
                );
                self.review_reload()
            }
            Err(e) => {
                self.overlays.push(Overlay::Message(
                    crate::tui::widgets::dialog::Message::error("Day not reopened", e),
                ));
                Vec::new()
            }
        }
    }

    pub(crate) fn day_closed(&mut self, date: NaiveDate, r: Result<(), String>) -> Vec<Effect> {
        match r {
            Ok(()) => {
                self.flash(Level::Ok, format!("{date} closed"));
                self.review_reload()
            }
            Err(e) => {
                self.overlays.push(Overlay::Message(
                    crate::tui::widgets::dialog::Message::error("Day not closed", e),
                ));
                Vec::new()
            }
        }
    }
}
