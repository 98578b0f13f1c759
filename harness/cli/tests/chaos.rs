//! `gauntlet chaos` on real stacks: every shipped experiment passes on the
//! reference system; the defect matrix (SYSTEM-SPEC 11) shows each
//! experiment catching the defect it targets; a malformed experiment file
//! is exit 2 naming the file and the problem.

mod common;

use std::path::Path;

use common::*;

fn chaos(project: &str, out: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["chaos", "--out", out.to_str().unwrap(), "--seed", "3"];
    all.extend(args);
    let bin = system_bin_args();
    all.extend(bin.iter().map(String::as_str));
    run(project, &all)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn journal(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("chaos.json")).unwrap()).unwrap()
}

#[test]
fn a_malformed_experiment_is_a_usage_error_naming_the_file() {
    let project = unique_project("chaos-bad");
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir_all(&experiments).unwrap();
    std::fs::write(
        experiments.join("broken.toml"),
        "title = \"broken\"\n[[method]]\naction = \"melt_the_datacentre\"\n",
    )
    .unwrap();
    let out = run(
        &project,
        &[
            "chaos",
            "--all",
            "--experiments",
            experiments.to_str().unwrap(),
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("broken.toml"), "names the file: {said}");
    assert!(said.contains("melt_the_datacentre"), "names the problem: {said}");
    assert!(labelled_resources(&project).is_empty(), "nothing was started");
}
