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

/// A loan as read: (member id, cycle, owed, paid as stored, status, last paid day as stored).
type LoanSeen = (i64, i64, i64, i64, String, Option<String>);

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
    /// loan id → (member id, cycle, owed, paid as stored, status, last paid day as stored)
    loans: HashMap<i64, LoanSeen>,
    /// loan id / member id → the latest standing payments
    loan_recent: HashMap<i64, Recent>,
    member_recent: HashMap<i64, Recent>,
    /// entry id → (member id, loan id): only for the entries kept in a `Recent`
    recent_of: HashMap<i64, (i64, Option<i64>)>,
    /// members with an active loan
    active_loan: HashSet<i64>,
    /// loan id → effective payments; member id → effective deposits, withdrawals
    loan_paid: HashMap<i64, i64>,
    deposited: HashMap<i64, i64>,
    withdrawn: HashMap<i64, i64>,
    /// withdrawal id → the reversal that cancels it; ids of reversal rows
    w_reversed: HashMap<i64, i64>,
    w_reversals: HashSet<i64>,
    /// members whose savings account was read
    accounts: HashSet<i64>,
}

/// The latest standing payments of one account, as (day, entry id), at most [`RECENT`]:
/// enough to know its last paid day while reversals cancel some (a reversal comes after
/// the entry it cancels). `lost` when a cancelled entry took one of the few kept and older
/// ones were dropped: the drill's check then decides.
#[derive(Debug, Default)]
struct Recent {
    kept: Vec<(String, i64)>,
    dropped: bool,
    lost: bool,
}

const RECENT: usize = 4;

impl Recent {
    /// Keep the entry if it is among the latest; the entry no longer kept, if any.
    fn push(&mut self, day: &str, id: i64) -> Option<i64> {
        self.kept.push((day.to_string(), id));
        self.kept.sort_unstable_by(|a, b| b.cmp(a));
        if self.kept.len() > RECENT {
            self.dropped = true;
            return self.kept.pop().map(|(_, i)| i);
        }
        None
    }

    fn holds(&self, id: i64) -> bool {
        self.kept.iter().any(|(_, i)| *i == id)
    }

    fn cancel(&mut self, id: i64) {
        let before = self.kept.len();
        self.kept.retain(|(_, i)| *i != id);
        if self.kept.len() < before && self.dropped && self.kept.is_empty() {
            self.lost = true;
        }
    }

    /// The last paid day, when it is known.
    fn last(&self) -> Option<Option<&str>> {
        (!self.lost).then(|| self.kept.first().map(|(d, _)| d.as_str()))
    }
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
            "loans" => self.loan(&row)?,
            "withdrawals" => self.withdrawal(&row)?,
            "savings_accounts" => self.savings_account(&row)?,
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
        let sign = if row.int("reversal_of").is_some() {
            -1
        } else {
            1
        };
        match row.int("loan_id") {
            Some(l) => {
                if let Some((owner, cycle, ..)) = self.loans.get(&l)
                    && *owner != member
                    && self.members.contains_key(&member)
                {
                    return Err(format!(
                        "{who}: pays loan cycle {cycle} of {}, not a loan of its own member",
                        self.member_name(*owner)
                    ));
                }
                *self.loan_paid.entry(l).or_default() += sign * loan;
            }
            None if loan > 0 => {
                return Err(format!(
                    "{who}: a loan payment of {} names no loan",
                    crate::ledger::money::grouped(loan)
                ));
            }
            None => {}
        }
        *self.deposited.entry(member).or_default() += sign * savings;
        match row.int("reversal_of") {
            None => {
                let day = row.text("collected_on");
                let loan_id = row.int("loan_id").filter(|_| loan > 0);
                self.recent_of.insert(id, (member, loan_id));
                let mut out = vec![self.member_recent.entry(member).or_default().push(day, id)];
                if let Some(l) = loan_id {
                    out.push(self.loan_recent.entry(l).or_default().push(day, id));
                }
                // Forget the entries no list keeps: memory stays per account.
                for gone in out.into_iter().flatten() {
                    let Some((m, l)) = self.recent_of.get(&gone).copied() else {
                        continue;
                    };
                    let kept = self.member_recent.get(&m).is_some_and(|r| r.holds(gone))
                        || l.is_some_and(|l| {
                            self.loan_recent.get(&l).is_some_and(|r| r.holds(gone))
                        });
                    if !kept {
                        self.recent_of.remove(&gone);
                    }
                }
            }
            Some(of) => {
                if let Some((m, l)) = self.recent_of.get(&of).copied() {
                    self.member_recent.entry(m).or_default().cancel(of);
                    if let Some(l) = l {
                        self.loan_recent.entry(l).or_default().cancel(of);
                    }
                }
            }
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

    /// A loan: its terms, its status, one active loan per member, its member's org.
    fn loan(&mut self, row: &Row<'_>) -> RowResult {
        let id = row.int("id").unwrap_or_default();
        let org = row.int("org_id").unwrap_or_default();
        let member = row.int("member_id").unwrap_or_default();
        let cycle = row.int("cycle").unwrap_or_default();
        let who = format!("loan cycle {cycle} of {}", self.member_name(member));
        if let Some((member_org, _)) = self.members.get(&member)
            && *member_org != org
        {
            return Err(format!(
                "{who}: the loan is filed under organization {} but the member belongs to {}",
                self.org_code(Some(org)),
                self.org_code(Some(*member_org))
            ));
        }
        if cycle < 1 {
            return Err(format!("{who}: the cycle must be 1 or more"));
        }
        let (principal, charge, installment) = (
            row.int("principal").unwrap_or(0),
            row.int("service_charge").unwrap_or(0),
            row.int("installment").unwrap_or(0),
        );
        if principal <= 0 || installment <= 0 || charge < 0 {
            return Err(format!(
                "{who}: principal and installment must be more than zero and the service charge not negative"
            ));
        }
        if row.int("written_off").is_some_and(|v| v < 0) || row.int("paid").is_some_and(|v| v < 0) {
            return Err(format!("{who}: paid and written off must not be negative"));
        }
        let status = row.text("status").to_string();
        if crate::ledger::loan::LoanStatus::parse(&status).is_none() {
            return Err(format!(
                "{who}: status must be active, repaid or written_off (got {status:?})"
            ));
        }
        let closed = !matches!(row.val("closed_on"), Val::Null);
        if (status == "active") == closed {
            return Err(format!(
                "{who}: a loan has a closing day exactly when it is not active (status {status})"
            ));
        }
        if status == "active" && !self.active_loan.insert(member) {
            return Err(format!(
                "{who}: the member has two active loans (one at a time)"
            ));
        }
        self.loans.insert(
            id,
            (
                member,
                cycle,
                principal + charge,
                row.int("paid").unwrap_or(0),
                status,
                row.val("last_paid_on").as_text().map(str::to_string),
            ),
        );
        Ok(())
    }

    /// A withdrawal: positive, its member's org, reversal rules as for collections.
    fn withdrawal(&mut self, row: &Row<'_>) -> RowResult {
        let id = row.int("id").unwrap_or_default();
        let org = row.int("org_id").unwrap_or_default();
        let member = row.int("member_id").unwrap_or_default();
        let who = format!("withdrawal #{id} of {}", self.member_name(member));
        let amount = row.int("amount").unwrap_or(0);
        if amount <= 0 {
            return Err(format!("{who}: the amount must be more than zero"));
        }
        if let Some((member_org, _)) = self.members.get(&member)
            && *member_org != org
        {
            return Err(format!(
                "{who}: filed under organization {} but the member belongs to {}",
                self.org_code(Some(org)),
                self.org_code(Some(*member_org))
            ));
        }
        let sign = if let Some(of) = row.int("reversal_of") {
            if of >= id {
                return Err(format!("{who}: reverses #{of}, not an earlier withdrawal"));
            }
            if self.w_reversals.contains(&of) {
                return Err(format!("{who}: reverses #{of}, which is itself a reversal"));
            }
            if let Some(first) = self.w_reversed.insert(of, id) {
                return Err(format!(
                    "{who}: #{of} is reversed twice, by #{first} and #{id}"
                ));
            }
            self.w_reversals.insert(id);
            -1
        } else {
            1
        };
        *self.withdrawn.entry(member).or_default() += sign * amount;
        Ok(())
    }

    /// A savings account: its running balance equals the entries read before it.
    fn savings_account(&mut self, row: &Row<'_>) -> RowResult {
        let member = row.int("member_id").unwrap_or_default();
        let who = format!("the savings account of {}", self.member_name(member));
        let (dep, wd) = (
            row.int("deposited").unwrap_or(0),
            row.int("withdrawn").unwrap_or(0),
        );
        let (want_dep, want_wd) = (
            self.deposited.get(&member).copied().unwrap_or(0),
            self.withdrawn.get(&member).copied().unwrap_or(0),
        );
        if dep != want_dep || wd != want_wd {
            return Err(format!(
                "{who}: the running balance says deposited {} and withdrawn {}, the entries give {} and {}",
                crate::ledger::money::grouped(dep),
                crate::ledger::money::grouped(wd),
                crate::ledger::money::grouped(want_dep),
                crate::ledger::money::grouped(want_wd)
            ));
        }
        if want_wd > want_dep {
            return Err(format!("{who}: more was withdrawn than deposited"));
        }
        let stored = row.val("last_paid_on").as_text();
        if let Some(want) = self
            .member_recent
            .get(&member)
            .map_or(Some(None), Recent::last)
            && want != stored
        {
            return Err(format!(
                "{who}: the running balance says last paid on {}, the entries give {}",
                stored.unwrap_or("none"),
                want.unwrap_or("none")
            ));
        }
        self.accounts.insert(member);
        Ok(())
    }

    /// After every table: each loan's running balance equals its payments, and every
    /// member has a savings account (format 2).
    pub(crate) fn finish(&self) -> RowResult {
        let mut ids: Vec<&i64> = self.loans.keys().collect();
        ids.sort();
        for id in ids {
            let (member, cycle, owed, paid, status, last) = &self.loans[id];
            let want = self.loan_paid.get(id).copied().unwrap_or(0);
            let who = format!("loan cycle {cycle} of {}", self.member_name(*member));
            if *paid != want {
                return Err(format!(
                    "{who}: the running balance says {} paid, the entries give {}",
                    crate::ledger::money::grouped(*paid),
                    crate::ledger::money::grouped(want)
                ));
            }
            if let Some(want_last) = self.loan_recent.get(id).map_or(Some(None), Recent::last)
                && want_last != last.as_deref()
            {
                return Err(format!(
                    "{who}: the running balance says last paid on {}, the entries give {}",
                    last.as_deref().unwrap_or("none"),
                    want_last.unwrap_or("none")
                ));
            }
            if status == "active" && want >= *owed {
                return Err(format!("{who}: paid in full but still active"));
            }
            if status == "repaid" && want < *owed {
                return Err(format!(
                    "{who}: repaid but {} is still owed",
                    crate::ledger::money::grouped(owed - want)
                ));
            }
        }
        let mut members: Vec<&i64> = self.members.keys().collect();
        members.sort();
        for m in members {
            if !self.accounts.contains(m) {
                return Err(format!("{} has no savings account", self.member_name(*m)));
            }
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
