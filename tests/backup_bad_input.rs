//! Bad archives: every one is refused by verify and by restore with a message that names
//! the problem, and the database and the store stay exactly as they were.

mod backup_support;
mod common;

use std::path::{Path, PathBuf};

use backup_support::*;
use somiti::access::Operator;
use somiti::backup::{Backups, Confirm, CreateOptions, Passphrase, RestoreOptions};
use somiti::db::Store;

on_both_backends!(
    a_truncated_archive_is_refused,
    a_flipped_byte_in_any_entry_is_refused_naming_the_entry,
    a_missing_manifest_is_refused,
    a_malformed_manifest_is_refused,
    a_manifest_whose_hashes_disagree_with_the_data_is_refused,
    a_manifest_whose_totals_or_counts_disagree_with_the_data_is_refused,
    entry_names_with_dot_dot_or_absolute_paths_are_refused,
    an_entry_not_listed_in_the_manifest_is_refused,
    duplicate_entries_are_refused,
    an_entry_that_inflates_beyond_its_declared_size_is_refused,
    a_file_that_is_not_a_zip_is_refused,
    an_empty_file_is_refused,
    a_wrong_passphrase_is_refused_and_changes_nothing,
    an_archive_from_a_newer_format_or_schema_is_refused,
    a_row_that_does_not_parse_is_refused_naming_row_and_column,
    a_reference_that_does_not_close_is_refused,
    a_rule_only_the_database_knows_fails_plain_verify_the_drill_and_the_restore,
    every_uniqueness_and_check_rule_of_the_schema_fails_plain_verify,
    the_ledgers_own_field_rules_fail_plain_verify,
    entries_that_break_the_reversal_and_organization_rules_fail_plain_verify,
    running_balances_that_disagree_with_the_entries_fail_plain_verify,
);

/// Rewrite row `i` (0-based) of `table` with `f`, fixing the hashes and (for the money
/// columns) the manifest's control totals, so that only a rule can catch it.
fn edit_row(
    e: &mut [(String, Vec<u8>)],
    table: &str,
    i: usize,
    f: impl FnOnce(&mut serde_json::Value, &[serde_json::Value]),
) {
    let text = String::from_utf8(data_mut(e, &format!("data/{table}.ndjson")).clone()).unwrap();
    let mut rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let all = rows.clone();
    f(&mut rows[i], &all);
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let mut m = manifest_of(e);
    let t = table_mut(&mut m, table);
    let cols: Vec<String> = t["totals"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for c in cols {
        let sum: i64 = rows.iter().map(|r| r[&c].as_i64().unwrap_or(0)).sum();
        t["totals"][&c] = sum.into();
    }
    set_manifest(e, &m);
    replace_data(e, table, body.into_bytes());
}

/// Member `i`'s "member NO of ORG" as the messages name it.
fn member_label(e: &[(String, Vec<u8>)], i: usize) -> String {
    let text = |t: &str| {
        String::from_utf8(
            e.iter()
                .find(|(n, _)| n == &format!("data/{t}.ndjson"))
                .unwrap()
                .1
                .clone(),
        )
        .unwrap()
    };
    let m: serde_json::Value =
        serde_json::from_str(text("members").lines().nth(i).unwrap()).unwrap();
    let org = text("organizations")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|o| o["id"] == m["org_id"])
        .unwrap();
    format!(
        "member {} of {}",
        m["member_no"].as_str().unwrap(),
        org["code"].as_str().unwrap()
    )
}

struct Fixture {
    op: Operator,
    b: Backups,
    good: PathBuf,
    _dir: tempfile::TempDir,
    work: tempfile::TempDir,
}

async fn fixture(store: &Store) -> Fixture {
    let op = seeded(store, 12, 6, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let b = engine(store, dir.path());
    let e = b
        .create(&op, &CreateOptions::default(), &progress(), &never())
        .await
        .unwrap();
    Fixture {
        good: b.path_of(&e.file),
        op,
        b,
        _dir: dir,
        work: tempfile::tempdir().unwrap(),
    }
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// The good archive's entries, changed by `f`, written as a new archive.
    fn rezip(&self, name: &str, f: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> PathBuf {
        let mut e = entries(&self.good);
        f(&mut e);
        let p = self.path(name);
        write_zip(&p, &e);
        p
    }

    /// Verify and restore both refuse `path` with a message containing every `needle`;
    /// the database and the store are unchanged; a failed verify exits 3.
    async fn refused(&self, path: &Path, needles: &[&str]) {
        let store = &self.b.store;
        let before = dump(store).await;
        let store_before = files(&self.b.dir);
        let cat_before = somiti::backup::catalogue::all(store).await.unwrap().len();
        let target = path.to_str().unwrap();
        // Plain verify sees it (no drill needed: verify ok means the restore succeeds) …
        let plain = self
            .b
            .verify(&self.op, target, false, &progress(), &never())
            .await
            .unwrap_err()
            .to_string();
        for n in needles {
            assert!(
                plain.contains(n),
                "plain verify message {plain:?} should name {n:?}"
            );
        }
        // … and so does the drill.
        let e = self
            .b
            .verify(&self.op, target, true, &progress(), &never())
            .await
            .unwrap_err();
        let m = e.to_string();
        eprintln!("{}: {m}", path.display());
        for n in needles {
            assert!(m.contains(n), "verify message {m:?} should name {n:?}");
        }
        assert!(
            matches!(e.exit_code(), 3 | 4),
            "exit code {} for {m}",
            e.exit_code()
        );
        for opts in [
            RestoreOptions {
                confirm: Confirm::Yes,
                include_users: true,
                ..Default::default()
            },
            RestoreOptions {
                dry_run: true,
                ..Default::default()
            },
        ] {
            let e = self
                .b
                .restore(&self.op, target, &opts, &progress(), &never())
                .await
                .unwrap_err();
            let m = e.to_string();
            assert!(
                needles.iter().all(|n| m.contains(n)),
                "restore message {m:?} should name {needles:?}"
            );
        }
        assert_same(&dump(store).await, &before, "the database did not change");
        assert_eq!(files(&self.b.dir), store_before, "the store did not change");
        assert_eq!(
            somiti::backup::catalogue::all(store).await.unwrap().len(),
            cat_before
        );
    }
}

fn table_mut<'a>(m: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    m["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == name)
        .unwrap()
}

fn data_mut<'a>(e: &'a mut [(String, Vec<u8>)], file: &str) -> &'a mut Vec<u8> {
    &mut e.iter_mut().find(|(n, _)| n == file).unwrap().1
}

/// Replace a data file and make the manifest agree with it (bytes and SHA-256).
fn replace_data(e: &mut [(String, Vec<u8>)], table: &str, data: Vec<u8>) {
    use sha2::Digest;
    let mut m = manifest_of(e);
    let t = table_mut(&mut m, table);
    t["bytes"] = data.len().into();
    t["sha256"] = hex::encode(sha2::Sha256::digest(&data)).into();
    *data_mut(e, &format!("data/{table}.ndjson")) = data;
    set_manifest(e, &m);
}

async fn a_truncated_archive_is_refused(store: &Store) {
    let f = fixture(store).await;
    let bytes = std::fs::read(&f.good).unwrap();
    for (i, cut) in [bytes.len() / 2, bytes.len() - 10, 30]
        .into_iter()
        .enumerate()
    {
        let p = f.path(&format!("truncated-{i}.zip"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        f.refused(&p, &[&format!("truncated-{i}.zip"), "not a readable ZIP"])
            .await;
    }
}

async fn a_flipped_byte_in_any_entry_is_refused_naming_the_entry(store: &Store) {
    let f = fixture(store).await;
    let bytes = std::fs::read(&f.good).unwrap();
    let mut z = zip::ZipArchive::new(std::fs::File::open(&f.good).unwrap()).unwrap();
    let spans: Vec<(String, u64, u64)> = (0..z.len())
        .map(|i| {
            let e = z.by_index_raw(i).unwrap();
            (
                e.name().unwrap().to_string(),
                e.data_start().unwrap(),
                e.compressed_size(),
            )
        })
        .collect();
    for (name, start, len) in spans {
        let mut b = bytes.clone();
        let at = (start + len / 2) as usize;
        b[at] ^= 0x5a;
        let p = f.path(&format!("flipped-{}.zip", name.replace('/', "_")));
        std::fs::write(&p, &b).unwrap();
        f.refused(&p, &[&name]).await;
    }
}

async fn a_missing_manifest_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("no-manifest.zip", |e| {
        e.retain(|(n, _)| n != "manifest.json")
    });
    f.refused(&p, &["manifest.json is missing"]).await;
}

async fn a_malformed_manifest_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("bad-json.zip", |e| {
        e.iter_mut().find(|(n, _)| n == "manifest.json").unwrap().1 =
            b"{\"format\": \"somiti-backup\", ".to_vec();
    });
    f.refused(&p, &["manifest.json is malformed"]).await;
    let p = f.rezip("not-ours.zip", |e| {
        let mut m = manifest_of(e);
        m["format"] = "other".into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["not a somiti-backup manifest"]).await;
    let p = f.rezip("no-tables.zip", |e| {
        let mut m = manifest_of(e);
        m["tables"]
            .as_array_mut()
            .unwrap()
            .retain(|t| t["name"] != "collections");
        set_manifest(e, &m);
        e.retain(|(n, _)| !n.contains("collections"));
    });
    f.refused(&p, &["collections is missing"]).await;
}

async fn a_manifest_whose_hashes_disagree_with_the_data_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("bad-sha.zip", |e| {
        let mut m = manifest_of(e);
        table_mut(&mut m, "members")["sha256"] = "0".repeat(64).into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["data/members.ndjson", "SHA-256 does not match"])
        .await;
    let p = f.rezip("bad-csv-sha.zip", |e| {
        let mut m = manifest_of(e);
        table_mut(&mut m, "workers")["csv"]["sha256"] = "1".repeat(64).into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["csv/workers.csv", "SHA-256 does not match"])
        .await;
}

async fn a_manifest_whose_totals_or_counts_disagree_with_the_data_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("bad-totals.zip", |e| {
        let mut m = manifest_of(e);
        let t = table_mut(&mut m, "collections");
        t["totals"]["loan_paisa"] = (t["totals"]["loan_paisa"].as_i64().unwrap() + 1).into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["data/collections.ndjson", "control totals"])
        .await;
    let p = f.rezip("bad-rows.zip", |e| {
        let mut m = manifest_of(e);
        let t = table_mut(&mut m, "members");
        t["rows"] = (t["rows"].as_i64().unwrap() - 1).into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["data/members.ndjson", "rows but the manifest says"])
        .await;
}

async fn entry_names_with_dot_dot_or_absolute_paths_are_refused(store: &Store) {
    let f = fixture(store).await;
    for (i, evil) in ["../evil.txt", "data/../../evil.ndjson", "/etc/evil.csv"]
        .iter()
        .enumerate()
    {
        let p = f.rezip(&format!("evil-{i}.zip"), |e| {
            e.insert(0, (evil.to_string(), b"boom".to_vec()))
        });
        // The writer may normalise a leading slash; whatever is in the file is refused.
        f.refused(&p, &["unsafe"]).await;
    }
}

async fn an_entry_not_listed_in_the_manifest_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("extra.zip", |e| {
        e.push(("data/extra.ndjson".into(), b"{}\n".to_vec()))
    });
    f.refused(&p, &["data/extra.ndjson", "not listed in the manifest"])
        .await;
    let p = f.rezip("script.zip", |e| {
        e.push(("run.sh".into(), b"rm -rf /".to_vec()))
    });
    f.refused(&p, &["run.sh", "does not belong"]).await;
}

async fn duplicate_entries_are_refused(store: &Store) {
    let f = fixture(store).await;
    let mut bytes = std::fs::read(&f.good).unwrap();
    // Rename workers' entry to members' (same length) in every header: two "members".
    let (from, to) = (b"data/workers.ndjson", b"data/members.ndjson");
    let mut n = 0;
    for i in 0..bytes.len() - from.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
    }
    assert_eq!(n, 2, "local and central header");
    let p = f.path("dupes.zip");
    std::fs::write(&p, &bytes).unwrap();
    f.refused(&p, &["duplicate entries"]).await;
}

async fn an_entry_that_inflates_beyond_its_declared_size_is_refused(store: &Store) {
    let f = fixture(store).await;
    // 64 MiB of newlines deflate to ~64 KiB; the headers and the manifest say 1,000 bytes.
    let p = f.rezip("bomb.zip", |e| {
        let mut m = manifest_of(e);
        table_mut(&mut m, "day_closes")["bytes"] = 1000.into();
        set_manifest(e, &m);
        *data_mut(e, "data/day_closes.ndjson") = vec![b'\n'; 64 << 20];
    });
    let mut bytes = std::fs::read(&p).unwrap();
    assert!(bytes.len() < 1 << 20, "the bomb is small on disk");
    patch_declared_size(&mut bytes, "data/day_closes.ndjson", 1000);
    std::fs::write(&p, &bytes).unwrap();
    f.refused(&p, &["data/day_closes.ndjson"]).await;
}

async fn a_file_that_is_not_a_zip_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.path("notes.zip");
    std::fs::write(&p, "id,name\n1,Rahim\n".repeat(100)).unwrap();
    f.refused(&p, &["notes.zip", "not a readable ZIP"]).await;
}

async fn an_empty_file_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.path("empty.zip");
    std::fs::write(&p, b"").unwrap();
    f.refused(&p, &["empty.zip", "empty"]).await;
}

async fn a_wrong_passphrase_is_refused_and_changes_nothing(store: &Store) {
    let mut f = fixture(store).await;
    f.b.passphrase = Some(Passphrase::new("correct horse"));
    let opts = CreateOptions {
        encrypt: true,
        ..Default::default()
    };
    let e =
        f.b.create(&f.op, &opts, &progress(), &never())
            .await
            .unwrap();
    let enc = f.path("encrypted.zip");
    std::fs::copy(f.b.path_of(&e.file), &enc).unwrap();
    f.b.passphrase = Some(Passphrase::new("battery staple"));
    f.refused(&enc, &["wrong passphrase for encrypted.zip"])
        .await;
    // And the right one reads it.
    f.b.passphrase = Some(Passphrase::new("correct horse"));
    f.b.verify(&f.op, enc.to_str().unwrap(), true, &progress(), &never())
        .await
        .unwrap();
}

async fn an_archive_from_a_newer_format_or_schema_is_refused(store: &Store) {
    let f = fixture(store).await;
    let newer = somiti::backup::FORMAT_VERSION + 1;
    let p = f.rezip("format-newer.zip", |e| {
        let mut m = manifest_of(e);
        m["format_version"] = newer.into();
        m["tables"] = serde_json::json!({ "a different": "shape" });
        set_manifest(e, &m);
    });
    f.refused(
        &p,
        &[
            &format!("format_version {newer}"),
            "newer",
            "upgrade somiti",
        ],
    )
    .await;
    let p = f.rezip("schema999.zip", |e| {
        let mut m = manifest_of(e);
        m["schema_version"] = 999.into();
        set_manifest(e, &m);
    });
    f.refused(&p, &["schema_version 999", "newer", "upgrade somiti"])
        .await;
}

async fn a_row_that_does_not_parse_is_refused_naming_row_and_column(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("bad-row.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/members.ndjson").clone()).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mut v: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        v["loan_amount"] = "lots".into();
        lines[2] = v.to_string();
        replace_data(e, "members", format!("{}\n", lines.join("\n")).into_bytes());
    });
    f.refused(&p, &["data/members.ndjson", "row 3", "loan_amount"])
        .await;
    let p = f.rezip("extra-column.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/workers.ndjson").clone()).unwrap();
        let t = text.replacen("{\"id\"", "{\"salary\":1,\"id\"", 1);
        replace_data(e, "workers", t.into_bytes());
    });
    f.refused(&p, &["data/workers.ndjson", "row 1", "salary"])
        .await;
}

async fn a_reference_that_does_not_close_is_refused(store: &Store) {
    let f = fixture(store).await;
    let p = f.rezip("dangling.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/collections.ndjson").clone()).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mut v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        v["member_id"] = 987_654.into();
        lines[0] = v.to_string();
        replace_data(
            e,
            "collections",
            format!("{}\n", lines.join("\n")).into_bytes(),
        );
    });
    f.refused(
        &p,
        &[
            "data/collections.ndjson",
            "member_id 987654 is not in members",
        ],
    )
    .await;
}

/// Two members with one NID: every row is well formed and every reference closes; plain
/// verify names the rule (no drill needed), and so do the drill and the restore.
async fn a_rule_only_the_database_knows_fails_plain_verify_the_drill_and_the_restore(
    store: &Store,
) {
    let f = fixture(store).await;
    let mut who = String::new();
    let p = f.rezip("same-nid.zip", |e| {
        who = member_label(e, 1);
        edit_row(e, "members", 1, |v, all| v["nid"] = all[0]["nid"].clone());
    });
    let target = p.to_str().unwrap();
    let scratch_left = || {
        std::fs::read_dir(&f.b.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".drill-"))
            .count()
    };
    let e =
        f.b.verify(&f.op, target, false, &progress(), &never())
            .await
            .unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("data/members.ndjson")
            && m.contains("row 2")
            && m.contains(&who)
            && m.contains("nid"),
        "{m}"
    );
    assert_eq!(e.exit_code(), 3, "{m}");
    let e =
        f.b.verify(&f.op, target, true, &progress(), &never())
            .await
            .unwrap_err();
    assert!(e.to_string().contains("nid"), "{e}");
    assert_eq!(e.exit_code(), 3);
    assert_eq!(scratch_left(), 0, "the scratch database is removed");
    f.refused(
        &p,
        &[
            "data/members.ndjson",
            "row 2",
            &who,
            "a NID belongs to one member",
        ],
    )
    .await;
    assert_eq!(scratch_left(), 0);
}

async fn every_uniqueness_and_check_rule_of_the_schema_fails_plain_verify(store: &Store) {
    let f = fixture(store).await;
    // One member_no twice in an organization (the second member takes the first's number
    // where both are in one organization).
    let mut who = String::new();
    let p = f.rezip("same-member-no.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/members.ndjson").clone()).unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let j = (1..rows.len())
            .find(|&j| rows[j]["org_id"] == rows[0]["org_id"])
            .unwrap();
        who = member_label(e, j);
        let first = rows[0]["member_no"].clone();
        edit_row(e, "members", j, |v, _| v["member_no"] = first);
        who = who.replace(
            &format!("member {} ", rows[j]["member_no"].as_str().unwrap()),
            &format!("member {} ", rows[0]["member_no"].as_str().unwrap()),
        );
    });
    f.refused(
        &p,
        &["data/members.ndjson", &who, "member numbers are unique"],
    )
    .await;
    // A negative amount, with the control totals made to match.
    let p = f.rezip("negative.zip", |e| {
        edit_row(e, "collections", 2, |v, _| v["loan_paisa"] = (-5000).into());
    });
    f.refused(
        &p,
        &[
            "data/collections.ndjson",
            "row 3",
            "loan: must not be negative",
        ],
    )
    .await;
    // An unknown member status.
    let p = f.rezip("status.zip", |e| {
        who = member_label(e, 3);
        edit_row(e, "members", 3, |v, _| v["status"] = "sleeping".into());
    });
    f.refused(
        &p,
        &[
            "data/members.ndjson",
            "row 4",
            &who,
            "status: must be active, inactive or closed",
        ],
    )
    .await;
    // A username twice.
    let p = f.rezip("users.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/users.ndjson").clone()).unwrap();
        let mut rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut twin = rows[0].clone();
        twin["id"] = (rows
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .max()
            .unwrap()
            + 1)
        .into();
        rows.push(twin);
        let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
        let mut m = manifest_of(e);
        table_mut(&mut m, "users")["rows"] = rows.len().into();
        set_manifest(e, &m);
        replace_data(e, "users", body.into_bytes());
    });
    f.refused(&p, &["data/users.ndjson", "usernames are unique"])
        .await;
}

async fn the_ledgers_own_field_rules_fail_plain_verify(store: &Store) {
    let f = fixture(store).await;
    let cases: [(&str, &str, serde_json::Value, &str); 5] = [
        (
            "nid-9.zip",
            "nid",
            "123456789".into(),
            "nid: must have 10, 13 or 17 digits (got 9)",
        ),
        (
            "nid-letters.zip",
            "nid",
            "12345abc90".into(),
            "nid: must contain digits only",
        ),
        (
            "mobile-2.zip",
            "mobile",
            "01".into(),
            "mobile: must be 01[3-9] followed by 8 digits",
        ),
        (
            "name-nul.zip",
            "name",
            "রহিমা\u{0}খাতুন".into(),
            "found U+0000",
        ),
        ("name-empty.zip", "name", "  ".into(), "name: is required"),
    ];
    for (file, col, value, rule) in cases {
        let mut who = String::new();
        let p = f.rezip(file, |e| {
            who = member_label(e, 4);
            edit_row(e, "members", 4, |v, _| v[col] = value);
        });
        f.refused(&p, &["data/members.ndjson", "row 5", &who, rule])
            .await;
    }
}

async fn entries_that_break_the_reversal_and_organization_rules_fail_plain_verify(store: &Store) {
    let f = fixture(store).await;
    // An entry that reverses itself.
    let p = f.rezip("self-reversal.zip", |e| {
        edit_row(e, "collections", 5, |v, _| {
            v["reversal_of"] = v["id"].clone()
        });
    });
    f.refused(&p, &["data/collections.ndjson", "row 6", "reverses itself"])
        .await;
    // Two reversals of one entry.
    let p = f.rezip("two-reversals.zip", |e| {
        let target = {
            let text = String::from_utf8(data_mut(e, "data/collections.ndjson").clone()).unwrap();
            let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
            v["id"].clone()
        };
        edit_row(e, "collections", 7, |v, _| {
            v["reversal_of"] = target.clone()
        });
        edit_row(e, "collections", 8, |v, _| {
            v["reversal_of"] = target.clone()
        });
    });
    f.refused(&p, &["data/collections.ndjson", "row 9", "reversed twice"])
        .await;
    // An entry filed under another organization than its member's.
    let mut who = String::new();
    let p = f.rezip("other-org.zip", |e| {
        let text = String::from_utf8(data_mut(e, "data/organizations.ndjson").clone()).unwrap();
        let orgs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(orgs.len() >= 2, "the fixture has two organizations");
        let ctext = String::from_utf8(data_mut(e, "data/collections.ndjson").clone()).unwrap();
        let c: serde_json::Value = serde_json::from_str(ctext.lines().next().unwrap()).unwrap();
        let other = orgs.iter().find(|o| o["id"] != c["org_id"]).unwrap()["id"].clone();
        let mtext = String::from_utf8(data_mut(e, "data/members.ndjson").clone()).unwrap();
        let mi = mtext
            .lines()
            .position(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"] == c["member_id"]
            })
            .unwrap();
        who = member_label(e, mi);
        edit_row(e, "collections", 0, |v, _| {
            v["org_id"] = other;
            v["worker_id"] = serde_json::Value::Null;
        });
    });
    f.refused(
        &p,
        &[
            "data/collections.ndjson",
            "row 1",
            &who,
            "the member belongs to",
        ],
    )
    .await;
}

/// The index of the first row of `table` for which `f` holds.
fn row_where(
    e: &[(String, Vec<u8>)],
    table: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> usize {
    let (_, bytes) = e
        .iter()
        .find(|(n, _)| n == &format!("data/{table}.ndjson"))
        .unwrap();
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .position(|v| f(&v))
        .unwrap_or_else(|| panic!("no such row in {table}"))
}

async fn running_balances_that_disagree_with_the_entries_fail_plain_verify(store: &Store) {
    let f = fixture(store).await;
    // A loan's paid, off by one poisha (its control total fixed to match).
    let p = f.rezip("loan-paid.zip", |e| {
        let i = row_where(e, "loans", |v| v["paid"].as_i64().unwrap() > 0);
        edit_row(e, "loans", i, |v, _| {
            v["paid"] = (v["paid"].as_i64().unwrap() + 1).into()
        });
    });
    f.refused(
        &p,
        &["loan cycle", "running balance says", "the entries give"],
    )
    .await;
    // A savings account's deposits.
    let p = f.rezip("savings-deposited.zip", |e| {
        let i = row_where(e, "savings_accounts", |v| {
            v["deposited"].as_i64().unwrap() > 0
        });
        edit_row(e, "savings_accounts", i, |v, _| {
            v["deposited"] = (v["deposited"].as_i64().unwrap() + 100).into()
        });
    });
    f.refused(
        &p,
        &[
            "data/savings_accounts.ndjson",
            "the savings account of member",
            "running balance says deposited",
        ],
    )
    .await;
    // A savings account's last paid day.
    let p = f.rezip("savings-last-paid.zip", |e| {
        let i = row_where(e, "savings_accounts", |v| !v["last_paid_on"].is_null());
        edit_row(e, "savings_accounts", i, |v, _| {
            v["last_paid_on"] = "2020-01-01".into()
        });
    });
    f.refused(&p, &["last paid on 2020-01-01", "the entries give"])
        .await;
    // A loan payment that names no loan.
    let p = f.rezip("no-loan.zip", |e| {
        let i = row_where(e, "collections", |v| {
            v["loan_paisa"].as_i64().unwrap() > 0 && v["reversal_of"].is_null()
        });
        edit_row(e, "collections", i, |v, _| {
            v["loan_id"] = serde_json::Value::Null
        });
    });
    f.refused(&p, &["data/collections.ndjson", "names no loan"])
        .await;
    // An active loan with a closing day.
    let p = f.rezip("active-closed.zip", |e| {
        let i = row_where(e, "loans", |v| v["status"] == "active");
        edit_row(e, "loans", i, |v, _| v["closed_on"] = "2020-01-01".into());
    });
    f.refused(&p, &["data/loans.ndjson", "closing day"]).await;
}
