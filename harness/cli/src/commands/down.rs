//! `gauntlet down`: remove one run, or reap every run of the project.

use gauntlet_harness::stack::InFlight;
use gauntlet_harness::{docker, exit_codes, stack, Result};

use super::{find_run, teardown, workspace};
use crate::cli::{DownArgs, Global};

pub async fn run(global: &Global, args: DownArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let project = &workspace.config.system.project;
    if args.all {
        let report = stack::reap(&docker, project, None).await?;
        if report.is_empty() {
            errln!("nothing to remove for project {project}");
        }
        for c in &report.containers {
            outln!("removed container {c}");
        }
        for n in &report.networks {
            outln!("removed network {n}");
        }
        for v in &report.volumes {
            outln!("removed volume {v}");
        }
        return Ok(exit_codes::OK);
    }
    let run_id = match args.run_id {
        // By id, even a run whose containers are already gone is reaped.
        Some(id) => id,
        None => find_run(&docker, &workspace, None).await?.run_id,
    };
    // Another gauntlet may be starting this run right now.
    if teardown(&docker, project, &run_id, InFlight::Possible)
        .await?
        .is_empty()
    {
        return Err(gauntlet_harness::Error::NoRun { run: Some(run_id) });
    }
    Ok(exit_codes::OK)
}
