//! `init`, `demo`, `info`, and what runs with no command.

use std::os::unix::fs::PermissionsExt;

use clap::Args;
use serde::Serialize;

use crate::access::{self, Role, users};
use crate::cli::{Ctx, collection};
use crate::demo::{self, DemoOptions};
use crate::error::{Error, Result};
use crate::ledger::org::{self, NewOrganization};
use crate::on_store;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Code of the first organization (e.g. DEMO)
    #[arg(long, requires = "org_name")]
    pub org_code: Option<String>,
    /// Name of the first organization
    #[arg(long, requires = "org_code")]
    pub org_name: Option<String>,
    /// Timezone of the organization
    #[arg(long, default_value = "Asia/Dhaka")]
    pub timezone: String,
    /// Your full name, for the audit log
    #[arg(long, default_value = "")]
    pub full_name: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Members in total, split over the organizations
    #[arg(long, default_value_t = 300)]
    pub members: u32,
    /// Days of history ending today
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Organizations (existing ones are used first)
    #[arg(long, default_value_t = 1)]
    pub orgs: u32,
    /// Seed: the same seed gives the same data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

fn make_private_dir(path: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(format!("setting mode 0700 on {}", path.display()), e))
}

pub async fn init(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let s = &ctx.settings;
    make_private_dir(&s.data_dir)?;
    let store = ctx.store().await?;
    let login = access::os_login();
    let mut said = Vec::new();
    if users::count(&store).await? == 0 {
        users::insert_unchecked(&store, &login, &login, &a.full_name, Role::Admin, None).await?;
        said.push(format!("{login} is the first admin"));
    } else {
        let op = access::login(&store).await?;
        if op.role != Role::Admin && a.org_code.is_some() {
            return Err(Error::Refused(format!(
                "the database is already initialized and {} is not an admin",
                op.username
            )));
        }
        said.push(format!(
            "already initialized; you are {} ({})",
            op.username,
            op.role.as_str()
        ));
    }
    if let (Some(code), Some(name)) = (&a.org_code, &a.org_name) {
        if org::find_by_code(&store, code).await?.is_none() {
            let o = org::insert_unchecked(
                &store,
                &login,
                &NewOrganization {
                    code: code.clone(),
                    name: name.clone(),
                    timezone: Some(a.timezone.clone()),
                    ..Default::default()
                },
            )
            .await?;
            said.push(format!("organization {} ({}) created", o.code, o.name));
        } else {
            said.push(format!(
                "organization {} already exists",
                code.to_uppercase()
            ));
        }
    }
    if s.config_file.is_none() && !s.config_path.exists() {
        if let Some(dir) = s.config_path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        std::fs::write(&s.config_path, crate::config::EXAMPLE_TOML)
            .map_err(|e| Error::io(format!("writing {}", s.config_path.display()), e))?;
        said.push(format!("config written to {}", s.config_path.display()));
    }
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "database": store.describe(), "messages": said }))?;
    } else {
        outln!("database: {}", store.describe())?;
        for m in said {
            outln!("{m}")?;
        }
    }
    Ok(())
}

pub async fn demo(ctx: &Ctx, a: DemoArgs) -> Result<()> {
    let (store, op) = ctx.open().await?;
    access::require(
        &store,
        &op,
        access::Permission::ManageOrganizations,
        None,
        "demo.generate",
        "demo",
    )
    .await?;
    let today = match org::list(&store).await?.first() {
        Some(o) => o.today(),
        None => chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Dhaka)
            .date_naive(),
    };
    let opts = DemoOptions {
        members: a.members,
        days: a.days,
        orgs: a.orgs,
        seed: a.seed,
    };
    let started = std::time::Instant::now();
    let summary = demo::generate(&store, &op.username, &opts, today).await?;
    if ctx.json {
        ctx.print_json(&summary)?;
    } else {
        outln!(
            "demo data: {} members, {} workers, {} collections ({} reversals) in {} in {:.1} s",
            summary.members,
            summary.workers,
            summary.collections,
            summary.reversals,
            summary.organizations.join(", "),
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(())
}

/// No command: the console, when there is a terminal on both ends and no `--json`; the
/// binary opens it (the command-line face never imports the console). Otherwise this.
pub fn wants_console(json: bool) -> bool {
    use std::io::IsTerminal;
    !json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// No command without a terminal (a pipe, cron) or with `--json`: today's review is
/// printed instead, so scripts get something useful.
pub async fn no_console(ctx: &Ctx) -> Result<()> {
    collection::print_today_review(ctx).await
}

#[derive(Serialize)]
struct Info {
    version: &'static str,
    operator: String,
    config_file: Option<String>,
    config_path: String,
    data_dir: String,
    database: String,
    database_url_kind: &'static str,
    schema_version: i64,
    backup_dir: String,
    export_dir: String,
    log_dir: String,
    organizations: Vec<OrgInfo>,
    /// `default_org` from the config (commands without `--org` use it when there are several).
    default_org: Option<String>,
    scheduler: String,
}

#[derive(Serialize)]
struct OrgInfo {
    code: String,
    name: String,
    timezone: String,
    today: chrono::NaiveDate,
    members: i64,
    collections: i64,
    closed_through: Option<chrono::NaiveDate>,
}

pub async fn info(ctx: &Ctx) -> Result<()> {
    let s = &ctx.settings;
    let store = ctx.store().await?;
    let mut orgs = Vec::new();
    for o in org::list(&store).await? {
        let (members, collections): (i64, i64) = on_store!(&store, |p| {
            sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM members WHERE org_id = $1), (SELECT COUNT(*) FROM collections WHERE org_id = $1)"
        )
        .bind(o.id)
        .fetch_one(p)
        .await?
        });
        orgs.push(OrgInfo {
            closed_through: crate::ledger::day::closed_through(&store, o.id).await?,
            today: o.today(),
            code: o.code,
            name: o.name,
            timezone: o.timezone,
            members,
            collections,
        });
    }
    let info = Info {
        version: env!("CARGO_PKG_VERSION"),
        operator: access::os_login(),
        config_file: s.config_file.as_ref().map(|p| p.display().to_string()),
        config_path: s.config_path.display().to_string(),
        data_dir: s.data_dir.display().to_string(),
        database: store.describe(),
        database_url_kind: store.backend().as_str(),
        schema_version: store.schema_version(),
        backup_dir: s.backup_dir.display().to_string(),
        export_dir: s.export_dir.display().to_string(),
        log_dir: s.log_dir.display().to_string(),
        organizations: orgs,
        default_org: ctx.default_org().map(str::to_string),
        scheduler: {
            let tz = crate::scheduler::default_timezone(&store).await?;
            let jobs = crate::scheduler::jobs_from_config(&s.config, &tz)?;
            crate::scheduler::status::status(&store, &jobs, None)
                .await?
                .runner
                .description
        },
    };
    if ctx.json {
        return ctx.print_json(&info);
    }
    outln!("somiti {}", info.version)?;
    outln!("operator     {}", info.operator)?;
    outln!(
        "config       {}",
        info.config_file.as_deref().unwrap_or("(defaults; no file)")
    )?;
    outln!("data dir     {}", info.data_dir)?;
    outln!(
        "database     {} (schema {})",
        info.database,
        info.schema_version
    )?;
    outln!("backups      {}", info.backup_dir)?;
    outln!("exports      {}", info.export_dir)?;
    outln!("logs         {}", info.log_dir)?;
    outln!("scheduler    {}", info.scheduler)?;
    if let Some(code) = &info.default_org {
        outln!("default org  {code} (default_org in the config)")?;
    }
    for o in &info.organizations {
        outln!(
            "org {:<8} {} — {} members, {} collections, today {} ({}), closed through {}",
            o.code,
            o.name,
            o.members,
            o.collections,
            o.today,
            o.timezone,
            o.closed_through
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into())
        )?;
    }
    Ok(())
}
