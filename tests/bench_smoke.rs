//! The benchmark harness on a tiny ledger: every operation and every peer is measured and
//! the JSON report is written (the real run is `cargo bench --bench ops`).

#[path = "../benches/support/ops_lib.rs"]
mod ops_lib;

/// The child the off-site rows start (this test binary again, with the upload's spec in
/// the environment): one upload and read-back. Without the variable it does nothing.
#[test]
fn upload_child() {
    ops_lib::upload_child();
}

fn have_moto() -> bool {
    std::process::Command::new("moto_server")
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_measures_every_operation_and_its_peer_on_a_small_ledger() {
    let under_ci = std::env::var("CI").as_deref() == Ok("true");
    let moto = have_moto();
    if !moto && under_ci {
        panic!("CI=true but moto_server is not installed: the off-site copy rows cannot run");
    }
    if !moto {
        eprintln!("note: moto_server not installed; the off-site copy rows are skipped");
    }
    let out = tempfile::tempdir().unwrap();
    let cfg = ops_lib::BenchConfig {
        members: 40,
        days: 20,
        runs: 1,
        scale: 2,
        pg_url: std::env::var("SOMITI_TEST_PG_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        out: out.path().join("ops.json"),
        // the small archive (one part) and a 20 MiB file (three parts)
        offsite: moto.then(|| ops_lib::OffsiteBench {
            exe: std::env::current_exe().unwrap(),
            args: vec!["--exact".into(), "upload_child".into()],
            sizes_mib: vec![20],
        }),
        // the at-scale rows, at a smoke size
        big: (30, 10),
    };
    if cfg.pg_url.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but SOMITI_TEST_PG_URL is not set: the PostgreSQL benchmarks cannot run");
    }
    let report = ops_lib::run(&cfg).await;
    ops_lib::write_json(&report, &cfg.out);
    let text = ops_lib::render(&report);
    let ops: Vec<&str> = report.rows.iter().map(|r| r.operation.as_str()).collect();
    for want in [
        "backup (SQLite)",
        "backup (SQLite), without CSV copies",
        "verify",
        "verify --drill",
        "restore into empty SQLite",
        "daily review of one date",
        "members list, first page",
    ] {
        assert!(ops.contains(&want), "{want} missing from {ops:?}");
    }
    assert!(
        ops.iter()
            .any(|o| o.starts_with("daily review, 30 members × "))
            && ops
                .iter()
                .any(|o| o.starts_with("members list, first page, 30 × ")),
        "the at-scale rows: {ops:?}"
    );
    if cfg.pg_url.is_some() {
        assert!(
            ops.contains(&"backup (PostgreSQL)") && ops.contains(&"restore into empty PostgreSQL")
        );
    }
    for r in &report.rows {
        if r.peer_name.is_some() {
            assert!(
                r.peer.as_ref().unwrap().median_ms > 0.0,
                "{} peer measured",
                r.operation
            );
        }
    }
    if moto {
        let copies: Vec<&ops_lib::Row> = report
            .rows
            .iter()
            .filter(|r| r.operation.starts_with("off-site copy, "))
            .collect();
        assert_eq!(copies.len(), 2, "{ops:?}");
        for r in copies {
            assert!(r.somiti.peak_rss_mib > 1.0, "{} peak measured", r.operation);
            assert!(r.peer.as_ref().unwrap().peak_rss_mib > 0.5);
        }
        let o = report.offsite.as_ref().unwrap();
        assert_eq!(o.sizes[1].bytes, 20 * 1024 * 1024);
        assert!(text.contains("against curl -T"), "{text}");
    }
    assert!(report.collections > 0);
    assert!(
        report
            .memory_scale
            .as_ref()
            .unwrap()
            .peaks
            .iter()
            .all(|p| p.1 > 1.0 && p.2 > 1.0)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg.out).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), report.rows.len());
    assert!(text.contains("sqlite3 .dump | gzip -1"), "{text}");
}
