//! The terminal console: `somiti` with no command. This module owns the terminal (raw mode,
//! alternate screen, restored on every exit and on panic), the log file, and the main loop
//! that turns input, ticks and task answers into state changes and coalesced redraws.

pub mod account_tasks;
pub mod app;
pub mod backend;
pub mod backup_tasks;
pub mod event;
pub mod keymap;
pub mod pages;
pub mod probe;
pub mod report_tasks;
pub mod sched_tasks;
pub mod tasks;
pub mod text;
pub mod theme;
pub mod views;
pub mod watch;
pub mod widgets;

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use futures::StreamExt;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::access::Operator;
use crate::config::TextWidthSetting;
use crate::db::Store;
use crate::error::{Error, Result};
use crate::ledger::org;
use crate::session::Session;
use app::{App, AppInit, HeaderFacts};
use event::Event;
use tasks::Tasks;
use theme::Theme;

/// At most one frame per this long (yazi coalesces renders the same way).
pub const FRAME: Duration = Duration::from_millis(30);
const TICK: Duration = Duration::from_millis(250);

static RAW: AtomicBool = AtomicBool::new(false);
static UI_THREAD: OnceLock<std::thread::ThreadId> = OnceLock::new();

/// Put the terminal back as it was. Safe to call twice (the panic hook and the guard).
pub fn restore_terminal() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Owns raw mode and the alternate screen for as long as it lives.
struct TerminalGuard {
    /// `None` only while dropping.
    terminal: Option<Terminal<backend::AlignedBackend>>,
}

impl TerminalGuard {
    fn enter(setting: TextWidthSetting) -> Result<TerminalGuard> {
        let io_err = |e: io::Error| Error::io("setting up the terminal", e);
        crossterm::terminal::enable_raw_mode().map_err(io_err)?;
        RAW.store(true, Ordering::SeqCst);
        fn guard<T>(r: io::Result<T>) -> Result<T> {
            r.map_err(|e| {
                restore_terminal();
                Error::io("setting up the terminal", e)
            })
        }
        guard(execute!(io::stdout(), EnterAlternateScreen, cursor::Hide))?;
        let measure = guard(choose_measure(setting))?;
        text::set_measure(measure);
        let terminal =
            Terminal::new(backend::AlignedBackend::new(io::stdout(), measure)).map_err(|e| {
                restore_terminal();
                io_err(e)
            })?;
        Ok(TerminalGuard {
            terminal: Some(terminal),
        })
    }
}

/// The text width to draw with: the config's, or what the terminal answers to the probe.
fn choose_measure(setting: TextWidthSetting) -> io::Result<text::TextWidth> {
    let m = match setting {
        TextWidthSetting::Wcwidth => text::TextWidth::Wcwidth,
        TextWidthSetting::Grapheme => text::TextWidth::Grapheme,
        TextWidthSetting::Auto => {
            let advances = probe::measure(&mut io::stdout())?;
            let m = probe::decide(&advances);
            tracing::info!(
                "text width: {} (probe: {})",
                m.as_str(),
                probe::describe(&advances)
            );
            return Ok(m);
        }
    };
    tracing::info!("text width: {} (config console.text_width)", m.as_str());
    Ok(m)
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        // After a hangup the terminal is gone: ratatui's own drop would report the cursor
        // it cannot show on that same dead terminal (`eprintln!`, which panics there).
        // The process is ending; let the value go without its drop.
        if let Some(mut t) = self.terminal.take()
            && t.show_cursor().is_err()
        {
            std::mem::forget(t);
        }
    }
}

/// Panics on the UI thread restore the terminal first, then print as usual. Panics in
/// worker threads are logged only (their task reports the failure on screen).
fn install_panic_hook() {
    let _ = UI_THREAD.set(std::thread::current().id());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
        if on_ui || !RAW.load(Ordering::SeqCst) {
            restore_terminal();
            previous(info);
        } else {
            tracing::error!("panic in a worker thread: {info}");
        }
    }));
}

/// The organization to open on: the config's default, the operator's own, or the first.
/// Build the state the console starts from (also what the benchmark measures).
pub async fn prepare(ctx: &Session, store: &Store, op: &Operator, size: (u16, u16)) -> Result<App> {
    let mut orgs = org::list(store).await?;
    if let Some(mine) = op.org_id {
        orgs.retain(|o| o.id == mine);
    }
    // the session's one rule (--org, the operator's own, default_org, the only one)
    let org_index = ctx.console_index(op, &orgs);
    Ok(App::new(AppInit {
        operator: op.clone(),
        org_index,
        orgs,
        facts: HeaderFacts {
            database: store.describe(),
            scheduler: "…".into(),
            newest_verified: None,
            // until the jobs are read (`run`), then by the scheduler's status: an unknown
            // schedule is taken as the default daily one, never as "nothing is late"
            backup_allowance: Some(crate::scheduler::status::fallback_allowance()),
            offsite_targets: ctx
                .settings
                .config
                .offsite
                .iter()
                .filter(|t| t.enabled)
                .map(|t| t.name.clone())
                .collect(),
            newest_offsite: None,
            scheduler_available: true,
            download_dir: std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            export_dir: ctx.settings.export_dir.display().to_string(),
        },
        now: Utc::now(),
        size,
        theme: Theme::from_env(),
    }))
}

/// How long, at the end, work still going may take to finish before it is cancelled.
const GRACE: Duration = Duration::from_secs(10);

/// Open the console and run it until the operator quits, or SIGTERM or SIGHUP (the SSH
/// link went away) end it: either way the running job is finished or cancelled within
/// the grace period, what a cancelled backup left is tidied, the scheduler signs off and
/// the terminal is restored.
pub async fn run(ctx: &Session) -> Result<()> {
    // Before anything else: a hangup during start-up must not kill the process uncleanly.
    let signals = crate::scheduler::signals::Signals::listen()?;
    let _log = crate::logging::init(&ctx.settings.log_dir, "console", false).ok();
    let (store, op) = ctx.open().await?;
    tracing::info!(operator = %op.username, database = %store.describe(), "console opened");
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = prepare(ctx, &store, &op, size).await?;
    install_panic_hook();
    let mut guard = TerminalGuard::enter(ctx.settings.config.console.text_width)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let backups = crate::backup::Backups::new(store.clone(), &ctx.settings);
    let mut tasks = Tasks::new(backups, op, tx.clone()).with_rules(ctx.ledger_rules());
    let mut hosted = None;
    let manual_runs = tokio_util::sync::CancellationToken::new();
    match scheduler_setup(ctx, &store, manual_runs.clone()).await {
        Ok((mut cx, host)) => {
            // how old a backup may be before the header shows it late: the core's rule
            match crate::scheduler::status::current_backup_allowance(&store, &cx.jobs, Utc::now())
                .await
            {
                Ok(a) => app.facts.backup_allowance = a,
                // the fallback stays: an unread on/off is not "no backup job"
                Err(e) => tracing::warn!("reading the jobs' on/off: {e}"),
            }
            if host {
                let (stx, mut srx) = mpsc::unbounded_channel();
                let h = crate::scheduler::Scheduler::new(
                    store.clone(),
                    cx.jobs.clone(),
                    cx.actions.clone(),
                    crate::scheduler::RunnerKind::Console,
                )
                .with_offsite(crate::backup::Backups::new(store.clone(), &ctx.settings))
                .with_events(stx)
                .with_grace(GRACE)
                .with_alerts(ctx.settings.config.alert.clone())
                .spawn();
                cx.queue = Some(h.queue());
                let fwd = tx.clone();
                tokio::spawn(async move {
                    while let Some(e) = srx.recv().await {
                        if fwd.send(Event::Scheduler(e)).is_err() {
                            break;
                        }
                    }
                });
                hosted = Some(h);
            }
            tasks = tasks.with_scheduler(cx);
        }
        Err(e) => {
            tracing::warn!("scheduler not available: {e}");
            app.facts.scheduler_available = false;
            app.facts.scheduler = format!("off: {e}");
        }
    }
    tasks.spawn_all(app.startup());
    let watching = watch::spawn(store.clone(), tx.clone());
    let r = match guard.terminal.as_mut() {
        Some(terminal) => main_loop(terminal, &mut app, &tasks, rx, signals).await,
        None => Ok(()),
    };
    drop(guard);
    watching.abort();
    // The screen is gone (or was never there again after a hangup); finish the work.
    manual_runs.cancel();
    if let Some(h) = hosted
        && let Err(e) = h.stop().await
    {
        tracing::warn!("scheduler stopped with an error: {e}");
    }
    if !tasks.settle(GRACE).await {
        tracing::warn!("work still going after {GRACE:?}; leaving it to the tidy-up");
    }
    let backups = crate::backup::Backups::new(store.clone(), &ctx.settings);
    if let Err(e) = crate::backup::catalogue::startup(&backups).await {
        tracing::warn!("tidying the backup store at exit: {e}");
    }
    tracing::info!("console closed");
    store.close().await;
    r
}

/// The jobs, and whether this console hosts them: yes unless a daemon already runs the
/// scheduler on this database (two hosts would still run each slot once, by the claims).
async fn scheduler_setup(
    ctx: &Session,
    store: &Store,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(sched_tasks::SchedContext, bool)> {
    use crate::scheduler::{self, actions, engine, runs};
    let tz = scheduler::default_timezone(store).await?;
    let jobs = scheduler::jobs_from_config(&ctx.settings.config, &tz)?;
    let live = runs::live_runners(store, engine::stale_before(Utc::now())).await?;
    let daemon = live.iter().any(|r| r.kind == "daemon");
    let cx = sched_tasks::SchedContext {
        jobs,
        actions: actions::CoreActions::shared(store.clone(), ctx.settings.clone()),
        runner: scheduler::runner_id().0,
        queue: None,
        shutdown,
        alerts: ctx.settings.config.alert.clone(),
    };
    Ok((cx, !daemon))
}

async fn main_loop(
    terminal: &mut Terminal<backend::AlignedBackend>,
    app: &mut App,
    tasks: &Tasks,
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut signals: crate::scheduler::signals::Signals,
) -> Result<()> {
    let io_err = |e: io::Error| Error::io("drawing the screen", e);
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw: Option<Instant> = None;
    loop {
        if app.quit {
            return Ok(());
        }
        let due = last_draw.map(|t| t + FRAME);
        if app.dirty && due.is_none_or(|d| Instant::now() >= d) {
            terminal.draw(|f| views::draw(f, app)).map_err(io_err)?;
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        let redraw_at = if app.dirty { due } else { None };
        let ev = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(e)) => Event::Input(e),
                Some(Err(e)) => {
                    tracing::warn!("terminal input failed: {e}");
                    Event::Terminate
                }
                None => Event::Terminate,
            },
            Some(ev) = rx.recv() => ev,
            _ = tick.tick() => Event::Tick,
            _ = tokio::time::sleep_until(redraw_at.map(tokio::time::Instant::from_std).unwrap_or_else(tokio::time::Instant::now)), if redraw_at.is_some() => continue,
            why = signals.next() => {
                tracing::info!("{why}: closing the console");
                Event::Terminate
            }
        };
        handle(app, tasks, ev);
    }
}

/// One event into the state; work it asks for goes to the tasks.
pub fn handle(app: &mut App, tasks: &Tasks, ev: Event) {
    match ev {
        Event::Input(TermEvent::Key(key)) => {
            if let Some(action) = keymap::action_for(key, app) {
                tracing::debug!(?action, "key");
                let fx = app.update(action);
                tasks.spawn_all(fx);
            }
        }
        Event::Input(TermEvent::Resize(w, h)) => app.resize(w, h),
        Event::Input(_) => {}
        Event::Tick => {
            let fx = app.tick(Utc::now());
            tasks.spawn_all(fx);
        }
        Event::Scheduler(e) => {
            let fx = app.scheduler_event(e);
            tasks.spawn_all(fx);
        }
        Event::Task(outcome) => {
            let fx = app.apply(*outcome);
            tasks.spawn_all(fx);
        }
        Event::Progress(p) => app.progress(p),
        Event::Changes(changes) => {
            let fx = app.changes_seen(changes);
            tasks.spawn_all(fx);
        }
        Event::Terminate => {
            app.cancel_long();
            app.quit = true;
        }
    }
}
