//! The monthly report over the daily review: a bar per collection day (its collection rate
//! in percent), the month's totals, portfolio at risk and a line per worker.

use chrono::Datelike;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, Block, Clear, Paragraph};

use crate::ledger::money::grouped;
use crate::ledger::report::{MonthReport, MonthTotals, Par, bp_text};
use crate::tui::app::App;
use crate::tui::pages::ReportPage;
use crate::tui::views::{Align, row};
use crate::tui::widgets::fit;
use crate::tui::widgets::form::wrap_words;

/// The bars of the chart get at least this many rows (with their labels).
const MIN_CHART: u16 = 6;

fn worker_columns(width: usize, wide: bool) -> Vec<(&'static str, usize, Align)> {
    let mut fixed: Vec<(&'static str, usize, Align)> = vec![
        ("Members", 7, Align::Right),
        ("Expected", 11, Align::Right),
        ("Collected", 11, Align::Right),
        ("Rate", 8, Align::Right),
        ("Missed", 6, Align::Right),
    ];
    if wide {
        fixed.extend([
            ("Loans", 5, Align::Right),
            ("Disbursed", 11, Align::Right),
            ("Repaid", 6, Align::Right),
            ("Withdrawn", 10, Align::Right),
        ]);
    }
    fixed.push(("PAR 30", 8, Align::Right));
    let used: usize = fixed.iter().map(|c| c.1 + 1).sum();
    let mut cols = vec![("Worker", width.saturating_sub(used).max(8), Align::Left)];
    cols.extend(fixed);
    cols
}

fn worker_cells(name: &str, t: &MonthTotals, par: &Par, wide: bool) -> Vec<String> {
    let mut v = vec![
        name.to_string(),
        t.members.to_string(),
        grouped(t.expected),
        grouped(t.collected),
        t.rate_text(),
        t.members_missed.to_string(),
    ];
    if wide {
        v.extend([
            t.loans_disbursed.to_string(),
            grouped(t.principal_disbursed),
            t.loans_repaid.to_string(),
            grouped(t.savings_withdrawn),
        ]);
    }
    v.push(bp_text(par.par30_bp));
    v
}

fn cells_line(cols: &[(&str, usize, Align)], values: &[String]) -> String {
    let cells: Vec<(&str, usize, Align)> = cols
        .iter()
        .zip(values)
        .map(|((_, w, a), v)| (v.as_str(), *w, *a))
        .collect();
    row(&cells)
}

/// The text under the chart: totals, portfolio at risk, the workers.
fn text_lines(app: &App, r: &MonthReport, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let wide = width >= 110;
    let m = &r.totals;
    let mut lines: Vec<Line> = Vec::new();
    let para = |lines: &mut Vec<Line>, text: String| {
        for l in wrap_words(&text, width) {
            lines.push(Line::raw(l));
        }
    };
    let written_off = if m.loans_written_off > 0 {
        format!(
            " · written off {} ({})",
            m.loans_written_off,
            grouped(m.written_off)
        )
    } else {
        String::new()
    };
    if wide {
        para(
            &mut lines,
            format!(
                "Expected {} · collected {} (loan {} + savings {}) · shortfall {} · rate {}",
                grouped(m.expected),
                grouped(m.collected),
                grouped(m.loan_collected),
                grouped(m.savings_collected),
                grouped(m.shortfall),
                m.rate_text()
            ),
        );
        para(
            &mut lines,
            format!(
                "Members missed {} ({} member-days) · {} of {} days were collection days",
                m.members_missed, m.member_days_missed, m.collection_days, m.days
            ),
        );
        para(
            &mut lines,
            format!(
                "Loans disbursed {} ({}) · repaid {}{written_off} · savings withdrawn {}",
                m.loans_disbursed,
                grouped(m.principal_disbursed),
                m.loans_repaid,
                grouped(m.savings_withdrawn)
            ),
        );
    } else {
        // the same figures in fewer words (the split of collected and the days are wide's)
        para(
            &mut lines,
            format!(
                "Expected {} · collected {} · shortfall {} · rate {}",
                grouped(m.expected),
                grouped(m.collected),
                grouped(m.shortfall),
                m.rate_text()
            ),
        );
        para(
            &mut lines,
            format!(
                "Missed {} members ({} member-days) · loans disbursed {} ({}) · repaid {}",
                m.members_missed,
                m.member_days_missed,
                m.loans_disbursed,
                grouped(m.principal_disbursed),
                m.loans_repaid,
            ),
        );
    }
    let p = &r.par;
    let as_of = p.as_of.map(|d| d.to_string()).unwrap_or_default();
    let pars = [
        ("PAR 1", p.par1, p.par1_bp, p.loans_par1),
        ("PAR 30", p.par30, p.par30_bp, p.loans_par30),
        ("PAR 90", p.par90, p.par90_bp, p.loans_par90),
    ];
    if wide {
        lines.push(Line::styled(
            format!(
                "Portfolio at risk at the end of {as_of}: {} outstanding on {} running loan(s)",
                grouped(p.outstanding),
                p.loans
            ),
            t.heading(),
        ));
        for (label, amount, bp, n) in pars {
            let cells = [
                (label, 8, Align::Left),
                (&*grouped(amount), 12, Align::Right),
                (&*bp_text(bp), 9, Align::Right),
                (&*format!("{n} loan(s)"), 12, Align::Right),
            ];
            lines.push(Line::raw(format!("  {}", row(&cells))));
        }
    } else {
        let shares: Vec<String> = pars
            .iter()
            .map(|(label, _, bp, _)| format!("{label} {}", bp_text(*bp)))
            .collect();
        para(
            &mut lines,
            format!(
                "Savings withdrawn {}{written_off} · {}",
                grouped(m.savings_withdrawn),
                shares.join(" · ")
            ),
        );
    }
    lines.push(Line::default());
    let cols = worker_columns(width, wide);
    let head: Vec<String> = cols.iter().map(|c| c.0.to_string()).collect();
    lines.push(Line::styled(cells_line(&cols, &head), t.heading()));
    for w in &r.workers {
        lines.push(Line::raw(cells_line(
            &cols,
            &worker_cells(&w.worker_name, &w.totals, &w.par, wide),
        )));
    }
    lines.push(Line::styled(
        cells_line(&cols, &worker_cells("total", m, p, wide)),
        t.heading(),
    ));
    lines
}

/// The chart: one bar per collection day, its rate in percent (a full bar is 100 %).
fn draw_chart(frame: &mut Frame, area: Rect, app: &App, r: &MonthReport) {
    let t = &app.theme;
    let days: Vec<_> = r.days.iter().filter(|d| d.collection_day).collect();
    if days.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no collection day yet", t.muted())),
            area,
        );
        return;
    }
    let n = days.len() as u16;
    let bar_width = ((area.width + 1) / n).saturating_sub(1).clamp(1, 4);
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| {
            let pct = (d.totals.collection_rate_bp.max(0) / 100) as u64;
            let value = if bar_width >= 3 {
                pct.to_string()
            } else {
                String::new()
            };
            Bar::new(pct)
                .label(Line::raw(d.date.day().to_string()))
                .text_value(value)
        })
        .collect();
    let chart = BarChart::new(bars)
        .max(100)
        .bar_width(bar_width)
        .bar_gap(1)
        .bar_style(t.ok())
        .value_style(t.tab_active())
        .label_style(t.muted());
    frame.render_widget(chart, area);
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, p: &ReportPage) {
    let t = &app.theme;
    frame.render_widget(Clear, area);
    let inner_w = area.width.saturating_sub(2) as usize;
    let title = match &p.report {
        Some(r) => format!(
            " Monthly report {} · {} · {} to {}{} ",
            r.org,
            r.month,
            r.first,
            r.through,
            if r.current { " (month to date)" } else { "" }
        ),
        None => format!(" Monthly report · {} ", p.month),
    };
    let block = Block::bordered()
        .title(Span::styled(fit(&title, inner_w, false), t.title()))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let r = match (&p.report, &p.error) {
        (_, Some(e)) => {
            let lines: Vec<Line> = wrap_words(e, inner_w)
                .into_iter()
                .map(|l| Line::styled(l, t.bad()))
                .collect();
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
        (None, None) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("Loading the report of {}…", p.month),
                    t.muted(),
                )),
                inner,
            );
            return;
        }
        (Some(r), None) => r,
    };
    let text = text_lines(app, r, inner.width as usize);
    let text_h = text.len() as u16;
    let chart_h = inner
        .height
        .saturating_sub(1 + text_h + 1)
        .max(MIN_CHART)
        .min(inner.height.saturating_sub(1));
    let [heading, chart, gap, rest] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(chart_h),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Line::styled(
            "Collection rate per collection day, % (a full bar is 100 %)",
            t.heading(),
        )),
        heading,
    );
    draw_chart(frame, chart, app, r);
    let max_scroll = text_h.saturating_sub(rest.height);
    let more = if max_scroll > 0 {
        "  ↑↓ scroll"
    } else {
        ""
    };
    frame.render_widget(
        Paragraph::new(text).scroll((p.scroll.min(max_scroll), 0)),
        rest,
    );
    if !more.is_empty() && gap.width > 0 {
        frame.render_widget(
            Paragraph::new(Line::styled(more, t.muted()))
                .alignment(ratatui::layout::Alignment::Right),
            gap,
        );
    }
}
