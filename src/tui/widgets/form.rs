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
    /// What the field may be picked from (a list under it while it has the focus: typing
    /// narrows it, ↑↓ move, Enter takes the one marked). Empty: free text only.
    pub choices: Vec<String>,
    /// The marked one among [`Field::matches`].
    pub pick: usize,
}

/// Choices a list under a field shows at most (the rest: "type to narrow").
pub const CHOICES_SHOWN: usize = 5;

impl Field {
    pub fn new(key: &'static str, label: &'static str, value: impl Into<String>) -> Field {
        Field {
            key,
            label,
            value: value.into(),
            error: None,
            hint: String::new(),
            choices: Vec::new(),
            pick: 0,
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Field {
        self.hint = hint.into();
        self
    }
    pub fn choices(mut self, choices: Vec<String>) -> Field {
        self.choices = choices;
        self
    }

    /// The choices that hold the typed text (case does not matter); all when nothing is
    /// typed or when the text is already one of them.
    pub fn matches(&self) -> Vec<&str> {
        let typed = self.value.trim().to_lowercase();
        let exact = self.choices.iter().any(|c| c.to_lowercase() == typed);
        self.choices
            .iter()
            .filter(|c| typed.is_empty() || exact || c.to_lowercase().contains(&typed))
            .map(String::as_str)
            .collect()
    }

    /// Whether the value is already one of the choices (nothing left to pick).
    fn settled(&self) -> bool {
        let typed = self.value.trim().to_lowercase();
        self.choices.iter().any(|c| c.to_lowercase() == typed)
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
    /// The review's "go to a date" prompt.
    JumpToDate,
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
    /// A member's new loan, withdrawal, write-off or close.
    Account(crate::tui::pages::AccountForm),
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
    /// The values the form opened with: leaving a form that differs asks first.
    pub initial: Vec<String>,
}

impl Form {
    pub fn new(title: impl Into<String>, purpose: FormPurpose, fields: Vec<Field>) -> Form {
        Form {
            title: title.into(),
            initial: fields.iter().map(|f| f.value.clone()).collect(),
            fields,
            focus: 0,
            purpose,
            busy: false,
            note: None,
            intro: Vec::new(),
        }
    }

    /// Whether anything was typed since the form opened (then leaving it asks first).
    pub fn changed(&self) -> bool {
        self.fields.iter().map(|f| &f.value).ne(self.initial.iter())
    }

    /// The focused field, when it is picked from a list that is showing.
    fn open_choices(&self) -> Option<&Field> {
        self.fields
            .get(self.focus)
            .filter(|f| !f.choices.is_empty() && !f.matches().is_empty())
    }

    /// ↑/↓: move in the focused field's list when it shows one, else to the field before
    /// or after.
    pub fn up(&mut self) {
        match self.open_choices().map(|f| f.matches().len()) {
            Some(_) if !self.fields[self.focus].settled() => {
                let f = &mut self.fields[self.focus];
                f.pick = f.pick.saturating_sub(1);
            }
            _ => self.prev(),
        }
    }

    pub fn down(&mut self) {
        match self.open_choices().map(|f| f.matches().len()) {
            Some(n) if !self.fields[self.focus].settled() => {
                let f = &mut self.fields[self.focus];
                f.pick = (f.pick + 1).min(n - 1);
            }
            _ => self.next(),
        }
    }

    /// Enter on a field whose list shows: take the marked choice and go on to the next
    /// field (true); otherwise Enter submits (false).
    pub fn take_choice(&mut self) -> bool {
        let Some(f) = self.open_choices() else {
            return false;
        };
        if f.settled() {
            return false;
        }
        let chosen = f.matches().get(f.pick).map(|c| c.to_string());
        match chosen {
            Some(c) => {
                let f = &mut self.fields[self.focus];
                f.value = c;
                f.error = None;
                f.pick = 0;
                self.next();
                true
            }
            None => false,
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
            f.pick = 0;
        }
    }

    pub fn backspace(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.value.pop();
            f.error = None;
            f.pick = 0;
        }
    }

    pub fn clear(&mut self) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.value.clear();
            f.error = None;
            f.pick = 0;
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
    let width = area.width.saturating_sub(4).clamp(20, 76);
    // text inside the border; messages wrap under their field, never cut
    let inner_w = width.saturating_sub(2) as usize;
    let indent = label_w as usize + 2;
    let mut lines: Vec<Line> = Vec::new();
    // wrapped here, by words, so the box is as tall as the text (nothing cut at the bottom)
    for l in &form.intro {
        lines.extend(wrap_words(l, inner_w).into_iter().map(Line::raw));
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
        if focused && !f.choices.is_empty() && !f.settled() {
            choice_lines(&mut lines, f, indent, inner_w, theme);
        }
        if let Some(e) = &f.error {
            // continuation lines line up under the text, after the ✗
            for part in problem_lines(e, inner_w.saturating_sub(indent)) {
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled(part, theme.bad()),
                ]));
            }
        }
    }
    if let Some(n) = &form.note {
        lines.push(Line::default());
        for part in problem_lines(n, inner_w) {
            lines.push(Line::from(Span::styled(part, theme.bad())));
        }
    }
    if form.busy {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled("saving…", theme.warn())));
    }
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

/// The focused field's list: the matching choices (the marked one with ▶), at most
/// [`CHOICES_SHOWN`], and how to narrow the rest.
fn choice_lines(lines: &mut Vec<Line>, f: &Field, indent: usize, width: usize, theme: &Theme) {
    let matches = f.matches();
    if matches.is_empty() {
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled("no active worker matches; type a name or id", theme.muted()),
        ]));
        return;
    }
    let pick = f.pick.min(matches.len() - 1);
    // keep the marked one in the window
    let first = (pick + 1).saturating_sub(CHOICES_SHOWN);
    for (i, c) in matches.iter().enumerate().skip(first).take(CHOICES_SHOWN) {
        let marked = i == pick;
        let text = crate::tui::widgets::fit(
            &format!("{}{c}", if marked { "▶ " } else { "  " }),
            width.saturating_sub(indent),
            false,
        );
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled(
                text,
                if marked {
                    theme.selected()
                } else {
                    theme.text()
                },
            ),
        ]));
    }
    let more = matches.len().saturating_sub(CHOICES_SHOWN);
    let help = if more > 0 {
        format!("  {more} more: type to narrow · ↑↓ choose · Enter take")
    } else {
        "  ↑↓ choose · Enter take · or type a name".to_string()
    };
    lines.push(Line::from(vec![
        Span::raw(" ".repeat(indent)),
        Span::styled(help, theme.muted()),
    ]));
}

/// A problem as lines of at most `width` columns: `✗ ` before the first, two spaces
/// before the rest.
fn problem_lines(text: &str, width: usize) -> Vec<String> {
    wrap_words(text, width.saturating_sub(2))
        .into_iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}", if i == 0 { "✗ " } else { "  " }))
        .collect()
}

/// Break `text` into lines of at most `width` columns at spaces (a word longer than the
/// line is cut into pieces), so a long message shows whole.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    // an indented line stays indented, its continuations too
    let body = text.trim_start_matches(' ');
    let indent = text.len() - body.len();
    if indent > 0 && indent + 8 <= width {
        let pad = " ".repeat(indent);
        return wrap_words(body, width - indent)
            .into_iter()
            .map(|l| format!("{pad}{l}"))
            .collect();
    }
    wrap_body(body, width)
}

fn wrap_body(text: &str, width: usize) -> Vec<String> {
    use crate::tui::text;
    use unicode_segmentation::UnicodeSegmentation;
    let width = width.max(8);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let sep = usize::from(!line.is_empty());
            if text::width(&line) + sep + text::width(&word) <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
                continue;
            }
            // a word wider than the line: as many letters (whole clusters) as fit, then the rest
            let mut head = String::new();
            let mut cut = word.len();
            for (at, g) in word.grapheme_indices(true) {
                if !head.is_empty() && text::width(&head) + text::width(g) > width {
                    cut = at;
                    break;
                }
                head.push_str(g);
            }
            if cut < word.len() {
                out.push(head);
                word = word[cut..].to_string();
            } else {
                line = head;
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
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

    #[test]
    fn a_form_is_changed_only_when_a_value_differs_from_the_opening_one() {
        let mut f = Form::new(
            "t",
            FormPurpose::AddMember,
            vec![Field::new("status", "Status", "active")],
        );
        assert!(!f.changed());
        f.input('x');
        assert!(f.changed());
        f.backspace();
        assert!(!f.changed(), "typed back to what it was");
    }

    #[test]
    fn typing_narrows_the_choices_and_enter_takes_the_marked_one() {
        let mut f = Form::new(
            "t",
            FormPurpose::AddMember,
            vec![
                Field::new("worker", "Worker", "").choices(vec![
                    "Karim Uddin".into(),
                    "Salma Begum".into(),
                    "Abdul Karim".into(),
                ]),
                Field::new("loan", "Loan", ""),
            ],
        );
        assert_eq!(f.fields[0].matches().len(), 3);
        for c in "kar".chars() {
            f.input(c);
        }
        assert_eq!(f.fields[0].matches(), ["Karim Uddin", "Abdul Karim"]);
        f.down();
        assert_eq!(f.focus, 0, "↓ moves in the list, not to the next field");
        assert!(f.take_choice());
        assert_eq!(f.fields[0].value, "Abdul Karim");
        assert_eq!(f.focus, 1, "the next field after taking a choice");
        f.prev();
        assert!(!f.take_choice(), "a value already chosen: Enter submits");
    }

    #[test]
    fn long_words_and_sentences_wrap_to_the_width() {
        let lines = wrap_words("must be 01[3-9] and 8 digits, got a much longer text", 16);
        assert!(lines.iter().all(|l| l.chars().count() <= 16), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "must be 01[3-9] and 8 digits, got a much longer text"
        );
        assert_eq!(wrap_words("abcdefghijkl", 8), ["abcdefgh", "ijkl"]);
        assert_eq!(
            wrap_words("  row 3: a long reason here", 16),
            ["  row 3: a long", "  reason here"]
        );
    }
}
