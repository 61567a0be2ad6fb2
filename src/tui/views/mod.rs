//! Drawing: `draw(frame, &app)` paints the whole screen from the state and nothing else —
//! the frame (header, tabs, status, footer), the current view, then any dialogs on top.

mod audit;
pub(crate) mod backups;
mod closing;
mod detail;
mod help;
mod members;
mod report;
mod review;
mod scheduler;
mod statement;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::scheduler::status::is_late;
use crate::tui::app::{App, Level, MIN_HEIGHT, MIN_WIDTH, Overlay, Tab};
use crate::tui::keymap;
use crate::tui::text;
use crate::tui::widgets::form::FormPurpose;
use crate::tui::widgets::{centered, dialog, fit, form};

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return;
    }
    let [header, tabs, body, status, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app);
    draw_tabs(frame, tabs, app);
    match app.tab {
        Tab::Members => members::draw(frame, body, app),
        Tab::Collections => review::draw(frame, body, app),
        Tab::Backups => backups::draw(frame, body, app),
        Tab::Scheduler => scheduler::draw(frame, body, app),
        Tab::Audit => audit::draw(frame, body, app),
    }
    draw_status(frame, status, app);
    draw_footer(frame, footer, app);
    for o in &app.overlays {
        match o {
            Overlay::Help { scroll } => help::draw(frame, body, app, *scroll),
            Overlay::Detail(d) => detail::draw(frame, body, app, d),
            Overlay::Closing(c) => closing::draw(frame, body, app, c),
            Overlay::Statement(p) => statement::draw(frame, body, app, p),
            Overlay::Report(p) => report::draw(frame, body, app, p),
            Overlay::Form(f) if f.purpose == FormPurpose::MemberFilter => {
                filter_bar(frame, status, app, f)
            }
            Overlay::Form(f) => form::draw(frame, body, f, &app.theme),
            Overlay::Confirm(c) => dialog::draw_confirm(frame, body, c, &app.theme),
            Overlay::Message(m) => dialog::draw_message(frame, body, m, &app.theme),
            Overlay::Picker(p) => dialog::draw_picker(frame, body, p, &app.theme),
            Overlay::Progress(p) => dialog::draw_progress(frame, body, p, &app.theme),
        }
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let text = vec![
        Line::styled("terminal too small", app.theme.bad()),
        Line::raw(format!(
            "{}×{} here; Somiti needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::raw("q quits"),
    ];
    let h = (text.len() as u16).min(area.height);
    let rect = centered(area, area.width, h);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .alignment(ratatui::layout::Alignment::Center),
        rect,
    );
}

/// "3 h", "2 d", "45 min": how long ago, in words that fit a header.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let m = (now - then).num_minutes().max(0);
    if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        format!("{} h", m / 60)
    } else {
        format!("{} d", m / (24 * 60))
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width as usize;
    let org = match app.org() {
        Some(o) => format!("{} · {}", o.code, o.name),
        None => "no organization yet".into(),
    };
    // the business date, and the clock it is on (every time on screen uses that clock)
    let date = format!(
        "{} ({})",
        app.today().format("%a %d %b %Y"),
        app.clock().label()
    );
    let who = format!("{} ({})", app.operator.username, app.operator.role.as_str());
    let switch = if app.orgs.len() > 1 { " [o]" } else { "" };
    let right = format!("{date}  {who}");
    let left_w = w.saturating_sub(text::width(&right) + 2 + switch.len() + 1);
    let left = fit(&format!(" {org}"), left_w, false);
    let pad =
        w.saturating_sub(text::layout_width(&left) + switch.len() + text::layout_width(&right) + 1);
    let line1 = Line::from(vec![
        Span::styled(left, t.title()),
        Span::styled(switch, t.muted()),
        Span::raw(" ".repeat(pad)),
        Span::styled(date, t.heading()),
        Span::raw("  "),
        Span::raw(who),
        Span::raw(" "),
    ]);
    let offsite = !app.facts.offsite_targets.is_empty();
    let stale = |at: DateTime<Utc>| is_late(at, app.now, app.facts.backup_allowance);
    let (backup_text, backup_style) = match app.facts.newest_verified {
        None => ("backup: none verified".to_string(), t.bad()),
        // with off-site targets, shorter: "verified backup 3 h · off-site 3 h"
        Some(at) if offsite => (
            format!("verified backup {}", age(app.now, at)),
            if stale(at) { t.bad() } else { t.ok() },
        ),
        Some(at) => (
            format!("verified backup {} ago", age(app.now, at)),
            if stale(at) { t.bad() } else { t.ok() },
        ),
    };
    // The newest verified off-site copy, only when a target is configured.
    let (offsite_text, offsite_style) = match app.facts.newest_offsite {
        _ if !offsite => (String::new(), t.muted()),
        None => (" · off-site: none".to_string(), t.bad()),
        Some(at) => (
            format!(" · off-site {}", age(app.now, at)),
            if stale(at) { t.bad() } else { t.ok() },
        ),
    };
    let sched = format!("scheduler: {}", app.facts.scheduler);
    let fixed = text::width(&sched) + text::width(&backup_text) + text::width(&offsite_text) + 5;
    // "sqlite /path/x.db" → the path (the end is the part that tells files apart)
    let db_text = app
        .facts
        .database
        .strip_prefix("sqlite ")
        .unwrap_or(&app.facts.database);
    let db = fit(db_text, w.saturating_sub(fixed), true);
    let line2 = Line::from(vec![
        Span::styled(format!(" {db}"), t.muted()),
        Span::raw("  "),
        Span::styled(sched, t.muted()),
        Span::raw("  "),
        Span::styled(backup_text, backup_style),
        Span::styled(offsite_text, offsite_style),
    ]);
    frame.render_widget(Paragraph::new(vec![line1, line2]), area);
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!("{} {}", i + 1, tab.title());
        if *tab == app.tab {
            spans.push(Span::styled(format!("[{label}]"), t.tab_active()));
        } else {
            spans.push(Span::styled(format!(" {label} "), t.muted()));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let line = match &app.flash {
        Some(f) => {
            let style = match f.level {
                Level::Info => t.text(),
                Level::Ok => t.ok(),
                Level::Error => t.bad(),
            };
            Line::styled(
                fit(&format!(" {}", f.text), area.width as usize, false),
                style,
            )
        }
        None => {
            let busy = app.members.loading || app.review.loading || app.audit.loading;
            if busy {
                Line::styled(" loading…", t.muted())
            } else {
                Line::default()
            }
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, help) in keymap::footer(app) {
        let wdt = text::width(&key) + text::width(help) + 3;
        if used + wdt > area.width as usize {
            break;
        }
        used += wdt;
        spans.push(Span::styled(key, t.key()));
        spans.push(Span::raw(format!(" {help}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn filter_bar(frame: &mut Frame, area: Rect, app: &App, f: &form::Form) {
    let t = &app.theme;
    let value = f.fields.first().map(|x| x.value.as_str()).unwrap_or("");
    let line = Line::from(vec![
        Span::styled(" / ", t.key()),
        Span::styled(value.to_string(), t.field_focus()),
        Span::styled("▏", t.key()),
        Span::styled(
            if value.is_empty() {
                "  name, number, mobile or NID"
            } else {
                ""
            },
            t.muted(),
        ),
    ]);
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(Paragraph::new(line), area);
}

/// Column alignment for `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One table line from cells of fixed widths (terminal columns), one space apart: each
/// cell cut to its width with the terminal's measure and padded to it ([`text::pad`]).
pub fn row(cells: &[(&str, usize, Align)]) -> String {
    let mut out = String::new();
    for (i, (value, width, align)) in cells.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let align = match align {
            Align::Left => text::Align::Left,
            Align::Right => text::Align::Right,
        };
        out.push_str(&text::pad(value, *width, align));
    }
    out
}

/// A list row: the selection marker and `line`, padded to `width`.
pub fn marked_line(selected: bool, line: &str, width: usize) -> String {
    let mut s = format!("{}{line}", if selected { "▶" } else { " " });
    let fill = text::fill_to(&s, width);
    s.push_str(&fill);
    s
}

/// `marked_line` of `values` laid out under the table's columns (name, width, alignment).
pub fn table_line<S: AsRef<str>>(
    cols: &[(&str, usize, Align)],
    values: &[S],
    selected: bool,
    width: usize,
) -> String {
    let cells: Vec<(&str, usize, Align)> = cols
        .iter()
        .zip(values)
        .map(|((_, w, a), v)| (v.as_ref(), *w, *a))
        .collect();
    marked_line(selected, &row(&cells), width)
}

/// Draw the view's error in the middle of its area, if it has one; true when it did.
pub fn shown_error(frame: &mut Frame, area: Rect, error: Option<&String>, style: Style) -> bool {
    match error {
        Some(e) => {
            notice(frame, area, vec![Line::raw(e.clone())], style);
            true
        }
        None => false,
    }
}

/// A view's empty state or error, in the middle of its area.
pub fn notice(frame: &mut Frame, area: Rect, lines: Vec<Line>, style: Style) {
    let h = (lines.len() as u16).min(area.height);
    let rect = centered(area, area.width.saturating_sub(4), h);
    frame.render_widget(
        Paragraph::new(lines)
            .style(style)
            .wrap(Wrap { trim: true })
            .alignment(ratatui::layout::Alignment::Center),
        rect,
    );
}
