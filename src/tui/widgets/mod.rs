//! Widgets shared by the views: forms, dialogs (confirm, message, picker, progress).
//! Every widget clamps itself to the area it is given, so no size makes it panic.

pub mod dialog;
pub mod form;

use ratatui::layout::Rect;

/// A `width`×`height` rectangle in the middle of `area`, never larger than it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Cut `s` to `width` terminal columns (with the terminal's measure, at grapheme-cluster
/// boundaries), ending in `…` when cut; keeps the end instead when `keep_end` (paths).
pub fn fit(s: &str, width: usize, keep_end: bool) -> String {
    if keep_end {
        crate::tui::text::truncate_start(s, width)
    } else {
        crate::tui::text::truncate(s, width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centered_never_leaves_the_area() {
        let a = Rect::new(2, 3, 10, 5);
        let r = centered(a, 40, 40);
        assert_eq!(r, a);
        let r = centered(a, 4, 1);
        assert_eq!((r.x, r.y, r.width, r.height), (5, 5, 4, 1));
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 10, false), "abcdef");
        assert_eq!(fit("abcdef", 4, false), "abc…");
        assert_eq!(fit("/a/b/c/d.db", 6, true), "…/d.db");
        assert_eq!(fit("abc", 0, false), "");
        // never between a consonant and its vowel sign
        assert_eq!(fit("রহিমা খাতুন", 4, false), "রহি…");
    }
}
