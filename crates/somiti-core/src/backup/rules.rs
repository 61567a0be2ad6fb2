//! The ledger's own rules, applied to an archive's rows as verify streams them: the same
//! validators `member add`, `collection add` and `org add` use, and the schema's CHECK and
//! UNIQUE rules, so that "verify ok" means the restore succeeds on either backend. Each
//! failure names the member by organization code and member number (never only an id) and
//! says which rule it breaks.
//!
//! Memory stays small: what is kept is per organization, worker and member (a ledger has
//! thousands of those), plus the ids of reversed entries; never per collection.

use std::collections::{HashMap, HashSet};

use super::schema::{TableSpec, Val};
use crate::ledger::org::{NewOrganization, validate_org};
use crate::ledger::{collection, validate};

type RowResult = std::result::Result<(), String>;

#[derive(Debug, Default)]
pub(crate) struct Rules {
    /// organization id → code
    orgs: HashMap<i64, String>,
    codes: HashSet<String>,
    /// worker id → organization id
    workers: HashMap<i64, i64>,
    /// member id → (organization id, member_no)
    members: HashMap<i64, (i64, String)>,
    /// NID → member id
    nids: HashMap<String, i64>,
    member_nos: HashSet<(i64, String)>,
    /// collection id → the reversal that cancels it
    reversed: HashMap<i64, i64>,
    /// ids of reversal rows
    reversals: HashSet<i64>,
    usernames: HashSet<String>,
}

/// The column `name` of a row.
struct Row<'a> {
    spec: &'a TableSpec,
    vals: &'a [Val],
}

impl Row<'_> {
    fn val(&self, name: &str) -> &Val {
        self.spec
            .index_of(name)
            .and_then(|i| self.vals.get(i))
            .unwrap_or(&Val::Null)
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.val(name).as_int()
    }

    fn text(&self, name: &str) -> &str {
        self.val(name).as_text().unwrap_or("")
    }
}

/// A rule's refusal, in the form `validate` gives it ("nid: must have …"), for the row.
fn broke(who: &str, e: crate::error::Error) -> String {
    format!("{who}: {e}")
}

impl Rules {
    /// Check one row (rows come table by table, parents first, each in key order).
    pub(crate) fn check(&mut self, spec: &TableSpec, vals: &[Val]) -> RowResult {
        let row = Row { spec, vals };
        match spec.name {
            "organizations" => self.organization(&row)?,
            "workers" => self.worker(&row)?,
            "members" => self.member(&row)?,
            "collections" => self.collection(&row)?,
            "users" => self.user(&row)?,
            _ => {}
        }
        // PostgreSQL cannot store a NUL in text; no face lets one in (notes, addresses…).
        for (c, v) in spec.cols.iter().zip(vals) {
            if let Val::Text(s) = v
                && s.contains('\0')
            {
                return Err(format!(
                    "{} holds a NUL character (U+0000), which no field may contain",
                    c.name
                ));
            }
        }
        Ok(())
    }

    fn org_code(&self, id: Option<i64>) -> String {
        id.and_then(|i| self.orgs.get(&i).cloned())
            .unwrap_or_else(|| format!("#{}", id.unwrap_or_default()))
    }

    /// "member 42 of SONALI".
    fn member_name(&self, id: i64) -> String {
        match self.members.get(&id) {
            Some((org, no)) => format!("member {no} of {}", self.org_code(Some(*org))),
            None => format!("member #{id}"),
        }
    }

    fn organization(&mut self, row: &Row<'_>) -> RowResult {
        let code = row.text("code").to_string();
        let who = format!("organization {code}");
        let o = NewOrganization {
            code: code.clone(),
            name: row.text("name").into(),
            address: row.text("address").into(),
            contact_person: row.text("contact_person").into(),
            mobile: row.text("mobile").into(),
            email: row.text("email").into(),
            timezone: Some(row.text("timezone").into()),
            collection_days: Some(row.text("collection_days").into()),
        };
        let valid = validate_org(&o).map_err(|e| broke(&who, e))?;
        if valid.code != code {
            return Err(format!(
                "{who}: the code must be stored upper-case as {}",
                valid.code
            ));
        }
        if !self.codes.insert(code.clone()) {
            return Err(format!(
                "{who}: the code is used by another organization too (organization codes are unique)"
            ));
        }
        if let Some(id) = row.int("id") {
            self.orgs.insert(id, code);
        }
        Ok(())
    }

    fn worker(&mut self, row: &Row<'_>) -> RowResult {
        let org = row.int("org_id");
        let who = format!("worker {:?} of {}", row.text("name"), self.org_code(org));
        validate::required("worker name", row.text("name")).map_err(|e| broke(&who, e))?;
        let mobile = row.text("mobile");
        if !mobile.is_empty() {
            match validate::mobile(mobile) {
                Ok(v) if v == mobile => {}
                Ok(v) => {
                    return Err(format!(
                        "{who}: mobile must be stored in its plain form ({v})"
                    ));
                }
                Err(e) => return Err(broke(&who, e)),
            }
        }
        if let (Some(id), Some(org)) = (row.int("id"), org) {
            self.workers.insert(id, org);
        }
        Ok(())
    }

    fn member(&mut self, row: &Row<'_>) -> RowResult {
        let org = row.int("org_id").unwrap_or_default();
        let no = row.text("member_no").to_string();
        let who = format!("member {no} of {}", self.org_code(Some(org)));
        if validate::required("member_no", &validate::normalize_digits(&no))
            .ok()
            .as_deref()
            != Some(no.as_str())
        {
            return Err(format!(
                "{who}: member_no must be the plain digits or text it was entered as (got {no:?})"
            ));
        }
        validate::required("name", row.text("name")).map_err(|e| broke(&who, e))?;
        let nid = row.text("nid");
        match validate::nid(nid) {
            Ok(v) if v == nid => {}
            Ok(v) => return Err(format!("{who}: nid must be stored as ASCII digits ({v})")),
            Err(e) => return Err(broke(&who, e)),
        }
        let mobile = row.text("mobile");
        match validate::mobile(mobile) {
            Ok(v) if v == mobile => {}
            Ok(v) => {
                return Err(format!(
                    "{who}: mobile must be stored in its plain form ({v})"
                ));
            }
            Err(e) => return Err(broke(&who, e)),
        }
        let status = row.text("status");
        if !crate::ledger::member::is_stored_status(status) {
            return Err(format!(
                "{who}: status: must be active, inactive or closed, stored lower-case (got {status:?})"
            ));
        }
        if row.int("daily_savings").is_some_and(|v| v < 0) {
            return Err(format!("{who}: daily_savings must not be negative"));
        }
        if let Some(w) = row.int("worker_id")
            && let Some(&worker_org) = self.workers.get(&w)
            && worker_org != org
        {
            return Err(format!(
                "{who}: worker #{w} belongs to organization {}, not to the member's",
                self.org_code(Some(worker_org))
            ));
        }
        let id = row.int("id").unwrap_or_default();
        if let Some(&other) = self.nids.get(nid) {
            return Err(format!(
                "{who}: nid {nid} is also {}'s (a NID belongs to one member)",
                self.member_name(other)
            ));
        }
        if !self.member_nos.insert((org, no.clone())) {
            return Err(format!(
                "{who}: the member number is used twice in {} (member numbers are unique in an organization)",
                self.org_code(Some(org))
            ));
        }
        self.nids.insert(nid.to_string(), id);
        self.members.insert(id, (org, no));
        Ok(())
    }

    fn collection(&mut self, row: &Row<'_>) -> RowResult {
        let id = row.int("id").unwrap_or_default();
        let org = row.int("org_id").unwrap_or_default();
        let member = row.int("member_id").unwrap_or_default();
        let who = format!("entry #{id} of {}", self.member_name(member));
        let (loan, savings) = (
            row.int("loan_paisa").unwrap_or(0),
            row.int("savings_paisa").unwrap_or(0),
        );
        collection::check_amounts(loan, savings).map_err(|e| broke(&who, e))?;
        if let Some((member_org, _)) = self.members.get(&member)
            && *member_org != org
        {
            return Err(format!(
                "{who}: the entry is filed under organization {} but the member belongs to {}",
                self.org_code(Some(org)),
                self.org_code(Some(*member_org))
            ));
        }
        if let Some(w) = row.int("worker_id")
            && let Some(&worker_org) = self.workers.get(&w)
            && worker_org != org
        {
            return Err(format!(
                "{who}: worker #{w} belongs to organization {}, not to the entry's",
                self.org_code(Some(worker_org))
            ));
        }
        if let Some(of) = row.int("reversal_of") {
            if of == id {
                return Err(format!("{who}: the entry reverses itself"));
            }
            if of > id {
                return Err(format!(
                    "{who}: reverses the later entry #{of} (a reversal always comes after the entry it cancels)"
                ));
            }
            if self.reversals.contains(&of) {
                return Err(format!(
                    "{who}: reverses #{of}, which is itself a reversal (post a new entry instead)"
                ));
            }
            if let Some(first) = self.reversed.insert(of, id) {
                return Err(format!(
                    "{who}: #{of} is reversed twice, by #{first} and #{id} (an entry is reversed at most once)"
                ));
            }
            self.reversals.insert(id);
        }
        Ok(())
    }

    fn user(&mut self, row: &Row<'_>) -> RowResult {
        let name = row.text("username");
        let who = format!("user {name}");
        validate::required("username", name).map_err(|e| broke(&who, e))?;
        let role = row.text("role");
        if crate::access::Role::parse(role).map(|r| r.as_str()).ok() != Some(role) {
            return Err(format!(
                "{who}: role must be admin, manager, worker or viewer (got {:?})",
                row.text("role")
            ));
        }
        if !self.usernames.insert(name.to_string()) {
            return Err(format!(
                "{who}: the username is used twice (usernames are unique)"
            ));
        }
        Ok(())
    }
}
