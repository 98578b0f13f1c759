//! One file per subcommand. Each returns `Result<i32>`: the exit code when
//! it finished, an error (mapped to its exit code) when it could not.

mod backup;
mod bench;
mod build;
mod chaos;
mod check;
mod config;
mod doctor;
mod down;
mod drill;
mod evidence;
mod gate;
mod init;
mod journeys;
mod load;
mod props;
mod report;
mod status;
mod up;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use gauntlet_harness::config::{Config, Origin, Overrides};
use gauntlet_harness::images::BuildHook;
use gauntlet_harness::launch::{self, LaunchOptions};
use gauntlet_harness::stack::{self, InFlight, RunSummary, Stack};
use gauntlet_harness::sut::Sut;
use gauntlet_harness::workspace::Workspace;
use gauntlet_harness::{docker, Error, Result};

use crate::cli::{BinaryArgs, Cli, Command, Global, RunArgs};

pub async fn run(cli: Cli) -> i32 {
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let facts = evidence::Facts::of(&cli.command);
    let outcome = match cli.command {
        Command::Up(args) => up::run(&cli.global, args).await,
        Command::Down(args) => down::run(&cli.global, args).await,
        Command::Status(args) => status::run(&cli.global, args).await,
        Command::Doctor(args) => doctor::run(&cli.global, args).await,
        Command::Build(args) => build::run(&cli.global, args).await,
        Command::Check(args) => check::run(&cli.global, args).await,
        Command::Journeys(args) => journeys::run(&cli.global, args).await,
        Command::Gate(args) => gate::run(&cli.global, args).await,
        Command::Load(args) => load::run(&cli.global, args).await,
        Command::Props(args) => props::run(&cli.global, args).await,
        Command::Chaos(args) => chaos::run(&cli.global, args).await,
        Command::Drill(cmd) => drill::run(&cli.global, cmd).await,
        Command::Backup(args) => backup::run(&cli.global, args).await,
        Command::Bench(cmd) => bench::run(&cli.global, cmd).await,
        Command::Config(args) => config::run(&cli.global, args).await,
        Command::Init(args) => init::run(&cli.global, args).await,
        Command::Report(args) => report::run(&cli.global, args).await,
    };
    let code = match outcome {
        Ok(code) => code,
        // Every error becomes its exit code here, and only here
        // (`Error::exit_code`); suites convert their errors into `Error`.
        Err(err) => crate::report::fail(&err),
    };
    if let Some(facts) = facts {
        evidence::finish(&facts, started, &started_at, code);
    }
    code
}

/// The flag layer of the configuration: global flags, and the run flags of
/// commands that start a stack.
fn overrides(global: &Global, run: Option<&RunArgs>) -> Result<Overrides> {
    let mut flags = Overrides {
        project: global
            .project
            .clone()
            .map(|p| (p, Origin::Flag("--project"))),
        compose: global
            .compose
            .clone()
            .map(|c| (c, Origin::Flag("--compose"))),
        ..Default::default()
    };
    if let Some(run) = run {
        flags.service_timeout = run
            .service_timeout
            .map(|s| (Duration::from_secs(s), Origin::Flag("--service-timeout")));
        flags.no_build_hook = run.binary.no_build_hook;
    }
    let overrides = Overrides::from_env_and(flags)?;
    if let Some((project, _)) = &overrides.project {
        stack::validate_name("project", project)?;
    }
    Ok(overrides)
}

/// The project: its configuration, checked against its compose files.
fn workspace(global: &Global) -> Result<Workspace> {
    workspace_for(global, None)
}

fn workspace_for(global: &Global, run: Option<&RunArgs>) -> Result<Workspace> {
    let workspace = Workspace::locate(global.config.as_deref(), overrides(global, run)?)?;
    stack::validate_name("project", &workspace.config.system.project)?;
    Ok(workspace)
}

/// The configuration for a deployment gauntlet did not start: the project
/// file if there is one, else defaults; no compose file needed.
fn target_config(global: &Global) -> Result<Config> {
    Config::locate_or_defaults(global.config.as_deref(), overrides(global, None)?)
}

/// The configuration, and the workspace unless the suite runs against a
/// `--target` (which needs no compose file: the project file alone, or
/// defaults).
fn project_for(
    global: &Global,
    target: Option<&str>,
    run: Option<&RunArgs>,
) -> Result<(Config, Option<Workspace>)> {
    match target {
        Some(_) => Ok((target_config(global)?, None)),
        None => {
            let ws = workspace_for(global, run)?;
            Ok((ws.config.clone(), Some(ws)))
        }
    }
}

/// How the build hook runs, from `--no-build-hook` / `--system-bin`.
fn build_hook(args: &BinaryArgs) -> BuildHook {
    match (&args.system_bin, args.no_build_hook) {
        (Some(path), _) => BuildHook::RunWith(vec![(
            "GAUNTLET_SYSTEM_BIN".into(),
            std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        )]),
        (None, true) => BuildHook::Skip,
        (None, false) => BuildHook::Run,
    }
}

/// Launch options for a new run from the run flags: defects checked against
/// the project's declared switches (unknown: exit 2 before anything starts).
pub fn launch_options(
    workspace: &Workspace,
    run: &RunArgs,
    run_id: String,
) -> Result<LaunchOptions> {
    let mut options = LaunchOptions::new(workspace, run_id, run.seed.unwrap_or_else(rand::random));
    options.defects = workspace.config.check_defects(&run.defects)?;
    options.build_hook = build_hook(&run.binary);
    options.show_progress = true;
    Ok(options)
}

/// The given run, or the latest run of the project started from this checkout.
async fn find_run(
    docker: &Docker,
    workspace: &Workspace,
    run_id: Option<&str>,
) -> Result<RunSummary> {
    let runs = stack::list_runs(docker, &workspace.config.system.project).await?;
    let checkout = workspace.root.display().to_string();
    let found = match run_id {
        Some(id) => runs.into_iter().find(|r| r.run_id == id),
        None => runs.into_iter().find(|r| r.checkout == checkout),
    };
    found.ok_or_else(|| Error::NoRun {
        run: run_id.map(String::from),
    })
}

/// A stack handle on an existing run.
async fn attach(
    docker: &Docker,
    workspace: &Workspace,
    run_id: Option<&str>,
) -> Result<(Stack, RunSummary)> {
    let run = find_run(docker, workspace, run_id).await?;
    // Only names, ports and labels are needed from the compose file here, so
    // the image tags need not be computed again.
    let compose = workspace.compose(&Default::default())?;
    Ok((
        Stack::attach(
            docker.clone(),
            &workspace.config.system.project,
            &run.run_id,
            compose,
        ),
        run,
    ))
}

/// Where one command's system under test comes from: the one run
/// lifecycle every suite goes through.
pub enum Source {
    /// A fresh run, started for this command and torn down after it
    /// (also on failure and Ctrl-C), unless `keep`.
    Fresh { options: LaunchOptions, keep: bool },
    /// An existing run (`--run ID`; `None`: the latest from this checkout),
    /// left as it is.
    Existing {
        run: Option<String>,
        seed: Option<u64>,
    },
    /// A deployment gauntlet did not start, by URL per endpoint.
    Target {
        urls: BTreeMap<String, String>,
        allow_remote: bool,
        seed: u64,
    },
}

impl Source {
    /// `--target URL` (the primary endpoint) and `--endpoint NAME=URL`
    /// pairs, as a source; `None` when no URL was given.
    pub fn from_target_flags(
        config: &Config,
        target: Option<&str>,
        endpoints: &[(String, String)],
        allow_remote: bool,
        seed: u64,
    ) -> Option<Source> {
        let target = target?;
        let mut urls: BTreeMap<String, String> = endpoints.iter().cloned().collect();
        urls.insert(Sut::primary_endpoint(config), target.to_string());
        Some(Source::Target {
            urls,
            allow_remote,
            seed,
        })
    }
}

/// Who handles Ctrl-C and SIGTERM while a suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupts {
    /// The lifecycle drops the suite at once (it holds nothing to undo).
    Drop,
    /// The suite watches for them itself (chaos: a fault must be removed
    /// before exiting); only start-up is dropped.
    Handled,
}

/// Builds the system under test from `source`, hands it to `work`, and
/// cleans up: the lifecycle of gate, load, props, chaos and drill (and of
/// journeys and check on existing runs or targets). `what` names the
/// command in progress lines.
pub async fn with_sut<T, F, Fut>(
    what: &str,
    config: Config,
    workspace: Option<&Workspace>,
    source: Source,
    interrupts: Interrupts,
    work: F,
) -> Result<T>
where
    F: FnOnce(Sut) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    match source {
        Source::Fresh { options, keep } => {
            let workspace = workspace.expect("a fresh run needs a workspace");
            let docker = docker::connect().await?;
            let run_id = options.run_id.clone();
            errln!(
                "{what} run {run_id}: seed {} defects [{}]",
                options.seed,
                options.defects.join(",")
            );
            evidence::note_sut(options.seed, &options.defects);
            // Start-up is always dropped on an interrupt; the work as
            // `interrupts` says.
            let outcome = match interruptible(launch::launch(&docker, workspace, &options)).await {
                Ok(launched) => run_work(interrupts, work(launched.sut)).await,
                Err(e) => Err(e),
            };
            let interrupted = matches!(outcome, Err(Error::Interrupted));
            if keep && !interrupted {
                errln!("keeping run {run_id}; remove it with `gauntlet down {run_id}`");
            } else {
                teardown(&docker, &options.project, &run_id, in_flight(interrupted)).await?;
            }
            outcome
        }
        Source::Existing { run, seed } => {
            let workspace = workspace.expect("an existing run needs a workspace");
            let docker = docker::connect().await?;
            let (stack, summary) = attach(&docker, workspace, run.as_deref()).await?;
            let seed = seed
                .or_else(|| summary.seed.parse().ok())
                .unwrap_or_else(rand::random);
            let defects: Vec<String> = summary
                .defects
                .split(',')
                .filter(|d| !d.is_empty())
                .map(String::from)
                .collect();
            errln!("{what} on run {}: seed {seed}", stack.run_id());
            evidence::note_sut(seed, &defects);
            let sut = Sut::from_stack(Arc::new(config), stack, seed, defects).await?;
            run_work(interrupts, work(sut)).await
        }
        Source::Target {
            urls,
            allow_remote,
            seed,
        } => {
            let run_id = stack::new_run_id();
            evidence::note_sut(seed, &[]);
            let sut = Sut::from_targets(Arc::new(config), urls, allow_remote, seed, run_id).await?;
            errln!(
                "{what} against {}: seed {seed}",
                sut.endpoints()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            run_work(interrupts, work(sut)).await
        }
    }
}

async fn run_work<T>(interrupts: Interrupts, work: impl Future<Output = Result<T>>) -> Result<T> {
    match interrupts {
        Interrupts::Drop => interruptible(work).await,
        Interrupts::Handled => work.await,
    }
}

/// Where a run's reports go: `--out`, else `target/gauntlet/<run-id>/` in
/// the project folder.
pub fn out_dir(explicit: Option<&PathBuf>, config: &Config, run_id: &str) -> Result<PathBuf> {
    let dir = match explicit {
        Some(dir) => dir.clone(),
        None => config.root.join("target").join("gauntlet").join(run_id),
    };
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// Runs `work`; if Ctrl-C or SIGTERM arrives first, drops it and returns
/// [`Error::Interrupted`] so the caller cleans up.
async fn interruptible<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(Error::io("installing the SIGTERM handler"))?;
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
        _ = term.recv() => Err(Error::Interrupted),
    }
}

/// Whether create requests of a run this process started may still be in
/// flight: only when its work was dropped by an interrupt. Otherwise every
/// request was answered, and the teardown needs no quiet window.
fn in_flight(interrupted: bool) -> InFlight {
    if interrupted {
        InFlight::Possible
    } else {
        InFlight::None
    }
}

/// Removes one run, reporting what went.
async fn teardown(
    docker: &Docker,
    project: &str,
    run_id: &str,
    in_flight: InFlight,
) -> Result<stack::ReapReport> {
    let report = stack::reap_with(docker, project, Some(run_id), in_flight).await?;
    errln!(
        "removed run {run_id}: {} containers, {} networks, {} volumes",
        report.containers.len(),
        report.networks.len(),
        report.volumes.len()
    );
    Ok(report)
}
