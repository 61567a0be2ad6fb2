//! The Members tab's CSV effects against a real store: `E` and `I` run the same core calls
//! as `somiti export csv` and `somiti import members` (filter, permissions, checks), and
//! their answers become the dialogs the operator sees.

mod common;
mod csv_support;
mod tui_support;

use csv_support::*;
use somiti::access::Role;
use somiti::tui::app::Overlay;
use somiti::tui::tasks::{self, Effect, Outcome};

#[tokio::test]
async fn export_then_import_through_the_console_effects() {
    let t = CsvTest::sqlite().await;
    let store = t.store();
    let o = org(store, "DEMO").await;
    for (no, name) in [
        (1, "Rahima Khatun"),
        (2, "Abdul Karim"),
        (3, "Rahima Begum"),
    ] {
        add_member(store, &o, &input(no, name)).await;
    }
    let export_dir = t.dir.path().join("exports");
    let export = |op, out: String, filter: Option<&str>| {
        let effect = Effect::ExportMembers {
            org: Box::new(o.clone()),
            filter: filter.map(str::to_string),
            out,
            export_dir: export_dir.display().to_string(),
        };
        async move { tasks::run(store, &op, effect).await }
    };

    // a viewer gets the core's refusal, and nothing is written
    let Outcome::Exported(Err(e)) = export(with_role(Role::Viewer), String::new(), None).await
    else {
        panic!("a viewer exported");
    };
    assert!(e[0].1.contains("may not export data"), "{e:?}");

    // the filter is the register's: only the matching members go
    let Outcome::Exported(Ok(x)) = export(admin(), String::new(), Some("Rahima")).await else {
        panic!("export failed");
    };
    assert_eq!(x.report.rows, 2);
    assert_eq!(x.report.path.parent(), Some(export_dir.as_path()));
    assert!(
        x.fetch.starts_with("scp ") && x.fetch.ends_with(" ."),
        "{}",
        x.fetch
    );
    let (_, rows) = read_csv(&x.report.path); // checks the BOM
    assert_eq!(rows.len(), 2);

    // the whole register to a path typed in the form, then imported back: all present
    let file = t.dir.path().join("all.csv");
    let Outcome::Exported(Ok(_)) = export(admin(), file.display().to_string(), None).await else {
        panic!("export failed");
    };
    let import = |op, path: &std::path::Path, dry_run| {
        let effect = Effect::ImportMembers {
            org: Box::new(o.clone()),
            path: path.display().to_string(),
            dry_run,
        };
        async move { tasks::run(store, &op, effect).await }
    };
    let Outcome::Imported {
        result: Ok(rep), ..
    } = import(admin(), &file, true).await
    else {
        panic!("dry run failed");
    };
    assert!(rep.is_ok());
    assert_eq!((rep.would_import, rep.already_present.len()), (0, 3));

    // a worker may not import
    let Outcome::Imported { result: Err(e), .. } =
        import(with_role(Role::Worker), &file, true).await
    else {
        panic!("a worker imported");
    };
    assert!(e[0].1.contains("may not import data"), "{e:?}");

    // a bad NID is a problem with its row and column; the dialog lists it
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replacen(&input(3, "").nid, "12345", 1);
    let bad = write(t.dir.path(), "bad.csv", &text);
    let out = import(admin(), &bad, true).await;
    let mut app = tui_support::full_app((80, 24));
    app.apply(out);
    let Some(Overlay::Message(m)) = app.overlays.last() else {
        panic!("expected the problems dialog, got {:?}", app.overlays);
    };
    let lines = m.lines.join("\n");
    assert!(lines.contains("nothing was imported"), "{lines}");
    assert!(lines.contains("row 4, column E (nid)"), "{lines}");
    assert_eq!(member_count(store).await, 3);
    t.t.finish().await;
}
