//! A crossterm backend that draws text the way the terminal really advances over it.
//!
//! Ratatui lays a row out in its own widths (unicode-width per grapheme cluster: `তা` is one
//! cell). tmux, screen, xterm and VTE advance once per codepoint (`তা` is two columns), so a
//! cell placed at ratatui's column would overwrite the vowel sign the terminal has just
//! drawn, and the columns it leaves behind are never cleared (ratatui issue #2052 is the
//! same problem). So, for every row that holds any non-ASCII cell (or held one when it was
//! last painted), this backend repaints the whole row instead of the changed cells: from
//! column 0, every cell in order, letting the terminal flow a run of text on its own, and
//! re-aligning at blanks — a blank is written only when the terminal's column (tracked with
//! the measure, [`TextWidth`]) has not passed ratatui's, and missing blanks are added when it
//! is behind — then clearing to the end of the line. The views cut and pad with
//! [`crate::tui::text`], so every column starts where it starts on an ASCII row. Rows of
//! ASCII only get ratatui's usual cell diff. A shadow of the screen (what ratatui believes is
//! there) is kept so a whole row can be repainted; clearing the screen clears the shadow.

use std::collections::BTreeSet;
use std::io::{self, Stdout, Write};

use crossterm::cursor::MoveTo;
use crossterm::queue;
use crossterm::terminal::Clear;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::{Cell, CellWidth};
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};

use crate::tui::text::TextWidth;

pub struct AlignedBackend<W: Write = Stdout> {
    inner: CrosstermBackend<W>,
    measure: TextWidth,
    /// Set in tests (no terminal to ask).
    fixed_size: Option<Size>,
    /// What ratatui believes is on screen, row by row.
    shadow: Vec<Vec<Cell>>,
    /// Rows last painted by a whole-row repaint (their cells may not sit in their columns).
    flowed: Vec<bool>,
}

impl AlignedBackend<Stdout> {
    pub fn new(out: Stdout, measure: TextWidth) -> AlignedBackend<Stdout> {
        AlignedBackend::with_writer(out, measure, None)
    }
}

impl<W: Write> AlignedBackend<W> {
    /// A backend on any writer; `size` stands in for the terminal's (tests).
    pub fn with_writer(out: W, measure: TextWidth, size: Option<Size>) -> AlignedBackend<W> {
        AlignedBackend {
            inner: CrosstermBackend::new(out),
            measure,
            fixed_size: size,
            shadow: Vec::new(),
            flowed: Vec::new(),
        }
    }

    pub fn writer(&self) -> &W {
        self.inner.writer()
    }

    pub fn writer_mut(&mut self) -> &mut W {
        self.inner.writer_mut()
    }

    fn reset_shadow(&mut self) {
        self.shadow.clear();
        self.flowed.clear();
    }

    fn ensure(&mut self, x: u16, y: u16) {
        let (x, y) = (x as usize, y as usize);
        if self.shadow.len() <= y {
            self.shadow.resize(y + 1, Vec::new());
            self.flowed.resize(y + 1, false);
        }
        let row = &mut self.shadow[y];
        if row.len() <= x {
            row.resize(x + 1, Cell::EMPTY);
        }
    }

    fn screen_width(&self) -> u16 {
        match self.fixed_size {
            Some(s) => s.width,
            None => self.inner.size().map(|s| s.width).unwrap_or(u16::MAX),
        }
    }

    /// Repaint row `y` from the shadow: clear it, then write its cells as [`layout_row`]
    /// says, one cursor move per anchored piece.
    fn repaint(&mut self, y: u16, width: u16) -> io::Result<()> {
        let row = &self.shadow[y as usize];
        let pieces = layout_row(row, width, self.measure);
        let cells: Vec<Cell> = pieces
            .iter()
            .map(|p| {
                let mut c = row[p.cell].clone();
                if p.blank {
                    c.set_symbol(" ");
                }
                c
            })
            .collect();
        queue!(
            self.inner.writer_mut(),
            MoveTo(0, y),
            Clear(crossterm::terminal::ClearType::CurrentLine)
        )?;
        // Segments: each starts with a cursor move to its anchor; inside one the positions
        // handed to the inner backend are consecutive, so it moves the cursor only once and
        // the terminal advances over the text by itself.
        let mut start = 0;
        while start < pieces.len() {
            let mut end = start + 1;
            while end < pieces.len() && !starts_segment(&pieces[end - 1], &pieces[end]) {
                end += 1;
            }
            let x0 = pieces[start].at;
            self.inner.draw(
                cells[start..end]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (x0 + i as u16, y, c)),
            )?;
            start = end;
        }
        Ok(())
    }
}

/// One cell of a repainted row: `cell` is its index in the row; `blank` prints a space in
/// that cell's style; `at` is the terminal column it goes to (by the measure); an `anchor`
/// is placed there with a cursor move, other pieces follow the one before as the terminal
/// advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub cell: usize,
    pub blank: bool,
    pub at: u16,
    pub anchor: bool,
}

/// Whether `next` needs a cursor move of its own after `prev`: an anchor, unless both are
/// blanks side by side (a blank is one column everywhere).
fn starts_segment(prev: &Piece, next: &Piece) -> bool {
    next.anchor && !(prev.blank && next.blank && prev.at + 1 == next.at)
}

fn is_blank(c: &Cell) -> bool {
    matches!(c.symbol(), " " | "")
}

/// A cell of a horizontal rule (a border, a separator line).
fn is_rule(c: &Cell) -> bool {
    matches!(c.symbol(), "─" | "━" | "═")
}

fn is_plain(c: &Cell) -> bool {
    c.bg == Color::Reset
        && !c
            .modifier
            .intersects(Modifier::REVERSED | Modifier::UNDERLINED)
}

/// What to write, in order, to show `row` (cells as ratatui laid them out) on a terminal
/// `width` columns wide that advances by `measure`, the row cleared first. Cells covered by a
/// wide cell are skipped. Text flows, single blanks included (the space between two words
/// follows the word wherever the terminal put it). In a gap of two blanks or more, the
/// further blanks are written at their columns when the terminal has not passed them, and
/// dropped when it has (the text before took their place), and the text after the gap is
/// anchored at its own column unless the terminal is already past it. A horizontal rule
/// (`─`, as in a border with a title) gives way the same way: its cells are dropped where
/// the text before has taken their columns, so the corner after it stays in place. A cell that would not fit before the right edge
/// ends the row; plain blanks at the end are left to the cleared row.
pub fn layout_row(row: &[Cell], width: u16, measure: TextWidth) -> Vec<Piece> {
    let w = width as usize;
    let mut out: Vec<Piece> = Vec::with_capacity(row.len());
    let mut term = 0usize;
    let mut x = 0usize;
    // blanks since the last text; the row's start counts as a long gap
    let mut blanks = usize::MAX;
    while x < row.len() && x < w {
        let c = &row[x];
        let covers = (c.symbol().cell_width() as usize).max(1);
        if is_rule(c) {
            // A horizontal rule gives way to text that ran long, like blanks do, so the
            // corner or the text after it keeps its column.
            if term <= x {
                out.push(Piece {
                    cell: x,
                    blank: false,
                    at: x as u16,
                    anchor: true,
                });
                term = x + 1;
            }
            blanks = usize::MAX;
        } else if is_blank(c) {
            blanks = blanks.saturating_add(1);
            if blanks == 1 && term < w {
                // The first blank after text belongs to it (the space between two words):
                // it follows the text wherever the terminal put it.
                out.push(Piece {
                    cell: x,
                    blank: true,
                    at: term as u16,
                    anchor: false,
                });
                term += 1;
            } else if term <= x {
                out.push(Piece {
                    cell: x,
                    blank: true,
                    at: x as u16,
                    anchor: true,
                });
                term = x + 1;
            }
        } else {
            let adv = measure.of(c.symbol());
            // Text after a gap goes to its column, unless the terminal is already past it.
            let anchor = blanks >= 2 && term <= x;
            let at = if anchor { x } else { term };
            if at + adv > w {
                break;
            }
            out.push(Piece {
                cell: x,
                blank: false,
                at: at as u16,
                anchor,
            });
            term = at + adv;
            blanks = 0;
        }
        x += covers;
    }
    while out
        .last()
        .is_some_and(|p| p.blank && is_plain(&row[p.cell]))
    {
        out.pop();
    }
    out
}

impl<W: Write> Backend for AlignedBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let content: Vec<(u16, u16, &Cell)> = content.collect();
        let mut touched = BTreeSet::new();
        for (x, y, cell) in &content {
            // The cells a wide cell covers are blank in ratatui's buffer, and its diff does
            // not send them: blank them here too, or they would come back in a repaint.
            let covers = cell.symbol().cell_width().max(1);
            self.ensure(*x + covers - 1, *y);
            let row = &mut self.shadow[*y as usize];
            row[*x as usize] = (*cell).clone();
            for c in &mut row[*x as usize + 1..(*x + covers) as usize] {
                c.reset();
            }
            touched.insert(*y);
        }
        let width = self.screen_width();
        let mut repainted = BTreeSet::new();
        for y in touched {
            let wide = self.shadow[y as usize]
                .iter()
                .any(|c| !c.symbol().is_ascii());
            if wide || self.flowed[y as usize] {
                self.repaint(y, width)?;
                self.flowed[y as usize] = wide;
                repainted.insert(y);
            }
        }
        self.inner.draw(
            content
                .into_iter()
                .filter(|(_, y, _)| !repainted.contains(y)),
        )
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
        self.reset_shadow();
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        match clear_type {
            ClearType::All => self.reset_shadow(),
            // Part of the screen went blank: repaint whole rows from now on.
            _ => self.flowed.iter_mut().for_each(|f| *f = true),
        }
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        match self.fixed_size {
            Some(s) => Ok(s),
            None => self.inner.size(),
        }
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::Style;
    use ratatui::text::Line;
    use ratatui::widgets::Paragraph;

    use crate::tui::text::{self, Align};

    /// A row as ratatui lays it out from `s`.
    fn row(s: &str, width: u16) -> Vec<Cell> {
        let mut b = Buffer::empty(Rect::new(0, 0, width, 1));
        b.set_string(0, 0, s, Style::new());
        b.content
    }

    /// A terminal row after the pieces are written by a terminal that advances `adv(s)`
    /// over a cluster: one entry per column, a cluster in the column it started in, `""` in
    /// the columns it covers (so a later write over them shows as a lost letter).
    fn shown(row: &[Cell], width: u16, m: TextWidth, adv: impl Fn(&str) -> usize) -> Vec<String> {
        let mut screen = vec![" ".to_string(); width as usize];
        let mut cur = 0usize;
        for p in layout_row(row, width, m) {
            if p.anchor {
                cur = p.at as usize;
            }
            let s = if p.blank { " " } else { row[p.cell].symbol() };
            let n = adv(s);
            assert!(cur + n <= width as usize, "past the edge");
            screen[cur] = s.to_string();
            for c in &mut screen[cur + 1..cur + n] {
                *c = String::new();
            }
            cur += n;
        }
        screen
    }

    fn text(screen: &[String]) -> String {
        screen.concat()
    }

    /// The column where `needle` starts on the screen row.
    fn column_of(screen: &[String], needle: &str) -> usize {
        let mut acc = String::new();
        for (i, c) in screen.iter().enumerate() {
            if acc.len() == text(screen).find(needle).unwrap_or(usize::MAX) && !c.is_empty() {
                return i;
            }
            acc.push_str(c);
        }
        panic!("{needle} not at a column start in {:?}", text(screen))
    }

    fn table_row(name: &str) -> String {
        format!(
            " {} {} {}",
            text::pad("12", 4, Align::Right),
            text::pad(name, 12, Align::Left),
            "01712345678"
        )
    }

    fn wc(s: &str) -> usize {
        TextWidth::Wcwidth.of(s)
    }

    /// How a test terminal advances over a cluster.
    type Advance = dyn Fn(&str) -> usize;

    /// A shaping terminal narrower than ratatui: every cluster one column unless wide.
    fn one_per_cluster(s: &str) -> usize {
        if TextWidth::Grapheme.of(s) >= 2 && s.chars().any(|c| wc(&c.to_string()) == 2) {
            2
        } else {
            1
        }
    }

    #[test]
    fn ascii_rows_are_written_as_laid_out() {
        let r = row("abc  def", 20);
        let screen = shown(&r, 20, TextWidth::Wcwidth, wc);
        assert_eq!(text(&screen).trim_end(), "abc  def");
        assert_eq!(column_of(&screen, "def"), 5);
    }

    #[test]
    fn bengali_names_keep_every_letter_and_the_next_column_its_place() {
        text::set_measure(TextWidth::Wcwidth);
        let cases: [(TextWidth, &Advance); 3] = [
            (TextWidth::Wcwidth, &wc),
            (TextWidth::Grapheme, &|s: &str| TextWidth::Grapheme.of(s)),
            // the measure over-estimates this terminal: still every letter, every column
            (TextWidth::Grapheme, &one_per_cluster),
        ];
        for (m, adv) in cases {
            let ascii = shown(&row(&table_row("Rahima"), 40), 40, m, adv);
            let mobile_col = column_of(&ascii, "01712345678");
            assert_eq!(mobile_col, 19);
            for name in ["তাসলিমা", "রহিমা খাতুন", "জোসনা ইয়াসমিন", "মোছাঃ তাসলিমা সুলতানা"]
            {
                let screen = shown(&row(&table_row(name), 40), 40, m, adv);
                let kept = text::truncate(name, 12);
                let t = text(&screen);
                assert!(t.contains(kept.as_str()), "{m:?}: {kept} in {t}");
                assert_eq!(
                    column_of(&screen, "01712345678"),
                    mobile_col,
                    "{m:?} {name}: {t}"
                );
            }
        }
    }

    #[test]
    fn text_is_never_cut_inside_a_run_and_never_passes_the_edge() {
        // 8 ratatui cells, 10 terminal columns in wcwidth: the row flows and stops at the edge
        let screen = shown(&row("তাসলিমাxyz", 9), 9, TextWidth::Wcwidth, wc);
        assert_eq!(text(&screen), "তাসলিমাxy");
    }

    #[test]
    fn a_terminal_behind_ratatui_gets_the_next_run_at_its_column() {
        // VS16 heart: ratatui 2 cells, wcwidth 1 column; after a gap, text is at its column
        let screen = shown(&row("❤\u{fe0f}  ab", 10), 10, TextWidth::Wcwidth, wc);
        assert_eq!(column_of(&screen, "ab"), 4, "where ratatui put it");
        // one blank is a space between words: it follows the heart
        let screen = shown(&row("❤\u{fe0f} ab", 10), 10, TextWidth::Wcwidth, wc);
        assert_eq!(text(&screen).trim_end(), "❤\u{fe0f} ab");
    }

    #[test]
    fn a_border_title_pushes_the_rule_not_the_corner() {
        // ratatui: corner, title (13 cells, 17 columns in wcwidth), a rule, the corner
        let line = format!("┌ তাসলিমা সুলতানা {}┐", "─".repeat(10));
        let corner = text::layout_width(&line) - 1;
        assert_eq!(corner, 23);
        let r = row(&line, 30);
        let screen = shown(&r, 30, TextWidth::Wcwidth, wc);
        assert_eq!(column_of(&screen, "┐"), corner, "{:?}", text(&screen));
        assert!(
            text(&screen).contains("তাসলিমা সুলতানা ─"),
            "{:?}",
            text(&screen)
        );
    }

    #[test]
    fn wide_cells_skip_the_cells_they_cover() {
        let screen = shown(&row("中文 x", 10), 10, TextWidth::Wcwidth, wc);
        assert_eq!(text(&screen).trim_end(), "中文 x");
        assert_eq!(column_of(&screen, "x"), 5);
    }

    fn frame(t: &mut Terminal<AlignedBackend<Vec<u8>>>, lines: &[&str]) -> String {
        t.backend_mut().writer_mut().clear();
        let lines: Vec<Line> = lines.iter().map(|l| Line::raw(l.to_string())).collect();
        t.draw(|f| f.render_widget(Paragraph::new(lines), f.area()))
            .unwrap();
        String::from_utf8(t.backend().writer().clone()).unwrap()
    }

    #[test]
    fn a_row_that_held_bengali_is_cleared_and_repainted_whole() {
        let backend =
            AlignedBackend::with_writer(Vec::new(), TextWidth::Wcwidth, Some(Size::new(20, 3)));
        let mut t = Terminal::new(backend).unwrap();
        let out = frame(&mut t, &["ab", "তাসলিমা x", "cd"]);
        // row 1 cleared, then every letter in order with no cursor move inside the name
        let row1 = out.split("\u{1b}[2;1H\u{1b}[2K").nth(1).expect(&out);
        assert!(row1.contains("তাসলিমা x"), "{row1:?}");
        // next frame: row 1 becomes blank; it is cleared, not left with fragments
        let out = frame(&mut t, &["ab", "", "cd"]);
        assert!(out.contains("\u{1b}[2;1H\u{1b}[2K"), "{out:?}");
        assert!(!out.contains('া'), "{out:?}");
        // and then, all ASCII again, it gets the plain diff
        let out = frame(&mut t, &["ab", "zz", "cd"]);
        assert!(!out.contains("\u{1b}[2K"), "{out:?}");
        assert!(out.contains("zz"), "{out:?}");
    }

    #[test]
    fn cells_under_a_wide_cell_never_come_back() {
        let backend =
            AlignedBackend::with_writer(Vec::new(), TextWidth::Wcwidth, Some(Size::new(20, 1)));
        let mut t = Terminal::new(backend).unwrap();
        frame(&mut t, &["তাসলিমা"]);
        // লি is two cells in ratatui: in the second frame it covers the cell where লি was
        frame(&mut t, &["কলি"]);
        let out = frame(&mut t, &["ক"]);
        assert!(out.contains('ক'), "{out:?}");
        assert!(!out.contains('ল'), "a covered cell came back: {out:?}");
    }

    #[test]
    fn clearing_the_screen_forgets_the_shadow() {
        let backend =
            AlignedBackend::with_writer(Vec::new(), TextWidth::Wcwidth, Some(Size::new(20, 2)));
        let mut t = Terminal::new(backend).unwrap();
        frame(&mut t, &["তা", "x"]);
        assert!(!t.backend().shadow.is_empty());
        t.backend_mut().clear_region(ClearType::All).unwrap();
        assert!(t.backend().shadow.is_empty());
    }
}
