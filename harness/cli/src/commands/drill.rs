//! `gauntlet drill restore`: the backup and restore drill
//! (`gauntlet_chaos::drill`, on what the project's `[drill]` names) on a
//! stack it brings up for the purpose with the chosen fixture, and tears
//! down afterwards. It never runs on a stack it did not create: the drill
//! destroys a database. Prints the timeline as it goes, then every check;
//! writes drill.json, junit.xml and summary.md. Exit 0 when every check and
//! threshold passes, 1 when one fails, 2 when the project has no [drill].

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_chaos::drill::{self, DrillConfig, DrillEvent, DrillReport, Sabotage};
use gauntlet_chaos::ChaosContext;
use gauntlet_harness::launch::LaunchOptions;
use gauntlet_harness::{exit_codes, stack, Error, Result};

use super::{evidence, launch_options, with_sut, workspace_for, Interrupts, Source};
use crate::cli::{DrillCommand, DrillRestoreArgs, Global};

pub async fn run(global: &Global, command: DrillCommand) -> Result<i32> {
    match command {
        DrillCommand::Restore(args) => restore(global, args).await,
    }
}

fn config(args: &DrillRestoreArgs, options: &LaunchOptions) -> Result<DrillConfig> {
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
    let mut config = DrillConfig::new(options.seed, &args.fixture);
    config.writes_paused = args.writes_paused;
    config.write_after_backup = Duration::from_secs(args.write_after);
    config.max_rto = Duration::from_secs(args.max_rto);
    config.max_rpo_writes = args.max_rpo_writes;
    config.sabotage = sabotage;
    config.health_timeout = options.service_timeout.max(Duration::from_secs(60));
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
    let workspace = workspace_for(global, Some(&args.run))?;
    let run_id = stack::new_run_id();
    // Options and the project's [drill] are checked before anything
    // starts: a typo or a missing section is exit 2.
    let mut options = launch_options(&workspace, &args.run, run_id.clone())?;
    let config = config(&args, &options)?;
    drill::Services::from_config(&workspace.config)?;
    options
        .extra_vars
        .insert("GAUNTLET_FIXTURE_SIZE".into(), args.fixture.clone());
    // Writers need the raised limits; the auth limit stays as configured,
    // because the rate_limits journey must still be refused (the writers
    // sign in once).
    options.use_variable_set(&workspace, "heavy_traffic", &["GAUNTLET_RATE_LIMIT_AUTH"]);
    let out = evidence::run_dir(args.out.as_ref(), &workspace.config, &run_id)?;
    errln!(
        "restore drill: fixture {}{}",
        args.fixture,
        if config.sabotage.is_empty() {
            String::new()
        } else {
            format!(", sabotage [{}]", drill::describe(&config.sabotage))
        }
    );
    // Only on a stack of its own (it destroys a database), dropped at once
    // on Ctrl-C and torn down with everything the drill recreated.
    let source = Source::Fresh {
        options,
        keep: args.keep_stack,
    };
    let report = with_sut(
        "restore drill",
        workspace.config.clone(),
        Some(&workspace),
        source,
        Interrupts::Drop,
        |sut| async move {
            let ctx = ChaosContext::new(sut)?;
            let mut print = |e: &DrillEvent| outln!("  {e}");
            Ok(drill::run_drill(&ctx, &config, &mut print).await)
        },
    )
    .await?;
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
