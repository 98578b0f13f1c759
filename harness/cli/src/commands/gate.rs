//! `gauntlet gate`: what CI runs. A fresh run comes up, is checked end to
//! end, and is always torn down (also on failure and on Ctrl-C/SIGTERM).

use std::time::Instant;

use gauntlet_harness::launch;
use gauntlet_harness::smoke;
use gauntlet_harness::target::Target;
use gauntlet_harness::{docker, exit_codes, stack, Error, Result};

use super::up::launch_options;
use super::{interruptible, teardown, workspace};
use crate::cli::{GateArgs, Global};

pub async fn run(global: &Global, args: GateArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let run_id = stack::new_run_id();
    let options = launch_options(global, &args.run, run_id.clone());
    eprintln!(
        "gate run {run_id}: seed {} defects [{}]",
        options.seed, options.defects
    );
    let started = Instant::now();

    let outcome = interruptible(async {
        let launched = launch::launch(&docker, &workspace, &options).await?;
        let stack = launched.stack;
        let api = Target::new(&stack.endpoint_url("api").await?, false)?;
        let web = stack.endpoint_url("web").await.ok();
        let checks_started = Instant::now();
        let report = smoke::run(&api, web.as_deref(), Some(&stack)).await;
        Ok((
            report,
            launched.up_seconds,
            checks_started.elapsed().as_secs_f64(),
        ))
    })
    .await;

    if args.keep && !matches!(outcome, Err(Error::Interrupted)) {
        eprintln!("keeping run {run_id}; remove it with `gauntlet down {run_id}`");
    } else {
        teardown(&docker, &global.project, &run_id).await?;
    }
    let (report, up_seconds, check_seconds) = outcome?;
    super::check::print_report(&report);
    println!(
        "gate {}: stack {up_seconds:.1}s, checks {check_seconds:.1}s, total {:.1}s (seed {})",
        if report.passed() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        options.seed
    );
    Ok(if report.passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    })
}
