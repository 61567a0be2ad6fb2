//! Collections view: the daily review — a line per member under each worker's totals, and
//! the organization's totals at the bottom.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ledger::money::grouped;
use crate::ledger::review::{Flag, ReviewLine, TOTALS_LEGEND, TOTALS_LEGEND_SHORT, Totals};
use crate::tui::app::App;
use crate::tui::pages::{ReviewRow, review_rows};
use crate::tui::views::{Align, notice, row, shown_error, table_line};
use crate::tui::widgets::fit;
use crate::tui::widgets::form::wrap_words;

/// Columns: the carried-in and flags columns are as wide as their widest cell (an
/// "advance 340.00" widens the first), the name takes what is left.
fn columns(width: usize, lines: &[ReviewLine]) -> Vec<(&'static str, usize, Align)> {
    let wide = width >= 110;
    let carried = lines
        .iter()
        .map(|l| crate::tui::text::width(&l.carried_text()))
        .max()
        .unwrap_or(0)
        .max(9);
    let flags = lines
        .iter()
        .map(|l| l.flags.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut fixed: Vec<(&'static str, usize, Align)> = vec![
        ("Inst", 8, Align::Right),
        ("Savings", 7, Align::Right),
        ("Arrears", carried, Align::Right),
    ];
    if wide {
        fixed.push(("Due", 10, Align::Right));
    }
    fixed.push(("Collected", 9, Align::Right));
    fixed.push(("Short", 9, Align::Right));
    fixed.push(("Flags", flags, Align::Left));
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
        l.carried_text(),
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
    v.push(Flag::codes(&l.flags));
    v
}

/// The legend under the totals: what the totals' words mean (in full on a wide screen,
/// in few words on a narrow one) and what the flag letters stand for; both come from the
/// core, which the command line prints too.
fn legend_lines(width: usize) -> Vec<String> {
    let mut out: Vec<String> = if width >= 110 {
        wrap_words(TOTALS_LEGEND, width.saturating_sub(2))
            .into_iter()
            .map(|l| format!(" {l}"))
            .collect()
    } else {
        vec![fit(&format!(" {TOTALS_LEGEND_SHORT}"), width, false)]
    };
    out.push(fit(&format!(" Flags: {}", Flag::legend()), width, false));
    out
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
    let w = inner.width as usize;
    let legend = legend_lines(w);
    let [table, totals] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(2 + legend.len() as u16),
    ])
    .areas(inner);
    // filtered to one worker, the totals are that worker's, and say so
    let worker = p.worker.as_ref().map(|(_, name)| name.as_str());
    let label = r.totals_label(worker);
    let mut total_line = format!(
        " {label} · {} members · {}",
        r.totals.members,
        totals_text(&r.totals, false)
    );
    // narrower: few words, then (one worker's) "Karim Uddin only"
    let short_labels = [Some(label.clone()), worker.map(|w| format!("{w} only"))];
    for l in short_labels.iter().flatten() {
        if crate::tui::text::width(&total_line) <= w {
            break;
        }
        total_line = format!(
            " {l} ({}) {}",
            r.totals.members,
            totals_text(&r.totals, true)
        );
    }
    let mut bottom = vec![
        Line::styled("─".repeat(w), t.border()),
        Line::styled(fit(&total_line, w, false), t.heading()),
    ];
    bottom.extend(legend.into_iter().map(|l| Line::styled(l, t.muted())));
    frame.render_widget(Paragraph::new(bottom), totals);
    if r.lines.is_empty() {
        let text = if r.closed_through.is_some() || p.worker.is_some() {
            "No active member is due on this day for this selection."
        } else {
            "No active members on this day. Members tab: n adds one."
        };
        notice(frame, table, vec![Line::raw(text)], t.muted());
        return;
    }
    let cols = columns(w, &r.lines);
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
