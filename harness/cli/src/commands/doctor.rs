//! `gauntlet doctor`: is this machine ready? The same checks as
//! ci/bootstrap.sh, which `--fix` runs.

use std::path::Path;
use std::process::Command;

use gauntlet_harness::images::HOST_CA_BUNDLE;
use gauntlet_harness::{docker, exit_codes, Error, Result};

use super::workspace;
use crate::cli::{DoctorArgs, Global};
use crate::report::table;

const BASE_IMAGE: &str = "debian:bookworm-slim";

struct Finding {
    what: &'static str,
    required: bool,
    ok: bool,
    detail: String,
}

pub async fn run(global: &Global, args: DoctorArgs) -> Result<i32> {
    // A broken project is one finding among the others, not a reason to
    // stop looking at the machine.
    let workspace = workspace(global);
    if args.fix {
        // gauntlet's own set-up script (in its source checkout), whatever
        // project is being checked.
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci/bootstrap.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .map_err(Error::io(format!("running {}", script.display())))?;
        if !status.success() {
            errln!("{} failed ({status})", script.display());
        }
    }
    let findings = examine(&workspace).await;
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            let result = match (f.ok, f.required) {
                (true, _) => "ok",
                (false, true) => "MISSING",
                (false, false) => "missing (optional)",
            };
            vec![f.what.to_string(), result.to_string(), f.detail.clone()]
        })
        .collect();
    out!("{}", table(&["CHECK", "RESULT", "DETAIL"], &rows));
    if findings.iter().any(|f| f.required && !f.ok) {
        errln!("\nnot ready: run `sudo ci/bootstrap.sh` or `gauntlet doctor --fix` (as root)");
        return Ok(exit_codes::ENVIRONMENT);
    }
    Ok(exit_codes::OK)
}

async fn examine(workspace: &Result<gauntlet_harness::workspace::Workspace>) -> Vec<Finding> {
    let mut out = Vec::new();
    let engine = docker::connect().await;
    let (ok, detail) = match &engine {
        Ok(d) => match d.version().await {
            Ok(v) => (
                true,
                format!(
                    "engine {} (API {})",
                    v.version.unwrap_or_default(),
                    v.api_version.unwrap_or_default()
                ),
            ),
            Err(e) => (false, e.to_string()),
        },
        Err(e) => (false, e.to_string()),
    };
    out.push(Finding {
        what: "docker engine",
        required: true,
        ok,
        detail,
    });

    let (ok, detail) = match &engine {
        Ok(d) => match d.inspect_image(BASE_IMAGE).await {
            Ok(_) => (true, BASE_IMAGE.to_string()),
            Err(_) => (
                false,
                format!("{BASE_IMAGE} not present (bootstrap builds it with debootstrap)"),
            ),
        },
        Err(_) => (false, "needs the engine".into()),
    };
    out.push(Finding {
        what: "base image",
        required: true,
        ok,
        detail,
    });

    let ca = Path::new(HOST_CA_BUNDLE).is_file();
    out.push(Finding {
        what: "host CA bundle",
        required: true,
        ok: ca,
        detail: HOST_CA_BUNDLE.into(),
    });

    let (ok, detail) = match workspace
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|ws| ws.compose(&Default::default()).map_err(|e| e.to_string()))
    {
        Ok(c) => (
            true,
            format!("{} services in {}", c.services.len(), c.path.display()),
        ),
        Err(e) => (false, e),
    };
    out.push(Finding {
        what: "project (gauntlet.toml and compose file)",
        required: true,
        ok,
        detail,
    });

    for (what, argv, required, why) in [
        (
            "cargo",
            &["cargo", "--version"][..],
            true,
            "builds the reference system",
        ),
        (
            "docker-compose",
            &["docker-compose", "version", "--short"][..],
            false,
            "by-hand use of the compose file",
        ),
        (
            "wrk",
            &["wrk", "--version"][..],
            false,
            "reference for `gauntlet bench`",
        ),
        (
            "chromium",
            &["chromium", "--version"][..],
            false,
            "the report browser test and `gauntlet report --open`",
        ),
    ] {
        let found = Command::new(argv[0]).args(&argv[1..]).output().ok();
        // wrk prints its version and exits non-zero; finding it is enough.
        let ok = found.is_some();
        let detail = match found {
            Some(o) => String::from_utf8_lossy(if o.stdout.is_empty() {
                &o.stderr
            } else {
                &o.stdout
            })
            .lines()
            .next()
            .unwrap_or(why)
            .to_string(),
            None => format!("not found: {why}"),
        };
        out.push(Finding {
            what,
            required,
            ok,
            detail,
        });
    }
    out
}
