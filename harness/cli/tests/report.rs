//! `report.html` from real runs, drawn in a real browser: journeys, load,
//! chaos and props on one stack of the reference system each leave a page
//! that headless Chromium draws (not blank, the charts in the DOM, no
//! console error), that holds none of the run's generated secrets, whose
//! `run.json` replays the run, and that `gauntlet report DIR` rebuilds
//! byte for byte.

mod common;

use std::path::Path;

use common::browser;
use common::*;
use serde_json::Value;

const SHORT_PROFILE: &str = r#"
description = "short mixed load for the report test"
mode = "closed"
users = 6
duration = "8s"
think_time = { min = "50ms", max = "200ms" }

[mix]
browse_list = 30
browse_detail = 30
checkout = 30
webhook = 10
"#;

/// Every value of a variable whose name says it is secret, in every
/// container of the project's runs (what `[secrets] generate` made).
fn generated_secrets(project: &str) -> Vec<String> {
    let names = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=dev.gauntlet.project={project}"),
        "--format",
        "{{.Names}}",
    ]);
    let mut secrets = Vec::new();
    for name in String::from_utf8_lossy(&names.stdout).lines() {
        let env = docker(&[
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            name,
        ]);
        for line in String::from_utf8_lossy(&env.stdout).lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let secret = ["TOKEN", "SECRET", "PASSWORD"]
                .iter()
                .any(|w| key.to_uppercase().contains(w));
            if secret && value.len() >= 8 && !secrets.contains(&value.to_string()) {
                secrets.push(value.to_string());
            }
        }
    }
    secrets
}

/// The last command recorded in the folder's `run.json`.
fn run_json(dir: &Path) -> Value {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    record["commands"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

/// The page exists, holds no secret, draws in Chromium, and is rebuilt
/// identically from the folder's JSON.
fn check_page(project: &str, dir: &Path, secrets: &[String], must_show: &[&str]) -> String {
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    for file in ["report.html", "run.json", "summary.md"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{file} in {} holds a generated secret",
                dir.display()
            );
        }
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("(report.html)"),
        "summary.md links the page"
    );

    let drawn = browser::render(&page, 1200, 1600);
    assert!(
        drawn.console_errors.is_empty(),
        "console errors: {:?}",
        drawn.console_errors
    );
    assert!(
        drawn.nonblank_fraction > 0.02 && drawn.distinct_colours > 8,
        "{} looks blank: {:.3} of the pixels drawn, {} colours",
        page.display(),
        drawn.nonblank_fraction,
        drawn.distinct_colours
    );
    drawn.assert_no_network();
    assert!(
        drawn.count_tag("svg") >= 1,
        "charts in the DOM of {}: {}",
        page.display(),
        &drawn.dom[..drawn.dom.len().min(3000)]
    );
    for text in must_show {
        assert!(
            drawn.dom.contains(text),
            "{} does not show `{text}`",
            page.display()
        );
    }

    std::fs::remove_file(&page).unwrap();
    let again = run(project, &["report", &dir.display().to_string()]);
    assert_eq!(again.status.code(), Some(0), "gauntlet report DIR");
    assert_eq!(
        std::fs::read_to_string(&page).unwrap(),
        html,
        "gauntlet report rebuilds the same page from the JSON"
    );
    html
}

#[test]
fn every_suite_leaves_a_report_that_draws_in_a_browser_and_replays_its_run() {
    if !require_docker() || !browser::require_chromium() {
        return;
    }
    let project = unique_project("report");
    let _guard = ProjectGuard(project.clone());
    let mut up_args = vec!["up", "--json", "--seed", "31"];
    let bin = system_bin_args();
    up_args.extend(bin.iter().map(String::as_str));
    let out = gauntlet(&project, &up_args)
        .envs(heavy_traffic_vars())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = record["run_id"].as_str().unwrap().to_string();
    let secrets = generated_secrets(&project);
    assert!(
        secrets.len() >= 3,
        "the run's generated secrets were found: {}",
        secrets.len()
    );
    let work = tempfile::tempdir().unwrap();
    let dir = |name: &str| work.path().join(name);

    // Journeys.
    let out = run(
        &project,
        &[
            "journeys",
            "--run",
            &run_id,
            "--only",
            "health,shopper",
            "--out",
            &dir("journeys").display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let info = run_json(&dir("journeys"));
    assert_eq!(info["command"], "journeys");
    assert_eq!(info["seed"], 31, "the run's seed");
    assert_eq!(info["exit_code"], 0);
    let replay = info["replay"].as_str().unwrap();
    assert!(
        replay.starts_with("gauntlet ") && replay.contains("--seed 31"),
        "{replay}"
    );
    assert!(!replay.contains("--out"), "{replay}");
    check_page(
        &project,
        &dir("journeys"),
        &secrets,
        &["shopper: steps", "health: steps"],
    );

    // Load.
    let profile = work.path().join("short.toml");
    std::fs::write(&profile, SHORT_PROFILE).unwrap();
    let out = run(
        &project,
        &[
            "load",
            "--run",
            &run_id,
            "--profile",
            &profile.display().to_string(),
            "--seed",
            "5",
            "--out",
            &dir("load").display().to_string(),
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "load ran");
    let info = run_json(&dir("load"));
    assert_eq!(info["command"], "load");
    assert_eq!(info["seed"], 5);
    assert_eq!(info["profile"], profile.display().to_string());
    assert!(
        info["replay"].as_str().unwrap().contains("--profile"),
        "{info}"
    );
    check_page(
        &project,
        &dir("load"),
        &secrets,
        &[
            "all: latency over time",
            "all: throughput and errors over time",
            "SLO verdicts",
        ],
    );

    // Chaos.
    let out = run(
        &project,
        &[
            "chaos",
            "redis_killed",
            "--run",
            &run_id,
            "--seed",
            "8",
            "--out",
            &dir("chaos").display().to_string(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let info = run_json(&dir("chaos"));
    assert_eq!(info["experiments"], serde_json::json!(["redis_killed"]));
    assert!(
        info["replay"]
            .as_str()
            .unwrap()
            .contains("chaos redis_killed"),
        "{info}"
    );
    check_page(
        &project,
        &dir("chaos"),
        &secrets,
        &[
            "redis_killed: probes over time",
            "fault injected",
            "from fault end",
            "no acknowledged write lost",
        ],
    );

    // Props (the failing-case view is checked on a real failing run's JSON
    // in the reports crate's tests).
    let out = run(
        &project,
        &[
            "props",
            "--run",
            &run_id,
            "--only",
            "ledger_reserve_needs_active_credit,valuation_area_round_trip",
            "--cases",
            "8",
            "--out",
            &dir("props").display().to_string(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    check_page(
        &project,
        &dir("props"),
        &secrets,
        &["properties: time per property"],
    );
}
