//! Black-box property tests of the system's rules engines over HTTP
//! (`gauntlet props`, issue 6).
//!
//! - [`model`]: an independent reference model of SYSTEM-SPEC sections 7
//!   and 8, written from the spec, never calling the system's rules crate;
//! - `properties`: the catalogue, one file per family (differential,
//!   invariant and stateful properties);
//! - [`run`]: deterministic, replayable execution with shrinking and
//!   persisted regressions, against any [`RulesApi`] ([`HttpTarget`] for a
//!   running system).
//!
//! Against a running system the properties need its admin token (work
//! orders, billing, feed items, the rate-limit probe and flags are operator
//! APIs) and rate limits raised well above the defaults (a default run
//! makes about 10,000 calls; on the reference system set
//! `RATE_LIMIT_STANDARD` and `RATE_LIMIT_ADMIN`, e.g. `100000/1m`). A 429
//! is reported as an error of the property, not as a counterexample, unless
//! [`HttpTarget::with_rate_limit_wait`] gives it time to wait. Every case
//! creates its own entities (accounts, work orders, a feed `community`, flag
//! and bucket keys) under names carrying a per-process nonce, so runs and
//! replays against the same target do not see each other.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub mod client;
pub mod model;
mod properties;
mod runner;

pub use client::{CallError, HttpTarget, Reply, RulesApi};
pub use runner::{case_seed, regression_file};

/// One property of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PropertyInfo {
    /// snake_case, the value of `--only`.
    pub name: &'static str,
    pub family: &'static str,
    pub description: &'static str,
    /// Cases per run unless [`RunOptions::cases`] overrides it.
    pub default_cases: u32,
}

/// Every property, family by family.
pub fn catalogue() -> Vec<PropertyInfo> {
    properties::all().into_iter().map(|p| p.info).collect()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunOptions {
    pub seed: u64,
    /// Overrides every property's default case count.
    pub cases: Option<u32>,
    /// Property names; empty runs the whole catalogue.
    pub only: Vec<String>,
    /// A replay token: runs exactly that case (needs exactly one `only`).
    pub replay: Option<String>,
    /// Where recorded failing tokens are read from (`{dir}/{property}.txt`)
    /// and re-run first; `None` reads none.
    pub regressions_dir: Option<PathBuf>,
    /// Where the tokens of new failures are written (`{dir}/{property}.txt`);
    /// `None` records none. The CLI records into the run directory unless
    /// asked for the checkout, so testing a broken build leaves nothing in
    /// the source tree.
    pub record_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub seed: u64,
    pub results: Vec<PropertyResult>,
}

impl RunReport {
    /// Whether every property passed.
    pub fn passed(&self) -> bool {
        self.results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Passed))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyResult {
    pub name: String,
    pub family: String,
    /// Fresh cases run (up to and including a failing one).
    pub cases: u32,
    /// Stored regression tokens re-run before the fresh cases.
    pub regressions_rerun: u32,
    /// Serialized as `duration_ms` (float milliseconds).
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    pub outcome: Outcome,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// JSON: `{"status":"passed"}`, `{"status":"failed","detail":{...}}`,
/// `{"status":"error","detail":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// A counterexample, shrunk.
    Failed(Failure),
    /// The property could not be judged (target unreachable, a 5xx, a 429).
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// Why the minimal case fails.
    pub message: String,
    /// The minimal input, `{:#?}`.
    pub minimal_case: String,
    /// 64 hex digits; `RunOptions { replay: Some(token), only: vec![name] }`
    /// reproduces this failure.
    pub replay_token: String,
    /// Simplifications proptest kept while shrinking.
    pub shrink_steps: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PropsError {
    #[error("unknown property `{name}`; known: {}", known.join(", "))]
    UnknownProperty { name: String, known: Vec<String> },
    #[error("bad replay token: {0}")]
    BadReplayToken(String),
    #[error("--replay needs exactly one --only naming the property the token belongs to")]
    ReplayNeedsOne,
    /// Reading or writing a regression file.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// A bad selection or token is a usage error (2); a regression file that
/// cannot be read or written is an environment error (3).
impl From<PropsError> for gauntlet_harness::Error {
    fn from(e: PropsError) -> Self {
        match e {
            PropsError::Io(io) => gauntlet_harness::Error::Io {
                context: io.path.display().to_string(),
                source: io.source,
            },
            other => gauntlet_harness::Error::Usage(other.to_string()),
        }
    }
}

/// An I/O failure on a file of the run (a regression file).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct IoError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Runs the selected properties against `api`, calling `on_result` as each
/// finishes. Blocking; see [`HttpTarget`] for where it may be called from.
pub fn run(
    api: &dyn RulesApi,
    opts: &RunOptions,
    on_result: &mut dyn FnMut(&PropertyResult),
) -> Result<RunReport, PropsError> {
    runner::run(api, opts, on_result)
}
