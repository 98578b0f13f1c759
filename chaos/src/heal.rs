//! Removing every fault from a stack, whatever experiment left it: the CLI
//! calls [`heal`] when it is interrupted during a fault, and `gauntlet
//! down` can call it before tearing down. Each step is idempotent; a step
//! that fails does not stop the others.

use std::time::Duration;

use gauntlet_harness::pm2;

use crate::names::TOXIPROXY;
use crate::{ChaosContext, ChaosError};

/// How long a restarted service may take to become healthy again.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(90);
/// A PM2 process that is not online is looked at again after this long
/// (the ecosystem's `restart_delay` is 1 s) before it is restarted.
const SETTLE: Duration = Duration::from_secs(3);

/// Unpauses paused services and starts stopped ones (in dependency order,
/// each waited on until healthy), resets the fault proxy (every toxic
/// removed, every proxy enabled), runs `pm2 resurrect` if the PM2 daemon is
/// down and `pm2 restart` for processes still not online a few seconds later
/// (errored, stopped, or stuck in `waiting restart`). Returns what was
/// done (empty if nothing was wrong); `Err` lists what could not be fixed.
pub async fn heal(ctx: &ChaosContext) -> Result<Vec<String>, ChaosError> {
    let stack = ctx.stack();
    let mut done = Vec::new();
    let mut failures = Vec::new();

    for service in &stack.compose().services {
        let name = &service.name;
        let state = match stack.state(name).await {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let fixed = match state.state.as_str() {
            "paused" => stack
                .unpause(name)
                .await
                .map(|()| format!("unpaused {name}")),
            "exited" | "created" | "dead" => stack
                .start(name)
                .await
                .map(|()| format!("started {name} (was {})", state.state)),
            "missing" => {
                failures.push(format!("{name}: its container is gone"));
                continue;
            }
            _ => continue,
        };
        match fixed {
            Ok(what) => {
                done.push(what);
                if let Err(e) = stack.wait_healthy(name, HEALTHY_TIMEOUT).await {
                    failures.push(format!("{name}: {e}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }

    if ctx.sut().has_endpoint(TOXIPROXY) {
        let api = ctx.proxy().await;
        match api.proxies().await {
            Ok(list) => {
                let toxics: usize = list.iter().map(|p| p.toxics.len()).sum();
                let disabled: Vec<&str> = list
                    .iter()
                    .filter(|p| !p.enabled)
                    .map(|p| p.name.as_str())
                    .collect();
                match api.reset().await {
                    Ok(()) if toxics > 0 || !disabled.is_empty() => done.push(format!(
                        "fault proxy reset: {toxics} toxic{} removed{}",
                        if toxics == 1 { "" } else { "s" },
                        if disabled.is_empty() {
                            String::new()
                        } else {
                            format!(", {} enabled again", disabled.join(", "))
                        }
                    )),
                    Ok(()) => {}
                    Err(e) => failures.push(format!("fault proxy reset: {e}")),
                }
            }
            Err(e) => failures.push(format!("fault proxy at {}: {e}", api.url())),
        }
    }

    if let Some(service) = ctx.pm2_service() {
        match pm2::processes(stack).await {
            Ok(list) if list.is_empty() => {
                match pm2_cli(ctx, service, &["pm2", "resurrect"]).await {
                    Ok(()) => done.push("pm2 resurrect (the daemon was down)".into()),
                    Err(e) => failures.push(e),
                }
            }
            Ok(list) if list.iter().all(|p| p.status == "online") => {}
            Ok(_) => {
                // Not online may be a restart in progress (restart_delay):
                // look again a little later. PM2 6 leaves a process it gave
                // up on in `waiting restart` for ever, so that counts too.
                tokio::time::sleep(SETTLE).await;
                match pm2::processes(stack).await {
                    Ok(list) => {
                        for p in list.iter().filter(|p| p.status != "online") {
                            match pm2_cli(ctx, service, &["pm2", "restart", &p.name]).await {
                                Ok(()) => {
                                    done.push(format!("pm2 restart {} (was {})", p.name, p.status))
                                }
                                Err(e) => failures.push(e),
                            }
                        }
                    }
                    Err(e) => failures.push(format!("PM2 in {service}: {e}")),
                }
            }
            Err(e) => failures.push(format!("PM2 in {service}: {e}")),
        }
    }

    if failures.is_empty() {
        Ok(done)
    } else {
        Err(ChaosError::Heal { done, failures })
    }
}

async fn pm2_cli(ctx: &ChaosContext, service: &str, argv: &[&str]) -> Result<(), String> {
    let out = ctx
        .stack()
        .exec(service, argv)
        .await
        .map_err(|e| format!("`{}`: {e}", argv.join(" ")))?;
    if out.exit_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "`{}` exited with {}: {}",
            argv.join(" "),
            out.exit_code,
            out.stderr.trim().lines().last().unwrap_or("")
        ))
    }
}
