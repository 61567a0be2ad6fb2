//! How many terminal columns text takes, by glibc's `wcwidth` rules (what tmux, GNU screen,
//! xterm and VTE use): the command line pads its tables with this, and the console
//! builds its measure on it.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// glibc's `wcwidth` for one codepoint: 0 for nonspacing and enclosing marks, format
/// characters (ZWJ, ZWNJ, ZWSP) and Hangul medial vowels; 2 for East Asian wide and
/// fullwidth; 1 for everything else, spacing marks (Mc) included. Control characters are 0
/// (the console never prints them; ratatui drops them).
pub fn wcwidth(c: char) -> usize {
    if c.is_control() {
        return 0;
    }
    if c == '\u{00AD}' {
        return 1; // soft hyphen: glibc prints it
    }
    if ('\u{1160}'..='\u{11FF}').contains(&c) {
        return 0;
    }
    match c.general_category() {
        GeneralCategory::NonspacingMark
        | GeneralCategory::EnclosingMark
        | GeneralCategory::Format => 0,
        _ => {
            if unicode_width::UnicodeWidthChar::width(c) == Some(2) {
                2
            } else {
                1
            }
        }
    }
}

/// Columns a terminal that follows `wcwidth` advances over `s`.
pub fn terminal_width(s: &str) -> usize {
    s.chars().map(wcwidth).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_vowel_signs_take_a_column_and_the_virama_none() {
        assert_eq!(terminal_width("তা"), 2);
        assert_eq!(terminal_width("ক্ষ"), 2);
        assert_eq!(terminal_width("রহিমা খাতুন"), 10); // ু is a nonspacing mark
        assert_eq!(terminal_width("中"), 2);
    }
}
