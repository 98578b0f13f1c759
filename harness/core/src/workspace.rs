//! The checkout gauntlet runs from: where the compose file is, where run
//! output goes (`target/gauntlet/<run-id>/`, ignored by git).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compose::ComposeFile;
use crate::config::{Config, Origin, Overrides};
use crate::error::{Error, Result};

pub const COMPOSE_FILE: &str = crate::config::DEFAULT_COMPOSE;

/// A project: its configuration (`gauntlet.toml`, or defaults) and the
/// compose files it names.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The folder of the project file (or of the compose file).
    pub root: PathBuf,
    /// The base compose file.
    pub compose_path: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// The project as [`Config::locate`] finds it, checked against its
    /// compose files at once, so a configuration error stops everything
    /// before anything starts. Endpoints and PM2 declared by compose labels
    /// are taken into the configuration.
    pub fn locate(explicit_config: Option<&Path>, overrides: Overrides) -> Result<Workspace> {
        Workspace::new(Config::locate(explicit_config, overrides)?)
    }

    pub fn new(mut config: Config) -> Result<Workspace> {
        let compose_path = config.compose_path().to_path_buf();
        if !compose_path.is_file() {
            return Err(config.error(
                "stack.compose",
                format!("compose file {} does not exist", compose_path.display()),
            ));
        }
        let compose_path = compose_path
            .canonicalize()
            .map_err(Error::io(format!("resolving {}", compose_path.display())))?;
        let compose = ComposeFile::load_all(&config.stack.compose, &HashMap::new())?;
        crate::config::against_compose(&config, &with_config(compose.clone(), &config))?;
        adopt_labels(&mut config, &compose);
        Ok(Workspace {
            root: config.root.clone(),
            compose_path,
            config,
        })
    }

    /// The stack definition, interpolated with `vars`, with the project
    /// file's endpoints and PM2 service applied as labels.
    pub fn compose(&self, vars: &HashMap<String, String>) -> Result<ComposeFile> {
        let compose = ComposeFile::load_all(&self.config.stack.compose, vars)?;
        Ok(with_config(compose, &self.config))
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

/// The configuration's endpoints and PM2 service, written onto the services
/// as the labels the stack code reads (labels already there keep working).
fn with_config(mut compose: ComposeFile, config: &Config) -> ComposeFile {
    use crate::compose::service_labels;
    for service in &mut compose.services {
        let mut endpoints = service.endpoints();
        for (name, e) in &config.endpoints {
            if e.service == service.name {
                endpoints.retain(|(n, _)| n != name);
                endpoints.push((name.clone(), e.port));
            }
        }
        if !endpoints.is_empty() {
            let spec: Vec<String> = endpoints.iter().map(|(n, p)| format!("{n}={p}")).collect();
            service
                .labels
                .insert(service_labels::ENDPOINTS.into(), spec.join(","));
        }
        if config
            .pm2
            .as_ref()
            .is_some_and(|p| p.service == service.name)
        {
            service
                .labels
                .insert(service_labels::PM2.into(), "true".into());
        }
    }
    compose
}

/// Endpoints and PM2 declared only by compose labels become part of the
/// configuration, so every suite sees one list.
fn adopt_labels(config: &mut Config, compose: &ComposeFile) {
    for service in &compose.services {
        for (name, port) in service.endpoints() {
            if !config.endpoints.contains_key(&name) {
                config
                    .origins
                    .set(&format!("endpoints.{name}"), Origin::ComposeLabel);
                config.endpoints.insert(
                    name,
                    crate::config::Endpoint {
                        service: service.name.clone(),
                        port,
                        readiness: None,
                    },
                );
            }
        }
    }
    if config.pm2.is_none() {
        if let Some(service) = compose.pm2_service() {
            config.origins.set("pm2", Origin::ComposeLabel);
            config.pm2 = Some(crate::config::Pm2 {
                service: service.name.clone(),
            });
        }
    }
}

/// What `run.json` records about a run. No secrets: passwords and tokens
/// live only in the containers' environment.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub project: String,
    /// The system's name (`[system] name`).
    pub system: String,
    pub seed: u64,
    pub defects: String,
    pub started_at: String,
    /// The project file, when there is one.
    pub config_file: Option<String>,
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
