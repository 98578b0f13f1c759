//! One file per subcommand. Each returns `Result<i32>`: the exit code when
//! it finished, an error (mapped to its exit code) when it could not.

mod backup;
mod bench;
mod build;
mod chaos;
mod check;
mod doctor;
mod down;
mod drill;
mod gate;
mod journeys;
mod load;
mod props;
mod status;
mod up;

use std::future::Future;

use bollard::Docker;
use gauntlet_harness::images::SystemBinary;
use gauntlet_harness::stack::{self, RunSummary, Stack};
use gauntlet_harness::workspace::Workspace;
use gauntlet_harness::{Error, Result};

use crate::cli::{BinaryArgs, Cli, Command, Global};
use crate::report;

pub async fn run(cli: Cli) -> i32 {
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
    };
    match outcome {
        Ok(code) => code,
        Err(err) => report::fail(&err),
    }
}

fn workspace(global: &Global) -> Result<Workspace> {
    stack::validate_name("project", &global.project)?;
    Workspace::locate(global.compose.as_deref())
}

fn system_binary(args: &BinaryArgs) -> SystemBinary {
    match (&args.system_bin, args.no_cargo) {
        (Some(path), _) => SystemBinary::Path(path.clone()),
        (None, true) => SystemBinary::Staged,
        (None, false) => SystemBinary::Cargo,
    }
}

/// The given run, or the latest run of the project started from this checkout.
async fn find_run(
    docker: &Docker,
    global: &Global,
    workspace: &Workspace,
    run_id: Option<&str>,
) -> Result<RunSummary> {
    let runs = stack::list_runs(docker, &global.project).await?;
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
    global: &Global,
    workspace: &Workspace,
    run_id: Option<&str>,
) -> Result<Stack> {
    let run = find_run(docker, global, workspace, run_id).await?;
    // Only names, ports and labels are needed from the compose file here, so
    // the image tags need not be computed again.
    let compose = workspace.compose(&Default::default())?;
    Ok(Stack::attach(
        docker.clone(),
        &global.project,
        &run.run_id,
        compose,
    ))
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

/// Removes one run, reporting what went.
async fn teardown(docker: &Docker, project: &str, run_id: &str) -> Result<stack::ReapReport> {
    let report = stack::reap(docker, project, Some(run_id)).await?;
    errln!(
        "removed run {run_id}: {} containers, {} networks, {} volumes",
        report.containers.len(),
        report.networks.len(),
        report.volumes.len()
    );
    Ok(report)
}
