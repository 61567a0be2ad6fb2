//! Audit view: the log newest first, with the filter in the title.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::tui::app::App;
use crate::tui::views::{Align, notice, row, shown_error, table_line};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let p = &app.audit;
    let filter = p.filter_text();
    let mut title = format!(" Audit log · newest first · {} shown ", p.entries.len());
    if !filter.is_empty() {
        title.push_str(&format!("· {filter} "));
    }
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(title, t.title()))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if shown_error(frame, inner, p.error.as_ref(), t.bad()) {
        return;
    }
    if p.entries.is_empty() {
        let text = if p.loading {
            "Loading the audit log…"
        } else if filter.is_empty() {
            "The audit log is empty."
        } else {
            "No entry matches the filter. Esc clears it."
        };
        notice(frame, inner, vec![Line::raw(text)], t.muted());
        return;
    }
    let [inner, detail_area] = ratatui::layout::Layout::vertical([
        ratatui::layout::Constraint::Min(1),
        ratatui::layout::Constraint::Length(2),
    ])
    .areas(inner);
    if let Some(e) = p.entries.get(p.selected) {
        let text = format!(
            " {} {} {} → {}: {}",
            app.clock().minute(e.at),
            e.actor,
            e.action,
            e.target,
            e.detail
        );
        frame.render_widget(
            Paragraph::new(Line::styled(text, t.muted()))
                .wrap(ratatui::widgets::Wrap { trim: false }),
            detail_area,
        );
    }
    let w = inner.width as usize;
    let wide = w >= 110;
    let fixed = [
        16,
        if wide { 12 } else { 8 },
        if wide { 20 } else { 17 },
        if wide { 22 } else { 14 },
        7,
    ];
    let detail = w.saturating_sub(fixed.iter().sum::<usize>() + 5 + 1).max(4);
    // times on the organization's clock, named once in the heading
    let at_heading = format!("At ({})", app.clock().label());
    let cols = [
        (at_heading.as_str(), fixed[0], Align::Left),
        ("Actor", fixed[1], Align::Left),
        ("Action", fixed[2], Align::Left),
        ("Target", fixed[3], Align::Left),
        ("Outcome", fixed[4], Align::Left),
        ("Detail", detail, Align::Left),
    ];
    let mut lines = vec![Line::styled(format!(" {}", row(&cols)), t.heading())];
    let height = inner.height.saturating_sub(1) as usize;
    for (i, e) in p.entries.iter().enumerate().skip(p.top).take(height) {
        let when = app.clock().minute(e.at);
        let values = [
            when.as_str(),
            e.actor.as_str(),
            e.action.as_str(),
            e.target.as_str(),
            e.outcome.as_str(),
            e.detail.as_str(),
        ];
        let selected = i == p.selected;
        let s = table_line(&cols, &values, selected, w);
        let style = if selected {
            t.selected()
        } else if e.went_wrong() {
            t.bad()
        } else {
            t.text()
        };
        lines.push(Line::styled(s, style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
