//! What a journey run produced: the stable, serialisable model that the
//! JUnit, Markdown and JSON renderers read. Field names are part of the
//! `journeys.json` schema (versioned by `RunReport::schema`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Passed,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub service: String,
    pub method: String,
    /// Path and query only: never headers or bodies (they carry secrets).
    pub path: String,
    /// `None` when no response arrived (connection error, timeout).
    pub status: Option<u16>,
    pub millis: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    pub result: StepResult,
    pub millis: u64,
    pub exchanges: Vec<Exchange>,
    /// The assertion that failed.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyResult {
    Passed,
    /// Failed, then passed on retry: not trusted as a pass.
    Flaky,
    Failed,
    /// Did not finish within the run's budget.
    TimedOut,
}

#[derive(Debug, Clone, Serialize)]
pub struct JourneyReport {
    pub name: String,
    pub about: String,
    pub result: JourneyResult,
    pub attempts: u32,
    pub millis: u64,
    /// Steps of the last attempt.
    pub steps: Vec<StepReport>,
    /// The first attempt's failure, for flaky and failed journeys.
    pub first_failure: Option<String>,
}

impl JourneyReport {
    pub fn failed_step(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.result == StepResult::Failed)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Schema version of `journeys.json`.
    pub schema: u32,
    pub run_id: String,
    pub seed: u64,
    pub target: String,
    pub budget_millis: u64,
    pub millis: u64,
    pub budget_exceeded: bool,
    pub journeys: Vec<JourneyReport>,
}

impl RunReport {
    pub const SCHEMA: u32 = 1;

    pub fn count(&self, result: JourneyResult) -> usize {
        self.journeys.iter().filter(|j| j.result == result).count()
    }

    /// Passed means: every journey passed on its first attempt, in budget.
    /// Flaky journeys fail the run unless `allow_flaky`.
    pub fn passed(&self, allow_flaky: bool) -> bool {
        !self.budget_exceeded
            && self.journeys.iter().all(|j| {
                j.result == JourneyResult::Passed
                    || (allow_flaky && j.result == JourneyResult::Flaky)
            })
    }
}
