//! The command line: `gauntlet-faultproxy [--host H] [--port P] [--config FILE]`,
//! Toxiproxy's server flags with double dashes.

use std::path::PathBuf;

use clap::Parser;
use tracing::info;

use crate::config::{self, ConfigError};
use crate::server::Server;

/// Exit codes (named, so scripts and the harness can rely on them).
pub mod exit {
    /// Clean shutdown (SIGINT/SIGTERM).
    pub const OK: u8 = 0;
    /// The server could not start or failed while running.
    pub const FAILURE: u8 = 1;
    /// Bad input: command-line usage (clap's code) or a bad `--config` file.
    pub const BAD_INPUT: u8 = 2;
}

#[derive(Debug, Parser)]
#[command(
    name = "gauntlet-faultproxy",
    version,
    about = "TCP fault proxy with the Toxiproxy 2.x HTTP API"
)]
pub struct Args {
    /// Address the API listens on.
    #[arg(long, default_value = "0.0.0.0", env = "FAULTPROXY_HOST")]
    pub host: String,
    /// Port the API listens on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8474, env = "FAULTPROXY_PORT")]
    pub port: u16,
    /// JSON file of proxies to create at start (Toxiproxy's `-config` format).
    #[arg(long, env = "FAULTPROXY_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("proxy config file {}: cannot create the proxies: {message}", path.display())]
    Populate { path: PathBuf, message: String },
    #[error(
        "cannot listen on {addr} for the API: {source}; is another toxiproxy running? (use --port)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("API server failed: {0}")]
    Serve(std::io::Error),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) => exit::BAD_INPUT,
            _ => exit::FAILURE,
        }
    }
}

/// Loads the config (before binding anything, so a bad file fails fast),
/// starts the API and the proxies, and serves until SIGINT or SIGTERM.
pub async fn run(args: Args) -> Result<(), RunError> {
    let configs = match &args.config {
        Some(path) => Some((path, config::load(path)?)),
        None => None,
    };
    let addr = format!("{}:{}", args.host, args.port);
    let server = Server::bind(&addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })?;
    if let Some((path, configs)) = configs {
        let proxies = server
            .populate(configs)
            .await
            .map_err(|err| RunError::Populate {
                path: path.clone(),
                message: err.message,
            })?;
        info!(count = proxies.len(), file = %path.display(), "proxies created from config file");
    }
    server
        .serve(shutdown_signal())
        .await
        .map_err(RunError::Serve)
}

/// SIGINT or SIGTERM (what `docker stop` sends to PID 1).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    info!("shutting down");
}
