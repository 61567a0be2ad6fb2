//! Core calls off the UI task. The app asks for work as `Effect` values; each runs in its
//! own tokio task and comes back as one `Outcome` event. A task that panics still answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

use crate::access::Operator;
use crate::access::audit::{self, AuditEntry, AuditFilter};
use crate::backup::Backups;
use crate::csvio::{self, ExportReport, ImportReport, Table};
use crate::db::Store;
use crate::error::Error;
use crate::ledger::collection::{self, Collection, CollectionInput};
use crate::ledger::member::{self, Member, MemberDetail, MemberInput, MemberQuery, MemberRow};
use crate::ledger::org::{self, Organization, Worker};
use crate::ledger::review::{self, Review};
use crate::ledger::{day, money, validate};
use crate::tui::account_tasks::{self, AccountEffect, AccountOutcome};
use crate::tui::backup_tasks::{self, BackupEffect, BackupOutcome, expand_home};
use crate::tui::event::Event;
use crate::tui::report_tasks::{self, ReportEffect, ReportOutcome};
use crate::tui::sched_tasks::{self, SchedContext, SchedEffect, SchedOutcome};

/// Problems keyed by field name ("" when no field is to blame).
pub type FieldErrors = Vec<(String, String)>;

/// The text of the member form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberText {
    pub member_no: String,
    pub name: String,
    pub nid: String,
    pub mobile: String,
    pub worker: String,
    pub loan_amount: String,
    pub daily_installment: String,
    pub daily_savings: String,
    pub status: String,
    pub joined_on: String,
}

/// The text of the collection form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionText {
    pub member_no: String,
    pub date: String,
    pub loan: String,
    pub savings: String,
    pub note: String,
}

#[derive(Debug, Clone)]
pub enum Effect {
    LoadMembers {
        seq: u64,
        org: Box<Organization>,
        query: MemberQuery,
    },
    LoadMember {
        org: Box<Organization>,
        member_no: String,
    },
    LoadWorkers {
        org: Box<Organization>,
    },
    SaveMember {
        org: Box<Organization>,
        id: Option<i64>,
        /// The version the edit form was opened on (the core refuses a stale save).
        version: i64,
        text: MemberText,
    },
    /// Read a member again for an open edit form (after a save was refused as stale).
    ReloadMember {
        org: Box<Organization>,
        id: i64,
    },
    LoadReview {
        seq: u64,
        org: Box<Organization>,
        date: NaiveDate,
        worker: Option<i64>,
    },
    RecordCollection {
        org: Box<Organization>,
        text: CollectionText,
    },
    Reverse {
        org: Box<Organization>,
        id: String,
        reason: String,
    },
    CloseDay {
        org: Box<Organization>,
        date: NaiveDate,
    },
    ReopenDay {
        org: Box<Organization>,
        date: NaiveDate,
    },
    /// The review of a typed date, once the core has checked the date is one to review.
    JumpReview {
        seq: u64,
        org: Box<Organization>,
        date: NaiveDate,
        worker: Option<i64>,
    },
    LoadAudit {
        seq: u64,
        filter: AuditFilter,
    },
    /// `csvio::export_members` to the typed path (empty: a new file in the export dir).
    ExportMembers {
        org: Box<Organization>,
        filter: Option<String>,
        out: String,
        export_dir: String,
    },
    /// `csvio::import_members` from the typed path.
    ImportMembers {
        org: Box<Organization>,
        path: String,
        dry_run: bool,
    },
    Backup(BackupEffect),
    Sched(SchedEffect),
    /// A member's loan, savings withdrawal or close (`account_tasks`).
    Account(AccountEffect),
    /// `somiti ledger check` for the organization.
    LedgerCheck {
        org: Box<Organization>,
    },
    /// A member's statement or the monthly report (`report_tasks`).
    Report(ReportEffect),
}

#[derive(Debug)]
pub enum Outcome {
    Members {
        seq: u64,
        offset: i64,
        result: Result<(Vec<MemberRow>, i64), String>,
    },
    Member(Result<Box<MemberDetail>, String>),
    Workers {
        org_id: i64,
        result: Result<Vec<Worker>, String>,
    },
    MemberSaved {
        added: bool,
        result: Result<Member, FieldErrors>,
    },
    /// A member read again for the edit form, with their worker's name.
    MemberReloaded(Result<(Member, String), String>),
    Review {
        seq: u64,
        result: Result<Review, String>,
    },
    CollectionRecorded(Result<Collection, FieldErrors>),
    Reversed(Result<Collection, FieldErrors>),
    DayClosed {
        date: NaiveDate,
        result: Result<(), String>,
    },
    DayReopened {
        date: NaiveDate,
        /// How many closed days were opened again.
        result: Result<u64, String>,
    },
    /// The answer to "go to a date": the review, or the date's problem for the prompt.
    ReviewJump {
        seq: u64,
        date: NaiveDate,
        result: Result<Review, FieldErrors>,
    },
    Audit {
        seq: u64,
        offset: i64,
        result: Result<Vec<AuditEntry>, String>,
    },
    Exported(Result<Exported, FieldErrors>),
    /// The running balances that disagree with their entries (empty: all agree).
    LedgerChecked(Result<Vec<crate::ledger::accounts::Mismatch>, String>),
    Imported {
        dry_run: bool,
        /// The path as typed (the confirmation imports the same file).
        path: String,
        result: Result<Box<ImportReport>, FieldErrors>,
    },
    Backup(Box<BackupOutcome>),
    Sched(SchedOutcome),
    Account(AccountOutcome),
    Report(ReportOutcome),
    /// A task that died (a bug): the screen says so instead of waiting forever.
    Crashed(String),
}

/// An export written, with the line that fetches it over SSH (as the command line prints).
#[derive(Debug, Clone)]
pub struct Exported {
    pub report: ExportReport,
    pub fetch: String,
}

/// The core's error as field problems: `field: reason` pairs where the core named a field.
pub fn field_errors(e: &Error) -> FieldErrors {
    match e {
        Error::Invalid { field, reason } => vec![(field.clone(), reason.clone())],
        Error::InvalidMany(all) => all
            .iter()
            .map(|s| match s.split_once(": ") {
                Some((f, r)) if !f.contains(' ') => (f.to_string(), r.to_string()),
                _ => (String::new(), s.clone()),
            })
            .collect(),
        Error::Stale { .. } => vec![(STALE.into(), e.to_string())],
        other => vec![(String::new(), other.to_string())],
    }
}

/// The field name a stale-row refusal travels under (no form has a field of that name).
pub const STALE: &str = "(stale)";

fn errs(list: Vec<Error>) -> FieldErrors {
    list.iter().flat_map(field_errors).collect()
}

/// Runs effects against one store as one operator.
#[derive(Clone)]
pub struct Tasks {
    store: Store,
    backups: Backups,
    op: Operator,
    tx: UnboundedSender<Event>,
    sched: Option<SchedContext>,
    /// The ledger's amount rules from the configuration (`[ledger]`).
    rules: crate::ledger::Rules,
    /// Tasks still going, so the console can let them finish before it ends.
    inflight: Arc<(AtomicUsize, Notify)>,
}

impl Tasks {
    pub fn new(backups: Backups, op: Operator, tx: UnboundedSender<Event>) -> Tasks {
        Tasks {
            store: backups.store.clone(),
            backups,
            op,
            tx,
            sched: None,
            rules: crate::ledger::Rules::default(),
            inflight: Arc::default(),
        }
    }

    /// Use the configuration's ledger rules (`[ledger]`) for every entry.
    pub fn with_rules(mut self, rules: crate::ledger::Rules) -> Tasks {
        self.rules = rules;
        self
    }

    /// Wait until every task has answered, at most `within`; `false` if some still run.
    pub async fn settle(&self, within: std::time::Duration) -> bool {
        let (count, done) = &*self.inflight;
        let wait = async {
            loop {
                let notified = done.notified();
                if count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }

    pub fn with_scheduler(mut self, cx: SchedContext) -> Tasks {
        self.sched = Some(cx);
        self
    }

    pub fn spawn_all(&self, effects: Vec<Effect>) {
        for e in effects {
            self.spawn(e);
        }
    }

    pub fn spawn(&self, effect: Effect) {
        let (store, op, tx) = (self.store.clone(), self.op.clone(), self.tx.clone());
        let backups = self.backups.clone();
        let sched = self.sched.clone();
        let rules = self.rules;
        let what = format!("{effect:?}").chars().take(60).collect::<String>();
        let inflight = self.inflight.clone();
        inflight.0.fetch_add(1, Ordering::SeqCst);
        let handle = tokio::spawn(async move {
            match effect {
                Effect::Backup(b) => Outcome::Backup(Box::new(
                    backup_tasks::run(&backups, &op, b, tx.clone()).await,
                )),
                Effect::Sched(e) => match &sched {
                    Some(cx) => Outcome::Sched(sched_tasks::run(&store, &op, cx, e).await),
                    None => Outcome::Crashed("the scheduler is not set up in this console".into()),
                },
                other => run_with(&store, &op, &rules, other).await,
            }
        });
        let tx2 = self.tx.clone();
        tokio::spawn(async move {
            let outcome = match handle.await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!("task {what} died: {e}");
                    Outcome::Crashed(format!("internal error in {what}: {e}"))
                }
            };
            let _ = tx2.send(Event::Task(Box::new(outcome)));
            inflight.0.fetch_sub(1, Ordering::SeqCst);
            inflight.1.notify_waiters();
        });
    }
}

/// Run one effect to its outcome (public so tests and benchmarks can drive it directly).
pub async fn run(store: &Store, op: &Operator, effect: Effect) -> Outcome {
    run_with(store, op, &crate::ledger::Rules::default(), effect).await
}

/// [`run`] with the configuration's ledger rules.
pub async fn run_with(
    store: &Store,
    op: &Operator,
    rules: &crate::ledger::Rules,
    effect: Effect,
) -> Outcome {
    let s = |e: Error| e.to_string();
    match effect {
        Effect::LoadMembers { seq, org, query } => Outcome::Members {
            seq,
            offset: query.offset,
            result: member::list(store, op, &org, &query).await.map_err(s),
        },
        Effect::LoadMember { org, member_no } => Outcome::Member(
            member::show(store, op, &org, &member_no)
                .await
                .map(Box::new)
                .map_err(s),
        ),
        Effect::LoadWorkers { org } => Outcome::Workers {
            org_id: org.id,
            result: org::workers(store, org.id).await.map_err(s),
        },
        Effect::SaveMember {
            org,
            id,
            version,
            text,
        } => Outcome::MemberSaved {
            added: id.is_none(),
            result: save_member(store, op, &org, id.map(|id| (id, version)), &text).await,
        },
        Effect::ReloadMember { org, id } => Outcome::MemberReloaded(
            async {
                let m = member::get(store, id).await?;
                let worker = match m.worker_id {
                    Some(w) => org::workers(store, org.id)
                        .await?
                        .into_iter()
                        .find(|x| x.id == w)
                        .map(|x| x.name)
                        .unwrap_or_default(),
                    None => String::new(),
                };
                Ok::<_, Error>((m, worker))
            }
            .await
            .map_err(s),
        ),
        Effect::LoadReview {
            seq,
            org,
            date,
            worker,
        } => Outcome::Review {
            seq,
            result: review::daily(store, op, &org, date, worker)
                .await
                .map_err(s),
        },
        Effect::RecordCollection { org, text } => {
            Outcome::CollectionRecorded(record(store, op, &org, &text, rules).await)
        }
        Effect::Reverse { org, id, reason } => {
            let r = match validate::normalize_digits(id.trim().trim_start_matches('#')).parse() {
                Ok(id) => collection::reverse(store, op, &org, id, &reason)
                    .await
                    .map_err(|e| field_errors(&e)),
                Err(_) => Err(vec![(
                    "collection".into(),
                    format!("{id:?} is not a collection number"),
                )]),
            };
            Outcome::Reversed(r)
        }
        Effect::CloseDay { org, date } => Outcome::DayClosed {
            date,
            result: day::close(store, op, &org, date).await.map_err(s),
        },
        Effect::ReopenDay { org, date } => Outcome::DayReopened {
            date,
            result: day::reopen(store, op, &org, date).await.map_err(s),
        },
        Effect::JumpReview {
            seq,
            org,
            date,
            worker,
        } => {
            let result = match review::check_date(store, &org, date).await {
                Ok(()) => review::daily(store, op, &org, date, worker)
                    .await
                    .map_err(|e| field_errors(&e)),
                Err(e) => Err(field_errors(&e)),
            };
            Outcome::ReviewJump { seq, date, result }
        }
        Effect::LoadAudit { seq, filter } => Outcome::Audit {
            seq,
            offset: filter.offset,
            result: audit::list(store, &filter).await.map_err(s),
        },
        Effect::ExportMembers {
            org,
            filter,
            out,
            export_dir,
        } => Outcome::Exported(
            export_members(store, op, &org, filter.as_deref(), &out, &export_dir)
                .await
                .map_err(|e| field_errors(&e)),
        ),
        Effect::ImportMembers { org, path, dry_run } => {
            let file = PathBuf::from(expand_home(path.trim()));
            let result = csvio::import_members(store, op, &org, &file, dry_run)
                .await
                .map(Box::new)
                .map_err(|e| field_errors(&e));
            Outcome::Imported {
                dry_run,
                path,
                result,
            }
        }
        Effect::Account(e) => Outcome::Account(account_tasks::run(store, op, rules, e).await),
        Effect::LedgerCheck { org } => Outcome::LedgerChecked(
            crate::ledger::accounts::check(store, op, Some(&org))
                .await
                .map_err(|e| e.to_string()),
        ),
        Effect::Report(e) => Outcome::Report(report_tasks::run(store, op, e).await),
        Effect::Backup(_) => Outcome::Crashed("backup work needs the backup engine".into()),
        Effect::Sched(_) => Outcome::Crashed("scheduler work needs the scheduler".into()),
    }
}

/// The command line's export: the same output path rules (a folder gets the default name,
/// the export directory is created private), the core's export, the same scp line.
async fn export_members(
    store: &Store,
    op: &Operator,
    org: &Organization,
    filter: Option<&str>,
    out: &str,
    export_dir: &str,
) -> crate::error::Result<Exported> {
    let typed = expand_home(out.trim());
    let out = (!typed.is_empty()).then(|| PathBuf::from(typed));
    let path = csvio::out_path(out.as_deref(), Path::new(export_dir), Table::Members, org)?;
    let report = csvio::export_members(store, op, org, filter, &path).await?;
    let fetch = csvio::fetch_command(&report.path);
    Ok(Exported { report, fetch })
}

/// Taka text as poisha (empty: 0, for the core to judge); a bad amount goes to `errors`.
pub(crate) fn money_field(field: &str, text: &str, errors: &mut FieldErrors) -> i64 {
    if text.trim().is_empty() {
        return 0;
    }
    match money::parse_taka(field, text) {
        Ok(v) => v,
        Err(e) => {
            errors.extend(field_errors(&e));
            0
        }
    }
}

/// Every problem with the member form at once (the core's `validate_fields` and
/// uniqueness check), and only then the core's `add`/`update`, which checks it all again.
async fn save_member(
    store: &Store,
    op: &Operator,
    org: &Organization,
    id: Option<(i64, i64)>,
    t: &MemberText,
) -> Result<Member, FieldErrors> {
    let mut problems = FieldErrors::new();
    let input = MemberInput {
        member_no: t.member_no.clone(),
        name: t.name.clone(),
        nid: t.nid.clone(),
        mobile: t.mobile.clone(),
        worker: t.worker.clone(),
        loan_amount: money_field("loan_amount", &t.loan_amount, &mut problems),
        daily_installment: money_field("daily_installment", &t.daily_installment, &mut problems),
        daily_savings: money_field("daily_savings", &t.daily_savings, &mut problems),
        status: (!t.status.trim().is_empty()).then(|| t.status.clone()),
        joined_on: if t.joined_on.trim().is_empty() {
            None
        } else {
            match validate::date("joined_on", &t.joined_on) {
                Ok(d) => Some(d),
                Err(e) => {
                    problems.extend(field_errors(&e));
                    None
                }
            }
        },
    };
    let mut workers = org::workers(store, org.id)
        .await
        .map_err(|e| field_errors(&e))?;
    if let Some((id, _)) = id {
        let current = member::get(store, id)
            .await
            .map_err(|e| field_errors(&e))?
            .worker_id;
        workers = member::assignable_workers(workers, current);
    }
    match member::validate_fields(&input, org, &workers) {
        Ok(v) => {
            let dup = member::uniqueness_problems(
                store,
                org.id,
                &v.member_no,
                &v.nid,
                id.map(|(id, _)| id),
            )
            .await
            .map_err(|e| field_errors(&e))?;
            problems.extend(errs(dup));
        }
        Err(list) => problems.extend(errs(list)),
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let r = match id {
        None => member::add(store, op, org, &input).await,
        Some((id, version)) => member::update(store, op, org, id, version, &input).await,
    };
    r.map_err(|e| field_errors(&e))
}

async fn record(
    store: &Store,
    op: &Operator,
    org: &Organization,
    t: &CollectionText,
    rules: &crate::ledger::Rules,
) -> Result<Collection, FieldErrors> {
    let mut problems = FieldErrors::new();
    let loan = money_field("loan", &t.loan, &mut problems);
    let savings = money_field("savings", &t.savings, &mut problems);
    let date = match validate::date("date", &t.date) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.extend(field_errors(&e));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let input = CollectionInput {
        member_no: t.member_no.clone(),
        collected_on: date,
        loan_paisa: loan,
        savings_paisa: savings,
        note: t.note.clone(),
    };
    collection::add_with(store, op, org, &input, rules)
        .await
        .map_err(|e| field_errors(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_become_field_problems() {
        let e = Error::invalid("nid", "must have 10, 13 or 17 digits (got 9)");
        assert_eq!(
            field_errors(&e),
            vec![("nid".into(), "must have 10, 13 or 17 digits (got 9)".into())]
        );
        let e = Error::InvalidMany(vec!["mobile: bad".into(), "something else broke".into()]);
        assert_eq!(
            field_errors(&e),
            vec![
                ("mobile".into(), "bad".into()),
                ("".into(), "something else broke".into())
            ]
        );
        let e = Error::Refused("2026-01-01 is closed".into());
        assert_eq!(field_errors(&e)[0].0, "");
    }
}
