//! Disaster recovery from the bucket alone, through the real binary, on SQLite and on
//! PostgreSQL: a ledger is built and backed up, its archive goes to a real S3-compatible
//! server (moto), the data directory (and for PostgreSQL the database) is deleted, and the
//! README's "The server is gone" commands rebuild it: `init`, the [[offsite]] block, `backup
//! list --offsite bucket`, `backup restore ID --yes`. Every ledger table must come back
//! exactly.

mod backup_support;
mod common;

use std::path::Path;

use backup_support::*;
use common::s3::Moto;
use somiti::backup::offsite::Target;
use somiti::backup::{BackupStatus, VerifyResult};
use somiti::db::Store;

/// The README's placeholders, replaced by this test's values when it runs the commands.
const README_DIR: &str = "/var/lib/somiti";
const README_PG: &str = "postgres://somiti:secret@dbhost:5432/somiti";
const README_ID: &str = "3f2a9c1b";

fn readme_section() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("## The server is gone")
        .expect("README has a section \"## The server is gone\"");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i);
    rest[..end].to_string()
}

/// Run one README command (asserting the README has it verbatim) with the placeholders
/// replaced.
fn readme_cmd(
    section: &str,
    line: &str,
    dir: &Path,
    pg: Option<&str>,
    id: &str,
    moto: &Moto,
) -> assert_cmd::assert::Assert {
    assert!(
        section.contains(line),
        "the README's \"The server is gone\" section lists `{line}`"
    );
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1) // somiti
        .map(|w| match w {
            README_DIR => dir.display().to_string(),
            README_PG => pg.expect("a PostgreSQL command").to_string(),
            README_ID => id.to_string(),
            w => w.to_string(),
        })
        .collect();
    somiti().args(&args).envs(moto.env()).assert()
}

async fn disaster_recovery(pg: Option<(String, String)>) {
    let Some(m) = Moto::start() else { return };
    m.create_bucket("somiti-backups");
    let keep = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    let old_dir = old.path().join("data");
    let db_flag = |url: &Option<String>| -> Vec<String> {
        url.iter()
            .flat_map(|u| ["--database".to_string(), u.clone()])
            .collect()
    };
    let (old_url, new_url) = match &pg {
        Some((a, b)) => (Some(a.clone()), Some(b.clone())),
        None => (None, None),
    };
    let base = |url: &Option<String>, dir: &Path| -> Vec<String> {
        let mut v = vec!["--data-dir".to_string(), dir.display().to_string()];
        v.extend(db_flag(url));
        v
    };

    // The ledger as it was, made and backed up by the binary.
    somiti()
        .args(base(&old_url, &old_dir))
        .args(["init", "--org-code", "SOM", "--org-name", "Sonali Somiti"])
        .assert()
        .success();
    somiti()
        .args(base(&old_url, &old_dir))
        .args(["demo", "--members", "80", "--days", "25", "--seed", "5"])
        .assert()
        .success();
    let out = somiti()
        .args(base(&old_url, &old_dir))
        .args(["--json", "backup", "create"])
        .assert()
        .success();
    let made: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    let file = made["file"].as_str().unwrap().to_string();
    let store = match &old_url {
        Some(u) => Store::open(u).await.unwrap(),
        None => Store::open_sqlite(&old_dir.join("somiti.db"))
            .await
            .unwrap(),
    };
    let before = ledger(&dump(&store).await);
    assert!(row_count(&before, "collections") > 100, "a real ledger");
    let old_db_id = somiti::db::meta::database_id(&store).await.unwrap();
    store.close().await;

    // Its archive into the bucket (as the copier puts it: the same bytes, under the prefix).
    let creds = m.creds_file(keep.path());
    let t = Target::open(&m.target("bucket", "somiti-backups/sonali", &creds)).unwrap();
    t.upload(&old_dir.join("backups").join(&file), &file, &|_| {})
        .await
        .unwrap();

    // The server is gone: nothing of it is left.
    std::fs::remove_dir_all(&old_dir).unwrap();
    if let Some(u) = &old_url {
        common::drop_pg_database(u).await;
    }

    // The README's commands, on a new machine.
    let section = readme_section();
    let new = tempfile::tempdir().unwrap();
    let dir = new.path().join("somiti");
    let (init, list, restore) = if new_url.is_some() {
        (
            format!("somiti --data-dir {README_DIR} --database {README_PG} init"),
            format!(
                "somiti --data-dir {README_DIR} --database {README_PG} backup list --offsite bucket"
            ),
            format!(
                "somiti --data-dir {README_DIR} --database {README_PG} backup restore {README_ID} --yes"
            ),
        )
    } else {
        (
            format!("somiti --data-dir {README_DIR} init"),
            format!("somiti --data-dir {README_DIR} backup list --offsite bucket"),
            format!("somiti --data-dir {README_DIR} backup restore {README_ID} --yes"),
        )
    };
    let pgu = new_url.as_deref();
    readme_cmd(&section, &init, &dir, pgu, &id, &m).success();
    let config = dir.join("config.toml");
    assert!(config.is_file(), "init wrote {}", config.display());
    assert!(
        section.contains(&format!(
            "cat >> {README_DIR}/config.toml <<'EOF'\n[[offsite]]\nname = \"bucket\"\nurl = \"s3://somiti-backups/sonali\"\n"
        )),
        "the README appends the [[offsite]] block to the config init wrote"
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&m.offsite_toml("bucket", "somiti-backups", "sonali"));
    std::fs::write(&config, text).unwrap();

    let listed = readme_cmd(&section, &list, &dir, pgu, &id, &m).success();
    let shown = String::from_utf8_lossy(&listed.get_output().stdout).to_string();
    eprintln!("{shown}");
    assert!(shown.contains(&id[..8]), "{shown}");
    assert!(shown.contains("other database"), "{shown}");
    assert!(shown.contains(&file), "{shown}");
    // --json names the archive and whose it is
    let mut json_args = vec![
        "--json".to_string(),
        "--data-dir".into(),
        dir.display().to_string(),
    ];
    json_args.extend(db_flag(&new_url));
    json_args.extend(["backup", "list", "--offsite", "bucket"].map(String::from));
    let j = somiti().args(&json_args).envs(m.env()).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&j.get_output().stdout).unwrap();
    let a = &v["archives"][0];
    assert_eq!(a["backup_id"], id.as_str());
    assert_eq!(a["database_id"], old_db_id.as_str());
    assert_eq!(a["database"], "other database");
    assert_eq!(a["kind"], "manual");
    assert_eq!(a["status"], "archive");

    let restored = readme_cmd(&section, &restore, &dir, pgu, &id[..8], &m).success();
    let said = String::from_utf8_lossy(&restored.get_output().stdout).to_string();
    eprintln!("{said}");
    assert!(said.contains("restored everything"), "{said}");

    // Every ledger table as it was.
    let store = match &new_url {
        Some(u) => Store::open(u).await.unwrap(),
        None => Store::open_sqlite(&dir.join("somiti.db")).await.unwrap(),
    };
    let after = ledger(&dump(&store).await);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert_same(&before, &after, "restored from the bucket");
    // The archive is in the store (0600), catalogued, its off-site copy known verified,
    // and this database is now the archive's.
    use std::os::unix::fs::PermissionsExt;
    let local = dir.join("backups").join(&file);
    let mode = std::fs::metadata(&local).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let e = somiti::backup::catalogue::get(&store, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status, BackupStatus::Completed);
    assert_eq!(e.verify_result, Some(VerifyResult::Ok));
    let c = somiti::backup::offsite::copies::get(&store, &id, "bucket")
        .await
        .unwrap()
        .unwrap();
    assert!(c.is_verified(), "{c:?}");
    assert_eq!(c.object_key, format!("sonali/{file}"));
    assert_eq!(
        somiti::db::meta::database_id(&store).await.unwrap(),
        old_db_id
    );
    store.close().await;
    let again = somiti().args(&json_args).envs(m.env()).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
    assert_eq!(v["archives"][0]["database"], "this database");

    // The prune's dry run shows the target and why each archive there stays.
    let dry = somiti()
        .args(base(&new_url, &dir))
        .args(["backup", "prune", "--dry-run"])
        .envs(m.env())
        .assert()
        .success();
    let said = String::from_utf8_lossy(&dry.get_output().stdout).to_string();
    eprintln!("{said}");
    assert!(
        said.contains("off-site target bucket (s3://somiti-backups/sonali):"),
        "{said}"
    );
    assert!(said.contains("manual backups are never pruned"), "{said}");
    assert!(
        said.contains("dry run: 0 archive(s) would be removed from bucket"),
        "{said}"
    );
    // A target that does not answer fails the prune (exit 1) naming it; the store's prune
    // and the other target's stand.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[offsite]]\nname = \"down\"\nurl = \"s3://somiti-backups/sonali\"\nendpoint = \"http://127.0.0.1:{closed}\"\nregion = \"us-east-1\"\nallow_http = true\n"
    ));
    std::fs::write(&config, text).unwrap();
    let failed = somiti()
        .args(base(&new_url, &dir))
        .args(["backup", "prune"])
        .envs(m.env())
        .assert()
        .code(1);
    let said = String::from_utf8_lossy(&failed.get_output().stdout).to_string();
    let err = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
    assert!(said.contains("0 archive(s) removed from bucket"), "{said}");
    assert!(
        err.contains("the store was pruned, but off-site target down"),
        "{err}"
    );
    if let Some(u) = &new_url {
        common::drop_pg_database(u).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restores_from_the_bucket_alone() {
    disaster_recovery(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restores_from_the_bucket_alone() {
    let Some(a) = common::fresh_pg_url().await else {
        return;
    };
    let b = common::fresh_pg_url().await.expect("a second database");
    disaster_recovery(Some((a, b))).await;
}
