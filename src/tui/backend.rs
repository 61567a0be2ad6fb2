//! A crossterm backend that keeps columns aligned whatever width the terminal gives a
//! complex script. Bengali vowel signs are drawn narrower by some terminals (tmux among
//! them) than Unicode's width tables say; a plain backend then writes the rest of the line
//! one column to the left and names run into each other. Here every non-ASCII cell is drawn
//! at its own position over blanked columns, and the next cell is placed explicitly.

use std::io::{self, Stdout};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use unicode_width::UnicodeWidthStr;

pub struct AlignedBackend {
    inner: CrosstermBackend<Stdout>,
}

impl AlignedBackend {
    pub fn new(out: Stdout) -> AlignedBackend {
        AlignedBackend {
            inner: CrosstermBackend::new(out),
        }
    }
}

impl Backend for AlignedBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut run: Vec<(u16, u16, &'a Cell)> = Vec::new();
        for (x, y, cell) in content {
            if cell.symbol().is_ascii() {
                run.push((x, y, cell));
                continue;
            }
            // Each inner draw starts with an explicit cursor move.
            self.inner.draw(run.drain(..))?;
            let width = cell.symbol().width().max(1) as u16;
            let mut blank = cell.clone();
            blank.set_symbol(" ");
            let blanks: Vec<(u16, u16, &Cell)> = (0..width).map(|i| (x + i, y, &blank)).collect();
            self.inner.draw(blanks.into_iter())?;
            self.inner.draw(std::iter::once((x, y, cell)))?;
        }
        self.inner.draw(run.into_iter())
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}
