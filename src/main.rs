//! `somiti`: argument parsing and dispatch only; everything else is in the library.

use clap::Parser;

fn main() {
    let cli = somiti::cli::Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("somiti: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(somiti::cli::run(cli));
    if let Err(e) = result {
        somiti::cli::report_error(&e, json);
        std::process::exit(e.exit_code());
    }
}
