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
        if matches!(e, somiti::error::Error::OutputClosed) {
            // The reader of stdout went away: end quietly, like `head` expects.
            std::process::exit(0);
        }
        somiti::cli::report_error(&e, json);
        std::process::exit(e.exit_code());
    }
}
