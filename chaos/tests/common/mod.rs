//! Starting and reaping a real stack for the chaos crate's tests, as
//! `gauntlet up` does it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gauntlet_harness::config::Overrides;
use gauntlet_harness::images::BuildHook;
use gauntlet_harness::launch::{self, LaunchOptions};
use gauntlet_harness::stack::{self, Stack};
use gauntlet_harness::sut::Sut;
use gauntlet_harness::workspace::Workspace;

/// One run's stack; reaped when dropped, even after a failed assertion.
pub struct Run {
    pub stack: Stack,
    /// The system under test on that stack, as the commands get it.
    pub sut: Sut,
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

/// The reference system's build hook, given `gauntlet-system` from this
/// test's target directory (the fault proxy is taken from beside it) when
/// it is there and `GAUNTLET_SYSTEM_BIN` is not set (the hook reads that
/// itself); otherwise the hook runs cargo.
pub fn build_hook() -> BuildHook {
    if std::env::var_os("GAUNTLET_SYSTEM_BIN").is_some() {
        return BuildHook::Run;
    }
    // target/debug/deps/TEST-HASH -> target/debug/gauntlet-system
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("gauntlet-system")));
    match beside {
        Some(path) if path.is_file() => BuildHook::RunWith(vec![(
            "GAUNTLET_SYSTEM_BIN".into(),
            path.display().to_string(),
        )]),
        _ => {
            eprintln!(
                "gauntlet-system is not built in this target directory; the build hook will run cargo"
            );
            BuildHook::Run
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
    let workspace =
        Workspace::locate(Some(&root.join("gauntlet.toml")), Overrides::default()).unwrap();
    let tag: u32 = rand::random();
    let project = format!("ct-{test}-{tag:08x}");
    let run_id = stack::new_run_id();
    let mut options = LaunchOptions::new(&workspace, run_id.clone(), 7);
    options.project = project.clone();
    options.defects = workspace.config.check_defects(defects).unwrap();
    options.build_hook = build_hook();
    options.service_timeout = Duration::from_secs(180);
    // Background writers: thousands of requests from one client.
    options.use_variable_set(&workspace, "heavy_traffic", &[]);
    let started = Instant::now();
    match launch::launch(&docker, &workspace, &options).await {
        Ok(launched) => {
            eprintln!(
                "[{test}] stack up in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Some(Run {
                stack: launched.stack,
                sut: launched.sut,
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
