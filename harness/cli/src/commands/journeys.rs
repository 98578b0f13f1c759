//! `gauntlet journeys`: the synthetic journeys against the latest run, a
//! given run, or any deployment (`--target`). Writes junit.xml, summary.md
//! and journeys.json; exits 1 if a journey fails or the budget is exceeded.

use std::path::PathBuf;

use gauntlet_harness::stack::Stack;
use gauntlet_harness::target::Target;
use gauntlet_harness::workspace::Workspace;
use gauntlet_harness::{docker, exit_codes, stack, Error, Result};
use gauntlet_journeys::{JourneyReport, JourneyResult, RunConfig, RunReport, Secrets, Targets};

use super::{attach, interruptible, workspace};
use crate::cli::{Global, JourneyArgs, JourneysArgs};
use crate::report::table;

pub async fn run(global: &Global, args: JourneysArgs) -> Result<i32> {
    if args.list {
        for d in gauntlet_journeys::registry::ALL {
            outln!("{:<14} {}", d.name, d.about);
        }
        return Ok(exit_codes::OK);
    }
    check_names(&args.journeys.only)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let (targets, secrets, run_id, out) = match &args.target {
        Some(url) => {
            let api = Target::new(url, args.allow_remote)?;
            for extra in [&args.web, &args.sink].into_iter().flatten() {
                Target::new(extra, args.allow_remote)?;
            }
            api.verify_identity().await?;
            let secrets = Secrets {
                admin_token: std::env::var("GAUNTLET_ADMIN_TOKEN").ok(),
                shopify_secret: std::env::var("GAUNTLET_SHOPIFY_SECRET").ok(),
            };
            let targets = Targets {
                api: api.base().to_string(),
                web: args.web.clone(),
                sink: args.sink.clone(),
            };
            let run_id = stack::new_run_id();
            let out = output_dir(&args.journeys, None, &run_id)?;
            (targets, secrets, run_id, out)
        }
        None => {
            let workspace = workspace(global)?;
            let docker = docker::connect().await?;
            let stack = attach(&docker, global, &workspace, args.run.as_deref()).await?;
            let (targets, secrets) = stack_targets(&stack).await?;
            let run_id = stack.run_id().to_string();
            let out = output_dir(&args.journeys, Some(&workspace), &run_id)?;
            (targets, secrets, run_id, out)
        }
    };
    let report = interruptible(run_and_report(
        targets,
        secrets,
        seed,
        &run_id,
        &args.journeys,
        &out,
    ))
    .await?;
    Ok(verdict(&report, &args.journeys))
}

/// Unknown journey names are a usage error, named in one line.
pub fn check_names(only: &[String]) -> Result<()> {
    gauntlet_journeys::select(only)
        .map(|_| ())
        .map_err(|unknown| {
            let known: Vec<&str> = gauntlet_journeys::registry::ALL
                .iter()
                .map(|d| d.name)
                .collect();
            Error::Usage(format!(
                "unknown journey {} (known: {})",
                unknown.join(", "),
                known.join(", ")
            ))
        })
}

/// Targets and secrets of a run brought up by gauntlet (identity verified).
pub async fn stack_targets(stack: &Stack) -> Result<(Targets, Secrets)> {
    let api = Target::new(&stack.endpoint_url("api").await?, false)?;
    api.verify_identity().await?;
    let targets = Targets {
        api: api.base().to_string(),
        web: stack.endpoint_url("web").await.ok(),
        sink: stack.endpoint_url("sink").await.ok(),
    };
    let secrets = Secrets {
        admin_token: stack.env_var("app", "ADMIN_TOKEN").await?,
        shopify_secret: stack.env_var("app", "SHOPIFY_WEBHOOK_SECRET").await?,
    };
    Ok((targets, secrets))
}

pub fn output_dir(
    args: &JourneyArgs,
    workspace: Option<&Workspace>,
    run_id: &str,
) -> Result<PathBuf> {
    match (&args.out, workspace) {
        (Some(dir), _) => Ok(dir.clone()),
        (None, Some(ws)) => ws.run_dir(run_id),
        (None, None) => Workspace::locate(None)
            .map(|ws| ws.root.join("target/gauntlet").join(run_id))
            .or_else(|_| Ok(std::env::temp_dir().join("gauntlet").join(run_id))),
    }
}

/// Runs the selected journeys with live progress, prints the table, writes
/// the reports.
pub async fn run_and_report(
    targets: Targets,
    secrets: Secrets,
    seed: u64,
    run_id: &str,
    args: &JourneyArgs,
    out: &std::path::Path,
) -> Result<RunReport> {
    let selected = gauntlet_journeys::select(&args.only)
        .map_err(|u| Error::Usage(format!("unknown journey {}", u.join(", "))))?;
    errln!(
        "journeys: {} against {} (seed {seed}, budget {:?})",
        selected.len(),
        targets.api,
        args.budget
    );
    let config = RunConfig {
        run_id: run_id.to_string(),
        seed,
        targets,
        secrets,
        budget: args.budget,
        retries: 1,
    };
    let progress = |j: &JourneyReport| {
        let mark = match j.result {
            JourneyResult::Passed => "pass",
            JourneyResult::Flaky => "FLAKY",
            JourneyResult::Failed => "FAIL",
            JourneyResult::TimedOut => "TIMEOUT",
        };
        errln!(
            "  {mark:<7} {:<14} {:>6.2}s",
            j.name,
            j.millis as f64 / 1000.0
        );
    };
    let report = gauntlet_journeys::run(&selected, &config, &progress).await;
    print_table(&report);
    let files = gauntlet_reports::write_all(&report, out)
        .map_err(Error::io(format!("writing reports to {}", out.display())))?;
    gauntlet_reports::append_github_summary(&report)
        .map_err(Error::io("appending to $GITHUB_STEP_SUMMARY"))?;
    for f in files {
        errln!("wrote {}", f.display());
    }
    Ok(report)
}

pub fn verdict(report: &RunReport, args: &JourneyArgs) -> i32 {
    if report.passed(args.allow_flaky) {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}

fn print_table(report: &RunReport) {
    let rows: Vec<Vec<String>> = report
        .journeys
        .iter()
        .map(|j| {
            let result = match j.result {
                JourneyResult::Passed => "passed".to_string(),
                JourneyResult::Flaky => format!("FLAKY ({} attempts)", j.attempts),
                JourneyResult::Failed => "FAILED".to_string(),
                JourneyResult::TimedOut => "TIMED OUT".to_string(),
            };
            vec![
                j.name.clone(),
                j.steps.len().to_string(),
                format!("{:.2}s", j.millis as f64 / 1000.0),
                result,
            ]
        })
        .collect();
    outln!();
    out!(
        "{}",
        table(&["JOURNEY", "STEPS", "DURATION", "RESULT"], &rows)
    );
    for j in report
        .journeys
        .iter()
        .filter(|j| j.result != JourneyResult::Passed)
    {
        if let Some(step) = j.failed_step() {
            outln!(
                "  {} / {}: {}",
                j.name,
                step.name,
                step.failure.as_deref().unwrap_or("")
            );
        }
        if let Some(first) = &j.first_failure {
            outln!("  {} (first attempt) {first}", j.name);
        }
    }
    let failed = report.journeys.len() - report.count(JourneyResult::Passed);
    outln!(
        "\n{} passed, {} failed{} in {:.1}s (seed {}; replay: gauntlet journeys --seed {})",
        report.count(JourneyResult::Passed),
        failed,
        if report.budget_exceeded {
            ", budget exceeded"
        } else {
            ""
        },
        report.millis as f64 / 1000.0,
        report.seed,
        report.seed
    );
}
