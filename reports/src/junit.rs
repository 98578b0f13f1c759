//! JUnit XML: one `<testsuite>` per journey, one `<testcase>` per step; a
//! failed step carries the assertion message. A flaky journey gets an extra
//! failing testcase with its first attempt's failure, so CI shows it.

use std::time::Duration;

use gauntlet_journeys::{JourneyResult, RunReport, StepResult};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

pub fn junit_xml(report: &RunReport) -> String {
    let mut junit = Report::new("gauntlet journeys");
    junit.set_time(Duration::from_millis(report.millis));
    for journey in &report.journeys {
        let mut suite = TestSuite::new(journey.name.as_str());
        suite.set_time(Duration::from_millis(journey.millis));
        for step in &journey.steps {
            let status = match step.result {
                StepResult::Passed => TestCaseStatus::success(),
                StepResult::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let message = step.failure.clone().unwrap_or_default();
                    s.set_message(first_line(&message));
                    s.set_description(exchanges(step));
                    s.set_type("assertion");
                    s
                }
            };
            let mut case = TestCase::new(step.name.as_str(), status);
            case.set_classname(format!("journeys.{}", journey.name));
            case.set_time(Duration::from_millis(step.millis));
            suite.add_test_case(case);
        }
        if matches!(
            journey.result,
            JourneyResult::Flaky | JourneyResult::TimedOut
        ) {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let (name, message) = match journey.result {
                JourneyResult::Flaky => (
                    "flaky: failed on the first attempt",
                    journey.first_failure.clone().unwrap_or_default(),
                ),
                _ => (
                    "timed out: the run's budget ran out",
                    "did not finish within the budget".to_string(),
                ),
            };
            s.set_message(first_line(&message));
            s.set_type(if journey.result == JourneyResult::Flaky {
                "flaky"
            } else {
                "timeout"
            });
            let mut case = TestCase::new(name, s);
            case.set_classname(format!("journeys.{}", journey.name));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("JUnit serialises")
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

fn exchanges(step: &gauntlet_journeys::StepReport) -> String {
    let mut out = step.failure.clone().unwrap_or_default();
    if !step.exchanges.is_empty() {
        out.push_str("\n\nrequests in this step:\n");
        for e in &step.exchanges {
            let status = e
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "no response".into());
            out.push_str(&format!(
                "  {} {} {} -> {status} ({} ms)\n",
                e.service, e.method, e.path, e.millis
            ));
        }
    }
    out
}
