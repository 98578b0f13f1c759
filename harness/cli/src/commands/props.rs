//! `gauntlet props`: property tests of the rules engines, black-box over
//! HTTP, against a fresh stack (or `--target`). Prints each property as it
//! finishes; a failure prints its minimal case and the one-line command that
//! replays it. Writes props.json, junit.xml and summary.md. Exits 1 if any
//! property fails, 3 if the target broke (unreachable, unexpected 5xx).

use std::path::{Path, PathBuf};
use std::time::Instant;

use gauntlet_harness::{exit_codes, stack, Error, Result};
use gauntlet_props::{HttpTarget, Outcome, PropertyResult, RunOptions, RunReport};
use gauntlet_reports::{props_junit_xml, props_summary_markdown, replay_command};

use super::{evidence, launch_options, project_for, with_sut, Interrupts, Source};
use crate::cli::{Global, PropsArgs};
use crate::report::table;

pub async fn run(global: &Global, args: PropsArgs) -> Result<i32> {
    if args.list {
        let rows: Vec<Vec<String>> = gauntlet_props::catalogue()
            .into_iter()
            .map(|p| {
                vec![
                    p.name.to_string(),
                    p.family.to_string(),
                    p.default_cases.to_string(),
                    p.description.to_string(),
                ]
            })
            .collect();
        out!(
            "{}",
            table(&["PROPERTY", "FAMILY", "CASES", "WHAT IT CHECKS"], &rows)
        );
        return Ok(exit_codes::OK);
    }
    // --target needs no compose file: the project file alone, or defaults.
    let (config, workspace) = project_for(global, args.target.as_deref(), Some(&args.run))?;
    let seed = args.run.seed.unwrap_or_else(rand::random);
    let options = RunOptions {
        seed,
        cases: args.cases,
        only: args.only.clone(),
        replay: args.replay.clone(),
        // The checkout's regressions are the team's: re-run first, added
        // to only with --record. Failures of a deliberately broken system
        // (--defects) are not regressions of the code: neither read nor
        // recorded there.
        regressions_dir: match (&args.regressions, args.run.defects.is_empty()) {
            (Some(dir), _) => Some(dir.clone()),
            (None, true) => Some(config.path_of(&config.paths.regressions)),
            (None, false) => None,
        },
        record_dir: match (&args.regressions, args.record) {
            (Some(dir), _) => Some(dir.clone()),
            (None, true) => Some(config.path_of(&config.paths.regressions)),
            // Set to the run directory once the run has one.
            (None, false) => None,
        },
    };
    if args.record && !args.run.defects.is_empty() {
        return Err(Error::Usage(
            "--record with --defects: failures of a deliberately broken system are not \
             regressions to commit"
                .into(),
        ));
    }
    let record_into_run = options.record_dir.is_none();
    // Bad names and tokens are usage errors before anything starts.
    check_selection(&options)?;

    // The flags that point a replay at the same system.
    let (source, target_args) = match Source::from_target_flags(
        &config,
        args.target.as_deref(),
        &args.endpoint,
        args.allow_remote,
        seed,
    ) {
        Some(source) => (
            source,
            format!(" --target {}", args.target.as_deref().unwrap_or_default()),
        ),
        None => match &args.run_id {
            Some(existing) => (
                Source::Existing {
                    run: Some(existing.clone()),
                    seed: Some(seed),
                },
                format!(" --run {existing}"),
            ),
            None => {
                let ws = workspace.as_ref().expect("a workspace without --target");
                let mut run_args = args.run.clone();
                run_args.seed = Some(seed);
                let mut launch = launch_options(ws, &run_args, stack::new_run_id())?;
                // Thousands of requests from one client; order-stage cases
                // register a producer each.
                launch.use_variable_set(ws, "heavy_traffic", &[]);
                let target_args = if args.run.defects.is_empty() {
                    String::new()
                } else {
                    format!(" --defects {}", args.run.defects)
                };
                (
                    Source::Fresh {
                        options: launch,
                        keep: args.keep,
                    },
                    target_args,
                )
            }
        },
    };
    let report = with_sut(
        "props",
        config.clone(),
        workspace.as_ref(),
        source,
        Interrupts::Drop,
        |sut| async move {
            let out = evidence::run_dir(args.out.as_ref(), &config, &sut.run_id)?;
            let target = HttpTarget::for_sut(&sut)?;
            let mut options = options;
            if record_into_run {
                options.record_dir = Some(out.join("regressions"));
            }
            run_properties(target, options, &target_args, &out).await
        },
    )
    .await?;
    Ok(verdict(&report))
}

fn check_selection(options: &RunOptions) -> Result<()> {
    let known: Vec<&str> = gauntlet_props::catalogue().iter().map(|p| p.name).collect();
    let unknown: Vec<&str> = options
        .only
        .iter()
        .map(String::as_str)
        .filter(|n| !known.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Usage(format!(
            "unknown property {} (known: {})",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    if options.replay.is_some() && options.only.len() != 1 {
        return Err(Error::Usage(
            "--replay needs exactly one --only PROPERTY (the failure prints both)".into(),
        ));
    }
    Ok(())
}

/// Runs the properties on a blocking thread (proptest is synchronous),
/// printing each result as it comes, then the table and the reports.
async fn run_properties(
    target: HttpTarget,
    options: RunOptions,
    target_args: &str,
    out: &Path,
) -> Result<RunReport> {
    errln!(
        "props: seed {} against {} (replay everything: gauntlet props{target_args} --seed {})",
        options.seed,
        target.base_url(),
        options.seed
    );
    let started = Instant::now();
    let options_record_dir = options.record_dir.clone();
    let target_args_owned = target_args.to_string();
    let report = tokio::task::spawn_blocking(move || {
        let mut progress = |r: &PropertyResult| print_progress(r, options.seed, &target_args_owned);
        gauntlet_props::run(&target, &options, &mut progress)
    })
    .await
    .map_err(|e| Error::CheckFailed(format!("the property runner crashed: {e}")))??;
    print_table(&report, target_args, started.elapsed().as_secs_f64());
    if let Some(dir) = options_record_dir.filter(|d| d.starts_with(out)) {
        if !report.passed() {
            errln!(
                "failing cases recorded in {}; to keep them as regressions of the checkout \
                 (re-run first by every run), run again with --record or copy the files \
                 into the [paths] regressions folder",
                dir.display()
            );
        }
    }
    write_reports(&report, target_args, out)?;
    Ok(report)
}

fn print_progress(r: &PropertyResult, seed: u64, target_args: &str) {
    let mark = match &r.outcome {
        Outcome::Passed => "pass",
        Outcome::Failed(_) => "FAIL",
        Outcome::Error(_) => "ERROR",
    };
    errln!(
        "  {mark:<5} {:<36} {:>6} cases {:>7.2}s",
        r.name,
        r.cases,
        r.duration.as_secs_f64()
    );
    match &r.outcome {
        Outcome::Passed => {}
        Outcome::Failed(f) => {
            errln!("        {}", f.message.lines().next().unwrap_or(""));
            errln!("        minimal case ({} shrink steps):", f.shrink_steps);
            for line in f.minimal_case.lines() {
                errln!("          {line}");
            }
            errln!(
                "        replay: {}",
                replay_command(target_args, seed, &r.name, &f.replay_token)
            );
        }
        Outcome::Error(e) => errln!("        {e}"),
    }
}

fn print_table(report: &RunReport, target_args: &str, seconds: f64) {
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.family.clone(),
                r.cases.to_string(),
                r.regressions_rerun.to_string(),
                format!("{:.2}s", r.duration.as_secs_f64()),
                match r.outcome {
                    Outcome::Passed => "passed".to_string(),
                    Outcome::Failed(_) => "FAILED".to_string(),
                    Outcome::Error(_) => "ERROR".to_string(),
                },
            ]
        })
        .collect();
    outln!();
    out!(
        "{}",
        table(
            &[
                "PROPERTY",
                "FAMILY",
                "CASES",
                "REGRESSIONS",
                "DURATION",
                "RESULT"
            ],
            &rows
        )
    );
    let failed: Vec<&PropertyResult> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Passed))
        .collect();
    for r in &failed {
        if let Outcome::Failed(f) = &r.outcome {
            outln!(
                "\n{} failed: {}\n  replay: {}",
                r.name,
                f.message.lines().next().unwrap_or(""),
                replay_command(target_args, report.seed, &r.name, &f.replay_token)
            );
        }
    }
    outln!(
        "\n{} passed, {} failed, {} cases in {seconds:.1}s (seed {})",
        report.results.len() - failed.len(),
        failed.len(),
        report.results.iter().map(|r| r.cases).sum::<u32>(),
        report.seed
    );
}

fn write_reports(report: &RunReport, target_args: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(Error::io(format!("creating {}", out.display())))?;
    let files: [(PathBuf, String); 3] = [
        (
            out.join("props.json"),
            serde_json::to_string_pretty(report).expect("serialisable") + "\n",
        ),
        (out.join("junit.xml"), props_junit_xml(report, target_args)),
        (
            out.join("summary.md"),
            props_summary_markdown(report, target_args),
        ),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        errln!("wrote {}", path.display());
    }
    gauntlet_reports::append_to_github_summary(&props_summary_markdown(report, target_args))
        .map_err(Error::io("appending to $GITHUB_STEP_SUMMARY"))?;
    Ok(())
}

/// Any failed property, or a property the target could not answer (an
/// unexpected 5xx, a dropped connection), fails the run.
fn verdict(report: &RunReport) -> i32 {
    if report
        .results
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Passed))
    {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}
