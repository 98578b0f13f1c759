//! The checkout gauntlet runs from: where the compose file is, where run
//! output goes (`target/gauntlet/<run-id>/`, ignored by git).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compose::ComposeFile;
use crate::error::{Error, Result};

pub const COMPOSE_FILE: &str = "docker-compose.yml";

#[derive(Debug, Clone)]
pub struct Workspace {
    /// The directory holding the compose file.
    pub root: PathBuf,
    pub compose_path: PathBuf,
}

impl Workspace {
    /// Uses `explicit` (from `--compose` or `GAUNTLET_COMPOSE`) if given,
    /// else the nearest `docker-compose.yml` from the current directory up.
    pub fn locate(explicit: Option<&Path>) -> Result<Workspace> {
        let compose_path = match explicit {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::Usage(format!(
                        "compose file {} does not exist",
                        path.display()
                    )));
                }
                path.to_path_buf()
            }
            None => {
                let cwd =
                    std::env::current_dir().map_err(Error::io("reading the current directory"))?;
                cwd.ancestors()
                    .map(|dir| dir.join(COMPOSE_FILE))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "no {COMPOSE_FILE} in {} or above; run inside a gauntlet checkout or pass --compose FILE",
                            cwd.display()
                        ))
                    })?
            }
        };
        let compose_path = compose_path
            .canonicalize()
            .map_err(Error::io(format!("resolving {}", compose_path.display())))?;
        let root = compose_path
            .parent()
            .expect("a file has a parent")
            .to_path_buf();
        Ok(Workspace { root, compose_path })
    }

    pub fn compose(&self, vars: &HashMap<String, String>) -> Result<ComposeFile> {
        ComposeFile::load(&self.compose_path, vars)
    }

    /// `target/gauntlet/<run-id>/`, created.
    pub fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        let dir = self.root.join("target").join("gauntlet").join(run_id);
        std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        Ok(dir)
    }

    /// The commit checked out, for the system's `git_sha`.
    pub fn git_sha(&self) -> String {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(&self.root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// What `run.json` records about a run. No secrets: passwords and tokens
/// live only in the containers' environment.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub project: String,
    pub seed: u64,
    pub defects: String,
    pub started_at: String,
    pub compose_file: String,
    pub images: Vec<String>,
    pub urls: std::collections::BTreeMap<String, String>,
}

impl RunRecord {
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("run.json");
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        std::fs::write(&path, text + "\n")
            .map_err(Error::io(format!("writing {}", path.display())))?;
        Ok(path)
    }
}
