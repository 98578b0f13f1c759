//! `gauntlet-system <api|web|worker|sink|migrate>`; configuration comes from
//! the environment only (see system/README.md).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gauntlet_system::{exit_code, run, telemetry, Process};

#[derive(Parser)]
#[command(
    name = "gauntlet-system",
    version,
    about = "The reference system gauntlet tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// JSON API (migrates and loads fixtures on start)
    Api,
    /// Server-rendered web pages
    Web,
    /// Background tasks (heartbeat; later the outbox relay and consumers)
    Worker,
    /// Stand-in for Slack / e-mail: records deliveries, can be told to fail
    Sink,
    /// Apply migrations and load fixtures, then exit
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let process = match Cli::parse().command {
        Command::Api => Process::Api,
        Command::Web => Process::Web,
        Command::Worker => Process::Worker,
        Command::Sink => Process::Sink,
        Command::Migrate => Process::Migrate,
    };
    telemetry::init_logging();
    match run(process).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "exiting");
            eprintln!("gauntlet-system: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
