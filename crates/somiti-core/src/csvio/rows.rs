//! One row of a member import: its cells read into a `MemberInput` (money, dates and the
//! Excel habits around them), checked with the ledger's `member::validate_fields`, and
//! compared with the member the ledger already holds under the same NID.

use crate::csvio::columns::{Field, Mapping};
use crate::csvio::sheet::{Problem, SheetRow, column_letter};
use crate::csvio::unique::Existing;
use crate::error::Error;
use crate::ledger::member::{self, MemberInput, ValidMember};
use crate::ledger::org::{self, Organization};
use crate::ledger::{money, validate};

/// A row on its way in: its normalised keys (for duplicates) and, when every field
/// passed, the member the ledger would insert.
pub(super) struct Candidate {
    pub row: u64,
    pub member_no: Option<String>,
    pub nid: Option<String>,
    pub valid: Option<ValidMember>,
}

pub(super) struct RowCtx<'a> {
    pub map: &'a Mapping,
    pub header: &'a [String],
    pub org: &'a Organization,
    pub workers: &'a [org::Worker],
}

impl RowCtx<'_> {
    pub fn problem(&self, row: u64, f: Field, reason: String) -> Problem {
        let col = self.map.column_of(f);
        Problem {
            row,
            column: col.map(column_letter).unwrap_or_default(),
            header: col
                .and_then(|i| self.header.get(i).cloned())
                .unwrap_or_else(|| f.ledger_name().into()),
            reason,
        }
    }

    /// A ledger error as a problem on the column of the field it names.
    pub fn problem_from(&self, row: u64, e: &Error) -> Problem {
        match e {
            Error::Invalid { field, reason } => match field_named(field) {
                Some(f) => self.problem(row, f, reason.clone()),
                None => Problem {
                    row,
                    column: String::new(),
                    header: field.clone(),
                    reason: reason.clone(),
                },
            },
            other => Problem {
                row,
                column: String::new(),
                header: String::new(),
                reason: other.to_string(),
            },
        }
    }

    fn cell<'r>(&self, r: &'r SheetRow, f: Field) -> &'r str {
        self.map
            .column_of(f)
            .and_then(|i| r.cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Read one row into a `MemberInput` and run the ledger's field rules on it.
    pub fn check(&self, r: &SheetRow, problems: &mut Vec<Problem>) -> Candidate {
        for (i, h) in self.header.iter().enumerate() {
            if h.trim().is_empty() && !r.cells[i].is_empty() {
                problems.push(Problem {
                    row: r.row,
                    column: column_letter(i),
                    header: String::new(),
                    reason: "holds a value but its column has no header".into(),
                });
            }
        }
        let mut bad: Vec<Field> = Vec::new();
        let mut push = |f: Field, reason: String, bad: &mut Vec<Field>| {
            bad.push(f);
            problems.push(self.problem(r.row, f, reason));
        };
        let code = self.cell(r, Field::OrgCode);
        if !code.is_empty() && !code.eq_ignore_ascii_case(&self.org.code) {
            push(
                Field::OrgCode,
                format!(
                    "the row is for {code} but the import is into {}; import with --org {code} or delete the column",
                    self.org.code
                ),
                &mut bad,
            );
        }
        let mut amount = |f: Field, bad: &mut Vec<Field>| {
            let v = self.cell(r, f);
            if v.is_empty() {
                return 0;
            }
            money::parse_taka(f.ledger_name(), &decimal_comma(v)).unwrap_or_else(|e| {
                push(f, reason_of(&e), bad);
                0
            })
        };
        let loan_amount = amount(Field::LoanAmount, &mut bad);
        let daily_installment = amount(Field::DailyInstallment, &mut bad);
        let daily_savings = amount(Field::DailySavings, &mut bad);
        let joined = self.cell(r, Field::JoinedOn);
        let joined_on = if joined.is_empty() {
            None
        } else {
            joined_date(joined)
                .map_err(|reason| push(Field::JoinedOn, reason, &mut bad))
                .ok()
        };
        let status = Some(self.cell(r, Field::Status))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let input = MemberInput {
            member_no: self.cell(r, Field::MemberNo).to_string(),
            name: self.cell(r, Field::Name).to_string(),
            nid: self.cell(r, Field::Nid).to_string(),
            mobile: self.cell(r, Field::Mobile).to_string(),
            worker: self.cell(r, Field::Worker).to_string(),
            loan_amount,
            daily_installment,
            daily_savings,
            status,
            joined_on,
        };
        let valid = match member::validate_fields(&input, self.org, self.workers) {
            Ok(v) => Some(v),
            Err(errs) => {
                for e in errs {
                    let mut p = self.problem_from(r.row, &e);
                    match field_named(p_field(&e)) {
                        Some(f) if bad.contains(&f) => continue,
                        Some(Field::Nid) => p.reason += excel_hint_nid(&input.nid),
                        Some(Field::Mobile) => p.reason += excel_hint_mobile(&input.mobile),
                        _ => {}
                    }
                    problems.push(p);
                }
                None
            }
        };
        let valid = valid.filter(|_| bad.is_empty());
        let member_no =
            Some(validate::normalize_digits(&input.member_no)).filter(|s| !s.is_empty());
        Candidate {
            row: r.row,
            member_no,
            nid: validate::nid(&input.nid).ok(),
            valid,
        }
    }

    /// `None` when the ledger's member with this row's NID is in this organization and
    /// agrees on every column the file has; else the fields that differ.
    pub fn same_as_ledger(&self, c: &Candidate, existing: &Existing) -> Option<String> {
        let (Some(v), Some(m)) = (&c.valid, c.nid.as_deref().and_then(|n| existing.by_nid(n)))
        else {
            return Some("its organization or member number".into());
        };
        let has = |f: Field| self.map.column_of(f).is_some();
        let (loan_amount, installment) = existing.loan_terms(m.id);
        let checks = [
            ("organization", m.org_id != self.org.id),
            ("member_no", m.member_no != v.member_no),
            ("name", m.name != v.name),
            ("mobile", m.mobile != v.mobile),
            (
                "loan_amount",
                has(Field::LoanAmount) && loan_amount != v.loan_amount,
            ),
            (
                "daily_installment",
                has(Field::DailyInstallment) && installment != v.daily_installment,
            ),
            (
                "daily_savings",
                has(Field::DailySavings) && m.daily_savings != v.daily_savings,
            ),
            ("worker", has(Field::Worker) && m.worker_id != v.worker_id),
            ("status", has(Field::Status) && m.status != v.status),
            (
                "joined_on",
                has(Field::JoinedOn) && m.joined_on != v.joined_on,
            ),
        ];
        let diff: Vec<&str> = checks.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
        (!diff.is_empty()).then(|| diff.join(", "))
    }
}

fn field_named(name: &str) -> Option<Field> {
    crate::csvio::columns::ALIASES
        .iter()
        .map(|(f, _)| *f)
        .find(|f| *f != Field::Derived && f.ledger_name() == name)
}

fn reason_of(e: &Error) -> String {
    match e {
        Error::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `YYYY-MM-DD` (Bengali digits too), with a midnight time Excel may add; day/month
/// orders are refused because `01/03/2026` is the 1st of March or the 3rd of January.
fn joined_date(cell: &str) -> std::result::Result<chrono::NaiveDate, String> {
    let s = validate::normalize_digits(cell);
    let s = ["T00:00:00", " 00:00:00", " 00:00"]
        .iter()
        .find_map(|t| s.strip_suffix(t))
        .unwrap_or(&s);
    validate::date("joined_on", s).map_err(|e| {
        let mut r = reason_of(&e);
        if s.contains(['/', '.']) {
            r += "; day/month dates are ambiguous, format the column as yyyy-mm-dd";
        }
        r
    })
}

/// `1234,50` is a decimal comma (semicolon Excel in many locales), never grouping: a
/// thousands group always has three digits. Anything else goes to the ledger as written.
fn decimal_comma(v: &str) -> std::borrow::Cow<'_, str> {
    let d = validate::normalize_digits(v);
    match d.split_once(',') {
        Some((whole, frac))
            if !whole.is_empty()
                && (1..=2).contains(&frac.len())
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{whole}.{frac}").into()
        }
        _ => v.into(),
    }
}

fn excel_hint_nid(raw: &str) -> &'static str {
    if raw.contains(['E', 'e']) && raw.contains('+') {
        "; Excel turned it into a number (1.23E+16): format the column as Text and type the NIDs again"
    } else {
        ""
    }
}

fn excel_hint_mobile(raw: &str) -> &'static str {
    let d = validate::normalize_digits(raw);
    if d.len() == 10 && d.starts_with('1') && d.bytes().all(|b| b.is_ascii_digit()) {
        "; Excel dropped the leading 0: format the column as Text"
    } else {
        ""
    }
}

pub(super) fn p_field(e: &Error) -> &str {
    match e {
        Error::Invalid { field, .. } => field,
        _ => "",
    }
}
