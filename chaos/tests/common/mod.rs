//! Starting and reaping a real stack for the chaos crate's tests, as
//! `gauntlet up` does it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gauntlet_harness::images::SystemBinary;
use gauntlet_harness::launch::{self, LaunchOptions, HEAVY_TRAFFIC_VARS};
use gauntlet_harness::stack::{self, Stack};
use gauntlet_harness::workspace::Workspace;

/// One run's stack; reaped when dropped, even after a failed assertion.
pub struct Run {
    pub stack: Stack,
    pub project: String,
    pub run_id: String,
}

impl Drop for Run {
    fn drop(&mut self) {
        let (project, run_id) = (self.project.clone(), self.run_id.clone());
        // Drop runs inside the test's runtime: reap from a thread of our own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(docker) = gauntlet_harness::docker::connect().await {
                    let _ = stack::reap(&docker, &project, Some(&run_id)).await;
                }
            })
        })
        .join()
        .ok();
    }
}

/// `gauntlet-system` in this test's target directory (the fault proxy is
/// taken from beside it), or `GAUNTLET_SYSTEM_BIN`; otherwise the harness
/// runs cargo itself.
pub fn system_binary() -> SystemBinary {
    if let Some(path) = std::env::var_os("GAUNTLET_SYSTEM_BIN") {
        return SystemBinary::Path(path.into());
    }
    // target/debug/deps/TEST-HASH -> target/debug/gauntlet-system
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("gauntlet-system")));
    match beside {
        Some(path) if path.is_file() => SystemBinary::Path(path),
        _ => {
            eprintln!(
                "gauntlet-system is not built in this target directory; the harness will run cargo"
            );
            SystemBinary::Cargo
        }
    }
}

/// A stack with these defects, or `None` without Docker outside CI (under
/// `CI` a missing Docker fails the test: CI must never pass by skipping).
pub async fn start(test: &str, defects: &str) -> Option<Run> {
    let docker = match gauntlet_harness::docker::connect().await {
        Ok(d) => d,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and this test needs Docker, which is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED (no Docker, and CI is not set): {e}");
            return None;
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = Workspace::locate(Some(&root.join("docker-compose.yml"))).unwrap();
    let tag: u32 = rand::random();
    let project = format!("ct-{test}-{tag:08x}");
    let run_id = stack::new_run_id();
    let options = LaunchOptions {
        project: project.clone(),
        run_id: run_id.clone(),
        seed: 7,
        defects: defects.to_string(),
        binary: system_binary(),
        show_progress: false,
        service_timeout: Duration::from_secs(180),
        extra_vars: HEAVY_TRAFFIC_VARS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let started = Instant::now();
    match launch::launch(&docker, &workspace, &options).await {
        Ok(launched) => {
            eprintln!(
                "[{test}] stack up in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Some(Run {
                stack: launched.stack,
                project,
                run_id,
            })
        }
        Err(e) => {
            let _ = stack::reap(&docker, &project, Some(&run_id)).await;
            panic!(
                "stack for {test} did not come up: {e} ({})",
                e.hint().unwrap_or("")
            );
        }
    }
}
