//! `gauntlet up`: a new run, healthy and verified, left running.

use std::time::Duration;

use gauntlet_harness::launch::{self, LaunchOptions, Launched};
use gauntlet_harness::{docker, exit_codes, stack, Error, Result};

use super::{interruptible, system_binary, teardown, workspace};
use crate::cli::{Global, RunArgs, UpArgs};

pub async fn run(global: &Global, args: UpArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let run_id = match args.run_id {
        Some(id) => {
            stack::validate_name("run id", &id)?;
            id
        }
        None => stack::new_run_id(),
    };
    let options = launch_options(global, &args.run, run_id.clone());
    errln!(
        "run {run_id}: seed {} defects [{}]",
        options.seed,
        options.defects
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
                teardown(&docker, &global.project, &run_id).await?;
            }
            Err(err)
        }
    }
}

pub fn launch_options(global: &Global, run: &RunArgs, run_id: String) -> LaunchOptions {
    LaunchOptions {
        project: global.project.clone(),
        run_id,
        seed: run.seed.unwrap_or_else(rand::random),
        defects: run.defects.clone(),
        binary: system_binary(&run.binary),
        show_progress: true,
        service_timeout: Duration::from_secs(run.service_timeout),
        extra_vars: Default::default(),
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
