//! `gauntlet gate`: what CI runs. A fresh run comes up, every journey runs
//! against it, and it is always torn down (also on failure and on
//! Ctrl-C/SIGTERM). Reports land in target/gauntlet/<run-id>/.

use std::time::Instant;

use gauntlet_harness::launch;
use gauntlet_harness::{docker, stack, Error, Result};

use super::journeys::{check_names, output_dir, run_and_report, stack_targets, verdict};
use super::up::launch_options;
use super::{interruptible, teardown, workspace};
use crate::cli::{GateArgs, Global};

pub async fn run(global: &Global, args: GateArgs) -> Result<i32> {
    check_names(&args.journeys.only)?;
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let run_id = stack::new_run_id();
    let options = launch_options(global, &args.run, run_id.clone());
    let out = output_dir(&args.journeys, Some(&workspace), &run_id)?;
    errln!(
        "gate run {run_id}: seed {} defects [{}]",
        options.seed,
        options.defects
    );
    let started = Instant::now();

    let outcome = interruptible(async {
        let launched = launch::launch(&docker, &workspace, &options).await?;
        let (targets, secrets) = stack_targets(&launched.stack).await?;
        let journeys_started = Instant::now();
        let report = run_and_report(
            targets,
            secrets,
            options.seed,
            &run_id,
            &args.journeys,
            &out,
        )
        .await?;
        Ok((
            report,
            launched.up_seconds,
            journeys_started.elapsed().as_secs_f64(),
        ))
    })
    .await;

    if args.keep && !matches!(outcome, Err(Error::Interrupted)) {
        errln!("keeping run {run_id}; remove it with `gauntlet down {run_id}`");
    } else {
        teardown(&docker, &global.project, &run_id).await?;
    }
    let (report, up_seconds, journeys_seconds) = outcome?;
    let code = verdict(&report, &args.journeys);
    outln!(
        "gate {}: stack {up_seconds:.1}s, journeys {journeys_seconds:.1}s, total {:.1}s (seed {}, reports in {})",
        if code == 0 { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        options.seed,
        out.display()
    );
    Ok(code)
}
