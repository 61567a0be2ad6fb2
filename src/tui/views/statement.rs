//! A member's statement (passbook) over the details: the opening balances, a line per row
//! with the running loan outstanding and savings balance, the month's totals and the
//! closing balances.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ledger::money::grouped;
use crate::ledger::statement::{Statement, StatementBalances, StatementRow};
use crate::tui::app::App;
use crate::tui::pages::{StatementPage, statement_rows};
use crate::tui::views::{Align, row};
use crate::tui::widgets::fit;

/// An amount cell, empty at zero (a row has one or two amounts).
fn cell(poisha: i64) -> String {
    if poisha == 0 {
        String::new()
    } else {
        grouped(poisha)
    }
}

/// The columns at an inner width: the description takes what the amounts leave. A wide
/// screen adds the loan handed over (with its service charge) and the full date.
fn columns(width: usize) -> (bool, Vec<(&'static str, usize, Align)>) {
    let wide = width >= 110;
    let mut fixed: Vec<(&'static str, usize, Align)> = vec![
        ("Date", if wide { 10 } else { 5 }, Align::Left),
        ("Kind", if wide { 12 } else { 10 }, Align::Left),
    ];
    let amounts: &[(&'static str, usize)] = if wide {
        &[
            ("Loan given", 10),
            ("Loan paid", 9),
            ("Sav in", 9),
            ("Sav out", 9),
            ("Loan due", 10),
            ("Savings", 9),
        ]
    } else {
        &[
            ("Loan paid", 9),
            ("Sav in", 8),
            ("Sav out", 9),
            ("Loan due", 10),
            ("Savings", 9),
        ]
    };
    let used: usize = fixed.iter().map(|c| c.1 + 1).sum::<usize>()
        + amounts.iter().map(|c| c.1 + 1).sum::<usize>();
    let desc = width.saturating_sub(used).max(4);
    fixed.push(("Description", desc, Align::Left));
    fixed.extend(amounts.iter().map(|(n, w)| (*n, *w, Align::Right)));
    (wide, fixed)
}

fn row_cells(r: &StatementRow, wide: bool) -> Vec<String> {
    let date = if wide {
        r.date.to_string()
    } else {
        r.date.format("%m-%d").to_string()
    };
    let mut v = vec![date, r.kind.label().to_string(), r.description.clone()];
    if wide {
        v.push(cell(r.loan_disbursed + r.service_charge));
    }
    v.extend([
        cell(r.loan_paid),
        cell(r.savings_in),
        cell(r.savings_out),
        grouped(r.loan_outstanding),
        grouped(r.savings_balance),
    ]);
    v
}

fn totals_cells(s: &Statement, wide: bool) -> Vec<String> {
    let t = &s.totals;
    let mut v = vec![
        String::new(),
        "total".to_string(),
        format!("{} rows", s.rows.len()),
    ];
    if wide {
        v.push(grouped(t.loan_disbursed + t.service_charge));
    }
    v.extend([
        grouped(t.loan_paid),
        grouped(t.savings_in),
        grouped(t.savings_out),
        grouped(s.closing.loan_outstanding),
        grouped(s.closing.savings_balance),
    ]);
    v
}

fn line(cols: &[(&str, usize, Align)], values: &[String]) -> String {
    let cells: Vec<(&str, usize, Align)> = cols
        .iter()
        .zip(values)
        .map(|((_, w, a), v)| (v.as_str(), *w, *a))
        .collect();
    row(&cells)
}

fn balances<'a>(app: &App, label: &str, on: String, b: StatementBalances) -> Vec<Span<'a>> {
    let t = &app.theme;
    vec![
        Span::styled(format!("{label} {on}  loan outstanding "), t.muted()),
        Span::styled(grouped(b.loan_outstanding), t.heading()),
        Span::styled("  savings ", t.muted()),
        Span::styled(grouped(b.savings_balance), t.heading()),
    ]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, p: &StatementPage) {
    let t = &app.theme;
    frame.render_widget(Clear, area);
    let inner_w = area.width.saturating_sub(2) as usize;
    let title = fit(
        &format!(" Statement {} · {} · {} ", p.member_no, p.name, p.month),
        inner_w,
        false,
    );
    let mut block = Block::bordered()
        .title(Span::styled(title, t.title()))
        .border_style(t.border());
    let mut lines: Vec<Line> = Vec::new();
    match (&p.statement, &p.error) {
        (_, Some(e)) => lines.push(Line::styled(e.clone(), t.bad())),
        (None, None) => lines.push(Line::styled(
            format!("Loading the statement of {}…", p.month),
            t.muted(),
        )),
        (Some(s), None) => {
            let (wide, cols) = columns(inner_w);
            lines.push(Line::from(balances(
                app,
                "Opening",
                s.from.to_string(),
                s.opening,
            )));
            let head: Vec<String> = cols.iter().map(|c| c.0.to_string()).collect();
            lines.push(Line::styled(line(&cols, &head), t.heading()));
            let visible = statement_rows(app.size.1);
            let top = p.top.min(s.rows.len().saturating_sub(visible));
            if s.rows.is_empty() {
                lines.push(Line::styled("no entries in this month", t.muted()));
            }
            for r in s.rows.iter().skip(top).take(visible) {
                lines.push(Line::styled(line(&cols, &row_cells(r, wide)), t.text()));
            }
            lines.push(Line::styled(
                line(&cols, &totals_cells(s, wide)),
                t.heading(),
            ));
            lines.push(Line::from(balances(
                app,
                "Closing",
                s.to.to_string(),
                s.closing,
            )));
            if s.rows.len() > visible {
                let at = format!(
                    " rows {}–{} of {} · ↑↓ PgUp PgDn ",
                    top + 1,
                    (top + visible).min(s.rows.len()),
                    s.rows.len()
                );
                block = block.title_bottom(Line::styled(at, t.muted()).right_aligned());
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
