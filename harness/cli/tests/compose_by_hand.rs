//! The compose file is the one definition of the stack: it must also work by
//! hand with Debian's `docker-compose` (v1), not only through gauntlet.

mod common;

use std::process::Command;

use common::*;

#[test]
fn docker_compose_v1_brings_up_the_same_stack() {
    if !require_docker() {
        return;
    }
    if Command::new("docker-compose")
        .arg("version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and docker-compose is missing (ci/bootstrap.sh installs it)"
        );
        eprintln!("SKIPPED: docker-compose not installed");
        return;
    }
    // `gauntlet build --env` prints the image tags for exactly these inputs.
    let mut args = vec!["build".to_string(), "--env".into()];
    args.extend(system_bin_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run("gt-compose", &args);
    assert_eq!(out.status.code(), Some(0));
    let tags: Vec<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(tags.len(), 4, "one tag per built image: {tags:?}");

    let project = unique_project("compose-v1").replace('-', "");
    let compose = |args: &[&str]| {
        let out = Command::new("docker-compose")
            .current_dir(workspace_root())
            .envs(tags.iter().cloned())
            .args(["-p", &project])
            .args(args)
            .output()
            .expect("docker-compose runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    type Compose<'a> = &'a dyn Fn(&[&str]) -> (bool, String, String);
    struct Down<'a>(Compose<'a>);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            (self.0)(&["down", "-v", "--remove-orphans"]);
        }
    }
    let _down = Down(&compose);

    let (ok, _, err) = compose(&["config", "-q"]);
    assert!(ok, "docker-compose accepts the file: {err}");
    let (ok, _, err) = compose(&["up", "-d"]);
    assert!(ok, "docker-compose up: {err}");

    let (ok, port, err) = compose(&["port", "app", "8080"]);
    assert!(ok, "{err}");
    let port = port.trim().to_string();
    assert!(
        port.starts_with("127.0.0.1:"),
        "published on loopback only: {port}"
    );
    eventually(
        90,
        "healthz 200 through docker-compose's published port",
        || matches!(get(&format!("http://{port}/api/healthz")), Some((200, _))),
    );
    let (ok, _, err) = compose(&["exec", "-T", "app", "pm2", "pid", "api"]);
    assert!(ok, "pm2 runs the api: {err}");
}
