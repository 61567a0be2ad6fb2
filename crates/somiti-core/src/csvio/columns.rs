//! The member columns an import understands and the header names each may go by, in
//! English and Bengali, matched case-insensitively with `_`, `-` and `.` read as spaces
//! and a unit in brackets ignored (`Loan (Tk)` is `loan`).

use crate::csvio::sheet::{Problem, column_letter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    OrgCode,
    MemberNo,
    Name,
    Nid,
    Mobile,
    Worker,
    LoanAmount,
    DailyInstallment,
    DailySavings,
    JoinedOn,
    Status,
    /// Written by the export and derived by the ledger (balances, the org's name):
    /// accepted in a file and never imported.
    Derived,
}

impl Field {
    /// The field name the ledger's validation uses in its errors.
    pub fn ledger_name(self) -> &'static str {
        match self {
            Field::OrgCode => "org_code",
            Field::MemberNo => "member_no",
            Field::Name => "name",
            Field::Nid => "nid",
            Field::Mobile => "mobile",
            Field::Worker => "worker",
            Field::LoanAmount => "loan_amount",
            Field::DailyInstallment => "daily_installment",
            Field::DailySavings => "daily_savings",
            Field::JoinedOn => "joined_on",
            Field::Status => "status",
            Field::Derived => "",
        }
    }
}

/// Every accepted header (normalised) per field. README documents this list.
pub const ALIASES: &[(Field, &[&str])] = &[
    (Field::OrgCode, &["org code", "organization code", "org"]),
    (
        Field::MemberNo,
        &[
            "member no",
            "no",
            "member number",
            "number",
            "সদস্য নং",
            "সদস্য নম্বর",
        ],
    ),
    (Field::Name, &["name", "member name", "নাম", "সদস্যের নাম"]),
    (
        Field::Nid,
        &[
            "nid",
            "national id",
            "nid no",
            "nid number",
            "এনআইডি",
            "জাতীয় পরিচয়পত্র নং",
        ],
    ),
    (
        Field::Mobile,
        &[
            "mobile",
            "phone",
            "mobile no",
            "phone no",
            "mobile number",
            "মোবাইল",
            "ফোন",
        ],
    ),
    (
        Field::Worker,
        &[
            "worker",
            "field worker",
            "worker name",
            "collector",
            "কর্মী",
            "মাঠকর্মী",
        ],
    ),
    (
        Field::LoanAmount,
        &["loan", "loan amount", "ঋণ", "ঋণের পরিমাণ"],
    ),
    (
        Field::DailyInstallment,
        &[
            "installment",
            "daily installment",
            "instalment",
            "daily instalment",
            "কিস্তি",
            "দৈনিক কিস্তি",
        ],
    ),
    (
        Field::DailySavings,
        &["savings", "daily savings", "সঞ্চয়", "দৈনিক সঞ্চয়"],
    ),
    (
        Field::JoinedOn,
        &[
            "joined",
            "joined on",
            "join date",
            "joining date",
            "ভর্তির তারিখ",
        ],
    ),
    (Field::Status, &["status", "অবস্থা"]),
    (
        Field::Derived,
        &[
            "organization",
            "loan outstanding",
            "savings balance",
            "arrears",
            "days in arrears",
        ],
    ),
];

const REQUIRED: [Field; 4] = [Field::MemberNo, Field::Name, Field::Nid, Field::Mobile];

/// `Member No.` → `member no`; `Loan (Tk)` → `loan`.
pub fn normalise(header: &str) -> String {
    let h = header.trim().to_lowercase();
    let h = match h.find(" (").or_else(|| h.find('(')) {
        Some(i) if h.ends_with(')') && i > 0 => h[..i].to_string(),
        _ => h,
    };
    h.replace(['_', '-', '.'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn lookup(header: &str) -> Option<Field> {
    let h = normalise(header);
    ALIASES
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(f, _)| *f)
}

/// Which field each column holds (`None`: a column without a header, ignored when empty).
/// Unknown, repeated and missing required columns are problems on the header row;
/// `fatal` is true when rows cannot be checked at all.
pub struct Mapping {
    pub fields: Vec<Option<Field>>,
    pub problems: Vec<Problem>,
    pub fatal: bool,
}

impl Mapping {
    pub fn column_of(&self, f: Field) -> Option<usize> {
        self.fields.iter().position(|x| *x == Some(f))
    }
}

pub fn map_header(header: &[String], row: u64) -> Mapping {
    let mut fields = Vec::with_capacity(header.len());
    let mut problems = Vec::new();
    let mut fatal = false;
    let problem = |i: usize, h: &str, reason: String| Problem {
        row,
        column: column_letter(i),
        header: h.to_string(),
        reason,
    };
    for (i, h) in header.iter().enumerate() {
        if h.trim().is_empty() {
            fields.push(None);
            continue;
        }
        match lookup(h) {
            Some(f) if f != Field::Derived && fields.contains(&Some(f)) => {
                fatal = true;
                problems.push(problem(
                    i,
                    h,
                    format!("is a second {} column; keep only one", f.ledger_name()),
                ));
                fields.push(None);
            }
            Some(f) => fields.push(Some(f)),
            None => {
                problems.push(problem(
                    i,
                    h,
                    format!(
                        "is not a member column; use {} (or delete the column)",
                        canonical_names()
                    ),
                ));
                fields.push(None);
            }
        }
    }
    for f in REQUIRED {
        if !fields.contains(&Some(f)) {
            fatal = true;
            problems.push(Problem {
                row,
                column: String::new(),
                header: f.ledger_name().into(),
                reason: format!(
                    "the header has no {} column (accepted names: {})",
                    f.ledger_name(),
                    aliases_of(f)
                ),
            });
        }
    }
    Mapping {
        fields,
        problems,
        fatal,
    }
}

fn canonical_names() -> String {
    ALIASES
        .iter()
        .filter(|(f, _)| *f != Field::Derived)
        .map(|(f, _)| f.ledger_name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn aliases_of(f: Field) -> String {
    ALIASES
        .iter()
        .find(|(x, _)| *x == f)
        .map(|(_, n)| n.join(", "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_in_any_case_spelling_and_language() {
        assert_eq!(lookup("Member No."), Some(Field::MemberNo));
        assert_eq!(lookup("MEMBER_NO"), Some(Field::MemberNo));
        assert_eq!(lookup(" সদস্য নং "), Some(Field::MemberNo));
        assert_eq!(lookup("Loan (Tk)"), Some(Field::LoanAmount));
        assert_eq!(lookup("daily-installment"), Some(Field::DailyInstallment));
        assert_eq!(lookup("National ID"), Some(Field::Nid));
        assert_eq!(lookup("Phone"), Some(Field::Mobile));
        assert_eq!(lookup("loan_outstanding"), Some(Field::Derived));
        assert_eq!(lookup("moblie"), None);
    }

    #[test]
    fn missing_repeated_and_unknown_columns_are_reported_together() {
        let h: Vec<String> = ["name", "Name", "moblie", "nid"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = map_header(&h, 1);
        assert!(m.fatal);
        let text: Vec<String> = m.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text[0].contains("column B (Name): is a second name column"),
            "{text:?}"
        );
        assert!(
            text[1].contains("column C (moblie): is not a member column"),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("no member_no column")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("no mobile column")),
            "{text:?}"
        );
    }
}
