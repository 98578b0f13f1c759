//! `gauntlet-faultproxy`: see the library's documentation.

use std::process::ExitCode;

use clap::Parser;
use gauntlet_faultproxy::cli::{self, exit, Args};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // No colour codes in `docker logs` or in a harness's captured output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli::run(Args::parse()).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("gauntlet-faultproxy: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
