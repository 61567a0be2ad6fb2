//! Member details over the list: who, terms, balances, arrears, recent collections.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ledger::balance::standing_text;
use crate::ledger::money::grouped;
use crate::tui::app::App;
use crate::tui::pages::DetailPage;
use crate::tui::views::{Align, row};
use crate::tui::widgets::centered;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, d: &DetailPage) {
    let t = &app.theme;
    let rect = centered(area, area.width.saturating_sub(4).min(90), area.height);
    frame.render_widget(Clear, rect);
    let title = match &d.detail {
        Some(x) => format!(
            " Member {} · {} ",
            x.row.member.member_no, x.row.member.name
        ),
        None => format!(" Member {} ", d.member_no),
    };
    let block = Block::bordered()
        .title(Span::styled(title, t.title()))
        .border_style(t.border());
    let mut lines: Vec<Line> = Vec::new();
    match (&d.detail, &d.error) {
        (_, Some(e)) => lines.push(Line::styled(e.clone(), t.bad())),
        (None, None) => lines.push(Line::styled("Loading…", t.muted())),
        (Some(x), None) => {
            let m = &x.row.member;
            let kv = |k: &str, v: String| {
                Line::from(vec![
                    Span::styled(format!("{k:>18}  "), t.muted()),
                    Span::raw(v),
                ])
            };
            lines.push(kv("NID · mobile", format!("{} · {}", m.nid, m.mobile)));
            lines.push(kv(
                "worker · status",
                format!(
                    "{} · {} · joined {}",
                    x.row.worker_name.as_deref().unwrap_or("-"),
                    m.status,
                    m.joined_on
                ),
            ));
            lines.push(kv(
                "loan · per day",
                match &x.row.accounts.loan {
                    Some(l) => {
                        // the loan's cycle and standing only when they are not the usual
                        let mut notes = Vec::new();
                        if l.cycle > 1 {
                            notes.push(format!("cycle {}", l.cycle));
                        }
                        if l.status != crate::ledger::loan::LoanStatus::Active {
                            notes.push(l.status.label().to_string());
                        }
                        let notes = if notes.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", notes.join(", "))
                        };
                        format!(
                            "{}{notes} · installment {} · savings {}",
                            grouped(l.principal),
                            grouped(l.installment),
                            grouped(m.daily_savings)
                        )
                    }
                    None => format!("no loan · savings {}", grouped(m.daily_savings)),
                },
            ));
            lines.push(Line::from(vec![
                Span::styled(format!("{:>18}  ", "loan outstanding"), t.muted()),
                Span::styled(grouped(x.row.loan_outstanding), t.heading()),
                Span::styled("   savings ", t.muted()),
                Span::styled(grouped(x.row.savings_balance), t.heading()),
            ]));
            let arrears_style = if x.row.days_in_arrears > 0 {
                t.warn()
            } else {
                t.ok()
            };
            // "arrears 440.00 (2 days)" or "advance 340.00 (paid ahead)": never negative
            let standing = standing_text(x.row.arrears, x.row.days_in_arrears, x.row.advance);
            let (label, value) = standing.split_once(' ').unwrap_or(("arrears", ""));
            lines.push(Line::from(vec![
                Span::styled(format!("{label:>18}  "), t.muted()),
                Span::styled(value.to_string(), arrears_style),
            ]));
            lines.push(Line::default());
            let cols = [
                ("#", 8, Align::Right),
                ("Date", 10, Align::Left),
                ("Loan", 10, Align::Right),
                ("Savings", 9, Align::Right),
                ("By", 10, Align::Left),
                ("Note", 20, Align::Left),
            ];
            lines.push(Line::styled("Recent collections", t.title()));
            lines.push(Line::styled(row(&cols), t.heading()));
            if x.recent.is_empty() {
                lines.push(Line::styled("no collections yet", t.muted()));
            }
            for c in &x.recent {
                let id = match c.reversal_of {
                    Some(o) => format!("↺{}→{o}", c.id),
                    None => c.id.to_string(),
                };
                let values = [
                    id,
                    c.collected_on.to_string(),
                    grouped(c.loan_paisa),
                    grouped(c.savings_paisa),
                    c.entered_by.clone(),
                    c.note.clone(),
                ];
                let cells: Vec<(&str, usize, Align)> = cols
                    .iter()
                    .zip(values.iter())
                    .map(|((_, w, a), v)| (v.as_str(), *w, *a))
                    .collect();
                let style = if c.reversal_of.is_some() {
                    t.muted()
                } else {
                    t.text()
                };
                lines.push(Line::styled(row(&cells), style));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
