//! `gauntlet init` on the python example: the files it writes load with
//! the project's own loaders and drive a real stack; it never overwrites;
//! unusable compose files are exit 2 naming the file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const WRITTEN: [&str; 5] = [
    "gauntlet.toml",
    "journeys/smoke.toml",
    "scenarios/profiles/smoke.toml",
    "scenarios/slo.toml",
    "chaos/experiments/restart_web.toml",
];

/// A copy of examples/python-counter in a folder named `python-counter`,
/// without its gauntlet.toml, experiments and run output.
fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("python-counter");
    copy_dir(
        &workspace_root().join("examples/python-counter"),
        &dir,
        &["gauntlet.toml", "experiments", "target"],
    );
    (tmp, dir)
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name), &[]);
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// `gauntlet ARGS...` in `dir`, as a user in that folder would run it.
fn in_dir(dir: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .current_dir(dir)
        .env_remove("GAUNTLET_CONFIG")
        .env_remove("GAUNTLET_COMPOSE")
        .env_remove("GAUNTLET_PROJECT")
        .args(args)
        .output()
        .expect("gauntlet runs");
    eprintln!(
        "$ (cd {} && gauntlet {})\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_writes_a_project_that_the_loaders_accept() {
    let (_tmp, dir) = example_copy();
    let out = in_dir(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for file in WRITTEN {
        assert!(dir.join(file).is_file(), "{file} was not written");
        assert!(
            text.lines()
                .any(|l| l.starts_with("written") && l.contains(file)),
            "{file} is not listed as written:\n{text}"
        );
    }
    assert!(!text.contains("kept"), "{text}");
    for step in [
        "gauntlet config",
        "gauntlet up",
        "gauntlet gate",
        "gauntlet chaos restart_web",
    ] {
        assert!(text.contains(step), "next steps lack `{step}`:\n{text}");
    }

    // `gauntlet config` loads it, checked against the compose file.
    let out = in_dir(&dir, &["config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "system.project = \"python-counter\"",
        "endpoints.web.service = \"web\"",
        "endpoints.web.port = 8000",
        "endpoints.web.readiness.path = \"/health\"",
        "endpoints.web.readiness.status = 200",
        "data.cache.kind = \"redis\"",
        "paths.experiments = \"chaos/experiments\"",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(expected)),
            "no `{expected}` in:\n{text}"
        );
    }

    // The experiment parses and fits the project, through the CLI and the
    // chaos crate's own checks.
    let out = in_dir(&dir, &["chaos", "--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("restart_web"), "{}", stdout(&out));
    let config = gauntlet_harness::config::Config::load(
        Some(&dir.join("gauntlet.toml")),
        Default::default(),
    )
    .unwrap();
    let config = gauntlet_harness::workspace::Workspace::new(config)
        .unwrap()
        .config;
    let experiment =
        gauntlet_chaos::experiment::load(dir.join("chaos/experiments/restart_web.toml")).unwrap();
    assert_eq!(experiment.name, "restart_web");
    assert_eq!(experiment.method[0].action.kind(), "restart_container");
    gauntlet_chaos::check_experiments(&[experiment], &config).unwrap();

    // The SLO file and the load profile parse (the profile's own
    // transaction checked against the project's endpoints).
    gauntlet_scenarios::slo::SloFile::load(&dir.join("scenarios/slo.toml")).unwrap();
    let profile = gauntlet_scenarios::profile::Profile::load_with_config(
        &dir.join("scenarios/profiles/smoke.toml"),
        &config,
    )
    .unwrap();
    assert!(!profile.has_builtins());
    assert!(profile
        .transaction_names()
        .contains(&"readiness".to_string()));

    // The journey is listed (its file parses against the project).
    let out = in_dir(&dir, &["journeys", "--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("smoke ") && l.contains("web answers GET /health")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn init_again_writes_nothing_and_keeps_everything() {
    let (_tmp, dir) = example_copy();
    assert_eq!(in_dir(&dir, &["init"]).status.code(), Some(0));
    let before: Vec<Vec<u8>> = WRITTEN
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    // An edit the user made must survive.
    let mut edited = before[0].clone();
    edited.extend_from_slice(b"\n# my own note\n");
    std::fs::write(dir.join("gauntlet.toml"), &edited).unwrap();

    let out = in_dir(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("written"), "{text}");
    for file in WRITTEN {
        assert!(
            text.lines()
                .any(|l| l.starts_with("kept") && l.contains(file)),
            "{file} is not listed as kept:\n{text}"
        );
    }
    assert_eq!(std::fs::read(dir.join("gauntlet.toml")).unwrap(), edited);
    for (file, bytes) in WRITTEN.iter().zip(&before).skip(1) {
        assert_eq!(
            &std::fs::read(dir.join(file)).unwrap(),
            bytes,
            "{file} changed"
        );
    }
}

#[test]
fn init_writes_into_dir_and_points_at_the_compose_file() {
    let (tmp, dir) = example_copy();
    let elsewhere = tmp.path().join("gauntlet-project");
    let compose = dir.join("docker-compose.yml");
    let out = in_dir(
        tmp.path(),
        &[
            "--compose",
            compose.to_str().unwrap(),
            "--project",
            "counter-two",
            "init",
            "--dir",
            "gauntlet-project",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!dir.join("gauntlet.toml").exists());
    let text = std::fs::read_to_string(elsewhere.join("gauntlet.toml")).unwrap();
    assert!(
        text.contains("compose = [\"../python-counter/docker-compose.yml\"]"),
        "{text}"
    );
    assert!(text.contains("project = \"counter-two\""), "{text}");
    let out = in_dir(&elsewhere, &["config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// exit 2, the file named on stderr, and nothing written.
fn assert_unusable(compose_text: &str, expected: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("docker-compose.yml");
    std::fs::write(&file, compose_text).unwrap();
    let out = in_dir(tmp.path(), &["init"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&file.canonicalize().unwrap().display().to_string())
            || err.contains(&file.display().to_string()),
        "the error names the compose file: {err}"
    );
    assert!(err.contains(expected), "the error says `{expected}`: {err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["docker-compose.yml"], "nothing is written");
}

#[test]
fn a_broken_compose_file_is_exit_2_naming_it() {
    assert_unusable("services: [web\n  image: ", "invalid compose file");
    assert_unusable("services: {}\n", "defines no services");
    assert_unusable(
        "services:\n  web:\n    image: a/web:1\n    ports: [\"0.0.0.0:8000:8000\"]\n",
        "only loopback addresses may be published",
    );
    assert_unusable(
        "services:\n  web:\n    image: a/web:1\n    ports: [\"8000:8000\"]\n",
        "publish on loopback only",
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = in_dir(tmp.path(), &["--compose", "nowhere.yml", "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere.yml"), "{}", stderr(&out));
    let out = in_dir(tmp.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--compose"), "{}", stderr(&out));
}

#[test]
fn a_compose_file_with_no_published_port_is_exit_2() {
    assert_unusable(
        "services:\n  web:\n    image: a/web:1\n  worker:\n    image: a/worker:1\n",
        "no published port usable as an HTTP endpoint (no service publishes a port)",
    );
    assert_unusable(
        "services:\n  db:\n    image: postgres:16\n    ports: [\"127.0.0.1::5432\"]\n",
        "no published port usable as an HTTP endpoint",
    );
}

#[test]
fn the_generated_project_drives_a_real_stack() {
    if !require_docker() {
        return;
    }
    let (_tmp, dir) = example_copy();
    let out = in_dir(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let project = unique_project("init");
    let _guard = ProjectGuard(project.clone());

    let out = in_dir(
        &dir,
        &["--project", &project, "up", "--json", "--seed", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "up failed: {}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["system"], "python-counter");
    let run_id = record["run_id"].as_str().unwrap().to_string();

    let out = in_dir(&dir, &["--project", &project, "check"]);
    assert_eq!(out.status.code(), Some(0), "check failed: {}", stdout(&out));

    let out = in_dir(
        &dir,
        &[
            "--project",
            &project,
            "load",
            "--profile",
            "smoke",
            "--run",
            &run_id,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "load failed: {}", stdout(&out));
    assert!(stdout(&out).contains("readiness"), "{}", stdout(&out));

    let out = in_dir(
        &dir,
        &[
            "--project",
            &project,
            "chaos",
            "restart_web",
            "--run",
            &run_id,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the generated experiment failed: {}",
        stdout(&out)
    );

    let out = in_dir(&dir, &["--project", &project, "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        labelled_resources(&project).is_empty(),
        "{:?}",
        labelled_resources(&project)
    );

    // The gate: its own fresh stack, the generated journey, torn down.
    let out = in_dir(&dir, &["--project", &project, "gate"]);
    assert_eq!(out.status.code(), Some(0), "gate failed: {}", stdout(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("smoke") && l.contains("passed")),
        "{}",
        stdout(&out)
    );
    assert!(
        labelled_resources(&project).is_empty(),
        "{:?}",
        labelled_resources(&project)
    );
}
