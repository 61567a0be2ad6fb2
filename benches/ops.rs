//! `cargo bench --bench ops`: somiti's backup, verify, restore, daily review and members
//! page against sqlite3 .dump | gzip, pg_dump and pg_restore on the same demo ledger.
//! Size: SOMITI_BENCH_MEMBERS (3250), SOMITI_BENCH_DAYS (365), SOMITI_BENCH_RUNS (3),
//! SOMITI_BENCH_SCALE (4: the memory check on a 4× ledger; 0 skips it). PostgreSQL rows
//! need SOMITI_TEST_PG_URL. The off-site copy rows need moto_server (SOMITI_BENCH_OFFSITE_MIB:
//! the sizes of the extra files, 32,256). Results: the table on stdout, JSON in target/bench/ops.json.

#[path = "support/ops_lib.rs"]
mod ops_lib;

fn main() {
    // Started again by the off-site rows to make one upload in a process of its own.
    if ops_lib::upload_child() {
        return;
    }
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    let cfg = ops_lib::BenchConfig::from_env();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let report = rt.block_on(ops_lib::run(&cfg));
    print!("{}", ops_lib::render(&report));
    ops_lib::write_json(&report, &cfg.out);
    println!("\nJSON: {}", cfg.out.display());
}
