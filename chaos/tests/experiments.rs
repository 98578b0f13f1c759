//! The shipped experiment files parse, and malformed files are refused
//! with the file, the place and the problem.

use std::path::Path;

use gauntlet_chaos::experiment::{self, shipped_dir, Action, ExperimentError, ProbeKind};

#[test]
fn every_shipped_experiment_parses() {
    let all = experiment::load_dir(shipped_dir()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api_process_killed",
            "app_container_restarted",
            "crash_loop",
            "pm2_kill_resurrect",
            "postgres_killed",
            "postgres_link_down",
            "redis_data_lost",
            "redis_killed",
            "redis_latency",
            "sink_process_killed",
            "web_process_killed",
            "worker_process_killed",
        ],
        "sorted by name"
    );
    for e in &all {
        assert!(!e.title.is_empty(), "{}", e.name);
        assert!(!e.steady_state.is_empty(), "{}", e.name);
        assert!(!e.method.is_empty(), "{}", e.name);
        let rto = e
            .thresholds
            .rto
            .unwrap_or_else(|| panic!("{} has no rto", e.name));
        assert!(rto.as_secs() >= 30, "{}", e.name);
    }
}

#[test]
fn shipped_experiments_say_what_the_issue_asks() {
    let get = |name: &str| {
        experiment::load(shipped_dir().join(format!("{name}.toml")))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let redis = get("redis_killed");
    assert!(matches!(
        &redis.method[0].action,
        Action::KillContainer { service, signal } if service == "redis" && signal.name() == "SIGKILL"
    ));
    assert!(
        redis.method[0].duration.is_some(),
        "restarted after a while"
    );
    assert!(redis.writers.is_some());

    let pg = get("postgres_killed");
    assert!(pg.writers.is_some());
    assert!(pg
        .expect_during_fault
        .iter()
        .any(|p| matches!(&p.kind, ProbeKind::Http { status: 503, .. })));

    let pm2 = get("pm2_kill_resurrect");
    let actions: Vec<&str> = pm2.method.iter().map(|s| s.action.kind()).collect();
    assert_eq!(actions, ["pm2_kill", "sleep", "pm2_resurrect"]);
    let processes: Vec<&str> = pm2
        .steady_state
        .iter()
        .filter_map(|p| match &p.kind {
            ProbeKind::Pm2 { process, .. } => Some(process.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(processes, ["api", "web", "worker", "sink"]);

    let app = get("app_container_restarted");
    assert_eq!(app.thresholds.rto.unwrap().as_secs(), 60);

    let link = get("postgres_link_down");
    assert!(matches!(&link.method[0].action, Action::ProxyDown { proxy } if proxy == "postgres"));
    assert_eq!(link.method[0].duration.unwrap().as_secs(), 10);

    let latency = get("redis_latency");
    let Action::Toxic(t) = &latency.method[0].action else {
        panic!("redis_latency is a toxic")
    };
    assert_eq!(t.proxy, "redis");
    assert_eq!(
        t.toxic.kind,
        gauntlet_faultproxy::ToxicKind::Latency {
            latency: 500,
            jitter: 0
        }
    );

    let crash = get("crash_loop");
    assert!(matches!(
        &crash.expect_during_fault[0].kind,
        ProbeKind::Pm2 { status, min_restarts: Some(_), .. } if status == "errored"
    ));
    assert_eq!(
        crash.method[0].action.undo().map(|a| a.kind()),
        Some("pm2_restart")
    );
}

/// Writes `text` as `NAME.toml` in a fresh directory and loads it.
fn load_text(
    name: &str,
    text: &str,
) -> (
    tempfile::TempDir,
    Result<experiment::Experiment, ExperimentError>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let result = experiment::load(&path);
    (dir, result)
}

const GOOD_HEAD: &str = r#"title = "t"
[steady_state]
probes = [ { http = "/api/healthz", status = 200 } ]
"#;

#[test]
fn malformed_files_name_the_file_and_the_problem() {
    // (file name, text, expected line:col, expected message part)
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "unknown_key",
            format!("{GOOD_HEAD}[[method]]\naction = \"kill_container\"\nservice = \"redis\"\nsignl = \"SIGKILL\"\n"),
            ":7:1:",
            "method step 1 (kill_container): unknown key `signl`; allowed: action, service, signal, duration",
        ),
        (
            "unknown_top_key",
            format!("{GOOD_HEAD}rollback = []\n[[method]]\naction = \"pm2_kill\"\n"),
            ":4:1:",
            "unknown field `rollback`",
        ),
        (
            "unknown_action",
            format!("{GOOD_HEAD}[[method]]\naction = \"nuke_container\"\nservice = \"redis\"\n"),
            ":5:10:",
            "method step 1: unknown action `nuke_container`; actions: kill_container,",
        ),
        (
            "unknown_probe",
            "title = \"t\"\n[steady_state]\nprobes = [ { grpc = \"/x\" } ]\n[[method]]\naction = \"pm2_kill\"\n".to_string(),
            ":3:12:",
            "steady_state probe 1: no probe type: give one of http, pm2, sql, redis, journey",
        ),
        (
            "bad_duration",
            format!("{GOOD_HEAD}[[method]]\naction = \"proxy_down\"\nproxy = \"postgres\"\nduration = \"ten seconds\"\n"),
            ":7:12:",
            "method step 1 (proxy_down): `duration`: `ten seconds` is not a duration (examples: 500ms, 10s, 1m30s)",
        ),
        (
            "bad_threshold",
            format!("{GOOD_HEAD}[thresholds]\nrto = 30\n[[method]]\naction = \"pm2_kill\"\n"),
            ":5:7:",
            "thresholds.rto: a duration needs a unit: write \"30s\" or \"30ms\"",
        ),
        (
            "missing_service",
            format!("{GOOD_HEAD}[[method]]\naction = \"kill_container\"\nsignal = \"SIGKILL\"\n"),
            ":4:1:",
            "method step 1 (kill_container): missing `service`",
        ),
        (
            "no_method",
            GOOD_HEAD.to_string(),
            ":1:1:",
            "no [[method]] steps",
        ),
        (
            "no_title",
            "[steady_state]\nprobes = [ { pm2 = \"api\" } ]\n[[method]]\naction = \"pm2_kill\"\n".to_string(),
            ":1:1:",
            "missing field `title`",
        ),
        (
            "not_toml",
            "title = \"t\n".to_string(),
            ":1:",
            "",
        ),
    ];
    for (name, text, place, message) in cases {
        let (_dir, result) = load_text(name, text);
        let err = result.expect_err(name);
        let shown = err.to_string();
        assert!(
            matches!(err, ExperimentError::Invalid { .. }),
            "{name}: {shown}"
        );
        let file = format!("{name}.toml{place}");
        assert!(
            shown.contains(&file),
            "{name}: expected `{file}` in: {shown}"
        );
        assert!(
            shown.contains(message),
            "{name}: expected `{message}` in: {shown}"
        );
        assert_eq!(
            err.file()
                .and_then(Path::file_name)
                .and_then(|f| f.to_str()),
            Some(format!("{name}.toml").as_str())
        );
    }
}

#[test]
fn a_bad_file_fails_the_whole_directory() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(shipped_dir().join("redis_killed.toml")).unwrap();
    std::fs::write(dir.path().join("a_good.toml"), good).unwrap();
    std::fs::write(
        dir.path().join("b_bad.toml"),
        format!("{GOOD_HEAD}[[method]]\naction = \"explode\"\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.md"), "not an experiment").unwrap();
    let err = experiment::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("b_bad.toml:5:10: method step 1: unknown action `explode`"),
        "{err}"
    );

    std::fs::remove_file(dir.path().join("b_bad.toml")).unwrap();
    let all = experiment::load_dir(dir.path()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "a_good");

    let err = experiment::select(dir.path(), &["nope".into()]).unwrap_err();
    assert!(
        err.to_string().contains("no experiment named `nope`"),
        "{err}"
    );
    assert!(err.to_string().contains("experiments: a_good"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        experiment::load_dir(empty.path()),
        Err(ExperimentError::Empty { .. })
    ));
}

#[test]
fn every_pm2_process_of_the_reference_system_is_killed_on_its_own() {
    // The processes of system/images/app/ecosystem.config.js, each with an
    // experiment that kills only it and checks its restart was counted.
    let ecosystem = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../system/images/app/ecosystem.config.js"),
    )
    .unwrap();
    let processes: Vec<&str> = ecosystem
        .split("name: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(processes, ["api", "web", "worker", "sink"]);
    let all = experiment::load_dir(shipped_dir()).unwrap();
    for process in processes {
        let killers: Vec<&str> = all
            .iter()
            .filter(|e| {
                e.method.len() == 1
                    && matches!(&e.method[0].action, Action::KillProcess { process: p, .. } if p == process)
            })
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(killers.len(), 1, "{process}: {killers:?}");
    }
}
