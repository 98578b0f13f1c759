//! Renderers for `gauntlet props`: JUnit XML (one testsuite per property
//! family, one testcase per property) and a Markdown summary. A failed
//! property's testcase carries the minimal case and the replay command, so
//! CI shows what to run.

use std::time::Duration;

use gauntlet_props::{Outcome, RunReport};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::markdown::escape;

/// The one-line command that replays a failed case exactly. `target_args`
/// are the flags that pick the same target (`--target URL`, or the
/// `--defects` a fresh stack needs), each with a leading space.
pub fn replay_command(target_args: &str, seed: u64, property: &str, token: &str) -> String {
    format!("gauntlet props{target_args} --seed {seed} --only {property} --replay {token}")
}

pub fn props_junit_xml(report: &RunReport, target_args: &str) -> String {
    let mut junit = Report::new("gauntlet props");
    let total: Duration = report.results.iter().map(|r| r.duration).sum();
    junit.set_time(total);
    let mut families: Vec<&str> = report.results.iter().map(|r| r.family.as_str()).collect();
    families.dedup();
    for family in families {
        let mut suite = TestSuite::new(format!("props.{family}"));
        let results = report.results.iter().filter(|r| r.family == family);
        suite.set_time(results.clone().map(|r| r.duration).sum::<Duration>());
        for result in results {
            let status = match &result.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed(failure) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(first_line(&failure.message));
                    s.set_type("property");
                    s.set_description(format!(
                        "{}\n\nminimal case ({} shrink steps):\n{}\n\nreplay: {}\n",
                        failure.message,
                        failure.shrink_steps,
                        failure.minimal_case,
                        replay_command(
                            target_args,
                            report.seed,
                            &result.name,
                            &failure.replay_token
                        )
                    ));
                    s
                }
                Outcome::Error(message) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(first_line(message));
                    s.set_type("target");
                    s.set_description(message.clone());
                    s
                }
            };
            let mut case = TestCase::new(result.name.as_str(), status);
            case.set_classname(format!("props.{family}"));
            case.set_time(result.duration);
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("JUnit serialises")
}

pub fn props_summary_markdown(report: &RunReport, target_args: &str) -> String {
    let failed = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Passed))
        .count();
    let verdict = if failed == 0 { "passed" } else { "FAILED" };
    let total: Duration = report.results.iter().map(|r| r.duration).sum();
    let mut out = format!(
        "## gauntlet props: {verdict}\n\nSeed `{}`, {} properties, {} cases in {:.1} s.\n\n",
        report.seed,
        report.results.len(),
        report.results.iter().map(|r| r.cases).sum::<u32>(),
        total.as_secs_f64()
    );
    out.push_str("| property | family | cases | regressions | duration | result |\n|---|---|---:|---:|---:|---|\n");
    for r in &report.results {
        let result = match &r.outcome {
            Outcome::Passed => "✅ passed",
            Outcome::Failed(_) => "❌ failed",
            Outcome::Error(_) => "⚠️ error",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} s | {result} |\n",
            escape(&r.name),
            escape(&r.family),
            r.cases,
            r.regressions_rerun,
            r.duration.as_secs_f64()
        ));
    }
    for r in &report.results {
        match &r.outcome {
            Outcome::Passed => {}
            Outcome::Failed(f) => out.push_str(&format!(
                "\n### {} failed\n\n{}\n\nMinimal case:\n\n```text\n{}\n```\n\nReplay: `{}`\n",
                escape(&r.name),
                escape(&f.message),
                f.minimal_case,
                replay_command(target_args, report.seed, &r.name, &f.replay_token)
            )),
            Outcome::Error(e) => out.push_str(&format!(
                "\n### {}: target error\n\n{}\n",
                escape(&r.name),
                escape(e)
            )),
        }
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}
