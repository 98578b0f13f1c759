//! Runs journeys concurrently within a time budget. A failed journey is
//! tried once more; one that passes only then is reported as flaky.

use std::time::{Duration, Instant};

use gauntlet_harness::sut::Sut;

use crate::catalog::JourneyDef;
use crate::journey::{Failure, Journey};
use crate::report::{JourneyReport, JourneyResult, RunReport};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub run_id: String,
    pub seed: u64,
    /// The system under test (endpoints, secrets).
    pub sut: Sut,
    pub budget: Duration,
    /// Attempts after a failure (default 1: a failure is retried once).
    pub retries: u32,
}

/// Runs `journeys` at the same time; `on_done` is called as each finishes
/// (for live progress).
pub async fn run(
    journeys: &[JourneyDef],
    config: &RunConfig,
    on_done: &(dyn Fn(&JourneyReport) + Sync),
) -> RunReport {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.budget;
    let invocation = invocation_tag();
    let invocation = invocation.as_str();
    let jobs = journeys.iter().map(|def| async move {
        let report = run_one(def, config, invocation, deadline).await;
        on_done(&report);
        report
    });
    let journeys = futures::future::join_all(jobs).await;
    let millis = started.elapsed().as_millis() as u64;
    RunReport {
        schema: RunReport::SCHEMA,
        run_id: config.run_id.clone(),
        seed: config.seed,
        target: {
            let endpoints = config.sut.endpoints();
            let primary = Sut::primary_endpoint(&config.sut.config);
            endpoints
                .get(&primary)
                .or_else(|| endpoints.values().next())
                .cloned()
                .unwrap_or_default()
        },
        budget_millis: config.budget.as_millis() as u64,
        budget_exceeded: millis > config.budget.as_millis() as u64
            || journeys.iter().any(|j| j.result == JourneyResult::TimedOut),
        millis,
        journeys,
    }
}

/// Four random hex digits per invocation: the identities a run creates
/// (e-mails, product names) carry the stack's run id and this tag, so
/// journeys rerun against the same stack, or replayed with the same seed,
/// never collide with what an earlier invocation left there.
fn invocation_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{:04x}", random & 0xffff)
}

async fn run_one(
    def: &JourneyDef,
    config: &RunConfig,
    invocation: &str,
    deadline: tokio::time::Instant,
) -> JourneyReport {
    let started = Instant::now();
    let mut first_failure = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let nonce = format!("{}{invocation}{attempt}", config.run_id);
        let mut journey = Journey::new(def.name(), config.sut.clone(), config.seed, nonce);
        let outcome = match tokio::time::timeout_at(deadline, def.run(&mut journey)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let steps = journey.into_steps(&Err(Failure::new(
                    "the run's time budget ran out during this step",
                )));
                return report(
                    def,
                    JourneyResult::TimedOut,
                    attempt,
                    started,
                    steps,
                    first_failure,
                );
            }
        };
        let failed = outcome.is_err();
        let message = outcome.as_ref().err().map(|f| f.message.clone());
        let steps = journey.into_steps(&outcome);
        match (failed, attempt > config.retries) {
            (false, _) => {
                let result = if first_failure.is_some() {
                    JourneyResult::Flaky
                } else {
                    JourneyResult::Passed
                };
                return report(def, result, attempt, started, steps, first_failure);
            }
            (true, true) => {
                return report(
                    def,
                    JourneyResult::Failed,
                    attempt,
                    started,
                    steps,
                    first_failure.or(message),
                )
            }
            (true, false) => {
                let step = steps
                    .iter()
                    .find(|s| s.failure.is_some())
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                first_failure = Some(format!("step `{step}`: {}", message.unwrap_or_default()));
            }
        }
    }
}

fn report(
    def: &JourneyDef,
    result: JourneyResult,
    attempts: u32,
    started: Instant,
    steps: Vec<crate::report::StepReport>,
    first_failure: Option<String>,
) -> JourneyReport {
    JourneyReport {
        name: def.name().to_string(),
        about: def.about().to_string(),
        result,
        attempts,
        millis: started.elapsed().as_millis() as u64,
        steps,
        first_failure,
    }
}
