//! PM2 as its CLI reports it (`pm2 jlist`), run inside the service that the
//! compose file marks with `dev.gauntlet.pm2`. Only the fields below are
//! read: `pm2 jlist` also dumps each process's environment, which holds
//! secrets, and none of it is kept.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stack::Stack;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pm2Process {
    pub name: String,
    /// online, stopping, stopped, launching, errored, waiting restart, one-launch-status
    pub status: String,
    pub pid: Option<i64>,
    /// PM2's `restart_time`: how often PM2 restarted it.
    pub restarts: u64,
    pub unstable_restarts: u64,
    /// Seconds since this incarnation started (only while online).
    pub uptime_seconds: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
}

#[derive(Deserialize)]
struct RawProcess {
    name: String,
    pid: Option<i64>,
    pm2_env: RawEnv,
    monit: Option<RawMonit>,
}

#[derive(Deserialize)]
struct RawEnv {
    status: String,
    #[serde(default)]
    restart_time: u64,
    #[serde(default)]
    unstable_restarts: u64,
    pm_uptime: Option<i64>,
}

#[derive(Deserialize)]
struct RawMonit {
    memory: Option<u64>,
    cpu: Option<f64>,
}

/// Parses `pm2 jlist` output. PM2 may print coloured notices (which contain
/// `[` too) before the JSON array, so the array is the first line that
/// starts one.
pub fn parse_jlist(text: &str, now_ms: i64) -> Result<Vec<Pm2Process>> {
    let start = text
        .lines()
        .scan(0usize, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| line.starts_with("[{") || line.trim_end() == "[]")
        .map(|(at, _)| at)
        .ok_or_else(|| {
            Error::CheckFailed(format!(
                "`pm2 jlist` printed no JSON list: {}",
                first_line(text)
            ))
        })?;
    let raw: Vec<RawProcess> = serde_json::Deserializer::from_str(&text[start..])
        .into_iter()
        .next()
        .ok_or_else(|| Error::CheckFailed("`pm2 jlist` printed no JSON list".into()))?
        .map_err(|e| {
            Error::CheckFailed(format!("`pm2 jlist` output is not the expected JSON: {e}"))
        })?;
    Ok(raw
        .into_iter()
        .map(|p| {
            let online = p.pm2_env.status == "online";
            Pm2Process {
                name: p.name,
                pid: p.pid.filter(|pid| *pid > 0),
                restarts: p.pm2_env.restart_time,
                unstable_restarts: p.pm2_env.unstable_restarts,
                uptime_seconds: p
                    .pm2_env
                    .pm_uptime
                    .filter(|_| online)
                    .map(|t| ((now_ms - t).max(0) as f64) / 1000.0),
                memory_bytes: p.monit.as_ref().and_then(|m| m.memory),
                cpu_percent: p.monit.as_ref().and_then(|m| m.cpu),
                status: p.pm2_env.status,
            }
        })
        .collect())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("(nothing)")
}

/// Printed instead of the list when no PM2 daemon runs. Plain `pm2 jlist`
/// would start a fresh, empty daemon: looking must not change what is seen.
const DAEMON_DOWN: &str = "GAUNTLET_PM2_DAEMON_DOWN";
const JLIST_IF_DAEMON_UP: &str = r#"pidfile="${PM2_HOME:-$HOME/.pm2}/pm2.pid"
if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then exec pm2 jlist; fi
echo GAUNTLET_PM2_DAEMON_DOWN"#;

/// The PM2 process list of the stack's PM2 service; empty when the PM2
/// daemon itself is not running (after `pm2 kill`).
pub async fn processes(stack: &Stack) -> Result<Vec<Pm2Process>> {
    let service = stack
        .compose()
        .pm2_service()
        .ok_or_else(|| {
            Error::Usage(
                "no PM2 service: declare [pm2] service in gauntlet.toml (or label one dev.gauntlet.pm2=true)"
                    .into(),
            )
        })?
        .name
        .clone();
    let out = stack
        .exec(&service, &["sh", "-c", JLIST_IF_DAEMON_UP])
        .await?;
    if out.stdout.trim() == DAEMON_DOWN {
        return Ok(Vec::new());
    }
    if out.exit_code != 0 {
        return Err(Error::CheckFailed(format!(
            "`pm2 jlist` in {service} exited with {}: {}",
            out.exit_code,
            first_line(&out.stderr)
        )));
    }
    parse_jlist(&out.stdout, chrono::Utc::now().timestamp_millis())
}

/// `Ok(names)` when PM2 manages at least one process and all are online;
/// `Err(which are not)` otherwise.
pub async fn all_online(stack: &Stack) -> std::result::Result<String, String> {
    let list = processes(stack).await.map_err(|e| e.to_string())?;
    if list.is_empty() {
        return Err("PM2 manages no process".into());
    }
    let down: Vec<String> = list
        .iter()
        .filter(|p| p.status != "online")
        .map(|p| format!("{} is {}", p.name, p.status))
        .collect();
    if down.is_empty() {
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        Ok(format!("online: {}", names.join(", ")))
    } else {
        Err(down.join("; "))
    }
}

/// Waits until every PM2 process is online (or the deadline passes).
pub async fn wait_online(stack: &Stack, timeout: std::time::Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match all_online(stack).await {
            Ok(_) => return Ok(()),
            Err(reason) if std::time::Instant::now() >= deadline => {
                return Err(Error::Unhealthy {
                    service: "pm2".into(),
                    reason,
                })
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(300)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jlist_and_drops_the_environment() {
        let text = r#"[PM2] Spawning PM2 daemon
[{"pid":54,"name":"api","pm2_env":{"status":"online","restart_time":2,"unstable_restarts":0,"pm_uptime":1000,"DATABASE_URL":"postgres://u:secret@db/x"},"monit":{"memory":1024,"cpu":1.5}},
 {"pid":0,"name":"worker","pm2_env":{"status":"errored","restart_time":10,"unstable_restarts":10,"pm_uptime":500}}]
"#;
        let list = parse_jlist(text, 4000).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "api");
        assert_eq!(list[0].status, "online");
        assert_eq!(list[0].restarts, 2);
        assert_eq!(list[0].uptime_seconds, Some(3.0));
        assert_eq!(list[0].memory_bytes, Some(1024));
        assert_eq!(list[1].pid, None);
        assert_eq!(list[1].uptime_seconds, None, "no uptime unless online");
        assert!(!format!("{list:?}").contains("secret"));
    }

    #[test]
    fn skips_coloured_notices_before_the_list() {
        let text = "\u{1b}[32m[PM2]\u{1b}[39m Spawning PM2 daemon with pm2_home=/root/.pm2\n\u{1b}[32m[PM2]\u{1b}[39m PM2 Successfully daemonized\n[]\n";
        assert_eq!(parse_jlist(text, 0).unwrap(), vec![]);
    }

    #[test]
    fn rejects_output_that_is_not_a_list() {
        assert!(parse_jlist("command not found", 0).is_err());
        assert!(parse_jlist("[{\"oops\":1}]", 0).is_err());
    }
}
