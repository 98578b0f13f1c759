//! `gauntlet props` on real stacks: the catalogue passes on the reference
//! system; the two rule mistakes the system can switch on
//! (`feed_cursor_by_time`, `rate_limit_never_denies`) are found, shrunk,
//! exit 1 and print a replay command that reproduces the same failure; bad
//! selections are usage errors. Also the insta snapshots of the work-order
//! export bundle and of the rules API's error bodies.

mod common;

use std::path::Path;

use common::*;

/// `gauntlet up` with raised limits and `defects`; returns the run id.
fn up_raised(project: &str, defects: &str) -> String {
    let mut args = vec!["up", "--json", "--seed", "7", "--defects", defects];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let mut cmd = gauntlet(project, &args);
    cmd.envs(heavy_traffic_vars());
    let out = cmd.output().expect("gauntlet runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "gauntlet up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    record["run_id"].as_str().unwrap().to_string()
}

/// `gauntlet props --out OUT ARGS`, recording regressions next to OUT (not
/// in the checkout: these tests fail on purpose).
fn props(project: &str, out: &Path, args: &[&str]) -> std::process::Output {
    let regressions = out.join("regressions");
    let mut all = vec![
        "props",
        "--out",
        out.to_str().unwrap(),
        "--regressions",
        regressions.to_str().unwrap(),
    ];
    all.extend(args);
    run(project, &all)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `replay: gauntlet props ...` line printed for `property`.
fn replay_line(output: &str, property: &str) -> Vec<String> {
    let line = output
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with("replay: gauntlet props") && l.contains(&format!("--only {property} "))
        })
        .unwrap_or_else(|| panic!("no replay command for {property} in:\n{output}"));
    line.trim_start_matches("replay: gauntlet ")
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn props_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("props.json")).unwrap()).unwrap()
}

fn outcome<'a>(report: &'a serde_json::Value, property: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == property)
        .unwrap_or_else(|| panic!("{property} not in props.json"))
}

#[test]
fn unknown_property_and_lonely_replay_are_usage_errors() {
    let project = unique_project("props-usage");
    let dir = tempfile::tempdir().unwrap();
    let out = props(
        &project,
        dir.path(),
        &[
            "--only",
            "no_such_property",
            "--target",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("unknown property no_such_property"),
        "{}",
        text(&out)
    );
    let out = props(
        &project,
        dir.path(),
        &["--replay", "00ff", "--target", "http://127.0.0.1:9"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("--replay needs exactly one --only"),
        "{}",
        text(&out)
    );
    let out = run(&project, &["props", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("ledger"), "{}", text(&out));
}

/// The catalogue passes on the correct system, on a stack `gauntlet props`
/// starts and removes itself; the reports name every property.
#[test]
fn the_catalogue_passes_on_the_reference_system() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-pass");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--seed", "11", "--cases", "12"];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let out = props(&project, dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = props_json(dir.path());
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), gauntlet_props::catalogue().len());
    for r in results {
        assert_eq!(r["outcome"]["status"], "passed", "{r}");
        assert!(r["cases"].as_u64().unwrap() >= 12, "{r}");
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count(),
        results.len(),
        "{junit}"
    );
    assert!(text(&out).contains("seed 11"), "the seed is printed");
    assert!(
        labelled_resources(&project).is_empty(),
        "props removed its stack: {:?}",
        labelled_resources(&project)
    );
}

/// Finds `property` failing on a run, checks the minimal case is printed
/// with a replay command, runs that command and expects the same failure.
fn caught_and_replayed(project: &str, property: &str, first: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--seed", "5", "--only", property];
    args.extend(first);
    let out = props(project, dir.path(), &args);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    assert!(output.contains("minimal case"), "{output}");
    let report = props_json(dir.path());
    let failed = outcome(&report, property).clone();
    assert_eq!(failed["outcome"]["status"], "failed", "{failed}");

    let replay = replay_line(&output, property);
    let replay_dir = tempfile::tempdir().unwrap();
    let mut again: Vec<&str> = replay.iter().map(String::as_str).collect();
    let replay_regressions = replay_dir.path().join("regressions");
    again.extend([
        "--out",
        replay_dir.path().to_str().unwrap(),
        "--regressions",
        replay_regressions.to_str().unwrap(),
    ]);
    let bin = system_bin_args();
    if !again.contains(&"--run") {
        again.extend(bin.iter().map(String::as_str));
    }
    let out = run(project, &again);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the replay fails too: {}",
        text(&out)
    );
    let replayed = props_json(replay_dir.path());
    let replayed = outcome(&replayed, property);
    assert_eq!(replayed["cases"], 1, "a replay runs exactly one case");
    assert_eq!(
        replayed["outcome"]["detail"]["minimal_case"], failed["outcome"]["detail"]["minimal_case"],
        "the replay shrinks to the same minimal case"
    );
    failed
}

/// Defect `feed_cursor_by_time`: a walk over the pages skips or repeats
/// items. The property finds it on a stack from `gauntlet up`.
#[test]
fn feed_cursor_by_time_is_found_shrunk_and_replayed() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-feed");
    let _guard = ProjectGuard(project.clone());
    let run_id = up_raised(&project, "feed_cursor_by_time");
    let failed = caught_and_replayed(
        &project,
        "feed_walk_exactly_once_with_inserts",
        &["--run", &run_id, "--cases", "48"],
    );
    let minimal = failed["outcome"]["detail"]["minimal_case"]
        .as_str()
        .unwrap();
    assert!(
        minimal.lines().count() < 60,
        "shrunk to a small case:\n{minimal}"
    );
}

/// Defect `rate_limit_never_denies`: a quick burst on a fresh bucket gets
/// more than its capacity. Found on a stack `gauntlet props` starts itself;
/// the replay command carries the defect and starts another.
#[test]
fn rate_limit_never_denies_is_found_shrunk_and_replayed() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-rate");
    let _guard = ProjectGuard(project.clone());
    let bin = system_bin_args();
    let mut first = vec!["--defects", "rate_limit_never_denies"];
    first.extend(bin.iter().map(String::as_str));
    let failed = caught_and_replayed(&project, "rate_limit_fresh_burst_exact", &first);
    let minimal = failed["outcome"]["detail"]["minimal_case"]
        .as_str()
        .unwrap();
    assert!(minimal.contains("capacity"), "{minimal}");
    assert!(labelled_resources(&project).is_empty());
}

/// The API of the run `run_id`, with its admin token (read from the stack).
fn admin_target(project: &str, run_id: &str) -> gauntlet_props::HttpTarget {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (api, token) = rt.block_on(async {
        let docker = gauntlet_harness::docker::connect().await.unwrap();
        let ws = gauntlet_harness::workspace::Workspace::new(reference_config()).unwrap();
        let compose = ws.compose(&Default::default()).unwrap();
        let stack = gauntlet_harness::stack::Stack::attach(docker, project, run_id, compose);
        let api = stack.endpoint_url("api").await.unwrap();
        let token = stack.env_var("app", "ADMIN_TOKEN").await.unwrap();
        (api, token)
    });
    gauntlet_props::HttpTarget::new(api, token)
}

fn call(
    api: &gauntlet_props::HttpTarget,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> gauntlet_props::Reply {
    use gauntlet_props::RulesApi;
    let body = (!body.is_null()).then_some(body);
    api.call(method, path, body.as_ref())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// insta snapshots: the export bundle of a work order (deterministic: no
/// ids, no timestamps) and the rules API's error bodies.
#[test]
fn export_bundle_and_error_bodies_match_their_snapshots() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-snap");
    let _guard = ProjectGuard(project.clone());
    let run_id = up_raised(&project, "");
    let api = admin_target(&project, &run_id);
    use serde_json::json;

    let created = call(
        &api,
        "POST",
        "/v1/repogen/work-orders",
        json!({"report_type": "VALUATION", "fields": {"bank_name": "SBI Andheri"}}),
    );
    assert_eq!(created.status, 201, "{:?}", created);
    let id = created.body["id"].as_i64().unwrap();
    for kind in ["PHOTO", "PHOTO", "GEO", "SCREENSHOT", "PHOTO", "GEO"] {
        let r = call(
            &api,
            "POST",
            &format!("/v1/repogen/work-orders/{id}/evidence"),
            json!({"kind": kind}),
        );
        assert_eq!(r.status, 201, "{r:?}");
    }
    let patched = call(
        &api,
        "PATCH",
        &format!("/v1/repogen/work-orders/{id}/contract"),
        json!({"fields": {
            "bank_type": "SBI",
            "property_address": "12 Marine Drive, Mumbai",
            "land_area": 1200,
            "area": {"value": 1200.0, "unit": "sqft"},
            "market_rate": {"value": 8500.0, "unit": "per_sqft"},
            "guideline_rate": {"value": 7000.0, "unit": "per_sqm"},
            "land_value": 10200000.0,
            "building_value": 2500000.0
        }}),
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    let export = call(
        &api,
        "GET",
        &format!("/v1/repogen/work-orders/{id}/export"),
        serde_json::Value::Null,
    );
    assert_eq!(export.status, 200, "{export:?}");
    insta::assert_json_snapshot!("work_order_export_bundle", export.body);

    // Error bodies, one per code the rules API answers with.
    let account = call(
        &api,
        "POST",
        "/v1/billing/accounts",
        json!({"mode": "CREDIT"}),
    );
    let acc = account.body["id"].as_i64().unwrap();
    let reserve = |key: &str, amount: i64| {
        call(
            &api,
            "POST",
            &format!("/v1/billing/accounts/{acc}/reserve"),
            json!({"amount": amount, "idempotency_key": key, "ref_type": "report", "ref_id": key}),
        )
    };
    let mut errors = serde_json::Map::new();
    let mut record = |name: &str, reply: gauntlet_props::Reply| {
        errors.insert(
            name.to_string(),
            json!({"status": reply.status, "body": reply.body}),
        );
    };
    record("CRED001 insufficient credits", reserve("a", 3));
    call(
        &api,
        "POST",
        &format!("/v1/billing/accounts/{acc}/grant"),
        json!({"amount": 5, "reason": "topup", "idempotency_key": "g1"}),
    );
    let consumed = reserve("b", 1).body["reservation"]["id"].clone();
    call(
        &api,
        "POST",
        &format!("/v1/billing/accounts/{acc}/consume"),
        json!({"reservation_id": consumed}),
    );
    record(
        "CRED002 release of a consumed reservation",
        call(
            &api,
            "POST",
            &format!("/v1/billing/accounts/{acc}/release"),
            json!({"reservation_id": consumed}),
        ),
    );
    let released = reserve("c", 1).body["reservation"]["id"].clone();
    call(
        &api,
        "POST",
        &format!("/v1/billing/accounts/{acc}/release"),
        json!({"reservation_id": released}),
    );
    record(
        "CRED003 consume of a released reservation",
        call(
            &api,
            "POST",
            &format!("/v1/billing/accounts/{acc}/consume"),
            json!({"reservation_id": released}),
        ),
    );
    let suspended = call(
        &api,
        "POST",
        "/v1/billing/accounts",
        json!({"mode": "CREDIT", "status": "suspended"}),
    );
    let sus = suspended.body["id"].as_i64().unwrap();
    record(
        "CRED004 inactive account",
        call(
            &api,
            "POST",
            &format!("/v1/billing/accounts/{sus}/reserve"),
            json!({"idempotency_key": "k", "ref_type": "report", "ref_id": "1"}),
        ),
    );
    record("REPO001 not ready for render", {
        let wo = call(
            &api,
            "POST",
            "/v1/repogen/work-orders",
            json!({"report_type": "DPR"}),
        );
        let wid = wo.body["id"].as_i64().unwrap();
        call(
            &api,
            "PATCH",
            &format!("/v1/repogen/work-orders/{wid}/contract"),
            json!({"fields": {"bank_name": "BOI"}}),
        );
        call(
            &api,
            "POST",
            &format!("/v1/repogen/work-orders/{wid}/status"),
            json!({"status": "DATA_PENDING"}),
        );
        call(
            &api,
            "POST",
            &format!("/v1/repogen/work-orders/{wid}/status"),
            json!({"status": "READY_FOR_RENDER"}),
        )
    });
    record(
        "REPO002 invalid transition",
        call(
            &api,
            "POST",
            &format!("/v1/repogen/work-orders/{id}/status"),
            json!({"status": "CLOSED"}),
        ),
    );
    record(
        "422 unknown unit",
        call(
            &api,
            "POST",
            "/v1/repogen/evaluate",
            json!({"area": {"value": 10.0, "unit": "acre"}}),
        ),
    );
    let anonymous = gauntlet_props::HttpTarget::new(api.base_url(), None);
    record(
        "401 without the admin token",
        call(
            &anonymous,
            "POST",
            "/v1/billing/accounts",
            json!({"mode": "CREDIT"}),
        ),
    );
    // Ids the server assigns differ between runs; they are not part of the contract's bodies.
    insta::with_settings!({filters => vec![(r"\b(account|reservation|work order) \d+", "$1 [id]")]}, {
        insta::assert_json_snapshot!("rules_api_error_bodies", errors);
    });
}

/// `props --target` needs no compose file: run from a folder holding only
/// the project file (and `--config` to it), against a running stack, the
/// secrets from the environment as its [secrets] variables say.
#[test]
fn props_against_a_target_need_no_compose_file() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-nocompose");
    let _guard = ProjectGuard(project.clone());
    let run_id = up_raised(&project, "");
    let (api, token) = {
        let target = admin_target(&project, &run_id);
        (
            target.base_url().to_string(),
            target_token(&project, &run_id),
        )
    };
    let lone = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace_root().join("gauntlet.toml"),
        lone.path().join("gauntlet.toml"),
    )
    .unwrap();
    assert!(!lone.path().join("docker-compose.yml").exists());
    let out_dir = tempfile::tempdir().unwrap();
    let regressions = out_dir.path().join("regressions");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .current_dir(lone.path())
        .env("GAUNTLET_ADMIN_TOKEN", &token)
        .args([
            "props",
            "--target",
            &api,
            "--only",
            "ledger_matches_model",
            "--cases",
            "4",
            "--out",
            out_dir.path().to_str().unwrap(),
            "--regressions",
            regressions.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = props_json(out_dir.path());
    assert_eq!(
        outcome(&report, "ledger_matches_model")["outcome"]["status"],
        "passed"
    );
}

/// The admin token of a run, read from its app container.
fn target_token(project: &str, run_id: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let docker = gauntlet_harness::docker::connect().await.unwrap();
        let ws = gauntlet_harness::workspace::Workspace::new(reference_config()).unwrap();
        let compose = ws.compose(&Default::default()).unwrap();
        let stack = gauntlet_harness::stack::Stack::attach(docker, project, run_id, compose);
        stack.env_var("app", "ADMIN_TOKEN").await.unwrap().unwrap()
    })
}

#[test]
fn failures_are_recorded_in_the_run_directory_not_the_checkout() {
    if !require_docker() {
        return;
    }
    let project = unique_project("props-record");
    let _guard = ProjectGuard(project.clone());
    let out = tempfile::tempdir().unwrap();
    let property = "rate_limit_fresh_burst_exact";
    let checkout_file = workspace_root().join(format!("props/regressions/{property}.txt"));
    let before = std::fs::read_to_string(&checkout_file).ok();
    let mut args = vec![
        "props",
        "--out",
        out.path().to_str().unwrap(),
        "--only",
        property,
        "--defects",
        "rate_limit_never_denies",
    ];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let result = run(&project, &args);
    let output = text(&result);
    assert_eq!(result.status.code(), Some(1), "{output}");
    let recorded = out.path().join(format!("regressions/{property}.txt"));
    assert!(
        recorded.exists(),
        "not recorded in the run directory: {output}"
    );
    assert!(output.contains("failing cases recorded in"), "{output}");
    assert_eq!(
        std::fs::read_to_string(&checkout_file).ok(),
        before,
        "the checkout's regressions changed"
    );
}

#[test]
fn recording_a_broken_systems_failures_into_the_checkout_is_refused() {
    let result = run(
        &unique_project("props-record"),
        &["props", "--record", "--defects", "rate_limit_never_denies"],
    );
    assert_eq!(result.status.code(), Some(2));
    assert!(
        text(&result).contains("--record with --defects"),
        "{}",
        text(&result)
    );
}
