//! The benchmark harness on a tiny ledger: every operation and every peer is measured and
//! the JSON report is written (the real run is `cargo bench --bench ops`).

#[path = "../benches/support/ops_lib.rs"]
mod ops_lib;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_measures_every_operation_and_its_peer_on_a_small_ledger() {
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
