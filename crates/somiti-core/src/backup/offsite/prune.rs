//! Prune per target: after the local prune, each enabled target is pruned with the same keep
//! policy (`[backup]` keep_*, a target's own keep_* overriding), decided from the target's
//! own archives (their manifests' created_at and kind; only scheduled backups are
//! candidates, as locally). Never deleted: the target's newest verified copy, a pinned
//! backup, and anything the prune cannot prove is a Somiti archive of this database (the
//! manifest's `database_id`; archives without one are kept). A target that fails is
//! reported as failed; the local prune and the other targets stand.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::copies;
use super::remote::{self, RemoteArchive};
use super::target::{Target, targets};
use crate::access::{Operator, audit};
use crate::backup::prune::{Candidate, KeepPolicy, plan};
use crate::backup::{Backups, catalogue};
use crate::error::{Error, Result};

/// One object of a target and what the prune does with it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetLine {
    pub file: String,
    pub id: Option<String>,
    pub kind: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub keep: bool,
    /// Every rule that keeps it, or why it goes.
    pub reasons: Vec<String>,
}

/// The prune of one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPrune {
    pub target: String,
    pub url: String,
    pub policy: KeepPolicy,
    pub lines: Vec<TargetLine>,
    pub removed: usize,
    /// Why this target could not be pruned (or not completely); None when it was.
    pub error: Option<String>,
}

const NEWEST_VERIFIED: &str = "newest verified copy on this target";

/// The target's policy: its own keep_* where set, else `[backup]`'s.
pub fn policy_for(b: &Backups, t: &Target) -> KeepPolicy {
    let p = b.policy;
    KeepPolicy {
        keep_last: t.cfg.keep_last.unwrap_or(p.keep_last),
        keep_daily: t.cfg.keep_daily.unwrap_or(p.keep_daily),
        keep_weekly: t.cfg.keep_weekly.unwrap_or(p.keep_weekly),
        keep_monthly: t.cfg.keep_monthly.unwrap_or(p.keep_monthly),
    }
}

/// Why an object is kept without being a candidate at all, or None when it is one.
fn not_provably_ours(a: &RemoteArchive) -> Option<String> {
    if a.manifest.is_none() {
        let why = a.problem.clone().unwrap_or_default();
        return Some(match a.status.as_str() {
            remote::ENCRYPTED => format!(
                "encrypted, and without the passphrase its manifest cannot prove whose it is: {why}"
            ),
            remote::NOT_SOMITI => format!("not a Somiti archive: {why}"),
            _ => format!("unreadable, so not provably this database's: {why}"),
        });
    }
    match a.database.as_deref() {
        Some(remote::THIS_DATABASE) => None,
        Some(remote::OTHER_DATABASE) => Some(format!(
            "an archive of another database ({})",
            a.database_id.as_deref().unwrap_or("?")
        )),
        _ => Some("an archive without a database id (made before off-site copies)".into()),
    }
}

impl Backups {
    /// Prune every enabled target (with the lock of the local prune held by the caller).
    pub async fn prune_targets(&self, op: &Operator, dry_run: bool) -> Vec<TargetPrune> {
        let ts = match targets(&self.offsite) {
            Ok(t) => t,
            Err(e) => {
                return vec![TargetPrune {
                    target: "offsite".into(),
                    url: String::new(),
                    policy: self.policy,
                    lines: Vec::new(),
                    removed: 0,
                    error: Some(e.to_string()),
                }];
            }
        };
        let mut out = Vec::new();
        for t in ts {
            let mut r = TargetPrune {
                target: t.name.clone(),
                url: t.url.clone(),
                policy: policy_for(self, &t),
                lines: Vec::new(),
                removed: 0,
                error: None,
            };
            if let Err(e) = self.prune_target(op, &t, dry_run, &mut r).await {
                r.error = Some(e.to_string());
            }
            let detail = serde_json::json!({ "target": t.name, "dry_run": dry_run,
                "removed": r.removed, "kept": r.lines.iter().filter(|l| l.keep).count(),
                "error": r.error });
            let outcome = if r.error.is_some() {
                audit::Outcome::Failed
            } else {
                audit::Outcome::Ok
            };
            let _ = audit::record(
                &self.store,
                &op.username,
                "backup.prune",
                &format!("offsite:{}", t.name),
                detail,
                outcome,
            )
            .await;
            out.push(r);
        }
        out
    }

    async fn prune_target(
        &self,
        op: &Operator,
        t: &Target,
        dry_run: bool,
        r: &mut TargetPrune,
    ) -> Result<()> {
        let p = r.policy;
        if p.keep_last + p.keep_daily + p.keep_weekly + p.keep_monthly == 0 {
            return Err(Error::Refused(format!(
                "{}: the retention policy keeps nothing; set keep_last (or keep_daily, keep_weekly, keep_monthly) for it",
                t.label()
            )));
        }
        let this_db = crate::db::meta::database_id(&self.store).await?;
        let pass = self.passphrase()?;
        let list = remote::list_target(t, pass, self.store.schema_version(), &this_db).await?;
        let entries = catalogue::all(&self.store).await?;
        let known = copies::all(&self.store).await?;
        let verified_here = |a: &RemoteArchive| {
            let id = a.backup_id.as_deref().unwrap_or_default();
            known
                .iter()
                .any(|c| c.backup_id == id && c.target == t.name && c.is_verified())
        };
        let pinned = |id: &str| entries.iter().any(|e| e.id == id && e.pinned);
        // Candidates by file name (one backup under two names is two objects).
        let mut cands = Vec::new();
        for a in &list {
            if let Some(why) = not_provably_ours(a) {
                r.lines.push(TargetLine {
                    file: a.file.clone(),
                    id: a.backup_id.clone(),
                    kind: a.kind.clone(),
                    created_at: a.created_at,
                    keep: true,
                    reasons: vec![why],
                });
                continue;
            }
            let m = a.manifest.as_ref().expect("checked above");
            cands.push(Candidate {
                id: a.file.clone(),
                kind: m.kind,
                created_at: m.created_at,
                pinned: pinned(&m.backup_id),
                verified_ok: verified_here(a),
            });
        }
        let tz = self.timezone().await;
        let mut first_error = None;
        for v in plan(&cands, &p, tz) {
            let a = list.iter().find(|a| a.file == v.id).expect("candidate");
            let reasons: Vec<String> = v
                .reasons
                .into_iter()
                .map(|s| {
                    if s == "newest verified backup" {
                        NEWEST_VERIFIED.to_string()
                    } else {
                        s
                    }
                })
                .collect();
            let id = a.backup_id.clone().unwrap_or_default();
            let mut keep = v.keep;
            if !v.keep && !dry_run {
                match t.delete(&a.file).await {
                    Ok(()) => {
                        copies::deleted(&self.store, &id, &t.name, Utc::now()).await?;
                        audit::record(
                            &self.store,
                            &op.username,
                            "backup.delete",
                            &id,
                            serde_json::json!({ "target": t.name, "file": a.file,
                                "object_key": a.object_key, "by": "prune", "reason": reasons }),
                            audit::Outcome::Ok,
                        )
                        .await?;
                        r.removed += 1;
                    }
                    Err(e) => {
                        keep = true;
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
            r.lines.push(TargetLine {
                file: a.file.clone(),
                id: a.backup_id.clone(),
                kind: a.kind.clone(),
                created_at: a.created_at,
                keep,
                reasons,
            });
        }
        r.lines.sort_by(|a, b| {
            (std::cmp::Reverse(a.created_at), &a.file)
                .cmp(&(std::cmp::Reverse(b.created_at), &b.file))
        });
        match first_error {
            Some(e) => Err(Error::Other(e)),
            None => Ok(()),
        }
    }
}
