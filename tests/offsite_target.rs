//! The off-site target itself against a real S3-compatible server (moto) and a folder: a
//! streamed multipart upload, the read-back hash, the listing, the manifest read by ranges
//! (plain and encrypted), the download and the delete; and a wrong key is refused.

mod backup_support;
mod common;

use backup_support::*;
use common::s3::{Moto, creds_file};
use common::*;
use somiti::backup::offsite::Target;
use somiti::backup::{CreateOptions, Passphrase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_goes_up_comes_back_and_its_manifest_reads_by_ranges() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket("somiti-backups");
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 40, 10, 1).await;
    let dir = tmp.path().join("backups");
    let mut b = engine(&store, &dir);
    b.passphrase = Some(Passphrase::new("pass phrase"));
    let plain = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let enc = b
        .create(
            &op,
            &CreateOptions {
                encrypt: true,
                ..Default::default()
            },
            &progress(),
            &never(),
        )
        .await
        .unwrap();
    let creds = m.creds_file(tmp.path());
    let t = Target::open(&m.target("bucket", "somiti-backups/sonali", &creds)).unwrap();
    for e in [&plain, &enc] {
        let (n, sha) = t
            .upload(&b.path_of(&e.file), &e.file, &|_| {})
            .await
            .unwrap();
        assert_eq!(n as i64, e.size_bytes.unwrap());
        assert_eq!(Some(&sha), e.sha256.as_ref());
        let (n2, sha2) = t.read_back(&e.file).await.unwrap();
        assert_eq!((n2, sha2.clone()), (n, sha.clone()));
    }
    // a second client (boto3) sees the same bytes under the prefix
    let objs = m.objects("somiti-backups", "sonali/");
    assert_eq!(objs.len(), 2, "{objs:?}");
    for (key, size, sha) in &objs {
        let e = if key.ends_with(&plain.file) {
            &plain
        } else {
            &enc
        };
        assert_eq!(key, &format!("sonali/{}", e.file));
        assert_eq!(*size as i64, e.size_bytes.unwrap());
        assert_eq!(Some(sha), e.sha256.as_ref());
    }
    let listed = t.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    for o in &listed {
        let e = if o.file == plain.file { &plain } else { &enc };
        let man = t
            .read_manifest(
                &o.file,
                o.size,
                b.passphrase.clone(),
                store.schema_version(),
            )
            .await
            .unwrap();
        assert_eq!(man.backup_id, e.id);
        assert!(
            man.database_id.is_some(),
            "new archives name their database"
        );
    }
    // the encrypted one needs the passphrase
    let err = t
        .read_manifest(
            &enc.file,
            enc.size_bytes.unwrap() as u64,
            None,
            store.schema_version(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
    // download into a fresh folder, byte for byte
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join(&plain.file);
    let (n, sha) = t.download(&plain.file, &dest).await.unwrap();
    assert_eq!(Some(sha), plain.sha256.clone());
    assert_eq!(n, std::fs::metadata(&dest).unwrap().len());
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(b.path_of(&plain.file)).unwrap()
    );
    t.delete(&plain.file).await.unwrap();
    assert_eq!(t.list().await.unwrap().len(), 1);
    assert_eq!(t.size_of(&plain.file).await.unwrap(), None);

    // a wrong secret is refused, in words that say so
    let bad = creds_file(out.path(), &m.key, "not-the-secret");
    let t = Target::open(&m.target("bucket", "somiti-backups/sonali", &bad)).unwrap();
    let err = t
        .upload(&b.path_of(&enc.file), "x.zip", &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("off-site target bucket"), "{err}");
    assert!(
        err.to_lowercase().contains("signature") || err.contains("refused"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_target_works_the_same_and_a_missing_folder_is_named() {
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 10, 3, 1).await;
    let b = engine(&store, &tmp.path().join("backups"));
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    let disk = tmp.path().join("usb");
    let mut cfg = folder_target("usb", &disk);
    let err = Target::open(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains("mounted"),
        "{err}"
    );
    std::fs::create_dir(&disk).unwrap();
    cfg.url = format!("file://{}", disk.display());
    let t = Target::open(&cfg).unwrap();
    let (_, sha) = t
        .upload(&b.path_of(&e.file), &e.file, &|_| {})
        .await
        .unwrap();
    assert_eq!(Some(sha), e.sha256);
    assert_eq!(
        std::fs::read(disk.join(&e.file)).unwrap(),
        std::fs::read(b.path_of(&e.file)).unwrap()
    );
    let l = t.list().await.unwrap();
    assert_eq!(l.len(), 1);
    let man = t
        .read_manifest(&l[0].file, l[0].size, None, store.schema_version())
        .await
        .unwrap();
    assert_eq!(man.backup_id, e.id);
}
