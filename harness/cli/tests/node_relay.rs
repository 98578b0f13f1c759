//! A second system with no Rust in it: examples/node-relay, a Node.js api,
//! worker and sink under PM2 (`pm2-runtime`) relaying events over a Redis
//! stream. gauntlet drives it through its gauntlet.toml alone: PM2 in
//! `status` and `check`, the example's TOML journeys, its chaos
//! experiments (PM2 processes and Redis killed, every published event
//! accounted for), and each defect switch caught by the journey step or
//! the experiment that names its symptom.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn example_dir() -> PathBuf {
    workspace_root().join("examples/node-relay")
}

/// `gauntlet --config <example>/gauntlet.toml --project P ARGS...`.
fn relay(project: &str, args: &[&str]) -> std::process::Output {
    let config = example_dir().join("gauntlet.toml");
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend(args);
    run(project, &all)
}

/// Blocking POST of a JSON body returning (status, body as JSON).
fn post(url: &str, body: &Value) -> (u16, Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .json(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("the api answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    })
}

/// Blocking GET returning (status, body as JSON).
fn get_json(url: &str) -> (u16, Value) {
    let (status, body) = get(url).unwrap_or_else(|| panic!("no answer from {url}"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `up --json` of the example; returns (run id, api URL, sink URL).
fn up(project: &str) -> (String, String, String) {
    let started = Instant::now();
    let out = relay(project, &["up", "--json", "--seed", "5"]);
    assert_eq!(out.status.code(), Some(0), "up failed");
    eprintln!(
        "up of the node-relay stack took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["system"], "node relay");
    let url = |name: &str| {
        let u = record["urls"][name]
            .as_str()
            .expect("endpoint URL")
            .to_string();
        assert!(u.starts_with("http://127.0.0.1:"), "{u}");
        u
    };
    (
        record["run_id"].as_str().unwrap().to_string(),
        url("api"),
        url("sink"),
    )
}

fn down(project: &str) {
    let out = relay(project, &["down"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        labelled_resources(project).is_empty(),
        "{:?}",
        labelled_resources(project)
    );
}

#[test]
fn up_status_check_chaos_and_down_work_on_a_node_system_under_pm2() {
    if !require_docker() {
        return;
    }
    let project = unique_project("node-relay");
    let _guard = ProjectGuard(project.clone());
    let (run_id, api, sink) = up(&project);

    // PM2 runs inside `app` under pm2-runtime: status reads `pm2 jlist`.
    let out = relay(&project, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["run_id"], run_id.as_str());
    let services: Vec<(&str, &str)> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["service"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(services, vec![("redis", "running"), ("app", "running")]);
    assert!(status["pm2_error"].is_null(), "{status}");
    let pm2: Vec<(&str, &str)> = status["pm2"]
        .as_array()
        .unwrap_or_else(|| panic!("no PM2 list: {status}"))
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pm2,
        vec![("api", "online"), ("worker", "online"), ("sink", "online")]
    );

    let out = relay(&project, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "check failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec![
            "api ready",
            "sink ready",
            "api health is ok",
            "sink health is ok",
            "stats answer",
            "an event without a body is 400 invalid_json",
            "unknown event is 404",
            "requeue without the token is 401",
            "dead letters are listed",
            "the sink lists what it received",
            "redis (redis) answers",
            "pm2 processes online",
        ]
    );
    assert!(checks.iter().all(|c| c["passed"] == true), "{report}");

    // The example's own journeys (journeys/*.toml, docs/steps.md) pass.
    let out = relay(&project, &["journeys"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "a journey failed:\n{text}");
    for journey in ["relay", "duplicates", "dead_letter", "requeue", "bad_input"] {
        assert!(
            text.contains(journey),
            "journey `{journey}` did not run:\n{text}"
        );
    }

    // An event really goes through the stream to the sink.
    let (code, body) = post(
        &format!("{api}/events"),
        &json!({"id": "first", "kind": "order"}),
    );
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["accepted"], true);
    eventually(15, "the event is delivered", || {
        get_json(&format!("{api}/events/first")).1["state"] == "delivered"
    });
    let (code, body) = get_json(&format!("{sink}/received/first"));
    assert_eq!((code, &body["deliveries"]), (200, &json!(1)), "{body}");

    // The example's experiments: every PM2 process killed and brought back
    // by PM2, Redis killed and the api saying so, and every event they
    // published delivered.
    let out = relay(
        &project,
        &[
            "chaos",
            "--run",
            &run_id,
            "api_killed",
            "redis_killed",
            "sink_killed",
            "worker_killed",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "an experiment failed:\n{text}");
    for seen in [
        "PM2 brought the api back",
        "PM2 brought the worker back",
        "PM2 brought the sink back",
        "health reports redis down",
        "accounting: 21 published, 21 delivered, 0 dead-lettered, 0 lost",
    ] {
        assert!(text.contains(seen), "`{seen}` not in:\n{text}");
    }
    // Redis kept the stream across its SIGKILL (append-only file).
    let (_, body) = get_json(&format!("{api}/events/first"));
    assert_eq!(body["state"], "delivered", "{body}");

    // Last, Redis comes back empty (its files gone): the worker re-creates
    // its group and relays again; what was stored before is gone for good.
    let out = relay(&project, &["chaos", "--run", &run_id, "redis_data_lost"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "redis_data_lost failed:\n{text}"
    );
    assert!(text.contains("0 lost"), "{text}");
    let (code, _) = get_json(&format!("{api}/events/first"));
    assert_eq!(code, 404, "the event stored before the data loss is gone");

    down(&project);
}

#[test]
fn the_gate_passes_on_the_example_without_defects() {
    if !require_docker() {
        return;
    }
    // The control for the defect cases below: the same journeys pass on
    // the system as written.
    let project = unique_project("relay-gate");
    let _guard = ProjectGuard(project.clone());
    let out = relay(&project, &["gate"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "gate failed:\n{text}");
    assert!(text.contains("5 passed, 0 failed"), "{text}");
}

#[test]
fn each_defect_switch_fails_the_check_that_names_its_symptom() {
    if !require_docker() {
        return;
    }
    // (switch, the gauntlet command on a fresh stack, what its output
    // must say): README.md's table. A journey fails at the step that sees
    // the symptom; a worker killed mid-delivery loses the in-flight event.
    // (ack_before_delivery is caught by the dead_letter journey: it acks on
    // read, so worker_killed's wait for an event in hand has no window.)
    let cases: [(&str, &[&str], &[&str]); 5] = [
        (
            "ack_before_delivery",
            &["gate", "--only", "dead_letter"],
            &["dead_letter / dead after exactly three attempts"],
        ),
        (
            "dead_letter_late",
            &["gate", "--only", "dead_letter"],
            &["dead_letter / dead after exactly three attempts"],
        ),
        (
            "requeue_keeps_dead",
            &["gate", "--only", "requeue"],
            &["requeue / no longer in the dead letters"],
        ),
        (
            "duplicate_check_racy",
            &["gate", "--only", "duplicates"],
            &["duplicates / ten concurrent identical publishes: one accepted"],
        ),
        (
            "no_pending_reclaim",
            &["chaos", "worker_killed"],
            &["1 lost", "1 read but never acknowledged"],
        ),
    ];
    // One fresh stack per case, all at once.
    std::thread::scope(|scope| {
        for (switch, command, symptoms) in cases {
            scope.spawn(move || {
                let project = unique_project(&format!("relay-{switch}"));
                let _guard = ProjectGuard(project.clone());
                let mut args = command.to_vec();
                args.extend(["--defects", switch]);
                let out = relay(&project, &args);
                let text = String::from_utf8_lossy(&out.stdout);
                let what = format!("{} --defects {switch}", command.join(" "));
                assert_eq!(out.status.code(), Some(1), "{what} did not fail:\n{text}");
                for symptom in symptoms {
                    assert!(
                        text.contains(symptom),
                        "{what}: `{symptom}` not in:\n{text}"
                    );
                }
            });
        }
    });
}

#[test]
fn the_example_declares_its_defects_and_refuses_others() {
    let project = unique_project("node-relay-defects");
    let out = relay(&project, &["up", "--defects", "slow_sink"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown defect switch `slow_sink`"),
        "{stderr}"
    );
    let config = example_dir().join("gauntlet.toml");
    let cfg = gauntlet_harness::config::Config::load(Some(&config), Default::default()).unwrap();
    assert_eq!(cfg.defects.variable.as_deref(), Some("RELAY_DEFECTS"));
    assert!(
        cfg.defects.switches.len() >= 4,
        "{:?}",
        cfg.defects.switches
    );
}
