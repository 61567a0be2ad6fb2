//! Reading a CSV the way Excel and LibreOffice write it: with or without BOM, comma,
//! semicolon or tab (sniffed from the header line, or Excel's `sep=;` first line), CRLF,
//! quoted newlines. Rows are numbered as a spreadsheet shows them (header = row 1).

use serde::Serialize;

/// One thing wrong with an imported file: where (spreadsheet row and column) and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Row as the spreadsheet shows it; the header is row 1.
    pub row: u64,
    /// Column letter as the spreadsheet shows it (`A`, `B`, …); empty for the whole row.
    pub column: String,
    /// The column's header as written in the file (or the field, when the column is absent).
    pub header: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.column.is_empty(), self.header.is_empty()) {
            (true, true) => write!(f, "row {}: {}", self.row, self.reason),
            (true, false) => write!(f, "row {} ({}): {}", self.row, self.header, self.reason),
            _ => write!(
                f,
                "row {}, column {} ({}): {}",
                self.row, self.column, self.header, self.reason
            ),
        }
    }
}

/// `A`, `B`, … `Z`, `AA`: the spreadsheet's name for the column at `index` (0-based).
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// A data row: its spreadsheet row number and its cells, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    pub row: u64,
    pub cells: Vec<String>,
}

/// A parsed file: header cells, the rows that could be read, and what could not.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub separator: char,
    pub had_bom: bool,
    pub header: Vec<String>,
    /// The header's row (1 unless blank lines come first).
    pub header_row: u64,
    pub rows: Vec<SheetRow>,
    pub problems: Vec<Problem>,
}

const SAVE_AS_UTF8: &str = "save it from Excel as \"CSV UTF-8 (Comma delimited)\"";

/// Read `bytes` as a sheet. Never fails: what cannot be read becomes a `Problem` naming
/// the row, and the rows that can be read are kept so every problem is found in one pass.
pub fn read(bytes: &[u8]) -> Sheet {
    let mut sheet = Sheet {
        separator: ',',
        ..Sheet::default()
    };
    let whole = |reason: String| Problem {
        row: 1,
        column: String::new(),
        header: String::new(),
        reason,
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        sheet.problems.push(whole(format!(
            "the file is UTF-16 (Excel's \"Unicode Text\"); {SAVE_AS_UTF8}"
        )));
        return sheet;
    }
    let mut body = bytes;
    if let Some(rest) = body.strip_prefix(super::BOM) {
        sheet.had_bom = true;
        body = rest;
    }
    let (sep, body) = separator(body);
    sheet.separator = sep as char;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    // Newlines inside quoted cells move the file's line count ahead of the sheet's rows.
    let (mut inner_newlines, mut newlines, mut counted) = (0u64, 0u64, 0usize);
    let mut record = csv::ByteRecord::new();
    let mut header_seen = false;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                sheet.problems.push(Problem {
                    row: (newlines + 2).saturating_sub(inner_newlines),
                    ..whole(format!("cannot be read as CSV: {e}"))
                });
                break;
            }
        }
        // The reader's position is where the previous record ended: step over the line
        // breaks (blank lines too, which it skips) and count them.
        let mut start = record.position().map(|p| p.byte()).unwrap_or(0) as usize;
        while matches!(body.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        newlines += body[counted..start.min(body.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted = start.min(body.len());
        let row = (newlines + 1).saturating_sub(inner_newlines).max(1);
        inner_newlines += record
            .iter()
            .map(|f| f.iter().filter(|b| **b == b'\n').count() as u64)
            .sum::<u64>();
        let mut cells = Vec::with_capacity(record.len());
        let mut bad = None;
        for (i, raw) in record.iter().enumerate() {
            match std::str::from_utf8(raw) {
                Ok(s) => cells.push(clean(s)),
                Err(_) => {
                    bad.get_or_insert(i);
                    cells.push(String::new());
                }
            }
        }
        if let Some(i) = bad {
            sheet.problems.push(Problem {
                row,
                column: column_letter(i),
                header: sheet.header.get(i).cloned().unwrap_or_default(),
                reason: format!("is not UTF-8 text; {SAVE_AS_UTF8}"),
            });
            if !header_seen {
                return sheet;
            }
            continue;
        }
        if !header_seen {
            header_seen = true;
            sheet.header_row = row;
            sheet.header = cells;
            continue;
        }
        if cells.iter().all(String::is_empty) {
            continue; // Excel leaves rows of empty cells below the data
        }
        let width = sheet.header.len();
        if cells.len() > width && cells[width..].iter().all(String::is_empty) {
            cells.truncate(width);
        }
        if cells.len() != width {
            let spans = newlines_in(&cells) > 0;
            sheet.problems.push(Problem {
                row,
                ..whole(format!(
                    "has {} cells but the header has {width}{}",
                    cells.len(),
                    if cells.len() > width {
                        "; a value with the separator in it must be in double quotes"
                    } else if spans {
                        "; a double quote that is never closed joins rows together"
                    } else {
                        ""
                    }
                ))
            });
            continue;
        }
        sheet.rows.push(SheetRow { row, cells });
    }
    if !header_seen && sheet.problems.is_empty() {
        sheet
            .problems
            .push(whole("the file is empty; it needs a header row".into()));
    }
    sheet
}

fn newlines_in(cells: &[String]) -> u64 {
    cells
        .iter()
        .map(|c| c.bytes().filter(|b| *b == b'\n').count() as u64)
        .sum()
}

/// Trim spaces (no-break spaces too) and take off the `'` that keeps Excel from reading
/// `=`, `+`, `-` or `@` as a formula (the export puts it there).
fn clean(s: &str) -> String {
    let t = s.trim();
    match t.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => t.to_string(),
    }
}

/// The separator: Excel's `sep=X` first line (which it hides), else the most common of
/// comma, semicolon and tab outside quotes in the header line (comma when none).
fn separator(body: &[u8]) -> (u8, &[u8]) {
    let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let first = &body[..end];
    let first_trim = first.strip_suffix(b"\r").unwrap_or(first);
    if first_trim.len() == 5 && first_trim[..4].eq_ignore_ascii_case(b"sep=") {
        let rest = body.get(end + 1..).unwrap_or(&[]);
        return (first_trim[4], rest);
    }
    let (mut counts, mut quoted) = ([0usize; 3], false);
    for b in first {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let seps = [b',', b';', b'\t'];
    let best = (0..3).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    (seps[best], body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_are_what_a_spreadsheet_shows() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn rows_are_counted_like_a_spreadsheet_even_with_newlines_in_cells() {
        let s = read(b"\xEF\xBB\xBFa;b\r\n1;\"two\r\nlines\"\r\n\r\n3;x\r\n");
        assert!(s.had_bom);
        assert_eq!(s.separator, ';');
        assert_eq!(s.header, ["a", "b"]);
        let rows: Vec<u64> = s.rows.iter().map(|r| r.row).collect();
        // the blank line is row 3 of the sheet and is skipped
        assert_eq!(rows, [2, 4]);
        assert_eq!(s.rows[0].cells[1], "two\r\nlines");
    }

    #[test]
    fn ragged_and_non_utf8_rows_are_named() {
        let s = read(b"a,b\n1,2\n1,2,3\n\xE9,2\n5\n");
        let p: Vec<String> = s.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(s.rows.len(), 1);
        assert!(p[0].starts_with("row 3: has 3 cells"), "{p:?}");
        assert!(
            p[1].starts_with("row 4, column A (a): is not UTF-8"),
            "{p:?}"
        );
        assert!(p[2].starts_with("row 5: has 1 cells"), "{p:?}");
    }

    #[test]
    fn excel_sep_line_sets_the_separator_and_is_not_a_row() {
        let s = read(b"sep=;\r\nname;no\r\nx;1\r\n");
        assert_eq!(s.separator, ';');
        assert_eq!(s.header, ["name", "no"]);
        assert_eq!(s.rows[0].row, 2);
    }

    #[test]
    fn utf16_and_empty_files_are_refused_with_a_reason() {
        assert!(read(b"\xFF\xFEa\0").problems[0].reason.contains("UTF-16"));
        assert!(read(b"").problems[0].reason.contains("empty"));
    }
}
