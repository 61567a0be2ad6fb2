//! The shared context of one run, whichever face runs it (the command line, the console,
//! the daemon): the settings, the demo flag, the store and operator (opened on demand), and
//! the one rule that chooses the organization a command acts on.
//!
//! The rule, in order:
//! 1. the organization named explicitly (`--org CODE`, or the console's choice);
//! 2. an operator limited to one organization: that one (they may act nowhere else);
//! 3. `default_org` from the config (a code that names no organization is an error);
//! 4. the only organization, when there is exactly one;
//! 5. otherwise an error that lists the codes and says how to choose.
//!
//! Commands that address a row by its globally unique id (a collection, a backup, a job)
//! take the organization from the row instead ([`Session::org_by_id`]); the permission
//! checks in the core still decide whether the operator may act on it.

use std::path::Path;

use crate::access::{self, Operator, Role, users};
use crate::config::{self, Overrides, Settings};
use crate::db::Store;
use crate::demo::{self, DemoOptions};
use crate::error::{Error, Result};
use crate::ledger::org::{self, NewOrganization, Organization};

/// What every face needs for a run: settings and the demo flag; the store and the operator
/// are opened on demand (`init` runs before there is an operator).
#[derive(Debug, Clone)]
pub struct Session {
    pub settings: Settings,
    /// `--demo`: the separate demo database, filled on first use.
    pub demo: bool,
}

/// How the organization was chosen (for messages and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    Explicit,
    Operator,
    DefaultOrg,
    OnlyOne,
}

/// The outcome of the rule before it is turned into an answer: chosen, or several to
/// choose from (a console opens on the first; a command stops and asks).
#[derive(Debug, Clone, Copy)]
pub enum Pick<'a> {
    Chosen(&'a Organization, ChosenBy),
    Several(&'a [Organization]),
}

impl Session {
    pub fn new(settings: Settings, demo: bool) -> Session {
        Session { settings, demo }
    }

    /// Read the configuration (flags and environment over the file over the defaults);
    /// with `demo`, the database is the demo one in the data directory.
    pub fn load(overrides: &Overrides, demo: bool) -> Result<Session> {
        let mut settings = config::load(overrides)?;
        if demo {
            settings.database_url = settings.demo_database_url();
        }
        Ok(Session { settings, demo })
    }

    /// Open the configured database (running migrations); the demo one is filled on first use.
    pub async fn store(&self) -> Result<Store> {
        let store = Store::open(&self.settings.database_url).await?;
        if self.demo {
            ensure_demo(&store).await?;
        }
        Ok(store)
    }

    /// The store and the operator (the OS login, matched to an active user).
    pub async fn open(&self) -> Result<(Store, Operator)> {
        let store = self.store().await?;
        let op = access::login(&store).await?;
        Ok((store, op))
    }

    /// `default_org` from the config, when set.
    /// The ledger's amount rules from `[ledger]` (the ceiling for one entry).
    pub fn ledger_rules(&self) -> crate::ledger::Rules {
        self.settings.config.ledger.rules()
    }

    pub fn default_org(&self) -> Option<&str> {
        let configured = self.settings.config.default_org.trim();
        if !configured.is_empty() {
            return Some(configured);
        }
        // the demo database has two organizations: its first one, so that `somiti --demo
        // member list` needs no --org
        self.demo.then_some(DEMO_ORG)
    }

    fn config_file(&self) -> &Path {
        self.settings
            .config_file
            .as_deref()
            .unwrap_or(&self.settings.config_path)
    }

    /// The rule (see the module) over `orgs`, without deciding what "several" means.
    pub fn pick<'a>(
        &self,
        orgs: &'a [Organization],
        op: &Operator,
        explicit: Option<&str>,
    ) -> Result<Pick<'a>> {
        pick(orgs, op, explicit, self.default_org(), self.config_file())
    }

    /// The organization a command acts on: chosen by the rule, or an error that lists the
    /// codes and says how to choose.
    pub async fn org(
        &self,
        store: &Store,
        op: &Operator,
        explicit: Option<&str>,
    ) -> Result<Organization> {
        let orgs = org::list(store).await?;
        match self.pick(&orgs, op, explicit)? {
            Pick::Chosen(o, _) => Ok(o.clone()),
            Pick::Several(all) => Err(self.several(all)),
        }
    }

    /// The clock a listing that belongs to no organization (backups, the scheduler) shows
    /// its times on: the rule's organization; with several and no choice, the first one's
    /// (the column heading names the clock, so the times stay readable as what they are).
    pub async fn clock(&self, store: &Store, op: &Operator) -> Result<org::Clock> {
        let orgs = org::list(store).await?;
        Ok(match self.pick(&orgs, op, None) {
            Ok(Pick::Chosen(o, _)) => o.clock(),
            _ => org::Clock::of(orgs.first()),
        })
    }

    /// The organization whose clock a listing that spans organizations (the audit log)
    /// is shown in: the rule's choice; with several and no choice, any of them when they
    /// all keep the same timezone (only the clock matters), else the rule's error.
    pub async fn clock_org(
        &self,
        store: &Store,
        op: &Operator,
        explicit: Option<&str>,
    ) -> Result<Organization> {
        let orgs = org::list(store).await?;
        match self.pick(&orgs, op, explicit)? {
            Pick::Chosen(o, _) => Ok(o.clone()),
            Pick::Several(all) if all.iter().all(|o| o.timezone == all[0].timezone) => {
                Ok(all[0].clone())
            }
            Pick::Several(all) => Err(self.several(all)),
        }
    }

    /// The organization a row carries (a collection found by its id). With an explicit
    /// code, that organization is used instead, so the core can say the row is not in it.
    pub async fn org_by_id(
        &self,
        store: &Store,
        org_id: i64,
        explicit: Option<&str>,
    ) -> Result<Organization> {
        match explicit {
            Some(code) => {
                let orgs = org::list(store).await?;
                find_code(&orgs, code).cloned()
            }
            None => org::get(store, org_id).await,
        }
    }

    /// The index in `orgs` a console opens on: the rule's choice, else the first.
    pub fn console_index(&self, op: &Operator, orgs: &[Organization]) -> usize {
        match self.pick(orgs, op, None) {
            Ok(Pick::Chosen(o, _)) => orgs.iter().position(|x| x.id == o.id).unwrap_or(0),
            _ => 0,
        }
    }

    fn several(&self, all: &[Organization]) -> Error {
        Error::invalid(
            "org",
            format!(
                "there are several organizations ({}); pass --org CODE, or set \
                 default_org = \"CODE\" in {}",
                codes(all),
                self.config_file().display()
            ),
        )
    }
}

fn codes(orgs: &[Organization]) -> String {
    orgs.iter()
        .map(|o| o.code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_code<'a>(orgs: &'a [Organization], code: &str) -> Result<&'a Organization> {
    let code = code.trim();
    orgs.iter()
        .find(|o| o.code.eq_ignore_ascii_case(code))
        .ok_or_else(|| {
            Error::NotFound(if orgs.is_empty() {
                format!(
                    "organization {code:?}: there is none yet; run `somiti init --org-code CODE \
                     --org-name NAME`"
                )
            } else {
                format!(
                    "organization {code:?}; the organizations are {}",
                    codes(orgs)
                )
            })
        })
}

/// The rule of the module over a list of organizations. `config_file` is named in the
/// error for a `default_org` that matches none.
pub fn pick<'a>(
    orgs: &'a [Organization],
    op: &Operator,
    explicit: Option<&str>,
    default_org: Option<&str>,
    config_file: &Path,
) -> Result<Pick<'a>> {
    if let Some(code) = explicit.map(str::trim).filter(|c| !c.is_empty()) {
        return Ok(Pick::Chosen(find_code(orgs, code)?, ChosenBy::Explicit));
    }
    let default = match default_org.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(code) => Some(
            orgs.iter()
                .find(|o| o.code.eq_ignore_ascii_case(code))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "default_org = {code:?} in {} names no organization; the \
                         organizations are {}: correct default_org, or pass --org CODE",
                        config_file.display(),
                        if orgs.is_empty() {
                            "none yet".to_string()
                        } else {
                            codes(orgs)
                        }
                    ))
                })?,
        ),
    };
    if let Some(mine) = op.org_id {
        let own = orgs.iter().find(|o| o.id == mine).ok_or_else(|| {
            Error::NotFound(format!(
                "{}'s organization (#{mine}) no longer exists; ask an admin to change the user",
                op.username
            ))
        })?;
        return Ok(Pick::Chosen(own, ChosenBy::Operator));
    }
    if let Some(o) = default {
        return Ok(Pick::Chosen(o, ChosenBy::DefaultOrg));
    }
    match orgs {
        [] => Err(Error::NotFound(
            "no organization yet; run `somiti init --org-code CODE --org-name NAME`".into(),
        )),
        [one] => Ok(Pick::Chosen(one, ChosenBy::OnlyOne)),
        all => Ok(Pick::Several(all)),
    }
}

/// The demo database's first organization (and its default one).
pub const DEMO_ORG: &str = "DEMO";

/// The demo database: on first use, an organization, the current login as admin, and data.
pub async fn ensure_demo(store: &Store) -> Result<()> {
    let login = access::os_login();
    if users::find(store, &login).await?.is_none() {
        users::insert_unchecked(store, &login, &login, "demo operator", Role::Admin, None).await?;
    }
    if org::list(store).await?.is_empty() {
        let o = org::insert_unchecked(
            store,
            &login,
            &NewOrganization {
                code: DEMO_ORG.into(),
                name: "Demo Sonali Somiti".into(),
                address: "Mirpur 10, Dhaka".into(),
                ..Default::default()
            },
        )
        .await?;
        let opts = DemoOptions {
            members: 240,
            days: 120,
            orgs: 2,
            seed: 42,
        };
        demo::generate(store, &login, &opts, o.today()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: i64, code: &str, tz: &str) -> Organization {
        Organization {
            id,
            code: code.into(),
            name: code.into(),
            address: String::new(),
            contact_person: String::new(),
            mobile: String::new(),
            email: String::new(),
            timezone: tz.into(),
            collection_days: String::new(),
            created_at: chrono::Utc::now(),
        }
    }

    fn op(org_id: Option<i64>) -> Operator {
        Operator {
            username: "rahim".into(),
            full_name: String::new(),
            role: Role::Manager,
            org_id,
        }
    }

    fn chosen(p: Result<Pick<'_>>) -> (String, ChosenBy) {
        match p.expect("a choice") {
            Pick::Chosen(o, by) => (o.code.clone(), by),
            Pick::Several(_) => panic!("several"),
        }
    }

    const FILE: &str = "/etc/somiti/config.toml";

    #[test]
    fn the_rule_goes_explicit_operator_default_only() {
        let two = [org(1, "KHU", "Asia/Dhaka"), org(2, "SOM", "Asia/Dhaka")];
        let f = Path::new(FILE);
        assert_eq!(
            chosen(pick(&two, &op(Some(2)), Some("khu"), Some("SOM"), f)),
            ("KHU".into(), ChosenBy::Explicit)
        );
        assert_eq!(
            chosen(pick(&two, &op(Some(1)), None, Some("SOM"), f)),
            ("KHU".into(), ChosenBy::Operator),
            "an operator limited to one organization acts there"
        );
        assert_eq!(
            chosen(pick(&two, &op(None), None, Some("som"), f)),
            ("SOM".into(), ChosenBy::DefaultOrg)
        );
        assert_eq!(
            chosen(pick(&two[..1], &op(None), None, None, f)),
            ("KHU".into(), ChosenBy::OnlyOne)
        );
        assert!(matches!(
            pick(&two, &op(None), None, None, f),
            Ok(Pick::Several(s)) if s.len() == 2
        ));
    }

    #[test]
    fn an_unknown_default_org_names_the_key_the_file_and_the_codes() {
        let two = [org(1, "KHU", "Asia/Dhaka"), org(2, "SOM", "Asia/Dhaka")];
        let e = pick(&two, &op(None), None, Some("NOPE"), Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(e.contains("default_org = \"NOPE\""), "{e}");
        assert!(e.contains(FILE), "{e}");
        assert!(e.contains("KHU, SOM"), "{e}");
        let e = pick(&two, &op(None), Some("XYZ"), None, Path::new(FILE))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"XYZ\"") && e.contains("KHU, SOM"), "{e}");
    }
}
