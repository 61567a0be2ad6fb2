//! The tables an archive holds, their columns, and one row's value in every form a backup
//! needs: read from either database, written as an NDJSON line or a CSV record, read back
//! (checked against the schema) and bound into an INSERT or a `COPY` line.

use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// What a column holds. Dates and instants travel as text: SQLite's text is kept as it is
/// (an SQLite → SQLite restore is exact), PostgreSQL's is written the way sqlx writes
/// SQLite (`2024-05-01T10:00:00.5+00:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bool,
    Date,
    Instant,
}

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
}

const fn c(name: &'static str, ty: ColType) -> Col {
    Col {
        name,
        ty,
        nullable: false,
    }
}

const fn n(name: &'static str, ty: ColType) -> Col {
    Col {
        name,
        ty,
        nullable: true,
    }
}

#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub cols: &'static [Col],
    pub pk: &'static [&'static str],
    /// The column that says which organization a row belongs to.
    pub org_col: &'static str,
    /// Has an identity `id` column (PostgreSQL sequences are reset after a restore).
    pub identity: bool,
    /// Columns whose sums are the table's control totals.
    pub totals: &'static [&'static str],
    /// Foreign keys: (column, parent table); every parent key is `id`.
    pub refs: &'static [(&'static str, &'static str)],
    /// Columns the table has in the database after `cols` that an archive does not hold:
    /// live data (a row's version and its last change), which a restore starts afresh
    /// (version 1, no last change). The ledger reads `cols` then `live` ([`ColumnList`]).
    pub live: &'static [Col],
}

use ColType::*;

/// A row's version and last change (members and workers): every edit bumps `version`, so
/// an edit made from a stale screen is refused. Live data, not archived.
const ROW_VERSION: &[Col] = &[
    c("version", Int),
    n("updated_by", Text),
    n("updated_at", Instant),
];

/// Every table an archive may hold, parents before children (insert order).
pub static TABLES: [TableSpec; 10] = [
    TableSpec {
        name: "organizations",
        cols: &[
            c("id", Int),
            c("code", Text),
            c("name", Text),
            c("address", Text),
            c("contact_person", Text),
            c("mobile", Text),
            c("email", Text),
            c("timezone", Text),
            c("collection_days", Text),
            c("created_at", Instant),
        ],
        pk: &["id"],
        org_col: "id",
        identity: true,
        totals: &[],
        refs: &[],
        live: &[],
    },
    TableSpec {
        name: "workers",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("name", Text),
            c("mobile", Text),
            c("active", Bool),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &[],
        refs: &[("org_id", "organizations")],
        live: ROW_VERSION,
    },
    TableSpec {
        name: "members",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_no", Text),
            c("name", Text),
            c("nid", Text),
            c("mobile", Text),
            n("worker_id", Int),
            c("daily_savings", Int),
            c("status", Text),
            c("joined_on", Date),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &[],
        refs: &[("org_id", "organizations"), ("worker_id", "workers")],
        live: ROW_VERSION,
    },
    TableSpec {
        name: "loans",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_id", Int),
            c("cycle", Int),
            c("disbursed_on", Date),
            c("principal", Int),
            c("service_charge", Int),
            c("first_due_on", Date),
            c("installment", Int),
            n("installments", Int),
            c("status", Text),
            n("closed_on", Date),
            c("written_off", Int),
            c("close_reason", Text),
            c("entered_by", Text),
            c("entered_at", Instant),
            c("paid", Int),
            n("last_paid_on", Date),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &["principal", "service_charge", "paid", "written_off"],
        refs: &[("org_id", "organizations"), ("member_id", "members")],
        live: &[],
    },
    TableSpec {
        name: "collections",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_id", Int),
            c("collected_on", Date),
            c("loan_paisa", Int),
            c("savings_paisa", Int),
            n("worker_id", Int),
            c("note", Text),
            c("entered_by", Text),
            c("entered_at", Instant),
            n("reversal_of", Int),
            n("loan_id", Int),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &["loan_paisa", "savings_paisa"],
        refs: &[
            ("org_id", "organizations"),
            ("member_id", "members"),
            ("worker_id", "workers"),
            ("reversal_of", "collections"),
            ("loan_id", "loans"),
        ],
        live: &[],
    },
    TableSpec {
        name: "withdrawals",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_id", Int),
            c("withdrawn_on", Date),
            c("amount", Int),
            c("reason", Text),
            c("entered_by", Text),
            c("entered_at", Instant),
            n("reversal_of", Int),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &["amount"],
        refs: &[
            ("org_id", "organizations"),
            ("member_id", "members"),
            ("reversal_of", "withdrawals"),
        ],
        live: &[],
    },
    TableSpec {
        name: "savings_accounts",
        cols: &[
            c("member_id", Int),
            c("org_id", Int),
            c("deposited", Int),
            c("withdrawn", Int),
            n("last_paid_on", Date),
        ],
        pk: &["member_id"],
        org_col: "org_id",
        identity: false,
        totals: &["deposited", "withdrawn"],
        refs: &[("member_id", "members"), ("org_id", "organizations")],
        live: &[],
    },
    TableSpec {
        name: "member_closures",
        cols: &[
            c("member_id", Int),
            c("org_id", Int),
            c("closed_on", Date),
            c("reason", Text),
            c("closed_by", Text),
            c("closed_at", Instant),
        ],
        pk: &["member_id"],
        org_col: "org_id",
        identity: false,
        totals: &[],
        refs: &[("member_id", "members"), ("org_id", "organizations")],
        live: &[],
    },
    TableSpec {
        name: "day_closes",
        cols: &[
            c("org_id", Int),
            c("closed_on", Date),
            c("closed_by", Text),
            c("closed_at", Instant),
        ],
        pk: &["org_id", "closed_on"],
        org_col: "org_id",
        identity: false,
        totals: &[],
        refs: &[("org_id", "organizations")],
        live: &[],
    },
    TableSpec {
        name: "users",
        cols: &[
            c("id", Int),
            c("username", Text),
            c("full_name", Text),
            c("role", Text),
            n("org_id", Int),
            c("active", Bool),
            c("created_at", Instant),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &[],
        refs: &[("org_id", "organizations")],
        live: &[],
    },
];

/// The ledger tables a plain restore replaces; `users` only when asked for.
pub const LEDGER_TABLES: [&str; 9] = [
    "organizations",
    "workers",
    "members",
    "loans",
    "collections",
    "withdrawals",
    "savings_accounts",
    "member_closures",
    "day_closes",
];

/// Archive format version 1 (schema 8 and before): members carried the loan as two
/// columns and collections had no `loan_id`; there were no account tables. A version-1
/// archive is read as one and upgraded on the way in (`backup::upgrade`).
pub mod v1 {
    use super::*;

    pub static MEMBERS: TableSpec = TableSpec {
        name: "members",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_no", Text),
            c("name", Text),
            c("nid", Text),
            c("mobile", Text),
            n("worker_id", Int),
            c("loan_amount", Int),
            c("daily_installment", Int),
            c("daily_savings", Int),
            c("status", Text),
            c("joined_on", Date),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &["loan_amount"],
        refs: &[("org_id", "organizations"), ("worker_id", "workers")],
        live: ROW_VERSION,
    };

    pub static COLLECTIONS: TableSpec = TableSpec {
        name: "collections",
        cols: &[
            c("id", Int),
            c("org_id", Int),
            c("member_id", Int),
            c("collected_on", Date),
            c("loan_paisa", Int),
            c("savings_paisa", Int),
            n("worker_id", Int),
            c("note", Text),
            c("entered_by", Text),
            c("entered_at", Instant),
            n("reversal_of", Int),
        ],
        pk: &["id"],
        org_col: "org_id",
        identity: true,
        totals: &["loan_paisa", "savings_paisa"],
        refs: &[
            ("org_id", "organizations"),
            ("member_id", "members"),
            ("worker_id", "workers"),
            ("reversal_of", "collections"),
        ],
        live: &[],
    };

    /// The ledger tables every version-1 archive holds.
    pub const LEDGER_TABLES: [&str; 5] = [
        "organizations",
        "workers",
        "members",
        "collections",
        "day_closes",
    ];

    /// The last schema version that wrote version-1 archives.
    pub const LAST_SCHEMA: i64 = 8;

    /// A table of a version-1 archive, in insert order with [`super::order`].
    pub fn spec(name: &str) -> Option<&'static TableSpec> {
        match name {
            "members" => Some(&MEMBERS),
            "collections" => Some(&COLLECTIONS),
            "organizations" | "workers" | "day_closes" | "users" => super::spec(name),
            _ => None,
        }
    }
}

/// A table as an archive of `format_version` holds it.
pub fn spec_in(format_version: u32, name: &str) -> Option<&'static TableSpec> {
    if format_version == 1 {
        v1::spec(name)
    } else {
        spec(name)
    }
}

/// The ledger tables every archive of `format_version` holds.
pub fn ledger_tables_in(format_version: u32) -> &'static [&'static str] {
    if format_version == 1 {
        &v1::LEDGER_TABLES
    } else {
        &LEDGER_TABLES
    }
}

/// Every table the migrations create that an archive does not hold, and why. With
/// [`TABLES`] this is the whole schema: `tests/schema.rs` fails on a table in neither list
/// (a new table must be archived, or listed here with its reason), and on a column of an
/// archived table that is in neither `cols` nor `live`.
pub const NOT_ARCHIVED: [(&str, &str); 13] = [
    (
        "audit_log",
        "the record of who did what; append-only, never restored",
    ),
    (
        "backups",
        "the catalogue of archives, rebuilt from the store",
    ),
    ("backup_lock", "who holds the backup lock (PostgreSQL only)"),
    ("scheduler_runs", "scheduler state: runs"),
    ("scheduler_runners", "scheduler state: live processes"),
    (
        "scheduler_job_overrides",
        "scheduler state: jobs switched on or off",
    ),
    (
        "scheduler_jobs",
        "scheduler state: when each job was first seen",
    ),
    ("change_log", "committed changes, read by open consoles"),
    ("somiti_meta", "this database's identity"),
    ("offsite_copies", "where each archive's off-site copies are"),
    ("alert_state", "which alerts fire and when they were sent"),
    ("_sqlx_migrations", "the migrations applied"),
    (
        "sqlite_sequence",
        "SQLite's highest ids (AUTOINCREMENT; SQLite only)",
    ),
];

/// The tables in [`NOT_ARCHIVED`] that only one backend has.
pub const ONE_BACKEND_ONLY: [&str; 2] = ["backup_lock", "sqlite_sequence"];

/// A table's columns as SQL (`id, org_id, …`): every column the ledger reads, the archived
/// ones then the live ones, taken from [`TABLES`] on first use. Shows as that list in
/// `format!` and derefs to it.
pub struct ColumnList {
    table: &'static str,
    text: OnceLock<String>,
}

impl ColumnList {
    pub const fn of(table: &'static str) -> ColumnList {
        ColumnList {
            table,
            text: OnceLock::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        self.text.get_or_init(|| {
            spec(self.table)
                .unwrap_or_else(|| panic!("{} is not in backup::schema::TABLES", self.table))
                .select_list()
        })
    }

    /// The list with every column qualified: `m.id, m.org_id, …`.
    pub fn qualified(&self, alias: &str) -> String {
        self.as_str()
            .split(", ")
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::ops::Deref for ColumnList {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for ColumnList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for ColumnList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

pub fn spec(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// Position of a table in insert order.
pub fn order(name: &str) -> usize {
    TABLES
        .iter()
        .position(|t| t.name == name)
        .unwrap_or(usize::MAX)
}

impl TableSpec {
    pub fn col_list(&self) -> String {
        self.cols
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every column the database has: the archived ones, then the live ones.
    pub fn all_cols(&self) -> impl Iterator<Item = &'static Col> + use<> {
        self.cols.iter().chain(self.live.iter())
    }

    /// `all_cols` as SQL: what the ledger selects and returns.
    pub fn select_list(&self) -> String {
        self.all_cols()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn col_names(&self) -> Vec<String> {
        self.cols.iter().map(|c| c.name.to_string()).collect()
    }

    pub fn index_of(&self, col: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == col)
    }

    /// `SELECT … FROM t [WHERE org = $1] ORDER BY pk`.
    pub fn select_sql(&self, by_org: bool) -> String {
        format!(
            "SELECT {} FROM {}{} ORDER BY {}",
            self.col_list(),
            self.name,
            self.org_where(by_org),
            self.pk.join(", ")
        )
    }

    /// ` WHERE <org col> = $1`, or nothing.
    pub fn org_where(&self, by_org: bool) -> String {
        if by_org {
            format!(" WHERE {} = $1", self.org_col)
        } else {
            String::new()
        }
    }

    /// `SELECT COUNT(*), SUM(a), SUM(b) …` over the rows in scope.
    pub fn count_sql(&self, by_org: bool) -> String {
        let mut sql = String::from("SELECT COUNT(*)");
        for t in self.totals {
            // CAST keeps the type BIGINT on PostgreSQL (SUM of BIGINT is NUMERIC there).
            let _ = write!(sql, ", CAST(COALESCE(SUM({t}), 0) AS BIGINT)");
        }
        let _ = write!(sql, " FROM {}{}", self.name, self.org_where(by_org));
        sql
    }
}

/// A table's control totals as a person reads them: (words, column). Each is summed net of
/// reversals (a reversal's amounts count against the entry it cancels), so a reversed
/// entry adds nothing; the manifest's totals stay the gross column sums.
pub fn worded_totals(table: &str) -> &'static [(&'static str, &'static str)] {
    match table {
        "loans" => &[
            ("loans disbursed", "principal"),
            ("service charges", "service_charge"),
        ],
        "withdrawals" => &[("savings withdrawn", "amount")],
        "collections" => &[
            ("loan collected", "loan_paisa"),
            ("savings collected", "savings_paisa"),
        ],
        _ => &[],
    }
}

impl TableSpec {
    /// Whether a row can be a reversal (its amounts then count negative in net totals).
    fn reversal_idx(&self) -> Option<usize> {
        self.index_of("reversal_of")
    }

    /// `SELECT net a, net b … FROM t [WHERE org = $1]`: the worded totals, net of reversals.
    /// `None` for a table without money.
    pub fn net_sql(&self, by_org: bool) -> Option<String> {
        let worded = worded_totals(self.name);
        if worded.is_empty() {
            return None;
        }
        let cols: Vec<String> = worded
            .iter()
            .map(|(_, c)| {
                if self.reversal_idx().is_some() {
                    format!(
                        "CAST(COALESCE(SUM(CASE WHEN reversal_of IS NULL THEN {c} ELSE -{c} END), 0) AS BIGINT)"
                    )
                } else {
                    format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)")
                }
            })
            .collect();
        Some(format!(
            "SELECT {} FROM {}{}",
            cols.join(", "),
            self.name,
            self.org_where(by_org)
        ))
    }

    /// One row's signed part of each worded total (see [`worded_totals`]).
    pub fn net_parts(&self, vals: &Values) -> Vec<i64> {
        let sign = match self.reversal_idx() {
            Some(i) if !matches!(vals.get(i), Some(Val::Null) | None) => -1,
            _ => 1,
        };
        worded_totals(self.name)
            .iter()
            .map(|(_, c)| {
                self.index_of(c)
                    .and_then(|i| vals.get(i))
                    .and_then(Val::as_int)
                    .unwrap_or(0)
                    * sign
            })
            .collect()
    }
}

/// One value of a row. Dates and instants are `Text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl Val {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
}

pub type Values = Vec<Val>;

/// The text PostgreSQL instants are written as: what sqlx writes into SQLite.
pub fn instant_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Parse an instant in any form sqlx reads from SQLite: RFC 3339, or `YYYY-MM-DD HH:MM:SS`
/// with an optional fraction and offset (none means UTC).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    None
}

/// `YYYY-MM-DD`, a real date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Append the row as one NDJSON line (columns in schema order).
pub fn write_json_line(spec: &TableSpec, vals: &[Val], out: &mut Vec<u8>) {
    for (i, (col, v)) in spec.cols.iter().zip(vals).enumerate() {
        out.extend_from_slice(if i == 0 { b"{\"" } else { b",\"" });
        out.extend_from_slice(col.name.as_bytes());
        out.extend_from_slice(b"\":");
        write_json_value(v, out);
    }
    out.extend_from_slice(b"}\n");
}

fn write_json_value(v: &Val, out: &mut Vec<u8>) {
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Int(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // Most text needs no escaping: copied as it is; the rest through serde_json.
        Val::Text(s) if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
            out.reserve(s.len() + 2);
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Val::Text(s) => {
            serde_json::to_writer(&mut *out, s).expect("writing JSON to memory");
        }
    }
}

/// The CSV header (with the UTF-8 BOM Excel needs).
pub fn csv_header(spec: &TableSpec) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend_from_slice(spec.col_names().join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// One CSV field (RFC 4180: quoted when it holds a comma, a quote or a line break, and also
/// when it starts or ends with a space, so no reader trims it). Written here rather than by
/// the `csv` crate, which the exports use: the crate never quotes for a space, and a backup
/// writing its CSV copies through it (reused `ByteRecord`, the crate's fast path) was slower:
/// in six alternating runs of `somiti backup create` on the 3,250-member, 365-day demo
/// (852,670 collections) the median was 1.08 s through the crate and 1.01 s by hand.
/// `tests/backup.rs` reads every archive's CSV back with the crate.
fn csv_field(s: &str, out: &mut Vec<u8>) {
    let quote = s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || s.starts_with(' ')
        || s.ends_with(' ');
    if quote {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

pub fn write_csv_record(vals: &[Val], out: &mut Vec<u8>) {
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match v {
            Val::Null => {}
            Val::Int(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
            Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Val::Text(s) => csv_field(s, out),
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Parse and check one NDJSON line: a JSON object with exactly the table's columns, each
/// of its type. The error names the column and what is wrong.
pub fn parse_json_line(spec: &TableSpec, line: &str) -> Result<Values, String> {
    // The fast path reads the object straight into values; a row it refuses is read
    // again the slow way to say exactly what is wrong with it.
    if let Some(v) = super::rowparse::parse(spec, line) {
        return Ok(v);
    }
    match parse_slow(spec, line) {
        Ok(_) => Err("a column appears twice, or the row is not one JSON object".into()),
        Err(e) => Err(e),
    }
}

fn parse_slow(spec: &TableSpec, line: &str) -> Result<Values, String> {
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let extra: Vec<&str> = obj
        .keys()
        .filter(|k| spec.index_of(k).is_none())
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "unknown column(s) {} for the schema of {}",
            extra.join(", "),
            spec.name
        ));
    }
    let mut out = Vec::with_capacity(spec.cols.len());
    for col in spec.cols {
        let v = obj
            .get(col.name)
            .ok_or_else(|| format!("column {} is missing", col.name))?;
        out.push(parse_value(col, v)?);
    }
    Ok(out)
}

fn parse_value(col: &Col, v: &serde_json::Value) -> Result<Val, String> {
    use serde_json::Value as J;
    let bad = |what: &str| format!("column {}: {what} (got {v})", col.name);
    Ok(match (col.ty, v) {
        (_, J::Null) if col.nullable => Val::Null,
        (_, J::Null) => return Err(bad("must not be null")),
        (Int, J::Number(x)) => Val::Int(x.as_i64().ok_or_else(|| bad("must be an integer"))?),
        (Int, _) => return Err(bad("must be an integer")),
        (Bool, J::Bool(b)) => Val::Bool(*b),
        (Bool, _) => return Err(bad("must be true or false")),
        (Text, J::String(s)) => Val::Text(s.clone()),
        (Date, J::String(s)) if parse_date(s).is_some() => Val::Text(s.clone()),
        (Date, _) => return Err(bad("must be a date YYYY-MM-DD")),
        (Instant, J::String(s)) if parse_instant(s).is_some() => Val::Text(s.clone()),
        (Instant, _) => return Err(bad("must be an RFC 3339 instant")),
        (Text, _) => return Err(bad("must be a string")),
    })
}

/// Append the row as one line of PostgreSQL's `COPY … FROM STDIN` text format. Instants
/// are rewritten with an explicit offset so the server's timezone never matters.
pub fn write_copy_line(spec: &TableSpec, vals: &[Val], out: &mut Vec<u8>) {
    for (i, (col, v)) in spec.cols.iter().zip(vals).enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Val::Null => out.extend_from_slice(b"\\N"),
            Val::Int(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
            Val::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            // An RFC 3339 instant with its offset goes as it is; any other form is
            // rewritten with one.
            Val::Text(s) if col.ty == Instant && !has_offset(s) => {
                let t = parse_instant(s).map(|t| instant_text(&t));
                copy_escape(t.as_deref().unwrap_or(s), out);
            }
            Val::Text(s) => copy_escape(s, out),
        }
    }
    out.push(b'\n');
}

/// `YYYY-MM-DDTHH:MM:SS[.f…]` followed by `Z` or `±HH:MM`: what PostgreSQL reads the same
/// in every time zone.
fn has_offset(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return false;
    }
    if b.ends_with(b"Z") {
        return true;
    }
    let n = b.len();
    n >= 25
        && matches!(b[n - 6], b'+' | b'-')
        && b[n - 3] == b':'
        && [n - 5, n - 4, n - 2, n - 1]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

fn copy_escape(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_survives_json_and_is_checked_on_the_way_back() {
        let spec = spec("collections").unwrap();
        let row = vec![
            Val::Int(7),
            Val::Int(1),
            Val::Int(3),
            Val::Text("2024-05-01".into()),
            Val::Int(10_000),
            Val::Int(2_000),
            Val::Null,
            Val::Text("tab\there \"quoted\" ৳".into()),
            Val::Text("rahim".into()),
            Val::Text("2024-05-01T10:00:00.5+00:00".into()),
            Val::Null,
            Val::Int(4),
        ];
        let mut line = Vec::new();
        write_json_line(spec, &row, &mut line);
        let text = String::from_utf8(line).unwrap();
        assert_eq!(parse_json_line(spec, text.trim_end()).unwrap(), row);

        let e = parse_json_line(
            spec,
            &text.replace("\"loan_paisa\":10000", "\"loan_paisa\":1.5"),
        )
        .unwrap_err();
        assert!(e.contains("loan_paisa"), "{e}");
        let twice = text.replacen("{\"id\":7,", "{\"id\":7,\"id\":8,", 1);
        let e = parse_json_line(spec, twice.trim_end()).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = parse_json_line(spec, &text.replace("\"note\"", "\"nota\"")).unwrap_err();
        assert!(e.contains("nota"), "{e}");
        let e = parse_json_line(spec, &text.replace("2024-05-01\"", "2024-13-01\"")).unwrap_err();
        assert!(e.contains("collected_on"), "{e}");
    }

    #[test]
    fn the_ledger_reads_every_column_in_schema_order() {
        use crate::ledger::{collection, member, org};
        assert_eq!(
            &*member::MEMBER_COLS,
            "id, org_id, member_no, name, nid, mobile, worker_id, daily_savings, status, joined_on, \
             version, updated_by, updated_at"
        );
        assert_eq!(
            &*collection::COLLECTION_COLS,
            "id, org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, note, \
             entered_by, entered_at, reversal_of, loan_id"
        );
        assert_eq!(
            &*org::ORG_COLS,
            "id, code, name, address, contact_person, mobile, email, timezone, collection_days, created_at"
        );
        assert_eq!(
            &*org::WORKER_COLS,
            "id, org_id, name, mobile, active, version, updated_by, updated_at"
        );
        assert_eq!(
            format!("SELECT {} FROM users", ColumnList::of("users")),
            "SELECT id, username, full_name, role, org_id, active, created_at FROM users"
        );
        assert_eq!(
            ColumnList::of("day_closes").qualified("d"),
            "d.org_id, d.closed_on, d.closed_by, d.closed_at"
        );
        for t in &TABLES {
            assert!(
                !NOT_ARCHIVED.iter().any(|(n, _)| *n == t.name),
                "{} is archived and listed as not archived",
                t.name
            );
        }
    }

    #[test]
    fn dates_are_whole_and_real() {
        assert_eq!(
            parse_date("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024-01-1x",
            "+024-01-01",
            "2024/01/01",
            "2024-01-01 ",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn copy_lines_escape_and_carry_offsets() {
        let spec = spec("day_closes").unwrap();
        let row = vec![
            Val::Int(1),
            Val::Text("2024-05-01".into()),
            Val::Text("a\\b\tc".into()),
            Val::Text("2024-05-01 10:00:00".into()),
        ];
        let mut out = Vec::new();
        write_copy_line(spec, &row, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\t2024-05-01\ta\\\\b\\tc\t2024-05-01T10:00:00+00:00\n"
        );
        for (with, without) in [
            ("2024-05-01T10:00:00+06:00", "2024-05-01 10:00:00"),
            ("2024-05-01T10:00:00.5+00:00", "2024-05-01T10:00:00.5"),
            ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+0600"),
        ] {
            assert!(has_offset(with), "{with}");
            assert!(!has_offset(without), "{without}");
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut out = Vec::new();
        write_csv_record(
            &[
                Val::Int(1),
                Val::Text("a,b".into()),
                Val::Null,
                Val::Bool(true),
            ],
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "1,\"a,b\",,true\r\n");
    }
}
