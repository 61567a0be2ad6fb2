//! What the command line says when things go wrong (the command-line contract: the README's
//! exit codes; issue 11 item 7), through the real binary on both backends: a full disk is one
//! sentence (with `--json`, one JSON document) naming the file, the space and what to do;
//! corrupt Deflate data is called corrupt and a real ZIP bomb a bomb; a FIFO or a folder given
//! as a file is refused at once; a closed stdout pipe ends the program quietly.

mod backup_support;
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backup_support::*;
use serde_json::Value;
use somiti::db::Store;

// ---- a database the binary can use, on each backend -----------------------------------

/// A data directory (config, backups) and a database with demo data and the admin `boss`.
struct Db {
    backend: &'static str,
    url: String,
    dir: tempfile::TempDir,
    pg: bool,
}

impl Db {
    /// `somiti --data-dir DIR --database URL` acting as `boss`.
    fn cli(&self) -> assert_cmd::Command {
        let mut c = somiti();
        c.arg("--data-dir")
            .arg(self.dir.path())
            .arg("--database")
            .arg(&self.url)
            .env("SOMITI_OPERATOR", "boss")
            .env_remove("RUST_BACKTRACE")
            .timeout(Duration::from_secs(120));
        c
    }

    /// The same, as a plain `std::process::Command` (for streaming stdout).
    fn command(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("somiti"));
        c.arg("--data-dir")
            .arg(self.dir.path())
            .arg("--database")
            .arg(&self.url)
            .env("SOMITI_OPERATOR", "boss")
            .env_remove("SOMITI_DATABASE_URL")
            .env_remove("SOMITI_CONFIG")
            .env_remove("SOMITI_DATA_DIR")
            .env_remove("RUST_BACKTRACE");
        c
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("config.toml"), text).unwrap();
    }
}

/// Demo data: `members` members over `days` days in two organizations.
async fn fill(store: &Store, members: u32, days: u32) {
    binary_admin(store, "boss").await;
    somiti::demo::generate(
        store,
        "test",
        &somiti::demo::DemoOptions {
            members,
            days,
            orgs: 2,
            seed: 5,
        },
        today(),
    )
    .await
    .unwrap();
}

/// Run `f` on SQLite, then on PostgreSQL when a server is configured (a failure under
/// CI=true when it is not, as everywhere in these tests).
async fn each_backend(members: u32, days: u32, f: impl AsyncFn(&Db)) {
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("somiti.db");
        let store = Store::open_sqlite(&path).await.unwrap();
        fill(&store, members, days).await;
        store.close().await;
        let db = Db {
            backend: "sqlite",
            url: format!("sqlite://{}", path.display()),
            dir,
            pg: false,
        };
        f(&db).await;
    }
    if let Some(url) = common::fresh_pg_url().await {
        let store = Store::open(&url).await.unwrap();
        fill(&store, members, days).await;
        store.close().await;
        let db = Db {
            backend: "postgres",
            url: url.clone(),
            dir: tempfile::tempdir().unwrap(),
            pg: true,
        };
        f(&db).await;
        common::drop_pg_database(&url).await;
    }
}

fn run(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// stderr of a failure with `--json`: exactly one JSON document and nothing else.
fn one_json_document(stderr: &str) -> Value {
    let docs: Vec<Value> = serde_json::Deserializer::from_str(stderr)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stderr is not only JSON ({e}): {stderr:?}"));
    assert_eq!(docs.len(), 1, "exactly one JSON document: {stderr:?}");
    docs.into_iter().next().unwrap()
}

/// stderr of a failure without `--json`: one line, `somiti: …`, nothing from a
/// dependency's Debug output.
fn one_sentence(stderr: &str) -> &str {
    let s = stderr.trim_end();
    assert_eq!(s.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(s.starts_with("somiti: "), "{stderr:?}");
    for debris in ["ZipWriter", "Io(", "Os {", "kind:", "panicked", "backtrace"] {
        assert!(!s.contains(debris), "{debris:?} on stderr: {stderr:?}");
    }
    s
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A capability this machine lacks: a failure under CI=true, a note elsewhere.
fn missing_capability(why: &str) {
    if under_ci() {
        panic!("{why}: under CI=true this test must run (CI runs as root, like .ci/run)");
    }
    eprintln!("note: skipping: {why}");
}

// ---- a full disk ------------------------------------------------------------------------

/// A small tmpfs mounted on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                missing_capability(&format!(
                    "cannot mount a tmpfs (root needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
                None
            }
            Err(e) => {
                missing_capability(&format!("cannot run mount: {e}"));
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_full_disk_is_one_sentence_naming_the_file_the_space_and_what_to_do() {
    // About 6 MiB of archive: three times what the 2 MiB disk holds.
    each_backend(6000, 40, async |db| {
        let Some(disk) = Tmpfs::mount("2m") else {
            return;
        };
        let store = disk.path().join("backups");
        db.write_config(&format!(
            "[backup]\ndir = {:?}\n",
            store.display().to_string()
        ));

        // Plain: one sentence.
        let (rc, out, err) = run(db.cli().args(["backup", "create"]));
        eprintln!("{}: {err}", db.backend);
        assert_eq!(rc, 1, "{}: exit 1 on a full disk: {out} {err}", db.backend);
        let s = one_sentence(&err);
        assert!(s.contains("the disk is full"), "{s}");
        assert!(
            s.contains(&store.display().to_string()) && s.contains(".zip.partial"),
            "names the file: {s}"
        );
        assert!(s.contains("it needs "), "names the space needed: {s}");
        assert!(s.contains("MiB"), "in MiB: {s}");
        assert!(
            s.contains("free space") && s.contains("backup.dir"),
            "says what to do: {s}"
        );
        assert!(
            names_in(&store).iter().all(|n| !n.ends_with(".partial")),
            "no partial file left: {:?}",
            names_in(&store)
        );

        // --json: exactly one JSON document.
        let (rc, _, err) = run(db.cli().args(["--json", "backup", "create"]));
        assert_eq!(rc, 1, "{err}");
        let v = one_json_document(&err);
        assert_eq!(v["error"]["kind"], "disk_full", "{v}");
        assert_eq!(v["error"]["exit_code"], 1, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("the disk is full") && m.contains(".zip.partial") && m.contains("it needs "),
            "{m}"
        );
        assert!(!m.contains("ZipWriter") && !m.contains("Io("), "{m}");
        assert!(names_in(&store).iter().all(|n| !n.ends_with(".partial")));

        // The catalogue has both runs as failed, with the sentence.
        let (rc, out, err) = run(db.cli().args(["--json", "backup", "list"]));
        assert_eq!(rc, 0, "{err}");
        let list: Value = serde_json::from_str(&out).unwrap();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        for e in list {
            assert_eq!(e["status"], "failed", "{e}");
            assert!(
                e["error"].as_str().unwrap().contains("the disk is full"),
                "{e}"
            );
        }

        // With a previous backup of the scope at hand, its size is the estimate.
        let big = tempfile::tempdir().unwrap();
        let big_store = big.path().join("backups");
        db.write_config(&format!(
            "[backup]\ndir = {:?}\n",
            big_store.display().to_string()
        ));
        let (rc, _, err) = run(db.cli().args(["backup", "create"]));
        assert_eq!(rc, 0, "{err}");
        let done: Vec<String> = names_in(&big_store)
            .into_iter()
            .filter(|n| n.ends_with(".zip"))
            .collect();
        assert_eq!(done.len(), 1, "{done:?}");
        let size = std::fs::metadata(big_store.join(&done[0])).unwrap().len();
        assert!(
            size > 3 << 20,
            "the archive ({size} bytes) overfills the 2 MiB disk"
        );
        // It does not fit on the small disk; a sparse stand-in of the same size does.
        let f = std::fs::File::create(store.join(&done[0])).unwrap();
        f.set_len(size).unwrap();
        drop(f);
        db.write_config(&format!(
            "[backup]\ndir = {:?}\n",
            store.display().to_string()
        ));
        let (rc, _, err) = run(db.cli().args(["backup", "create"]));
        assert_eq!(rc, 1, "{err}");
        let s = one_sentence(&err);
        let mib = format!("about {:.1} MiB", size as f64 / (1024.0 * 1024.0));
        assert!(
            s.contains(&mib) && s.contains("the size of the last backup of this scope"),
            "{mib}: {s}"
        );
        drop(disk);
    })
    .await;
}

// ---- corrupt Deflate data and ZIP bombs --------------------------------------------------

/// A completed backup taken through the binary into `<data dir>/backups`; its path.
fn take_backup(db: &Db) -> PathBuf {
    let dir = db.dir.path().join("backups");
    db.write_config(&format!(
        "[backup]\ndir = {:?}\n",
        dir.display().to_string()
    ));
    let (rc, _, err) = run(db.cli().args(["backup", "create"]));
    assert_eq!(rc, 0, "{err}");
    let zip = names_in(&dir)
        .into_iter()
        .find(|n| n.ends_with(".zip"))
        .unwrap();
    dir.join(zip)
}

#[tokio::test]
async fn a_flipped_byte_in_deflate_data_is_called_corrupt_not_a_zip_bomb() {
    each_backend(300, 20, async |db| {
        let good = take_backup(db);
        let bytes = std::fs::read(&good).unwrap();
        let mut z = zip::ZipArchive::new(std::fs::File::open(&good).unwrap()).unwrap();
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
        let work = tempfile::tempdir().unwrap();
        let mut corrupt = 0;
        let mut overflows = 0;
        for name in ["data/members.ndjson", "data/collections.ndjson"] {
            let (_, start, len) = spans.iter().find(|s| s.0 == name).unwrap();
            let flip = |at: u64| {
                let mut b = bytes.clone();
                b[(start + at) as usize] ^= 0x5a;
                b
            };
            // The same flip as tests/backup_bad_input.rs, at a few places in the entry;
            // and the first flips (one byte in 64) that make the zip crate inflate past
            // the declared size, the case that was called "a ZIP bomb?".
            let mut places = vec![len / 2, len / 3, len * 3 / 4];
            let past_size: Vec<u64> = (1..*len)
                .step_by(64)
                .filter(|at| inflates_past_declared_size(&flip(*at), name))
                .take(2)
                .collect();
            overflows += past_size.len();
            places.extend(past_size);
            for at in places {
                let b = flip(at);
                let p = work.path().join(format!("flipped-{at}.zip"));
                std::fs::write(&p, &b).unwrap();
                let (rc, _, err) = run(db.cli().args(["backup", "verify"]).arg(&p));
                assert_eq!(rc, 3, "{}: {err}", db.backend);
                let s = one_sentence(&err);
                assert!(!s.contains("bomb"), "{name} at {at}: {s}");
                assert!(s.contains(name), "{s}");
                // Damage is called damage: corrupt (the inflater fails, or what it turns
                // out is not what the header declares), or a failed CRC.
                assert!(
                    s.contains("is corrupt (its compressed data does not inflate")
                        || s.contains("CRC check failed: the data is damaged"),
                    "{name} at {at}: {s}"
                );
                if s.contains("is corrupt") {
                    assert!(s.contains("the archive is damaged"), "{s}");
                    corrupt += 1;
                }
            }
        }
        // Some of these flips break the Deflate stream itself (not only the CRC): those
        // were "a ZIP bomb?" or "cannot be read: corrupt deflate stream" before.
        assert!(corrupt > 0, "{}: no flip reached the inflater", db.backend);
        assert!(
            overflows > 0,
            "{}: no flip inflated past its size",
            db.backend
        );
    })
    .await;
}

/// Does the zip crate, reading entry `name` of the archive `bytes`, stop at its size
/// limit ("larger than its declared uncompressed size")?
fn inflates_past_declared_size(bytes: &[u8], name: &str) -> bool {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    let Ok(mut e) = z.by_name(name) else {
        return false;
    };
    match std::io::copy(&mut e, &mut std::io::sink()) {
        Err(e) => e.to_string().contains("larger than its declared"),
        Ok(_) => false,
    }
}

#[tokio::test]
async fn an_entry_that_inflates_beyond_its_declared_size_is_still_a_zip_bomb() {
    each_backend(60, 6, async |db| {
        let good = take_backup(db);
        let work = tempfile::tempdir().unwrap();
        let mut e = entries(&good);
        let mut m = manifest_of(&e);
        for t in m["tables"].as_array_mut().unwrap() {
            if t["name"] == "day_closes" {
                t["bytes"] = 1000.into();
            }
        }
        set_manifest(&mut e, &m);
        e.iter_mut()
            .find(|(n, _)| n == "data/day_closes.ndjson")
            .unwrap()
            .1 = vec![b'\n'; 64 << 20];
        let p = work.path().join("bomb.zip");
        write_zip(&p, &e);
        let mut bytes = std::fs::read(&p).unwrap();
        patch_declared_size(&mut bytes, "data/day_closes.ndjson", 1000);
        std::fs::write(&p, &bytes).unwrap();
        let (rc, _, err) = run(db.cli().args(["backup", "verify"]).arg(&p));
        assert_eq!(rc, 3, "{err}");
        let s = one_sentence(&err);
        assert!(
            s.contains(
                "entry data/day_closes.ndjson inflates beyond its declared size (a ZIP bomb?)"
            ),
            "{s}"
        );
        assert!(!s.contains("corrupt"), "{s}");
    })
    .await;
}

// ---- paths that are not files -----------------------------------------------------------

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// `args` must fail at once (well within 10 s; it hung before) with exit 1 and a sentence
/// naming the path and what it is.
fn refused_at_once(db: &Db, args: &[&std::ffi::OsStr], what: &str) {
    for json in [false, true] {
        let t0 = Instant::now();
        let mut c = db.cli();
        c.timeout(Duration::from_secs(10));
        if json {
            c.arg("--json");
        }
        let (rc, _, err) = run(c.args(args));
        assert!(t0.elapsed() < Duration::from_secs(10), "{args:?} hung");
        assert_eq!(rc, 1, "{}: {args:?}: {err}", db.backend);
        let m = if json {
            let v = one_json_document(&err);
            assert_eq!(v["error"]["kind"], "invalid", "{v}");
            v["error"]["message"].as_str().unwrap().to_string()
        } else {
            one_sentence(&err).to_string()
        };
        assert!(m.contains(what), "{args:?}: {m}");
        assert!(m.contains("not a file"), "{args:?}: {m}");
    }
}

#[tokio::test]
async fn a_fifo_or_a_folder_given_as_a_file_is_refused_at_once() {
    each_backend(20, 3, async |db| {
        let work = tempfile::tempdir().unwrap();
        let fifo = work.path().join("backup.zip");
        mkfifo(&fifo);
        let folder = work.path().join("folder.zip");
        std::fs::create_dir(&folder).unwrap();
        let csv = work.path().join("members.csv");
        mkfifo(&csv);
        for (p, what) in [(&fifo, "named pipe (FIFO)"), (&folder, "a folder")] {
            let p = p.as_os_str();
            refused_at_once(db, &["backup".as_ref(), "verify".as_ref(), p], what);
            refused_at_once(
                db,
                &["backup".as_ref(), "verify".as_ref(), p, "--drill".as_ref()],
                what,
            );
            refused_at_once(
                db,
                &["backup".as_ref(), "restore".as_ref(), p, "--yes".as_ref()],
                what,
            );
            refused_at_once(
                db,
                &[
                    "backup".as_ref(),
                    "restore".as_ref(),
                    p,
                    "--dry-run".as_ref(),
                ],
                what,
            );
        }
        refused_at_once(
            db,
            &[
                "import".as_ref(),
                "members".as_ref(),
                csv.as_os_str(),
                "--org".as_ref(),
                "SOM1".as_ref(),
            ],
            "named pipe (FIFO)",
        );
        refused_at_once(
            db,
            &[
                "import".as_ref(),
                "template".as_ref(),
                "--out".as_ref(),
                csv.as_os_str(),
            ],
            "named pipe (FIFO)",
        );
        // A download onto a FIFO: refused at once too (it exists), never opened.
        let good = take_backup(db);
        let (rc, out, _) = run(db.cli().args(["--json", "backup", "list"]));
        assert_eq!(rc, 0);
        let list: Value = serde_json::from_str(&out).unwrap();
        let id = list[0]["id"].as_str().unwrap().to_string();
        assert!(good.exists());
        let t0 = Instant::now();
        let mut c = db.cli();
        c.timeout(Duration::from_secs(10));
        let (rc, _, err) = run(c.args(["backup", "download", &id]).arg(&fifo));
        assert!(t0.elapsed() < Duration::from_secs(10), "download hung");
        assert_eq!(rc, 1, "{err}");
        one_sentence(&err);
    })
    .await;
}

// ---- a closed stdout --------------------------------------------------------------------

/// Run `args`, read one line of its stdout, close the pipe, and wait: the program must end
/// quietly (exit 0, nothing on stderr), not panic with exit 101.
fn ends_quietly_on_a_closed_pipe(db: &Db, args: &[&str]) {
    let mut child = db
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed something");
    drop(out);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{args:?} did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{}: {args:?}: {err}", db.backend);
    assert!(!err.contains("backtrace"), "{args:?}: {err}");
    assert_eq!(err, "", "nothing on stderr: {args:?}");
    assert_eq!(status.code(), Some(0), "{}: {args:?}: exit 0", db.backend);
}

#[tokio::test]
async fn writing_into_a_closed_pipe_ends_the_program_quietly() {
    // 3,000 members: the list is far more than a pipe holds (64 KiB), so the program is
    // still writing when the reader goes.
    each_backend(3000, 2, async |db| {
        for org in ["SOM1", "SOM2"] {
            ends_quietly_on_a_closed_pipe(db, &["member", "list", "--org", org, "--limit", "5000"]);
            ends_quietly_on_a_closed_pipe(
                db,
                &["--json", "member", "list", "--org", org, "--limit", "5000"],
            );
        }
        let _ = db.pg;
    })
    .await;
}

// ---- usage errors under --json ------------------------------------------------------------

#[test]
fn a_usage_error_with_json_is_one_json_document_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--json", "member", "lisst"][..],
        &["--json", "backup", "verify"][..],
        &["--json", "member"][..],
    ] {
        let out = somiti()
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let v = one_json_document(&err);
        assert_eq!(v["error"]["kind"], "usage", "{v}");
        assert_eq!(v["error"]["exit_code"], 2, "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    }
    // Without --json clap's own text, still exit 2.
    let out = somiti().args(["member", "lisst"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
