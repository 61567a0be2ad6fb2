//! The store around the archives: encryption (7-Zip opens it), the catalogue rebuilt from
//! the folder, leftovers tidied at start, download, delete, pin and prune.

mod backup_support;
mod common;

use std::os::unix::fs::PermissionsExt;

use backup_support::*;
use common::*;
use somiti::Error;
use somiti::access::audit::{self, AuditFilter};
use somiti::backup::BackupStatus;
use somiti::backup::{
    BackupKind, Confirm, CreateOptions, KeepPolicy, Passphrase, RestoreOptions, catalogue, lock,
};
use somiti::db::Store;

on_both_backends!(
    an_encrypted_backup_opens_in_7z_with_the_passphrase_only,
    encryption_configured_without_a_passphrase_refuses_and_writes_nothing,
    a_passphrase_file_readable_by_others_is_refused_naming_file_and_mode,
    the_catalogue_is_rebuilt_from_the_store_on_a_fresh_database,
    leftover_partials_and_in_progress_entries_are_tidied_only_when_nobody_holds_the_lock,
    download_copies_with_a_checked_hash_and_shows_the_scp_line,
    a_pinned_backup_cannot_be_deleted_until_unpinned,
    only_admins_delete_and_prune_and_refusals_are_audited,
    prune_keeps_what_the_policy_says_by_recorded_time_and_never_the_protected_ones,
);

async fn an_encrypted_backup_opens_in_7z_with_the_passphrase_only(store: &Store) {
    let op = seeded(store, 15, 5, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    b.passphrase = Some(Passphrase::new("s3cret pass"));
    let opts = CreateOptions {
        encrypt: true,
        ..Default::default()
    };
    let e = b.create(&op, &opts, &progress(), &never()).await.unwrap();
    assert!(e.encrypted);
    let path = b.path_of(&e.file);
    let mut z = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    for i in 0..z.len() {
        assert!(
            z.by_index_raw(i).unwrap().encrypted(),
            "every entry is encrypted, the manifest too"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("7z")
        .args(["x", "-ps3cret pass", "-y"])
        .arg(format!("-o{}", out.path().display()))
        .arg(&path)
        .output()
        .expect("7z is installed (apt-get install -y p7zip-full)");
    assert!(
        ok.status.success(),
        "7z x: {}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["backup_id"], e.id.as_str());
    assert_eq!(m["encrypted"], true);
    for t in m["tables"].as_array().unwrap() {
        let data = std::fs::read(out.path().join(t["file"].as_str().unwrap())).unwrap();
        use sha2::Digest;
        assert_eq!(t["sha256"], hex::encode(sha2::Sha256::digest(&data)));
    }
    let bad = std::process::Command::new("7z")
        .args(["t", "-pwrong"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!bad.status.success(), "7z refuses the wrong passphrase");
    // Verify and restore read it with the passphrase.
    b.verify(&op, &e.id, true, &progress(), &never())
        .await
        .unwrap();
    // Without one: refused, naming what to set.
    b.passphrase = None;
    let err = b
        .verify(&op, &e.id, false, &progress(), &never())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("SOMITI_BACKUP_PASSPHRASE"),
        "{err}"
    );
}

async fn encryption_configured_without_a_passphrase_refuses_and_writes_nothing(store: &Store) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    b.encrypt = true;
    let err = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(files(&b.dir).is_empty());
    assert!(catalogue::all(store).await.unwrap().is_empty());
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.create".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(a[0].outcome, "refused");
}

async fn a_passphrase_file_readable_by_others_is_refused_naming_file_and_mode(store: &Store) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    let pf = dir.path().join("pass.txt");
    std::fs::write(&pf, "from a file\n").unwrap();
    std::fs::set_permissions(&pf, std::fs::Permissions::from_mode(0o644)).unwrap();
    b.passphrase_file = pf.display().to_string();
    let opts = CreateOptions {
        encrypt: true,
        ..Default::default()
    };
    let err = b
        .create(&op, &opts, &progress(), &never())
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(
        m.contains(&pf.display().to_string()) && m.contains("0644"),
        "{m}"
    );
    assert!(files(&b.dir).is_empty());
    std::fs::set_permissions(&pf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = b.create(&op, &opts, &progress(), &never()).await.unwrap();
    let ok = std::process::Command::new("7z")
        .args(["t", "-pfrom a file"])
        .arg(b.path_of(&e.file))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "the trailing newline is not part of the passphrase"
    );
}

async fn the_catalogue_is_rebuilt_from_the_store_on_a_fresh_database(store: &Store) {
    let op = seeded(store, 10, 5, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    let plain = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    b.passphrase = Some(Passphrase::new("pw"));
    let enc = b
        .create(
            &op,
            &CreateOptions {
                encrypt: true,
                kind: BackupKind::Scheduled,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    // A brand-new SQLite database pointed at the same store, no passphrase at hand.
    let (fresh, _fd) = sqlite_store().await;
    let mut fb = engine(&fresh, dir.path());
    fb.dir = b.dir.clone();
    let who = somiti::backup::operator(&fresh).await.unwrap();
    let l = fb.list(&who).await.unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    assert_eq!(l.backups.len(), 2);
    for orig in [&plain, &enc] {
        let got = l.backups.iter().find(|e| e.id == orig.id).expect("same id");
        assert_eq!(
            (
                &got.file,
                &got.kind,
                &got.scope,
                &got.status,
                got.created_at,
                got.size_bytes,
                &got.sha256,
                got.encrypted
            ),
            (
                &orig.file,
                &orig.kind,
                &orig.scope,
                &orig.status,
                orig.created_at,
                orig.size_bytes,
                &orig.sha256,
                orig.encrypted
            )
        );
    }
    assert_eq!(
        l.backups
            .iter()
            .find(|e| e.id == plain.id)
            .unwrap()
            .total_rows,
        plain.total_rows
    );
    // Restore into the fresh database by catalogue id.
    let opts = RestoreOptions {
        include_users: true,
        confirm: Confirm::Yes,
        ..Default::default()
    };
    fb.restore(&who, &plain.id, &opts, &progress(), &never())
        .await
        .unwrap();
    assert_same(
        &dump(&fresh).await,
        &dump(store).await,
        "restored from a rebuilt catalogue",
    );
    // A file that vanished is marked, and comes back when the file does.
    let moved = dir.path().join("elsewhere.zip");
    std::fs::rename(b.path_of(&enc.file), &moved).unwrap();
    // The restored users include the source's admin, who now acts here.
    let op2 = op.clone();
    let l = fb.list(&op2).await.unwrap();
    assert!(
        l.backups
            .iter()
            .find(|e| e.id == enc.id)
            .unwrap()
            .missing_since
            .is_some()
    );
    let err = fb
        .verify(&op2, &enc.id, false, &progress(), &never())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing from the store"), "{err}");
    std::fs::rename(&moved, b.path_of("renamed.zip")).unwrap();
    let l = fb.list(&op2).await.unwrap();
    let back = l.backups.iter().find(|e| e.id == enc.id).unwrap();
    assert!(back.missing_since.is_none());
    assert_eq!(back.file, "renamed.zip");
    fresh.close().await;
}

async fn leftover_partials_and_in_progress_entries_are_tidied_only_when_nobody_holds_the_lock(
    store: &Store,
) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    b.ensure_dir().unwrap();
    std::fs::write(
        b.path_of("somiti-all-2025-01-01_00-00-00-manual.zip.partial"),
        b"half",
    )
    .unwrap();
    somiti::on_store!(store, |p| {
        sqlx::query(
        "INSERT INTO backups (id, file, kind, scope, status, created_at, created_by) \
         VALUES ('0b4f2e7a-0000-4000-8000-000000000001', 'somiti-all-2025-01-01_00-00-00-manual.zip', 'manual', 'all', 'in_progress', $1, 'rahim')"
    )
    .bind(chrono::Utc::now())
    .execute(p)
    .await
    .unwrap()
    .rows_affected()
    });
    // While someone holds the lock, their partial file and entry are theirs.
    let held = lock::acquire(store, "backup", "rahim").await.unwrap();
    let l = b.list(&op).await.unwrap();
    assert_eq!(l.backups[0].status, BackupStatus::InProgress);
    assert_eq!(files(&b.dir).len(), 1);
    held.release().await;
    // Nobody holds it: the backup was interrupted.
    let l = b.list(&op).await.unwrap();
    assert_eq!(l.backups[0].status, BackupStatus::Failed);
    assert!(
        l.backups[0]
            .error
            .as_deref()
            .unwrap()
            .contains("interrupted")
    );
    assert!(files(&b.dir).is_empty(), "partial removed");
}

async fn download_copies_with_a_checked_hash_and_shows_the_scp_line(store: &Store) {
    let op = seeded(store, 8, 4, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = b.download(&op, &e.id[..8], out.path()).await.unwrap();
    let dest = out.path().join(&e.file);
    assert_eq!(r.dest, dest);
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(b.path_of(&e.file)).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert!(
        r.scp.starts_with("scp ") && r.scp.ends_with(&format!("@{host}:{} .", dest.display())),
        "{}",
        r.scp
    );
    // An existing destination is not overwritten.
    let err = b.download(&op, &e.id, &dest).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    // A damaged archive in the store: refused, nothing left behind.
    let p = b.path_of(&e.file);
    let mut bytes = std::fs::read(&p).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    let other = out.path().join("copy.zip");
    let err = b.download(&op, &e.id, &other).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(err.to_string().contains("SHA-256"), "{err}");
    assert!(!other.exists() && !out.path().join("copy.zip.partial").exists());
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.download".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let outcomes: Vec<&str> = a.iter().map(|x| x.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["failed", "failed", "ok"]);
}

async fn a_pinned_backup_cannot_be_deleted_until_unpinned(store: &Store) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    assert!(b.pin(&op, &e.id, true).await.unwrap().pinned);
    let err = b.delete(&op, &e.id).await.unwrap_err();
    assert!(err.to_string().contains("pinned; unpin it first"), "{err}");
    assert!(b.path_of(&e.file).exists());
    assert!(!b.pin(&op, &e.id, false).await.unwrap().pinned);
    let d = b.delete(&op, &e.id).await.unwrap();
    assert_eq!(d.status, BackupStatus::Deleted);
    assert!(!b.path_of(&e.file).exists());
    let l = b.list(&op).await.unwrap();
    assert_eq!(l.backups[0].status, BackupStatus::Deleted);
    let err = b
        .verify(&op, &e.id, false, &progress(), &never())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("deleted"), "{err}");
    let a = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let seen: Vec<(&str, &str)> = a
        .iter()
        .rev()
        .map(|x| (x.action.as_str(), x.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("backup.create", "ok"),
            ("backup.pin", "ok"),
            ("backup.delete", "refused"),
            ("backup.unpin", "ok"),
            ("backup.delete", "ok"),
            ("backup.verify", "failed"),
        ]
    );
}

async fn only_admins_delete_and_prune_and_refusals_are_audited(store: &Store) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let org = somiti::ledger::org::list(store).await.unwrap().remove(0);
    let m = manager(store, &org).await;
    let v = viewer(store, &org).await;
    for err in [
        b.delete(&m, &e.id).await.unwrap_err(),
        b.prune(&m, true).await.unwrap_err(),
        b.pin(&v, &e.id, true).await.unwrap_err(),
        b.create(&v, &CreateOptions::default(), &progress(), &never())
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::Refused(_)), "{err}");
    }
    assert!(b.path_of(&e.file).exists());
    let refused = audit::list(
        store,
        &AuditFilter {
            action: Some("backup.".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|a| a.outcome == "refused")
    .count();
    assert_eq!(refused, 4);
}

async fn prune_keeps_what_the_policy_says_by_recorded_time_and_never_the_protected_ones(
    store: &Store,
) {
    let op = seeded(store, 5, 3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = engine(store, dir.path());
    b.policy = KeepPolicy {
        keep_last: 2,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
    };
    let sched = CreateOptions {
        kind: BackupKind::Scheduled,
        ..Default::default()
    };
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(
            b.create(&op, &sched, &progress(), &never())
                .await
                .unwrap()
                .id,
        );
    }
    let manual = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap()
        .id;
    // Recorded times run opposite to the file names: ids[0] is the newest.
    let now = chrono::Utc::now();
    for (i, id) in ids.iter().chain(std::iter::once(&manual)).enumerate() {
        let at = now - chrono::Duration::days(i as i64 + 1);
        somiti::on_store!(store, |p| sqlx::query(
            "UPDATE backups SET created_at = $1 WHERE id = $2"
        )
        .bind(at)
        .bind(id)
        .execute(p)
        .await
        .unwrap()
        .rows_affected());
    }
    b.pin(&op, &ids[3], true).await.unwrap();
    b.verify(&op, &ids[4], false, &progress(), &never())
        .await
        .unwrap();
    let files_before = files(&b.dir);

    let dry = b.prune(&op, true).await.unwrap();
    assert_eq!(files(&b.dir), files_before, "a dry run changes nothing");
    let why = |id: &str| dry.lines.iter().find(|l| l.id == id).unwrap().clone();
    assert!(why(&ids[0]).keep && why(&ids[0]).reasons == vec!["keep_last 2"]);
    assert!(why(&ids[1]).keep);
    assert!(!why(&ids[2]).keep && why(&ids[2]).reasons[0].contains("outside keep_last 2"));
    assert_eq!(why(&ids[3]).reasons, vec!["pinned"]);
    assert_eq!(why(&ids[4]).reasons, vec!["newest verified backup"]);
    assert!(!why(&ids[5]).keep);
    assert_eq!(
        why(&manual).reasons,
        vec!["manual backups are never pruned"]
    );

    let r = b.prune(&op, false).await.unwrap();
    assert_eq!(r.removed, 2);
    let all = catalogue::all(store).await.unwrap();
    for (id, gone) in [
        (&ids[2], true),
        (&ids[5], true),
        (&ids[0], false),
        (&ids[3], false),
        (&ids[4], false),
        (&manual, false),
    ] {
        let e = all.iter().find(|e| &e.id == id).unwrap();
        assert_eq!(e.status == BackupStatus::Deleted, gone, "{id}");
        assert_eq!(b.path_of(&e.file).exists(), !gone, "{id}");
    }
    // A policy that keeps nothing is refused.
    b.policy = KeepPolicy {
        keep_last: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
    };
    let err = b.prune(&op, true).await.unwrap_err();
    assert!(err.to_string().contains("keeps nothing"), "{err}");
}
