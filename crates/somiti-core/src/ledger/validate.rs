//! Input rules shared by every face: Bengali digits, NID, mobile, money text.
//! Each rejection names the field and the reason.

use crate::error::{Error, Result};

/// Replace Bengali digits (০–৯) with ASCII digits and trim surrounding spaces.
pub fn normalize_digits(input: &str) -> String {
    input
        .trim()
        .chars()
        .map(|c| match c {
            '০'..='৯' => char::from(b'0' + (c as u32 - '০' as u32) as u8),
            other => other,
        })
        .collect()
}

/// NID: 10, 13 or 17 digits after normalisation. Returns the ASCII form.
pub fn nid(input: &str) -> Result<String> {
    let s = normalize_digits(input);
    if s.is_empty() {
        return Err(Error::invalid("nid", "is required (10, 13 or 17 digits)"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(Error::invalid(
            "nid",
            format!("must contain digits only (found {c:?})"),
        ));
    }
    match s.len() {
        10 | 13 | 17 => Ok(s),
        n => Err(Error::invalid(
            "nid",
            format!("must have 10, 13 or 17 digits (got {n})"),
        )),
    }
}

/// Bangladeshi mobile: `01[3-9]` followed by 8 digits; `+880`/`880` prefixes are accepted.
pub fn mobile(input: &str) -> Result<String> {
    let mut s: String = normalize_digits(input)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if let Some(rest) = s.strip_prefix("+880").or_else(|| s.strip_prefix("880")) {
        s = format!("0{rest}");
    }
    let b = s.as_bytes();
    let ok = b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'0'
        && b[1] == b'1'
        && (b'3'..=b'9').contains(&b[2]);
    if ok {
        Ok(s)
    } else {
        Err(Error::invalid(
            "mobile",
            format!("must be 01[3-9] followed by 8 digits, e.g. 01712345678 (got {input:?})"),
        ))
    }
}

/// A required, trimmed text field (no NUL or other control characters but tab and line
/// breaks, which a CSV cell may carry).
pub fn required(field: &str, input: &str) -> Result<String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    no_control(field, s)?;
    Ok(s.to_string())
}

/// Refuse NUL and the other control characters (escapes, bells…) in a text field; tab and
/// line breaks are text.
pub fn no_control(field: &str, s: &str) -> Result<()> {
    match s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(Error::invalid(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// A calendar date `YYYY-MM-DD` (Bengali digits accepted).
pub fn date(field: &str, input: &str) -> Result<chrono::NaiveDate> {
    let s = normalize_digits(input);
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            field,
            format!("must be a date as YYYY-MM-DD (got {input:?})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bengali_digits_become_ascii() {
        assert_eq!(normalize_digits(" ০১৭১২৩৪৫৬৭৮ "), "01712345678");
    }

    #[test]
    fn nid_accepts_10_13_17_digits_only() {
        assert!(nid("1234567890").is_ok());
        assert!(nid("1234567890123").is_ok());
        assert!(nid("12345678901234567").is_ok());
        let e = nid("123456789").unwrap_err().to_string();
        assert_eq!(e, "nid: must have 10, 13 or 17 digits (got 9)");
        assert!(
            nid("12345abc90")
                .unwrap_err()
                .to_string()
                .contains("digits only")
        );
        assert_eq!(nid("১২৩৪৫৬৭৮৯০").unwrap(), "1234567890");
    }

    #[test]
    fn mobile_rules() {
        assert_eq!(mobile("01712345678").unwrap(), "01712345678");
        assert_eq!(mobile("+8801912345678").unwrap(), "01912345678");
        assert_eq!(mobile("০১৮১২৩৪৫৬৭৮").unwrap(), "01812345678");
        assert!(mobile("01212345678").is_err());
        assert!(mobile("0171234567").is_err());
        assert!(
            mobile("0171234567x")
                .unwrap_err()
                .to_string()
                .starts_with("mobile:")
        );
    }
}
