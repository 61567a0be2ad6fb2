//! Measure how this terminal advances over text: print a few probe clusters in the top-left
//! corner (concealed), read the cursor back after each (`CSI 6n`, through crossterm), and
//! choose the [`TextWidth`] that explains the answers. The choice is [`decide`], a pure
//! function; [`measure`] does the talking to the terminal.

use std::io::{self, Write};

use crossterm::style::{Attribute, Print, SetAttribute};
use crossterm::terminal::{Clear, ClearType};
use crossterm::{cursor::MoveTo, queue};

use crate::tui::text::TextWidth;

/// The probe clusters: `তা` (a spacing vowel sign that unicode-width counts 0), `কি`, the
/// conjunct `ক্ষ`, `মোছাঃ` (two clusters, five codepoints), an emoji and a CJK letter.
pub const PROBES: [&str; 6] = ["তা", "কি", "ক্ষ", "মোছাঃ", "😀", "中"];

/// The model that explains the measured advances best (`None`: no answer for that probe).
/// No answer at all, or a tie, gives wcwidth: what tmux, screen, xterm and VTE do.
pub fn decide(advances: &[Option<u16>]) -> TextWidth {
    let score = |m: TextWidth| {
        PROBES
            .iter()
            .zip(advances)
            .filter(|(p, a)| **a == Some(m.of(p) as u16))
            .count()
    };
    if score(TextWidth::Grapheme) > score(TextWidth::Wcwidth) {
        TextWidth::Grapheme
    } else {
        TextWidth::Wcwidth
    }
}

/// "তা 2, কি 2, …" (or "no answer") for the log.
pub fn describe(advances: &[Option<u16>]) -> String {
    PROBES
        .iter()
        .zip(advances)
        .map(|(p, a)| match a {
            Some(a) => format!("{p} {a}"),
            None => format!("{p} ?"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Print each probe at the top-left corner of the (alternate, raw-mode) screen and read
/// the cursor back. The first probe without an answer (crossterm waits up to 2 s) ends the
/// probing. The row is cleared afterwards.
pub fn measure(out: &mut impl Write) -> io::Result<Vec<Option<u16>>> {
    let mut advances = Vec::with_capacity(PROBES.len());
    for p in PROBES {
        queue!(
            out,
            MoveTo(0, 0),
            Clear(ClearType::CurrentLine),
            SetAttribute(Attribute::Hidden),
            Print(p),
            SetAttribute(Attribute::Reset)
        )?;
        out.flush()?;
        match crossterm::cursor::position() {
            Ok((col, _row)) => advances.push(Some(col)),
            Err(e) => {
                tracing::info!("the terminal did not report the cursor: {e}");
                break;
            }
        }
    }
    advances.resize(PROBES.len(), None);
    queue!(out, MoveTo(0, 0), Clear(ClearType::All))?;
    out.flush()?;
    Ok(advances)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advances(m: TextWidth) -> Vec<Option<u16>> {
        PROBES.iter().map(|p| Some(m.of(p) as u16)).collect()
    }

    #[test]
    fn tmux_advances_choose_wcwidth() {
        // what tmux 3.3 answers: one column per codepoint with glibc's widths
        let tmux = [2, 2, 2, 5, 2, 2].map(Some);
        assert_eq!(advances(TextWidth::Wcwidth), tmux.to_vec());
        assert_eq!(decide(&tmux), TextWidth::Wcwidth);
    }

    #[test]
    fn cluster_advances_choose_grapheme() {
        assert_eq!(decide(&advances(TextWidth::Grapheme)), TextWidth::Grapheme);
        // a terminal that draws every cluster one wide (width of its first codepoint) is
        // nearer the grapheme model: তা 1, and মোছাঃ is far from 5
        assert_eq!(
            decide(&[1, 1, 1, 2, 2, 2].map(Some)),
            TextWidth::Grapheme,
            "তা and the emoji and CJK letter agree with grapheme, nothing only with wcwidth"
        );
    }

    #[test]
    fn no_answer_or_nonsense_chooses_wcwidth() {
        assert_eq!(decide(&[None; 6]), TextWidth::Wcwidth);
        assert_eq!(decide(&[]), TextWidth::Wcwidth);
        assert_eq!(decide(&[9, 9, 9, 9, 9, 9].map(Some)), TextWidth::Wcwidth);
        // one answer, then silence: that answer decides
        assert_eq!(
            decide(&[Some(1), None, None, None, None, None]),
            TextWidth::Grapheme
        );
        assert_eq!(
            decide(&[Some(2), None, None, None, None, None]),
            TextWidth::Wcwidth
        );
    }

    #[test]
    fn description_names_each_probe() {
        let d = describe(&[Some(2), None, None, None, None, None]);
        assert!(d.starts_with("তা 2, কি ?"), "{d}");
    }
}
