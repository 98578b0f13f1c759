//! `gauntlet journeys`: the synthetic journeys against the latest run, a
//! given run, or any deployment (`--target`). Writes junit.xml, summary.md
//! and journeys.json; exits 1 if a journey fails or the budget is exceeded.

use gauntlet_harness::config::Config;
use gauntlet_harness::sut::Sut;
use gauntlet_harness::{exit_codes, Error, Result};
use gauntlet_journeys::{Catalog, JourneyDef, JourneyReport, JourneyResult, RunConfig, RunReport};

use super::{evidence, project_for, with_sut, Interrupts, Source};
use crate::cli::{Global, JourneyArgs, JourneysArgs};
use crate::report::table;

pub async fn run(global: &Global, args: JourneysArgs) -> Result<i32> {
    let (config, workspace) = project_for(global, args.target.as_deref(), None)?;
    if args.list {
        let cwd = std::env::current_dir().unwrap_or_default();
        for j in catalog(&config)?.journeys {
            let source = j.source();
            let source = std::path::Path::new(&source)
                .strip_prefix(&cwd)
                .map(|p| p.display().to_string())
                .unwrap_or(source);
            outln!("{:<18} {}  [{source}]", j.name(), j.about());
        }
        return Ok(exit_codes::OK);
    }
    select(&config, &args.journeys.only)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut endpoints = args.endpoint.clone();
    for (name, url) in [("web", &args.web), ("sink", &args.sink)] {
        if let Some(url) = url {
            endpoints.push((name.to_string(), url.clone()));
        }
    }
    let source = Source::from_target_flags(
        &config,
        args.target.as_deref(),
        &endpoints,
        args.allow_remote,
        seed,
    )
    .unwrap_or(Source::Existing {
        run: args.run.clone(),
        seed: args.seed,
    });
    let report = with_sut(
        "journeys",
        config.clone(),
        workspace.as_ref(),
        source,
        Interrupts::Drop,
        |sut| async {
            let out = evidence::run_dir(args.journeys.out.as_ref(), &config, &sut.run_id)?;
            run_and_report(sut, &args.journeys, &out).await
        },
    )
    .await?;
    Ok(verdict(&report, &args.journeys))
}

/// The project's journeys; a broken journey file is a usage error
/// (exit 2) that names `FILE:LINE:COL`.
pub fn catalog(config: &Config) -> Result<Catalog> {
    Catalog::load(config).map_err(|e| Error::Usage(e.to_string()))
}

/// The journeys `only` names (all when empty); unknown names are a usage
/// error, named in one line with the known ones.
pub fn select(config: &Config, only: &[String]) -> Result<Vec<JourneyDef>> {
    let catalog = catalog(config)?;
    let selected = catalog.select(only).map_err(|unknown| {
        Error::Usage(format!(
            "unknown journey {} (known: {})",
            unknown.join(", "),
            catalog.names().join(", ")
        ))
    })?;
    if selected.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no journeys: add journey files to {} (docs/steps.md), or \
             `[journeys] builtin = true` for gauntlet's reference system",
            config.describe_source(),
            config.path_of(&config.paths.journeys).display()
        )));
    }
    Ok(selected)
}

/// Runs the selected journeys with live progress, prints the table, writes
/// the reports.
pub async fn run_and_report(
    sut: Sut,
    args: &JourneyArgs,
    out: &std::path::Path,
) -> Result<RunReport> {
    let seed = sut.seed;
    let selected = select(&sut.config, &args.only)?;
    errln!(
        "journeys: {} against {} (seed {seed}, budget {:?})",
        selected.len(),
        sut.endpoint(&Sut::primary_endpoint(&sut.config))
            .unwrap_or("the system under test"),
        args.budget
    );
    let config = RunConfig {
        run_id: sut.run_id.clone(),
        seed,
        sut,
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
