//! Console speed with 10,000 members and 3,000,000 collections (SQLite): how long until the
//! first frame with the member register on it, and how long a key press takes to redraw.
//! A plain timing harness: `cargo bench --bench tui` prints the figures and fails when the
//! targets (first frame < 300 ms, key press < 50 ms) are missed.
//!
//! The database is built once (a minute or so) and kept in the temp folder for later runs;
//! `SOMITI_BENCH_FRESH=1` builds it again.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use somiti::access::{self, Role, users};
use somiti::config::{self, Overrides};
use somiti::db::Store;
use somiti::ledger::org::{self, NewOrganization};
use somiti::on_store;
use somiti::session::Session;
use somiti::tui::app::App;
use somiti::tui::tasks::{self, Effect};

const MEMBERS: i64 = 10_000;
const PER_MEMBER: i64 = 300; // 3,000,000 collections

async fn build(path: &PathBuf) -> Store {
    let _ = std::fs::remove_file(path);
    let store = Store::open_sqlite(path).await.expect("open");
    let login = access::os_login();
    users::insert_unchecked(&store, &login, &login, "bench", Role::Admin, None)
        .await
        .expect("user");
    let o = org::insert_unchecked(
        &store,
        &login,
        &NewOrganization {
            code: "BENCH".into(),
            name: "Bench Somiti".into(),
            ..Default::default()
        },
    )
    .await
    .expect("org");
    let t = Instant::now();
    on_store!(&store, |p| {
        let stmts = [
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) \
             INSERT INTO workers (org_id, name, mobile, active) SELECT $1, 'Worker ' || i, '', 1 FROM n"
                .to_string(),
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MEMBERS}) \
                 INSERT INTO members (org_id, member_no, name, nid, mobile, worker_id, daily_savings, status, joined_on) \
                 SELECT $1, CAST(i AS TEXT), 'Member ' || i, CAST(1000000000 + i AS TEXT), '017' || substr('0000000' || i, -8, 8), \
                 (SELECT MIN(id) FROM workers) + (i % 20), 2000, 'active', date('now', '-400 days') FROM n"
            ),
            // one running loan each: 100,000 taka at 200 a day, disbursed on joining
            "INSERT INTO loans (id, org_id, member_id, cycle, disbursed_on, principal, service_charge, first_due_on, \
             installment, installments, status, closed_on, written_off, close_reason, entered_by, entered_at, paid, last_paid_on) \
             SELECT m.id, $1, m.id, 1, m.joined_on, 10000000, 0, m.joined_on, 20000, NULL, 'active', NULL, 0, '', 'bench', \
             '2026-01-01T10:00:00+00:00', 0, NULL FROM members m"
                .to_string(),
            format!(
                "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < {}) \
                 INSERT INTO collections (org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, note, entered_by, entered_at, reversal_of, loan_id) \
                 SELECT $1, m.id, date('now', '-' || (d.n + 1) || ' days'), 20000, 2000, m.worker_id, '', 'bench', '2026-01-01T10:00:00+00:00', NULL, m.id \
                 FROM members m, d",
                PER_MEMBER - 1
            ),
        ];
        for s in stmts {
            sqlx::query(sqlx::AssertSqlSafe(s))
                .bind(o.id)
                .execute(p)
                .await
                .expect("insert");
        }
    });
    // The running balances, from the entries (as every bulk load writes them).
    let mut tx = store.begin().await.expect("begin");
    somiti::ledger::accounts::rebuild_tx(&mut tx, None)
        .await
        .expect("balances");
    tx.commit().await.expect("commit");
    on_store!(&store, |p| sqlx::query("ANALYZE")
        .execute(p)
        .await
        .expect("analyze")
        .rows_affected());
    eprintln!(
        "built the bench database in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    store
}

async fn run_effects(store: &Store, op: &somiti::access::Operator, app: &mut App, fx: Vec<Effect>) {
    let mut queue = fx;
    while let Some(e) = queue.pop() {
        if matches!(
            e,
            Effect::LoadReview { .. } | Effect::LoadAudit { .. } | Effect::Backup(_)
        ) {
            continue; // off-screen work; timed on its own below
        }
        let o = tasks::run(store, op, e).await;
        queue.extend(app.apply(o));
    }
}

fn draw(t: &mut Terminal<TestBackend>, app: &App) {
    t.draw(|f| somiti::tui::views::draw(f, app)).expect("draw");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    let k = KeyEvent::new(code, KeyModifiers::NONE);
    match somiti::tui::keymap::action_for(k, app) {
        Some(a) => app.update(a),
        None => Vec::new(),
    }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join("somiti-bench-tui");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("bench-v2.db");
    let fresh = std::env::var("SOMITI_BENCH_FRESH").is_ok() || !path.exists();
    if fresh {
        build(&path).await.close().await;
    }
    let settings = config::load(&Overrides {
        data_dir: Some(dir.clone()),
        database_url: Some(format!("sqlite://{}", path.display())),
        config: None,
    })
    .expect("settings");
    let ctx = Session::new(settings, false);

    // First frame: open, log in, build the state, load the first page, draw.
    let mut firsts = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t0 = Instant::now();
        let (store, op) = ctx.open().await.expect("open");
        let mut app = somiti::tui::prepare(&ctx, &store, &op, (80, 24))
            .await
            .expect("prepare");
        let mut term = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        draw(&mut term, &app); // what the loop shows at once: the frame, "loading…"
        let placeholder = t0.elapsed();
        let fx = app.startup();
        run_effects(&store, &op, &mut app, fx).await;
        draw(&mut term, &app);
        let with_rows = t0.elapsed();
        assert!(app.members.total == MEMBERS, "members loaded");
        firsts.push((placeholder, with_rows));
        last = Some((store, op, app, term));
    }
    let (store, op, mut app, mut term) = last.expect("ran");
    let best_first = firsts.iter().map(|f| f.1).min().unwrap_or_default();
    let worst_first = firsts.iter().map(|f| f.1).max().unwrap_or_default();
    println!(
        "first frame: placeholder {:.1} ms; with the member register {:.1} ms (best of 5), worst {:.1} ms",
        ms(firsts.iter().map(|f| f.0).min().unwrap_or_default()),
        ms(best_first),
        ms(worst_first)
    );

    // Key presses: update + redraw on the UI task (loads run off it and are timed apart).
    let keys = [
        KeyCode::Down,
        KeyCode::Down,
        KeyCode::PageDown,
        KeyCode::Up,
        KeyCode::Char('2'),
        KeyCode::Char('j'),
        KeyCode::Char('1'),
        KeyCode::Char('5'),
        KeyCode::Char('1'),
        KeyCode::Char('G'),
        KeyCode::Char('g'),
        KeyCode::Char('?'),
        KeyCode::Esc,
    ];
    let mut times = Vec::new();
    let mut loads = Vec::new();
    for round in 0..20 {
        for k in keys {
            let t = Instant::now();
            let fx = press(&mut app, k);
            draw(&mut term, &app);
            times.push(t.elapsed());
            if !fx.is_empty() {
                let t = Instant::now();
                run_effects(&store, &op, &mut app, fx).await;
                draw(&mut term, &app);
                if round == 0 || loads.len() < 40 {
                    loads.push(t.elapsed());
                }
            }
        }
    }
    times.sort();
    loads.sort();
    let p = |v: &[Duration], q: f64| {
        v.get(((v.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "key press → redraw: median {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} presses)",
        ms(p(&times, 0.5)),
        ms(p(&times, 0.99)),
        ms(p(&times, 1.0)),
        times.len()
    );
    println!(
        "page of members loaded off the UI task (G / g jumps): median {:.1} ms, max {:.1} ms",
        ms(p(&loads, 0.5)),
        ms(p(&loads, 1.0))
    );

    // The daily review of 10,000 members (spawned; the screen stays live meanwhile): today's
    // (the running balances less nothing), and one of a month ago (less a month's entries).
    let orgs = org::list(&store).await.expect("orgs");
    let review = |date: chrono::NaiveDate| {
        let (store, op, o) = (store.clone(), op.clone(), orgs[0].clone());
        async move {
            let mut v = Vec::new();
            let mut lines = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let r = somiti::ledger::review::daily(&store, &op, &o, date, None)
                    .await
                    .expect("review");
                v.push(t.elapsed());
                lines = r.lines.len();
            }
            v.sort();
            (v[2], lines)
        }
    };
    let today = orgs[0].today();
    let (review_ms, lines) = review(today).await;
    println!(
        "daily review of {lines} members off the UI task: median {:.1} ms",
        ms(review_ms)
    );
    let (month_ago, _) = review(today - chrono::Duration::days(30)).await;
    println!(
        "daily review of 30 days ago: median {:.1} ms",
        ms(month_ago)
    );

    let ok_first = best_first < Duration::from_millis(300);
    let ok_key = p(&times, 0.99) < Duration::from_millis(50);
    let ok_review = review_ms < Duration::from_millis(50);
    let ok_page = p(&loads, 1.0) < Duration::from_millis(50);
    println!(
        "targets: first frame < 300 ms {}; key press < 50 ms {}; daily review < 50 ms {}; members page < 50 ms {}",
        if ok_first { "met" } else { "MISSED" },
        if ok_key { "met" } else { "MISSED" },
        if ok_review { "met" } else { "MISSED" },
        if ok_page { "met" } else { "MISSED" }
    );
    if !(ok_first && ok_key && ok_review && ok_page) {
        std::process::exit(1);
    }
}
