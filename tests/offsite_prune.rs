//! Prune per target against a real S3-compatible server (moto): the target's own archives
//! decide (their manifests' created_at and kind), the target's keep_* override [backup]'s,
//! and nothing is deleted that is the target's newest verified copy, pinned, another
//! database's, without a database id, encrypted without the passphrase, or not a Somiti
//! archive at all. A dry run deletes nothing; a target that does not answer is reported
//! while the store and the other targets are pruned.

mod backup_support;
mod common;

use std::path::{Path, PathBuf};

use backup_support::*;
use chrono::{DateTime, Duration, Utc};
use common::s3::{self, Moto};
use common::*;
use somiti::backup::offsite::{Target, copies};
use somiti::backup::{BackupKind, CreateOptions, KeepPolicy, Passphrase};

enum Db<'a> {
    Same,
    Other(&'a str),
    Without,
}

/// A copy of a real archive as another backup: a new id, the given kind and creation time
/// and database id in its manifest, uploaded to the target. Returns (id, file, local path).
async fn put(
    t: &Target,
    work: &Path,
    base: &[(String, Vec<u8>)],
    kind: &str,
    at: DateTime<Utc>,
    db: Db<'_>,
) -> (String, String, PathBuf) {
    let mut ents = base.to_vec();
    let mut m = manifest_of(&ents);
    let id = uuid::Uuid::new_v4().to_string();
    m["backup_id"] = id.clone().into();
    m["kind"] = kind.into();
    m["created_at"] = serde_json::to_value(at).unwrap();
    match db {
        Db::Same => {}
        Db::Other(o) => m["database_id"] = o.into(),
        Db::Without => {
            m.as_object_mut().unwrap().remove("database_id");
        }
    }
    set_manifest(&mut ents, &m);
    let file = format!(
        "somiti-all-{}-{kind}-{}.zip",
        at.format("%Y-%m-%d_%H-%M-%S"),
        &id[..8]
    );
    let path = work.join(&file);
    write_zip(&path, &ents);
    t.upload(&path, &file, &|_| {}).await.unwrap();
    (id, file, path)
}

fn keys(m: &Moto) -> Vec<String> {
    let mut v: Vec<String> = m
        .objects("somiti-backups", "sonali/")
        .into_iter()
        .map(|(k, _, _)| k.trim_start_matches("sonali/").to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_is_pruned_by_its_own_archives_and_never_loses_what_it_cannot_prove() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket("somiti-backups");
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 10, 3, 1).await;
    let mut b = engine(&store, tmp.path());
    // The store keeps plenty; the target keeps the last 2 (its own keep_last).
    b.policy = KeepPolicy {
        keep_last: 7,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
    };
    let creds = m.creds_file(tmp.path());
    let mut cfg = m.target("bucket", "somiti-backups/sonali", &creds);
    cfg.keep_last = Some(2);
    let t = Target::open(&cfg).unwrap();
    let sched = CreateOptions {
        kind: BackupKind::Scheduled,
        ..Default::default()
    };
    let real = b.create(&op, &sched, &progress(), &never()).await.unwrap();
    let base = entries(&b.path_of(&real.file));
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let now = Utc::now();
    let day = |n: i64| now - Duration::days(n);
    let mut s = Vec::new();
    for i in 0..6 {
        s.push(put(&t, &work, &base, "scheduled", day(i + 1), Db::Same).await);
    }
    let other = put(
        &t,
        &work,
        &base,
        "scheduled",
        day(30),
        Db::Other("0b6f9d2e-0000-4000-8000-000000000000"),
    )
    .await;
    let nodb = put(&t, &work, &base, "scheduled", day(31), Db::Without).await;
    let manual = put(&t, &work, &base, "manual", day(32), Db::Same).await;
    // Not a Somiti archive at all.
    let junk = work.join("holiday-photos.zip");
    write_zip(&junk, &[("photo.txt".into(), b"not a backup".to_vec())]);
    t.upload(&junk, "holiday-photos.zip", &|_| {})
        .await
        .unwrap();
    // Encrypted, and the prune has no passphrase.
    b.passphrase = Some(Passphrase::new("pass phrase"));
    let enc = b
        .create(
            &op,
            &CreateOptions {
                kind: BackupKind::Scheduled,
                encrypt: true,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    b.passphrase = None;
    t.upload(&b.path_of(&enc.file), &enc.file, &|_| {})
        .await
        .unwrap();
    // s[3] is pinned (catalogued from the store, then pinned); s[4] and s[5] have verified
    // copies on the target, s[4] the newest of them.
    std::fs::copy(&s[3].2, b.path_of(&s[3].1)).unwrap();
    b.list(&op).await.unwrap();
    b.pin(&op, &s[3].0, true).await.unwrap();
    for x in [&s[4], &s[5]] {
        let (n, sha) = somiti::backup::catalogue::hash_file(&x.2).unwrap();
        copies::record_found(
            &store,
            &x.0,
            "bucket",
            &format!("sonali/{}", x.1),
            n,
            &sha,
            now,
        )
        .await
        .unwrap();
    }
    b.offsite = vec![cfg.clone()];
    let before = keys(&m);
    assert_eq!(before.len(), 11, "{before:?}");

    // The listing shows every object, the unusable ones with the reason.
    let l = b.list_offsite(&op, "bucket").await.unwrap();
    assert_eq!(l.archives.len(), 11);
    let obj = |file: &str| l.archives.iter().find(|a| a.file == file).unwrap();
    assert_eq!(obj("holiday-photos.zip").status, "not-somiti");
    let e = obj(&enc.file);
    assert_eq!(e.status, "encrypted");
    assert!(
        e.encrypted
            && e.problem
                .as_deref()
                .unwrap()
                .contains("SOMITI_BACKUP_PASSPHRASE")
    );
    assert_eq!(
        obj(&nodb.1).database.as_deref(),
        Some("unknown (older archive)")
    );
    assert_eq!(obj(&other.1).database.as_deref(), Some("other database"));
    assert_eq!(obj(&s[0].1).database.as_deref(), Some("this database"));
    assert_eq!(l.archives[0].file, s[0].1, "newest first");
    let near = b.find_offsite(&s[2].0[..6]).await.unwrap().unwrap();
    assert_eq!(near.1.backup_id.as_deref(), Some(s[2].0.as_str()));
    assert!(
        b.find_offsite("ffffffff")
            .await
            .unwrap_err()
            .to_string()
            .contains("passphrase"),
        "an id not found while an encrypted archive could not be read says so"
    );

    // Dry run: per target, what would go and why each survivor stays; nothing goes.
    let dry = b.prune(&op, true).await.unwrap();
    assert_eq!(keys(&m), before, "a dry run deletes nothing");
    assert_eq!(dry.offsite.len(), 1);
    let tp = &dry.offsite[0];
    assert!(tp.error.is_none(), "{:?}", tp.error);
    assert_eq!(tp.policy.keep_last, 2, "the target's keep_last overrides");
    let line = |file: &str| {
        tp.lines
            .iter()
            .find(|l| l.file == file)
            .unwrap_or_else(|| panic!("{file} in {:?}", tp.lines))
            .clone()
    };
    assert_eq!(line(&s[0].1).reasons, vec!["keep_last 2"]);
    assert_eq!(line(&s[1].1).reasons, vec!["keep_last 2"]);
    assert!(!line(&s[2].1).keep);
    assert!(line(&s[2].1).reasons[0].contains("outside keep_last 2"));
    assert_eq!(line(&s[3].1).reasons, vec!["pinned"]);
    assert_eq!(
        line(&s[4].1).reasons,
        vec!["newest verified copy on this target"]
    );
    assert!(!line(&s[5].1).keep);
    assert!(line(&other.1).keep && line(&other.1).reasons[0].contains("another database"));
    assert!(line(&nodb.1).keep && line(&nodb.1).reasons[0].contains("without a database id"));
    assert_eq!(
        line(&manual.1).reasons,
        vec!["manual backups are never pruned"]
    );
    let j = line("holiday-photos.zip");
    assert!(
        j.keep && j.reasons[0].contains("not a Somiti archive"),
        "{j:?}"
    );
    let e = line(&enc.file);
    assert!(e.keep && e.reasons[0].starts_with("encrypted"), "{e:?}");
    assert_eq!(tp.lines.iter().filter(|l| !l.keep).count(), 2);

    // The real prune, with a second target that does not answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = s3::s3_target(
        "down",
        "somiti-backups/sonali",
        &format!("http://127.0.0.1:{closed}"),
        &creds,
    );
    b.offsite = vec![cfg.clone(), down];
    let r = b.prune(&op, false).await.unwrap();
    let mut want: Vec<String> = before
        .iter()
        .filter(|k| **k != s[2].1 && **k != s[5].1)
        .cloned()
        .collect();
    want.sort();
    assert_eq!(keys(&m), want, "exactly s[2] and s[5] went");
    assert_eq!(r.offsite[0].removed, 2);
    assert!(r.offsite[0].error.is_none());
    let err = r.offsite[1].error.clone().expect("the down target failed");
    assert!(err.contains("off-site target down"), "{err}");
    // The store's prune ran (and kept its two archives).
    assert_eq!(r.lines.len(), 3, "{:?}", r.lines);
    assert!(r.lines.iter().all(|l| l.keep));
    // The deleted copy is marked; the newest verified one is untouched.
    let c5 = copies::get(&store, &s[5].0, "bucket")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c5.status, "deleted");
    let c4 = copies::get(&store, &s[4].0, "bucket")
        .await
        .unwrap()
        .unwrap();
    assert!(c4.is_verified());
    // Audited: each deletion, and each target's prune (the failed one as failed).
    let log = somiti::access::audit::list(
        &store,
        &somiti::access::audit::AuditFilter {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let deletes: Vec<_> = log
        .iter()
        .filter(|a| a.action == "backup.delete" && a.detail.contains("\"target\":\"bucket\""))
        .collect();
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert!(log.iter().any(|a| a.action == "backup.prune"
        && a.target == "offsite:down"
        && a.outcome == "failed"));

    // Prune again: nothing more goes (the survivors are what the policy keeps).
    b.offsite = vec![cfg];
    let again = b.prune(&op, false).await.unwrap();
    assert_eq!(again.offsite[0].removed, 0);
    assert_eq!(keys(&m), want);
}
