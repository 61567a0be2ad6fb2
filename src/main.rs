//! `somiti`: argument parsing and dispatch only; everything else is in the library.

use clap::Parser;
use somiti::error::Error;

fn main() {
    let cli = match somiti::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => usage_error(e),
    };
    let json = cli.json;
    if json {
        json_panics();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            somiti::cli::report_error(&Error::io("starting the async runtime", e), json);
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(dispatch(cli));
    if let Err(e) = result {
        if matches!(e, Error::OutputClosed) {
            // The reader of stdout went away: end quietly, like `head` expects.
            std::process::exit(0);
        }
        somiti::cli::report_error(&e, json);
        std::process::exit(e.exit_code());
    }
}

/// The two faces meet only here: no command on a terminal opens the console, everything
/// else is the command line.
async fn dispatch(cli: somiti::cli::Cli) -> somiti::Result<()> {
    if cli.command.is_none() && somiti::cli::init::wants_console(cli.json) {
        let ctx = somiti::cli::Ctx::new(&cli)?;
        return somiti::tui::run(&ctx.session).await;
    }
    somiti::cli::run(cli).await
}

/// clap's own answer for `--help` and `--version` (exit 0); a usage error is clap's text,
/// or with `--json` one JSON document, exit 2.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let info = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !json || info {
        e.exit();
    }
    let message = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        "a subcommand is missing; add --help to see them".to_string()
    } else {
        // clap's first line is the sentence ("error: unexpected argument …"); the rest is
        // the usage line and a pointer to --help.
        let text = e.render().to_string();
        text.lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .trim()
            .to_string()
    };
    let v = serde_json::json!({
        "error": { "kind": "usage", "message": message, "exit_code": 2 }
    });
    somiti::cli::write_err(&v.to_string());
    std::process::exit(2);
}

/// With `--json`, a panic (a bug) on the main thread is the one JSON document on stderr,
/// not Rust's text. A panic on another thread says nothing here: the task or thread that
/// died is reported by the code that waited for it, as the command's one error.
fn json_panics() {
    std::panic::set_hook(Box::new(|info| {
        if std::thread::current().name() != Some("main") {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let v = serde_json::json!({
            "error": {
                "kind": "internal",
                "message": format!("internal error{at}: {what}; please report it"),
                "exit_code": 101,
            }
        });
        somiti::cli::write_err(&v.to_string());
    }));
}
