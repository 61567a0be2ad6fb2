//! How wide text is on this terminal, and cutting and padding text with that width.
//!
//! Two terminals can disagree about the same letters. tmux, GNU screen, xterm and VTE
//! advance the cursor once per codepoint by glibc's `wcwidth`: a Bengali vowel sign such as
//! া, ি, ো or the visarga ঃ (spacing marks) takes a column of its own, so `তা` is two columns.
//! Terminals that shape grapheme clusters draw `তা` as one cluster, and ratatui lays out
//! with that cluster width (unicode-width) too. The console measures the terminal at start-up
//! ([`crate::tui::probe`]) or takes `[console] text_width` from the config, sets the measure
//! once ([`set_measure`]), and every cut and pad in the views goes through this module:
//!
//! - [`width`]: the columns a text needs on screen — the larger of the terminal's measure and
//!   ratatui's layout width, so a text that "fits" fits both ways;
//! - [`layout_width`]: ratatui's width (where its layout puts the next cell), for padding;
//! - [`truncate`] / [`truncate_start`]: cut at grapheme-cluster boundaries only (never between
//!   a consonant and its vowel sign, never inside `ক্ষ`), ending (or starting) with `…`;
//! - [`pad`]: fit a text into a column and pad it with blanks to the column's width.
//!
//! The drawing layer (`crate::tui::backend`) lets the terminal flow each run of text and
//! re-aligns at blanks, so a column cut and padded here starts where it starts on an ASCII
//! row whatever the terminal's measure.

use std::sync::atomic::{AtomicU8, Ordering};

use ratatui::buffer::CellWidth;
use unicode_segmentation::UnicodeSegmentation;

/// How the terminal advances the cursor over text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextWidth {
    /// One advance per codepoint, glibc `wcwidth` rules: tmux, GNU screen, xterm, VTE.
    Wcwidth,
    /// One advance per grapheme cluster, the cluster's width as ratatui measures it
    /// (unicode-width): terminals that shape clusters.
    Grapheme,
}

impl TextWidth {
    pub fn as_str(self) -> &'static str {
        match self {
            TextWidth::Wcwidth => "wcwidth",
            TextWidth::Grapheme => "grapheme",
        }
    }

    /// Columns the terminal advances over `s` (control characters are never printed).
    pub fn of(self, s: &str) -> usize {
        match self {
            TextWidth::Wcwidth => s.chars().map(wcwidth).sum(),
            TextWidth::Grapheme => s.graphemes(true).map(cluster_width).sum(),
        }
    }
}

const WCWIDTH: u8 = 0;
const GRAPHEME: u8 = 1;
static MEASURE: AtomicU8 = AtomicU8::new(WCWIDTH);

/// Set the process-wide measure (once, at start-up; wcwidth until then).
pub fn set_measure(m: TextWidth) {
    let v = match m {
        TextWidth::Wcwidth => WCWIDTH,
        TextWidth::Grapheme => GRAPHEME,
    };
    MEASURE.store(v, Ordering::Relaxed);
}

/// The measure in use.
pub fn measure() -> TextWidth {
    match MEASURE.load(Ordering::Relaxed) {
        GRAPHEME => TextWidth::Grapheme,
        _ => TextWidth::Wcwidth,
    }
}

pub use crate::text::wcwidth;

/// Ratatui's width of one grapheme cluster (0 for a cluster it drops: one with a control
/// character).
fn cluster_width(g: &str) -> usize {
    if g.contains(char::is_control) {
        0
    } else {
        g.cell_width() as usize
    }
}

/// Where ratatui's layout puts the cell after `s`, relative to its start.
pub fn layout_width(s: &str) -> usize {
    s.graphemes(true).map(cluster_width).sum()
}

/// Columns `s` needs on screen with the current measure: the larger of the terminal's
/// advance and ratatui's layout width.
pub fn width(s: &str) -> usize {
    width_with(measure(), s)
}

/// [`width`] with a given measure.
pub fn width_with(m: TextWidth, s: &str) -> usize {
    let t = m.of(s);
    match m {
        TextWidth::Grapheme => t,
        TextWidth::Wcwidth => t.max(layout_width(s)),
    }
}

/// `s` cut to `max` columns ([`width`]) at a grapheme-cluster boundary, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    truncate_with(measure(), s, max, false)
}

/// `s` cut to `max` columns keeping its end (paths), starting with `…` when cut.
pub fn truncate_start(s: &str, max: usize) -> String {
    truncate_with(measure(), s, max, true)
}

/// [`truncate`] / [`truncate_start`] with a given measure.
pub fn truncate_with(m: TextWidth, s: &str, max: usize, keep_end: bool) -> String {
    if width_with(m, s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    // `…` is one column in every measure; the two widths add up cluster by cluster.
    let room = max - 1;
    let (mut term, mut layout) = (0, 0);
    let mut kept: Vec<&str> = Vec::new();
    let mut take = |g: &'_ str| -> bool {
        let (t, l) = (m.of(g), cluster_width(g));
        if (term + t).max(layout + l) > room {
            return false;
        }
        term += t;
        layout += l;
        true
    };
    if keep_end {
        for g in s.graphemes(true).rev() {
            if !take(g) {
                break;
            }
            kept.push(g);
        }
        kept.reverse();
        format!("…{}", kept.concat())
    } else {
        for g in s.graphemes(true) {
            if !take(g) {
                break;
            }
            kept.push(g);
        }
        format!("{}…", kept.concat())
    }
}

/// Column alignment for [`pad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// `s` fitted into a column `cols` wide ([`truncate`]) and padded with blanks to the
/// column's end in ratatui's layout, so the next column starts where it does on an ASCII
/// row.
pub fn pad(s: &str, cols: usize, align: Align) -> String {
    let text = truncate(s, cols);
    let fill = " ".repeat(cols.saturating_sub(layout_width(&text)));
    match align {
        Align::Left => text + &fill,
        Align::Right => fill + &text,
    }
}

/// Blanks after `s` to make it `cols` wide in ratatui's layout (nothing when it is wider).
pub fn fill_to(s: &str, cols: usize) -> String {
    " ".repeat(cols.saturating_sub(layout_width(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TextWidth::*;

    #[test]
    fn wcwidth_counts_codepoints_as_glibc_does() {
        assert_eq!(Wcwidth.of("তা"), 2);
        assert_eq!(Wcwidth.of("লি"), 2);
        assert_eq!(Wcwidth.of("মো"), 2);
        assert_eq!(Wcwidth.of("ছাঃ"), 3);
        assert_eq!(Wcwidth.of("ক্ষ"), 2, "the virama is a nonspacing mark");
        assert_eq!(Wcwidth.of("তাসলিমা সুলতানা"), 14, "ু is a nonspacing mark");
        assert_eq!(Wcwidth.of("😀"), 2);
        assert_eq!(Wcwidth.of("中"), 2);
        assert_eq!(
            Wcwidth.of("👨\u{200d}👩\u{200d}👧"),
            6,
            "ZWJ is 0, each emoji 2"
        );
        assert_eq!(Wcwidth.of("a\tb"), 2);
    }

    #[test]
    fn grapheme_counts_clusters_as_ratatui_does() {
        assert_eq!(Grapheme.of("তা"), 1);
        assert_eq!(Grapheme.of("লি"), 2);
        assert_eq!(Grapheme.of("মো"), 2);
        assert_eq!(Grapheme.of("ছাঃ"), 2);
        assert_eq!(Grapheme.of("ক্ষ"), 2);
        assert_eq!(Grapheme.of("😀"), 2);
        assert_eq!(Grapheme.of("中"), 2);
        assert_eq!(Grapheme.of("👨\u{200d}👩\u{200d}👧"), 2);
        assert_eq!(layout_width("তাসলিমা"), 5);
    }

    #[test]
    fn width_is_the_larger_of_terminal_and_layout() {
        assert_eq!(width_with(Wcwidth, "তাসলিমা"), 7);
        assert_eq!(width_with(Grapheme, "তাসলিমা"), 5);
        // a text-presentation heart with VS16: wcwidth 1, ratatui 2
        assert_eq!(width_with(Wcwidth, "❤\u{fe0f}"), 2);
        assert_eq!(width_with(Wcwidth, "Rahima"), 6);
    }

    #[test]
    fn truncation_cuts_only_between_clusters_and_ends_with_an_ellipsis() {
        assert_eq!(truncate_with(Wcwidth, "abcdef", 10, false), "abcdef");
        assert_eq!(truncate_with(Wcwidth, "abcdef", 4, false), "abc…");
        assert_eq!(truncate_with(Wcwidth, "abc", 0, false), "");
        assert_eq!(truncate_with(Wcwidth, "/a/b/c/d.db", 6, true), "…/d.db");
        // তা is two columns in wcwidth: with room for 2 before the ellipsis, it stays whole
        assert_eq!(truncate_with(Wcwidth, "তাসলিমা", 3, false), "তা…");
        // room for 1 only: never "ত…" with the vowel sign cut off
        assert_eq!(truncate_with(Wcwidth, "তাসলিমা", 2, false), "…");
        assert_eq!(truncate_with(Grapheme, "তাসলিমা", 2, false), "তা…");
        // ক্ষ is one cluster: whole or not at all
        assert_eq!(truncate_with(Wcwidth, "ক্ষমা", 2, false), "…");
        assert_eq!(truncate_with(Wcwidth, "ক্ষমা", 3, false), "ক্ষ…");
        assert_eq!(truncate_with(Wcwidth, "মোছাঃ তাসলিমা", 6, false), "মোছাঃ…");
        let name = "মোছাঃ তাসলিমা সুলতানা";
        let boundaries: Vec<usize> = name
            .grapheme_indices(true)
            .map(|(i, _)| i)
            .chain([name.len()])
            .collect();
        for m in [Wcwidth, Grapheme] {
            for max in 0..24 {
                let t = truncate_with(m, name, max, false);
                assert!(width_with(m, &t) <= max, "{m:?} {max}: {t}");
                let kept = t.strip_suffix('…').unwrap_or(&t);
                assert!(name.starts_with(kept), "{m:?} {max}: {t}");
                assert!(
                    boundaries.contains(&kept.len()),
                    "{m:?} {max}: {t} cuts inside a cluster"
                );
            }
        }
    }

    #[test]
    fn pad_fills_in_layout_columns_after_fitting_in_terminal_columns() {
        set_measure(Wcwidth);
        let p = pad("তাসলিমা", 10, Align::Left);
        assert_eq!(p, "তাসলিমা     ", "5 layout columns + 5 blanks");
        assert_eq!(layout_width(&p), 10);
        assert_eq!(pad("12", 5, Align::Right), "   12");
        let cut = pad("মোছাঃ তাসলিমা সুলতানা", 10, Align::Left);
        assert!(cut.trim_end().ends_with('…'), "{cut}");
        assert!(Wcwidth.of(cut.trim_end()) <= 10);
    }
}
