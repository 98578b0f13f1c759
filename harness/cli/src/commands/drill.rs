//! `gauntlet drill restore`: the backup and restore drill
//! (`gauntlet_chaos::drill`) on a stack it brings up for the purpose with
//! the chosen fixture, and tears down afterwards. It never runs on a stack
//! it did not create: the drill destroys a database. Prints the timeline as
//! it goes, then every check; writes drill.json, junit.xml and summary.md.
//! Exit 0 when every check and threshold passes, 1 when one fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_chaos::drill::{self, DrillConfig, DrillEvent, DrillReport, Sabotage};
use gauntlet_chaos::ChaosContext;
use gauntlet_harness::{docker, exit_codes, launch, stack, Error, Result};

use super::up::launch_options;
use super::{interruptible, teardown, workspace};
use crate::cli::{DrillCommand, DrillRestoreArgs, Global};

pub async fn run(global: &Global, command: DrillCommand) -> Result<i32> {
    match command {
        DrillCommand::Restore(args) => restore(global, args).await,
    }
}

fn config(args: &DrillRestoreArgs, seed: u64) -> Result<DrillConfig> {
    let sabotage = args
        .sabotage
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Sabotage>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::Usage)?;
    if !(args.write_rate > 0.0 && args.write_rate <= 100.0) {
        return Err(Error::Usage(format!(
            "--write-rate {} is out of range: 0 < N <= 100 writes per second of each kind",
            args.write_rate
        )));
    }
    let mut config = DrillConfig::new(seed, &args.fixture);
    config.writes_paused = args.writes_paused;
    config.write_after_backup = Duration::from_secs(args.write_after);
    config.max_rto = Duration::from_secs(args.max_rto);
    config.max_rpo_writes = args.max_rpo_writes;
    config.sabotage = sabotage;
    config.health_timeout = Duration::from_secs(args.run.service_timeout.max(60));
    match &mut config.writers {
        Some(_) if args.no_writes => config.writers = None,
        Some(w) => {
            w.checkouts_per_sec = args.write_rate;
            w.webhooks_per_sec = args.write_rate;
            w.credits_per_sec = args.write_rate;
        }
        None => {}
    }
    Ok(config)
}

async fn restore(global: &Global, args: DrillRestoreArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    // Options are checked before anything starts: a typo is exit 2.
    let config = config(&args, seed)?;
    let docker = docker::connect().await?;

    let run_id = stack::new_run_id();
    let mut run_args = args.run.clone();
    run_args.seed = Some(seed);
    let mut options = launch_options(global, &run_args, run_id.clone());
    options
        .extra_vars
        .insert("GAUNTLET_FIXTURE_SIZE".into(), args.fixture.clone());
    // Writers need the raised limits; the auth limit stays as configured,
    // because the rate_limits journey must still be refused (the writers
    // sign in once).
    options.heavy_traffic(&["GAUNTLET_RATE_LIMIT_AUTH"]);
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => workspace.run_dir(&run_id)?,
    };
    errln!(
        "restore drill {run_id}: fixture {}, seed {seed}, defects [{}]{}",
        args.fixture,
        options.defects,
        if config.sabotage.is_empty() {
            String::new()
        } else {
            format!(", sabotage [{}]", drill::describe(&config.sabotage))
        }
    );
    let outcome = interruptible(async {
        let launched = launch::launch(&docker, &workspace, &options).await?;
        let ctx = ChaosContext::from_stack(launched.stack, seed)
            .await
            .map_err(|e| Error::CheckFailed(e.to_string()))?;
        let mut print = |e: &DrillEvent| outln!("  {e}");
        Ok(drill::run_drill(&ctx, &config, &mut print).await)
    })
    .await;
    if args.keep_stack && !matches!(outcome, Err(Error::Interrupted)) {
        errln!("keeping run {run_id}; remove it with `gauntlet down {run_id}`");
    } else {
        teardown(&docker, &global.project, &run_id).await?;
    }
    let report = outcome?;
    print_checks(&report);
    write_reports(&report, &out)?;
    Ok(if report.passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    })
}

fn print_checks(report: &DrillReport) {
    outln!();
    for c in report.checks.iter().chain(&report.thresholds) {
        outln!(
            "  {}  {}: {}",
            if c.passed { "ok    " } else { "FAILED" },
            c.name,
            c.detail
        );
    }
    outln!("\n{}", report.summary_line());
    let failures = report.failures();
    if !failures.is_empty() {
        outln!("\nthe drill failed because:");
        for f in failures {
            outln!("  - {f}");
        }
    }
}

fn write_reports(report: &DrillReport, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("creating {}", out.display())))?;
    let summary = gauntlet_reports::drill_summary_markdown(report);
    let files: [(PathBuf, String); 3] = [
        (
            out.join("drill.json"),
            serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ),
        (
            out.join("junit.xml"),
            gauntlet_reports::drill_junit_xml(report),
        ),
        (out.join("summary.md"), summary.clone()),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        errln!("wrote {}", path.display());
    }
    gauntlet_reports::append_to_github_summary(&summary)
        .map_err(Error::io("appending to $GITHUB_STEP_SUMMARY"))?;
    Ok(())
}
