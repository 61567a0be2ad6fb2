//! Money is `i64` poisha (1 taka = 100 poisha) everywhere. Parsing taka text into poisha
//! never goes through a float; formatting is for the faces.

use crate::error::{Error, Result};
use crate::ledger::validate::normalize_digits;

/// Parse "1234", "1,234.5", "১২৩৪.৫০" or "৳ 1,234.50" (taka) into poisha.
pub fn parse_taka(field: &str, input: &str) -> Result<i64> {
    let s: String = normalize_digits(input)
        .chars()
        .filter(|c| !matches!(c, ',' | '৳' | ' '))
        .collect();
    let bad = || {
        Error::invalid(
            field,
            format!(
                "must be an amount in taka with at most 2 decimals, e.g. 1250.50 (got {input:?})"
            ),
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    if s.starts_with('-') {
        return Err(Error::invalid(field, "must not be negative"));
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
    {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// "1234.50": plain taka with two decimals (CSV, JSON-friendly text).
pub fn plain(poisha: i64) -> String {
    let sign = if poisha < 0 { "-" } else { "" };
    let a = poisha.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// "1,234.50" with thousands separators, for the screen.
pub fn grouped(poisha: i64) -> String {
    let sign = if poisha < 0 { "-" } else { "" };
    let a = poisha.unsigned_abs();
    let whole = (a / 100).to_string();
    let mut out = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}.{:02}", a % 100)
}

/// "৳ 1,234.50"
pub fn taka(poisha: i64) -> String {
    format!("৳ {}", grouped(poisha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_taka_without_floats() {
        assert_eq!(parse_taka("a", "1234").unwrap(), 123_400);
        assert_eq!(parse_taka("a", "1,234.5").unwrap(), 123_450);
        assert_eq!(parse_taka("a", "৳ 1,234.05").unwrap(), 123_405);
        assert_eq!(parse_taka("a", "১২৩৪.৫০").unwrap(), 123_450);
        assert_eq!(parse_taka("a", ".5").unwrap(), 50);
        assert!(parse_taka("a", "1.234").is_err());
        assert!(
            parse_taka("a", "-5")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(parse_taka("a", "abc").is_err());
        assert!(parse_taka("a", "").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(plain(123_450), "1234.50");
        assert_eq!(plain(-5), "-0.05");
        assert_eq!(grouped(123_456_789), "1,234,567.89");
        assert_eq!(grouped(99), "0.99");
        assert_eq!(taka(100_000), "৳ 1,000.00");
    }
}
