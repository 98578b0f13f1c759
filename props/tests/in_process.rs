//! The whole catalogue against the rules crate in-process (no HTTP, no
//! database): the reference model and the system's rules crate, written
//! independently, must agree on every generated case.

mod common;

use std::time::Instant;

use common::{InProcess, Unreachable};
use gauntlet_props::{catalogue, run, Outcome, PropsError, RunOptions};
use gauntlet_rules::Mistakes;

fn cases() -> u32 {
    std::env::var("PROPS_IN_PROCESS_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn whole_catalogue_passes_in_process() {
    let api = InProcess::new(Mistakes::NONE);
    let opts = RunOptions {
        seed: 20_261_106,
        only: common::rules_engine_properties(),
        cases: Some(cases()),
        ..Default::default()
    };
    let started = Instant::now();
    let mut lines = Vec::new();
    let report = run(&api, &opts, &mut |r| {
        lines.push(format!(
            "{:<40} {:>5} cases {:>8.1} ms  {:?}",
            r.name,
            r.cases,
            r.duration.as_secs_f64() * 1000.0,
            r.outcome
        ))
    })
    .unwrap();
    eprintln!(
        "{}\ntotal {:.1} s",
        lines.join("\n"),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        report.results.len(),
        common::rules_engine_properties().len()
    );
    for r in &report.results {
        assert!(
            matches!(r.outcome, Outcome::Passed),
            "{}: {:#?}",
            r.name,
            r.outcome
        );
        assert_eq!(r.cases, cases());
    }
}

#[test]
fn catalogue_names_are_unique_snake_case() {
    let names: Vec<&str> = catalogue().iter().map(|p| p.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "{names:?}");
    for n in names {
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{n}"
        );
    }
}

#[test]
fn an_unreachable_target_is_an_error_not_a_failure() {
    let opts = RunOptions {
        seed: 1,
        cases: Some(3),
        ..Default::default()
    };
    let report = run(&Unreachable, &opts, &mut |_| {}).unwrap();
    for r in &report.results {
        match &r.outcome {
            Outcome::Error(e) => assert!(e.contains("unreachable"), "{}: {e}", r.name),
            other => panic!("{}: {other:?}", r.name),
        }
        assert_eq!(r.cases, 1, "{}", r.name);
    }
}

#[test]
fn option_errors() {
    let api = InProcess::new(Mistakes::NONE);
    let run_with = |opts: RunOptions| run(&api, &opts, &mut |_| {});
    let err = run_with(RunOptions {
        only: vec!["no_such_property".into()],
        ..Default::default()
    })
    .unwrap_err();
    match &err {
        PropsError::UnknownProperty { name, known } => {
            assert_eq!(name, "no_such_property");
            assert!(known.iter().any(|k| k == "ledger_matches_model"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run_with(RunOptions {
            replay: Some("00".repeat(32)),
            ..Default::default()
        }),
        Err(PropsError::ReplayNeedsOne)
    ));
    assert!(matches!(
        run_with(RunOptions {
            replay: Some("zz".into()),
            only: vec!["valuation_matches_model".into()],
            ..Default::default()
        }),
        Err(PropsError::BadReplayToken(_))
    ));
}
