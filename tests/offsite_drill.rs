//! Drills from off-site against a real S3-compatible server (moto): a `verify-latest` job
//! with `source = "bucket"` takes the newest archive of this database from the target (into
//! a temporary file, never into the store), restores it into a scratch database, and
//! records the result on that backup's catalogue entry; a damaged object in the bucket
//! makes the drill fail with the reason.

mod backup_support;
mod common;

use backup_support::*;
use common::s3::Moto;
use common::*;
use somiti::backup::VerifyResult;
use somiti::backup::offsite::Target;
use somiti::backup::{BackupKind, Backups, CreateOptions, catalogue};
use somiti::scheduler::{Actions, JobOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_from_the_bucket_records_its_result_and_a_damaged_copy_fails_it() {
    let Some(m) = Moto::start() else { return };
    m.create_bucket("somiti-backups");
    let (store, tmp) = sqlite_store().await;
    let op = seeded(&store, 30, 8, 1).await;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let creds = m.creds_file(tmp.path());
    let config = data.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "{}credentials_file = \"{}\"\n\n[[schedule]]\nname = \"bucket-drill\"\ncron = \"0 4 * * *\"\naction = \"verify-latest\"\ndrill = true\nsource = \"bucket\"\n",
            m.offsite_toml("bucket", "somiti-backups", "sonali"),
            creds.display()
        ),
    )
    .unwrap();
    let settings = somiti::config::load(&somiti::config::Overrides {
        config: Some(config.clone()),
        database_url: Some("sqlite://unused-by-the-actions".into()),
        data_dir: Some(data.clone()),
    })
    .unwrap();
    let b = Backups::new(store.clone(), &settings);
    let t = Target::open(&settings.config.offsite[0]).unwrap();
    let sched = CreateOptions {
        kind: BackupKind::Scheduled,
        ..Default::default()
    };
    let first = b.create(&op, &sched, &progress(), &never()).await.unwrap();
    t.upload(&b.path_of(&first.file), &first.file, &|_| {})
        .await
        .unwrap();
    // Another database's archive, newer, is not this database's newest.
    let mut ents = entries(&b.path_of(&first.file));
    let mut man = manifest_of(&ents);
    man["backup_id"] = uuid::Uuid::new_v4().to_string().into();
    man["database_id"] = "0b6f9d2e-0000-4000-8000-000000000000".into();
    man["created_at"] =
        serde_json::to_value(chrono::Utc::now() + chrono::Duration::hours(1)).unwrap();
    set_manifest(&mut ents, &man);
    let foreign = tmp.path().join("foreign.zip");
    write_zip(&foreign, &ents);
    t.upload(
        &foreign,
        "somiti-all-2099-01-01_00-00-00-scheduled-0b6f9d2e.zip",
        &|_| {},
    )
    .await
    .unwrap();

    let jobs = somiti::scheduler::jobs_from_config(&settings.config, "Asia/Dhaka").unwrap();
    let job = jobs.iter().find(|j| j.name == "bucket-drill").unwrap();
    let actions = somiti::scheduler::actions::CoreActions {
        store: store.clone(),
        settings: settings.clone(),
    };
    let store_files = files(&b.dir);
    let out = actions
        .run(job, &op, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    let msg = match out {
        JobOutcome::Ran(m) => m,
        other => panic!("{other:?}"),
    };
    assert!(msg.contains("from off-site target bucket"), "{msg}");
    assert!(
        msg.contains(&first.file) && msg.contains("restore drill"),
        "{msg}"
    );
    assert_eq!(files(&b.dir), store_files, "nothing was put into the store");
    let e = catalogue::get(&store, &first.id).await.unwrap().unwrap();
    assert_eq!(e.verify_result, Some(VerifyResult::Ok));
    assert!(e.verified_at.is_some());
    let c = somiti::backup::offsite::copies::get(&store, &first.id, "bucket")
        .await
        .unwrap()
        .expect("the proven copy is recorded");
    assert!(c.is_verified());

    // A newer backup whose object in the bucket is damaged in the middle (a data entry;
    // its manifest still reads): the drill fails, naming the damage.
    let second = b.create(&op, &sched, &progress(), &never()).await.unwrap();
    let mut bytes = std::fs::read(b.path_of(&second.file)).unwrap();
    let at = bytes.len() / 3;
    for x in &mut bytes[at..at + 64] {
        *x ^= 0x5a;
    }
    let damaged = tmp.path().join("damaged.zip");
    std::fs::write(&damaged, &bytes).unwrap();
    t.upload(&damaged, &second.file, &|_| {}).await.unwrap();
    let err = actions
        .run(job, &op, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&second.file), "{err}");
    assert!(err.contains("off-site target bucket"), "{err}");
    let e2 = catalogue::get(&store, &second.id).await.unwrap().unwrap();
    let v = e2.verify_result.map(|r| r.to_string()).unwrap_or_default();
    eprintln!("{msg}\n{err}\n{v}");
    assert!(v.starts_with("failed: "), "{v}");
    assert!(
        v.contains("CRC")
            || v.contains("SHA-256")
            || v.contains("damaged")
            || v.contains("corrupt"),
        "the reason names the damage: {v}"
    );
    // The local archive is fine, and the first backup's result stands.
    b.verify(&op, &second.id, false, &progress(), &never())
        .await
        .unwrap();
    let e = catalogue::get(&store, &first.id).await.unwrap().unwrap();
    assert_eq!(e.verify_result, Some(VerifyResult::Ok));
    let audit = somiti::access::audit::list(
        &store,
        &somiti::access::audit::AuditFilter {
            action: Some("backup.verify".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.target == second.id && a.outcome == "failed" && a.detail.contains("bucket")),
        "{audit:?}"
    );
}
