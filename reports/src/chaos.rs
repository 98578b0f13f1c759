//! Renderers for `gauntlet chaos`: JUnit XML (one testsuite per experiment;
//! testcases for the verdict, the recovery, the write ledger, each
//! `[after_fault]` check and the stream accounting) and a Markdown summary
//! with each experiment's recovery time, ledger and accounting counts.

use std::time::Duration;

use gauntlet_chaos::ExperimentReport;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::markdown::escape;

pub fn chaos_junit_xml(reports: &[ExperimentReport]) -> String {
    let mut junit = Report::new("gauntlet chaos");
    junit.set_time(Duration::from_millis(
        reports.iter().map(|r| r.millis).sum(),
    ));
    for r in reports {
        let mut suite = TestSuite::new(format!("chaos.{}", r.name));
        suite.set_time(Duration::from_millis(r.millis));
        let mut case = TestCase::new(
            "verdict",
            if r.passed() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.verdict.reasons().join("; "));
                s.set_type("chaos");
                s.set_description(r.timeline_lines().join("\n"));
                s
            },
        );
        case.set_classname(format!("chaos.{}", r.name));
        case.set_time(Duration::from_millis(r.millis));
        suite.add_test_case(case);
        let mut recovery = TestCase::new(
            format!(
                "recovery ({})",
                r.recovery
                    .from_fault_end_ms
                    .map(|ms| format!("{:.1} s after the fault ended", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "none".into())
            ),
            if r.recovery.from_fault_end_ms.is_some() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message("the steady state did not come back");
                s
            },
        );
        recovery.set_classname(format!("chaos.{}", r.name));
        suite.add_test_case(recovery);
        if let Some(ledger) = &r.reconciliation {
            let mut case = TestCase::new(
                "nothing lost",
                if ledger.passed() {
                    TestCaseStatus::success()
                } else {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(ledger.summary_line());
                    s.set_type("ledger");
                    s
                },
            );
            case.set_classname(format!("chaos.{}", r.name));
            suite.add_test_case(case);
        }
        for check in &r.after_fault {
            let mut case = TestCase::new(
                format!(
                    "after the fault: {} (within {:.1} s)",
                    check.probe,
                    check.within_ms as f64 / 1000.0
                ),
                if check.passed {
                    TestCaseStatus::success()
                } else {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!(
                        "not passed within {:.1} s of the fault's end: {}",
                        check.within_ms as f64 / 1000.0,
                        check.last_observation.clone().unwrap_or_default()
                    ));
                    s.set_type("after_fault");
                    s
                },
            );
            if let Some(ms) = check.took_ms {
                case.set_time(Duration::from_millis(ms));
            }
            case.set_classname(format!("chaos.{}", r.name));
            suite.add_test_case(case);
        }
        if let Some(accounting) = &r.accounting {
            let mut case = TestCase::new(
                "every event delivered or dead-lettered",
                if accounting.passed {
                    TestCaseStatus::success()
                } else {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(accounting.summary_line());
                    s.set_type("accounting");
                    s
                },
            );
            case.set_classname(format!("chaos.{}", r.name));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("JUnit serialises")
}

pub fn chaos_summary_markdown(reports: &[ExperimentReport]) -> String {
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let verdict = if failed == 0 { "passed" } else { "FAILED" };
    let mut out = format!(
        "## gauntlet chaos: {verdict}\n\n{} experiments, {failed} failed.\n\n",
        reports.len()
    );
    out.push_str("| experiment | result | recovery (from fault end) | recovery (from fault start) | ledger |\n|---|---|---:|---:|---|\n");
    let secs = |ms: Option<u64>| {
        ms.map(|m| format!("{:.1} s", m as f64 / 1000.0))
            .unwrap_or_else(|| "–".into())
    };
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            escape(&r.name),
            if r.passed() {
                "✅ passed"
            } else {
                "❌ failed"
            },
            secs(r.recovery.from_fault_end_ms),
            secs(r.recovery.from_fault_start_ms),
            r.reconciliation
                .as_ref()
                .map(|l| escape(&l.summary_line()))
                .unwrap_or_else(|| "–".into())
        ));
    }
    let checked: Vec<&ExperimentReport> = reports
        .iter()
        .filter(|r| r.accounting.is_some() || !r.after_fault.is_empty())
        .collect();
    if !checked.is_empty() {
        out.push_str("\n| experiment | after the fault | accounting |\n|---|---|---|\n");
        for r in checked {
            let after = if r.after_fault.is_empty() {
                "–".to_string()
            } else {
                r.after_fault
                    .iter()
                    .map(|a| match (a.passed, a.took_ms) {
                        (true, Some(ms)) => {
                            format!("✅ {} in {:.1} s", escape(&a.probe), ms as f64 / 1000.0)
                        }
                        _ => format!(
                            "❌ {} not within {:.1} s",
                            escape(&a.probe),
                            a.within_ms as f64 / 1000.0
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                escape(&r.name),
                after,
                r.accounting
                    .as_ref()
                    .map(|a| escape(&a.counts_line()))
                    .unwrap_or_else(|| "–".into())
            ));
        }
    }
    for r in reports.iter().filter(|r| !r.passed()) {
        out.push_str(&format!("\n### {} failed\n\n", escape(&r.name)));
        for reason in r.verdict.reasons() {
            out.push_str(&format!("- {}\n", escape(reason)));
        }
    }
    out
}
