//! Where each copy is, through the real binary: `backup list` (text and `--json`) shows per
//! backup the local archive (present / missing / deleted), each configured target's copy
//! (verified / copying / pending / failed with the reason / deleted / —) and whether a
//! verified off-site copy exists; `scheduler status` shows the newest verified off-site
//! copy. The copies are recorded through `backup::offsite::copies` as the copier does.

mod backup_support;
mod common;

use std::path::Path;

use backup_support::*;
use chrono::Utc;
use serde_json::Value;
use somiti::backup::offsite::copies;
use somiti::db::Store;

async fn data_dir() -> tempfile::TempDir {
    common::demo_data_dir("boss", 12, 5, 1, today()).await
}

fn cli(dir: &Path) -> assert_cmd::Command {
    let mut c = somiti();
    c.arg("--data-dir").arg(dir).env("SOMITI_OPERATOR", "boss");
    c
}

fn run(c: &mut assert_cmd::Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run_json(c: &mut assert_cmd::Command) -> Value {
    serde_json::from_str(&run(c)).expect("JSON")
}

/// The line of the text listing that starts with this backup's short id.
fn line_of<'a>(text: &'a str, id: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&id[..8]))
        .unwrap_or_else(|| panic!("no line for {id} in\n{text}"))
}

fn entry<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_where_each_copy_is_in_text_and_json() {
    let d = data_dir().await;
    // Four backups, oldest first: c (deleted locally), m (file lost), b, a (the newest).
    let mut ids = Vec::new();
    for _ in 0..4 {
        run(cli(d.path()).args(["backup", "create"]));
        let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
        ids.push(list[0]["id"].as_str().unwrap().to_string());
    }
    let (c, m, b, a) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    run(cli(d.path()).args(["backup", "delete", c]));
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let m_file = entry(&list, m)["file"].as_str().unwrap().to_string();
    std::fs::remove_file(d.path().join("backups").join(&m_file)).unwrap();

    // No target configured: the table is as before, the JSON says local only.
    let text = run(cli(d.path()).args(["backup", "list"]));
    assert!(
        !text.contains("LOCAL") && !text.contains("OFF-SITE"),
        "{text}"
    );
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let e = entry(&list, a);
    assert_eq!(e["local"], "present");
    assert_eq!(e["offsite"], serde_json::json!([]));
    assert_eq!(e["offsite_verified"], false);
    let st = run_json(cli(d.path()).args(["--json", "scheduler", "status"]));
    assert!(st["newest_verified_offsite"].is_null(), "{st}");

    // Two targets: a bucket (never contacted by the listing) and a folder.
    let usb = d.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    std::fs::write(
        d.path().join("config.toml"),
        format!(
            "[[offsite]]\nname = \"bucket\"\nurl = \"s3://somiti-backups/sonali\"\n\
             endpoint = \"http://127.0.0.1:9\"\nallow_http = true\n\n\
             [[offsite]]\nname = \"usb\"\nurl = \"file://{}\"\n",
            usb.display()
        ),
    )
    .unwrap();
    let st = run(cli(d.path()).args(["scheduler", "status"]));
    assert!(
        st.contains("newest verified off-site copy: none"),
        "targets configured, nothing verified: {st}"
    );

    let size_of = |id: &str| {
        let e = entry(&list, id);
        (
            e["file"].as_str().unwrap().to_string(),
            e["size"].as_u64().unwrap_or(0),
            e["sha256"].as_str().unwrap_or("").to_string(),
        )
    };
    let store = Store::open_sqlite(&d.path().join("somiti.db"))
        .await
        .unwrap();
    let now = Utc::now();
    let stale = now - chrono::Duration::minutes(5);
    let reason = "off-site target usb (file:///mnt/usb): writing: No space left on device";
    // a: verified on the bucket, failed on the folder
    let (file, size, sha) = size_of(a);
    for t in ["bucket", "usb"] {
        copies::queue(&store, a, t, &format!("sonali/{file}"), now)
            .await
            .unwrap();
        assert!(
            copies::claim(&store, a, t, "test:1", now, stale, false)
                .await
                .unwrap()
        );
    }
    copies::verified(&store, a, "bucket", size, &sha, now)
        .await
        .unwrap();
    let next_try = now + copies::backoff(1);
    copies::failed(&store, a, "usb", reason, next_try, now)
        .await
        .unwrap();
    // b: being copied to the bucket, queued for the folder
    let (file, _, _) = size_of(b);
    copies::queue(&store, b, "bucket", &file, now)
        .await
        .unwrap();
    copies::queue(&store, b, "usb", &file, now).await.unwrap();
    assert!(
        copies::claim(&store, b, "bucket", "test:1", now, stale, false)
            .await
            .unwrap()
    );
    // c: gone from the local store, still verified on the bucket; pruned from the folder
    let (file, size, sha) = size_of(c);
    for t in ["bucket", "usb"] {
        copies::queue(&store, c, t, &file, now).await.unwrap();
        copies::claim(&store, c, t, "test:1", now, stale, false)
            .await
            .unwrap();
        copies::verified(&store, c, t, size, &sha, now)
            .await
            .unwrap();
    }
    copies::deleted(&store, c, "usb", now).await.unwrap();
    store.close().await;

    let text = run(cli(d.path()).args(["backup", "list"]));
    let head = text.lines().next().unwrap();
    for h in [
        "VERIFIED", "PIN", "LOCAL", "BUCKET", "USB", "OFF-SITE", "FILE",
    ] {
        assert!(head.contains(h), "{h} missing: {head}");
    }
    assert!(
        head.find("LOCAL") < head.find("BUCKET")
            && head.find("BUCKET") < head.find("USB")
            && head.find("USB") < head.find("OFF-SITE")
            && head.find("OFF-SITE") < head.find("FILE"),
        "{head}"
    );
    let cells = |id: &str| -> Vec<String> {
        line_of(&text, id)
            .split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let row_a = cells(a);
    let at = |row: &[String], w: &str| row.iter().position(|c| c.starts_with(w));
    let la = at(&row_a, "present").expect("a is present locally");
    assert_eq!(row_a[la + 1], "verified", "{row_a:?}");
    assert!(
        row_a[la + 2].starts_with("failed: off-site target usb"),
        "{row_a:?}"
    );
    assert!(
        row_a[la + 2].ends_with('…'),
        "a long reason is cut: {row_a:?}"
    );
    assert_eq!(row_a[la + 3], "yes", "{row_a:?}");

    let row_b = cells(b);
    let lb = at(&row_b, "present").unwrap();
    assert_eq!(
        &row_b[lb + 1..lb + 4],
        ["copying", "pending", "no"],
        "{row_b:?}"
    );

    let row_c = cells(c);
    let lc = row_c.iter().rposition(|c| c == "deleted").unwrap() - 2;
    assert_eq!(
        &row_c[lc..lc + 4],
        ["deleted", "verified", "deleted", "yes"],
        "a backup deleted locally still has its off-site copy: {row_c:?}"
    );

    let row_m = cells(m);
    let lm = at(&row_m, "missing").unwrap();
    assert_eq!(&row_m[lm..lm + 4], ["missing", "—", "—", "no"], "{row_m:?}");

    // The whole reason, the attempts and the next try, under the table.
    let why = text
        .lines()
        .find(|l| l.starts_with(&format!("{} usb: failed", &a[..8])))
        .unwrap_or_else(|| panic!("no failure line: {text}"));
    assert!(why.contains("(1 attempt, next try "), "{why}");
    assert!(why.ends_with(reason), "{why}");

    // --json: the existing fields, and where it is.
    let list = run_json(cli(d.path()).args(["--json", "backup", "list"]));
    let e = entry(&list, a);
    for k in [
        "id",
        "file",
        "kind",
        "status",
        "size",
        "sha256",
        "verified_at",
        "pinned",
        "missing",
    ] {
        assert!(e.get(k).is_some(), "{k} kept: {e}");
    }
    assert_eq!(e["local"], "present");
    assert_eq!(e["offsite_verified"], true);
    let off = e["offsite"].as_array().unwrap();
    assert_eq!(off.len(), 2, "{e}");
    assert_eq!(off[0]["target"], "bucket");
    assert_eq!(off[0]["status"], "verified");
    assert_eq!(off[0]["size_bytes"], e["size"]);
    assert_eq!(off[0]["sha256"], e["sha256"]);
    assert!(off[0]["verified_at"].is_string());
    assert!(off[0]["error"].is_null());
    assert_eq!(off[0]["attempts"], 1);
    assert_eq!(off[1]["target"], "usb");
    assert_eq!(off[1]["status"], "failed");
    assert_eq!(off[1]["error"], reason);
    assert!(off[1]["next_try_at"].is_string());
    assert!(off[1]["verified_at"].is_null());

    let e = entry(&list, b);
    assert_eq!(e["offsite_verified"], false);
    let st: Vec<&str> = e["offsite"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["copying", "pending"]);

    let e = entry(&list, c);
    assert_eq!(e["local"], "deleted");
    assert_eq!(e["offsite_verified"], true);
    assert_eq!(e["offsite"][1]["status"], "deleted");

    let e = entry(&list, m);
    assert_eq!(e["local"], "missing");
    assert_eq!(e["offsite_verified"], false);
    assert_eq!(e["offsite"][0]["status"], "none");
    assert_eq!(e["offsite"][0]["attempts"], 0);

    // scheduler status: the newest backup with a verified copy is a, on the bucket.
    let st = run_json(cli(d.path()).args(["--json", "scheduler", "status"]));
    let o = &st["newest_verified_offsite"];
    assert_eq!(o["backup_id"], a.as_str(), "{st}");
    assert_eq!(o["target"], "bucket");
    assert!(o["age_seconds"].as_i64().unwrap() >= 0);
    assert!(o["age"].is_string());
    let st = run(cli(d.path()).args(["scheduler", "status"]));
    assert!(
        st.contains(&format!(
            "newest verified off-site copy: backup {} on bucket (",
            &a[..8]
        )),
        "{st}"
    );
}
