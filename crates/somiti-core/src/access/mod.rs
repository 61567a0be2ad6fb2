//! Who may do what. The operator is the OS login; roles decide what each may do, checked
//! here in the core so no face can skip a check. Refusals are written to the audit log.

pub mod audit;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::db::Store;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Worker,
    Manager,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Worker => "worker",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "worker" => Ok(Role::Worker),
            "viewer" => Ok(Role::Viewer),
            other => Err(Error::invalid(
                "role",
                format!("must be admin, manager, worker or viewer (got {other:?})"),
            )),
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => !matches!(
                p,
                ReopenDay
                    | WriteOffLoan
                    | ManageUsers
                    | RestoreBackup
                    | DeleteBackup
                    | PruneBackups
                    | ManageOrganizations
            ),
            Role::Worker => matches!(p, Read | EnterCollection),
            Role::Viewer => matches!(p, Read),
        }
    }
}

/// Everything the core guards. Faces ask nothing; the core calls `require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    ManageOrganizations,
    ManageMembers,
    EnterCollection,
    ReverseCollection,
    CloseDay,
    ReopenDay,
    ManageUsers,
    CreateBackup,
    VerifyBackup,
    DownloadBackup,
    PinBackup,
    RestoreBackup,
    DeleteBackup,
    PruneBackups,
    Export,
    Import,
    RunScheduledJob,
    DisburseLoan,
    WriteOffLoan,
    WithdrawSavings,
    CloseMember,
}

impl Permission {
    /// Words for a refusal: "may not <this>".
    pub fn describe(self) -> &'static str {
        use Permission::*;
        match self {
            Read => "read the ledger",
            ManageOrganizations => "manage organizations",
            ManageMembers => "add or change members",
            EnterCollection => "enter collections",
            ReverseCollection => "reverse collections",
            CloseDay => "close a day",
            ReopenDay => "reopen a closed day",
            ManageUsers => "manage users",
            CreateBackup => "create backups",
            VerifyBackup => "verify backups",
            DownloadBackup => "download backups",
            PinBackup => "pin or unpin backups",
            RestoreBackup => "restore backups",
            DeleteBackup => "delete backups",
            PruneBackups => "prune backups",
            Export => "export data",
            Import => "import data",
            RunScheduledJob => "run scheduled jobs",
            DisburseLoan => "disburse loans",
            WriteOffLoan => "write off loans",
            WithdrawSavings => "pay out savings",
            CloseMember => "close members",
        }
    }
}

/// The person at the console: an active user matched to the OS login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operator {
    pub username: String,
    pub full_name: String,
    pub role: Role,
    /// `None`: every organization.
    pub org_id: Option<i64>,
}

impl Operator {
    /// The scheduler and other unattended work act as this built-in operator.
    pub fn system() -> Operator {
        Operator {
            username: "system".into(),
            full_name: "scheduler".into(),
            role: Role::Admin,
            org_id: None,
        }
    }

    fn may(&self, p: Permission, org_id: Option<i64>) -> bool {
        let org_ok = match (self.org_id, org_id) {
            (Some(mine), Some(target)) => mine == target,
            (Some(_), None) => p == Permission::Read,
            (None, _) => true,
        };
        org_ok && self.role.allows(p)
    }
}

/// Check a permission; a refusal is written to the audit log and returned as `Refused`.
pub async fn require(
    store: &Store,
    op: &Operator,
    p: Permission,
    org_id: Option<i64>,
    action: &str,
    target: &str,
) -> Result<()> {
    if op.may(p, org_id) {
        return Ok(());
    }
    let why = if op.role.allows(p) {
        format!(
            "{} ({}) may not {} in this organization",
            op.username,
            op.role.as_str(),
            p.describe()
        )
    } else {
        format!(
            "{} is a {} and may not {}; ask an admin (somiti user set-role {} ROLE)",
            op.username,
            op.role.as_str(),
            p.describe(),
            op.username
        )
    };
    audit::record(
        store,
        &op.username,
        action,
        target,
        serde_json::json!({ "reason": why }),
        audit::Outcome::Refused,
    )
    .await?;
    Err(Error::Refused(why))
}

/// The OS login that runs this process. Root may act as another operator through
/// `SOMITI_OPERATOR` (root can become any user anyway); for everyone else it is ignored.
pub fn os_login() -> String {
    let uid = nix::unistd::getuid();
    let real = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid{}", uid.as_raw()));
    if uid.is_root()
        && let Ok(as_user) = std::env::var("SOMITI_OPERATOR")
        && !as_user.trim().is_empty()
    {
        return as_user.trim().to_string();
    }
    real
}

/// Resolve the operator for this process from the users table.
pub async fn login(store: &Store) -> Result<Operator> {
    let name = os_login();
    match users::find(store, &name).await? {
        Some(u) if u.active => Ok(Operator {
            username: u.username,
            full_name: u.full_name,
            role: Role::parse(&u.role)?,
            org_id: u.org_id,
        }),
        Some(_) => Err(Error::Refused(format!(
            "operator {name:?} is deactivated; ask an admin to reactivate you"
        ))),
        None => {
            if users::count(store).await? == 0 {
                Err(Error::Refused(
                    "this database has no operators yet; run `somiti init` first".into(),
                ))
            } else {
                Err(Error::Refused(format!(
                    "operator {name:?} is not a user of this console; an admin can add you with `somiti user add {name} --role viewer`"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_design_says() {
        assert!(Role::Admin.allows(Permission::RestoreBackup));
        assert!(!Role::Manager.allows(Permission::RestoreBackup));
        assert!(Role::Manager.allows(Permission::CloseDay));
        assert!(Role::Manager.allows(Permission::CreateBackup));
        assert!(!Role::Manager.allows(Permission::ReopenDay));
        assert!(Role::Worker.allows(Permission::EnterCollection));
        assert!(!Role::Worker.allows(Permission::ManageMembers));
        assert!(!Role::Viewer.allows(Permission::EnterCollection));
        assert!(Role::Viewer.allows(Permission::Read));
    }

    /// The ledger's gates by rank: members, export, import, reversals and closing need a
    /// manager, entering a collection a worker, reopening an admin (what the console's keys
    /// ask through `allows`).
    #[test]
    fn ledger_permissions_follow_the_ranks() {
        use Permission::*;
        let roles = [Role::Viewer, Role::Worker, Role::Manager, Role::Admin];
        for r in roles {
            for p in [ManageMembers, Export, Import, ReverseCollection, CloseDay] {
                assert_eq!(r.allows(p), r >= Role::Manager, "{r:?} {p:?}");
            }
            assert_eq!(r.allows(EnterCollection), r >= Role::Worker, "{r:?}");
            assert_eq!(r.allows(ReopenDay), r == Role::Admin, "{r:?}");
        }
    }

    #[test]
    fn org_bound_operator_stays_in_its_org() {
        let op = Operator {
            username: "karim".into(),
            full_name: String::new(),
            role: Role::Manager,
            org_id: Some(1),
        };
        assert!(op.may(Permission::ManageMembers, Some(1)));
        assert!(!op.may(Permission::ManageMembers, Some(2)));
        assert!(!op.may(Permission::CreateBackup, None));
    }
}
