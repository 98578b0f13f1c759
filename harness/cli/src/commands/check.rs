//! `gauntlet check`: the smoke check (identity, readiness, the project's
//! probes, data services, PM2) against the latest run, a given run, or any
//! deployment (`--target`).

use gauntlet_harness::smoke::{self, SmokeReport};
use gauntlet_harness::{exit_codes, Result};

use super::{project_for, with_sut, Interrupts, Source};
use crate::cli::{CheckArgs, Global};
use crate::report::table;

pub async fn run(global: &Global, args: CheckArgs) -> Result<i32> {
    let mut endpoints = args.endpoint.clone();
    if let Some(web) = &args.web {
        endpoints.push(("web".into(), web.clone()));
    }
    let (config, workspace) = project_for(global, args.target.as_deref(), None)?;
    let source = Source::from_target_flags(
        &config,
        args.target.as_deref(),
        &endpoints,
        args.allow_remote,
        0,
    )
    .unwrap_or(Source::Existing {
        run: args.run.clone(),
        seed: None,
    });
    let report = with_sut(
        "check",
        config,
        workspace.as_ref(),
        source,
        Interrupts::Drop,
        |sut| async move { Ok(smoke::run(&sut).await) },
    )
    .await?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        );
    } else {
        print_report(&report);
    }
    Ok(if report.passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    })
}

pub fn print_report(report: &SmokeReport) {
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                if c.passed {
                    "pass".into()
                } else {
                    "FAIL".into()
                },
                format!("{}ms", c.millis),
                c.detail.clone(),
            ]
        })
        .collect();
    out!("{}", table(&["CHECK", "RESULT", "TIME", "DETAIL"], &rows));
    let failed = report.failures().len();
    outln!(
        "\n{} passed, {} failed",
        report.checks.len() - failed,
        failed
    );
}
