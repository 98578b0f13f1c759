//! Acting on one service of a run: its state, its published URL, and the
//! operations chaos experiments need (stop, kill with a signal, start,
//! restart, pause, exec). Every call looks the container up by name, so it
//! works from any process and after any restart.

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RestartContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures::StreamExt;
use serde::Serialize;

use super::Stack;
use crate::docker::is_conflict;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ServiceState {
    pub service: String,
    pub container: String,
    /// Docker's state: running, exited, paused, restarting, created, missing.
    pub state: String,
    /// Docker health: healthy, unhealthy, starting, or none.
    pub health: String,
    pub started_at: Option<String>,
    pub pid: Option<i64>,
    pub ports: Vec<PublishedPort>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub host: String,
    pub host_port: u16,
}

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Stack {
    async fn inspect(&self, service: &str) -> Result<ContainerInspectResponse> {
        let name = self.container_name(service);
        self.docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .map_err(Error::docker(format!("inspecting {name}")))
    }

    /// The service's state as Docker sees it now; `missing` if its container is gone.
    pub async fn state(&self, service: &str) -> Result<ServiceState> {
        self.service_checked(service)?;
        let container = self.container_name(service);
        let info = match self.inspect(service).await {
            Ok(info) => info,
            Err(Error::Docker { source, .. }) if crate::docker::is_not_found(&source) => {
                return Ok(ServiceState {
                    service: service.into(),
                    container,
                    state: "missing".into(),
                    health: "none".into(),
                    started_at: None,
                    pid: None,
                    ports: Vec::new(),
                })
            }
            Err(e) => return Err(e),
        };
        let state = info.state.unwrap_or_default();
        let status = state
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        let health = state
            .health
            .and_then(|h| h.status)
            .filter(|s| !matches!(s, HealthStatusEnum::EMPTY))
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into());
        let mut ports: Vec<PublishedPort> = info
            .network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, bindings)| {
                let container_port = key.split('/').next()?.parse().ok()?;
                let binding = bindings?.into_iter().next()?;
                Some(PublishedPort {
                    container_port,
                    host: binding
                        .host_ip
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| "127.0.0.1".into()),
                    host_port: binding.host_port?.parse().ok()?,
                })
            })
            .collect();
        ports.sort_by_key(|p| p.container_port);
        Ok(ServiceState {
            service: service.into(),
            container,
            state: status,
            health,
            started_at: state.started_at,
            pid: state.pid.filter(|p| *p > 0),
            ports,
        })
    }

    /// One variable of the service's container environment (for secrets the
    /// run generated, such as the admin token). Never log the value.
    pub async fn env_var(&self, service: &str, name: &str) -> Result<Option<String>> {
        let info = self.inspect(service).await?;
        let prefix = format!("{name}=");
        Ok(info
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .find_map(|kv| kv.strip_prefix(&prefix).map(String::from)))
    }

    /// `http://127.0.0.1:PORT` of a named endpoint (`api`, `web`, `sink`),
    /// asked from Docker now: the host port changes when a container restarts.
    pub async fn endpoint_url(&self, endpoint: &str) -> Result<String> {
        let (service, port) = self.compose.endpoint(endpoint).ok_or_else(|| {
            Error::Usage(format!(
                "no service declares the endpoint `{endpoint}` in {}",
                self.compose.path.display()
            ))
        })?;
        let state = self.state(&service.name).await?;
        let published = state
            .ports
            .iter()
            .find(|p| p.container_port == port)
            .ok_or_else(|| Error::Unhealthy {
                service: service.name.clone(),
                reason: format!(
                    "container port {port} is not published (container {})",
                    state.state
                ),
            })?;
        Ok(format!("http://{}:{}", published.host, published.host_port))
    }

    /// Waits until the service is healthy (or running, if it has no health
    /// check). Fails early if the container exits, with its last log lines.
    pub async fn wait_healthy(&self, service: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.inspect(service).await?;
            let state = info.state.unwrap_or_default();
            let health = state.health.and_then(|h| h.status);
            match (state.status, health) {
                (Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD), _) => {
                    let logs = self.logs_tail(service, 30).await.unwrap_or_default();
                    return Err(Error::Unhealthy {
                        service: service.into(),
                        reason: format!(
                            "container exited with code {}; last log lines:\n{logs}",
                            state.exit_code.unwrap_or(-1)
                        ),
                    });
                }
                (Some(ContainerStateStatusEnum::RUNNING), Some(HealthStatusEnum::HEALTHY)) => {
                    return Ok(())
                }
                (
                    Some(ContainerStateStatusEnum::RUNNING),
                    None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY),
                ) => return Ok(()),
                _ => {}
            }
            if Instant::now() >= deadline {
                let logs = self.logs_tail(service, 30).await.unwrap_or_default();
                return Err(Error::Unhealthy {
                    service: service.into(),
                    reason: format!(
                        "not healthy after {}s; last log lines:\n{logs}",
                        timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The last `lines` lines of the container's output.
    pub async fn logs_tail(&self, service: &str, lines: usize) -> Result<String> {
        let name = self.container_name(service);
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(&name, Some(options));
        let mut out = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(Error::docker(format!("reading logs of {name}")))?;
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(out)
    }

    pub async fn stop(&self, service: &str, timeout: Duration) -> Result<()> {
        let name = self.container_name(service);
        let options = StopContainerOptionsBuilder::new()
            .t(timeout.as_secs() as i32)
            .build();
        match self.docker.stop_container(&name, Some(options)).await {
            Err(e) if !is_conflict(&e) => Err(Error::docker(format!("stopping {name}"))(e)),
            _ => Ok(()),
        }
    }

    pub async fn start(&self, service: &str) -> Result<()> {
        let name = self.container_name(service);
        match self
            .docker
            .start_container(&name, None::<StartContainerOptions>)
            .await
        {
            Err(e) if !is_conflict(&e) => Err(Error::docker(format!("starting {name}"))(e)),
            _ => Ok(()),
        }
    }

    pub async fn restart(&self, service: &str, timeout: Duration) -> Result<()> {
        let name = self.container_name(service);
        let options = RestartContainerOptionsBuilder::new()
            .t(timeout.as_secs() as i32)
            .build();
        self.docker
            .restart_container(&name, Some(options))
            .await
            .map_err(Error::docker(format!("restarting {name}")))
    }

    /// Sends a signal (`SIGKILL`, `SIGTERM`, `SIGSTOP`...) to the container's main process.
    pub async fn kill(&self, service: &str, signal: &str) -> Result<()> {
        let name = self.container_name(service);
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        self.docker
            .kill_container(&name, Some(options))
            .await
            .map_err(Error::docker(format!("sending {signal} to {name}")))
    }

    pub async fn pause(&self, service: &str) -> Result<()> {
        let name = self.container_name(service);
        self.docker
            .pause_container(&name)
            .await
            .map_err(Error::docker(format!("pausing {name}")))
    }

    pub async fn unpause(&self, service: &str) -> Result<()> {
        let name = self.container_name(service);
        self.docker
            .unpause_container(&name)
            .await
            .map_err(Error::docker(format!("unpausing {name}")))
    }

    /// Runs a command inside the service's container and collects its output.
    pub async fn exec(&self, service: &str, argv: &[&str]) -> Result<ExecOutput> {
        let name = self.container_name(service);
        let context = || format!("running `{}` in {name}", argv.join(" "));
        let exec = self
            .docker
            .create_exec(
                &name,
                CreateExecOptions {
                    cmd: Some(argv.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(Error::docker(context()))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(Error::docker(context()))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(Error::docker(context()))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => stdout.push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(Error::docker(context()))?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout,
            stderr,
        })
    }
}
