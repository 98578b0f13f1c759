//! `gauntlet up`: a new run, ready and verified, left running.

use gauntlet_harness::launch::{self, Launched};
use gauntlet_harness::{docker, exit_codes, stack, Error, Result};

use super::{in_flight, interruptible, launch_options, teardown, workspace_for};
use crate::cli::{Global, UpArgs};

pub async fn run(global: &Global, args: UpArgs) -> Result<i32> {
    let workspace = workspace_for(global, Some(&args.run))?;
    let run_id = match args.run_id {
        Some(id) => {
            stack::validate_name("run id", &id)?;
            id
        }
        None => stack::new_run_id(),
    };
    let options = launch_options(&workspace, &args.run, run_id.clone())?;
    let docker = docker::connect().await?;
    errln!(
        "run {run_id} of {}: seed {} defects [{}]",
        workspace.config.system.name,
        options.seed,
        options.defects.join(",")
    );

    match interruptible(launch::launch(&docker, &workspace, &options)).await {
        Ok(launched) => {
            print_launched(&launched, args.json);
            Ok(exit_codes::OK)
        }
        Err(err) => {
            let interrupted = matches!(err, Error::Interrupted);
            if args.keep_on_failure && !interrupted {
                errln!(
                    "keeping run {run_id} for inspection; remove it with `gauntlet down {run_id}`"
                );
            } else {
                teardown(&docker, &options.project, &run_id, in_flight(interrupted)).await?;
            }
            Err(err)
        }
    }
}

fn print_launched(launched: &Launched, json: bool) {
    let record = &launched.record;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(record).expect("serialisable")
        );
        return;
    }
    outln!(
        "run {} is up (images {:.1}s, stack {:.1}s)",
        record.run_id,
        launched.build_seconds,
        launched.up_seconds
    );
    outln!("  seed      {}", record.seed);
    if !record.defects.is_empty() {
        outln!("  defects   {}", record.defects);
    }
    for (name, url) in &record.urls {
        outln!("  {name:<9} {url}");
    }
    outln!("  status    gauntlet status {}", record.run_id);
    outln!("  down      gauntlet down {}", record.run_id);
}
