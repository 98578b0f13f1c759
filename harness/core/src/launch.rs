//! Bringing a whole run to the point where it serves: build hook, images,
//! stack up, every endpoint ready, identity verified, PM2 processes online
//! (when the project has PM2). Used by every command that starts a run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use rand::distr::{Alphanumeric, SampleString};

use crate::compose::ComposeFile;
use crate::error::Result;
use crate::images::{self, BuildHook};
use crate::stack::{self, RunSpec, Stack, UpOptions};
use crate::sut::Sut;
use crate::target::Target;
use crate::workspace::{RunRecord, Workspace};

/// Compose variables gauntlet itself sets for every run it starts, whatever
/// the system: a compose file may use them or not.
pub mod vars {
    /// The run's seed (fixtures and everything random in the system).
    pub const SEED: &str = "GAUNTLET_SEED";
    /// The run's id.
    pub const RUN_ID: &str = "GAUNTLET_RUN_ID";
    /// The checkout's commit, when it is a git repository.
    pub const GIT_SHA: &str = "GAUNTLET_GIT_SHA";
}

#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub project: String,
    pub run_id: String,
    pub seed: u64,
    /// Checked against the project's declared switches
    /// ([`crate::config::Config::check_defects`]).
    pub defects: Vec<String>,
    pub build_hook: BuildHook,
    pub show_progress: bool,
    pub service_timeout: Duration,
    /// Further compose variables (e.g. raised rate limits for a load test);
    /// they override the run's defaults.
    pub extra_vars: HashMap<String, String>,
}

impl LaunchOptions {
    /// Options for a new run of the workspace's project, at its defaults.
    pub fn new(workspace: &Workspace, run_id: String, seed: u64) -> LaunchOptions {
        LaunchOptions {
            project: workspace.config.system.project.clone(),
            run_id,
            seed,
            defects: Vec::new(),
            build_hook: BuildHook::Run,
            show_progress: false,
            service_timeout: workspace.config.stack.service_timeout,
            extra_vars: HashMap::new(),
        }
    }

    /// Merges the project's variable set `name` (`[variable_sets.NAME]`)
    /// into `extra_vars` (values already set win), except the variables
    /// named in `keep`, which keep the system's defaults. A set the project
    /// does not declare adds nothing.
    pub fn use_variable_set(&mut self, workspace: &Workspace, name: &str, keep: &[&str]) {
        let Some(set) = workspace.config.variable_sets.get(name) else {
            return;
        };
        for (var, value) in set {
            if !keep.contains(&var.as_str()) {
                self.extra_vars
                    .entry(var.clone())
                    .or_insert_with(|| value.clone());
            }
        }
    }
}

pub struct Launched {
    pub stack: Stack,
    pub sut: Sut,
    pub record: RunRecord,
    pub build_seconds: f64,
    pub up_seconds: f64,
}

/// Runs the build hook and builds the images the current inputs need.
/// Returns the compose file loaded with their tags, and the variables used.
pub async fn build(
    docker: &Docker,
    workspace: &Workspace,
    hook: &BuildHook,
    extra_vars: HashMap<String, String>,
    show_progress: bool,
) -> Result<(
    ComposeFile,
    Vec<images::BuiltImage>,
    HashMap<String, String>,
)> {
    images::run_build_hook(&workspace.config, hook)?;
    let plain = workspace.compose(&extra_vars)?;
    let mut vars = extra_vars;
    vars.extend(images::prepare(&plain)?);
    let compose = workspace.compose(&vars)?;
    let built = images::build_missing(docker, &compose, show_progress).await?;
    Ok((compose, built, vars))
}

/// Run-specific compose variables: the project's variables, a fresh value
/// for every generated secret, the seed, the defect switches.
fn run_vars(options: &LaunchOptions, workspace: &Workspace) -> HashMap<String, String> {
    let config = &workspace.config;
    let mut vars: HashMap<String, String> = config
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for spec in config.secrets.values().filter(|s| s.generate) {
        vars.insert(
            spec.variable.clone(),
            Alphanumeric.sample_string(&mut rand::rng(), 24),
        );
    }
    vars.insert(vars::SEED.into(), options.seed.to_string());
    vars.insert(vars::RUN_ID.into(), options.run_id.clone());
    vars.insert(vars::GIT_SHA.into(), workspace.git_sha());
    if let Some(variable) = &config.defects.variable {
        vars.insert(variable.clone(), options.defects.join(","));
    }
    vars.extend(options.extra_vars.clone());
    vars
}

pub async fn launch(
    docker: &Docker,
    workspace: &Workspace,
    options: &LaunchOptions,
) -> Result<Launched> {
    let config = Arc::new(workspace.config.clone());
    let started = Instant::now();
    let (compose, built, _vars) = build(
        docker,
        workspace,
        &options.build_hook,
        run_vars(options, workspace),
        options.show_progress,
    )
    .await?;
    let build_seconds = started.elapsed().as_secs_f64();

    let spec = RunSpec {
        project: options.project.clone(),
        run_id: options.run_id.clone(),
        checkout: workspace.root.clone(),
        seed: options.seed,
        defects: options.defects.join(","),
        started_at: chrono::Utc::now(),
    };
    let up_options = UpOptions {
        service_timeout: options.service_timeout,
        show_progress: options.show_progress,
    };
    let up_started = Instant::now();
    let stack = stack::up(docker, &spec, &compose, &up_options).await?;

    // Readiness per endpoint, retried until its timeout: a compose
    // healthcheck says the container is healthy, this says it serves.
    for (name, endpoint) in &config.endpoints {
        if let Some(readiness) = &endpoint.readiness {
            wait_endpoint_ready(
                &stack,
                name,
                &endpoint.service,
                readiness,
                options.service_timeout,
            )
            .await?;
        }
    }
    let sut = Sut::from_stack(
        config.clone(),
        stack.clone(),
        options.seed,
        options.defects.clone(),
    )
    .await?;
    if config.pm2.is_some() {
        crate::pm2::wait_online(&stack, options.service_timeout).await?;
    }
    let up_seconds = up_started.elapsed().as_secs_f64();

    let urls: BTreeMap<String, String> = sut.endpoints().clone();
    let record = RunRecord {
        run_id: spec.run_id.clone(),
        project: spec.project.clone(),
        system: config.system.name.clone(),
        seed: spec.seed,
        defects: spec.defects.clone(),
        started_at: spec.started_at.to_rfc3339(),
        config_file: config.path.as_ref().map(|p| p.display().to_string()),
        compose_file: workspace.compose_path.display().to_string(),
        images: built.iter().map(|b| b.image.clone()).collect(),
        urls,
    };
    record.write(&workspace.run_dir(&spec.run_id)?)?;
    Ok(Launched {
        stack,
        sut,
        record,
        build_seconds,
        up_seconds,
    })
}

/// Polls an endpoint's readiness probe until it answers, its timeout passes,
/// or its container stops running (then the error carries the container's
/// last log lines, the likeliest explanation).
async fn wait_endpoint_ready(
    stack: &Stack,
    name: &str,
    service: &str,
    readiness: &crate::config::Readiness,
    default_timeout: Duration,
) -> Result<()> {
    let timeout = readiness.timeout.unwrap_or(default_timeout);
    let deadline = Instant::now() + timeout;
    loop {
        let state = stack.state(service).await?;
        if state.state != "running" {
            let logs = stack.logs_tail(service, 30).await.unwrap_or_default();
            return Err(crate::Error::Unhealthy {
                service: service.into(),
                reason: format!(
                    "container {} before endpoint `{name}` was ready; last log lines:\n{logs}",
                    state.state
                ),
            });
        }
        // One probe per round, so a stopped container is noticed.
        let target = Target::new(&stack.endpoint_url(name).await?, false)?;
        match target.probe_ready(readiness).await {
            Ok(()) => return Ok(()),
            Err(last) if Instant::now() >= deadline => {
                return Err(crate::Error::Unhealthy {
                    service: service.into(),
                    reason: format!(
                    "endpoint `{name}`: GET {} did not answer {} within {timeout:?}: last {last}",
                    readiness.path, readiness.status
                ),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
