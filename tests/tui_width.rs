//! Bengali names letter for letter, in two terminals: the real binary on the demo database
//! at 80×24, in tmux (wcwidth: one column per codepoint, the vowel signs া ি ো and ঃ a column
//! each) and in pyte (`tests/pyte_term.py`, with a wcwidth model and a grapheme-cluster
//! model). On the Members and Collections tabs every member row on screen shows the name as
//! stored (or a prefix of it, cut between grapheme clusters, before `…`), and the column to
//! its right starts where it starts on an ASCII row; after scrolling and visiting every tab,
//! the Backups, Scheduler and Audit tabs hold no Bengali letter their data does not. The
//! start-up probe chooses wcwidth in tmux and grapheme in the cluster model; the config can
//! force the grapheme measure.
//!
//! Needs tmux and python3 with pyte; without them the tests are skipped with a note, except
//! under `CI=true`, where they fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use somiti::tui::text::{TextWidth, wcwidth};
use unicode_segmentation::UnicodeSegmentation;

const BIN: &str = env!("CARGO_BIN_EXE_somiti");

/// A screen: one string per column ("" where a wide cell covers the column).
type Screen = Vec<Vec<String>>;

/// A key as tmux names it and as the bytes a terminal sends.
#[derive(Clone, Copy)]
struct Key {
    tmux: &'static str,
    raw: &'static str,
}

const fn k(s: &'static str) -> Key {
    Key { tmux: s, raw: s }
}

const PGDN: Key = Key {
    tmux: "NPage",
    raw: "\u{1b}[6~",
};

trait Term {
    fn screen(&self) -> Screen;
    fn press(&self, key: Key);
}

fn text(row: &[String]) -> String {
    row.concat()
}

fn screen_text(s: &Screen) -> String {
    s.iter().map(|r| text(r)).collect::<Vec<_>>().join("\n")
}

/// Wait until the screen shows `needle`; panic with the screen after `secs`.
fn wait_for(t: &dyn Term, needle: &str, secs: u64) -> Screen {
    let start = Instant::now();
    loop {
        let s = t.screen();
        if screen_text(&s).contains(needle) {
            // one more look once drawing has settled
            std::thread::sleep(Duration::from_millis(300));
            return t.screen();
        }
        if start.elapsed() > Duration::from_secs(secs) {
            panic!(
                "timed out waiting for {needle:?}; the screen was:\n{}",
                screen_text(&s)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- tmux ----

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn start(dir: &Path) -> Tmux {
        let t = Tmux {
            socket: format!("somiti-width-{}", std::process::id()),
        };
        let script = format!(
            "NO_COLOR=1 {bin} --data-dir {d} --demo; sleep 60",
            bin = BIN,
            d = dir.display()
        );
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", "w", "-x", "80", "-y", "24"])
            .args(["bash", "--norc", "-c", &script])
            .env_remove("TMUX")
            .status()
            .expect("tmux new-session");
        assert!(ok.success());
        t
    }
}

impl Term for Tmux {
    fn screen(&self) -> Screen {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "w"])
            .output()
            .expect("tmux capture-pane");
        // tmux counts columns with wcwidth: a zero-width codepoint joins the cell before
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let mut cells: Vec<String> = Vec::new();
                for c in l.chars() {
                    match wcwidth(c) {
                        0 => match cells.iter_mut().rev().find(|c| !c.is_empty()) {
                            Some(last) => last.push(c),
                            None => cells.push(c.to_string()),
                        },
                        w => {
                            cells.push(c.to_string());
                            if w == 2 {
                                cells.push(String::new());
                            }
                        }
                    }
                }
                cells
            })
            .collect()
    }

    fn press(&self, key: Key) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "w", key.tmux])
            .status()
            .expect("tmux send-keys");
        assert!(ok.success());
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

// ---- pyte ----

struct Pyte {
    child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
}

impl Pyte {
    fn start(dir: &Path, model: &str) -> Pyte {
        Pyte::start_with(dir, &["--model", model])
    }

    fn start_with(dir: &Path, opts: &[&str]) -> Pyte {
        let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyte_term.py");
        let mut child = Command::new("python3")
            .arg(harness)
            .args(opts)
            .args(["--cols", "80", "--rows", "24", "--", BIN])
            .arg("--data-dir")
            .arg(dir)
            .arg("--demo")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm-256color")
            .env_remove("SOMITI_DATABASE_URL")
            .env_remove("SOMITI_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 tests/pyte_term.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Pyte {
            child,
            io: Mutex::new((stdin, stdout)),
        }
    }

    fn request(&self, req: serde_json::Value) -> Option<serde_json::Value> {
        let mut io = self.io.lock().unwrap();
        writeln!(io.0, "{req}").expect("write to the pyte harness");
        io.0.flush().unwrap();
        // only a screen request has an answer
        req.get("screen")?;
        let mut line = String::new();
        io.1.read_line(&mut line)
            .expect("read from the pyte harness");
        assert!(!line.is_empty(), "the pyte harness ended");
        Some(serde_json::from_str(&line).expect("the harness's JSON"))
    }
}

impl Term for Pyte {
    fn screen(&self) -> Screen {
        let v = self.request(serde_json::json!({"screen": true})).unwrap();
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    }

    fn press(&self, key: Key) {
        self.request(serde_json::json!({ "keys": key.raw }));
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Pyte {
    fn drop(&mut self) {
        let _ = self.request(serde_json::json!({"quit": true}));
        let _ = self.child.wait();
    }
}

// ---- the data ----

fn somiti(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SOMITI_DATABASE_URL")
        .env_remove("SOMITI_CONFIG")
        .output()
        .expect("run somiti");
    assert!(
        out.status.success(),
        "somiti {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Member {
    name: String,
    mobile: String,
}

/// A data directory with the demo database, its members (by number) as the CLI lists them.
fn demo(config: &str) -> (tempfile::TempDir, PathBuf, HashMap<String, Member>) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    // no scheduled jobs: nothing but the demo data on the Backups and Scheduler tabs
    std::fs::write(dir.join("config.toml"), format!("schedule = []\n{config}")).unwrap();
    let json = somiti(
        &dir,
        &[
            "--demo", "--json", "member", "list", "--org", "DEMO", "--limit", "100000",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let members = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member_no"].as_str().unwrap().to_string(),
                Member {
                    name: m["name"].as_str().unwrap().to_string(),
                    mobile: m["mobile"].as_str().unwrap().to_string(),
                },
            )
        })
        .collect();
    (tmp, dir, members)
}

fn is_bengali(c: char) -> bool {
    ('\u{0980}'..='\u{09FF}').contains(&c)
}

// ---- the checks ----

/// The column where `needle` starts in `row` (it must start at a cell).
fn col_of(row: &[String], needle: &str) -> Option<usize> {
    let t = text(row);
    let byte = t.find(needle)?;
    let mut acc = 0;
    for (i, c) in row.iter().enumerate() {
        if acc == byte && !c.is_empty() {
            return Some(i);
        }
        acc += c.len();
    }
    None
}

/// The text from column `col` on.
fn from_col(row: &[String], col: usize) -> String {
    row.get(col..).map(|r| r.concat()).unwrap_or_default()
}

/// The member number of a table row (`▶` or blank, then the right-aligned number).
fn member_no(row: &[String]) -> Option<String> {
    let t = text(row);
    let rest = t.strip_prefix('▶').or_else(|| t.strip_prefix(' '))?;
    let no: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!no.is_empty() && rest.trim_start()[no.len()..].starts_with(' ')).then_some(no)
}

/// The name as shown from `col`: the stored name, or a cluster-boundary prefix and `…`;
/// returns the column after it. Panics with the row when it is neither.
fn check_name(row: &[String], col: usize, name: &str) -> usize {
    let shown = from_col(row, col);
    let kept_len = if shown.starts_with(name) {
        name.len()
    } else {
        let cut = shown
            .find('…')
            .unwrap_or_else(|| panic!("{name:?} is not shown whole or cut: {:?}", text(row)));
        let kept = &shown[..cut];
        assert!(
            name.starts_with(kept) && !kept.is_empty(),
            "{name:?} shown as {kept:?}…: {:?}",
            text(row)
        );
        assert!(
            name.grapheme_indices(true).any(|(i, _)| i == kept.len()),
            "{name:?} cut inside a cluster as {kept:?}: {:?}",
            text(row)
        );
        cut + '…'.len_utf8()
    };
    // the column after the name's cells
    let mut acc = 0;
    let mut c = col;
    while c < row.len() && acc < kept_len {
        acc += row[c].len();
        c += 1;
    }
    while c < row.len() && row[c].is_empty() {
        c += 1;
    }
    c
}

/// Members tab: every member row's name as stored and its mobile where the header says.
fn check_members(s: &Screen, members: &HashMap<String, Member>) -> (usize, usize) {
    let at = s
        .iter()
        .position(|r| text(r).contains(" No Name") && text(r).contains("Mobile"))
        .unwrap_or_else(|| panic!("no member table:\n{}", screen_text(s)));
    let header = &s[at];
    let name_col = col_of(header, "Name").unwrap();
    let mobile_col = col_of(header, "Mobile").unwrap();
    let (mut rows, mut bengali) = (0, 0);
    for row in &s[at + 1..] {
        let Some(no) = member_no(row) else { continue };
        let m = members
            .get(&no)
            .unwrap_or_else(|| panic!("member {no} is not in member list: {:?}", text(row)));
        let after = check_name(row, name_col, &m.name);
        assert_eq!(
            col_of(row, &m.mobile),
            Some(mobile_col),
            "member {no}'s mobile is not under Mobile:\n{}\n{}",
            text(header),
            text(row)
        );
        let between = row[after..mobile_col].concat();
        assert!(
            between.chars().all(|c| c == ' '),
            "something between the name and the mobile of {no}: {between:?} in {:?}",
            text(row)
        );
        rows += 1;
        bengali += m.name.chars().any(is_bengali) as usize;
    }
    (rows, bengali)
}

/// Collections tab: every member line's name as stored and its installment ending where
/// the header's `Inst` ends.
fn check_review(s: &Screen, members: &HashMap<String, Member>) -> (usize, usize) {
    let at = s
        .iter()
        .position(|r| text(r).contains(" No Name") && text(r).contains("Inst"))
        .unwrap_or_else(|| panic!("no review table:\n{}", screen_text(s)));
    let header = &s[at];
    let name_col = col_of(header, "Name").unwrap();
    let inst_end = col_of(header, "Inst").unwrap() + 4;
    let (mut rows, mut bengali) = (0, 0);
    for row in &s[at + 1..] {
        let Some(no) = member_no(row) else { continue };
        let m = &members[&no];
        let after = check_name(row, name_col, &m.name);
        let mut c = after;
        while c < row.len() && row[c] == " " {
            c += 1;
        }
        let start = c;
        while c < row.len() && row[c] != " " {
            c += 1;
        }
        assert!(c > start, "no installment after {no}: {:?}", text(row));
        assert_eq!(
            c,
            inst_end,
            "member {no}'s installment does not end under Inst:\n{}\n{}",
            text(header),
            text(row)
        );
        rows += 1;
        bengali += m.name.chars().any(is_bengali) as usize;
    }
    (rows, bengali)
}

/// Bengali text on a screen that its data does not have: each run of Bengali letters must
/// be part of `data`.
fn stray_bengali(s: &Screen, data: &str) -> Vec<String> {
    let mut out = Vec::new();
    for row in s {
        let t = text(row);
        let mut run = String::new();
        for c in t.chars().chain([' ']) {
            if is_bengali(c) || (!run.is_empty() && ('\u{200c}'..='\u{200d}').contains(&c)) {
                run.push(c);
            } else if !run.is_empty() {
                if !data.contains(run.as_str()) {
                    out.push(format!("{run:?} in {t:?}"));
                }
                run.clear();
            }
        }
    }
    out
}

fn audit_data(dir: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(dir.join("demo.db"))
        .arg("SELECT actor || ' ' || action || ' ' || target || ' ' || detail FROM audit_log")
        .output()
        .expect("sqlite3");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn visit_other_tabs(t: &dyn Term, dir: &Path) {
    let audit = audit_data(dir);
    for (key, title, data) in [
        ("3", "backups ·", ""),
        ("4", "Scheduler ─", ""),
        ("5", "Audit log ·", audit.as_str()),
    ] {
        t.press(k(key));
        let s = wait_for(t, title, 10);
        let stray = stray_bengali(&s, data);
        assert!(
            stray.is_empty(),
            "the {title} tab shows letters of another screen: {stray:?}\n{}",
            screen_text(&s)
        );
    }
}

/// The whole walk: Members (and a page down), Collections (and a page down), the other
/// tabs, Members again, the other tabs again.
fn walk(t: &dyn Term, dir: &Path, members: &HashMap<String, Member>) {
    let s = wait_for(t, "Mobile", 30);
    let (rows, bengali) = check_members(&s, members);
    assert!(rows >= 15 && bengali >= 3, "{rows} rows, {bengali} Bengali");
    t.press(PGDN);
    std::thread::sleep(Duration::from_millis(500));
    let s = t.screen();
    let (rows, _) = check_members(&s, members);
    assert!(rows >= 15, "{}", screen_text(&s));

    t.press(k("2"));
    let s = wait_for(t, "Inst", 15);
    let (rows, bengali) = check_review(&s, members);
    assert!(
        rows >= 10 && bengali >= 1,
        "{rows} rows, {bengali} Bengali:\n{}",
        screen_text(&s)
    );
    t.press(PGDN);
    std::thread::sleep(Duration::from_millis(500));
    check_review(&t.screen(), members);

    visit_other_tabs(t, dir);
    t.press(k("1"));
    let s = wait_for(t, "Mobile", 10);
    check_members(&s, members);

    // The new-member form over the table: its empty fields show nothing of the names under it
    t.press(k("n"));
    let s = wait_for(t, "New member", 10);
    let form: Vec<String> = s
        .iter()
        .map(|r| text(r))
        .skip_while(|r| !r.contains("New member"))
        .take_while(|r| !r.contains('└'))
        .collect();
    assert!(form.len() > 3, "{}", screen_text(&s));
    let stray: Vec<&String> = form.iter().filter(|r| r.chars().any(is_bengali)).collect();
    assert!(
        stray.is_empty(),
        "the empty form shows letters of the table under it: {stray:?}\n{}",
        screen_text(&s)
    );
    t.press(Key {
        tmux: "Escape",
        raw: "\u{1b}",
    });
    std::thread::sleep(Duration::from_millis(400));
    let s = wait_for(t, "Mobile", 10);
    check_members(&s, members);
    visit_other_tabs(t, dir);
}

/// The measure the console chose, from its log.
fn chosen(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = String::new();
        if let Ok(rd) = std::fs::read_dir(dir.join("logs")) {
            for e in rd.flatten() {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        if let Some(l) = all.lines().find(|l| l.contains("text width: ")) {
            return l.split("text width: ").nth(1).unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no text width in the log:\n{all}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn have(cmd: &str, args: &[&str], what: &str) -> bool {
    let ok = Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is required under CI (.ci/run installs it)"
        );
        eprintln!("note: skipping: {what} is not installed");
    }
    ok
}

fn have_pyte() -> bool {
    have("python3", &["-c", "import pyte"], "python3 with pyte")
}

#[test]
fn tmux_shows_every_bengali_name_letter_for_letter() {
    if !have("tmux", &["-V"], "tmux") {
        return;
    }
    let (_tmp, dir, members) = demo("");
    let t = Tmux::start(&dir);
    walk(&t, &dir, &members);
    let how = chosen(&dir);
    // tmux's answers are exactly what glibc's wcwidth predicts for every probe
    assert_eq!(how, "wcwidth (probe: তা 2, কি 2, ক্ষ 2, মোছাঃ 5, 😀 2, 中 2)");
}

#[test]
fn pyte_wcwidth_model_shows_every_bengali_name_letter_for_letter() {
    if !have_pyte() {
        return;
    }
    let (_tmp, dir, members) = demo("");
    let t = Pyte::start(&dir, "wcwidth");
    walk(&t, &dir, &members);
    assert!(
        chosen(&dir).starts_with("wcwidth (probe: তা 2,"),
        "{}",
        chosen(&dir)
    );
}

#[test]
fn pyte_cluster_model_is_probed_as_grapheme_and_shows_every_name() {
    if !have_pyte() {
        return;
    }
    let (_tmp, dir, members) = demo("");
    let t = Pyte::start(&dir, "grapheme");
    walk(&t, &dir, &members);
    let how = chosen(&dir);
    assert!(how.starts_with("grapheme (probe: তা 1,"), "{how}");
    let probed: Vec<u16> = how
        .trim_end_matches(')')
        .split(", ")
        .map(|p| p.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<u16> = somiti::tui::probe::PROBES
        .iter()
        .map(|p| TextWidth::Grapheme.of(p) as u16)
        .collect();
    assert_eq!(
        probed, expected,
        "the cluster model answers as the grapheme measure says"
    );
}

#[test]
fn config_forces_the_grapheme_measure() {
    if !have_pyte() {
        return;
    }
    let (_tmp, dir, members) = demo("[console]\ntext_width = \"grapheme\"\n");
    let t = Pyte::start(&dir, "grapheme");
    walk(&t, &dir, &members);
    assert_eq!(chosen(&dir), "grapheme (config console.text_width)");
}

#[test]
fn a_terminal_that_does_not_answer_the_probe_gets_wcwidth() {
    if !have_pyte() {
        return;
    }
    let (_tmp, dir, members) = demo("");
    let started = Instant::now();
    let t = Pyte::start_with(&dir, &["--model", "wcwidth", "--silent"]);
    let s = wait_for(&t, "Mobile", 30);
    check_members(&s, &members);
    assert_eq!(
        chosen(&dir),
        "wcwidth (probe: তা ?, কি ?, ক্ষ ?, মোছাঃ ?, 😀 ?, 中 ?)"
    );
    // one unanswered query (crossterm waits 2 s), not six
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
