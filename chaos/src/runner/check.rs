//! Before anything runs: does the stack have what the experiment names?

use std::collections::BTreeSet;

use crate::experiment::{Action, Experiment, ProbeKind};
use crate::ChaosContext;

/// What the experiment names that the stack must have: services,
/// endpoints, a PM2 service and its processes, fault-proxy links. Each
/// problem says what is missing and what there is.
pub async fn check_stack(ctx: &ChaosContext, exp: &Experiment) -> Vec<String> {
    let compose = ctx.stack.compose();
    let services: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();
    let mut problems = BTreeSet::new();
    let steps = exp.method.iter().chain(&exp.rollbacks);
    let probes = exp.steady_state.iter().chain(&exp.expect_during_fault);

    for step in steps.clone() {
        if let Some(service) = step.action.service() {
            if !services.contains(&service) {
                let file = exp
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| exp.name.clone());
                problems.insert(format!(
                    "{file}:{}: {} names service `{service}`, which {} does not have \
                     (services: {})",
                    step.line,
                    step.action.kind(),
                    compose.path.display(),
                    services.join(", ")
                ));
            }
        }
    }
    let mut uses_pm2 = steps.clone().any(|s| s.action.uses_pm2());
    for probe in probes {
        match &probe.kind {
            ProbeKind::Http { endpoint, .. } if compose.endpoint(endpoint).is_none() => {
                let known: Vec<String> = compose
                    .services
                    .iter()
                    .flat_map(|s| s.endpoints().into_iter().map(|(n, _)| n))
                    .collect();
                problems.insert(format!(
                    "probe `{}`: no endpoint `{endpoint}` (endpoints: {})",
                    probe.name,
                    known.join(", ")
                ));
            }
            ProbeKind::Redis { service, .. } if !services.contains(&service.as_str()) => {
                problems.insert(format!(
                    "probe `{}`: no service `{service}` (services: {})",
                    probe.name,
                    services.join(", ")
                ));
            }
            ProbeKind::Sql { .. } if !services.contains(&"postgres") => {
                problems.insert(format!(
                    "probe `{}`: SQL probes run in the `postgres` service, which the stack lacks",
                    probe.name
                ));
            }
            ProbeKind::Pm2 { .. } => uses_pm2 = true,
            _ => {}
        }
    }
    if uses_pm2 && ctx.pm2_service().is_none() {
        problems.insert(
            "the experiment uses PM2 but no service is labelled dev.gauntlet.pm2=true".into(),
        );
    }

    let proxies: BTreeSet<&str> = steps.clone().filter_map(|s| s.action.proxy()).collect();
    if !proxies.is_empty() && compose.endpoint("toxiproxy").is_none() {
        problems.insert(format!(
            "the experiment uses the fault proxy, but no service in {} declares the endpoint \
             `toxiproxy` (label dev.gauntlet.endpoints)",
            compose.path.display()
        ));
    } else if !proxies.is_empty() {
        let api = ctx.proxy().await;
        match api.proxies().await {
            Ok(list) => {
                let known: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
                for p in proxies.iter().filter(|p| !known.contains(p)) {
                    problems.insert(format!(
                        "the fault proxy has no proxy `{p}` (proxies: {})",
                        known.join(", ")
                    ));
                }
            }
            Err(e) => {
                problems.insert(format!(
                    "the fault proxy at {} is unreachable: {e}",
                    api.url()
                ));
            }
        }
    }

    // Processes must exist now; a method that first kills PM2 cannot be
    // checked further than that.
    let processes: BTreeSet<&str> = steps
        .filter_map(|s| match &s.action {
            Action::KillProcess { process, .. }
            | Action::Pm2Restart { process }
            | Action::CrashLoop { process, .. } => Some(process.as_str()),
            _ => None,
        })
        .collect();
    if !processes.is_empty() && ctx.pm2_service().is_some() {
        if let Ok(list) = gauntlet_harness::pm2::processes(&ctx.stack).await {
            let known: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            if !known.is_empty() {
                for p in processes.iter().filter(|p| !known.contains(p)) {
                    problems.insert(format!(
                        "PM2 has no process `{p}` (processes: {})",
                        known.join(", ")
                    ));
                }
            }
        }
    }
    problems.into_iter().collect()
}
