//! `gauntlet`: the command-line face of the harness. All the work happens in
//! the library crates; this binary parses arguments, runs one command and
//! turns its outcome into an exit code (documented in the README).

// Output that never panics. std's `println!` panics when stdout is a closed
// pipe (`gauntlet props | head`), which would abort a run between its fault
// and its teardown; these drop the text instead and the run goes on.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod commands;
mod report;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    report::init_tracing();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = runtime.block_on(commands::run(cli));
    std::process::exit(code);
}
