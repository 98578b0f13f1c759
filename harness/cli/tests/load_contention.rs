//! The shipped `smoke` profile carries deliberate contention (issue 15:
//! detection power): bursts of 8 checkouts of the same hot product, of 8
//! identical checkouts (one Idempotency-Key) and of 8 identical signed
//! webhooks. On the real stack, every run of it passes on a correct system
//! and fails on a concurrency defect, naming the symptom: not by luck.
//!
//! Like `load.rs`, nothing here depends on latency (the machine is shared
//! with other stacks): the clean run is judged with an SLO file of error
//! rates only, besides the bursts' contracts (always judged) and the
//! post-run invariants.

mod common;

use common::*;
use serde_json::Value;

/// The shipped SLOs without their latency limits.
const ERRORS_ONLY: &str = "[global]\nerror_rate = \"1%\"\n\
     [transaction.hot_checkout]\nerror_rate = \"1%\"\n\
     [transaction.checkout_replay]\nerror_rate = \"1%\"\n\
     [transaction.webhook_replay]\nerror_rate = \"1%\"\n";

/// `gauntlet load --profile smoke` on a fresh stack with `defects` on
/// (and `slo`, an SLO file's text, instead of the shipped one): exit code,
/// stdout and `load.json`.
fn smoke(test: &str, defects: &str, slo: Option<&str>) -> (Option<i32>, String, Value) {
    let project = unique_project(test);
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let mut args = vec![
        "load".to_string(),
        "--profile".into(),
        "smoke".into(),
        "--out".into(),
        out_dir.display().to_string(),
    ];
    if !defects.is_empty() {
        args.extend(["--defects".to_string(), defects.to_string()]);
    }
    if let Some(text) = slo {
        let file = dir.path().join("slo.toml");
        std::fs::write(&file, text).unwrap();
        args.extend(["--slo".to_string(), file.display().to_string()]);
    }
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&project, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = std::fs::read_to_string(out_dir.join("load.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "the load run tore its stack down"
    );
    (out.status.code(), stdout, report)
}

/// The verdict line of `slo` over the whole run.
fn verdict<'a>(stdout: &'a str, slo: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with("(run)") && l.contains(&format!(" {slo} ")))
        .unwrap_or_else(|| panic!("no verdict `{slo}` in:\n{stdout}"))
}

/// The violations `load.json` recorded for `txn`, by symptom.
fn violations(report: &Value, txn: &str) -> Vec<(String, u64)> {
    report["transactions"][txn]["run"]["violations"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_smoke_profile_passes_on_a_correct_system_with_its_bursts_checked() {
    if !require_docker() {
        return;
    }
    let (code, stdout, report) = smoke("lc-clean", "", Some(ERRORS_ONLY));
    assert_eq!(code, Some(0), "{stdout}");
    for txn in ["hot_checkout", "checkout_replay", "webhook_replay"] {
        let line = verdict(&stdout, &format!("{txn} contract"));
        assert!(line.ends_with("pass"), "{line}");
        let run = &report["transactions"][txn]["run"];
        assert!(
            run["count"].as_u64().unwrap_or(0) >= 8 * 2,
            "the crew sends several bursts of each kind: {run}"
        );
        assert_eq!(run["violations_total"], 0, "{run}");
    }
    assert!(!stdout.contains("contract violations"), "{stdout}");
    // The hot products run out: 409 INV001 is a business answer.
    assert_eq!(
        report["transactions"]["hot_checkout"]["run"]["errors_total"],
        0
    );
    assert!(stdout.contains("invariant stock: holds"), "{stdout}");
    let apart: Vec<&str> = report["apart"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(apart, ["hot_checkout", "checkout_replay", "webhook_replay"]);
}

#[test]
fn stock_check_without_lock_is_a_lost_update_in_every_smoke_run() {
    if !require_docker() {
        return;
    }
    let (code, stdout, report) = smoke("lc-stock", "stock_check_without_lock", None);
    assert_eq!(code, Some(1), "{stdout}");
    let line = verdict(&stdout, "hot_checkout contract");
    assert!(line.ends_with("FAIL"), "{line}");
    let lost = stdout
        .lines()
        .find(|l| l.starts_with("  hot_checkout: lost update: "))
        .unwrap_or_else(|| panic!("the symptom is named:\n{stdout}"));
    assert!(
        lost.contains("checkouts succeeded but the stock fell by"),
        "{lost}"
    );
    assert!(
        stdout.contains("units sold that the stock never lost"),
        "the first violation in full: {stdout}"
    );
    assert!(!violations(&report, "hot_checkout").is_empty());
    // The post-run invariant agrees.
    assert!(stdout.contains("invariant stock: BROKEN"), "{stdout}");
}

#[test]
fn checkout_ignores_idempotency_key_is_named_by_the_replay_contract() {
    if !require_docker() {
        return;
    }
    let (code, stdout, report) = smoke("lc-idem", "checkout_ignores_idempotency_key", None);
    assert_eq!(code, Some(1), "{stdout}");
    let line = verdict(&stdout, "checkout_replay contract");
    assert!(line.ends_with("FAIL"), "{line}");
    assert!(
        stdout.contains("  checkout_replay: idempotency key replay created "),
        "{stdout}"
    );
    let found = violations(&report, "checkout_replay");
    assert!(
        found
            .iter()
            .any(|(symptom, n)| symptom.starts_with("idempotency key replay created") && *n > 0),
        "{found:?}"
    );
    // Only the replay contract is broken: each order took its own stock.
    for txn in ["hot_checkout", "webhook_replay"] {
        let line = verdict(&stdout, &format!("{txn} contract"));
        assert!(line.ends_with("pass"), "{line}");
    }
    assert!(stdout.contains("invariant stock: holds"), "{stdout}");
}
