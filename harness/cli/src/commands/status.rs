//! `gauntlet status`: each service (state, health, ports) and each PM2
//! process (status, restarts, uptime) of a run; `--all` lists runs.

use gauntlet_harness::pm2::{self, Pm2Process};
use gauntlet_harness::stack::{self, ServiceState};
use gauntlet_harness::{docker, exit_codes, Result};
use serde::Serialize;

use super::{attach, workspace};
use crate::cli::{Global, StatusArgs};
use crate::report::table;

#[derive(Serialize)]
struct Status {
    project: String,
    run_id: String,
    services: Vec<ServiceState>,
    /// endpoint name -> published URL
    urls: std::collections::BTreeMap<String, String>,
    pm2: Option<Vec<Pm2Process>>,
    /// Why `pm2` is missing, when it is.
    pm2_error: Option<String>,
}

pub async fn run(global: &Global, args: StatusArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    if args.all {
        let runs = stack::list_runs(&docker, &workspace.config.system.project).await?;
        if args.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&runs).expect("serialisable")
            );
        } else {
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    let services: Vec<String> = r
                        .services
                        .iter()
                        .map(|(s, st)| format!("{s}:{st}"))
                        .collect();
                    vec![
                        r.run_id.clone(),
                        r.started_at.clone(),
                        r.seed.clone(),
                        services.join(" "),
                        r.checkout.clone(),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(&["RUN", "STARTED", "SEED", "SERVICES", "CHECKOUT"], &rows)
            );
        }
        return Ok(exit_codes::OK);
    }

    let (stack, _) = attach(&docker, &workspace, args.run_id.as_deref()).await?;
    let mut services = Vec::new();
    for service in &stack.compose().services {
        services.push(stack.state(&service.name).await?);
    }
    let mut urls = std::collections::BTreeMap::new();
    for service in &stack.compose().services {
        for (endpoint, _) in service.endpoints() {
            if let Ok(url) = stack.endpoint_url(&endpoint).await {
                urls.insert(endpoint, url);
            }
        }
    }
    // PM2 is read only when the project has it; otherwise it is off.
    let (pm2, pm2_error) = if workspace.config.pm2.is_none() {
        (None, None)
    } else {
        match pm2::processes(&stack).await {
            Ok(list) => (Some(list), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let status = Status {
        project: workspace.config.system.project.clone(),
        run_id: stack.run_id().into(),
        services,
        urls,
        pm2,
        pm2_error,
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&status).expect("serialisable")
        );
    } else {
        print_human(&status);
    }
    Ok(exit_codes::OK)
}

fn print_human(status: &Status) {
    outln!("run {} (project {})\n", status.run_id, status.project);
    let rows: Vec<Vec<String>> = status
        .services
        .iter()
        .map(|s| {
            let ports: Vec<String> = s
                .ports
                .iter()
                .map(|p| format!("{}:{}->{}", p.host, p.host_port, p.container_port))
                .collect();
            vec![
                s.service.clone(),
                s.state.clone(),
                s.health.clone(),
                ports.join(" "),
            ]
        })
        .collect();
    out!("{}", table(&["SERVICE", "STATE", "HEALTH", "PORTS"], &rows));
    if !status.urls.is_empty() {
        outln!();
        for (name, url) in &status.urls {
            outln!("{name:<8} {url}");
        }
    }
    outln!();
    match (&status.pm2, &status.pm2_error) {
        (Some(list), _) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.status.clone(),
                        p.pid.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                        p.restarts.to_string(),
                        p.uptime_seconds
                            .map(human_duration)
                            .unwrap_or_else(|| "-".into()),
                        p.memory_bytes
                            .map(|m| format!("{:.1} MiB", m as f64 / 1048576.0))
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            out!(
                "{}",
                table(
                    &[
                        "PM2 PROCESS",
                        "STATUS",
                        "PID",
                        "RESTARTS",
                        "UPTIME",
                        "MEMORY"
                    ],
                    &rows
                )
            );
        }
        (None, Some(err)) => outln!("PM2: unavailable ({err})"),
        (None, None) => {}
    }
}

fn human_duration(seconds: f64) -> String {
    let s = seconds as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}
