//! `gauntlet check`: the smoke check against the latest run, a given run, or
//! any deployment (`--target`).

use gauntlet_harness::smoke::{self, SmokeReport};
use gauntlet_harness::target::Target;
use gauntlet_harness::{docker, exit_codes, Result};

use super::{attach, interruptible, workspace};
use crate::cli::{CheckArgs, Global};
use crate::report::table;

pub async fn run(global: &Global, args: CheckArgs) -> Result<i32> {
    let report = match &args.target {
        Some(url) => {
            let api = Target::new(url, args.allow_remote)?;
            if let Some(web) = &args.web {
                Target::new(web, args.allow_remote)?;
            }
            let meta = api.verify_identity().await?;
            errln!(
                "target {} is {} {} ({})",
                api.base(),
                meta.app,
                meta.version,
                meta.service
            );
            interruptible(async { Ok(smoke::run(&api, args.web.as_deref(), None).await) }).await?
        }
        None => {
            let workspace = workspace(global)?;
            let docker = docker::connect().await?;
            let stack = attach(&docker, global, &workspace, args.run.as_deref()).await?;
            let api = Target::new(&stack.endpoint_url("api").await?, false)?;
            let web = match &args.web {
                Some(web) => Some(web.clone()),
                None => stack.endpoint_url("web").await.ok(),
            };
            api.verify_identity().await?;
            errln!("checking run {} at {}", stack.run_id(), api.base());
            interruptible(async { Ok(smoke::run(&api, web.as_deref(), Some(&stack)).await) })
                .await?
        }
    };
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
