//! gauntlet's core library: the project configuration, stack control, the
//! system under test, the target client, run records. It knows no
//! particular system: everything about one comes from its `gauntlet.toml`
//! and its compose files.
//!
//! - [`config`]: `gauntlet.toml`, layered (defaults < file < env < flags)
//! - [`compose`]: reads the compose files, the one definition of the stack
//! - [`sut`]: the system under test, one value handed to every suite
//! - [`images`]: builds the stack's images, tagged by a hash of their inputs
//! - [`stack`]: brings a run up, finds it again, acts on services, reaps runs
//! - [`pm2`]: PM2 process state through its CLI
//! - [`target`]: an HTTP endpoint, identity and readiness, loopback guard
//! - [`invariants`]: the project's data invariants (SQL, Redis)
//! - [`steps`]: the step format of journey, profile and experiment files
//! - [`smoke`]: a quick end-to-end check of a running system
//! - [`wire`]: webhook signature and HTML escaping clients must reproduce
//! - [`launch`]: build + up + verified healthy, shared by the commands
//! - [`exit_codes`], [`error`]: what the binary reports and returns

pub mod compose;
pub mod config;
pub mod docker;
pub mod error;
pub mod exit_codes;
pub mod images;
pub mod init;
pub mod invariants;
pub mod launch;
pub mod pm2;
pub mod smoke;
pub mod stack;
pub mod steps;
pub mod sut;
pub mod target;
pub mod wire;
pub mod workspace;

pub use error::{Error, Result};
