//! `gauntlet chaos` on real stacks: every shipped experiment passes on the
//! reference system; the defect matrix (SYSTEM-SPEC 11) shows each
//! experiment catching the defect it targets; a malformed experiment file
//! is exit 2 naming the file and the problem.

mod common;

use std::path::Path;

use common::*;

fn chaos(project: &str, out: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["chaos", "--out", out.to_str().unwrap(), "--seed", "3"];
    all.extend(args);
    let bin = system_bin_args();
    all.extend(bin.iter().map(String::as_str));
    run(project, &all)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn journal(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("chaos.json")).unwrap()).unwrap()
}

#[test]
fn a_malformed_experiment_is_a_usage_error_naming_the_file() {
    let project = unique_project("chaos-bad");
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    std::fs::write(
        experiments.join("broken.toml"),
        concat!(
            "title = \"broken\"\n",
            "[steady_state]\nprobes = [ { http = \"/api/healthz\", status = 200 } ]\n",
            "[[method]]\naction = \"melt_the_datacentre\"\n",
        ),
    )
    .unwrap();
    let out = run(
        &project,
        &[
            "chaos",
            "--all",
            "--experiments",
            experiments.to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("broken.toml"), "names the file: {said}");
    assert!(
        said.contains("melt_the_datacentre"),
        "names the problem: {said}"
    );
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing was started"
    );
}

fn experiment<'a>(journal: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    journal["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in chaos.json"))
}

/// Every shipped experiment passes on the correct system, with recovery
/// times and a clean ledger; the run leaves nothing behind.
#[test]
fn every_experiment_passes_on_the_reference_system() {
    if !require_docker() {
        return;
    }
    let project = unique_project("chaos-all");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = chaos(&project, dir.path(), &["--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let journal = journal(dir.path());
    let experiments = journal["experiments"].as_array().unwrap();
    assert!(experiments.len() >= 11, "{journal}");
    for e in experiments {
        assert_eq!(e["verdict"]["result"], "passed", "{}", e["name"]);
        assert!(
            e["recovery"]["from_fault_end_ms"].is_u64(),
            "{}: a recovery time is recorded",
            e["name"]
        );
        if let Some(ledger) = e["reconciliation"].as_object() {
            assert_eq!(ledger["events"]["missing"], 0, "{}", e["name"]);
        }
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("chaos.redis_killed"), "{junit}");
    assert!(labelled_resources(&project).is_empty());
}

/// One defect, the experiment that targets it: the run fails (exit 1) and
/// chaos.json says why.
fn caught(defect: &str, name: &str) -> serde_json::Value {
    let project = unique_project(&format!("chaos-{name}"));
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = chaos(&project, dir.path(), &[name, "--defects", defect]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{defect} must fail {name}: {}",
        text(&out)
    );
    experiment(&journal(dir.path()), name).clone()
}

#[test]
fn outbox_skipped_when_redis_down_loses_events_in_the_redis_experiment() {
    if !require_docker() {
        return;
    }
    let report = caught("outbox_skipped_when_redis_down", "redis_killed");
    let missing = report["reconciliation"]["events"]["missing"]
        .as_u64()
        .unwrap();
    assert!(missing > 0, "lost events are counted: {report}");
}

#[test]
fn health_ignores_db_is_caught_by_the_postgres_experiments_probe() {
    if !require_docker() {
        return;
    }
    let report = caught("health_ignores_db", "postgres_killed");
    let reasons = report["verdict"]["reasons"].to_string();
    assert!(
        reasons.contains("healthz") || reasons.contains("health"),
        "the health probe names the problem: {reasons}"
    );
}

#[test]
fn idempotency_before_delivery_drops_events_the_sink_never_got() {
    if !require_docker() {
        return;
    }
    let report = caught("idempotency_before_delivery", "crash_loop");
    let events = &report["reconciliation"]["events"];
    assert!(
        events["missing"].as_u64().unwrap() > 0,
        "events reached neither the sink nor the DLQ: {events}"
    );
}

/// Ctrl-C during a fault: the fault is removed before gauntlet exits (130).
/// Run on a stack from `gauntlet up`, so the healed stack can be inspected.
#[test]
fn an_interrupt_during_a_fault_removes_it_before_exiting() {
    if !require_docker() {
        return;
    }
    let project = unique_project("chaos-int");
    let _guard = ProjectGuard(project.clone());
    let record = up(&project, &[]);
    let run_id = record["run_id"].as_str().unwrap().to_string();
    let toxiproxy = record["urls"]["toxiproxy"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (child, seen) = spawn_until(
        &project,
        &[
            "chaos",
            "postgres_link_down",
            "--run",
            &run_id,
            "--out",
            dir.path().to_str().unwrap(),
        ],
        "fault_proven",
    );
    let proxy_enabled = || {
        get(&format!("{toxiproxy}/proxies/postgres"))
            .map(|(_, body)| body.contains("\"enabled\":true"))
            .unwrap_or(false)
    };
    assert!(!proxy_enabled(), "the fault is on: {seen:?}");
    assert_eq!(interrupt(child), Some(130), "{seen:?}");
    assert!(
        proxy_enabled(),
        "the postgres link is back after the interrupt"
    );
}
