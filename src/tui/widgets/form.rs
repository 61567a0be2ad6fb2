//! A form: labelled text fields, one focused, each with the core's message for it. The
//! form only collects text; the core parses and validates it and names the bad fields.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: Option<String>,
    pub hint: String,
}

impl Field {
    pub fn new(key: &'static str, label: &'static str, value: impl Into<String>) -> Field {
        Field {
            key,
            label,
            value: value.into(),
            error: None,
            hint: String::new(),
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Field {
        self.hint = hint.into();
        self
    }
}

/// What a submitted form turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormPurpose {
    AddMember,
    EditMember {
        id: i64,
        /// The member's version when the form was filled (a save over a newer one is refused).
        version: i64,
    },
    RecordCollection,
    Reverse,
    AuditFilter,
    MemberFilter,
    Download {
        id: String,
    },
    ExportMembers,
    ImportMembers,
    RestoreTables {
        id: String,
    },
    RestoreConfirm {
        id: String,
        scope: crate::tui::backup_tasks::RestoreScope,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub purpose: FormPurpose,
    /// Waiting for the core's answer.
    pub busy: bool,
    /// A problem that belongs to no one field.
    pub note: Option<String>,
    /// Lines of explanation above the fields.
    pub intro: Vec<String>,
}

impl Form {
    pub fn new(title: impl Into<String>, purpose: FormPurpose, fields: Vec<Field>) -> Form {
        Form {
            title: title.into(),
            fields,
            focus: 0,
            purpose,
            busy: false,
            note: None,
            intro: Vec::new(),
        }
    }

    pub fn value(&self, key: &str) -> String {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.trim().to_string())
            .unwrap_or_default()
    }

    pub fn input(&mut self, ch: char) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.value.push(ch);
            f.error = None;
        }
    }

    pub fn backspace(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.value.pop();
            f.error = None;
        }
    }

    pub fn clear(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.value.clear();
            f.error = None;
        }
    }

    pub fn next(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + 1) % self.fields.len();
        }
    }

    pub fn prev(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
        }
    }

    /// Put the core's messages on their fields; the rest goes into the note. The focus
    /// moves to the first field with a problem.
    pub fn set_errors(&mut self, errors: &[(String, String)], aliases: &[(&str, &str)]) {
        for f in &mut self.fields {
            f.error = None;
        }
        self.note = None;
        let mut first = None;
        let mut notes = Vec::new();
        for (field, reason) in errors {
            let key = aliases
                .iter()
                .find(|(from, _)| from == field)
                .map(|(_, to)| *to)
                .unwrap_or(field.as_str());
            match self.fields.iter().position(|f| f.key == key) {
                Some(i) => {
                    let f = &mut self.fields[i];
                    f.error = Some(match &f.error {
                        Some(prev) => format!("{prev}; {reason}"),
                        None => reason.clone(),
                    });
                    first = Some(first.map_or(i, |x: usize| x.min(i)));
                }
                None if field.is_empty() => notes.push(reason.clone()),
                None => notes.push(format!("{field}: {reason}")),
            }
        }
        if !notes.is_empty() {
            self.note = Some(notes.join("; "));
        }
        if let Some(i) = first {
            self.focus = i;
        }
    }
}

pub fn draw(frame: &mut Frame, area: Rect, form: &Form, theme: &Theme) {
    let label_w = form
        .fields
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0) as u16
        + 2;
    let mut lines: Vec<Line> = Vec::new();
    for l in &form.intro {
        lines.push(Line::raw(l.clone()));
    }
    if !form.intro.is_empty() {
        lines.push(Line::default());
    }
    for (i, f) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let label = format!("{:>w$}  ", f.label, w = label_w as usize);
        let value_style = if focused {
            theme.field_focus()
        } else {
            theme.text()
        };
        let mut spans = vec![
            Span::styled(
                label,
                if focused {
                    theme.heading()
                } else {
                    theme.muted()
                },
            ),
            Span::styled(f.value.clone(), value_style),
        ];
        if focused {
            spans.push(Span::styled("▏", theme.key()));
        }
        if !f.hint.is_empty() && f.value.is_empty() {
            spans.push(Span::styled(format!(" {}", f.hint), theme.muted()));
        }
        lines.push(Line::from(spans));
        if let Some(e) = &f.error {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(label_w as usize + 2)),
                Span::styled(format!("✗ {e}"), theme.bad()),
            ]));
        }
    }
    if let Some(n) = &form.note {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(format!("✗ {n}"), theme.bad())));
    }
    if form.busy {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("saving…", theme.warn())));
    }
    let width = area.width.saturating_sub(4).clamp(20, 76);
    let height = (wrapped_height(&lines, width.saturating_sub(2)) + 2).min(area.height);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Span::styled(format!(" {} ", form.title), theme.title()))
        .border_style(theme.border());
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// Rows `lines` take when wrapped at `width` columns.
pub fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let w = width.max(1) as usize;
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(w) as u16)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_land_on_their_fields_and_focus_the_first() {
        let mut f = Form::new(
            "t",
            FormPurpose::AddMember,
            vec![
                Field::new("name", "Name", ""),
                Field::new("nid", "NID", "12"),
                Field::new("loan_amount", "Loan", "x"),
            ],
        );
        f.focus = 0;
        f.set_errors(
            &[
                ("loan_amount".into(), "must be an amount".into()),
                ("nid".into(), "must have 10, 13 or 17 digits".into()),
                ("".into(), "database is busy".into()),
            ],
            &[],
        );
        assert_eq!(f.focus, 1);
        assert!(f.fields[1].error.as_deref().unwrap().contains("digits"));
        assert!(f.fields[2].error.is_some());
        assert_eq!(f.note.as_deref(), Some("database is busy"));
        f.input('3');
        assert_eq!(f.fields[1].value, "123");
        assert!(f.fields[1].error.is_none());
    }
}
