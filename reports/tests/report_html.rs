//! `report.html` from real run directories (their JSON files are kept in
//! `tests/runs/`, taken from real runs of the reference system): the data
//! model is snapshot-tested, and the page is checked for what makes it
//! self-contained (no script, nothing fetched) and for what each suite must
//! show. The same pages are drawn in a real browser by the CLI's tests.

use std::path::{Path, PathBuf};

use gauntlet_reports::html::{self, HtmlError, Section};

fn runs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runs")
}

fn page(dir: &str) -> String {
    html::render(&html::build(&runs().join(dir)).unwrap())
}

#[test]
fn the_model_of_each_suite_is_stable() {
    for dir in ["chaos", "drill", "journeys", "props", "load", "load-old"] {
        let report = html::build(&runs().join(dir)).unwrap();
        insta::assert_json_snapshot!(format!("model_{dir}"), report);
    }
}

/// What keeps the page one file that works offline and with scripts off.
fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains(" src="), "nothing loaded from elsewhere");
    assert!(!html.contains("<link"), "no stylesheet fetched");
    assert!(!html.contains("url("), "no CSS url()");
    for href in html.split("href=\"").skip(1) {
        let target = &href[..href.find('"').unwrap()];
        assert!(
            target.starts_with('#') || !target.contains(':'),
            "links stay inside the run folder: {target}"
        );
    }
}

#[test]
fn every_page_is_self_contained() {
    for dir in ["chaos", "drill", "journeys", "props", "load", "load-old"] {
        assert_self_contained(&page(dir));
    }
}

#[test]
fn chaos_shows_each_experiments_fault_window_probes_recovery_and_ledger() {
    let html = page("chaos");
    for name in ["redis_killed", "postgres_killed"] {
        assert!(
            html.contains(&format!("{name}: probes over time")),
            "{name}"
        );
    }
    // One lane per probe, the fault shaded, recovery marked both ways.
    assert!(html.contains("GET /api/healthz = 200"));
    assert!(html.contains("sql SELECT 1 = 1"));
    assert!(html.contains(">fault injected +2.5 s<") || html.contains("fault injected +"));
    assert!(html.contains("from fault end") && html.contains("from start)"));
    assert!(html.contains("no acknowledged write lost"));
    assert_eq!(html.matches("<svg").count(), 2, "one chart per experiment");
}

#[test]
fn the_drill_marks_rto_and_rpo_on_its_time_axis_and_lists_every_check() {
    let report = html::build(&runs().join("drill")).unwrap();
    let Section::Drill(drill) = &report.sections[0] else {
        panic!("a drill section")
    };
    assert!(drill.disaster_ms.is_some() && drill.rto_ms.is_some());
    assert_eq!(drill.rto_limit_ms, Some(300_000), "rto < 5m");
    let html = html::render(&report);
    assert!(html.contains(">RTO<") || html.contains("RTO 14.5 s"));
    assert!(html.contains("RPO window"));
    assert!(html.contains(">disaster<"));
    for check in &drill.checks {
        assert!(
            html.contains(
                &check
                    .name
                    .replace('>', "&gt;")
                    .replace('<', "&lt;")
                    .replace('\'', "&#39;")
            ),
            "{}",
            check.name
        );
    }
}

#[test]
fn a_failed_property_shows_its_minimal_case_and_the_command_that_replays_it() {
    let html = page("props");
    assert!(html.contains("rate_limit_bound"));
    assert!(html.contains("Minimal case"));
    assert!(html.contains("gauntlet props --seed 42 --only rate_limit_bound --replay "));
    assert!(html.contains("badge fail"), "the page says it failed");
}

#[test]
fn journeys_are_waterfalls_of_their_steps() {
    let html = page("journeys");
    for j in ["shopper", "health", "last_units"] {
        assert!(html.contains(&format!("{j}: steps")), "{j}");
    }
}

#[test]
fn an_old_load_run_without_time_series_still_renders_its_verdicts() {
    let html = page("load-old");
    assert!(html.contains("no time series"));
    assert!(html.contains("global p95"));
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(page("chaos"), page("chaos"));
}

#[test]
fn a_folder_without_results_is_an_error_that_names_what_it_looked_for() {
    let empty = tempfile::tempdir().unwrap();
    let err = html::build(empty.path()).unwrap_err();
    assert!(matches!(err, HtmlError::NoResults { .. }));
    assert!(err.to_string().contains("chaos.json"), "{err}");
    std::fs::write(empty.path().join("load.json"), "{ not json").unwrap();
    let err = html::build(empty.path()).unwrap_err();
    assert!(err.to_string().contains("load.json"), "{err}");
}

#[test]
fn load_draws_latency_and_throughput_over_time_for_all_and_each_transaction() {
    let report = html::build(&runs().join("load")).unwrap();
    let Section::Load(load) = &report.sections[0] else {
        panic!("a load section")
    };
    assert_eq!(load.series[0].name, "all", "all first");
    assert!(load.series.len() > 5, "and each transaction");
    let all = &load.series[0];
    assert!(all.points.len() >= 30, "a point per second of a 30 s run");
    // One p95 and one p99 line for all, though the SLO is judged over the
    // run and over its one phase.
    let metrics: Vec<&str> = all.slos.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(metrics, vec!["p95", "p99"], "{:?}", all.slos);
    let html = html::render(&report);
    for series in &load.series {
        assert!(html.contains(&format!("{}: latency over time", series.name)));
        assert!(html.contains(&format!("{}: throughput and errors over time", series.name)));
    }
    assert_eq!(html.matches("<svg").count(), 2 * load.series.len());
}
