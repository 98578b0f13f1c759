//! `gauntlet gate` end to end on the real stack: every journey passes, the
//! run is torn down, and the reports are valid and free of secrets.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn gate_passes_on_the_reference_system_and_writes_valid_reports() {
    if !require_docker() {
        return;
    }
    let project = unique_project("gate");
    let _guard = ProjectGuard(project.clone());
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "gate".to_string(),
        "--seed".into(),
        "99".into(),
        "--out".into(),
        out.path().display().to_string(),
    ];
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&project, &args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "gate passes on the correct system"
    );
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "and tears its run down"
    );

    let json = std::fs::read_to_string(out.path().join("journeys.json")).unwrap();
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["seed"], 99);
    let journeys = report["journeys"].as_array().unwrap();
    assert!(journeys.len() >= 9, "{}", journeys.len());
    assert!(journeys.iter().all(|j| j["result"] == "passed"), "{json}");
    assert!(
        report["millis"].as_u64().unwrap() <= 60_000,
        "journeys within the one-minute budget"
    );
    for secret_marker in ["gat_", "Bearer", "x-admin-token", "password"] {
        assert!(
            !json.contains(secret_marker),
            "journeys.json leaks `{secret_marker}`"
        );
    }

    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("run.json")).unwrap())
            .unwrap();
    let gate = &record["commands"][0];
    assert_eq!(gate["command"], "gate");
    assert_eq!(gate["seed"], 99);
    assert_eq!(gate["exit_code"], 0);
    let replay = gate["replay"].as_str().unwrap();
    assert!(
        replay.contains(" gate ") && replay.ends_with("--seed 99"),
        "{replay}"
    );
    let page = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        page.contains("shopper: steps"),
        "report.html has the waterfalls"
    );

    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("| journey | steps | duration | result |")
            && summary.contains("| shopper |")
    );

    let xsd = workspace_root().join("reports/schema/junit.xsd");
    match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(out.path().join("junit.xml"))
        .output()
    {
        Ok(v) => assert!(
            v.status.success(),
            "junit.xml invalid: {}",
            String::from_utf8_lossy(&v.stderr)
        ),
        Err(e) => assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and xmllint is missing: {e}"
        ),
    }
}
