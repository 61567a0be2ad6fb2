//! `somiti org|worker|user …`: organizations, field workers and console operators.

use clap::Subcommand;

use crate::access::{Operator, Role, users};
use crate::cli::{Ctx, table};
use crate::db::Store;
use crate::error::Result;
use crate::ledger::org::{self, NewOrganization};

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Add an organization (admin)
    Add {
        /// Short code, e.g. SOM (letters and digits; stored in capitals)
        #[arg(long)]
        code: String,
        /// Full name of the organization
        #[arg(long)]
        name: String,
        /// Postal address
        #[arg(long, default_value = "")]
        address: String,
        /// IANA timezone: business dates and every time shown follow it
        #[arg(long, default_value = "Asia/Dhaka")]
        timezone: String,
        /// Weekdays installments fall due, e.g. sat,sun,mon,tue,wed,thu
        #[arg(long)]
        collection_days: Option<String>,
    },
    /// List organizations
    List,
}

#[derive(Debug, Subcommand)]
pub enum WorkerCmd {
    /// Add a field worker
    Add {
        /// The worker's name
        name: String,
        /// Mobile: 01[3-9] and 8 digits
        #[arg(long, default_value = "")]
        mobile: String,
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// List field workers
    List {
        /// Organization code (default: default_org, your own, or the only one)
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// Change a field worker's name or mobile
    Edit {
        /// The worker's id or name (`somiti worker list` shows them)
        key: String,
        /// New name (unique among the organization's workers)
        #[arg(long)]
        name: Option<String>,
        /// New mobile: 01[3-9] and 8 digits; "" for none
        #[arg(long)]
        mobile: Option<String>,
        /// Organization code (default: the configured or your own organization)
        #[arg(long)]
        org: Option<String>,
        /// Refuse unless the worker is still at this version (`worker list --json`)
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
    },
    /// Deactivate a field worker: they keep their members but get no new ones
    Deactivate {
        /// The worker's id or name
        key: String,
        /// Organization code (default: the configured or your own organization)
        #[arg(long)]
        org: Option<String>,
        /// Refuse unless the worker is still at this version (`worker list --json`)
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
    },
    /// Make a deactivated field worker active again
    Activate {
        /// The worker's id or name
        key: String,
        /// Organization code (default: the configured or your own organization)
        #[arg(long)]
        org: Option<String>,
        /// Refuse unless the worker is still at this version (`worker list --json`)
        #[arg(long, value_name = "N")]
        expect_version: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add an operator (the OS login name) with a role
    Add {
        /// The OS login (over SSH, the SSH user)
        username: String,
        /// admin, manager, worker or viewer
        #[arg(long)]
        role: String,
        /// Full name, for the audit log
        #[arg(long, default_value = "")]
        full_name: String,
        /// Limit the operator to one organization (its code); without it, every organization
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
    /// List operators
    List,
    /// Change an operator's role
    SetRole {
        /// The operator's login
        username: String,
        /// admin, manager, worker or viewer
        role: String,
    },
}

pub async fn org(ctx: &Ctx, cmd: OrgCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        OrgCmd::Add {
            code,
            name,
            address,
            timezone,
            collection_days,
        } => {
            let o = org::add(
                &store,
                &op,
                &NewOrganization {
                    code,
                    name,
                    address,
                    timezone: Some(timezone),
                    collection_days,
                    ..Default::default()
                },
            )
            .await?;
            if ctx.json {
                return ctx.print_json(&o);
            }
            outln!("organization {} ({}) created", o.code, o.name)?;
        }
        OrgCmd::List => {
            let all = org::list(&store).await?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            let body: Vec<Vec<String>> = all
                .iter()
                .map(|o| {
                    vec![
                        o.code.clone(),
                        o.name.clone(),
                        o.timezone.clone(),
                        o.collection_days.clone(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(&["Code", "Name", "Timezone", "Collection days"], &body, &[])
            )?;
        }
    }
    Ok(())
}

pub async fn worker(ctx: &Ctx, cmd: WorkerCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        WorkerCmd::Add { name, mobile, org } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let w = org::add_worker(&store, &op, &org, &name, &mobile).await?;
            if ctx.json {
                return ctx.print_json(&w);
            }
            outln!("worker #{} {} added to {}", w.id, w.name, org.code)?;
        }
        WorkerCmd::List { org } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let all = org::workers(&store, org.id).await?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            let body: Vec<Vec<String>> = all
                .iter()
                .map(|w| {
                    vec![
                        w.id.to_string(),
                        w.name.clone(),
                        w.mobile.clone(),
                        if w.active { "active" } else { "inactive" }.into(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(&["Id", "Name", "Mobile", "Status"], &body, &[0])
            )?;
        }
        WorkerCmd::Edit {
            key,
            name,
            mobile,
            org,
            expect_version,
        } => {
            let org = ctx.org(&store, &op, org.as_deref()).await?;
            let edit = org::WorkerEdit { name, mobile };
            let w = org::edit_worker(&store, &op, &org, &key, &edit, expect_version).await?;
            if ctx.json {
                return ctx.print_json(&w);
            }
            outln!(
                "worker #{} {} saved in {} (version {})",
                w.id,
                w.name,
                org.code,
                w.version
            )?;
        }
        WorkerCmd::Deactivate {
            key,
            org,
            expect_version,
        } => set_active(ctx, &store, &op, &key, org, false, expect_version).await?,
        WorkerCmd::Activate {
            key,
            org,
            expect_version,
        } => set_active(ctx, &store, &op, &key, org, true, expect_version).await?,
    }
    Ok(())
}

/// `worker deactivate|activate`.
async fn set_active(
    ctx: &Ctx,
    store: &Store,
    op: &Operator,
    key: &str,
    org: Option<String>,
    active: bool,
    expect_version: Option<i64>,
) -> Result<()> {
    let org = ctx.org(store, op, org.as_deref()).await?;
    let w = org::set_worker_active(store, op, &org, key, active, expect_version).await?;
    if ctx.json {
        return ctx.print_json(&w);
    }
    outln!(
        "worker #{} {} {} in {}",
        w.id,
        w.name,
        if w.active {
            "is active again"
        } else {
            "deactivated: keeps their members, gets no new ones"
        },
        org.code
    )?;
    Ok(())
}

pub async fn user(ctx: &Ctx, cmd: UserCmd) -> Result<()> {
    let (store, op) = ctx.open().await?;
    match cmd {
        UserCmd::Add {
            username,
            role,
            full_name,
            org,
        } => {
            let role = Role::parse(&role)?;
            let org_id = match org {
                Some(code) => Some(ctx.org(&store, &op, Some(&code)).await?.id),
                None => None,
            };
            let u = users::add(&store, &op, &username, &full_name, role, org_id).await?;
            if ctx.json {
                return ctx.print_json(&u);
            }
            outln!("user {} added as {}", u.username, u.role)?;
        }
        UserCmd::List => {
            let all = users::list(&store, &op).await?;
            if ctx.json {
                return ctx.print_json(&all);
            }
            let body: Vec<Vec<String>> = all
                .iter()
                .map(|u| {
                    vec![
                        u.username.clone(),
                        u.full_name.clone(),
                        u.role.clone(),
                        u.org_id
                            .map(|o| o.to_string())
                            .unwrap_or_else(|| "all".into()),
                        if u.active { "active" } else { "inactive" }.into(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(&["User", "Name", "Role", "Org", "Status"], &body, &[])
            )?;
        }
        UserCmd::SetRole { username, role } => {
            let u = users::set_role(&store, &op, &username, Role::parse(&role)?).await?;
            if ctx.json {
                return ctx.print_json(&u);
            }
            outln!("user {} is now {}", u.username, u.role)?;
        }
    }
    Ok(())
}
