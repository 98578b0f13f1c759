//! Chaos for a system that is not the reference system: experiments on
//! examples/python-counter (a Python service counting in Redis, no PM2, no
//! `api`) that publish events, run commands in containers, send requests
//! in the step format, check what must hold after the fault within a
//! deadline, and account for every published event.
//!
//! Needs Docker and the example's images (`gauntlet --config
//! examples/python-counter/gauntlet.toml build`; built on demand
//! otherwise). Without Docker the tests are skipped with a message, except
//! under `CI`, where they fail.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn config() -> PathBuf {
    workspace_root().join("examples/python-counter/gauntlet.toml")
}

/// `gauntlet --config <example> --project P chaos --experiments DIR --out OUT ARGS...`.
fn chaos(project: &str, experiments: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let config = config();
    let mut all = vec![
        "--config",
        config.to_str().unwrap(),
        "chaos",
        "--experiments",
        experiments.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend(args);
    run(project, &all)
}

fn report(out: &Path) -> Value {
    let journal: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("chaos.json")).unwrap()).unwrap();
    journal["experiments"][0].clone()
}

/// Kills the cache; a request retried until counting works again; events
/// into a list and a stream; a stand-in consumer (Lua in the cache)
/// delivers every event but dead-letters every fifth of the stream's.
const PASSES: &str = r#"title = "The cache killed: counting comes back, every event accounted for"

[steady_state]
probes = [
  { http = "/health", endpoint = "web", json = { "/status" = "ok" } },
  { redis = "PING", expect = "PONG" },
]

[[method]]
action = "kill_container"
service = "cache"
duration = "2s"

[[method]]
name = "count once the cache is back"
action = "http"
endpoint = "web"
method = "POST"
path = "/hits"
expect = { status = 200, json = { "/counted" = true, "/hits" = { ge = 1 } } }
eventually = { within = "30s", every = "200ms" }

[[method]]
action = "publish"
list = "jobs-{{unique}}"
fields = { id = "{{unique}}-job-{{index}}", n = "{{index}}" }
count = 5

[[method]]
action = "publish"
data = "cache"
stream = "events-{{unique}}"
fields = { id = "{{unique}}-{{index}}", kind = "chaos" }
count = 20

[[method]]
action = "exec"
service = "cache"
command = ["redis-cli", "EVAL", """
local n = 0
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'id' then
      n = n + 1
      if n % 5 == 0 then redis.call('RPUSH', KEYS[3], cjson.encode({ id = f[i + 1] }))
      else redis.call('XADD', KEYS[2], '*', 'id', f[i + 1]) end
    end
  end
end
for _, j in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  redis.call('XADD', KEYS[2], '*', 'id', cjson.decode(j)['id'])
end
return n""", "4", "events-{{unique}}", "delivered-{{unique}}", "dead-{{unique}}", "jobs-{{unique}}"]
expect_exit = 0

[after_fault]
within = "30s"
probes = [
  { http = "/hits", endpoint = "web", json = { "/hits" = { ge = 1 } } },
  { name = "web answers inside its container", exec = ["sh", "-c", "echo alive"], service = "web", expect = { matches = "^alive$" } },
  { redis = ["XLEN", "events-{{unique}}"], expect = { ge = 20 } },
  { redis = ["LLEN", "jobs-{{unique}}"], expect = 5, data = "cache" },
]

[accounting]
delivered = { redis = "stream", key = "delivered-{{unique}}", field = "id" }
dead_letter = { redis = "list", key = "dead-{{unique}}", field = "id" }
within = "20s"
exactly_once = true

[thresholds]
rto = "30s"
"#;

/// Events into a stream nobody consumes: a consumer group reads four of
/// them and never acknowledges them.
const LOSES: &str = r#"title = "Events into a stream nobody consumes are lost"

[steady_state]
probes = [ { redis = "PING", expect = "PONG" } ]

[[method]]
action = "exec"
service = "cache"
command = ["redis-cli", "XGROUP", "CREATE", "events-{{unique}}", "relay", "$", "MKSTREAM"]

[[method]]
action = "publish"
stream = "events-{{unique}}"
fields = { id = "{{unique}}-{{index}}", kind = "chaos" }
count = 12

[[method]]
action = "exec"
service = "cache"
command = "redis-cli XREADGROUP GROUP relay reader COUNT 4 STREAMS events-{{unique}} '>' > /dev/null"

[[method]]
action = "pause_container"
service = "web"
duration = "1s"

[accounting]
delivered = { redis = "stream", key = "sink:delivered", field = "id" }
dead_letter = { redis = "set", key = "events:dead" }
within = "3s"
pending = { group = "relay", stream = "events-{{unique}}" }
"#;

fn experiments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cache_events.toml"), PASSES).unwrap();
    std::fs::write(dir.path().join("nobody_consumes.toml"), LOSES).unwrap();
    dir
}

#[test]
fn actions_probes_after_fault_checks_and_accounting_pass_on_the_python_counter() {
    if !require_docker() {
        return;
    }
    let project = unique_project("chaos-any");
    let _guard = ProjectGuard(project.clone());
    let dir = experiments();
    let config = config();
    let out = run(
        &project,
        &[
            "--config",
            config.to_str().unwrap(),
            "up",
            "--json",
            "--seed",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "up failed");
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = record["run_id"].as_str().unwrap().to_string();

    let mut uniques = Vec::new();
    for attempt in 0..2 {
        let results = dir.path().join(format!("out{attempt}"));
        let out = chaos(
            &project,
            dir.path(),
            &results,
            &["--run", &run_id, "cache_events"],
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(0), "attempt {attempt}: {text}");
        for shown in [
            "action_done           http `count once the cache is back`",
            "action_done           publish 20 events into stream events-{{unique}}",
            "after_fault_passed    web answers inside its container",
            "accounting_passed     accounting: 25 published, 21 delivered, 4 dead-lettered, 0 lost, 0 duplicates",
        ] {
            assert!(text.contains(shown), "`{shown}` in {text}");
        }

        let r = report(&results);
        assert_eq!(r["verdict"]["result"], "passed", "{r}");
        let after = r["after_fault"].as_array().unwrap();
        assert_eq!(after.len(), 4, "{r}");
        for a in after {
            assert_eq!(a["passed"], true, "{a}");
            let took = a["took_ms"].as_u64().expect("the time each took");
            assert!(took <= a["within_ms"].as_u64().unwrap(), "{a}");
        }
        let accounting = &r["accounting"];
        assert_eq!(accounting["passed"], true, "{accounting}");
        assert_eq!(accounting["published"], 25);
        assert_eq!(accounting["delivered"], 21);
        assert_eq!(accounting["dead_lettered"], 4);
        assert_eq!(accounting["lost"], 0);
        assert!(accounting["settled_ms"].is_u64(), "{accounting}");
        uniques.push(r["unique"].as_str().unwrap().to_string());

        let junit = std::fs::read_to_string(results.join("junit.xml")).unwrap();
        assert!(
            junit.contains("every event delivered or dead-lettered"),
            "{junit}"
        );
        assert!(
            junit.contains("after the fault: web answers inside its container"),
            "{junit}"
        );
        let summary = std::fs::read_to_string(results.join("summary.md")).unwrap();
        assert!(
            summary.contains("| cache_events | ✅ GET /hits on web"),
            "{summary}"
        );
        assert!(summary.contains("25 published, 21 delivered"), "{summary}");
    }
    // The same experiment again on the same stack: new ids.
    assert_ne!(uniques[0], uniques[1]);
    assert!(
        uniques.iter().all(|u| u.starts_with("cache_events-")),
        "{uniques:?}"
    );

    let out = run(&project, &["--config", config.to_str().unwrap(), "down"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn events_nobody_consumes_fail_the_accounting_naming_the_lost_ids() {
    if !require_docker() {
        return;
    }
    let project = unique_project("chaos-lost");
    let _guard = ProjectGuard(project.clone());
    let dir = experiments();
    let results = dir.path().join("out");
    let out = chaos(
        &project,
        dir.path(),
        &results,
        &["--seed", "11", "nobody_consumes"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unaccounted event fails: {text}"
    );

    let r = report(&results);
    let unique = r["unique"].as_str().unwrap();
    let accounting = &r["accounting"];
    assert_eq!(accounting["passed"], false, "{accounting}");
    assert_eq!(accounting["published"], 12);
    assert_eq!(accounting["lost"], 12);
    let lost: Vec<&str> = accounting["lost_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lost.len(), 10, "at most ten ids listed");
    assert_eq!(lost[0], format!("{unique}-0"));
    assert_eq!(accounting["pending"]["count"], 4, "{accounting}");
    for said in [
        "12 lost".to_string(),
        format!("lost within 3.0 s: {unique}-0, {unique}-1,"),
        "… (12 in all)".to_string(),
        format!("4 read but never acknowledged (XPENDING events-{unique} relay)"),
    ] {
        assert!(text.contains(&said), "`{said}` in {text}");
    }
    assert!(labelled_resources(&project).is_empty(), "the stack is gone");
}
