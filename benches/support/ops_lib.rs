//! Whole-operation benchmarks against the tools a cooperative would otherwise use
//! (`sqlite3 .dump | gzip`, `pg_dump`/`pg_restore`), measured side by side in one run on the
//! same demo ledger. Shared by `benches/ops.rs` (the real run) and a smoke test.
//!
//! Every operation runs as its own process, so its wall time and its peak memory (the
//! child's `ru_maxrss` from `wait4`) are what an admin would see. The daily review and the
//! members page are core calls, timed in-process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_somiti");

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub members: u32,
    pub days: u32,
    /// Repetitions per operation; the median is reported.
    pub runs: usize,
    /// Also measure peak memory on a ledger this many times larger (0: skip).
    pub scale: u32,
    pub pg_url: Option<String>,
    pub out: PathBuf,
    /// The off-site copy rows (None: skipped).
    pub offsite: Option<OffsiteBench>,
    /// The review and the register at this size too, (members, days); members 0: skipped.
    pub big: (u32, u32),
}

/// The off-site copy against `curl -T` on a moto server: each upload runs in a child
/// process (this program started again with [`UPLOAD_CHILD_ENV`] set), so its peak memory
/// is its own.
#[derive(Debug, Clone)]
pub struct OffsiteBench {
    /// The program that does one upload when [`UPLOAD_CHILD_ENV`] is set ([`upload_child`]).
    pub exe: PathBuf,
    /// Its arguments (a test binary's `--exact NAME`).
    pub args: Vec<String>,
    /// Archive-like files of these sizes (random bytes) are copied besides the benchmark's
    /// own archive.
    pub sizes_mib: Vec<u64>,
}

impl BenchConfig {
    pub fn from_env() -> BenchConfig {
        let num = |k: &str, d: u32| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        BenchConfig {
            members: num("SOMITI_BENCH_MEMBERS", 3_250),
            days: num("SOMITI_BENCH_DAYS", 365),
            runs: num("SOMITI_BENCH_RUNS", 3) as usize,
            scale: num("SOMITI_BENCH_SCALE", 4),
            // 10,000 members over a year: about 3 million collections
            big: (
                num("SOMITI_BENCH_BIG_MEMBERS", 10_000),
                num("SOMITI_BENCH_BIG_DAYS", 400),
            ),
            pg_url: std::env::var("SOMITI_TEST_PG_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            out: PathBuf::from(
                std::env::var("SOMITI_BENCH_OUT")
                    .unwrap_or_else(|_| "target/bench/ops.json".into()),
            ),
            offsite: Some(OffsiteBench {
                exe: std::env::current_exe().expect("the benchmark's own path"),
                args: vec![],
                sizes_mib: std::env::var("SOMITI_BENCH_OFFSITE_MIB")
                    .unwrap_or_else(|_| "32,256".into())
                    .split(',')
                    .filter_map(|v| v.trim().parse().ok())
                    .filter(|v| *v > 0)
                    .collect(),
            }),
        }
    }
}

/// Set in the child that does one off-site copy: JSON `{endpoint, bucket, file, path}`.
pub const UPLOAD_CHILD_ENV: &str = "SOMITI_BENCH_UPLOAD";

/// In the child the benchmark starts: one off-site copy as the copier makes it
/// (`Target::upload`, streamed in parts, then `Target::read_back`, hashed), checked. True
/// when this process was such a child (the caller then exits); false otherwise.
pub fn upload_child() -> bool {
    let Ok(spec) = std::env::var(UPLOAD_CHILD_ENV) else {
        return false;
    };
    let v: Value = serde_json::from_str(&spec).expect("upload spec");
    let cfg: somiti::config::OffsiteConfig = serde_json::from_value(serde_json::json!({
        "name": "bench",
        "url": format!("s3://{}/somiti", v["bucket"].as_str().unwrap()),
        "endpoint": v["endpoint"],
        "region": "us-east-1",
        "allow_http": true,
    }))
    .expect("offsite config");
    let path = PathBuf::from(v["path"].as_str().unwrap());
    let file = v["file"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let t = somiti::backup::offsite::Target::open(&cfg).expect("target");
        let up = t.upload(&path, &file, &|_| {}).await.expect("upload");
        let back = t.read_back(&file).await.expect("read back");
        assert_eq!(up, back, "the copy read back differs from the file");
    });
    true
}

/// A moto S3 server with authentication off (no INITIAL_NO_AUTH_ACTION_COUNT), so curl's
/// unsigned PUT is accepted as the signed one is.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Option<Moto> {
        let have = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have {
            return None;
        }
        // A port another process takes between our probe and moto's bind would leave us
        // talking to someone else's server: moto must still be running once it listens.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            let mut child = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting moto_server");
            let started = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "moto_server did not listen on {port} within 60 s"
                );
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(300));
            if child.try_wait().ok().flatten().is_some() {
                continue;
            }
            return Some(Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
            });
        }
        panic!("moto_server did not start on a free port in 5 tries");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mib` MiB of incompressible bytes (xorshift), like an encrypted or deflated archive.
fn random_file(path: &Path, mib: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ mib;
    let mut block = vec![0u8; 1024 * 1024];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
}

/// One size of the off-site rows: somiti's copy and curl's PUT of the same file.
#[derive(Debug, Clone, Serialize)]
pub struct OffsiteSize {
    pub label: String,
    pub bytes: u64,
    pub somiti_s: f64,
    pub somiti_peak_mib: f64,
    pub curl_s: f64,
    pub curl_peak_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OffsiteScale {
    pub sizes: Vec<OffsiteSize>,
    /// The largest file's upload peaks within 1.2× of the smallest multi-part one's.
    pub holds: bool,
}

/// The off-site rows: for the benchmark's archive and each size, somiti's copy (upload +
/// read-back, in a child) against `curl -T FILE` to the same moto server.
fn offsite_rows(
    ob: &OffsiteBench,
    w: &Path,
    archive: &Path,
    runs: usize,
    rows: &mut Vec<Row>,
) -> Option<OffsiteScale> {
    let Some(moto) = Moto::start() else {
        eprintln!(
            "moto_server is not installed: the off-site copy rows are left out (pip install \"moto[server]\")"
        );
        return None;
    };
    let bucket = "somiti-bench";
    let made = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT"])
        .arg(format!("{}/{bucket}", moto.endpoint))
        .stdout(Stdio::null())
        .status()
        .expect("curl");
    assert!(made.success(), "creating the bucket with curl -X PUT");
    let mut files = vec![(
        format!(
            "benchmark archive ({:.1} MiB)",
            std::fs::metadata(archive).unwrap().len() as f64 / 1048576.0
        ),
        archive.to_path_buf(),
    )];
    for mib in &ob.sizes_mib {
        let p = w.join(format!("offsite-{mib}mib.zip"));
        random_file(&p, *mib);
        files.push((format!("{mib} MiB of random bytes"), p));
    }
    let mut sizes = Vec::new();
    for (label, path) in files {
        let bytes = std::fs::metadata(&path).unwrap().len();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let spec = serde_json::json!({
            "endpoint": moto.endpoint, "bucket": bucket, "file": file,
            "path": path.display().to_string(),
        })
        .to_string();
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for i in 0..runs {
            ours.push(measure(
                Command::new(&ob.exe)
                    .args(&ob.args)
                    .env(UPLOAD_CHILD_ENV, &spec)
                    .env("AWS_ACCESS_KEY_ID", "bench")
                    .env("AWS_SECRET_ACCESS_KEY", "bench"),
            ));
            theirs.push(measure(
                Command::new("curl")
                    .args(["-sS", "-f", "-o", "/dev/null", "-T"])
                    .arg(&path)
                    // a new key each time: moto refuses an unsigned PUT over an object
                    .arg(format!("{}/{bucket}/curl/{i}/{file}", moto.endpoint)),
            ));
        }
        let a = Measured::of(&ours, 0);
        let b = Measured::of(&theirs, 0);
        sizes.push(OffsiteSize {
            label: label.clone(),
            bytes,
            somiti_s: a.median_ms / 1000.0,
            somiti_peak_mib: a.peak_rss_mib,
            curl_s: b.median_ms / 1000.0,
            curl_peak_mib: b.peak_rss_mib,
        });
        rows.push(row(
            &format!("off-site copy, {label}"),
            a,
            Some(("curl -T (one PUT, no read-back)", b)),
            None,
        ));
    }
    // Flat memory: the largest copy against the smallest that is uploaded in several parts.
    let multipart: Vec<&OffsiteSize> = sizes
        .iter()
        .filter(|s| s.bytes > 2 * 8 * 1024 * 1024)
        .collect();
    let holds = match (
        multipart.iter().min_by_key(|s| s.bytes),
        multipart.iter().max_by_key(|s| s.bytes),
    ) {
        (Some(small), Some(big)) => big.somiti_peak_mib <= 1.2 * small.somiti_peak_mib,
        _ => true,
    };
    if let Some(last) = rows.last_mut()
        && multipart.len() > 1
    {
        last.target = Some("peak ≤ 1.2× smaller".into());
        last.holds = Some(holds);
    }
    Some(OffsiteScale { sizes, holds })
}

/// One process run: wall time and the peak resident memory of the process (and of the
/// children it waited for, as `time` counts a pipeline).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub max_rss_kib: u64,
}

// The child is reaped by wait4 below, which clippy cannot see.
#[allow(clippy::zombie_processes)]
pub fn measure(cmd: &mut Command) -> Sample {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let started = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage point at live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(r, pid, "wait4 on {cmd:?}");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("{cmd:?} failed ({status}): {err}");
    }
    Sample {
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub median_ms: f64,
    pub rows_per_s: f64,
    pub peak_rss_mib: f64,
}

impl Measured {
    fn of(samples: &[Sample], rows: u64) -> Measured {
        let m = median(samples.iter().map(|s| s.wall).collect());
        let secs = m.as_secs_f64().max(1e-9);
        Measured {
            median_ms: secs * 1000.0,
            rows_per_s: rows as f64 / secs,
            peak_rss_mib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub operation: String,
    pub somiti: Measured,
    pub peer_name: Option<String>,
    pub peer: Option<Measured>,
    /// somiti time / peer time
    pub ratio: Option<f64>,
    pub target: Option<String>,
    pub holds: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub members: u32,
    pub days: u32,
    pub collections: u64,
    pub total_rows: u64,
    pub runs: usize,
    pub rows: Vec<Row>,
    pub memory_scale: Option<MemoryScale>,
    pub offsite: Option<OffsiteScale>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryScale {
    pub factor: u32,
    pub total_rows: u64,
    /// operation → (peak MiB at 1×, peak MiB at factor×, ratio)
    pub peaks: Vec<(String, f64, f64, f64)>,
    pub holds: bool,
}

pub fn somiti(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir").arg(dir);
    c.env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_OPERATOR")
        .env_remove("SOMITI_CONFIG");
    c
}

fn output(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script);
    c
}

fn sqlite_scalar(db: &Path, sql: &str) -> u64 {
    output(Command::new("sqlite3").arg(db).arg(sql))
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A ledger in a fresh data dir: init plus the demo generator.
fn make_ledger(dir: &Path, members: u32, days: u32) {
    output(somiti(dir).args(["init", "--org-code", "BENCH", "--org-name", "Bench Somiti"]));
    output(somiti(dir).args([
        "demo",
        "--members",
        &members.to_string(),
        "--days",
        &days.to_string(),
        "--seed",
        "11",
    ]));
}

fn newest_backup(dir: &Path, db: Option<&str>) -> (String, PathBuf, u64) {
    let mut c = somiti(dir);
    if let Some(u) = db {
        c.arg("--database").arg(u);
    }
    let v: Value = serde_json::from_str(&output(c.args(["backup", "list", "--json"]))).unwrap();
    let b = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "completed")
        .max_by_key(|e| e["created_at"].as_str().unwrap_or("").to_string())
        .cloned()
        .expect("a completed backup");
    let file = b["file"].as_str().unwrap();
    (
        b["id"].as_str().unwrap().to_string(),
        dir.join("backups").join(file),
        b["rows"].as_u64().unwrap_or(0),
    )
}

fn row(
    op: &str,
    somiti: Measured,
    peer: Option<(&str, Measured)>,
    target: Option<(&str, bool)>,
) -> Row {
    let ratio = peer
        .as_ref()
        .map(|(_, p)| somiti.median_ms / p.median_ms.max(1e-9));
    Row {
        operation: op.into(),
        somiti,
        peer_name: peer.as_ref().map(|(n, _)| n.to_string()),
        peer: peer.map(|(_, p)| p),
        ratio,
        target: target.map(|(t, _)| t.to_string()),
        holds: target.map(|(_, h)| h),
    }
}

/// Drop the databases the run made (their URLs).
async fn drop_pg(base: &str, urls: &[String]) {
    use sqlx::Connection;
    let Ok(mut c) = sqlx::PgConnection::connect(base).await else {
        return;
    };
    for u in urls {
        if let Some((_, name)) = u.rsplit_once('/') {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await;
        }
    }
}

async fn fresh_pg(base: &str) -> String {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to SOMITI_TEST_PG_URL");
    let name = format!("somiti_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .unwrap();
    let (head, _) = base.rsplit_once('/').expect("URL ends with /database");
    format!("{head}/{name}")
}

/// The in-process operations: the daily review of one date and the first members page.
async fn core_calls(db: &Path, runs: usize) -> (Measured, Measured, chrono::NaiveDate) {
    use somiti::access::Operator;
    use somiti::ledger::{member, org, review};
    let store = somiti::db::Store::open_sqlite(db).await.unwrap();
    let op = Operator::system();
    let o = org::list(&store).await.unwrap().remove(0);
    let mut date = o.today() - chrono::Duration::days(3);
    if !o.collection_days().is_collection_day(date) {
        date -= chrono::Duration::days(1);
    }
    let n = runs.max(5) * 4;
    let mut rv = Vec::new();
    let mut lines = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = review::daily(&store, &op, &o, date, None).await.unwrap();
        rv.push(Sample {
            wall: t.elapsed(),
            max_rss_kib: 0,
        });
        lines = r.lines.len() as u64;
    }
    let mut ml = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let q = member::MemberQuery {
            limit: 50,
            ..Default::default()
        };
        member::list(&store, &op, &o, &q).await.unwrap();
        ml.push(Sample {
            wall: t.elapsed(),
            max_rss_kib: 0,
        });
    }
    store.close().await;
    (Measured::of(&rv, lines), Measured::of(&ml, 50), date)
}

/// What sqlite3 does for the same review: the members, the sums before the date, the day.
fn review_sql(date: chrono::NaiveDate) -> String {
    format!(
        "SELECT COUNT(*) FROM members WHERE org_id = 1 AND status = 'active' AND joined_on <= '{date}'; \
         SELECT member_id, SUM(CASE WHEN reversal_of IS NULL THEN loan_paisa ELSE -loan_paisa END), \
         SUM(CASE WHEN reversal_of IS NULL THEN savings_paisa ELSE -savings_paisa END) FROM collections \
         WHERE org_id = 1 AND collected_on < '{date}' GROUP BY member_id; \
         SELECT * FROM collections WHERE org_id = 1 AND collected_on = '{date}' ORDER BY id;"
    )
}

/// Backup, verify and restore on SQLite, with peaks; used at 1× and at the scale factor.
struct SqliteOps {
    backup: Vec<Sample>,
    verify: Vec<Sample>,
    drill: Vec<Sample>,
    restore: Vec<Sample>,
    archive: PathBuf,
    rows: u64,
}

fn sqlite_ops(work: &Path, dir: &Path, runs: usize) -> SqliteOps {
    let mut backup = Vec::new();
    for _ in 0..runs {
        backup.push(measure(somiti(dir).args(["backup", "create"])));
    }
    let (id, archive, rows) = newest_backup(dir, None);
    let mut verify = Vec::new();
    let mut drill = Vec::new();
    for _ in 0..runs {
        verify.push(measure(somiti(dir).args(["backup", "verify", &id])));
        drill.push(measure(
            somiti(dir).args(["backup", "verify", &id, "--drill"]),
        ));
    }
    let mut restore = Vec::new();
    for i in 0..runs {
        let target = work.join(format!(
            "restore-{}-{i}",
            dir.file_name().unwrap().to_string_lossy()
        ));
        restore.push(measure(
            somiti(&target)
                .arg("backup")
                .arg("restore")
                .arg(&archive)
                .arg("--yes"),
        ));
        let _ = std::fs::remove_dir_all(&target);
    }
    SqliteOps {
        backup,
        verify,
        drill,
        restore,
        archive,
        rows,
    }
}

pub async fn run(cfg: &BenchConfig) -> Report {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let dir = w.join("ledger");
    eprintln!("generating {} members × {} days …", cfg.members, cfg.days);
    make_ledger(&dir, cfg.members, cfg.days);
    let db = dir.join("somiti.db");
    let collections = sqlite_scalar(&db, "SELECT COUNT(*) FROM collections");
    eprintln!(
        "{collections} collections; measuring with {} runs each",
        cfg.runs
    );
    let mut rows = Vec::new();

    // --- SQLite: backup, verify, restore against sqlite3 .dump | gzip
    let ops = sqlite_ops(w, &dir, cfg.runs);
    let total = ops.rows;
    let dump = w.join("peer.sql.gz");
    let mut peer_backup = Vec::new();
    for _ in 0..cfg.runs {
        peer_backup.push(measure(&mut sh(&format!(
            "sqlite3 '{}' .dump | gzip -1 > '{}'",
            db.display(),
            dump.display()
        ))));
    }
    let mut peer_verify = Vec::new();
    let mut peer_restore = Vec::new();
    for i in 0..cfg.runs {
        peer_verify.push(measure(&mut sh(&format!("gzip -t '{}'", dump.display()))));
        let new = w.join(format!("peer-restore-{i}.db"));
        peer_restore.push(measure(&mut sh(&format!(
            "gunzip -c '{}' | sqlite3 '{}'",
            dump.display(),
            new.display()
        ))));
        let _ = std::fs::remove_file(&new);
    }
    let b = Measured::of(&ops.backup, total);
    let pb = Measured::of(&peer_backup, total);
    let holds = b.median_ms <= pb.median_ms / 2.0;
    rows.push(row(
        "backup (SQLite)",
        b.clone(),
        Some(("sqlite3 .dump | gzip -1", pb)),
        Some(("≤ 0.5× peer", holds)),
    ));
    // The same backup without the archive's optional CSV copies (`backup.include_csv`):
    // the data files alone, which is what the peer writes.
    let config = dir.join("config.toml");
    let with_csv = std::fs::read_to_string(&config).expect("the data dir's config.toml");
    assert!(
        with_csv.contains("include_csv = true"),
        "config.toml: {with_csv}"
    );
    std::fs::write(
        &config,
        with_csv.replace("include_csv = true", "include_csv = false"),
    )
    .unwrap();
    let mut data_only = Vec::new();
    for _ in 0..cfg.runs {
        data_only.push(measure(somiti(&dir).args(["backup", "create"])));
    }
    std::fs::write(&config, &with_csv).unwrap();
    let b2 = Measured::of(&data_only, total);
    let pb = Measured::of(&peer_backup, total);
    let holds = b2.median_ms <= pb.median_ms / 2.0;
    rows.push(row(
        "backup (SQLite), without CSV copies",
        b2,
        Some(("sqlite3 .dump | gzip -1", pb)),
        Some(("≤ 0.5× peer", holds)),
    ));
    let v = Measured::of(&ops.verify, total);
    rows.push(row(
        "verify",
        v,
        Some(("gzip -t", Measured::of(&peer_verify, total))),
        None,
    ));
    let d = Measured::of(&ops.drill, total);
    let drill_holds = d.median_ms <= 2.0 * b.median_ms;
    rows.push(row(
        "verify --drill",
        d,
        Some(("gzip -t", Measured::of(&peer_verify, total))),
        Some(("≤ 2× backup", drill_holds)),
    ));
    let r = Measured::of(&ops.restore, total);
    let pr = Measured::of(&peer_restore, total);
    let holds = r.median_ms <= pr.median_ms;
    rows.push(row(
        "restore into empty SQLite",
        r,
        Some(("gunzip | sqlite3", pr)),
        Some(("≤ 1× peer", holds)),
    ));

    // --- core calls against the same SQLite ledger, before the PostgreSQL half (whose
    // autovacuum of freshly loaded databases would run beside them)
    let (review, members, date) = core_calls(&db, cfg.runs).await;
    let mut peer = Vec::new();
    for _ in 0..cfg.runs.max(5) {
        let mut c = Command::new("sqlite3");
        c.arg(&db).arg(review_sql(date));
        peer.push(measure(&mut c));
    }
    let holds = review.median_ms < 50.0;
    rows.push(row(
        "daily review of one date",
        review,
        Some(("same SQL in sqlite3", Measured::of(&peer, total))),
        Some(("< 50 ms", holds)),
    ));
    rows.push(row("members list, first page", members, None, None));

    // --- the same two at 10,000 members and about 3 million collections: they read the
    // accounts' running balances, so the history's length does not count
    if cfg.big.0 > 0 {
        let big = w.join("ledger-10k");
        eprintln!(
            "generating {} members × {} days for the review at scale …",
            cfg.big.0, cfg.big.1
        );
        make_ledger(&big, cfg.big.0, cfg.big.1);
        let bdb = big.join("somiti.db");
        let n = sqlite_scalar(&bdb, "SELECT COUNT(*) FROM collections");
        let (review, members, _) = core_calls(&bdb, cfg.runs).await;
        let (r_ok, m_ok) = (review.median_ms < 50.0, members.median_ms < 50.0);
        rows.push(row(
            &format!("daily review, {} members × {n} collections", cfg.big.0),
            review,
            None,
            Some(("< 50 ms", r_ok)),
        ));
        rows.push(row(
            &format!("members list, first page, {} × {n}", cfg.big.0),
            members,
            None,
            Some(("< 50 ms", m_ok)),
        ));
        let _ = std::fs::remove_dir_all(&big);
    }

    // --- PostgreSQL: the same ledger restored into a server, then backup and restore
    if let Some(base) = &cfg.pg_url {
        let mut made = Vec::new();
        let src = fresh_pg(base).await;
        made.push(src.clone());
        output(
            somiti(&w.join("pg-src"))
                .arg("--database")
                .arg(&src)
                .arg("backup")
                .arg("restore")
                .arg(&ops.archive)
                .args(["--yes", "--include-users"]),
        );
        let pgdir = w.join("pg-src");
        let mut backup = Vec::new();
        let mut peer = Vec::new();
        let pgdump = w.join("peer.dump");
        for _ in 0..cfg.runs {
            backup.push(measure(
                somiti(&pgdir)
                    .arg("--database")
                    .arg(&src)
                    .args(["backup", "create"]),
            ));
            peer.push(measure(
                Command::new("pg_dump")
                    .args(["-Fc", "-f"])
                    .arg(&pgdump)
                    .arg(&src),
            ));
        }
        let (_, pg_archive, _) = newest_backup(&pgdir, Some(&src));
        let b = Measured::of(&backup, total);
        let p = Measured::of(&peer, total);
        let holds = b.median_ms < p.median_ms;
        rows.push(row(
            "backup (PostgreSQL)",
            b,
            Some(("pg_dump -Fc", p)),
            Some(("< 1× peer", holds)),
        ));
        let mut restore = Vec::new();
        let mut peer = Vec::new();
        for i in 0..cfg.runs {
            let a = fresh_pg(base).await;
            made.push(a.clone());
            let d = w.join(format!("pg-restore-{i}"));
            restore.push(measure(
                somiti(&d)
                    .arg("--database")
                    .arg(&a)
                    .arg("backup")
                    .arg("restore")
                    .arg(&pg_archive)
                    .arg("--yes"),
            ));
            let b2 = fresh_pg(base).await;
            made.push(b2.clone());
            peer.push(measure(
                Command::new("pg_restore")
                    .args(["--single-transaction", "--no-owner", "-d"])
                    .arg(&b2)
                    .arg(&pgdump),
            ));
        }
        let r = Measured::of(&restore, total);
        let p = Measured::of(&peer, total);
        let holds = r.median_ms <= 1.5 * p.median_ms;
        rows.push(row(
            "restore into empty PostgreSQL",
            r,
            Some(("pg_restore --single-transaction", p)),
            Some(("≤ 1.5× peer", holds)),
        ));
        drop_pg(base, &made).await;
    } else {
        eprintln!("SOMITI_TEST_PG_URL is not set: PostgreSQL rows are left out");
    }

    // --- the off-site copy of the archive (and of larger files) against curl -T
    let offsite = cfg
        .offsite
        .as_ref()
        .and_then(|ob| offsite_rows(ob, w, &ops.archive, cfg.runs, &mut rows));

    // --- memory: the same operations on a ledger `scale` times larger
    let mut memory_scale = None;
    let peaks_1x = [
        (
            "backup",
            ops.backup.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        ),
        (
            "verify --drill",
            ops.drill.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        ),
        (
            "restore",
            ops.restore.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        ),
    ];
    let under_100 = peaks_1x.iter().all(|(_, k)| (*k as f64) / 1024.0 < 100.0);
    rows.push(Row {
        operation: "peak memory, backup/verify/restore".into(),
        somiti: Measured {
            median_ms: 0.0,
            rows_per_s: 0.0,
            peak_rss_mib: peaks_1x.iter().map(|(_, k)| *k).max().unwrap_or(0) as f64 / 1024.0,
        },
        peer_name: None,
        peer: None,
        ratio: None,
        target: Some("< 100 MiB".into()),
        holds: Some(under_100),
    });
    if cfg.scale > 1 {
        let big = w.join("ledger-big");
        eprintln!("generating {}× ledger for the memory check …", cfg.scale);
        make_ledger(&big, cfg.members * cfg.scale, cfg.days);
        let big_ops = sqlite_ops(w, &big, 1);
        let peaks_nx = [
            big_ops.backup[0].max_rss_kib,
            big_ops.drill[0].max_rss_kib,
            big_ops.restore[0].max_rss_kib,
        ];
        let peaks: Vec<(String, f64, f64, f64)> = peaks_1x
            .iter()
            .zip(peaks_nx)
            .map(|((n, a), b)| {
                let (a, b) = (*a as f64 / 1024.0, b as f64 / 1024.0);
                (n.to_string(), a, b, b / a.max(1e-9))
            })
            .collect();
        let holds = peaks.iter().all(|p| p.3 <= 1.2);
        memory_scale = Some(MemoryScale {
            factor: cfg.scale,
            total_rows: big_ops.rows,
            peaks,
            holds,
        });
    }

    Report {
        members: cfg.members,
        days: cfg.days,
        collections,
        total_rows: total,
        runs: cfg.runs,
        rows,
        memory_scale,
        offsite,
    }
}

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "Somiti benchmarks: {} members × {} days = {} collections, {} rows in all; median of {} runs\n\n",
        r.members, r.days, r.collections, r.total_rows, r.runs
    );
    out += &format!(
        "{:<36} {:>10} {:>12} {:>9}   {:<32} {:>10} {:>7}   {:<12} {}\n",
        "operation",
        "somiti ms",
        "rows/s",
        "peak MiB",
        "peer",
        "peer ms",
        "ratio",
        "target",
        "holds"
    );
    for x in &r.rows {
        out += &format!(
            "{:<36} {:>10.1} {:>12.0} {:>9.1}   {:<32} {:>10} {:>7}   {:<12} {}\n",
            x.operation,
            x.somiti.median_ms,
            x.somiti.rows_per_s,
            x.somiti.peak_rss_mib,
            x.peer_name.clone().unwrap_or_else(|| "—".into()),
            x.peer
                .as_ref()
                .map(|p| format!("{:.1}", p.median_ms))
                .unwrap_or_else(|| "—".into()),
            x.ratio
                .map(|v| format!("{v:.2}×"))
                .unwrap_or_else(|| "—".into()),
            x.target.clone().unwrap_or_default(),
            match x.holds {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            }
        );
    }
    if let Some(m) = &r.memory_scale {
        out += &format!(
            "\nPeak memory at {}× the rows ({} rows):\n",
            m.factor, m.total_rows
        );
        for (n, a, b, ratio) in &m.peaks {
            out += &format!("  {n:<16} {a:>7.1} MiB → {b:>7.1} MiB  ({ratio:.2}×)\n");
        }
        out += &format!("  within 1.2×: {}\n", if m.holds { "yes" } else { "NO" });
    }
    if let Some(o) = &r.offsite {
        out += "\nOff-site copy (upload in 8 MiB parts + read-back, in its own process) against curl -T, same moto server:\n";
        out += &format!(
            "  {:<34} {:>10} {:>10} {:>9} {:>10} {:>9}\n",
            "file", "MiB", "somiti s", "peak MiB", "curl s", "peak MiB"
        );
        for x in &o.sizes {
            out += &format!(
                "  {:<34} {:>10.1} {:>10.2} {:>9.1} {:>10.2} {:>9.1}\n",
                x.label,
                x.bytes as f64 / 1048576.0,
                x.somiti_s,
                x.somiti_peak_mib,
                x.curl_s,
                x.curl_peak_mib
            );
        }
        out += &format!(
            "  memory flat as the file grows (≤ 1.2×): {}\n",
            if o.holds { "yes" } else { "NO" }
        );
    }
    out
}

pub fn write_json(r: &Report, path: &Path) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, serde_json::to_string_pretty(r).unwrap()).unwrap();
}
