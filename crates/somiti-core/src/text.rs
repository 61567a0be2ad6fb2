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

/// A byte count in binary units, one decimal: "1.5 MiB", "820.0 KiB", "12 B" (every face and
/// every message says sizes this way). A negative count (never a real size) is 0 B.
pub fn human_bytes(bytes: impl TryInto<u64>) -> String {
    const K: f64 = 1024.0;
    let n: u64 = bytes.try_into().unwrap_or(0);
    let b = n as f64;
    if b >= K * K * K {
        format!("{:.1} GiB", b / (K * K * K))
    } else if b >= K * K {
        format!("{:.1} MiB", b / (K * K))
    } else if b >= K {
        format!("{:.1} KiB", b / K)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_in_binary_units_with_one_decimal() {
        assert_eq!(human_bytes(0u64), "0 B");
        assert_eq!(human_bytes(1023i64), "1023 B");
        assert_eq!(human_bytes(1024u64), "1.0 KiB");
        assert_eq!(human_bytes(1536i64), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 + 300 * 1024u64), "5.3 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024u64), "3.0 GiB");
        assert_eq!(human_bytes(-5i64), "0 B");
    }

    #[test]
    fn spacing_vowel_signs_take_a_column_and_the_virama_none() {
        assert_eq!(terminal_width("তা"), 2);
        assert_eq!(terminal_width("ক্ষ"), 2);
        assert_eq!(terminal_width("রহিমা খাতুন"), 10); // ু is a nonspacing mark
        assert_eq!(terminal_width("中"), 2);
    }
}
