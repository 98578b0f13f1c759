//! Helpers shared by the CLI's integration tests: run the real `gauntlet`
//! binary against the real Docker engine, each test in its own project so
//! tests run in parallel and clean up only after themselves.

#![allow(dead_code)]

pub mod browser;

use std::path::PathBuf;
use std::process::{Command, Output};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};

/// True if Docker answers. Without Docker a test is skipped locally, but
/// under CI (`CI` set) it fails: CI must never pass by skipping.
pub fn require_docker() -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    match rt.block_on(gauntlet_harness::docker::connect()) {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and this test needs Docker, which is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED (no Docker, and CI is not set): {e}");
            false
        }
    }
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A unique project name per test, so runs and reaping never cross tests.
pub fn unique_project(test: &str) -> String {
    let tag: u32 = rand::random();
    format!(
        "gt-{}-{tag:08x}",
        test.replace('_', "-").chars().take(20).collect::<String>()
    )
}

/// The reference system's project file, loaded.
pub fn reference_config() -> gauntlet_harness::config::Config {
    gauntlet_harness::config::Config::load(
        Some(&workspace_root().join("gauntlet.toml")),
        Default::default(),
    )
    .unwrap()
}

/// The compose variables of the reference project's `heavy_traffic` set
/// (raised rate limits, cheapest password hash).
pub fn heavy_traffic_vars() -> Vec<(String, String)> {
    reference_config().variable_sets["heavy_traffic"]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The binary flags that point `up`/`gate` at the reference system binary
/// cargo built next to `gauntlet`, so tests never run cargo themselves.
pub fn system_bin_args() -> Vec<String> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gauntlet")).with_file_name("gauntlet-system");
    if bin.is_file() {
        vec!["--system-bin".into(), bin.display().to_string()]
    } else {
        vec!["--no-cargo".into()]
    }
}

/// `gauntlet --project P ARGS...`, run from the workspace root.
pub fn gauntlet(project: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.current_dir(workspace_root())
        .arg("--project")
        .arg(project)
        .args(args);
    cmd
}

pub fn run(project: &str, args: &[&str]) -> Output {
    run_with_env(project, args, &[])
}

/// [`run`] with extra environment variables (compose variables, say).
pub fn run_with_env(project: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = gauntlet(project, args)
        .envs(env.iter().copied())
        .output()
        .expect("gauntlet runs");
    eprintln!(
        "$ gauntlet --project {project} {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `gauntlet up` with the test's system binary; returns the run record.
pub fn up(project: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["up", "--json", "--seed", "7"];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    args.extend(extra);
    let out = run(project, &args);
    assert_eq!(out.status.code(), Some(0), "gauntlet up failed");
    serde_json::from_slice(&out.stdout).expect("up --json prints the run record")
}

/// Reaps the project when dropped, even if the test panicked.
pub struct ProjectGuard(pub String);

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        let _ = gauntlet(&self.0, &["down", "--all"]).output();
    }
}

/// Every container, network and volume carrying the project's label.
pub fn labelled_resources(project: &str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let docker = gauntlet_harness::docker::connect().await.unwrap();
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("dev.gauntlet.project={project}")],
        )]);
        let mut found = Vec::new();
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        for c in docker.list_containers(Some(opts)).await.unwrap() {
            found.push(format!("container {:?}", c.names));
        }
        let opts = ListNetworksOptionsBuilder::new().filters(&filters).build();
        for n in docker.list_networks(Some(opts)).await.unwrap() {
            found.push(format!("network {:?}", n.name));
        }
        let opts = ListVolumesOptionsBuilder::new().filters(&filters).build();
        for v in docker
            .list_volumes(Some(opts))
            .await
            .unwrap()
            .volumes
            .unwrap_or_default()
        {
            found.push(format!("volume {}", v.name));
        }
        found
    })
}

/// Polls `f` every 250 ms until it returns true or `secs` pass.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("timed out after {secs}s waiting for: {what}");
}

/// Blocking GET returning (status, body).
pub fn get(url: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client.get(url).send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.unwrap_or_default()))
    })
}

/// `docker <args>` through the CLI, as a user would type it.
pub fn docker(args: &[&str]) -> Output {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `gauntlet ARGS` and reads its stdout until a line contains
/// `marker`; returns the running child and the lines seen.
pub fn spawn_until(
    project: &str,
    args: &[&str],
    marker: &str,
) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = gauntlet(project, args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let found = line.contains(marker);
        seen.push(line);
        if found {
            break;
        }
    }
    (child, seen)
}

/// Ctrl-C to a child, then its exit code.
pub fn interrupt(mut child: std::process::Child) -> Option<i32> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    child.wait().unwrap().code()
}
