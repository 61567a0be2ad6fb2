//! Backups view: statistics over the catalogue, then the history of archives with kind and
//! status badges; the selected archive's file and scope under the table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::backup::BackupEntry;
use crate::backup::ops::{ListReport, Places};
use crate::scheduler::status::is_late;
use crate::text::human_bytes;
use crate::tui::app::App;
use crate::tui::pages::stats;
use crate::tui::views::{Align, age, notice, row, shown_error, table_line};
use crate::tui::widgets::fit;

fn verified_text(e: &BackupEntry, app: &App) -> String {
    match (&e.verify_result, e.verified_at) {
        (Some(r), Some(at)) if r.is_ok() => format!("ok {}", age(app.now, at)),
        (Some(r), _) if r.is_failed() => "FAILED".into(),
        _ => "-".into(),
    }
}

/// The off-site column: `✓ bucket` (the one target has a verified copy), `… bucket` (being
/// copied or queued), `✗ bucket` (failed), `—` (no copy); with several targets the count
/// verified of all (`✓ 1/2`, `… 0/2`, `✗ 0/2`). `wide`: each target with its mark.
pub fn offsite_cell(p: &Places, wide: bool) -> String {
    use crate::backup::offsite::copies;
    let mark = |c: Option<&crate::backup::offsite::OffsiteCopy>| match c.map(|c| c.status.as_str())
    {
        Some(copies::VERIFIED) => "✓",
        Some(copies::COPYING) | Some(copies::PENDING) => "…",
        Some(copies::FAILED) => "✗",
        Some(copies::DELETED) => "-",
        _ => "—",
    };
    if wide && p.targets.len() > 1 && p.targets.iter().any(|(_, c)| c.is_some()) {
        return p
            .targets
            .iter()
            .map(|(t, c)| format!("{}{t}", mark(*c)))
            .collect::<Vec<_>>()
            .join(" ");
    }
    let n = p.targets.len();
    let ok = p.verified_on().len();
    let any = |s: &str| p.targets.iter().any(|(_, c)| mark(*c) == s);
    let sign = if ok > 0 {
        "✓"
    } else if any("…") {
        "…"
    } else if any("✗") {
        "✗"
    } else if any("-") {
        "-"
    } else {
        return "—".into();
    };
    match p.targets.as_slice() {
        [(t, _)] => format!("{sign} {t}"),
        _ => format!("{sign} {ok}/{n}"),
    }
}

/// The selected backup's off-site copies, one line each, for the info line.
fn offsite_summary(list: &ListReport, e: &BackupEntry) -> String {
    let p = list.places(e);
    p.targets
        .iter()
        .map(|(t, c)| {
            let w = c.map_or("no copy", |c| c.status.as_str());
            format!("{t} {w}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let p = &app.backups;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(" Backups ", t.title()))
        .border_style(t.border());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if shown_error(frame, inner, p.error.as_ref(), t.bad()) {
        return;
    }
    let Some(list) = &p.list else {
        notice(
            frame,
            inner,
            vec![Line::raw("Reading the catalogue…")],
            t.muted(),
        );
        return;
    };
    let [stats_area, table, info] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let w = inner.width as usize;
    let s = stats(&list.backups);
    let when = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or("never".to_string(), |d| format!("{} ago", age(app.now, d)))
    };
    let mut line1 = format!(
        " {} backups · {} manual · {} scheduled · {} pre-restore · {}",
        s.total,
        s.manual,
        s.scheduled,
        s.pre_restore,
        human_bytes(s.bytes)
    );
    if s.deleted > 0 && w < 100 {
        line1.push_str(&format!(" · {} deleted (x)", s.deleted));
    } else if s.deleted > 0 {
        line1.push_str(&if p.show_deleted {
            format!(" · {} deleted shown (x hides)", s.deleted)
        } else {
            format!(" · {} deleted hidden (x shows)", s.deleted)
        });
    }
    let newest_verified_style = match s.newest_verified {
        Some(at) if !is_late(at, app.now, app.facts.backup_allowance) => t.ok(),
        _ => t.bad(),
    };
    let line2 = Line::from(vec![
        Span::raw(format!(
            " newest {} · last verified {} · ",
            when(s.newest),
            when(s.last_verified)
        )),
        Span::styled(
            format!("newest verified backup {}", when(s.newest_verified)),
            newest_verified_style,
        ),
    ]);
    frame.render_widget(
        Paragraph::new(vec![Line::raw(fit(&line1, w, false)), line2]),
        stats_area,
    );
    let shown = p.entries();
    if shown.is_empty() {
        notice(
            frame,
            table,
            vec![
                Line::raw(if s.deleted > 0 {
                    format!(
                        "No backups in {} ({} deleted; x shows them).",
                        list.dir.display(),
                        s.deleted
                    )
                } else {
                    format!("No backups yet in {}.", list.dir.display())
                }),
                Line::raw("Press b to take one now."),
            ],
            t.muted(),
        );
        return;
    }
    let wide = w >= 110;
    // Off-site targets add a column; on a narrow terminal Rows makes room for it.
    let offsite = !list.targets.is_empty();
    let clock = app.clock();
    let created_head = format!("Created ({})", clock.label());
    let mut cols: Vec<(&str, usize, Align)> = vec![
        ("ID", 8, Align::Left),
        (
            created_head.as_str(),
            if wide {
                16.max(created_head.chars().count())
            } else {
                11.max(created_head.chars().count()).min(15)
            },
            Align::Left,
        ),
        ("Kind", 11, Align::Left),
        ("Status", 9, Align::Left),
    ];
    if wide {
        cols.push(("Scope", 8, Align::Left));
    }
    if wide || !offsite {
        cols.push(("Rows", 9, Align::Right));
    }
    cols.extend([
        ("Size", 9, Align::Right),
        ("Verified", 8, Align::Left),
        ("Pin", 3, Align::Left),
    ]);
    if offsite {
        cols.push(("Off-site", if wide { 16 } else { 9 }, Align::Left));
    }
    if wide {
        let used: usize = cols.iter().map(|c| c.1 + 1).sum::<usize>() + 1;
        cols.push(("File", w.saturating_sub(used).max(4), Align::Left));
    }
    let mut lines = vec![Line::styled(format!(" {}", row(&cols)), t.heading())];
    let height = table.height.saturating_sub(1) as usize;
    for (i, e) in shown.iter().enumerate().skip(p.top).take(height) {
        let created = if wide {
            clock.minute(e.created_at)
        } else {
            clock.minute(e.created_at)[5..].to_string()
        };
        let mut values = vec![
            e.short_id().to_string(),
            created,
            e.kind.to_string(),
            if e.missing_since.is_some() {
                "missing".into()
            } else {
                e.status.to_string()
            },
        ];
        if wide {
            values.push(e.scope.clone());
        }
        if wide || !offsite {
            values.push(e.total_rows.map_or("-".into(), |r| r.to_string()));
        }
        values.extend([
            e.size_bytes.map_or("-".into(), human_bytes),
            verified_text(e, app),
            if e.pinned {
                "yes".into()
            } else {
                String::new()
            },
        ]);
        if offsite {
            values.push(offsite_cell(&list.places(e), wide));
        }
        if wide {
            values.push(e.file.clone());
        }
        let selected = i == p.selected;
        let text = table_line(&cols, &values, selected, w);
        let style = if selected {
            t.selected()
        } else if e.is_deleted() {
            t.muted()
        } else if !e.status.is_completed() || e.missing_since.is_some() || e.verify_failed() {
            t.bad()
        } else {
            t.text()
        };
        lines.push(Line::styled(text, style));
    }
    frame.render_widget(Paragraph::new(lines), table);
    if let Some(e) = p.selected_entry() {
        let mut text = format!(
            " {} · scope {} · by {}{}",
            e.file,
            e.scope,
            e.created_by,
            if e.encrypted { " · encrypted" } else { "" }
        );
        if let Some(err) = &e.error {
            text.push_str(&format!(" · {err}"));
        }
        if let Some(u) = e.undoes() {
            text.push_str(&format!(" · {}", u.describe()));
        }
        // Where its copies are comes first: the file name is long and cut at the end.
        if offsite {
            text = format!(
                " off-site: {} (Enter: details) ·{text}",
                offsite_summary(list, e)
            );
        }
        frame.render_widget(
            Paragraph::new(Line::styled(fit(&text, w, false), t.muted())),
            info,
        );
    }
}
