//! `gauntlet`: the command-line face of the harness. All the work happens in
//! the library crates; this binary parses arguments, runs one command and
//! turns its outcome into an exit code (documented in the README).

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
