//! Members view: the register table (only the rows on screen are built), with the
//! filter, sort and position in the title.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ledger::balance;
use crate::ledger::member::MemberRow;
use crate::ledger::money;
use crate::tui::app::App;
use crate::tui::views::{Align, marked_line, notice, row, shown_error};

/// Columns: (title, width, align); the name takes what is left.
fn columns(width: usize) -> [(&'static str, usize, Align); 8] {
    let wide = width >= 110;
    let fixed = [5, 11, if wide { 16 } else { 8 }, 10, 10, 4, 8];
    let name = width
        .saturating_sub(fixed.iter().sum::<usize>() + 7 + 1)
        .max(8);
    [
        ("No", fixed[0], Align::Right),
        ("Name", name, Align::Left),
        ("Mobile", fixed[1], Align::Left),
        ("Worker", fixed[2], Align::Left),
        ("Loan out", fixed[3], Align::Right),
        ("Savings", fixed[4], Align::Right),
        ("Arr", fixed[5], Align::Right),
        ("Status", fixed[6], Align::Left),
    ]
}

fn cells(r: &MemberRow) -> [String; 8] {
    [
        r.member.member_no.clone(),
        r.member.name.clone(),
        r.member.mobile.clone(),
        r.worker_name.clone().unwrap_or_else(|| "-".into()),
        money::grouped(r.loan_outstanding),
        money::grouped(r.savings_balance),
        // a member paid ahead reads "adv", never a negative arrears
        balance::arrears_days_cell(r.days_in_arrears, r.advance),
        r.member.status.clone(),
    ]
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let p = &app.members;
    let mut title = format!(" Members · {} ", p.total);
    if !p.filter.is_empty() {
        title.push_str(&format!("· filter \"{}\" ", p.filter));
    }
    title.push_str(&format!("· sort {} ", p.sort.label()));
    if p.total > 0 {
        title.push_str(&format!("· {}/{} ", p.selected + 1, p.total));
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
    if !p.loaded {
        notice(frame, inner, vec![Line::raw("Loading members…")], t.muted());
        return;
    }
    if p.total == 0 {
        let lines = if p.filter.is_empty() {
            vec![
                Line::raw("No members yet."),
                Line::raw("Press n to add the first one."),
            ]
        } else {
            vec![
                Line::raw(format!("No member matches \"{}\".", p.filter)),
                Line::raw("Esc clears the filter."),
            ]
        };
        notice(frame, inner, lines, t.muted());
        return;
    }
    let cols = columns(inner.width as usize);
    let header: Vec<(&str, usize, Align)> = cols.iter().map(|(h, w, a)| (*h, *w, *a)).collect();
    let mut lines = vec![Line::styled(format!(" {}", row(&header)), t.heading())];
    let height = inner.height.saturating_sub(1) as usize;
    let end = (p.top + height).min(p.total as usize);
    for i in p.top..end {
        let text = match p.row(i) {
            Some(r) => {
                let c = cells(r);
                let cells: Vec<(&str, usize, Align)> = cols
                    .iter()
                    .zip(c.iter())
                    .map(|((_, w, a), v)| (v.as_str(), *w, *a))
                    .collect();
                row(&cells)
            }
            None => "…".to_string(),
        };
        let style = if i == p.selected {
            t.selected()
        } else {
            match p.row(i) {
                Some(r) if r.member.status != "active" => t.muted(),
                Some(r) if r.days_in_arrears >= 7 => t.warn(),
                _ => t.text(),
            }
        };
        let s = marked_line(i == p.selected, &text, inner.width as usize);
        lines.push(Line::styled(s, style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
