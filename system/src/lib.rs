//! The reference system: one binary, one subcommand per PM2 process.
//!
//! `main.rs` parses the command line and calls [`run`]; everything else is
//! here so it can be tested.

pub mod api;
pub mod catalog;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod defects;
pub mod http;
pub mod identity;
pub mod market;
pub mod money;
pub mod passwords;
pub mod pipeline_config;
pub mod ratelimit;
pub mod redis_conn;
pub mod retry;
pub mod rules_store;
pub mod sink;
pub mod sink_store;
pub mod streams;
pub mod sync_queue;
pub mod telemetry;
pub mod web;
pub mod worker;

use std::time::Duration;

use config::{Config, ConfigError, ProcessEnv};

/// Process exit codes.
pub mod exit_codes {
    /// Clean shutdown, or `migrate` finished.
    pub const OK: u8 = 0;
    /// A runtime failure (a port in use, a failed migration, ...).
    pub const FAILURE: u8 = 1;
    /// Bad or missing configuration (sysexits' EX_CONFIG). Fix the
    /// environment; restarting will not help.
    pub const CONFIG: u8 = 78;
}

/// How long `migrate` waits for Postgres before giving up.
const MIGRATE_DEADLINE: Duration = Duration::from_secs(120);

/// The PM2 processes (and the one-shot `migrate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Api,
    Web,
    Worker,
    Sink,
    Migrate,
}

/// Reads the configuration from the environment and runs `process` until it
/// is told to stop (or, for `migrate`, until it is done).
pub async fn run(process: Process) -> anyhow::Result<()> {
    let cfg = Config::from_env(&ProcessEnv)?;
    match process {
        Process::Api => api::run(cfg).await,
        Process::Web => web::run(cfg).await,
        Process::Worker => worker::run(cfg).await,
        Process::Sink => sink::run(cfg).await,
        Process::Migrate => migrate(cfg).await,
    }
}

async fn migrate(cfg: Config) -> anyhow::Result<()> {
    let owner = db::connect_options(
        cfg.database_owner_url("migrate")?,
        "DATABASE_OWNER_URL",
        "gauntlet-migrate",
    )?;
    let (seed, size) = (cfg.fixture_seed, cfg.fixture_size);
    tokio::time::timeout(
        MIGRATE_DEADLINE,
        db::bootstrap(owner, seed, size, cfg.password_cost),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "migrate: Postgres at {} was not reachable within {MIGRATE_DEADLINE:?}",
            cfg.database_owner_url
                .as_ref()
                .map(|u| u.redacted())
                .unwrap_or_default()
        )
    })??;
    tracing::info!("migrate: done");
    Ok(())
}

/// The exit code for an error returned by [`run`].
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigError>().is_some() {
        exit_codes::CONFIG
    } else {
        exit_codes::FAILURE
    }
}
