//! CLI behaviour that needs no Docker: bad input gets a clear one-line
//! reason and the documented exit code.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{gauntlet, run};

/// A stray HTTP server that answers every request with `body` (status 200).
fn stray_server(status_line: &'static str, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

#[test]
fn a_stray_server_that_is_another_app_is_refused() {
    let port = stray_server(
        "200 OK",
        r#"{"app":"someone-elses-api","service":"api","version":"1","instance_id":"x","started_at":"y"}"#,
    );
    let out = run(
        "gt-cli",
        &["check", "--target", &format!("http://127.0.0.1:{port}")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not the expected app"), "{stderr}");
    assert!(
        stderr.contains("someone-elses-api"),
        "names what it found: {stderr}"
    );
}

#[test]
fn a_stray_server_without_identity_is_refused() {
    let port = stray_server("404 Not Found", "<html>nginx</html>");
    let out = run(
        "gt-cli",
        &["check", "--target", &format!("http://127.0.0.1:{port}")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not the expected app") && stderr.contains("404"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_target_is_a_usage_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again
    let out = run(
        "gt-cli",
        &["check", "--target", &format!("http://127.0.0.1:{port}")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"));
}

#[test]
fn a_remote_target_is_refused_without_allow_remote() {
    let out = run("gt-cli", &["check", "--target", "http://192.0.2.10:8080"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

#[test]
fn no_docker_engine_is_an_environment_error_with_a_hint() {
    let out = common::gauntlet("gt-cli", &["status"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Docker engine not reachable"), "{stderr}");
    assert!(stderr.contains("bootstrap"), "hints at the fix: {stderr}");
}

#[test]
fn a_broken_compose_file_names_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker-compose.yml");
    std::fs::write(
        &path,
        "services:\n  db:\n    image: x\n    ports: [\"5432:5432\"]\n",
    )
    .unwrap();
    let out = common::gauntlet("gt-cli", &["--compose", path.to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("docker-compose.yml") && stdout.contains("port `5432:5432`"),
        "{stdout}"
    );
    assert_ne!(out.status.code(), Some(0));

    let out = common::gauntlet(
        "gt-cli",
        &["--compose", path.to_str().unwrap(), "up", "--no-cargo"],
    )
    .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    .output()
    .unwrap();
    // The compose file is read before Docker is needed? Either way: a clear
    // non-zero exit, never a panic.
    assert!(matches!(out.status.code(), Some(2 | 3)), "{out:?}");
}

#[test]
fn bad_names_and_flags_are_usage_errors() {
    let out = run("Bad_Project!", &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("project `Bad_Project!` is invalid"));
    let out = run("gt-cli", &["up", "--seed", "abc"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap reports usage errors with 2"
    );
    let out = run("gt-cli", &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn journeys_bad_invocations_exit_2_with_a_one_line_reason() {
    let port = stray_server(
        "200 OK",
        r#"{"app":"other","service":"api","version":"1","instance_id":"x","started_at":"y"}"#,
    );
    let target = format!("http://127.0.0.1:{port}");
    let cases: [(&[&str], &str); 4] = [
        (
            &["journeys", "--only", "shopper,nosuch", "--target", &target],
            "unknown journey nosuch",
        ),
        (
            &["journeys", "--budget", "abc", "--target", &target],
            "not a duration",
        ),
        (
            &["journeys", "--target", "http://127.0.0.1:1"],
            "unreachable",
        ),
        (&["journeys", "--target", &target], "not the expected app"),
    ];
    for (args, reason) in cases {
        let out = run("gt-cli", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(reason),
            "{args:?}: expected `{reason}` in {stderr}"
        );
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or_default();
        assert!(
            first.contains(reason),
            "the reason is on the error line: {stderr}"
        );
    }
}

#[test]
fn journeys_list_names_every_journey() {
    let out = run("gt-cli", &["journeys", "--list"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in [
        "shopper",
        "producer",
        "webhook",
        "notification",
        "double_submit",
        "last_units",
        "web",
        "bad_input",
        "health",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{stdout}"
        );
    }
}

/// A reader that goes away (`gauntlet ... | head -1`) must not make gauntlet
/// panic: a panic between a fault and its teardown would leak the run.
#[test]
fn a_closed_stdout_pipe_is_not_a_crash() {
    let mut child = gauntlet("gt-pipe", &["props", "--list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// An HTTP/1.1 server keeping connections alive, answering `ok` to every
/// request, one thread per connection.
fn keep_alive_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

#[test]
fn bench_loadgen_compares_with_wrk_round_by_round() {
    let port = keep_alive_server();
    let url = format!("http://127.0.0.1:{port}/");
    let out = run(
        "bench-cli",
        &[
            "bench",
            "loadgen",
            "--target",
            &url,
            "--seconds",
            "1",
            "--rounds",
            "2",
            "--connections",
            "4",
            "--no-accuracy",
            "--peers",
            "wrk",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{stdout}"))
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // NAME MEDIAN RATIO ROUND1 ROUND2: both measured in each round, wrk
    // (ci/bootstrap.sh installs it) with gauntlet's ratio to it.
    let (ours, wrk) = (row("gauntlet"), row("wrk"));
    assert_eq!(ours.len(), 5, "{ours:?}");
    assert_eq!(wrk.len(), 5, "wrk must be installed: {wrk:?}");
    let rate = |s: &str| {
        s.parse::<f64>()
            .unwrap_or_else(|_| panic!("{s} in\n{stdout}"))
    };
    assert!(rate(&ours[1]) > 0.0 && rate(&wrk[1]) > 0.0, "{stdout}");
    assert!(wrk[2].ends_with('x'), "{wrk:?}");
    assert!(stderr.contains("round 2/2: wrk"), "{stderr}");
}

#[test]
fn bench_loadgen_refuses_an_unknown_peer() {
    let out = run(
        "bench-cli",
        &[
            "bench",
            "loadgen",
            "--target",
            "http://127.0.0.1:9/",
            "--peers",
            "ab",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown generator `ab`"), "{stderr}");
}

/// `gauntlet report DIR` on the real runs' JSON kept for the reports
/// crate's tests: it writes the page and links it from summary.md; a folder
/// without results, a damaged file and a missing folder are exit 2 naming
/// the problem, and nothing in the folder is lost.
#[test]
fn report_rebuilds_a_page_and_refuses_what_is_not_a_run() {
    let work = tempfile::tempdir().unwrap();
    let runs = common::workspace_root().join("reports/tests/runs");
    let chaos = work.path().join("chaos");
    std::fs::create_dir(&chaos).unwrap();
    std::fs::copy(runs.join("chaos/chaos.json"), chaos.join("chaos.json")).unwrap();
    std::fs::write(chaos.join("summary.md"), "# chaos\n").unwrap();
    let out = run("gt-cli", &["report", chaos.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(chaos.join("report.html")).unwrap();
    assert!(page.contains("redis_killed: probes over time"));
    let summary = std::fs::read_to_string(chaos.join("summary.md")).unwrap();
    assert!(summary.starts_with("# chaos\n") && summary.contains("[report.html](report.html)"));
    // Twice: the link is added once.
    run("gt-cli", &["report", chaos.to_str().unwrap()]);
    let again = std::fs::read_to_string(chaos.join("summary.md")).unwrap();
    assert_eq!(
        again.matches("report.html").count(),
        summary.matches("report.html").count()
    );

    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run("gt-cli", &["report", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no gauntlet results") && err.contains("load.json"),
        "{err}"
    );

    let broken = work.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("load.json"), "{ half a file").unwrap();
    let out = run("gt-cli", &["report", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("load.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(broken.join("load.json")).unwrap(),
        "{ half a file",
        "the damaged file is left as it was"
    );
    assert!(!broken.join("report.html").exists());

    let out = run(
        "gt-cli",
        &["report", work.path().join("nope").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a directory"));
}
