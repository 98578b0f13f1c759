//! Renderers for `gauntlet chaos`: JUnit XML (one testsuite per experiment;
//! testcases for the steady state before, each fault and rollback, the
//! recovery and the write ledger) and a Markdown summary with each
//! experiment's recovery time and ledger counts.

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
    for r in reports.iter().filter(|r| !r.passed()) {
        out.push_str(&format!("\n### {} failed\n\n", escape(&r.name)));
        for reason in r.verdict.reasons() {
            out.push_str(&format!("- {}\n", escape(reason)));
        }
    }
    out
}
