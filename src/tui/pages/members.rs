//! Members: the register paged from the database (a window of rows around what is on
//! screen, never every row), filter and sort, details, and the add/edit form.

use crate::ledger::member::{Member, MemberDetail, MemberQuery, MemberRow, MemberSort};
use crate::ledger::money;
use crate::tui::app::{App, Level, Overlay, movement, scroll_to, step};
use crate::tui::keymap::Action;
use crate::tui::tasks::{Effect, FieldErrors, MemberText};
use crate::tui::widgets::form::{Field, Form, FormPurpose};

/// Rows fetched per query; the window slides as the selection moves.
pub const PAGE: i64 = 120;

#[derive(Debug, Clone, Default)]
pub struct MembersPage {
    /// The loaded window: rows `offset .. offset + rows.len()` of the filtered register.
    pub rows: Vec<MemberRow>,
    pub offset: i64,
    pub total: i64,
    pub selected: usize,
    pub top: usize,
    pub filter: String,
    /// The filter before `/` was pressed, to go back to on Esc.
    pub filter_before: Option<String>,
    pub sort: MemberSort,
    pub loading: bool,
    pub loaded: bool,
    pub seq: u64,
    pub pending_offset: Option<i64>,
    pub error: Option<String>,
}

impl MembersPage {
    pub fn reset(&mut self) {
        *self = MembersPage::default();
    }

    /// The row at a global index, when it is in the loaded window.
    pub fn row(&self, index: usize) -> Option<&MemberRow> {
        let i = (index as i64).checked_sub(self.offset)?;
        self.rows.get(usize::try_from(i).ok()?)
    }

    pub fn selected_row(&self) -> Option<&MemberRow> {
        self.row(self.selected)
    }

    pub fn keep_visible(&mut self, height: usize) {
        self.top = scroll_to(self.top, self.selected, height);
    }

    /// The window start that covers what is on screen, when the loaded one does not.
    fn wanted_offset(&self, height: usize) -> Option<i64> {
        if self.total == 0 {
            return None;
        }
        let first = self.top as i64;
        let last = (self.top + height).min(self.total as usize) as i64;
        let end = self.offset + self.rows.len() as i64;
        if first >= self.offset && last <= end {
            return None;
        }
        Some((first - PAGE / 4).max(0))
    }
}

#[derive(Debug, Clone)]
pub struct DetailPage {
    pub member_no: String,
    pub detail: Option<MemberDetail>,
    pub error: Option<String>,
}

fn member_fields(m: Option<&Member>, worker: &str, workers: Vec<String>) -> Vec<Field> {
    let worker_hint = if workers.is_empty() {
        "name or id".to_string()
    } else {
        "type to narrow, ↑↓ pick".to_string()
    };
    let v = |f: fn(&Member) -> String| m.map(f).unwrap_or_default();
    // A new member may come with a first loan; an edit never changes money.
    let first_loan = if m.is_none() {
        vec![
            Field::new("loan_amount", "Loan (taka)", String::new()),
            Field::new("daily_installment", "Installment/day", String::new()),
        ]
    } else {
        Vec::new()
    };
    let mut fields = vec![
        Field::new("member_no", "Member no", v(|m| m.member_no.clone())),
        Field::new("name", "Name", v(|m| m.name.clone())),
        Field::new("nid", "NID", v(|m| m.nid.clone())).hint("10, 13 or 17 digits"),
        Field::new("mobile", "Mobile", v(|m| m.mobile.clone())).hint("01XXXXXXXXX"),
        Field::new("worker", "Worker", worker)
            .hint(worker_hint)
            .choices(workers),
        Field::new(
            "daily_savings",
            "Savings/day",
            v(|m| money::plain(m.daily_savings)),
        ),
        Field::new(
            "status",
            "Status",
            m.map(|m| m.status.clone())
                .unwrap_or_else(|| "active".into()),
        )
        .hint("↑↓ pick; to close a member: C in their details")
        .choices(
            crate::ledger::member::SETTABLE_STATUSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        Field::new("joined_on", "Joined on", v(|m| m.joined_on.to_string()))
            .hint("YYYY-MM-DD, empty for today"),
    ];
    let at = fields.len() - 3;
    fields.splice(at..at, first_loan);
    fields
}

impl App {
    pub(crate) fn members_query(&self, offset: i64) -> MemberQuery {
        MemberQuery {
            filter: Some(self.members.filter.clone()).filter(|f| !f.trim().is_empty()),
            sort: self.members.sort,
            limit: PAGE,
            offset,
        }
    }

    fn members_load(&mut self, offset: i64) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let seq = self.next_seq();
        self.members.seq = seq;
        self.members.loading = true;
        self.members.pending_offset = Some(offset);
        vec![Effect::LoadMembers {
            seq,
            org,
            query: self.members_query(offset),
        }]
    }

    /// Load again from the top (a new filter, sort or organization, or after a change).
    pub(crate) fn members_reload(&mut self) -> Vec<Effect> {
        let offset = (self.members.top as i64 - PAGE / 4).max(0);
        self.members_load(offset)
    }

    fn members_restart(&mut self) -> Vec<Effect> {
        self.members.selected = 0;
        self.members.top = 0;
        self.members_load(0)
    }

    pub(crate) fn members_loaded(
        &mut self,
        seq: u64,
        offset: i64,
        result: Result<(Vec<MemberRow>, i64), String>,
    ) -> Vec<Effect> {
        if seq != self.members.seq {
            return Vec::new(); // an answer to an older question
        }
        let p = &mut self.members;
        p.loading = false;
        p.pending_offset = None;
        match result {
            Ok((rows, total)) => {
                p.rows = rows;
                p.offset = offset;
                p.total = total;
                p.loaded = true;
                p.error = None;
                let max = (total as usize).saturating_sub(1);
                p.selected = p.selected.min(max);
            }
            Err(e) => p.error = Some(e),
        }
        let h = self.visible_rows();
        self.members.keep_visible(h);
        match self.members.wanted_offset(h) {
            Some(o) if self.members.error.is_none() => self.members_load(o),
            _ => Vec::new(),
        }
    }

    pub(crate) fn members_key(&mut self, action: Action) -> Vec<Effect> {
        let h = self.visible_rows();
        if let Some(d) = movement(action, h) {
            let p = &mut self.members;
            p.selected = step(p.selected, d, p.total.max(0) as usize);
            p.keep_visible(h);
            // one question at a time: the answer asks again if the window moved on
            return match p.wanted_offset(h) {
                Some(o) if !p.loading => self.members_load(o),
                _ => Vec::new(),
            };
        }
        match action {
            Action::Filter => {
                self.members.filter_before = Some(self.members.filter.clone());
                let f = Form::new(
                    "Filter",
                    FormPurpose::MemberFilter,
                    vec![
                        Field::new("filter", "Filter", self.members.filter.clone())
                            .hint("name, number, mobile or NID"),
                    ],
                );
                self.overlays.push(Overlay::Form(Box::new(f)));
                Vec::new()
            }
            Action::Back if !self.members.filter.is_empty() => {
                self.members.filter.clear();
                self.members_restart()
            }
            Action::Sort => {
                self.members.sort = self.members.sort.next();
                self.flash(
                    Level::Info,
                    format!("sorted by {}", self.members.sort.label()),
                );
                self.members_restart()
            }
            Action::Open => match self.members.selected_row() {
                Some(r) => {
                    let no = r.member.member_no.clone();
                    self.open_detail(no)
                }
                None => Vec::new(),
            },
            Action::AddMember => {
                self.open_member_form(None, "");
                Vec::new()
            }
            Action::EditMember => {
                if let Some(r) = self.members.selected_row().cloned() {
                    self.open_member_form(Some(&r.member), r.worker_name.as_deref().unwrap_or(""));
                }
                Vec::new()
            }
            Action::ExportCsv => {
                self.open_export_form();
                Vec::new()
            }
            Action::ImportCsv => {
                self.open_import_form();
                Vec::new()
            }
            Action::LedgerCheck => match self.org().cloned() {
                Some(o) => {
                    self.flash(Level::Info, "checking every running balance …");
                    vec![Effect::LedgerCheck { org: Box::new(o) }]
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The ledger check's answer: a note when every balance agrees, else the list.
    pub(crate) fn ledger_checked(
        &mut self,
        r: Result<Vec<crate::ledger::accounts::Mismatch>, String>,
    ) {
        use crate::tui::widgets::dialog::Message;
        match r {
            Ok(bad) if bad.is_empty() => self.flash(
                Level::Info,
                "ledger check: every running balance equals its entries",
            ),
            Ok(bad) => {
                let mut lines: Vec<String> = bad.iter().map(|m| m.to_string()).collect();
                lines.push(String::new());
                lines.push(
                    "nothing was changed: restore the latest verified backup, or report it".into(),
                );
                let title = format!(
                    "Ledger check: {} running balance{} disagree with the entries",
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" }
                );
                let mut m = Message::info(title, lines);
                m.error = true;
                self.overlays.push(Overlay::Message(m));
            }
            Err(e) => self.flash(Level::Error, format!("ledger check failed: {e}")),
        }
    }

    /// The filter line changed (typing in it filters as you go).
    pub(crate) fn member_filter_typed(&mut self, text: String) -> Vec<Effect> {
        if text == self.members.filter {
            return Vec::new();
        }
        self.members.filter = text;
        self.members_restart()
    }

    /// Esc in the filter line: back to the filter before it opened.
    pub(crate) fn member_filter_cancelled(&mut self) -> Vec<Effect> {
        match self.members.filter_before.take() {
            Some(before) => self.member_filter_typed(before),
            None => Vec::new(),
        }
    }

    pub(crate) fn open_detail(&mut self, member_no: String) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        self.overlays.push(Overlay::Detail(Box::new(DetailPage {
            member_no: member_no.clone(),
            detail: None,
            error: None,
        })));
        vec![Effect::LoadMember { org, member_no }]
    }

    pub(crate) fn detail_loaded(&mut self, r: Result<Box<MemberDetail>, String>) -> Vec<Effect> {
        for o in self.overlays.iter_mut().rev() {
            if let Overlay::Detail(d) = o {
                match r {
                    Ok(detail) if detail.row.member.member_no == d.member_no => {
                        d.detail = Some(*detail);
                        d.error = None;
                    }
                    Ok(_) => {}
                    Err(e) => d.error = Some(e),
                }
                break;
            }
        }
        Vec::new()
    }

    pub(crate) fn edit_from_detail(&mut self) -> Vec<Effect> {
        let row = match self.overlays.last() {
            Some(Overlay::Detail(d)) => d.detail.as_ref().map(|d| d.row.clone()),
            _ => None,
        };
        if let Some(r) = row {
            self.open_member_form(Some(&r.member), r.worker_name.as_deref().unwrap_or(""));
        }
        Vec::new()
    }

    /// The active workers' names, for the member form's worker list.
    fn active_worker_names(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|w| w.active)
            .map(|w| w.name.clone())
            .collect()
    }

    fn open_member_form(&mut self, m: Option<&Member>, worker: &str) {
        // the worker is picked from the active workers, by name
        let names = self.active_worker_names();
        let (title, purpose) = match m {
            Some(m) => (
                format!("Edit member {}", m.member_no),
                FormPurpose::EditMember {
                    id: m.id,
                    version: m.version,
                },
            ),
            None => ("New member".to_string(), FormPurpose::AddMember),
        };
        let form = Form::new(title, purpose, member_fields(m, worker, names));
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    pub(crate) fn member_form_effect(&mut self, f: &Form) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        let (id, version) = match f.purpose {
            FormPurpose::EditMember { id, version } => (Some(id), version),
            _ => (None, 0),
        };
        let text = MemberText {
            member_no: f.value("member_no"),
            name: f.value("name"),
            nid: f.value("nid"),
            mobile: f.value("mobile"),
            worker: f.value("worker"),
            loan_amount: f.value("loan_amount"),
            daily_installment: f.value("daily_installment"),
            daily_savings: f.value("daily_savings"),
            status: f.value("status"),
            joined_on: f.value("joined_on"),
        };
        vec![Effect::SaveMember {
            org,
            id,
            version,
            text,
        }]
    }

    pub(crate) fn member_saved(
        &mut self,
        added: bool,
        result: Result<Member, FieldErrors>,
    ) -> Vec<Effect> {
        match result {
            Ok(m) => {
                self.close_form();
                self.flash(
                    Level::Ok,
                    format!(
                        "member {} {} {}",
                        m.member_no,
                        m.name,
                        if added { "added" } else { "saved" }
                    ),
                );
                let mut fx = self.members_reload();
                if let Some(Overlay::Detail(d)) = self.overlays.last_mut() {
                    d.member_no = m.member_no.clone();
                    fx.extend(self.reopen_detail(m.member_no));
                }
                fx
            }
            Err(errors) => {
                let stale = errors.iter().any(|(f, _)| f == crate::tui::tasks::STALE);
                if let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&errors, &[("member_no/nid", "member_no")]);
                    if stale {
                        // the typed values stay until the operator asks for the saved ones
                        f.note = f.note.take().map(|n| {
                            format!("{n}. Ctrl-R reloads the member as saved (your typing is lost)")
                        });
                    }
                }
                Vec::new()
            }
        }
    }

    /// Ctrl-R in an edit form: read the member again (the typed values go).
    pub(crate) fn member_form_reload(&mut self) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        match self.form_mut() {
            Some(f) => match f.purpose {
                FormPurpose::EditMember { id, .. } => {
                    f.busy = true;
                    vec![Effect::ReloadMember { org, id }]
                }
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    /// The member read again: the edit form shows them as saved, with their new version.
    pub(crate) fn member_form_reloaded(&mut self, r: Result<(Member, String), String>) {
        let names = self.active_worker_names();
        let org = self.org().cloned();
        let Some(f) = self.form_mut() else { return };
        f.busy = false;
        match r {
            Ok((m, worker)) if matches!(f.purpose, FormPurpose::EditMember { id, .. } if id == m.id) =>
            {
                f.purpose = FormPurpose::EditMember {
                    id: m.id,
                    version: m.version,
                };
                f.fields = member_fields(Some(&m), &worker, names);
                f.note = Some(match (&m.updated_by, m.updated_at) {
                    (Some(by), Some(at)) => format!(
                        "reloaded: as saved by {by} at {}; make your change again",
                        org.as_ref()
                            .map(|o| format!("{} ({})", o.local_minute(at), o.tz_label()))
                            .unwrap_or_default()
                    ),
                    _ => "reloaded as saved; make your change again".into(),
                });
            }
            Ok(_) => {}
            Err(e) => f.note = Some(e),
        }
    }

    fn reopen_detail(&mut self, member_no: String) -> Vec<Effect> {
        match self.org_box() {
            Some(org) => vec![Effect::LoadMember { org, member_no }],
            None => Vec::new(),
        }
    }
}
