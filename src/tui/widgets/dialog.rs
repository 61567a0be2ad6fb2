//! Dialogs over the views: a confirmation that carries the action it confirms (gitui's
//! `ConfirmAction`), a message with scrolling text, a list to pick from, a progress gauge.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, List, ListItem, ListState, Paragraph, Wrap};

use crate::tui::theme::Theme;
use crate::tui::widgets::centered;

/// What a "yes" in a confirmation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    CloseDay {
        date: chrono::NaiveDate,
    },
    DeleteBackup {
        id: String,
    },
    /// Import the members CSV at `path` (typed as in the form) after its clean dry run.
    ImportMembers {
        path: String,
    },
    /// Run a scheduled job that deletes (prune) now, as the operator.
    RunJob {
        job: String,
    },
    /// Reopen a closed day (and every later closed day) of the current organization.
    ReopenDay {
        date: chrono::NaiveDate,
    },
    /// Close the form on top, throwing away what was typed in it.
    DiscardForm,
    /// Quit although a form holds typed values.
    QuitDiscardingForm,
    /// A yes of the Backups tab (unpin and delete, create the download folder).
    Backup(crate::tui::pages::BackupConfirm),
    /// A yes about a member's accounts (writing off a loan).
    Account(crate::tui::pages::AccountConfirm),
}

impl Confirmed {
    /// Whether Enter says yes too (only where nothing is lost by a slip of the finger:
    /// the import was checked in full by the dry run the dialog reports).
    pub fn enter_confirms(&self) -> bool {
        matches!(self, Confirmed::ImportMembers { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub yes: Confirmed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub title: String,
    pub lines: Vec<String>,
    pub error: bool,
    pub scroll: u16,
}

impl Message {
    pub fn info(title: impl Into<String>, lines: Vec<String>) -> Message {
        Message {
            title: title.into(),
            lines,
            error: false,
            scroll: 0,
        }
    }
    pub fn error(title: impl Into<String>, text: impl Into<String>) -> Message {
        Message {
            title: title.into(),
            lines: text.into().lines().map(str::to_string).collect(),
            error: true,
            scroll: 0,
        }
    }
}

/// What a choice in a picker sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    Organization,
    Worker,
    /// The restore wizard's "what": `None` everything, `Some(0)` chosen tables, else an
    /// organization id.
    RestoreScope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub title: String,
    pub items: Vec<(String, Option<i64>)>,
    pub selected: usize,
    pub purpose: PickFor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressView {
    pub title: String,
    pub stage: String,
    pub done: u64,
    pub total: u64,
    pub cancelling: bool,
}

fn frame_block<'a>(title: &str, theme: &Theme, error: bool) -> Block<'a> {
    Block::bordered()
        .title(Span::styled(
            format!(" {title} "),
            if error { theme.bad() } else { theme.title() },
        ))
        .border_style(if error { theme.bad() } else { theme.border() })
}

fn box_for(area: Rect, lines: usize, max_w: u16) -> Rect {
    let width = area.width.saturating_sub(4).clamp(10, max_w);
    centered(area, width, lines as u16 + 2)
}

/// Lines wrapped by words at `width`, so the box is as tall as its text.
fn wrapped(lines: &[String], width: u16) -> Vec<Line<'static>> {
    lines
        .iter()
        .flat_map(|l| crate::tui::widgets::form::wrap_words(l, width as usize))
        .map(Line::raw)
        .collect()
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, c: &Confirm, theme: &Theme) {
    let width = area.width.saturating_sub(4).clamp(10, 64);
    let mut lines = wrapped(&c.lines, width.saturating_sub(2));
    lines.push(Line::default());
    let mut keys = vec![Span::styled("y", theme.key())];
    if c.yes.enter_confirms() {
        keys.push(Span::raw("/"));
        keys.push(Span::styled("Enter", theme.key()));
    }
    keys.extend([
        Span::raw(" yes   "),
        Span::styled("n", theme.key()),
        Span::raw("/"),
        Span::styled("Esc", theme.key()),
        Span::raw(" no"),
    ]);
    lines.push(Line::from(keys));
    let rect = centered(
        area,
        width,
        crate::tui::widgets::form::wrapped_height(&lines, width.saturating_sub(2)) + 2,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(frame_block(&c.title, theme, false))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

pub fn draw_message(frame: &mut Frame, area: Rect, m: &Message, theme: &Theme) {
    let width = area.width.saturating_sub(4).clamp(10, 76);
    let lines = wrapped(&m.lines, width.saturating_sub(2));
    let h = crate::tui::widgets::form::wrapped_height(&lines, width.saturating_sub(2)) + 2;
    let rect = centered(area, width, h.min(area.height));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(frame_block(&m.title, theme, m.error))
            .wrap(Wrap { trim: false })
            .scroll((m.scroll, 0)),
        rect,
    );
}

pub fn draw_picker(frame: &mut Frame, area: Rect, p: &Picker, theme: &Theme) {
    let max_h = area.height.saturating_sub(2) as usize;
    let rect = box_for(area, p.items.len().min(max_h), 48);
    frame.render_widget(Clear, rect);
    let items: Vec<ListItem> = p
        .items
        .iter()
        .map(|(label, _)| ListItem::new(label.clone()))
        .collect();
    let mut state = ListState::default().with_selected(Some(p.selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(frame_block(&p.title, theme, false))
            .highlight_style(theme.selected())
            .highlight_symbol("▶ "),
        rect,
        &mut state,
    );
}

pub fn draw_progress(frame: &mut Frame, area: Rect, p: &ProgressView, theme: &Theme) {
    let rect = box_for(area, 4, 64);
    frame.render_widget(Clear, rect);
    let block = frame_block(&p.title, theme, false);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [stage, gauge, _, hint] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(p.stage.clone()), stage);
    let ratio = if p.total > 0 {
        (p.done as f64 / p.total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let label = if p.total > 0 {
        format!("{} / {} rows", p.done, p.total)
    } else {
        format!("{} rows", p.done)
    };
    frame.render_widget(
        Gauge::default()
            .gauge_style(theme.gauge())
            .ratio(ratio)
            .label(label),
        gauge,
    );
    let hint_text = if p.cancelling {
        "cancelling…".to_string()
    } else {
        "Esc cancel".to_string()
    };
    frame.render_widget(Paragraph::new(Span::styled(hint_text, theme.muted())), hint);
}
