//! `gauntlet load` on the real stack: a breached SLO is named and fails the
//! run; the stock invariant catches a lost-update defect; a broken profile
//! is a usage error naming file, line and problem.

mod common;

use common::*;

const SHORT_PROFILE: &str = r#"
description = "short mixed load for tests"
mode = "closed"
users = 8
duration = "8s"
think_time = { min = "50ms", max = "200ms" }

[mix]
browse_list = 20
browse_detail = 20
checkout = 50
webhook = 10

[system]
GAUNTLET_RATE_LIMIT_STANDARD = "10000000/60s"
GAUNTLET_RATE_LIMIT_EXPENSIVE = "10000000/60s"
GAUNTLET_RATE_LIMIT_AUTH = "10000000/60s"
GAUNTLET_PASSWORD_HASH_MEMORY_KIB = "1024"
GAUNTLET_PASSWORD_HASH_ITERATIONS = "1"
"#;

/// Checkouts only, no think time: many buyers on the same fixture products
/// at the same moment, which is what a missing row lock cannot survive.
const RUSH_PROFILE: &str = r#"
description = "checkout rush for tests"
mode = "closed"
users = 40
duration = "10s"

[mix]
checkout = 1

[system]
GAUNTLET_RATE_LIMIT_STANDARD = "10000000/60s"
GAUNTLET_RATE_LIMIT_EXPENSIVE = "10000000/60s"
GAUNTLET_RATE_LIMIT_AUTH = "10000000/60s"
GAUNTLET_PASSWORD_HASH_MEMORY_KIB = "1024"
GAUNTLET_PASSWORD_HASH_ITERATIONS = "1"
"#;

fn load(project: &str, dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    load_with(project, dir, SHORT_PROFILE, extra)
}

fn load_with(
    project: &str,
    dir: &std::path::Path,
    text: &str,
    extra: &[&str],
) -> std::process::Output {
    let profile = dir.join("short.toml");
    std::fs::write(&profile, text).unwrap();
    let mut args = vec![
        "load".to_string(),
        "--profile".into(),
        profile.display().to_string(),
        "--out".into(),
        dir.join("out").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(project, &args)
}

#[test]
fn a_slo_tightened_below_the_system_fails_the_run_and_is_named() {
    if !require_docker() {
        return;
    }
    let project = unique_project("load-slo");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let slo = dir.path().join("slo.toml");
    std::fs::write(
        &slo,
        "[global]\nerror_rate = \"1%\"\n\n[transaction.checkout]\np95 = \"1ms\"\n",
    )
    .unwrap();
    let out = load(&project, dir.path(), &["--slo", slo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let breach = stdout
        .lines()
        .find(|l| l.contains("checkout p95"))
        .expect("the verdict table names the SLO");
    assert!(
        breach.contains("FAIL") || breach.contains("fail"),
        "{breach}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("global error rate") && l.contains("pass")),
        "{stdout}"
    );
    assert!(stdout.contains("invariant stock: holds"), "{stdout}");
    assert!(dir.path().join("out/load.json").is_file());
    assert_eq!(labelled_resources(&project), Vec::<String>::new());
}

#[test]
fn the_post_run_invariant_catches_stock_check_without_lock() {
    if !require_docker() {
        return;
    }
    let project = unique_project("load-inv");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = load_with(
        &project,
        dir.path(),
        RUSH_PROFILE,
        &["--defects", "stock_check_without_lock"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("invariant stock: BROKEN"), "{stdout}");
}

#[test]
fn broken_profiles_and_unknown_names_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "users = -5\nduration = \"10s\"\n[mix]\nbrowse_list = 1\n",
            ":1:",
        ),
        (
            "users = 5\nduration = \"10s\"\n[mix]\nteleport = 3\n",
            "teleport",
        ),
        (
            "users = 5\nduration = \"10s\"\nflavour = \"x\"\n[mix]\nbrowse_list = 1\n",
            "flavour",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = run("gt-cli", &["load", "--profile", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("bad{i}.toml")) && stderr.contains(expected),
            "{text}: {stderr}"
        );
    }
    let out = run("gt-cli", &["load", "--profile", "nosuchprofile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile `nosuchprofile`"));
}
