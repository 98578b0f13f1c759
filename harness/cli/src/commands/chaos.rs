//! `gauntlet chaos`: runs chaos experiments (the project's experiments
//! folder, `[paths] experiments`) one after another on a stack it brings up
//! (or `--run ID`), prints each experiment's timeline, writes chaos.json,
//! junit.xml and summary.md. Exits 1 if any experiment fails, 2 on a
//! malformed experiment file or one that needs what the project does not
//! declare (PM2, an endpoint, a data service). If interrupted during a
//! fault, the fault is removed before exiting.

use std::path::{Path, PathBuf};

use gauntlet_chaos::{ChaosContext, Experiment, ExperimentReport, TimelineEvent};
use gauntlet_harness::{exit_codes, stack, Error, Result};

use super::{evidence, interruptible, launch_options, with_sut, workspace_for, Interrupts, Source};
use crate::cli::{ChaosArgs, Global};
use crate::report::table;

pub async fn run(global: &Global, args: ChaosArgs) -> Result<i32> {
    let workspace = workspace_for(global, Some(&args.run))?;
    let config = &workspace.config;
    let dir = args
        .experiments
        .clone()
        .unwrap_or_else(|| config.path_of(&config.paths.experiments));
    if !args.all && args.names.is_empty() && !args.list {
        return Err(Error::Usage(
            "name the experiments to run, or --all (--list shows them)".into(),
        ));
    }
    // Every file is parsed before anything starts: a broken one is exit 2.
    let experiments = gauntlet_chaos::experiment::select(&dir, &args.names)?;
    if args.list {
        let rows: Vec<Vec<String>> = experiments
            .iter()
            .map(|e| vec![e.name.clone(), e.title.clone()])
            .collect();
        out!("{}", table(&["EXPERIMENT", "TITLE"], &rows));
        return Ok(exit_codes::OK);
    }
    // So is one that needs what the project does not declare (PM2, an
    // endpoint, a data service, a secret).
    gauntlet_chaos::check_experiments(&experiments, config)?;

    let (source, run_id) = match &args.run_id {
        // A fresh seed unless one is given: the ids experiments publish
        // (`{{unique}}`) derive from it, so a rerun on the same stack never
        // repeats them, and `--seed` reproduces them.
        Some(existing) => (
            Source::Existing {
                run: Some(existing.clone()),
                seed: Some(args.run.seed.unwrap_or_else(rand::random)),
            },
            existing.clone(),
        ),
        None => {
            let run_id = stack::new_run_id();
            let mut options = launch_options(&workspace, &args.run, run_id.clone())?;
            // Background writers: thousands of requests from one client.
            options.use_variable_set(&workspace, "heavy_traffic", &[]);
            let source = Source::Fresh {
                options,
                keep: args.keep_stack,
            };
            (source, run_id)
        }
    };
    let out = evidence::run_dir(args.out.as_ref(), config, &run_id)?;
    errln!(
        "chaos: {} experiments ({})",
        experiments.len(),
        experiments
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The runner removes the fault itself on Ctrl-C before returning.
    let reports = with_sut(
        "chaos",
        config.clone(),
        Some(&workspace),
        source,
        Interrupts::Handled,
        |sut| async move {
            let ctx = ChaosContext::new(sut)?;
            run_all(&ctx, &experiments, &out).await
        },
    )
    .await?;
    Ok(verdict(&reports))
}

/// Runs the experiments in order; on Ctrl-C or SIGTERM, heals the stack
/// (removes every fault) before returning [`Error::Interrupted`].
async fn run_all(
    ctx: &ChaosContext,
    experiments: &[Experiment],
    out: &Path,
) -> Result<Vec<ExperimentReport>> {
    let mut reports = Vec::new();
    for experiment in experiments {
        outln!("\n== {}: {}", experiment.name, experiment.title);
        let result = interruptible(async {
            let mut print = |e: &TimelineEvent| outln!("  {e}");
            Ok(gauntlet_chaos::run_experiment(ctx, experiment, &mut print).await)
        })
        .await;
        match result {
            Ok(report) => {
                outln!("  {}", report.summary_line());
                if !report.passed() {
                    // A fault that never went away must not break the next
                    // experiment's steady state.
                    heal_and_say(ctx).await;
                }
                reports.push(report);
            }
            Err(Error::Interrupted) => {
                errln!(
                    "interrupted during {}: removing every fault",
                    experiment.name
                );
                heal_and_say(ctx).await;
                write_reports(&reports, out)?;
                return Err(Error::Interrupted);
            }
            Err(e) => return Err(e),
        }
    }
    print_table(&reports);
    write_reports(&reports, out)?;
    Ok(reports)
}

/// Removes every fault from the stack, saying what it did.
async fn heal_and_say(ctx: &ChaosContext) {
    match gauntlet_chaos::heal(ctx).await {
        Ok(done) => {
            for line in done {
                errln!("  healed: {line}");
            }
        }
        Err(e) => errln!("  healing failed: {e}"),
    }
}

fn print_table(reports: &[ExperimentReport]) {
    let secs = |ms: Option<u64>| {
        ms.map(|m| format!("{:.1}s", m as f64 / 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let ledger = [
                r.reconciliation.as_ref().map(|l| l.summary_line()),
                r.accounting.as_ref().map(|a| a.counts_line()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
            let ledger = if ledger.is_empty() {
                "-".to_string()
            } else {
                ledger.join("; ")
            };
            vec![
                r.name.clone(),
                if r.passed() { "passed" } else { "FAILED" }.to_string(),
                secs(r.recovery.from_fault_end_ms),
                secs(r.recovery.from_fault_start_ms),
                ledger,
            ]
        })
        .collect();
    outln!();
    out!(
        "{}",
        table(
            &["EXPERIMENT", "RESULT", "RTO (END)", "RTO (START)", "LEDGER"],
            &rows
        )
    );
    for r in reports.iter().filter(|r| !r.passed()) {
        outln!("\n{} failed:", r.name);
        for reason in r.verdict.reasons() {
            outln!("  - {reason}");
        }
    }
}

fn write_reports(reports: &[ExperimentReport], out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("creating {}", out.display())))?;
    let files: [(PathBuf, String); 3] = [
        (
            out.join("chaos.json"),
            serde_json::to_string_pretty(&serde_json::json!({ "experiments": reports }))
                .expect("serialisable")
                + "\n",
        ),
        (
            out.join("junit.xml"),
            gauntlet_reports::chaos_junit_xml(reports),
        ),
        (
            out.join("summary.md"),
            gauntlet_reports::chaos_summary_markdown(reports),
        ),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        errln!("wrote {}", path.display());
    }
    gauntlet_reports::append_to_github_summary(&gauntlet_reports::chaos_summary_markdown(reports))
        .map_err(Error::io("appending to $GITHUB_STEP_SUMMARY"))?;
    Ok(())
}

fn verdict(reports: &[ExperimentReport]) -> i32 {
    if reports.iter().all(ExperimentReport::passed) {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}
