//! The stack against the real Docker engine: up, status, recovery of the
//! app's clients after Postgres dies, PM2 resurrection, teardown without
//! leaks (also after SIGKILL), and two runs side by side.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn status_json(project: &str) -> Value {
    let out = run(project, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn container(project: &str, record: &Value, service: &str) -> String {
    format!("{project}-{}-{service}", record["run_id"].as_str().unwrap())
}

fn pm2_statuses(status: &Value) -> Vec<(String, String)> {
    status["pm2"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn healthz(api: &str) -> Option<(u16, Value)> {
    get(&format!("{api}/api/healthz"))
        .map(|(s, b)| (s, serde_json::from_str(&b).unwrap_or(Value::Null)))
}

#[test]
fn up_serves_then_postgres_dies_and_comes_back_without_restarting_app() {
    if !require_docker() {
        return;
    }
    let project = unique_project("up-pg-kill");
    let _guard = ProjectGuard(project.clone());
    let record = up(&project, &[]);
    let api = record["urls"]["api"].as_str().unwrap().to_string();
    assert!(
        api.starts_with("http://127.0.0.1:"),
        "published on loopback only: {api}"
    );

    // status: services and the four PM2 processes online.
    let status = status_json(&project);
    let mut pm2 = pm2_statuses(&status);
    pm2.sort();
    let names: Vec<&str> = pm2.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["api", "sink", "web", "worker"]);
    assert!(pm2.iter().all(|(_, s)| s == "online"), "{pm2:?}");
    for svc in status["services"].as_array().unwrap() {
        assert_eq!(svc["state"], "running", "{svc}");
        assert_eq!(svc["health"], "healthy", "{svc}");
    }
    assert_eq!(status["urls"]["api"].as_str(), Some(api.as_str()));

    let (code, body) = healthz(&api).unwrap();
    assert_eq!((code, body["db"].as_str()), (200, Some("ok")), "{body}");

    let app = container(&project, &record, "app");
    let app_started =
        String::from_utf8(docker(&["inspect", "-f", "{{.State.StartedAt}}", &app]).stdout).unwrap();

    docker(&["kill", &container(&project, &record, "postgres")]);
    eventually(
        15,
        "healthz 503 naming db after postgres is killed",
        || matches!(healthz(&api), Some((503, b)) if b["db"] == "down" && b["status"] == "degraded"),
    );

    docker(&["start", &container(&project, &record, "postgres")]);
    eventually(
        60,
        "healthz 200 again after postgres restarts",
        || matches!(healthz(&api), Some((200, b)) if b["db"] == "ok"),
    );
    let app_started_after =
        String::from_utf8(docker(&["inspect", "-f", "{{.State.StartedAt}}", &app]).stdout).unwrap();
    assert_eq!(
        app_started, app_started_after,
        "the app container was not restarted"
    );
    let pm2 = pm2_statuses(&status_json(&project));
    assert!(pm2.iter().all(|(_, s)| s == "online"), "{pm2:?}");

    let out = run(&project, &["down"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "down leaves nothing labelled"
    );
}

#[test]
fn pm2_kill_then_container_restart_resurrects_every_process_from_the_dump() {
    if !require_docker() {
        return;
    }
    let project = unique_project("pm2-resurrect");
    let _guard = ProjectGuard(project.clone());
    let record = up(&project, &[]);
    let app = container(&project, &record, "app");
    let api = record["urls"]["api"].as_str().unwrap().to_string();

    docker(&["exec", &app, "pm2", "kill"]);
    eventually(15, "api stops answering after pm2 kill", || {
        get(&format!("{api}/api/health")).is_none()
    });
    let status = status_json(&project);
    assert!(
        pm2_statuses(&status).is_empty(),
        "no process after pm2 kill: {status}"
    );

    docker(&["restart", &app]);
    // The host port may change across a restart: ask gauntlet again.
    let mut pm2 = Vec::new();
    eventually(60, "four PM2 processes online after the restart", || {
        pm2 = pm2_statuses(&status_json(&project));
        pm2.len() == 4 && pm2.iter().all(|(_, s)| s == "online")
    });
    let logs = String::from_utf8_lossy(&docker(&["logs", &app]).stdout).to_string();
    assert!(
        logs.contains("resurrecting PM2 processes"),
        "came back through pm2 resurrect"
    );
    let api = status_json(&project)["urls"]["api"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(30, "healthz 200 after resurrection", || {
        matches!(healthz(&api), Some((200, _)))
    });
}

#[test]
fn a_sigkilled_gauntlet_leaves_leftovers_that_down_all_reaps() {
    if !require_docker() {
        return;
    }
    let project = unique_project("sigkill");
    let _guard = ProjectGuard(project.clone());
    let mut args = vec!["up".to_string(), "--seed".into(), "3".into()];
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = gauntlet(&project, &args).spawn().unwrap();
    eventually(120, "the run has created resources", || {
        !labelled_resources(&project).is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert!(
        !labelled_resources(&project).is_empty(),
        "SIGKILL cannot clean up: leftovers expected"
    );

    let out = run(&project, &["down", "--all"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(labelled_resources(&project), Vec::<String>::new());
}

#[test]
fn sigterm_during_up_cleans_up_the_run() {
    if !require_docker() {
        return;
    }
    let project = unique_project("sigterm");
    let _guard = ProjectGuard(project.clone());
    let mut args = vec!["up".to_string()];
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = gauntlet(&project, &args).spawn().unwrap();
    eventually(120, "the run has created resources", || {
        !labelled_resources(&project).is_empty()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted exit code");
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "SIGTERM cleaned up"
    );
}

#[test]
fn two_runs_side_by_side_do_not_collide() {
    if !require_docker() {
        return;
    }
    let project = unique_project("parallel");
    let _guard = ProjectGuard(project.clone());
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| up(&project, &[]));
        let b = s.spawn(|| up(&project, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a["run_id"], b["run_id"]);
    assert_ne!(a["urls"]["api"], b["urls"]["api"]);
    for record in [&a, &b] {
        let api = record["urls"]["api"].as_str().unwrap();
        let (code, _) = healthz(api).unwrap();
        assert_eq!(code, 200);
    }
    let out = run(&project, &["status", "--all", "--json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    // Removing one run leaves the other serving.
    let out = run(&project, &["down", a["run_id"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        healthz(b["urls"]["api"].as_str().unwrap()).map(|r| r.0),
        Some(200)
    );
}

/// gauntlet checks `--defects` against the switches the project declares
/// (`[defects] switches`), so a typo is exit 2 before anything is built or
/// started. (The system itself also refuses unknown switches at start-up:
/// `system/src/defects.rs`.)
#[test]
fn an_unknown_defect_switch_is_refused_before_anything_starts() {
    if !require_docker() {
        return;
    }
    let project = unique_project("bad-defect");
    let _guard = ProjectGuard(project.clone());
    let mut args = vec!["up", "--defects", "stock_check_without_lock,no_such_defect"];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let started = std::time::Instant::now();
    let out = run(&project, &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown defect switch `no_such_defect`")
            && stderr.contains("stock_check_without_lock, "),
        "the reason and the declared switches reach the user: {stderr}"
    );
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "nothing was created"
    );
}

#[test]
fn down_all_also_reaps_a_container_whose_create_lands_while_it_runs() {
    // A gauntlet killed mid-`up` leaves creates in flight in the engine,
    // which finishes them after the client is gone: a container can appear
    // (state `Created`) after the reaper listed. Simulated here by creating
    // one, labelled like a run's, right after the reaper's first round.
    if !require_docker() {
        return;
    }
    let project = unique_project("late-create");
    let _guard = ProjectGuard(project.clone());
    let labels = [
        "--label".to_string(),
        format!("dev.gauntlet.project={project}"),
        "--label".to_string(),
        "dev.gauntlet.run=rlate".to_string(),
    ];
    let create = |name: &str| {
        let mut args = vec!["create", "--name", name];
        args.extend(labels.iter().map(String::as_str));
        args.extend(["debian:bookworm-slim", "true"]);
        docker(&args);
    };
    let early = format!("{project}-rlate-early");
    let late = format!("{project}-rlate-late");
    create(&early);

    let down = gauntlet(&project, &["down", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the early container is gone, the reaper has listed containers.
    let exists = |name: &str| {
        std::process::Command::new("docker")
            .args(["container", "inspect", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while exists(&early) {
        assert!(
            std::time::Instant::now() < deadline,
            "down --all did not remove {early}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    create(&late);

    let out = down.wait_with_output().unwrap();
    eprintln!(
        "down --all: {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        labelled_resources(&project),
        Vec::<String>::new(),
        "one down --all leaves nothing, even a container created while it ran"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("removed container {late}")),
        "the late container is reported: {stdout}"
    );
}
