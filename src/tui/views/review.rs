//! Collections view: the daily review — a line per member under each worker's totals, and
//! the organization's totals at the bottom.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ledger::money::grouped;
use crate::ledger::review::{Flag, ReviewLine, Totals};
use crate::tui::app::App;
use crate::tui::pages::{ReviewRow, review_rows};
use crate::tui::views::{Align, notice, row, shown_error, table_line};
use crate::tui::widgets::fit;

fn columns(width: usize) -> Vec<(&'static str, usize, Align)> {
    let wide = width >= 110;
    let mut fixed: Vec<(&'static str, usize, Align)> = vec![
        ("Inst", 8, Align::Right),
        ("Savings", 7, Align::Right),
        ("Arrears", 9, Align::Right),
    ];
    if wide {
        fixed.push(("Due", 10, Align::Right));
    }
    fixed.push(("Collected", 9, Align::Right));
    fixed.push(("Short", 9, Align::Right));
    fixed.push(("Flags", if wide { 18 } else { 9 }, Align::Left));
    let used: usize = fixed.iter().map(|c| c.1 + 1).sum::<usize>() + 6 + 1;
    let name = width.saturating_sub(used).max(8);
    let mut cols = vec![("No", 5, Align::Right), ("Name", name, Align::Left)];
    cols.extend(fixed);
    cols
}

fn line_cells(l: &ReviewLine, wide: bool) -> Vec<String> {
    let mut v = vec![
        l.member_no.clone(),
        l.name.clone(),
        grouped(l.installment_due),
        grouped(l.savings_due),
        grouped(l.arrears_in - l.advance_in),
    ];
    if wide {
        v.push(grouped(l.due));
    }
    v.push(grouped(l.collected));
    v.push(if l.shortfall > 0 {
        grouped(l.shortfall)
    } else {
        String::new()
    });
    v.push(
        l.flags
            .iter()
            .map(|f| if wide { f.as_str() } else { short_flag(*f) })
            .collect::<Vec<_>>()
            .join(","),
    );
    v
}

/// Flags in few letters for narrow screens (help lists them).
fn short_flag(f: Flag) -> &'static str {
    match f {
        Flag::Missed => "missed",
        Flag::Partial => "part",
        Flag::Advance => "adv",
        Flag::Duplicate => "dup",
        Flag::Reversed => "rev",
        Flag::Late => "late",
    }
}

/// "expected 5,000.00 · collected 4,200.00 · short 800.00 · 84.00 % · missed 3"
pub fn totals_text(t: &Totals, short: bool) -> String {
    if short {
        format!(
            "exp {} got {} short {} {} missed {}",
            grouped(t.expected),
            grouped(t.collected),
            grouped(t.shortfall),
            t.rate_text(),
            t.members_missed
        )
    } else {
        format!(
            "expected {} · collected {} · shortfall {} · rate {} · missed {}",
            grouped(t.expected),
            grouped(t.collected),
            grouped(t.shortfall),
            t.rate_text(),
            t.members_missed
        )
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let p = &app.review;
    let code = app.org().map(|o| o.code.as_str()).unwrap_or("");
    let mut title = format!(
        " Daily review · {} · {} ",
        p.date.format("%a %d %b %Y"),
        code
    );
    if let Some((_, w)) = &p.worker {
        title.push_str(&format!("· {w} "));
    }
    let mut badges: Vec<Span> = Vec::new();
    if let Some(r) = &p.review {
        if !r.collection_day {
            badges.push(Span::styled(" day off ", t.warn()));
        }
        if r.closed {
            badges.push(Span::styled(" CLOSED ", t.bad()));
        } else {
            badges.push(Span::styled(" open ", t.ok()));
        }
    }
    let mut title_spans = vec![Span::styled(title, t.title())];
    title_spans.extend(badges);
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Line::from(title_spans))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if shown_error(frame, inner, p.error.as_ref(), t.bad()) {
        return;
    }
    let Some(r) = &p.review else {
        notice(
            frame,
            inner,
            vec![Line::raw("Loading the review…")],
            t.muted(),
        );
        return;
    };
    let [table, totals] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    let w = inner.width as usize;
    let total_line = format!(
        " {} total · {} members · {}",
        r.org,
        r.totals.members,
        totals_text(&r.totals, false)
    );
    let total_line = if crate::tui::text::width(&total_line) > w {
        format!(
            " {} ({}) {}",
            r.org,
            r.totals.members,
            totals_text(&r.totals, true)
        )
    } else {
        total_line
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled("─".repeat(w), t.border()),
            Line::styled(fit(&total_line, w, false), t.heading()),
        ]),
        totals,
    );
    if r.lines.is_empty() {
        let text = if r.closed_through.is_some() || p.worker.is_some() {
            "No active member is due on this day for this selection."
        } else {
            "No active members on this day. Members tab: n adds one."
        };
        notice(frame, table, vec![Line::raw(text)], t.muted());
        return;
    }
    let cols = columns(w);
    let wide = w >= 110;
    let header: Vec<(&str, usize, Align)> = cols.clone();
    let mut lines = vec![Line::styled(format!(" {}", row(&header)), t.heading())];
    let rows = review_rows(r);
    let height = table.height.saturating_sub(1) as usize;
    for dr in rows.iter().skip(p.top).take(height) {
        match *dr {
            ReviewRow::Worker(i) => {
                let Some(wt) = r.workers.get(i) else { continue };
                let long = format!(
                    " ▸ {} · {} · {}",
                    wt.worker_name,
                    wt.totals.members,
                    totals_text(&wt.totals, false)
                );
                let text = if crate::tui::text::width(&long) > w {
                    format!(
                        " ▸ {} ({}) {}",
                        wt.worker_name,
                        wt.totals.members,
                        totals_text(&wt.totals, true)
                    )
                } else {
                    long
                };
                lines.push(Line::styled(fit(&text, w, false), t.group()));
            }
            ReviewRow::Line(i) => {
                let Some(l) = r.lines.get(i) else { continue };
                let values = line_cells(l, wide);
                let selected = i == p.selected;
                let s = table_line(&cols, &values, selected, w);
                let style = if selected {
                    t.selected()
                } else if l.flags.contains(&Flag::Missed) {
                    t.bad()
                } else if l.shortfall > 0 {
                    t.warn()
                } else {
                    t.text()
                };
                lines.push(Line::styled(s, style));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), table);
}
