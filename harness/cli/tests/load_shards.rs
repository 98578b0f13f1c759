//! Distributed load: `--shard I/N` and sharded profiles are checked before
//! anything starts; `gauntlet load merge` refuses shards that do not make
//! a run and merges those that do; `gauntlet load k8s` writes manifests;
//! and, on the real stack, three local generator containers add up to the
//! merged report, which `load merge` reproduces from their folders.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn shard_flags_are_checked_before_anything_starts() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["load", "--profile", "smoke", "--shard", "3/3"],
            "shard index 3 is not below the count 3",
        ),
        (
            &["load", "--profile", "smoke", "--shard", "two/3"],
            "`two/3` is not I/N",
        ),
        (
            &["load", "--profile", "smoke", "--shards", "2"],
            "--shards N runs N load generators on this machine with --local",
        ),
        (
            &["load", "--profile", "smoke", "--local"],
            "--local runs a sharded rehearsal",
        ),
        (
            &["load", "--profile", "smoke", "--users-per-shard", "5"],
            "--users-per-shard scales the shards of a sharded run",
        ),
        (
            &["load", "--profile", "tier-100k"],
            "profile `tier-100k` is sharded (`shards = 10` in",
        ),
    ];
    for (args, says) in cases {
        let out = run("gt-cli", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let out = run("gt-cli", &["load", "--profile", "tier-100k"]);
    let e = stderr(&out);
    assert!(
        e.contains("--shards 10 --local") && e.contains("--shard I/10") && e.contains("load k8s"),
        "the message says which flag to pass: {e}"
    );
    // `load` with a subcommand takes none of the run's flags.
    let out = run(
        "gt-cli",
        &["load", "--profile", "smoke", "merge", "/nonexistent"],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// A shard file of a run with no requests (as a generator that got no
/// answer at all would write it).
fn empty_shard(index: u32, count: u32, profile: &str) -> String {
    serde_json::json!({
        "format": "gauntlet-shard/1",
        "run": {
            "profile": profile, "mode": "closed", "latency_mode": "test",
            "target": "http://127.0.0.1:1", "started_at": "2025-01-01T00:00:00Z",
            "duration_s": 10.0, "users": 2,
            "phases": [{"name": "steady", "start_s": 0.0, "end_s": 10.0, "users": 2, "rate": null}],
            "aborted": null,
            "goose": {"requests": 0, "failures": 0, "co_mitigation": "average", "co_events": 0,
                      "co_synthetic_requests": 0, "reports": []},
            "error_examples": {}
        },
        "seed": {"run": 1, "shard": 2},
        "shards": {"count": count, "indices": [index]},
        "clock": {"setup": false, "phases": [{"name": "steady", "seconds": 10.0}]},
        "seconds": {"run": 10.0, "phases": [10.0]},
        "apart": [],
        "cells": [],
        "open_model": {"planned": null, "sent": 0, "late_over_10ms": 0, "skipped_at_start": 0, "send_lag": null}
    })
    .to_string()
}

fn write_shards(dir: &Path, count: u32, which: &[u32], profile: &str) -> Vec<String> {
    which
        .iter()
        .map(|i| {
            let d = dir.join(format!("shard-{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("shard.json"), empty_shard(*i, count, profile)).unwrap();
            d.display().to_string()
        })
        .collect()
}

#[test]
fn merge_refuses_what_is_not_one_run_and_merges_what_is() {
    let dir = tempfile::tempdir().unwrap();
    let slo = dir.path().join("slo.toml");
    std::fs::write(&slo, "abort_on_breach = false\n").unwrap();
    let slo = slo.display().to_string();
    let out_dir = dir.path().join("merged").display().to_string();

    // One of three missing: exit 2, naming it.
    let parts = write_shards(dir.path(), 3, &[0, 2], "p");
    let mut args = vec!["load", "merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--slo", &slo, "--out", &out_dir]);
    let out = run("gt-cli", &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("shard 1 of 3 is missing; merge every shard, or pass --partial"),
        "{}",
        stderr(&out)
    );
    // With --partial: merged, and said so.
    args.push("--partial");
    let out = run("gt-cli", &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("PARTIAL: shard 1 of 3 missing"));
    let summary = std::fs::read_to_string(dir.path().join("merged/summary.md")).unwrap();
    assert!(summary.contains("**Partial**"), "{summary}");

    // All three: merged, users added up, the files written.
    let parts = write_shards(dir.path(), 3, &[0, 1, 2], "p");
    let mut args = vec!["load", "merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend(["--slo", &slo, "--out", &out_dir]);
    let out = run("gt-cli", &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let load: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("merged/load.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(load["users"], 6);
    let shard: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("merged/shard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(shard["shards"]["indices"], serde_json::json!([0, 1, 2]));

    // Another profile's shard: exit 2.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("shard.json"), empty_shard(1, 3, "q")).unwrap();
    let other = other.display().to_string();
    let out = run(
        "gt-cli",
        &["load", "merge", &parts[0], &other, &parts[2], "--slo", &slo],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has profile p,"), "{}", stderr(&out));

    // A truncated file: exit 2, naming it, no panic.
    let text = empty_shard(1, 3, "p");
    std::fs::write(
        Path::new(&parts[1]).join("shard.json"),
        &text[..text.len() / 2],
    )
    .unwrap();
    let out = run(
        "gt-cli",
        &["load", "merge", &parts[0], &parts[1], &parts[2]],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("shard-1/shard.json: not a usable shard.json: the file ends early"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    let out = run("gt-cli", &["load", "merge", "/nonexistent/shard-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
}

#[test]
fn k8s_manifests_are_written_with_the_seed_for_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let out = run(
        "gt-cli",
        &[
            "load",
            "k8s",
            "--profile",
            "tier-100k",
            "--image",
            "registry.invalid/gauntlet:test",
            "--target",
            "http://api.shop.svc:8080",
            "--namespace",
            "load",
            "--seed",
            "77",
            "--out",
            &out_dir,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("seed 77 (every shard)"));
    let load = std::fs::read_to_string(dir.path().join("load.yaml")).unwrap();
    for needle in [
        "completionMode: Indexed",
        "completions: 10",
        "parallelism: 10",
        "$(JOB_COMPLETION_INDEX)/10",
        "/results/shard-$(JOB_COMPLETION_INDEX)",
        "- '77'",
        "ReadWriteMany",
        "tier-100k.toml: |",
        "gauntlet.toml: |",
        "app.kubernetes.io/name: gauntlet",
    ] {
        assert!(load.contains(needle), "{needle} in:\n{load}");
    }
    let merge = std::fs::read_to_string(dir.path().join("merge.yaml")).unwrap();
    assert!(merge.contains("kubectl wait -n load --for=condition=complete"));
    assert!(merge.contains("/results/shard-9"));

    let out = run(
        "gt-cli",
        &[
            "load",
            "k8s",
            "--profile",
            "smoke",
            "--image",
            "x",
            "--target",
            "http://a:1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--shards N: how many load generators"));
    let out = run(
        "gt-cli",
        &[
            "load",
            "k8s",
            "--profile",
            "smoke",
            "--shards",
            "2",
            "--image",
            "x",
            "--target",
            "http://a:1",
            "--namespace",
            "Load_Test",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a Kubernetes name"));
}

/// Mixed load with contention and signed webhooks (the generators get the
/// webhook secret from the environment), 2 users per shard.
const SHARD_PROFILE: &str = r#"
description = "three shards of mixed load for tests"
mode = "closed"
users = 6
duration = "10s"
think_time = { min = "50ms", max = "200ms" }

[mix]
browse_list = 30
browse_detail = 30
cart_add = 10
checkout = 10
webhook = 10
checkout_replay = 5
hot_checkout = 5

[system]
GAUNTLET_RATE_LIMIT_STANDARD = "10000000/60s"
GAUNTLET_RATE_LIMIT_EXPENSIVE = "10000000/60s"
GAUNTLET_RATE_LIMIT_AUTH = "10000000/60s"
GAUNTLET_PASSWORD_HASH_MEMORY_KIB = "1024"
GAUNTLET_PASSWORD_HASH_ITERATIONS = "1"
"#;

const LENIENT_SLO: &str = r#"
[global]
p99 = "5s"
error_rate = "5%"

[transaction.checkout]
p95 = "5s"
"#;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
#[ignore = "slow: three generator containers against a fresh stack (run by ci/test.sh)"]
fn three_local_shards_add_up_and_merge_again_to_the_same_verdicts() {
    if !require_docker() {
        return;
    }
    let began = std::time::Instant::now();
    let project = unique_project("load-shards");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("shards.toml");
    std::fs::write(&profile, SHARD_PROFILE).unwrap();
    let slo = dir.path().join("slo.toml");
    std::fs::write(&slo, LENIENT_SLO).unwrap();
    let out = dir.path().join("out");
    let mut args: Vec<String> = [
        "load",
        "--profile",
        profile.to_str().unwrap(),
        "--shards",
        "3",
        "--local",
        "--seed",
        "11",
        "--slo",
        slo.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = run(&project, &args);
    let rehearsal = began.elapsed();
    assert_eq!(result.status.code(), Some(0), "the rehearsal passes");
    let e = stderr(&result);
    for i in 0..3 {
        assert!(e.contains(&format!("shard {i}/3: started")), "{e}");
        assert!(e.contains(&format!("shard {i}/3: finished")), "{e}");
    }
    let o = stdout(&result);
    assert!(o.contains("merged 3 of 3 shards (0, 1, 2)"), "{o}");
    assert!(o.contains("invariant stock: holds"), "{o}");

    // The merged counts are the sum of the shards'.
    let merged = read_json(&out.join("load.json"));
    let shards: Vec<Value> = (0..3)
        .map(|i| read_json(&out.join(format!("shard-{i}/load.json"))))
        .collect();
    let count = |v: &Value, txn: Option<&str>| {
        let b = match txn {
            None => &v["all"],
            Some(t) => &v["transactions"][t],
        };
        b["run"]["count"].as_u64().unwrap_or(0)
    };
    let total = count(&merged, None);
    assert!(total > 0);
    assert_eq!(total, shards.iter().map(|s| count(s, None)).sum::<u64>());
    for txn in merged["transactions"].as_object().unwrap().keys() {
        assert_eq!(
            count(&merged, Some(txn)),
            shards.iter().map(|s| count(s, Some(txn))).sum::<u64>(),
            "{txn}"
        );
    }
    assert_eq!(merged["users"], 6, "2 users in each of 3 shards");
    assert!(
        merged["transactions"]["webhook"]["run"]["ok"]
            .as_u64()
            .unwrap()
            > 0,
        "the generators signed webhooks with the secret from their environment"
    );
    // Each shard's users are its own: the run ids differ.
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["users"], 2, "shard {i}");
    }

    // `load merge` of the three folders: the same report and verdicts.
    let again = dir.path().join("again");
    let parts: Vec<String> = (0..3)
        .map(|i| out.join(format!("shard-{i}")).display().to_string())
        .collect();
    let mut args = vec!["load", "merge"];
    args.extend(parts.iter().map(String::as_str));
    args.extend([
        "--slo",
        slo.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    let remerged = run(&project, &args);
    assert_eq!(remerged.status.code(), Some(0));
    assert_eq!(
        read_json(&again.join("verdicts.json")),
        read_json(&out.join("verdicts.json"))
    );
    assert_eq!(read_json(&again.join("load.json")), merged);
    assert!(again.join("summary.md").is_file());

    // Each generator left its own page; the run's page links them.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for i in 0..3 {
        assert!(
            out.join(format!("shard-{i}/report.html")).is_file(),
            "shard {i}'s page"
        );
        assert!(
            page.contains(&format!("href=\"shard-{i}/report.html\"")),
            "the run's page links shard {i}"
        );
    }

    // One shard's shard.json alone gives back its own load.json, to the
    // last bit: nothing is lost on the way.
    let single = dir.path().join("single");
    let alone = run(
        &project,
        &[
            "load",
            "merge",
            &parts[1],
            "--partial",
            "--slo",
            slo.to_str().unwrap(),
            "--out",
            single.to_str().unwrap(),
        ],
    );
    assert_eq!(alone.status.code(), Some(0));
    assert!(stdout(&alone).contains("PARTIAL: shards 0, 2 of 3 missing"));
    assert_eq!(read_json(&single.join("load.json")), shards[1]);

    // Generators and stack gone; only this test's project was touched.
    assert_eq!(labelled_resources(&project), Vec::<String>::new());
    eprintln!(
        "timing: rehearsal (stack up, 3 shards of 10 s, merge, invariants, teardown) {:.1} s, \
         whole test {:.1} s",
        rehearsal.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}
