//! Faults: each action is applied, then proven by observing its effect
//! (the container is down or paused, the PM2 pid changed, the toxic is
//! listed, the proxy is disabled), and the same for undo and rollback
//! actions. An action that cannot be applied or proven is an error, never
//! a silent no-op: a fault that did not happen must not pass an experiment.

use std::time::{Duration, Instant};

use gauntlet_harness::pm2::{self, Pm2Process};

use crate::experiment::{Action, Signal};
use crate::ChaosContext;

/// How long an action's effect may take to show.
const PROVE_TIMEOUT: Duration = Duration::from_secs(20);
/// `pm2 resurrect` and `pm2 restart` start Node and the processes.
const PM2_PROVE_TIMEOUT: Duration = Duration::from_secs(45);
const POLL: Duration = Duration::from_millis(100);
/// A crash-looped process that does not come back within this long after
/// a kill is taken as given up on by PM2.
const GAVE_UP: Duration = Duration::from_secs(10);

/// What was true before the action, for its proof.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// What was done, for the journal.
    pub detail: String,
    pid: Option<i64>,
    pids: Vec<i64>,
    started_at: Option<String>,
}

/// An action that could not be applied, and whether part of it was
/// (a crash loop that failed after some kills), so its undo must run.
#[derive(Debug, Clone)]
pub struct NotApplied {
    pub message: String,
    pub partly: bool,
}

/// Applies `action`; `Err` means it could not be injected.
pub async fn apply(ctx: &ChaosContext, action: &Action) -> Result<Applied, NotApplied> {
    let partly = matches!(action, Action::CrashLoop { .. });
    apply_inner(ctx, action)
        .await
        .map_err(|message| NotApplied { message, partly })
}

async fn apply_inner(ctx: &ChaosContext, action: &Action) -> Result<Applied, String> {
    let stack = ctx.stack();
    let docker = |e: gauntlet_harness::Error| e.to_string();
    let mut applied = Applied::default();
    match action {
        Action::KillContainer { service, signal } => {
            let state = stack.state(service).await.map_err(docker)?;
            if state.state != "running" {
                return Err(format!(
                    "{service} is {}, not running: nothing to kill",
                    state.state
                ));
            }
            stack.kill(service, signal.name()).await.map_err(docker)?;
            applied.detail = format!("sent {signal} to {}", state.container);
        }
        Action::StopContainer { service, grace } => {
            let state = stack.state(service).await.map_err(docker)?;
            stack.stop(service, *grace).await.map_err(docker)?;
            applied.detail = format!("stopped {} (was {})", state.container, state.state);
        }
        Action::StartContainer { service } => {
            stack.start(service).await.map_err(docker)?;
            applied.detail = format!("started {}", stack.container_name(service));
        }
        Action::RestartContainer { service, grace } => {
            let state = stack.state(service).await.map_err(docker)?;
            applied.started_at = state.started_at;
            stack.restart(service, *grace).await.map_err(docker)?;
            applied.detail = format!("restarted {}", state.container);
        }
        Action::PauseContainer { service } => {
            stack.pause(service).await.map_err(docker)?;
            applied.detail = format!("paused {}", stack.container_name(service));
        }
        Action::UnpauseContainer { service } => {
            stack.unpause(service).await.map_err(docker)?;
            applied.detail = format!("unpaused {}", stack.container_name(service));
        }
        Action::KillProcess { process, signal } => {
            let p = find(ctx, process).await?;
            let pid = p
                .pid
                .ok_or_else(|| format!("{process} has no pid ({}): nothing to kill", p.status))?;
            signal_pid(ctx, pid, signal).await?;
            applied.pid = Some(pid);
            applied.detail = format!("sent {signal} to {process} (pid {pid})");
        }
        Action::Pm2Kill => {
            let list = pm2_list(ctx).await?;
            if list.is_empty() {
                return Err("the PM2 daemon is already down".into());
            }
            applied.pids = list.iter().filter_map(|p| p.pid).collect();
            pm2_cli(ctx, &["pm2", "kill"]).await?;
            applied.detail = format!(
                "pm2 kill ({} processes, pids {})",
                list.len(),
                join(&applied.pids)
            );
        }
        Action::Pm2Resurrect => {
            pm2_cli(ctx, &["pm2", "resurrect"]).await?;
            applied.detail = "pm2 resurrect".into();
        }
        Action::Pm2Restart { process } => {
            let p = find(ctx, process).await?;
            applied.pid = p.pid;
            pm2_cli(ctx, &["pm2", "restart", process]).await?;
            applied.detail = format!("pm2 restart {process} (was {})", p.status);
        }
        Action::Toxic(toxic) => {
            let api = ctx.proxy().await;
            let proxy = api.proxy(&toxic.proxy).await?;
            if proxy.toxics.contains(&toxic.toxic.name) {
                return Err(format!(
                    "proxy {} already has a toxic named {}",
                    toxic.proxy, toxic.toxic.name
                ));
            }
            api.add_toxic(toxic).await?;
            applied.detail = format!("added {action}");
        }
        Action::RemoveToxic { proxy, name } => {
            ctx.proxy().await.remove_toxic(proxy, name).await?;
            applied.detail = format!("removed toxic {name} from {proxy}");
        }
        Action::ProxyDown { proxy } => {
            let api = ctx.proxy().await;
            api.proxy(proxy).await?;
            api.set_enabled(proxy, false).await?;
            applied.detail = format!("disabled proxy {proxy}");
        }
        Action::ProxyUp { proxy } => {
            let api = ctx.proxy().await;
            api.proxy(proxy).await?;
            api.set_enabled(proxy, true).await?;
            applied.detail = format!("enabled proxy {proxy}");
        }
        Action::CrashLoop {
            process,
            kills,
            interval,
        } => {
            crash_loop(ctx, process, *kills, *interval, &mut applied).await?;
        }
        Action::Sleep => applied.detail = "sleep".into(),
        Action::Exec { .. } | Action::Publish(_) | Action::Http(_) => {
            return Err(format!(
                "{} is not a fault: the runner does it (crate::workload)",
                action.kind()
            ))
        }
    }
    Ok(applied)
}

/// Waits until the action's effect is observed; `Ok` says what was seen.
pub async fn prove(
    ctx: &ChaosContext,
    action: &Action,
    applied: &Applied,
) -> Result<String, String> {
    let stack = ctx.stack();
    let timeout = match action {
        Action::Pm2Resurrect | Action::Pm2Restart { .. } => PM2_PROVE_TIMEOUT,
        Action::StopContainer { grace, .. } | Action::RestartContainer { grace, .. } => {
            PROVE_TIMEOUT + *grace
        }
        _ => PROVE_TIMEOUT,
    };
    let service_state = |service: String, want: fn(&str) -> bool, what: &'static str| async move {
        let s = stack.state(&service).await.map_err(|e| e.to_string())?;
        if want(&s.state) {
            Ok(format!("{} is {}", s.container, s.state))
        } else {
            Err(format!("{} is {} ({what})", s.container, s.state))
        }
    };
    poll(timeout, || async {
        match action {
            Action::KillContainer { service, .. } | Action::StopContainer { service, .. } => {
                service_state(
                    service.clone(),
                    |s| !matches!(s, "running" | "restarting" | "paused"),
                    "expected it down",
                )
                .await
            }
            Action::StartContainer { service } | Action::UnpauseContainer { service } => {
                service_state(service.clone(), |s| s == "running", "expected running").await
            }
            Action::PauseContainer { service } => {
                service_state(service.clone(), |s| s == "paused", "expected paused").await
            }
            Action::RestartContainer { service, .. } => {
                let s = stack.state(service).await.map_err(|e| e.to_string())?;
                if s.state == "running" && s.started_at != applied.started_at {
                    Ok(format!(
                        "{} running again, started {}",
                        s.container,
                        s.started_at.unwrap_or_default()
                    ))
                } else {
                    Err(format!(
                        "{} is {}, started {} (expected a new start)",
                        s.container,
                        s.state,
                        s.started_at.unwrap_or_default()
                    ))
                }
            }
            Action::KillProcess { process, .. } => {
                // The old pid is dead, and PM2 has noticed.
                let old = applied.pid.unwrap_or_default();
                if !alive_pids(ctx, &[old]).await?.is_empty() {
                    return Err(format!("pid {old} of {process} is still alive"));
                }
                let list = pm2_list(ctx).await?;
                match list.iter().find(|p| &p.name == process) {
                    None => Ok(format!("pid {old} dead; PM2 no longer lists {process}")),
                    Some(p) if p.pid == Some(old) && p.status == "online" => Err(format!(
                        "pid {old} dead but PM2 still reports {process} online with it"
                    )),
                    Some(p) if p.pid.is_some() && p.pid != Some(old) => Ok(format!(
                        "pid {old} dead; PM2 restarted {process}: {} with pid {}",
                        p.status,
                        p.pid.unwrap_or_default()
                    )),
                    Some(p) => Ok(format!(
                        "pid {old} dead; PM2 saw it exit: {process} {}",
                        p.status
                    )),
                }
            }
            Action::Pm2Kill => {
                let list = pm2_list(ctx).await?;
                if !list.is_empty() {
                    return Err(format!("PM2 still lists {} processes", list.len()));
                }
                let alive = alive_pids(ctx, &applied.pids).await?;
                if alive.is_empty() {
                    Ok(format!(
                        "PM2 daemon down; pids {} gone",
                        join(&applied.pids)
                    ))
                } else {
                    Err(format!("PM2 daemon down but pids {} alive", join(&alive)))
                }
            }
            Action::Pm2Resurrect => {
                let list = pm2_list(ctx).await?;
                if list.is_empty() {
                    Err("PM2 lists no processes".into())
                } else {
                    Ok(format!("PM2 lists {}", describe(&list)))
                }
            }
            Action::Pm2Restart { process } => {
                let list = pm2_list(ctx).await?;
                match list.iter().find(|p| &p.name == process) {
                    Some(p) if p.status == "online" && p.pid.is_some() && p.pid != applied.pid => {
                        Ok(format!(
                            "{process} online with pid {}",
                            p.pid.unwrap_or_default()
                        ))
                    }
                    Some(p) => Err(format!(
                        "{process} {} (pid {:?}, expected online with a new pid)",
                        p.status, p.pid
                    )),
                    None => Err(format!("PM2 does not list {process}")),
                }
            }
            Action::Toxic(toxic) => {
                let names = ctx.proxy().await.toxics(&toxic.proxy).await?;
                if names.contains(&toxic.toxic.name) {
                    Ok(format!(
                        "toxic {} listed on {}",
                        toxic.toxic.name, toxic.proxy
                    ))
                } else {
                    Err(format!(
                        "toxic {} not listed on {} (toxics: {})",
                        toxic.toxic.name,
                        toxic.proxy,
                        names.join(", ")
                    ))
                }
            }
            Action::RemoveToxic { proxy, name } => {
                let names = ctx.proxy().await.toxics(proxy).await?;
                if names.contains(name) {
                    Err(format!("toxic {name} still listed on {proxy}"))
                } else {
                    Ok(format!("toxic {name} no longer listed on {proxy}"))
                }
            }
            Action::ProxyDown { proxy } | Action::ProxyUp { proxy } => {
                let want = matches!(action, Action::ProxyUp { .. });
                let p = ctx.proxy().await.proxy(proxy).await?;
                if p.enabled == want {
                    Ok(format!("proxy {proxy} enabled={}", p.enabled))
                } else {
                    Err(format!(
                        "proxy {proxy} enabled={} (expected {want})",
                        p.enabled
                    ))
                }
            }
            Action::CrashLoop { process, .. } => {
                // Applying waited for every restart; two incarnations killed
                // means PM2 restarted it at least once in between.
                if applied.pids.len() >= 2 {
                    let list = pm2_list(ctx).await?;
                    let now = list
                        .iter()
                        .find(|p| &p.name == process)
                        .map(|p| format!("{} with {} restarts", p.status, p.restarts))
                        .unwrap_or_else(|| "not listed".into());
                    Ok(format!(
                        "killed {} incarnations of {process} (pids {}); now {now}",
                        applied.pids.len(),
                        join(&applied.pids)
                    ))
                } else {
                    Err(format!(
                        "PM2 did not restart {process} between kills (pids {})",
                        join(&applied.pids)
                    ))
                }
            }
            Action::Sleep | Action::Exec { .. } | Action::Publish(_) | Action::Http(_) => {
                Ok(String::new())
            }
        }
    })
    .await
}

/// Calls `check` every 100 ms until it passes or `timeout` runs out; the
/// error is the last observation.
async fn poll<F, Fut>(timeout: Duration, mut check: F) -> Result<String, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let round = Instant::now();
        match check().await {
            Ok(seen) => return Ok(seen),
            Err(seen) if Instant::now() >= deadline => {
                return Err(format!(
                    "not proven within {}: {seen}",
                    crate::experiment::human(timeout)
                ))
            }
            Err(_) => {}
        }
        tokio::time::sleep(POLL.saturating_sub(round.elapsed())).await;
    }
}

/// Kills the process each time PM2 brings it back, before its
/// `min_uptime`, until PM2 stops restarting it or `kills` incarnations were
/// killed.
///
/// PM2 counts a quick death as an unstable restart only within
/// `min_uptime × max_restarts` of the process's creation or last `pm2
/// restart` (God.js `handleExit`); a process that has run longer than that
/// would be restarted forever. So the loop starts with a `pm2 restart`, and
/// runs inside the container (new pids read from PM2's pid files), because
/// a `pm2 jlist` per incarnation would be too slow for that window.
async fn crash_loop(
    ctx: &ChaosContext,
    process: &str,
    kills: u32,
    interval: Duration,
    applied: &mut Applied,
) -> Result<(), String> {
    find(ctx, process).await?;
    pm2_cli(ctx, &["pm2", "restart", process]).await?;
    let service = pm2_service(ctx)?;
    let args = [
        process.to_string(),
        kills.to_string(),
        format!("{:.3}", interval.as_secs_f64()),
        PROVE_TIMEOUT.as_millis().to_string(),
        GAVE_UP.as_millis().to_string(),
    ];
    let mut argv = vec!["sh", "-c", CRASH_LOOP_SH, "sh"];
    argv.extend(args.iter().map(String::as_str));
    let out = ctx
        .stack()
        .exec(service, &argv)
        .await
        .map_err(|e| e.to_string())?;
    applied.pids = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("killed ")?.trim().parse().ok())
        .collect();
    let ending = out.stdout.lines().last().unwrap_or("").trim().to_string();
    if out.exit_code != 0 || applied.pids.is_empty() {
        return Err(format!(
            "crash loop of {process} in {service} ended with {} after killing pids {}: {}",
            out.exit_code,
            join(&applied.pids),
            last_lines(&format!("{}\n{}", out.stdout, out.stderr))
        ));
    }
    // Out of kills: PM2 may still give up on the last one.
    let gave_up = ending == "gave-up";
    let deadline = Instant::now() + Duration::from_secs(if gave_up { 0 } else { 5 });
    let mut p = find(ctx, process).await?;
    while !matches!(p.status.as_str(), "errored" | "stopped") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        p = find(ctx, process).await?;
    }
    applied.detail = format!(
        "killed {process} {} times (pids {}); {}; PM2 reports {}{} with {} restarts",
        applied.pids.len(),
        join(&applied.pids),
        if gave_up {
            "PM2 stopped restarting it"
        } else {
            "out of kills"
        },
        p.status,
        p.pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        p.restarts
    );
    Ok(())
}

/// The crash loop inside the PM2 container: `$1` process name, `$2` kills,
/// `$3` seconds between a new incarnation and its kill, `$4` ms to wait for
/// the first incarnation, `$5` ms after which PM2 counts as given up.
/// Prints `killed PID` per kill, then `gave-up` or `out-of-kills`.
const CRASH_LOOP_SH: &str = r#"
name=$1 kills=$2 interval=$3 first_wait=$4 gave_up=$5
home=${PM2_HOME:-$HOME/.pm2}
last= n=0 limit=$first_wait
while [ "$n" -lt "$kills" ]; do
  waited=0 pid=
  while :; do
    for f in "$home/pids/$name"-[0-9]*.pid; do
      [ -s "$f" ] || continue
      p=$(cat "$f" 2>/dev/null)
      [ -n "$p" ] && [ "$p" != "$last" ] && kill -0 "$p" 2>/dev/null && pid=$p
    done
    [ -n "$pid" ] && break
    if [ "$waited" -ge "$limit" ]; then
      if [ "$n" -eq 0 ]; then echo "no live pid in $home/pids/$name-N.pid" >&2; exit 3; fi
      echo gave-up; exit 0
    fi
    sleep 0.05; waited=$((waited + 50))
  done
  sleep "$interval"
  kill -9 "$pid" 2>/dev/null && echo "killed $pid"
  last=$pid n=$((n + 1)) limit=$gave_up
done
echo out-of-kills
"#;

async fn pm2_list(ctx: &ChaosContext) -> Result<Vec<Pm2Process>, String> {
    pm2::processes(ctx.stack())
        .await
        .map_err(|e| format!("pm2 jlist: {e}"))
}

async fn find(ctx: &ChaosContext, process: &str) -> Result<Pm2Process, String> {
    let list = pm2_list(ctx).await?;
    if list.is_empty() {
        return Err("the PM2 daemon is down (no process list)".into());
    }
    let names = list
        .iter()
        .map(|p| p.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    list.into_iter()
        .find(|p| p.name == process)
        .ok_or_else(|| format!("PM2 has no process `{process}` (processes: {names})"))
}

/// The PM2 service (`[pm2]`); experiments that need one are refused
/// before they start without it, so this error is for direct callers.
fn pm2_service(ctx: &ChaosContext) -> Result<&str, String> {
    ctx.sut()
        .config
        .require_pm2("this action")
        .map(|p| p.service.as_str())
        .map_err(|e| e.to_string())
}

/// A PM2 command in the PM2 service; a non-zero exit is an error.
async fn pm2_cli(ctx: &ChaosContext, argv: &[&str]) -> Result<(), String> {
    let service = pm2_service(ctx)?;
    let out = ctx
        .stack()
        .exec(service, argv)
        .await
        .map_err(|e| e.to_string())?;
    if out.exit_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "`{}` in {service} exited with {}: {}",
            argv.join(" "),
            out.exit_code,
            last_lines(&format!("{}\n{}", out.stdout, out.stderr))
        ))
    }
}

/// `kill -s SIG pid` inside the PM2 service (the shell's builtin: the
/// image has no procps).
async fn signal_pid(ctx: &ChaosContext, pid: i64, signal: &Signal) -> Result<(), String> {
    let service = pm2_service(ctx)?;
    let pid_text = pid.to_string();
    let out = ctx
        .stack()
        .exec(
            service,
            &[
                "sh",
                "-c",
                "kill -s \"$1\" \"$2\"",
                "sh",
                signal.short(),
                &pid_text,
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    if out.exit_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "kill -s {} {pid} in {service} failed: {}",
            signal.short(),
            last_lines(&out.stderr)
        ))
    }
}

/// The pids of `pids` that are still alive in the PM2 service.
async fn alive_pids(ctx: &ChaosContext, pids: &[i64]) -> Result<Vec<i64>, String> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    let service = pm2_service(ctx)?;
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        "for p in \"$@\"; do kill -0 \"$p\" 2>/dev/null && echo \"$p\"; done; true".into(),
        "sh".into(),
    ];
    argv.extend(pids.iter().map(i64::to_string));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ctx
        .stack()
        .exec(service, &argv)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

fn describe(list: &[Pm2Process]) -> String {
    list.iter()
        .map(|p| format!("{} {}", p.name, p.status))
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(pids: &[i64]) -> String {
    if pids.is_empty() {
        return "none".into();
    }
    pids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}
