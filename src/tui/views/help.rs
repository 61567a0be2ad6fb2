//! Help: every key of the current view and of the dialogs, generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ledger::review::{Flag, TOTALS_LEGEND};
use crate::tui::app::{App, Tab};
use crate::tui::keymap::{Mode, help_sections_where};
use crate::tui::widgets::centered;
use crate::tui::widgets::form::wrap_words;

pub fn help_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    // the view under the help, then everywhere, then the dialogs
    let mut modes = vec![tab_mode(app.tab)];
    modes.extend([
        Mode::Global,
        Mode::Detail,
        Mode::Statement,
        Mode::Closing,
        Mode::Report,
        Mode::Form,
        Mode::Confirm,
        Mode::Picker,
        Mode::Progress,
    ]);
    let mut lines = Vec::new();
    if app.tab == Tab::Collections {
        // what the review's words and letters mean (the same legend as under its totals)
        lines.push(Line::styled("Reading the review", t.title()));
        let flags = format!("flags: {}", Flag::legend());
        let parts = TOTALS_LEGEND.split(" · ").chain([
            "arrears: unpaid dues carried in; a member paid ahead shows \"advance 340.00\"",
            flags.as_str(),
        ]);
        for part in parts {
            for (i, l) in wrap_words(part, 64).into_iter().enumerate() {
                let pad = if i == 0 { "  " } else { "    " };
                lines.push(Line::raw(format!("{pad}{l}")));
            }
        }
        lines.push(Line::default());
    }
    let sections = help_sections_where(&modes, |a| app.in_build(a));
    // a key the view binds itself (g in the review) does not do its everywhere-meaning there
    let view_keys: Vec<String> = sections
        .first()
        .map(|(_, keys)| {
            keys.iter()
                .flat_map(|(k, _)| k.split(' ').map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (mode, keys) in sections {
        let keys: Vec<(String, &str)> = keys
            .into_iter()
            .filter_map(|(k, what)| {
                if mode != Mode::Global {
                    return Some((k, what));
                }
                let left: Vec<&str> = k
                    .split(' ')
                    .filter(|n| !view_keys.iter().any(|v| v == n))
                    .collect();
                (!left.is_empty()).then(|| (left.join(" "), what))
            })
            .collect();
        if keys.is_empty() {
            continue;
        }
        lines.push(Line::styled(mode.title().to_string(), t.title()));
        for (key, what) in keys {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<14}"), t.key()),
                Span::raw(what),
            ]));
        }
        lines.push(Line::default());
    }
    lines
}

fn tab_mode(tab: Tab) -> Mode {
    match tab {
        Tab::Members => Mode::Members,
        Tab::Collections => Mode::Collections,
        Tab::Backups => Mode::Backups,
        Tab::Scheduler => Mode::Scheduler,
        Tab::Audit => Mode::Audit,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: u16) {
    let t = &app.theme;
    let lines = help_lines(app);
    let width = area.width.saturating_sub(4).min(70);
    let rect = centered(area, width, area.height);
    frame.render_widget(Clear, rect);
    let max_scroll = (lines.len() as u16).saturating_sub(rect.height.saturating_sub(2));
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(Span::styled(" Help — ↑↓ scroll, Esc close ", t.title()))
                    .border_style(t.border()),
            )
            .scroll((scroll.min(max_scroll), 0)),
        rect,
    );
}
