//! Scheduler view: who runs the scheduler, each job (schedule as written and in words, next
//! run, last run and result, on/off), and the run history of the selected job.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::tui::app::App;
use crate::tui::views::{Align, notice, row, shown_error, table_line};
use crate::tui::widgets::fit;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let p = &app.scheduler;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(" Scheduler ", t.title()))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if !app.facts.scheduler_available {
        notice(
            frame,
            inner,
            vec![Line::raw(format!(
                "The scheduler is {}.",
                app.facts.scheduler
            ))],
            t.muted(),
        );
        return;
    }
    if shown_error(frame, inner, p.error.as_ref(), t.bad()) {
        return;
    }
    let Some(st) = &p.status else {
        notice(
            frame,
            inner,
            vec![Line::raw("Reading the scheduler's state…")],
            t.muted(),
        );
        return;
    };
    let w = inner.width as usize;
    let wide = w >= 110;
    let jobs_h = (st.jobs.len() as u16 + 1).max(2);
    let [who, jobs, detail, hist] = Layout::vertical([
        Constraint::Length(1 + st.warnings.len().min(2) as u16),
        Constraint::Length(jobs_h),
        Constraint::Length(2),
        Constraint::Min(1),
    ])
    .areas(inner);
    let mut who_lines = vec![Line::from(vec![
        Span::raw(" run by "),
        Span::styled(st.runner.description.clone(), t.heading()),
    ])];
    for wmsg in st.warnings.iter().take(2) {
        who_lines.push(Line::styled(fit(&format!(" ⚠ {wmsg}"), w, false), t.bad()));
    }
    frame.render_widget(Paragraph::new(who_lines), who);

    // One clock: the organization's, named once in each heading.
    let clock = app.clock();
    let shown = |at: chrono::DateTime<chrono::Utc>| {
        let s = clock.minute(at);
        if wide { s } else { s[5..].to_string() }
    };
    let (next_head, last_head) = if wide {
        (
            format!("Next run ({})", clock.label()),
            format!("Last run ({})", clock.label()),
        )
    } else {
        (
            format!("Next ({})", clock.label()),
            format!("Last ({})", clock.label()),
        )
    };
    // The times' columns are as wide as their heading; the schedule gives way.
    let time_w = if wide {
        16.max(next_head.len())
    } else {
        11.max(next_head.len())
    };
    let schedule_w =
        (if wide { 30usize } else { 26 }).saturating_sub(2 * (time_w - if wide { 16 } else { 11 }));
    let cols = [
        ("Job", if wide { 16 } else { 12 }, Align::Left),
        ("Schedule", schedule_w.max(12), Align::Left),
        ("On", 3, Align::Left),
        (next_head.as_str(), time_w, Align::Left),
        (last_head.as_str(), time_w, Align::Left),
        ("Result", 8, Align::Left),
    ];
    let mut lines = vec![Line::styled(format!(" {}", row(&cols)), t.heading())];
    for (i, j) in st.jobs.iter().enumerate() {
        let next = j.next_run_utc.map(shown).unwrap_or_else(|| "-".into());
        let last = j
            .last_run
            .as_ref()
            .map(|r| shown(r.started_at))
            .unwrap_or_else(|| "never".into());
        let result = if j.running || p.running.contains(&j.name) {
            "running".to_string()
        } else {
            j.last_run.as_ref().map_or("-".into(), |r| r.status.clone())
        };
        let values = [
            j.name.clone(),
            j.schedule.clone(),
            if j.enabled { "on" } else { "off" }.to_string(),
            next,
            last,
            result,
        ];
        let selected = i == p.selected;
        let s = table_line(&cols, &values, selected, w);
        let style = if selected {
            t.selected()
        } else if j.last_error.is_some() {
            t.bad()
        } else if !j.enabled {
            t.muted()
        } else {
            t.text()
        };
        lines.push(Line::styled(s, style));
    }
    frame.render_widget(Paragraph::new(lines), jobs);

    if let Some(j) = st.jobs.get(p.selected) {
        let last = j
            .last_error
            .clone()
            .or_else(|| j.last_result.clone())
            .unwrap_or_else(|| "no run yet".into());
        let text = vec![
            Line::styled(
                fit(
                    &format!(
                        " {} · cron \"{}\" {} · {}",
                        j.name, j.cron, j.timezone, j.action
                    ),
                    w,
                    false,
                ),
                t.muted(),
            ),
            Line::styled(
                fit(&format!(" last: {last}"), w, false),
                if j.last_error.is_some() {
                    t.bad()
                } else {
                    t.muted()
                },
            ),
        ];
        frame.render_widget(Paragraph::new(text), detail);
    }

    let slot_head = format!("Slot ({})", clock.label());
    let hcols = [
        (slot_head.as_str(), 16, Align::Left),
        ("Trigger", 9, Align::Left),
        ("Status", 9, Align::Left),
        (
            "Result",
            w.saturating_sub(16 + 9 + 9 + 4).max(4),
            Align::Left,
        ),
    ];
    let mut hl = vec![Line::styled(format!(" {}", row(&hcols)), t.heading())];
    if p.history.is_empty() {
        hl.push(Line::styled(" this job has not run yet", t.muted()));
    }
    for r in p
        .history
        .iter()
        .take(hist.height.saturating_sub(1) as usize)
    {
        let values = [
            clock.minute(r.slot),
            r.trigger.clone(),
            r.status.clone(),
            if r.error.is_empty() {
                r.result.clone()
            } else {
                r.error.clone()
            },
        ];
        let cells: Vec<(&str, usize, Align)> = hcols
            .iter()
            .zip(values.iter())
            .map(|((_, w, a), v)| (v.as_str(), *w, *a))
            .collect();
        let style = if r.error.is_empty() {
            t.text()
        } else {
            t.bad()
        };
        hl.push(Line::styled(format!(" {}", row(&cells)), style));
    }
    frame.render_widget(Paragraph::new(hl), hist);
}
