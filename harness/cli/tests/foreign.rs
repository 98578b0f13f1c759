//! A system that is not the reference system: examples/python-counter, a
//! Python HTTP service and Redis, no Rust, no /v1/meta, no PM2. gauntlet
//! drives it through its gauntlet.toml alone; configuration mistakes are
//! exit 2 at once, naming the key.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn example_dir() -> PathBuf {
    workspace_root().join("examples/python-counter")
}

/// `gauntlet --config <example>/gauntlet.toml --project P ARGS...`.
fn counter(project: &str, config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend(args);
    run(project, &all)
}

#[test]
fn up_status_check_and_down_work_on_a_stack_with_no_rust_and_no_pm2() {
    if !require_docker() {
        return;
    }
    let project = unique_project("foreign");
    let _guard = ProjectGuard(project.clone());
    let config = example_dir().join("gauntlet.toml");

    let started = Instant::now();
    let out = counter(&project, &config, &["up", "--json", "--seed", "5"]);
    assert_eq!(out.status.code(), Some(0), "up failed");
    eprintln!(
        "up of the foreign stack took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["system"], "python counter");
    let web = record["urls"]["web"]
        .as_str()
        .expect("the web endpoint's URL");
    assert!(web.starts_with("http://127.0.0.1:"), "{web}");
    let run_id = record["run_id"].as_str().unwrap().to_string();

    let out = counter(&project, &config, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["run_id"], run_id.as_str());
    let services: Vec<(&str, &str)> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["service"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(services, vec![("cache", "running"), ("web", "running")]);
    assert!(
        status["pm2"].is_null(),
        "PM2 is off without [pm2]: {status}"
    );
    assert!(status["pm2_error"].is_null(), "{status}");

    let out = counter(&project, &config, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "check failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "web ready",
            "counting works",
            "unknown path is 404",
            "cache (cache) answers"
        ]
    );
    // The probe really counted: the service's own state moved.
    let (status, body) = get(&format!("{web}/hits")).unwrap();
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["hits"], 1);

    // Chaos on a system with no PM2 and no api: the example's own
    // experiment runs; one that needs PM2 is refused before anything starts.
    let out = counter(
        &project,
        &config,
        &["chaos", "--run", &run_id, "cache_killed"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the cache_killed experiment failed"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("health reports the cache down"), "{text}");
    let reference = workspace_root().join("chaos/experiments");
    let out = counter(
        &project,
        &config,
        &[
            "chaos",
            "--run",
            &run_id,
            "--experiments",
            reference.to_str().unwrap(),
            "api_process_killed",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[pm2]"), "{stderr}");

    // The same check fails when the system misbehaves: Redis stopped.
    docker(&["stop", &format!("{project}-{run_id}-cache")]);
    let out = counter(&project, &config, &["check"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a dead cache must fail the check"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL"), "{text}");

    let out = counter(&project, &config, &["down"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        labelled_resources(&project).is_empty(),
        "{:?}",
        labelled_resources(&project)
    );
}

/// Copies the example into a temporary folder with `edit` applied to its
/// gauntlet.toml.
fn broken_copy(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example_dir().join("gauntlet.toml")).unwrap();
    std::fs::write(dir.path().join("gauntlet.toml"), edit(&text)).unwrap();
    std::fs::copy(
        example_dir().join("docker-compose.yml"),
        dir.path().join("docker-compose.yml"),
    )
    .unwrap();
    let path = dir.path().join("gauntlet.toml");
    (dir, path)
}

/// A configuration error: exit 2 within a second or two (nothing built,
/// nothing started), `FILE:LINE:COL: key` on stderr.
fn assert_config_error(config: &Path, args: &[&str], key: &str, line: usize) {
    let project = unique_project("foreign-config");
    let started = Instant::now();
    let out = counter(&project, config, args);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:{line}:", config.display())),
        "the error names the file and line {line}: {stderr}"
    );
    assert!(stderr.contains(key), "the error names `{key}`: {stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {stderr}");
    eprintln!(
        "configuration error to exit: {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
}

#[test]
fn an_endpoint_on_a_missing_service_is_exit_2_at_once() {
    let (_dir, config) = broken_copy(|t| t.replacen("service = \"web\"", "service = \"api\"", 1));
    assert_config_error(&config, &["up"], "endpoints.web.service", 11);
    assert_config_error(&config, &["status"], "endpoints.web.service", 11);
}

#[test]
fn an_endpoint_on_an_unpublished_port_is_exit_2_at_once() {
    let (_dir, config) = broken_copy(|t| t.replacen("port = 8000", "port = 8001", 1));
    assert_config_error(&config, &["up"], "endpoints.web.port", 12);
}

#[test]
fn a_bad_identity_pointer_is_exit_2_at_once() {
    let (_dir, config) = broken_copy(|t| {
        format!("{t}\n[identity]\nendpoint = \"web\"\npath = \"/health\"\npointer = \"status\"\nexpect = \"ok\"\n")
    });
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("pointer"))
        .unwrap()
        + 1;
    assert_config_error(&config, &["up"], "identity.pointer", line);
    assert_config_error(
        &config,
        &["check", "--target", "http://127.0.0.1:9"],
        "identity.pointer",
        line,
    );
}

#[test]
fn an_unknown_key_is_exit_2_at_once() {
    let (_dir, config) = broken_copy(|t| {
        t.replacen(
            "[endpoints.web]\n",
            "[endpoints.web]\nprotocol = \"http\"\n",
            1,
        )
    });
    assert_config_error(&config, &["up"], "protocol", 11);
}

#[test]
fn an_undeclared_defect_switch_is_exit_2_before_anything_starts() {
    let config = example_dir().join("gauntlet.toml");
    let project = unique_project("foreign-defects");
    let out = counter(&project, &config, &["up", "--defects", "slow_cache"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("declares no defect switches"), "{stderr}");
}

#[test]
fn the_effective_configuration_shows_where_each_value_came_from() {
    let config = example_dir().join("gauntlet.toml");
    let out = gauntlet("ignored", &["--config", config.to_str().unwrap(), "config"])
        .env("GAUNTLET_SERVICE_TIMEOUT", "45s")
        .env("COUNTER_TOKEN", "a-very-secret-token-value")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no line for {key} in:\n{text}"))
            .to_string()
    };
    assert!(
        line("system.project").contains("# flag --project"),
        "{text}"
    );
    assert!(line("system.name").contains("# file"), "{text}");
    assert!(line("stack.service_timeout").contains("\"45s\""), "{text}");
    assert!(
        line("stack.service_timeout").contains("# env GAUNTLET_SERVICE_TIMEOUT"),
        "{text}"
    );
    assert!(line("paths.slo").contains("# default"), "{text}");
    assert!(line("secrets.token.value").contains("***"), "{text}");
    assert!(
        !text.contains("a-very-secret-token-value"),
        "a secret was printed:\n{text}"
    );
}

#[test]
fn a_broken_journey_file_is_exit_2_before_anything_starts() {
    // A template naming a variable nothing defines: found when the file
    // loads, for `journeys --list`, `journeys` and `gate` alike.
    let (dir, config) = broken_copy(|t| t.to_string());
    std::fs::create_dir(dir.path().join("journeys")).unwrap();
    let journey = dir.path().join("journeys/visit.toml");
    std::fs::write(
        &journey,
        "about = \"count a visit\"\n\n[[step]]\nmethod = \"POST\"\npath = \"/hits?by={{visitor}}\"\n",
    )
    .unwrap();
    for args in [&["journeys", "--list"][..], &["journeys"], &["gate"]] {
        let project = unique_project("foreign-journey");
        let started = Instant::now();
        let out = counter(&project, &config, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:5:", journey.display()))
                && stderr.contains("unknown variable `visitor`"),
            "{args:?}: the error names the file, line and variable: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?}: nothing was started"
        );
    }
    // Mended, the same file lists.
    std::fs::write(
        &journey,
        "about = \"count a visit\"\n\n[[step]]\nmethod = \"POST\"\npath = \"/hits?by={{fake.first_name}}\"\n",
    )
    .unwrap();
    let out = counter(
        &unique_project("foreign-journey"),
        &config,
        &["journeys", "--list"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("visit"));
}
