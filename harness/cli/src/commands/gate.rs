//! `gauntlet gate`: what CI runs. A fresh run comes up, every journey runs
//! against it, and it is always torn down (also on failure and on
//! Ctrl-C/SIGTERM). Reports land in target/gauntlet/<run-id>/.

use std::time::Instant;

use gauntlet_harness::{stack, Result};

use super::journeys::{run_and_report, select, verdict};
use super::{evidence, launch_options, with_sut, workspace_for, Interrupts, Source};
use crate::cli::{GateArgs, Global};

pub async fn run(global: &Global, args: GateArgs) -> Result<i32> {
    let workspace = workspace_for(global, Some(&args.run))?;
    select(&workspace.config, &args.journeys.only)?;
    let run_id = stack::new_run_id();
    let options = launch_options(&workspace, &args.run, run_id.clone())?;
    let seed = options.seed;
    let out = evidence::run_dir(args.journeys.out.as_ref(), &workspace.config, &run_id)?;
    let started = Instant::now();
    let source = Source::Fresh {
        options,
        keep: args.keep,
    };
    let (report, up_seconds, journeys_seconds) = with_sut(
        "gate",
        workspace.config.clone(),
        Some(&workspace),
        source,
        Interrupts::Drop,
        |sut| async {
            let up_seconds = started.elapsed().as_secs_f64();
            let journeys_started = Instant::now();
            let report = run_and_report(sut, &args.journeys, &out).await?;
            Ok((report, up_seconds, journeys_started.elapsed().as_secs_f64()))
        },
    )
    .await?;
    let code = verdict(&report, &args.journeys);
    outln!(
        "gate {}: stack {up_seconds:.1}s, journeys {journeys_seconds:.1}s, total {:.1}s (seed {seed}, reports in {})",
        if code == 0 { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(code)
}
