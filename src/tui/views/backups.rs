//! Backups view: statistics and the history of archives.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use crate::tui::app::App;
use crate::tui::views::notice;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(" Backups ", t.title()))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    notice(
        frame,
        inner,
        vec![
            Line::raw("The backup engine is not in this build yet."),
            Line::raw("`somiti backup …` and this tab arrive together."),
        ],
        t.muted(),
    );
}
