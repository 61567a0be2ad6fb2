//! What a restore would break, found before anything changes: rows left pointing at rows
//! that would not be there (a tables restore without their parents, or parents without
//! the rows that point at them), and one organization's rows from another database whose
//! numbers other rows here already use. The dry run lists these refusals and the restore
//! refuses on the same list, each in the cooperative's words (organization code, member
//! numbers, worker names), never an internal id.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use super::archive::ArchiveReader;
use super::restore::RestorePlan;
use super::schema::{self, TableSpec};
use super::{Backups, Passphrase};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::on_tx;

/// Names shown for a problem: at most this many, then "…".
const SHOWN: usize = 5;

/// One row as a person names it: its organization and its own label.
#[derive(Debug, Clone)]
struct Named {
    org: Option<i64>,
    label: String,
}

/// The rows of the parent tables (organizations, workers, members), by id, as named.
#[derive(Debug, Default)]
struct Parents(HashMap<&'static str, HashMap<i64, Named>>);

impl Parents {
    fn get(&self, table: &str, id: i64) -> Option<&Named> {
        self.0.get(table).and_then(|m| m.get(&id))
    }
}

/// Tables other rows point at, and the column that names a row of each. A loan is named
/// by its member (`member_id`, read as that member's number): every first loan is cycle 1,
/// so a cycle names nothing.
const PARENTS: [(&str, &str); 4] = [
    ("organizations", "code"),
    ("workers", "name"),
    ("members", "member_no"),
    ("loans", "member_id"),
];

/// A child's refusal for a missing loan says nothing its refusal for a missing member does
/// not (a loan belongs to its member, and the two travel together): one refusal per row.
fn folded(child: &str, parent: &str, parents_missing: &[(&str, &str)]) -> bool {
    parent == "loans"
        && parents_missing
            .iter()
            .any(|(c, p)| *c == child && *p == "members")
}

/// "2 collections, 1 loan and 1 savings account", children in schema order.
fn counted(children: &[(&str, i64)]) -> String {
    let mut c: Vec<(usize, String)> = children
        .iter()
        .map(|(t, n)| {
            let (one, many) = words(t);
            let pos = schema::TABLES
                .iter()
                .position(|s| s.name == *t)
                .unwrap_or(usize::MAX);
            (pos, format!("{n} {}", if *n == 1 { one } else { many }))
        })
        .collect();
    c.sort();
    let parts: Vec<String> = c.into_iter().map(|(_, s)| s).collect();
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    }
}

fn words(table: &str) -> (&'static str, &'static str) {
    match table {
        "organizations" => ("organization", "organizations"),
        "workers" => ("worker", "workers"),
        "members" => ("member", "members"),
        "collections" => ("collection", "collections"),
        "loans" => ("loan", "loans"),
        "withdrawals" => ("withdrawal", "withdrawals"),
        "savings_accounts" => ("savings account", "savings accounts"),
        "member_closures" => ("closure", "closures"),
        "day_closes" => ("closed day", "closed days"),
        "users" => ("operator", "operators"),
        _ => ("row", "rows"),
    }
}

/// "restoring only collections", "restoring organization DEMO (tables members)".
fn restoring(plan: &RestorePlan) -> String {
    let tables = plan.tables.join(", ");
    match (&plan.org, plan.all_tables()) {
        (None, true) => "restoring everything".into(),
        (None, false) => format!("restoring only {tables}"),
        (Some(o), true) => format!("restoring organization {o}"),
        (Some(o), false) => format!("restoring organization {o} (tables {tables})"),
    }
}

/// "members 17, 42, … (org DEMO)", naming ids through `lookup` (in number order).
fn name_rows(
    table: &str,
    ids: &BTreeSet<i64>,
    lookup: impl Fn(i64) -> Option<Named>,
    code: impl Fn(i64) -> Option<String>,
) -> String {
    let plural = if table == "loans" {
        "loans of members"
    } else {
        words(table).1
    };
    let mut by_org: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut named: Vec<(Option<i64>, String)> = ids
        .iter()
        .map(|&id| match lookup(id) {
            Some(n) => (n.org, n.label),
            None => (None, format!("number {id}")),
        })
        .collect();
    named.sort_by(|a, b| {
        let num = |s: &str| s.parse::<i64>().ok();
        a.0.cmp(&b.0)
            .then(num(&a.1).cmp(&num(&b.1)))
            .then(a.1.cmp(&b.1))
    });
    let total = named.len();
    for (org, label) in named.into_iter().take(SHOWN) {
        let key = match org.and_then(&code) {
            Some(c) => format!("org {c}"),
            None => String::new(),
        };
        by_org.entry(key).or_default().push(label);
    }
    let more = if total > SHOWN { ", …" } else { "" };
    let parts: Vec<String> = by_org
        .into_iter()
        .map(|(org, labels)| {
            if org.is_empty() || table == "organizations" {
                labels.join(", ")
            } else {
                format!("{} ({org})", labels.join(", "))
            }
        })
        .collect();
    format!("{plural} {}{more}", parts.join("; "))
}

/// What the archive holds that the checks need (read on a blocking thread).
#[derive(Default)]
struct FromArchive {
    parents: Parents,
    /// Rows in scope pointing at a parent the database will not have: (child, column) →
    /// (rows, the missing parent ids).
    orphans: BTreeMap<(&'static str, &'static str), (u64, BTreeSet<i64>)>,
    /// Rows in scope whose id another organization's row has here: table → ids.
    taken: BTreeMap<&'static str, BTreeSet<i64>>,
}

/// What the database holds that the checks need.
struct FromDb {
    parents: Parents,
    /// Ids of rows the restore keeps (other organizations'), per touched table with ids.
    kept_ids: HashMap<&'static str, HashSet<i64>>,
    /// Untouched rows pointing into a touched table: (child, column) → (parent id, rows).
    pointing: BTreeMap<(&'static str, &'static str), Vec<(i64, i64)>>,
}

impl Backups {
    /// Every reason the planned restore cannot be done, in words; empty when it can.
    pub(super) async fn refusals(
        &self,
        path: PathBuf,
        plan: &RestorePlan,
        db_org: Option<i64>,
        pass: Option<Passphrase>,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if let (Some(code), Some(db), Some(ar)) = (&plan.org, db_org, plan.archive_org)
            && db != ar
        {
            out.push(format!(
                "organization {code} is a different record in this database than in the backup \
                 (the backup comes from another database), so its rows cannot be restored on \
                 their own: restore everything instead"
            ));
            return Ok(out);
        }
        let touched: Vec<&'static TableSpec> =
            plan.tables.iter().filter_map(|t| schema::spec(t)).collect();
        let is_touched = |n: &str| touched.iter().any(|s| s.name == n);
        // A whole-database restore replaces every table that points anywhere: the archive's
        // own references were checked by verify.
        let checks: Vec<(&'static TableSpec, &'static str, &'static str)> = schema::TABLES
            .iter()
            .flat_map(|c| c.refs.iter().map(move |(col, p)| (c, *col, *p)))
            .filter(|(c, _, p)| is_touched(c.name) != is_touched(p))
            .collect();
        let one_org = plan.org.is_some();
        if checks.is_empty() && !one_org {
            return Ok(out);
        }
        let mut tx = super::create::begin_snapshot(&self.store).await?;
        let db = read_db(&mut tx, &touched, &checks, one_org, db_org).await;
        let _ = tx.rollback().await;
        let db = db?;

        let schema_version = self.store.schema_version();
        let archive_org = plan
            .org
            .as_ref()
            .map(|_| plan.archive_org.unwrap_or(i64::MIN));
        let scan: Vec<&'static TableSpec> = touched.clone();
        let child_checks: Vec<(&'static str, &'static str, &'static str)> = checks
            .iter()
            .filter(|(c, _, _)| is_touched(c.name))
            .map(|(c, col, p)| (c.name, *col, *p))
            .collect();
        let db_parent_ids: HashMap<&'static str, HashSet<i64>> = db
            .parents
            .0
            .iter()
            .map(|(t, m)| (*t, m.keys().copied().collect()))
            .collect();
        let kept_ids = db.kept_ids.clone();
        let ar = tokio::task::spawn_blocking(move || -> Result<FromArchive> {
            let mut r = ArchiveReader::open(&path, pass, schema_version)?;
            let mut a = FromArchive::default();
            for (t, label_col) in PARENTS {
                if r.manifest.table(t).is_none() {
                    continue;
                }
                let spec = schema::spec(t).expect("parent table");
                let (id_i, org_i, label_i) = (
                    spec.index_of("id").unwrap_or(0),
                    spec.index_of(spec.org_col).unwrap_or(0),
                    spec.index_of(label_col).unwrap_or(0),
                );
                let mut m = HashMap::new();
                let members = a.parents.0.get("members");
                r.for_each_line(t, None, |_, line| {
                    let v = schema::parse_json_line(spec, line)?;
                    if let Some(id) = v[id_i].as_int() {
                        let label = if t == "loans" {
                            v[label_i]
                                .as_int()
                                .and_then(|mid| members.and_then(|ms| ms.get(&mid)))
                                .map(|n| n.label.clone())
                                .unwrap_or_default()
                        } else {
                            v[label_i]
                                .as_text()
                                .map(str::to_string)
                                .or_else(|| v[label_i].as_int().map(|n| n.to_string()))
                                .unwrap_or_default()
                        };
                        m.insert(
                            id,
                            Named {
                                org: v[org_i].as_int(),
                                label,
                            },
                        );
                    }
                    Ok(())
                })?;
                a.parents.0.insert(t, m);
            }
            for spec in scan {
                let mine: Vec<(usize, &'static str, &'static str)> = child_checks
                    .iter()
                    .filter(|(c, _, _)| *c == spec.name)
                    .filter_map(|(_, col, p)| spec.index_of(col).map(|i| (i, *col, *p)))
                    .collect();
                let kept = kept_ids.get(spec.name);
                if (mine.is_empty() && kept.is_none()) || r.manifest.table(spec.name).is_none() {
                    continue;
                }
                let org_i = spec.index_of(spec.org_col).unwrap_or(0);
                let id_i = spec.identity.then(|| spec.index_of("id")).flatten();
                r.for_each_line(spec.name, None, |_, line| {
                    let v = schema::parse_json_line(spec, line)?;
                    if let Some(o) = archive_org
                        && v[org_i].as_int() != Some(o)
                    {
                        return Ok(());
                    }
                    if let (Some(kept), Some(i)) = (kept, id_i)
                        && let Some(id) = v[i].as_int()
                        && kept.contains(&id)
                    {
                        a.taken.entry(spec.name).or_default().insert(id);
                    }
                    for &(i, col, parent) in &mine {
                        let Some(to) = v[i].as_int() else { continue };
                        if !db_parent_ids.get(parent).is_some_and(|s| s.contains(&to)) {
                            let e = a.orphans.entry((spec.name, col)).or_default();
                            e.0 += 1;
                            e.1.insert(to);
                        }
                    }
                    Ok(())
                })?;
            }
            Ok(a)
        })
        .await
        .map_err(|e| Error::Other(format!("reading the archive failed: {e}")))??;

        let code_of = |id: i64| -> Option<String> {
            ar.parents
                .get("organizations", id)
                .or_else(|| db.parents.get("organizations", id))
                .map(|n| n.label.clone())
        };
        let what = restoring(plan);
        let parent_of = |child: &str, col: &str| -> &'static str {
            checks
                .iter()
                .find(|(c, cl, _)| c.name == child && *cl == col)
                .map(|x| x.2)
                .unwrap_or("organizations")
        };
        // Rows restored that point at rows this database does not have: one refusal per
        // missing parent table, naming every kind of row left without it.
        let missing_pairs: Vec<(&str, &str)> = ar
            .orphans
            .keys()
            .map(|(c, col)| (*c, parent_of(c, col)))
            .collect();
        let mut by_parent: BTreeMap<&str, (Vec<(&str, i64)>, BTreeSet<i64>)> = BTreeMap::new();
        for ((child, col), (rows, missing)) in &ar.orphans {
            let parent = parent_of(child, col);
            if folded(child, parent, &missing_pairs) {
                continue;
            }
            let e = by_parent.entry(parent).or_default();
            e.0.push((child, *rows as i64));
            e.1.extend(missing.iter().copied());
        }
        for (parent, (children, missing)) in &by_parent {
            let (one, _) = words(parent);
            let names = name_rows(
                parent,
                missing,
                |id| ar.parents.get(parent, id).cloned(),
                code_of,
            );
            out.push(format!(
                "{what} would leave {} of {names} without their {one}: this database does \
                 not have them; restore {parent} too, or everything",
                counted(children)
            ));
        }
        // Rows kept that point at restored rows the backup does not have.
        let mut pending: Vec<(&str, &str, i64, BTreeSet<i64>)> = Vec::new();
        for ((child, col), groups) in &db.pointing {
            let parent = parent_of(child, col);
            let after = |id: i64| -> bool {
                let in_archive = ar.parents.get(parent, id).is_some_and(|n| {
                    archive_org.is_none_or(|o| {
                        if parent == "organizations" {
                            id == o
                        } else {
                            n.org == Some(o)
                        }
                    })
                });
                let kept = db_org.is_some() && {
                    db.parents.get(parent, id).is_some_and(|n| {
                        let org = if parent == "organizations" {
                            Some(id)
                        } else {
                            n.org
                        };
                        org != db_org
                    })
                };
                in_archive || (one_org && kept) || (one_org && db_org.is_none())
            };
            let mut rows = 0i64;
            let mut missing = BTreeSet::new();
            for &(to, n) in groups {
                if !after(to) {
                    rows += n;
                    missing.insert(to);
                }
            }
            if rows == 0 {
                continue;
            }
            pending.push((child, parent, rows, missing));
        }
        let pending_pairs: Vec<(&str, &str)> = pending.iter().map(|p| (p.0, p.1)).collect();
        // One refusal per missing parent table (operators apart: their remedy differs).
        let mut by_parent: BTreeMap<(bool, &str), (Vec<(&str, i64)>, BTreeSet<i64>)> =
            BTreeMap::new();
        for (child, parent, rows, missing) in &pending {
            if folded(child, parent, &pending_pairs) {
                continue;
            }
            let e = by_parent.entry((*child == "users", parent)).or_default();
            e.0.push((child, *rows));
            e.1.extend(missing.iter().copied());
        }
        for ((users, parent), (children, missing)) in &by_parent {
            let (one, _) = words(parent);
            let names = name_rows(
                parent,
                missing,
                |id| db.parents.get(parent, id).cloned(),
                code_of,
            );
            let remedy = if *users {
                "restore the operators too (--include-users)".to_string()
            } else {
                let mut t: Vec<&str> = children.iter().map(|c| c.0).collect();
                t.sort_by_key(|n| schema::TABLES.iter().position(|s| s.name == *n));
                format!("restore {} too, or everything", t.join(", "))
            };
            out.push(format!(
                "{what} would leave {} now in this database, of {names}, without their \
                 {one}: the backup does not have them; {remedy}",
                counted(children)
            ));
        }
        // One organization's rows whose numbers other organizations' rows have here.
        for (table, ids) in &ar.taken {
            let code = plan.org.clone().unwrap_or_default();
            let (_, plural) = words(table);
            let theirs = if PARENTS.iter().any(|(t, _)| t == table) {
                name_rows(table, ids, |id| db.parents.get(table, id).cloned(), code_of)
            } else {
                let shown: Vec<String> = ids.iter().take(SHOWN).map(|i| i.to_string()).collect();
                format!(
                    "entry numbers {}{}",
                    shown.join(", "),
                    if ids.len() > SHOWN { ", …" } else { "" }
                )
            };
            out.push(format!(
                "{} {plural} of organization {code} in the backup have the numbers of other \
                 organizations' rows here ({theirs}): the backup comes from another database; \
                 restore everything instead",
                ids.len()
            ));
        }
        Ok(out)
    }
}

async fn read_db(
    tx: &mut Tx,
    touched: &[&'static TableSpec],
    checks: &[(&'static TableSpec, &'static str, &'static str)],
    one_org: bool,
    db_org: Option<i64>,
) -> Result<FromDb> {
    let mut parents = Parents::default();
    for (t, label_col) in PARENTS {
        let spec = schema::spec(t).expect("parent table");
        let sql = if t == "loans" {
            // A loan as its member's number (see PARENTS).
            "SELECT l.id, l.org_id, m.member_no FROM loans l JOIN members m ON m.id = l.member_id"
                .to_string()
        } else {
            format!(
                "SELECT id, {}, CAST({label_col} AS TEXT) FROM {t}",
                if spec.org_col == "id" {
                    "id"
                } else {
                    spec.org_col
                }
            )
        };
        let rows: Vec<(i64, Option<i64>, String)> = on_tx!(&mut *tx, |c| sqlx::query_as(
            sqlx::AssertSqlSafe(sql.as_str())
        )
        .fetch_all(&mut *c)
        .await?);
        parents.0.insert(
            t,
            rows.into_iter()
                .map(|(id, org, label)| (id, Named { org, label }))
                .collect(),
        );
    }
    // One organization: the rows of other organizations stay, with their ids.
    let mut kept_ids = HashMap::new();
    if one_org {
        for spec in touched.iter().filter(|s| s.identity && s.name != "users") {
            let ids: HashSet<i64> = match parents.0.get(spec.name) {
                Some(m) => m
                    .iter()
                    .filter(|(id, n)| {
                        let org = if spec.name == "organizations" {
                            Some(**id)
                        } else {
                            n.org
                        };
                        org != db_org || db_org.is_none()
                    })
                    .map(|(id, _)| *id)
                    .collect(),
                None => {
                    let sql = format!("SELECT id FROM {} WHERE {} <> $1", spec.name, spec.org_col);
                    let v: Vec<i64> = on_tx!(&mut *tx, |c| sqlx::query_scalar(
                        sqlx::AssertSqlSafe(sql.as_str())
                    )
                    .bind(db_org.unwrap_or(i64::MIN))
                    .fetch_all(&mut *c)
                    .await?);
                    v.into_iter().collect()
                }
            };
            kept_ids.insert(spec.name, ids);
        }
    }
    let is_touched = |n: &str| touched.iter().any(|s| s.name == n);
    let mut pointing = BTreeMap::new();
    for (child, col, _parent) in checks.iter().filter(|(c, _, _)| !is_touched(c.name)) {
        let sql = format!(
            "SELECT {col}, COUNT(*) FROM {} WHERE {col} IS NOT NULL GROUP BY {col}",
            child.name
        );
        let v: Vec<(i64, i64)> = on_tx!(&mut *tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(
            sql.as_str()
        ))
        .fetch_all(&mut *c)
        .await?);
        pointing.insert((child.name, *col), v);
    }
    Ok(FromDb {
        parents,
        kept_ids,
        pointing,
    })
}
