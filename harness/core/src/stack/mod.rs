//! Control of one run's stack: bring it up from the compose file, find its
//! services again (by label, so a new process or a restarted container is
//! found the same way), act on them, and tear everything down.

mod control;
pub mod labels;
mod reaper;
mod replace;
mod up;

use std::path::PathBuf;

use bollard::Docker;

use crate::compose::ComposeFile;
use crate::error::{Error, Result};

pub use control::{ExecOutput, PublishedPort, ServiceState};
pub use reaper::{list_runs, reap, reap_with, InFlight, ReapReport, RunSummary};
pub use up::{up, UpOptions};

/// Everything that identifies a run and goes into its labels.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Namespace for runs, like compose's project name (`--project`).
    pub project: String,
    pub run_id: String,
    pub checkout: PathBuf,
    pub seed: u64,
    /// Comma list of defect switches (passed in the project's `[defects] variable`).
    pub defects: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A handle on one run's stack. Cheap: holds names, not containers; every
/// call asks Docker, so it stays right after restarts and port changes.
#[derive(Clone)]
pub struct Stack {
    docker: Docker,
    project: String,
    run_id: String,
    compose: ComposeFile,
}

impl Stack {
    pub fn attach(docker: Docker, project: &str, run_id: &str, compose: ComposeFile) -> Stack {
        Stack {
            docker,
            project: project.to_string(),
            run_id: run_id.to_string(),
            compose,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn compose(&self) -> &ComposeFile {
        &self.compose
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn container_name(&self, service: &str) -> String {
        format!("{}-{}-{}", self.project, self.run_id, service)
    }

    pub fn network_name(&self) -> String {
        network_name(&self.project, &self.run_id)
    }

    fn service_checked(&self, service: &str) -> Result<&crate::compose::Service> {
        self.compose.service(service).ok_or_else(|| {
            let known: Vec<_> = self
                .compose
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            Error::Usage(format!(
                "unknown service `{service}` (services: {})",
                known.join(", ")
            ))
        })
    }
}

pub(crate) fn network_name(project: &str, run_id: &str) -> String {
    format!("{project}-{run_id}")
}

pub(crate) fn volume_name(project: &str, run_id: &str, volume: &str) -> String {
    format!("{project}-{run_id}-{volume}")
}

/// A fresh run id: short, lowercase, safe in every Docker name.
pub fn new_run_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let tail: String = (0..6)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("r{tail}")
}

/// Project names and run ids end up in Docker names and label filters.
pub fn validate_name(kind: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 40
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{kind} `{value}` is invalid: use 1-40 lowercase letters, digits and dashes"
        )))
    }
}
