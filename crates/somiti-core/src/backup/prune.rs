//! Retention, as restic's `forget` does it: keep_last, keep_daily, keep_weekly,
//! keep_monthly, by the recorded creation time. Only scheduled backups are candidates;
//! manual, pinned and pre-restore backups stay, and so does the newest verified backup.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::catalogue::{self, BackupEntry};
use super::{BackupKind, Backups};
use crate::access::{Operator, Permission, audit, require};
use crate::error::{Error, Result};
use crate::on_store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeepPolicy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

/// What the policy needs to know of a backup.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub kind: BackupKind,
    pub created_at: DateTime<Utc>,
    pub pinned: bool,
    pub verified_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub id: String,
    pub keep: bool,
    /// Every rule that keeps it, or why it goes.
    pub reasons: Vec<String>,
}

type Period = (i32, u32, u32);

/// One of keep_daily / keep_weekly / keep_monthly: keeps the newest backup of each of the
/// last `n` periods that have backups.
struct Rule {
    name: &'static str,
    n: u32,
    left: u32,
    last: Option<Period>,
    period: fn(DateTime<Tz>) -> Period,
}

impl Rule {
    fn new(name: &'static str, n: u32, period: fn(DateTime<Tz>) -> Period) -> Rule {
        Rule {
            name,
            n,
            left: n,
            last: None,
            period,
        }
    }

    /// Called newest first: the reason when this backup is its period's newest one.
    fn keeps(&mut self, t: DateTime<Tz>) -> Option<String> {
        let p = (self.period)(t);
        if self.left == 0 || self.last == Some(p) {
            return None;
        }
        self.left -= 1;
        self.last = Some(p);
        Some(format!("{} {}", self.name, self.n))
    }
}

/// Decide, newest first, what stays and what goes. Days, weeks (ISO) and months are
/// counted in `tz`. Pre-restore backups are kept here; [`plan_with`] ages them out.
pub fn plan(items: &[Candidate], policy: &KeepPolicy, tz: Tz) -> Vec<Verdict> {
    plan_with(items, policy, None, tz)
}

/// Pre-restore backups: kept for `days` after `now` (`pre_restore: Some((days, now))`),
/// the newest of them always.
pub fn plan_with(
    items: &[Candidate],
    policy: &KeepPolicy,
    pre_restore: Option<(u32, DateTime<Utc>)>,
    tz: Tz,
) -> Vec<Verdict> {
    let mut sorted: Vec<&Candidate> = items.iter().collect();
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let newest_verified = sorted.iter().find(|c| c.verified_ok).map(|c| c.id.clone());
    let newest_pre_restore = sorted
        .iter()
        .find(|c| c.kind == BackupKind::PreRestore)
        .map(|c| c.id.clone());

    let mut rules = [
        Rule::new("keep_daily", policy.keep_daily, |t| {
            (t.year(), t.month(), t.day())
        }),
        Rule::new("keep_weekly", policy.keep_weekly, |t| {
            let w = t.iso_week();
            (w.year(), w.week(), 0)
        }),
        Rule::new("keep_monthly", policy.keep_monthly, |t| {
            (t.year(), t.month(), 0)
        }),
    ];
    let mut last_left = policy.keep_last;
    let mut out = Vec::new();
    for c in sorted {
        let mut reasons = Vec::new();
        match c.kind {
            BackupKind::Manual => reasons.push("manual backups are never pruned".to_string()),
            BackupKind::PreRestore => match pre_restore {
                None => reasons.push("pre-restore backups are never pruned".to_string()),
                Some(_) if newest_pre_restore.as_deref() == Some(c.id.as_str()) => {
                    reasons.push("newest pre-restore backup".to_string())
                }
                Some((days, now)) if c.created_at > now - chrono::TimeDelta::days(days.into()) => {
                    reasons.push(format!(
                        "pre-restore backup younger than keep_pre_restore_days {days}"
                    ))
                }
                Some(_) => {}
            },
            BackupKind::Scheduled => {}
        }
        if c.pinned {
            reasons.push("pinned".into());
        }
        if newest_verified.as_deref() == Some(c.id.as_str()) {
            reasons.push("newest verified backup".into());
        }
        if c.kind == BackupKind::Scheduled {
            if last_left > 0 {
                last_left -= 1;
                reasons.push(format!("keep_last {}", policy.keep_last));
            }
            let local = c.created_at.with_timezone(&tz);
            for rule in rules.iter_mut() {
                if let Some(why) = rule.keeps(local) {
                    reasons.push(why);
                }
            }
        }
        let keep = !reasons.is_empty();
        if !keep && c.kind == BackupKind::PreRestore {
            let days = pre_restore.map_or(0, |p| p.0);
            reasons.push(format!(
                "pre-restore backup older than keep_pre_restore_days {days}"
            ));
        } else if !keep {
            reasons.push(format!(
                "scheduled backup outside keep_last {}, keep_daily {}, keep_weekly {}, keep_monthly {}",
                policy.keep_last, policy.keep_daily, policy.keep_weekly, policy.keep_monthly
            ));
        }
        out.push(Verdict {
            id: c.id.clone(),
            keep,
            reasons,
        });
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneLine {
    pub id: String,
    pub file: String,
    pub kind: BackupKind,
    pub created_at: DateTime<Utc>,
    pub keep: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub policy: KeepPolicy,
    pub lines: Vec<PruneLine>,
    pub removed: usize,
    /// Each off-site target, pruned after the store (`offsite::prune`).
    pub offsite: Vec<super::offsite::prune::TargetPrune>,
}

impl Backups {
    /// Apply the retention policy (admins), or with `dry_run` only say what it would do.
    /// The lock comes first; only files whose manifest carries a pruned backup's id go.
    pub async fn prune(&self, op: &Operator, dry_run: bool) -> Result<PruneReport> {
        let lock = self.take_lock("prune", op, "backup.prune", "store").await?;
        let r = async {
            require(
                &self.store,
                op,
                Permission::PruneBackups,
                None,
                "backup.prune",
                "store",
            )
            .await?;
            let r = self.prune_checked(op, dry_run).await;
            let mut r =
                audit::record_if_failed(&self.store, &op.username, "backup.prune", "store", r)
                    .await?;
            r.offsite = self.prune_targets(op, dry_run).await;
            audit::record(
                &self.store,
                &op.username,
                "backup.prune",
                "store",
                serde_json::json!({ "dry_run": dry_run, "removed": r.removed,
                    "kept": r.lines.iter().filter(|l| l.keep).count() }),
                audit::Outcome::Ok,
            )
            .await?;
            Ok(r)
        }
        .await;
        lock.release().await;
        r
    }

    /// With the lock held.
    async fn prune_checked(&self, op: &Operator, dry_run: bool) -> Result<PruneReport> {
        let p = self.policy;
        if p.keep_last + p.keep_daily + p.keep_weekly + p.keep_monthly == 0 {
            return Err(Error::Refused(
                "the retention policy keeps nothing; set backup.keep_last (or keep_daily, keep_weekly, keep_monthly) in the config".into(),
            ));
        }
        catalogue::cleanup(self).await?;
        let entries: Vec<BackupEntry> = catalogue::all(&self.store)
            .await?
            .into_iter()
            .filter(|e| e.status.is_completed() && e.missing_since.is_none())
            .collect();
        let cands: Vec<Candidate> = entries
            .iter()
            .map(|e| Candidate {
                id: e.id.clone(),
                kind: e.kind,
                created_at: e.created_at,
                pinned: e.pinned,
                verified_ok: e.verified_ok(),
            })
            .collect();
        let tz = self.timezone().await;
        let mut lines = Vec::new();
        let mut removed = 0;
        let pre = Some((self.keep_pre_restore_days, Utc::now()));
        for v in plan_with(&cands, &self.policy, pre, tz) {
            let e = entries.iter().find(|e| e.id == v.id).expect("candidate");
            if !v.keep && !dry_run {
                let file_removed = self.remove_archive_of(e)?;
                catalogue::mark_deleted(&self.store, &e.id).await?;
                audit::record(
                    &self.store,
                    &op.username,
                    "backup.delete",
                    &e.id,
                    serde_json::json!({ "file": e.file, "by": "prune", "reason": v.reasons,
                        "file_removed": file_removed }),
                    audit::Outcome::Ok,
                )
                .await?;
                removed += 1;
            }
            lines.push(PruneLine {
                id: e.id.clone(),
                file: e.file.clone(),
                kind: e.kind,
                created_at: e.created_at,
                keep: v.keep,
                reasons: v.reasons,
            });
        }
        Ok(PruneReport {
            dry_run,
            policy: self.policy,
            lines,
            removed,
            offsite: Vec::new(),
        })
    }

    /// The first organization's timezone (days and weeks of retention), else Asia/Dhaka.
    pub(crate) async fn timezone(&self) -> Tz {
        let tz: Option<String> = on_store!(&self.store, |p| sqlx::query_scalar(
            "SELECT timezone FROM organizations ORDER BY id LIMIT 1"
        )
        .fetch_optional(p)
        .await
        .ok()
        .flatten());
        tz.and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::Asia::Dhaka)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        // 2024-01-01 is a Monday; 20:00 UTC is 02:00 the next day in Dhaka.
        Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap() + chrono::Duration::days(i64::from(d))
    }

    fn sched(id: &str, t: DateTime<Utc>) -> Candidate {
        Candidate {
            id: id.into(),
            kind: BackupKind::Scheduled,
            created_at: t,
            pinned: false,
            verified_ok: false,
        }
    }

    fn kept(v: &[Verdict]) -> Vec<&str> {
        v.iter().filter(|v| v.keep).map(|v| v.id.as_str()).collect()
    }

    const NONE: KeepPolicy = KeepPolicy {
        keep_last: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
    };

    #[test]
    fn keep_last_keeps_the_newest_by_creation_time_not_by_input_order() {
        let items = vec![
            sched("a", at(0, 1)),
            sched("c", at(2, 1)),
            sched("b", at(1, 1)),
        ];
        let v = plan(
            &items,
            &KeepPolicy {
                keep_last: 2,
                ..NONE
            },
            chrono_tz::UTC,
        );
        assert_eq!(kept(&v), vec!["c", "b"]);
        assert!(
            v[2].reasons[0].contains("outside keep_last 2"),
            "{:?}",
            v[2]
        );
    }

    #[test]
    fn keep_daily_keeps_the_newest_of_each_day_in_the_timezone() {
        // Two a day for four days.
        let mut items = Vec::new();
        for d in 0..4 {
            items.push(sched(&format!("d{d}-early"), at(d, 1)));
            items.push(sched(&format!("d{d}-late"), at(d, 10)));
        }
        let v = plan(
            &items,
            &KeepPolicy {
                keep_daily: 3,
                ..NONE
            },
            chrono_tz::UTC,
        );
        assert_eq!(kept(&v), vec!["d3-late", "d2-late", "d1-late"]);
        // In Dhaka (UTC+6) 20:00 UTC is already the next day.
        let items = vec![sched("mon-20utc", at(0, 20)), sched("tue-01utc", at(1, 1))];
        let v = plan(
            &items,
            &KeepPolicy {
                keep_daily: 5,
                ..NONE
            },
            chrono_tz::Asia::Dhaka,
        );
        assert_eq!(kept(&v), vec!["tue-01utc"]);
    }

    #[test]
    fn weekly_and_monthly_buckets_count_distinct_periods() {
        let items: Vec<Candidate> = (0..60).map(|d| sched(&format!("{d}"), at(d, 1))).collect();
        let v = plan(
            &items,
            &KeepPolicy {
                keep_weekly: 2,
                keep_monthly: 2,
                ..NONE
            },
            chrono_tz::UTC,
        );
        // Newest is day 59 (2024-02-29, Thursday): kept for its week and its month; then
        // day 55 (Sunday 2024-02-25, the previous ISO week); then day 30 (Jan 31).
        assert_eq!(kept(&v), vec!["59", "55", "30"]);
        let day59 = v.iter().find(|x| x.id == "59").unwrap();
        assert_eq!(day59.reasons, vec!["keep_weekly 2", "keep_monthly 2"]);
    }

    #[test]
    fn manual_pinned_pre_restore_and_newest_verified_are_never_pruned() {
        let mut items = vec![
            sched("old-verified", at(0, 1)),
            sched("new-verified", at(1, 1)),
            sched("pinned", at(2, 1)),
            sched("plain", at(3, 1)),
        ];
        items[0].verified_ok = true;
        items[1].verified_ok = true;
        items[2].pinned = true;
        items.push(Candidate {
            kind: BackupKind::Manual,
            ..sched("manual", at(0, 2))
        });
        items.push(Candidate {
            kind: BackupKind::PreRestore,
            ..sched("pre", at(0, 3))
        });
        let v = plan(&items, &NONE, chrono_tz::UTC);
        let mut k = kept(&v);
        k.sort();
        assert_eq!(k, vec!["manual", "new-verified", "pinned", "pre"]);
        let nv = v.iter().find(|x| x.id == "new-verified").unwrap();
        assert_eq!(nv.reasons, vec!["newest verified backup"]);
    }

    #[test]
    fn manual_backups_do_not_use_up_keep_last() {
        let items = vec![
            Candidate {
                kind: BackupKind::Manual,
                ..sched("m", at(5, 1))
            },
            sched("s1", at(4, 1)),
            sched("s2", at(3, 1)),
        ];
        let v = plan(
            &items,
            &KeepPolicy {
                keep_last: 1,
                ..NONE
            },
            chrono_tz::UTC,
        );
        assert_eq!(kept(&v), vec!["m", "s1"]);
    }
}
