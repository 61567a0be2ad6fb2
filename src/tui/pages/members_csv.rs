//! CSV from the Members tab: `E` exports the register as it is filtered now, `I` imports a
//! members file after a dry run whose report the operator confirms. The core
//! (`crate::csvio`) does the work and every check, as for `somiti export csv` and
//! `somiti import members`; this only collects the path and shows the reports.

use std::collections::BTreeSet;
use std::path::Path;

use crate::csvio::{self, ImportReport, Table};
use crate::ledger::money;
use crate::tui::app::{App, Level, Overlay};
use crate::tui::tasks::{Effect, Exported, FieldErrors};
use crate::tui::widgets::dialog::{Confirm, Confirmed, Message};
use crate::tui::widgets::form::{Field, Form, FormPurpose};

/// The core's problems as lines (`field: reason`).
fn error_text(e: &FieldErrors) -> String {
    e.iter()
        .map(|(f, r)| {
            if f.is_empty() {
                r.clone()
            } else {
                format!("{f}: {r}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl App {
    /// The register's filter as the list uses it (`None` when blank).
    fn export_filter(&self) -> Option<String> {
        self.members_query(0).filter
    }

    pub(crate) fn open_export_form(&mut self) {
        let Some(org) = self.org() else {
            return;
        };
        let default = csvio::default_path_at(
            Path::new(&self.facts.export_dir),
            Table::Members,
            org,
            self.now,
        );
        let count = if self.members.loaded {
            format!("{} ", self.members.total)
        } else {
            String::new()
        };
        let what = match self.export_filter() {
            Some(f) => format!("The {count}members of {} that match \"{f}\"", org.code),
            None => format!("All {count}members of {}", org.code),
        };
        let mut form = Form::new(
            "Export members to",
            FormPurpose::ExportMembers,
            vec![
                Field::new("path", "Save to", default.display().to_string())
                    .hint("a file, or a folder for the default name"),
            ],
        );
        form.intro = vec![
            format!("{what}, with balances as of today."),
            "A CSV for Excel, written on the server; the scp line to fetch it follows.".into(),
        ];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    pub(crate) fn export_submitted(&mut self, f: &Form) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        vec![Effect::ExportMembers {
            org,
            filter: self.export_filter(),
            out: f.value("path"),
            export_dir: self.facts.export_dir.clone(),
        }]
    }

    pub(crate) fn members_exported(&mut self, r: Result<Exported, FieldErrors>) -> Vec<Effect> {
        match r {
            Ok(e) => {
                self.close_form();
                let rep = &e.report;
                self.overlays.push(Overlay::Message(Message::info(
                    "Exported",
                    vec![
                        format!("wrote {} of {} to", count(rep.rows, "member"), rep.org),
                        format!("  {}", rep.path.display()),
                        format!(
                            "loan outstanding {}, savings balance {}",
                            money::taka(rep.loan_total),
                            money::taka(rep.savings_total)
                        ),
                        String::new(),
                        "Fetch it to your own machine with:".into(),
                        format!("  {}", e.fetch),
                    ],
                )));
            }
            Err(e) => match self.form_mut() {
                Some(f) => {
                    f.busy = false;
                    f.set_errors(&e, &[("out", "path")]);
                }
                None => self.overlays.push(Overlay::Message(Message::error(
                    "Not exported",
                    error_text(&e),
                ))),
            },
        }
        Vec::new()
    }

    pub(crate) fn open_import_form(&mut self) {
        let Some(org) = self.org() else {
            return;
        };
        let start = format!("{}/", self.facts.download_dir.trim_end_matches('/'));
        let mut form = Form::new(
            "Import members from",
            FormPurpose::ImportMembers,
            vec![Field::new("path", "CSV file", start).hint("a file on the server; ~/ is home")],
        );
        form.intro = vec![
            format!(
                "Adds members to {} from a CSV (comma or semicolon, BOM or not).",
                org.code
            ),
            "Every row is checked first and nothing is written until you confirm;".into(),
            "one bad row imports nothing. `somiti import template` gives the columns.".into(),
        ];
        self.overlays.push(Overlay::Form(Box::new(form)));
    }

    /// The form asks for the dry run; the report decides what comes next.
    pub(crate) fn import_submitted(&mut self, f: &Form) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        vec![Effect::ImportMembers {
            org,
            path: f.value("path"),
            dry_run: true,
        }]
    }

    pub(crate) fn import_confirmed(&mut self, path: String) -> Vec<Effect> {
        let Some(org) = self.org_box() else {
            return Vec::new();
        };
        self.flash(Level::Info, format!("importing members from {path}…"));
        vec![Effect::ImportMembers {
            org,
            path,
            dry_run: false,
        }]
    }

    pub(crate) fn members_imported(
        &mut self,
        dry_run: bool,
        path: String,
        result: Result<Box<ImportReport>, FieldErrors>,
    ) -> Vec<Effect> {
        let rep = match result {
            Ok(rep) => rep,
            Err(e) => {
                if dry_run && let Some(f) = self.form_mut() {
                    f.busy = false;
                    f.set_errors(&e, &[("file", "path")]);
                } else {
                    self.flash = None;
                    self.overlays.push(Overlay::Message(Message::error(
                        "Import failed; nothing was imported",
                        error_text(&e),
                    )));
                }
                return Vec::new();
            }
        };
        if dry_run {
            self.close_form();
        } else {
            self.flash = None;
        }
        let file = rep.file.display().to_string();
        let present = rep.already_present.len();
        if !rep.is_ok() {
            self.show_import_problems(&rep);
            return Vec::new();
        }
        if dry_run && rep.would_import == 0 {
            self.overlays.push(Overlay::Message(Message::info(
                "Nothing to import",
                vec![
                    format!("{file}: {} read;", count(rep.rows, "row")),
                    format!("0 members would be imported, {present} already present (skipped)."),
                    "Nothing was changed.".into(),
                ],
            )));
            return Vec::new();
        }
        if dry_run {
            self.overlays.push(Overlay::Confirm(Confirm {
                title: "Import members".into(),
                lines: vec![
                    format!(
                        "{file}: {} read, every row checked.",
                        count(rep.rows, "row")
                    ),
                    format!(
                        "{} would be imported, {present} already present (skipped).",
                        count(rep.would_import, "member")
                    ),
                    format!("Import them into {} now?", rep.org),
                ],
                yes: Confirmed::ImportMembers { path },
            }));
            return Vec::new();
        }
        self.flash(
            Level::Ok,
            format!(
                "imported {} into {}",
                count(rep.imported, "member"),
                rep.org
            ),
        );
        self.overlays.push(Overlay::Message(Message::info(
            "Imported",
            vec![
                format!(
                    "imported {} members into {} ({present} already present, skipped)",
                    rep.imported, rep.org
                ),
                format!("from {file}"),
            ],
        )));
        self.members_reload()
    }

    /// Every problem, one line each, in a dialog that scrolls: nothing was imported.
    fn show_import_problems(&mut self, rep: &ImportReport) {
        let rows: BTreeSet<u64> = rep.problems.iter().map(|p| p.row).collect();
        let mut lines = vec![
            format!(
                "{}: {} rows read, {} problem(s) in {} row(s);",
                rep.file.display(),
                rep.rows,
                rep.problems.len(),
                rows.len()
            ),
            "nothing was imported. Fix them in the spreadsheet and import again.".into(),
        ];
        // the body shows its height less the frame's five lines and the dialog's border
        if rep.problems.len() + 3 > (self.size.1 as usize).saturating_sub(7) {
            lines.push("↑ ↓ scroll the list".into());
        }
        lines.push(String::new());
        lines.extend(rep.problems.iter().map(|p| p.to_string()));
        self.overlays.push(Overlay::Message(Message {
            title: format!("Import check: {} problem(s)", rep.problems.len()),
            lines,
            error: true,
            scroll: 0,
        }));
    }
}

/// "1 member", "2 members".
fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(super::count(1u64, "member"), "1 member");
        assert_eq!(super::count(0u64, "member"), "0 members");
        assert_eq!(super::count(42u64, "row"), "42 rows");
    }
}
