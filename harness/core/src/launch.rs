//! Bringing a whole run to the point where it serves: images built, stack
//! up, identity verified, every PM2 process online, deep health ok. Shared by
//! `gauntlet up` and `gauntlet gate` (and later chaos and load).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::Docker;
use rand::distr::{Alphanumeric, SampleString};

use crate::compose::ComposeFile;
use crate::error::{Error, Result};
use crate::images::{self, SystemBinary};
use crate::stack::{self, RunSpec, Stack, UpOptions};
use crate::target::Target;
use crate::workspace::{RunRecord, Workspace};

/// Compose variables for runs where one client sends thousands of requests
/// a minute and registers accounts (property tests, chaos writers, test
/// suites): rate limits raised far above any test's traffic, and the
/// cheapest password hash. Merged into [`LaunchOptions::extra_vars`].
pub const HEAVY_TRAFFIC_VARS: [(&str, &str); 6] = [
    ("GAUNTLET_RATE_LIMIT_STANDARD", "10000000/60s"),
    ("GAUNTLET_RATE_LIMIT_EXPENSIVE", "10000000/60s"),
    ("GAUNTLET_RATE_LIMIT_ADMIN", "10000000/60s"),
    ("GAUNTLET_RATE_LIMIT_AUTH", "10000000/60s"),
    ("GAUNTLET_PASSWORD_HASH_MEMORY_KIB", "1024"),
    ("GAUNTLET_PASSWORD_HASH_ITERATIONS", "1"),
];

#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub project: String,
    pub run_id: String,
    pub seed: u64,
    pub defects: String,
    pub binary: SystemBinary,
    pub show_progress: bool,
    pub service_timeout: Duration,
    /// Further compose variables (e.g. raised rate limits for a load test);
    /// they override the run's defaults.
    pub extra_vars: HashMap<String, String>,
}

impl LaunchOptions {
    /// Merges [`HEAVY_TRAFFIC_VARS`] into `extra_vars` (values already set
    /// win), except the variables named in `keep`, which keep the system's
    /// defaults.
    pub fn heavy_traffic(&mut self, keep: &[&str]) {
        for (name, value) in HEAVY_TRAFFIC_VARS {
            if !keep.contains(&name) {
                self.extra_vars
                    .entry(name.to_string())
                    .or_insert_with(|| value.to_string());
            }
        }
    }
}

pub struct Launched {
    pub stack: Stack,
    pub record: RunRecord,
    pub build_seconds: f64,
    pub up_seconds: f64,
}

/// Images for the current inputs, built if missing. Returns the compose file
/// loaded with their tags, and the variables used.
pub async fn build(
    docker: &Docker,
    workspace: &Workspace,
    binary: &SystemBinary,
    extra_vars: HashMap<String, String>,
    show_progress: bool,
) -> Result<(
    ComposeFile,
    Vec<images::BuiltImage>,
    HashMap<String, String>,
)> {
    let plain = workspace.compose(&extra_vars)?;
    let mut vars = extra_vars;
    vars.extend(images::prepare(&workspace.root, &plain, binary)?);
    let compose = workspace.compose(&vars)?;
    let built = images::build_missing(docker, &compose, show_progress).await?;
    Ok((compose, built, vars))
}

/// Run-specific compose variables: fresh secrets for every run, the seed,
/// the defect switches.
fn run_vars(options: &LaunchOptions, workspace: &Workspace) -> HashMap<String, String> {
    let secret = || Alphanumeric.sample_string(&mut rand::rng(), 24);
    let mut vars = HashMap::from([
        ("GAUNTLET_PG_OWNER_PASSWORD".into(), secret()),
        ("GAUNTLET_PG_APP_PASSWORD".into(), secret()),
        ("GAUNTLET_ADMIN_TOKEN".into(), secret()),
        ("GAUNTLET_SHOPIFY_SECRET".into(), secret()),
        ("GAUNTLET_SEED".into(), options.seed.to_string()),
        ("SYSTEM_DEFECTS".into(), options.defects.clone()),
        ("GAUNTLET_GIT_SHA".into(), workspace.git_sha()),
    ]);
    vars.extend(options.extra_vars.clone());
    vars
}

pub async fn launch(
    docker: &Docker,
    workspace: &Workspace,
    options: &LaunchOptions,
) -> Result<Launched> {
    let started = Instant::now();
    let (compose, built, _vars) = build(
        docker,
        workspace,
        &options.binary,
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
        defects: options.defects.clone(),
        started_at: chrono::Utc::now(),
    };
    let up_options = UpOptions {
        service_timeout: options.service_timeout,
        show_progress: options.show_progress,
    };
    let up_started = Instant::now();
    let stack = stack::up(docker, &spec, &compose, &up_options).await?;

    let api = Target::new(&stack.endpoint_url("api").await?, false)?;
    api.verify_identity().await?;
    crate::smoke::wait_pm2_online(&stack, options.service_timeout).await?;
    let (status, body) = api.healthz().await?;
    if status != 200 {
        return Err(Error::Unhealthy {
            service: "api".into(),
            reason: format!("/api/healthz answered {status}: {body}"),
        });
    }
    let up_seconds = up_started.elapsed().as_secs_f64();

    let mut urls = BTreeMap::new();
    for service in &compose.services {
        for (endpoint, _) in service.endpoints() {
            urls.insert(endpoint.clone(), stack.endpoint_url(&endpoint).await?);
        }
    }
    let record = RunRecord {
        run_id: spec.run_id.clone(),
        project: spec.project.clone(),
        seed: spec.seed,
        defects: spec.defects.clone(),
        started_at: spec.started_at.to_rfc3339(),
        compose_file: workspace.compose_path.display().to_string(),
        images: built.iter().map(|b| b.image.clone()).collect(),
        urls,
    };
    record.write(&workspace.run_dir(&spec.run_id)?)?;
    Ok(Launched {
        stack,
        record,
        build_seconds,
        up_seconds,
    })
}
