//! Deterministic, replayable execution.
//!
//! Every case runs in a proptest [`TestRunner`] of its own (one case, no
//! failure persistence) whose ChaCha RNG is seeded with a 32-byte case seed
//! = SHA-256(run seed, property name, case index). proptest shrinks a
//! failure inside that runner. The hex of the case seed is the replay
//! token: the same token regenerates the same input and, against the same
//! target, the same shrinking path to the same minimal case.

use std::path::{Path, PathBuf};
use std::time::Instant;

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sha2::{Digest, Sha256};

use crate::client::RulesApi;
use crate::properties::{self, CaseOutcome, Env, Property};
use crate::{Failure, IoError, Outcome, PropertyResult, PropsError, RunOptions, RunReport};

/// Cap on shrink iterations per failure: every iteration talks to the
/// target, and a stateful case replays a whole sequence.
const MAX_SHRINK_ITERS: u32 = 1024;

pub type CaseSeed = [u8; 32];

/// The seed of case `index` of `property` in a run seeded with `seed`.
pub fn case_seed(seed: u64, property: &str, index: u32) -> CaseSeed {
    let mut h = Sha256::new();
    h.update(b"gauntlet-props/v1\0");
    h.update(seed.to_be_bytes());
    h.update(property.as_bytes());
    h.update([0]);
    h.update(index.to_be_bytes());
    h.finalize().into()
}

pub fn token(seed: &CaseSeed) -> String {
    hex::encode(seed)
}

pub fn parse_token(text: &str) -> Result<CaseSeed, PropsError> {
    let text = text.trim();
    let bad = || {
        PropsError::BadReplayToken(format!(
            "`{text}` is not a replay token (64 hex digits, as printed with a failure)"
        ))
    };
    if text.len() != 64 {
        return Err(bad());
    }
    let bytes = hex::decode(text).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// Runs one case of `property` from `seed`.
fn run_case(api: &dyn RulesApi, property: &Property, seed: &CaseSeed) -> CaseOutcome {
    let config = Config {
        cases: 1,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        max_shrink_iters: MAX_SHRINK_ITERS,
        max_shrink_time: 0,
        verbose: 0,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, seed);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let env = Env { api };
    (property.run)(&env, &mut runner)
}

fn to_outcome(case: CaseOutcome, seed: &CaseSeed) -> Outcome {
    match case {
        CaseOutcome::Passed => Outcome::Passed,
        CaseOutcome::Failed {
            message,
            minimal_case,
            shrink_steps,
        } => Outcome::Failed(Failure {
            message,
            minimal_case,
            replay_token: token(seed),
            shrink_steps,
        }),
        CaseOutcome::Error(e) => Outcome::Error(e),
    }
}

/// The properties `only` names (all when empty), in catalogue order.
fn select(only: &[String]) -> Result<Vec<&'static Property>, PropsError> {
    let all = properties::all();
    for name in only {
        if !all.iter().any(|p| p.info.name == name) {
            return Err(PropsError::UnknownProperty {
                name: name.clone(),
                known: all.iter().map(|p| p.info.name.to_owned()).collect(),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|p| only.is_empty() || only.iter().any(|n| n == p.info.name))
        .collect())
}

pub fn run(
    api: &dyn RulesApi,
    opts: &RunOptions,
    on_result: &mut dyn FnMut(&PropertyResult),
) -> Result<RunReport, PropsError> {
    let selected = select(&opts.only)?;
    let replay = match &opts.replay {
        Some(t) => {
            if opts.only.len() != 1 {
                return Err(PropsError::ReplayNeedsOne);
            }
            Some(parse_token(t)?)
        }
        None => None,
    };
    let mut results = Vec::with_capacity(selected.len());
    for property in selected {
        tracing::info!(property = property.info.name, "running property");
        let result = match &replay {
            Some(seed) => {
                let started = Instant::now();
                let outcome = to_outcome(run_case(api, property, seed), seed);
                result(property, 1, 0, started, outcome)
            }
            None => run_property(api, property, opts)?,
        };
        on_result(&result);
        results.push(result);
    }
    Ok(RunReport {
        seed: opts.seed,
        results,
    })
}

fn result(
    property: &Property,
    cases: u32,
    regressions_rerun: u32,
    started: Instant,
    outcome: Outcome,
) -> PropertyResult {
    PropertyResult {
        name: property.info.name.to_owned(),
        family: property.info.family.to_owned(),
        cases,
        regressions_rerun,
        duration: started.elapsed(),
        outcome,
    }
}

fn run_property(
    api: &dyn RulesApi,
    property: &Property,
    opts: &RunOptions,
) -> Result<PropertyResult, PropsError> {
    let started = Instant::now();
    let name = property.info.name;
    let stored = match &opts.regressions_dir {
        Some(d) => load_regressions(&regression_file(d, name))?,
        None => Vec::new(),
    };
    let record = opts.record_dir.as_ref().map(|d| regression_file(d, name));
    let mut rerun = 0;
    for seed in &stored {
        rerun += 1;
        match to_outcome(run_case(api, property, seed), seed) {
            Outcome::Passed => {}
            other => return Ok(result(property, 0, rerun, started, other)),
        }
    }
    let cases = opts.cases.unwrap_or(property.info.default_cases);
    for index in 0..cases {
        let seed = case_seed(opts.seed, name, index);
        let outcome = to_outcome(run_case(api, property, &seed), &seed);
        if let Outcome::Failed(failure) = &outcome {
            if let Some(f) = &record {
                record_regression(f, name, failure)?;
            }
        }
        if !matches!(outcome, Outcome::Passed) {
            return Ok(result(property, index + 1, rerun, started, outcome));
        }
    }
    Ok(result(property, cases, rerun, started, Outcome::Passed))
}

/// `{dir}/{property}.txt`.
pub fn regression_file(dir: &Path, property: &str) -> PathBuf {
    dir.join(format!("{property}.txt"))
}

/// The tokens stored in a regression file: one per line, `token # comment`;
/// blank lines and lines starting with `#` are skipped.
fn load_regressions(file: &Path) -> Result<Vec<CaseSeed>, PropsError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PropsError::Io(IoError {
                path: file.to_owned(),
                source,
            }))
        }
    };
    let mut seeds = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let token = line.split('#').next().unwrap_or("").trim();
        if token.is_empty() {
            continue;
        }
        let seed = parse_token(token).map_err(|_| {
            PropsError::BadReplayToken(format!(
                "{}:{}: `{token}` is not a replay token (64 hex digits); fix or delete the line",
                file.display(),
                n + 1
            ))
        })?;
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }
    Ok(seeds)
}

/// Appends `token # property: summary` unless the token is already there.
fn record_regression(file: &Path, property: &str, failure: &Failure) -> Result<(), PropsError> {
    use std::io::Write;
    let io = |source| {
        PropsError::Io(IoError {
            path: file.to_owned(),
            source,
        })
    };
    let known = load_regressions(file)?;
    let seed = parse_token(&failure.replay_token)?;
    if known.contains(&seed) {
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(io)?;
    writeln!(
        f,
        "{} # {property}: {}",
        failure.replay_token,
        properties::one_line(&failure.message, 160)
    )
    .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_every_input_and_round_trip_as_tokens() {
        let a = case_seed(1, "p", 0);
        assert_ne!(a, case_seed(2, "p", 0));
        assert_ne!(a, case_seed(1, "q", 0));
        assert_ne!(a, case_seed(1, "p", 1));
        assert_eq!(a, case_seed(1, "p", 0));
        let t = token(&a);
        assert_eq!(t.len(), 64);
        assert_eq!(parse_token(&t).unwrap(), a);
        assert!(matches!(
            parse_token("xyz"),
            Err(PropsError::BadReplayToken(_))
        ));
        assert!(matches!(
            parse_token(&"g".repeat(64)),
            Err(PropsError::BadReplayToken(_))
        ));
    }

    #[test]
    fn regression_files_append_once_and_skip_comments() {
        let dir = std::env::temp_dir().join(format!("props-reg-{}", std::process::id()));
        let file = regression_file(&dir, "p");
        let _ = std::fs::remove_file(&file);
        assert!(load_regressions(&file).unwrap().is_empty());
        let failure = Failure {
            message: "boom\nsecond line".into(),
            minimal_case: String::new(),
            replay_token: token(&case_seed(7, "p", 3)),
            shrink_steps: 0,
        };
        record_regression(&file, "p", &failure).unwrap();
        record_regression(&file, "p", &failure).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("# p: boom second line"), "{text}");
        std::fs::write(&file, format!("# header\n\n{text}")).unwrap();
        assert_eq!(load_regressions(&file).unwrap(), vec![case_seed(7, "p", 3)]);
        std::fs::write(&file, "nothex # x\n").unwrap();
        let err = load_regressions(&file).unwrap_err();
        assert!(err.to_string().contains("p.txt:1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
