//! The close walk-through over the details: the steps closing a member takes, with the
//! amounts the core planned (the loan still owed, the savings the final withdrawal pays out).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ledger::money::grouped;
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::pages::ClosingPage;
use crate::tui::widgets::centered;
use crate::tui::widgets::form::{wrap_words, wrapped_height};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, c: &ClosingPage) {
    let t = &app.theme;
    let width = area.width.saturating_sub(4).min(84);
    let inner = width.saturating_sub(2) as usize;
    let title = match &c.plan {
        Some(p) => format!(" Close member {} · {} ({}) ", p.member_no, p.name, p.status),
        None => format!(" Close member {} ", c.member_no),
    };
    let mut lines: Vec<Line> = Vec::new();
    // a step: its number and name, what it takes, and ✓ or ✗; notes wrap under the text
    let label_w = 12;
    let step = |lines: &mut Vec<Line>, n: &str, name: &str, text: String, ok: Option<bool>| {
        let mark = match ok {
            Some(true) => Span::styled("✓ ", t.ok()),
            Some(false) => Span::styled("✗ ", t.bad()),
            None => Span::raw("  "),
        };
        for (i, part) in wrap_words(&text, inner.saturating_sub(label_w + 5))
            .into_iter()
            .enumerate()
        {
            let head = if i == 0 {
                vec![
                    Span::raw(" "),
                    mark.clone(),
                    Span::styled(format!("{n} {name:<w$}", w = label_w - 2), t.heading()),
                ]
            } else {
                vec![Span::raw(" ".repeat(label_w + 3))]
            };
            let mut spans = head;
            spans.push(Span::raw(part));
            lines.push(Line::from(spans));
        }
    };
    let note = |lines: &mut Vec<Line>, text: String| {
        for part in wrap_words(&text, inner.saturating_sub(label_w + 5)) {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(label_w + 3)),
                Span::styled(part, t.muted()),
            ]));
        }
    };
    match (&c.plan, &c.error) {
        (_, Some(e)) => {
            for part in wrap_words(e, inner) {
                lines.push(Line::styled(part, t.bad()));
            }
        }
        (None, None) => lines.push(Line::styled("Working out what closing takes…", t.muted())),
        (Some(p), None) => {
            for part in wrap_words(
                "Closing settles the member's accounts, then takes them out of the review for good.",
                inner,
            ) {
                lines.push(Line::raw(part));
            }
            lines.push(Line::default());
            match &p.active_loan {
                Some(l) => {
                    step(
                        &mut lines,
                        "1",
                        "Loan",
                        format!(
                            "{} still owed on loan cycle {}",
                            grouped(p.loan_outstanding),
                            l.cycle
                        ),
                        Some(false),
                    );
                    let write_off = if app.binding_available(Action::WriteOffLoan) {
                        "or write it off now: X"
                    } else {
                        "or ask an admin to write it off"
                    };
                    note(
                        &mut lines,
                        format!("collect it in the daily review, {write_off}"),
                    );
                }
                None => step(
                    &mut lines,
                    "1",
                    "Loan",
                    "nothing owed: no active loan".into(),
                    Some(true),
                ),
            }
            step(
                &mut lines,
                "2",
                "Savings",
                if p.savings_balance > 0 {
                    format!(
                        "{} paid out by a final withdrawal today",
                        grouped(p.savings_balance)
                    )
                } else {
                    "nothing to pay out (balance 0.00)".into()
                },
                None,
            );
            step(
                &mut lines,
                "3",
                "Close",
                "a reason, and the member's number typed to confirm".into(),
                None,
            );
            lines.push(Line::default());
            // the core's other reasons (the loan's is step 1), in its words
            let others: &[String] = if p.active_loan.is_some() && p.blockers.len() == 1 {
                &[]
            } else {
                &p.blockers
            };
            for b in others {
                for (i, part) in wrap_words(b, inner.saturating_sub(2))
                    .into_iter()
                    .enumerate()
                {
                    let lead = if i == 0 { "✗ " } else { "  " };
                    lines.push(Line::styled(format!("{lead}{part}"), t.bad()));
                }
            }
            if p.can_close() {
                lines.push(Line::styled(
                    "Ready: Enter asks for the reason and the confirmation.",
                    t.ok(),
                ));
            } else if p.active_loan.is_some() {
                lines.push(Line::styled(
                    "Not yet: the loan comes first (step 1).",
                    t.warn(),
                ));
            }
        }
    }
    let height = (wrapped_height(&lines, width.saturating_sub(2)) + 2).min(area.height);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(Span::styled(title, t.title()))
        .border_style(t.border());
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
