//! gauntlet's core library: stack control, the target client, run records.
//!
//! - [`compose`]: reads `docker-compose.yml`, the one definition of the stack
//! - [`images`]: builds the stack's images, tagged by a hash of their inputs
//! - [`stack`]: brings a run up, finds it again, acts on services, reaps runs
//! - [`pm2`]: PM2 process state through its CLI
//! - [`target`]: the system's HTTP API, identity check, loopback guard
//! - [`invariants`]: data invariants checked with SQL after load or chaos
//! - [`smoke`]: a quick end-to-end check of a running target
//! - [`wire`]: webhook signature and HTML escaping clients must reproduce
//! - [`launch`]: build + up + verified healthy, shared by the commands
//! - [`exit_codes`], [`error`]: what the binary reports and returns

pub mod compose;
pub mod docker;
pub mod error;
pub mod exit_codes;
pub mod images;
pub mod invariants;
pub mod launch;
pub mod pm2;
pub mod smoke;
pub mod stack;
pub mod target;
pub mod wire;
pub mod workspace;

pub use error::{Error, Result};
