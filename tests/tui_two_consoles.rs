//! Two real consoles on one database, in tmux at 80×24: what one saves, the other shows
//! within 2 seconds (with "refreshed: … by …" in its status line), and an edit form opened
//! before that change cannot save over it: the save is refused naming who changed the member,
//! and the database keeps the first console's change.
//!
//! Needs tmux; without it the test is skipped with a note, except under `CI=true`, where it
//! fails.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_somiti");

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env_remove("TMUX");
        c
    }

    /// A console in its own tmux session `name`, on the demo database of `dir`.
    fn console(&self, name: &str, dir: &Path) {
        let script = format!(
            "NO_COLOR=1 {BIN} --data-dir {} --demo; sleep 60",
            dir.display()
        );
        let ok = self
            .cmd()
            .args(["new-session", "-d", "-s", name, "-x", "80", "-y", "24"])
            .args(["bash", "--norc", "-c", &script])
            .status()
            .expect("tmux new-session");
        assert!(ok.success());
    }

    fn screen(&self, name: &str) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        for k in keys {
            let ok = self
                .cmd()
                .args(["send-keys", "-t", name, k])
                .status()
                .expect("tmux send-keys");
            assert!(ok.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn text(&self, name: &str, text: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", name, "-l", text])
            .status()
            .expect("tmux send-keys");
        assert!(ok.success());
    }

    /// The screen once it shows `needle`, or a panic with the screen after `within`.
    fn wait_for(&self, name: &str, needle: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen(name);
            if s.contains(needle) {
                return s;
            }
            if start.elapsed() > within {
                panic!("console {name}: {needle:?} not shown within {within:?}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_gone(&self, name: &str, needle: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen(name);
            if !s.contains(needle) {
                return s;
            }
            if start.elapsed() > within {
                panic!("console {name}: {needle:?} still shown after {within:?}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("tmux is missing; CI must install it (.ci/run)");
    }
    ok
}

fn somiti(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .arg("--demo")
        .arg("--json")
        .args(args)
        .env_remove("SOMITI_DATABASE_URL")
        .output()
        .expect("somiti");
    assert!(
        out.status.success(),
        "somiti {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The member number in an `Edit member N` title.
fn edited_member(screen: &str) -> String {
    let at = screen.find("Edit member ").expect("an edit form") + "Edit member ".len();
    screen[at..]
        .split(|c: char| c.is_whitespace() || c == '│' || c == '─')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn two_consoles_see_each_others_changes_and_cannot_overwrite_them() {
    if !have_tmux() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // no scheduled job in these consoles: their own backups would announce themselves too
    std::fs::write(
        d.join("config.toml"),
        "[[schedule]]\nname = \"daily-backup\"\ncron = \"0 2 * * *\"\naction = \"backup\"\n\
         scope = \"all\"\nenabled = false\n",
    )
    .unwrap();
    // the demo database first, so the two consoles do not both create it
    somiti(d, &["info"]);
    let t = Tmux {
        socket: format!("somiti-two-{}", std::process::id()),
    };
    t.console("a", d);
    t.console("b", d);
    let long = Duration::from_secs(30);
    t.wait_for("a", "Mobile", long);
    t.wait_for("b", "Mobile", long);

    // B opens the edit form of the first member and leaves it open
    t.keys("b", &["e"]);
    let no = edited_member(&t.wait_for("b", "Edit member ", long));
    // A edits the same member's mobile and saves
    t.keys("a", &["e"]);
    let a = t.wait_for("a", &format!("Edit member {no}"), long);
    assert_eq!(edited_member(&a), no);
    t.keys("a", &["Tab", "Tab", "Tab"]);
    t.keys("a", &["BSpace"; 11]);
    t.text("a", "01899999999");
    t.keys("a", &["Enter"]);
    t.wait_gone("a", "Edit member", long);
    let saved = Instant::now();
    let shown = somiti(d, &["member", "show", &no]);
    assert_eq!(shown["mobile"], "01899999999", "{shown}");

    // B says so within 2 seconds, naming who
    let b = t.wait_for("b", "refreshed: 1 member by ", Duration::from_secs(2));
    assert!(saved.elapsed() <= Duration::from_secs(2));
    assert!(
        b.contains(&format!("Edit member {no}")),
        "B's form stays open:\n{b}"
    );

    // B's form was opened before A's change: saving it is refused, naming who and when
    t.keys("b", &["Enter"]);
    let b = t.wait_for("b", "was changed by", long);
    assert!(b.contains("Ctrl-R"), "the refusal offers a reload:\n{b}");
    let shown = somiti(d, &["member", "show", &no]);
    assert_eq!(
        shown["mobile"], "01899999999",
        "B's stale form did not put the old mobile back: {shown}"
    );

    // Ctrl-R reloads the member as saved
    t.keys("b", &["C-r"]);
    t.wait_for("b", "01899999999", long);
}
